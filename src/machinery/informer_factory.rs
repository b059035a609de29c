//! The shared informer factory: client-go's `informers.SharedInformerFactory`
//! (`informers/factory.go`).
//!
//! Controllers in one process ask the factory for the informer of a resource type instead
//! of building their own; the factory hands everyone the *same* [`SharedIndexInformer`]
//! (keyed by group/version/plural), so N controllers watching pods cost one list+watch and
//! one cache. `start` runs every informer requested so far; `wait_for_cache_sync` blocks
//! until their caches hold the first list, the point after which listers can be trusted.
//!
//! kube-rs has no factory: each `Controller`/`watcher` opens its own watch unless the
//! application shares a `reflector::Store` (or uses the shared-stream subscriber API).

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kube::api::{ApiResource, DynamicObject};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use thiserror::Error;
use tokio::task::JoinHandle;

use super::metadata_informer::{MetadataEvents, MetadataListerWatcher, MetadataObject};
use super::reflector::{ListerWatcher, Transform};
use super::shared_informer::{InformerOptions, SharedIndexInformer};
use super::stop::StopSignal;
use super::store::CacheObject;
use super::trace::Tracer;

/// Errors of the factory.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FactoryError {
    /// `informer_for` needs a kube client; this factory was made without one.
    #[error("this informer factory has no client; use informer_with")]
    NoClient,
    /// The key is already used by an informer of another Rust type.
    #[error("informer {0} already exists with another object type")]
    TypeMismatch(String),
}

/// The type-erased side of an informer, so the factory can start and poll them all.
trait InformerRunner: Send + Sync {
    fn start(&self, stop: StopSignal) -> JoinHandle<()>;
    fn has_synced(&self) -> bool;
}

impl<K: CacheObject> InformerRunner for SharedIndexInformer<K> {
    fn start(&self, stop: StopSignal) -> JoinHandle<()> {
        SharedIndexInformer::start(self, stop)
    }
    fn has_synced(&self) -> bool {
        SharedIndexInformer::has_synced(self)
    }
}

struct Entry {
    /// The typed informer, for `downcast_ref` when it is asked for again.
    informer: Box<dyn Any + Send + Sync>,
    runner: Arc<dyn InformerRunner>,
    /// The same informer seen by a metadata-only reader.
    metadata: Arc<dyn MetadataEvents>,
}

/// `group/version/plural`, the factory's key for a resource type (`core` for the legacy group).
pub fn resource_key(group: &str, version: &str, plural: &str) -> String {
    format!("{}/{version}/{plural}", if group.is_empty() { "core" } else { group })
}

/// client-go's `sharedInformerFactory`.
pub struct SharedInformerFactory {
    client: Option<Client>,
    default_resync: Option<Duration>,
    label_selector: Option<String>,
    field_selector: Option<String>,
    tracer: Tracer,
    transform: Option<Transform>,
    /// Per-resource `SetTransform`s (`fn(&mut K)` behind `Any`), given to the informer
    /// when it is first made.
    object_transforms: Mutex<BTreeMap<String, Box<dyn Any + Send + Sync>>>,
    informers: Mutex<BTreeMap<String, Entry>>,
    started: Mutex<Started>,
}

/// client-go's `startedInformers` and `wg`: which informers run, and their tasks.
#[derive(Default)]
struct Started {
    keys: BTreeSet<String>,
    tasks: Vec<JoinHandle<()>>,
}

impl SharedInformerFactory {
    /// `NewSharedInformerFactory(client, defaultResync)` without resync.
    pub fn new(client: Client) -> Self {
        Self::build(Some(client))
    }

    /// A factory whose informers all come from [`informer_with`](Self::informer_with)
    /// (custom or fake list-watchers).
    pub fn without_client() -> Self {
        Self::build(None)
    }

    fn build(client: Option<Client>) -> Self {
        Self {
            client,
            default_resync: None,
            label_selector: None,
            field_selector: None,
            tracer: Tracer::none(),
            transform: None,
            object_transforms: Mutex::new(BTreeMap::new()),
            informers: Mutex::new(BTreeMap::new()),
            started: Mutex::new(Started::default()),
        }
    }

    /// The resync period of every informer this factory creates.
    pub fn with_default_resync(mut self, period: Option<Duration>) -> Self {
        self.default_resync = period;
        self
    }

    /// `WithTweakListOptions`: a label selector for every informer.
    pub fn with_label_selector(mut self, selector: Option<String>) -> Self {
        self.label_selector = selector;
        self
    }

    /// `WithTweakListOptions`: a field selector for every informer.
    pub fn with_field_selector(mut self, selector: Option<String>) -> Self {
        self.field_selector = selector;
        self
    }

    /// A tracer handed to every informer this factory creates.
    pub fn with_tracer(mut self, tracer: Tracer) -> Self {
        self.tracer = tracer;
        self
    }

    /// `WithTransform`: every informer's objects go through `transform` before they are
    /// cached (kube-controller-manager's factory strips managedFields).
    pub fn with_transform(mut self, transform: Option<Transform>) -> Self {
        self.transform = transform;
        self
    }

    /// The typed transform of `K`'s informer, whenever some loop first asks for it
    /// (client-go callers call `SetTransform` on the informer before the factory starts).
    pub fn with_object_transform<K>(self, transform: fn(&mut K)) -> Self
    where
        K: CacheObject + Resource<DynamicType = ()>,
    {
        let key = resource_key(&K::group(&()), &K::version(&()), &K::plural(&()));
        self.object_transforms.lock().unwrap_or_else(|e| e.into_inner()).insert(key, Box::new(transform));
        self
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        self.informers.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn options(&self, name: &str) -> InformerOptions {
        InformerOptions {
            name: name.to_string(),
            resync_period: self.default_resync,
            label_selector: self.label_selector.clone(),
            field_selector: self.field_selector.clone(),
            backoff: None,
            tracer: self.tracer.clone(),
            transform: self.transform,
        }
    }

    /// `InformerFor`: the shared informer of `key`, created from `lister_watcher` if it is
    /// the first request (later requests get the existing one; their `lister_watcher` is
    /// dropped unused).
    pub fn informer_with<K: CacheObject>(
        &self,
        key: &str,
        lister_watcher: impl FnOnce() -> Arc<dyn ListerWatcher<K>>,
    ) -> Result<SharedIndexInformer<K>, FactoryError> {
        let mut informers = self.lock();
        if let Some(entry) = informers.get(key) {
            return entry
                .informer
                .downcast_ref::<SharedIndexInformer<K>>()
                .cloned()
                .ok_or_else(|| FactoryError::TypeMismatch(key.to_string()));
        }
        let informer = SharedIndexInformer::new(lister_watcher(), self.options(key));
        if let Some(t) =
            self.object_transforms.lock().unwrap_or_else(|e| e.into_inner()).get(key).and_then(|t| t.downcast_ref::<fn(&mut K)>())
        {
            // A new informer has not started: this cannot fail.
            let _ = informer.set_transform(*t);
        }
        informers.insert(
            key.to_string(),
            Entry { informer: Box::new(informer.clone()), runner: Arc::new(informer.clone()), metadata: Arc::new(informer.clone()) },
        );
        Ok(informer)
    }

    /// The shared, cluster-wide informer of a typed resource (`factory.Core().V1().Pods().Informer()`).
    pub fn informer_for<K>(&self) -> Result<SharedIndexInformer<K>, FactoryError>
    where
        K: CacheObject + Resource<DynamicType = ()> + DeserializeOwned + Debug,
    {
        let client = self.client.clone().ok_or(FactoryError::NoClient)?;
        let key = resource_key(&K::group(&()), &K::version(&()), &K::plural(&()));
        self.informer_with(&key, move || Arc::new(Api::<K>::all(client)) as Arc<dyn ListerWatcher<K>>)
    }

    /// The shared informer of a resource known only at run time (`dynamicinformer`).
    pub fn dynamic_informer(&self, resource: &ApiResource) -> Result<SharedIndexInformer<DynamicObject>, FactoryError> {
        let client = self.client.clone().ok_or(FactoryError::NoClient)?;
        let key = resource_key(&resource.group, &resource.version, &resource.plural);
        self.informer_with(&key, move || {
            Arc::new(Api::<DynamicObject>::all_with(client, resource)) as Arc<dyn ListerWatcher<DynamicObject>>
        })
    }

    /// The garbage collector's `ForResource`: the informer of `resource` already shared
    /// (typed or dynamic) seen through its metadata, or else a new metadata-only one, so a
    /// metadata reader never opens a second watch nor caches whole objects.
    pub fn metadata_informer(&self, resource: &ApiResource) -> Result<Arc<dyn MetadataEvents>, FactoryError> {
        let key = resource_key(&resource.group, &resource.version, &resource.plural);
        if let Some(entry) = self.lock().get(&key) {
            return Ok(entry.metadata.clone());
        }
        let client = self.client.clone().ok_or(FactoryError::NoClient)?;
        let informer = self.informer_with(&key, move || {
            Arc::new(MetadataListerWatcher(Api::<DynamicObject>::all_with(client, resource))) as Arc<dyn ListerWatcher<MetadataObject>>
        })?;
        Ok(Arc::new(informer))
    }

    /// Keys of the informers requested so far.
    pub fn keys(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// `Start`: runs every requested informer not yet running. Call it again after
    /// requesting more informers.
    pub fn start(&self, stop: &StopSignal) {
        let runners: Vec<(String, Arc<dyn InformerRunner>)> = self.lock().iter().map(|(k, e)| (k.clone(), e.runner.clone())).collect();
        let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
        for (key, runner) in runners {
            if started.keys.insert(key) {
                let task = runner.start(stop.clone());
                started.tasks.push(task);
            }
        }
    }

    /// `WaitForCacheSync`: waits until every started informer has synced, or `stop`.
    /// Returns each started informer's key with whether it synced.
    pub async fn wait_for_cache_sync(&self, stop: &StopSignal) -> BTreeMap<String, bool> {
        let keys = self.started.lock().unwrap_or_else(|e| e.into_inner()).keys.clone();
        let started: Vec<(String, Arc<dyn InformerRunner>)> =
            self.lock().iter().filter(|(k, _)| keys.contains(*k)).map(|(k, e)| (k.clone(), e.runner.clone())).collect();
        let mut result = BTreeMap::new();
        for (key, runner) in started {
            let synced = super::shared_informer::wait_for_cache_sync(stop, &[&|| runner.has_synced()]).await;
            result.insert(key, synced);
        }
        result
    }

    /// `Shutdown`: waits for every started informer to return (signal `stop` first).
    pub async fn shutdown(&self) {
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut self.started.lock().unwrap_or_else(|e| e.into_inner()).tasks);
        for task in tasks {
            let _ = task.await;
        }
    }
}
