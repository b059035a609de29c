//! client-go's `ControllerExpectations` / `UIDTrackingControllerExpectations`
//! (`pkg/controller/controller_utils.go`): what a controller is still waiting to see.
//!
//! The informer cache lags the writes a sync makes. Without this memory a second sync of a
//! replica set, run before the cache shows the pods the first one created, would create
//! them again. A sync records how many creations (or which deletions) it asked for; the
//! pod handlers count them off as the watch delivers them, and the next sync manages
//! replicas only once every expectation is met, or after five minutes in case a watch
//! event was lost.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `ExpectationsTimeout`: after this, expectations are assumed lost and a sync goes ahead.
pub const EXPECTATIONS_TIMEOUT: Duration = Duration::from_secs(5 * 60);

#[derive(Debug)]
struct Expectee {
    add: i64,
    del: i64,
    at: Instant,
    /// The pods (`namespace/name`) whose deletion is awaited, so that one delete event
    /// counts once even if it is delivered again.
    deleting: HashSet<String>,
}

/// Per-controller-key expectations, shared by the sync and the event handlers.
#[derive(Clone, Default)]
pub struct Expectations {
    map: Arc<Mutex<HashMap<String, Expectee>>>,
}

impl Expectations {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, Expectee>) -> R) -> R {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut map)
    }

    /// `SatisfiedExpectations`: nothing recorded, everything observed, or expired.
    pub fn satisfied(&self, key: &str) -> bool {
        self.with(|m| match m.get(key) {
            None => true,
            Some(e) => (e.add <= 0 && e.del <= 0) || e.at.elapsed() > EXPECTATIONS_TIMEOUT,
        })
    }

    /// `ExpectCreations`: `n` pods are about to be created for `key`.
    pub fn expect_creations(&self, key: &str, n: usize) {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        self.with(|m| m.insert(key.to_string(), Expectee { add: n, del: 0, at: Instant::now(), deleting: HashSet::new() }));
    }

    /// `ExpectDeletions`: these pods are about to be deleted for `key`.
    pub fn expect_deletions(&self, key: &str, pods: &[String]) {
        let del = i64::try_from(pods.len()).unwrap_or(i64::MAX);
        let deleting = pods.iter().cloned().collect();
        self.with(|m| m.insert(key.to_string(), Expectee { add: 0, del, at: Instant::now(), deleting }));
    }

    /// `CreationObserved` (also used to give back creations that were never attempted).
    pub fn creation_observed(&self, key: &str) {
        self.with(|m| {
            if let Some(e) = m.get_mut(key) {
                e.add -= 1;
            }
        });
    }

    /// `DeletionObserved`: counts `pod` off once, if its deletion was awaited.
    pub fn deletion_observed(&self, key: &str, pod: &str) {
        self.with(|m| {
            if let Some(e) = m.get_mut(key) {
                if e.deleting.remove(pod) {
                    e.del -= 1;
                }
            }
        });
    }

    /// `DeleteExpectations`: the controller object is gone.
    pub fn delete(&self, key: &str) {
        self.with(|m| m.remove(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creations_and_deletions_are_counted_off() {
        let e = Expectations::default();
        assert!(e.satisfied("ns/rs"), "nothing recorded");
        e.expect_creations("ns/rs", 2);
        assert!(!e.satisfied("ns/rs"));
        e.creation_observed("ns/rs");
        assert!(!e.satisfied("ns/rs"));
        e.creation_observed("ns/rs");
        assert!(e.satisfied("ns/rs"));

        e.expect_deletions("ns/rs", &["ns/a".into(), "ns/b".into()]);
        e.deletion_observed("ns/rs", "ns/a");
        e.deletion_observed("ns/rs", "ns/a");
        e.deletion_observed("ns/rs", "ns/other");
        assert!(!e.satisfied("ns/rs"), "a repeated or unrelated delete counts for nothing");
        e.deletion_observed("ns/rs", "ns/b");
        assert!(e.satisfied("ns/rs"));
        e.delete("ns/rs");
        assert!(e.satisfied("ns/rs"));
    }
}
