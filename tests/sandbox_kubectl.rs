//! Real, unmodified kubectl against a fresh sandbox: the behaviours a lesson relies on
//! count only when kubectl sees them.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::with_kubectl;

const POD_YAML: &str = "apiVersion: v1
kind: Pod
metadata:
  name: from-file
  labels:
    app: demo
spec:
  containers:
  - name: web
    image: nginx:1.27
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_sees_a_real_api_server() {
    with_kubectl(|k| {
        let nodes = k.ok(&["get", "nodes"]);
        assert!(nodes.starts_with("NAME"), "a server-side table: {nodes}");
        assert!(nodes.contains("kubelab-worker-1") && nodes.contains("Ready"), "{nodes}");

        assert!(k.ok(&["api-resources"]).contains("deployments"));
        let explain = k.ok(&["explain", "pod.spec"]);
        assert!(explain.contains("containers") && explain.contains("FIELD"), "{explain}");

        assert!(k.ok(&["run", "nginx", "--image=nginx"]).contains("pod/nginx created"));

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pod.yaml");
        std::fs::write(&file, POD_YAML).unwrap();
        let f = file.to_str().unwrap();
        assert!(k.ok(&["create", "-f", f]).contains("pod/from-file created"));
        // Bound and running, it is stopped by its kubelet first: wait until it is gone.
        k.ok(&["delete", "pod", "from-file"]);
        assert!(k.ok(&["apply", "-f", f]).contains("pod/from-file created"));
        std::fs::write(&file, POD_YAML.replace("app: demo", "app: demo\n    tier: front")).unwrap();
        assert!(k.ok(&["apply", "-f", f]).contains("pod/from-file configured"), "the second apply is a patch");
        assert!(k.ok(&["get", "pod", "from-file", "--show-labels"]).contains("tier=front"));

        let yaml = k.ok(&["get", "pods", "-o", "yaml"]);
        assert!(yaml.contains("name: nginx") && yaml.contains("uid:") && yaml.contains("resourceVersion:"), "{yaml}");

        // A watch in one process sees another process create and delete a pod.
        let mut watch = k
            .cmd(&["get", "pods", "-w", "--output-watch-events", "--request-timeout=20s"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(700));
        k.ok(&["run", "watched", "--image=busybox"]);
        k.ok(&["label", "pod", "watched", "step=two"]);
        k.ok(&["delete", "pod", "watched"]);
        std::thread::sleep(Duration::from_millis(700));
        watch.kill().unwrap();
        let out = String::from_utf8(watch.wait_with_output().unwrap().stdout).unwrap();
        let watched: Vec<&str> = out.lines().filter(|l| l.contains("watched")).collect();
        assert!(watched.first().is_some_and(|l| l.starts_with("ADDED")), "{out}");
        assert!(watched.iter().any(|l| l.starts_with("MODIFIED")), "{out}");
        assert!(watched.last().is_some_and(|l| l.starts_with("DELETED")), "{out}");

        let described = k.ok(&["describe", "pod", "nginx"]);
        assert!(described.contains("Name:") && described.contains("nginx") && described.contains("Containers:"), "{described}");

        // A replace with a stale resourceVersion is a 409.
        let stale = k.ok(&["get", "pod", "nginx", "-o", "json"]);
        k.ok(&["label", "pod", "nginx", "moved=on"]);
        let stale_file = dir.path().join("stale.json");
        std::fs::write(&stale_file, stale).unwrap();
        let err = k.fails(&["replace", "-f", stale_file.to_str().unwrap()]);
        assert!(err.contains("the object has been modified"), "{err}");

        // An invalid pod is a 422 naming the field.
        let bad = dir.path().join("bad.yaml");
        std::fs::write(&bad, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: Bad_Name\nspec:\n  containers:\n  - name: c\n").unwrap();
        let err = k.fails(&["create", "-f", bad.to_str().unwrap()]);
        assert!(err.contains("is invalid") && err.contains("metadata.name"), "{err}");

        // A namespace is emptied by the namespace controller, then goes (kubectl waits for it).
        let ns_file = dir.path().join("ns.yaml");
        std::fs::write(&ns_file, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: scratch\n").unwrap();
        k.ok(&["apply", "-f", ns_file.to_str().unwrap()]);
        k.ok(&["run", "tenant", "--image=nginx", "-n", "scratch"]);
        assert!(k.ok(&["delete", "namespace", "scratch", "--timeout=30s"]).contains("deleted"));
        let gone = k.fails(&["get", "namespace", "scratch"]);
        assert!(gone.contains("not found"), "{gone}");

        assert!(k.ok(&["delete", "pod", "nginx"]).contains("deleted"));
        let gone = k.fails(&["get", "pod", "nginx"]);
        assert!(gone.contains("NotFound") || gone.contains("not found"), "{gone}");
    })
    .await;
}

/// kubectl validates kinds without a PATCH endpoint against `/openapi/v2`, which it asks
/// for in protobuf only: its errors name the field, and a good object passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_validates_against_openapi_v2_in_protobuf() {
    with_kubectl(|k| {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("review.yaml");
        std::fs::write(&file, "apiVersion: authentication.k8s.io/v1\nkind: TokenReview\nspec:\n  tokn: abc\n").unwrap();
        let err = k.fails(&["create", "-f", file.to_str().unwrap()]);
        assert!(err.contains(r#"ValidationError(TokenReview.spec): unknown field "tokn" in io.k8s.api.authentication.v1.TokenReviewSpec"#), "{err}");
        assert!(!err.contains("metadata"), "metadata is never required: {err}");
        assert!(!err.contains("406"), "{err}");
    })
    .await;
}
