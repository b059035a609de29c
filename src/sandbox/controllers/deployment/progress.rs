//! Rollout progress (`pkg/controller/deployment/progress.go`): the `Progressing`
//! condition moves through NewReplicaSetCreated / FoundNewReplicaSet, ReplicaSetUpdated
//! (`ReplicaSet "web-…" is progressing.`) while pods come up, and NewReplicaSetAvailable
//! (`… has successfully progressed.`) when complete; a rollout that shows no progress for
//! `progressDeadlineSeconds` turns it False with ProgressDeadlineExceeded. A deployment
//! waiting for its deadline is looked at again when it would pass.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use std::sync::Arc;

use super::conditions::{self, NEW_RS_AVAILABLE, PROGRESSING, REPLICA_SET_UPDATED, TIMED_OUT};
use super::replicas::desired;
use super::sync::calculate_status;
use super::{DeploymentController, SyncError};

/// `HasProgressDeadline`.
pub fn has_progress_deadline(d: &Deployment) -> bool {
    d.spec.as_ref().and_then(|s| s.progress_deadline_seconds).is_some_and(|s| s != i32::MAX)
}

fn deadline(d: &Deployment) -> SignedDuration {
    SignedDuration::from_secs(i64::from(d.spec.as_ref().and_then(|s| s.progress_deadline_seconds).unwrap_or(600)))
}

/// `DeploymentComplete`: every replica updated and available, this generation observed.
pub fn complete(d: &Deployment, s: &DeploymentStatus) -> bool {
    let n = desired(d);
    s.updated_replicas.unwrap_or(0) == n
        && s.replicas.unwrap_or(0) == n
        && s.available_replicas.unwrap_or(0) == n
        && s.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

/// `DeploymentProgressing`: more updated, fewer old, more ready or more available pods.
pub fn progressing(d: &Deployment, new: &DeploymentStatus) -> bool {
    let old = d.status.clone().unwrap_or_default();
    let g = |v: Option<i32>| v.unwrap_or(0);
    let old_old = g(old.replicas) - g(old.updated_replicas);
    let new_old = g(new.replicas) - g(new.updated_replicas);
    g(new.updated_replicas) > g(old.updated_replicas)
        || new_old < old_old
        || g(new.ready_replicas) > g(old.ready_replicas)
        || g(new.available_replicas) > g(old.available_replicas)
}

/// `DeploymentTimedOut`: the last progress is older than the deadline.
pub fn timed_out(d: &Deployment, s: &DeploymentStatus, now: Timestamp) -> bool {
    if !has_progress_deadline(d) {
        return false;
    }
    let Some(c) = conditions::get(s, PROGRESSING) else { return false };
    match c.reason.as_deref() {
        Some(NEW_RS_AVAILABLE) => false,
        Some(TIMED_OUT) => true,
        _ => c.last_update_time.as_ref().is_some_and(|t| t.0.checked_add(deadline(d)).is_ok_and(|until| until < now)),
    }
}

/// `getReplicaFailures` for the new replica set (then the old ones): its ReplicaFailure,
/// as a deployment condition.
fn replica_failure(all: &[Arc<ReplicaSet>], new_rs: Option<&ReplicaSet>) -> Option<k8s_openapi::api::apps::v1::DeploymentCondition> {
    let from = |rs: &ReplicaSet| {
        rs.status.as_ref()?.conditions.iter().flatten().find(|c| c.type_ == conditions::REPLICA_FAILURE).map(|c| {
            k8s_openapi::api::apps::v1::DeploymentCondition {
                type_: c.type_.clone(),
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
                last_update_time: c.last_transition_time.clone(),
                last_transition_time: c.last_transition_time.clone(),
            }
        })
    };
    new_rs.and_then(from).or_else(|| all.iter().find_map(|rs| from(rs)))
}

impl DeploymentController {
    /// `syncRolloutStatus`: the status with the Progressing condition brought up to date.
    /// Returns when to look again (the deadline) if nothing changed.
    pub(super) async fn sync_rollout_status(
        &self,
        all: &[Arc<ReplicaSet>],
        new_rs: Option<&ReplicaSet>,
        d: &mut Deployment,
    ) -> Result<Option<Duration>, SyncError> {
        let mut status = calculate_status(all, new_rs, d);
        let name = d.metadata.name.clone().unwrap_or_default();
        if !has_progress_deadline(d) {
            conditions::remove(&mut status, PROGRESSING);
        }
        let old = d.status.clone().unwrap_or_default();
        let current = conditions::get(&old, PROGRESSING).cloned();
        let is_complete =
            status.replicas == status.updated_replicas && current.as_ref().is_some_and(|c| c.reason.as_deref() == Some(NEW_RS_AVAILABLE));
        if has_progress_deadline(d) && !is_complete {
            let subject = match new_rs {
                Some(rs) => format!("ReplicaSet {:?}", rs.metadata.name.clone().unwrap_or_default()),
                None => format!("Deployment {name:?}"),
            };
            if complete(d, &status) {
                let c = conditions::new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE, format!("{subject} has successfully progressed."));
                conditions::set(&mut status, c);
            } else if progressing(d, &status) {
                let mut c = conditions::new_condition(PROGRESSING, "True", REPLICA_SET_UPDATED, format!("{subject} is progressing."));
                if let Some(cur) = &current {
                    if cur.status == "True" {
                        c.last_transition_time = cur.last_transition_time.clone();
                    }
                    conditions::remove(&mut status, PROGRESSING);
                }
                conditions::set(&mut status, c);
            } else if timed_out(d, &status, Timestamp::now()) {
                let c = conditions::new_condition(PROGRESSING, "False", TIMED_OUT, format!("{subject} has timed out progressing."));
                conditions::set(&mut status, c);
            }
        }
        match replica_failure(all, new_rs) {
            Some(c) => conditions::set(&mut status, c),
            None => conditions::remove(&mut status, conditions::REPLICA_FAILURE),
        }
        if status.conditions.as_ref().is_some_and(|c| c.is_empty()) {
            status.conditions = None;
        }
        if d.status.as_ref() == Some(&status) {
            return Ok(self.requeue_stuck(d, &status));
        }
        let was_timed_out = current.as_ref().is_some_and(|c| c.reason.as_deref() == Some(TIMED_OUT));
        if !was_timed_out && conditions::get(&status, PROGRESSING).is_some_and(|c| c.reason.as_deref() == Some(TIMED_OUT)) {
            self.decisions.say(super::LOOP, &super::key(d), "rollout exceeded its progress deadline");
        }
        d.status = Some(status);
        self.update_status(d).await?;
        Ok(None)
    }

    /// `requeueStuckDeployment`: when the progress deadline of a rollout still running
    /// would pass.
    fn requeue_stuck(&self, d: &Deployment, status: &DeploymentStatus) -> Option<Duration> {
        let current = conditions::get(d.status.as_ref()?, PROGRESSING)?;
        if !has_progress_deadline(d) || complete(d, status) || current.reason.as_deref() == Some(TIMED_OUT) {
            return None;
        }
        let until = current.last_update_time.as_ref()?.0.checked_add(deadline(d)).ok()?;
        let after = until.duration_since(Timestamp::now());
        let secs = after.as_secs_f64().max(1.0);
        Some(Duration::from_secs_f64(secs))
    }
}
