//! The observer hook that lets a demo narrate every hand-off in the pipeline.
//!
//! client-go logs these moments at high klog verbosity (`-v=6` and up). Here they are
//! structured values: the reflector, the DeltaFIFO and the shared informer each accept a
//! [`Tracer`] and report what they just did as a [`Trace`]. A command can print them in
//! order and show an object travelling `watch event -> delta -> pop -> indexer -> handler`.
//!
//! A tracer is called synchronously, sometimes while the caller holds its lock (the
//! DeltaFIFO traces inside `pop`, exactly where client-go runs the process function), so
//! the callback must be quick and must not call back into the machinery. Forwarding to an
//! unbounded channel ([`Tracer::from_sender`]) is always safe.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use super::delta_fifo::DeltaType;

/// Which indexer operation the informer applied for a delta.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexerOp {
    Add,
    Update,
    Delete,
}

/// Which notification a listener received (`addNotification`, `updateNotification`, `deleteNotification`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotificationKind {
    Add,
    Update,
    Delete,
}

/// One hand-off in the list-watch-informer pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trace {
    /// Reflector: a LIST returned `items` objects at `resource_version`.
    Listed { resource_version: String, items: usize },
    /// Reflector: a LIST failed with 410 Gone; the next one asks for the latest state.
    ListGone { resource_version: String },
    /// Reflector: a WATCH starts from `resource_version`.
    WatchStarted { resource_version: String },
    /// Reflector: a watch event (ADDED, MODIFIED, DELETED) for `key`, now at `resource_version`.
    WatchEvent { event: &'static str, key: String, resource_version: String },
    /// Reflector: a BOOKMARK moved the last-synced resourceVersion without any object change.
    Bookmark { resource_version: String },
    /// Reflector: the watch stream ended normally (server timeout); it is restarted from the last rv.
    WatchEnded { resource_version: String },
    /// Reflector: the watch answered 410 Gone: the rv is too old, a full re-list follows.
    WatchGone { resource_version: String },
    /// Reflector: an error; the reflector waits `delay` before listing again.
    BackOff { error: String, delay: Duration },
    /// Reflector: the resync timer fired; the store is asked to resync.
    ResyncRequested,
    /// DeltaFIFO: a delta was appended to the list of deltas of `key`.
    DeltaQueued { key: String, delta: DeltaType, pending: usize },
    /// DeltaFIFO: two consecutive Deleted deltas of `key` collapsed into one.
    DeltaDeduplicated { key: String },
    /// DeltaFIFO: `pop` handed every pending delta of `key` to the process function.
    Popped { key: String, deltas: Vec<DeltaType> },
    /// Informer: the indexer was updated for `key`.
    IndexerUpdated { key: String, op: IndexerOp },
    /// Informer: a notification was queued in the buffer of listener `listener`.
    Notified { listener: String, kind: NotificationKind, key: String },
    /// Informer: the handler of listener `listener` ran for a notification.
    Handled { listener: String, kind: NotificationKind, key: String },
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trace::Listed { resource_version, items } => {
                write!(f, "reflector: listed {items} objects at resourceVersion {resource_version}")
            }
            Trace::ListGone { resource_version } => {
                write!(f, "reflector: list at resourceVersion {resource_version} is gone (410), listing the latest state")
            }
            Trace::WatchStarted { resource_version } => {
                write!(f, "reflector: watching from resourceVersion {resource_version}")
            }
            Trace::WatchEvent { event, key, resource_version } => {
                write!(f, "reflector: {event} {key} (resourceVersion {resource_version})")
            }
            Trace::Bookmark { resource_version } => write!(f, "reflector: BOOKMARK at resourceVersion {resource_version}"),
            Trace::WatchEnded { resource_version } => {
                write!(f, "reflector: watch ended, re-watching from resourceVersion {resource_version}")
            }
            Trace::WatchGone { resource_version } => {
                write!(f, "reflector: resourceVersion {resource_version} is too old (410 Gone), re-listing")
            }
            Trace::BackOff { error, delay } => write!(f, "reflector: {error}; backing off {delay:?}"),
            Trace::ResyncRequested => write!(f, "reflector: resync period elapsed, resyncing the store"),
            Trace::DeltaQueued { key, delta, pending } => {
                write!(f, "deltafifo: queued {delta:?} for {key} ({pending} pending for this key)")
            }
            Trace::DeltaDeduplicated { key } => write!(f, "deltafifo: collapsed two Deleted deltas of {key}"),
            Trace::Popped { key, deltas } => write!(f, "deltafifo: popped {key} with deltas {deltas:?}"),
            Trace::IndexerUpdated { key, op } => write!(f, "informer: indexer {op:?} {key}"),
            Trace::Notified { listener, kind, key } => {
                write!(f, "informer: {kind:?} notification for {key} queued to listener {listener}")
            }
            Trace::Handled { listener, kind, key } => write!(f, "handler {listener}: on_{kind:?} {key}"),
        }
    }
}

/// An optional callback receiving [`Trace`] values. The default traces nothing.
#[derive(Clone, Default)]
pub struct Tracer(Option<Arc<dyn Fn(Trace) + Send + Sync>>);

impl fmt::Debug for Tracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "Tracer(on)" } else { "Tracer(off)" })
    }
}

impl Tracer {
    /// A tracer that discards everything.
    pub fn none() -> Self {
        Self(None)
    }

    /// A tracer that calls `f` for every hand-off. `f` must be quick and must not block.
    pub fn new(f: impl Fn(Trace) + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(f)))
    }

    /// A tracer that forwards every hand-off to a channel (send errors are ignored:
    /// a demo that stopped listening must not break the pipeline).
    pub fn from_sender(tx: UnboundedSender<Trace>) -> Self {
        Self::new(move |t| {
            let _ = tx.send(t);
        })
    }

    /// Whether anyone is listening; lets callers skip building a trace.
    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }

    /// Reports one hand-off. The closure only runs when a callback is installed.
    pub fn emit(&self, make: impl FnOnce() -> Trace) {
        if let Some(f) = &self.0 {
            f(make());
        }
    }
}
