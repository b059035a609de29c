//! Metadata-only informers: client-go's `metadatainformer`, and the garbage collector's
//! `informerfactory.ForResource`, which reuses a typed informer when one exists.
//!
//! A controller that only reads metadata (the garbage collector: owner references, uids,
//! finalizers) should not hold whole objects, and should not open a second watch of
//! pods when another loop already caches them. So [`MetadataEvents`] is what every
//! informer offers, typed or not: handlers that receive only `ObjectMeta`. For a resource
//! nobody caches yet, the factory makes an informer over `PartialObjectMetadata` (the
//! server sends metadata alone: `Accept: application/json;as=PartialObjectMetadata;...`).

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DynamicObject, ListParams, ObjectList, PartialObjectMeta, WatchParams};

use super::delta_fifo::DeltaObject;
use super::reflector::{ListerWatcher, WatchStream};
use super::shared_informer::{ResourceEventHandlerFuncs, SharedIndexInformer};
use super::store::CacheObject;

/// The object a metadata informer caches.
pub type MetadataObject = PartialObjectMeta<DynamicObject>;

/// One notification of a metadata handler.
pub enum MetadataEvent<'a> {
    Add(&'a ObjectMeta),
    Update {
        old: &'a ObjectMeta,
        new: &'a ObjectMeta,
    },
    /// The last state seen (a tombstone's, when the delete was missed).
    Delete(&'a ObjectMeta),
}

/// A handler of metadata notifications.
pub type MetadataHandler = Arc<dyn Fn(MetadataEvent<'_>) + Send + Sync>;

/// What any informer offers a metadata-only reader.
pub trait MetadataEvents: Send + Sync {
    /// Adds `handler` under `name` (`AddEventHandler`; existing objects arrive as adds).
    fn add_metadata_handler(&self, name: &str, handler: MetadataHandler);
}

impl<K: CacheObject> MetadataEvents for SharedIndexInformer<K> {
    fn add_metadata_handler(&self, name: &str, handler: MetadataHandler) {
        let (add, update, delete) = (handler.clone(), handler.clone(), handler);
        self.add_named_event_handler(
            name,
            ResourceEventHandlerFuncs::new()
                .on_add(move |o: &Arc<K>, _| add(MetadataEvent::Add(o.meta())))
                .on_update(move |old: &Arc<K>, new: &Arc<K>| update(MetadataEvent::Update { old: old.meta(), new: new.meta() }))
                .on_delete(move |o: &DeltaObject<K>| delete(MetadataEvent::Delete(o.object().meta()))),
        );
    }
}

/// Lists and watches a resource's metadata only (`metadata.Client`).
pub struct MetadataListerWatcher(pub Api<DynamicObject>);

impl ListerWatcher<MetadataObject> for MetadataListerWatcher {
    fn list(&self, params: ListParams) -> BoxFuture<'_, Result<ObjectList<MetadataObject>, kube::Error>> {
        Box::pin(async move { self.0.list_metadata(&params).await })
    }

    fn watch(&self, params: WatchParams, resource_version: String) -> BoxFuture<'_, Result<WatchStream<MetadataObject>, kube::Error>> {
        Box::pin(async move { Ok(self.0.watch_metadata(&params, &resource_version).await?.boxed()) })
    }
}
