//! Daemon sets: one pod per (matching) node, rolled one node at a time by default.

use super::strategy::{set_status, workload_status_update, Strategy};
use serde_json::{json, Value};

use super::pod_template::{default_template, validate_nonnegative, validate_selector_and_template, validate_selector_unchanged};
use super::wire_shape::ensure;
use crate::sandbox::status::FieldError;

/// `SetDefaults_DaemonSet`.
pub fn default_daemon_set(obj: &mut Value) {
    let Some(spec) = ensure(obj, "spec", json!({})) else { return };
    let strategy = ensure(spec, "updateStrategy", json!({})).expect("spec is an object");
    ensure(strategy, "type", json!("RollingUpdate"));
    if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
        let ru = ensure(strategy, "rollingUpdate", json!({})).expect("object");
        ensure(ru, "maxUnavailable", json!(1));
        ensure(ru, "maxSurge", json!(0));
    }
    ensure(spec, "revisionHistoryLimit", json!(10));
    default_template(spec);
}

pub fn validate_daemon_set(obj: &Value) -> Vec<FieldError> {
    let spec = obj.get("spec").cloned().unwrap_or(json!({}));
    let mut errs = Vec::new();
    validate_selector_and_template(&spec, &mut errs);
    validate_nonnegative(&spec, "minReadySeconds", &mut errs);
    validate_nonnegative(&spec, "revisionHistoryLimit", &mut errs);
    let strategy = spec.pointer("/updateStrategy/type").and_then(Value::as_str).unwrap_or_default();
    if !["OnDelete", "RollingUpdate"].contains(&strategy) {
        errs.push(FieldError::not_supported("spec.updateStrategy.type", &json!(strategy), &["OnDelete", "RollingUpdate"]));
    }
    errs
}

pub fn validate_daemon_set_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = validate_daemon_set(new);
    validate_selector_unchanged(old, new, &mut errs);
    errs
}

/// The daemon set strategy.
pub struct DaemonSetStrategy;

impl Strategy for DaemonSetStrategy {
    fn defaults(&self, obj: &mut Value) {
        default_daemon_set(obj);
    }
    fn tracks_generation(&self) -> bool {
        true
    }
    fn prepare_for_create(&self, obj: &mut Value) {
        set_status(obj, json!({"currentNumberScheduled": 0, "desiredNumberScheduled": 0, "numberMisscheduled": 0, "numberReady": 0}));
    }
    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        validate_daemon_set(obj)
    }
    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        validate_daemon_set_update(old, new)
    }
    fn prepare_for_subresource_update(&self, subresource: &str, old: &Value, new: &mut Value) {
        workload_status_update(subresource, old, new);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let mut d = json!({"spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        default_daemon_set(&mut d);
        assert_eq!(d["spec"]["updateStrategy"], json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}));
        assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
        assert!(validate_daemon_set(&d).is_empty());
    }
}
