//! Property tests of the machinery against simple models:
//! - the work queue under many concurrent workers (no item held by two workers, no item
//!   lost, duplicates collapse) and its container invariants after any operation sequence;
//! - the DeltaFIFO + indexer pair converging to the server's state (a HashMap);
//! - the indexer's indices against indexes recomputed from a HashMap.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::ConfigMap;
use proptest::prelude::*;

use kubelab::machinery::delta_fifo::{DeltaFIFO, DeltaObject, DeltaType};
use kubelab::machinery::indexer::{IndexFunc, Indexer, NAMESPACE_INDEX};
use kubelab::machinery::store::{KeyListerGetter, Store};
use kubelab::machinery::workqueue::WorkQueue;

fn runtime(threads: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build().unwrap()
}

// ---------------------------------------------------------------- work queue, concurrent

/// Adds `items` (with yields in between) while `workers` workers process; checks that no
/// item is ever held twice and that every add is followed by a processing of that item.
fn run_concurrent_queue(items: Vec<u8>, workers: usize, yield_every: usize) -> Result<(), TestCaseError> {
    let rt = runtime(2);
    rt.block_on(async move {
        let q: WorkQueue<u8> = WorkQueue::new();
        let clock = Arc::new(AtomicU64::new(0));
        let held: Arc<Mutex<HashSet<u8>>> = Arc::default();
        let violations = Arc::new(AtomicUsize::new(0));
        let last_add: Arc<Mutex<HashMap<u8, u64>>> = Arc::default();
        let last_start: Arc<Mutex<HashMap<u8, u64>>> = Arc::default();
        let processed = Arc::new(AtomicUsize::new(0));

        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let (q, clock, held, violations, last_start, processed) =
                    (q.clone(), clock.clone(), held.clone(), violations.clone(), last_start.clone(), processed.clone());
                tokio::spawn(async move {
                    while let Some(item) = q.get().await {
                        let t = clock.fetch_add(1, Ordering::SeqCst);
                        last_start.lock().unwrap().insert(item, t);
                        if !held.lock().unwrap().insert(item) {
                            violations.fetch_add(1, Ordering::SeqCst);
                        }
                        // "Reconcile": give other workers a chance to grab the same item.
                        tokio::task::yield_now().await;
                        held.lock().unwrap().remove(&item);
                        processed.fetch_add(1, Ordering::SeqCst);
                        q.done(&item);
                    }
                })
            })
            .collect();

        for (i, item) in items.iter().enumerate() {
            let t = clock.fetch_add(1, Ordering::SeqCst);
            last_add.lock().unwrap().insert(*item, t);
            q.add(*item);
            if yield_every > 0 && i % yield_every == 0 {
                tokio::task::yield_now().await;
            }
        }
        // Drain: wait until nothing is queued or processing, then shut down.
        loop {
            let snap = q.snapshot();
            if snap.queue.is_empty() && snap.processing.is_empty() && snap.dirty.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        q.shut_down();
        for h in handles {
            h.await.unwrap();
        }

        prop_assert_eq!(violations.load(Ordering::SeqCst), 0, "an item was held by two workers");
        let last_start = last_start.lock().unwrap();
        for (item, added_at) in last_add.lock().unwrap().iter() {
            let started = last_start.get(item).copied();
            prop_assert!(
                started.is_some_and(|s| s > *added_at),
                "item {} added at {} was not processed afterwards ({:?})",
                item,
                added_at,
                started
            );
        }
        // Duplicates collapse: never more processings than adds, at least one per distinct item.
        let distinct = items.iter().collect::<HashSet<_>>().len();
        let n = processed.load(Ordering::SeqCst);
        prop_assert!(n <= items.len() && n >= distinct, "{} processings for {} adds of {} items", n, items.len(), distinct);
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn workqueue_concurrent_workers_keep_the_invariants(
        items in prop::collection::vec(0u8..12, 0..300),
        workers in 1usize..=8,
        yield_every in 0usize..5,
    ) {
        run_concurrent_queue(items, workers, yield_every)?;
    }
}

#[test]
fn workqueue_burst_of_duplicates_collapses_to_one_item() {
    let rt = runtime(1);
    rt.block_on(async {
        let q = WorkQueue::new();
        for _ in 0..1000 {
            q.add("same");
        }
        assert_eq!(q.len(), 1);
        assert_eq!(q.get().await, Some("same"));
        assert!(q.is_empty());
    });
}

// ---------------------------------------------------------------- work queue, sequential

#[derive(Clone, Debug)]
enum QueueOp {
    Add(u8),
    Get,
    Done(u8),
    ShutDown,
}

fn queue_op() -> impl Strategy<Value = QueueOp> {
    prop_oneof![
        4 => (0u8..6).prop_map(QueueOp::Add),
        3 => Just(QueueOp::Get),
        3 => (0u8..6).prop_map(QueueOp::Done),
        1 => Just(QueueOp::ShutDown),
    ]
}

proptest! {
    /// After any sequence: the queue has no duplicates, everything queued is dirty, nothing
    /// queued is processing, and a dirty item is either queued or processing.
    #[test]
    fn workqueue_containers_stay_consistent(ops in prop::collection::vec(queue_op(), 0..120)) {
        let q: WorkQueue<u8> = WorkQueue::new();
        let mut held: HashSet<u8> = HashSet::new();
        for op in ops {
            match op {
                QueueOp::Add(x) => q.add(x),
                QueueOp::Get => {
                    if let Some(Some(x)) = q.try_get() {
                        prop_assert!(held.insert(x), "{} handed out while held", x);
                    }
                }
                QueueOp::Done(x) => {
                    if held.remove(&x) {
                        q.done(&x);
                    }
                }
                QueueOp::ShutDown => q.shut_down(),
            }
            let s = q.snapshot();
            let queue: HashSet<u8> = s.queue.iter().copied().collect();
            let dirty: HashSet<u8> = s.dirty.iter().copied().collect();
            let processing: HashSet<u8> = s.processing.iter().copied().collect();
            prop_assert_eq!(queue.len(), s.queue.len(), "duplicate in queue {:?}", s.queue);
            prop_assert!(queue.is_subset(&dirty));
            prop_assert!(queue.is_disjoint(&processing));
            prop_assert!(dirty.difference(&queue).all(|x| processing.contains(x)));
            prop_assert_eq!(&processing, &held);
        }
    }
}

// ---------------------------------------------------------------- DeltaFIFO + indexer

fn cm(name: u8, rv: u64, label: u8) -> Arc<ConfigMap> {
    let mut c = ConfigMap::default();
    c.metadata.name = Some(format!("cm{name}"));
    c.metadata.namespace = Some(format!("ns{}", name % 3));
    c.metadata.resource_version = Some(rv.to_string());
    c.metadata.labels = Some(BTreeMap::from([("tier".to_string(), format!("t{label}"))]));
    Arc::new(c)
}

fn key(name: u8) -> String {
    format!("ns{}/cm{name}", name % 3)
}

#[derive(Clone, Debug)]
enum FifoOp {
    /// The server created or changed object `name`.
    Upsert(u8, u8),
    /// The server deleted object `name` (if it exists).
    Delete(u8),
    /// A re-list returned the server's state (after a missed stretch of changes: `silent`
    /// changes happen on the server without any watch event).
    Relist(Vec<(u8, bool, u8)>),
    Resync,
    Pop,
}

fn fifo_op() -> impl Strategy<Value = FifoOp> {
    prop_oneof![
        5 => (0u8..8, 0u8..3).prop_map(|(n, l)| FifoOp::Upsert(n, l)),
        2 => (0u8..8).prop_map(FifoOp::Delete),
        1 => prop::collection::vec((0u8..8, any::<bool>(), 0u8..3), 0..6).prop_map(FifoOp::Relist),
        1 => Just(FifoOp::Resync),
        4 => Just(FifoOp::Pop),
    ]
}

/// What an informer does with popped deltas (kept minimal: the indexer update).
fn apply(
    indexer: &Indexer<ConfigMap>,
    fifo: &DeltaFIFO<ConfigMap>,
    deltas: Vec<kubelab::machinery::delta_fifo::Delta<ConfigMap>>,
) -> Result<(), String> {
    if deltas.is_empty() {
        return Err("popped an empty delta list".into());
    }
    for pair in deltas.windows(2) {
        if pair[0].kind == DeltaType::Deleted && pair[1].kind == DeltaType::Deleted {
            return Err("two consecutive Deleted deltas".into());
        }
    }
    for d in deltas {
        let key = fifo.key_of(&d.object).map_err(|e| e.to_string())?;
        match d.kind {
            DeltaType::Deleted => indexer.delete_by_key(&key),
            _ => indexer.add_with_key(key, d.object.object().clone()),
        }
    }
    Ok(())
}

proptest! {
    /// The server's state is a HashMap; the client sees it through watch events, relists and
    /// resyncs via the DeltaFIFO, and applies popped deltas to its indexer (the FIFO's
    /// knownObjects). Once the FIFO is drained, the indexer equals the server's state.
    #[test]
    fn delta_fifo_and_indexer_converge_to_the_server_state(ops in prop::collection::vec(fifo_op(), 0..80)) {
        let rt = runtime(1);
        rt.block_on(async move {
            let indexer: Indexer<ConfigMap> = Indexer::new();
            let fifo = DeltaFIFO::new(Some(Arc::new(indexer.clone()) as Arc<dyn KeyListerGetter<ConfigMap>>));
            let mut server: HashMap<u8, Arc<ConfigMap>> = HashMap::new();
            let mut rv = 0u64;
            for op in ops {
                match op {
                    FifoOp::Upsert(n, label) => {
                        rv += 1;
                        let obj = cm(n, rv, label);
                        let existed = server.insert(n, obj.clone()).is_some();
                        if existed { fifo.update(obj).unwrap() } else { fifo.add(obj).unwrap() }
                    }
                    FifoOp::Delete(n) => {
                        if let Some(old) = server.remove(&n) {
                            rv += 1;
                            fifo.delete(DeltaObject::Object(old)).unwrap();
                        }
                    }
                    FifoOp::Relist(changes) => {
                        // Changes the watch never reported: creations, updates and deletions.
                        for (n, keep, label) in changes {
                            rv += 1;
                            if keep { server.insert(n, cm(n, rv, label)); } else { server.remove(&n); }
                        }
                        let list: Vec<Arc<ConfigMap>> = server.values().cloned().collect();
                        fifo.replace(list, &rv.to_string()).unwrap();
                    }
                    FifoOp::Resync => fifo.resync().unwrap(),
                    FifoOp::Pop => {
                        if !fifo.is_empty() {
                            let r = fifo.pop(|deltas, _| apply(&indexer, &fifo, deltas)).await.unwrap();
                            prop_assert!(r.is_ok(), "{:?}", r);
                        }
                    }
                }
            }
            while !fifo.is_empty() {
                let r = fifo.pop(|deltas, _| apply(&indexer, &fifo, deltas)).await.unwrap();
                prop_assert!(r.is_ok(), "{:?}", r);
            }
            let mut expected: Vec<(String, String)> = server.iter().map(|(n, o)| (key(*n), o.metadata.resource_version.clone().unwrap())).collect();
            expected.sort();
            let actual: Vec<(String, String)> = indexer.list().iter().map(|o| (format!("{}/{}", o.metadata.namespace.as_deref().unwrap(), o.metadata.name.as_deref().unwrap()), o.metadata.resource_version.clone().unwrap())).collect();
            prop_assert_eq!(actual, expected);
            Ok(())
        })?;
    }
}

// ---------------------------------------------------------------- indexer

#[derive(Clone, Debug)]
enum IndexOp {
    Add(u8, u8),
    Delete(u8),
    Replace(Vec<(u8, u8)>),
}

fn index_op() -> impl Strategy<Value = IndexOp> {
    prop_oneof![
        5 => (0u8..10, 0u8..4).prop_map(|(n, l)| IndexOp::Add(n, l)),
        2 => (0u8..10).prop_map(IndexOp::Delete),
        1 => prop::collection::vec((0u8..10, 0u8..4), 0..8).prop_map(IndexOp::Replace),
    ]
}

fn by_tier(c: &ConfigMap) -> Vec<String> {
    c.metadata.labels.as_ref().and_then(|l| l.get("tier")).cloned().into_iter().collect()
}

proptest! {
    /// After every operation, the indexer's items and both indices (namespace and a label
    /// index) equal what a plain HashMap implies.
    #[test]
    fn indexer_indices_match_a_recomputed_model(ops in prop::collection::vec(index_op(), 0..80)) {
        let indexer: Indexer<ConfigMap> = Indexer::new();
        indexer.add_indexers(HashMap::from([("tier".to_string(), Arc::new(by_tier) as IndexFunc<ConfigMap>)])).unwrap();
        let mut model: HashMap<u8, u8> = HashMap::new();
        for op in ops {
            match op {
                IndexOp::Add(n, l) => { model.insert(n, l); indexer.add(cm(n, 1, l)).unwrap(); }
                IndexOp::Delete(n) => { model.remove(&n); indexer.delete(&cm(n, 1, 0)).unwrap(); }
                IndexOp::Replace(items) => {
                    model = items.iter().copied().collect();
                    indexer.replace(model.iter().map(|(n, l)| cm(*n, 1, *l)).collect(), "1").unwrap();
                }
            }
            let keys: BTreeSet<String> = model.keys().map(|n| key(*n)).collect();
            prop_assert_eq!(indexer.list_keys(), keys.iter().cloned().collect::<Vec<_>>());
            let mut tiers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            let mut namespaces: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for (n, l) in &model {
                tiers.entry(format!("t{l}")).or_default().insert(key(*n));
                namespaces.entry(format!("ns{}", n % 3)).or_default().insert(key(*n));
            }
            prop_assert_eq!(indexer.list_index_func_values("tier"), tiers.keys().cloned().collect::<Vec<_>>());
            prop_assert_eq!(indexer.list_index_func_values(NAMESPACE_INDEX), namespaces.keys().cloned().collect::<Vec<_>>());
            for t in 0..4 {
                let value = format!("t{t}");
                let want: Vec<String> = tiers.get(&value).map(|s| s.iter().cloned().collect()).unwrap_or_default();
                prop_assert_eq!(indexer.index_keys("tier", &value).unwrap(), want.clone());
                let objs: Vec<String> = indexer.by_index("tier", &value).unwrap().iter().map(|o| key(o.metadata.name.as_deref().unwrap()[2..].parse().unwrap())).collect();
                prop_assert_eq!(objs, want);
            }
        }
    }
}
