//! The GC's writes (`operations.go`, `patch.go`): GET, DELETE with preconditions, JSON
//! merge patches of ownerReferences and finalizers guarded by the resourceVersion read.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions, PropagationPolicy};
use serde_json::json;

use super::graph::Identity;
use super::{GarbageCollector, GcError};

/// How many times a finalizer removal is retried on conflict (`retry.DefaultBackoff.Steps`).
const UPDATE_MAX_RETRIES: usize = 5;

fn is_status(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

impl GarbageCollector {
    /// The API of the object `identity` names (its namespace dropped when cluster-scoped).
    fn api(&self, identity: &Identity) -> Result<Api<DynamicObject>, GcError> {
        let mapper = self.mapper();
        let m = mapper
            .mapping(&identity.api_version, &identity.kind)
            .ok_or_else(|| GcError::RestMapping { kind: identity.kind.clone(), api_version: identity.api_version.clone() })?;
        if !m.namespaced {
            return Ok(Api::all_with(self.client.clone(), &m.resource));
        }
        if identity.namespace.is_empty() {
            return Err(GcError::NamespacedOwnerOfClusterScopedObject);
        }
        Ok(Api::namespaced_with(self.client.clone(), &identity.namespace, &m.resource))
    }

    /// Whether `api_version`/`kind` is namespaced.
    pub fn namespaced(&self, api_version: &str, kind: &str) -> Result<bool, GcError> {
        self.mapper()
            .mapping(api_version, kind)
            .map(|m| m.namespaced)
            .ok_or_else(|| GcError::RestMapping { kind: kind.into(), api_version: api_version.into() })
    }

    /// `getObject`: the live object, `None` when it is not found.
    pub async fn get_object(&self, identity: &Identity) -> Result<Option<DynamicObject>, GcError> {
        match self.api(identity)?.get(&identity.name).await {
            Ok(o) => Ok(Some(o)),
            Err(e) if is_status(&e, 404) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// `deleteObject`: preconditioned on the uid and the resourceVersion the decision read;
    /// a conflict from an update that left the ownerReferences alone is retried without the
    /// resourceVersion, so unrelated writes cannot starve the GC.
    pub async fn delete_object(
        &self,
        identity: &Identity,
        resource_version: Option<String>,
        owners_at_version: &[OwnerReference],
        policy: PropagationPolicy,
    ) -> Result<(), GcError> {
        let api = self.api(identity)?;
        let params = DeleteParams {
            propagation_policy: Some(policy.clone()),
            preconditions: Some(Preconditions { uid: Some(identity.uid.clone()), resource_version: resource_version.clone() }),
            ..DeleteParams::default()
        };
        match api.delete(&identity.name, &params).await {
            Ok(_) => Ok(()),
            Err(e) if is_status(&e, 404) => Ok(()),
            Err(e) if is_status(&e, 409) && resource_version.is_some() => {
                let live = match api.get(&identity.name).await {
                    Err(e) if is_status(&e, 404) => return Ok(()),
                    Err(_) => return Err(e.into()),
                    Ok(l) => l,
                };
                let same_owners = live.metadata.owner_references.as_deref().unwrap_or_default() == owners_at_version;
                if live.metadata.uid.as_deref() == Some(identity.uid.as_str())
                    && live.metadata.resource_version != resource_version
                    && same_owners
                {
                    return Box::pin(self.delete_object(identity, None, &[], policy)).await;
                }
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `patch`: a strategic merge patch, or where the resource has none (custom
    /// resources: 415) the JSON merge patch `jmp` builds from the live object.
    async fn patch_refs(
        &self,
        identity: &Identity,
        smp: serde_json::Value,
        jmp: impl FnOnce(Vec<OwnerReference>) -> Vec<OwnerReference>,
    ) -> Result<(), GcError> {
        let api = self.api(identity)?;
        match api.patch(&identity.name, &PatchParams::default(), &Patch::Strategic(&smp)).await {
            Ok(_) => return Ok(()),
            Err(e) if is_status(&e, 415) => {}
            Err(e) => return Err(e.into()),
        }
        let Some(live) = self.get_object(identity).await? else { return Ok(()) };
        let refs = jmp(live.metadata.owner_references.unwrap_or_default());
        let refs = if refs.is_empty() { json!(null) } else { json!(refs) };
        let patch = json!({"metadata": {"resourceVersion": live.metadata.resource_version, "ownerReferences": refs}});
        api.patch(&identity.name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
        Ok(())
    }

    /// `GenerateDeleteOwnerRefStrategicMergeBytes` (or `deleteOwnerRefJSONMergePatch`):
    /// removes the references to `owner_uids`; the dependent's uid guards against a
    /// recreated object.
    pub async fn delete_owner_refs(&self, identity: &Identity, owner_uids: &[String]) -> Result<(), GcError> {
        let deletes: Vec<serde_json::Value> = owner_uids.iter().map(|u| json!({"$patch": "delete", "uid": u})).collect();
        let smp = json!({"metadata": {"ownerReferences": deletes, "uid": identity.uid}});
        self.patch_refs(identity, smp, |refs| refs.into_iter().filter(|r| !owner_uids.contains(&r.uid)).collect()).await
    }

    /// `unblockOwnerReferencesStrategicMergePatch` (or its JSON merge twin): the blocking
    /// references set to `blockOwnerDeletion: false`, so owners waiting for it may go.
    pub async fn unblock_owner_refs(&self, identity: &Identity, owners: &[OwnerReference]) -> Result<(), GcError> {
        let unblocked = |r: OwnerReference| OwnerReference { block_owner_deletion: Some(false), ..r };
        let blocking: Vec<OwnerReference> =
            owners.iter().filter(|r| r.block_owner_deletion == Some(true)).cloned().map(unblocked).collect();
        let smp = json!({"metadata": {"ownerReferences": blocking, "uid": identity.uid}});
        self.patch_refs(identity, smp, |refs| refs.into_iter().map(unblocked).collect()).await
    }

    /// `removeFinalizer`, retried on conflict.
    pub async fn remove_finalizer(&self, identity: &Identity, finalizer: &str) -> Result<(), GcError> {
        let api = self.api(identity)?;
        for _ in 0..UPDATE_MAX_RETRIES {
            let Some(live) = self.get_object(identity).await? else { return Ok(()) };
            let finalizers = live.metadata.finalizers.unwrap_or_default();
            if !finalizers.iter().any(|f| f == finalizer) {
                return Ok(());
            }
            let rest: Vec<&String> = finalizers.iter().filter(|f| *f != finalizer).collect();
            let rest = if rest.is_empty() { json!(null) } else { json!(rest) };
            let patch = json!({"metadata": {"resourceVersion": live.metadata.resource_version, "finalizers": rest}});
            match api.patch(&identity.name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                Ok(_) => return Ok(()),
                Err(e) if is_status(&e, 404) => return Ok(()),
                Err(e) if is_status(&e, 409) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(GcError::Conflicts(identity.key()))
    }
}
