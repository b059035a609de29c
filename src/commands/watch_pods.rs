//! `kubelab watch-pods`: LIST, remember the resourceVersion, WATCH from it — the loop at
//! the heart of client-go's reflector (and of kube-runtime's `watcher`), run by hand.
//!
//! A watch is one long GET with `watch=true`, answered by a stream of JSON lines, one
//! `{"type": ..., "object": ...}` per event. Its resourceVersion says "everything after
//! this"; if the server no longer remembers that far back it answers `410 Gone`, and the
//! only way on is a fresh LIST — which is what a reflector does, and what this does too.

use std::collections::BTreeMap;

use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, WatchEvent, WatchParams};
use kube::Resource;
use serde_json::json;

use super::{CommandError, Session};
use crate::cli::{Global, OutputFormat, WatchArgs};
use crate::narrate;

/// How long one watch request may stay open before the server ends it (we re-watch).
const WATCH_TIMEOUT_SECS: u32 = 290;

/// What the summary counts.
#[derive(Default)]
struct Tally {
    by_type: BTreeMap<&'static str, usize>,
    relists: usize,
    watches: usize,
    events: Vec<serde_json::Value>,
}

pub async fn run(global: &Global, args: &WatchArgs) -> Result<(), CommandError> {
    let mut s = Session::open(global).await?;
    let namespace = if args.all_namespaces { None } else { Some(s.client.default_namespace().to_string()) };
    let url = Pod::url_path(&(), namespace.as_deref());
    let table = s.n.output() == OutputFormat::Table && !args.raw;
    let mut tally = Tally::default();

    let mut rv = match &args.from_version {
        Some(v) => {
            s.n.step(format!("no LIST: watching from resourceVersion {v} as asked"));
            s.n.note("A resourceVersion older than the server's watch cache gets 410 Gone.");
            v.clone()
        }
        None => list(&mut s, &url, args).await?,
    };

    if table {
        narrate::print_result(&format!("{:<9} {:<32} {:<10} {:<16} {}\n", "EVENT", "NAME", "PHASE", "RESOURCEVERSION", "TIME"));
    }
    let deadline = args.duration.map(|d| tokio::time::Instant::now() + d);
    let stop = async move {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stop);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);

    let why_stopped = 'watching: loop {
        // kube's WatchParams ask for bookmarks by default (allowWatchBookmarks=true).
        let mut wp = WatchParams::default().timeout(WATCH_TIMEOUT_SECS);
        if let Some(l) = &args.selector {
            wp = wp.labels(l);
        }
        let request = kube::core::Request::new(&url)
            .watch(&wp, &rv)
            .map_err(|e| CommandError::new(format!("cannot build the watch request: {e}")))?;
        tally.watches += 1;
        s.n.step(format!("WATCH from resourceVersion {rv}"));
        let before = s.journal.len();
        let stream = tokio::select! {
            r = s.client.request_stream(request) => r,
            _ = &mut stop => break 'watching "time is up",
            _ = &mut ctrl_c => break 'watching "interrupted",
        };
        if let Some(ex) = s.journal.since(before).pop() {
            s.n.request(&ex, false);
            s.n.detail("status", ex.status.map_or("-".into(), |c| c.to_string()));
        }
        let mut lines = match stream {
            Ok(body) => body.lines(),
            Err(kube::Error::Api(status)) if status.code == 410 => {
                rv = relist(&mut s, &url, args, &mut tally, &status.message).await?;
                continue;
            }
            Err(e) => return Err(s.explain(e)),
        };
        s.n.note("Events print as they arrive (on stdout); the request stays open.");
        loop {
            let line = tokio::select! {
                l = lines.next() => l,
                _ = &mut stop => break 'watching "time is up",
                _ = &mut ctrl_c => break 'watching "interrupted",
            };
            let line = match line {
                None => {
                    s.n.event(format!("    (the server closed the watch; watching again from {rv})"));
                    continue 'watching;
                }
                Some(Err(e)) => {
                    return Err(CommandError::new(format!("the watch stream broke: {e}"))
                        .hint("run the command again; a reflector would re-watch from the last resourceVersion"))
                }
                Some(Ok(l)) if l.trim().is_empty() => continue,
                Some(Ok(l)) => l,
            };
            if args.raw {
                narrate::print_result(&format!("{line}\n"));
            }
            let event: WatchEvent<Pod> =
                serde_json::from_str(&line).map_err(|e| CommandError::new(format!("cannot decode a watch event: {e}")))?;
            match event {
                WatchEvent::Added(p) => rv = record(&mut tally, "ADDED", &p, table).unwrap_or(rv),
                WatchEvent::Modified(p) => rv = record(&mut tally, "MODIFIED", &p, table).unwrap_or(rv),
                WatchEvent::Deleted(p) => rv = record(&mut tally, "DELETED", &p, table).unwrap_or(rv),
                WatchEvent::Bookmark(b) => {
                    rv = b.metadata.resource_version.clone();
                    *tally.by_type.entry("BOOKMARK").or_default() += 1;
                    tally.events.push(json!({"type": "BOOKMARK", "resourceVersion": rv, "time": now()}));
                    if table {
                        narrate::print_result(&format!("{:<9} {:<32} {:<10} {:<16} {}\n", "BOOKMARK", "-", "-", rv, now()));
                    }
                }
                WatchEvent::Error(e) if e.code == 410 => {
                    *tally.by_type.entry("ERROR").or_default() += 1;
                    tally.events.push(json!({"type": "ERROR", "code": 410, "message": e.message, "time": now()}));
                    if table {
                        narrate::print_result(&format!("{:<9} {:<32} {:<10} {:<16} {}\n", "ERROR", "410 Gone", "-", rv, now()));
                    }
                    rv = relist(&mut s, &url, args, &mut tally, &e.message).await?;
                    continue 'watching;
                }
                WatchEvent::Error(e) => return Err(CommandError::new(format!("the watch failed: {} {}: {}", e.code, e.reason, e.message))),
            }
        }
    };

    s.n.step(format!("stopped: {why_stopped}"));
    s.n.detail("watch requests", tally.watches);
    s.n.detail("re-lists (410)", tally.relists);
    s.n.detail("last seen RV", &rv);
    let counts: Vec<String> = ["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]
        .iter()
        .map(|t| format!("{t} {}", tally.by_type.get(t).copied().unwrap_or(0)))
        .collect();
    match s.n.output() {
        OutputFormat::Table if !args.raw => {
            narrate::print_result(&format!("summary: {}; re-lists after 410 Gone: {}\n", counts.join(", "), tally.relists))
        }
        OutputFormat::Table => {}
        format => {
            let summary: BTreeMap<&str, usize> = ["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]
                .iter()
                .map(|t| (*t, tally.by_type.get(t).copied().unwrap_or(0)))
                .collect();
            let doc = json!({"events": tally.events, "summary": summary, "relists": tally.relists, "resourceVersion": rv});
            narrate::print_document(format, &doc);
        }
    }
    Ok(())
}

/// The initial LIST: its resourceVersion is where the watch starts, so no change between the
/// two can be missed.
async fn list(s: &mut Session, url: &str, args: &WatchArgs) -> Result<String, CommandError> {
    s.n.step("LIST, to learn the current state and its resourceVersion");
    s.n.note("Go: reflector.ListAndWatch starts with a List; kube::runtime::watcher does the same.");
    let mut lp = ListParams::default();
    if let Some(l) = &args.selector {
        lp = lp.labels(l);
    }
    let request = kube::core::Request::new(url).list(&lp).map_err(|e| CommandError::new(format!("cannot build the list request: {e}")))?;
    let before = s.journal.len();
    let result = s.client.request::<kube::core::ObjectList<Pod>>(request).await;
    if let Some(ex) = s.journal.since(before).pop() {
        s.n.request(&ex, false);
        s.n.response(&ex, false);
    }
    let list = result.map_err(|e| s.explain(e))?;
    let rv = list.metadata.resource_version.clone().unwrap_or_default();
    s.n.detail("pods", list.items.len());
    s.n.detail("resourceVersion", &rv);
    Ok(rv)
}

async fn relist(s: &mut Session, url: &str, args: &WatchArgs, tally: &mut Tally, message: &str) -> Result<String, CommandError> {
    tally.relists += 1;
    s.n.step("410 Gone: that resourceVersion is too old for the server's watch cache");
    s.n.detail("server said", message);
    s.n.note("Events between it and now are lost; a reflector re-lists to rebuild its state, then watches on.");
    list(s, url, args).await
}

/// Prints and counts one object event; returns the object's resourceVersion.
fn record(tally: &mut Tally, kind: &'static str, pod: &Pod, table: bool) -> Option<String> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let phase = pod.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_else(|| "-".into());
    let rv = pod.metadata.resource_version.clone();
    *tally.by_type.entry(kind).or_default() += 1;
    let time = now();
    tally.events.push(
        json!({"type": kind, "name": name, "namespace": pod.metadata.namespace, "phase": phase, "resourceVersion": rv, "time": time}),
    );
    if table {
        narrate::print_result(&format!("{:<9} {:<32} {:<10} {:<16} {}\n", kind, name, phase, rv.as_deref().unwrap_or("-"), time));
    }
    rv
}

fn now() -> String {
    chrono::Utc::now().format("%H:%M:%S%.3f").to_string()
}
