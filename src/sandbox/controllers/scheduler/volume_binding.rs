//! The VolumeBinding plugin's PreFilter (`framework/plugins/volumebinding`), for the
//! claims the sandbox binds: a pod waits while a claim it names is missing, lost, being
//! deleted, or unbound in a class that binds immediately (the PV binder binds those; a
//! pod cannot pick their volume). Such a pod fits no node at all, so the FitError carries
//! the PreFilter's message instead of a per-node histogram. Claims changing move the
//! unschedulable pods back to the queue, as the plugin's `EventsToRegister` ask.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;

use super::filters::{Code, Status};
use super::fit_error::NO_NODES_AVAILABLE;
use super::node_info::NodeInfo;
use super::preemption::{self, Preemption};
use super::queue::Unschedulable;
use crate::machinery::lister::Lister;
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::shared_informer::ResourceEventHandlerFuncs;
use crate::sandbox::controllers::persistentvolume::matching::claim_class;
use crate::sandbox::controllers::persistentvolume::ANN_BIND_COMPLETED;

const PLUGIN: &str = "VolumeBinding";
/// `ErrReasonBindConflict`'s sibling for immediate claims.
pub const UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";

pub struct VolumeBinding {
    claims: Lister<PersistentVolumeClaim>,
    classes: Lister<StorageClass>,
}

impl VolumeBinding {
    /// The plugin over the shared claim and class informers; a claim added or changed
    /// (bound, typically) retries the unschedulable pods.
    pub fn new(
        ctx: &crate::sandbox::controllers::Context,
        queue: &RateLimitingQueue<String>,
        unschedulable: &Arc<Unschedulable>,
    ) -> Result<Self, crate::sandbox::controllers::StartError> {
        let claims = ctx.factory.informer_for::<PersistentVolumeClaim>()?;
        let classes = ctx.factory.informer_for::<StorageClass>()?;
        let (qa, qu, ua, uu) = (queue.clone(), queue.clone(), unschedulable.clone(), unschedulable.clone());
        claims.add_named_event_handler(
            super::SCHEDULER_NAME,
            ResourceEventHandlerFuncs::new()
                .on_add(move |_: &Arc<PersistentVolumeClaim>, _| ua.move_all(&qa))
                .on_update(move |_, _: &Arc<PersistentVolumeClaim>| uu.move_all(&qu)),
        );
        Ok(VolumeBinding { claims: claims.lister(), classes: classes.lister() })
    }

    fn reject(reason: String) -> Option<Status> {
        Some(Status { code: Code::UnschedulableAndUnresolvable, reasons: vec![reason], plugin: PLUGIN })
    }

    /// `PreFilter` (`podHasPVCs`, then `GetPodVolumeClaims`): `None` when the pod's claims
    /// let it go on to the filters.
    pub fn pre_filter(&self, pod: &Pod) -> Option<Status> {
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
        let mut unbound_immediate = false;
        for v in pod.spec.as_ref().and_then(|s| s.volumes.as_ref()).into_iter().flatten() {
            let (name, ephemeral) = match (&v.persistent_volume_claim, &v.ephemeral) {
                (Some(c), _) => (c.claim_name.clone(), false),
                (None, Some(_)) => (format!("{pod_name}-{}", v.name), true),
                _ => continue,
            };
            let Some(claim) = self.claims.get(&format!("{ns}/{name}")) else {
                return Self::reject(if ephemeral {
                    format!("waiting for ephemeral volume controller to create the persistentvolumeclaim {name:?}")
                } else {
                    format!("persistentvolumeclaim {name:?} not found")
                });
            };
            let volume_name = claim.spec.as_ref().and_then(|s| s.volume_name.as_deref()).unwrap_or_default();
            if claim.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Lost") {
                return Self::reject(format!("persistentvolumeclaim {name:?} bound to non-existent persistentvolume {volume_name:?}"));
            }
            if claim.metadata.deletion_timestamp.is_some() {
                return Self::reject(format!("persistentvolumeclaim {name:?} is being deleted"));
            }
            let bound = !volume_name.is_empty() && claim.metadata.annotations.as_ref().is_some_and(|a| a.contains_key(ANN_BIND_COMPLETED));
            if !bound && !self.delay_binding(&claim) {
                unbound_immediate = true;
            }
        }
        if unbound_immediate {
            return Self::reject(UNBOUND_IMMEDIATE.into());
        }
        None
    }

    /// `IsDelayBindingMode`.
    fn delay_binding(&self, claim: &PersistentVolumeClaim) -> bool {
        let class = claim_class(claim);
        !class.is_empty() && self.classes.get(&class).is_some_and(|c| c.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer"))
    }

    /// The scheduling cycle's verdict when PreFilter rejects the pod: every node gets the
    /// rejection, preemption has its say, and `FitError.Error()` prints the PreFilter's
    /// message in place of the histogram.
    pub fn rejected(&self, pod: &Pod, infos: &[Arc<NodeInfo>]) -> Option<String> {
        let status = self.pre_filter(pod)?;
        if infos.is_empty() {
            return Some(NO_NODES_AVAILABLE.into());
        }
        let statuses: Vec<(String, Status)> = infos.iter().map(|n| (n.name().to_string(), status.clone())).collect();
        let post = match preemption::preempt(pod, infos, &statuses) {
            Preemption::Failed(msg) => msg,
            // An unresolvable rejection has no victims to find.
            Preemption::Candidate { .. } => String::new(),
        };
        Some(fit_message(infos.len(), &status.reasons.join(", "), &post))
    }
}

/// `FitError.Error()` with a PreFilter message.
pub fn fit_message(nodes: usize, pre_filter_msg: &str, post_filter_msg: &str) -> String {
    let mut msg = format!("0/{nodes} nodes are available: {pre_filter_msg}.");
    if !post_filter_msg.is_empty() {
        msg.push(' ');
        msg.push_str(post_filter_msg);
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pre_filter_message_replaces_the_histogram() {
        assert_eq!(
            fit_message(2, UNBOUND_IMMEDIATE, "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."),
            "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
        );
    }
}
