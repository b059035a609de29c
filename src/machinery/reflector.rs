//! The reflector: client-go's `tools/cache/reflector.go`.
//!
//! A reflector mirrors one resource type from the API server into a store (here: a
//! [`DeltaFIFO`]). It runs `ListAndWatch` forever:
//!
//! 1. **LIST** everything, `store.replace(items, rv)`, and remember the list's
//!    resourceVersion as the *last-synced resourceVersion*;
//! 2. **WATCH** from that resourceVersion; every ADDED/MODIFIED/DELETED event becomes
//!    `store.add/update/delete` and moves the last-synced rv to the object's rv; a
//!    BOOKMARK moves it without any object (so a quiet resource still has a fresh rv);
//! 3. when the server ends the watch (its timeout), **re-watch** from the last-synced rv:
//!    no list needed, nothing missed;
//! 4. when the server answers **410 Gone** (the rv is older than what etcd's history keeps,
//!    as a watch ERROR event carrying a `Status` with code 410, or a failed request), the
//!    only way back is a **re-list**; DeltaFIFO's `replace` then reports the objects that
//!    vanished meanwhile as `DeletedFinalStateUnknown`;
//! 5. on any other error, **back off** (exponential, 800 ms to 30 s, reset after 2 min of
//!    calm, as client-go's backoff manager) and start over from the list.
//!
//! List and watch go through a [`ListerWatcher`], implemented for `kube::Api<K>` with its
//! low-level `list` and `watch` calls, and by fakes in tests.
//!
//! kube-rs: `kube::runtime::watcher` is this state machine (its `State::{Empty,
//! InitListed, Watching}`), with `kube::runtime::reflector` writing the events into a
//! `Store`; its backoff is `watcher::DefaultBackoff`.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ListParams, ObjectList, VersionMatch, WatchEvent, WatchParams};
use kube::core::Status;
use kube::{Api, ResourceExt};
use serde::de::DeserializeOwned;
use thiserror::Error;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use super::delta_fifo::{DeltaFIFO, DeltaObject};
use super::indexer::Indexer;
use super::stop::StopSignal;
use super::store::{meta_namespace_key_func, CacheObject, Store, StoreError};
use super::trace::{Trace, Tracer};

/// The stream of events a watch returns.
pub type WatchStream<K> = BoxStream<'static, Result<WatchEvent<K>, kube::Error>>;

/// client-go's `ListerWatcher`: the two API calls a reflector needs.
pub trait ListerWatcher<K: Clone>: Send + Sync {
    /// `GET /…/pods?resourceVersion=…`.
    fn list(&self, params: ListParams) -> BoxFuture<'_, Result<ObjectList<K>, kube::Error>>;
    /// `GET /…/pods?watch=1&resourceVersion=…`.
    fn watch(&self, params: WatchParams, resource_version: String) -> BoxFuture<'_, Result<WatchStream<K>, kube::Error>>;
}

impl<K> ListerWatcher<K> for Api<K>
where
    K: CacheObject + DeserializeOwned + Debug,
{
    fn list(&self, params: ListParams) -> BoxFuture<'_, Result<ObjectList<K>, kube::Error>> {
        Box::pin(async move { Api::list(self, &params).await })
    }

    fn watch(&self, params: WatchParams, resource_version: String) -> BoxFuture<'_, Result<WatchStream<K>, kube::Error>> {
        Box::pin(async move { Ok(Api::watch(self, &params, &resource_version).await?.boxed()) })
    }
}

/// Where a reflector writes (client-go passes a `Store`; in an informer it is the DeltaFIFO).
pub trait ReflectorStore<K>: Send + Sync {
    fn add(&self, obj: Arc<K>) -> Result<(), StoreError>;
    fn update(&self, obj: Arc<K>) -> Result<(), StoreError>;
    fn delete(&self, obj: Arc<K>) -> Result<(), StoreError>;
    fn replace(&self, list: Vec<Arc<K>>, resource_version: &str) -> Result<(), StoreError>;
    fn resync(&self) -> Result<(), StoreError>;
}

impl<K: CacheObject> ReflectorStore<K> for DeltaFIFO<K> {
    fn add(&self, obj: Arc<K>) -> Result<(), StoreError> {
        DeltaFIFO::add(self, obj)
    }
    fn update(&self, obj: Arc<K>) -> Result<(), StoreError> {
        DeltaFIFO::update(self, obj)
    }
    fn delete(&self, obj: Arc<K>) -> Result<(), StoreError> {
        DeltaFIFO::delete(self, DeltaObject::Object(obj))
    }
    fn replace(&self, list: Vec<Arc<K>>, resource_version: &str) -> Result<(), StoreError> {
        DeltaFIFO::replace(self, list, resource_version)
    }
    fn resync(&self) -> Result<(), StoreError> {
        DeltaFIFO::resync(self)
    }
}

/// A reflector can also keep a plain indexer current (kube-rs' `reflector` does only that).
impl<K: CacheObject> ReflectorStore<K> for Indexer<K> {
    fn add(&self, obj: Arc<K>) -> Result<(), StoreError> {
        Store::add(self, obj)
    }
    fn update(&self, obj: Arc<K>) -> Result<(), StoreError> {
        Store::update(self, obj)
    }
    fn delete(&self, obj: Arc<K>) -> Result<(), StoreError> {
        Store::delete(self, &obj)
    }
    fn replace(&self, list: Vec<Arc<K>>, resource_version: &str) -> Result<(), StoreError> {
        Store::replace(self, list, resource_version)
    }
    fn resync(&self) -> Result<(), StoreError> {
        Store::resync(self)
    }
}

/// Why a `ListAndWatch` round ended with an error (and the reflector backs off).
#[derive(Debug, Error)]
pub enum ReflectorError {
    #[error("failed to list: {0}")]
    List(#[source] kube::Error),
    #[error("failed to watch: {0}")]
    Watch(#[source] kube::Error),
    #[error("watch stream failed: {0}")]
    WatchStream(#[source] kube::Error),
    #[error("watch returned an error status {code} {reason}: {message}")]
    WatchStatus { code: u16, reason: String, message: String },
    #[error("very short watch: the watch ended within a second without any event")]
    VeryShortWatch,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether an API error means "this resourceVersion is too old" (`isExpiredError`).
pub fn is_gone(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if is_gone_status(status))
}

fn is_gone_status(status: &Status) -> bool {
    status.code == 410 || status.reason == "Expired" || status.reason == "Gone"
}

/// Parameters of the backoff between failed `ListAndWatch` rounds
/// (client-go: `NewExponentialBackoffManager(800ms, 30s, 2min, 2.0, 1.0)`).
#[derive(Clone, Debug)]
pub struct BackoffConfig {
    pub initial: Duration,
    pub max: Duration,
    pub factor: f64,
    /// After this long without a backoff, start again from `initial`.
    pub reset_after: Duration,
    /// Adds up to `jitter * delay` at random, so many clients do not retry in lockstep.
    pub jitter: f64,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(800),
            max: Duration::from_secs(30),
            factor: 2.0,
            reset_after: Duration::from_secs(120),
            jitter: 1.0,
        }
    }
}

struct Backoff {
    config: BackoffConfig,
    current: Duration,
    last: Option<Instant>,
}

impl Backoff {
    fn new(config: BackoffConfig) -> Self {
        Self { current: config.initial, config, last: None }
    }

    fn next(&mut self) -> Duration {
        let now = Instant::now();
        let calm = self.last.is_none_or(|l| now.duration_since(l) > self.config.reset_after);
        self.current = if calm { self.config.initial } else { self.current.mul_f64(self.config.factor).min(self.config.max) };
        self.last = Some(now);
        self.current + self.current.mul_f64(self.config.jitter * rand::random::<f64>())
    }
}

/// The object-carrying watch event types.
#[derive(Clone, Copy)]
enum WatchAction {
    Added,
    Modified,
    Deleted,
}

impl WatchAction {
    /// The event type as the API server spells it.
    fn as_str(self) -> &'static str {
        match self {
            WatchAction::Added => "ADDED",
            WatchAction::Modified => "MODIFIED",
            WatchAction::Deleted => "DELETED",
        }
    }
}

/// How a watch ended.
enum WatchOutcome {
    /// The server closed it (timeout): re-watch from the last-synced rv.
    Ended,
    /// 410 Gone: re-list.
    Gone,
}

/// client-go's `Reflector`.
pub struct Reflector<K: Clone> {
    name: String,
    lister_watcher: Arc<dyn ListerWatcher<K>>,
    store: Arc<dyn ReflectorStore<K>>,
    label_selector: Option<String>,
    field_selector: Option<String>,
    resync_period: Option<Duration>,
    min_watch_timeout: Duration,
    backoff: BackoffConfig,
    last_sync_resource_version: Arc<Mutex<String>>,
    tracer: Tracer,
    transform: Option<Transform>,
    object_transform: Option<fn(&mut K)>,
}

/// client-go's `TransformFunc`, on what every object has: its metadata. Applied to each
/// listed or watched object before it reaches the store, so the cache keeps only what its
/// readers need (kube-controller-manager drops `managedFields`: [`strip_managed_fields`]).
pub type Transform = fn(&mut ObjectMeta);

/// kube-controller-manager's informer transform: the field-manager bookkeeping, often the
/// largest part of an object's metadata, is never read by a controller.
pub fn strip_managed_fields(meta: &mut ObjectMeta) {
    meta.managed_fields = None;
}

impl<K: CacheObject> Reflector<K> {
    /// `NewReflector(lw, expectedType, store, resyncPeriod)` without resync.
    pub fn new(name: impl Into<String>, lister_watcher: Arc<dyn ListerWatcher<K>>, store: Arc<dyn ReflectorStore<K>>) -> Self {
        Self {
            name: name.into(),
            lister_watcher,
            store,
            label_selector: None,
            field_selector: None,
            resync_period: None,
            min_watch_timeout: Duration::from_secs(145),
            backoff: BackoffConfig::default(),
            last_sync_resource_version: Arc::new(Mutex::new(String::new())),
            tracer: Tracer::none(),
            transform: None,
            object_transform: None,
        }
    }

    /// Applies `transform` to every object before it is stored (`SetTransform`).
    pub fn with_transform(mut self, transform: Option<Transform>) -> Self {
        self.transform = transform;
        self
    }

    /// Applies `transform` to every whole object too, after the metadata transform (an
    /// informer's own `SetTransform`, knowing its type).
    pub fn with_object_transform(mut self, transform: Option<fn(&mut K)>) -> Self {
        self.object_transform = transform;
        self
    }

    fn transformed(&self, mut obj: K) -> Arc<K> {
        if let Some(t) = self.transform {
            t(obj.meta_mut());
        }
        if let Some(t) = self.object_transform {
            t(&mut obj);
        }
        Arc::new(obj)
    }

    /// Calls `store.resync()` every `period` while watching (None or zero: never).
    pub fn with_resync_period(mut self, period: Option<Duration>) -> Self {
        self.resync_period = period.filter(|p| !p.is_zero());
        self
    }

    /// Only objects matching this label selector (`tweakListOptions`).
    pub fn with_label_selector(mut self, selector: Option<String>) -> Self {
        self.label_selector = selector;
        self
    }

    /// Only objects matching this field selector.
    pub fn with_field_selector(mut self, selector: Option<String>) -> Self {
        self.field_selector = selector;
        self
    }

    /// Watches ask the server to end them after a random time in `[t, 2t)` (capped at
    /// 290 s), so that many clients do not re-watch in lockstep.
    pub fn with_min_watch_timeout(mut self, t: Duration) -> Self {
        self.min_watch_timeout = t;
        self
    }

    /// Replaces the default backoff.
    pub fn with_backoff(mut self, backoff: BackoffConfig) -> Self {
        self.backoff = backoff;
        self
    }

    /// Reports list, watch, bookmark, 410 and backoff moments.
    pub fn with_tracer(mut self, tracer: Tracer) -> Self {
        self.tracer = tracer;
        self
    }

    /// The reflector's name (usually the resource's plural), for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `LastSyncResourceVersion`: the rv of the last list, event or bookmark seen.
    pub fn last_sync_resource_version(&self) -> String {
        self.last_sync_resource_version.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A handle that keeps reading the last-synced rv after the reflector moved into a task.
    pub fn last_sync_resource_version_handle(&self) -> Arc<Mutex<String>> {
        self.last_sync_resource_version.clone()
    }

    /// Keeps the last-synced rv in `cell` (shared with its owner, e.g. the informer).
    pub fn with_last_sync_resource_version_handle(mut self, cell: Arc<Mutex<String>>) -> Self {
        self.last_sync_resource_version = cell;
        self
    }

    fn set_last_sync_resource_version(&self, rv: &str) {
        if !rv.is_empty() {
            *self.last_sync_resource_version.lock().unwrap_or_else(|e| e.into_inner()) = rv.to_string();
        }
    }

    /// `Run`: `ListAndWatch` until `stop`, backing off between rounds.
    pub async fn run(&self, stop: StopSignal) {
        let mut backoff = Backoff::new(self.backoff.clone());
        let mut last_sync_unavailable = false;
        while !stop.is_stopped() {
            let round = tokio::select! {
                r = self.list_and_watch(&mut last_sync_unavailable) => r,
                _ = stop.stopped() => return,
            };
            let delay = backoff.next();
            let error = match round {
                Ok(()) => "re-list requested".to_string(),
                Err(e) => e.to_string(),
            };
            self.tracer.emit(|| Trace::BackOff { error, delay });
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stop.stopped() => return,
            }
        }
    }

    /// `relistResourceVersion`: "0" (any cached state is fine) for the first list, the
    /// last-synced rv afterwards, and "" (the latest, from etcd) after a 410.
    fn relist_params(&self, last_sync_unavailable: bool) -> ListParams {
        let mut lp =
            ListParams { label_selector: self.label_selector.clone(), field_selector: self.field_selector.clone(), ..Default::default() };
        if last_sync_unavailable {
            return lp;
        }
        let last = self.last_sync_resource_version();
        lp.resource_version = Some(if last.is_empty() { "0".to_string() } else { last });
        lp.version_match = Some(VersionMatch::NotOlderThan);
        lp
    }

    /// One `ListAndWatch` round. `Ok` means "re-list now" (a 410 during the watch).
    async fn list_and_watch(&self, last_sync_unavailable: &mut bool) -> Result<(), ReflectorError> {
        let list = match self.lister_watcher.list(self.relist_params(*last_sync_unavailable)).await {
            Err(e) if is_gone(&e) => {
                // The rv we asked for is compacted away: ask for the latest state instead.
                self.tracer.emit(|| Trace::ListGone { resource_version: self.last_sync_resource_version() });
                *last_sync_unavailable = true;
                self.lister_watcher.list(self.relist_params(true)).await.map_err(ReflectorError::List)?
            }
            r => r.map_err(ReflectorError::List)?,
        };
        *last_sync_unavailable = false;
        let resource_version = list.metadata.resource_version.clone().unwrap_or_default();
        let items: Vec<Arc<K>> = list.items.into_iter().map(|o| self.transformed(o)).collect();
        self.tracer.emit(|| Trace::Listed { resource_version: resource_version.clone(), items: items.len() });
        self.store.replace(items, &resource_version)?;
        self.set_last_sync_resource_version(&resource_version);

        let mut resync = self.resync_period.map(|p| {
            let mut i = tokio::time::interval_at(Instant::now() + p, p);
            i.set_missed_tick_behavior(MissedTickBehavior::Delay);
            i
        });
        loop {
            let resource_version = self.last_sync_resource_version();
            let timeout = self.min_watch_timeout.mul_f64(1.0 + rand::random::<f64>()).as_secs().clamp(1, 290) as u32;
            let wp = WatchParams {
                label_selector: self.label_selector.clone(),
                field_selector: self.field_selector.clone(),
                timeout: Some(timeout),
                bookmarks: true,
                ..Default::default()
            };
            self.tracer.emit(|| Trace::WatchStarted { resource_version: resource_version.clone() });
            let stream = match self.lister_watcher.watch(wp, resource_version.clone()).await {
                Ok(s) => s,
                Err(e) if is_gone(&e) => {
                    self.tracer.emit(|| Trace::WatchGone { resource_version });
                    return Ok(());
                }
                Err(e) => return Err(ReflectorError::Watch(e)),
            };
            match self.watch_handler(stream, &mut resync).await? {
                WatchOutcome::Ended => {
                    self.tracer.emit(|| Trace::WatchEnded { resource_version: self.last_sync_resource_version() });
                }
                WatchOutcome::Gone => {
                    self.tracer.emit(|| Trace::WatchGone { resource_version: self.last_sync_resource_version() });
                    return Ok(());
                }
            }
        }
    }

    /// `watchHandler`: applies events to the store until the stream ends or fails.
    async fn watch_handler(&self, mut stream: WatchStream<K>, resync: &mut Option<Interval>) -> Result<WatchOutcome, ReflectorError> {
        let start = Instant::now();
        let mut events = 0usize;
        loop {
            let next = tokio::select! {
                next = stream.next() => next,
                _ = tick(resync) => {
                    self.tracer.emit(|| Trace::ResyncRequested);
                    self.store.resync()?;
                    continue;
                }
            };
            let event = match next {
                None => {
                    // A server that closes every watch at once would make us spin: client-go
                    // treats that as an error, so the backoff applies.
                    if events == 0 && start.elapsed() < Duration::from_secs(1) {
                        return Err(ReflectorError::VeryShortWatch);
                    }
                    return Ok(WatchOutcome::Ended);
                }
                Some(Err(e)) if is_gone(&e) => return Ok(WatchOutcome::Gone),
                Some(Err(e)) => return Err(ReflectorError::WatchStream(e)),
                Some(Ok(event)) => event,
            };
            events += 1;
            let (action, obj) = match event {
                WatchEvent::Added(o) => (WatchAction::Added, o),
                WatchEvent::Modified(o) => (WatchAction::Modified, o),
                WatchEvent::Deleted(o) => (WatchAction::Deleted, o),
                WatchEvent::Bookmark(b) => {
                    let rv = b.metadata.resource_version;
                    self.set_last_sync_resource_version(&rv);
                    self.tracer.emit(|| Trace::Bookmark { resource_version: rv });
                    continue;
                }
                WatchEvent::Error(status) if is_gone_status(&status) => return Ok(WatchOutcome::Gone),
                WatchEvent::Error(status) => {
                    return Err(ReflectorError::WatchStatus { code: status.code, reason: status.reason, message: status.message })
                }
            };
            let rv = obj.resource_version().unwrap_or_default();
            let obj = self.transformed(obj);
            self.tracer.emit(|| Trace::WatchEvent {
                event: action.as_str(),
                key: meta_namespace_key_func(obj.as_ref()).unwrap_or_else(|e| e.to_string()),
                resource_version: rv.clone(),
            });
            match action {
                WatchAction::Added => self.store.add(obj)?,
                WatchAction::Modified => self.store.update(obj)?,
                WatchAction::Deleted => self.store.delete(obj)?,
            }
            self.set_last_sync_resource_version(&rv);
        }
    }
}

/// Waits for the next resync tick, or forever without a resync period.
async fn tick(resync: &mut Option<Interval>) {
    match resync {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}
