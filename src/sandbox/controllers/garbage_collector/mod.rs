//! The garbage collector (`pkg/controller/garbagecollector`): objects whose owners are gone
//! are deleted, and the `foregroundDeletion` and `orphan` finalizers the apiserver puts on
//! an owner deleted with those propagation policies are carried out.
//!
//! The [graph builder](graph_builder) watches every resource that supports list, watch and
//! delete and keeps the [dependency graph](graph) from their ownerReferences; owners whose
//! dependents must be looked at go to the [attempt-to-delete](attempt_to_delete) queue,
//! owners being deleted with `orphan` to the [attempt-to-orphan](attempt_to_orphan) queue.
//! Every decision is checked against a live GET, never the cache alone, as upstream does.

pub mod attempt_to_delete;
pub mod attempt_to_orphan;
pub mod graph;
pub mod graph_builder;
pub mod operations;
pub mod rest_mapper;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use kube::discovery::Discovery;
use tokio::sync::mpsc;

use crate::machinery::informer_factory::{resource_key, SharedInformerFactory};
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::stop::StopSignal;

use graph::{AbsentOwners, Graph};
use graph_builder::GraphEvent;
use rest_mapper::RestMapper;

/// The alias decision lines use.
pub const WHO: &str = "garbagecollector";
/// kube-controller-manager runs 20 attempt-to-delete workers (`--concurrent-gc-syncs`).
const DELETE_WORKERS: usize = 4;
const ORPHAN_WORKERS: usize = 1;
/// How often discovery is run again for new resources (kube-controller-manager: 30 s).
const DISCOVERY_RESYNC: Duration = Duration::from_secs(30);

/// Why one attempt failed; all but the first two are retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum GcError {
    /// The object is gone: a virtual delete event was queued for the graph.
    #[error("enqueued virtual delete event")]
    EnqueuedVirtualDeleteEvent,
    /// A cluster-scoped object names a namespaced owner: nothing to do.
    #[error("cluster-scoped objects cannot refer to namespaced owners")]
    NamespacedOwnerOfClusterScopedObject,
    #[error("unable to get REST mapping for {kind}/{api_version}")]
    RestMapping { kind: String, api_version: String },
    #[error("item {0} hasn't been observed via informer yet")]
    NotYetObserved(String),
    #[error("updateMaxRetries(5) has reached. The garbage collector will retry later for owner {0}")]
    Conflicts(String),
    #[error(transparent)]
    Kube(#[from] kube::Error),
}

impl GcError {
    /// The error the shared worker loop takes (it retries any `Err` with backoff).
    fn into_kube(self) -> kube::Error {
        match self {
            GcError::Kube(e) => e,
            other => kube::Error::Service(Box::new(other)),
        }
    }
}

/// What the graph builder and both workers share.
pub struct GarbageCollector {
    pub client: kube::Client,
    /// Replaced by each discovery resync.
    mapper: RwLock<Arc<RestMapper>>,
    /// Factory keys of the resources monitored so far.
    monitored: Mutex<BTreeSet<String>>,
    pub graph: Graph,
    pub absent_owners: AbsentOwners,
    pub attempt_to_delete: RateLimitingQueue<String>,
    pub attempt_to_orphan: RateLimitingQueue<String>,
    /// The graph builder's `graphChanges` queue (informer events and virtual deletes).
    pub graph_changes: mpsc::UnboundedSender<GraphEvent>,
    pub decisions: super::Decisions,
    /// Events as `garbage-collector-controller`.
    pub recorder: super::EventRecorder,
}

impl GarbageCollector {
    /// The mapper of the latest discovery.
    pub fn mapper(&self) -> Arc<RestMapper> {
        self.mapper.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// `resyncMonitors`: takes a new discovery's mapper, and monitors the resources not
    /// monitored yet (CRDs created since). Monitors of resources gone stay, idle.
    fn resync_monitors(&self, mapper: RestMapper, factory: &SharedInformerFactory, stop: &StopSignal) {
        let mapper = Arc::new(mapper);
        *self.mapper.write().unwrap_or_else(|e| e.into_inner()) = mapper.clone();
        let mut monitored = self.monitored.lock().unwrap_or_else(|e| e.into_inner());
        for m in &mapper.monitored {
            let r = &m.resource;
            if !monitored.insert(resource_key(&r.group, &r.version, &r.plural)) {
                continue;
            }
            if let Err(e) = graph_builder::monitor(factory, m, self.graph_changes.clone()) {
                self.decisions.say(WHO, "-", &format!("cannot monitor {}: {e}", r.plural));
            }
        }
        factory.start(stop);
    }
}

/// Discovery, retried every second until it answers or stop (`None`).
async fn discover(client: &kube::Client, stop: &StopSignal, decisions: &super::Decisions) -> Option<RestMapper> {
    loop {
        match Discovery::new(client.clone()).run().await {
            Ok(d) => return Some(RestMapper::new(&d)),
            Err(e) => {
                decisions.say(WHO, "-", &format!("discovery failed, retrying: {e}"));
                tokio::select! {
                    _ = stop.stopped() => return None,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

/// Starts the GC: discovery, monitors and workers run in a task of their own, since the
/// monitors can only be chosen once discovery has answered; discovery is run again every
/// [`DISCOVERY_RESYNC`] so owners of kinds installed later are monitored too. List this
/// loop after every loop that asks the factory for a typed informer (see
/// [`graph_builder::monitor`]).
pub fn start(ctx: &super::Context) -> Result<(), super::StartError> {
    let client = ctx.client("kube-controller-manager");
    let factory = ctx.factory.clone();
    let stop = ctx.stop.clone();
    let decisions = ctx.decisions.clone();
    let recorder = ctx.recorder("garbage-collector-controller", None);
    tokio::spawn(async move {
        let Some(mapper) = discover(&client, &stop, &decisions).await else { return };
        let (tx, rx) = mpsc::unbounded_channel();
        let gc = Arc::new(GarbageCollector {
            client: client.clone(),
            mapper: RwLock::new(Arc::new(RestMapper::empty())),
            monitored: Mutex::new(BTreeSet::new()),
            graph: Graph::default(),
            absent_owners: AbsentOwners::default(),
            attempt_to_delete: RateLimitingQueue::with_default_rate_limiter(),
            attempt_to_orphan: RateLimitingQueue::with_default_rate_limiter(),
            graph_changes: tx,
            decisions: decisions.clone(),
            recorder,
        });
        gc.resync_monitors(mapper, &factory, &stop);
        tokio::spawn(graph_builder::process_graph_changes(gc.clone(), rx, stop.clone()));
        factory.wait_for_cache_sync(&stop).await;
        for _ in 0..DELETE_WORKERS {
            tokio::spawn(super::run(Arc::new(attempt_to_delete::AttemptToDelete(gc.clone())), stop.clone()));
        }
        for _ in 0..ORPHAN_WORKERS {
            tokio::spawn(super::run(Arc::new(attempt_to_orphan::AttemptToOrphan(gc.clone())), stop.clone()));
        }
        loop {
            tokio::select! {
                _ = stop.stopped() => return,
                _ = tokio::time::sleep(DISCOVERY_RESYNC) => {}
            }
            let Some(mapper) = discover(&client, &stop, &decisions).await else { return };
            gc.resync_monitors(mapper, &factory, &stop);
        }
    });
    Ok(())
}
