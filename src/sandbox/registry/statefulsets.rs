//! Stateful sets: pods with stable identities and their own volumes. Most of the spec is
//! fixed once created, because existing pods and claims were made from it.

use super::strategy::{set_status, workload_status_update, ScalePaths, Strategy};
use serde_json::{json, Value};

use super::pod_template::{default_template, validate_nonnegative, validate_selector_and_template};
use super::wire_shape::ensure;
use crate::sandbox::status::FieldError;

/// `SetDefaults_StatefulSet`, including the claim templates' own defaults.
pub fn default_stateful_set(obj: &mut Value) {
    let Some(spec) = ensure(obj, "spec", json!({})) else { return };
    ensure(spec, "replicas", json!(1));
    ensure(spec, "podManagementPolicy", json!("OrderedReady"));
    let strategy = ensure(spec, "updateStrategy", json!({})).expect("spec is an object");
    ensure(strategy, "type", json!("RollingUpdate"));
    if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
        let ru = ensure(strategy, "rollingUpdate", json!({})).expect("object");
        ensure(ru, "partition", json!(0));
    }
    ensure(spec, "revisionHistoryLimit", json!(10));
    let retention = ensure(spec, "persistentVolumeClaimRetentionPolicy", json!({})).expect("object");
    ensure(retention, "whenDeleted", json!("Retain"));
    ensure(retention, "whenScaled", json!("Retain"));
    if let Some(Value::Array(claims)) = spec.get_mut("volumeClaimTemplates") {
        for c in claims {
            ensure(c, "apiVersion", json!("v1"));
            ensure(c, "kind", json!("PersistentVolumeClaim"));
            if let Some(cs) = ensure(c, "spec", json!({})) {
                ensure(cs, "volumeMode", json!("Filesystem"));
            }
            if let Some(st) = ensure(c, "status", json!({})) {
                ensure(st, "phase", json!("Pending"));
            }
        }
    }
    default_template(spec);
}

pub fn validate_stateful_set(obj: &Value) -> Vec<FieldError> {
    let spec = obj.get("spec").cloned().unwrap_or(json!({}));
    let mut errs = Vec::new();
    let policy = spec.get("podManagementPolicy").and_then(Value::as_str).unwrap_or_default();
    if !["OrderedReady", "Parallel"].contains(&policy) {
        errs.push(FieldError::not_supported("spec.podManagementPolicy", &json!(policy), &["OrderedReady", "Parallel"]));
    }
    let strategy = spec.pointer("/updateStrategy/type").and_then(Value::as_str).unwrap_or_default();
    if !["OnDelete", "RollingUpdate"].contains(&strategy) {
        errs.push(FieldError::not_supported("spec.updateStrategy.type", &json!(strategy), &["OnDelete", "RollingUpdate"]));
    }
    validate_nonnegative(&spec, "replicas", &mut errs);
    validate_nonnegative(&spec, "minReadySeconds", &mut errs);
    validate_selector_and_template(&spec, &mut errs);
    errs
}

/// Fields of a stateful set's spec an update may change.
const UPDATABLE: &[&str] =
    &["replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy", "minReadySeconds"];

pub fn validate_stateful_set_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = validate_stateful_set(new);
    let frozen = |v: &Value| {
        let mut spec = v.get("spec").cloned().unwrap_or(json!({}));
        if let Some(m) = spec.as_object_mut() {
            m.retain(|k, _| !UPDATABLE.contains(&k.as_str()));
        }
        spec
    };
    if frozen(old) != frozen(new) {
        errs.push(FieldError::forbidden(
            "spec",
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        ));
    }
    errs
}

/// The stateful set strategy.
pub struct StatefulSetStrategy;

impl Strategy for StatefulSetStrategy {
    fn defaults(&self, obj: &mut Value) {
        default_stateful_set(obj);
    }
    fn tracks_generation(&self) -> bool {
        true
    }
    fn prepare_for_create(&self, obj: &mut Value) {
        set_status(obj, json!({"availableReplicas": 0, "replicas": 0}));
    }
    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        validate_stateful_set(obj)
    }
    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        validate_stateful_set_update(old, new)
    }
    fn prepare_for_subresource_update(&self, subresource: &str, old: &Value, new: &mut Value) {
        workload_status_update(subresource, old, new);
    }
    fn scale(&self) -> Option<ScalePaths> {
        Some(ScalePaths::workload())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_frozen_fields() {
        let mut s = json!({"spec": {"serviceName": "db", "selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        default_stateful_set(&mut s);
        assert_eq!(s["spec"]["updateStrategy"], json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}));
        assert_eq!(s["spec"]["persistentVolumeClaimRetentionPolicy"], json!({"whenDeleted": "Retain", "whenScaled": "Retain"}));
        assert!(validate_stateful_set(&s).is_empty());
        let mut scaled = s.clone();
        scaled["spec"]["replicas"] = json!(3);
        assert!(validate_stateful_set_update(&s, &scaled).is_empty());
        let mut renamed = s.clone();
        renamed["spec"]["serviceName"] = json!("other");
        assert_eq!(validate_stateful_set_update(&s, &renamed)[0].field, "spec");
    }
}
