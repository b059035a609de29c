//! The shared informer: client-go's `tools/cache/shared_informer.go` and `controller.go`.
//!
//! A [`SharedIndexInformer`] wires the pipeline together and is shared by every
//! controller interested in one resource type, so the API server sees one list+watch
//! and the process holds one cache:
//!
//! - its **reflector** lists and watches into a **DeltaFIFO** whose `knownObjects` is the
//!   informer's **indexer**;
//! - its **process loop** (`controller.processLoop`) pops each key's deltas and runs
//!   [`handle_deltas`](SharedIndexInformer::handle_deltas) (`HandleDeltas` /
//!   `processDeltas`): apply the delta to the indexer first, *then* tell the handlers, so a
//!   handler that reads the cache sees at least the state it was told about;
//! - the **sharedProcessor** distributes each notification to every
//!   **processorListener**; each listener owns an unbounded buffer and a task that calls its
//!   handler, so a slow handler only delays itself, never the process loop nor the others.
//!
//! A handler added after start first receives an Add for every cached object (client-go
//! replays the indexer under `blockDeltas`, so no delta slips between the replay and the
//! live stream). A resync period makes the reflector queue `Sync` deltas, which arrive as
//! updates whose old and new object are the same.
//!
//! Simplification: client-go lets each handler ask for its own resync period and only
//! notifies the handlers that are due; here the informer has one period and every handler
//! receives the resync updates.
//!
//! kube-rs: `kube::runtime::reflector` + `watcher` give the cache and the event stream;
//! sharing one watch between several consumers is `reflector::store::Writer::new_shared`
//! with `ReflectHandle` subscribers (the `unstable-runtime-subscribe` feature), and
//! `Controller::new` plays the role of a handler that enqueues keys.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::delta_fifo::{DeltaFIFO, DeltaObject, DeltaType, Deltas};
use super::indexer::{Indexer, Indexers};
use super::lister::Lister;
use super::reflector::{BackoffConfig, ListerWatcher, Reflector, Transform};
use super::stop::StopSignal;
use super::store::{meta_namespace_key_func, CacheObject, KeyListerGetter, StoreError};
use super::trace::{IndexerOp, NotificationKind, Trace, Tracer};

/// client-go's `ResourceEventHandler`. Called on the listener's own task, one
/// notification at a time, in the order the informer saw them.
pub trait ResourceEventHandler<K>: Send + Sync + 'static {
    /// A new object; `is_in_initial_list` is true for objects of the first list (or the
    /// replay to a handler added late), so a controller can tell start-up from real news.
    fn on_add(&self, obj: &Arc<K>, is_in_initial_list: bool);
    /// A changed object; `old` and `new` are the same object on a resync.
    fn on_update(&self, old: &Arc<K>, new: &Arc<K>);
    /// A deleted object, or a `DeletedFinalStateUnknown` tombstone when the deletion
    /// happened while the watch was down.
    fn on_delete(&self, obj: &DeltaObject<K>);
}

type AddFunc<K> = Box<dyn Fn(&Arc<K>, bool) + Send + Sync>;
type UpdateFunc<K> = Box<dyn Fn(&Arc<K>, &Arc<K>) + Send + Sync>;
type DeleteFunc<K> = Box<dyn Fn(&DeltaObject<K>) + Send + Sync>;

/// client-go's `ResourceEventHandlerFuncs`: a handler from optional closures.
pub struct ResourceEventHandlerFuncs<K> {
    add_func: Option<AddFunc<K>>,
    update_func: Option<UpdateFunc<K>>,
    delete_func: Option<DeleteFunc<K>>,
}

impl<K> Default for ResourceEventHandlerFuncs<K> {
    fn default() -> Self {
        Self { add_func: None, update_func: None, delete_func: None }
    }
}

impl<K> ResourceEventHandlerFuncs<K> {
    /// A handler that ignores everything until closures are set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `AddFunc`.
    pub fn on_add(mut self, f: impl Fn(&Arc<K>, bool) + Send + Sync + 'static) -> Self {
        self.add_func = Some(Box::new(f));
        self
    }

    /// Sets `UpdateFunc`.
    pub fn on_update(mut self, f: impl Fn(&Arc<K>, &Arc<K>) + Send + Sync + 'static) -> Self {
        self.update_func = Some(Box::new(f));
        self
    }

    /// Sets `DeleteFunc`.
    pub fn on_delete(mut self, f: impl Fn(&DeltaObject<K>) + Send + Sync + 'static) -> Self {
        self.delete_func = Some(Box::new(f));
        self
    }
}

impl<K: Send + Sync + 'static> ResourceEventHandler<K> for ResourceEventHandlerFuncs<K> {
    fn on_add(&self, obj: &Arc<K>, is_in_initial_list: bool) {
        if let Some(f) = &self.add_func {
            f(obj, is_in_initial_list)
        }
    }
    fn on_update(&self, old: &Arc<K>, new: &Arc<K>) {
        if let Some(f) = &self.update_func {
            f(old, new)
        }
    }
    fn on_delete(&self, obj: &DeltaObject<K>) {
        if let Some(f) = &self.delete_func {
            f(obj)
        }
    }
}

/// What travels from the processor to a listener (`addNotification`, ...).
pub enum Notification<K> {
    Add { obj: Arc<K>, is_in_initial_list: bool },
    Update { old: Arc<K>, new: Arc<K> },
    Delete(DeltaObject<K>),
}

impl<K> Clone for Notification<K> {
    fn clone(&self) -> Self {
        match self {
            Notification::Add { obj, is_in_initial_list } => {
                Notification::Add { obj: obj.clone(), is_in_initial_list: *is_in_initial_list }
            }
            Notification::Update { old, new } => Notification::Update { old: old.clone(), new: new.clone() },
            Notification::Delete(o) => Notification::Delete(o.clone()),
        }
    }
}

impl<K: CacheObject> Notification<K> {
    fn kind(&self) -> NotificationKind {
        match self {
            Notification::Add { .. } => NotificationKind::Add,
            Notification::Update { .. } => NotificationKind::Update,
            Notification::Delete(_) => NotificationKind::Delete,
        }
    }

    fn key(&self) -> String {
        let obj = match self {
            Notification::Add { obj, .. } => obj,
            Notification::Update { new, .. } => new,
            Notification::Delete(DeltaObject::DeletedFinalStateUnknown { key, .. }) => return key.clone(),
            Notification::Delete(DeltaObject::Object(obj)) => obj,
        };
        meta_namespace_key_func(obj.as_ref()).unwrap_or_else(|e| e.to_string())
    }

    fn is_initial_add(&self) -> bool {
        matches!(self, Notification::Add { is_in_initial_list: true, .. })
    }
}

/// client-go's `synctrack.SingleFileTracker`: counts initial-list notifications that a
/// listener has received but its handler has not finished yet.
#[derive(Default)]
struct SyncTracker {
    pending_initial: AtomicUsize,
}

/// client-go's `processorListener`: one handler, its buffer, its task.
struct ProcessorListener<K> {
    id: usize,
    name: String,
    /// The unbounded buffer (client-go's `pendingNotifications` ring buffer + `addCh`).
    tx: mpsc::UnboundedSender<Notification<K>>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<Notification<K>>>>,
    handler: Arc<dyn ResourceEventHandler<K>>,
    tracker: Arc<SyncTracker>,
    tracer: Tracer,
}

impl<K: CacheObject> ProcessorListener<K> {
    /// `add`: never blocks, whatever the handler is doing.
    fn add(&self, n: Notification<K>) {
        if n.is_initial_add() {
            self.tracker.pending_initial.fetch_add(1, Ordering::SeqCst);
        }
        self.tracer.emit(|| Trace::Notified { listener: self.name.clone(), kind: n.kind(), key: n.key() });
        // The receiver only goes away when the listener's task stopped; nothing to deliver then.
        let _ = self.tx.send(n);
    }

    /// `run`: delivers buffered notifications to the handler, in order, until stopped.
    fn spawn_run(&self, stop: StopSignal) -> Option<JoinHandle<()>> {
        let mut rx = self.rx.lock().unwrap_or_else(|e| e.into_inner()).take()?;
        let handler = self.handler.clone();
        let tracker = self.tracker.clone();
        let tracer = self.tracer.clone();
        let name = self.name.clone();
        Some(tokio::spawn(async move {
            loop {
                let n = tokio::select! {
                    n = rx.recv() => match n { Some(n) => n, None => return },
                    _ = stop.stopped() => return,
                };
                match &n {
                    Notification::Add { obj, is_in_initial_list } => handler.on_add(obj, *is_in_initial_list),
                    Notification::Update { old, new } => handler.on_update(old, new),
                    Notification::Delete(obj) => handler.on_delete(obj),
                }
                tracer.emit(|| Trace::Handled { listener: name.clone(), kind: n.kind(), key: n.key() });
                if n.is_initial_add() {
                    tracker.pending_initial.fetch_sub(1, Ordering::SeqCst);
                }
            }
        }))
    }
}

/// client-go's `sharedProcessor`.
struct SharedProcessor<K> {
    listeners: RwLock<Vec<Arc<ProcessorListener<K>>>>,
    /// Set by `run`: listeners added later start at once with this signal.
    running: Mutex<Option<StopSignal>>,
}

impl<K: CacheObject> SharedProcessor<K> {
    fn add_listener(&self, listener: Arc<ProcessorListener<K>>) {
        self.listeners.write().unwrap_or_else(|e| e.into_inner()).push(listener.clone());
        if let Some(stop) = self.running.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            listener.spawn_run(stop);
        }
    }

    fn remove_listener(&self, id: usize) -> bool {
        let mut listeners = self.listeners.write().unwrap_or_else(|e| e.into_inner());
        let before = listeners.len();
        // Dropping the listener drops its sender: its task drains the buffer and ends.
        listeners.retain(|l| l.id != id);
        before != listeners.len()
    }

    fn distribute(&self, n: Notification<K>) {
        for listener in self.listeners.read().unwrap_or_else(|e| e.into_inner()).iter() {
            listener.add(n.clone());
        }
    }

    fn run(&self, stop: StopSignal) {
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = Some(stop.clone());
        for listener in self.listeners.read().unwrap_or_else(|e| e.into_inner()).iter() {
            listener.spawn_run(stop.clone());
        }
    }
}

/// Returned by [`SharedIndexInformer::add_event_handler`]
/// (client-go's `ResourceEventHandlerRegistration`).
pub struct ResourceEventHandlerRegistration<K> {
    id: usize,
    name: String,
    tracker: Arc<SyncTracker>,
    fifo: DeltaFIFO<K>,
}

impl<K: CacheObject> ResourceEventHandlerRegistration<K> {
    /// The listener's name, as it appears in traces.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True once the informer has synced *and* this handler has processed every
    /// notification of the initial list.
    pub fn has_synced(&self) -> bool {
        self.fifo.has_synced() && self.tracker.pending_initial.load(Ordering::SeqCst) == 0
    }
}

/// Options of a [`SharedIndexInformer`].
#[derive(Clone, Debug, Default)]
pub struct InformerOptions {
    /// Name for traces (usually the resource's plural).
    pub name: String,
    /// Resync period (None: never).
    pub resync_period: Option<Duration>,
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    /// The reflector's backoff (None: client-go's defaults).
    pub backoff: Option<BackoffConfig>,
    pub tracer: Tracer,
    /// What every object goes through before it is cached (`SetTransform`).
    pub transform: Option<Transform>,
}

struct Inner<K: Clone> {
    options: InformerOptions,
    lister_watcher: Arc<dyn ListerWatcher<K>>,
    indexer: Indexer<K>,
    fifo: DeltaFIFO<K>,
    processor: SharedProcessor<K>,
    /// client-go's `blockDeltas`: held while deltas are applied and while a late handler
    /// is replayed the cache, so the two never interleave.
    block_deltas: Mutex<()>,
    started: AtomicBool,
    stopped: AtomicBool,
    next_listener_id: AtomicUsize,
    last_sync_resource_version: Arc<Mutex<String>>,
    /// `SetTransform`, typed: set before the informer runs.
    object_transform: Mutex<Option<fn(&mut K)>>,
}

/// Why [`SharedIndexInformer::set_transform`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    /// client-go's words: a running informer's cache would hold objects of both shapes.
    #[error("informer has already started")]
    AlreadyStarted,
}

/// client-go's `sharedIndexInformer`. Cloning gives another handle to the same informer.
pub struct SharedIndexInformer<K: Clone> {
    inner: Arc<Inner<K>>,
}

impl<K: Clone> Clone for SharedIndexInformer<K> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone() }
    }
}

impl<K: CacheObject> fmt::Debug for SharedIndexInformer<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedIndexInformer").field("name", &self.inner.options.name).field("has_synced", &self.has_synced()).finish()
    }
}

impl<K: CacheObject> SharedIndexInformer<K> {
    /// `NewSharedIndexInformer(lw, exampleObject, resyncPeriod, indexers)` with the namespace index.
    pub fn new(lister_watcher: Arc<dyn ListerWatcher<K>>, options: InformerOptions) -> Self {
        let indexer = Indexer::new();
        let known: Arc<dyn KeyListerGetter<K>> = Arc::new(indexer.clone());
        let fifo = DeltaFIFO::with_options(meta_namespace_key_func::<K>, Some(known), options.tracer.clone());
        Self {
            inner: Arc::new(Inner {
                options,
                lister_watcher,
                indexer,
                fifo,
                processor: SharedProcessor { listeners: RwLock::new(Vec::new()), running: Mutex::new(None) },
                block_deltas: Mutex::new(()),
                started: AtomicBool::new(false),
                stopped: AtomicBool::new(false),
                next_listener_id: AtomicUsize::new(0),
                last_sync_resource_version: Arc::new(Mutex::new(String::new())),
                object_transform: Mutex::new(None),
            }),
        }
    }

    /// client-go's `SetTransform`: every listed and watched object goes through
    /// `transform` before it is cached and handed to handlers, so the cache keeps only
    /// what its readers need. Only before the informer starts.
    pub fn set_transform(&self, transform: fn(&mut K)) -> Result<(), TransformError> {
        if self.inner.started.load(Ordering::SeqCst) {
            return Err(TransformError::AlreadyStarted);
        }
        *self.inner.object_transform.lock().unwrap_or_else(|e| e.into_inner()) = Some(transform);
        Ok(())
    }

    fn block_deltas(&self) -> MutexGuard<'_, ()> {
        self.inner.block_deltas.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The informer's name.
    pub fn name(&self) -> &str {
        &self.inner.options.name
    }

    /// `GetIndexer`: the cache (read it; only the informer writes it).
    pub fn indexer(&self) -> Indexer<K> {
        self.inner.indexer.clone()
    }

    /// A lister over the cache.
    pub fn lister(&self) -> Lister<K> {
        Lister::new(self.inner.indexer.clone())
    }

    /// The DeltaFIFO between reflector and process loop, for demos to inspect.
    pub fn delta_fifo(&self) -> DeltaFIFO<K> {
        self.inner.fifo.clone()
    }

    /// `AddIndexers`: more secondary indexes (existing objects are indexed at once).
    pub fn add_indexers(&self, indexers: Indexers<K>) -> Result<(), StoreError> {
        self.inner.indexer.add_indexers(indexers)
    }

    /// `HasSynced`: every object of the first list has reached the cache.
    pub fn has_synced(&self) -> bool {
        self.inner.fifo.has_synced()
    }

    /// `LastSyncResourceVersion`.
    pub fn last_sync_resource_version(&self) -> String {
        self.inner.last_sync_resource_version.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether `run` was called.
    pub fn is_started(&self) -> bool {
        self.inner.started.load(Ordering::SeqCst)
    }

    /// Whether `run` has returned.
    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::SeqCst)
    }

    /// `AddEventHandler`, with an automatic listener name.
    pub fn add_event_handler(&self, handler: impl ResourceEventHandler<K>) -> ResourceEventHandlerRegistration<K> {
        let id = self.inner.next_listener_id.load(Ordering::SeqCst);
        self.add_named_event_handler(format!("{}#{}", self.name(), id), handler)
    }

    /// `AddEventHandler` with a name that traces use. Works before and after start: after
    /// start, the handler first receives an initial Add for every cached object.
    pub fn add_named_event_handler(
        &self,
        name: impl Into<String>,
        handler: impl ResourceEventHandler<K>,
    ) -> ResourceEventHandlerRegistration<K> {
        let id = self.inner.next_listener_id.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = mpsc::unbounded_channel();
        let tracker = Arc::new(SyncTracker::default());
        let name = name.into();
        let listener = Arc::new(ProcessorListener {
            id,
            name: name.clone(),
            tx,
            rx: Mutex::new(Some(rx)),
            handler: Arc::new(handler),
            tracker: tracker.clone(),
            tracer: self.inner.options.tracer.clone(),
        });
        let _guard = self.block_deltas();
        if self.is_started() {
            for obj in self.inner.indexer.list() {
                listener.add(Notification::Add { obj, is_in_initial_list: true });
            }
        }
        self.inner.processor.add_listener(listener);
        ResourceEventHandlerRegistration { id, name, tracker, fifo: self.inner.fifo.clone() }
    }

    /// `RemoveEventHandler`: the handler receives nothing new (what it buffered is still delivered).
    pub fn remove_event_handler(&self, registration: &ResourceEventHandlerRegistration<K>) -> bool {
        let _guard = self.block_deltas();
        self.inner.processor.remove_listener(registration.id)
    }

    /// Spawns [`run`](Self::run) on the runtime.
    pub fn start(&self, stop: StopSignal) -> JoinHandle<()> {
        let informer = self.clone();
        tokio::spawn(async move { informer.run(stop).await })
    }

    /// `Run`: starts the listeners and the reflector, then pops deltas until `stop`.
    /// A second call returns at once (an informer runs once).
    pub async fn run(&self, stop: StopSignal) {
        if self.inner.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let options = &self.inner.options;
        let store: Arc<DeltaFIFO<K>> = Arc::new(self.inner.fifo.clone());
        let mut reflector = Reflector::new(options.name.clone(), self.inner.lister_watcher.clone(), store)
            .with_resync_period(options.resync_period)
            .with_label_selector(options.label_selector.clone())
            .with_field_selector(options.field_selector.clone())
            .with_tracer(options.tracer.clone())
            .with_transform(options.transform)
            .with_object_transform(*self.inner.object_transform.lock().unwrap_or_else(|e| e.into_inner()))
            .with_last_sync_resource_version_handle(self.inner.last_sync_resource_version.clone());
        if let Some(backoff) = &options.backoff {
            reflector = reflector.with_backoff(backoff.clone());
        }

        // Listeners added so far start now; later ones start as they are added.
        {
            let _guard = self.block_deltas();
            self.inner.processor.run(stop.clone());
        }
        let reflector_stop = stop.clone();
        let reflector_task = tokio::spawn(async move { reflector.run(reflector_stop).await });

        // controller.processLoop
        loop {
            let popped = tokio::select! {
                r = self.inner.fifo.pop(|deltas, initial| self.handle_deltas(deltas, initial)) => r,
                _ = stop.stopped() => break,
            };
            if popped.is_err() {
                break;
            }
        }
        self.inner.fifo.close();
        let _ = reflector_task.await;
        self.inner.stopped.store(true, Ordering::SeqCst);
    }

    /// `HandleDeltas` / `processDeltas`: applies one key's deltas, oldest first, to the
    /// indexer and notifies the listeners. Runs under the DeltaFIFO's lock (see `pop`).
    pub fn handle_deltas(&self, deltas: Deltas<K>, is_in_initial_list: bool) {
        let _guard = self.block_deltas();
        let indexer = &self.inner.indexer;
        let tracer = &self.inner.options.tracer;
        for delta in deltas {
            let Ok(key) = self.inner.fifo.key_of(&delta.object) else { continue };
            match delta.kind {
                DeltaType::Sync | DeltaType::Replaced | DeltaType::Added | DeltaType::Updated => {
                    let obj = delta.object.object().clone();
                    if let Some(old) = indexer.get_by_key(&key) {
                        indexer.add_with_key(key.clone(), obj.clone());
                        tracer.emit(|| Trace::IndexerUpdated { key, op: IndexerOp::Update });
                        self.inner.processor.distribute(Notification::Update { old, new: obj });
                    } else {
                        indexer.add_with_key(key.clone(), obj.clone());
                        tracer.emit(|| Trace::IndexerUpdated { key, op: IndexerOp::Add });
                        self.inner.processor.distribute(Notification::Add { obj, is_in_initial_list });
                    }
                }
                DeltaType::Deleted => {
                    indexer.delete_by_key(&key);
                    tracer.emit(|| Trace::IndexerUpdated { key, op: IndexerOp::Delete });
                    self.inner.processor.distribute(Notification::Delete(delta.object));
                }
            }
        }
    }
}

/// `cache.WaitForCacheSync`: polls every 100 ms until every function returns true
/// (`true`) or `stop` is signalled (`false`).
pub async fn wait_for_cache_sync(stop: &StopSignal, synced: &[&(dyn Fn() -> bool + Sync)]) -> bool {
    loop {
        if synced.iter().all(|f| f()) {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = stop.stopped() => return false,
        }
    }
}
