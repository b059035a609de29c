//! Replica sets (apps/v1) and their ancestor, replication controllers (core/v1): a count of
//! identical pods selected by labels.

use super::strategy::{set_status, workload_status_update, ScalePaths, Strategy};
use serde_json::{json, Value};

use super::pod_template::{default_template, validate_nonnegative, validate_selector_and_template, validate_selector_unchanged};
use super::pods::validate_pod_spec;
use super::validation::{validate_annotations, validate_labels};
use super::wire_shape::ensure;
use crate::sandbox::status::FieldError;

/// `SetDefaults_ReplicaSet`.
pub fn default_replica_set(obj: &mut Value) {
    let Some(spec) = ensure(obj, "spec", json!({})) else { return };
    ensure(spec, "replicas", json!(1));
    default_template(spec);
}

pub fn validate_replica_set(obj: &Value) -> Vec<FieldError> {
    let spec = obj.get("spec").cloned().unwrap_or(json!({}));
    let mut errs = Vec::new();
    validate_nonnegative(&spec, "replicas", &mut errs);
    validate_nonnegative(&spec, "minReadySeconds", &mut errs);
    validate_selector_and_template(&spec, &mut errs);
    errs
}

pub fn validate_replica_set_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = validate_replica_set(new);
    validate_selector_unchanged(old, new, &mut errs);
    errs
}

/// `SetDefaults_ReplicationController`: the selector (a plain map here) and the object's own
/// labels default to the template's labels.
pub fn default_replication_controller(obj: &mut Value) {
    let template_labels = obj.pointer("/spec/template/metadata/labels").cloned();
    if let Some(labels) = template_labels.filter(|l| l.as_object().is_some_and(|m| !m.is_empty())) {
        let spec = ensure(obj, "spec", json!({})).expect("object");
        if spec.get("selector").and_then(Value::as_object).is_none_or(|m| m.is_empty()) {
            spec["selector"] = labels.clone();
        }
        let meta = ensure(obj, "metadata", json!({})).expect("object");
        if meta.get("labels").and_then(Value::as_object).is_none_or(|m| m.is_empty()) {
            meta["labels"] = labels;
        }
    }
    let Some(spec) = ensure(obj, "spec", json!({})) else { return };
    ensure(spec, "replicas", json!(1));
    if spec.get("template").is_some() {
        default_template(spec);
    }
}

/// `ValidateReplicationControllerSpec`: a non-empty selector matching the template.
pub fn validate_replication_controller(obj: &Value) -> Vec<FieldError> {
    let spec = obj.get("spec").cloned().unwrap_or(json!({}));
    let mut errs = Vec::new();
    validate_nonnegative(&spec, "replicas", &mut errs);
    let selector = spec.get("selector").and_then(Value::as_object).cloned().unwrap_or_default();
    if selector.is_empty() {
        errs.push(FieldError::required("spec.selector", ""));
    } else {
        errs.extend(validate_labels(spec.get("selector"), "spec.selector"));
    }
    match spec.get("template") {
        None => errs.push(FieldError::required("spec.template", "")),
        Some(t) => {
            let labels = t.pointer("/metadata/labels");
            let matched = !selector.is_empty() && selector.iter().all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
            if !selector.is_empty() && !matched {
                errs.push(FieldError::invalid(
                    "spec.template.metadata.labels",
                    labels.unwrap_or(&Value::Null),
                    "`selector` does not match template `labels`",
                ));
            }
            errs.extend(validate_labels(labels, "spec.template.metadata.labels"));
            errs.extend(validate_annotations(t.pointer("/metadata/annotations"), "spec.template.metadata.annotations"));
            errs.extend(validate_pod_spec(t.get("spec").unwrap_or(&json!({})), "spec.template.spec"));
        }
    }
    errs
}

/// The replica set strategy.
pub struct ReplicaSetStrategy;

impl Strategy for ReplicaSetStrategy {
    fn defaults(&self, obj: &mut Value) {
        default_replica_set(obj);
    }
    fn tracks_generation(&self) -> bool {
        true
    }
    fn prepare_for_create(&self, obj: &mut Value) {
        set_status(obj, json!({"replicas": 0}));
    }
    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        validate_replica_set(obj)
    }
    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        validate_replica_set_update(old, new)
    }
    fn prepare_for_subresource_update(&self, subresource: &str, old: &Value, new: &mut Value) {
        workload_status_update(subresource, old, new);
    }
    fn scale(&self) -> Option<ScalePaths> {
        Some(ScalePaths::workload())
    }
    fn selectable_fields(&self, obj: &Value) -> Vec<(&'static str, String)> {
        vec![("status.replicas", obj.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0).to_string())]
    }
}

/// The replication controller strategy: a replica set with a plain map for a selector.
pub struct ReplicationControllerStrategy;

impl Strategy for ReplicationControllerStrategy {
    fn defaults(&self, obj: &mut Value) {
        default_replication_controller(obj);
    }
    fn tracks_generation(&self) -> bool {
        true
    }
    fn prepare_for_create(&self, obj: &mut Value) {
        set_status(obj, json!({"replicas": 0}));
    }
    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        validate_replication_controller(obj)
    }
    fn scale(&self) -> Option<ScalePaths> {
        Some(ScalePaths { selector: Some("/spec/selector".into()), ..ScalePaths::workload() })
    }
    fn selectable_fields(&self, obj: &Value) -> Vec<(&'static str, String)> {
        vec![("status.replicas", obj.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0).to_string())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_set_defaults_and_validation() {
        let mut rs = json!({"spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        default_replica_set(&mut rs);
        assert_eq!(rs["spec"]["replicas"], 1);
        assert_eq!(rs["spec"]["template"]["spec"]["restartPolicy"], "Always");
        assert!(validate_replica_set(&rs).is_empty());
        let mut changed = rs.clone();
        changed["spec"]["selector"]["matchLabels"]["a"] = json!("c");
        changed["spec"]["template"]["metadata"]["labels"]["a"] = json!("c");
        assert_eq!(validate_replica_set_update(&rs, &changed).len(), 1);
    }

    #[test]
    fn replication_controller_selector_defaults_to_template_labels() {
        let mut rc = json!({"metadata": {"name": "r"}, "spec": {"template": {"metadata": {"labels": {"app": "r"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        default_replication_controller(&mut rc);
        assert_eq!(rc["spec"]["selector"], json!({"app": "r"}));
        assert_eq!(rc["metadata"]["labels"], json!({"app": "r"}));
        assert!(validate_replication_controller(&rc).is_empty());
    }
}
