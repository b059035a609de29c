//! What Go's JSON encoder writes that a k8s-openapi round trip does not, and the reverse.
//!
//! The apiserver's types are Go structs: a nested struct field is always encoded (`omitempty`
//! does not apply to structs), so a pod always has `status: {}` and every container
//! `resources: {}`; a zero `metav1.Time` is encoded as `null`; and `omitempty` maps and slices
//! vanish when empty. k8s-openapi models optional fields as `Option`s, so after the round trip
//! the sandbox adds the former and removes the latter, to answer with the same keys.

use serde_json::{json, Map, Value};

use crate::sandbox::resources::ResourceInfo;

/// Keys whose values are Go maps (`omitempty`, so an empty one is not encoded). Structs
/// are not listed: an empty struct stays `{}`.
const MAP_KEYS: &[&str] = &[
    "labels",
    "annotations",
    "data",
    "binaryData",
    "nodeSelector",
    "matchLabels",
    "limits",
    "requests",
    "capacity",
    "allocatable",
    "hard",
    "used",
    "overhead",
    // a Service's selector is a map; a workload's is a struct, but an empty one is refused
    // by validation either way
    "selector",
];

/// Slices Go encodes even when empty (no `omitempty`).
const KEEP_EMPTY_SLICES: &[&str] = &["containers"];

/// Removes what Go's `omitempty` would leave out: empty slices and maps, and empty strings
/// in `metadata` (every `ObjectMeta` string is `omitempty`).
pub fn prune_empty(v: &mut Value) {
    prune(v, false)
}

fn prune(v: &mut Value, in_metadata: bool) {
    match v {
        Value::Object(m) => {
            m.retain(|k, child| match child {
                Value::Array(a) => !a.is_empty() || KEEP_EMPTY_SLICES.contains(&k.as_str()),
                Value::Object(o) => !o.is_empty() || !MAP_KEYS.contains(&k.as_str()),
                Value::String(s) => !(in_metadata && s.is_empty()),
                _ => true,
            });
            for (k, child) in m.iter_mut() {
                prune(child, k == "metadata");
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| prune(c, false)),
        _ => {}
    }
}

/// `obj[key]`, inserted as `default` when absent; `None` if `obj` is not an object.
pub fn ensure<'a>(obj: &'a mut Value, key: &str, default: Value) -> Option<&'a mut Value> {
    let m = obj.as_object_mut()?;
    Some(m.entry(key.to_string()).or_insert(default))
}

fn ensure_object<'a>(obj: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    let v = ensure(obj, key, json!({}))?;
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    Some(v)
}

/// Every container list of a pod spec (regular, init and ephemeral).
pub const CONTAINER_LISTS: &[&str] = &["initContainers", "containers", "ephemeralContainers"];

/// A pod spec's Go-only keys: every container's `resources`.
pub fn fill_pod_spec(spec: &mut Value) {
    for list in CONTAINER_LISTS {
        if let Some(Value::Array(cs)) = spec.get_mut(*list) {
            for c in cs {
                ensure(c, "resources", json!({}));
            }
        }
    }
}

/// A pod template (`spec.template` of workloads): its metadata struct and pod spec.
fn fill_template(template: &mut Value) {
    ensure_object(template, "metadata");
    if let Some(spec) = ensure_object(template, "spec") {
        fill_pod_spec(spec);
    }
}

/// Zero `metav1.Time` fields of conditions are encoded as `null`.
fn null_times(conditions: Option<&mut Value>, keys: &[&str]) {
    if let Some(Value::Array(list)) = conditions {
        for c in list {
            for k in keys {
                ensure(c, k, Value::Null);
            }
        }
    }
}

/// Adds the keys Go always encodes for `res`'s kind.
pub fn fill_go_zero_values(res: &ResourceInfo, obj: &mut Value) {
    match (res.group.as_str(), res.kind.as_str()) {
        ("", "Pod") => {
            if let Some(spec) = ensure_object(obj, "spec") {
                fill_pod_spec(spec);
            }
            if let Some(status) = ensure_object(obj, "status") {
                null_times(status.get_mut("conditions"), &["lastProbeTime", "lastTransitionTime"]);
            }
        }
        ("", "PodTemplate") => {
            if let Some(t) = ensure_object(obj, "template") {
                fill_template(t);
            }
        }
        ("", "ReplicationController")
        | ("apps", "ReplicaSet")
        | ("apps", "Deployment")
        | ("apps", "StatefulSet")
        | ("apps", "DaemonSet") => {
            if let Some(spec) = ensure_object(obj, "spec") {
                if let Some(t) = ensure_object(spec, "template") {
                    fill_template(t);
                }
            }
            let status = ensure_object(obj, "status").expect("object");
            match res.kind.as_str() {
                "ReplicationController" | "ReplicaSet" => {
                    ensure(status, "replicas", json!(0));
                }
                "StatefulSet" => {
                    ensure(status, "replicas", json!(0));
                    ensure(status, "availableReplicas", json!(0));
                }
                "DaemonSet" => {
                    for k in ["currentNumberScheduled", "desiredNumberScheduled", "numberMisscheduled", "numberReady"] {
                        ensure(status, k, json!(0));
                    }
                }
                _ => {}
            }
        }
        ("", "Service") => {
            ensure_object(obj, "spec");
            if let Some(status) = ensure_object(obj, "status") {
                ensure_object(status, "loadBalancer");
            }
        }
        ("", "Namespace") | ("", "PersistentVolumeClaim") | ("", "PersistentVolume") | ("", "ResourceQuota") => {
            ensure_object(obj, "spec");
            ensure_object(obj, "status");
        }
        ("", "LimitRange") | ("coordination.k8s.io", "Lease") => {
            ensure_object(obj, "spec");
        }
        ("", "Node") => {
            ensure_object(obj, "spec");
            let status = ensure_object(obj, "status").expect("object");
            let endpoints = ensure_object(status, "daemonEndpoints").expect("object");
            let kubelet = ensure_object(endpoints, "kubeletEndpoint").expect("object");
            ensure(kubelet, "Port", json!(0));
            let info = ensure_object(status, "nodeInfo").expect("object");
            for k in [
                "machineID",
                "systemUUID",
                "bootID",
                "kernelVersion",
                "osImage",
                "containerRuntimeVersion",
                "kubeletVersion",
                "kubeProxyVersion",
                "operatingSystem",
                "architecture",
            ] {
                ensure(info, k, json!(""));
            }
            null_times(status.get_mut("conditions"), &["lastHeartbeatTime", "lastTransitionTime"]);
        }
        ("", "Event") => {
            ensure_object(obj, "involvedObject");
            ensure_object(obj, "source");
            for k in ["firstTimestamp", "lastTimestamp", "eventTime"] {
                ensure(obj, k, Value::Null);
            }
            for k in ["reportingComponent", "reportingInstance"] {
                ensure(obj, k, json!(""));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::resources::builtins;

    fn res(kind: &str) -> ResourceInfo {
        builtins().into_iter().find(|r| r.kind == kind && r.group.is_empty()).unwrap()
    }

    /// p20 `event-create`: the legacy Event's Go-only keys.
    #[test]
    fn event_gets_null_times_and_empty_reporting_fields() {
        let mut e = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1"}, "involvedObject": {"kind": "Pod"}, "source": {"component": "kubelab"}});
        fill_go_zero_values(&res("Event"), &mut e);
        assert_eq!(e["eventTime"], Value::Null);
        assert_eq!(e["firstTimestamp"], Value::Null);
        assert_eq!(e["lastTimestamp"], Value::Null);
        assert_eq!(e["reportingComponent"], "");
        assert_eq!(e["reportingInstance"], "");
        assert_eq!(e["source"], json!({"component": "kubelab"}));
    }

    /// p20 `node-create`: nodeInfo and daemonEndpoints always appear.
    #[test]
    fn node_status_structs_always_appear() {
        let mut n = json!({"metadata": {"name": "n"}, "status": {"nodeInfo": {"architecture": "amd64", "operatingSystem": "linux"}}});
        fill_go_zero_values(&res("Node"), &mut n);
        assert_eq!(n["status"]["daemonEndpoints"], json!({"kubeletEndpoint": {"Port": 0}}));
        assert_eq!(n["status"]["nodeInfo"]["bootID"], "");
        assert_eq!(n["status"]["nodeInfo"]["architecture"], "amd64");
        assert_eq!(n["spec"], json!({}));
    }

    #[test]
    fn empty_maps_and_slices_are_pruned_but_structs_stay() {
        let mut v = json!({"metadata": {"labels": {}, "namespace": "", "name": "a"}, "spec": {"containers": [], "volumes": [], "securityContext": {}, "nodeSelector": {}}});
        prune_empty(&mut v);
        assert_eq!(v, json!({"metadata": {"name": "a"}, "spec": {"containers": [], "securityContext": {}}}));
    }
}
