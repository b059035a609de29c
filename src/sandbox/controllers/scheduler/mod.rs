//! kube-scheduler's default profile (`pkg/scheduler`): every pod that names
//! `default-scheduler` (or no scheduler) and no node gets one.
//!
//! One scheduling cycle per pod (`schedule_one.go`), one at a time as upstream: a
//! snapshot of the nodes with the pods bound or assumed on them, the Filter plugins
//! ([`filters`]), the Score plugins ([`score`]), then the pod is assumed on the best node
//! and bound by POSTing a `Binding` to `pods/<name>/binding`. When no node fits, the
//! FitError ([`fit_error`]) with DefaultPreemption's verdict ([`preemption`]) becomes the
//! pod's `PodScheduled=False` condition and a FailedScheduling event, and the pod waits in
//! the unschedulable queue ([`queue`]) until the cluster changes.
//!
//! Events go through `events.k8s.io/v1` as kube-scheduler's recorder writes them
//! (reporting controller `default-scheduler`); its writes are managed by `kube-scheduler`.

mod assumed;
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
use assumed::AssumedPods;
use fit_error::{truncate_message, FitError, NO_NODES_AVAILABLE};
use preemption::Preemption;
use queue::{Unschedulable, MAX_IN_UNSCHEDULABLE};

/// `v1.DefaultSchedulerName`: the profile, and the events' reporting controller.
pub const SCHEDULER_NAME: &str = "default-scheduler";
/// The decision log's name for this loop.
const WHO: &str = "scheduler";

pub struct Scheduler {
    client: kube::Client,
    pods: SharedIndexInformer<Pod>,
    nodes: SharedIndexInformer<Node>,
    pod_lister: Lister<Pod>,
    node_lister: Lister<Node>,
    queue: RateLimitingQueue<String>,
    assumed: Arc<AssumedPods>,
    unschedulable: Arc<Unschedulable>,
    recorder: EventsRecorder,
    decisions: super::Decisions,
    volume_binding: volume_binding::VolumeBinding,
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
    let assumed = Arc::new(AssumedPods::default());
    let unschedulable = Arc::new(Unschedulable::default());

    let (q_add, q_update, q_delete) = (queue.clone(), queue.clone(), queue.clone());
    let (a_add, a_update, a_delete) = (assumed.clone(), assumed.clone(), assumed.clone());
    let (u_update, u_delete) = (unschedulable.clone(), unschedulable.clone());
    pods.add_named_event_handler(
        SCHEDULER_NAME,
        ResourceEventHandlerFuncs::new()
            .on_add(move |p: &Arc<Pod>, _| {
                a_add.observe(&key_of(p), p);
                if wants(p) {
                    q_add.add(key_of(p));
                }
            })
            .on_update(move |old: &Arc<Pod>, new: &Arc<Pod>| {
                let key = key_of(new);
                a_update.observe(&key, new);
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
                a_delete.forget(&key);
                u_delete.done(&key);
                if node_info::holds_node(p).is_some() {
                    u_delete.move_all(&q_delete);
                }
            }),
    );
    let (q_node_add, q_node_update) = (queue.clone(), queue.clone());
    let (u_node_add, u_node_update) = (unschedulable.clone(), unschedulable.clone());
    nodes.add_named_event_handler(
        SCHEDULER_NAME,
        ResourceEventHandlerFuncs::new().on_add(move |_: &Arc<Node>, _| u_node_add.move_all(&q_node_add)).on_update(
            move |old: &Arc<Node>, new: &Arc<Node>| {
                if node_changed(old, new) {
                    u_node_update.move_all(&q_node_update);
                }
            },
        ),
    );
    let volume_binding = volume_binding::VolumeBinding::new(ctx, &queue, &unschedulable)?;
    let client = ctx.client("kube-scheduler");
    let scheduler = Scheduler {
        recorder: EventsRecorder::new(client.clone(), SCHEDULER_NAME, None),
        client,
        pod_lister: pods.lister(),
        node_lister: nodes.lister(),
        pods,
        nodes,
        queue,
        assumed,
        unschedulable,
        decisions: ctx.decisions.clone(),
        volume_binding,
    };
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
        let nodes = self.node_lister.list();
        if nodes.is_empty() {
            return Ok(Cycle::Unschedulable { message: NO_NODES_AVAILABLE.into(), nominated: None });
        }
        let pods = self.pod_lister.list();
        let lister = &self.pod_lister;
        let assumed = self.assumed.pending(&|k| lister.get(k).is_some_and(|p| node_name(&p).is_some()));
        let infos = node_info::snapshot(&nodes, &pods, &assumed);
        // The PreFilter plugins: only VolumeBinding's can reject here.
        if let Some(message) = self.volume_binding.rejected(pod, &infos) {
            return Ok(Cycle::Unschedulable { message, nominated: None });
        }
        let mut statuses = Vec::new();
        let mut feasible = Vec::new();
        for n in &infos {
            match filters::run(pod, n) {
                Some(s) => statuses.push((n.name().to_string(), s)),
                None => feasible.push(n),
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
                    self.evict(pod, &node, &victims).await?;
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
        self.bind(key, pod, &host).await?;
        Ok(Cycle::Bound(host))
    }

    /// `assume`, then DefaultBinder's POST of a Binding; a failed binding is forgotten.
    async fn bind(&self, key: &str, pod: &Pod, host: &str) -> Result<(), kube::Error> {
        let mut assumed = pod.clone();
        assumed.spec.get_or_insert_with(Default::default).node_name = Some(host.to_string());
        self.assumed.assume(key, assumed);
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
        if let Err(e) = self.client.request_text(request).await {
            self.assumed.forget(key);
            return Err(e);
        }
        Ok(())
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
        if !wants(&pod) || self.assumed.contains(&key, &pod) {
            self.unschedulable.done(&key);
            return Ok(None);
        }
        match self.schedule(&key, &pod).await {
            Ok(Cycle::Bound(host)) => {
                self.unschedulable.done(&key);
                let note = format!("Successfully assigned {key} to {host}");
                self.recorder.eventf(&reference(pod.as_ref()), None, EventType::Normal, "Scheduled", "Binding", &note);
                self.decisions.say(WHO, &key, &format!("bound to {host}"));
                Ok(None)
            }
            Ok(Cycle::Unschedulable { message, nominated }) => {
                self.unschedulable.failed(&key);
                self.decisions.say(WHO, &key, &format!("unschedulable: {message}"));
                self.failed(&pod, &message, nominated.as_deref()).await?;
                Ok(Some(MAX_IN_UNSCHEDULABLE))
            }
            // The pod is gone: nothing to schedule.
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => {
                self.decisions.say(WHO, &key, &format!("binding failed: {e}"));
                Err(e)
            }
        }
    }
}
