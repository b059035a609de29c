//! The informer against a real API server (the in-process sandbox): 1,000 ConfigMaps
//! created, half of them updated, a fifth deleted while it runs, with the watch cache
//! forgotten mid-stream so the watch answers `410 Gone` and the reflector must re-list.
//! At the end the indexer equals the server's list and every handler holds every final
//! state (same keys, same resourceVersions).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{stream, StreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use kubelab::commands::informer_demo::{recording_handler, view, CacheView, HandlerLog};
use kubelab::machinery::shared_informer::{wait_for_cache_sync, InformerOptions, SharedIndexInformer};
use kubelab::machinery::stop::StopSignal;
use kubelab::machinery::trace::{Trace, Tracer};

const OBJECTS: usize = 1_000;
const HANDLERS: usize = 3;
const PARALLEL: usize = 32;

fn cm(i: usize) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": format!("cm-{i:04}"), "labels": {"test": "informer"}}, "data": {"n": i.to_string()}})).unwrap()
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
    let informer = SharedIndexInformer::new(Arc::new(api.clone()), InformerOptions { name: "configmaps".into(), tracer, ..Default::default() });
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

    // Creates in bursts; after each burst, if no 410 was met yet, forget the watch cache:
    // a watcher still reading behind that point gets an ERROR 410 event.
    let storage = t.sandbox.apiserver().storage.clone();
    for burst in (0..OBJECTS).collect::<Vec<_>>().chunks(100) {
        stream::iter(burst.iter().copied())
            .for_each_concurrent(PARALLEL, |i| {
                let api = api.clone();
                async move {
                    api.create(&PostParams::default(), &cm(i)).await.expect("create");
                }
            })
            .await;
        if gone.load(Ordering::SeqCst) == 0 {
            storage.forget_history();
        }
    }
    stream::iter((0..OBJECTS).step_by(2))
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
    assert_eq!(want.keys().filter(|k| k.starts_with("default/cm-")).count(), OBJECTS - OBJECTS / 5);
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
        assert!(l.deletes >= 1, "deletes reached the handler");
    }
    stop.stop();
    run.await.unwrap();
    assert!(informer.is_stopped());
}
