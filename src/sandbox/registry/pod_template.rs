//! The pod template of a workload (deployment, replica set, stateful set, daemon set):
//! defaulted like a pod spec, and validated so that the pods it stamps out would be
//! accepted and would be selected by their owner.

use serde_json::{json, Value};

use super::label_selector;
use super::pods::{default_pod_spec, validate_pod_spec};
use super::validation::{validate_annotations, validate_labels};
use super::wire_shape::ensure;
use crate::sandbox::status::FieldError;

/// Defaults of `spec.template` (the pod spec's own; admission never sees templates).
pub fn default_template(workload_spec: &mut Value) {
    let Some(template) = ensure(workload_spec, "template", json!({})) else { return };
    if let Some(spec) = ensure(template, "spec", json!({})) {
        default_pod_spec(spec);
    }
}

/// `spec.selector` and `spec.template` of a controller whose pods must be selected by it
/// and run forever (`ValidatePodTemplateSpecForReplicaSet`). A missing selector selects
/// nothing, so the template also fails to match.
pub fn validate_selector_and_template(spec: &Value, errs: &mut Vec<FieldError>) {
    let selector = spec.get("selector");
    let empty = label_selector::is_empty(selector);
    if empty {
        errs.push(FieldError::required("spec.selector", ""));
    } else if let Some(s) = selector {
        errs.extend(label_selector::validate(s, "spec.selector"));
    }
    let template = spec.get("template").cloned().unwrap_or(json!({}));
    let labels = template.get("metadata").and_then(|m| m.get("labels"));
    let matched = match selector {
        Some(s) if !empty => label_selector::matches(s, labels),
        _ => false,
    };
    if !matched {
        errs.push(FieldError::invalid(
            "spec.template.metadata.labels",
            labels.unwrap_or(&Value::Null),
            "`selector` does not match template `labels`",
        ));
    }
    let meta = template.get("metadata");
    errs.extend(validate_labels(meta.and_then(|m| m.get("labels")), "spec.template.metadata.labels"));
    errs.extend(validate_annotations(meta.and_then(|m| m.get("annotations")), "spec.template.metadata.annotations"));
    let pod_spec = template.get("spec").cloned().unwrap_or(json!({}));
    errs.extend(validate_pod_spec(&pod_spec, "spec.template.spec"));
    let restart = pod_spec.get("restartPolicy").and_then(Value::as_str).unwrap_or_default();
    if !restart.is_empty() && restart != "Always" {
        errs.push(FieldError::not_supported("spec.template.spec.restartPolicy", &json!(restart), &["Always"]));
    }
    if pod_spec.get("activeDeadlineSeconds").is_some_and(|v| !v.is_null()) {
        errs.push(FieldError::forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            "activeDeadlineSeconds in ReplicaSet is not Supported",
        ));
    }
}

/// `spec.replicas` (and other counts) may not be negative.
pub fn validate_nonnegative(spec: &Value, key: &str, errs: &mut Vec<FieldError>) {
    if let Some(n) = spec.get(key).and_then(Value::as_i64).filter(|n| *n < 0) {
        errs.push(FieldError::invalid(format!("spec.{key}"), &json!(n), "must be greater than or equal to 0"));
    }
}

/// The selector of a workload cannot change: its existing pods would be orphaned.
pub fn validate_selector_unchanged(old: &Value, new: &Value, errs: &mut Vec<FieldError>) {
    let (o, n) = (old.get("spec").and_then(|s| s.get("selector")), new.get("spec").and_then(|s| s.get("selector")));
    if o != n {
        errs.push(FieldError::invalid("spec.selector", n.unwrap_or(&Value::Null), "field is immutable"));
    }
}
