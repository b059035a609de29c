//! The node lifecycle controller alone: a node's taints follow its conditions (admission's
//! `not-ready:NoSchedule` lifted once Ready, back with `NoExecute` when not), a cordon
//! becomes the `unschedulable` taint, and with the scheduler beside it pods land.

mod common;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

async fn taints_of(api: &Api<Node>, name: &str) -> Vec<String> {
    let n = api.get(name).await.unwrap();
    let mut t: Vec<String> = n.spec.and_then(|s| s.taints).unwrap_or_default().iter().map(|t| format!("{}:{}", t.key, t.effect)).collect();
    t.sort();
    t
}

async fn wait_for_taints(api: &Api<Node>, name: &str, want: &[&str]) {
    let start = Instant::now();
    loop {
        let got = taints_of(api, name).await;
        if got == want {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{name}: taints {got:?}, want {want:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taints_follow_the_nodes_conditions() {
    let t = common::TestSandbox::with_controllers("nodelifecycle").await;
    let api: Api<Node> = Api::all(t.sandbox.client().await.unwrap());
    // The seeded nodes report Ready: admission's taint is lifted.
    wait_for_taints(&api, "kubelab-worker-1", &[]).await;
    wait_for_taints(&api, "kubelab-worker-2", &[]).await;

    let set_ready = |status: &'static str| json!({"status": {"conditions": [{"type": "Ready", "status": status, "reason": "KubeletNotReady", "message": "test"}]}});
    api.patch_status("kubelab-worker-1", &PatchParams::default(), &Patch::Strategic(set_ready("False"))).await.unwrap();
    wait_for_taints(&api, "kubelab-worker-1", &["node.kubernetes.io/not-ready:NoExecute", "node.kubernetes.io/not-ready:NoSchedule"]).await;
    let n = api.get("kubelab-worker-1").await.unwrap();
    let no_execute = n.spec.unwrap().taints.unwrap().into_iter().find(|t| t.effect == "NoExecute").unwrap();
    assert!(no_execute.time_added.is_some(), "a NoExecute taint says when it was added");

    api.patch_status("kubelab-worker-1", &PatchParams::default(), &Patch::Strategic(set_ready("Unknown"))).await.unwrap();
    wait_for_taints(&api, "kubelab-worker-1", &["node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule"])
        .await;
    api.patch_status("kubelab-worker-1", &PatchParams::default(), &Patch::Strategic(set_ready("True"))).await.unwrap();
    wait_for_taints(&api, "kubelab-worker-1", &[]).await;

    // A user's taint stays through all of it; a cordon adds the unschedulable taint.
    let patch = json!({"spec": {"unschedulable": true, "taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}});
    api.patch("kubelab-worker-2", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    wait_for_taints(&api, "kubelab-worker-2", &["dedicated:NoSchedule", "node.kubernetes.io/unschedulable:NoSchedule"]).await;
    api.patch("kubelab-worker-2", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"unschedulable": false}}))).await.unwrap();
    wait_for_taints(&api, "kubelab-worker-2", &["dedicated:NoSchedule"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_scheduler_pods_land_once_nodes_are_ready() {
    let t = common::TestSandbox::with_controllers("nodelifecycle,scheduler").await;
    let client = t.sandbox.client().await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let pod: Pod =
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}})).unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let start = Instant::now();
    loop {
        let p = pods.get("p").await.unwrap();
        if let Some(node) = p.spec.and_then(|s| s.node_name) {
            assert!(node.starts_with("kubelab-worker-"), "{node}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "the pod was never bound: {:?}", p.status);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
