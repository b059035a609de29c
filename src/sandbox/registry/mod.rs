//! Per-kind strategies, as the apiserver's registry: decode, default, validate, and what an
//! update may change.
//!
//! The server calls these in the apiserver's order. Create: [`decode`] -> (metadata
//! bookkeeping) -> [`prepare_create`] -> [`admit_create`] -> [`validate_create`] ->
//! [`Allocators::allocate`] -> store. Update: [`decode`] -> [`prepare_update`] ->
//! [`validate_update`] (-> [`Allocators::allocate_update`] for services). Each function
//! dispatches on the kind; kinds without a strategy here (custom resources) get the generic
//! behaviour: stored as sent, `metadata` validated, `generation` tracked.

mod allocators;
mod configmaps;
#[cfg(test)]
mod corpus_tests;
mod daemonsets;
pub mod decode;
mod deployments;
mod events;
mod label_selector;
mod namespaces;
mod nodes;
mod pod_admission;
mod pod_template;
mod pod_update;
mod pods;
mod qos;
mod replicasets;
mod secrets;
mod services;
mod statefulsets;
pub mod validation;
mod wire_shape;

use serde_json::{json, Value};

use super::resources::ResourceInfo;
use super::status::{ApiError, FieldError};

pub use allocators::Allocators;

/// What the client asked for with `?fieldValidation=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

/// The kind of `res` as `(group, kind)`, for matching.
fn gk(res: &ResourceInfo) -> (&str, &str) {
    (res.group.as_str(), res.kind.as_str())
}

/// Decodes a request body into the stored form of `res`: a typed round trip through the
/// k8s-openapi struct where one exists. Unknown fields are returned (as paths such as
/// `spec.x`) so the caller can refuse, warn or ignore them.
pub fn decode(res: &ResourceInfo, body: Value) -> Result<(Value, Vec<String>), ApiError> {
    decode::decode(res, body)
}

/// Kinds whose `metadata.generation` counts spec changes. Custom resources always do.
fn has_generation(res: &ResourceInfo) -> bool {
    matches!(
        gk(res),
        ("", "Pod")
            | ("", "ReplicationController")
            | ("apps", "Deployment")
            | ("apps", "ReplicaSet")
            | ("apps", "StatefulSet")
            | ("apps", "DaemonSet")
    ) || !decode::is_typed(res)
}

fn is_apps_workload(res: &ResourceInfo) -> bool {
    res.group == "apps" && matches!(res.kind.as_str(), "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
}

/// The defaults Go applies whenever it decodes a body (`SetDefaults_<Kind>`), so on create
/// and on every update.
pub fn apply_defaults(res: &ResourceInfo, obj: &mut Value) {
    match gk(res) {
        ("", "Pod") => pods::default_pod(obj),
        ("", "PodTemplate") => {
            if let Some(spec) = obj.get_mut("template").and_then(|t| t.get_mut("spec")) {
                pods::default_pod_spec(spec);
            }
        }
        ("", "ReplicationController") => replicasets::default_replication_controller(obj),
        ("apps", "Deployment") => deployments::default_deployment(obj),
        ("apps", "ReplicaSet") => replicasets::default_replica_set(obj),
        ("apps", "StatefulSet") => statefulsets::default_stateful_set(obj),
        ("apps", "DaemonSet") => daemonsets::default_daemon_set(obj),
        ("", "Service") => services::default_service(obj),
        ("", "Namespace") => namespaces::default_namespace(obj),
        ("", "Node") => nodes::default_node(obj),
        ("", "Secret") => secrets::default_secret(obj),
        ("", "PersistentVolumeClaim") => {
            if let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) {
                wire_shape::ensure(spec, "volumeMode", json!("Filesystem"));
            }
        }
        _ => {}
    }
}

fn set_status(obj: &mut Value, status: Value) {
    if let Some(m) = obj.as_object_mut() {
        m.insert("status".into(), status);
    }
}

fn set_generation(obj: &mut Value, generation: i64) {
    if let Some(meta) = wire_shape::ensure(obj, "metadata", json!({})).filter(|m| m.is_object()) {
        meta["generation"] = json!(generation);
    }
}

/// Defaults and strategy `PrepareForCreate` (status reset, generation 1, ...).
pub fn prepare_create(res: &ResourceInfo, obj: &mut Value) {
    if !res.namespaced {
        // a namespace in the body of a cluster-scoped object is ignored, not refused
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("namespace");
        }
    }
    apply_defaults(res, obj);
    match gk(res) {
        ("", "Pod") => pods::prepare_create(obj),
        ("", "Service") => services::prepare_create(obj),
        ("", "Namespace") => namespaces::prepare_create(obj),
        ("", "ReplicationController") | ("apps", "ReplicaSet") => set_status(obj, json!({"replicas": 0})),
        ("apps", "Deployment") => set_status(obj, json!({})),
        ("apps", "StatefulSet") => set_status(obj, json!({"availableReplicas": 0, "replicas": 0})),
        ("apps", "DaemonSet") => {
            set_status(obj, json!({"currentNumberScheduled": 0, "desiredNumberScheduled": 0, "numberMisscheduled": 0, "numberReady": 0}))
        }
        ("", "PersistentVolumeClaim") | ("", "PersistentVolume") => set_status(obj, json!({"phase": "Pending"})),
        ("", "ResourceQuota") => set_status(obj, json!({})),
        _ => {}
    }
    if has_generation(res) {
        set_generation(obj, 1);
    }
}

/// Admission on create (service account for pods, ...), after defaults.
pub fn admit_create(res: &ResourceInfo, obj: &mut Value) {
    match gk(res) {
        ("", "Pod") => pod_admission::admit_pod(obj),
        ("", "Node") => nodes::admit_node(obj),
        _ => {}
    }
}

/// The kind's own rules, on create and (for most kinds) on update.
fn validate_kind(res: &ResourceInfo, obj: &Value) -> Vec<FieldError> {
    let empty = json!({});
    match gk(res) {
        ("", "Pod") => pods::validate_pod_spec(obj.get("spec").unwrap_or(&empty), "spec"),
        ("", "PodTemplate") => pods::validate_pod_spec(obj.pointer("/template/spec").unwrap_or(&empty), "template.spec"),
        ("", "ReplicationController") => replicasets::validate_replication_controller(obj),
        ("apps", "Deployment") => deployments::validate_deployment(obj),
        ("apps", "ReplicaSet") => replicasets::validate_replica_set(obj),
        ("apps", "StatefulSet") => statefulsets::validate_stateful_set(obj),
        ("apps", "DaemonSet") => daemonsets::validate_daemon_set(obj),
        ("", "Service") => services::validate_service(obj),
        ("", "ConfigMap") => configmaps::validate_config_map(obj),
        ("", "Secret") => secrets::validate_secret(obj),
        ("", "Namespace") => namespaces::validate_namespace(obj),
        ("", "Node") => nodes::validate_node(obj),
        ("", "Event") => events::validate_event(obj, events::EventApi::CoreV1),
        // stored, and so validated, as the core Event it converts to
        ("events.k8s.io", "Event") => events::validate_event(obj, events::EventApi::EventsV1),
        _ => Vec::new(),
    }
}

pub fn validate_create(res: &ResourceInfo, obj: &Value) -> Vec<FieldError> {
    let mut errs = validation::validate_object_meta(res, obj);
    errs.extend(validate_kind(res, obj));
    errs
}

/// Everything of a custom resource but `metadata` and `status`: what its generation tracks.
fn custom_spec(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    v
}

/// The status strategy: only `status` (and a few metadata fields) may change through
/// `/status`, so whatever else the client sent is replaced by the stored values.
fn prepare_status_update(res: &ResourceInfo, old: &Value, new: &mut Value) {
    if !decode::is_typed(res) {
        // a custom resource's status update takes only the status (and the field managers
        // that tracked it) from the request
        let status = new.get("status").cloned();
        let managed = new.pointer("/metadata/managedFields").cloned();
        *new = old.clone();
        if let Some(m) = new.as_object_mut() {
            match status {
                Some(s) => m.insert("status".into(), s),
                None => m.remove("status"),
            };
        }
        if let (Some(mf), Some(meta)) = (managed, new.get_mut("metadata").filter(|m| m.is_object())) {
            meta["managedFields"] = mf;
        }
        return;
    }
    if let Some(m) = new.as_object_mut() {
        match old.get("spec") {
            Some(spec) => m.insert("spec".into(), spec.clone()),
            None => m.remove("spec"),
        };
    }
    if is_apps_workload(res) {
        let labels = old.pointer("/metadata/labels").cloned();
        if let Some(meta) = new.get_mut("metadata").and_then(Value::as_object_mut) {
            match labels {
                Some(l) => meta.insert("labels".into(), l),
                None => meta.remove("labels"),
            };
        }
    }
    if gk(res) == ("", "Pod") {
        // the QoS class is decided once, at creation
        if let (Some(q), Some(status)) = (old.pointer("/status/qosClass").cloned(), new.get_mut("status").filter(|s| s.is_object())) {
            status["qosClass"] = q;
        }
    }
}

/// Strategy `PrepareForUpdate`: keep status on the main resource, keep spec on `/status`,
/// bump generation when spec changed.
pub fn prepare_update(res: &ResourceInfo, old: &Value, new: &mut Value, subresource: Option<&str>) {
    match subresource {
        Some("status") => prepare_status_update(res, old, new),
        Some("finalize") => {
            if let Some(status) = old.get("status") {
                set_status(new, status.clone());
            }
        }
        Some(_) => {}
        None => {
            apply_defaults(res, new);
            if res.has_subresource("status") {
                match old.get("status") {
                    Some(status) => set_status(new, status.clone()),
                    None => {
                        new.as_object_mut().map(|m| m.remove("status"));
                    }
                }
            }
            match gk(res) {
                ("", "Namespace") => {
                    if let Some(spec) = old.get("spec") {
                        new["spec"] = spec.clone();
                    }
                    namespaces::label_with_name(new);
                }
                ("", "Service") => services::keep_allocated(old, new),
                _ => {}
            }
        }
    }
    if has_generation(res) {
        let old_generation = old.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
        let changed = if decode::is_typed(res) {
            let annotations_count =
                gk(res) == ("apps", "Deployment") && old.pointer("/metadata/annotations") != new.pointer("/metadata/annotations");
            old.get("spec") != new.get("spec") || annotations_count
        } else {
            custom_spec(old) != custom_spec(new)
        };
        set_generation(new, old_generation + i64::from(changed));
    }
}

pub fn validate_update(res: &ResourceInfo, old: &Value, new: &Value, subresource: Option<&str>) -> Vec<FieldError> {
    let mut errs = validation::validate_object_meta_update(res, old, new);
    if subresource.is_some() {
        return errs;
    }
    errs.extend(match gk(res) {
        ("", "Pod") => pod_update::validate_pod_update(old, new),
        ("apps", "Deployment") => deployments::validate_deployment_update(old, new),
        ("apps", "ReplicaSet") => replicasets::validate_replica_set_update(old, new),
        ("apps", "StatefulSet") => statefulsets::validate_stateful_set_update(old, new),
        ("apps", "DaemonSet") => daemonsets::validate_daemon_set_update(old, new),
        ("", "Service") => services::validate_service_update(old, new),
        ("", "ConfigMap") => configmaps::validate_config_map_update(old, new),
        ("", "Secret") => secrets::validate_secret_update(old, new),
        ("", "Event") => events::validate_event_update(old, new, events::EventApi::CoreV1),
        ("events.k8s.io", "Event") => events::validate_event_update(old, new, events::EventApi::EventsV1),
        _ => validate_kind(res, new),
    });
    errs
}
