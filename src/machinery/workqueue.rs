//! The basic work queue: client-go's `k8s.io/client-go/util/workqueue` `Type` (queue.go).
//!
//! A controller's event handlers only *enqueue keys*; worker tasks `get` a key, reconcile
//! it and call `done`. Three containers make that safe and cheap:
//!
//! - `queue`: the order in which keys will be handed out (FIFO);
//! - `dirty`: every key that needs processing. Adding a key that is already dirty is a
//!   no-op, so a burst of events for one object collapses into a single reconcile;
//! - `processing`: keys a worker holds right now. A key re-added while processing is only
//!   marked dirty, and goes back into `queue` when the worker calls `done`. So one key is
//!   never reconciled by two workers at once, and no change is lost.
//!
//! In kube-rs the same guarantees live inside `kube::runtime::Controller`: its scheduler
//! (`kube::runtime::scheduler`) de-duplicates pending requests and its runner
//! (`kube::runtime::controller::runner`) holds back a request whose object is already
//! being reconciled, which is exactly `dirty` + `processing`.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

/// What a queue item must be: cheap to clone (usually a `namespace/name` key), hashable.
pub trait QueueItem: Clone + Eq + Hash + Send + Sync + 'static {}
impl<T: Clone + Eq + Hash + Send + Sync + 'static> QueueItem for T {}

/// The internal state of a [`WorkQueue`], copied out for display.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueSnapshot<T> {
    /// Keys waiting for a worker, in hand-out order.
    pub queue: Vec<T>,
    /// Keys that need processing (waiting, or re-added while processing).
    pub dirty: Vec<T>,
    /// Keys a worker currently holds.
    pub processing: Vec<T>,
    /// Whether `shut_down` was called.
    pub shutting_down: bool,
}

/// Where an item stands: client-go's two sets, `dirty` and `processing`, as two flags of one
/// map entry, so each step hashes the key once instead of two or three times.
#[derive(Clone, Copy, Default)]
struct Marks {
    dirty: bool,
    processing: bool,
}

struct State<T> {
    queue: VecDeque<T>,
    /// Every item that is dirty, processing, or both; an item in neither has no entry.
    marks: HashMap<T, Marks>,
    /// Workers parked in `get`: `add` wakes one only when someone waits.
    waiting: usize,
    shutting_down: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// client-go's `cond *sync.Cond`: wakes workers parked in `get`.
    cond: Notify,
}

/// client-go's `workqueue.Type`. Cloning gives another handle to the same queue.
pub struct WorkQueue<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for WorkQueue<T> {
    fn clone(&self) -> Self {
        Self { shared: self.shared.clone() }
    }
}

impl<T: QueueItem> Default for WorkQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Un-counts a parked worker however its `get` ends (woken, or dropped by its caller).
struct Parked<'a, T: QueueItem>(&'a WorkQueue<T>);

impl<T: QueueItem> Drop for Parked<'_, T> {
    fn drop(&mut self) {
        self.0.lock().waiting -= 1;
    }
}

impl<T: QueueItem> WorkQueue<T> {
    /// An empty queue (`workqueue.New()`).
    pub fn new() -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State { queue: VecDeque::new(), marks: HashMap::new(), waiting: 0, shutting_down: false }),
                cond: Notify::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panicking worker must not wedge every other worker: the state is always
        // consistent between statements, so recovering from poison is sound.
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks `item` as needing processing (`Add`).
    ///
    /// Ignored after shut down; a no-op if the item is already dirty; if a worker is
    /// processing it, it is only marked dirty and re-queued by [`done`](Self::done).
    pub fn add(&self, item: T) {
        let mut s = self.lock();
        if s.shutting_down {
            return;
        }
        match s.marks.entry(item) {
            Entry::Occupied(mut e) => {
                // Already dirty: collapses. Processing: `done` re-queues it.
                e.get_mut().dirty = true;
                return;
            }
            Entry::Vacant(e) => {
                let item = e.key().clone();
                e.insert(Marks { dirty: true, processing: false });
                s.queue.push_back(item);
            }
        }
        let wake = s.waiting > 0;
        drop(s);
        if wake {
            self.shared.cond.notify_one();
        }
    }

    /// Number of items waiting for a worker (`Len`): the `queue`, not `processing`.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Whether no item waits for a worker.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits for the next item and marks it processing (`Get`).
    ///
    /// Returns `None` once the queue is shut down *and* empty: workers drain what was
    /// queued before shut down, then exit their loop.
    pub async fn get(&self) -> Option<T> {
        loop {
            let notified = self.shared.cond.notified();
            tokio::pin!(notified);
            {
                let mut s = self.lock();
                if let Some(item) = Self::take(&mut s) {
                    return item;
                }
                // Park: registered and counted under the lock, so the `add` that follows
                // sees a waiter and its notification reaches this very future.
                notified.as_mut().enable();
                s.waiting += 1;
            }
            let _parked = Parked(self);
            notified.await;
        }
    }

    /// Non-blocking `get`: `Some(Some(item))` when an item was available,
    /// `Some(None)` when shut down and drained, `None` when the worker would wait.
    pub fn try_get(&self) -> Option<Option<T>> {
        Self::take(&mut self.lock())
    }

    fn take(s: &mut State<T>) -> Option<Option<T>> {
        if let Some(item) = s.queue.pop_front() {
            if let Some(m) = s.marks.get_mut(&item) {
                *m = Marks { dirty: false, processing: true };
            }
            return Some(Some(item));
        }
        if s.shutting_down {
            return Some(None);
        }
        None
    }

    /// Tells the queue the worker finished with `item` (`Done`).
    ///
    /// If the item was re-added while it was processed, it goes back into the queue now.
    pub fn done(&self, item: &T) {
        let mut s = self.lock();
        let Some(m) = s.marks.get_mut(item) else { return };
        if !m.dirty {
            s.marks.remove(item);
            return;
        }
        m.processing = false;
        s.queue.push_back(item.clone());
        let wake = s.waiting > 0;
        drop(s);
        if wake {
            self.shared.cond.notify_one();
        }
    }

    /// Stops accepting items and wakes every waiting worker (`ShutDown`).
    /// Items already queued are still handed out.
    pub fn shut_down(&self) {
        self.lock().shutting_down = true;
        self.shared.cond.notify_waiters();
    }

    /// Whether [`shut_down`](Self::shut_down) was called (`ShuttingDown`).
    pub fn shutting_down(&self) -> bool {
        self.lock().shutting_down
    }

    /// Copies the three containers out, for a demo to print.
    pub fn snapshot(&self) -> QueueSnapshot<T> {
        let s = self.lock();
        QueueSnapshot {
            queue: s.queue.iter().cloned().collect(),
            dirty: s.marks.iter().filter(|(_, m)| m.dirty).map(|(k, _)| k.clone()).collect(),
            processing: s.marks.iter().filter(|(_, m)| m.processing).map(|(k, _)| k.clone()).collect(),
            shutting_down: s.shutting_down,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn duplicates_collapse_while_waiting() {
        let q = WorkQueue::new();
        q.add("a");
        q.add("b");
        q.add("a");
        assert_eq!(q.len(), 2);
        assert_eq!(q.get().await, Some("a"));
        assert_eq!(q.get().await, Some("b"));
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn re_added_while_processing_is_queued_again_on_done() {
        let q = WorkQueue::new();
        q.add("a");
        let item = q.get().await.unwrap();
        q.add("a");
        // Held by a worker: dirty, but not handed to another worker.
        let snap = q.snapshot();
        assert_eq!(snap.queue, Vec::<&str>::new());
        assert_eq!(snap.dirty, vec!["a"]);
        assert_eq!(snap.processing, vec!["a"]);
        assert_eq!(q.try_get(), None);
        q.done(&item);
        assert_eq!(q.snapshot().queue, vec!["a"]);
        assert_eq!(q.get().await, Some("a"));
        q.done(&"a");
        assert_eq!(q.snapshot(), QueueSnapshot { queue: vec![], dirty: vec![], processing: vec![], shutting_down: false });
    }

    #[tokio::test]
    async fn get_waits_for_add() {
        let q = WorkQueue::new();
        let worker = {
            let q = q.clone();
            tokio::spawn(async move { q.get().await })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        q.add(7);
        assert_eq!(worker.await.unwrap(), Some(7));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_add_wakes_its_own_parked_worker() {
        let q: WorkQueue<u32> = WorkQueue::new();
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let q = q.clone();
                tokio::spawn(async move { q.get().await })
            })
            .collect();
        while q.lock().waiting < 2 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Neither worker calls `done`: the second item must reach the second worker.
        q.add(1);
        q.add(2);
        let mut got = vec![];
        for w in workers {
            got.push(tokio::time::timeout(Duration::from_secs(5), w).await.expect("woken").unwrap().unwrap());
        }
        got.sort();
        assert_eq!(got, vec![1, 2]);
        assert_eq!(q.lock().waiting, 0);
    }

    #[tokio::test]
    async fn shut_down_drains_then_returns_none() {
        let q = WorkQueue::new();
        q.add(1);
        q.add(2);
        q.shut_down();
        q.add(3); // ignored
        assert!(q.shutting_down());
        assert_eq!(q.get().await, Some(1));
        assert_eq!(q.get().await, Some(2));
        assert_eq!(q.get().await, None);
    }

    #[tokio::test]
    async fn shut_down_wakes_parked_workers() {
        let q: WorkQueue<u32> = WorkQueue::new();
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let q = q.clone();
                tokio::spawn(async move { q.get().await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(10)).await;
        q.shut_down();
        for w in workers {
            assert_eq!(w.await.unwrap(), None);
        }
    }
}
