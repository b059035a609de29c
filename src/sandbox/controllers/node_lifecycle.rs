//! The node lifecycle controller's NoSchedule pass (`pkg/controller/nodelifecycle`,
//! `doNoScheduleTaintingPass`): a node's conditions become NoSchedule taints
//! (`node.kubernetes.io/not-ready` while Ready is False, `unreachable` while Unknown, one
//! per pressure condition that is True, `unschedulable` when cordoned), and the taints go
//! once the conditions clear. Admission taints every new node not-ready; this pass is what
//! lifts it when the node's kubelet reports Ready, so the scheduler may use the node.
//!
//! Only that pass is ported: nothing here marks silent nodes Unknown or evicts pods.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, NodeCondition, Taint};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::machinery::lister::Lister;
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::shared_informer::ResourceEventHandlerFuncs;

const WHO: &str = "nodelifecycle";
const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

/// `nodeConditionToTaintKeyStatusMap`: (condition, status) → taint key.
const CONDITION_TAINTS: &[(&str, &str, &str)] = &[
    ("Ready", "False", "node.kubernetes.io/not-ready"),
    ("Ready", "Unknown", "node.kubernetes.io/unreachable"),
    ("MemoryPressure", "True", "node.kubernetes.io/memory-pressure"),
    ("DiskPressure", "True", "node.kubernetes.io/disk-pressure"),
    ("NetworkUnavailable", "True", "node.kubernetes.io/network-unavailable"),
    ("PIDPressure", "True", "node.kubernetes.io/pid-pressure"),
];

/// Whether this pass owns `t` (a NoSchedule taint of a condition, or unschedulable).
fn owned(t: &Taint) -> bool {
    t.effect == "NoSchedule" && (t.key == UNSCHEDULABLE || CONDITION_TAINTS.iter().any(|(.., k)| *k == t.key))
}

/// The node's taints after the pass, or `None` when they are already right. Added taints
/// get `timeAdded` = `now` (`SwapNodeControllerTaint`); others are kept as they are.
pub fn no_schedule_taints(node: &Node, now: k8s_openapi::jiff::Timestamp) -> Option<Vec<Taint>> {
    let conditions: &[NodeCondition] = node.status.as_ref().and_then(|s| s.conditions.as_deref()).unwrap_or_default();
    let mut wanted: Vec<&str> = CONDITION_TAINTS
        .iter()
        .filter(|(kind, status, _)| conditions.iter().any(|c| c.type_ == *kind && c.status == *status))
        .map(|(.., key)| *key)
        .collect();
    if node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false) {
        wanted.push(UNSCHEDULABLE);
    }
    let current: Vec<Taint> = node.spec.as_ref().and_then(|s| s.taints.clone()).unwrap_or_default();
    let has = |key: &str| current.iter().any(|t| owned(t) && t.key == key);
    let to_add: Vec<&str> = wanted.iter().copied().filter(|k| !has(k)).collect();
    let stale = current.iter().any(|t| owned(t) && !wanted.contains(&t.key.as_str()));
    if to_add.is_empty() && !stale {
        return None;
    }
    let mut taints: Vec<Taint> = current.into_iter().filter(|t| !owned(t) || wanted.contains(&t.key.as_str())).collect();
    taints.extend(to_add.into_iter().map(|key| Taint {
        key: key.to_string(),
        effect: "NoSchedule".into(),
        time_added: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now)),
        value: None,
    }));
    Some(taints)
}

pub struct NodeLifecycle {
    client: kube::Client,
    decisions: super::Decisions,
    nodes: Lister<Node>,
    queue: RateLimitingQueue<String>,
}

pub fn start(ctx: &super::Context) -> Result<(), super::StartError> {
    let queue = RateLimitingQueue::with_default_rate_limiter();
    let nodes = ctx.factory.informer_for::<Node>()?;
    let (q1, q2) = (queue.clone(), queue.clone());
    nodes.add_named_event_handler(
        "node-lifecycle-controller",
        ResourceEventHandlerFuncs::new()
            .on_add(move |n: &Arc<Node>, _| q1.add(n.metadata.name.clone().unwrap_or_default()))
            .on_update(move |_, n: &Arc<Node>| q2.add(n.metadata.name.clone().unwrap_or_default())),
    );
    let c = NodeLifecycle { client: ctx.client("kube-controller-manager"), decisions: ctx.decisions.clone(), nodes: nodes.lister(), queue };
    ctx.spawn_workers(Arc::new(c), 1);
    Ok(())
}

impl super::Reconciler for NodeLifecycle {
    fn queue(&self) -> &RateLimitingQueue<String> {
        &self.queue
    }

    async fn sync(&self, name: String) -> Result<Option<Duration>, kube::Error> {
        let Some(node) = self.nodes.get(&name) else { return Ok(None) };
        let Some(taints) = no_schedule_taints(&node, k8s_openapi::jiff::Timestamp::now()) else { return Ok(None) };
        let keys: Vec<&str> = taints.iter().map(|t| t.key.as_str()).collect();
        let api: Api<Node> = Api::all(self.client.clone());
        // The resourceVersion makes this a compare-and-swap, as `SwapNodeControllerTaint`'s update.
        let patch = json!({"metadata": {"resourceVersion": node.metadata.resource_version}, "spec": {"taints": taints}});
        match api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => {
                self.decisions.say(WHO, &name, &format!("NoSchedule taints now {keys:?}"));
                Ok(None)
            }
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(conditions: &[(&str, &str)], taints: &[(&str, &str)], unschedulable: bool) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": "n"},
            "spec": {"unschedulable": unschedulable, "taints": taints.iter().map(|(k, e)| json!({"key": k, "effect": e})).collect::<Vec<_>>()},
            "status": {"conditions": conditions.iter().map(|(t, s)| json!({"type": t, "status": s})).collect::<Vec<_>>()},
        }))
        .unwrap()
    }

    #[test]
    fn conditions_become_no_schedule_taints() {
        let now = k8s_openapi::jiff::Timestamp::now();
        let keys = |t: Option<Vec<Taint>>| t.map(|t| t.into_iter().map(|t| t.key).collect::<Vec<_>>());
        let nr = "node.kubernetes.io/not-ready";
        let cases: Vec<(Node, Option<Vec<&str>>)> = vec![
            // A Ready node loses admission's not-ready taint; others stay.
            (node(&[("Ready", "True")], &[(nr, "NoSchedule"), ("dedicated", "NoSchedule")], false), Some(vec!["dedicated"])),
            (node(&[("Ready", "True")], &[], false), None),
            (node(&[("Ready", "False")], &[(nr, "NoSchedule")], false), None),
            (node(&[("Ready", "Unknown")], &[(nr, "NoSchedule")], false), Some(vec!["node.kubernetes.io/unreachable"])),
            (node(&[("Ready", "True"), ("DiskPressure", "True")], &[], false), Some(vec!["node.kubernetes.io/disk-pressure"])),
            (node(&[("Ready", "True")], &[], true), Some(vec![UNSCHEDULABLE])),
            // A NoExecute taint of the same key is not this pass's.
            (node(&[("Ready", "True")], &[(nr, "NoExecute")], false), None),
        ];
        for (n, want) in cases {
            let want = want.map(|w| w.into_iter().map(String::from).collect::<Vec<_>>());
            assert_eq!(keys(no_schedule_taints(&n, now)), want, "{:?}", n.spec);
        }
        let added = no_schedule_taints(&node(&[("Ready", "False")], &[], false), now).unwrap();
        assert_eq!(added[0].time_added.as_ref().map(|t| t.0), Some(now));
    }
}
