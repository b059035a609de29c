//! DefaultPreemption, the PostFilter that runs when no node fits
//! (`framework/preemption`, `plugins/defaultpreemption`): on the nodes where removing pods
//! could help, it looks for lower-priority victims whose eviction makes the pod fit. Its
//! message is the tail of the FitError (`preemption: 0/2 nodes are available: ...`).

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

use super::filters::{self, Code, Status};
use super::fit_error::FitError;
use super::node_info::NodeInfo;

const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
const NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// What preemption decided.
#[derive(Debug)]
pub enum Preemption {
    /// No candidate: the PostFilter message (`preemption: ...`).
    Failed(String),
    /// Evicting `victims` from `node` makes room: the pod is nominated there.
    Candidate { node: String, victims: Vec<Arc<Pod>> },
}

fn priority(p: &Pod) -> i32 {
    p.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
}

fn status(reason: &str) -> Status {
    Status { code: Code::UnschedulableAndUnresolvable, reasons: vec![reason.into()], plugin: "DefaultPreemption" }
}

/// The node as it would be with only `keep` of its pods.
fn without(node: &NodeInfo, keep: &[Arc<Pod>]) -> NodeInfo {
    let mut n = NodeInfo::new(node.node.clone());
    for p in keep {
        n.add_pod(p.clone());
    }
    n
}

/// `SelectVictimsOnNode`: every lower-priority pod is a potential victim; if the pod fits
/// without them all, as many as possible are reprieved, the most important first.
fn victims_on(pod: &Pod, node: &NodeInfo) -> Result<Vec<Arc<Pod>>, Status> {
    let (mut potential, mut keep): (Vec<Arc<Pod>>, Vec<Arc<Pod>>) = node.pods.iter().cloned().partition(|p| priority(p) < priority(pod));
    if potential.is_empty() {
        return Err(status(NO_VICTIMS));
    }
    if let Some(s) = filters::run(pod, &without(node, &keep)) {
        return Err(s);
    }
    potential.sort_by_key(|p| std::cmp::Reverse(priority(p)));
    let mut victims = Vec::new();
    for p in potential {
        keep.push(p.clone());
        if filters::run(pod, &without(node, &keep)).is_some() {
            keep.pop();
            victims.push(p);
        }
    }
    Ok(victims)
}

/// `podTerminatingByPreemption`: a victim of an earlier preemption still going away.
fn terminating_by_preemption(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_some()
        && p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .any(|c| c.type_ == "DisruptionTarget" && c.status == "True" && c.reason.as_deref() == Some("PreemptionByScheduler"))
}

/// `PodEligibleToPreemptOthers`' wait: a pod whose nominated node still has a
/// lower-priority victim terminating does not preempt again.
fn terminating_victim_on_nominated_node(pod: &Pod, nodes: &[Arc<NodeInfo>], statuses: &[(String, Status)]) -> Option<&'static str> {
    let nominated = pod.status.as_ref().and_then(|s| s.nominated_node_name.as_deref()).filter(|n| !n.is_empty())?;
    let unresolvable = statuses.iter().any(|(n, s)| n == nominated && s.code == Code::UnschedulableAndUnresolvable);
    if unresolvable {
        return None;
    }
    let node = nodes.iter().find(|n| n.name() == nominated)?;
    node.pods
        .iter()
        .any(|p| priority(p) < priority(pod) && terminating_by_preemption(p))
        .then_some("not eligible due to a terminating pod on the nominated node.")
}

/// `Evaluator.Preempt` over the nodes and the filters' verdicts on them.
pub fn preempt(pod: &Pod, nodes: &[Arc<NodeInfo>], statuses: &[(String, Status)]) -> Preemption {
    let never = pod.spec.as_ref().and_then(|s| s.preemption_policy.as_deref()) == Some("Never");
    if never {
        return Preemption::Failed("preemption: not eligible due to preemptionPolicy=Never.".into());
    }
    if let Some(msg) = terminating_victim_on_nominated_node(pod, nodes, statuses) {
        return Preemption::Failed(format!("preemption: {msg}"));
    }
    let potential = nodes.iter().filter(|n| statuses.iter().any(|(name, s)| name == n.name() && s.code == Code::Unschedulable));
    let mut tried = Vec::new();
    let mut candidates = Vec::new();
    for n in potential {
        match victims_on(pod, n) {
            Ok(v) => candidates.push((n.name().to_string(), v)),
            Err(s) => tried.push((n.name().to_string(), s)),
        }
    }
    // `pickOneNodeForPreemption`, shortened: the lowest highest-priority victim, then the
    // fewest victims.
    let best = candidates.into_iter().min_by_key(|(_, v)| (v.iter().map(|p| priority(p)).max().unwrap_or(i32::MIN), v.len()));
    match best {
        Some((node, victims)) => Preemption::Candidate { node, victims },
        None => {
            let e = FitError {
                num_all_nodes: nodes.len(),
                node_to_status: tried,
                absent: Some(status(NOT_HELPFUL)),
                post_filter_msg: String::new(),
            };
            Preemption::Failed(format!("preemption: {e}"))
        }
    }
}
