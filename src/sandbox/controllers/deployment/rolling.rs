//! The RollingUpdate strategy (`pkg/controller/deployment/rolling.go`): grow the new
//! replica set up to `replicas + maxSurge` pods in all, shrink the old ones while at least
//! `replicas - maxUnavailable` pods stay available (unhealthy old pods go first), and
//! clean up old revisions once the rollout is complete.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

use super::progress::complete;
use super::replicas::{self, active, desired, max_unavailable, spec_replicas};
use super::{DeploymentController, SyncError};

impl DeploymentController {
    /// `rolloutRolling`.
    pub(super) async fn rollout_rolling(&self, d: &mut Deployment, sets: &[Arc<ReplicaSet>]) -> Result<Option<Duration>, SyncError> {
        let (new_rs, old) = self.new_and_old(d, sets, true).await?;
        let Some(new_rs) = new_rs else { return Ok(None) };
        let mut all = old.clone();
        all.push(new_rs.clone());

        let (scaled_up, new_rs) = self.reconcile_new(&all, &new_rs, d).await?;
        if scaled_up {
            let mut all = old.clone();
            all.push(new_rs.clone());
            return self.sync_rollout_status(&all, Some(&new_rs), d).await;
        }
        let (scaled_down, old) = self.reconcile_old(&all, &active(&old), &old, &new_rs, d).await?;
        let mut all = old.clone();
        all.push(new_rs.clone());
        if scaled_down {
            return self.sync_rollout_status(&all, Some(&new_rs), d).await;
        }
        if complete(d, &d.status.clone().unwrap_or_default()) {
            self.cleanup(&old, d).await?;
        }
        self.sync_rollout_status(&all, Some(&new_rs), d).await
    }

    /// `reconcileNewReplicaSet`: scale the new set towards `replicas` within the surge.
    async fn reconcile_new(
        &self,
        all: &[Arc<ReplicaSet>],
        new_rs: &Arc<ReplicaSet>,
        d: &Deployment,
    ) -> Result<(bool, Arc<ReplicaSet>), SyncError> {
        let (have, want) = (spec_replicas(new_rs), desired(d));
        if have == want {
            return Ok((false, new_rs.clone()));
        }
        if have > want {
            return self.scale_replica_set(new_rs, want, d).await;
        }
        let n = replicas::new_rs_new_replicas(d, all, new_rs);
        self.scale_replica_set(new_rs, n, d).await
    }

    /// `reconcileOldReplicaSets`: how far the old sets may shrink now. Returns whether any
    /// did, and every old set as it now is.
    async fn reconcile_old(
        &self,
        all: &[Arc<ReplicaSet>],
        active_old: &[Arc<ReplicaSet>],
        every_old: &[Arc<ReplicaSet>],
        new_rs: &ReplicaSet,
        d: &Deployment,
    ) -> Result<(bool, Vec<Arc<ReplicaSet>>), SyncError> {
        if replicas::spec_total(active_old) == 0 {
            return Ok((false, every_old.to_vec()));
        }
        let all_pods = replicas::spec_total(all);
        let min_available = desired(d) - max_unavailable(d);
        let new_unavailable = spec_replicas(new_rs) - new_rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0);
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok((false, every_old.to_vec()));
        }
        let (old, cleaned) = self.cleanup_unhealthy(active_old, d, max_scaled_down).await?;
        let mut all: Vec<Arc<ReplicaSet>> = old.clone();
        all.push(Arc::new(new_rs.clone()));
        let (old, scaled) = self.scale_down_old_for_rolling_update(&all, &old, d).await?;
        let merged = every_old
            .iter()
            .map(|rs| old.iter().find(|o| o.metadata.uid == rs.metadata.uid).cloned().unwrap_or_else(|| rs.clone()))
            .collect();
        Ok((cleaned + scaled > 0, merged))
    }

    /// `cleanupUnhealthyReplicas`: first shrink old sets by their unavailable pods.
    async fn cleanup_unhealthy(
        &self,
        old: &[Arc<ReplicaSet>],
        d: &Deployment,
        max_cleanup: i32,
    ) -> Result<(Vec<Arc<ReplicaSet>>, i32), SyncError> {
        let mut sorted = old.to_vec();
        sorted.sort_by(|a, b| replicas::by_creation(a, b));
        let mut total = 0;
        let mut out = Vec::new();
        for rs in sorted {
            let replicas = spec_replicas(&rs);
            let available = rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0);
            if total >= max_cleanup || replicas == 0 || replicas == available {
                out.push(rs);
                continue;
            }
            let down = (max_cleanup - total).min(replicas - available);
            let (_, updated) = self.scale_replica_set(&rs, replicas - down, d).await?;
            total += down;
            out.push(updated);
        }
        Ok((out, total))
    }

    /// `scaleDownOldReplicaSetsForRollingUpdate`: shrink old sets, oldest first, as far as
    /// the available pods above the minimum allow.
    async fn scale_down_old_for_rolling_update(
        &self,
        all: &[Arc<ReplicaSet>],
        old: &[Arc<ReplicaSet>],
        d: &Deployment,
    ) -> Result<(Vec<Arc<ReplicaSet>>, i32), SyncError> {
        let min_available = desired(d) - max_unavailable(d);
        let available = replicas::available_total(all);
        if available <= min_available {
            return Ok((old.to_vec(), 0));
        }
        let mut sorted = old.to_vec();
        sorted.sort_by(|a, b| replicas::by_creation(a, b));
        let target = available - min_available;
        let mut total = 0;
        let mut out = Vec::new();
        for rs in sorted {
            let replicas = spec_replicas(&rs);
            if total >= target || replicas == 0 {
                out.push(rs);
                continue;
            }
            let down = replicas.min(target - total);
            let (_, updated) = self.scale_replica_set(&rs, replicas - down, d).await?;
            total += down;
            out.push(updated);
        }
        Ok((out, total))
    }
}
