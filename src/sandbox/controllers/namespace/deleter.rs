//! `namespacedResourcesDeleter` (`namespaced_resources_deleter.go`): one pass over a
//! terminating namespace — pods first, then every other namespaced resource that supports
//! delete — deleting each collection, counting what remains and by which finalizers, and
//! estimating how long the rest will take.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::discovery::{verbs, ApiCapabilities, Discovery, Scope};

use super::conditions::ConditionUpdater;

/// `finalizerEstimateSeconds`: how long content held by finalizers is guessed to need.
const FINALIZER_ESTIMATE_SECONDS: i64 = 15;

/// What one resource left (`gvrDeletionMetadata`).
#[derive(Default)]
struct Remaining {
    estimate: i64,
    count: usize,
    finalizers: BTreeMap<String, usize>,
}

/// What a pass over the whole namespace found.
pub struct Outcome {
    /// Seconds until the remaining content is expected to be gone (0: nothing is awaited).
    pub estimate: i64,
    /// Errors deleting content; the pass is retried with backoff.
    pub errors: Vec<String>,
    /// `resource.group has N resource instances`, for the decision line.
    pub remaining: BTreeMap<String, usize>,
}

fn is_status(e: &kube::Error, codes: &[u16]) -> bool {
    matches!(e, kube::Error::Api(s) if codes.contains(&s.code))
}

pub struct Deleter {
    pub client: kube::Client,
}

impl Deleter {
    /// `estimateGracefulTerminationForPods`, dropped once the namespace has been
    /// terminating for longer.
    async fn estimate_pods(&self, ns: &str, deleted_at: &Time) -> Result<i64, kube::Error> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let estimate = pods
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .filter(|p| !matches!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed")))
            .filter_map(|p| p.spec.as_ref().and_then(|s| s.termination_grace_period_seconds))
            .max()
            .unwrap_or(0);
        let since = k8s_openapi::jiff::Timestamp::now().duration_since(deleted_at.0).as_secs();
        Ok(if since >= estimate { 0 } else { estimate })
    }

    /// `deleteAllContentForGroupVersionResource`.
    async fn delete_resource(&self, ar: &ApiResource, caps: &ApiCapabilities, ns: &str, deleted_at: &Time) -> Result<Remaining, String> {
        let estimate = if ar.group.is_empty() && ar.plural == "pods" {
            self.estimate_pods(ns, deleted_at).await.map_err(|e| e.to_string())?
        } else {
            0
        };
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), ns, ar);
        let fail = |e: kube::Error| format!("{}.{}: {e}", ar.plural, ar.group);
        let mut collection_deleted = false;
        if caps.supports_operation(verbs::DELETE_COLLECTION) {
            match api.delete_collection(&DeleteParams::background(), &ListParams::default()).await {
                Ok(_) => collection_deleted = true,
                Err(e) if is_status(&e, &[404, 405]) => {}
                Err(e) => return Err(fail(e)),
            }
        }
        if !caps.supports_operation(verbs::LIST) {
            return Ok(Remaining { estimate, ..Remaining::default() });
        }
        let items = api.list(&ListParams::default()).await.map_err(fail)?.items;
        if !collection_deleted {
            // `deleteEachItem`.
            for item in &items {
                let name = item.metadata.name.clone().unwrap_or_default();
                match api.delete(&name, &DeleteParams::background()).await {
                    Ok(_) => {}
                    Err(e) if is_status(&e, &[404]) => {}
                    Err(e) => return Err(fail(e)),
                }
            }
        }
        let items = if collection_deleted { items } else { api.list(&ListParams::default()).await.map_err(fail)?.items };
        if items.is_empty() {
            return Ok(Remaining::default());
        }
        let mut finalizers = BTreeMap::new();
        for f in items.iter().flat_map(|i| i.metadata.finalizers.iter().flatten()) {
            *finalizers.entry(f.clone()).or_insert(0) += 1;
        }
        let count = items.len();
        if estimate != 0 {
            return Ok(Remaining { estimate, count, finalizers });
        }
        if !finalizers.is_empty() {
            return Ok(Remaining { estimate: FINALIZER_ESTIMATE_SECONDS, count, finalizers });
        }
        Err(format!("unexpected items still remain in namespace: {ns} for gvr: {}/{}, Resource={}", ar.group, ar.version, ar.plural))
    }

    /// `deleteAllContent`: one pass, then the namespace's conditions updated to what it found.
    pub async fn delete_all_content(&self, ns: &Namespace) -> Result<Outcome, kube::Error> {
        let name = ns.metadata.name.clone().unwrap_or_default();
        let deleted_at = ns.metadata.deletion_timestamp.clone().unwrap_or(Time(k8s_openapi::jiff::Timestamp::now()));
        let mut updater = ConditionUpdater::default();
        let mut out = Outcome { estimate: 0, errors: Vec::new(), remaining: BTreeMap::new() };
        let mut resources = Vec::new();
        match Discovery::new(self.client.clone()).run().await {
            Ok(d) => {
                for group in d.groups() {
                    for (ar, caps) in group.recommended_resources() {
                        if caps.scope == Scope::Namespaced && caps.supports_operation(verbs::DELETE) {
                            resources.push((ar, caps));
                        }
                    }
                }
            }
            Err(e) => {
                out.errors.push(e.to_string());
                updater.discovery_failed(&e.to_string());
            }
        }
        // OrderedNamespaceDeletion: pods go first, and nothing else while any remain.
        resources.sort_by_key(|(ar, _)| !(ar.group.is_empty() && ar.plural == "pods"));
        let mut finalizers = BTreeMap::new();
        let mut pods_remain = false;
        for (ar, caps) in &resources {
            let is_pods = ar.group.is_empty() && ar.plural == "pods";
            match self.delete_resource(ar, caps, &name, &deleted_at).await {
                Ok(r) => {
                    out.estimate = out.estimate.max(r.estimate);
                    if r.count > 0 {
                        out.remaining.insert(format!("{}.{}", ar.plural, ar.group), r.count);
                        for (f, n) in r.finalizers {
                            *finalizers.entry(f).or_insert(0) += n;
                        }
                    }
                }
                Err(e) => {
                    let e = if is_pods { format!("failed to delete pods for namespace: {name}, err: {e}") } else { e };
                    out.errors.push(e.clone());
                    updater.delete_content_failed(e);
                }
            }
            if is_pods && out.remaining.contains_key("pods.") {
                pods_remain = true;
                break;
            }
        }
        // As upstream: while pods remain, the conditions are updated without the content
        // totals (so `NamespaceContentRemaining` stays False until the pods are gone).
        if !pods_remain {
            updater.content_totals(&out.remaining, &finalizers);
        }
        let mut updated = ns.clone();
        if updater.update(updated.status.get_or_insert_with(Default::default)) {
            let api: Api<Namespace> = Api::all(self.client.clone());
            // Upstream only logs a failed condition update; the next pass writes it again.
            let _ = api.replace_status(&name, &PostParams::default(), &updated).await;
        }
        Ok(out)
    }
}
