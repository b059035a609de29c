//! The stop channel every long-running piece listens to.
//!
//! client-go threads a `stopCh <-chan struct{}` (today a `context.Context`) through
//! `informer.Run`, `factory.Start` and `cache.WaitForCacheSync`; closing it tells every
//! goroutine to return. [`StopSignal`] plays that role on tokio: it is cheap to clone, any
//! clone can [`stop`](StopSignal::stop) it, and every clone can `await` [`stopped`](StopSignal::stopped).
//! A command wires it to Ctrl-C with `tokio::signal::ctrl_c().await; stop.stop()`.
//!
//! It is a `tokio::sync::watch` channel of a single `bool` rather than a
//! `CancellationToken`, so the crate needs no extra dependency; the semantics are the same:
//! stopping is idempotent and cannot be undone.

use std::sync::Arc;

use tokio::sync::watch;

/// A broadcast "please stop" flag, the Rust counterpart of client-go's `stopCh`.
#[derive(Clone, Debug)]
pub struct StopSignal {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for StopSignal {
    fn default() -> Self {
        Self::new()
    }
}

impl StopSignal {
    /// A fresh, not yet stopped signal.
    pub fn new() -> Self {
        let (tx, _rx) = watch::channel(false);
        Self { tx: Arc::new(tx) }
    }

    /// Closes the channel: every `stopped().await` returns, now and in the future.
    pub fn stop(&self) {
        // send_replace works even when nobody is subscribed at this instant.
        self.tx.send_replace(true);
    }

    /// Whether [`stop`](Self::stop) has been called.
    pub fn is_stopped(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once the signal is stopped (immediately if it already is).
    pub async fn stopped(&self) {
        let mut rx = self.tx.subscribe();
        // The sender lives as long as `self`, so wait_for cannot fail with a closed channel.
        let _ = rx.wait_for(|stopped| *stopped).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_clone_sees_the_stop() {
        let stop = StopSignal::new();
        let other = stop.clone();
        assert!(!other.is_stopped());
        let waiter = tokio::spawn(async move { other.stopped().await });
        stop.stop();
        waiter.await.unwrap();
        assert!(stop.is_stopped());
        // Stopping twice is harmless and waiting after the fact returns at once.
        stop.stop();
        stop.stopped().await;
    }
}
