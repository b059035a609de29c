//! Expected values come from the fidelity corpus (p03, p05, p07, p15, p16, p19, p20).

use serde_json::{json, Value};

use super::*;
use crate::sandbox::resources::builtins;

const T: &str = "2026-11-25T20:49:48Z";

fn res(group: &str, plural: &str) -> ResourceInfo {
    builtins().into_iter().find(|r| r.group == group && r.plural == plural).unwrap()
}

fn mf(obj: &Value) -> Value {
    obj["metadata"]["managedFields"].clone()
}

/// p05 `create`: the pod as the field manager sees it (after defaulting, before admission).
fn p05_defaulted_pod() -> Value {
    let c = |name: &str, image: &str| json!({"image": image, "imagePullPolicy": "IfNotPresent", "name": name, "resources": {}, "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"});
    let mut b = c("b", "busybox:1.36");
    b["command"] = json!(["sleep", "3600"]);
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"app": "pp"}, "name": "pp", "namespace": "ns"},
        "spec": {"containers": [c("a", "nginx:1.27"), b], "dnsPolicy": "ClusterFirst", "enableServiceLinks": true, "restartPolicy": "Always",
                 "schedulerName": "default-scheduler", "securityContext": {}, "terminationGracePeriodSeconds": 30},
        "status": {"phase": "Pending"}})
}

fn p05_spec_fields() -> Value {
    json!({"f:containers": {
        "k:{\"name\":\"a\"}": {".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}, "f:resources": {}, "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}},
        "k:{\"name\":\"b\"}": {".": {}, "f:command": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}, "f:resources": {}, "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}},
        "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {}, "f:terminationGracePeriodSeconds": {}})
}

fn entry(manager: &str, op: &str, sub: Option<&str>, fields: Value) -> Value {
    let mut e = json!({"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": fields, "manager": manager, "operation": op});
    if let Some(s) = sub {
        e["subresource"] = json!(s);
    }
    e["time"] = json!(T);
    e
}

#[test]
fn p05_create_then_merge_patch_then_update_status() {
    let pods = res("", "pods");
    let mut pod = p05_defaulted_pod();
    track_update(&pods, None, &mut pod, "kubelab-fidelity", None, T);
    assert_eq!(
        mf(&pod),
        json!([entry(
            "kubelab-fidelity",
            "Update",
            None,
            json!({"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:spec": p05_spec_fields()})
        )])
    );

    // merge-patch-labels: {"app": null, "env": "dev"}
    let old = pod.clone();
    pod["metadata"]["labels"] = json!({"env": "dev"});
    track_update(&pods, Some(&old), &mut pod, "kubelab-fidelity", None, T);
    assert_eq!(
        mf(&pod),
        json!([entry(
            "kubelab-fidelity",
            "Update",
            None,
            json!({"f:metadata": {"f:labels": {".": {}, "f:env": {}}}, "f:spec": p05_spec_fields()})
        )])
    );

    // update-status: labels replaced, status written through /status.
    let old = pod.clone();
    pod["metadata"]["labels"] = json!({"ignored": "yes"});
    pod["status"] = json!({"conditions": [{"lastProbeTime": null, "lastTransitionTime": null, "status": "True", "type": "Ready"}], "message": "set by test", "phase": "Running", "qosClass": "BestEffort"});
    let mut old = old;
    old["status"]["qosClass"] = json!("BestEffort");
    track_update(&pods, Some(&old), &mut pod, "kubelab-fidelity", Some("status"), T);
    assert_eq!(
        mf(&pod),
        json!([
            entry("kubelab-fidelity", "Update", None, json!({"f:metadata": {"f:labels": {}}, "f:spec": p05_spec_fields()})),
            entry(
                "kubelab-fidelity",
                "Update",
                Some("status"),
                json!({"f:metadata": {"f:labels": {"f:ignored": {}}}, "f:status": {"f:conditions": {".": {}, "k:{\"type\":\"Ready\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}}}, "f:message": {}, "f:phase": {}}})
            ),
        ])
    );
}

#[test]
fn p15_service_and_p20_event_and_p07_finalizers() {
    let mut svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ts"}, "spec": {"internalTrafficPolicy": "Cluster", "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}], "selector": {"app": "t"}, "sessionAffinity": "None", "type": "ClusterIP"}});
    track_update(&res("", "services"), None, &mut svc, "m", None, T);
    assert_eq!(
        mf(&svc)[0]["fieldsV1"],
        json!({"f:spec": {"f:internalTrafficPolicy": {}, "f:ports": {".": {}, "k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}, "f:protocol": {}, "f:targetPort": {}}}, "f:selector": {}, "f:sessionAffinity": {}, "f:type": {}}})
    );

    let mut ev = json!({"apiVersion": "v1", "count": 1, "involvedObject": {"kind": "Pod", "name": "p", "namespace": "ns"}, "kind": "Event", "message": "hello", "metadata": {"name": "e1"}, "reason": "Tested", "source": {"component": "kubelab"}, "type": "Normal"});
    track_update(&res("", "events"), None, &mut ev, "m", None, T);
    assert_eq!(
        mf(&ev)[0]["fieldsV1"],
        json!({"f:count": {}, "f:involvedObject": {}, "f:message": {}, "f:reason": {}, "f:source": {"f:component": {}}, "f:type": {}})
    );

    let cms = res("", "configmaps");
    let mut cm = json!({"apiVersion": "v1", "data": {"a": "1"}, "kind": "ConfigMap", "metadata": {"finalizers": ["example.com/hold"], "name": "cmf"}});
    track_update(&cms, None, &mut cm, "m", None, T);
    assert_eq!(
        mf(&cm)[0]["fieldsV1"],
        json!({"f:data": {".": {}, "f:a": {}}, "f:metadata": {"f:finalizers": {".": {}, "v:\"example.com/hold\"": {}}}})
    );
    let old = cm.clone();
    cm["metadata"].as_object_mut().unwrap().remove("finalizers");
    track_update(&cms, Some(&old), &mut cm, "m", None, T);
    assert_eq!(mf(&cm)[0]["fieldsV1"], json!({"f:data": {".": {}, "f:a": {}}}));
}

#[test]
fn p16_scale_takes_replicas_and_has_no_time() {
    let deps = res("apps", "deployments");
    let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}}, "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}}});
    track_update(&deps, None, &mut d, "kubelab-fidelity", None, T);
    assert_eq!(mf(&d)[0]["fieldsV1"]["f:spec"]["f:selector"], json!({}));
    let old = d.clone();
    d["spec"]["replicas"] = json!(5);
    track_update(&deps, Some(&old), &mut d, "kubelab-fidelity", Some("scale"), T);
    let entries = mf(&d);
    assert_eq!(
        entries[0],
        json!({"apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}, "manager": "kubelab-fidelity", "operation": "Update", "subresource": "scale"})
    );
    assert!(entries[1]["fieldsV1"]["f:spec"].get("f:replicas").is_none());
}

#[test]
fn p19_custom_resources_have_granular_maps_and_atomic_lists() {
    let mut book_res = res("", "configmaps");
    book_res.kind = "Book".into();
    book_res.group = "example.com".into();
    book_res.schema = Some(json!({"type": "object"}));
    let mut book = json!({"anyField": {"whatever": [1, 2, 3]}, "apiVersion": "example.com/v1", "kind": "Book", "metadata": {"name": "moby-dick"}, "spec": {"author": "Herman Melville", "title": "Moby Dick"}});
    track_update(&book_res, None, &mut book, "m", None, T);
    assert_eq!(
        mf(&book)[0]["fieldsV1"],
        json!({"f:anyField": {".": {}, "f:whatever": {}}, "f:spec": {".": {}, "f:author": {}, "f:title": {}}})
    );
    assert_eq!(mf(&book)[0]["apiVersion"], "example.com/v1");
}

fn applied(labels: Value, with_containers: bool) -> Value {
    let mut v = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "applied", "labels": labels}});
    if with_containers {
        v["spec"] = json!({"containers": [{"name": "app", "image": "nginx:1.27"}]});
    }
    v
}

#[test]
fn p05_server_side_apply() {
    let pods = res("", "pods");
    let containers = json!({"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:image": {}, "f:name": {}}}});

    // apply-create
    let created = apply(&pods, None, &applied(json!({"owner": "kubelab"}), true), "kubelab", false, None, T).unwrap();
    assert_eq!(
        mf(&created),
        json!([entry("kubelab", "Apply", None, json!({"f:metadata": {"f:labels": {"f:owner": {}}}, "f:spec": containers}))])
    );
    assert_eq!(created["spec"]["containers"][0]["image"], "nginx:1.27");

    // apply-update-same-manager
    let two = apply(&pods, Some(&created), &applied(json!({"owner": "kubelab", "stage": "two"}), true), "kubelab", false, None, T).unwrap();
    assert_eq!(
        mf(&two),
        json!([entry("kubelab", "Apply", None, json!({"f:metadata": {"f:labels": {"f:owner": {}, "f:stage": {}}}, "f:spec": containers}))])
    );

    // apply-conflict-other-manager
    let e = apply(&pods, Some(&two), &applied(json!({"owner": "someone-else"}), false), "other", false, None, T).unwrap_err();
    assert_eq!(
        e.to_status(),
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Apply failed with 1 conflict: conflict with \"kubelab\": .metadata.labels.owner", "reason": "Conflict",
               "details": {"causes": [{"reason": "FieldManagerConflict", "message": "conflict with \"kubelab\"", "field": ".metadata.labels.owner"}]}, "code": 409})
    );

    // apply-force-other-manager
    let forced = apply(&pods, Some(&two), &applied(json!({"owner": "someone-else"}), false), "other", true, None, T).unwrap();
    assert_eq!(forced["metadata"]["labels"], json!({"owner": "someone-else", "stage": "two"}));
    assert_eq!(
        mf(&forced),
        json!([
            entry("kubelab", "Apply", None, json!({"f:metadata": {"f:labels": {"f:stage": {}}}, "f:spec": containers})),
            entry("other", "Apply", None, json!({"f:metadata": {"f:labels": {"f:owner": {}}}})),
        ])
    );
}

#[test]
fn apply_removes_fields_the_manager_no_longer_applies() {
    let pods = res("", "pods");
    let created = apply(&pods, None, &applied(json!({"owner": "kubelab", "stage": "two"}), true), "kubelab", false, None, T).unwrap();
    let next = apply(&pods, Some(&created), &applied(json!({"owner": "kubelab"}), true), "kubelab", false, None, T).unwrap();
    assert_eq!(next["metadata"]["labels"], json!({"owner": "kubelab"}));
    // Same value from another manager is shared ownership, not a conflict.
    let shared = apply(&pods, Some(&next), &applied(json!({"owner": "kubelab"}), false), "other", false, None, T).unwrap();
    assert_eq!(mf(&shared).as_array().unwrap().len(), 2);
}
