//! The parts of a deployment sync every strategy shares (`pkg/controller/deployment/sync.go`):
//! finding (or creating) the new replica set and moving it to the next revision, scaling
//! (proportionally across revisions while a rollout is under way), cleaning up old
//! revisions beyond `revisionHistoryLimit`, and the status.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet, ReplicaSetSpec};
use kube::api::{Api, DeleteParams, PostParams};

use super::conditions::{
    self, AVAILABLE, FAILED_RS_CREATE, FOUND_NEW_RS, MINIMUM_REPLICAS_AVAILABLE, MINIMUM_REPLICAS_UNAVAILABLE, NEW_REPLICA_SET, PAUSED,
    PROGRESSING, RESUMED, TIMED_OUT,
};
use super::pod_template_hash::{compute_hash, equal_ignore_hash, POD_TEMPLATE_HASH};
use super::progress::has_progress_deadline;
use super::replicas::{self, active, desired, is_rolling_update, max_surge, max_unavailable, spec_replicas};
use super::revision::{self, max_revision, replicas_annotation, DESIRED_REPLICAS};
use super::{DeploymentController, SyncError, LOOP};
use crate::sandbox::controllers::controller_ref::new_controller_ref;
use crate::sandbox::controllers::pod_control::api_message;
use crate::sandbox::controllers::recorder::reference;
use crate::sandbox::controllers::EventType;

/// `FindNewReplicaSet`: the oldest replica set whose template is the deployment's.
pub fn find_new(d: &Deployment, sets: &[Arc<ReplicaSet>]) -> Option<Arc<ReplicaSet>> {
    let template = d.spec.as_ref()?.template.clone();
    let mut sorted = sets.to_vec();
    sorted.sort_by(|a, b| replicas::by_creation(a, b));
    sorted.into_iter().find(|rs| rs.spec.as_ref().and_then(|s| s.template.as_ref()).is_some_and(|t| equal_ignore_hash(t, &template)))
}

/// `FindOldReplicaSets`: every other replica set (the second of upstream's pair).
pub fn find_old(d: &Deployment, sets: &[Arc<ReplicaSet>]) -> Vec<Arc<ReplicaSet>> {
    let new_uid = find_new(d, sets).and_then(|rs| rs.metadata.uid.clone());
    sets.iter().filter(|rs| new_uid.is_none() || rs.metadata.uid != new_uid).cloned().collect()
}

/// `calculateStatus`.
pub fn calculate_status(all: &[Arc<ReplicaSet>], new_rs: Option<&ReplicaSet>, d: &Deployment) -> DeploymentStatus {
    let available = replicas::available_total(all);
    let total = replicas::spec_total(all);
    let unavailable = (total - available).max(0);
    let old = d.status.clone().unwrap_or_default();
    let new_only: Vec<Arc<ReplicaSet>> = new_rs.map(|rs| Arc::new(rs.clone())).into_iter().collect();
    let nz = |n: i32| (n != 0).then_some(n);
    let mut status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: nz(replicas::actual_total(all)),
        updated_replicas: nz(replicas::actual_total(&new_only)),
        ready_replicas: nz(replicas::ready_total(all)),
        available_replicas: nz(available),
        unavailable_replicas: nz(unavailable),
        collision_count: old.collision_count,
        conditions: old.conditions.clone(),
        terminating_replicas: None,
    };
    if available >= desired(d) - max_unavailable(d) {
        let c = conditions::new_condition(AVAILABLE, "True", MINIMUM_REPLICAS_AVAILABLE, "Deployment has minimum availability.");
        conditions::set(&mut status, c);
    } else {
        let c =
            conditions::new_condition(AVAILABLE, "False", MINIMUM_REPLICAS_UNAVAILABLE, "Deployment does not have minimum availability.");
        conditions::set(&mut status, c);
    }
    status
}

fn generate_name(deployment: &str, hash: &str) -> String {
    format!("{deployment}-{hash}")
}

impl DeploymentController {
    fn rs_api(&self, d: &Deployment) -> Api<ReplicaSet> {
        Api::namespaced(self.client.clone(), d.metadata.namespace.as_deref().unwrap_or_default())
    }

    /// `UpdateStatus` of the deployment; `d` becomes what the apiserver returned.
    pub(super) async fn update_status(&self, d: &mut Deployment) -> Result<(), kube::Error> {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), d.metadata.namespace.as_deref().unwrap_or_default());
        let name = d.metadata.name.clone().unwrap_or_default();
        *d = api.replace_status(&name, &PostParams::default(), d).await?;
        Ok(())
    }

    /// `getAllReplicaSetsAndSyncRevision`: the new replica set (created if asked and
    /// missing) and every old one.
    pub(super) async fn new_and_old(
        &self,
        d: &mut Deployment,
        sets: &[Arc<ReplicaSet>],
        create: bool,
    ) -> Result<(Option<Arc<ReplicaSet>>, Vec<Arc<ReplicaSet>>), SyncError> {
        let old = find_old(d, sets);
        let new_rs = self.new_replica_set(d, sets, &old, create).await?;
        Ok((new_rs, old))
    }

    /// `getNewReplicaSet`.
    async fn new_replica_set(
        &self,
        d: &mut Deployment,
        sets: &[Arc<ReplicaSet>],
        old: &[Arc<ReplicaSet>],
        create: bool,
    ) -> Result<Option<Arc<ReplicaSet>>, SyncError> {
        let new_revision = max_revision(old.iter().map(|rs| &**rs)) + 1;
        let key = super::key(d);
        if let Some(existing) = find_new(d, sets) {
            let mut copy = (*existing).clone();
            let annotations_updated = revision::set_new_replica_set_annotations(d, &mut copy, new_revision, true, max_surge(d));
            let min_ready = d.spec.as_ref().and_then(|s| s.min_ready_seconds);
            let spec = copy.spec.get_or_insert_with(ReplicaSetSpec::default);
            let min_ready_changed = spec.min_ready_seconds.unwrap_or(0) != min_ready.unwrap_or(0);
            if annotations_updated || min_ready_changed {
                spec.min_ready_seconds = min_ready;
                let name = copy.metadata.name.clone().unwrap_or_default();
                if revision::revision_of(&existing) != revision::revision_of(&copy) {
                    self.decisions.say(LOOP, &key, &format!("replica set {name} is revision {} now", revision::revision_of(&copy)));
                }
                let updated = self.rs_api(d).replace(&name, &PostParams::default(), &copy).await?;
                return Ok(Some(Arc::new(updated)));
            }
            let rev = copy.metadata.annotations.as_ref().and_then(|a| a.get(revision::REVISION)).cloned().unwrap_or_default();
            let mut needs_update = revision::set_deployment_revision(d, &rev);
            let has_progressing = d.status.as_ref().is_some_and(|s| conditions::get(s, PROGRESSING).is_some());
            if has_progress_deadline(d) && !has_progressing {
                let msg = format!("Found new replica set {:?}", copy.metadata.name.clone().unwrap_or_default());
                let status = d.status.get_or_insert_with(DeploymentStatus::default);
                conditions::set(status, conditions::new_condition(PROGRESSING, "True", FOUND_NEW_RS, msg));
                needs_update = true;
            }
            if needs_update {
                self.update_status(d).await?;
            }
            return Ok(Some(Arc::new(copy)));
        }
        if !create {
            return Ok(None);
        }

        let spec = d.spec.clone().unwrap_or_default();
        let collision_count = d.status.as_ref().and_then(|s| s.collision_count);
        let hash = compute_hash(&spec.template, collision_count);
        let mut template = spec.template.clone();
        template
            .metadata
            .get_or_insert_with(Default::default)
            .labels
            .get_or_insert_with(Default::default)
            .insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let mut selector = spec.selector.clone();
        selector.match_labels.get_or_insert_with(Default::default).insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let name = generate_name(d.metadata.name.as_deref().unwrap_or_default(), &hash);

        let mut rs = ReplicaSet::default();
        rs.metadata.name = Some(name.clone());
        rs.metadata.namespace = d.metadata.namespace.clone();
        rs.metadata.owner_references = Some(vec![new_controller_ref(&*d)]);
        rs.metadata.labels = template.metadata.as_ref().and_then(|m| m.labels.clone());
        rs.spec = Some(ReplicaSetSpec { replicas: Some(0), min_ready_seconds: spec.min_ready_seconds, selector, template: Some(template) });
        let mut all: Vec<Arc<ReplicaSet>> = old.to_vec();
        all.push(Arc::new(rs.clone()));
        let count = replicas::new_rs_new_replicas(d, &all, &rs);
        if let Some(s) = rs.spec.as_mut() {
            s.replicas = Some(count);
        }
        revision::set_new_replica_set_annotations(d, &mut rs, new_revision, false, max_surge(d));

        let created = match self.rs_api(d).create(&PostParams::default(), &rs).await {
            Ok(created) => created,
            Err(kube::Error::Api(s)) if s.code == 409 => {
                // AlreadyExists: ours with this template is fine, anything else is a hash collision.
                if let Some(existing) = self.replica_sets.get(&format!("{}/{name}", d.metadata.namespace.as_deref().unwrap_or_default())) {
                    let ours = crate::sandbox::controllers::controller_ref::controller_of(&existing.metadata)
                        .is_some_and(|r| Some(&r.uid) == d.metadata.uid.as_ref());
                    let same =
                        existing.spec.as_ref().and_then(|s| s.template.as_ref()).is_some_and(|t| equal_ignore_hash(t, &spec.template));
                    if ours && same {
                        return Ok(Some(existing));
                    }
                }
                let status = d.status.get_or_insert_with(DeploymentStatus::default);
                status.collision_count = Some(status.collision_count.unwrap_or(0) + 1);
                self.decisions.say(
                    LOOP,
                    &key,
                    &format!("hash collision on {name}: collisionCount is {}", status.collision_count.unwrap_or(0)),
                );
                self.update_status(d).await?;
                return Err(kube::Error::Api(s).into());
            }
            Err(e) => {
                let terminating = matches!(&e, kube::Error::Api(s) if s.code == 403 && s.message.contains("being terminated"));
                if terminating {
                    return Err(e.into());
                }
                let msg = format!("Failed to create new replica set {name:?}: {}", api_message(&e));
                if has_progress_deadline(d) {
                    let status = d.status.get_or_insert_with(DeploymentStatus::default);
                    conditions::set(status, conditions::new_condition(PROGRESSING, "False", FAILED_RS_CREATE, msg.clone()));
                    let _ = self.update_status(d).await;
                }
                self.recorder.event(&reference(&*d), EventType::Warning, FAILED_RS_CREATE, msg);
                return Err(e.into());
            }
        };
        let created_name = created.metadata.name.clone().unwrap_or_default();
        self.decisions.say(LOOP, &key, &format!("created replica set {created_name} (revision {new_revision})"));
        if count > 0 {
            self.recorder.event(
                &reference(&*d),
                EventType::Normal,
                "ScalingReplicaSet",
                format!("Scaled up replica set {created_name} from 0 to {count}"),
            );
            self.decisions.say(LOOP, &key, &format!("scaled up replica set {created_name} from 0 to {count}"));
        }
        let mut needs_update = revision::set_deployment_revision(d, &new_revision.to_string());
        if has_progress_deadline(d) {
            let status = d.status.get_or_insert_with(DeploymentStatus::default);
            let msg = format!("Created new replica set {created_name:?}");
            conditions::set(status, conditions::new_condition(PROGRESSING, "True", NEW_REPLICA_SET, msg));
            needs_update = true;
        }
        if needs_update {
            self.update_status(d).await?;
        }
        Ok(Some(Arc::new(created)))
    }

    /// `scaleReplicaSet` (with its Event): sets the size and the replicas annotations.
    /// Returns whether the size changed, and the set as written.
    pub(super) async fn scale_replica_set(
        &self,
        rs: &Arc<ReplicaSet>,
        new_scale: i32,
        d: &Deployment,
    ) -> Result<(bool, Arc<ReplicaSet>), SyncError> {
        let size_changed = spec_replicas(rs) != new_scale;
        let max = desired(d) + max_surge(d);
        let annotations_changed = revision::replicas_annotations_need_update(rs, desired(d), max);
        if !size_changed && !annotations_changed {
            return Ok((false, rs.clone()));
        }
        let old_scale = spec_replicas(rs);
        let mut copy = (**rs).clone();
        copy.spec.get_or_insert_with(ReplicaSetSpec::default).replicas = Some(new_scale);
        revision::set_replicas_annotations(&mut copy, desired(d), max);
        let name = copy.metadata.name.clone().unwrap_or_default();
        let updated = self.rs_api(d).replace(&name, &PostParams::default(), &copy).await?;
        if size_changed {
            let op = if old_scale < new_scale { "up" } else { "down" };
            let msg = format!("Scaled {op} replica set {name} from {old_scale} to {new_scale}");
            self.recorder.event(&reference(d), EventType::Normal, "ScalingReplicaSet", msg);
            self.decisions.say(LOOP, &super::key(d), &format!("scaled {op} replica set {name} from {old_scale} to {new_scale}"));
        }
        Ok((size_changed, Arc::new(updated)))
    }

    /// `scale`: a change of `spec.replicas` outside a rollout goes to the one active set;
    /// during a rollout it is spread over the sets in proportion to their sizes.
    pub(super) async fn scale(&self, d: &Deployment, new_rs: Option<&Arc<ReplicaSet>>, old: &[Arc<ReplicaSet>]) -> Result<(), SyncError> {
        if let Some(target) = find_active_or_latest(new_rs, old) {
            if spec_replicas(&target) == desired(d) {
                return Ok(());
            }
            self.scale_replica_set(&target, desired(d), d).await?;
            return Ok(());
        }
        if replicas::is_saturated(d, new_rs.map(|r| &**r)) {
            for rs in active(old) {
                self.scale_replica_set(&rs, 0, d).await?;
            }
            return Ok(());
        }
        if !is_rolling_update(d) {
            return Ok(());
        }
        let mut every: Vec<Arc<ReplicaSet>> = old.to_vec();
        every.extend(new_rs.cloned());
        let mut sets = active(&every);
        let current = replicas::spec_total(&sets);
        let allowed = if desired(d) > 0 { desired(d) + max_surge(d) } else { 0 };
        let to_add = allowed - current;
        match to_add.cmp(&0) {
            std::cmp::Ordering::Greater => sets.sort_by(|a, b| replicas::by_size_newer(a, b)),
            std::cmp::Ordering::Less => sets.sort_by(|a, b| replicas::by_size_older(a, b)),
            std::cmp::Ordering::Equal => {}
        }
        let mut added = 0;
        let mut sizes: HashMap<String, i32> = HashMap::new();
        for rs in &sets {
            let name = rs.metadata.name.clone().unwrap_or_default();
            if to_add != 0 {
                let p = replicas::proportion(rs, d, to_add, added);
                sizes.insert(name, spec_replicas(rs) + p);
                added += p;
            } else {
                sizes.insert(name, spec_replicas(rs));
            }
        }
        if to_add != 0 {
            if let Some(first) = sets.first() {
                let name = first.metadata.name.clone().unwrap_or_default();
                let size = sizes.entry(name).or_default();
                *size = (*size + to_add - added).max(0);
            }
        }
        for rs in &sets {
            let size = sizes.get(rs.metadata.name.as_deref().unwrap_or_default()).copied().unwrap_or(0);
            self.scale_replica_set(rs, size, d).await?;
        }
        Ok(())
    }

    /// `cleanupDeployment`: deletes the oldest revisions beyond `revisionHistoryLimit`
    /// that are scaled to zero and settled.
    pub(super) async fn cleanup(&self, old: &[Arc<ReplicaSet>], d: &Deployment) -> Result<(), SyncError> {
        let Some(limit) = d.spec.as_ref().and_then(|s| s.revision_history_limit) else { return Ok(()) };
        let mut cleanable: Vec<Arc<ReplicaSet>> = old.iter().filter(|rs| rs.metadata.deletion_timestamp.is_none()).cloned().collect();
        let diff = i64::try_from(cleanable.len()).unwrap_or(0) - i64::from(limit);
        if diff <= 0 {
            return Ok(());
        }
        cleanable.sort_by(|a, b| replicas::by_revision(a, b));
        for rs in cleanable.iter().take(usize::try_from(diff).unwrap_or(0)) {
            let st = rs.status.clone().unwrap_or_default();
            if st.replicas != 0 || spec_replicas(rs) != 0 || rs.metadata.generation > st.observed_generation {
                continue;
            }
            let name = rs.metadata.name.clone().unwrap_or_default();
            match self.rs_api(d).delete(&name, &DeleteParams::default()).await {
                Ok(_) => self.decisions.say(
                    LOOP,
                    &super::key(d),
                    &format!("deleted old replica set {name} (revision {})", revision::revision_of(rs)),
                ),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// `syncDeploymentStatus`: writes the calculated status if it changed.
    pub(super) async fn sync_status(
        &self,
        all: &[Arc<ReplicaSet>],
        new_rs: Option<&ReplicaSet>,
        d: &mut Deployment,
    ) -> Result<(), SyncError> {
        let status = calculate_status(all, new_rs, d);
        if d.status.as_ref() == Some(&status) {
            return Ok(());
        }
        d.status = Some(status);
        self.update_status(d).await?;
        Ok(())
    }

    /// `isScalingEvent`: an active set was sized for a different `spec.replicas`.
    pub(super) async fn is_scaling_event(&self, d: &mut Deployment, sets: &[Arc<ReplicaSet>]) -> Result<bool, SyncError> {
        let (new_rs, old) = self.new_and_old(d, sets, false).await?;
        let mut all = old;
        all.extend(new_rs);
        Ok(active(&all).iter().any(|rs| replicas_annotation(rs, DESIRED_REPLICAS).is_some_and(|n| n != desired(d))))
    }

    /// `sync`: a paused deployment or a scaling event: scale, clean up when paused, status.
    pub(super) async fn sync_scale(&self, d: &mut Deployment, sets: &[Arc<ReplicaSet>]) -> Result<(), SyncError> {
        let (new_rs, old) = self.new_and_old(d, sets, false).await?;
        self.scale(d, new_rs.as_ref(), &old).await?;
        if d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false) {
            self.cleanup(&old, d).await?;
        }
        let mut all = old;
        all.extend(new_rs.clone());
        self.sync_status(&all, new_rs.as_deref(), d).await
    }

    /// `checkPausedConditions`: Progressing Unknown with DeploymentPaused / DeploymentResumed.
    pub(super) async fn check_paused_conditions(&self, d: &mut Deployment) -> Result<(), SyncError> {
        if !has_progress_deadline(d) {
            return Ok(());
        }
        let status = d.status.clone().unwrap_or_default();
        let cond = conditions::get(&status, PROGRESSING);
        if cond.is_some_and(|c| c.reason.as_deref() == Some(TIMED_OUT)) {
            return Ok(());
        }
        let paused_exists = cond.is_some_and(|c| c.reason.as_deref() == Some(PAUSED));
        let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        let c = if paused && !paused_exists {
            conditions::new_condition(PROGRESSING, "Unknown", PAUSED, "Deployment is paused")
        } else if !paused && paused_exists {
            conditions::new_condition(PROGRESSING, "Unknown", RESUMED, "Deployment is resumed")
        } else {
            return Ok(());
        };
        conditions::set(d.status.get_or_insert_with(DeploymentStatus::default), c);
        self.update_status(d).await?;
        Ok(())
    }
}

/// `FindActiveOrLatest`: the one set with replicas, or the newest when none has any.
fn find_active_or_latest(new_rs: Option<&Arc<ReplicaSet>>, old: &[Arc<ReplicaSet>]) -> Option<Arc<ReplicaSet>> {
    if new_rs.is_none() && old.is_empty() {
        return None;
    }
    let mut old_sorted = old.to_vec();
    old_sorted.sort_by(|a, b| replicas::by_creation(b, a));
    let mut all = old_sorted.clone();
    all.extend(new_rs.cloned());
    let live = active(&all);
    match live.len() {
        0 => new_rs.cloned().or_else(|| old_sorted.first().cloned()),
        1 => live.first().cloned(),
        _ => None,
    }
}
