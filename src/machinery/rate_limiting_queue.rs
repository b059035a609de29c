//! The rate-limited work queue: client-go's `workqueue.RateLimitingInterface`
//! (rate_limiting_queue.go): a [`DelayingQueue`] plus a [`RateLimiter`].
//!
//! The usual worker loop is
//! `get -> reconcile -> Ok: forget(key) | Err: add_rate_limited(key) -> done(key)`.
//!
//! kube-rs: `Controller` combines its scheduler with the `error_policy`'s requeue delay.

use std::sync::Arc;
use std::time::Duration;

use super::delaying_queue::DelayingQueue;
use super::rate_limiter::{default_controller_rate_limiter, RateLimiter};
use super::workqueue::{QueueItem, QueueSnapshot};

/// `workqueue.NewRateLimitingQueue(limiter)`. Cloning gives another handle to the same queue.
pub struct RateLimitingQueue<T> {
    delaying: DelayingQueue<T>,
    rate_limiter: Arc<dyn RateLimiter<T>>,
}

impl<T> Clone for RateLimitingQueue<T> {
    fn clone(&self) -> Self {
        Self { delaying: self.delaying.clone(), rate_limiter: self.rate_limiter.clone() }
    }
}

impl<T: QueueItem> RateLimitingQueue<T> {
    /// A queue with the given limiter. Must be created inside a tokio runtime.
    pub fn new(rate_limiter: impl RateLimiter<T> + 'static) -> Self {
        Self { delaying: DelayingQueue::new(), rate_limiter: Arc::new(rate_limiter) }
    }

    /// A queue with [`default_controller_rate_limiter`].
    pub fn with_default_rate_limiter() -> Self {
        Self::new(default_controller_rate_limiter())
    }

    /// Adds `item` after the delay the limiter decides (`AddRateLimited`); returns that delay.
    pub fn add_rate_limited(&self, item: T) -> Duration {
        let delay = self.rate_limiter.when(&item);
        self.delaying.add_after(item, delay);
        delay
    }

    /// Resets the limiter's memory of `item` (`Forget`). It does not remove it from the queue.
    pub fn forget(&self, item: &T) {
        self.rate_limiter.forget(item)
    }

    /// How many times `item` was rate limited since last forgotten (`NumRequeues`).
    pub fn num_requeues(&self, item: &T) -> u32 {
        self.rate_limiter.num_requeues(item)
    }

    /// [`DelayingQueue::add_after`].
    pub fn add_after(&self, item: T, duration: Duration) {
        self.delaying.add_after(item, duration)
    }

    /// The underlying delaying queue.
    pub fn delaying_queue(&self) -> &DelayingQueue<T> {
        &self.delaying
    }

    /// [`WorkQueue::add`](super::workqueue::WorkQueue::add).
    pub fn add(&self, item: T) {
        self.delaying.add(item)
    }

    /// [`WorkQueue::get`](super::workqueue::WorkQueue::get).
    pub async fn get(&self) -> Option<T> {
        self.delaying.get().await
    }

    /// [`WorkQueue::done`](super::workqueue::WorkQueue::done).
    pub fn done(&self, item: &T) {
        self.delaying.done(item)
    }

    /// [`WorkQueue::len`](super::workqueue::WorkQueue::len).
    pub fn len(&self) -> usize {
        self.delaying.len()
    }

    /// [`WorkQueue::is_empty`](super::workqueue::WorkQueue::is_empty).
    pub fn is_empty(&self) -> bool {
        self.delaying.is_empty()
    }

    /// [`DelayingQueue::shut_down`].
    pub fn shut_down(&self) {
        self.delaying.shut_down()
    }

    /// [`WorkQueue::shutting_down`](super::workqueue::WorkQueue::shutting_down).
    pub fn shutting_down(&self) -> bool {
        self.delaying.shutting_down()
    }

    /// [`WorkQueue::snapshot`](super::workqueue::WorkQueue::snapshot).
    pub fn snapshot(&self) -> QueueSnapshot<T> {
        self.delaying.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    #[tokio::test]
    async fn failing_key_is_retried_with_growing_delays() {
        let q = RateLimitingQueue::with_default_rate_limiter();
        let start = Instant::now();
        q.add("pod");
        let mut seen = Vec::new();
        for _ in 0..4 {
            let key = q.get().await.unwrap();
            seen.push(start.elapsed());
            // The reconcile failed: retry later.
            q.add_rate_limited(key);
            q.done(&key);
        }
        assert_eq!(q.num_requeues(&"pod"), 4);
        // Attempts at 0, then +5 ms, +10 ms, +20 ms: each gap at least the backoff.
        let gaps: Vec<Duration> = seen.windows(2).map(|w| w[1] - w[0]).collect();
        for (gap, want) in gaps.iter().zip([5u64, 10, 20]) {
            assert!(*gap >= Duration::from_millis(want), "{gaps:?}");
        }
        q.forget(&"pod");
        assert_eq!(q.num_requeues(&"pod"), 0);
    }
}
