//! The CustomResourceDefinition strategy (`pkg/registry/customresourcedefinition/strategy.go`
//! and `etcd.go`): v1 defaults, a status that starts with the storage version only (the
//! naming controller fills the rest), generations that follow the spec, and a DELETE that
//! first adds the `customresourcecleanup.apiextensions.k8s.io` finalizer so the finalizer
//! controller can remove every custom resource before the CRD goes.

use serde_json::{json, Value};

use super::validation;
use crate::sandbox::registry::strategy::keep;
use crate::sandbox::registry::Strategy;
use crate::sandbox::status::FieldError;

/// What blocks a CRD's deletion until its custom resources are gone.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

pub struct CrdStrategy;

/// The name of the version marked `storage`, if any.
fn storage_version(crd: &Value) -> Option<String> {
    crd.pointer("/spec/versions")?
        .as_array()?
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool).unwrap_or(false))
        .and_then(|v| v.get("name").and_then(Value::as_str))
        .map(String::from)
}

/// Adds the storage version to `status.storedVersions` when it is not there yet.
fn record_storage_version(crd: &mut Value) {
    let Some(v) = storage_version(crd) else { return };
    if !crd.get("status").is_some_and(Value::is_object) {
        crd["status"] = json!({});
    }
    let status = &mut crd["status"];
    if !status.get("storedVersions").is_some_and(Value::is_array) {
        status["storedVersions"] = json!([]);
    }
    if let Some(stored) = status["storedVersions"].as_array_mut() {
        if !stored.iter().any(|s| s.as_str() == Some(v.as_str())) {
            stored.push(json!(v));
        }
    }
}

impl Strategy for CrdStrategy {
    /// `SetDefaults_CustomResourceDefinitionSpec` (v1): conversion `None`, the singular
    /// and list kind from the kind.
    fn defaults(&self, obj: &mut Value) {
        let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else { return };
        if spec.get("conversion").is_none_or(Value::is_null) {
            spec["conversion"] = json!({"strategy": "None"});
        }
        let kind = spec.pointer("/names/kind").and_then(Value::as_str).unwrap_or_default().to_string();
        if let Some(names) = spec.get_mut("names").filter(|n| n.is_object()) {
            if names.get("singular").and_then(Value::as_str).is_none_or(str::is_empty) && !kind.is_empty() {
                names["singular"] = json!(kind.to_lowercase());
            }
            if names.get("listKind").and_then(Value::as_str).is_none_or(str::is_empty) && !kind.is_empty() {
                names["listKind"] = json!(format!("{kind}List"));
            }
        }
    }
    fn tracks_generation(&self) -> bool {
        true
    }
    fn spec_changed(&self, old: &Value, new: &Value) -> bool {
        old.get("spec") != new.get("spec")
    }
    fn prepare_for_create(&self, obj: &mut Value) {
        obj["status"] = json!({"acceptedNames": {"kind": "", "plural": ""}, "conditions": null, "storedVersions": []});
        record_storage_version(obj);
    }
    fn prepare_for_update(&self, old: &Value, new: &mut Value) {
        keep(old, new, "status");
        record_storage_version(new);
    }
    fn prepare_for_subresource_update(&self, subresource: &str, old: &Value, new: &mut Value) {
        if subresource == "status" {
            keep(old, new, "spec");
        }
    }
    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        validation::validate(obj)
    }
    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        validation::validate_update(old, new)
    }
    /// `etcd.go` Delete: a CRD is first marked, with the cleanup finalizer, and leaves once
    /// the finalizer controller removed it.
    fn begin_deletion(&self, obj: &Value) -> Option<Value> {
        let mut next = obj.clone();
        let mut finalizers = crate::sandbox::meta::finalizers(obj);
        if !finalizers.iter().any(|f| f == CLEANUP_FINALIZER) {
            finalizers.push(CLEANUP_FINALIZER.into());
        }
        if let Some(meta) = next.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("deletionTimestamp".into(), json!(crate::sandbox::meta::now_rfc3339()));
            meta.insert("finalizers".into(), json!(finalizers));
        }
        let status = next.get_mut("status").filter(|s| s.is_object());
        if let Some(status) = status {
            super::conditions::set(
                status,
                "Terminating",
                "True",
                "InstanceDeletionPending",
                "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon",
            );
        }
        Some(next)
    }
    fn deletion_may_complete(&self, _obj: &Value) -> bool {
        true
    }
}
