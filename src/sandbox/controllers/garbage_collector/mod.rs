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

use std::sync::Arc;

use kube::discovery::Discovery;
use tokio::sync::mpsc;

use crate::machinery::rate_limiting_queue::RateLimitingQueue;

use graph::{AbsentOwners, Graph};
use graph_builder::GraphEvent;
use rest_mapper::RestMapper;

/// The alias decision lines use.
pub const WHO: &str = "garbagecollector";
/// kube-controller-manager runs 20 attempt-to-delete workers (`--concurrent-gc-syncs`).
const DELETE_WORKERS: usize = 4;
const ORPHAN_WORKERS: usize = 1;

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
    pub mapper: RestMapper,
    pub graph: Graph,
    pub absent_owners: AbsentOwners,
    pub attempt_to_delete: RateLimitingQueue<String>,
    pub attempt_to_orphan: RateLimitingQueue<String>,
    /// The graph builder's `graphChanges` queue (informer events and virtual deletes).
    pub graph_changes: mpsc::UnboundedSender<GraphEvent>,
    pub decisions: super::Decisions,
}

/// Starts the GC: discovery, monitors and workers run in a task of their own, since the
/// monitors can only be chosen once discovery has answered. List this loop after every
/// loop that asks the factory for a typed informer (see [`graph_builder::monitor`]).
pub fn start(ctx: &super::Context) -> Result<(), super::StartError> {
    let client = ctx.client("kube-controller-manager");
    let factory = ctx.factory.clone();
    let stop = ctx.stop.clone();
    let decisions = ctx.decisions.clone();
    tokio::spawn(async move {
        let discovery = loop {
            match Discovery::new(client.clone()).run().await {
                Ok(d) => break d,
                Err(e) => {
                    decisions.say(WHO, "-", &format!("discovery failed, retrying: {e}"));
                    tokio::select! {
                        _ = stop.stopped() => return,
                        _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                    }
                }
            }
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let gc = Arc::new(GarbageCollector {
            client: client.clone(),
            mapper: RestMapper::new(&discovery),
            graph: Graph::default(),
            absent_owners: AbsentOwners::default(),
            attempt_to_delete: RateLimitingQueue::with_default_rate_limiter(),
            attempt_to_orphan: RateLimitingQueue::with_default_rate_limiter(),
            graph_changes: tx,
            decisions: decisions.clone(),
        });
        for m in &gc.mapper.monitored {
            if let Err(e) = graph_builder::monitor(&factory, &client, m, gc.graph_changes.clone()) {
                decisions.say(WHO, "-", &format!("cannot monitor {}: {e}", m.resource.plural));
            }
        }
        factory.start(&stop);
        tokio::spawn(graph_builder::process_graph_changes(gc.clone(), rx, stop.clone()));
        factory.wait_for_cache_sync(&stop).await;
        for _ in 0..DELETE_WORKERS {
            tokio::spawn(super::run(Arc::new(attempt_to_delete::AttemptToDelete(gc.clone())), stop.clone()));
        }
        for _ in 0..ORPHAN_WORKERS {
            tokio::spawn(super::run(Arc::new(attempt_to_orphan::AttemptToOrphan(gc.clone())), stop.clone()));
        }
    });
    Ok(())
}
