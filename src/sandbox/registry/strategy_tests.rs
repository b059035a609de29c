//! One test per kind's strategy, through the trait the generic verbs call: defaults,
//! prepare for create and update, validation (a valid and an invalid object), graceful
//! deletion and the subresource strategies.

use serde_json::{json, Value};

use super::*;
use crate::sandbox::resources::builtins;

fn res(group: &str, kind: &str) -> ResourceInfo {
    builtins().into_iter().find(|r| r.group == group && r.kind == kind).unwrap_or_else(|| panic!("{group}/{kind} is built in"))
}

/// What a create makes of `obj` before admission: defaults, then `rest.BeforeCreate`.
fn created(res: &ResourceInfo, mut obj: Value) -> Value {
    res.strategy.defaults(&mut obj);
    before_create(res, &mut obj);
    obj
}

fn fields(errs: &[FieldError]) -> Vec<String> {
    errs.iter().map(|e| e.field.clone()).collect()
}

fn pod_spec() -> Value {
    json!({"containers": [{"name": "app", "image": "nginx:1.27"}]})
}

#[test]
fn pod() {
    let r = res("", "Pod");
    let pod = created(&r, json!({"metadata": {"name": "p"}, "spec": pod_spec(), "status": {"phase": "Running"}}));
    assert_eq!(pod["spec"]["restartPolicy"], "Always", "SetDefaults_PodSpec");
    assert_eq!(pod["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
    assert_eq!(pod["status"], json!({"phase": "Pending", "qosClass": "BestEffort"}), "PrepareForCreate drops the client's status");
    assert_eq!(pod["metadata"]["generation"], 1);
    assert!(r.strategy.validate(&pod).is_empty());
    let bad = created(&r, json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "Bad_Name", "image": ""}]}}));
    assert_eq!(fields(&r.strategy.validate(&bad)), ["spec.containers[0].name", "spec.containers[0].image"]);
    // Graceful deletion: a pod on a node gets its grace period; one that never ran, none.
    let mut on_node = pod.clone();
    on_node["spec"]["nodeName"] = json!("n1");
    assert_eq!(r.strategy.graceful_delete(&on_node, None), Some(30));
    assert_eq!(r.strategy.graceful_delete(&on_node, Some(5)), Some(5));
    assert_eq!(r.strategy.graceful_delete(&pod, Some(5)), Some(0));
    on_node["status"]["phase"] = json!("Succeeded");
    assert_eq!(r.strategy.graceful_delete(&on_node, None), Some(0), "a finished pod has nothing to stop");
    // The status strategy keeps the spec and the QoS class decided at creation.
    let mut status_write = pod.clone();
    status_write["spec"]["activeDeadlineSeconds"] = json!(5);
    status_write["status"] = json!({"phase": "Running", "qosClass": "Guaranteed"});
    before_update(&r, &pod, &mut status_write, Some("status"));
    assert_eq!(status_write["spec"], pod["spec"]);
    assert_eq!(status_write["status"], json!({"phase": "Running", "qosClass": "BestEffort"}));
    // A main-resource write keeps the stored status and counts the spec change.
    let mut spec_write = pod.clone();
    spec_write["spec"]["containers"][0]["image"] = json!("nginx:1.28");
    spec_write["status"] = json!({"phase": "Failed"});
    before_update(&r, &pod, &mut spec_write, None);
    assert_eq!(spec_write["status"], pod["status"]);
    assert_eq!(spec_write["metadata"]["generation"], 2);
    let fields = r.strategy.selectable_fields(&on_node);
    assert!(fields.contains(&("spec.nodeName", "n1".to_string())) && fields.contains(&("status.phase", "Succeeded".to_string())));
}

#[test]
fn pod_template() {
    let r = res("", "PodTemplate");
    let t = created(&r, json!({"metadata": {"name": "t"}, "template": {"spec": pod_spec()}}));
    assert_eq!(t["template"]["spec"]["dnsPolicy"], "ClusterFirst");
    assert!(r.strategy.validate(&t).is_empty());
    let bad = created(&r, json!({"metadata": {"name": "t"}, "template": {"spec": {"containers": []}}}));
    assert_eq!(fields(&r.strategy.validate(&bad)), ["template.spec.containers"]);
    assert_eq!(r.strategy.graceful_delete(&t, None), None);
}

#[test]
fn workloads() {
    let template = json!({"metadata": {"labels": {"app": "w"}}, "spec": pod_spec()});
    let spec = json!({"selector": {"matchLabels": {"app": "w"}}, "template": template});
    for (kind, status) in [
        ("Deployment", json!({})),
        ("ReplicaSet", json!({"replicas": 0})),
        ("StatefulSet", json!({"availableReplicas": 0, "replicas": 0})),
        ("DaemonSet", json!({"currentNumberScheduled": 0, "desiredNumberScheduled": 0, "numberMisscheduled": 0, "numberReady": 0})),
    ] {
        let r = res("apps", kind);
        let mut body = json!({"metadata": {"name": "w", "labels": {"app": "w"}}, "spec": spec.clone()});
        if kind == "StatefulSet" {
            body["spec"]["serviceName"] = json!("w");
        }
        let obj = created(&r, body);
        assert_eq!(obj["status"], status, "{kind}: PrepareForCreate resets status");
        assert_eq!(obj["metadata"]["generation"], 1, "{kind}");
        assert!(r.strategy.validate(&obj).is_empty(), "{kind}: {:?}", r.strategy.validate(&obj));
        let mut mismatched = obj.clone();
        mismatched["spec"]["selector"] = json!({"matchLabels": {"app": "other"}});
        assert!(fields(&r.strategy.validate(&mismatched)).contains(&"spec.template.metadata.labels".to_string()), "{kind}");
        // `/status` keeps spec and labels; the main resource keeps status.
        let mut status_write = obj.clone();
        status_write["metadata"]["labels"] = json!({"app": "relabelled"});
        status_write["spec"]["minReadySeconds"] = json!(9);
        status_write["status"] = json!({"replicas": 3});
        before_update(&r, &obj, &mut status_write, Some("status"));
        assert_eq!((&status_write["spec"], &status_write["metadata"]["labels"]), (&obj["spec"], &obj["metadata"]["labels"]), "{kind}");
        assert_eq!(status_write["status"], json!({"replicas": 3}), "{kind}");
        assert_eq!(status_write["metadata"]["generation"], 1, "{kind}: no spec change");
        let mut selector_change = obj.clone();
        selector_change["spec"]["selector"] = json!({"matchLabels": {"app": "w", "x": "y"}});
        selector_change["spec"]["template"]["metadata"]["labels"]["x"] = json!("y");
        // A stateful set forbids every spec change but a few, reported on `spec`.
        let immutable = if kind == "StatefulSet" { "spec" } else { "spec.selector" };
        assert!(
            fields(&r.strategy.validate_update(&obj, &selector_change)).contains(&immutable.to_string()),
            "{kind}: selector is immutable"
        );
        assert_eq!(r.strategy.scale().is_some(), kind != "DaemonSet", "{kind}");
    }
    let d = res("apps", "Deployment");
    let obj = created(&d, json!({"metadata": {"name": "w"}, "spec": spec}));
    assert_eq!(obj["spec"]["strategy"]["rollingUpdate"], json!({"maxSurge": "25%", "maxUnavailable": "25%"}));
    let mut annotated = obj.clone();
    annotated["metadata"]["annotations"] = json!({"kubernetes.io/change-cause": "x"});
    assert!(d.strategy.spec_changed(&obj, &annotated), "a deployment's annotations count for its generation");
}

#[test]
fn replication_controller() {
    let r = res("", "ReplicationController");
    let rc =
        created(&r, json!({"metadata": {"name": "rc"}, "spec": {"template": {"metadata": {"labels": {"a": "b"}}, "spec": pod_spec()}}}));
    assert_eq!(rc["spec"]["selector"], json!({"a": "b"}), "the selector defaults to the template's labels");
    assert_eq!(rc["status"], json!({"replicas": 0}));
    assert!(r.strategy.validate(&rc).is_empty());
    assert_eq!(r.strategy.scale().and_then(|s| s.selector).as_deref(), Some("/spec/selector"));
}

#[test]
fn service() {
    let r = res("", "Service");
    let mut svc = created(&r, json!({"metadata": {"name": "s"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}}));
    assert_eq!(svc["spec"]["ports"][0], json!({"port": 80, "protocol": "TCP", "targetPort": 80}));
    assert_eq!(svc["status"], json!({"loadBalancer": {}}));
    assert!(r.strategy.validate(&svc).is_empty());
    r.strategy.allocate(&mut svc).unwrap();
    let ip = svc["spec"]["clusterIP"].as_str().unwrap().to_string();
    let port = svc["spec"]["ports"][0]["nodePort"].as_u64().unwrap();
    assert!(ip.starts_with("10.") && (30000..=32767).contains(&port));
    // The same IP and port cannot be handed out twice until released.
    let mut twin = created(&r, json!({"metadata": {"name": "t"}, "spec": {"clusterIP": ip, "ports": [{"port": 80}]}}));
    assert_eq!(fields(&r.strategy.allocate(&mut twin).unwrap_err()), ["spec.clusterIPs"]);
    r.strategy.release(&svc);
    r.strategy.allocate(&mut twin).unwrap();
    // An update that re-sends the manifest keeps what was allocated.
    let mut resent = json!({"metadata": {"name": "s"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}});
    before_update(&r, &svc, &mut resent, None);
    assert_eq!((resent["spec"]["clusterIP"].as_str(), resent["spec"]["ports"][0]["nodePort"].as_u64()), (Some(ip.as_str()), Some(port)));
    let duplicate = created(&r, json!({"metadata": {"name": "d"}, "spec": {"ports": [{"port": 80}, {"port": 80}]}}));
    assert!(!r.strategy.validate(&duplicate).is_empty());
}

#[test]
fn namespace() {
    let r = res("", "Namespace");
    let ns = created(&r, json!({"metadata": {"name": "team"}, "spec": {"finalizers": ["x"]}}));
    assert_eq!(ns["spec"], json!({"finalizers": ["kubernetes"]}));
    assert_eq!(ns["status"], json!({"phase": "Active"}));
    assert_eq!(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "team");
    assert!(r.strategy.validate(&ns).is_empty());
    // Deleting starts its lifecycle; it may go once its `kubernetes` finalizer is gone.
    let marked = r.strategy.begin_deletion(&ns).expect("namespaces terminate");
    assert_eq!(marked["status"]["phase"], "Terminating");
    assert!(marked["metadata"]["deletionTimestamp"].is_string());
    assert!(!r.strategy.deletion_may_complete(&marked));
    let mut finalized = marked.clone();
    finalized["spec"]["finalizers"] = json!([]);
    assert!(r.strategy.deletion_may_complete(&finalized));
    // Its finalizers change only through `/finalize`, which keeps the status.
    let mut update = ns.clone();
    update["spec"]["finalizers"] = json!([]);
    before_update(&r, &ns, &mut update, None);
    assert_eq!(update["spec"], ns["spec"]);
    let mut finalize = marked.clone();
    finalize["spec"]["finalizers"] = json!([]);
    finalize["status"] = json!({"phase": "Active"});
    before_update(&r, &marked, &mut finalize, Some("finalize"));
    assert_eq!((&finalize["spec"]["finalizers"], &finalize["status"]["phase"]), (&json!([]), &json!("Terminating")));
}

#[test]
fn node() {
    let r = res("", "Node");
    let mut node = created(&r, json!({"metadata": {"name": "n"}, "status": {"capacity": {"cpu": "2"}}}));
    assert_eq!(node["status"]["allocatable"], json!({"cpu": "2"}), "allocatable defaults to capacity");
    r.strategy.admit_create(&mut node);
    assert_eq!(node["spec"]["taints"], json!([{"effect": "NoSchedule", "key": "node.kubernetes.io/not-ready"}]));
    assert!(r.strategy.validate(&node).is_empty());
    let bad = json!({"metadata": {"name": "n"}, "spec": {"taints": [{"key": "k", "effect": "Sometimes"}]}});
    assert_eq!(fields(&r.strategy.validate(&bad)), ["spec.taints[0].effect"]);
    assert!(r.strategy.delete_returns_status());
}

#[test]
fn config_map_and_secret() {
    let cm = res("", "ConfigMap");
    assert!(cm.strategy.validate(&json!({"metadata": {"name": "c"}, "data": {"ok.key": "v"}})).is_empty());
    assert_eq!(fields(&cm.strategy.validate(&json!({"metadata": {"name": "c"}, "data": {"bad key": "v"}}))), ["data[bad key]"]);
    let frozen = json!({"metadata": {"name": "c"}, "immutable": true, "data": {"a": "1"}});
    let changed = json!({"metadata": {"name": "c"}, "immutable": true, "data": {"a": "2"}});
    assert!(!cm.strategy.validate_update(&frozen, &changed).is_empty(), "an immutable config map keeps its data");
    let secret = res("", "Secret");
    let s = created(&secret, json!({"metadata": {"name": "s"}}));
    assert_eq!(s["type"], "Opaque");
    let tls = json!({"metadata": {"name": "s"}, "type": "kubernetes.io/tls", "data": {}});
    assert_eq!(fields(&secret.strategy.validate(&tls)), ["data[tls.crt]", "data[tls.key]"]);
    assert_eq!(secret.strategy.selectable_fields(&s), vec![("type", "Opaque".to_string())]);
}

#[test]
fn events_by_the_api_they_came_through() {
    let core = res("", "Event");
    let new = res("events.k8s.io", "Event");
    let legacy = json!({"metadata": {"name": "e", "namespace": "default"}, "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"}, "reason": "Started", "message": "m", "type": "Normal"});
    assert!(core.strategy.validate(&legacy).is_empty());
    assert!(!new.strategy.validate(&legacy).is_empty(), "events.k8s.io requires eventTime and its reporting fields");
}

#[test]
fn storage_kinds_and_quotas_start_pending_or_empty() {
    let pvc = created(&res("", "PersistentVolumeClaim"), json!({"metadata": {"name": "c"}, "spec": {}}));
    assert_eq!((&pvc["spec"]["volumeMode"], &pvc["status"]), (&json!("Filesystem"), &json!({"phase": "Pending"})));
    let pv = created(&res("", "PersistentVolume"), json!({"metadata": {"name": "v"}, "spec": {}, "status": {"phase": "Bound"}}));
    assert_eq!(pv["status"], json!({"phase": "Pending"}));
    let quota = created(&res("", "ResourceQuota"), json!({"metadata": {"name": "q"}, "status": {"used": {"pods": "1"}}}));
    assert_eq!(quota["status"], json!({}));
}

#[test]
fn kinds_without_rules_get_the_generic_store() {
    let lease = res("coordination.k8s.io", "Lease");
    let obj = created(&lease, json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": "me"}}));
    assert!(obj["metadata"].get("generation").is_none(), "generation is not tracked");
    assert!(lease.strategy.validate(&obj).is_empty());
    assert_eq!(lease.strategy.graceful_delete(&obj, Some(3)), None);
    assert!(lease.strategy.deletion_may_complete(&obj));
    assert!(!lease.strategy.delete_returns_status());
}

#[test]
fn custom_resources() {
    let book = crate::sandbox::resources::Catalogue::book_for_tests(json!({"type": "object"}));
    let obj = created(&book, json!({"metadata": {"name": "b"}, "spec": {"title": "Dune"}, "status": {"read": false}}));
    assert_eq!(obj["metadata"]["generation"], 1);
    let mut status_write = obj.clone();
    status_write["spec"]["title"] = json!("Emma");
    status_write["status"] = json!({"read": true});
    before_update(&book, &obj, &mut status_write, Some("status"));
    assert_eq!((&status_write["spec"]["title"], &status_write["status"]["read"]), (&json!("Dune"), &json!(true)));
    let mut top_level = obj.clone();
    top_level["extra"] = json!(1);
    assert!(book.strategy.spec_changed(&obj, &top_level), "anything outside metadata and status counts");
    assert!(book.strategy.delete_returns_status());
}
