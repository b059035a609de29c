//! WATCH: a chunked stream of `{"type": ..., "object": ...}` lines.
//!
//! Every watcher reads the one shared history of committed events (the watch cache, kept
//! by [`super::storage`]) at its own pace, from its own position. A slow watcher therefore
//! slows nobody else: writers never wait for watchers, and a watcher that falls so far
//! behind that the history no longer holds its position gets `410 Gone`, exactly what
//! kube-apiserver does, and re-lists.
//!
//! What a watcher can pin is bounded whatever the size of its events: at most
//! [`WATCHER_BUFFER_BYTES`] of encoded events waiting for its connection (or one event, if
//! larger), plus what the connection itself buffers — events go to hyper in frames of at
//! most [`FRAME_BYTES`], of which it queues 16 on HTTP/1.1 (256 KiB; on HTTP/2, 400 KiB per
//! stream), and rustls holds 64 KiB. About 400 KiB in all, beside the kernel's socket buffers. A watcher whose buffer stays full for the grace period is closed, as
//! kube-apiserver closes an unresponsive watcher; its client watches again from the last
//! resourceVersion it saw.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use serde_json::{json, Value};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use super::connection::Timeouts;
use super::conversion::served_bytes;
use super::request::{Format, IncludeObject, ListOptions};
use super::resources::ResourceInfo;
use super::status::ApiError;
use super::storage::{EventType, Snapshot, Storage, Stored};
use super::table;

/// How often an idle watch with `allowWatchBookmarks` gets a BOOKMARK.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(15);
/// The encoded events a watcher may hold that its connection has not taken yet.
pub const WATCHER_BUFFER_BYTES: usize = 64 << 10;
/// The largest frame handed to the connection (a larger event is split, without copying).
pub const FRAME_BYTES: usize = 16 << 10;
/// A watch that would never end (a zero `--min-request-timeout`) ends after this.
const LONGEST_WATCH: Duration = Duration::from_secs(365 * 24 * 3600);
/// Events a watcher copies out of the history per wake-up.
const BATCH: usize = 512;

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Start {
    /// Synthetic ADDED for what exists now, then changes (no resourceVersion, or "0",
    /// or `sendInitialEvents=true`).
    InitialEvents { rev: u64, end_bookmark: bool },
    /// Changes strictly after this revision.
    After(u64),
}

/// A prepared watch: the parameters checked, the stream not yet started.
pub struct Watch {
    storage: Arc<Storage>,
    res: ResourceInfo,
    prefix: String,
    opts: ListOptions,
    start: Start,
    format: Format,
    include: IncludeObject,
    timeout: Duration,
    grace: Duration,
    /// `Warning` headers of the response (a deprecated API's).
    pub warnings: Vec<String>,
}

impl Watch {
    /// Where the watch starts, from options already validated by [`super::request`];
    /// errors here are ordinary HTTP errors (before the stream starts).
    pub fn prepare(
        storage: Arc<Storage>,
        res: &ResourceInfo,
        prefix: String,
        opts: ListOptions,
        format: Format,
        include: IncludeObject,
        timeouts: &Timeouts,
    ) -> Result<Watch, ApiError> {
        let current = storage.revision();
        let rv = match opts.resource_version.as_deref() {
            None | Some("0") => None,
            Some(s) => Some(ApiError::parse_resource_version(s)?),
        };
        let start = match opts.send_initial_events {
            Some(true) => {
                if let Some(n) = rv.filter(|n| *n > current) {
                    return Err(ApiError::too_large_resource_version(n, current));
                }
                Start::InitialEvents { rev: current, end_bookmark: opts.allow_bookmarks }
            }
            // `sendInitialEvents=false`: changes only, from the given revision or now.
            Some(false) => Start::After(rv.unwrap_or(current)),
            None => match rv {
                None => Start::InitialEvents { rev: current, end_bookmark: opts.allow_bookmarks && opts.resource_version.is_none() },
                Some(n) => Start::After(n),
            },
        };
        // As the apiserver's watch handler: absent or 0 is the server's randomised default;
        // a negative timeout has already passed, so the stream ends at once.
        let timeout = match opts.timeout_seconds {
            Some(n) if n > 0 => Duration::from_secs(n as u64),
            Some(n) if n < 0 => Duration::ZERO,
            _ => default_timeout(timeouts.min_request),
        };
        Ok(Watch {
            storage,
            prefix,
            res: res.clone(),
            start,
            format,
            include,
            timeout,
            grace: timeouts.watcher_grace,
            opts,
            warnings: vec![],
        })
    }

    pub fn content_type(&self) -> &'static str {
        match self.format {
            Format::Table => "application/json;as=Table;v=v1;g=meta.k8s.io",
            _ => "application/json",
        }
    }

    /// Starts streaming: returns the chunks to send, ending when the watch does.
    pub fn start(self) -> impl Stream<Item = Bytes> + Send + Sync + 'static {
        let (tx, rx) = mpsc::unbounded_channel();
        let out =
            Outbox { tx, budget: Arc::new(Semaphore::new(WATCHER_BUFFER_BYTES)), grace: self.grace, resource: self.res.plural.clone() };
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + self.timeout;
            let _ = tokio::time::timeout_at(deadline, self.run(&out)).await;
        });
        // A chunk's share of the budget is returned when the connection has taken all of it.
        futures::stream::unfold(
            (rx, Bytes::new(), None),
            |(mut rx, mut rest, mut permit): (_, Bytes, Option<OwnedSemaphorePermit>)| async move {
                if rest.is_empty() {
                    drop(permit.take());
                    let (chunk, p) = rx.recv().await?;
                    rest = chunk;
                    permit = Some(p);
                }
                let frame = rest.split_to(rest.len().min(FRAME_BYTES));
                Some((frame, (rx, rest, permit)))
            },
        )
    }

    /// Encodes one event line, the object in the representation the watch is served in.
    fn line(&self, type_: &str, raw: &Bytes) -> Bytes {
        let raw = &served_bytes(&self.res, raw);
        let object: Bytes = match self.format {
            Format::Table => {
                let v: Value = serde_json::from_slice(raw).unwrap_or(Value::Null);
                let rv = v.pointer("/metadata/resourceVersion").cloned().unwrap_or(json!(""));
                let t = table::to_table(&self.res, &[v], json!({"resourceVersion": rv}), self.include, std::time::SystemTime::now());
                Bytes::from(serde_json::to_vec(&t).unwrap())
            }
            _ => raw.clone(),
        };
        let mut out = Vec::with_capacity(object.len() + 32);
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(type_.as_bytes());
        out.extend_from_slice(b"\",\"object\":");
        out.extend_from_slice(&object);
        out.extend_from_slice(b"}\n");
        Bytes::from(out)
    }

    fn bookmark(&self, rev: u64, initial_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": rev.to_string()});
        if initial_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj = json!({"kind": self.res.kind, "apiVersion": self.res.api_version(), "metadata": metadata});
        Bytes::from(format!("{{\"type\":\"BOOKMARK\",\"object\":{obj}}}\n"))
    }

    fn error_gone(&self, asked: u64, oldest: u64) -> Bytes {
        let status = ApiError::gone(format!("too old resource version: {asked} ({oldest})")).to_status();
        Bytes::from(format!("{{\"type\":\"ERROR\",\"object\":{status}}}\n"))
    }

    async fn run(&self, tx: &Outbox) -> Option<()> {
        let mut committed = self.storage.committed();
        let mut position = match self.start {
            Start::After(n) => n,
            Start::InitialEvents { rev, end_bookmark } => {
                let (rev, items) = self.storage.list(&self.prefix, None, Snapshot::At(rev)).ok()?;
                for s in items.iter().filter(|s| self.opts.matches(&s.labels, &s.fields)) {
                    tx.send(self.line("ADDED", &s.raw)).await?;
                }
                if end_bookmark {
                    tx.send(self.bookmark(rev, true)).await?;
                }
                rev
            }
        };
        let mut last_bookmark = tokio::time::Instant::now();
        loop {
            let events = match self.storage.events_after(position, BATCH) {
                Ok(e) => e,
                Err(oldest) => {
                    tx.send(self.error_gone(position, oldest)).await?;
                    return Some(());
                }
            };
            if events.is_empty() {
                let wait = BOOKMARK_INTERVAL.saturating_sub(last_bookmark.elapsed());
                tokio::select! {
                    changed = committed.changed() => { changed.ok()?; }
                    _ = tokio::time::sleep(wait) => {
                        if self.opts.allow_bookmarks {
                            let rev = (*committed.borrow()).max(position);
                            tx.send(self.bookmark(rev, false)).await?;
                        }
                        last_bookmark = tokio::time::Instant::now();
                    }
                    _ = tx.closed() => return None,
                }
                continue;
            }
            for e in events {
                position = e.rev;
                if !e.key.starts_with(&self.prefix) {
                    continue;
                }
                match self.visible_as(e.type_, &e.object, e.prev.as_deref()) {
                    Some(("DELETED", Some(prev))) if e.type_ == EventType::Modified => {
                        // It stopped matching: the watcher last saw it as it was, so that is
                        // what is deleted, at this event's resourceVersion.
                        let mut v = prev.value();
                        v["metadata"]["resourceVersion"] = json!(e.rev.to_string());
                        tx.send(self.line("DELETED", &Bytes::from(serde_json::to_vec(&v).unwrap()))).await?;
                    }
                    Some((type_, _)) => tx.send(self.line(type_, &e.object.raw)).await?,
                    None => {}
                }
            }
        }
    }

    /// What a change looks like through this watch's selectors: an object that starts
    /// matching is ADDED, one that stops matching is DELETED, as the watch cache reports.
    fn visible_as<'a>(&self, type_: EventType, now: &Stored, prev: Option<&'a Stored>) -> Option<(&'static str, Option<&'a Stored>)> {
        let now_matches = self.opts.matches(&now.labels, &now.fields);
        match type_ {
            EventType::Added => now_matches.then_some(("ADDED", None)),
            EventType::Deleted => prev.map_or(now_matches, |p| self.opts.matches(&p.labels, &p.fields)).then_some(("DELETED", None)),
            EventType::Modified => {
                let was = prev.is_some_and(|p| self.opts.matches(&p.labels, &p.fields));
                match (was, now_matches) {
                    (true, true) => Some(("MODIFIED", None)),
                    (false, true) => Some(("ADDED", None)),
                    (true, false) => Some(("DELETED", prev)),
                    (false, false) => None,
                }
            }
        }
    }
}

/// kube-apiserver's default for a watch without `timeoutSeconds`: a random duration in
/// [min, 2·min), so that watches started together do not all end together.
fn default_timeout(min: Duration) -> Duration {
    if min.is_zero() {
        return LONGEST_WATCH;
    }
    min.mul_f64(1.0 + rand::random::<f64>())
}

/// The sending side of one watcher's bounded buffer.
struct Outbox {
    tx: mpsc::UnboundedSender<(Bytes, OwnedSemaphorePermit)>,
    /// Bytes of [`WATCHER_BUFFER_BYTES`] not yet taken by chunks in the channel.
    budget: Arc<Semaphore>,
    grace: Duration,
    resource: String,
}

impl Outbox {
    /// Queues a chunk once the buffer has room; `None` when the client went away, or stayed
    /// blocked past the grace period (then the watch is closed).
    async fn send(&self, chunk: Bytes) -> Option<()> {
        let cost = chunk.len().clamp(1, WATCHER_BUFFER_BYTES) as u32;
        let permit = match self.budget.clone().try_acquire_many_owned(cost) {
            Ok(p) => p,
            Err(_) => tokio::select! {
                p = self.budget.clone().acquire_many_owned(cost) => p.ok()?,
                _ = self.tx.closed() => return None,
                _ = tokio::time::sleep(self.grace) => {
                    eprintln!("Forcing watcher close due to unresponsiveness: {} (its buffer stayed full for {:?})", self.resource, self.grace);
                    return None;
                }
            },
        };
        self.tx.send((chunk, permit)).ok()
    }

    async fn closed(&self) {
        self.tx.closed().await
    }
}
