//! `x-kubernetes-embedded-resource`: an object inside a custom resource that is itself a
//! Kubernetes object (a pod template, say) must carry `apiVersion` and `kind`, and its
//! `metadata` must pass `ValidateObjectMeta` like any object the apiserver stores.

use super::field_path::child;
use serde_json::{json, Map, Value};

use super::node::Node;
use crate::sandbox::registry::validation::{dns1035_label, dns1123_label, validate_annotations, validate_finalizers, validate_labels};
use crate::sandbox::status::FieldError;

pub fn validate(s: Node, path: &str, x: &Value, errs: &mut Vec<FieldError>) {
    validate_at(s, false, path, x, errs)
}

/// `objectmeta.Validate`; `resource_root` checks `x` itself as a resource.
pub fn validate_at(s: Node, resource_root: bool, path: &str, x: &Value, errs: &mut Vec<FieldError>) {
    if !s.0.is_object() {
        return;
    }
    match x {
        Value::Object(map) => {
            if resource_root || s.embedded_resource() {
                embedded_resource(path, map, errs);
            }
            for (k, v) in map {
                if let Some(prop) = s.property(k) {
                    validate(prop, &child(path, k), v, errs);
                } else if let Some(extra) = s.additional_schema() {
                    validate(extra, &format!("{path}[{k}]"), v, errs);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = s.items() {
                for (i, v) in items.iter().enumerate() {
                    validate(item_schema, &format!("{path}[{i}]"), v, errs);
                }
            }
        }
        _ => {}
    }
}

/// Go's `%T` of a decoded JSON value.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() => "int64",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn embedded_resource(path: &str, x: &Map<String, Value>, errs: &mut Vec<FieldError>) {
    for k in ["apiVersion", "kind"] {
        if !x.contains_key(k) {
            errs.push(FieldError::required(child(path, k), ""));
        }
    }
    for (k, v) in x {
        match k.as_str() {
            "apiVersion" => match v.as_str() {
                None => errs.push(FieldError::invalid(child(path, k), v, "must be a string")),
                Some("") => errs.push(FieldError::invalid(child(path, k), v, "must not be empty")),
                Some(av) if av.matches('/').count() > 1 => {
                    errs.push(FieldError::invalid(child(path, k), v, format!("unexpected GroupVersion string: {av}")))
                }
                Some(_) => {}
            },
            "kind" => match v.as_str() {
                None => errs.push(FieldError::invalid(child(path, k), v, "must be a string")),
                Some("") => errs.push(FieldError::invalid(child(path, k), v, "must not be empty")),
                Some(kind) => {
                    let problems = dns1035_label(&kind.to_lowercase());
                    if !problems.is_empty() {
                        errs.push(FieldError::invalid(
                            child(path, k),
                            v,
                            format!("may have mixed case, but should otherwise match: {}", problems.join(",")),
                        ));
                    }
                }
            },
            "metadata" => match v {
                Value::Object(meta) => errs.extend(object_meta(meta, &child(path, "metadata"))),
                Value::Null => {}
                other => errs.push(FieldError::invalid(
                    child(path, "metadata"),
                    other,
                    format!("invalid metadata: expected object, got {}", go_type(other)),
                )),
            },
            _ => {}
        }
    }
}

/// `path.ValidatePathSegmentName`: the name rule of custom resources.
fn path_segment_name(name: &str, prefix: bool) -> Vec<String> {
    let mut msgs = Vec::new();
    if !prefix && (name == "." || name == "..") {
        msgs.push(format!("may not be '{name}'"));
        return msgs;
    }
    for bad in ["/", "%"] {
        if name.contains(bad) {
            msgs.push(format!("may not contain '{bad}'"));
        }
    }
    msgs
}

/// `ValidateObjectMeta` of an embedded object (a missing name is fine there).
fn object_meta(meta: &Map<String, Value>, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let text = |k: &str| meta.get(k).and_then(Value::as_str).unwrap_or_default();
    let gn = text("generateName");
    if !gn.is_empty() {
        for m in path_segment_name(gn, true) {
            errs.push(FieldError::invalid(child(path, "generateName"), &json!(gn), m));
        }
    }
    let name = text("name");
    if !name.is_empty() {
        for m in path_segment_name(name, false) {
            errs.push(FieldError::invalid(child(path, "name"), &json!(name), m));
        }
    }
    let ns = text("namespace");
    if !ns.is_empty() {
        for m in dns1123_label(ns) {
            errs.push(FieldError::invalid(child(path, "namespace"), &json!(ns), m));
        }
    }
    if let Some(g) = meta.get("generation").and_then(Value::as_i64).filter(|g| *g < 0) {
        errs.push(FieldError::invalid(child(path, "generation"), &json!(g), "must be greater than or equal to 0"));
    }
    errs.extend(validate_labels(meta.get("labels"), &child(path, "labels")));
    errs.extend(validate_annotations(meta.get("annotations"), &child(path, "annotations")));
    errs.extend(validate_finalizers(meta.get("finalizers"), &child(path, "finalizers")));
    errs
}

/// The fields of `ObjectMeta`: anything else in an embedded resource's `metadata` is
/// dropped when upstream round-trips it through the Go type.
const OBJECT_META_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// `objectmeta.Coerce` of the embedded resources in `x`: their `metadata` keeps only
/// `ObjectMeta` fields (a null `creationTimestamp` goes too); the dropped paths go to `unknown`
/// (`spec.template.metadata.foo`).
pub fn coerce(s: Node, path: &str, x: &mut Value, unknown: &mut Vec<String>) {
    if !s.0.is_object() {
        return;
    }
    match x {
        Value::Object(map) => {
            if s.embedded_resource() {
                if let Some(Value::Object(meta)) = map.get_mut("metadata") {
                    let meta_path = child(path, "metadata");
                    meta.retain(|k, v| {
                        let known = OBJECT_META_FIELDS.contains(&k.as_str());
                        if !known {
                            unknown.push(child(&meta_path, k));
                        }
                        known && !(k == "creationTimestamp" && v.is_null())
                    });
                }
            }
            for (k, v) in map.iter_mut() {
                if let Some(prop) = s.property(k) {
                    coerce(prop, &child(path, k), v, unknown);
                } else if let Some(extra) = s.additional_schema() {
                    coerce(extra, &child(path, k), v, unknown);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = s.items() {
                for (i, v) in items.iter_mut().enumerate() {
                    coerce(item_schema, &format!("{path}[{i}]"), v, unknown);
                }
            }
        }
        _ => {}
    }
}
