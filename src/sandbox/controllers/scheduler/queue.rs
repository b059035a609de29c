//! The scheduling queue's unschedulable pods (`internal/queue`): a pod no node fits waits
//! until something that could change that happens (a node added or changed, a bound pod
//! leaving), then for the rest of its backoff, 1 s doubling per failed attempt up to 10 s.
//! Pods nothing woke are flushed back after `podMaxInUnschedulablePodsDuration`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::machinery::rate_limiting_queue::RateLimitingQueue;

/// `DefaultPodInitialBackoffDuration`.
const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// `DefaultPodMaxBackoffDuration`.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// `DefaultPodMaxInUnschedulablePodsDuration`: the longest an unschedulable pod waits.
pub const MAX_IN_UNSCHEDULABLE: Duration = Duration::from_secs(5 * 60);

struct Waiting {
    attempts: u32,
    last_attempt: Instant,
}

/// Pods that failed to schedule, by key.
#[derive(Default)]
pub struct Unschedulable {
    pods: Mutex<HashMap<String, Waiting>>,
}

fn backoff(attempts: u32) -> Duration {
    INITIAL_BACKOFF.saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1))).min(MAX_BACKOFF)
}

impl Unschedulable {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Waiting>> {
        self.pods.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `AddUnschedulableIfNotPresent`: one more failed attempt.
    pub fn failed(&self, key: &str) {
        let mut pods = self.lock();
        let w = pods.entry(key.to_string()).or_insert(Waiting { attempts: 0, last_attempt: Instant::now() });
        w.attempts += 1;
        w.last_attempt = Instant::now();
    }

    /// The pod was bound, or is gone.
    pub fn done(&self, key: &str) {
        self.lock().remove(key);
    }

    /// `MoveAllToActiveOrBackoffQueue`: every waiting pod goes back to the queue once its
    /// backoff since the last attempt has passed.
    pub fn move_all(&self, queue: &RateLimitingQueue<String>) {
        for (key, w) in self.lock().iter() {
            let wait = backoff(w.attempts).saturating_sub(w.last_attempt.elapsed());
            queue.add_after(key.clone(), wait);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_ten_seconds() {
        let got: Vec<u64> = (1..=6).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(got, vec![1, 2, 4, 8, 10, 10]);
    }
}
