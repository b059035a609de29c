//! Waiting for the cluster to get somewhere: one poll loop for every test.
//!
//! Controllers converge asynchronously, so tests poll instead of sleeping a fixed time.
//! Each wait has a limit and names what it waited for, so a timeout reads as a sentence.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often every wait looks again.
const EVERY: Duration = Duration::from_millis(100);

/// Polls `f` until it answers `Some`, for up to `limit`; panics naming `what` after that.
pub async fn eventually<T, Fut: Future<Output = Option<T>>>(what: &str, limit: Duration, mut f: impl FnMut() -> Fut) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(EVERY).await;
    }
}

/// Polls `f` until it answers true, for up to `limit`.
pub async fn until<Fut: Future<Output = bool>>(what: &str, limit: Duration, mut f: impl FnMut() -> Fut) {
    eventually(what, limit, || {
        let done = f();
        async move { done.await.then_some(()) }
    })
    .await
}

/// [`until`] for a blocking check (kubectl runs as a child process).
pub fn blocking_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(EVERY);
    }
}
