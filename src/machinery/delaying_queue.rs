//! The delaying queue: client-go's `workqueue.DelayingInterface` (delaying_queue.go).
//!
//! `add_after(item, d)` puts `item` into the underlying [`WorkQueue`] once `d` has passed.
//! As in client-go, a single background task (the `waitingLoop`) owns a min-heap of
//! `waitFor` entries ordered by ready time; an item waiting twice keeps the *earlier* ready
//! time, so asking again never postpones work. The loop sleeps until the earliest entry
//! is due, or until a new entry arrives on its channel.
//!
//! kube-rs: `kube::runtime::scheduler` plays this role for `Controller`, backed by
//! `tokio_util::time::DelayQueue`, and also keeps only the earliest schedule of a request.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::workqueue::{QueueItem, QueueSnapshot, WorkQueue};

/// client-go's `waitFor`: an item and when it becomes ready.
struct WaitFor<T> {
    item: T,
    ready_at: Instant,
}

/// A [`WorkQueue`] with `add_after`. Cloning gives another handle to the same queue.
///
/// Must be created inside a tokio runtime: it spawns the waiting loop, which ends when the
/// queue shuts down or every handle is dropped.
pub struct DelayingQueue<T> {
    queue: WorkQueue<T>,
    waiting_for_add: mpsc::UnboundedSender<Message<T>>,
}

/// What the waiting loop receives.
enum Message<T> {
    /// client-go's `waitingForAddCh <- waitFor`.
    Add(WaitFor<T>),
    /// Shut down was requested: wake up and exit.
    Stop,
}

impl<T> Clone for DelayingQueue<T> {
    fn clone(&self) -> Self {
        Self { queue: self.queue.clone(), waiting_for_add: self.waiting_for_add.clone() }
    }
}

impl<T: QueueItem> Default for DelayingQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: QueueItem> DelayingQueue<T> {
    /// `workqueue.NewDelayingQueue()`.
    pub fn new() -> Self {
        let queue = WorkQueue::new();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(waiting_loop(queue.clone(), rx));
        Self { queue, waiting_for_add: tx }
    }

    /// Adds `item` once `duration` has passed (`AddAfter`). A zero duration adds at once.
    pub fn add_after(&self, item: T, duration: Duration) {
        if self.queue.shutting_down() {
            return;
        }
        if duration.is_zero() {
            self.queue.add(item);
            return;
        }
        // The loop only stops after shut down, when adds are ignored anyway.
        let _ = self.waiting_for_add.send(Message::Add(WaitFor { item, ready_at: Instant::now() + duration }));
    }

    /// The underlying work queue.
    pub fn queue(&self) -> &WorkQueue<T> {
        &self.queue
    }

    /// [`WorkQueue::add`].
    pub fn add(&self, item: T) {
        self.queue.add(item)
    }

    /// [`WorkQueue::get`].
    pub async fn get(&self) -> Option<T> {
        self.queue.get().await
    }

    /// [`WorkQueue::done`].
    pub fn done(&self, item: &T) {
        self.queue.done(item)
    }

    /// [`WorkQueue::len`].
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// [`WorkQueue::is_empty`].
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// [`WorkQueue::shut_down`]; also ends the waiting loop (items still waiting are dropped).
    pub fn shut_down(&self) {
        self.queue.shut_down();
        let _ = self.waiting_for_add.send(Message::Stop);
    }

    /// [`WorkQueue::shutting_down`].
    pub fn shutting_down(&self) -> bool {
        self.queue.shutting_down()
    }

    /// [`WorkQueue::snapshot`].
    pub fn snapshot(&self) -> QueueSnapshot<T> {
        self.queue.snapshot()
    }
}

/// client-go's `waitingLoop`: moves items from the heap into the queue when they are due.
async fn waiting_loop<T: QueueItem>(queue: WorkQueue<T>, mut rx: mpsc::UnboundedReceiver<Message<T>>) {
    // Min-heap of (ready_at, sequence); the sequence keeps equal deadlines in arrival order.
    let mut heap: BinaryHeap<Reverse<(Instant, u64)>> = BinaryHeap::new();
    // client-go's `knownEntries`: the entry currently scheduled for each item.
    let mut entries: HashMap<u64, T> = HashMap::new();
    let mut known: HashMap<T, (Instant, u64)> = HashMap::new();
    let mut seq = 0u64;

    loop {
        if queue.shutting_down() {
            return;
        }
        // Add every entry that is due.
        let now = Instant::now();
        while let Some(Reverse((ready_at, id))) = heap.peek().copied() {
            if ready_at > now {
                break;
            }
            heap.pop();
            if let Some(item) = entries.remove(&id) {
                known.remove(&item);
                queue.add(item);
            }
        }
        let next = heap.peek().map(|Reverse((ready_at, _))| *ready_at);
        let message = match next {
            Some(deadline) => tokio::select! {
                _ = tokio::time::sleep_until(deadline) => continue,
                m = rx.recv() => m,
            },
            None => rx.recv().await,
        };
        let wait_for = match message {
            Some(Message::Add(w)) => w,
            Some(Message::Stop) | None => return,
        };
        if wait_for.ready_at <= Instant::now() {
            queue.add(wait_for.item);
            continue;
        }
        // insert(): keep only the earliest ready time of an item already waiting.
        match known.get(&wait_for.item) {
            Some((existing, _)) if *existing <= wait_for.ready_at => {}
            Some((_, old_id)) => {
                // The stale heap entry is skipped when popped: its id has no entry any more.
                entries.remove(old_id);
                seq += 1;
                heap.push(Reverse((wait_for.ready_at, seq)));
                entries.insert(seq, wait_for.item.clone());
                known.insert(wait_for.item, (wait_for.ready_at, seq));
            }
            None => {
                seq += 1;
                heap.push(Reverse((wait_for.ready_at, seq)));
                entries.insert(seq, wait_for.item.clone());
                known.insert(wait_for.item, (wait_for.ready_at, seq));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn add_after_waits_for_the_delay() {
        let q = DelayingQueue::new();
        let start = Instant::now();
        q.add_after("a", Duration::from_millis(50));
        q.add_after("b", Duration::from_millis(10));
        assert!(q.is_empty());
        assert_eq!(q.get().await, Some("b"));
        assert!(start.elapsed() >= Duration::from_millis(10));
        assert_eq!(q.get().await, Some("a"));
        assert!(start.elapsed() >= Duration::from_millis(50));
    }

    #[tokio::test]
    async fn waiting_twice_keeps_the_earlier_time() {
        let q = DelayingQueue::new();
        let start = Instant::now();
        q.add_after("a", Duration::from_millis(1000));
        q.add_after("a", Duration::from_millis(20));
        q.add_after("a", Duration::from_millis(300));
        assert_eq!(q.get().await, Some("a"));
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(20) && waited < Duration::from_millis(300), "{waited:?}");
        q.done(&"a");
        // Nothing else was scheduled: the later requests were merged into the first.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn zero_delay_adds_at_once_and_shut_down_stops() {
        let q = DelayingQueue::new();
        q.add_after(1, Duration::ZERO);
        assert_eq!(q.len(), 1);
        q.add_after(2, Duration::from_secs(1));
        q.shut_down();
        assert_eq!(q.get().await, Some(1));
        assert_eq!(q.get().await, None);
    }
}
