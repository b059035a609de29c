//! The DaemonSet controller with the scheduler and kubelets: one pod per eligible node,
//! pinned by node affinity and bound by the scheduler; nodes that do not match the node
//! selector or have an untolerated taint are skipped; a new node gets its pod and a
//! deleted node's pod goes; a template change rolls out node by node; `kubectl rollout
//! status` finishes.

mod common;
use common::poll::{eventually, until};

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(30);
const NODES: [&str; 2] = ["kubelab-worker-1", "kubelab-worker-2"];

fn daemon_set(name: &str, extra: Value) -> DaemonSet {
    let mut v = json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}
    });
    if let (Some(spec), Some(extra)) = (v["spec"].as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    serde_json::from_value(v).unwrap()
}

async fn sandbox() -> (common::TestSandbox, Client) {
    let t = common::TestSandbox::with_controllers("daemonset,scheduler,kubelet,nodelifecycle").await;
    let client = t.sandbox.client().await.unwrap();
    (t, client)
}

/// The set's live pods by the node they are bound to ("" while unbound).
async fn pods_by_node(client: &Client, app: &str) -> BTreeMap<String, Vec<Pod>> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut out: BTreeMap<String, Vec<Pod>> = BTreeMap::new();
    for p in pods.list(&ListParams::default().labels(&format!("app={app}"))).await.unwrap().items {
        if p.metadata.deletion_timestamp.is_none() {
            // bound, or pinned to its node and waiting for it (a node without a kubelet
            // keeps admission's not-ready taint, which daemon pods do not tolerate)
            let node = p.spec.as_ref().and_then(|s| s.node_name.clone()).or_else(|| pinned_node(&p)).unwrap_or_default();
            out.entry(node).or_default().push(p);
        }
    }
    out
}

/// The node a daemon pod's required affinity names (`matchFields metadata.name In [node]`).
fn pinned_node(p: &Pod) -> Option<String> {
    let v = serde_json::to_value(p.spec.as_ref()?.affinity.as_ref()?).ok()?;
    v.pointer("/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchFields/0/values/0")?
        .as_str()
        .map(String::from)
}

/// Waits until exactly `nodes` each have one pod of the set.
async fn one_pod_on(client: &Client, app: &str, nodes: &[&str]) -> BTreeMap<String, Vec<Pod>> {
    let what = format!("one {app} pod on each of {nodes:?}");
    eventually(&what, LIMIT, || async {
        let by_node = pods_by_node(client, app).await;
        let ok = by_node.len() == nodes.len() && nodes.iter().all(|n| by_node.get(*n).is_some_and(|p| p.len() == 1));
        ok.then_some(by_node)
    })
    .await
}

async fn status(client: &Client, name: &str) -> Value {
    serde_json::to_value(Api::<DaemonSet>::namespaced(client.clone(), "default").get(name).await.unwrap().status).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pod_per_node_pinned_tolerant_and_following_the_nodes() {
    let (_t, client) = sandbox().await;
    let sets: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    let ds = sets.create(&PostParams::default(), &daemon_set("agent", json!({}))).await.unwrap();
    let by_node = one_pod_on(&client, "agent", &NODES).await;
    for (node, pods) in &by_node {
        let p = serde_json::to_value(&pods[0]).unwrap();
        let term = &p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"];
        assert_eq!(term, &json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]), "{p}");
        let tolerations: Vec<(String, String)> = p["spec"]["tolerations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["key"].as_str().unwrap_or("").to_string(), t["effect"].as_str().unwrap_or("").to_string()))
            .collect();
        for (key, effect) in [
            ("node.kubernetes.io/not-ready", "NoExecute"),
            ("node.kubernetes.io/unreachable", "NoExecute"),
            ("node.kubernetes.io/disk-pressure", "NoSchedule"),
            ("node.kubernetes.io/memory-pressure", "NoSchedule"),
            ("node.kubernetes.io/pid-pressure", "NoSchedule"),
            ("node.kubernetes.io/unschedulable", "NoSchedule"),
        ] {
            assert!(tolerations.contains(&(key.into(), effect.into())), "{key} {effect}: {tolerations:?}");
        }
        assert_eq!(p["metadata"]["ownerReferences"][0]["uid"], json!(ds.metadata.uid));
        assert!(p["metadata"]["labels"]["controller-revision-hash"].is_string());
        assert_eq!(p["metadata"]["labels"]["pod-template-generation"], "1");
    }
    until("the status counts both nodes", LIMIT, || async {
        let s = status(&client, "agent").await;
        s["desiredNumberScheduled"] == 2
            && s["currentNumberScheduled"] == 2
            && s["numberReady"] == 2
            && s["numberAvailable"] == 2
            && s["updatedNumberScheduled"] == 2
            && s["numberMisscheduled"] == 0
            && s["observedGeneration"] == 1
    })
    .await;

    // A new node gets its pod; a deleted one's pod goes.
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node =
        serde_json::from_value(json!({"metadata": {"name": "kubelab-worker-3", "labels": {"kubernetes.io/hostname": "kubelab-worker-3"}}}))
            .unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    one_pod_on(&client, "agent", &["kubelab-worker-1", "kubelab-worker-2", "kubelab-worker-3"]).await;
    nodes.delete("kubelab-worker-3", &DeleteParams::default()).await.unwrap();
    one_pod_on(&client, "agent", &NODES).await;
    until("desired back to 2", LIMIT, || async { status(&client, "agent").await["desiredNumberScheduled"] == 2 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_selector_and_an_untolerated_taint_skip_nodes() {
    let (_t, client) = sandbox().await;
    let nodes: Api<Node> = Api::all(client.clone());
    nodes.patch(NODES[0], &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"disk": "ssd"}}}))).await.unwrap();
    let sets: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    let selected = json!({"template": {"metadata": {"labels": {"app": "ssd"}},
        "spec": {"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "c", "image": "nginx:1.27"}]}}});
    sets.create(&PostParams::default(), &daemon_set("ssd", selected)).await.unwrap();
    one_pod_on(&client, "ssd", &[NODES[0]]).await;
    until("ssd desires 1", LIMIT, || async { status(&client, "ssd").await["desiredNumberScheduled"] == 1 }).await;

    // A NoSchedule taint keeps a new set off the node.
    let taint = json!({"spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}});
    nodes.patch(NODES[1], &PatchParams::default(), &Patch::Merge(taint)).await.unwrap();
    sets.create(&PostParams::default(), &daemon_set("plain", json!({}))).await.unwrap();
    one_pod_on(&client, "plain", &[NODES[0]]).await;
    let tolerant = json!({"template": {"metadata": {"labels": {"app": "tolerant"}},
        "spec": {"tolerations": [{"key": "dedicated", "operator": "Exists"}], "containers": [{"name": "c", "image": "nginx:1.27"}]}}});
    sets.create(&PostParams::default(), &daemon_set("tolerant", tolerant)).await.unwrap();
    one_pod_on(&client, "tolerant", &NODES).await;

    // Taken off the node selector, the node's pod goes.
    nodes.patch(NODES[0], &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"disk": null}}}))).await.unwrap();
    until("ssd's pod gone", LIMIT, || async { pods_by_node(&client, "ssd").await.is_empty() }).await;
    until("ssd desires 0", LIMIT, || async { status(&client, "ssd").await["desiredNumberScheduled"] == 0 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_update_replaces_each_nodes_pod_and_keeps_the_history() {
    let (_t, client) = sandbox().await;
    let sets: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    sets.create(
        &PostParams::default(),
        &daemon_set("roll", json!({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}})),
    )
    .await
    .unwrap();
    let before = one_pod_on(&client, "roll", &NODES).await;
    let old_hash = before[NODES[0]][0].metadata.labels.as_ref().unwrap()["controller-revision-hash"].clone();
    until("ready", LIMIT, || async { status(&client, "roll").await["numberAvailable"] == 2 }).await;

    let image = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.28"}]}}}});
    sets.patch("roll", &PatchParams::default(), &Patch::Strategic(image)).await.unwrap();
    until("both nodes updated and available", Duration::from_secs(45), || async {
        let s = status(&client, "roll").await;
        s["updatedNumberScheduled"] == 2 && s["numberAvailable"] == 2 && s["observedGeneration"] == 2
    })
    .await;
    let after = one_pod_on(&client, "roll", &NODES).await;
    for pods in after.values() {
        let p = &pods[0];
        assert_ne!(p.metadata.labels.as_ref().unwrap()["controller-revision-hash"], old_hash);
        assert_eq!(p.spec.as_ref().unwrap().containers[0].image.as_deref(), Some("nginx:1.28"));
    }
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), "default");
    let mut numbers: Vec<i64> =
        revisions.list(&ListParams::default().labels("app=roll")).await.unwrap().items.iter().map(|r| r.revision).collect();
    numbers.sort();
    assert_eq!(numbers, [1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_rollout_status_and_undo_for_a_daemon_set() {
    common::with_kubectl(|k| {
        let path = k.home.join("ds.json");
        std::fs::write(&path, serde_json::to_string(&daemon_set("kd", json!({}))).unwrap()).unwrap();
        k.ok(&["apply", "-f", path.to_str().unwrap()]);
        let out = k.ok(&["rollout", "status", "daemonset/kd", "--timeout=40s"]);
        assert!(out.contains("daemon set \"kd\" successfully rolled out"), "{out}");
        k.ok(&["set", "image", "daemonset/kd", "c=nginx:1.28"]);
        let out = k.ok(&["rollout", "status", "daemonset/kd", "--timeout=40s"]);
        assert!(out.contains("successfully rolled out"), "{out}");
        let history = k.ok(&["rollout", "history", "daemonset/kd"]);
        assert!(history.lines().any(|l| l.starts_with('1')) && history.lines().any(|l| l.starts_with('2')), "{history}");
        k.ok(&["rollout", "undo", "daemonset/kd"]);
        k.ok(&["rollout", "status", "daemonset/kd", "--timeout=40s"]);
        let ds = k.get_json(&["daemonset", "kd"]);
        assert_eq!(ds["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.27");
    })
    .await;
}
