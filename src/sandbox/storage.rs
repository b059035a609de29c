//! The durable store: etcd's job, on SQLite.
//!
//! One global revision counter orders every write, as etcd's does; an object's
//! `resourceVersion` is the revision of its last write. The whole data set lives in memory
//! (a `BTreeMap` ordered by key, so lists come out sorted by namespace and name as etcd's
//! range reads do) and every write is also committed to SQLite before it is acknowledged.
//!
//! Writes are *group-committed*: [`Storage::write`] assigns the revision and updates memory
//! under one lock, then hands the row to a single writer thread that commits everything
//! queued so far in one transaction (one fsync) and only then publishes the events to
//! watchers and acknowledges the writers. A client that got an answer therefore never loses
//! its write to `kill -9`, and a watcher never sees an event that could still be lost.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use tokio::sync::{oneshot, watch};

use super::selectors::Labels;

/// One stored object: its serialized JSON plus what lists and watches filter on, so a
/// selector over 10,000 pods never parses JSON.
#[derive(Debug)]
pub struct Stored {
    pub key: String,
    pub rv: u64,
    /// The object as served, `metadata.resourceVersion` included.
    pub raw: Bytes,
    /// Where the object continues after `apiVersion` and `kind` (0: they stay). Built-in
    /// kinds are listed without them, as the apiserver does: a list item is `{` and
    /// `raw[item_start..]`.
    pub item_start: usize,
    pub labels: Labels,
    /// Selectable fields (`metadata.name`, `status.phase`, ...) and their values.
    pub fields: Vec<(String, String)>,
}

impl Stored {
    /// The object as a list item.
    pub fn item_parts(&self) -> (&'static [u8], &[u8]) {
        if self.item_start == 0 {
            (b"", &self.raw)
        } else {
            (b"{", &self.raw[self.item_start..])
        }
    }

    pub fn value(&self) -> serde_json::Value {
        serde_json::from_slice(&self.raw).expect("stored objects are valid JSON")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// A committed change, as watchers receive it.
#[derive(Debug)]
pub struct Event {
    pub rev: u64,
    pub type_: EventType,
    pub key: String,
    /// The new state; for a delete, the last state (with the delete's revision).
    pub object: Arc<Stored>,
    /// The state before, for MODIFIED and DELETED (a watch with a selector needs it to turn
    /// "stopped matching" into DELETED).
    pub prev: Option<Arc<Stored>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("storage: {0}")]
    Io(#[from] std::io::Error),
    #[error("storage: the writer thread stopped")]
    WriterGone,
    /// A commit failed: the store refuses writes from then on (and `/readyz` fails) rather
    /// than acknowledge what it could not persist.
    #[error("storage: cannot write to the data directory: {0}")]
    Unavailable(String),
}

/// How far back a list with an exact resourceVersion (or a continue token) can look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Snapshot {
    Current,
    At(u64),
}

/// The in-memory state, guarded by one mutex: writes serialise here, as in etcd's Raft log.
struct State {
    rev: u64,
    objects: BTreeMap<String, Arc<Stored>>,
}

/// Recent committed events: the watch cache. Watches from a revision older than `oldest` get
/// `410 Gone`, and lists at an exact revision are answered by undoing events from `events`.
struct History {
    events: VecDeque<Arc<Event>>,
    /// Watches may start at any revision >= this one.
    oldest: u64,
    /// Lists at an exact revision, and continue tokens, must be >= this one (etcd compaction).
    compacted: u64,
    capacity: usize,
}

struct WriteOp {
    event: Arc<Event>,
    ack: oneshot::Sender<Result<(), StorageError>>,
}

pub struct Storage {
    state: Arc<Mutex<State>>,
    /// Why the store stopped taking writes, once a commit failed.
    failed: Arc<Mutex<Option<String>>>,
    history: Arc<RwLock<History>>,
    writer: std::sync::mpsc::Sender<WriteOp>,
    /// The last committed revision: watchers wait on it.
    committed: watch::Receiver<u64>,
}

/// Builds a new object once its revision is known.
pub type MakeObject = Box<dyn FnOnce(u64) -> NewObject + Send>;
/// Decides, under the store's lock, what becomes of the current object at the next revision.
pub type UpdateObject = Box<dyn FnOnce(&Stored, u64) -> Change + Send>;

/// What a write wants done to one key.
pub enum Write {
    /// Create: answers `AlreadyExists` if the key exists.
    Create(MakeObject),
    /// Update or delete the current object.
    Update(UpdateObject),
}

/// A new state for a key, computed with its revision known.
pub struct NewObject {
    pub raw: Bytes,
    pub item_start: usize,
    pub labels: Labels,
    pub fields: Vec<(String, String)>,
}

pub enum Change {
    Put(NewObject),
    Delete(NewObject),
    /// Nothing to write (e.g. a no-op patch): answer with the current object.
    Unchanged,
    /// The object changed since the caller read it: read again and retry (GuaranteedUpdate).
    Stale,
}

pub enum Outcome {
    Created(Arc<Stored>),
    Updated(Arc<Stored>),
    Deleted(Arc<Stored>),
    Unchanged(Arc<Stored>),
    AlreadyExists(Arc<Stored>),
    NotFound,
    Stale,
}

const HISTORY_CAPACITY: usize = 20_000;

impl Storage {
    /// Opens (or creates) the store in `dir/state.db` and loads it into memory.
    pub fn open(dir: &Path) -> Result<Arc<Storage>, StorageError> {
        super::private::create_dir(dir)?;
        // Made 0600 before SQLite opens it: its -wal and -shm files copy the database's mode.
        super::private::create_file(&dir.join("state.db"))?;
        let conn = rusqlite::Connection::open(dir.join("state.db"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS objects (key TEXT PRIMARY KEY, rv INTEGER NOT NULL, value BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);",
        )?;
        let rev: u64 = conn
            .query_row("SELECT value FROM meta WHERE name = 'revision'", [], |r| r.get::<_, i64>(0))
            .map(|v| v as u64)
            .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(1) } else { Err(e) })?;
        let mut objects = BTreeMap::new();
        {
            let mut stmt = conn.prepare("SELECT key, rv, value FROM objects")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, Vec<u8>>(2)?)))?;
            for row in rows {
                let (key, rv, value) = row?;
                let stored = Stored {
                    key: key.clone(),
                    rv: rv as u64,
                    raw: Bytes::from(value),
                    item_start: 0,
                    labels: Labels::new(),
                    fields: vec![],
                };
                objects.insert(key, Arc::new(stored));
            }
        }
        let history = Arc::new(RwLock::new(History { events: VecDeque::new(), oldest: rev, compacted: rev, capacity: HISTORY_CAPACITY }));
        let (committed_tx, committed_rx) = watch::channel(rev);
        let (tx, rx) = std::sync::mpsc::channel::<WriteOp>();
        let state = Arc::new(Mutex::new(State { rev, objects }));
        let failed = Arc::new(Mutex::new(None));
        let writer = Writer { conn, history: history.clone(), committed: committed_tx, state: state.clone(), failed: failed.clone() };
        std::thread::Builder::new().name("sandbox-storage-writer".into()).spawn(move || writer.run(rx))?;
        Ok(Arc::new(Storage { state, failed, history, writer: tx, committed: committed_rx }))
    }

    /// After loading, the index fields (labels, selectable fields, list form) are computed
    /// by the caller, which knows the kinds; this replaces them in place.
    pub fn reindex(&self, f: impl Fn(&Stored) -> NewObject) {
        let mut state = self.state();
        for v in state.objects.values_mut() {
            let n = f(v);
            *v =
                Arc::new(Stored { key: v.key.clone(), rv: v.rv, raw: n.raw, item_start: n.item_start, labels: n.labels, fields: n.fields });
        }
    }

    /// The in-memory state. Nothing panics while holding it, but a poisoned lock still
    /// guards consistent data (every change is made in one step), so requests go on.
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// `None` while the store takes writes; why it stopped otherwise.
    pub fn failure(&self) -> Option<String> {
        lock(&self.failed).clone()
    }

    /// The current revision (the resourceVersion of a list served now).
    pub fn revision(&self) -> u64 {
        self.state().rev
    }

    pub fn committed(&self) -> watch::Receiver<u64> {
        self.committed.clone()
    }

    pub fn get(&self, key: &str) -> Option<Arc<Stored>> {
        self.state().objects.get(key).cloned()
    }

    pub fn count(&self) -> usize {
        self.state().objects.len()
    }

    /// Objects whose key starts with `prefix` and sorts after `start_after`, at the current
    /// revision or an exact earlier one. Returns the revision the list is consistent at.
    pub fn list(&self, prefix: &str, start_after: Option<&str>, at: Snapshot) -> Result<(u64, Vec<Arc<Stored>>), u64> {
        let (rev, mut items) = {
            let state = self.state();
            let lower = match start_after {
                Some(k) => Bound::Excluded(k.to_string()),
                None => Bound::Included(prefix.to_string()),
            };
            let items: Vec<Arc<Stored>> = state
                .objects
                .range::<String, _>((lower, Bound::Unbounded))
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(_, v)| v.clone())
                .collect();
            (state.rev, items)
        };
        let target = match at {
            Snapshot::Current => return Ok((rev, items)),
            Snapshot::At(r) if r >= rev => return Ok((rev, items)),
            Snapshot::At(r) => r,
        };
        // Undo, newest first, every event after `target` that touched this range.
        let history = self.history.read().unwrap_or_else(|e| e.into_inner());
        if target < history.compacted.max(history.oldest) {
            return Err(history.compacted.max(history.oldest));
        }
        let mut map: BTreeMap<String, Arc<Stored>> = items.drain(..).map(|s| (s.key.clone(), s)).collect();
        for ev in history.events.iter().rev() {
            if ev.rev <= target {
                break;
            }
            if ev.rev > rev || !ev.key.starts_with(prefix) {
                continue;
            }
            if start_after.is_some_and(|s| ev.key.as_str() <= s) {
                continue;
            }
            match (&ev.type_, &ev.prev) {
                (EventType::Added, _) => {
                    map.remove(&ev.key);
                }
                (_, Some(prev)) => {
                    map.insert(ev.key.clone(), prev.clone());
                }
                (_, None) => {}
            }
        }
        Ok((target, map.into_values().collect()))
    }

    /// Applies one write and waits until it is durable. The closure runs under the store's
    /// lock with the revision this write will get, so checks and the write are atomic.
    pub async fn write(&self, key: &str, op: Write) -> Result<Outcome, StorageError> {
        let (outcome, rx) = {
            let mut state = self.state();
            // Checked under the state lock, which the writer holds while it fails the store.
            if let Some(why) = self.failure() {
                return Err(StorageError::Unavailable(why));
            }
            let current = state.objects.get(key).cloned();
            let next_rev = state.rev + 1;
            let (type_, new_obj, prev) = match (op, current) {
                (Write::Create(_), Some(existing)) => return Ok(Outcome::AlreadyExists(existing)),
                (Write::Create(make), None) => (EventType::Added, make(next_rev), None),
                (Write::Update(_), None) => return Ok(Outcome::NotFound),
                (Write::Update(f), Some(cur)) => match f(&cur, next_rev) {
                    Change::Unchanged => return Ok(Outcome::Unchanged(cur)),
                    Change::Stale => return Ok(Outcome::Stale),
                    Change::Put(n) => (EventType::Modified, n, Some(cur)),
                    Change::Delete(n) => (EventType::Deleted, n, Some(cur)),
                },
            };
            state.rev = next_rev;
            let stored = Arc::new(Stored {
                key: key.to_string(),
                rv: next_rev,
                raw: new_obj.raw,
                item_start: new_obj.item_start,
                labels: new_obj.labels,
                fields: new_obj.fields,
            });
            match type_ {
                EventType::Deleted => {
                    state.objects.remove(key);
                }
                _ => {
                    state.objects.insert(key.to_string(), stored.clone());
                }
            }
            let event = Arc::new(Event { rev: next_rev, type_, key: key.to_string(), object: stored.clone(), prev });
            let (ack, rx) = oneshot::channel();
            // Sent under the lock, so the writer sees revisions in order.
            self.writer.send(WriteOp { event, ack }).map_err(|_| StorageError::WriterGone)?;
            let outcome = match type_ {
                EventType::Added => Outcome::Created(stored),
                EventType::Modified => Outcome::Updated(stored),
                EventType::Deleted => Outcome::Deleted(stored),
            };
            (outcome, rx)
        };
        rx.await.map_err(|_| StorageError::WriterGone)??;
        Ok(outcome)
    }

    /// Events after `after`, at most `max`, or `Err(oldest)` when `after` is older than
    /// the watch cache remembers.
    pub fn events_after(&self, after: u64, max: usize) -> Result<Vec<Arc<Event>>, u64> {
        let history = self.history.read().unwrap_or_else(|e| e.into_inner());
        if after < history.oldest {
            return Err(history.oldest);
        }
        let start = history.events.partition_point(|e| e.rev <= after);
        Ok(history.events.iter().skip(start).take(max).cloned().collect())
    }

    /// The oldest revision a watch may start from.
    pub fn oldest_watchable(&self) -> u64 {
        self.history.read().unwrap_or_else(|e| e.into_inner()).oldest
    }

    /// Forgets history up to now: what was there before the server started is not replayed,
    /// as a fresh watch cache would not. Called once after seeding.
    pub fn forget_history(&self) {
        let rev = self.revision();
        let mut h = self.history.write().unwrap_or_else(|e| e.into_inner());
        h.events.clear();
        h.oldest = rev;
        h.compacted = rev;
    }

    /// etcd compaction: lists at exact revisions before `rev` now answer 410.
    pub fn compact(&self, rev: u64) {
        let mut h = self.history.write().unwrap_or_else(|e| e.into_inner());
        if rev > h.compacted {
            h.compacted = rev;
        }
    }

    pub fn compacted(&self) -> u64 {
        let h = self.history.read().unwrap_or_else(|e| e.into_inner());
        h.compacted.max(h.oldest)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The thread that makes writes durable, in revision order.
struct Writer {
    conn: rusqlite::Connection,
    history: Arc<RwLock<History>>,
    committed: watch::Sender<u64>,
    state: Arc<Mutex<State>>,
    failed: Arc<Mutex<Option<String>>>,
}

impl Writer {
    /// Commits whatever is queued in one transaction, then publishes and acknowledges.
    fn run(mut self, rx: std::sync::mpsc::Receiver<WriteOp>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < 4096 {
                match rx.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(_) => break,
                }
            }
            if let Err(e) = commit(&mut self.conn, &batch) {
                self.fail(&e.to_string(), batch, &rx);
                continue;
            }
            let last = batch.last().map(|op| op.event.rev).unwrap_or(0);
            {
                let mut h = self.history.write().unwrap_or_else(|e| e.into_inner());
                for op in &batch {
                    h.events.push_back(op.event.clone());
                }
                while h.events.len() > h.capacity {
                    if let Some(e) = h.events.pop_front() {
                        h.oldest = h.oldest.max(e.rev);
                    }
                }
            }
            self.committed.send_replace(last);
            for op in batch {
                let _ = op.ack.send(Ok(()));
            }
        }
    }

    /// A commit failed: nothing of `batch` (nor of what queued behind it) is durable, so it
    /// is taken back out of memory, newest first, every writer gets the error, and the store
    /// refuses writes from now on. Reads go on from what was committed.
    fn fail(&mut self, why: &str, mut batch: Vec<WriteOp>, rx: &std::sync::mpsc::Receiver<WriteOp>) {
        eprintln!("kubelab sandbox: {}", StorageError::Unavailable(why.to_string()));
        let mut state = lock(&self.state);
        *lock(&self.failed) = Some(why.to_string());
        // Writes enqueue under the state lock, so after this drain nothing else is in flight.
        while let Ok(op) = rx.try_recv() {
            batch.push(op);
        }
        for op in batch.iter().rev() {
            let e = &op.event;
            match (&e.type_, &e.prev) {
                (EventType::Added, _) | (_, None) => {
                    state.objects.remove(&e.key);
                }
                (_, Some(prev)) => {
                    state.objects.insert(e.key.clone(), prev.clone());
                }
            }
        }
        drop(state);
        for op in batch {
            let _ = op.ack.send(Err(StorageError::Unavailable(why.to_string())));
        }
    }
}

fn commit(conn: &mut rusqlite::Connection, batch: &[WriteOp]) -> Result<(), rusqlite::Error> {
    let tx = conn.transaction()?;
    {
        let mut put = tx.prepare_cached("INSERT OR REPLACE INTO objects (key, rv, value) VALUES (?1, ?2, ?3)")?;
        let mut del = tx.prepare_cached("DELETE FROM objects WHERE key = ?1")?;
        for op in batch {
            let e = &op.event;
            match e.type_ {
                EventType::Deleted => {
                    del.execute([&e.key])?;
                }
                _ => {
                    put.execute(rusqlite::params![e.key, e.rev as i64, &e.object.raw[..]])?;
                }
            }
        }
        let last = batch.last().map(|op| op.event.rev).unwrap_or(0) as i64;
        tx.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('revision', ?1)", [last])?;
    }
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(s: &str) -> NewObject {
        NewObject { raw: Bytes::from(s.to_string()), item_start: 0, labels: Labels::new(), fields: vec![] }
    }

    #[tokio::test]
    async fn writes_survive_reopen_and_revisions_keep_increasing() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::open(dir.path()).unwrap();
        for i in 0..5 {
            let out = s.write(&format!("/pods/ns/p{i}"), Write::Create(Box::new(move |_| obj(&format!("{{\"i\":{i}}}"))))).await.unwrap();
            assert!(matches!(out, Outcome::Created(_)));
        }
        let rev = s.revision();
        drop(s);
        let s = Storage::open(dir.path()).unwrap();
        assert_eq!(s.revision(), rev);
        assert_eq!(s.count(), 5);
        let out = s.write("/pods/ns/p9", Write::Create(Box::new(|_| obj("{}")))).await.unwrap();
        match out {
            Outcome::Created(o) => assert_eq!(o.rv, rev + 1),
            _ => panic!("expected a create"),
        }
    }

    #[tokio::test]
    async fn list_at_an_exact_revision_undoes_later_events() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::open(dir.path()).unwrap();
        s.write("/cm/ns/a", Write::Create(Box::new(|_| obj("\"a1\"")))).await.unwrap();
        let r1 = s.revision();
        s.write("/cm/ns/b", Write::Create(Box::new(|_| obj("\"b1\"")))).await.unwrap();
        s.write("/cm/ns/a", Write::Update(Box::new(|_, _| Change::Put(obj("\"a2\""))))).await.unwrap();
        s.write("/cm/ns/b", Write::Update(Box::new(|_, _| Change::Delete(obj("\"b1\""))))).await.unwrap();
        let (rev, now) = s.list("/cm/ns/", None, Snapshot::Current).unwrap();
        assert_eq!(rev, s.revision());
        assert_eq!(now.iter().map(|o| &o.raw[..]).collect::<Vec<_>>(), vec![&b"\"a2\""[..]]);
        let (at, then) = s.list("/cm/ns/", None, Snapshot::At(r1)).unwrap();
        assert_eq!(at, r1);
        assert_eq!(then.iter().map(|o| &o.raw[..]).collect::<Vec<_>>(), vec![&b"\"a1\""[..]]);
        s.compact(r1 + 1);
        assert!(s.list("/cm/ns/", None, Snapshot::At(r1)).is_err());
    }

    #[tokio::test]
    async fn events_after_replays_in_order_and_refuses_too_old() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::open(dir.path()).unwrap();
        s.write("/cm/ns/a", Write::Create(Box::new(|_| obj("1")))).await.unwrap();
        s.forget_history();
        let start = s.revision();
        s.write("/cm/ns/b", Write::Create(Box::new(|_| obj("2")))).await.unwrap();
        s.write("/cm/ns/b", Write::Update(Box::new(|_, _| Change::Put(obj("3"))))).await.unwrap();
        let evs = s.events_after(start, 10).unwrap();
        assert_eq!(evs.iter().map(|e| e.type_).collect::<Vec<_>>(), vec![EventType::Added, EventType::Modified]);
        assert_eq!(s.events_after(start - 1, 10).unwrap_err(), start);
    }
}
