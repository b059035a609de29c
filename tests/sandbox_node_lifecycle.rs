//! The node lifecycle controller's NoSchedule pass: a Ready node loses admission's
//! not-ready taint, a cordoned one gets `unschedulable`, and both go when they no longer apply.

mod common;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use common::TestSandbox;

async fn taints_until(nodes: &Api<Node>, name: &str, want: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n = nodes.get(name).await.unwrap();
        let keys: Vec<String> = n.spec.and_then(|s| s.taints).unwrap_or_default().into_iter().map(|t| t.key).collect();
        if keys == want {
            return;
        }
        assert!(Instant::now() < deadline, "{name}'s taints stayed {keys:?}, wanted {want:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_nodes_lose_the_not_ready_taint_and_cordoned_ones_are_unschedulable() {
    let t = TestSandbox::with_controllers("nodelifecycle").await;
    let nodes = Api::<Node>::all(t.sandbox.client().await.unwrap());
    // Admission tainted the seeded nodes not-ready; they report Ready.
    taints_until(&nodes, "kubelab-worker-1", &[]).await;
    taints_until(&nodes, "kubelab-worker-2", &[]).await;
    let cordon = |on: bool| json!({"spec": {"unschedulable": on}});
    nodes.patch("kubelab-worker-1", &PatchParams::default(), &Patch::Merge(&cordon(true))).await.unwrap();
    taints_until(&nodes, "kubelab-worker-1", &["node.kubernetes.io/unschedulable"]).await;
    nodes.patch("kubelab-worker-1", &PatchParams::default(), &Patch::Merge(&cordon(false))).await.unwrap();
    taints_until(&nodes, "kubelab-worker-1", &[]).await;
    // A node whose kubelet says it is not ready is tainted again.
    let not_ready = json!({"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady"}]}});
    nodes.patch_status("kubelab-worker-2", &PatchParams::default(), &Patch::Merge(&not_ready)).await.unwrap();
    taints_until(&nodes, "kubelab-worker-2", &["node.kubernetes.io/not-ready"]).await;
}
