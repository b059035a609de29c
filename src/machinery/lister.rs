//! Listers: client-go's generated `listers` (e.g. `corev1listers.PodLister`).
//!
//! Controllers read the informer's cache, never the API server, through a typed,
//! read-only view: `lister.list()`, `lister.namespaced("prod").get("web")`. The
//! namespaced lister uses the namespace index instead of scanning every object.
//! Objects are shared `Arc`s from the cache: read them, clone before changing.
//!
//! kube-rs: `kube::runtime::reflector::Store::{state, get}` is the lister.

use std::sync::Arc;

use super::indexer::{Indexer, NAMESPACE_INDEX};
use super::store::CacheObject;

/// A read-only, cluster-wide view of an [`Indexer`].
pub struct Lister<K> {
    indexer: Indexer<K>,
}

impl<K> Clone for Lister<K> {
    fn clone(&self) -> Self {
        Self { indexer: self.indexer.clone() }
    }
}

impl<K: CacheObject> Lister<K> {
    /// A lister over `indexer` (`NewPodLister(indexer)`).
    pub fn new(indexer: Indexer<K>) -> Self {
        Self { indexer }
    }

    /// Every cached object.
    pub fn list(&self) -> Vec<Arc<K>> {
        self.indexer.list()
    }

    /// Cached objects for which `selector` is true (client-go takes a `labels.Selector`;
    /// any predicate works here, e.g. one checking `labels()`).
    pub fn list_matching(&self, selector: impl Fn(&K) -> bool) -> Vec<Arc<K>> {
        self.indexer.list().into_iter().filter(|o| selector(o)).collect()
    }

    /// A cluster-scoped object by name (or any object by its full `namespace/name` key).
    pub fn get(&self, key: &str) -> Option<Arc<K>> {
        self.indexer.get_by_key(key)
    }

    /// The view of one namespace (`Pods(namespace)`).
    pub fn namespaced(&self, namespace: &str) -> NamespacedLister<K> {
        NamespacedLister { indexer: self.indexer.clone(), namespace: namespace.to_string() }
    }
}

/// A read-only view of one namespace (`PodNamespaceLister`).
pub struct NamespacedLister<K> {
    indexer: Indexer<K>,
    namespace: String,
}

impl<K: CacheObject> NamespacedLister<K> {
    /// Every cached object in the namespace, through the namespace index.
    pub fn list(&self) -> Vec<Arc<K>> {
        // The namespace index is registered by `Indexer::new`; an indexer built without it
        // falls back to a scan.
        self.indexer.by_index(NAMESPACE_INDEX, &self.namespace).unwrap_or_else(|_| {
            self.indexer.list().into_iter().filter(|o| o.meta().namespace.as_deref() == Some(&self.namespace)).collect()
        })
    }

    /// Objects in the namespace for which `selector` is true.
    pub fn list_matching(&self, selector: impl Fn(&K) -> bool) -> Vec<Arc<K>> {
        self.list().into_iter().filter(|o| selector(o)).collect()
    }

    /// The object `name` in the namespace.
    pub fn get(&self, name: &str) -> Option<Arc<K>> {
        self.indexer.get_by_key(&format!("{}/{}", self.namespace, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machinery::store::Store;
    use k8s_openapi::api::core::v1::ConfigMap;
    use std::collections::BTreeMap;

    fn cm(ns: &str, name: &str, app: &str) -> Arc<ConfigMap> {
        let mut c = ConfigMap::default();
        c.metadata.name = Some(name.into());
        c.metadata.namespace = Some(ns.into());
        c.metadata.labels = Some(BTreeMap::from([("app".to_string(), app.to_string())]));
        Arc::new(c)
    }

    #[test]
    fn lists_and_gets_through_the_cache() {
        let idx = Indexer::new();
        idx.add(cm("a", "one", "web")).unwrap();
        idx.add(cm("a", "two", "db")).unwrap();
        idx.add(cm("b", "one", "web")).unwrap();
        let lister = Lister::new(idx);
        assert_eq!(lister.list().len(), 3);
        let web = lister.list_matching(|c| c.metadata.labels.as_ref().and_then(|l| l.get("app")).map(String::as_str) == Some("web"));
        assert_eq!(web.len(), 2);
        let a = lister.namespaced("a");
        assert_eq!(a.list().len(), 2);
        assert_eq!(a.get("two").unwrap().metadata.name.as_deref(), Some("two"));
        assert!(a.get("three").is_none());
        assert!(lister.get("b/one").is_some());
        assert_eq!(lister.namespaced("c").list().len(), 0);
    }
}
