//! Rollback by annotation (`pkg/controller/deployment/rollback.go`): a deployment with
//! `deprecated.deployment.rollback.to` (what extensions/v1beta1's `rollbackTo` became) gets
//! the template of that revision (0: the previous one) and the annotation removed.
//!
//! `kubectl rollout undo` does not use this: it writes the old template itself, and the
//! sync then finds the old replica set as the new one and moves it to the next revision
//! (see [`super::revision::set_new_replica_set_annotations`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{Api, PostParams};

use super::pod_template_hash::{equal_ignore_hash, POD_TEMPLATE_HASH};
use super::revision::{revision_of, ROLLBACK_TO};
use super::{DeploymentController, SyncError, LOOP};
use crate::sandbox::controllers::recorder::reference;
use crate::sandbox::controllers::EventType;

pub const ROLLBACK_DONE: &str = "DeploymentRollback";
pub const ROLLBACK_REVISION_NOT_FOUND: &str = "DeploymentRollbackRevisionNotFound";
pub const ROLLBACK_TEMPLATE_UNCHANGED: &str = "DeploymentRollbackTemplateUnchanged";

/// `getRollbackTo`: the revision asked for, if any.
pub fn rollback_to(d: &Deployment) -> Option<i64> {
    d.metadata.annotations.as_ref()?.get(ROLLBACK_TO).map(|v| v.parse().unwrap_or(0))
}

/// `LastRevision`: the second highest revision.
fn last_revision(sets: &[Arc<ReplicaSet>]) -> i64 {
    let (mut max, mut second) = (0, 0);
    for r in sets.iter().map(|rs| revision_of(rs)) {
        if r >= max {
            second = max;
            max = r;
        } else if r > second {
            second = r;
        }
    }
    second
}

impl DeploymentController {
    /// `rollback`.
    pub(super) async fn rollback(&self, d: &mut Deployment, sets: &[Arc<ReplicaSet>]) -> Result<(), SyncError> {
        let (new_rs, old) = self.new_and_old(d, sets, true).await?;
        let mut all = old;
        all.extend(new_rs);
        let mut target = rollback_to(d).unwrap_or(0);
        if target == 0 {
            target = last_revision(&all);
            if target == 0 {
                self.recorder.event(&reference(&*d), EventType::Warning, ROLLBACK_REVISION_NOT_FOUND, "Unable to find last revision.");
                return self.clear_rollback_to(d).await;
            }
        }
        let Some(rs) = all.iter().find(|rs| revision_of(rs) == target) else {
            self.recorder.event(
                &reference(&*d),
                EventType::Warning,
                ROLLBACK_REVISION_NOT_FOUND,
                "Unable to find the revision to rollback to.",
            );
            return self.clear_rollback_to(d).await;
        };
        let name = d.metadata.name.clone().unwrap_or_default();
        let template = rs.spec.as_ref().and_then(|s| s.template.clone()).unwrap_or_default();
        let current = d.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
        if equal_ignore_hash(&current, &template) {
            let msg = format!("The rollback revision contains the same template as current deployment {name:?}");
            self.recorder.event(&reference(&*d), EventType::Warning, ROLLBACK_TEMPLATE_UNCHANGED, msg);
            return self.clear_rollback_to(d).await;
        }
        let mut template = template;
        if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            labels.remove(POD_TEMPLATE_HASH);
        }
        if let Some(spec) = d.spec.as_mut() {
            spec.template = template;
        }
        set_annotations_to(d, rs);
        self.clear_rollback_to(d).await?;
        self.recorder.event(
            &reference(&*d),
            EventType::Normal,
            ROLLBACK_DONE,
            format!("Rolled back deployment {name:?} to revision {target}"),
        );
        self.decisions.say(LOOP, &super::key(d), &format!("rolled back to revision {target}"));
        Ok(())
    }

    /// `updateDeploymentAndClearRollbackTo`.
    async fn clear_rollback_to(&self, d: &mut Deployment) -> Result<(), SyncError> {
        if let Some(a) = d.metadata.annotations.as_mut() {
            a.remove(ROLLBACK_TO);
        }
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), d.metadata.namespace.as_deref().unwrap_or_default());
        let name = d.metadata.name.clone().unwrap_or_default();
        *d = api.replace(&name, &PostParams::default(), d).await?;
        Ok(())
    }
}

/// `SetDeploymentAnnotationsTo`: the deployment takes the replica set's annotations
/// (keeping only its own revision-bookkeeping ones).
fn set_annotations_to(d: &mut Deployment, rs: &ReplicaSet) {
    let own: BTreeMap<String, String> =
        d.metadata.annotations.clone().unwrap_or_default().into_iter().filter(|(k, _)| super::revision::is_skipped(k)).collect();
    let mut next = own;
    for (k, v) in rs.metadata.annotations.iter().flatten() {
        if !super::revision::is_skipped(k) {
            next.insert(k.clone(), v.clone());
        }
    }
    d.metadata.annotations = Some(next);
}
