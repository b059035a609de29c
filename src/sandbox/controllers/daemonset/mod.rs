//! The DaemonSet controller (`pkg/controller/daemon`): one pod of the set on every node
//! that should run it ([`placement`]), pinned there by node affinity for the scheduler to
//! bind; a new node gets its pod, a pod on a node that no longer qualifies (or no longer
//! exists) goes. Template changes roll out node by node ([`rolling`]) or on deletion
//! (`OnDelete`), tracked by ControllerRevisions ([`super::history`]).
//!
//! As upstream, a sync manages pods only once the creations and deletions it asked for
//! last time have been seen ([`super::controller_expectations`]). Unlike upstream, a pod
//! bound to a node that is gone is deleted here at once (a cluster's pod GC does that;
//! the sandbox has none).

pub mod manage;
pub mod placement;
pub mod rolling;

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, PostParams};

use super::controller_expectations::Expectations;
use super::controller_ref::{controller_of, controller_selects, new_controller_ref, Claimer};
use super::history::{History, CONTROLLER_REVISION_HASH};
use super::pod_control::{api_message, pod_from_template, slow_start_batch, PodControl, SLOW_START_INITIAL_BATCH, SUCCESSFUL_DELETE};
use super::recorder::reference;
use super::replicaset::{key_of, SyncError, BURST_REPLICAS};
use super::EventType;
use crate::machinery::delta_fifo::DeltaObject;
use crate::machinery::lister::Lister;
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::shared_informer::ResourceEventHandlerFuncs;
use manage::{pods_should_be_on_node, NodePods};
use placement::{pin_to_node, pod_template, target_node};

const LOOP: &str = "daemonset";

/// What the event handlers need.
#[derive(Clone)]
struct Index {
    sets: Lister<DaemonSet>,
    expectations: Expectations,
    queue: RateLimitingQueue<String>,
}

impl Index {
    fn controller(&self, pod: &Pod) -> Option<Arc<DaemonSet>> {
        let r = controller_of(&pod.metadata).filter(|r| r.kind == "DaemonSet")?;
        let ds = self.sets.get(&format!("{}/{}", pod.metadata.namespace.as_deref().unwrap_or_default(), r.name))?;
        (ds.metadata.uid.as_deref() == Some(r.uid.as_str())).then_some(ds)
    }

    fn enqueue_all(&self) {
        for ds in self.sets.list() {
            self.queue.add(key_of(&ds.metadata));
        }
    }

    fn add_pod(&self, pod: &Pod) {
        if pod.metadata.deletion_timestamp.is_some() {
            return self.delete_pod(pod);
        }
        match controller_of(&pod.metadata) {
            Some(_) => {
                if let Some(ds) = self.controller(pod) {
                    let key = key_of(&ds.metadata);
                    self.expectations.creation_observed(&key);
                    self.queue.add(key);
                }
            }
            None => {
                let ns = pod.metadata.namespace.clone().unwrap_or_default();
                let selecting = self
                    .sets
                    .namespaced(&ns)
                    .list_matching(|d| d.spec.as_ref().is_some_and(|s| controller_selects(&s.selector, pod.metadata.labels.as_ref())));
                for ds in selecting {
                    self.queue.add(key_of(&ds.metadata));
                }
            }
        }
    }

    fn update_pod(&self, old: &Pod, cur: &Pod) {
        if old.metadata.resource_version == cur.metadata.resource_version {
            return;
        }
        if cur.metadata.deletion_timestamp.is_some() {
            return self.delete_pod(cur);
        }
        if controller_of(&old.metadata) != controller_of(&cur.metadata) {
            if let Some(ds) = self.controller(old) {
                self.queue.add(key_of(&ds.metadata));
            }
        }
        if let Some(ds) = self.controller(cur) {
            self.queue.add(key_of(&ds.metadata));
        } else if controller_of(&cur.metadata).is_none() {
            self.add_pod(cur);
        }
    }

    fn delete_pod(&self, pod: &Pod) {
        if let Some(ds) = self.controller(pod) {
            let key = key_of(&ds.metadata);
            self.expectations.deletion_observed(&key, &key_of(&pod.metadata));
            self.queue.add(key);
        }
    }

    /// `updateNode`: only what placement reads matters.
    fn update_node(&self, old: &Node, cur: &Node) {
        let placement = |n: &Node| {
            let spec = n.spec.as_ref();
            (n.metadata.labels.clone(), spec.and_then(|s| s.taints.clone()), spec.and_then(|s| s.unschedulable))
        };
        if placement(old) != placement(cur) {
            self.enqueue_all();
        }
    }
}

pub struct DaemonSetController {
    client: kube::Client,
    recorder: super::EventRecorder,
    decisions: super::Decisions,
    pods: Lister<Pod>,
    nodes: Lister<Node>,
    revisions: Lister<ControllerRevision>,
    index: Index,
}

pub fn start(ctx: &super::Context) -> Result<(), super::StartError> {
    let queue = RateLimitingQueue::with_default_rate_limiter();
    let ds_informer = ctx.factory.informer_for::<DaemonSet>()?;
    let pod_informer = ctx.factory.informer_for::<Pod>()?;
    let node_informer = ctx.factory.informer_for::<Node>()?;
    let revision_informer = ctx.factory.informer_for::<ControllerRevision>()?;
    let index = Index { sets: ds_informer.lister(), expectations: Expectations::default(), queue: queue.clone() };

    let (a, u, d) = (index.clone(), index.clone(), index.clone());
    ds_informer.add_named_event_handler(
        "daemonset-controller",
        ResourceEventHandlerFuncs::new()
            .on_add(move |ds: &Arc<DaemonSet>, _| a.queue.add(key_of(&ds.metadata)))
            .on_update(move |old: &Arc<DaemonSet>, ds: &Arc<DaemonSet>| {
                if old.metadata.uid != ds.metadata.uid {
                    u.expectations.delete(&key_of(&old.metadata));
                }
                u.queue.add(key_of(&ds.metadata))
            })
            .on_delete(move |ds: &DeltaObject<DaemonSet>| {
                let key = key_of(&ds.object().metadata);
                d.expectations.delete(&key);
                d.queue.add(key);
            }),
    );
    let (a, u, d) = (index.clone(), index.clone(), index.clone());
    pod_informer.add_named_event_handler(
        "daemonset-controller",
        ResourceEventHandlerFuncs::new()
            .on_add(move |p: &Arc<Pod>, _| a.add_pod(p))
            .on_update(move |old: &Arc<Pod>, cur: &Arc<Pod>| u.update_pod(old, cur))
            .on_delete(move |p: &DeltaObject<Pod>| d.delete_pod(p.object())),
    );
    let (a, u, d) = (index.clone(), index.clone(), index.clone());
    node_informer.add_named_event_handler(
        "daemonset-controller",
        ResourceEventHandlerFuncs::new()
            .on_add(move |_: &Arc<Node>, _| a.enqueue_all())
            .on_update(move |old: &Arc<Node>, cur: &Arc<Node>| u.update_node(old, cur))
            .on_delete(move |_: &DeltaObject<Node>| d.enqueue_all()),
    );
    let controller = DaemonSetController {
        client: ctx.client("kube-controller-manager"),
        recorder: ctx.recorder("daemonset-controller", None),
        decisions: ctx.decisions.clone(),
        pods: pod_informer.lister(),
        nodes: node_informer.lister(),
        revisions: revision_informer.lister(),
        index,
    };
    ctx.spawn_workers(Arc::new(controller), 2);
    Ok(())
}

impl super::Reconciler for DaemonSetController {
    fn queue(&self) -> &RateLimitingQueue<String> {
        &self.index.queue
    }

    async fn sync(&self, key: String) -> Result<Option<Duration>, kube::Error> {
        self.sync_daemon_set(&key).await.map_err(|e| self.decisions.sync_failed(LOOP, &key, kube::Error::from(e)))
    }
}

/// `getNodesToDaemonPods`: the pods by node, without deleted pods that have finished.
fn by_node(pods: &[Arc<Pod>]) -> NodePods {
    let mut out = NodePods::new();
    for pod in pods {
        let finished = matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"));
        if finished && pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if let Some(node) = target_node(pod) {
            out.entry(node).or_default().push(pod.clone());
        }
    }
    out
}

impl DaemonSetController {
    /// `syncDaemonSet`.
    async fn sync_daemon_set(&self, key: &str) -> Result<Option<Duration>, SyncError> {
        let Some(ds) = self.index.sets.get(key) else {
            self.index.expectations.delete(key);
            return Ok(None);
        };
        let Some(spec) = ds.spec.as_ref() else { return Ok(None) };
        let ns = ds.metadata.namespace.clone().unwrap_or_default();
        let ds_api: Api<DaemonSet> = Api::namespaced(self.client.clone(), &ns);
        let pod_api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let nodes = self.nodes.list();

        let candidates = self.pods.namespaced(&ns).list();
        let pods = Claimer { owner: &*ds, selector: &spec.selector }.claim(&ds_api, candidates, &pod_api).await?;

        // constructHistory: the current template's revision, its hash on the new pods.
        let history = History { client: &self.client, revisions: &self.revisions };
        let all = history.claim(&ds_api, &*ds, &spec.selector).await?;
        let collision = ds.status.as_ref().and_then(|s| s.collision_count).unwrap_or(0);
        let revs = history.revisions(&*ds, all, &spec.template, CONTROLLER_REVISION_HASH, None, collision).await?;
        let hash = revs.update.metadata.labels.as_ref().and_then(|l| l.get(CONTROLLER_REVISION_HASH)).cloned().unwrap_or_default();

        let mut result = Ok(());
        if ds.metadata.deletion_timestamp.is_none() && self.index.expectations.satisfied(key) {
            result = self.manage(&ds, &nodes, &pods, &hash, key).await;
            let rolling = spec.update_strategy.as_ref().and_then(|u| u.type_.as_deref()).unwrap_or("RollingUpdate") == "RollingUpdate";
            if result.is_ok() && rolling && self.index.expectations.satisfied(key) {
                let step = rolling::rolling_update(&ds, &nodes, &by_node(&pods), &hash, Timestamp::now());
                result = self.sync_nodes(&ds, step.delete, step.create_on, &hash, key).await;
            }
            // cleanupHistory: the revisions no pod runs, beyond the limit.
            let live_hashes: HashSet<&str> =
                pods.iter().filter_map(|p| p.metadata.labels.as_ref()?.get(CONTROLLER_REVISION_HASH).map(String::as_str)).collect();
            let live: HashSet<String> = revs
                .all
                .iter()
                .filter(|r| {
                    r.metadata.name == revs.update.metadata.name
                        || r.metadata
                            .labels
                            .as_ref()
                            .and_then(|l| l.get(CONTROLLER_REVISION_HASH))
                            .is_some_and(|h| live_hashes.contains(h.as_str()))
                })
                .filter_map(|r| r.metadata.name.clone())
                .collect();
            history.truncate(&revs.all, &live, spec.revision_history_limit.unwrap_or(10)).await?;
        }

        let mut status = manage::status(&ds, &nodes, &by_node(&pods), &hash, Timestamp::now());
        status.observed_generation = ds.metadata.generation;
        status.collision_count = Some(revs.collision_count).filter(|c| *c != 0).or(ds.status.as_ref().and_then(|s| s.collision_count));
        self.update_status(&ds_api, &ds, status.clone()).await?;
        result?;
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        if min_ready > 0 && Some(status.number_ready) != status.number_available {
            return Ok(Some(Duration::from_secs(u64::try_from(min_ready).unwrap_or(0))));
        }
        Ok(None)
    }

    /// `manage`: a pod for every node that needs one, none where it must not run.
    async fn manage(&self, ds: &DaemonSet, nodes: &[Arc<Node>], pods: &[Arc<Pod>], hash: &str, key: &str) -> Result<(), kube::Error> {
        let node_pods = by_node(pods);
        let object = reference(ds);
        let now = Timestamp::now();
        let (mut create_on, mut delete) = (Vec::new(), Vec::new());
        for node in nodes {
            let name = node.metadata.name.clone().unwrap_or_default();
            let plan = pods_should_be_on_node(node, node_pods.get(&name), ds, hash, now);
            for (warning, reason, message) in plan.events {
                let ty = if warning { EventType::Warning } else { EventType::Normal };
                self.recorder.event(&object, ty, reason, message);
            }
            if plan.needs_pod {
                create_on.push(name);
            }
            delete.extend(plan.delete);
        }
        // Pods of nodes that are gone.
        let known: HashSet<&str> = nodes.iter().filter_map(|n| n.metadata.name.as_deref()).collect();
        for (node, on_node) in &node_pods {
            if known.contains(node.as_str()) {
                continue;
            }
            for p in on_node.iter().filter(|p| p.metadata.deletion_timestamp.is_none()) {
                self.force_delete(ds, p).await?;
            }
        }
        self.sync_nodes(ds, delete, create_on, hash, key).await
    }

    /// A pod whose node is gone has no kubelet to stop it: deleted without grace.
    async fn force_delete(&self, ds: &DaemonSet, pod: &Pod) -> Result<(), kube::Error> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), pod.metadata.namespace.as_deref().unwrap_or_default());
        let name = pod.metadata.name.clone().unwrap_or_default();
        match api.delete(&name, &DeleteParams { grace_period_seconds: Some(0), ..Default::default() }).await {
            Ok(_) => {
                self.recorder.event(&reference(ds), EventType::Normal, SUCCESSFUL_DELETE, format!("Deleted pod: {name}"));
                Ok(())
            }
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `syncNodes`: deletes `delete`, creates a pod pinned to each of `create_on`, with
    /// expectations, in slow-start batches, at most [`BURST_REPLICAS`] each.
    async fn sync_nodes(
        &self,
        ds: &DaemonSet,
        delete: Vec<String>,
        create_on: Vec<String>,
        hash: &str,
        key: &str,
    ) -> Result<(), kube::Error> {
        let ns = ds.metadata.namespace.clone().unwrap_or_default();
        let name = ds.metadata.name.clone().unwrap_or_default();
        let delete: Vec<String> = delete.into_iter().collect::<BTreeSet<_>>().into_iter().take(BURST_REPLICAS).collect();
        let create_on: Vec<String> = create_on.into_iter().take(BURST_REPLICAS).collect();
        if delete.is_empty() && create_on.is_empty() {
            return Ok(());
        }
        // The expectations keep either creations or deletions per key: with both to do,
        // the deletions go first and the creations wait for the sync that sees them gone.
        let create_on = if delete.is_empty() { create_on } else { Vec::new() };
        let object = reference(ds);
        let control = PodControl { client: &self.client, recorder: &self.recorder, object: &object };
        if delete.is_empty() {
            self.index.expectations.expect_creations(key, create_on.len());
        } else {
            let keys: Vec<String> = delete.iter().map(|p| format!("{ns}/{p}")).collect();
            self.index.expectations.expect_deletions(key, &keys);
        }
        let mut first: Option<kube::Error> = None;

        if !create_on.is_empty() {
            self.decisions.say(LOOP, key, &format!("creating daemon pods on {}", create_on.join(", ")));
            let template = pod_template(ds, hash);
            let next = std::sync::atomic::AtomicUsize::new(0);
            let (created, err) = slow_start_batch(create_on.len(), SLOW_START_INITIAL_BATCH, || {
                let node = create_on[next.fetch_add(1, std::sync::atomic::Ordering::SeqCst)].clone();
                let mut pod = pod_from_template(&template, &ns, &name, new_controller_ref(ds));
                if let Some(spec) = pod.spec.as_mut() {
                    spec.affinity = Some(pin_to_node(spec.affinity.take(), &node));
                }
                let control = &control;
                async move { control.create(&pod).await.map(|_| ()) }
            })
            .await;
            for _ in created..create_on.len() {
                self.index.expectations.creation_observed(key);
            }
            if let Some(e) = err {
                self.decisions.say(LOOP, key, &format!("failed to create pods: {}", api_message(&e)));
                first = Some(e);
            }
        }
        let results = join_all(delete.iter().map(|p| {
            let control = &control;
            let ns = &ns;
            async move { (p, control.delete(ns, p).await) }
        }))
        .await;
        for (p, r) in results {
            if let Err(e) = r {
                self.index.expectations.deletion_observed(key, &format!("{ns}/{p}"));
                if !matches!(&e, kube::Error::Api(s) if s.code == 404) {
                    first.get_or_insert(e);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// `storeDaemonSetStatus`: writes only a changed status.
    async fn update_status(&self, api: &Api<DaemonSet>, ds: &DaemonSet, mut status: DaemonSetStatus) -> Result<(), kube::Error> {
        status.conditions = ds.status.as_ref().and_then(|s| s.conditions.clone());
        if ds.status.as_ref() == Some(&status) {
            return Ok(());
        }
        let mut next = ds.clone();
        next.status = Some(status);
        api.replace_status(ds.metadata.name.as_deref().unwrap_or_default(), &PostParams::default(), &next).await.map(|_| ())
    }
}
