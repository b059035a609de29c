//! kube-rs, a client no one here wrote, against the sandbox: typed CRUD, watch, and the
//! runtime watcher recovering from `410 Gone` by re-listing.

mod common;

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::watcher;
use serde_json::json;

fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "demo"}},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}
    }))
    .unwrap()
}

#[tokio::test]
async fn typed_crud_and_watch_from_a_list_resource_version() {
    let t = common::TestSandbox::start().await;
    let client = t.sandbox.client().await.unwrap();
    let nodes: Api<Node> = Api::all(client.clone());
    assert!(nodes.list(&ListParams::default()).await.unwrap().items.len() >= 2, "two seeded worker nodes");

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let list = pods.list(&ListParams::default()).await.unwrap();
    let rv = list.metadata.resource_version.clone().unwrap();

    let created = pods.create(&PostParams::default(), &pod("web")).await.unwrap();
    let meta = &created.metadata;
    assert!(meta.uid.is_some() && meta.creation_timestamp.is_some());
    assert_eq!(created.spec.as_ref().unwrap().restart_policy.as_deref(), Some("Always"), "defaults applied");

    let patched =
        pods.patch("web", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"tier": "front"}}}))).await.unwrap();
    assert_eq!(patched.metadata.labels.unwrap()["tier"], "front");
    assert!(patched.metadata.resource_version.unwrap().parse::<u64>().unwrap() > meta.resource_version.clone().unwrap().parse().unwrap());

    let err = pods.create(&PostParams::default(), &pod("web")).await.unwrap_err();
    match err {
        kube::Error::Api(s) => assert_eq!((s.code, s.reason.as_str()), (409, "AlreadyExists")),
        other => panic!("expected a Status, got {other:?}"),
    }

    pods.delete("web", &DeleteParams::default()).await.unwrap();

    let mut events = pods.watch(&WatchParams::default().timeout(2), &rv).await.unwrap().boxed();
    let mut seen = vec![];
    while let Some(e) = events.try_next().await.unwrap() {
        seen.push(match e {
            WatchEvent::Added(p) => format!("ADDED {}", p.metadata.name.unwrap()),
            WatchEvent::Modified(p) => format!("MODIFIED {}", p.metadata.name.unwrap()),
            WatchEvent::Deleted(p) => format!("DELETED {}", p.metadata.name.unwrap()),
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Error(e) => panic!("watch error {e:?}"),
        });
    }
    assert_eq!(seen.first().map(String::as_str), Some("ADDED web"));
    assert_eq!(seen.last().map(String::as_str), Some("DELETED web"));
    assert!(seen.iter().any(|s| s == "MODIFIED web"));
}

#[tokio::test]
async fn runtime_watcher_relists_after_410() {
    let t = common::TestSandbox::start().await;
    let client = t.sandbox.client().await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm = |name: &str| -> ConfigMap { serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": "v"}})).unwrap() };
    cms.create(&PostParams::default(), &cm("before")).await.unwrap();

    // A raw watch from a revision older than the watch cache is an ERROR 410 event.
    let mut old = cms.watch(&WatchParams::default().timeout(2), "1").await.unwrap().boxed();
    match old.try_next().await.unwrap() {
        Some(WatchEvent::Error(e)) => assert_eq!(e.code, 410),
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }

    // The runtime watcher lists then watches. Forgetting the watch cache under it (what a
    // long disconnection does) turns its next read into a 410; it must re-list and go on.
    let mut stream = watcher(cms.clone(), watcher::Config::default()).boxed();
    let mut names = std::collections::BTreeSet::new();
    let mut init_done = 0;
    let mut gone = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while tokio::time::Instant::now() < deadline {
        let ev = match tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
            Ok(Some(Ok(ev))) => ev,
            // The watcher reports the 410 it met, then re-lists on the next poll.
            Ok(Some(Err(watcher::Error::WatchError(e)))) if e.code == 410 => {
                gone += 1;
                continue;
            }
            Ok(Some(Err(e))) => panic!("watcher error: {e}"),
            _ => break,
        };
        match ev {
            watcher::Event::Apply(o) | watcher::Event::InitApply(o) => {
                names.insert(o.metadata.name.unwrap());
            }
            watcher::Event::InitDone => {
                init_done += 1;
                if init_done == 1 {
                    // The watch request is only sent on the next poll: by then the revision
                    // it asks for is older than anything the watch cache remembers.
                    cms.create(&PostParams::default(), &cm("after")).await.unwrap();
                    t.sandbox.apiserver().storage.forget_history();
                }
            }
            _ => {}
        }
        if init_done >= 2 && names.contains("after") {
            break;
        }
    }
    assert_eq!(gone, 1, "the watcher met exactly one 410");
    assert!(init_done >= 2, "the watcher re-listed after the 410 (init rounds: {init_done})");
    assert!(names.contains("before") && names.contains("after"), "saw {names:?}");
}

/// Bad input gets a proper `Status`, never a hang or a dropped connection.
#[tokio::test]
async fn bad_requests_get_a_status() {
    let t = common::TestSandbox::start().await;
    let client = t.sandbox.client().await.unwrap();
    let post = |body: Vec<u8>, ct: &str| {
        http::Request::post("/api/v1/namespaces/default/configmaps").header("Content-Type", ct).body(body).unwrap()
    };
    let cases = [
        (post(vec![b'a'; 4 * 1024 * 1024], "application/json"), 413, "RequestEntityTooLarge"),
        (post(b"{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {".to_vec(), "application/json"), 400, "BadRequest"),
        (post(b"a: [".to_vec(), "application/yaml"), 400, "BadRequest"),
        (post(b"name: x".to_vec(), "text/plain"), 415, "UnsupportedMediaType"),
    ];
    for (req, code, reason) in cases {
        match client.request_text(req).await {
            Err(kube::Error::Api(s)) => assert_eq!((s.code, s.reason.as_str()), (code, reason), "{}", s.message),
            other => panic!("expected a {code} Status, got {other:?}"),
        }
    }
}

/// A node port asked for by an update that is never stored (a dry run) stays free.
#[tokio::test]
async fn dry_run_updates_do_not_keep_node_ports() {
    use k8s_openapi::api::core::v1::Service;
    let t = common::TestSandbox::start().await;
    let client = t.sandbox.client().await.unwrap();
    let svcs: Api<Service> = Api::namespaced(client, "default");
    let svc = |name: &str, spec: serde_json::Value| -> Service {
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
    };
    svcs.create(&PostParams::default(), &svc("a", json!({"ports": [{"port": 80}]}))).await.unwrap();
    let to_node_port = json!({"spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}});
    let dry = PatchParams { dry_run: true, ..Default::default() };
    let preview = svcs.patch("a", &dry, &Patch::Merge(&to_node_port)).await.unwrap();
    assert_eq!(preview.spec.unwrap().type_.as_deref(), Some("NodePort"));
    let b = svcs.create(&PostParams::default(), &svc("b", json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}))).await;
    assert!(b.is_ok(), "30080 must still be free: {b:?}");
    let taken = svcs.patch("a", &PatchParams::default(), &Patch::Merge(&to_node_port)).await.unwrap_err();
    match taken {
        kube::Error::Api(s) => assert!(s.message.contains("provided port is already allocated"), "{}", s.message),
        other => panic!("expected a 422, got {other:?}"),
    }
}
