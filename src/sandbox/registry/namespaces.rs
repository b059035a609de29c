//! Namespaces: named like DNS labels, labelled with their own name (so network policies can
//! select them), finalized by `kubernetes` (the namespace controller empties them first)
//! and born Active. Their finalizers only change through `/finalize`.

use super::strategy::{field_text, keep, Strategy};
use serde_json::{json, Value};

use super::validation::qualified_name;
use super::wire_shape::ensure;
use crate::sandbox::keys::object_key;
use crate::sandbox::resources::{Catalogue, ResourceInfo};
use crate::sandbox::status::{ApiError, FieldError};

pub const NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Applied on create and on every update: the name label always tells the truth.
pub fn label_with_name(obj: &mut Value) {
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    if name.is_empty() {
        return;
    }
    let Some(meta) = ensure(obj, "metadata", json!({})) else { return };
    let labels = ensure(meta, "labels", json!({})).expect("metadata is an object");
    if !labels.is_object() {
        *labels = json!({});
    }
    labels[NAME_LABEL] = json!(name);
}

/// `SetDefaults_NamespaceStatus`.
pub fn default_namespace(obj: &mut Value) {
    if let Some(status) = ensure(obj, "status", json!({})) {
        ensure(status, "phase", json!("Active"));
    }
    // A defaulting function upstream, so the field manager records it as the client's.
    label_with_name(obj);
}

/// The namespace strategy's `PrepareForCreate`.
pub fn prepare_create(obj: &mut Value) {
    if let Some(m) = obj.as_object_mut() {
        m.insert("spec".into(), json!({"finalizers": ["kubernetes"]}));
        m.insert("status".into(), json!({"phase": "Active"}));
    }
    label_with_name(obj);
}

pub fn validate_namespace(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, f) in obj.pointer("/spec/finalizers").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let s = f.as_str().unwrap_or_default();
        let path = format!("spec.finalizers[{i}]");
        for m in qualified_name(s) {
            errs.push(FieldError::invalid(&path, &json!(s), m));
        }
        if !s.contains('/') && s != "kubernetes" {
            errs.push(FieldError::invalid(&path, &json!(s), "name is neither a standard finalizer name nor is it fully qualified"));
        }
    }
    let phase = obj.pointer("/status/phase").and_then(Value::as_str).unwrap_or_default();
    if !phase.is_empty() && phase != "Active" && phase != "Terminating" {
        errs.push(FieldError::not_supported("status.phase", &json!(phase), &["Active", "Terminating"]));
    }
    errs
}

/// The namespace strategy, with the namespace storage's own deletion: `Terminating` until
/// the namespace controller has emptied it and removed its `kubernetes` finalizer.
pub struct NamespaceStrategy;

impl Strategy for NamespaceStrategy {
    fn defaults(&self, obj: &mut Value) {
        default_namespace(obj);
    }
    fn prepare_for_create(&self, obj: &mut Value) {
        prepare_create(obj);
    }
    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        validate_namespace(obj)
    }
    /// Its finalizers change only through `/finalize`.
    fn prepare_for_update(&self, old: &Value, new: &mut Value) {
        keep(old, new, "spec");
        label_with_name(new);
    }
    fn prepare_for_subresource_update(&self, subresource: &str, old: &Value, new: &mut Value) {
        match subresource {
            "status" => keep(old, new, "spec"),
            "finalize" => keep(old, new, "status"),
            _ => {}
        }
    }
    fn begin_deletion(&self, obj: &Value) -> Option<Value> {
        let mut next = obj.clone();
        if let Some(meta) = next.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("deletionTimestamp".into(), json!(crate::sandbox::meta::now_rfc3339()));
        }
        if let Some(o) = next.as_object_mut() {
            o.insert("status".into(), json!({"phase": "Terminating"}));
        }
        Some(next)
    }
    fn deletion_may_complete(&self, obj: &Value) -> bool {
        obj.pointer("/spec/finalizers").and_then(Value::as_array).is_none_or(|f| f.is_empty())
    }
    fn selectable_fields(&self, obj: &Value) -> Vec<(&'static str, String)> {
        vec![("status.phase", field_text(obj, "/status/phase"))]
    }
}

/// The NamespaceLifecycle admission plugin on create: the namespace must exist and not be
/// terminating. `get` reads a stored object by key.
pub fn admit_namespace_lifecycle(
    cat: &Catalogue,
    get: impl Fn(&str) -> Option<Value>,
    res: &ResourceInfo,
    namespace: &str,
    name: &str,
) -> Result<(), ApiError> {
    let Some(namespaces) = cat.find("", "v1", "namespaces") else { return Ok(()) };
    let Some(ns) = get(&object_key(namespaces, None, namespace)) else {
        return Err(ApiError::not_found("namespaces", namespace));
    };
    if ns.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null()) {
        let e = ApiError::forbidden(
            &res.qualified_resource(),
            name,
            &format!("unable to create new content in namespace {namespace} because it is being terminated"),
        );
        return Err(e.with_details(json!({
            "name": name, "kind": res.plural,
            "causes": [{"reason": "NamespaceTerminating", "message": format!("namespace {namespace} is being terminated"), "field": "metadata.namespace"}]
        })));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// p02 `create`.
    #[test]
    fn create_matches_the_corpus() {
        let mut ns = json!({"metadata": {"name": "extra", "labels": {"team": "t"}}});
        default_namespace(&mut ns);
        prepare_create(&mut ns);
        assert_eq!(ns["metadata"]["labels"], json!({"team": "t", "kubernetes.io/metadata.name": "extra"}));
        assert_eq!(ns["spec"], json!({"finalizers": ["kubernetes"]}));
        assert_eq!(ns["status"], json!({"phase": "Active"}));
        assert!(validate_namespace(&ns).is_empty());
    }
}
