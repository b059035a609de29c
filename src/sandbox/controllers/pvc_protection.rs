//! The PVC protection controller (`pkg/controller/volume/pvcprotection`): a claim being
//! deleted keeps its `kubernetes.io/pvc-protection` finalizer, and so stays
//! `Terminating`, while a scheduled pod uses it, as a `persistentVolumeClaim` volume or as
//! the claim of its generic ephemeral volume. Claims without the finalizer get it.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams};

use crate::machinery::delta_fifo::DeltaObject;
use crate::machinery::lister::Lister;
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::shared_informer::ResourceEventHandlerFuncs;
use crate::sandbox::registry::storage_admission::PVC_PROTECTION_FINALIZER;

const LOOP: &str = "pvc-protection";

pub struct PvcProtection {
    client: kube::Client,
    decisions: super::Decisions,
    claims: Lister<PersistentVolumeClaim>,
    pods: Lister<Pod>,
    queue: RateLimitingQueue<String>,
}

fn has_finalizer(claim: &PersistentVolumeClaim) -> bool {
    claim.metadata.finalizers.iter().flatten().any(|f| f == PVC_PROTECTION_FINALIZER)
}

/// `ephemeral.VolumeClaimName`: `<pod>-<volume>`.
fn ephemeral_claim_name(pod: &Pod, volume: &str) -> String {
    format!("{}-{volume}", pod.metadata.name.as_deref().unwrap_or_default())
}

/// The claims a pod's volumes name, in its namespace.
fn claim_names(pod: &Pod) -> Vec<String> {
    let volumes = pod.spec.as_ref().and_then(|s| s.volumes.as_ref());
    volumes
        .into_iter()
        .flatten()
        .filter_map(|v| match (&v.persistent_volume_claim, &v.ephemeral) {
            (Some(c), _) => Some(c.claim_name.clone()),
            (None, Some(_)) => Some(ephemeral_claim_name(pod, &v.name)),
            _ => None,
        })
        .collect()
}

/// `podIsShutDown`: the kubelet is done with it, or it was force-deleted.
fn shut_down(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some() && pod.metadata.deletion_grace_period_seconds == Some(0)
}

/// `IsPodTerminated`: Failed or Succeeded, or deleted with every container stopped.
fn terminated(pod: &Pod) -> bool {
    matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Failed" | "Succeeded"))
}

/// `podUsesPVC`: only a scheduled pod counts (the kubelet refuses to start one whose
/// claim is being deleted); an ephemeral volume's claim must be that pod's own.
pub fn pod_uses(pod: &Pod, claim: &PersistentVolumeClaim) -> bool {
    if pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or_default().is_empty() {
        return false;
    }
    let name = claim.metadata.name.as_deref().unwrap_or_default();
    let owned_by_pod =
        claim.metadata.owner_references.iter().flatten().any(|o| o.controller == Some(true) && Some(&o.uid) == pod.metadata.uid.as_ref());
    pod.spec.as_ref().and_then(|s| s.volumes.as_ref()).into_iter().flatten().any(|v| {
        v.persistent_volume_claim.as_ref().is_some_and(|c| c.claim_name == name)
            || (!shut_down(pod) && v.ephemeral.is_some() && ephemeral_claim_name(pod, &v.name) == name && owned_by_pod)
    })
}

pub fn start(ctx: &super::Context) -> Result<(), super::StartError> {
    let queue: RateLimitingQueue<String> = RateLimitingQueue::with_default_rate_limiter();
    let claims = ctx.factory.informer_for::<PersistentVolumeClaim>()?;
    let pods = ctx.factory.informer_for::<Pod>()?;
    let key = |c: &PersistentVolumeClaim| {
        format!("{}/{}", c.metadata.namespace.as_deref().unwrap_or_default(), c.metadata.name.as_deref().unwrap_or_default())
    };
    let (qa, qu) = (queue.clone(), queue.clone());
    claims.add_named_event_handler(
        "pvc-protection-controller",
        ResourceEventHandlerFuncs::new()
            .on_add(move |c: &Arc<PersistentVolumeClaim>, _| qa.add(key(c)))
            .on_update(move |_, c: &Arc<PersistentVolumeClaim>| qu.add(key(c))),
    );
    // `enqueuePVCs`: a pod's claims may be freed when it goes, ends, or was never placed.
    let enqueue = |q: &RateLimitingQueue<String>, pod: &Pod, deleted: bool| {
        let scheduled = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some_and(|n| !n.is_empty());
        if !deleted && !terminated(pod) && scheduled {
            return;
        }
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        for name in claim_names(pod) {
            q.add(format!("{ns}/{name}"));
        }
    };
    let (qa, qu, qd) = (queue.clone(), queue.clone(), queue.clone());
    pods.add_named_event_handler(
        "pvc-protection-controller",
        ResourceEventHandlerFuncs::new()
            .on_add(move |p: &Arc<Pod>, _| enqueue(&qa, p, false))
            .on_update(move |_, p: &Arc<Pod>| enqueue(&qu, p, false))
            .on_delete(move |p: &DeltaObject<Pod>| enqueue(&qd, p.object(), true)),
    );
    let controller = PvcProtection {
        client: ctx.client("kube-controller-manager"),
        decisions: ctx.decisions.clone(),
        claims: claims.lister(),
        pods: pods.lister(),
        queue,
    };
    ctx.spawn_workers(Arc::new(controller), 1);
    Ok(())
}

impl super::Reconciler for PvcProtection {
    fn queue(&self) -> &RateLimitingQueue<String> {
        &self.queue
    }

    async fn sync(&self, key: String) -> Result<Option<Duration>, kube::Error> {
        let Some(claim) = self.claims.get(&key) else { return Ok(None) };
        let result = self.process(&claim).await;
        match result {
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            other => other.map(|()| None).map_err(|e| self.decisions.sync_failed(LOOP, &key, e)),
        }
    }
}

impl PvcProtection {
    /// `processPVC`.
    async fn process(&self, claim: &PersistentVolumeClaim) -> Result<(), kube::Error> {
        let (ns, name) = (claim.metadata.namespace.as_deref().unwrap_or_default(), claim.metadata.name.as_deref().unwrap_or_default());
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), ns);
        let deleting = claim.metadata.deletion_timestamp.is_some();
        if deleting && has_finalizer(claim) {
            if self.is_being_used(claim).await? {
                return Ok(());
            }
            let rest: Vec<&String> = claim.metadata.finalizers.iter().flatten().filter(|f| *f != PVC_PROTECTION_FINALIZER).collect();
            let patch = serde_json::json!({"metadata": {"finalizers": rest, "resourceVersion": claim.metadata.resource_version}});
            api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
            self.decisions.say(LOOP, &format!("{ns}/{name}"), "unused: removed the protection finalizer");
        } else if !deleting && !has_finalizer(claim) {
            let mut all: Vec<String> = claim.metadata.finalizers.clone().unwrap_or_default();
            all.push(PVC_PROTECTION_FINALIZER.into());
            let patch = serde_json::json!({"metadata": {"finalizers": all, "resourceVersion": claim.metadata.resource_version}});
            api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
        }
        Ok(())
    }

    /// `isBeingUsed`: the cache first; when it sees no user, the apiserver, since a pod
    /// created a moment ago may not be in the cache yet.
    async fn is_being_used(&self, claim: &PersistentVolumeClaim) -> Result<bool, kube::Error> {
        let ns = claim.metadata.namespace.as_deref().unwrap_or_default();
        if self.pods.namespaced(ns).list().iter().any(|p| pod_uses(p, claim)) {
            return Ok(true);
        }
        let live = Api::<Pod>::namespaced(self.client.clone(), ns).list(&ListParams::default()).await?;
        Ok(live.items.iter().any(|p| pod_uses(p, claim)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn which_pods_use_a_claim() {
        let claim: PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {"name": "data", "namespace": "default"}})).unwrap();
        let pod = |node: &str, volumes: serde_json::Value, extra: serde_json::Value| -> Pod {
            let mut p = json!({"metadata": {"name": "web", "namespace": "default", "uid": "p1"}, "spec": {"nodeName": node, "containers": [], "volumes": volumes}});
            if let (Some(m), Some(e)) = (p["metadata"].as_object_mut(), extra.as_object()) {
                m.extend(e.clone());
            }
            serde_json::from_value(p).unwrap()
        };
        let by_name = json!([{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]);
        let cases = [
            ("scheduled pod naming the claim", pod("n1", by_name.clone(), json!({})), true),
            ("not scheduled", pod("", by_name.clone(), json!({})), false),
            ("another claim", pod("n1", json!([{"name": "v", "persistentVolumeClaim": {"claimName": "other"}}]), json!({})), false),
            ("an emptyDir", pod("n1", json!([{"name": "data", "emptyDir": {}}]), json!({})), false),
            (
                "force-deleted still counts for a named claim",
                pod("n1", by_name, json!({"deletionTimestamp": "2026-01-01T00:00:00Z", "deletionGracePeriodSeconds": 0})),
                true,
            ),
        ];
        for (what, p, want) in cases {
            assert_eq!(pod_uses(&p, &claim), want, "{what}");
        }
        let eph: PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {"name": "web-scratch", "namespace": "default",
            "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "web", "uid": "p1", "controller": true}]}}))
        .unwrap();
        let p = pod("n1", json!([{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}]), json!({}));
        assert!(pod_uses(&p, &eph));
        let shut = pod(
            "n1",
            json!([{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}]),
            json!({"deletionTimestamp": "2026-01-01T00:00:00Z", "deletionGracePeriodSeconds": 0}),
        );
        assert!(!pod_uses(&shut, &eph));
    }
}
