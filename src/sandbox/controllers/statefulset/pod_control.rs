//! `StatefulPodControl` (`stateful_pod_control.go`): creates a stateful pod after its
//! claims, deletes and relabels pods, and records upstream's Events on the set:
//! `SuccessfulCreate` "create Pod web-0 in StatefulSet web successful",
//! "create Claim www-web-0 Pod web-0 in StatefulSet web success", `FailedCreate`, ….

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ObjectReference, PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};

use super::identity::{claims_for, ordinal_of, POD_INDEX_LABEL, POD_NAME_LABEL};
use crate::machinery::lister::Lister;
use crate::sandbox::controllers::pod_control::api_message;
use crate::sandbox::controllers::{EventRecorder, EventType};

pub struct StatefulPodControl<'a> {
    pub client: &'a kube::Client,
    pub recorder: &'a EventRecorder,
    pub claims: &'a Lister<PersistentVolumeClaim>,
    pub set: &'a StatefulSet,
    /// The set, as the Events name it.
    pub object: &'a ObjectReference,
}

/// `strings.Title(verb)`.
fn title(verb: &str) -> String {
    let mut c = verb.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

impl StatefulPodControl<'_> {
    fn set_name(&self) -> &str {
        self.set.metadata.name.as_deref().unwrap_or_default()
    }

    /// `recordPodEvent`.
    fn pod_event(&self, verb: &str, pod: &str, err: Option<&kube::Error>) {
        let set = self.set_name();
        match err {
            None => self.recorder.event(
                self.object,
                EventType::Normal,
                &format!("Successful{}", title(verb)),
                format!("{verb} Pod {pod} in StatefulSet {set} successful"),
            ),
            Some(e) => self.recorder.event(
                self.object,
                EventType::Warning,
                &format!("Failed{}", title(verb)),
                format!("{verb} Pod {pod} in StatefulSet {set} failed error: {}", api_message(e)),
            ),
        }
    }

    /// `recordClaimEvent`.
    fn claim_event(&self, verb: &str, pod: &str, claim: &str, err: Option<&kube::Error>) {
        let set = self.set_name();
        match err {
            None => self.recorder.event(
                self.object,
                EventType::Normal,
                &format!("Successful{}", title(verb)),
                format!("{verb} Claim {claim} Pod {pod} in StatefulSet {set} success"),
            ),
            Some(e) => self.recorder.event(
                self.object,
                EventType::Warning,
                &format!("Failed{}", title(verb)),
                format!("{verb} Claim {claim} for Pod {pod} in StatefulSet {set} failed error: {}", api_message(e)),
            ),
        }
    }

    /// `createPersistentVolumeClaims`: the pod's claims that do not exist yet. A claim is
    /// never deleted here: only its owner references (the retention policy) remove it.
    pub async fn create_missing_claims(&self, pod: &Pod) -> Result<(), kube::Error> {
        let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
        let ns = self.set.metadata.namespace.clone().unwrap_or_default();
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &ns);
        for claim in claims_for(self.set, pod) {
            let name = claim.metadata.name.clone().unwrap_or_default();
            if self.claims.get(&format!("{ns}/{name}")).is_some() {
                continue;
            }
            match api.create(&PostParams::default(), &claim).await {
                Ok(_) => self.claim_event("create", pod_name, &name, None),
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => {
                    self.claim_event("create", pod_name, &name, Some(&e));
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// `CreateStatefulPod`: the claims first, then the pod. A pod already there (the
    /// cache had not shown it yet) is not an error: its add event brings the set back.
    pub async fn create(&self, pod: &Pod) -> Result<(), kube::Error> {
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        if let Err(e) = self.create_missing_claims(pod).await {
            self.pod_event("create", name, Some(&e));
            return Err(e);
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), pod.metadata.namespace.as_deref().unwrap_or_default());
        let created = api.create(&PostParams::default(), pod).await;
        self.reported("create", name, created, 409)
    }

    /// The pod event for a write's outcome; `done` is the status that means the write was
    /// already made (409 on create, 404 on delete), which is no error and tells nothing.
    fn reported<T>(&self, verb: &str, name: &str, result: Result<T, kube::Error>, done: u16) -> Result<(), kube::Error> {
        match result {
            Ok(_) => {
                self.pod_event(verb, name, None);
                Ok(())
            }
            Err(kube::Error::Api(s)) if s.code == done => Ok(()),
            Err(e) => {
                self.pod_event(verb, name, Some(&e));
                Err(e)
            }
        }
    }

    /// `DeleteStatefulPod`.
    pub async fn delete(&self, pod: &Pod) -> Result<(), kube::Error> {
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), pod.metadata.namespace.as_deref().unwrap_or_default());
        let deleted = api.delete(name, &DeleteParams::default()).await;
        self.reported("delete", name, deleted, 404)
    }

    /// `UpdateStatefulPod` for a pod whose identity labels drifted: puts them back.
    pub async fn update_identity(&self, pod: &Pod) -> Result<(), kube::Error> {
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let patch = serde_json::json!({"metadata": {"labels": {
            POD_NAME_LABEL: name, POD_INDEX_LABEL: ordinal_of(pod).to_string()
        }}});
        let api: Api<Pod> = Api::namespaced(self.client.clone(), pod.metadata.namespace.as_deref().unwrap_or_default());
        match api.patch(name, &PatchParams::default(), &Patch::Merge(patch)).await {
            Ok(_) => {
                self.pod_event("update", name, None);
                Ok(())
            }
            Err(e) => {
                self.pod_event("update", name, Some(&e));
                Err(e)
            }
        }
    }

    /// The `whenScaled: Delete` half of `UpdatePodClaimForRetentionPolicy`, for a pod about
    /// to be scaled away: its claims get the pod as owner, so they go with it.
    pub async fn hand_claims_to(&self, pod: &Pod) -> Result<(), kube::Error> {
        let policy = self.set.spec.as_ref().and_then(|s| s.persistent_volume_claim_retention_policy.as_ref());
        if policy.and_then(|p| p.when_scaled.as_deref()) != Some("Delete") || pod.metadata.uid.is_none() {
            return Ok(());
        }
        let ns = self.set.metadata.namespace.clone().unwrap_or_default();
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &ns);
        let set_uid = self.set.metadata.uid.clone().unwrap_or_default();
        for claim in claims_for(self.set, pod) {
            let name = claim.metadata.name.clone().unwrap_or_default();
            let Some(existing) = self.claims.get(&format!("{ns}/{name}")) else { continue };
            let mut refs: Vec<_> =
                existing.metadata.owner_references.clone().unwrap_or_default().into_iter().filter(|r| r.uid != set_uid).collect();
            let wanted = claim.metadata.owner_references.clone().unwrap_or_default();
            if wanted.iter().all(|w| refs.iter().any(|r| r.uid == w.uid))
                && refs.len() == existing.metadata.owner_references.as_ref().map_or(0, Vec::len)
            {
                continue;
            }
            refs.retain(|r| !wanted.iter().any(|w| w.uid == r.uid));
            refs.extend(wanted);
            let patch = serde_json::json!({"metadata": {"ownerReferences": refs}});
            api.patch(&name, &PatchParams::default(), &Patch::Merge(patch)).await?;
        }
        Ok(())
    }
}
