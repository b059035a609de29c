//! The service-accounts controller: every active namespace has a `default` ServiceAccount
//! (recreated if someone deletes it), which is what pods run as unless told otherwise.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, PostParams};

use crate::machinery::delta_fifo::DeltaObject;
use crate::machinery::informer_factory::{FactoryError, SharedInformerFactory};
use crate::machinery::lister::Lister;
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::shared_informer::ResourceEventHandlerFuncs;

pub struct ServiceAccountsController {
    client: kube::Client,
    namespaces: Lister<Namespace>,
    service_accounts: Lister<ServiceAccount>,
    queue: RateLimitingQueue<String>,
}

/// Starts the service-accounts controller.
pub fn start(ctx: &super::Context) -> Result<(), super::StartError> {
    let c = ServiceAccountsController::new(ctx.client("kube-controller-manager"), &ctx.factory)?;
    ctx.spawn_workers(std::sync::Arc::new(c), 1);
    Ok(())
}

impl ServiceAccountsController {
    pub fn new(client: kube::Client, factory: &SharedInformerFactory) -> Result<Self, FactoryError> {
        let queue = RateLimitingQueue::with_default_rate_limiter();
        let ns_informer = factory.informer_for::<Namespace>()?;
        let sa_informer = factory.informer_for::<ServiceAccount>()?;
        let (q1, q2) = (queue.clone(), queue.clone());
        ns_informer.add_named_event_handler(
            "serviceaccounts-controller",
            ResourceEventHandlerFuncs::new()
                .on_add(move |ns: &std::sync::Arc<Namespace>, _| q1.add(ns.metadata.name.clone().unwrap_or_default()))
                .on_update(move |_, ns: &std::sync::Arc<Namespace>| q2.add(ns.metadata.name.clone().unwrap_or_default())),
        );
        let q3 = queue.clone();
        sa_informer.add_named_event_handler(
            "serviceaccounts-controller",
            ResourceEventHandlerFuncs::new().on_delete(move |sa: &DeltaObject<ServiceAccount>| {
                if let DeltaObject::Object(sa) = sa {
                    if sa.metadata.name.as_deref() == Some("default") {
                        q3.add(sa.metadata.namespace.clone().unwrap_or_default());
                    }
                }
            }),
        );
        Ok(Self { client, namespaces: ns_informer.lister(), service_accounts: sa_informer.lister(), queue })
    }
}

impl super::Reconciler for ServiceAccountsController {
    fn queue(&self) -> &RateLimitingQueue<String> {
        &self.queue
    }

    async fn sync(&self, key: String) -> Result<Option<Duration>, kube::Error> {
        let ns: &str = &key;
        let Some(namespace) = self.namespaces.get(ns) else { return Ok(None) };
        if namespace.metadata.deletion_timestamp.is_some() || self.service_accounts.get(&format!("{ns}/default")).is_some() {
            return Ok(None);
        }
        let sa: ServiceAccount =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "default", "namespace": ns}})).expect("a valid ServiceAccount");
        match Api::<ServiceAccount>::namespaced(self.client.clone(), ns)
            .create(&PostParams { field_manager: Some("kube-controller-manager".into()), ..Default::default() }, &sa)
            .await
        {
            Ok(_) => Ok(None),
            // Already there (the cache lagged) or the namespace started terminating: done.
            Err(kube::Error::Api(s)) if s.code == 409 || s.code == 403 || s.code == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }
}
