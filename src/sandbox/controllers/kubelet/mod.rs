//! The simulated kubelets (`pkg/kubelet`): one per Node, each an ordinary client of the
//! apiserver writing as `kubelet` with its node as the events' host.
//!
//! A kubelet heartbeats its node ([`node_status`]) and runs the pods bound to it
//! (`spec.nodeName`) on a simulated container runtime: a sandbox with an IP from the
//! node's podCIDR ([`ip_allocator`]), image pulls ([`image`]), containers that start
//! and say in their log what they would run ([`container_log`]), and the status the
//! kubelet's status manager writes ([`pod_status`]). A deleted pod is stopped and, once
//! its containers are down, deleted for good with a uid precondition ([`pod_sync`]).
//!
//! All kubelets share one loop and one informer per kind (the sandbox's nodes are
//! simulated side by side); everything per node (IP pool, event recorder, image cache)
//! is kept by node name.

pub mod container_log;
pub mod image;
pub mod ip_allocator;
pub mod node_status;
pub mod pod_status;
mod pod_sync;
pub mod runtime;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};

use crate::machinery::delta_fifo::DeltaObject;
use crate::machinery::lister::Lister;
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::shared_informer::ResourceEventHandlerFuncs;
use crate::machinery::stop::StopSignal;

use super::{Decisions, EventRecorder};
use ip_allocator::IpAllocator;
use runtime::PodRuntime;

/// The loop's name in the decision log.
const WHO: &str = "kubelet";

/// What the kubelets keep per node.
#[derive(Default)]
struct NodeState {
    allocator: Option<IpAllocator>,
    recorder: Option<EventRecorder>,
    /// Images already on the node (for `IfNotPresent`).
    images: HashSet<String>,
}

pub struct Kubelets {
    client: kube::Client,
    decisions: Decisions,
    data_dir: PathBuf,
    pods: Lister<Pod>,
    nodes: Lister<Node>,
    queue: RateLimitingQueue<String>,
    /// The runtime's pods, by `namespace/name`.
    runtimes: Mutex<HashMap<String, PodRuntime>>,
    per_node: Mutex<HashMap<String, NodeState>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn pod_key(pod: &Pod) -> String {
    format!("{}/{}", pod.metadata.namespace.as_deref().unwrap_or_default(), pod.metadata.name.as_deref().unwrap_or_default())
}

fn bound(pod: &Pod) -> bool {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some_and(|n| !n.is_empty())
}

pub fn start(ctx: &super::Context) -> Result<(), super::StartError> {
    let queue = RateLimitingQueue::with_default_rate_limiter();
    let pods = ctx.factory.informer_for::<Pod>()?;
    let nodes = ctx.factory.informer_for::<Node>()?;
    let (q1, q2, q3) = (queue.clone(), queue.clone(), queue.clone());
    pods.add_named_event_handler(
        WHO,
        ResourceEventHandlerFuncs::new()
            .on_add(move |p: &Arc<Pod>, _| {
                if bound(p) {
                    q1.add(pod_key(p));
                }
            })
            .on_update(move |_, p: &Arc<Pod>| {
                if bound(p) {
                    q2.add(pod_key(p));
                }
            })
            .on_delete(move |p: &DeltaObject<Pod>| {
                let (DeltaObject::Object(p) | DeltaObject::DeletedFinalStateUnknown { obj: p, .. }) = p;
                q3.add(pod_key(p));
            }),
    );
    let client = ctx.client("kubelet");
    let kubelets = Arc::new(Kubelets {
        client: client.clone(),
        decisions: ctx.decisions.clone(),
        data_dir: ctx.data_dir.clone(),
        pods: pods.lister(),
        nodes: nodes.lister(),
        queue,
        runtimes: Mutex::new(HashMap::new()),
        per_node: Mutex::new(HashMap::new()),
    });
    let heartbeating: Arc<Mutex<HashSet<String>>> = Arc::default();
    let (k, stop, q4) = (kubelets.clone(), ctx.stop.clone(), kubelets.queue.clone());
    let pod_lister = pods.lister();
    nodes.add_named_event_handler(
        WHO,
        ResourceEventHandlerFuncs::new().on_add(move |n: &Arc<Node>, _| {
            let name = n.metadata.name.clone().unwrap_or_default();
            if lock(&heartbeating).insert(name.clone()) {
                tokio::spawn(heartbeat(k.clone(), name.clone(), heartbeating.clone(), stop.clone()));
            }
            // Pods bound before their node's kubelet came up are its to run now.
            for p in pod_lister.list_matching(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(name.as_str())) {
                q4.add(pod_key(&p));
            }
        }),
    );
    ctx.spawn_workers(kubelets, 2);
    Ok(())
}

/// One node's heartbeat loop, until the node goes or the sandbox stops.
async fn heartbeat(k: Arc<Kubelets>, node: String, heartbeating: Arc<Mutex<HashSet<String>>>, stop: StopSignal) {
    let mut failing = false;
    loop {
        let Some(n) = k.nodes.get(&node) else { break };
        match node_status::beat(&k.client, &n, node_status::images(&k.images_on(&node))).await {
            Ok(()) if failing => {
                failing = false;
                k.decisions.say(WHO, &node, "node status and lease updated again");
            }
            Ok(()) => {}
            Err(e) if !failing => {
                failing = true;
                k.decisions.say(WHO, &node, &format!("heartbeat failed: {e}"));
            }
            Err(_) => {}
        }
        tokio::select! {
            _ = stop.stopped() => break,
            _ = tokio::time::sleep(node_status::HEARTBEAT) => {}
        }
    }
    lock(&heartbeating).remove(&node);
}

impl Kubelets {
    /// The event recorder of `node`'s kubelet (source host = the node).
    fn recorder(&self, node: &str) -> EventRecorder {
        let mut m = lock(&self.per_node);
        let s = m.entry(node.to_string()).or_default();
        s.recorder.get_or_insert_with(|| EventRecorder::new(self.client.clone(), WHO, Some(node))).clone()
    }

    /// Runs `f` on `node`'s IP pool, made from `cidr` the first time.
    fn with_allocator<T>(&self, node: &str, cidr: Option<&str>, f: impl FnOnce(&mut IpAllocator) -> T) -> Option<T> {
        let mut m = lock(&self.per_node);
        let s = m.entry(node.to_string()).or_default();
        if s.allocator.is_none() {
            s.allocator = cidr.and_then(|c| IpAllocator::new(c).ok());
        }
        s.allocator.as_mut().map(f)
    }

    /// Whether `image` is already on `node`.
    fn image_present(&self, node: &str, image: &str) -> bool {
        lock(&self.per_node).get(node).is_some_and(|s| s.images.contains(image))
    }

    /// The images pulled onto `node`.
    fn images_on(&self, node: &str) -> Vec<image::Pulled> {
        let names: Vec<String> = lock(&self.per_node).get(node).map(|s| s.images.iter().cloned().collect()).unwrap_or_default();
        names.iter().filter_map(|n| image::pull(n).ok()).collect()
    }

    /// Records that `image` was pulled onto `node`.
    fn remember_image(&self, node: &str, image: &str) {
        lock(&self.per_node).entry(node.to_string()).or_default().images.insert(image.to_string());
    }
}

impl super::Reconciler for Kubelets {
    fn queue(&self) -> &RateLimitingQueue<String> {
        &self.queue
    }

    async fn sync(&self, key: String) -> Result<Option<Duration>, kube::Error> {
        self.sync_pod(&key).await
    }
}
