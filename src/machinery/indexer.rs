//! The indexer: client-go's `cache.Indexer` (index.go, thread_safe_store.go, store.go's `cache`).
//!
//! A [`Store`] plus secondary indexes. An index function maps an object to the values it
//! should be found under (`namespace` maps a pod to `["prod"]`); for each named index the
//! indexer keeps `value -> set of keys`, updated on every add, update and delete, so
//! "every pod on node n1" is a lookup, not a scan. The namespace index
//! ([`NAMESPACE_INDEX`]) is built in, as `cache.NewIndexer(keyFunc, cache.Indexers{NamespaceIndex: MetaNamespaceIndexFunc})`
//! in every generated informer.
//!
//! kube-rs: `kube::runtime::reflector::Store` has no secondary indexes; one filters
//! `store.state()` or keeps an own map.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::store::{meta_namespace_key_func, CacheObject, KeyFunc, KeyListerGetter, Store, StoreError};

/// The name of the built-in namespace index (`cache.NamespaceIndex`).
pub const NAMESPACE_INDEX: &str = "namespace";

/// client-go's `IndexFunc`: the values an object is indexed under.
pub type IndexFunc<K> = Arc<dyn Fn(&K) -> Vec<String> + Send + Sync>;

/// client-go's `Indexers`: index name -> index function.
pub type Indexers<K> = HashMap<String, IndexFunc<K>>;

/// client-go's `Index`: indexed value -> keys of the objects that have it.
pub type Index = BTreeMap<String, BTreeSet<String>>;

/// `MetaNamespaceIndexFunc`: indexes an object under its namespace (cluster-scoped: none).
pub fn meta_namespace_index_func<K: CacheObject>(obj: &K) -> Vec<String> {
    obj.meta().namespace.iter().filter(|ns| !ns.is_empty()).cloned().collect()
}

struct ThreadSafeStore<K> {
    /// Sorted by key so that listings are stable and demos print in a readable order.
    items: BTreeMap<String, Arc<K>>,
    indexers: Indexers<K>,
    /// client-go's `Indices`: index name -> Index.
    indices: HashMap<String, Index>,
}

impl<K> ThreadSafeStore<K> {
    /// `updateIndices`: removes `key` from the old object's values, adds it to the new one's.
    fn update_indices(&mut self, old: Option<&K>, new: Option<&K>, key: &str) {
        for (name, index_func) in &self.indexers {
            let old_values = old.map(|o| index_func(o)).unwrap_or_default();
            let new_values = new.map(|n| index_func(n)).unwrap_or_default();
            // Fast path for the common case of an update that does not touch the indexed values.
            if old_values == new_values {
                continue;
            }
            let index = self.indices.entry(name.clone()).or_default();
            for value in &old_values {
                if let Some(set) = index.get_mut(value) {
                    set.remove(key);
                    // Drop empty sets, or the index grows forever with values nobody has.
                    if set.is_empty() {
                        index.remove(value);
                    }
                }
            }
            for value in new_values {
                index.entry(value).or_default().insert(key.to_string());
            }
        }
    }
}

/// A thread-safe, indexed object cache. Cloning gives another handle to the same cache.
pub struct Indexer<K> {
    store: Arc<RwLock<ThreadSafeStore<K>>>,
    key_func: KeyFunc<K>,
}

impl<K> Clone for Indexer<K> {
    fn clone(&self) -> Self {
        Self { store: self.store.clone(), key_func: self.key_func }
    }
}

impl<K: CacheObject> fmt::Debug for Indexer<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Indexer").field("keys", &self.list_keys()).finish()
    }
}

impl<K: CacheObject> Default for Indexer<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: CacheObject> Indexer<K> {
    /// An empty indexer keyed by `namespace/name`, with the namespace index.
    pub fn new() -> Self {
        let mut indexers: Indexers<K> = HashMap::new();
        indexers.insert(NAMESPACE_INDEX.to_string(), Arc::new(meta_namespace_index_func::<K>));
        Self::with_indexers(meta_namespace_key_func::<K>, indexers)
    }

    /// `cache.NewIndexer(keyFunc, indexers)`.
    pub fn with_indexers(key_func: KeyFunc<K>, indexers: Indexers<K>) -> Self {
        Self { store: Arc::new(RwLock::new(ThreadSafeStore { items: BTreeMap::new(), indexers, indices: HashMap::new() })), key_func }
    }

    fn read(&self) -> RwLockReadGuard<'_, ThreadSafeStore<K>> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, ThreadSafeStore<K>> {
        self.store.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The key this indexer files `obj` under.
    pub fn key_of(&self, obj: &K) -> Result<String, StoreError> {
        (self.key_func)(obj)
    }

    /// Adds or replaces the object under `key` (client-go's `threadSafeStore.Update`).
    pub fn add_with_key(&self, key: String, obj: Arc<K>) {
        let mut s = self.write();
        let old = s.items.get(&key).cloned();
        s.update_indices(old.as_deref(), Some(&obj), &key);
        s.items.insert(key, obj);
    }

    /// Removes whatever is stored under `key`.
    pub fn delete_by_key(&self, key: &str) {
        let mut s = self.write();
        if let Some(old) = s.items.remove(key) {
            s.update_indices(Some(&old), None, key);
        }
    }

    /// Number of stored objects.
    pub fn len(&self) -> usize {
        self.read().items.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sorted keys of every stored object (`ListKeys`).
    pub fn list_keys(&self) -> Vec<String> {
        self.read().items.keys().cloned().collect()
    }

    /// The object under `key` (`GetByKey`).
    pub fn get_by_key(&self, key: &str) -> Option<Arc<K>> {
        self.read().items.get(key).cloned()
    }

    /// Every stored object, sorted by key (`List`).
    pub fn list(&self) -> Vec<Arc<K>> {
        self.read().items.values().cloned().collect()
    }

    /// Objects that share at least one value of index `index_name` with `obj` (`Index`).
    pub fn index(&self, index_name: &str, obj: &K) -> Result<Vec<Arc<K>>, StoreError> {
        let s = self.read();
        let index_func = s.indexers.get(index_name).ok_or_else(|| StoreError::IndexNotFound(index_name.into()))?;
        let index = s.indices.get(index_name);
        let mut keys = BTreeSet::new();
        for value in index_func(obj) {
            if let Some(set) = index.and_then(|i| i.get(&value)) {
                keys.extend(set.iter().cloned());
            }
        }
        Ok(keys.iter().filter_map(|k| s.items.get(k).cloned()).collect())
    }

    /// Keys of the objects indexed under `indexed_value` in index `index_name` (`IndexKeys`).
    pub fn index_keys(&self, index_name: &str, indexed_value: &str) -> Result<Vec<String>, StoreError> {
        let s = self.read();
        if !s.indexers.contains_key(index_name) {
            return Err(StoreError::IndexNotFound(index_name.into()));
        }
        Ok(s.indices.get(index_name).and_then(|i| i.get(indexed_value)).map(|set| set.iter().cloned().collect()).unwrap_or_default())
    }

    /// Every value that index `index_name` currently has objects for (`ListIndexFuncValues`).
    pub fn list_index_func_values(&self, index_name: &str) -> Vec<String> {
        self.read().indices.get(index_name).map(|i| i.keys().cloned().collect()).unwrap_or_default()
    }

    /// Objects indexed under `indexed_value` in index `index_name` (`ByIndex`).
    pub fn by_index(&self, index_name: &str, indexed_value: &str) -> Result<Vec<Arc<K>>, StoreError> {
        let s = self.read();
        if !s.indexers.contains_key(index_name) {
            return Err(StoreError::IndexNotFound(index_name.into()));
        }
        let Some(set) = s.indices.get(index_name).and_then(|i| i.get(indexed_value)) else {
            return Ok(Vec::new());
        };
        Ok(set.iter().filter_map(|k| s.items.get(k).cloned()).collect())
    }

    /// Registers more indexes and indexes the objects already stored (`AddIndexers`).
    pub fn add_indexers(&self, new_indexers: Indexers<K>) -> Result<(), StoreError> {
        let mut s = self.write();
        if let Some(name) = new_indexers.keys().find(|n| s.indexers.contains_key(*n)) {
            return Err(StoreError::IndexerConflict(name.clone()));
        }
        for (name, index_func) in new_indexers {
            let mut index = Index::new();
            for (key, obj) in &s.items {
                for value in index_func(obj) {
                    index.entry(value).or_default().insert(key.clone());
                }
            }
            s.indices.insert(name.clone(), index);
            s.indexers.insert(name, index_func);
        }
        Ok(())
    }

    /// Names of the registered indexes (`GetIndexers`).
    pub fn indexer_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.read().indexers.keys().cloned().collect();
        names.sort();
        names
    }
}

impl<K: CacheObject> KeyListerGetter<K> for Indexer<K> {
    fn list_keys(&self) -> Vec<String> {
        Indexer::list_keys(self)
    }

    fn get_by_key(&self, key: &str) -> Option<Arc<K>> {
        Indexer::get_by_key(self, key)
    }
}

impl<K: CacheObject> Store<K> for Indexer<K> {
    fn add(&self, obj: Arc<K>) -> Result<(), StoreError> {
        let key = self.key_of(&obj)?;
        self.add_with_key(key, obj);
        Ok(())
    }

    fn update(&self, obj: Arc<K>) -> Result<(), StoreError> {
        Store::add(self, obj)
    }

    fn delete(&self, obj: &K) -> Result<(), StoreError> {
        let key = self.key_of(obj)?;
        self.delete_by_key(&key);
        Ok(())
    }

    fn list(&self) -> Vec<Arc<K>> {
        Indexer::list(self)
    }

    fn get(&self, obj: &K) -> Result<Option<Arc<K>>, StoreError> {
        let key = self.key_of(obj)?;
        Ok(Indexer::get_by_key(self, &key))
    }

    fn replace(&self, list: Vec<Arc<K>>, _resource_version: &str) -> Result<(), StoreError> {
        // Compute every key first: a bad object must not leave the cache half replaced.
        let keyed: Vec<(String, Arc<K>)> = list.into_iter().map(|o| Ok((self.key_of(&o)?, o))).collect::<Result<_, StoreError>>()?;
        let mut s = self.write();
        s.items.clear();
        s.indices.clear();
        for (key, obj) in keyed {
            s.update_indices(None, Some(&obj), &key);
            s.items.insert(key, obj);
        }
        Ok(())
    }

    fn resync(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;

    fn pod(ns: &str, name: &str, node: &str) -> Arc<Pod> {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.namespace = Some(ns.into());
        p.spec = Some(k8s_openapi::api::core::v1::PodSpec { node_name: Some(node.into()), ..Default::default() });
        Arc::new(p)
    }

    fn by_node(p: &Pod) -> Vec<String> {
        p.spec.as_ref().and_then(|s| s.node_name.clone()).into_iter().collect()
    }

    #[test]
    fn namespace_index_and_custom_index() {
        let idx = Indexer::new();
        idx.add_indexers(HashMap::from([("node".to_string(), Arc::new(by_node) as IndexFunc<Pod>)])).unwrap();
        idx.add(pod("a", "p1", "n1")).unwrap();
        idx.add(pod("a", "p2", "n2")).unwrap();
        idx.add(pod("b", "p3", "n1")).unwrap();
        assert_eq!(idx.index_keys(NAMESPACE_INDEX, "a").unwrap(), vec!["a/p1", "a/p2"]);
        assert_eq!(idx.index_keys("node", "n1").unwrap(), vec!["a/p1", "b/p3"]);
        assert_eq!(idx.list_index_func_values("node"), vec!["n1", "n2"]);
        assert_eq!(idx.index("node", &pod("z", "any", "n2")).unwrap().len(), 1);
        // Moving p1 to n2 moves its key between index values; n1 keeps only p3.
        idx.update(pod("a", "p1", "n2")).unwrap();
        assert_eq!(idx.index_keys("node", "n1").unwrap(), vec!["b/p3"]);
        assert_eq!(idx.by_index("node", "n2").unwrap().len(), 2);
        idx.delete(&pod("b", "p3", "n1")).unwrap();
        assert_eq!(idx.list_index_func_values("node"), vec!["n2"]);
        assert_eq!(idx.by_index("nope", "x"), Err(StoreError::IndexNotFound("nope".into())));
        assert!(matches!(
            idx.add_indexers(HashMap::from([("node".to_string(), Arc::new(by_node) as IndexFunc<Pod>)])),
            Err(StoreError::IndexerConflict(_))
        ));
    }

    #[test]
    fn replace_rebuilds_items_and_indices() {
        let idx = Indexer::new();
        idx.add(pod("a", "p1", "n1")).unwrap();
        idx.replace(vec![pod("b", "p2", "n1"), pod("b", "p3", "n1")], "10").unwrap();
        assert_eq!(idx.list_keys(), vec!["b/p2", "b/p3"]);
        assert_eq!(idx.list_index_func_values(NAMESPACE_INDEX), vec!["b"]);
        assert!(idx.get(&pod("a", "p1", "n1")).unwrap().is_none());
    }
}
