//! The sandbox's controller manager: the loops that make a cluster more than a database.
//!
//! Each controller is an ordinary client of the apiserver, built exactly like the ones the
//! lessons teach: shared informers from [`crate::machinery`] over a `kube::Client`, a
//! rate-limited workqueue, and a sync function that writes back through the API. The
//! sandbox is thus itself a worked example of the controller pattern.

pub mod namespace;
pub mod serviceaccount;

use std::sync::Arc;

use crate::machinery::informer_factory::SharedInformerFactory;
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::stop::StopSignal;

/// Starts every built-in controller over `client`; they stop with `stop`.
pub fn spawn_all(client: kube::Client, stop: StopSignal) {
    let factory = SharedInformerFactory::new(client.clone());
    let namespaces = namespace::NamespaceController::new(client.clone(), &factory);
    let service_accounts = serviceaccount::ServiceAccountsController::new(client, &factory);
    if let (Ok(namespaces), Ok(service_accounts)) = (namespaces, service_accounts) {
        factory.start(&stop);
        tokio::spawn(run(Arc::new(namespaces), stop.clone()));
        tokio::spawn(run(Arc::new(service_accounts), stop));
    }
}

/// What a controller supplies to the shared worker loop: its queue and how to sync one key.
pub(crate) trait Reconciler: Send + Sync + 'static {
    fn queue(&self) -> &RateLimitingQueue<String>;
    /// Brings `key` to its desired state; `Ok(Some(d))` asks to be called again after `d`.
    fn sync(&self, key: String) -> impl std::future::Future<Output = Result<Option<std::time::Duration>, kube::Error>> + Send;
}

/// client-go's `processNextWorkItem` loop until the queue shuts down (on `stop`): a failed
/// key is retried with backoff, a key that asks to be looked at later is re-added then.
pub(crate) async fn run<R: Reconciler>(reconciler: std::sync::Arc<R>, stop: StopSignal) {
    let queue = reconciler.queue().clone();
    let shutdown = {
        let queue = queue.clone();
        tokio::spawn(async move {
            stop.stopped().await;
            queue.shut_down();
        })
    };
    while let Some(key) = queue.get().await {
        match reconciler.sync(key.clone()).await {
            Ok(None) => queue.forget(&key),
            Ok(Some(after)) => {
                queue.forget(&key);
                queue.add_after(key.clone(), after);
            }
            Err(_) => {
                queue.add_rate_limited(key.clone());
            }
        }
        queue.done(&key);
    }
    shutdown.abort();
}
