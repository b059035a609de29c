//! The sandbox as a cluster, seen by real kubectl with every loop running: a Deployment's
//! pods scheduled and Running over both nodes, a rolling update and its undo, scaling, each
//! deletion propagation, a namespace emptied, an unschedulable pod, logs and Events.

mod common;

use std::time::{Duration, Instant};

use common::Kubectl;
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(30);

/// Polls `kubectl get <what> -o json` until `done` holds, for up to [`DEADLINE`].
fn until(k: &Kubectl, what: &[&str], why: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let v = k.get_json(what);
        if done(&v) {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "{why}: still {}", serde_json::to_string_pretty(&v).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

fn running(pods: &Value) -> Vec<Value> {
    items(pods).into_iter().filter(|p| p["status"]["phase"] == "Running" && p["metadata"]["deletionTimestamp"].is_null()).collect()
}

fn str_of<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_runs_rolls_back_scales_and_is_deleted_as_on_a_cluster() {
    common::with_kubectl(|k| {
        k.ok(&["create", "deployment", "web", "--image=nginx", "--replicas=3"]);
        let pods = until(k, &["pods", "-l", "app=web"], "3 Running pods", |p| running(p).len() == 3);
        let nodes: std::collections::BTreeSet<String> = items(&pods).iter().map(|p| str_of(p, "/spec/nodeName").to_string()).collect();
        let nodes: Vec<String> = nodes.into_iter().collect();
        assert_eq!(nodes, ["kubelab-worker-1", "kubelab-worker-2"], "spread over both nodes");
        for p in running(&pods) {
            assert!(str_of(&p, "/status/podIP").starts_with("10.244."), "{p}");
            assert_eq!(p["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").unwrap()["status"], "True");
        }
        let status = k.ok(&["rollout", "status", "deployment/web", "--timeout=30s"]);
        assert!(status.contains("successfully rolled out"), "{status}");

        // A rolling update one pod at a time, then back.
        k.ok(&["patch", "deployment", "web", "-p", r#"{"spec":{"strategy":{"rollingUpdate":{"maxUnavailable":0,"maxSurge":1}}}}"#]);
        k.ok(&["set", "image", "deployment/web", "nginx=nginx:1.27"]);
        k.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
        let rs = k.get_json(&["replicasets", "-l", "app=web"]);
        assert_eq!(items(&rs).len(), 2, "the old and the new ReplicaSet");
        let history = k.ok(&["rollout", "history", "deployment/web"]);
        assert!(
            history.contains("REVISION") && history.lines().any(|l| l.starts_with('1')) && history.lines().any(|l| l.starts_with('2')),
            "{history}"
        );
        k.ok(&["rollout", "undo", "deployment/web"]);
        k.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
        let d = k.get_json(&["deployment", "web"]);
        assert_eq!(str_of(&d, "/spec/template/spec/containers/0/image"), "nginx");
        assert_eq!(str_of(&d, "/metadata/annotations/deployment.kubernetes.io~1revision"), "3");
        let rs = k.get_json(&["replicasets", "-l", "app=web"]);
        assert_eq!(items(&rs).len(), 2, "undo reused the first ReplicaSet");

        k.ok(&["scale", "deployment", "web", "--replicas=1"]);
        until(k, &["deployment", "web"], "scaled to 1", |d| d["status"]["replicas"] == 1 && d["status"]["availableReplicas"] == 1);

        // Logs and Events of a running pod.
        let pods = until(k, &["pods", "-l", "app=web"], "1 Running pod", |p| running(p).len() == 1);
        let name = str_of(&running(&pods)[0], "/metadata/name").to_string();
        let logs = k.ok(&["logs", &name]);
        assert!(!logs.trim().is_empty(), "the simulated container's log");
        let describe = k.ok(&["describe", "pod", &name]);
        for reason in ["Scheduled", "Pulled", "Created", "Started"] {
            assert!(describe.contains(reason), "describe shows {reason}: {describe}");
        }
        assert!(describe.contains("default-scheduler") && describe.contains("kubelet"), "{describe}");
        let exec = k.fails(&["exec", &name, "--", "true"]);
        assert!(!exec.trim().is_empty() && exec.lines().count() <= 2, "one clear line: {exec}");

        // Background: the Deployment goes, then its ReplicaSets and pods.
        k.ok(&["delete", "deployment", "web"]);
        until(k, &["replicasets", "-l", "app=web"], "ReplicaSets collected", |rs| items(rs).is_empty());
        until(k, &["pods", "-l", "app=web"], "pods collected", |p| items(p).is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreground_and_orphan_deletion_end_as_on_a_cluster() {
    common::with_kubectl(|k| {
        k.ok(&["create", "deployment", "fg", "--image=nginx", "--replicas=2"]);
        k.ok(&["create", "deployment", "or", "--image=nginx", "--replicas=2"]);
        until(k, &["pods", "-l", "app=fg"], "fg pods", |p| running(p).len() == 2);
        until(k, &["pods", "-l", "app=or"], "or pods", |p| running(p).len() == 2);

        // Foreground: the owner waits, with its finalizer, until its dependents are gone. A
        // pod held by a finalizer of ours keeps the chain there while we look.
        let held = str_of(&items(&k.get_json(&["pods", "-l", "app=fg"]))[0], "/metadata/name").to_string();
        k.ok(&["patch", "pod", &held, "--type=merge", "-p", r#"{"metadata":{"finalizers":["kubelab.dev/hold"]}}"#]);
        k.ok(&["delete", "deployment", "fg", "--cascade=foreground", "--wait=false"]);
        let d = until(k, &["deployment", "fg"], "fg terminating", |d| !d["metadata"]["deletionTimestamp"].is_null());
        assert!(d["metadata"]["finalizers"].as_array().unwrap().iter().any(|f| f == "foregroundDeletion"), "{d}");
        let rs = until(k, &["replicasets", "-l", "app=fg"], "fg's ReplicaSet deleted in the foreground", |rs| {
            items(rs).iter().all(|r| r["metadata"]["finalizers"].as_array().is_some_and(|f| f.iter().any(|f| f == "foregroundDeletion")))
        });
        assert_eq!(items(&rs).len(), 1, "{rs}");
        k.ok(&["patch", "pod", &held, "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#]);
        until(k, &["deployments"], "fg gone after its children", |d| items(d).iter().all(|d| d["metadata"]["name"] != "fg"));
        assert!(items(&k.get_json(&["pods", "-l", "app=fg"])).is_empty(), "no pod outlives a foreground owner");

        // Orphan: the ReplicaSet stays, without its owner reference.
        k.ok(&["delete", "deployment", "or", "--cascade=orphan"]);
        let rs = until(k, &["replicasets", "-l", "app=or"], "an orphaned ReplicaSet", |rs| {
            items(rs).len() == 1 && items(rs)[0]["metadata"]["ownerReferences"].as_array().is_none_or(|o| o.is_empty())
        });
        assert_eq!(items(&rs)[0]["spec"]["replicas"], 2);
        assert_eq!(running(&k.get_json(&["pods", "-l", "app=or"])).len(), 2, "its pods keep running");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_impossible_pod_says_why_and_a_namespace_empties_before_it_goes() {
    common::with_kubectl(|k| {
        k.ok(&["run", "nowhere", "--image=nginx", "--overrides", r#"{"spec":{"nodeSelector":{"disk":"ssd"}}}"#]);
        let p = until(k, &["pod", "nowhere"], "PodScheduled False", |p| {
            p["status"]["conditions"].as_array().is_some_and(|c| c.iter().any(|c| c["type"] == "PodScheduled" && c["status"] == "False"))
        });
        assert_eq!(str_of(&p, "/status/phase"), "Pending");
        let describe = k.ok(&["describe", "pod", "nowhere"]);
        assert!(describe.contains("FailedScheduling"), "{describe}");
        assert!(describe.contains("0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."), "{describe}");

        k.ok(&["create", "namespace", "shop"]);
        k.ok(&["create", "deployment", "cart", "--image=nginx", "--replicas=2", "-n", "shop"]);
        until(k, &["pods", "-n", "shop"], "shop pods", |p| running(p).len() == 2);
        // Content with a finalizer holds the namespace while we look at it.
        k.ok(&["create", "configmap", "held", "-n", "shop"]);
        k.ok(&["patch", "configmap", "held", "-n", "shop", "--type=merge", "-p", r#"{"metadata":{"finalizers":["kubelab.dev/hold"]}}"#]);
        k.ok(&["delete", "namespace", "shop", "--wait=false"]);
        let ns = k.get_json(&["namespace", "shop"]);
        assert_eq!(str_of(&ns, "/status/phase"), "Terminating");
        let refused = k.fails(&["create", "configmap", "late", "-n", "shop"]);
        assert!(refused.contains("because it is being terminated"), "{refused}");
        until(k, &["pods", "-n", "shop"], "the namespace's pods deleted", |p| items(p).is_empty());
        let ns = until(k, &["namespace", "shop"], "content remaining reported", |n| {
            n["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "NamespaceFinalizersRemaining" && c["status"] == "True"))
        });
        assert_eq!(str_of(&ns, "/status/phase"), "Terminating");
        k.ok(&["patch", "configmap", "held", "-n", "shop", "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#]);
        until(k, &["namespaces"], "shop removed", |n| items(n).iter().all(|n| n["metadata"]["name"] != "shop"));
    })
    .await;
}
