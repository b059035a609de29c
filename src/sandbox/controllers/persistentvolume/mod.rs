//! The PersistentVolume binder (`pkg/controller/volume/persistentvolume/pv_controller.go`,
//! kube-controller-manager's `persistentvolume-binder-controller`): binds each pending
//! claim to a volume ([`matching`]), asks the class's provisioner for one when none fits,
//! keeps both objects' phases (volumes `Available`→`Bound`→`Released`/`Failed`, claims
//! `Pending`→`Bound`/`Lost`) and reclaims a volume whose claim is gone as its
//! `persistentVolumeReclaimPolicy` says.
//!
//! A binding is written in upstream's order, volume first (its `claimRef`, then phase),
//! then the claim (`spec.volumeName` and the annotations, then status): a sync interrupted
//! anywhere leaves objects the next sync of either one finishes.

pub mod matching;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimStatus};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, DeleteParams, PostParams};

use super::recorder::{reference, EventType};
use crate::machinery::delta_fifo::DeltaObject;
use crate::machinery::lister::Lister;
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::shared_informer::ResourceEventHandlerFuncs;
use matching::{check_volume_satisfies_claim, claim_class, find_best_match, is_bound_to, volume_mode_mismatch};

const LOOP: &str = "persistentvolume-binder";
/// The Events' source, as upstream's recorder names it.
const COMPONENT: &str = "persistentvolume-controller";
/// `--pvclaimbinder-sync-period`: how often a pending claim is looked at again.
const RESYNC: Duration = Duration::from_secs(15);

pub const ANN_BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
pub const ANN_BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
pub const ANN_DYNAMICALLY_PROVISIONED: &str = "pv.kubernetes.io/provisioned-by";
pub const ANN_STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
pub const ANN_BETA_STORAGE_PROVISIONER: &str = "volume.beta.kubernetes.io/storage-provisioner";

/// What the queue holds: upstream's two queues in one, told apart by a prefix.
enum Key<'a> {
    Claim(&'a str),
    Volume(&'a str),
}

fn claim_key(ns: &str, name: &str) -> String {
    format!("claim:{ns}/{name}")
}

fn volume_key(name: &str) -> String {
    format!("volume:{name}")
}

fn parse(key: &str) -> Option<Key<'_>> {
    key.strip_prefix("claim:").map(Key::Claim).or_else(|| key.strip_prefix("volume:").map(Key::Volume))
}

fn has_annotation(meta: &ObjectMeta, key: &str) -> bool {
    meta.annotations.as_ref().is_some_and(|a| a.contains_key(key))
}

fn set_annotation(meta: &mut ObjectMeta, key: &str, value: &str) {
    meta.annotations.get_or_insert_with(BTreeMap::new).insert(key.into(), value.into());
}

fn name_of(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

fn ns_of(meta: &ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or_default()
}

fn claim_volume_name(claim: &PersistentVolumeClaim) -> &str {
    claim.spec.as_ref().and_then(|s| s.volume_name.as_deref()).unwrap_or_default()
}

fn phase_of(volume: &PersistentVolume) -> &str {
    volume.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or_default()
}

fn reclaim_policy(volume: &PersistentVolume) -> &str {
    volume.spec.as_ref().and_then(|s| s.persistent_volume_reclaim_policy.as_deref()).unwrap_or("Retain")
}

fn not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// How a released volume with reclaim policy `Delete` goes (`findDeletablePlugin`).
enum Deleter {
    /// Its provisioner is not in-tree: that provisioner deletes it.
    External,
    /// The in-tree hostPath deleter (only under `/tmp/`).
    HostPath(String),
}

/// `findDeletablePlugin` and the hostPath plugin's `NewDeleter`.
fn deleter(volume: &PersistentVolume) -> Result<Deleter, String> {
    let provisioned_by = volume.metadata.annotations.as_ref().and_then(|a| a.get(ANN_DYNAMICALLY_PROVISIONED));
    if provisioned_by.is_some_and(|p| !p.is_empty() && !p.starts_with("kubernetes.io/")) {
        return Ok(Deleter::External);
    }
    let spec = volume.spec.as_ref();
    if spec.is_some_and(|s| s.csi.is_some()) {
        return Ok(Deleter::External);
    }
    match spec.and_then(|s| s.host_path.as_ref()) {
        Some(h) if tmp_path(&h.path) => Ok(Deleter::HostPath(h.path.clone())),
        Some(h) => Err(format!("host_path deleter only supports /tmp/.+ but received provided {}", h.path)),
        None => Err(format!(
            "error getting deleter volume plugin for volume {:?}: no deletable volume plugin matched",
            name_of(&volume.metadata)
        )),
    }
}

/// The hostPath deleter's unanchored `/tmp/.+`.
fn tmp_path(path: &str) -> bool {
    path.match_indices("/tmp/").any(|(i, m)| path.len() > i + m.len())
}

pub struct Binder {
    client: kube::Client,
    recorder: super::EventRecorder,
    decisions: super::Decisions,
    claims: Lister<PersistentVolumeClaim>,
    volumes: Lister<PersistentVolume>,
    classes: Lister<StorageClass>,
    queue: RateLimitingQueue<String>,
}

pub fn start(ctx: &super::Context) -> Result<(), super::StartError> {
    let queue: RateLimitingQueue<String> = RateLimitingQueue::with_default_rate_limiter();
    let claim_informer = ctx.factory.informer_for::<PersistentVolumeClaim>()?;
    let volume_informer = ctx.factory.informer_for::<PersistentVolume>()?;
    let class_informer = ctx.factory.informer_for::<StorageClass>()?;
    let claims = claim_informer.lister();

    let (qa, qu, qd) = (queue.clone(), queue.clone(), queue.clone());
    let enqueue = |q: &RateLimitingQueue<String>, c: &PersistentVolumeClaim| q.add(claim_key(ns_of(&c.metadata), name_of(&c.metadata)));
    claim_informer.add_named_event_handler(
        COMPONENT,
        ResourceEventHandlerFuncs::new()
            .on_add(move |c: &Arc<PersistentVolumeClaim>, _| enqueue(&qa, c))
            .on_update(move |_, c: &Arc<PersistentVolumeClaim>| enqueue(&qu, c))
            // `deleteClaim`: the volume it held is looked at (to be released).
            .on_delete(move |c: &DeltaObject<PersistentVolumeClaim>| {
                let name = claim_volume_name(c.object());
                if !name.is_empty() {
                    qd.add(volume_key(name));
                }
            }),
    );
    let (qa, qu, qd) = (queue.clone(), queue.clone(), queue.clone());
    let (ca, cu) = (claims.clone(), claims.clone());
    volume_informer.add_named_event_handler(
        COMPONENT,
        ResourceEventHandlerFuncs::new()
            .on_add(move |v: &Arc<PersistentVolume>, _| volume_changed(&qa, &ca, v))
            .on_update(move |_, v: &Arc<PersistentVolume>| volume_changed(&qu, &cu, v))
            .on_delete(move |v: &DeltaObject<PersistentVolume>| {
                if let Some(r) = v.object().spec.as_ref().and_then(|s| s.claim_ref.as_ref()) {
                    qd.add(claim_key(r.namespace.as_deref().unwrap_or_default(), r.name.as_deref().unwrap_or_default()));
                }
            }),
    );
    let binder = Binder {
        client: ctx.client("kube-controller-manager"),
        recorder: ctx.recorder(COMPONENT, None),
        decisions: ctx.decisions.clone(),
        claims,
        volumes: volume_informer.lister(),
        classes: class_informer.lister(),
        queue,
    };
    ctx.spawn_workers(Arc::new(binder), 1);
    Ok(())
}

/// A volume to sync; one that became free also wakes the unbound claims, which upstream
/// would only find at the next periodic resync.
fn volume_changed(queue: &RateLimitingQueue<String>, claims: &Lister<PersistentVolumeClaim>, v: &PersistentVolume) {
    queue.add(volume_key(name_of(&v.metadata)));
    let free = v.spec.as_ref().is_some_and(|s| s.claim_ref.is_none()) && phase_of(v) == "Available";
    if free {
        for c in claims.list_matching(|c| claim_volume_name(c).is_empty() && !has_annotation(&c.metadata, ANN_BIND_COMPLETED)) {
            queue.add(claim_key(ns_of(&c.metadata), name_of(&c.metadata)));
        }
    }
}

impl super::Reconciler for Binder {
    fn queue(&self) -> &RateLimitingQueue<String> {
        &self.queue
    }

    async fn sync(&self, key: String) -> Result<Option<Duration>, kube::Error> {
        let result = match parse(&key) {
            Some(Key::Claim(k)) => match self.claims.get(k) {
                Some(claim) => self.sync_claim(&claim).await,
                None => Ok(None),
            },
            Some(Key::Volume(name)) => match self.volumes.get(name) {
                Some(volume) => self.sync_volume(&volume).await.map(|()| None),
                None => Ok(None),
            },
            None => Ok(None),
        };
        match result {
            Err(e) if not_found(&e) => Ok(None),
            other => other.map_err(|e| self.decisions.sync_failed(LOOP, &key, e)),
        }
    }
}

impl Binder {
    fn claims_api(&self, ns: &str) -> Api<PersistentVolumeClaim> {
        Api::namespaced(self.client.clone(), ns)
    }

    fn volumes_api(&self) -> Api<PersistentVolume> {
        Api::all(self.client.clone())
    }

    /// `syncClaim`; a claim still pending is looked at again after the resync period.
    async fn sync_claim(&self, claim: &PersistentVolumeClaim) -> Result<Option<Duration>, kube::Error> {
        if has_annotation(&claim.metadata, ANN_BIND_COMPLETED) {
            self.sync_bound_claim(claim).await?;
            return Ok(None);
        }
        self.sync_unbound_claim(claim).await?;
        Ok(Some(RESYNC))
    }

    /// `IsDelayBindingMode`: the claim's class binds at the first consumer's scheduling.
    fn delay_binding(&self, claim: &PersistentVolumeClaim) -> bool {
        let class = claim_class(claim);
        !class.is_empty() && self.classes.get(&class).is_some_and(|c| c.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer"))
    }

    /// `syncUnboundClaim`.
    async fn sync_unbound_claim(&self, claim: &PersistentVolumeClaim) -> Result<(), kube::Error> {
        let wanted = claim_volume_name(claim);
        if wanted.is_empty() {
            let delay = self.delay_binding(claim);
            let volumes = self.volumes.list();
            if let Some(volume) = find_best_match(claim, &volumes, delay) {
                return self.bind(volume, claim).await;
            }
            if delay {
                self.recorder.event(
                    &reference(claim),
                    EventType::Normal,
                    "WaitForFirstConsumer",
                    "waiting for first consumer to be created before binding",
                );
            } else if !claim_class(claim).is_empty() {
                return self.provision_claim(claim).await;
            } else {
                self.recorder.event(
                    &reference(claim),
                    EventType::Normal,
                    "FailedBinding",
                    "no persistent volumes available for this claim and no storage class is set",
                );
            }
            self.update_claim_status(claim, "Pending", None).await?;
            return Ok(());
        }
        // The user asked for a specific volume.
        let Some(volume) = self.volumes.get(wanted) else {
            self.update_claim_status(claim, "Pending", None).await?;
            return Ok(());
        };
        if volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref()).is_none() {
            if let Err(why) = check_volume_satisfies_claim(&volume, claim) {
                let msg = format!("Cannot bind to requested volume {wanted:?}: {why}");
                self.recorder.event(&reference(claim), EventType::Warning, "VolumeMismatch", msg);
                self.update_claim_status(claim, "Pending", None).await?;
                return Ok(());
            }
            return self.bind(&volume, claim).await;
        }
        if is_bound_to(&volume, claim) {
            return self.bind(&volume, claim).await;
        }
        let msg = format!("volume {wanted:?} already bound to a different claim.");
        self.recorder.event(&reference(claim), EventType::Warning, "FailedBinding", msg);
        self.update_claim_status(claim, "Pending", None).await?;
        Ok(())
    }

    /// `syncBoundClaim`.
    async fn sync_bound_claim(&self, claim: &PersistentVolumeClaim) -> Result<(), kube::Error> {
        let name = claim_volume_name(claim);
        if name.is_empty() {
            let msg = "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!";
            return self.update_claim_status_with_event(claim, "Lost", EventType::Warning, "ClaimLost", msg).await;
        }
        let Some(volume) = self.volumes.get(name) else {
            let msg = "Bound claim has lost its PersistentVolume. Data on the volume is lost!";
            return self.update_claim_status_with_event(claim, "Lost", EventType::Warning, "ClaimLost", msg).await;
        };
        let claim_ref_uid = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref()).map(|r| r.uid.clone().unwrap_or_default());
        match claim_ref_uid {
            None => self.bind(&volume, claim).await,
            Some(uid) if Some(uid.as_str()) == claim.metadata.uid.as_deref() => self.bind(&volume, claim).await,
            Some(_) => {
                let msg = "Two claims are bound to the same volume, this one is bound incorrectly";
                self.update_claim_status_with_event(claim, "Lost", EventType::Warning, "ClaimMisbound", msg).await
            }
        }
    }

    /// `provisionClaim` for a provisioner outside the controller manager (every one here):
    /// the claim is annotated with the provisioner's name, which that provisioner watches
    /// for, and an Event says whom it waits for.
    async fn provision_claim(&self, claim: &PersistentVolumeClaim) -> Result<(), kube::Error> {
        let class_name = claim_class(claim);
        let Some(class) = self.classes.get(&class_name) else {
            let msg = format!("storageclass.storage.k8s.io {class_name:?} not found");
            self.recorder.event(&reference(claim), EventType::Warning, "ProvisioningFailed", msg);
            return Ok(());
        };
        let provisioner = class.provisioner.as_str();
        if provisioner.starts_with("kubernetes.io/") {
            // No in-tree provisioning plugin runs here (`kubernetes.io/no-provisioner` included).
            let msg = format!("no volume plugin matched name: {provisioner}");
            self.recorder.event(&reference(claim), EventType::Warning, "ProvisioningFailed", msg);
            return Ok(());
        }
        let annotated = [ANN_STORAGE_PROVISIONER, ANN_BETA_STORAGE_PROVISIONER]
            .iter()
            .all(|k| claim.metadata.annotations.as_ref().and_then(|a| a.get(*k)).map(String::as_str) == Some(provisioner));
        let claim = if annotated {
            claim.clone()
        } else {
            let mut next = claim.clone();
            set_annotation(&mut next.metadata, ANN_BETA_STORAGE_PROVISIONER, provisioner);
            set_annotation(&mut next.metadata, ANN_STORAGE_PROVISIONER, provisioner);
            match self.claims_api(ns_of(&claim.metadata)).replace(name_of(&claim.metadata), &PostParams::default(), &next).await {
                Ok(c) => c,
                Err(e) => {
                    let msg = format!("Error saving claim: {}", super::pod_control::api_message(&e));
                    self.recorder.event(&reference(claim), EventType::Warning, "ProvisioningFailed", msg);
                    return Err(e);
                }
            }
        };
        let msg = format!(
            "Waiting for a volume to be created either by the external provisioner '{provisioner}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered."
        );
        self.recorder.event(&reference(&claim), EventType::Normal, "ExternalProvisioning", msg);
        Ok(())
    }

    /// `bind`: volume, volume phase, claim, claim status, in that order.
    async fn bind(&self, volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> Result<(), kube::Error> {
        let volume = self.bind_volume_to_claim(volume, claim).await?;
        let volume = self.update_volume_phase(&volume, "Bound", None).await?;
        let claim = self.bind_claim_to_volume(claim, &volume).await?;
        self.update_claim_status(&claim, "Bound", Some(&volume)).await?;
        let key = format!("{}/{}", ns_of(&claim.metadata), name_of(&claim.metadata));
        self.decisions.say(LOOP, &key, &format!("bound to volume {}", name_of(&volume.metadata)));
        Ok(())
    }

    /// `bindVolumeToClaim` (`GetBindVolumeToClaim`): the claim reference, and
    /// `bound-by-controller` unless the user pre-bound the volume.
    async fn bind_volume_to_claim(
        &self,
        volume: &PersistentVolume,
        claim: &PersistentVolumeClaim,
    ) -> Result<PersistentVolume, kube::Error> {
        let mut next = volume.clone();
        let mut dirty = false;
        let spec = next.spec.get_or_insert_with(Default::default);
        let current = spec.claim_ref.as_ref();
        let same = current
            .is_some_and(|r| r.name == claim.metadata.name && r.namespace == claim.metadata.namespace && r.uid == claim.metadata.uid);
        if !same {
            spec.claim_ref = Some(reference(claim));
            dirty = true;
        }
        if !is_bound_to(volume, claim) && !has_annotation(&next.metadata, ANN_BOUND_BY_CONTROLLER) {
            set_annotation(&mut next.metadata, ANN_BOUND_BY_CONTROLLER, "yes");
            dirty = true;
        }
        if !dirty {
            return Ok(volume.clone());
        }
        self.volumes_api().replace(name_of(&volume.metadata), &PostParams::default(), &next).await
    }

    /// `bindClaimToVolume`: `spec.volumeName` and the two annotations.
    async fn bind_claim_to_volume(
        &self,
        claim: &PersistentVolumeClaim,
        volume: &PersistentVolume,
    ) -> Result<PersistentVolumeClaim, kube::Error> {
        let mut next = claim.clone();
        let mut dirty = false;
        let name = name_of(&volume.metadata);
        if claim_volume_name(claim) != name {
            next.spec.get_or_insert_with(Default::default).volume_name = Some(name.to_string());
            if !has_annotation(&next.metadata, ANN_BOUND_BY_CONTROLLER) {
                set_annotation(&mut next.metadata, ANN_BOUND_BY_CONTROLLER, "yes");
            }
            dirty = true;
        }
        if !has_annotation(&next.metadata, ANN_BIND_COMPLETED) {
            set_annotation(&mut next.metadata, ANN_BIND_COMPLETED, "yes");
            dirty = true;
        }
        if !dirty {
            return Ok(claim.clone());
        }
        self.claims_api(ns_of(&claim.metadata)).replace(name_of(&claim.metadata), &PostParams::default(), &next).await
    }

    /// `updateClaimStatus`: the phase, and the volume's access modes and capacity (none
    /// without a volume).
    async fn update_claim_status(
        &self,
        claim: &PersistentVolumeClaim,
        phase: &str,
        volume: Option<&PersistentVolume>,
    ) -> Result<PersistentVolumeClaim, kube::Error> {
        let old = claim.status.clone().unwrap_or_default();
        let spec = volume.and_then(|v| v.spec.as_ref());
        let status = PersistentVolumeClaimStatus {
            phase: Some(phase.to_string()),
            access_modes: spec.and_then(|s| s.access_modes.clone()),
            capacity: spec.and_then(|s| s.capacity.clone()),
            ..old.clone()
        };
        if status == old {
            return Ok(claim.clone());
        }
        let mut next = claim.clone();
        next.status = Some(status);
        self.claims_api(ns_of(&claim.metadata)).replace_status(name_of(&claim.metadata), &PostParams::default(), &next).await
    }

    /// `updateClaimStatusWithEvent`: the Event only when the phase changes.
    async fn update_claim_status_with_event(
        &self,
        claim: &PersistentVolumeClaim,
        phase: &str,
        ty: EventType,
        reason: &str,
        message: &str,
    ) -> Result<(), kube::Error> {
        if claim.status.as_ref().and_then(|s| s.phase.as_deref()) == Some(phase) {
            return Ok(());
        }
        let updated = self.update_claim_status(claim, phase, None).await?;
        self.recorder.event(&reference(&updated), ty, reason, message);
        Ok(())
    }

    /// `updateVolumePhase` (with `lastPhaseTransitionTime` on a change of phase).
    async fn update_volume_phase(
        &self,
        volume: &PersistentVolume,
        phase: &str,
        message: Option<&str>,
    ) -> Result<PersistentVolume, kube::Error> {
        let old = volume.status.clone().unwrap_or_default();
        if old.phase.as_deref() == Some(phase) && old.message.as_deref() == message {
            return Ok(volume.clone());
        }
        let mut status = old.clone();
        if old.phase.as_deref() != Some(phase) {
            status.last_phase_transition_time = Some(Time(k8s_openapi::jiff::Timestamp::now()));
        }
        status.phase = Some(phase.to_string());
        status.message = message.map(str::to_string);
        let mut next = volume.clone();
        next.status = Some(status);
        self.volumes_api().replace_status(name_of(&volume.metadata), &PostParams::default(), &next).await
    }

    /// `updateVolumePhaseWithEvent`.
    async fn update_volume_phase_with_event(
        &self,
        volume: &PersistentVolume,
        phase: &str,
        reason: &str,
        message: &str,
    ) -> Result<(), kube::Error> {
        if phase_of(volume) == phase {
            return Ok(());
        }
        let updated = self.update_volume_phase(volume, phase, Some(message)).await?;
        self.recorder.event(&reference(&updated), EventType::Warning, reason, message);
        Ok(())
    }

    /// `syncVolume`.
    async fn sync_volume(&self, volume: &PersistentVolume) -> Result<(), kube::Error> {
        let Some(claim_ref) = volume.spec.as_ref().and_then(|s| s.claim_ref.clone()) else {
            self.update_volume_phase(volume, "Available", None).await?;
            return Ok(());
        };
        let (ns, claim_name) = (claim_ref.namespace.clone().unwrap_or_default(), claim_ref.name.clone().unwrap_or_default());
        let ref_uid = claim_ref.uid.clone().unwrap_or_default();
        if ref_uid.is_empty() {
            // Pre-bound by the user; the claim's sync finishes it.
            self.update_volume_phase(volume, "Available", None).await?;
            return Ok(());
        }
        let mut claim = self.claims.get(&format!("{ns}/{claim_name}")).map(|c| (*c).clone());
        if claim.is_none() && !matches!(phase_of(volume), "Released" | "Failed") {
            // The claim may be newer than the cache: only the apiserver can say it is gone.
            claim = self.claims_api(&ns).get_opt(&claim_name).await?;
        }
        if claim.as_ref().is_some_and(|c| c.metadata.uid.as_deref() != Some(ref_uid.as_str())) {
            claim = self.claims_api(&ns).get_opt(&claim_name).await?.filter(|c| c.metadata.uid.as_deref() == Some(ref_uid.as_str()));
        }
        let Some(claim) = claim else {
            let volume = if matches!(phase_of(volume), "Released" | "Failed") {
                volume.clone()
            } else {
                self.decisions.say(LOOP, name_of(&volume.metadata), &format!("released, reclaim policy {}", reclaim_policy(volume)));
                self.update_volume_phase(volume, "Released", None).await?
            };
            return self.reclaim_volume(&volume).await;
        };
        let bound_name = claim_volume_name(&claim);
        if bound_name.is_empty() {
            if volume_mode_mismatch(&claim, volume) {
                let volume_msg = format!(
                    "Cannot bind PersistentVolume to requested PersistentVolumeClaim {claim_name:?} due to incompatible volumeMode."
                );
                self.recorder.event(&reference(volume), EventType::Warning, "VolumeMismatch", volume_msg);
                let claim_msg = format!(
                    "Cannot bind PersistentVolume {:?} to requested PersistentVolumeClaim due to incompatible volumeMode.",
                    name_of(&volume.metadata)
                );
                self.recorder.event(&reference(&claim), EventType::Warning, "VolumeMismatch", claim_msg);
                return Ok(());
            }
            // Bound on the volume's side only (a provisioned volume, or an interrupted
            // bind): the claim's sync completes it.
            self.queue.add(claim_key(&ns, &claim_name));
            return Ok(());
        }
        if bound_name == name_of(&volume.metadata) {
            self.update_volume_phase(volume, "Bound", None).await?;
            return Ok(());
        }
        // The claim is bound to another volume.
        if has_annotation(&volume.metadata, ANN_DYNAMICALLY_PROVISIONED) && reclaim_policy(volume) == "Delete" {
            let volume = if matches!(phase_of(volume), "Released" | "Failed") {
                volume.clone()
            } else {
                self.update_volume_phase(volume, "Released", None).await?
            };
            return self.reclaim_volume(&volume).await;
        }
        self.unbind_volume(volume).await
    }

    /// `unbindVolume`: a binding the controller made is undone; a user's pre-binding keeps
    /// the claim's name and loses only its uid.
    async fn unbind_volume(&self, volume: &PersistentVolume) -> Result<(), kube::Error> {
        let mut next = volume.clone();
        if has_annotation(&volume.metadata, ANN_BOUND_BY_CONTROLLER) {
            next.spec.get_or_insert_with(Default::default).claim_ref = None;
            if let Some(a) = next.metadata.annotations.as_mut() {
                a.remove(ANN_BOUND_BY_CONTROLLER);
            }
        } else if let Some(r) = next.spec.as_mut().and_then(|s| s.claim_ref.as_mut()) {
            r.uid = Some(String::new());
        }
        let updated = self.volumes_api().replace(name_of(&volume.metadata), &PostParams::default(), &next).await?;
        self.update_volume_phase(&updated, "Available", None).await?;
        Ok(())
    }

    /// `reclaimVolume`.
    async fn reclaim_volume(&self, volume: &PersistentVolume) -> Result<(), kube::Error> {
        match reclaim_policy(volume) {
            "Retain" => Ok(()),
            "Recycle" => {
                self.update_volume_phase_with_event(volume, "Failed", "VolumeFailedRecycle", "No recycler plugin found for the volume!")
                    .await
            }
            "Delete" => self.delete_volume_operation(volume).await,
            _ => {
                self.update_volume_phase_with_event(
                    volume,
                    "Failed",
                    "VolumeUnknownReclaimPolicy",
                    "Volume has unrecognized PersistentVolumeReclaimPolicy",
                )
                .await
            }
        }
    }

    /// `isVolumeReleased`: bound to a claim that is gone, or that is bound elsewhere.
    fn is_volume_released(&self, volume: &PersistentVolume) -> bool {
        let Some(r) = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else { return false };
        let uid = r.uid.as_deref().unwrap_or_default();
        if uid.is_empty() {
            return false;
        }
        let key = format!("{}/{}", r.namespace.as_deref().unwrap_or_default(), r.name.as_deref().unwrap_or_default());
        match self.claims.get(&key) {
            Some(c) if c.metadata.uid.as_deref() == Some(uid) => {
                let bound = claim_volume_name(&c);
                !bound.is_empty() && bound != name_of(&volume.metadata)
            }
            _ => true,
        }
    }

    /// `deleteVolumeOperation`.
    async fn delete_volume_operation(&self, volume: &PersistentVolume) -> Result<(), kube::Error> {
        let name = name_of(&volume.metadata);
        let Some(fresh) = self.volumes_api().get_opt(name).await? else { return Ok(()) };
        if !self.is_volume_released(&fresh) {
            return Ok(());
        }
        match deleter(&fresh) {
            Ok(Deleter::External) => Ok(()),
            Ok(Deleter::HostPath(path)) => {
                if let Err(e) =
                    std::fs::remove_dir_all(&path).or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })
                {
                    return self.update_volume_phase_with_event(&fresh, "Failed", "VolumeFailedDelete", &e.to_string()).await;
                }
                self.decisions.say(LOOP, name, "deleted");
                match self.volumes_api().delete(name, &DeleteParams::default()).await {
                    Err(e) if !not_found(&e) => Err(e),
                    _ => Ok(()),
                }
            }
            Err(msg) => self.update_volume_phase_with_event(&fresh, "Failed", "VolumeFailedDelete", &msg).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pv(v: serde_json::Value) -> PersistentVolume {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_deleter_follows_who_provisioned_the_volume() {
        let external = pv(
            serde_json::json!({"metadata": {"name": "a", "annotations": {ANN_DYNAMICALLY_PROVISIONED: "kubelab.dev/hostpath"}}, "spec": {"hostPath": {"path": "/data"}}}),
        );
        assert!(matches!(deleter(&external), Ok(Deleter::External)));
        let tmp = pv(serde_json::json!({"metadata": {"name": "b"}, "spec": {"hostPath": {"path": "/tmp/x"}}}));
        assert!(matches!(deleter(&tmp), Ok(Deleter::HostPath(p)) if p == "/tmp/x"));
        let elsewhere = pv(serde_json::json!({"metadata": {"name": "c"}, "spec": {"hostPath": {"path": "/data"}}}));
        assert_eq!(deleter(&elsewhere).err().as_deref(), Some("host_path deleter only supports /tmp/.+ but received provided /data"));
        let nfs = pv(serde_json::json!({"metadata": {"name": "d"}, "spec": {"nfs": {"server": "s", "path": "/"}}}));
        assert_eq!(
            deleter(&nfs).err().as_deref(),
            Some("error getting deleter volume plugin for volume \"d\": no deletable volume plugin matched")
        );
        assert!(!tmp_path("/tmp/") && tmp_path("/var/tmp/a"));
    }
}
