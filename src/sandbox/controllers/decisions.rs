//! The decision log: one readable line per thing a loop decided
//! (`deployment default/web: scaled up replica set web-7d9c… from 0 to 3`).
//!
//! `kubelab sandbox start --foreground` prints it on stderr, and the background server's
//! stderr is its log file, which `kubelab sandbox log` follows. In-process users
//! ([`crate::sandbox::Sandbox::decisions`]) subscribe to the same lines.

use tokio::sync::broadcast;

#[derive(Clone)]
pub struct Decisions {
    print: bool,
    lines: broadcast::Sender<String>,
}

impl Decisions {
    /// `print`: also write each line on stderr.
    pub fn new(print: bool) -> Self {
        Self { print, lines: broadcast::channel(4096).0 }
    }

    /// Records that loop `who` decided `what` about `key` (`namespace/name`).
    pub fn say(&self, who: &str, key: &str, what: &str) {
        let line = format!("{who} {key}: {what}");
        if self.print {
            eprintln!("{line}");
        }
        let _ = self.lines.send(line);
    }

    /// A failed sync, told unless it is a conflict (the cache was behind; the retry
    /// with backoff is routine). Hands the error back for the worker loop.
    pub fn sync_failed(&self, who: &str, key: &str, e: kube::Error) -> kube::Error {
        if !matches!(&e, kube::Error::Api(s) if s.code == 409) {
            self.say(who, key, &format!("sync failed: {e}"));
        }
        e
    }

    /// Every line from now on (a slow subscriber loses the oldest).
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.lines.subscribe()
    }
}
