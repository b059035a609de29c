//! The sandbox's controller manager: the loops that make a cluster more than a database.
//!
//! Each controller is an ordinary client of the apiserver, built exactly like the ones the
//! lessons teach: shared informers from [`crate::machinery`] over a `kube::Client`, a
//! rate-limited workqueue, and a sync function that writes back through the API. The
//! sandbox is thus itself a worked example of the controller pattern.

pub mod namespace;
pub mod serviceaccount;

use crate::machinery::informer_factory::SharedInformerFactory;
use crate::machinery::stop::StopSignal;

/// Starts every built-in controller over `client`; they stop with `stop`.
pub fn spawn_all(client: kube::Client, stop: StopSignal) {
    let factory = SharedInformerFactory::new(client.clone());
    let namespaces = namespace::NamespaceController::new(client.clone(), &factory);
    let service_accounts = serviceaccount::ServiceAccountsController::new(client, &factory);
    if let (Ok(namespaces), Ok(service_accounts)) = (namespaces, service_accounts) {
        factory.start(&stop);
        tokio::spawn(namespaces.run(stop.clone()));
        tokio::spawn(service_accounts.run(stop));
    }
}

/// Runs `sync` for each key the queue hands out until the queue shuts down: client-go's
/// `processNextWorkItem` loop. A failed key is retried with backoff; a key that asks to be
/// looked at again later is re-added after that delay.
pub(crate) async fn work<F, Fut>(queue: crate::machinery::rate_limiting_queue::RateLimitingQueue<String>, stop: StopSignal, sync: F)
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Option<std::time::Duration>, kube::Error>>,
{
    let shutdown = {
        let queue = queue.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            stop.stopped().await;
            queue.shut_down();
        })
    };
    while let Some(key) = queue.get().await {
        match sync(key.clone()).await {
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
