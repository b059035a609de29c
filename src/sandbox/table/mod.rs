//! `kubectl get` asks for `application/json;as=Table;v=v1;g=meta.k8s.io`: the server prints.
//!
//! Server-side printing is why kubectl can show columns for kinds it has never heard of: the
//! apiserver sends column definitions and one row of cells per object, plus (by default) the
//! object's metadata so kubectl can still label, sort and watch the rows.

mod age;
mod columns;
mod custom;
mod group_printers;
mod printers;

use serde_json::{json, Value};

pub use age::{age_since, human_duration};
pub use printers::{label_selector, Printer};

use super::resources::ResourceInfo;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    /// The default: each row carries a PartialObjectMetadata.
    Metadata,
    Object,
}

impl IncludeObject {
    /// The `?includeObject=` query parameter (`None`, `Metadata`, `Object`); absent is Metadata.
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value {
            None | Some("") | Some("Metadata") => Ok(Self::Metadata),
            Some("None") => Ok(Self::None),
            Some("Object") => Ok(Self::Object),
            Some(other) => {
                Err(format!("includeObject: Unsupported value: {other:?}: supported values: \"Metadata\", \"None\", \"Object\""))
            }
        }
    }
}

/// A `meta.k8s.io/v1 Table` of `objects`; `list_metadata` is the list's
/// `{resourceVersion, continue?}` (or the single object's resourceVersion for a GET).
pub fn to_table(res: &ResourceInfo, objects: &[Value], list_metadata: Value, include: IncludeObject, now: std::time::SystemTime) -> Value {
    let now: chrono::DateTime<chrono::Utc> = now.into();
    let is_custom = res.schema.is_some() || !res.printer_columns.is_empty();
    let crd_columns = if res.printer_columns.is_empty() { custom::default_columns() } else { res.printer_columns.clone() };
    let printer = Printer::for_resource(res);
    let column_definitions: Vec<Value> =
        if is_custom { custom::column_definitions(&crd_columns) } else { printer.columns().iter().map(|c| c.to_json()).collect() };
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let cells = if is_custom { custom::cells(&crd_columns, obj, now) } else { printer.cells(obj, now) };
            let mut row = serde_json::Map::new();
            row.insert("cells".into(), Value::Array(cells));
            match include {
                IncludeObject::None => {}
                IncludeObject::Object => {
                    row.insert("object".into(), obj.clone());
                }
                IncludeObject::Metadata => {
                    row.insert("object".into(), partial_object_metadata(obj));
                }
            }
            Value::Object(row)
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_metadata,
        "columnDefinitions": column_definitions,
        "rows": rows,
    })
}

/// The object reduced to its metadata, as `meta.k8s.io/v1 PartialObjectMetadata`.
pub fn partial_object_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::resources::builtins;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    fn res(group: &str, plural: &str) -> ResourceInfo {
        builtins().into_iter().find(|r| r.group == group && r.plural == plural).unwrap()
    }

    /// 2026-11-25T20:49:52Z, when p15's objects were created and listed.
    fn p15_now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1795639792)
    }

    fn column_names(t: &Value) -> Vec<(String, i64)> {
        t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].as_str().unwrap().to_string(), c["priority"].as_i64().unwrap()))
            .collect()
    }

    #[test]
    fn p15_table_pods() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"creationTimestamp": "2026-11-25T20:49:52Z", "labels": {"app": "t"}, "name": "tp", "namespace": "ns", "resourceVersion": "355"},
            "spec": {"containers": [{"image": "nginx:1.27", "name": "app"}], "nodeName": null}, "status": {"phase": "Pending", "qosClass": "BestEffort"}});
        let t =
            to_table(&res("", "pods"), std::slice::from_ref(&pod), json!({"resourceVersion": "359"}), IncludeObject::Metadata, p15_now());
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(t["metadata"], json!({"resourceVersion": "359"}));
        let expected: Vec<(String, i64)> = [
            ("Name", 0),
            ("Ready", 0),
            ("Status", 0),
            ("Restarts", 0),
            ("Age", 0),
            ("IP", 1),
            ("Node", 1),
            ("Nominated Node", 1),
            ("Readiness Gates", 1),
        ]
        .iter()
        .map(|(n, p)| (n.to_string(), *p))
        .collect();
        assert_eq!(column_names(&t), expected);
        assert_eq!(t["columnDefinitions"][0]["format"], "name");
        assert_eq!(
            t["columnDefinitions"][1],
            json!({"name": "Ready", "type": "string", "format": "", "description": "The aggregate readiness state of this pod for accepting traffic.", "priority": 0})
        );
        assert_eq!(t["rows"][0]["cells"], json!(["tp", "0/1", "Pending", "0", "0s", "<none>", "<none>", "<none>", "<none>"]));
        assert_eq!(
            t["rows"][0]["object"],
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": pod["metadata"]})
        );

        let t = to_table(&res("", "pods"), std::slice::from_ref(&pod), json!({}), IncludeObject::Object, p15_now());
        assert_eq!(t["rows"][0]["object"], pod);
        let t = to_table(&res("", "pods"), &[pod], json!({}), IncludeObject::None, p15_now());
        assert!(t["rows"][0].get("object").is_none());
    }

    #[test]
    fn running_pod_with_restarts() {
        let pod = json!({"metadata": {"name": "r", "creationTimestamp": "2026-11-25T20:39:52Z"}, "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "n1"},
            "status": {"phase": "Running", "podIP": "10.0.0.5", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 2, "state": {"running": {}}, "lastState": {"terminated": {"finishedAt": "2026-11-25T20:46:50Z"}}},
                {"name": "b", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        let t = to_table(&res("", "pods"), &[pod], json!({}), IncludeObject::None, p15_now());
        assert_eq!(
            t["rows"][0]["cells"],
            json!(["r", "1/2", "CrashLoopBackOff", "2 (3m2s ago)", "10m", "10.0.0.5", "n1", "<none>", "<none>"])
        );
    }

    #[test]
    fn p15_table_deployments_services_configmaps() {
        let deploy = json!({"metadata": {"name": "td", "creationTimestamp": "2026-11-25T20:49:52Z"}, "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "td"}},
            "template": {"spec": {"containers": [{"image": "nginx:1.27", "name": "c"}]}}}, "status": {}});
        let t = to_table(&res("apps", "deployments"), &[deploy], json!({}), IncludeObject::Metadata, p15_now());
        assert_eq!(t["rows"][0]["cells"], json!(["td", "0/2", 0, 0, "0s", "c", "nginx:1.27", "app=td"]));
        assert_eq!(
            t["columnDefinitions"][2]["description"],
            "Total number of non-terminating pods targeted by this deployment that have the desired template spec."
        );

        let svc = json!({"metadata": {"name": "ts", "creationTimestamp": "2026-11-25T20:49:52Z"}, "spec": {"clusterIP": "10.109.83.26", "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}], "selector": {"app": "t"}, "type": "ClusterIP"}});
        let t = to_table(&res("", "services"), &[svc], json!({}), IncludeObject::Metadata, p15_now());
        assert_eq!(t["rows"][0]["cells"], json!(["ts", "ClusterIP", "10.109.83.26", "<none>", "80/TCP", "0s", "app=t"]));
        assert_eq!(column_names(&t).last().unwrap(), &("Selector".to_string(), 1));

        let cm = json!({"metadata": {"name": "tc", "creationTimestamp": "2026-11-25T20:49:52Z"}, "data": {"a": "1", "b": "2"}});
        let t = to_table(&res("", "configmaps"), &[cm], json!({}), IncludeObject::Metadata, p15_now());
        assert_eq!(t["rows"][0]["cells"], json!(["tc", 2, "0s"]));
    }

    #[test]
    fn p15_table_nodes_empty_and_p20_node_row() {
        let t = to_table(&res("", "nodes"), &[], json!({"resourceVersion": "359"}), IncludeObject::Metadata, p15_now());
        assert_eq!(t["rows"], json!([]));
        assert_eq!(t["columnDefinitions"].as_array().unwrap().len(), 10);
        let node = json!({"metadata": {"creationTimestamp": "2026-11-25T20:49:52Z", "labels": {"kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux"}, "name": "n"},
            "status": {"nodeInfo": {"containerRuntimeVersion": "", "kernelVersion": "", "kubeletVersion": "", "osImage": ""}}});
        let t = to_table(&res("", "nodes"), &[node], json!({}), IncludeObject::Metadata, p15_now());
        assert_eq!(
            t["rows"][0]["cells"],
            json!(["n", "Unknown", "<none>", "0s", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"])
        );
    }

    #[test]
    fn events_secrets_namespaces_and_default() {
        let ev = json!({"metadata": {"name": "e1", "creationTimestamp": "2026-11-25T20:49:52Z"}, "count": 1, "involvedObject": {"kind": "Pod", "name": "p"}, "message": "hello",
            "reason": "Tested", "source": {"component": "kubelab"}, "type": "Normal", "firstTimestamp": "2026-11-25T20:49:50Z", "lastTimestamp": "2026-11-25T20:49:51Z"});
        let t = to_table(&res("", "events"), &[ev], json!({}), IncludeObject::None, p15_now());
        assert_eq!(t["rows"][0]["cells"], json!(["1s", "Normal", "Tested", "pod/p", "", "kubelab", "hello", "2s", 1, "e1"]));
        let secret = json!({"metadata": {"name": "creds", "creationTimestamp": "2026-11-25T20:49:52Z"}, "type": "Opaque", "data": {"a": "YQ==", "b": "Yg=="}});
        let t = to_table(&res("", "secrets"), &[secret], json!({}), IncludeObject::None, p15_now());
        assert_eq!(t["rows"][0]["cells"], json!(["creds", "Opaque", 2, "0s"]));
        let ns = json!({"metadata": {"name": "x", "creationTimestamp": "2026-11-25T20:49:52Z"}, "status": {"phase": "Active"}});
        assert_eq!(
            to_table(&res("", "namespaces"), &[ns], json!({}), IncludeObject::None, p15_now())["rows"][0]["cells"],
            json!(["x", "Active", "0s"])
        );
        let lease = json!({"metadata": {"name": "l", "creationTimestamp": "2026-11-25T20:49:42Z"}});
        let t = to_table(&res("coordination.k8s.io", "leases"), &[lease], json!({}), IncludeObject::None, p15_now());
        assert_eq!(t["rows"][0]["cells"], json!(["l", "10s"]));
    }

    #[test]
    fn include_object_parameter() {
        assert_eq!(IncludeObject::parse(None), Ok(IncludeObject::Metadata));
        assert_eq!(IncludeObject::parse(Some("Object")), Ok(IncludeObject::Object));
        assert!(IncludeObject::parse(Some("All")).is_err());
    }
}
