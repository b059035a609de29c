//! The namespace controller: a namespace being deleted is emptied, then finalized.
//!
//! As kube-controller-manager's, it discovers every namespaced resource the server serves,
//! deletes their collections in the namespace, and once nothing is left removes the
//! `kubernetes` finalizer through the `/finalize` subresource, which lets the apiserver
//! delete the namespace. It waits [`GRACE`] after the deletion started, so `kubectl get ns`
//! shows `Terminating` for a moment, as on a real cluster.

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::discovery::{verbs, Discovery, Scope};

use crate::machinery::informer_factory::{FactoryError, SharedInformerFactory};
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::shared_informer::ResourceEventHandlerFuncs;

const GRACE: Duration = Duration::from_secs(3);
/// How soon a namespace that still has content is looked at again.
const RECHECK: Duration = Duration::from_secs(1);

pub struct NamespaceController {
    client: kube::Client,
    queue: RateLimitingQueue<String>,
}

fn terminating(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_some()
}

/// Starts the namespace controller (kube-controller-manager runs 10 workers).
pub fn start(ctx: &super::Context) -> Result<(), super::StartError> {
    let c = NamespaceController::new(ctx.client("kube-controller-manager"), &ctx.factory)?;
    ctx.spawn_workers(std::sync::Arc::new(c), 2);
    Ok(())
}

impl NamespaceController {
    pub fn new(client: kube::Client, factory: &SharedInformerFactory) -> Result<Self, FactoryError> {
        let queue = RateLimitingQueue::with_default_rate_limiter();
        let informer = factory.informer_for::<Namespace>()?;
        let (q1, q2) = (queue.clone(), queue.clone());
        informer.add_named_event_handler(
            "namespace-controller",
            ResourceEventHandlerFuncs::new()
                .on_add(move |ns: &std::sync::Arc<Namespace>, _| {
                    if terminating(ns) {
                        q1.add(ns.metadata.name.clone().unwrap_or_default());
                    }
                })
                .on_update(move |_, ns: &std::sync::Arc<Namespace>| {
                    if terminating(ns) {
                        q2.add(ns.metadata.name.clone().unwrap_or_default());
                    }
                }),
        );
        Ok(Self { client, queue })
    }

    /// Deletes every namespaced collection in the namespace; returns how many objects were
    /// still there (0 means empty).
    async fn delete_content(&self, ns: &str) -> Result<usize, kube::Error> {
        let discovery = Discovery::new(self.client.clone()).run().await?;
        let mut remaining = 0;
        for group in discovery.groups() {
            for (ar, caps) in group.recommended_resources() {
                if caps.scope != Scope::Namespaced || !caps.supports_operation(verbs::LIST) {
                    continue;
                }
                let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), ns, &ar);
                if caps.supports_operation(verbs::DELETE_COLLECTION) {
                    let _ = api.delete_collection(&DeleteParams::background(), &ListParams::default()).await;
                }
                remaining += api.list_metadata(&ListParams::default()).await.map(|l| l.items.len()).unwrap_or(0);
            }
        }
        Ok(remaining)
    }
}

impl super::Reconciler for NamespaceController {
    fn queue(&self) -> &RateLimitingQueue<String> {
        &self.queue
    }

    async fn sync(&self, key: String) -> Result<Option<Duration>, kube::Error> {
        let name: &str = &key;
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        // Read the live object, not the cache: finalize must see the latest resourceVersion.
        let Some(ns) = namespaces.get_opt(name).await? else { return Ok(None) };
        let Some(since) = ns.metadata.deletion_timestamp.as_ref() else { return Ok(None) };
        let elapsed = k8s_openapi::jiff::Timestamp::now().duration_since(since.0);
        let grace = k8s_openapi::jiff::SignedDuration::try_from(GRACE).unwrap_or_default();
        if elapsed < grace {
            return Ok(Some((grace - elapsed).try_into().unwrap_or(RECHECK)));
        }
        if self.delete_content(name).await? > 0 {
            return Ok(Some(RECHECK));
        }
        let mut finalized = ns.clone();
        if let Some(spec) = finalized.spec.as_mut() {
            spec.finalizers = Some(vec![]);
        }
        match namespaces.replace_subresource("finalize", name, &PostParams::default(), &finalized).await {
            Ok(_) => Ok(None),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(Some(Duration::ZERO)),
            Err(e) => Err(e),
        }
    }
}
