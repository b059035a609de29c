//! queue-demo and store-demo, run as a user runs them: the binary, a fresh KUBELAB_HOME,
//! no terminal (so plain lines, no colour).

mod common;

use std::process::{Command, Output};

fn kubelab(home: &std::path::Path, args: &[&str]) -> Output {
    let out =
        Command::new(common::kubelab_bin()).args(args).env("KUBELAB_HOME", home).env_remove("KUBECONFIG").output().expect("kubelab runs");
    assert!(out.status.success(), "kubelab {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The line of `text` that starts with `start` (blanks collapsed), or a readable failure.
fn line<'a>(text: &'a str, start: &str) -> &'a str {
    text.lines()
        .find(|l| l.split_whitespace().collect::<Vec<_>>().join(" ").starts_with(start))
        .unwrap_or_else(|| panic!("no line starting with {start:?} in:\n{text}"))
}

fn collapsed(l: &str) -> String {
    l.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn queue_demo_shows_every_container_after_every_step() {
    let home = tempfile::tempdir().unwrap();
    let o = kubelab(home.path(), &["queue-demo", "--items", "3", "--workers", "2"]);
    let out = stdout(&o);
    // Scene 1: the reader wakes after the filler is done, then takes keys in FIFO order.
    assert_eq!(
        collapsed(line(&out, "filler add item-3")),
        "filler add item-3 queue [item-1 item-2 item-3] dirty {item-1 item-2 item-3} processing {}"
    );
    assert_eq!(
        collapsed(line(&out, "reader get -> item-1")),
        "reader get -> item-1 queue [item-2 item-3] dirty {item-2 item-3} processing {item-1}"
    );
    // Scene 2: a second add of a waiting key is absorbed by dirty.
    assert_eq!(
        collapsed(line(&out, "handler add default/web (already dirty")),
        "handler add default/web (already dirty: no-op) queue [default/web default/db] dirty {default/db default/web} processing {}"
    );
    // Scene 3: re-added while processing: dirty only, back in the queue on done.
    assert_eq!(
        collapsed(line(&out, "handler add default/web (processing")),
        "handler add default/web (processing: only dirty) queue [] dirty {default/web} processing {default/web}"
    );
    assert_eq!(
        collapsed(line(&out, "worker 2 get would wait")),
        "worker 2 get would wait: nothing queued queue [] dirty {default/web} processing {default/web}"
    );
    assert!(collapsed(line(&out, "worker 1 done default/web"))
        .starts_with("worker 1 done default/web -> back in the queue queue [default/web]"));
    // Scene 5: shutdown ignores new adds but drains.
    assert!(out.contains("add default/late (ignored: shutting down)"));
    assert!(out.contains("get -> None: exits its loop"));
    // Scene 6: the per-key exponential timeline, then forget.
    for d in ["5ms", "10ms", "20ms", "40ms", "80ms", "160ms"] {
        assert!(out.contains(&format!("fails: add_rate_limited -> retry in {d}")), "no {d} retry in:\n{out}");
    }
    assert!(out.contains("succeeds: forget -> 0 requeues"));
    assert!(out.contains("#101 waits 100ms, #150 waits 5s"));
    // The summary.
    assert!(out.contains("stopped: finished"));
    assert!(out.contains("scenes completed: 6/6"));
    assert!(out.contains("a key held by two workers at once: never"));
    // Titles are narration, on stderr.
    assert!(String::from_utf8_lossy(&o.stderr).contains("[1] one task fills the queue, the other reads after a pause"));
}

#[test]
fn queue_demo_stops_after_for_with_the_same_summary() {
    let home = tempfile::tempdir().unwrap();
    let o = kubelab(home.path(), &["queue-demo", "--pause", "5s", "--for", "300ms", "-q"]);
    let out = stdout(&o);
    assert!(out.starts_with("stopped: --for 300ms elapsed\n"), "{out}");
    assert!(out.contains("scenes completed: 0/6"));
    assert!(!out.contains("filler"), "-q prints only the summary:\n{out}");
}

#[test]
fn queue_demo_json_lines_parse() {
    let home = tempfile::tempdir().unwrap();
    let o = kubelab(home.path(), &["queue-demo", "--items", "2", "-o", "json"]);
    let docs: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(docs[0]["actor"], "filler");
    assert_eq!(docs[0]["queue"], serde_json::json!(["item-1"]));
    let summary = &docs.last().unwrap()["summary"];
    assert_eq!(summary["scenes_completed"], 6);
    assert_eq!(summary["shared"], 0);
}

#[test]
fn live_without_a_terminal_falls_back_to_lines() {
    let home = tempfile::tempdir().unwrap();
    let o = kubelab(home.path(), &["queue-demo", "--live", "--items", "1"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--live needs a terminal"));
    assert!(stdout(&o).contains("filler     add item-1"));
}

#[test]
fn store_demo_keeps_the_author_index_in_step() {
    let home = tempfile::tempdir().unwrap();
    let out = stdout(&kubelab(home.path(), &["store-demo"]));
    assert!(out.contains("key_func(ConfigMap library/gopl) = library/gopl"));
    assert!(out.contains("key_func(Namespace library) = library"));
    // After the delete of K&R, ritchie is gone from the index and kernighan keeps one book.
    let after_delete = out.split("delete  library/k-and-r").nth(1).expect("a delete step");
    let index_line = line(after_delete, "author");
    assert!(index_line.contains("kernighan=[library/gopl]") && !index_line.contains("ritchie"), "{index_line}");
    assert!(out.contains("by_index(\"author\", \"kernighan\") -> [The Go Programming Language]"));
    assert!(out.contains("index_keys(\"namespace\", \"library\") -> [library/gopl, library/programming-kubernetes]"));
    assert!(out.contains("-> Kubernetes in Action, Second Edition"));
    let o = kubelab(home.path(), &["store-demo", "--author", "luksa", "-o", "json"]);
    let last: serde_json::Value = serde_json::from_str(stdout(&o).lines().last().unwrap()).unwrap();
    assert_eq!(last["summary"]["by_author"]["luksa"], serde_json::json!(["Kubernetes in Action, Second Edition"]));
}
