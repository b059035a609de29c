//! Rate limiters: client-go's `workqueue` default_rate_limiters.go.
//!
//! A controller that fails to reconcile a key calls `AddRateLimited(key)`: the limiter says
//! how long to wait before the retry. `DefaultControllerRateLimiter` is the *max of* two:
//!
//! - [`ItemExponentialFailureRateLimiter`]: per key, `base * 2^failures`, from 5 ms up to
//!   1000 s, so one broken object backs off without slowing the others;
//! - [`BucketRateLimiter`]: one token bucket for the whole queue (10 qps, burst 100), so a
//!   mass failure cannot turn into a retry storm against the API server.
//!
//! `Forget(key)` (after a successful reconcile) resets the per-key failure count.
//!
//! kube-rs: `Controller` asks the reconciler's `error_policy` for an `Action::requeue(d)`
//! instead; the backoff policy is the application's, and the scheduler applies the delay.
//!
//! The token bucket's arithmetic is exposed with an explicit `now`
//! ([`BucketRateLimiter::reserve_at`]) so its timeline can be checked without sleeping.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

use std::time::Instant;

/// client-go's `RateLimiter` interface.
pub trait RateLimiter<T>: Send + Sync {
    /// How long `item` must wait before its next attempt. Each call counts as a failure.
    fn when(&self, item: &T) -> Duration;
    /// Stops tracking `item` (its failures are forgotten).
    fn forget(&self, item: &T);
    /// How many times `item` has been rate limited since it was last forgotten.
    fn num_requeues(&self, item: &T) -> u32;
}

/// Per-item exponential backoff: `base * 2^(failures)`, capped at `max`.
pub struct ItemExponentialFailureRateLimiter<T> {
    failures: Mutex<HashMap<T, u32>>,
    base_delay: Duration,
    max_delay: Duration,
}

impl<T: Eq + Hash + Clone + Send> ItemExponentialFailureRateLimiter<T> {
    /// `NewItemExponentialFailureRateLimiter(baseDelay, maxDelay)`.
    pub fn new(base_delay: Duration, max_delay: Duration) -> Self {
        Self { failures: Mutex::new(HashMap::new()), base_delay, max_delay }
    }
}

impl<T: Eq + Hash + Clone + Send> RateLimiter<T> for ItemExponentialFailureRateLimiter<T> {
    fn when(&self, item: &T) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let exp = failures.entry(item.clone()).or_insert(0);
        let this_exp = *exp;
        *exp = exp.saturating_add(1);
        // 2^exp overflows quickly; compute in f64 and cap, as client-go does.
        let backoff = self.base_delay.as_secs_f64() * 2f64.powi(this_exp.min(1023) as i32);
        if !backoff.is_finite() || backoff > self.max_delay.as_secs_f64() {
            return self.max_delay;
        }
        Duration::from_secs_f64(backoff)
    }

    fn forget(&self, item: &T) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(item);
    }

    fn num_requeues(&self, item: &T) -> u32 {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).get(item).copied().unwrap_or(0)
    }
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// An overall token bucket (`BucketRateLimiter` over `golang.org/x/time/rate.Limiter`).
///
/// Holds up to `burst` tokens, refilled at `qps` per second. Each `when` reserves one
/// token; if none is left, the delay is the time until the reserved token exists. Like
/// `rate.Limiter.Reserve()`, reservations go into debt, so a burst of 150 failures at
/// 10 qps / burst 100 spreads the last 50 over 5 seconds.
pub struct BucketRateLimiter {
    qps: f64,
    burst: f64,
    bucket: Mutex<Bucket>,
}

impl BucketRateLimiter {
    /// A bucket starting full.
    pub fn new(qps: f64, burst: u32) -> Self {
        Self { qps, burst: burst as f64, bucket: Mutex::new(Bucket { tokens: burst as f64, last: Instant::now() }) }
    }
}

impl BucketRateLimiter {
    /// Reserves one token at time `now` and returns how long the caller must wait for it.
    pub fn reserve_at(&self, now: Instant) -> Duration {
        let mut b = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.qps).min(self.burst);
        b.last = now;
        b.tokens -= 1.0;
        if b.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-b.tokens / self.qps)
        }
    }
}

impl<T> RateLimiter<T> for BucketRateLimiter {
    fn when(&self, _item: &T) -> Duration {
        self.reserve_at(Instant::now())
    }

    fn forget(&self, _item: &T) {}

    fn num_requeues(&self, _item: &T) -> u32 {
        0
    }
}

/// The slowest of several limiters (`MaxOfRateLimiter`).
pub struct MaxOfRateLimiter<T> {
    limiters: Vec<Box<dyn RateLimiter<T>>>,
}

impl<T> MaxOfRateLimiter<T> {
    /// `NewMaxOfRateLimiter(limiters...)`.
    pub fn new(limiters: Vec<Box<dyn RateLimiter<T>>>) -> Self {
        Self { limiters }
    }
}

impl<T> RateLimiter<T> for MaxOfRateLimiter<T> {
    fn when(&self, item: &T) -> Duration {
        // Every limiter must see the failure (each keeps its own count), so no short-circuit.
        self.limiters.iter().map(|l| l.when(item)).max().unwrap_or(Duration::ZERO)
    }

    fn forget(&self, item: &T) {
        self.limiters.iter().for_each(|l| l.forget(item));
    }

    fn num_requeues(&self, item: &T) -> u32 {
        self.limiters.iter().map(|l| l.num_requeues(item)).max().unwrap_or(0)
    }
}

/// `DefaultControllerRateLimiter()`: per-item 5 ms .. 1000 s exponential, max-ed with a
/// 10 qps / burst 100 bucket.
pub fn default_controller_rate_limiter<T: Eq + Hash + Clone + Send + Sync + 'static>() -> MaxOfRateLimiter<T> {
    MaxOfRateLimiter::new(vec![
        Box::new(ItemExponentialFailureRateLimiter::new(Duration::from_millis(5), Duration::from_secs(1000))),
        Box::new(BucketRateLimiter::new(10.0, 100)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn exponential_timeline_doubles_then_caps() {
        let l = ItemExponentialFailureRateLimiter::new(ms(5), Duration::from_secs(1000));
        let timeline: Vec<Duration> = (0..5).map(|_| l.when(&"a")).collect();
        assert_eq!(timeline, vec![ms(5), ms(10), ms(20), ms(40), ms(80)]);
        assert_eq!(l.num_requeues(&"a"), 5);
        // Another key has its own count.
        assert_eq!(l.when(&"b"), ms(5));
        // 5ms * 2^18 = 1310.72 s > 1000 s: capped, and it stays capped (no overflow).
        for _ in 5..18 {
            l.when(&"a");
        }
        assert_eq!(l.when(&"a"), Duration::from_secs(1000));
        for _ in 0..2000 {
            l.when(&"a");
        }
        assert_eq!(l.when(&"a"), Duration::from_secs(1000));
        l.forget(&"a");
        assert_eq!(l.num_requeues(&"a"), 0);
        assert_eq!(l.when(&"a"), ms(5));
    }

    #[test]
    fn bucket_allows_burst_then_spaces_by_qps() {
        let t0 = Instant::now();
        let l = BucketRateLimiter::new(10.0, 100);
        for _ in 0..100 {
            assert_eq!(l.reserve_at(t0), Duration::ZERO);
        }
        // Tokens are reserved in debt: 1st over the burst waits 100 ms, 2nd 200 ms...
        let d1 = l.reserve_at(t0);
        let d2 = l.reserve_at(t0);
        assert!((d1.as_secs_f64() - 0.1).abs() < 1e-6, "{d1:?}");
        assert!((d2.as_secs_f64() - 0.2).abs() < 1e-6, "{d2:?}");
        // After 1 s ten tokens came back, paying the debt of 2 and leaving 8.
        let t1 = t0 + Duration::from_secs(1);
        for _ in 0..8 {
            assert_eq!(l.reserve_at(t1), Duration::ZERO);
        }
        let d3 = l.reserve_at(t1);
        assert!((d3.as_secs_f64() - 0.1).abs() < 1e-6, "{d3:?}");
        // A long pause refills only up to the burst.
        let t2 = t1 + Duration::from_secs(3600);
        for _ in 0..100 {
            assert_eq!(l.reserve_at(t2), Duration::ZERO);
        }
        assert!(l.reserve_at(t2) > Duration::ZERO);
    }

    #[test]
    fn default_controller_limiter_is_the_max_of_both() {
        let l = default_controller_rate_limiter::<&str>();
        assert_eq!(l.when(&"a"), ms(5));
        assert_eq!(l.when(&"a"), ms(10));
        assert_eq!(l.num_requeues(&"a"), 2);
        // Drain the bucket with other keys: now the bucket dominates a fresh key's 5 ms.
        for i in 0..98 {
            let key: &str = Box::leak(format!("k{i}").into_boxed_str());
            l.when(&key);
        }
        let d = l.when(&"fresh");
        assert!(d >= ms(99), "{d:?}");
        l.forget(&"a");
        assert_eq!(l.num_requeues(&"a"), 0);
    }
}
