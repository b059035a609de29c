//! The list-watch pipeline against a scripted, fake ListerWatcher: reflector behaviour
//! (initial list, watch, bookmarks, 410 -> re-list, watch end -> re-watch, backoff), informer
//! handler delivery (slow handler isolation, late handlers, tombstones, resync) and the
//! informer factory.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::channel::mpsc as fmpsc;
use futures::future::BoxFuture;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use kube::api::{ListParams, ObjectList, TypeMeta, WatchEvent, WatchParams};
use kube::core::watch::{Bookmark, BookmarkMeta};
use kube::core::Status;

use kubelab::machinery::delta_fifo::DeltaObject;
use kubelab::machinery::indexer::Indexer;
use kubelab::machinery::informer_factory::{FactoryError, SharedInformerFactory};
use kubelab::machinery::reflector::{BackoffConfig, ListerWatcher, Reflector, WatchStream};
use kubelab::machinery::shared_informer::{InformerOptions, ResourceEventHandlerFuncs, SharedIndexInformer};
use kubelab::machinery::stop::StopSignal;
use kubelab::machinery::trace::{Trace, Tracer};

type Event = Result<WatchEvent<ConfigMap>, kube::Error>;

/// What one `watch` call answers.
enum WatchScript {
    /// These events, then the stream ends (a server-side timeout).
    Close(Vec<Event>),
    /// Events fed live by the test through the sender; the stream stays open.
    Live(fmpsc::UnboundedReceiver<Event>),
    /// The watch request itself fails.
    Fail(kube::Error),
}

/// A ListerWatcher answering from scripts and recording what it was asked.
#[derive(Default)]
struct FakeListerWatcher {
    lists: Mutex<VecDeque<Result<ObjectList<ConfigMap>, kube::Error>>>,
    watches: Mutex<VecDeque<WatchScript>>,
    list_calls: Mutex<Vec<Option<String>>>,
    watch_calls: Mutex<Vec<String>>,
}

impl FakeListerWatcher {
    fn list(self, rv: &str, items: Vec<ConfigMap>) -> Self {
        self.lists.lock().unwrap().push_back(Ok(object_list(rv, items)));
        self
    }
    fn list_err(self, e: kube::Error) -> Self {
        self.lists.lock().unwrap().push_back(Err(e));
        self
    }
    fn watch(self, w: WatchScript) -> Self {
        self.watches.lock().unwrap().push_back(w);
        self
    }
    fn list_calls(&self) -> Vec<Option<String>> {
        self.list_calls.lock().unwrap().clone()
    }
    fn watch_calls(&self) -> Vec<String> {
        self.watch_calls.lock().unwrap().clone()
    }
}

impl ListerWatcher<ConfigMap> for FakeListerWatcher {
    fn list(&self, params: ListParams) -> BoxFuture<'_, Result<ObjectList<ConfigMap>, kube::Error>> {
        self.list_calls.lock().unwrap().push(params.resource_version.clone());
        let next = self.lists.lock().unwrap().pop_front();
        Box::pin(async move {
            match next {
                Some(r) => r,
                // Out of script: hang, as a server that never answers.
                None => std::future::pending().await,
            }
        })
    }

    fn watch(&self, _params: WatchParams, resource_version: String) -> BoxFuture<'_, Result<WatchStream<ConfigMap>, kube::Error>> {
        self.watch_calls.lock().unwrap().push(resource_version);
        let next = self.watches.lock().unwrap().pop_front();
        Box::pin(async move {
            match next {
                Some(WatchScript::Close(events)) => Ok(futures::stream::iter(events).boxed()),
                Some(WatchScript::Live(rx)) => Ok(rx.boxed()),
                Some(WatchScript::Fail(e)) => Err(e),
                None => Ok(futures::stream::pending().boxed()),
            }
        })
    }
}

fn cm(name: &str, rv: &str) -> ConfigMap {
    let mut c = ConfigMap::default();
    c.metadata.name = Some(name.into());
    c.metadata.namespace = Some("ns".into());
    c.metadata.resource_version = Some(rv.into());
    c
}

fn object_list(rv: &str, items: Vec<ConfigMap>) -> ObjectList<ConfigMap> {
    ObjectList {
        types: TypeMeta { api_version: "v1".into(), kind: "ConfigMapList".into() },
        metadata: ListMeta { resource_version: Some(rv.into()), ..Default::default() },
        items,
    }
}

fn gone() -> Status {
    Status::failure("too old resource version", "Expired").with_code(410)
}

fn bookmark(rv: &str) -> Event {
    Ok(WatchEvent::Bookmark(Bookmark {
        types: TypeMeta { api_version: "v1".into(), kind: "ConfigMap".into() },
        metadata: BookmarkMeta { resource_version: rv.into(), annotations: Default::default() },
    }))
}

fn fast_backoff() -> BackoffConfig {
    BackoffConfig {
        initial: Duration::from_millis(1),
        max: Duration::from_millis(5),
        factor: 2.0,
        reset_after: Duration::from_secs(60),
        jitter: 0.0,
    }
}

/// Polls `cond` for up to 5 s.
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}

fn recorder() -> (Tracer, Arc<Mutex<Vec<Trace>>>) {
    let traces = Arc::new(Mutex::new(Vec::new()));
    let sink = traces.clone();
    (Tracer::new(move |t| sink.lock().unwrap().push(t)), traces)
}

fn reflector_into(lw: Arc<FakeListerWatcher>, store: Indexer<ConfigMap>, tracer: Tracer) -> Reflector<ConfigMap> {
    Reflector::new("configmaps", lw, Arc::new(store)).with_backoff(fast_backoff()).with_tracer(tracer)
}

/// Runs the reflector on its own task; stop it with the returned signal, then await the task.
fn run_reflector(reflector: Reflector<ConfigMap>) -> (StopSignal, tokio::task::JoinHandle<()>) {
    let stop = StopSignal::new();
    let task = tokio::spawn({
        let stop = stop.clone();
        async move { reflector.run(stop).await }
    });
    (stop, task)
}

#[tokio::test]
async fn reflector_lists_then_watches_from_the_list_rv_and_tracks_bookmarks() {
    let (live_tx, live_rx) = fmpsc::unbounded();
    let lw = Arc::new(FakeListerWatcher::default().list("10", vec![cm("a", "5"), cm("b", "7")]).watch(WatchScript::Live(live_rx)));
    let store = Indexer::new();
    let (tracer, traces) = recorder();
    let reflector = reflector_into(lw.clone(), store.clone(), tracer);
    let rv = reflector.last_sync_resource_version_handle();
    let (stop, task) = run_reflector(reflector);

    eventually("initial list stored", || store.len() == 2).await;
    eventually("watch started", || lw.watch_calls() == vec!["10"]).await;
    // The first list may be served from the watch cache: resourceVersion "0".
    assert_eq!(lw.list_calls(), vec![Some("0".to_string())]);

    live_tx.unbounded_send(Ok(WatchEvent::Added(cm("c", "11")))).unwrap();
    live_tx.unbounded_send(Ok(WatchEvent::Modified(cm("a", "12")))).unwrap();
    live_tx.unbounded_send(Ok(WatchEvent::Deleted(cm("b", "13")))).unwrap();
    eventually("events applied", || store.list_keys() == vec!["ns/a", "ns/c"]).await;
    eventually("rv from events", || *rv.lock().unwrap() == "13").await;
    assert_eq!(store.get_by_key("ns/a").unwrap().metadata.resource_version.as_deref(), Some("12"));

    live_tx.unbounded_send(bookmark("20")).unwrap();
    eventually("rv from bookmark", || *rv.lock().unwrap() == "20").await;

    stop.stop();
    task.await.unwrap();
    let traces = traces.lock().unwrap();
    assert_eq!(traces[0], Trace::Listed { resource_version: "10".into(), items: 2 });
    assert!(traces.contains(&Trace::Bookmark { resource_version: "20".into() }));
}

#[tokio::test]
async fn watch_410_relists_and_a_410_list_asks_for_the_latest_state() {
    let lw = Arc::new(
        FakeListerWatcher::default()
            .list("10", vec![cm("a", "1"), cm("b", "2")])
            .watch(WatchScript::Close(vec![Ok(WatchEvent::Added(cm("c", "11"))), Ok(WatchEvent::Error(Box::new(gone())))]))
            // Re-list at the last-synced rv "11": compacted away too.
            .list_err(kube::Error::Api(Box::new(gone())))
            .list("30", vec![cm("a", "1"), cm("d", "25")]),
    );
    let store = Indexer::new();
    let (tracer, traces) = recorder();
    let reflector = reflector_into(lw.clone(), store.clone(), tracer);
    let (stop, task) = run_reflector(reflector);
    eventually("second watch", || lw.watch_calls().len() == 2).await;
    assert_eq!(lw.list_calls(), vec![Some("0".to_string()), Some("11".to_string()), None]);
    assert_eq!(lw.watch_calls(), vec!["10", "30"]);
    assert_eq!(store.list_keys(), vec!["ns/a", "ns/d"]);
    stop.stop();
    task.await.unwrap();
    let traces = traces.lock().unwrap();
    assert!(traces.contains(&Trace::WatchGone { resource_version: "11".into() }));
    assert!(traces.contains(&Trace::ListGone { resource_version: "11".into() }));
}

#[tokio::test]
async fn watch_request_failing_with_410_relists() {
    let lw = Arc::new(
        FakeListerWatcher::default()
            .list("10", vec![cm("a", "1")])
            .watch(WatchScript::Fail(kube::Error::Api(Box::new(gone()))))
            .list("40", vec![cm("b", "40")]),
    );
    let store = Indexer::new();
    let reflector = reflector_into(lw.clone(), store.clone(), Tracer::none());
    let (stop, task) = run_reflector(reflector);
    eventually("re-listed and watching", || lw.watch_calls() == vec!["10", "40"]).await;
    assert_eq!(store.list_keys(), vec!["ns/b"]);
    stop.stop();
    task.await.unwrap();
}

#[tokio::test]
async fn watch_end_rewatches_from_the_last_rv_without_listing() {
    let lw = Arc::new(
        FakeListerWatcher::default()
            .list("10", vec![])
            .watch(WatchScript::Close(vec![Ok(WatchEvent::Added(cm("c", "11"))), bookmark("15")]))
            .watch(WatchScript::Close(vec![Ok(WatchEvent::Modified(cm("c", "16")))])),
    );
    let store = Indexer::new();
    let (tracer, traces) = recorder();
    let reflector = reflector_into(lw.clone(), store.clone(), tracer);
    let (stop, task) = run_reflector(reflector);
    eventually("third watch", || lw.watch_calls().len() == 3).await;
    assert_eq!(lw.watch_calls(), vec!["10", "15", "16"]);
    assert_eq!(lw.list_calls().len(), 1, "a watch that ends is resumed, not re-listed");
    assert_eq!(store.get_by_key("ns/c").unwrap().metadata.resource_version.as_deref(), Some("16"));
    stop.stop();
    task.await.unwrap();
    assert!(traces.lock().unwrap().contains(&Trace::WatchEnded { resource_version: "15".into() }));
}

#[tokio::test]
async fn errors_back_off_then_retry_the_list() {
    let lw = Arc::new(
        FakeListerWatcher::default()
            .list_err(kube::Error::Api(Box::new(Status::failure("etcd unavailable", "InternalError").with_code(500))))
            .list("10", vec![cm("a", "1")])
            .watch(WatchScript::Close(vec![Ok(WatchEvent::Error(Box::new(Status::failure("boom", "InternalError").with_code(500))))]))
            .list("12", vec![cm("a", "1"), cm("b", "12")]),
    );
    let store = Indexer::new();
    let (tracer, traces) = recorder();
    let reflector = reflector_into(lw.clone(), store.clone(), tracer);
    let (stop, task) = run_reflector(reflector);
    eventually("recovered", || store.len() == 2).await;
    // The failed first list is retried with "0"; after the watch error the list resumes at "10".
    assert_eq!(lw.list_calls(), vec![Some("0".to_string()), Some("0".to_string()), Some("10".to_string())]);
    stop.stop();
    task.await.unwrap();
    let backoffs = traces.lock().unwrap().iter().filter(|t| matches!(t, Trace::BackOff { .. })).count();
    assert_eq!(backoffs, 2);
}

/// Records what a handler saw, as strings like `add ns/a initial`.
fn recording_handler(log: Arc<Mutex<Vec<String>>>) -> ResourceEventHandlerFuncs<ConfigMap> {
    let (l1, l2, l3) = (log.clone(), log.clone(), log);
    ResourceEventHandlerFuncs::<ConfigMap>::new()
        .on_add(move |o, initial| {
            l1.lock().unwrap().push(format!("add {} {}", o.metadata.name.as_deref().unwrap(), if initial { "initial" } else { "live" }))
        })
        .on_update(move |old, new| {
            let same = Arc::ptr_eq(old, new);
            l2.lock().unwrap().push(format!("update {} {}", new.metadata.name.as_deref().unwrap(), if same { "resync" } else { "change" }))
        })
        .on_delete(move |o| {
            let name = o.object().metadata.name.clone().unwrap();
            l3.lock().unwrap().push(format!("delete {name}{}", if o.is_tombstone() { " tombstone" } else { "" }))
        })
}

fn informer(lw: Arc<FakeListerWatcher>, resync: Option<Duration>, tracer: Tracer) -> SharedIndexInformer<ConfigMap> {
    SharedIndexInformer::new(
        lw,
        InformerOptions { name: "configmaps".into(), resync_period: resync, backoff: Some(fast_backoff()), tracer, ..Default::default() },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn informer_delivers_to_every_handler_and_a_slow_one_blocks_only_itself() {
    let (live_tx, live_rx) = fmpsc::unbounded();
    let lw = Arc::new(FakeListerWatcher::default().list("10", vec![cm("a", "1"), cm("b", "2")]).watch(WatchScript::Live(live_rx)));
    let (tracer, traces) = recorder();
    let inf = informer(lw, None, tracer);
    let fast_log = Arc::new(Mutex::new(Vec::new()));
    let fast = inf.add_named_event_handler("fast", recording_handler(fast_log.clone()));
    // The slow handler blocks on its first notification until the test releases it.
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let slow_seen = Arc::new(AtomicUsize::new(0));
    let seen = slow_seen.clone();
    let slow = inf.add_named_event_handler(
        "slow",
        ResourceEventHandlerFuncs::new()
            .on_add(move |_, _| {
                if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                    release_rx.lock().unwrap().recv().unwrap();
                }
            })
            .on_update({
                let seen = slow_seen.clone();
                move |_, _| {
                    seen.fetch_add(1, Ordering::SeqCst);
                }
            })
            .on_delete({
                let seen = slow_seen.clone();
                move |_| {
                    seen.fetch_add(1, Ordering::SeqCst);
                }
            }),
    );
    let stop = StopSignal::new();
    let task = inf.start(stop.clone());

    eventually("informer synced", || inf.has_synced()).await;
    live_tx.unbounded_send(Ok(WatchEvent::Modified(cm("a", "11")))).unwrap();
    live_tx.unbounded_send(Ok(WatchEvent::Deleted(cm("b", "12")))).unwrap();
    live_tx.unbounded_send(Ok(WatchEvent::Added(cm("c", "13")))).unwrap();
    eventually("fast handler saw everything", || fast_log.lock().unwrap().len() == 5).await;
    assert_eq!(*fast_log.lock().unwrap(), vec!["add a initial", "add b initial", "update a change", "delete b", "add c live"]);
    assert!(fast.has_synced());
    assert_eq!(inf.last_sync_resource_version(), "13");
    // The slow one is still stuck on its first notification, and not synced.
    assert_eq!(slow_seen.load(Ordering::SeqCst), 1);
    assert!(!slow.has_synced());
    assert_eq!(inf.indexer().list_keys(), vec!["ns/a", "ns/c"]);
    assert_eq!(inf.lister().namespaced("ns").get("a").unwrap().metadata.resource_version.as_deref(), Some("11"));

    release_tx.send(()).unwrap();
    eventually("slow handler caught up", || slow_seen.load(Ordering::SeqCst) == 5).await;
    assert!(slow.has_synced());
    stop.stop();
    task.await.unwrap();
    assert!(inf.is_stopped());
    // The whole hand-off chain for c was narrated.
    let traces = traces.lock().unwrap();
    let c_chain: Vec<&Trace> = traces
        .iter()
        .filter(|t| match t {
            Trace::WatchEvent { key, .. }
            | Trace::DeltaQueued { key, .. }
            | Trace::Popped { key, .. }
            | Trace::IndexerUpdated { key, .. } => key == "ns/c",
            Trace::Notified { key, listener, .. } | Trace::Handled { key, listener, .. } => key == "ns/c" && listener == "fast",
            _ => false,
        })
        .collect();
    assert!(matches!(c_chain[0], Trace::WatchEvent { event: "ADDED", .. }), "{c_chain:?}");
    assert!(matches!(c_chain[1], Trace::DeltaQueued { .. }), "{c_chain:?}");
    assert!(matches!(c_chain[2], Trace::Popped { .. }), "{c_chain:?}");
    assert!(matches!(c_chain[3], Trace::IndexerUpdated { .. }), "{c_chain:?}");
    assert!(matches!(c_chain[4], Trace::Notified { .. }), "{c_chain:?}");
    assert!(matches!(c_chain[5], Trace::Handled { .. }), "{c_chain:?}");
}

#[tokio::test]
async fn a_handler_added_after_sync_is_replayed_the_cache() {
    let lw = Arc::new(FakeListerWatcher::default().list("10", vec![cm("a", "1"), cm("b", "2")]));
    let inf = informer(lw, None, Tracer::none());
    let stop = StopSignal::new();
    let task = inf.start(stop.clone());
    eventually("synced", || inf.has_synced()).await;
    let log = Arc::new(Mutex::new(Vec::new()));
    let reg = inf.add_event_handler(recording_handler(log.clone()));
    eventually("replayed", || log.lock().unwrap().len() == 2).await;
    assert_eq!(*log.lock().unwrap(), vec!["add a initial", "add b initial"]);
    eventually("registration synced", || reg.has_synced()).await;
    assert!(inf.remove_event_handler(&reg));
    assert!(!inf.remove_event_handler(&reg));
    stop.stop();
    task.await.unwrap();
}

#[tokio::test]
async fn objects_deleted_during_a_watch_outage_arrive_as_tombstones() {
    let lw = Arc::new(
        FakeListerWatcher::default()
            .list("10", vec![cm("a", "1"), cm("b", "2")])
            .watch(WatchScript::Close(vec![Ok(WatchEvent::Error(Box::new(gone())))]))
            .list("20", vec![cm("a", "1")]),
    );
    let inf = informer(lw.clone(), None, Tracer::none());
    let log = Arc::new(Mutex::new(Vec::new()));
    inf.add_event_handler(recording_handler(log.clone()));
    let stop = StopSignal::new();
    let task = inf.start(stop.clone());
    eventually("tombstone delivered", || log.lock().unwrap().len() == 4).await;
    // a is re-listed unchanged (same rv): a resync-like update; b vanished unseen.
    assert_eq!(*log.lock().unwrap(), vec!["add a initial", "add b initial", "update a change", "delete b tombstone"]);
    assert_eq!(inf.indexer().list_keys(), vec!["ns/a"]);
    stop.stop();
    task.await.unwrap();
}

#[tokio::test]
async fn resync_period_redelivers_cached_objects_as_updates() {
    let lw = Arc::new(FakeListerWatcher::default().list("10", vec![cm("a", "1")]));
    let inf = informer(lw, Some(Duration::from_millis(30)), Tracer::none());
    let log = Arc::new(Mutex::new(Vec::new()));
    inf.add_event_handler(recording_handler(log.clone()));
    let stop = StopSignal::new();
    let task = inf.start(stop.clone());
    eventually("two resyncs", || log.lock().unwrap().iter().filter(|l| *l == "update a resync").count() >= 2).await;
    assert_eq!(log.lock().unwrap()[0], "add a initial");
    stop.stop();
    task.await.unwrap();
}

#[tokio::test]
async fn factory_shares_one_informer_per_key_and_waits_for_sync() {
    let factory = SharedInformerFactory::without_client();
    let lw = Arc::new(FakeListerWatcher::default().list("10", vec![cm("a", "1")]));
    let first = factory.informer_with::<ConfigMap>("core/v1/configmaps", || lw.clone()).unwrap();
    let built_again = AtomicUsize::new(0);
    let second = factory
        .informer_with::<ConfigMap>("core/v1/configmaps", || {
            built_again.fetch_add(1, Ordering::SeqCst);
            lw.clone()
        })
        .unwrap();
    assert_eq!(built_again.load(Ordering::SeqCst), 0, "the second request reuses the first informer");
    let mismatch = factory.informer_with::<k8s_openapi::api::core::v1::Secret>("core/v1/configmaps", || unreachable!());
    assert_eq!(mismatch.err(), Some(FactoryError::TypeMismatch("core/v1/configmaps".into())));
    assert_eq!(factory.informer_for::<ConfigMap>().err(), Some(FactoryError::NoClient));

    let stop = StopSignal::new();
    factory.start(&stop);
    factory.start(&stop); // idempotent
    let synced = factory.wait_for_cache_sync(&stop).await;
    assert_eq!(synced.into_iter().collect::<Vec<_>>(), vec![("core/v1/configmaps".to_string(), true)]);
    assert_eq!(second.indexer().list_keys(), vec!["ns/a"]);
    assert_eq!(first.lister().list().len(), 1);
    assert_eq!(lw.list_calls().len(), 1, "one list for both users");
    stop.stop();
    factory.shutdown().await;
    assert!(first.is_stopped());
}

#[tokio::test]
async fn tombstone_objects_carry_the_last_known_state() {
    // DeltaObject is what on_delete receives; make sure its accessors agree.
    let t: DeltaObject<ConfigMap> = DeltaObject::DeletedFinalStateUnknown { key: "ns/x".into(), obj: Arc::new(cm("x", "9")) };
    assert!(t.is_tombstone());
    assert_eq!(t.object().metadata.resource_version.as_deref(), Some("9"));
}

#[tokio::test]
async fn a_metadata_reader_shares_the_typed_informer_and_gets_metadata_only() {
    use kubelab::machinery::metadata_informer::MetadataEvent;
    let factory = SharedInformerFactory::without_client();
    let lw = Arc::new(FakeListerWatcher::default().list("10", vec![cm("a", "1"), cm("b", "2")]));
    factory.informer_with::<ConfigMap>("core/v1/configmaps", || lw.clone()).unwrap();
    // No client: a new metadata informer could not be made, so this must be the typed one.
    let resource = kube::api::ApiResource::erase::<ConfigMap>(&());
    let events = factory.metadata_informer(&resource).expect("the typed informer, seen through its metadata");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    events.add_metadata_handler(
        "reader",
        Arc::new(move |e| {
            if let MetadataEvent::Add(m) = e {
                s.lock().unwrap().push(m.name.clone().unwrap_or_default());
            }
        }),
    );
    let stop = StopSignal::new();
    factory.start(&stop);
    eventually("both adds", || seen.lock().unwrap().len() == 2).await;
    assert_eq!(factory.keys(), vec!["core/v1/configmaps"], "one informer, one watch");
    assert_eq!(lw.list_calls().len(), 1);
    let secrets = kube::api::ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&());
    assert_eq!(factory.metadata_informer(&secrets).err().map(|e| e.to_string()), Some(FactoryError::NoClient.to_string()));
    stop.stop();
    factory.shutdown().await;
}

#[tokio::test]
async fn transforms_shape_what_is_cached_and_only_before_the_start() {
    use kubelab::machinery::reflector::strip_managed_fields;
    use kubelab::machinery::shared_informer::TransformError;
    fn drop_data(cm: &mut ConfigMap) {
        cm.data = None;
    }
    let mut full = cm("a", "1");
    full.data = Some([("k".to_string(), "v".to_string())].into());
    full.metadata.managed_fields = Some(vec![Default::default()]);
    let lw = Arc::new(FakeListerWatcher::default().list("10", vec![full]));
    let factory =
        SharedInformerFactory::without_client().with_transform(Some(strip_managed_fields)).with_object_transform::<ConfigMap>(drop_data);
    let informer = factory.informer_with::<ConfigMap>("core/v1/configmaps", || lw.clone()).unwrap();
    let stop = StopSignal::new();
    factory.start(&stop);
    eventually("synced", || informer.has_synced()).await;
    let cached = informer.lister().get("ns/a").unwrap();
    assert!(cached.data.is_none(), "the typed transform ran");
    assert!(cached.metadata.managed_fields.is_none(), "the metadata transform ran");
    assert_eq!(informer.set_transform(drop_data), Err(TransformError::AlreadyStarted));
    stop.stop();
    factory.shutdown().await;
}
