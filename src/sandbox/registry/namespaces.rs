//! Namespaces: named like DNS labels, labelled with their own name (so network policies can
//! select them), finalized by `kubernetes` (the namespace controller empties them first)
//! and born Active. Their finalizers only change through `/finalize`.

use serde_json::{json, Value};

use super::validation::qualified_name;
use super::wire_shape::ensure;
use crate::sandbox::status::FieldError;

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
