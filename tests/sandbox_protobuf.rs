//! kubectl's typed `create` commands send Kubernetes protobuf
//! (`application/vnd.kubernetes.protobuf`); the sandbox must take them as kube-apiserver
//! does and store what the same client would have sent as JSON.

mod common;

use base64::Engine;

use common::with_kubectl;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_create_commands_are_read_from_protobuf() {
    with_kubectl(|k| {
        // -v=8 prints each request's headers: this is the protobuf path, not a JSON fallback
        let out = k.run(&["create", "namespace", "demo", "-v=8"]);
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{log}");
        assert!(log.contains("Content-Type: application/vnd.kubernetes.protobuf"), "kubectl sent protobuf: {log}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("namespace/demo created"));
        let ns = k.get_json(&["namespace", "demo"]);
        assert_eq!(ns["status"]["phase"], "Active", "{ns}");

        k.ok(&["create", "configmap", "c", "--from-literal=a=b", "--from-literal=empty=", "-n", "demo"]);
        let cm = k.get_json(&["configmap", "c", "-n", "demo"]);
        assert_eq!(cm["data"]["a"], "b", "{cm}");
        assert_eq!(cm["data"]["empty"], "", "an empty map value is still a value: {cm}");

        k.ok(&["create", "secret", "generic", "s", "--from-literal=k=v", "-n", "demo"]);
        let secret = k.get_json(&["secret", "s", "-n", "demo"]);
        assert_eq!(secret["type"], "Opaque", "{secret}");
        let data = secret["data"]["k"].as_str().expect("data.k");
        assert_eq!(base64::engine::general_purpose::STANDARD.decode(data).unwrap(), b"v");

        k.ok(&["create", "deployment", "web", "--image=nginx", "--port=8080", "-n", "demo"]);
        let deploy = k.get_json(&["deployment", "web", "-n", "demo"]);
        assert_eq!(deploy["spec"]["replicas"], 1, "{deploy}");
        assert_eq!(deploy["spec"]["selector"]["matchLabels"]["app"], "web", "{deploy}");
        let container = &deploy["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["image"], "nginx", "{deploy}");
        assert_eq!(container["ports"][0]["containerPort"], 8080, "{deploy}");
        // Go's protobuf encoder wrote `stdin: false`, `tty: false`; its JSON would not have
        for absent in ["stdin", "tty", "stdinOnce", "workingDir"] {
            assert!(container.get(absent).is_none(), "{absent} in {container}");
        }
        assert!(deploy["spec"].get("paused").is_none(), "{deploy}");

        // an explicit zero in a pointer field is kept, not defaulted away
        k.ok(&["create", "deployment", "idle", "--image=nginx", "--replicas=0", "-n", "demo"]);
        assert_eq!(k.get_json(&["deployment", "idle", "-n", "demo"])["spec"]["replicas"], 0);

        k.ok(&["create", "service", "clusterip", "web", "--tcp=80:8080", "-n", "demo"]);
        let svc = k.get_json(&["service", "web", "-n", "demo"]);
        let port = &svc["spec"]["ports"][0];
        assert_eq!(port["port"], 80, "{svc}");
        assert_eq!(port["targetPort"], 8080, "{svc}");
        assert_eq!(port["protocol"], "TCP", "{svc}");
        assert_eq!(svc["spec"]["type"], "ClusterIP", "{svc}");
        assert!(svc["spec"]["clusterIP"].as_str().is_some_and(|ip| !ip.is_empty()), "an allocated IP: {svc}");

        k.ok(&["create", "service", "nodeport", "edge", "--tcp=443:8443", "-n", "demo"]);
        let edge = k.get_json(&["service", "edge", "-n", "demo"]);
        assert!(edge["spec"]["ports"][0]["nodePort"].as_i64().is_some_and(|p| p > 0), "an allocated node port: {edge}");

        k.ok(&["create", "serviceaccount", "robot", "-n", "demo"]);
        assert_eq!(k.get_json(&["serviceaccount", "robot", "-n", "demo"])["metadata"]["name"], "robot");

        // objects that came in as protobuf are ordinary objects afterwards
        assert!(k.ok(&["delete", "configmap", "c", "-n", "demo"]).contains("configmap \"c\" deleted"));
        assert!(k.ok(&["get", "configmaps", "-n", "demo", "-o", "name"]).lines().all(|l| l != "configmap/c"));
    })
    .await;
}
