//! kube-scheduler's default profile (`pkg/scheduler`): every pod that names
//! `default-scheduler` (or no scheduler) and no node gets one.
//!
//! One scheduling cycle per pod (`schedule_one.go`), one at a time as upstream: a
//! snapshot of the [`cache`] (the nodes with the pods bound or assumed on them), the
//! Filter plugins ([`filters`]), the Score plugins ([`score`]), then the pod is assumed
//! on the best node. Its binding cycle, a POST of a `Binding` to `pods/<name>/binding`,
//! runs on its own task as upstream's goroutine does, so the next pod's cycle starts
//! without waiting for the API server; a failed binding is forgotten and the pod
//! retried with backoff. When no node fits, the
//! FitError ([`fit_error`]) with DefaultPreemption's verdict ([`preemption`]) becomes the
//! pod's `PodScheduled=False` condition and a FailedScheduling event, and the pod waits in
//! the unschedulable queue ([`queue`]) until the cluster changes.
//!
//! Events go through `events.k8s.io/v1` as kube-scheduler's recorder writes them
//! (reporting controller `default-scheduler`); its writes are managed by `kube-scheduler`.

mod cache;
pub mod filters;
pub mod fit_error;
pub mod node_affinity;
mod node_info;
mod preemption;
mod queue;
mod resources;
mod score;
mod volume_binding;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{json, Value};

use super::events_recorder::EventsRecorder;
use super::recorder::{reference, EventType};
use crate::machinery::delta_fifo::DeltaObject;
use crate::machinery::lister::Lister;
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::shared_informer::{ResourceEventHandlerFuncs, SharedIndexInformer};
use cache::Cache;
use fit_error::{truncate_message, FitError, NO_NODES_AVAILABLE};
use preemption::Preemption;
use queue::{Unschedulable, MAX_IN_UNSCHEDULABLE};

/// `v1.DefaultSchedulerName`: the profile, and the events' reporting controller.
pub const SCHEDULER_NAME: &str = "default-scheduler";
/// The decision log's name for this loop.
const WHO: &str = "scheduler";

pub struct Scheduler {
    pods: SharedIndexInformer<Pod>,
    nodes: SharedIndexInformer<Node>,
    pod_lister: Lister<Pod>,
    queue: RateLimitingQueue<String>,
    cache: Arc<Cache>,
    unschedulable: Arc<Unschedulable>,
    binder: Binder,
    volume_binding: volume_binding::VolumeBinding,
}

/// The binding cycle's share of the scheduler, owned by each binding task.
#[derive(Clone)]
struct Binder {
    client: kube::Client,
    cache: Arc<Cache>,
    queue: RateLimitingQueue<String>,
    recorder: EventsRecorder,
    decisions: super::Decisions,
}

fn key_of(p: &Pod) -> String {
    format!("{}/{}", p.metadata.namespace.as_deref().unwrap_or_default(), p.metadata.name.as_deref().unwrap_or_default())
}

fn node_name(p: &Pod) -> Option<&str> {
    p.spec.as_ref().and_then(|s| s.node_name.as_deref()).filter(|n| !n.is_empty())
}

/// Whether this scheduler places `p`: its profile, no node yet, not being deleted, and
/// no scheduling gates (the SchedulingGates PreEnqueue plugin keeps a gated pod out of
/// the queue; removing the last gate is a spec change, which enqueues it).
fn wants(p: &Pod) -> bool {
    let name = p.spec.as_ref().and_then(|s| s.scheduler_name.as_deref()).unwrap_or_default();
    let gated = p.spec.as_ref().and_then(|s| s.scheduling_gates.as_ref()).is_some_and(|g| !g.is_empty());
    (name.is_empty() || name == SCHEDULER_NAME) && node_name(p).is_none() && p.metadata.deletion_timestamp.is_none() && !gated
}

/// Whether a node changed in a way that could make an unschedulable pod fit (upstream's
/// `NodeSpecUnschedulableChange`, `NodeAllocatableChange`, `NodeLabelChange`,
/// `NodeTaintChange`), as opposed to a heartbeat.
fn node_changed(old: &Node, new: &Node) -> bool {
    old.spec != new.spec
        || old.metadata.labels != new.metadata.labels
        || old.status.as_ref().map(|s| &s.allocatable) != new.status.as_ref().map(|s| &s.allocatable)
}

pub fn start(ctx: &super::Context) -> Result<(), super::StartError> {
    let queue: RateLimitingQueue<String> = RateLimitingQueue::with_default_rate_limiter();
    let pods = ctx.factory.informer_for::<Pod>()?;
    let nodes = ctx.factory.informer_for::<Node>()?;
    let cache = Arc::new(Cache::default());
    let unschedulable = Arc::new(Unschedulable::default());

    let (q_add, q_update, q_delete) = (queue.clone(), queue.clone(), queue.clone());
    let (c_add, c_update, c_delete) = (cache.clone(), cache.clone(), cache.clone());
    let (u_update, u_delete) = (unschedulable.clone(), unschedulable.clone());
    pods.add_named_event_handler(
        SCHEDULER_NAME,
        ResourceEventHandlerFuncs::new()
            .on_add(move |p: &Arc<Pod>, _| {
                c_add.observe(&key_of(p), p);
                if wants(p) {
                    q_add.add(key_of(p));
                }
            })
            .on_update(move |old: &Arc<Pod>, new: &Arc<Pod>| {
                let key = key_of(new);
                c_update.observe(&key, new);
                // A pending pod's own status writes do not make it schedulable.
                if wants(new) && (old.spec != new.spec || old.metadata.labels != new.metadata.labels) {
                    q_update.add(key);
                } else if node_info::holds_node(old).is_some() && node_info::holds_node(new).is_none() {
                    // A bound pod finished: its node has room again.
                    u_update.move_all(&q_update);
                }
            })
            .on_delete(move |p: &DeltaObject<Pod>| {
                let p = match p {
                    DeltaObject::Object(p) | DeltaObject::DeletedFinalStateUnknown { obj: p, .. } => p,
                };
                let key = key_of(p);
                c_delete.remove_pod(&key);
                u_delete.done(&key);
                if node_info::holds_node(p).is_some() {
                    u_delete.move_all(&q_delete);
                }
            }),
    );
    let (q_node_add, q_node_update) = (queue.clone(), queue.clone());
    let (u_node_add, u_node_update) = (unschedulable.clone(), unschedulable.clone());
    let (c_node_add, c_node_update, c_node_delete) = (cache.clone(), cache.clone(), cache.clone());
    nodes.add_named_event_handler(
        SCHEDULER_NAME,
        ResourceEventHandlerFuncs::new()
            .on_add(move |n: &Arc<Node>, _| {
                c_node_add.set_node(n);
                u_node_add.move_all(&q_node_add)
            })
            .on_update(move |old: &Arc<Node>, new: &Arc<Node>| {
                c_node_update.set_node(new);
                if node_changed(old, new) {
                    u_node_update.move_all(&q_node_update);
                }
            })
            .on_delete(move |n: &DeltaObject<Node>| {
                let (DeltaObject::Object(n) | DeltaObject::DeletedFinalStateUnknown { obj: n, .. }) = n;
                c_node_delete.remove_node(n.metadata.name.as_deref().unwrap_or_default());
            }),
    );
    let volume_binding = volume_binding::VolumeBinding::new(ctx, &queue, &unschedulable)?;
    let client = ctx.client("kube-scheduler");
    let binder = Binder {
        recorder: EventsRecorder::new(client.clone(), SCHEDULER_NAME, None),
        client,
        cache: cache.clone(),
        queue: queue.clone(),
        decisions: ctx.decisions.clone(),
    };
    let scheduler = Scheduler { pod_lister: pods.lister(), pods, nodes, queue, cache, unschedulable, binder, volume_binding };
    // One worker: scheduling cycles are sequential, so each sees the previous one's
    // assumed pod.
    ctx.spawn_workers(Arc::new(scheduler), 1);
    Ok(())
}

/// A write's error, unless it is that the pod is gone (then there is nothing to do).
fn unless_gone<T>(r: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match r {
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        other => other.map(|_| ()),
    }
}

/// How a scheduling cycle ended.
enum Cycle {
    Bound(String),
    Unschedulable { message: String, nominated: Option<String> },
}

impl Scheduler {
    /// `schedulePod` and the PostFilter: the node for `pod`, or why there is none.
    async fn schedule(&self, key: &str, pod: &Pod) -> Result<Cycle, kube::Error> {
        let infos = self.cache.snapshot();
        if infos.is_empty() {
            return Ok(Cycle::Unschedulable { message: NO_NODES_AVAILABLE.into(), nominated: None });
        }
        // The PreFilter plugins: only VolumeBinding's can reject here.
        if let Some(message) = self.volume_binding.rejected(pod, &infos) {
            return Ok(Cycle::Unschedulable { message, nominated: None });
        }
        let mut statuses = Vec::new();
        let mut feasible = Vec::new();
        for n in &infos {
            match filters::run(pod, n) {
                Some(s) => statuses.push((n.name().to_string(), s)),
                None => feasible.push(n.as_ref()),
            }
        }
        if feasible.is_empty() {
            let mut fit = FitError { num_all_nodes: infos.len(), node_to_status: statuses, absent: None, post_filter_msg: String::new() };
            let nominated = match preemption::preempt(pod, &infos, &fit.node_to_status) {
                Preemption::Failed(msg) => {
                    fit.post_filter_msg = msg;
                    None
                }
                Preemption::Candidate { node, victims } => {
                    self.binder.evict(pod, &node, &victims).await?;
                    Some(node)
                }
            };
            return Ok(Cycle::Unschedulable { message: fit.to_string(), nominated });
        }
        let scores = score::score(pod, &feasible);
        let seed = uuid::Uuid::new_v4().as_u128() as u64;
        let Some(best) = score::select(&scores, seed) else {
            return Ok(Cycle::Unschedulable { message: NO_NODES_AVAILABLE.into(), nominated: None });
        };
        let host = feasible[best].name().to_string();
        let mut assumed = pod.clone();
        assumed.spec.get_or_insert_with(Default::default).node_name = Some(host.clone());
        self.cache.assume(key, &host, assumed);
        Ok(Cycle::Bound(host))
    }
}

impl Binder {
    /// The binding cycle: DefaultBinder's POST of a Binding, then the Scheduled event; a
    /// failed binding is forgotten and the pod goes back to the queue with backoff.
    async fn bind(self, key: String, pod: Arc<Pod>, host: String) {
        match self.post_binding(&pod, &host).await {
            Ok(()) => {
                self.queue.forget(&key);
                let note = format!("Successfully assigned {key} to {host}");
                self.recorder.eventf(&reference(pod.as_ref()), None, EventType::Normal, "Scheduled", "Binding", &note);
                self.decisions.say(WHO, &key, &format!("bound to {host}"));
            }
            // The pod is gone: nothing to bind.
            Err(kube::Error::Api(s)) if s.code == 404 => self.cache.forget(&key),
            Err(e) => {
                self.cache.forget(&key);
                self.decisions.say(WHO, &key, &format!("binding failed: {e}"));
                self.queue.add_rate_limited(key);
            }
        }
    }

    async fn post_binding(&self, pod: &Pod, host: &str) -> Result<(), kube::Error> {
        let (ns, name) = (pod.metadata.namespace.as_deref().unwrap_or_default(), pod.metadata.name.as_deref().unwrap_or_default());
        let binding = json!({
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": ns, "uid": pod.metadata.uid},
            "target": {"kind": "Node", "name": host},
        });
        let body = serde_json::to_vec(&binding).map_err(kube::Error::SerdeError)?;
        let request = http::Request::post(format!("/api/v1/namespaces/{ns}/pods/{name}/binding"))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body)
            .map_err(kube::Error::HttpError)?;
        self.client.request_text(request).await.map(|_| ())
    }

    /// `prepareCandidate`: each victim gets the DisruptionTarget condition, a Preempted
    /// event, and is deleted.
    async fn evict(&self, preemptor: &Pod, node: &str, victims: &[Arc<Pod>]) -> Result<(), kube::Error> {
        for v in victims {
            let (ns, name) = (v.metadata.namespace.as_deref().unwrap_or_default(), v.metadata.name.as_deref().unwrap_or_default());
            let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
            let condition = json!({"status": {"conditions": [{
                "type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                "message": format!("{SCHEDULER_NAME}: preempting to accommodate a higher priority pod"),
                "lastTransitionTime": crate::sandbox::meta::now_rfc3339(),
            }]}});
            unless_gone(api.patch_status(name, &PatchParams::default(), &Patch::Strategic(&condition)).await)?;
            unless_gone(api.delete(name, &DeleteParams::default()).await)?;
            let note = format!("Preempted by pod {} on node {node}", preemptor.metadata.uid.as_deref().unwrap_or_default());
            self.recorder.eventf(&reference(v.as_ref()), Some(&reference(preemptor)), EventType::Normal, "Preempted", "Preempting", &note);
            self.decisions.say(WHO, &key_of(v), &format!("preempted on {node} for {}", key_of(preemptor)));
        }
        Ok(())
    }

    /// `handleSchedulingFailure`: the FailedScheduling event, then `updatePod` with the
    /// PodScheduled=False condition (and the nomination), skipped when nothing changed.
    async fn failed(&self, pod: &Pod, message: &str, nominated: Option<&str>) -> Result<(), kube::Error> {
        self.recorder.eventf(&reference(pod), None, EventType::Warning, "FailedScheduling", "Scheduling", &truncate_message(message));
        let status = pod.status.clone().unwrap_or_default();
        let current = status.conditions.iter().flatten().find(|c| c.type_ == "PodScheduled");
        let same = current
            .is_some_and(|c| c.status == "False" && c.reason.as_deref() == Some("Unschedulable") && c.message.as_deref() == Some(message));
        let nominate = nominated.filter(|n| status.nominated_node_name.as_deref() != Some(*n));
        if same && nominate.is_none() {
            return Ok(());
        }
        let transition = match current {
            Some(c) if c.status == "False" => c.last_transition_time.as_ref().map(|t| json!(t)).unwrap_or(Value::Null),
            _ => json!(crate::sandbox::meta::now_rfc3339()),
        };
        let mut patch = json!({"status": {"conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
            "observedGeneration": pod.metadata.generation.unwrap_or(0),
            "lastProbeTime": null, "lastTransitionTime": transition,
        }]}});
        if let Some(n) = nominate {
            patch["status"]["nominatedNodeName"] = json!(n);
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), pod.metadata.namespace.as_deref().unwrap_or_default());
        unless_gone(
            api.patch_status(pod.metadata.name.as_deref().unwrap_or_default(), &PatchParams::default(), &Patch::Strategic(&patch)).await,
        )
    }
}

impl super::Reconciler for Scheduler {
    fn queue(&self) -> &RateLimitingQueue<String> {
        &self.queue
    }

    async fn sync(&self, key: String) -> Result<Option<Duration>, kube::Error> {
        if !self.pods.has_synced() || !self.nodes.has_synced() {
            return Ok(Some(Duration::from_millis(100)));
        }
        let Some(pod) = self.pod_lister.get(&key) else {
            self.unschedulable.done(&key);
            return Ok(None);
        };
        if !wants(&pod) || self.cache.is_placed(&key, &pod) {
            self.unschedulable.done(&key);
            return Ok(None);
        }
        match self.schedule(&key, &pod).await {
            Ok(Cycle::Bound(host)) => {
                self.unschedulable.done(&key);
                tokio::spawn(self.binder.clone().bind(key, pod, host));
                Ok(None)
            }
            Ok(Cycle::Unschedulable { message, nominated }) => {
                self.unschedulable.failed(&key);
                self.binder.decisions.say(WHO, &key, &format!("unschedulable: {message}"));
                self.binder.failed(&pod, &message, nominated.as_deref()).await?;
                Ok(Some(MAX_IN_UNSCHEDULABLE))
            }
            // The pod is gone: nothing to schedule.
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => {
                self.binder.decisions.say(WHO, &key, &format!("scheduling failed: {e}"));
                Err(e)
            }
        }
    }
}
