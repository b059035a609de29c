//! The DeltaFIFO: client-go's `tools/cache/delta_fifo.go`.
//!
//! Between the reflector and the informer sits a queue that records *what happened* to
//! each object, not just its latest state. For every key it keeps the ordered list of
//! [`Delta`]s (Added, Updated, Deleted, Replaced, Sync) that arrived since the key was
//! last popped; the key itself is queued once. `pop` hands *all* deltas of the oldest key
//! to a process function at once, so the informer sees e.g. `[Added, Updated, Deleted]`
//! and can update its cache and notify handlers in order.
//!
//! Two subtleties make it more than a map of lists:
//!
//! - `replace(list)` (after every LIST) must also report objects that vanished while the
//!   watch was down. It asks `knownObjects` (the informer's indexer) for the keys it holds;
//!   every key missing from the list (or still waiting in the queue without being in the
//!   list) gets a `Deleted` delta whose object is a
//!   [`DeltaObject::DeletedFinalStateUnknown`] tombstone: the last state we knew, because
//!   the real final state was never seen.
//! - `resync()` re-queues every known object as a `Sync` delta, unless that key already
//!   has deltas pending (those are newer than the cache).
//!
//! `has_synced` turns true once the items of the first `replace` have all been popped:
//! that is what `WaitForCacheSync` waits for.
//!
//! kube-rs: `kube::runtime::watcher` yields `Event::{Init, InitApply, InitDone, Apply,
//! Delete}` one object at a time; there is no per-key batching. The tombstones of objects
//! missed during a re-list are implicit: `reflector::store::Writer` swaps in the new state
//! on `InitDone`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use thiserror::Error;
use tokio::sync::Notify;

use super::store::{meta_namespace_key_func, CacheObject, KeyFunc, KeyListerGetter, StoreError};
use super::trace::{Trace, Tracer};

/// client-go's `DeltaType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeltaType {
    /// The watch (or a `Add` call) reported a new object.
    Added,
    /// The watch reported a change.
    Updated,
    /// The object is gone (possibly a tombstone, see [`DeltaObject`]).
    Deleted,
    /// The object was in a re-list (`Replace`); the informer treats it as add-or-update.
    Replaced,
    /// A periodic resync re-delivers a cached object unchanged.
    Sync,
}

/// The object a delta carries: the object itself, or a tombstone.
#[derive(Debug)]
pub enum DeltaObject<K> {
    /// The object as the API server sent it.
    Object(Arc<K>),
    /// client-go's `DeletedFinalStateUnknown`: the object was deleted while we were not
    /// watching; `obj` is the last state the cache had, possibly stale.
    DeletedFinalStateUnknown { key: String, obj: Arc<K> },
}

impl<K> Clone for DeltaObject<K> {
    fn clone(&self) -> Self {
        match self {
            DeltaObject::Object(o) => DeltaObject::Object(o.clone()),
            DeltaObject::DeletedFinalStateUnknown { key, obj } => {
                DeltaObject::DeletedFinalStateUnknown { key: key.clone(), obj: obj.clone() }
            }
        }
    }
}

impl<K> DeltaObject<K> {
    /// The object, or the tombstone's last known state.
    pub fn object(&self) -> &Arc<K> {
        match self {
            DeltaObject::Object(o) => o,
            DeltaObject::DeletedFinalStateUnknown { obj, .. } => obj,
        }
    }

    /// Whether this is a `DeletedFinalStateUnknown` tombstone.
    pub fn is_tombstone(&self) -> bool {
        matches!(self, DeltaObject::DeletedFinalStateUnknown { .. })
    }
}

/// client-go's `Delta`: what happened, and the object after it happened.
#[derive(Debug)]
pub struct Delta<K> {
    pub kind: DeltaType,
    pub object: DeltaObject<K>,
}

impl<K> Clone for Delta<K> {
    fn clone(&self) -> Self {
        Self { kind: self.kind, object: self.object.clone() }
    }
}

/// client-go's `Deltas`: the deltas of one key, oldest first.
pub type Deltas<K> = Vec<Delta<K>>;

/// `ErrFIFOClosed`: `pop` on a closed, drained queue.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error("DeltaFIFO: manipulating with closed queue")]
pub struct FifoClosed;

struct State<K> {
    /// client-go's `items`: key -> pending deltas.
    items: HashMap<String, Deltas<K>>,
    /// client-go's `queue`: keys in pop order; each key at most once.
    queue: VecDeque<String>,
    /// True once the first `replace` or any add/update/delete happened.
    populated: bool,
    /// Items of the first `replace` not yet popped.
    initial_population_count: usize,
    closed: bool,
}

struct Shared<K> {
    state: Mutex<State<K>>,
    cond: Notify,
    key_func: KeyFunc<K>,
    known_objects: Option<Arc<dyn KeyListerGetter<K>>>,
    tracer: Tracer,
}

/// client-go's `DeltaFIFO`. Cloning gives another handle to the same queue.
pub struct DeltaFIFO<K> {
    shared: Arc<Shared<K>>,
}

impl<K> Clone for DeltaFIFO<K> {
    fn clone(&self) -> Self {
        Self { shared: self.shared.clone() }
    }
}

impl<K: CacheObject> fmt::Debug for DeltaFIFO<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeltaFIFO").field("pending", &self.snapshot()).finish()
    }
}

impl<K: CacheObject> DeltaFIFO<K> {
    /// `NewDeltaFIFOWithOptions({KeyFunction: MetaNamespaceKeyFunc, KnownObjects: known_objects, EmitDeltaTypeReplaced: true})`.
    pub fn new(known_objects: Option<Arc<dyn KeyListerGetter<K>>>) -> Self {
        Self::with_options(meta_namespace_key_func::<K>, known_objects, Tracer::none())
    }

    /// Same, with an explicit key function and a tracer.
    pub fn with_options(key_func: KeyFunc<K>, known_objects: Option<Arc<dyn KeyListerGetter<K>>>, tracer: Tracer) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    items: HashMap::new(),
                    queue: VecDeque::new(),
                    populated: false,
                    initial_population_count: 0,
                    closed: false,
                }),
                cond: Notify::new(),
                key_func,
                known_objects,
                tracer,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<K>> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `KeyOf`: a tombstone's key is the one it was filed under.
    pub fn key_of(&self, obj: &DeltaObject<K>) -> Result<String, StoreError> {
        match obj {
            DeltaObject::Object(o) => (self.shared.key_func)(o),
            DeltaObject::DeletedFinalStateUnknown { key, .. } => Ok(key.clone()),
        }
    }

    /// `Add`: queues an Added delta.
    pub fn add(&self, obj: Arc<K>) -> Result<(), StoreError> {
        let mut s = self.lock();
        s.populated = true;
        self.queue_action_locked(&mut s, DeltaType::Added, DeltaObject::Object(obj))
    }

    /// `Update`: queues an Updated delta.
    pub fn update(&self, obj: Arc<K>) -> Result<(), StoreError> {
        let mut s = self.lock();
        s.populated = true;
        self.queue_action_locked(&mut s, DeltaType::Updated, DeltaObject::Object(obj))
    }

    /// `Delete`: queues a Deleted delta, unless neither the queue nor `knownObjects`
    /// has ever heard of the object (nothing to tell anyone about).
    pub fn delete(&self, obj: DeltaObject<K>) -> Result<(), StoreError> {
        let key = self.key_of(&obj)?;
        let mut s = self.lock();
        s.populated = true;
        let in_items = s.items.contains_key(&key);
        let known = match &self.shared.known_objects {
            Some(known) => known.get_by_key(&key).is_some(),
            None => false,
        };
        if !in_items && !known {
            return Ok(());
        }
        self.queue_action_locked(&mut s, DeltaType::Deleted, obj)
    }

    /// `queueActionLocked`: appends a delta, collapses duplicate deletes, queues the key once.
    fn queue_action_locked(&self, s: &mut State<K>, kind: DeltaType, obj: DeltaObject<K>) -> Result<(), StoreError> {
        let key = self.key_of(&obj)?;
        let is_new = !s.items.contains_key(&key);
        let deltas = s.items.entry(key.clone()).or_default();
        deltas.push(Delta { kind, object: obj });
        if dedup_deltas(deltas) {
            self.shared.tracer.emit(|| Trace::DeltaDeduplicated { key: key.clone() });
        }
        let pending = deltas.len();
        if is_new {
            s.queue.push_back(key.clone());
        }
        self.shared.tracer.emit(|| Trace::DeltaQueued { key, delta: kind, pending });
        self.shared.cond.notify_one();
        Ok(())
    }

    /// `Replace`: the result of a LIST. Every listed object gets a Replaced delta; every
    /// key that the queue or `knownObjects` has but the list lacks gets a Deleted delta
    /// with a `DeletedFinalStateUnknown` tombstone.
    pub fn replace(&self, list: Vec<Arc<K>>, _resource_version: &str) -> Result<(), StoreError> {
        let mut s = self.lock();
        let mut keys = HashSet::with_capacity(list.len());
        for obj in list {
            let key = (self.shared.key_func)(&obj)?;
            keys.insert(key);
            self.queue_action_locked(&mut s, DeltaType::Replaced, DeltaObject::Object(obj))?;
        }

        // Deletion detection, first against the queue: an object added by a watch event
        // but not popped yet is in no cache, yet must not survive a list that lacks it.
        let mut queued_deletions = 0;
        let missing_queued: Vec<(String, Arc<K>)> = s
            .items
            .iter()
            .filter(|(k, _)| !keys.contains(*k))
            .filter_map(|(k, deltas)| deltas.last().map(|d| (k.clone(), d.object.object().clone())))
            .collect();
        for (key, obj) in missing_queued {
            queued_deletions += 1;
            self.queue_action_locked(&mut s, DeltaType::Deleted, DeltaObject::DeletedFinalStateUnknown { key, obj })?;
        }
        // ...then against knownObjects (the indexer): objects deleted while the watch was down.
        if let Some(known) = &self.shared.known_objects {
            for key in known.list_keys() {
                if keys.contains(&key) || s.items.get(&key).is_some_and(|d| !d.is_empty()) {
                    continue;
                }
                // Gone from the cache since list_keys: nothing left to tombstone.
                let Some(obj) = known.get_by_key(&key) else { continue };
                queued_deletions += 1;
                self.queue_action_locked(&mut s, DeltaType::Deleted, DeltaObject::DeletedFinalStateUnknown { key, obj })?;
            }
        }

        if !s.populated {
            s.populated = true;
            s.initial_population_count = keys.len() + queued_deletions;
        }
        Ok(())
    }

    /// `Resync`: a Sync delta for every object of `knownObjects` whose key has nothing pending.
    pub fn resync(&self) -> Result<(), StoreError> {
        let Some(known) = &self.shared.known_objects else { return Ok(()) };
        let mut s = self.lock();
        for key in known.list_keys() {
            // syncKeyLocked: pending deltas are newer than the cache; a Sync would be stale.
            if s.items.get(&key).is_some_and(|d| !d.is_empty()) {
                continue;
            }
            if let Some(obj) = known.get_by_key(&key) {
                self.queue_action_locked(&mut s, DeltaType::Sync, DeltaObject::Object(obj))?;
            }
        }
        Ok(())
    }

    /// `Pop`: waits for a key, removes it with all its deltas and runs `process` on them.
    ///
    /// As in client-go, `process` runs while the queue's lock is held, so a concurrent
    /// `replace`/`resync` never sees the object in neither the queue nor the indexer; it
    /// must therefore be quick and must not call back into this queue. Its second argument
    /// tells whether the deltas belong to the initial list. Returns [`FifoClosed`] once
    /// the queue is closed and empty.
    pub async fn pop<R>(&self, process: impl FnOnce(Deltas<K>, bool) -> R) -> Result<R, FifoClosed> {
        let mut process = Some(process);
        loop {
            let notified = self.shared.cond.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut s = self.lock();
                while let Some(key) = s.queue.pop_front() {
                    let is_in_initial_list = s.initial_population_count > 0;
                    if is_in_initial_list {
                        s.initial_population_count -= 1;
                    }
                    // A key can be queued without items if it was re-added by
                    // `add_if_not_present` after a pop; skip such an empty entry.
                    let Some(deltas) = s.items.remove(&key) else { continue };
                    self.shared.tracer.emit(|| Trace::Popped { key: key.clone(), deltas: deltas.iter().map(|d| d.kind).collect() });
                    let process = process.take().expect("process runs once");
                    return Ok(process(deltas, is_in_initial_list));
                }
                if s.closed {
                    return Err(FifoClosed);
                }
            }
            notified.await;
        }
    }

    /// `AddIfNotPresent`: puts popped deltas back (a process function asking for a retry),
    /// unless newer deltas for the key arrived meanwhile.
    pub fn add_if_not_present(&self, deltas: Deltas<K>) -> Result<(), StoreError> {
        let Some(newest) = deltas.last() else { return Ok(()) };
        let key = self.key_of(&newest.object)?;
        let mut s = self.lock();
        s.populated = true;
        if s.items.contains_key(&key) {
            return Ok(());
        }
        s.queue.push_back(key.clone());
        s.items.insert(key, deltas);
        self.shared.cond.notify_one();
        Ok(())
    }

    /// `HasSynced`: the first `replace` happened and all of its items were popped.
    pub fn has_synced(&self) -> bool {
        let s = self.lock();
        s.populated && s.initial_population_count == 0
    }

    /// `Close`: `pop` returns [`FifoClosed`] once the queue is drained.
    pub fn close(&self) {
        self.lock().closed = true;
        self.shared.cond.notify_waiters();
    }

    /// Whether `close` was called.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Number of queued keys.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Whether no key is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queued keys in pop order (`ListKeys`).
    pub fn list_keys(&self) -> Vec<String> {
        self.lock().queue.iter().cloned().collect()
    }

    /// Pending deltas of `key` (`GetByKey`).
    pub fn get_by_key(&self, key: &str) -> Option<Deltas<K>> {
        self.lock().items.get(key).cloned()
    }

    /// Each queued key with the types of its pending deltas, in pop order: for demos.
    pub fn snapshot(&self) -> Vec<(String, Vec<DeltaType>)> {
        let s = self.lock();
        s.queue.iter().map(|k| (k.clone(), s.items.get(k).map(|d| d.iter().map(|d| d.kind).collect()).unwrap_or_default())).collect()
    }
}

/// `dedupDeltas`: if the two newest deltas are both deletions, keep one. Returns whether it did.
fn dedup_deltas<K>(deltas: &mut Deltas<K>) -> bool {
    let n = deltas.len();
    if n < 2 {
        return false;
    }
    let (a, b) = (&deltas[n - 2], &deltas[n - 1]);
    if a.kind != DeltaType::Deleted || b.kind != DeltaType::Deleted {
        return false;
    }
    // isDeletionDup: prefer the delete that carries a real final state over a tombstone.
    let keep_newer = !b.object.is_tombstone();
    let kept = if keep_newer {
        deltas.pop()
    } else {
        deltas.truncate(n - 1);
        None
    };
    if let Some(b) = kept {
        deltas[n - 2] = b;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machinery::indexer::Indexer;
    use crate::machinery::store::Store;
    use k8s_openapi::api::core::v1::ConfigMap;

    fn cm(name: &str, rv: &str) -> Arc<ConfigMap> {
        let mut c = ConfigMap::default();
        c.metadata.name = Some(name.into());
        c.metadata.namespace = Some("ns".into());
        c.metadata.resource_version = Some(rv.into());
        Arc::new(c)
    }

    async fn pop_kinds(f: &DeltaFIFO<ConfigMap>) -> (String, Vec<DeltaType>, bool) {
        f.pop(|d, initial| (f_key(&d), d.iter().map(|d| d.kind).collect(), initial)).await.unwrap()
    }

    fn f_key(d: &Deltas<ConfigMap>) -> String {
        match &d[0].object {
            DeltaObject::Object(o) => meta_namespace_key_func(o.as_ref()).unwrap(),
            DeltaObject::DeletedFinalStateUnknown { key, .. } => key.clone(),
        }
    }

    #[tokio::test]
    async fn deltas_of_one_key_are_popped_together_in_order() {
        let f = DeltaFIFO::new(None);
        f.add(cm("a", "1")).unwrap();
        f.add(cm("b", "2")).unwrap();
        f.update(cm("a", "3")).unwrap();
        f.delete(DeltaObject::Object(cm("a", "4"))).unwrap();
        assert_eq!(f.list_keys(), vec!["ns/a", "ns/b"]);
        assert_eq!(pop_kinds(&f).await, ("ns/a".into(), vec![DeltaType::Added, DeltaType::Updated, DeltaType::Deleted], false));
        assert_eq!(pop_kinds(&f).await, ("ns/b".into(), vec![DeltaType::Added], false));
        assert!(f.is_empty());
    }

    #[tokio::test]
    async fn consecutive_deletes_collapse_preferring_the_real_object() {
        let f = DeltaFIFO::new(None);
        f.add(cm("a", "1")).unwrap();
        f.delete(DeltaObject::DeletedFinalStateUnknown { key: "ns/a".into(), obj: cm("a", "1") }).unwrap();
        f.delete(DeltaObject::Object(cm("a", "2"))).unwrap();
        let deltas = f.get_by_key("ns/a").unwrap();
        assert_eq!(deltas.len(), 2);
        assert!(!deltas[1].object.is_tombstone());
        f.delete(DeltaObject::DeletedFinalStateUnknown { key: "ns/a".into(), obj: cm("a", "1") }).unwrap();
        let deltas = f.get_by_key("ns/a").unwrap();
        assert_eq!(deltas.len(), 2);
        assert_eq!(deltas[1].object.object().metadata.resource_version.as_deref(), Some("2"));
    }

    #[tokio::test]
    async fn delete_of_an_unknown_object_is_ignored() {
        let f = DeltaFIFO::new(None);
        f.delete(DeltaObject::Object(cm("ghost", "1"))).unwrap();
        assert!(f.is_empty());
    }

    #[tokio::test]
    async fn replace_tombstones_known_objects_missing_from_the_list() {
        let indexer = Indexer::new();
        indexer.add(cm("kept", "1")).unwrap();
        indexer.add(cm("gone", "1")).unwrap();
        let f = DeltaFIFO::new(Some(Arc::new(indexer.clone()) as Arc<dyn KeyListerGetter<ConfigMap>>));
        assert!(!f.has_synced());
        f.replace(vec![cm("kept", "2"), cm("new", "3")], "3").unwrap();
        assert_eq!(
            f.snapshot(),
            vec![
                ("ns/kept".into(), vec![DeltaType::Replaced]),
                ("ns/new".into(), vec![DeltaType::Replaced]),
                ("ns/gone".into(), vec![DeltaType::Deleted])
            ]
        );
        let gone = f.get_by_key("ns/gone").unwrap();
        assert!(matches!(&gone[0].object, DeltaObject::DeletedFinalStateUnknown { key, .. } if key == "ns/gone"));
        for _ in 0..2 {
            let (_, _, initial) = pop_kinds(&f).await;
            assert!(initial);
            assert!(!f.has_synced());
        }
        assert!(pop_kinds(&f).await.2);
        assert!(f.has_synced());
    }

    #[tokio::test]
    async fn replace_also_tombstones_queued_objects_missing_from_the_list() {
        // Found by the model test: "c" was added by the watch but not popped yet, so the
        // indexer does not know it; a list without "c" must still end with "c" deleted.
        let f = DeltaFIFO::new(Some(Arc::new(Indexer::<ConfigMap>::new()) as Arc<dyn KeyListerGetter<ConfigMap>>));
        f.add(cm("c", "1")).unwrap();
        f.replace(vec![], "2").unwrap();
        assert_eq!(f.snapshot(), vec![("ns/c".into(), vec![DeltaType::Added, DeltaType::Deleted])]);
        assert!(f.get_by_key("ns/c").unwrap()[1].object.is_tombstone());
    }

    #[tokio::test]
    async fn resync_skips_keys_with_pending_deltas() {
        let indexer = Indexer::new();
        indexer.add(cm("a", "1")).unwrap();
        indexer.add(cm("b", "1")).unwrap();
        let f = DeltaFIFO::new(Some(Arc::new(indexer) as Arc<dyn KeyListerGetter<ConfigMap>>));
        f.update(cm("a", "2")).unwrap();
        f.resync().unwrap();
        assert_eq!(f.snapshot(), vec![("ns/a".into(), vec![DeltaType::Updated]), ("ns/b".into(), vec![DeltaType::Sync])]);
    }

    #[tokio::test]
    async fn close_ends_pop_after_draining() {
        let f = DeltaFIFO::new(None);
        f.add(cm("a", "1")).unwrap();
        f.close();
        assert!(f.pop(|_, _| ()).await.is_ok());
        assert_eq!(f.pop(|_, _| ()).await, Err(FifoClosed));
    }
}
