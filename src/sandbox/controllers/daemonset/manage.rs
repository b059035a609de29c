//! `podsShouldBeOnNode` and `updateDaemonSetStatus` (`daemon_controller.go`): per node,
//! whether it needs a daemon pod, which of its pods must go, and what the status counts.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;

use super::placement::{node_should_run, template_generation, TEMPLATE_GENERATION_LABEL};
use crate::sandbox::controllers::active_pods::{is_available, is_ready};
use crate::sandbox::controllers::history::CONTROLLER_REVISION_HASH;

/// `FailedDaemonPodReason`.
pub const FAILED_DAEMON_POD: &str = "FailedDaemonPod";
/// `SucceededDaemonPodReason`.
pub const SUCCEEDED_DAEMON_POD: &str = "SucceededDaemonPod";

/// The set's pods by the node they are on or pinned to.
pub type NodePods = BTreeMap<String, Vec<Arc<Pod>>>;

fn phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

fn bound(pod: &Pod) -> bool {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some_and(|n| !n.is_empty())
}

/// `podByCreationTimestampAndPhase`: bound pods first, then the oldest, then by name.
pub fn by_creation(a: &Arc<Pod>, b: &Arc<Pod>) -> Ordering {
    bound(b)
        .cmp(&bound(a))
        .then_with(|| a.metadata.creation_timestamp.as_ref().map(|t| t.0).cmp(&b.metadata.creation_timestamp.as_ref().map(|t| t.0)))
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// `IsPodUpdated`: the pod carries the current hash or template generation.
pub fn is_updated(pod: &Pod, ds: &DaemonSet, hash: &str) -> bool {
    let labels = pod.metadata.labels.as_ref();
    let generation = template_generation(ds).map(|g| g.to_string());
    let template_matches = generation.is_some() && labels.and_then(|l| l.get(TEMPLATE_GENERATION_LABEL)) == generation.as_ref();
    let hash_matches = !hash.is_empty() && labels.and_then(|l| l.get(CONTROLLER_REVISION_HASH)).map(String::as_str) == Some(hash);
    hash_matches || template_matches
}

/// `AllowsSurge`: a RollingUpdate with a non-zero maxSurge.
pub fn allows_surge(ds: &DaemonSet) -> bool {
    let ru = ds
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .filter(|u| u.type_.as_deref().unwrap_or("RollingUpdate") == "RollingUpdate");
    let surge = ru.and_then(|u| u.rolling_update.as_ref()).and_then(|r| r.max_surge.as_ref());
    surge.is_some_and(|s| crate::sandbox::controllers::deployment::replicas::scaled_value(s, 1, true) != 0)
}

/// What one node asks of a sync.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct NodePlan {
    pub needs_pod: bool,
    pub delete: Vec<String>,
    /// Warning or Normal Events to record: (warning, reason, message).
    pub events: Vec<(bool, &'static str, String)>,
}

/// `podsShouldBeOnNode`.
pub fn pods_should_be_on_node(node: &Node, pods: Option<&Vec<Arc<Pod>>>, ds: &DaemonSet, hash: &str, now: Timestamp) -> NodePlan {
    let placement = node_should_run(node, ds);
    let name = node.metadata.name.as_deref().unwrap_or_default();
    let ns = ds.metadata.namespace.as_deref().unwrap_or_default();
    let mut plan = NodePlan::default();
    match pods {
        None if placement.should_run => plan.needs_pod = true,
        Some(pods) if placement.should_continue_running => {
            let mut running = Vec::new();
            for pod in pods.iter().filter(|p| p.metadata.deletion_timestamp.is_none()) {
                let pod_name = pod.metadata.name.clone().unwrap_or_default();
                match phase(pod) {
                    "Failed" => {
                        let msg = format!("Found failed daemon pod {ns}/{pod_name} on node {name}, will try to kill it");
                        plan.events.push((true, FAILED_DAEMON_POD, msg));
                        plan.delete.push(pod_name);
                    }
                    "Succeeded" => {
                        let msg = format!("Found succeeded daemon pod {ns}/{pod_name} on node {name}, will try to delete it");
                        plan.events.push((false, SUCCEEDED_DAEMON_POD, msg));
                        plan.delete.push(pod_name);
                    }
                    _ => running.push(pod.clone()),
                }
            }
            running.sort_by(by_creation);
            if !allows_surge(ds) {
                // One daemon pod per node: the oldest stays.
                plan.delete.extend(running.iter().skip(1).filter_map(|p| p.metadata.name.clone()));
                if running.is_empty() && placement.should_run {
                    plan.needs_pod = true;
                }
                return plan;
            }
            if running.len() <= 1 {
                plan.needs_pod = running.is_empty() && placement.should_run;
                return plan;
            }
            // Surging: keep the oldest new and the oldest old pod; the old one goes once
            // the new is available (or at once if it is not ready itself).
            let (mut oldest_new, mut oldest_old) = (None, None);
            for pod in &running {
                let slot = if is_updated(pod, ds, hash) { &mut oldest_new } else { &mut oldest_old };
                if slot.is_none() {
                    *slot = Some(pod.clone());
                } else {
                    plan.delete.push(pod.metadata.name.clone().unwrap_or_default());
                }
            }
            if let (Some(new), Some(old)) = (oldest_new, oldest_old) {
                let min_ready = ds.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0);
                if !is_ready(&old) || is_available(&new, min_ready, now) {
                    plan.delete.push(old.metadata.name.clone().unwrap_or_default());
                }
            }
        }
        Some(pods) => {
            plan.delete.extend(pods.iter().filter(|p| p.metadata.deletion_timestamp.is_none()).filter_map(|p| p.metadata.name.clone()))
        }
        None => {}
    }
    plan
}

/// `updateDaemonSetStatus`'s counts (observedGeneration and collisionCount are the caller's).
pub fn status(ds: &DaemonSet, nodes: &[Arc<Node>], node_pods: &NodePods, hash: &str, now: Timestamp) -> DaemonSetStatus {
    let min_ready = ds.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0);
    let mut st = DaemonSetStatus::default();
    let (mut ready, mut available, mut updated) = (0, 0, 0);
    for node in nodes {
        let pods = node_pods.get(node.metadata.name.as_deref().unwrap_or_default()).filter(|p| !p.is_empty());
        if !node_should_run(node, ds).should_run {
            st.number_misscheduled += i32::from(pods.is_some());
            continue;
        }
        st.desired_number_scheduled += 1;
        let Some(pods) = pods else { continue };
        st.current_number_scheduled += 1;
        let mut pods = pods.clone();
        pods.sort_by(by_creation);
        let pod = &pods[0];
        if is_ready(pod) {
            ready += 1;
            available += i32::from(is_available(pod, min_ready, now));
        }
        updated += i32::from(is_updated(pod, ds, hash));
    }
    st.number_ready = ready;
    st.number_available = Some(available);
    st.updated_number_scheduled = Some(updated);
    st.number_unavailable = Some(st.desired_number_scheduled - available);
    st
}
