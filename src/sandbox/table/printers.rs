//! The built-in printers: which columns `kubectl get <kind>` shows and how each cell is
//! computed from the object, as kube-apiserver's `printers.go` does it.
//!
//! The server always prints the wide columns (priority 1); kubectl hides them unless `-o wide`.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::age::age_since;
use super::columns::*;
use super::group_printers;
use crate::sandbox::resources::ResourceInfo;

/// The kinds with a printer of their own; everything else gets Name and Age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Printer {
    Pod,
    Node,
    Deployment,
    ReplicaSet,
    Service,
    Namespace,
    ConfigMap,
    Secret,
    ServiceAccount,
    Event,
    Job,
    CronJob,
    PodDisruptionBudget,
    Ingress,
    PriorityClass,
    RoleBinding,
    ClusterRoleBinding,
    Endpoints,
    EndpointSlice,
    /// Name and Age.
    Default,
}

impl Printer {
    pub fn for_resource(res: &ResourceInfo) -> Self {
        match (res.group.as_str(), res.plural.as_str()) {
            ("", "pods") => Self::Pod,
            ("", "nodes") => Self::Node,
            ("apps", "deployments") => Self::Deployment,
            ("apps", "replicasets") => Self::ReplicaSet,
            ("", "services") => Self::Service,
            ("", "namespaces") => Self::Namespace,
            ("", "configmaps") => Self::ConfigMap,
            ("", "secrets") => Self::Secret,
            ("", "serviceaccounts") => Self::ServiceAccount,
            ("" | "events.k8s.io", "events") => Self::Event,
            ("batch", "jobs") => Self::Job,
            ("batch", "cronjobs") => Self::CronJob,
            ("policy", "poddisruptionbudgets") => Self::PodDisruptionBudget,
            ("networking.k8s.io", "ingresses") => Self::Ingress,
            ("scheduling.k8s.io", "priorityclasses") => Self::PriorityClass,
            ("rbac.authorization.k8s.io", "rolebindings") => Self::RoleBinding,
            ("rbac.authorization.k8s.io", "clusterrolebindings") => Self::ClusterRoleBinding,
            ("", "endpoints") => Self::Endpoints,
            ("discovery.k8s.io", "endpointslices") => Self::EndpointSlice,
            _ => Self::Default,
        }
    }

    pub fn columns(self) -> Vec<Column> {
        let c = Column::new;
        match self {
            Self::Pod => vec![
                NAME_COLUMN,
                c("Ready", POD_READY),
                c("Status", POD_STATUS),
                c("Restarts", POD_RESTARTS),
                AGE_COLUMN,
                c("IP", POD_IP).wide(),
                c("Node", POD_NODE).wide(),
                c("Nominated Node", POD_NOMINATED_NODE).wide(),
                c("Readiness Gates", POD_READINESS_GATES).wide(),
            ],
            Self::Node => vec![
                NAME_COLUMN,
                c("Status", NODE_STATUS),
                c("Roles", NODE_ROLES),
                AGE_COLUMN,
                c("Version", NODE_VERSION),
                c("Internal-IP", NODE_ADDRESSES).wide(),
                c("External-IP", NODE_ADDRESSES).wide(),
                c("OS-Image", NODE_OS_IMAGE).wide(),
                c("Kernel-Version", NODE_KERNEL_VERSION).wide(),
                c("Container-Runtime", NODE_CONTAINER_RUNTIME).wide(),
            ],
            Self::Deployment => vec![
                NAME_COLUMN,
                c("Ready", DEPLOYMENT_READY),
                c("Up-to-date", DEPLOYMENT_UP_TO_DATE),
                c("Available", DEPLOYMENT_AVAILABLE),
                AGE_COLUMN,
                c("Containers", DEPLOYMENT_CONTAINERS).wide(),
                c("Images", DEPLOYMENT_IMAGES).wide(),
                c("Selector", DEPLOYMENT_SELECTOR).wide(),
            ],
            Self::ReplicaSet => vec![
                NAME_COLUMN,
                c("Desired", REPLICASET_DESIRED).typed("integer"),
                c("Current", REPLICASET_CURRENT).typed("integer"),
                c("Ready", REPLICASET_READY).typed("integer"),
                AGE_COLUMN,
                c("Containers", DEPLOYMENT_CONTAINERS).wide(),
                c("Images", DEPLOYMENT_IMAGES).wide(),
                c("Selector", REPLICASET_SELECTOR).wide(),
            ],
            Self::Service => vec![
                NAME_COLUMN,
                c("Type", SERVICE_TYPE),
                c("Cluster-IP", SERVICE_CLUSTER_IP),
                c("External-IP", SERVICE_EXTERNAL_IP),
                c("Port(s)", SERVICE_PORTS),
                AGE_COLUMN,
                c("Selector", SERVICE_SELECTOR).wide(),
            ],
            Self::Namespace => vec![NAME_COLUMN, c("Status", NAMESPACE_STATUS), AGE_COLUMN],
            Self::ConfigMap => vec![NAME_COLUMN, c("Data", CONFIGMAP_DATA), AGE_COLUMN],
            Self::Secret => vec![NAME_COLUMN, c("Type", SECRET_TYPE), c("Data", SECRET_DATA), AGE_COLUMN],
            Self::ServiceAccount => vec![NAME_COLUMN, c("Secrets", SERVICEACCOUNT_SECRETS), AGE_COLUMN],
            Self::Event => vec![
                c("Last Seen", EVENT_LAST_SEEN),
                c("Type", EVENT_TYPE),
                c("Reason", EVENT_REASON),
                c("Object", EVENT_OBJECT),
                c("Subobject", EVENT_SUBOBJECT).wide(),
                c("Source", EVENT_SOURCE).wide(),
                c("Message", EVENT_MESSAGE),
                c("First Seen", EVENT_FIRST_SEEN).wide(),
                c("Count", EVENT_COUNT).wide(),
                NAME_COLUMN.wide(),
            ],
            Self::Job => group_printers::job_columns(),
            Self::CronJob => group_printers::cronjob_columns(),
            Self::PodDisruptionBudget => group_printers::pdb_columns(),
            Self::Ingress => group_printers::ingress_columns(),
            Self::PriorityClass => group_printers::priority_class_columns(),
            Self::RoleBinding => group_printers::role_binding_columns(false),
            Self::ClusterRoleBinding => group_printers::role_binding_columns(true),
            Self::Endpoints => group_printers::endpoints_columns(),
            Self::EndpointSlice => group_printers::endpoint_slice_columns(),
            Self::Default => vec![NAME_COLUMN, AGE_COLUMN],
        }
    }

    pub fn cells(self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let name = json!(s(obj, "/metadata/name"));
        let age = json!(age_since(obj.pointer("/metadata/creationTimestamp").and_then(Value::as_str), now));
        match self {
            Self::Pod => pod_cells(obj, name, age, now),
            Self::Node => node_cells(obj, name, age),
            Self::Deployment => {
                let (containers, images) = template_containers(obj);
                vec![
                    name,
                    json!(format!("{}/{}", i(obj, "/status/readyReplicas"), i(obj, "/spec/replicas"))),
                    json!(i(obj, "/status/updatedReplicas")),
                    json!(i(obj, "/status/availableReplicas")),
                    age,
                    json!(containers),
                    json!(images),
                    json!(label_selector(obj.pointer("/spec/selector"))),
                ]
            }
            Self::ReplicaSet => {
                let (containers, images) = template_containers(obj);
                vec![
                    name,
                    json!(i(obj, "/spec/replicas")),
                    json!(i(obj, "/status/replicas")),
                    json!(i(obj, "/status/readyReplicas")),
                    age,
                    json!(containers),
                    json!(images),
                    json!(label_selector(obj.pointer("/spec/selector"))),
                ]
            }
            Self::Service => vec![
                name,
                json!(s(obj, "/spec/type")),
                json!(or_none(s(obj, "/spec/clusterIP"))),
                json!(service_external_ip(obj)),
                json!(service_ports(obj)),
                age,
                json!(map_selector(obj.pointer("/spec/selector"))),
            ],
            Self::Namespace => vec![name, json!(s(obj, "/status/phase")), age],
            Self::ConfigMap => vec![name, json!(len(obj, "/data") + len(obj, "/binaryData")), age],
            Self::Secret => vec![name, json!(s(obj, "/type")), json!(len(obj, "/data")), age],
            Self::ServiceAccount => vec![name, json!(len(obj, "/secrets")), age],
            Self::Event => event_cells(obj, name, now),
            Self::Job => group_printers::job_cells(obj, name, age, now),
            Self::CronJob => group_printers::cronjob_cells(obj, name, age, now),
            Self::PodDisruptionBudget => group_printers::pdb_cells(obj, name, age),
            Self::Ingress => group_printers::ingress_cells(obj, name, age),
            Self::PriorityClass => group_printers::priority_class_cells(obj, name, age),
            Self::RoleBinding | Self::ClusterRoleBinding => group_printers::role_binding_cells(obj, name, age),
            Self::Endpoints => group_printers::endpoints_cells(obj, name, age),
            Self::EndpointSlice => group_printers::endpoint_slice_cells(obj, name, age),
            Self::Default => vec![name, age],
        }
    }
}

/// A string at a JSON pointer, or `""`.
fn s(obj: &Value, pointer: &str) -> String {
    obj.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_string()
}

/// An integer at a JSON pointer, or 0.
fn i(obj: &Value, pointer: &str) -> i64 {
    obj.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// The number of entries of the map or list at a pointer.
fn len(obj: &Value, pointer: &str) -> usize {
    match obj.pointer(pointer) {
        Some(Value::Object(m)) => m.len(),
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    }
}

fn or_none(v: String) -> String {
    if v.is_empty() {
        "<none>".into()
    } else {
        v
    }
}

fn pod_cells(obj: &Value, name: Value, age: Value, now: DateTime<Utc>) -> Vec<Value> {
    let empty = Vec::new();
    let containers = obj.pointer("/spec/containers").and_then(Value::as_array).unwrap_or(&empty);
    let statuses = obj.pointer("/status/containerStatuses").and_then(Value::as_array).unwrap_or(&empty);
    let init_statuses = obj.pointer("/status/initContainerStatuses").and_then(Value::as_array).unwrap_or(&empty);
    let init_count = len(obj, "/spec/initContainers");

    let mut reason = s(obj, "/status/phase");
    if !s(obj, "/status/reason").is_empty() {
        reason = s(obj, "/status/reason");
    }
    let conditions = obj.pointer("/status/conditions").and_then(Value::as_array).unwrap_or(&empty);
    if conditions.iter().any(|c| c["type"] == "PodScheduled" && c["status"] == "False" && c["reason"] == "SchedulingGated") {
        reason = "SchedulingGated".into();
    }

    let mut restarts = 0;
    let mut last_restart: Option<String> = None;
    let mut note_restart = |st: &Value, restarts: &mut i64| {
        *restarts += st.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
        if let Some(t) = st.pointer("/lastState/terminated/finishedAt").and_then(Value::as_str) {
            if last_restart.as_deref().is_none_or(|l| t > l) {
                last_restart = Some(t.to_string());
            }
        }
    };

    let mut initializing = false;
    for (idx, st) in init_statuses.iter().enumerate() {
        note_restart(st, &mut restarts);
        let terminated = st.pointer("/state/terminated");
        let waiting_reason = st.pointer("/state/waiting/reason").and_then(Value::as_str).unwrap_or("");
        if terminated.is_some_and(|t| t["exitCode"].as_i64() == Some(0)) {
            continue;
        }
        initializing = true;
        reason = if let Some(t) = terminated {
            match (t["reason"].as_str(), t["signal"].as_i64()) {
                (Some(r), _) if !r.is_empty() => format!("Init:{r}"),
                (_, Some(sig)) if sig != 0 => format!("Init:Signal:{sig}"),
                _ => format!("Init:ExitCode:{}", t["exitCode"].as_i64().unwrap_or(0)),
            }
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{idx}/{init_count}")
        };
        break;
    }

    let mut ready = 0;
    if !initializing {
        restarts = 0;
        let mut has_running = false;
        for st in statuses.iter().rev() {
            note_restart(st, &mut restarts);
            let waiting_reason = st.pointer("/state/waiting/reason").and_then(Value::as_str).unwrap_or("");
            let terminated = st.pointer("/state/terminated");
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(t) = terminated {
                reason = match (t["reason"].as_str(), t["signal"].as_i64()) {
                    (Some(r), _) if !r.is_empty() => r.to_string(),
                    (_, Some(sig)) if sig != 0 => format!("Signal:{sig}"),
                    _ => format!("ExitCode:{}", t["exitCode"].as_i64().unwrap_or(0)),
                };
            } else if st["ready"] == true && st.pointer("/state/running").is_some() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            let pod_ready = conditions.iter().any(|c| c["type"] == "Ready" && c["status"] == "True");
            reason = if pod_ready { "Running".into() } else { "NotReady".into() };
        }
    }
    if obj.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null()) {
        reason = if s(obj, "/status/reason") == "NodeLost" { "Unknown".into() } else { "Terminating".into() };
    }

    let restarts_cell = match last_restart {
        Some(t) => format!("{restarts} ({} ago)", age_since(Some(&t), now)),
        None => restarts.to_string(),
    };
    let gates = obj.pointer("/spec/readinessGates").and_then(Value::as_array).unwrap_or(&empty);
    let gates_cell = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_conditions =
            gates.iter().filter(|g| conditions.iter().any(|c| c["type"] == g["conditionType"] && c["status"] == "True")).count();
        format!("{true_conditions}/{}", gates.len())
    };
    vec![
        name,
        json!(format!("{ready}/{}", containers.len())),
        json!(reason),
        json!(restarts_cell),
        age,
        json!(or_none(s(obj, "/status/podIP"))),
        json!(or_none(s(obj, "/spec/nodeName"))),
        json!(or_none(s(obj, "/status/nominatedNodeName"))),
        json!(gates_cell),
    ]
}

fn node_cells(obj: &Value, name: Value, age: Value) -> Vec<Value> {
    let empty = Vec::new();
    let conditions = obj.pointer("/status/conditions").and_then(Value::as_array).unwrap_or(&empty);
    let mut status: Vec<String> = Vec::new();
    if let Some(ready) = conditions.iter().find(|c| c["type"] == "Ready") {
        status.push(match ready["status"].as_str() {
            Some("True") => "Ready".into(),
            Some("False") => "NotReady".into(),
            _ => "Unknown".into(),
        });
    } else {
        status.push("Unknown".into());
    }
    if obj.pointer("/spec/unschedulable") == Some(&Value::Bool(true)) {
        status.push("SchedulingDisabled".into());
    }
    let mut roles: Vec<String> = obj
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(k, v)| match k.strip_prefix("node-role.kubernetes.io/") {
                    Some(role) if !role.is_empty() => Some(role.to_string()),
                    _ if k == "kubernetes.io/role" => v.as_str().filter(|v| !v.is_empty()).map(str::to_string),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    roles.sort();
    roles.dedup();
    let address = |kind: &str| -> String {
        obj.pointer("/status/addresses")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find(|x| x["type"] == kind))
            .and_then(|x| x["address"].as_str())
            .map(str::to_string)
            .unwrap_or_else(|| "<none>".into())
    };
    let info = |field: &str| -> String {
        let v = s(obj, &format!("/status/nodeInfo/{field}"));
        if v.is_empty() {
            "<unknown>".into()
        } else {
            v
        }
    };
    vec![
        name,
        json!(status.join(",")),
        json!(if roles.is_empty() { "<none>".to_string() } else { roles.join(",") }),
        age,
        json!(s(obj, "/status/nodeInfo/kubeletVersion")),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

/// Container names and images of a workload's pod template, comma-separated.
fn template_containers(obj: &Value) -> (String, String) {
    let empty = Vec::new();
    let containers = obj.pointer("/spec/template/spec/containers").and_then(Value::as_array).unwrap_or(&empty);
    let names: Vec<&str> = containers.iter().filter_map(|c| c["name"].as_str()).collect();
    let images: Vec<&str> = containers.iter().filter_map(|c| c["image"].as_str()).collect();
    (names.join(","), images.join(","))
}

/// A `metav1.LabelSelector` in selector syntax (`app=web,tier in (a,b)`), sorted by key;
/// `<none>` when it selects nothing in particular.
pub fn label_selector(sel: Option<&Value>) -> String {
    let Some(sel) = sel else { return "<none>".into() };
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            reqs.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or_default())));
        }
    }
    if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
        for e in exprs {
            let key = e["key"].as_str().unwrap_or_default();
            let mut values: Vec<&str> = e["values"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
            values.sort();
            let text = match e["operator"].as_str().unwrap_or_default() {
                "In" => format!("{key} in ({})", values.join(",")),
                "NotIn" => format!("{key} notin ({})", values.join(",")),
                "Exists" => key.to_string(),
                "DoesNotExist" => format!("!{key}"),
                other => format!("{key} {other} ({})", values.join(",")),
            };
            reqs.push((key.to_string(), text));
        }
    }
    if reqs.is_empty() {
        return "<none>".into();
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    reqs.into_iter().map(|(_, t)| t).collect::<Vec<_>>().join(",")
}

/// A plain `map[string]string` selector (`app=t`), sorted by key, or `<none>`.
fn map_selector(sel: Option<&Value>) -> String {
    let mut pairs: Vec<String> = sel
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect())
        .unwrap_or_default();
    if pairs.is_empty() {
        return "<none>".into();
    }
    pairs.sort();
    pairs.join(",")
}

fn service_external_ip(obj: &Value) -> String {
    let external: Vec<String> = obj
        .pointer("/spec/externalIPs")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    match s(obj, "/spec/type").as_str() {
        "ClusterIP" | "NodePort" | "" => {
            if external.is_empty() {
                "<none>".into()
            } else {
                external.join(",")
            }
        }
        "LoadBalancer" => {
            let mut all: Vec<String> = obj
                .pointer("/status/loadBalancer/ingress")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|i| i["ip"].as_str().filter(|s| !s.is_empty()).or(i["hostname"].as_str()))
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            all.extend(external);
            if all.is_empty() {
                "<pending>".into()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => s(obj, "/spec/externalName"),
        _ => "<unknown>".into(),
    }
}

/// `80/TCP`, `80:31380/TCP`, joined by commas.
fn service_ports(obj: &Value) -> String {
    let Some(ports) = obj.pointer("/spec/ports").and_then(Value::as_array).filter(|p| !p.is_empty()) else {
        return "<none>".into();
    };
    ports
        .iter()
        .map(|p| {
            let port = p["port"].as_i64().unwrap_or(0);
            let proto = p["protocol"].as_str().unwrap_or("TCP");
            match p["nodePort"].as_i64() {
                Some(np) if np != 0 => format!("{port}:{np}/{proto}"),
                _ => format!("{port}/{proto}"),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Core `v1` events and `events.k8s.io/v1` events print alike; the latter name their fields
/// differently (`regarding`, `deprecatedSource`, `note`...).
fn event_cells(obj: &Value, name: Value, now: DateTime<Utc>) -> Vec<Value> {
    let core = obj.get("involvedObject").is_some() || obj.get("regarding").is_none();
    let field = |core_name: &str, new_name: &str| -> Option<&Value> { obj.get(if core { core_name } else { new_name }) };
    let time = |v: Option<&Value>| v.and_then(Value::as_str).filter(|t| !t.is_empty()).map(str::to_string);
    let event_time = time(obj.get("eventTime"));
    let first = time(field("firstTimestamp", "deprecatedFirstTimestamp")).or(event_time);
    let first_seen = age_since(first.as_deref(), now);
    let mut last_seen = match time(field("lastTimestamp", "deprecatedLastTimestamp")) {
        Some(t) => age_since(Some(&t), now),
        None => first_seen.clone(),
    };
    let mut count = field("count", "deprecatedCount").and_then(Value::as_i64).unwrap_or(0);
    if let Some(series) = obj.get("series").filter(|s| s.is_object()) {
        last_seen = age_since(time(series.get("lastObservedTime")).as_deref(), now);
        count = series["count"].as_i64().unwrap_or(0);
    } else if count == 0 {
        count = 1;
    }
    let target_ref = field("involvedObject", "regarding").cloned().unwrap_or(Value::Null);
    let kind = target_ref["kind"].as_str().unwrap_or_default().to_lowercase();
    let target = match target_ref["name"].as_str() {
        Some(n) if !n.is_empty() => format!("{kind}/{n}"),
        _ => kind,
    };
    let source = field("source", "deprecatedSource").cloned().unwrap_or(Value::Null);
    let (component, instance) = match source["component"].as_str() {
        Some(c) if !c.is_empty() => (c.to_string(), source["host"].as_str().unwrap_or_default().to_string()),
        _ => (s(obj, "/reportingController"), s(obj, "/reportingInstance")),
    };
    let source_cell = if instance.is_empty() { component } else { format!("{component}, {instance}") };
    let message = field("message", "note").and_then(Value::as_str).unwrap_or_default().trim().to_string();
    vec![
        json!(last_seen),
        json!(s(obj, "/type")),
        json!(s(obj, "/reason")),
        json!(target),
        json!(target_ref["fieldPath"].as_str().unwrap_or_default()),
        json!(source_cell),
        json!(message),
        json!(first_seen),
        json!(count),
        name,
    ]
}
