//! The informer against a real API server (the in-process sandbox): 1,000 ConfigMaps
//! created, half of them updated, a fifth deleted while it runs, with the watch cache
//! forgotten mid-stream so the watch answers `410 Gone` and the reflector must re-list.
//! At the end the indexer equals the server's list and every handler holds every final
//! state (same keys, same resourceVersions).
//!
//! Whether a live watch is behind when the history is forgotten depends on timing, so the
//! test makes it so: the informer's ListerWatcher is the real `Api` behind a gate that can
//! hold the watch stream (the reflector stops hearing events while the server moves on)
//! and then cut it. The reflector re-watches from the last resourceVersion it saw, which
//! the server no longer remembers: the watch answers an ERROR 410 event.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{stream, StreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, ObjectList, Patch, PatchParams, PostParams, WatchParams};
use serde_json::json;
use tokio::sync::watch;

use kubelab::machinery::reflector::{BackoffConfig, ListerWatcher, WatchStream};

use kubelab::commands::informer_demo::{recording_handler, view, CacheView, HandlerLog};
use kubelab::machinery::shared_informer::{wait_for_cache_sync, InformerOptions, SharedIndexInformer};
use kubelab::machinery::stop::StopSignal;
use kubelab::machinery::trace::{Trace, Tracer};

const OBJECTS: usize = 1_000;
const HANDLERS: usize = 3;
const PARALLEL: usize = 32;
/// Objects deleted while the watch is held (none of them a multiple of 5, deleted later).
const HIDDEN_DELETES: [usize; 4] = [1, 2, 3, 4];

/// What the gate does to the watch streams it hands out: `held` stops polling them (the
/// reflector hears nothing while the server goes on); each `cut` ends every stream opened
/// before it, as a dropped connection would, while later streams flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Gate {
    held: bool,
    cuts: u32,
}

/// `Api<ConfigMap>` as the informer's ListerWatcher, with a [`Gate`] on its watches.
struct GatedApi {
    api: Api<ConfigMap>,
    gate: watch::Receiver<Gate>,
}

impl ListerWatcher<ConfigMap> for GatedApi {
    fn list(&self, params: ListParams) -> BoxFuture<'_, Result<ObjectList<ConfigMap>, kube::Error>> {
        ListerWatcher::list(&self.api, params)
    }

    fn watch(&self, params: WatchParams, resource_version: String) -> BoxFuture<'_, Result<WatchStream<ConfigMap>, kube::Error>> {
        Box::pin(async move {
            let opened_after = self.gate.borrow().cuts;
            let inner = ListerWatcher::watch(&self.api, params, resource_version).await?;
            let gated = stream::unfold((inner, self.gate.clone()), move |(mut inner, mut gate)| async move {
                loop {
                    let state = *gate.borrow_and_update();
                    if state.cuts > opened_after {
                        return None;
                    }
                    if state.held {
                        gate.changed().await.ok()?;
                        continue;
                    }
                    tokio::select! {
                        item = inner.next() => return item.map(|i| (i, (inner, gate))),
                        changed = gate.changed() => changed.ok()?,
                    }
                }
            });
            Ok(gated.boxed())
        })
    }
}

fn cm(i: usize) -> ConfigMap {
    serde_json::from_value(
        json!({"metadata": {"name": format!("cm-{i:04}"), "labels": {"test": "informer"}}, "data": {"n": i.to_string()}}),
    )
    .unwrap()
}

async fn server_view(api: &Api<ConfigMap>) -> CacheView {
    view(api.list(&ListParams::default()).await.expect("list").items.iter())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn informer_converges_through_churn_and_a_410() {
    let t = common::TestSandbox::start().await;
    let client = t.sandbox.client().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client, "default");

    let gone = Arc::new(AtomicUsize::new(0));
    let lists = Arc::new(AtomicUsize::new(0));
    let tracer = {
        let (gone, lists) = (gone.clone(), lists.clone());
        Tracer::new(move |t| match t {
            Trace::WatchGone { .. } | Trace::ListGone { .. } => {
                gone.fetch_add(1, Ordering::SeqCst);
            }
            Trace::Listed { .. } => {
                lists.fetch_add(1, Ordering::SeqCst);
            }
            _ => {}
        })
    };
    let (gate, gate_rx) = watch::channel(Gate::default());
    let lw = GatedApi { api: api.clone(), gate: gate_rx };
    let backoff = BackoffConfig { initial: Duration::from_millis(50), max: Duration::from_millis(200), ..Default::default() };
    let informer = SharedIndexInformer::new(
        Arc::new(lw),
        InformerOptions { name: "configmaps".into(), tracer, backoff: Some(backoff), ..Default::default() },
    );
    let logs: Vec<Arc<Mutex<HandlerLog>>> = (0..HANDLERS)
        .map(|i| {
            let log = Arc::new(Mutex::new(HandlerLog::default()));
            informer.add_named_event_handler(format!("h{i}"), recording_handler::<ConfigMap>(log.clone()));
            log
        })
        .collect();
    let stop = StopSignal::new();
    let run = informer.start(stop.clone());
    let synced = informer.clone();
    assert!(tokio::time::timeout(Duration::from_secs(20), wait_for_cache_sync(&stop, &[&|| synced.has_synced()])).await.unwrap());

    // Creates in bursts of 100. The fourth burst happens while the watch is held; then the
    // server forgets its history and the held stream is cut.
    let storage = t.sandbox.apiserver().storage.clone();
    for (n, burst) in (0..OBJECTS).collect::<Vec<_>>().chunks(100).enumerate() {
        if n == 3 {
            gate.send_replace(Gate { held: true, cuts: 0 });
        }
        stream::iter(burst.iter().copied())
            .for_each_concurrent(PARALLEL, |i| {
                let api = api.clone();
                async move {
                    api.create(&PostParams::default(), &cm(i)).await.expect("create");
                }
            })
            .await;
        if n == 3 {
            // Deleted while nobody listens: after the re-list these can only reach the
            // handlers as DeletedFinalStateUnknown tombstones.
            for i in HIDDEN_DELETES {
                api.delete(&format!("cm-{i:04}"), &DeleteParams::default()).await.expect("delete");
            }
            storage.forget_history();
            gate.send_replace(Gate { held: false, cuts: 1 });
        }
    }
    stream::iter((0..OBJECTS).step_by(2).filter(|i| !HIDDEN_DELETES.contains(i)))
        .for_each_concurrent(PARALLEL, |i| {
            let api = api.clone();
            async move {
                let patch = Patch::Merge(json!({"data": {"updated": "yes"}}));
                api.patch(&format!("cm-{i:04}"), &PatchParams::default(), &patch).await.expect("patch");
            }
        })
        .await;
    stream::iter((0..OBJECTS).step_by(5))
        .for_each_concurrent(PARALLEL, |i| {
            let api = api.clone();
            async move {
                api.delete(&format!("cm-{i:04}"), &DeleteParams::default()).await.expect("delete");
            }
        })
        .await;

    // Everything written; now the caches must converge on the server's state.
    let want = server_view(&api).await;
    assert_eq!(want.keys().filter(|k| k.starts_with("default/cm-")).count(), OBJECTS - OBJECTS / 5 - HIDDEN_DELETES.len());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let indexer = view(informer.indexer().list().iter().map(|o| o.as_ref()));
        let handlers_done = logs.iter().all(|l| l.lock().unwrap().seen == want);
        if indexer == want && handlers_done {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no convergence: indexer has {} of {} keys", indexer.len(), want.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone.load(Ordering::SeqCst) >= 1, "the watch met a 410 Gone");
    assert!(lists.load(Ordering::SeqCst) >= 2, "the reflector re-listed after the 410");
    // Every handler was told about every object at least once.
    for l in &logs {
        let l = l.lock().unwrap();
        assert!(l.adds >= want.len(), "adds {} < {}", l.adds, want.len());
        assert!(l.deletes >= OBJECTS / 5 + HIDDEN_DELETES.len(), "deletes {} reached the handler", l.deletes);
    }
    stop.stop();
    run.await.unwrap();
    assert!(informer.is_stopped());
}
