//! Nodes: what a kubelet registers. Allocatable defaults to capacity, and a new node is
//! tainted not-ready (admission `TaintNodesByCondition`) until its kubelet reports Ready,
//! so nothing is scheduled on it too early.

use super::strategy::{field_flag, Strategy};
use serde_json::{json, Value};

use super::validation::{label_value, qualified_name};
use super::wire_shape::ensure;
use crate::sandbox::status::FieldError;

pub const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";

/// `SetDefaults_NodeStatus`.
pub fn default_node(obj: &mut Value) {
    let Some(status) = obj.get_mut("status").filter(|s| s.is_object()) else { return };
    if status.get("allocatable").is_none() {
        if let Some(cap) = status.get("capacity").cloned() {
            status["allocatable"] = cap;
        }
    }
}

/// `TaintNodesByCondition` admission on create.
pub fn admit_node(obj: &mut Value) {
    let Some(spec) = ensure(obj, "spec", json!({})) else { return };
    let Some(Value::Array(taints)) = ensure(spec, "taints", json!([])) else { return };
    let present = taints.iter().any(|t| {
        t.get("key").and_then(Value::as_str) == Some(NOT_READY_TAINT) && t.get("effect").and_then(Value::as_str) == Some("NoSchedule")
    });
    if !present {
        taints.push(json!({"effect": "NoSchedule", "key": NOT_READY_TAINT}));
    }
}

const EFFECTS: &[&str] = &["NoExecute", "NoSchedule", "PreferNoSchedule"];

pub fn validate_node(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, t) in obj.pointer("/spec/taints").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let path = format!("spec.taints[{i}]");
        let key = t.get("key").and_then(Value::as_str).unwrap_or_default();
        for m in qualified_name(key) {
            errs.push(FieldError::invalid(format!("{path}.key"), &json!(key), m));
        }
        let value = t.get("value").and_then(Value::as_str).unwrap_or_default();
        for m in label_value(value) {
            errs.push(FieldError::invalid(format!("{path}.value"), &json!(value), m));
        }
        match t.get("effect").and_then(Value::as_str).unwrap_or_default() {
            "" => errs.push(FieldError::required(format!("{path}.effect"), "")),
            e if !EFFECTS.contains(&e) => errs.push(FieldError::not_supported(format!("{path}.effect"), &json!(e), EFFECTS)),
            _ => {}
        }
    }
    errs
}

/// The node strategy.
pub struct NodeStrategy;

impl Strategy for NodeStrategy {
    fn defaults(&self, obj: &mut Value) {
        default_node(obj);
    }
    fn admit_create(&self, obj: &mut Value) {
        admit_node(obj);
    }
    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        validate_node(obj)
    }
    fn delete_returns_status(&self) -> bool {
        true
    }
    fn selectable_fields(&self, obj: &Value) -> Vec<(&'static str, String)> {
        vec![("spec.unschedulable", field_flag(obj, "/spec/unschedulable"))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// p20 `node-create`: allocatable from capacity and the not-ready taint.
    #[test]
    fn create_matches_the_corpus() {
        let mut n = json!({"metadata": {"name": "n"}, "status": {"capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"}}});
        default_node(&mut n);
        admit_node(&mut n);
        assert_eq!(n["status"]["allocatable"], json!({"cpu": "2", "memory": "4Gi", "pods": "110"}));
        assert_eq!(n["spec"], json!({"taints": [{"effect": "NoSchedule", "key": "node.kubernetes.io/not-ready"}]}));
        assert!(validate_node(&n).is_empty());
        let bad = json!({"spec": {"taints": [{"key": "k", "effect": "Sometimes"}]}});
        assert_eq!(validate_node(&bad)[0].field, "spec.taints[0].effect");
    }
}
