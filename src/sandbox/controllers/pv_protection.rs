//! The PV protection controller (`pkg/controller/volume/pvprotection`): a volume being
//! deleted keeps its `kubernetes.io/pv-protection` finalizer while it is `Bound`, so a
//! claim's data cannot vanish under it. Volumes without the finalizer get it.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::PersistentVolume;
use kube::api::{Api, Patch, PatchParams};

use crate::machinery::lister::Lister;
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::shared_informer::ResourceEventHandlerFuncs;
use crate::sandbox::registry::storage_admission::PV_PROTECTION_FINALIZER;

const LOOP: &str = "pv-protection";

pub struct PvProtection {
    client: kube::Client,
    decisions: super::Decisions,
    volumes: Lister<PersistentVolume>,
    queue: RateLimitingQueue<String>,
}

pub fn start(ctx: &super::Context) -> Result<(), super::StartError> {
    let queue: RateLimitingQueue<String> = RateLimitingQueue::with_default_rate_limiter();
    let volumes = ctx.factory.informer_for::<PersistentVolume>()?;
    let (qa, qu) = (queue.clone(), queue.clone());
    let key = |v: &PersistentVolume| v.metadata.name.clone().unwrap_or_default();
    volumes.add_named_event_handler(
        "pv-protection-controller",
        ResourceEventHandlerFuncs::new()
            .on_add(move |v: &Arc<PersistentVolume>, _| qa.add(key(v)))
            .on_update(move |_, v: &Arc<PersistentVolume>| qu.add(key(v))),
    );
    let controller =
        PvProtection { client: ctx.client("kube-controller-manager"), decisions: ctx.decisions.clone(), volumes: volumes.lister(), queue };
    ctx.spawn_workers(Arc::new(controller), 1);
    Ok(())
}

/// `isBeingUsed`: a bound volume is in use.
pub fn is_being_used(volume: &PersistentVolume) -> bool {
    volume.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound")
}

impl super::Reconciler for PvProtection {
    fn queue(&self) -> &RateLimitingQueue<String> {
        &self.queue
    }

    async fn sync(&self, name: String) -> Result<Option<Duration>, kube::Error> {
        let Some(volume) = self.volumes.get(&name) else { return Ok(None) };
        let finalizers: Vec<String> = volume.metadata.finalizers.clone().unwrap_or_default();
        let has = finalizers.iter().any(|f| f == PV_PROTECTION_FINALIZER);
        let deleting = volume.metadata.deletion_timestamp.is_some();
        let next: Vec<String> = match (deleting, has) {
            (true, true) if !is_being_used(&volume) => finalizers.into_iter().filter(|f| f != PV_PROTECTION_FINALIZER).collect(),
            (false, false) => finalizers.into_iter().chain([PV_PROTECTION_FINALIZER.to_string()]).collect(),
            _ => return Ok(None),
        };
        let api: Api<PersistentVolume> = Api::all(self.client.clone());
        let patch = serde_json::json!({"metadata": {"finalizers": next, "resourceVersion": volume.metadata.resource_version}});
        match api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => {
                if deleting {
                    self.decisions.say(LOOP, &name, "not bound: removed the protection finalizer");
                }
                Ok(None)
            }
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => Err(self.decisions.sync_failed(LOOP, &name, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bound_volume_is_in_use() {
        for (phase, used) in [("Bound", true), ("Released", false), ("Available", false), ("Failed", false), ("Pending", false)] {
            let v: PersistentVolume =
                serde_json::from_value(serde_json::json!({"metadata": {"name": "v"}, "status": {"phase": phase}})).unwrap();
            assert_eq!(is_being_used(&v), used, "{phase}");
        }
    }
}
