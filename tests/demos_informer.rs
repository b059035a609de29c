//! informer-demo, run as a user runs it against an in-process sandbox (--kubeconfig),
//! while the test creates and deletes objects "in another terminal".

mod common;

use std::process::Stdio;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn informer_demo_narrates_each_hand_off_and_both_caches_agree() {
    // No root-CA publisher: the namespace holds exactly the ConfigMaps the test makes.
    let t = common::TestSandbox::with_controllers("namespace,serviceaccount").await;
    let api: Api<ConfigMap> = Api::namespaced(t.sandbox.client().await.unwrap(), "default");
    let before: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "before"}})).unwrap();
    api.create(&PostParams::default(), &before).await.unwrap();

    let child = tokio::process::Command::new(common::kubelab_bin())
        .args([
            "informer-demo",
            "--resource",
            "configmaps",
            "-n",
            "default",
            "--handlers",
            "2",
            "--compare-kube-rs",
            "--for",
            "4s",
            "--kubeconfig",
        ])
        .arg(t.kubeconfig())
        .env("KUBELAB_HOME", t.home())
        .env_remove("KUBECONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let web: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "web"}, "data": {"a": "1"}})).unwrap();
    api.create(&PostParams::default(), &web).await.unwrap();
    api.delete("before", &DeleteParams::default()).await.unwrap();
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output()).await.expect("it stops after --for").unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));

    // Each object's way through the pipeline, in order. The two objects travel
    // concurrently (the reflector reads the next event while the informer processes the
    // last one), so each chain is checked on its own.
    let chains: [&[&str]; 2] = [
        &[
            "reflector: listed 1 objects at resourceVersion",
            "deltafifo: popped default/before with deltas [Replaced]",
            "reflector: DELETED default/before",
            "deltafifo: queued Deleted for default/before",
            "informer: indexer Delete default/before",
        ],
        &[
            "reflector: ADDED default/web",
            "deltafifo: queued Added for default/web",
            "deltafifo: popped default/web with deltas [Added]",
            "informer: indexer Add default/web",
            "informer: Add notification for default/web queued to listener 1",
        ],
    ];
    for chain in chains {
        let mut rest: &str = &stdout;
        for want in chain {
            let at = rest.find(want).unwrap_or_else(|| panic!("{want:?} missing (or out of order) in:\n{stdout}"));
            rest = &rest[at + want.len()..];
        }
    }
    for h in [
        "handler 1: on_Add default/web",
        "handler 2: on_Add default/web",
        "handler 1: on_Delete default/before",
        "kube-rs watcher: Apply default/web",
        "kube-rs watcher: Delete default/before",
    ] {
        assert!(stdout.contains(h), "{h:?} missing in:\n{stdout}");
    }
    for l in [
        "stopped: --for 4s elapsed",
        "indexer: 1 objects; equal to the server's list: yes",
        "handler 1: 2 add, 0 update, 1 delete; saw every final state: yes",
        "handler 2: 2 add, 0 update, 1 delete; saw every final state: yes",
        "kube-rs reflector Store: 1 objects; same as the indexer: yes",
    ] {
        assert!(stdout.contains(l), "{l:?} missing in:\n{stdout}");
    }
}
