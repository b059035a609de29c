//! The namespace controller (`pkg/controller/namespace`): a namespace being deleted is
//! emptied, then finalized.
//!
//! Each pass ([`deleter`]) makes sure the phase is `Terminating`, deletes every namespaced
//! collection (pods first), and records what remains in the namespace's deletion
//! [`conditions`]. While content remains the namespace is looked at again after half the
//! estimated wait (the pods' grace periods, or 15 s for content held by finalizers), and
//! sooner whenever it changes; once empty its `kubernetes` finalizer is removed through
//! `/finalize`, which lets the apiserver delete it.

pub mod conditions;
pub mod deleter;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};

use crate::machinery::informer_factory::{FactoryError, SharedInformerFactory};
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::shared_informer::ResourceEventHandlerFuncs;

/// The finalizer the namespace controller owns.
pub const FINALIZER: &str = "kubernetes";

pub struct NamespaceController {
    client: kube::Client,
    deleter: deleter::Deleter,
    decisions: super::Decisions,
    queue: RateLimitingQueue<String>,
}

fn terminating(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_some()
}

fn finalized(ns: &Namespace) -> bool {
    !ns.spec.as_ref().and_then(|s| s.finalizers.as_ref()).is_some_and(|f| f.iter().any(|x| x == FINALIZER))
}

/// Starts the namespace controller (kube-controller-manager runs 10 workers).
pub fn start(ctx: &super::Context) -> Result<(), super::StartError> {
    let c = NamespaceController::new(ctx.client("kube-controller-manager"), &ctx.factory, ctx.decisions.clone())?;
    ctx.spawn_workers(Arc::new(c), 2);
    Ok(())
}

impl NamespaceController {
    pub fn new(client: kube::Client, factory: &SharedInformerFactory, decisions: super::Decisions) -> Result<Self, FactoryError> {
        let queue = RateLimitingQueue::with_default_rate_limiter();
        let informer = factory.informer_for::<Namespace>()?;
        let (q1, q2) = (queue.clone(), queue.clone());
        informer.add_named_event_handler(
            "namespace-controller",
            ResourceEventHandlerFuncs::new()
                .on_add(move |ns: &Arc<Namespace>, _| {
                    if terminating(ns) {
                        q1.add(ns.metadata.name.clone().unwrap_or_default());
                    }
                })
                .on_update(move |_, ns: &Arc<Namespace>| {
                    if terminating(ns) {
                        q2.add(ns.metadata.name.clone().unwrap_or_default());
                    }
                }),
        );
        Ok(Self { deleter: deleter::Deleter { client: client.clone() }, client, decisions, queue })
    }

    /// `updateNamespaceStatusFunc`: the phase says Terminating.
    async fn mark_terminating(&self, api: &Api<Namespace>, ns: Namespace) -> Result<Namespace, kube::Error> {
        if ns.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating") {
            return Ok(ns);
        }
        let mut next = ns.clone();
        next.status.get_or_insert_with(Default::default).phase = Some("Terminating".into());
        let name = ns.metadata.name.clone().unwrap_or_default();
        api.replace_status(&name, &PostParams::default(), &next).await
    }

    /// `finalizeNamespace`: `kubernetes` leaves `spec.finalizers` through `/finalize`.
    async fn finalize(&self, api: &Api<Namespace>, ns: &Namespace) -> Result<(), kube::Error> {
        let mut finalized = ns.clone();
        if let Some(spec) = finalized.spec.as_mut() {
            spec.finalizers = Some(spec.finalizers.take().unwrap_or_default().into_iter().filter(|f| f != FINALIZER).collect());
        }
        let name = ns.metadata.name.clone().unwrap_or_default();
        api.replace_subresource("finalize", &name, &PostParams::default(), &finalized).await.map(|_| ())
    }
}

impl super::Reconciler for NamespaceController {
    fn queue(&self) -> &RateLimitingQueue<String> {
        &self.queue
    }

    /// `syncNamespaceFromKey` → `namespacedResourcesDeleter.Delete`.
    async fn sync(&self, name: String) -> Result<Option<Duration>, kube::Error> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        // Read the live object, not the cache: finalize must see the latest resourceVersion.
        let Some(ns) = api.get_opt(&name).await? else { return Ok(None) };
        if !terminating(&ns) {
            return Ok(None);
        }
        let ns = match self.mark_terminating(&api, ns).await {
            Ok(ns) => ns,
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(None),
            Err(e) => return Err(e),
        };
        if finalized(&ns) {
            return Ok(None);
        }
        let outcome = self.deleter.delete_all_content(&ns).await?;
        if !outcome.errors.is_empty() {
            self.decisions.say("namespace", &name, &format!("deleting content failed: {}", outcome.errors.join("; ")));
            return Err(kube::Error::Service(outcome.errors.join("; ").into()));
        }
        if outcome.estimate > 0 {
            // `ResourcesRemainingError`: look again after half the estimate.
            let left: Vec<String> = outcome.remaining.iter().map(|(r, n)| format!("{r} has {n} resource instances")).collect();
            self.decisions.say(
                "namespace",
                &name,
                &format!("waiting about {}s for remaining content: {}", outcome.estimate, left.join(", ")),
            );
            return Ok(Some(Duration::from_secs((outcome.estimate / 2 + 1) as u64)));
        }
        // The live object again: the condition update moved its resourceVersion.
        let Some(ns) = api.get_opt(&name).await? else { return Ok(None) };
        match self.finalize(&api, &ns).await {
            Ok(()) => {
                self.decisions.say("namespace", &name, "content deleted, removed finalizer kubernetes");
                Ok(None)
            }
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(Some(Duration::ZERO)),
            Err(e) => Err(e),
        }
    }
}
