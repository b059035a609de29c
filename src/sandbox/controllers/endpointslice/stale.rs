//! `EndpointSliceTracker` (`staging/src/k8s.io/endpointslice/util/endpointslice_tracker.go`):
//! the generation of every slice this controller last wrote, so a sync can tell a cache
//! that has not yet seen those writes and wait for it instead of acting on the past.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::discovery::v1::EndpointSlice;

/// What the cache should show of a written slice.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expected {
    /// At least this generation.
    Generation(i64),
    /// Gone.
    Deleted,
}

/// Per Service (`namespace/name`), per slice name, what the last writes expect.
#[derive(Default)]
pub struct Tracker {
    services: Mutex<HashMap<String, HashMap<String, Expected>>>,
}

impl Tracker {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, HashMap<String, Expected>>) -> T) -> T {
        f(&mut self.services.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// A slice was created or updated: the cache must show it at this generation.
    pub fn expect(&self, service: &str, slice: &EndpointSlice) {
        let name = slice.metadata.name.clone().unwrap_or_default();
        let generation = slice.metadata.generation.unwrap_or(0);
        self.with(|m| m.entry(service.to_string()).or_default().insert(name, Expected::Generation(generation)));
    }

    /// A slice was deleted: the cache must not show it.
    pub fn expect_gone(&self, service: &str, name: &str) {
        self.with(|m| m.entry(service.to_string()).or_default().insert(name.to_string(), Expected::Deleted));
    }

    pub fn forget(&self, service: &str) {
        self.with(|m| m.remove(service));
    }

    /// Whether `cached` (the cache's slices of `service`) lags behind our writes; the
    /// expectations it meets are dropped.
    pub fn is_stale(&self, service: &str, cached: &[Arc<EndpointSlice>]) -> bool {
        self.with(|m| {
            let Some(expected) = m.get_mut(service) else { return false };
            expected.retain(|name, want| {
                let seen = cached.iter().find(|s| s.metadata.name.as_deref() == Some(name.as_str()));
                match (*want, seen) {
                    (Expected::Deleted, None) => false,
                    (Expected::Generation(g), Some(s)) => s.metadata.generation.unwrap_or(0) < g,
                    _ => true,
                }
            });
            !expected.is_empty()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(name: &str, generation: i64) -> Arc<EndpointSlice> {
        let mut s = EndpointSlice::default();
        s.metadata.name = Some(name.into());
        s.metadata.generation = Some(generation);
        Arc::new(s)
    }

    #[test]
    fn the_cache_is_stale_until_it_shows_every_write() {
        let t = Tracker::default();
        t.expect("default/web", &slice("web-a", 2));
        t.expect_gone("default/web", "web-b");
        let cases = [
            (vec![slice("web-a", 1), slice("web-b", 1)], true),
            (vec![slice("web-a", 2), slice("web-b", 1)], true),
            (vec![slice("web-b", 1)], true),
            (vec![], false),
        ];
        for (i, (cached, want)) in cases.into_iter().enumerate() {
            assert_eq!(t.is_stale("default/web", &cached), want, "case {i}");
        }
        assert!(!t.is_stale("default/other", &[]));
    }
}
