//! The hostpath provisioner, in-process: what minikube's `storage-provisioner` addon is
//! (sig-storage-lib-external-provisioner's controller around a directory maker). It serves
//! the `standard` class: every claim the binder annotated with its name gets a volume
//! `pvc-<claim uid>`, a directory under the sandbox's data directory that outlives the
//! sandbox's restarts, pre-bound to the claim; the binder then completes the binding.
//! Once such a volume is `Released` with reclaim policy `Delete`, its directory and the
//! volume go.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{HostPathVolumeSource, PersistentVolume, PersistentVolumeClaim, PersistentVolumeSpec};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{Api, DeleteParams, PostParams};

use super::persistentvolume::matching::claim_class;
use super::persistentvolume::{ANN_BETA_STORAGE_PROVISIONER, ANN_DYNAMICALLY_PROVISIONED, ANN_STORAGE_PROVISIONER};
use super::recorder::{reference, EventType};
use crate::machinery::lister::Lister;
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::shared_informer::ResourceEventHandlerFuncs;

/// The provisioner's name, which the `standard` StorageClass names.
pub const PROVISIONER: &str = "kubelab.dev/hostpath";
const LOOP: &str = "hostpath-provisioner";

/// Where the volumes' directories are: `<data dir>/volumes/pvc-<uid>`.
pub fn volumes_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("volumes")
}

pub struct Provisioner {
    client: kube::Client,
    recorder: super::EventRecorder,
    decisions: super::Decisions,
    root: PathBuf,
    claims: Lister<PersistentVolumeClaim>,
    volumes: Lister<PersistentVolume>,
    classes: Lister<StorageClass>,
    queue: RateLimitingQueue<String>,
}

pub fn start(ctx: &super::Context) -> Result<(), super::StartError> {
    let queue: RateLimitingQueue<String> = RateLimitingQueue::with_default_rate_limiter();
    let claims = ctx.factory.informer_for::<PersistentVolumeClaim>()?;
    let volumes = ctx.factory.informer_for::<PersistentVolume>()?;
    let classes = ctx.factory.informer_for::<StorageClass>()?;
    let (qa, qu) = (queue.clone(), queue.clone());
    let claim_key = |c: &PersistentVolumeClaim| {
        format!("claim:{}/{}", c.metadata.namespace.as_deref().unwrap_or_default(), c.metadata.name.as_deref().unwrap_or_default())
    };
    claims.add_named_event_handler(
        LOOP,
        ResourceEventHandlerFuncs::new()
            .on_add(move |c: &Arc<PersistentVolumeClaim>, _| qa.add(claim_key(c)))
            .on_update(move |_, c: &Arc<PersistentVolumeClaim>| qu.add(claim_key(c))),
    );
    let (qa, qu) = (queue.clone(), queue.clone());
    let volume_key = |v: &PersistentVolume| format!("volume:{}", v.metadata.name.as_deref().unwrap_or_default());
    volumes.add_named_event_handler(
        LOOP,
        ResourceEventHandlerFuncs::new()
            .on_add(move |v: &Arc<PersistentVolume>, _| qa.add(volume_key(v)))
            .on_update(move |_, v: &Arc<PersistentVolume>| qu.add(volume_key(v))),
    );
    let provisioner = Provisioner {
        client: ctx.client(LOOP),
        recorder: ctx.recorder(PROVISIONER, None),
        decisions: ctx.decisions.clone(),
        root: volumes_dir(&ctx.data_dir),
        claims: claims.lister(),
        volumes: volumes.lister(),
        classes: classes.lister(),
        queue,
    };
    ctx.spawn_workers(Arc::new(provisioner), 1);
    Ok(())
}

impl super::Reconciler for Provisioner {
    fn queue(&self) -> &RateLimitingQueue<String> {
        &self.queue
    }

    async fn sync(&self, key: String) -> Result<Option<Duration>, kube::Error> {
        let result = if let Some(k) = key.strip_prefix("claim:") {
            match self.claims.get(k) {
                Some(c) => self.provision(&c).await,
                None => Ok(()),
            }
        } else if let Some(name) = key.strip_prefix("volume:") {
            match self.volumes.get(name) {
                Some(v) => self.delete(&v).await,
                None => Ok(()),
            }
        } else {
            Ok(())
        };
        result.map(|()| None).map_err(|e| self.decisions.sync_failed(LOOP, &key, e))
    }
}

/// Why a claim was not provisioned (`ProvisioningFailed`).
#[derive(Debug, thiserror::Error)]
enum ProvisionError {
    #[error("claim Selector is not supported")]
    Selector,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

fn annotation<'a>(meta: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref().and_then(|a| a.get(key)).map(String::as_str)
}

impl Provisioner {
    /// The class of a claim addressed to this provisioner, if it should be provisioned now
    /// (`shouldProvision`): unbound, annotated with our name, of a class we serve, and
    /// without a volume already.
    fn wanted(&self, claim: &PersistentVolumeClaim) -> Option<Arc<StorageClass>> {
        let unbound = claim.spec.as_ref().and_then(|s| s.volume_name.as_deref()).unwrap_or_default().is_empty();
        let ours =
            [ANN_STORAGE_PROVISIONER, ANN_BETA_STORAGE_PROVISIONER].iter().any(|k| annotation(&claim.metadata, k) == Some(PROVISIONER));
        if !unbound || !ours || claim.metadata.deletion_timestamp.is_some() {
            return None;
        }
        let class = self.classes.get(&claim_class(claim)).filter(|c| c.provisioner == PROVISIONER)?;
        let name = volume_name(claim)?;
        self.volumes.get(&name).is_none().then_some(class)
    }

    async fn provision(&self, claim: &PersistentVolumeClaim) -> Result<(), kube::Error> {
        let Some(class) = self.wanted(claim) else { return Ok(()) };
        let key =
            format!("{}/{}", claim.metadata.namespace.as_deref().unwrap_or_default(), claim.metadata.name.as_deref().unwrap_or_default());
        let object = reference(claim);
        self.recorder.event(
            &object,
            EventType::Normal,
            "Provisioning",
            format!("External provisioner is provisioning volume for claim {key:?}"),
        );
        let volume = match self.make_volume(claim, &class) {
            Ok(v) => v,
            Err(e) => {
                let class_name = class.metadata.name.as_deref().unwrap_or_default();
                let msg = format!("failed to provision volume with StorageClass {class_name:?}: {e}");
                self.recorder.event(&object, EventType::Warning, "ProvisioningFailed", msg);
                return Ok(());
            }
        };
        let name = volume.metadata.name.clone().unwrap_or_default();
        let api: Api<PersistentVolume> = Api::all(self.client.clone());
        match api.create(&PostParams::default(), &volume).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => return Err(e),
        }
        self.recorder.event(&object, EventType::Normal, "ProvisioningSucceeded", format!("Successfully provisioned volume {name}"));
        self.decisions.say(LOOP, &key, &format!("provisioned {name}"));
        Ok(())
    }

    /// The directory and the volume object for `claim`.
    fn make_volume(&self, claim: &PersistentVolumeClaim, class: &StorageClass) -> Result<PersistentVolume, ProvisionError> {
        let spec = claim.spec.clone().unwrap_or_default();
        if spec.selector.is_some() {
            return Err(ProvisionError::Selector);
        }
        let name = volume_name(claim).unwrap_or_default();
        let path = self.root.join(&name);
        std::fs::create_dir_all(&path)?;
        let request = spec.resources.as_ref().and_then(|r| r.requests.as_ref()).and_then(|r| r.get("storage")).cloned();
        let mut volume = PersistentVolume {
            spec: Some(PersistentVolumeSpec {
                capacity: Some(BTreeMap::from([("storage".to_string(), request.unwrap_or_else(|| Quantity("0".into())))])),
                access_modes: spec.access_modes.clone(),
                claim_ref: Some(reference(claim)),
                persistent_volume_reclaim_policy: Some(class.reclaim_policy.clone().unwrap_or_else(|| "Delete".into())),
                storage_class_name: class.metadata.name.clone(),
                mount_options: class.mount_options.clone(),
                volume_mode: spec.volume_mode.clone(),
                host_path: Some(HostPathVolumeSource { path: path.to_string_lossy().into_owned(), type_: None }),
                ..Default::default()
            }),
            ..Default::default()
        };
        volume.metadata.name = Some(name);
        volume.metadata.annotations = Some(BTreeMap::from([(ANN_DYNAMICALLY_PROVISIONED.to_string(), PROVISIONER.to_string())]));
        Ok(volume)
    }

    /// `shouldDelete`, then the directory and the volume go.
    async fn delete(&self, volume: &PersistentVolume) -> Result<(), kube::Error> {
        let released = volume.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Released");
        let spec = volume.spec.as_ref();
        let delete = spec.and_then(|s| s.persistent_volume_reclaim_policy.as_deref()) == Some("Delete");
        if !released
            || !delete
            || annotation(&volume.metadata, ANN_DYNAMICALLY_PROVISIONED) != Some(PROVISIONER)
            || volume.metadata.deletion_timestamp.is_some()
        {
            return Ok(());
        }
        let name = volume.metadata.name.clone().unwrap_or_default();
        // Only a directory of ours is removed, whatever the volume says.
        let dir = self.root.join(&name);
        if spec.and_then(|s| s.host_path.as_ref()).is_some_and(|h| Path::new(&h.path) == dir) {
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    self.recorder.event(&reference(volume), EventType::Warning, "VolumeFailedDelete", e.to_string());
                    return Ok(());
                }
            }
        }
        let api: Api<PersistentVolume> = Api::all(self.client.clone());
        match api.delete(&name, &DeleteParams::default()).await {
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e),
            Ok(_) => self.decisions.say(LOOP, &name, "deleted the volume and its directory"),
        }
        Ok(())
    }
}

/// `pvc-<claim uid>`.
fn volume_name(claim: &PersistentVolumeClaim) -> Option<String> {
    claim.metadata.uid.as_deref().filter(|u| !u.is_empty()).map(|u| format!("pvc-{u}"))
}
