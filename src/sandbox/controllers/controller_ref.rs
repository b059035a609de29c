//! `ControllerRefManager` (`pkg/controller/controller_ref_manager.go`): which objects a
//! controller owns. An object with our controller ownerReference stays ours while the
//! selector matches it and is released when it stops matching; an orphan that matches is
//! adopted, but only after a fresh read shows the owner is still the same object and not
//! being deleted (`RecheckDeletionTimestamp`), so a deleted owner never adopts.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use kube::api::{Api, Patch, PatchParams};
use kube::Resource;
use serde::de::DeserializeOwned;

use crate::sandbox::registry::label_selector;

/// Why a claim could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error(transparent)]
    Kube(#[from] kube::Error),
    #[error("original {kind} {namespace}/{name} is gone: got uid {got}, wanted {wanted}")]
    Gone { kind: String, namespace: String, name: String, got: String, wanted: String },
    #[error("{namespace}/{name} has just been deleted")]
    Deleting { namespace: String, name: String },
}

/// `metav1.GetControllerOf`.
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references.iter().flatten().find(|r| r.controller == Some(true))
}

/// `metav1.NewControllerRef`: controller=true, blockOwnerDeletion=true.
pub fn new_controller_ref<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: owner.meta().name.clone().unwrap_or_default(),
        uid: owner.meta().uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Whether `selector` selects `labels` (`LabelSelectorAsSelector(...).Matches`).
pub fn selects(selector: &LabelSelector, labels: Option<&BTreeMap<String, String>>) -> bool {
    let selector = serde_json::to_value(selector).unwrap_or_default();
    let labels = labels.and_then(|l| serde_json::to_value(l).ok());
    label_selector::matches(&selector, labels.as_ref())
}

/// Whether a controller's `selector` selects `labels`: an empty selector selects nothing
/// here (a controller never adopts everything in its namespace).
pub fn controller_selects(selector: &LabelSelector, labels: Option<&BTreeMap<String, String>>) -> bool {
    let empty =
        selector.match_labels.as_ref().is_none_or(|m| m.is_empty()) && selector.match_expressions.as_ref().is_none_or(|m| m.is_empty());
    !empty && selects(selector, labels)
}

/// The owner side of a claim: who claims, with which selector.
pub struct Claimer<'a, O> {
    pub owner: &'a O,
    pub selector: &'a LabelSelector,
}

impl<O: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug> Claimer<'_, O> {
    /// `ClaimObject` over `objects`: the ones that are (now) ours. `owners` re-reads the
    /// owner from the API before the first adoption. Errors are collected and the first is
    /// returned after every object was tried, as upstream aggregates them.
    pub async fn claim<K>(&self, owners: &Api<O>, objects: Vec<Arc<K>>, api: &Api<K>) -> Result<Vec<Arc<K>>, ClaimError>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    {
        let owner_meta = self.owner.meta();
        let uid = owner_meta.uid.clone().unwrap_or_default();
        let owner_deleting = owner_meta.deletion_timestamp.is_some();
        let mut claimed = Vec::new();
        let mut first_error: Option<ClaimError> = None;
        let mut can_adopt: Option<bool> = None;
        for obj in objects {
            let meta = obj.meta();
            let matches = selects(self.selector, meta.labels.as_ref());
            match controller_of(meta) {
                Some(r) if r.uid != uid => {}
                Some(_) if matches => claimed.push(obj),
                Some(_) => {
                    if owner_deleting {
                        continue;
                    }
                    if let Err(e) = self.release(api, &obj, &uid).await {
                        first_error.get_or_insert(e);
                    }
                }
                None => {
                    if owner_deleting || !matches || meta.deletion_timestamp.is_some() {
                        continue;
                    }
                    if can_adopt.is_none() {
                        match self.recheck(owners).await {
                            Ok(()) => can_adopt = Some(true),
                            Err(e) => {
                                can_adopt = Some(false);
                                first_error.get_or_insert(e);
                            }
                        }
                    }
                    if can_adopt != Some(true) {
                        continue;
                    }
                    match self.adopt(api, &obj).await {
                        Ok(Some(adopted)) => claimed.push(Arc::new(adopted)),
                        Ok(None) => {}
                        Err(e) => {
                            first_error.get_or_insert(e);
                        }
                    }
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(claimed),
        }
    }

    /// `RecheckDeletionTimestamp`: a fresh read, not the cache.
    async fn recheck(&self, owners: &Api<O>) -> Result<(), ClaimError> {
        let meta = self.owner.meta();
        let (namespace, name) = (meta.namespace.clone().unwrap_or_default(), meta.name.clone().unwrap_or_default());
        let fresh = owners.get(&name).await?;
        let (got, wanted) = (fresh.meta().uid.clone().unwrap_or_default(), meta.uid.clone().unwrap_or_default());
        if got != wanted {
            return Err(ClaimError::Gone { kind: O::kind(&()).into_owned(), namespace, name, got, wanted });
        }
        if fresh.meta().deletion_timestamp.is_some() {
            return Err(ClaimError::Deleting { namespace, name });
        }
        Ok(())
    }

    /// Adds our controller reference; `None` when the object is already gone.
    async fn adopt<K>(&self, api: &Api<K>, obj: &K) -> Result<Option<K>, ClaimError>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    {
        let patch = serde_json::json!({
            "metadata": {"ownerReferences": [new_controller_ref(self.owner)], "uid": obj.meta().uid}
        });
        let name = obj.meta().name.clone().unwrap_or_default();
        match api.patch(&name, &PatchParams::default(), &Patch::Strategic(patch)).await {
            Ok(o) => Ok(Some(o)),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes our controller reference (gone or already changed: nothing to do).
    async fn release<K>(&self, api: &Api<K>, obj: &K, owner_uid: &str) -> Result<(), ClaimError>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    {
        let patch = serde_json::json!({
            "metadata": {"ownerReferences": [{"$patch": "delete", "uid": owner_uid}], "uid": obj.meta().uid}
        });
        let name = obj.meta().name.clone().unwrap_or_default();
        match api.patch(&name, &PatchParams::default(), &Patch::Strategic(patch)).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if matches!(s.code, 404 | 409 | 422) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
