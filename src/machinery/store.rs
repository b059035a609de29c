//! Object keys and the `Store` contract: client-go's `tools/cache` store.go.
//!
//! Every cache in client-go is addressed by a string key computed from the object:
//! `MetaNamespaceKeyFunc` gives `namespace/name` for namespaced objects and `name` for
//! cluster-scoped ones. A [`Store`] is the thread-safe map from those keys to objects
//! that a reflector fills and listers read. [`KeyListerGetter`] is the small slice of it
//! that a DeltaFIFO needs from its `knownObjects` (the informer's indexer).
//!
//! kube-rs: `kube::runtime::reflector::Store` (read side) and `store::Writer` (write
//! side) are keyed by `ObjectRef` (kind + namespace + name) rather than a string.
//!
//! Objects are held as `Arc<K>`: the cache, the DeltaFIFO and every handler share one
//! copy, like client-go's pointers, and must treat it as read-only.

use std::sync::Arc;

use kube::Resource;
use thiserror::Error;

/// What the machinery can cache: any Kubernetes object (`k8s-openapi` types,
/// `DynamicObject`, custom resources), through `kube::Resource` for its metadata.
pub trait CacheObject: Resource + Clone + Send + Sync + 'static {}
impl<K: Resource + Clone + Send + Sync + 'static> CacheObject for K {}

/// Errors of stores and indexers.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The key function could not compute a key (client-go's `KeyError`).
    #[error("couldn't create key for object: {0}")]
    Key(String),
    /// `by_index` and friends were asked for an index that was never registered.
    #[error("index with name {0} does not exist")]
    IndexNotFound(String),
    /// `add_indexers` was given a name that is already registered.
    #[error("indexer conflict: {0}")]
    IndexerConflict(String),
}

/// client-go's `KeyFunc`.
pub type KeyFunc<K> = fn(&K) -> Result<String, StoreError>;

/// `MetaNamespaceKeyFunc`: `namespace/name`, or `name` for cluster-scoped objects.
pub fn meta_namespace_key_func<K: Resource>(obj: &K) -> Result<String, StoreError> {
    let meta = obj.meta();
    let name = meta.name.as_deref().filter(|n| !n.is_empty()).ok_or_else(|| StoreError::Key("object has no name".into()))?;
    Ok(match meta.namespace.as_deref() {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_string(),
    })
}

/// `SplitMetaNamespaceKey`: `(namespace, name)`; the namespace is empty for cluster-scoped keys.
pub fn split_meta_namespace_key(key: &str) -> Result<(&str, &str), StoreError> {
    let parts: Vec<&str> = key.split('/').collect();
    match parts.as_slice() {
        [name] if !name.is_empty() => Ok(("", name)),
        [ns, name] if !name.is_empty() => Ok((ns, name)),
        _ => Err(StoreError::Key(format!("unexpected key format: {key:?}"))),
    }
}

/// The read-only part of a store a DeltaFIFO needs from its `knownObjects`
/// (client-go's `KeyListerGetter`): which keys exist and what they hold.
pub trait KeyListerGetter<K>: Send + Sync {
    /// Every key in the store.
    fn list_keys(&self) -> Vec<String>;
    /// The object under `key`, if any.
    fn get_by_key(&self, key: &str) -> Option<Arc<K>>;
}

/// client-go's `cache.Store` interface.
pub trait Store<K>: KeyListerGetter<K> {
    /// Inserts `obj` under its key.
    fn add(&self, obj: Arc<K>) -> Result<(), StoreError>;
    /// Replaces the object under `obj`'s key (same as add for a plain store).
    fn update(&self, obj: Arc<K>) -> Result<(), StoreError>;
    /// Removes the object with `obj`'s key.
    fn delete(&self, obj: &K) -> Result<(), StoreError>;
    /// Every object.
    fn list(&self) -> Vec<Arc<K>>;
    /// The stored object with the same key as `obj`.
    fn get(&self, obj: &K) -> Result<Option<Arc<K>>, StoreError>;
    /// Throws the contents away and stores `list` instead; `resource_version` is the list's.
    fn replace(&self, list: Vec<Arc<K>>, resource_version: &str) -> Result<(), StoreError>;
    /// Meaningless for a plain cache (client-go's `cache.Resync` is a no-op); a DeltaFIFO
    /// answers it by queuing Sync deltas.
    fn resync(&self) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Namespace, Pod};

    #[test]
    fn keys_are_namespace_slash_name() {
        let mut pod = Pod::default();
        pod.metadata.name = Some("web".into());
        pod.metadata.namespace = Some("prod".into());
        assert_eq!(meta_namespace_key_func(&pod).unwrap(), "prod/web");
        let mut ns = Namespace::default();
        ns.metadata.name = Some("prod".into());
        assert_eq!(meta_namespace_key_func(&ns).unwrap(), "prod");
        assert!(meta_namespace_key_func(&Pod::default()).is_err());
        assert_eq!(split_meta_namespace_key("prod/web").unwrap(), ("prod", "web"));
        assert_eq!(split_meta_namespace_key("prod").unwrap(), ("", "prod"));
        assert!(split_meta_namespace_key("a/b/c").is_err());
    }
}
