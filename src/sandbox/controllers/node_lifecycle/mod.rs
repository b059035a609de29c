//! The node lifecycle controller (`pkg/controller/nodelifecycle`): conditions become taints,
//! and a node whose kubelet goes silent becomes `Unknown`.
//!
//! Two halves, as upstream: a queue of nodes whose taints are brought in line with their
//! conditions on every change ([`taints`]), and a monitor that looks at every node each
//! [`health::MONITOR_PERIOD`] for a kubelet that stopped posting status and renewing its
//! Lease ([`health`]). Not ported: zone disruption states and the rate-limited eviction
//! queues (the taint-eviction controller that acts on `NoExecute` taints is not run).

pub mod health;
pub mod taints;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::recorder::{reference, EventRecorder, EventType};
use crate::machinery::delta_fifo::DeltaObject;
use crate::machinery::lister::Lister;
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::shared_informer::ResourceEventHandlerFuncs;

const WHO: &str = "nodelifecycle";
const LEASE_NAMESPACE: &str = "kube-node-lease";

pub struct NodeLifecycle {
    client: kube::Client,
    nodes: Lister<Node>,
    leases: Lister<Lease>,
    queue: RateLimitingQueue<String>,
    health: Mutex<health::Health>,
    recorder: EventRecorder,
    decisions: super::Decisions,
}

fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

pub fn start(ctx: &super::Context) -> Result<(), super::StartError> {
    let queue = RateLimitingQueue::with_default_rate_limiter();
    let nodes = ctx.factory.informer_for::<Node>()?;
    let leases = ctx.factory.informer_for::<Lease>()?;
    let (q_add, q_update) = (queue.clone(), queue.clone());
    let name = |n: &Node| n.metadata.name.clone().unwrap_or_default();
    let controller = Arc::new(NodeLifecycle {
        client: ctx.client("kube-controller-manager"),
        nodes: nodes.lister(),
        leases: leases.lister(),
        queue,
        health: Mutex::new(health::Health::default()),
        recorder: ctx.recorder("node-controller", None),
        decisions: ctx.decisions.clone(),
    });
    let forget = controller.clone();
    nodes.add_named_event_handler(
        "node-lifecycle-controller",
        ResourceEventHandlerFuncs::new()
            .on_add(move |n: &Arc<Node>, _| q_add.add(name(n)))
            .on_update(move |_, n: &Arc<Node>| q_update.add(name(n)))
            .on_delete(move |n: &DeltaObject<Node>| forget.health().forget(&name(n.object()))),
    );
    ctx.spawn_workers(controller.clone(), 1);
    let stop = ctx.stop.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(health::MONITOR_PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.stopped() => return,
                _ = tick.tick() => controller.monitor_node_health().await,
            }
        }
    });
    Ok(())
}

impl NodeLifecycle {
    fn health(&self) -> std::sync::MutexGuard<'_, health::Health> {
        self.health.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One pass of `monitorNodeHealth`: every overdue node's kubelet conditions go Unknown.
    async fn monitor_node_health(&self) {
        let at = Instant::now();
        for node in self.nodes.list() {
            let name = node.metadata.name.clone().unwrap_or_default();
            let renewed = self
                .leases
                .get(&format!("{LEASE_NAMESPACE}/{name}"))
                .and_then(|l| l.spec.as_ref()?.renew_time.as_ref().map(|t| t.0.to_string()));
            if !self.health().overdue(&node, renewed, at) {
                continue;
            }
            let Some(conditions) = health::unknown_conditions(&node, &now()) else { continue };
            let was_ready = node
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            let patch = json!({
                "metadata": {"resourceVersion": node.metadata.resource_version},
                "status": {"conditions": conditions},
            });
            let api: Api<Node> = Api::all(self.client.clone());
            if api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch)).await.is_err() {
                // A conflict or a vanished node: the next pass looks again.
                continue;
            }
            self.decisions.say(WHO, &name, "kubelet stopped posting node status: Ready is Unknown");
            if was_ready {
                // `RecordNodeStatusChange`.
                let message = format!("Node {name} status is now: NodeNotReady");
                self.recorder.event(&reference(node.as_ref()), EventType::Normal, "NodeNotReady", message);
            }
        }
    }
}

impl super::Reconciler for NodeLifecycle {
    fn queue(&self) -> &RateLimitingQueue<String> {
        &self.queue
    }

    /// `doNoScheduleTaintingPass` (and the NoExecute taints), one node.
    async fn sync(&self, name: String) -> Result<Option<Duration>, kube::Error> {
        let Some(node) = self.nodes.get(&name) else { return Ok(None) };
        let Some(taints) = taints::reconciled(&node, &now()) else { return Ok(None) };
        // `SwapNodeControllerTaint`, guarded by the resourceVersion it was computed from.
        let patch = json!({
            "metadata": {"resourceVersion": node.metadata.resource_version},
            "spec": {"taints": taints},
        });
        let api: Api<Node> = Api::all(self.client.clone());
        match api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => {
                let key = |t: &k8s_openapi::api::core::v1::Taint| format!("{}:{}", t.key, t.effect);
                let before: Vec<String> = node.spec.as_ref().and_then(|s| s.taints.as_ref()).into_iter().flatten().map(key).collect();
                let after: Vec<String> = taints.iter().map(key).collect();
                let added: Vec<&String> = after.iter().filter(|t| !before.contains(t)).collect();
                let lifted: Vec<&String> = before.iter().filter(|t| !after.contains(t)).collect();
                let join = |v: &[&String]| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
                let what = match (added.is_empty(), lifted.is_empty()) {
                    (false, true) => format!("tainted {}", join(&added)),
                    (true, false) => format!("lifted {}", join(&lifted)),
                    _ => format!("tainted {}; lifted {}", join(&added), join(&lifted)),
                };
                self.decisions.say(WHO, &name, &what);
                Ok(None)
            }
            // The cache was behind: the update that caused the conflict enqueues it again.
            Err(kube::Error::Api(s)) if matches!(s.code, 404 | 409) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
