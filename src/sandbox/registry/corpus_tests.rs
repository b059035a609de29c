//! End-to-end checks of the create pipeline against 201 bodies recorded from a real
//! kube-apiserver v1.34.2 (`/work/shared/fidelity/corpus`): each request body goes through
//! decode, defaults, admission, validation and allocation as the server runs them, and the
//! result must equal the recorded answer once the server's own bookkeeping (uid,
//! resourceVersion, timestamps, managedFields, namespace) is left out. Random parts (the
//! token volume's suffix, allocated IPs and ports) are compared by shape.

use serde_json::{json, Value};

use super::*;
use crate::sandbox::resources::builtins;

fn res(group: &str, kind: &str) -> ResourceInfo {
    builtins().into_iter().find(|r| r.group == group && r.kind == kind).unwrap()
}

/// What the server does around the registry on create, minus its bookkeeping.
fn create(res: &ResourceInfo, namespace: Option<&str>, body: &str) -> Value {
    let (mut obj, unknown) = decode(res, serde_json::from_str(body).unwrap()).unwrap();
    assert!(unknown.is_empty(), "unknown fields {unknown:?}");
    if let Some(ns) = namespace {
        obj["metadata"]["namespace"] = json!(ns);
    }
    res.strategy.defaults(&mut obj);
    before_create(res, &mut obj);
    res.strategy.admit_create(&mut obj);
    let errs = validate_create(res, &obj);
    assert!(errs.is_empty(), "{errs:?}");
    res.strategy.allocate(&mut obj).unwrap();
    obj
}

/// Drops the server's bookkeeping and masks random values, on both sides.
fn normalise(mut v: Value) -> Value {
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in ["uid", "resourceVersion", "creationTimestamp", "managedFields", "namespace"] {
            meta.remove(k);
        }
    }
    let text = v.to_string();
    let masked = mask(&text, "kube-api-access-", 5, "kube-api-access-xxxxx");
    let mut v: Value = serde_json::from_str(&masked).unwrap();
    if let Some(spec) = v.get_mut("spec").filter(|s| s.get("clusterIPs").is_some()) {
        if spec["clusterIP"] != "None" {
            assert!(spec["clusterIP"].as_str().unwrap().starts_with("10."));
            assert_eq!(spec["clusterIPs"], json!([spec["clusterIP"]]));
            spec["clusterIP"] = json!("<ip>");
            spec["clusterIPs"] = json!(["<ip>"]);
        }
        for p in spec["ports"].as_array_mut().unwrap() {
            if let Some(n) = p.get("nodePort").and_then(Value::as_u64) {
                assert!((30000..=32767).contains(&n));
                p["nodePort"] = json!("<port>");
            }
        }
    }
    v
}

fn mask(text: &str, prefix: &str, len: usize, with: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        out.push_str(&rest[..i]);
        out.push_str(with);
        rest = &rest[i + prefix.len() + len..];
    }
    out.push_str(rest);
    out
}

fn check(group: &str, kind: &str, namespace: Option<&str>, request: &str, recorded: &str) {
    let got = normalise(create(&res(group, kind), namespace, request));
    let want = normalise(serde_json::from_str(recorded).unwrap());
    assert_eq!(got, want, "\n got: {got}\nwant: {want}");
}

#[test]
fn pod_create() {
    check(
        "",
        "Pod",
        Some("fid-p03-pods-crud-bk8ms"),
        r##"{"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"app": "web"}, "name": "web"}, "spec": {"containers": [{"image": "nginx:1.27", "name": "app"}]}}"##,
        r##"{"apiVersion": "v1", "kind": "Pod", "metadata": {"generation": 1, "labels": {"app": "web"}, "name": "web"}, "spec": {"containers": [{"image": "nginx:1.27", "imagePullPolicy": "IfNotPresent", "name": "app", "resources": {}, "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "volumeMounts": [{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": "kube-api-access-wkqbq", "readOnly": true}]}], "dnsPolicy": "ClusterFirst", "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority", "priority": 0, "restartPolicy": "Always", "schedulerName": "default-scheduler", "securityContext": {}, "serviceAccount": "default", "serviceAccountName": "default", "terminationGracePeriodSeconds": 30, "tolerations": [{"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300}, {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300}], "volumes": [{"name": "kube-api-access-wkqbq", "projected": {"defaultMode": 420, "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}, {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}}, {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}}]}}]}, "status": {"phase": "Pending", "qosClass": "BestEffort"}}"##,
    );
}

#[test]
fn deployment_create() {
    check(
        "apps",
        "Deployment",
        Some("fid-p16-deployments-4tds4"),
        r##"{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"labels": {"app": "web"}, "name": "web"}, "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"image": "nginx:1.27", "name": "nginx", "ports": [{"containerPort": 80}]}]}}}}"##,
        r##"{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"generation": 1, "labels": {"app": "web"}, "name": "web"}, "spec": {"progressDeadlineSeconds": 600, "replicas": 3, "revisionHistoryLimit": 10, "selector": {"matchLabels": {"app": "web"}}, "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"image": "nginx:1.27", "imagePullPolicy": "IfNotPresent", "name": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP"}], "resources": {}, "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}], "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler", "securityContext": {}, "terminationGracePeriodSeconds": 30}}}, "status": {}}"##,
    );
}

#[test]
fn service_clusterip() {
    check(
        "",
        "Service",
        Some("fid-p17-services-h69vr"),
        r##"{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"}, "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}], "selector": {"app": "api"}}}"##,
        r##"{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"}, "spec": {"clusterIP": "10.107.69.229", "clusterIPs": ["10.107.69.229"], "internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}], "selector": {"app": "api"}, "sessionAffinity": "None", "type": "ClusterIP"}, "status": {"loadBalancer": {}}}"##,
    );
}

#[test]
fn service_nodeport_auto() {
    check(
        "",
        "Service",
        Some("fid-p17-services-h69vr"),
        r##"{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "np"}, "spec": {"ports": [{"port": 80}], "selector": {"app": "api"}, "type": "NodePort"}}"##,
        r##"{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "np"}, "spec": {"clusterIP": "10.98.249.52", "clusterIPs": ["10.98.249.52"], "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "ports": [{"nodePort": 31349, "port": 80, "protocol": "TCP", "targetPort": 80}], "selector": {"app": "api"}, "sessionAffinity": "None", "type": "NodePort"}, "status": {"loadBalancer": {}}}"##,
    );
}

#[test]
fn service_headless() {
    check(
        "",
        "Service",
        Some("fid-p17-services-h69vr"),
        r##"{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "headless"}, "spec": {"clusterIP": "None", "ports": [{"port": 80}], "selector": {"app": "api"}}}"##,
        r##"{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "headless"}, "spec": {"clusterIP": "None", "clusterIPs": ["None"], "internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}], "selector": {"app": "api"}, "sessionAffinity": "None", "type": "ClusterIP"}, "status": {"loadBalancer": {}}}"##,
    );
}

#[test]
fn namespace_create() {
    check(
        "",
        "Namespace",
        None,
        r##"{"apiVersion": "v1", "kind": "Namespace", "metadata": {"labels": {"team": "fid-p02-namespaces-8twrf"}, "name": "fid-p02-namespaces-8twrf-extra"}}"##,
        r##"{"apiVersion": "v1", "kind": "Namespace", "metadata": {"labels": {"kubernetes.io/metadata.name": "fid-p02-namespaces-8twrf-extra", "team": "fid-p02-namespaces-8twrf"}, "name": "fid-p02-namespaces-8twrf-extra"}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}"##,
    );
}

#[test]
fn node_create() {
    check(
        "",
        "Node",
        None,
        r##"{"apiVersion": "v1", "kind": "Node", "metadata": {"labels": {"kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux"}, "name": "fid-p20-nodes-events-cmtmj-node"}, "status": {"capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"}, "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux"}}}"##,
        r##"{"apiVersion": "v1", "kind": "Node", "metadata": {"labels": {"kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux"}, "name": "fid-p20-nodes-events-cmtmj-node"}, "spec": {"taints": [{"effect": "NoSchedule", "key": "node.kubernetes.io/not-ready"}]}, "status": {"allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"}, "capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"}, "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}}, "nodeInfo": {"architecture": "amd64", "bootID": "", "containerRuntimeVersion": "", "kernelVersion": "", "kubeProxyVersion": "", "kubeletVersion": "", "machineID": "", "operatingSystem": "linux", "osImage": "", "systemUUID": ""}}}"##,
    );
}

#[test]
fn event_create() {
    check(
        "",
        "Event",
        Some("fid-p20-nodes-events-cmtmj"),
        r##"{"apiVersion": "v1", "count": 1, "involvedObject": {"kind": "Pod", "name": "p", "namespace": "fid-p20-nodes-events-cmtmj"}, "kind": "Event", "message": "hello", "metadata": {"name": "e1"}, "reason": "Tested", "source": {"component": "kubelab"}, "type": "Normal"}"##,
        r##"{"apiVersion": "v1", "count": 1, "eventTime": null, "firstTimestamp": null, "involvedObject": {"kind": "Pod", "name": "p", "namespace": "fid-p20-nodes-events-cmtmj"}, "kind": "Event", "lastTimestamp": null, "message": "hello", "metadata": {"name": "e1"}, "reason": "Tested", "reportingComponent": "", "reportingInstance": "", "source": {"component": "kubelab"}, "type": "Normal"}"##,
    );
}

#[test]
fn secret_stringdata() {
    check(
        "",
        "Secret",
        Some("fid-p18-configmaps-secrets-shhd9"),
        r##"{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "plain"}, "stringData": {"token": "abc123"}}"##,
        r##"{"apiVersion": "v1", "data": {"token": "YWJjMTIz"}, "kind": "Secret", "metadata": {"name": "plain"}, "type": "Opaque"}"##,
    );
}

#[test]
fn configmap_create() {
    check(
        "",
        "ConfigMap",
        Some("fid-p18-configmaps-secrets-shhd9"),
        r##"{"apiVersion": "v1", "data": {"color": "blue", "size": "3"}, "kind": "ConfigMap", "metadata": {"name": "settings"}}"##,
        r##"{"apiVersion": "v1", "data": {"color": "blue", "size": "3"}, "kind": "ConfigMap", "metadata": {"name": "settings"}}"##,
    );
}

/// What the server does around the registry on update (PUT), minus its bookkeeping.
fn check_update(group: &str, kind: &str, sub: Option<&str>, old: &str, request: &str, recorded: &str) {
    let res = res(group, kind);
    let old: Value = serde_json::from_str(old).unwrap();
    let (mut new, unknown) = decode(&res, serde_json::from_str(request).unwrap()).unwrap();
    assert!(unknown.is_empty(), "unknown fields {unknown:?}");
    // the server's bookkeeping: identity and timestamps come from the stored object
    for k in ["uid", "creationTimestamp", "namespace"] {
        if let Some(v) = old["metadata"].get(k) {
            new["metadata"][k] = v.clone();
        }
    }
    before_update(&res, &old, &mut new, sub);
    let errs = validate_update(&res, &old, &new, sub);
    assert!(errs.is_empty(), "{errs:?}");
    let got = normalise(new);
    let want = normalise(serde_json::from_str(recorded).unwrap());
    assert_eq!(got, want, "\n got: {got}\nwant: {want}");
}

#[test]
fn pod_update_image_bumps_generation() {
    check_update(
        "",
        "Pod",
        None,
        r##"{"apiVersion": "v1", "kind": "Pod", "metadata": {"creationTimestamp": "2026-11-25T20:49:48Z", "generation": 1, "labels": {"app": "web"}, "managedFields": [{"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}, "f:resources": {}, "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}}, "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {}, "f:terminationGracePeriodSeconds": {}}}, "manager": "kubelab-fidelity", "operation": "Update", "time": "2026-11-25T20:49:48Z"}], "name": "web", "namespace": "fid-p03-pods-crud-bk8ms", "resourceVersion": "215", "uid": "4bb49496-116a-4c24-bbb2-dc19bd146188"}, "spec": {"containers": [{"image": "nginx:1.27", "imagePullPolicy": "IfNotPresent", "name": "app", "resources": {}, "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "volumeMounts": [{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": "kube-api-access-wkqbq", "readOnly": true}]}], "dnsPolicy": "ClusterFirst", "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority", "priority": 0, "restartPolicy": "Always", "schedulerName": "default-scheduler", "securityContext": {}, "serviceAccount": "default", "serviceAccountName": "default", "terminationGracePeriodSeconds": 30, "tolerations": [{"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300}, {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300}], "volumes": [{"name": "kube-api-access-wkqbq", "projected": {"defaultMode": 420, "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}, {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}}, {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}}]}}]}, "status": {"phase": "Pending", "qosClass": "BestEffort"}}"##,
        r##"{"apiVersion": "v1", "kind": "Pod", "metadata": {"creationTimestamp": "2026-11-25T20:49:48Z", "generation": 1, "labels": {"app": "web", "tier": "front"}, "managedFields": [{"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}, "f:resources": {}, "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}}, "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {}, "f:terminationGracePeriodSeconds": {}}}, "manager": "kubelab-fidelity", "operation": "Update", "time": "2026-11-25T20:49:48Z"}], "name": "web", "namespace": "fid-p03-pods-crud-bk8ms", "resourceVersion": "215", "uid": "4bb49496-116a-4c24-bbb2-dc19bd146188"}, "spec": {"containers": [{"image": "nginx:1.28", "imagePullPolicy": "IfNotPresent", "name": "app", "resources": {}, "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "volumeMounts": [{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": "kube-api-access-wkqbq", "readOnly": true}]}], "dnsPolicy": "ClusterFirst", "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority", "priority": 0, "restartPolicy": "Always", "schedulerName": "default-scheduler", "securityContext": {}, "serviceAccount": "default", "serviceAccountName": "default", "terminationGracePeriodSeconds": 30, "tolerations": [{"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300}, {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300}], "volumes": [{"name": "kube-api-access-wkqbq", "projected": {"defaultMode": 420, "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}, {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}}, {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}}]}}]}, "status": {"phase": "Pending", "qosClass": "BestEffort"}}"##,
        r##"{"apiVersion": "v1", "kind": "Pod", "metadata": {"creationTimestamp": "2026-11-25T20:49:48Z", "generation": 2, "labels": {"app": "web", "tier": "front"}, "managedFields": [{"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}, "f:tier": {}}}, "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}, "f:resources": {}, "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}}, "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {}, "f:terminationGracePeriodSeconds": {}}}, "manager": "kubelab-fidelity", "operation": "Update", "time": "2026-11-25T20:49:48Z"}], "name": "web", "namespace": "fid-p03-pods-crud-bk8ms", "resourceVersion": "216", "uid": "4bb49496-116a-4c24-bbb2-dc19bd146188"}, "spec": {"containers": [{"image": "nginx:1.28", "imagePullPolicy": "IfNotPresent", "name": "app", "resources": {}, "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "volumeMounts": [{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": "kube-api-access-wkqbq", "readOnly": true}]}], "dnsPolicy": "ClusterFirst", "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority", "priority": 0, "restartPolicy": "Always", "schedulerName": "default-scheduler", "securityContext": {}, "serviceAccount": "default", "serviceAccountName": "default", "terminationGracePeriodSeconds": 30, "tolerations": [{"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300}, {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300}], "volumes": [{"name": "kube-api-access-wkqbq", "projected": {"defaultMode": 420, "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}, {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}}, {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}}]}}]}, "status": {"phase": "Pending", "qosClass": "BestEffort"}}"##,
    );
}

#[test]
fn pod_status_update_keeps_spec() {
    check_update(
        "",
        "Pod",
        Some("status"),
        r##"{"apiVersion": "v1", "kind": "Pod", "metadata": {"annotations": {"note": "hello"}, "creationTimestamp": "2026-11-25T20:49:48Z", "generation": 3, "labels": {"env": "dev"}, "managedFields": [{"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:note": {}}, "f:labels": {".": {}, "f:env": {}}}, "f:spec": {"f:containers": {"k:{\"name\":\"a\"}": {".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}, "f:resources": {}, "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}, "k:{\"name\":\"b\"}": {".": {}, "f:command": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}, "f:resources": {}, "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}}, "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {}, "f:terminationGracePeriodSeconds": {}}}, "manager": "kubelab-fidelity", "operation": "Update", "time": "2026-11-25T20:49:48Z"}], "name": "pp", "namespace": "fid-p05-pods-patch-r59hb", "resourceVersion": "237", "uid": "c4389e80-1dbe-4dcf-9bf8-33b1ba65fabb"}, "spec": {"containers": [{"image": "nginx:1.28", "imagePullPolicy": "IfNotPresent", "name": "a", "resources": {}, "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "volumeMounts": [{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": "kube-api-access-frrv6", "readOnly": true}]}, {"command": ["sleep", "3600"], "image": "busybox:1.37", "imagePullPolicy": "IfNotPresent", "name": "b", "resources": {}, "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "volumeMounts": [{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": "kube-api-access-frrv6", "readOnly": true}]}], "dnsPolicy": "ClusterFirst", "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority", "priority": 0, "restartPolicy": "Always", "schedulerName": "default-scheduler", "securityContext": {}, "serviceAccount": "default", "serviceAccountName": "default", "terminationGracePeriodSeconds": 30, "tolerations": [{"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300}, {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300}], "volumes": [{"name": "kube-api-access-frrv6", "projected": {"defaultMode": 420, "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}, {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}}, {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}}]}}]}, "status": {"phase": "Pending", "qosClass": "BestEffort"}}"##,
        r##"{"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"ignored": "yes"}, "name": "pp", "resourceVersion": "237"}, "spec": {"containers": [{"image": "nginx:1.29", "name": "a"}]}, "status": {"conditions": [{"status": "True", "type": "Ready"}], "message": "set by test", "phase": "Running"}}"##,
        r##"{"apiVersion": "v1", "kind": "Pod", "metadata": {"creationTimestamp": "2026-11-25T20:49:48Z", "generation": 3, "labels": {"ignored": "yes"}, "managedFields": [{"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {}}, "f:spec": {"f:containers": {"k:{\"name\":\"a\"}": {".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}, "f:resources": {}, "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}, "k:{\"name\":\"b\"}": {".": {}, "f:command": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}, "f:resources": {}, "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}}, "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {}, "f:terminationGracePeriodSeconds": {}}}, "manager": "kubelab-fidelity", "operation": "Update", "time": "2026-11-25T20:49:48Z"}, {"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {"f:ignored": {}}}, "f:status": {"f:conditions": {".": {}, "k:{\"type\":\"Ready\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}}}, "f:message": {}, "f:phase": {}}}, "manager": "kubelab-fidelity", "operation": "Update", "subresource": "status", "time": "2026-11-25T20:49:48Z"}], "name": "pp", "namespace": "fid-p05-pods-patch-r59hb", "resourceVersion": "241", "uid": "c4389e80-1dbe-4dcf-9bf8-33b1ba65fabb"}, "spec": {"containers": [{"image": "nginx:1.28", "imagePullPolicy": "IfNotPresent", "name": "a", "resources": {}, "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "volumeMounts": [{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": "kube-api-access-frrv6", "readOnly": true}]}, {"command": ["sleep", "3600"], "image": "busybox:1.37", "imagePullPolicy": "IfNotPresent", "name": "b", "resources": {}, "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "volumeMounts": [{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": "kube-api-access-frrv6", "readOnly": true}]}], "dnsPolicy": "ClusterFirst", "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority", "priority": 0, "restartPolicy": "Always", "schedulerName": "default-scheduler", "securityContext": {}, "serviceAccount": "default", "serviceAccountName": "default", "terminationGracePeriodSeconds": 30, "tolerations": [{"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300}, {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300}], "volumes": [{"name": "kube-api-access-frrv6", "projected": {"defaultMode": 420, "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}, {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}}, {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}}]}}]}, "status": {"conditions": [{"lastProbeTime": null, "lastTransitionTime": null, "status": "True", "type": "Ready"}], "message": "set by test", "phase": "Running", "qosClass": "BestEffort"}}"##,
    );
}

#[test]
fn configmap_update() {
    check_update(
        "",
        "ConfigMap",
        None,
        r##"{"apiVersion": "v1", "data": {"color": "blue", "size": "3"}, "kind": "ConfigMap", "metadata": {"creationTimestamp": "2026-11-25T20:49:53Z", "managedFields": [{"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {".": {}, "f:color": {}, "f:size": {}}}, "manager": "kubelab-fidelity", "operation": "Update", "time": "2026-11-25T20:49:53Z"}], "name": "settings", "namespace": "fid-p18-configmaps-secrets-shhd9", "resourceVersion": "404", "uid": "d4c48ed8-c9db-4e74-a39d-26dee5c3a10c"}}"##,
        r##"{"apiVersion": "v1", "data": {"color": "red"}, "kind": "ConfigMap", "metadata": {"name": "settings", "resourceVersion": "404"}}"##,
        r##"{"apiVersion": "v1", "data": {"color": "red"}, "kind": "ConfigMap", "metadata": {"creationTimestamp": "2026-11-25T20:49:53Z", "managedFields": [{"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {".": {}, "f:color": {}}}, "manager": "kubelab-fidelity", "operation": "Update", "time": "2026-11-25T20:49:53Z"}], "name": "settings", "namespace": "fid-p18-configmaps-secrets-shhd9", "resourceVersion": "405", "uid": "d4c48ed8-c9db-4e74-a39d-26dee5c3a10c"}}"##,
    );
}
