//! The Recreate strategy (`pkg/controller/deployment/recreate.go`): scale every old
//! replica set to zero, wait until none of their pods is running, then create (or scale
//! up) the new one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;

use super::progress::complete;
use super::replicas::{self, active, desired};
use super::{DeploymentController, SyncError};

/// `oldPodsRunning`: an old set still has pods, or a pod of one is not finished.
fn old_pods_running(new_rs: Option<&ReplicaSet>, old: &[Arc<ReplicaSet>], pods: &HashMap<String, Vec<Arc<Pod>>>) -> bool {
    if replicas::actual_total(old) > 0 {
        return true;
    }
    let new_uid = new_rs.and_then(|rs| rs.metadata.uid.clone()).unwrap_or_default();
    pods.iter()
        .filter(|(uid, _)| **uid != new_uid)
        .flat_map(|(_, p)| p)
        .any(|p| !matches!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Failed" | "Succeeded")))
}

impl DeploymentController {
    /// `rolloutRecreate`.
    pub(super) async fn rollout_recreate(
        &self,
        d: &mut Deployment,
        sets: &[Arc<ReplicaSet>],
        pods: &HashMap<String, Vec<Arc<Pod>>>,
    ) -> Result<Option<Duration>, SyncError> {
        let (new_rs, old) = self.new_and_old(d, sets, false).await?;
        let mut scaled_down = false;
        let mut old_now = Vec::new();
        for rs in &old {
            if active(std::slice::from_ref(rs)).is_empty() {
                old_now.push(rs.clone());
                continue;
            }
            let (scaled, updated) = self.scale_replica_set(rs, 0, d).await?;
            scaled_down |= scaled;
            old_now.push(updated);
        }
        let mut all = old_now.clone();
        all.extend(new_rs.clone());
        if scaled_down || old_pods_running(new_rs.as_deref(), &old_now, pods) {
            return self.sync_rollout_status(&all, new_rs.as_deref(), d).await;
        }
        let (new_rs, old) = match new_rs {
            Some(rs) => (rs, old_now),
            None => {
                let (rs, old) = self.new_and_old(d, sets, true).await?;
                let Some(rs) = rs else { return Ok(None) };
                (rs, old)
            }
        };
        let (_, new_rs) = self.scale_replica_set(&new_rs, desired(d), d).await?;
        if complete(d, &d.status.clone().unwrap_or_default()) {
            self.cleanup(&old, d).await?;
        }
        let mut all = old;
        all.push(new_rs.clone());
        self.sync_rollout_status(&all, Some(&new_rs), d).await
    }
}
