//! `ValidateCustomResourceDefinitionOpenAPISchema` without its CEL part: the rules a CRD's
//! schema keywords obey before structure is even looked at — no `$ref`, `definitions` or
//! tuple `items`, no `uniqueItems` (quadratic), sane list and map types, and no defaults
//! in the resource's own `metadata`/`apiVersion`/`kind`, and well-formed
//! `x-kubernetes-validations` entries (their CEL is neither compiled nor costed).

use super::field_path::{child, key};
use serde_json::{json, Value};

use super::node::{Additional, Node};
use crate::sandbox::status::FieldError;

const TYPES: &[&str] = &["array", "boolean", "integer", "number", "object", "string"];
const META_FIELDS: &[&str] = &["metadata", "apiVersion", "kind"];

/// What the surrounding schema decides for this node (upstream's `specStandardValidator`).
#[derive(Clone, Default)]
struct Context {
    /// Why a `default` is not allowed here, if it is not.
    forbidden_defaults: Option<String>,
    inside_resource_meta: bool,
}

pub fn schema_errors(schema: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    walk(Node(schema), path, &Context::default(), true, &mut errs);
    errs
}

fn standard(s: Node, path: &str, ctx: &Context, errs: &mut Vec<FieldError>) {
    let ty = s.ty();
    if !ty.is_empty() && !TYPES.contains(&ty) {
        errs.push(FieldError::not_supported(child(path, "type"), &json!(ty), TYPES));
    }
    if s.default().is_some() {
        if let Some(reason) = &ctx.forbidden_defaults {
            errs.push(FieldError::forbidden(child(path, "default"), format!("must not be set {reason}")));
        }
    }
    if s.str("id").is_some_and(|id| !id.is_empty()) {
        errs.push(FieldError::forbidden(child(path, "id"), "id is not supported"));
    }
    let unsupported = [
        ("additionalItems", "additionalItems is not supported"),
        ("patternProperties", "patternProperties is not supported"),
        ("definitions", "definitions is not supported"),
        ("dependencies", "dependencies is not supported"),
        ("$ref", "$ref is not supported"),
    ];
    for (name, detail) in unsupported {
        let set = match s.get(name) {
            None | Some(Value::Null) => false,
            Some(Value::Object(m)) if name == "patternProperties" || name == "definitions" => !m.is_empty(),
            Some(_) => true,
        };
        if set {
            errs.push(FieldError::forbidden(child(path, name), detail));
        }
    }
    if ty == "null" {
        errs.push(FieldError::forbidden(child(path, "type"), "type cannot be set to null, use nullable as an alternative"));
    }
    if s.get("items").is_some_and(Value::is_array) {
        errs.push(FieldError::forbidden(child(path, "items"), "items must be a schema object and not an array"));
    }
    if ctx.inside_resource_meta && s.embedded_resource() {
        errs.push(FieldError::forbidden(child(path, "x-kubernetes-embedded-resource"), "must not be used inside of resource meta"));
    }
}

fn walk(s: Node, path: &str, ctx: &Context, is_root: bool, errs: &mut Vec<FieldError>) {
    if !s.0.is_object() {
        return;
    }
    standard(s, path, ctx, errs);
    if s.flag("uniqueItems") {
        errs.push(FieldError::forbidden(
            child(path, "uniqueItems"),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ));
    }
    let has_properties = s.properties().is_some_and(|p| !p.is_empty());
    match s.additional() {
        Additional::Absent => {}
        additional => {
            if has_properties && !matches!(additional, Additional::Bool(true)) {
                errs.push(FieldError::forbidden(
                    child(path, "additionalProperties"),
                    "additionalProperties and properties are mutual exclusive",
                ));
            }
            if let Additional::Schema(a) = additional {
                let mut sub = ctx.clone();
                if ctx.inside_resource_meta {
                    sub.forbidden_defaults = Some("inside additionalProperties applying to object metadata".into());
                }
                walk(a, &child(path, "additionalProperties"), &sub, false, errs);
            }
        }
    }
    for (name, p) in s.properties().into_iter().flatten() {
        let mut sub = ctx.clone();
        if (is_root || s.embedded_resource()) && META_FIELDS.contains(&name.as_str()) {
            sub.inside_resource_meta = true;
            if is_root {
                sub.forbidden_defaults = Some(format!("in top-level {name}"));
            }
        }
        walk(Node(p), &key(&child(path, "properties"), name), &sub, false, errs);
    }
    if let Some(not) = s.get("not").filter(|n| n.is_object()) {
        walk(Node(not), &child(path, "not"), ctx, false, errs);
    }
    for junctor in ["allOf", "oneOf", "anyOf"] {
        for (i, alt) in s.list(junctor).iter().enumerate() {
            walk(Node(alt), &format!("{}[{i}]", child(path, junctor)), ctx, false, errs);
        }
    }
    if let Some(items) = s.items() {
        walk(items, &child(path, "items"), ctx, false, errs);
    }
    if s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(false)) {
        errs.push(FieldError::invalid(child(path, "x-kubernetes-preserve-unknown-fields"), &json!(false), "must be true or undefined"));
    }
    list_and_map_types(s, path, errs);
    validation_rules(s, path, errs);
}

/// The `reason`s a rule may give its failures.
const RULE_REASONS: &[&str] = &["FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired"];

/// The shape of each `x-kubernetes-validations` rule (the CEL itself is not compiled).
fn validation_rules(s: Node, path: &str, errs: &mut Vec<FieldError>) {
    let has_newlines = |t: &str| t.contains('\n') || t.contains('\r');
    for (i, rule) in s.list("x-kubernetes-validations").iter().enumerate() {
        let at = |name: &str| child(&format!("{}[{i}]", child(path, "x-kubernetes-validations")), name);
        let text = |name: &str| rule.get(name).and_then(Value::as_str).unwrap_or_default();
        let (expr, message, message_expr, field_path) = (text("rule"), text("message"), text("messageExpression"), text("fieldPath"));
        if expr.trim().is_empty() {
            errs.push(FieldError::required(at("rule"), "rule is not specified"));
        } else if !message.is_empty() && message.trim().is_empty() {
            errs.push(FieldError::invalid(at("message"), &json!(message), "must be non-empty if specified"));
        } else if has_newlines(message.trim()) {
            errs.push(FieldError::invalid(at("message"), &json!(message), "must not contain line breaks"));
        } else if has_newlines(expr.trim()) && message.trim().is_empty() {
            errs.push(FieldError::required(at("message"), "message must be specified if rule contains line breaks"));
        }
        if !message_expr.is_empty() && message_expr.trim().is_empty() {
            errs.push(FieldError::required(at("messageExpression"), "messageExpression must be non-empty if specified"));
        }
        if let Some(reason) = rule.get("reason").and_then(Value::as_str) {
            if !RULE_REASONS.contains(&reason) {
                errs.push(FieldError::not_supported(at("reason"), &json!(reason), RULE_REASONS));
            }
        }
        if !field_path.is_empty() && field_path.trim().is_empty() {
            errs.push(FieldError::invalid(at("fieldPath"), &json!(field_path), "must be non-empty if specified"));
        }
        if has_newlines(field_path) {
            errs.push(FieldError::invalid(at("fieldPath"), &json!(field_path), "must not contain line breaks"));
        }
    }
}

fn type_must_be(s: Node, path: &str, want: &str, why: &str, errs: &mut Vec<FieldError>) {
    let detail = format!("must be {want} if {why} is specified");
    if s.ty().is_empty() {
        errs.push(FieldError::required(child(path, "type"), detail));
    } else if s.ty() != want {
        errs.push(FieldError::invalid(child(path, "type"), &json!(s.ty()), detail));
    }
}

fn list_and_map_types(s: Node, path: &str, errs: &mut Vec<FieldError>) {
    if let Some(map_type) = s.str("x-kubernetes-map-type") {
        type_must_be(s, path, "object", "x-kubernetes-map-type", errs);
        if map_type != "atomic" && map_type != "granular" {
            errs.push(FieldError::not_supported(child(path, "x-kubernetes-map-type"), &json!(map_type), &["atomic", "granular"]));
        }
    }
    let list_type = s.list_type();
    if let Some(lt) = list_type {
        if s.ty() != "array" {
            type_must_be(s, path, "array", "x-kubernetes-list-type", errs);
        } else if lt == "set" {
            if let Some(items) = s.items() {
                match items.ty() {
                    "array" if items.list_type().is_some_and(|t| t != "atomic") => errs.push(FieldError::invalid(
                        child(&child(path, "items"), "x-kubernetes-list-type"),
                        &json!(items.list_type()),
                        "must be atomic as item of a list with x-kubernetes-list-type=set",
                    )),
                    "object" if items.str("x-kubernetes-map-type") != Some("atomic") => errs.push(FieldError::invalid(
                        child(&child(path, "items"), "x-kubernetes-map-type"),
                        &json!(items.list_type()),
                        "must be atomic as item of a list with x-kubernetes-list-type=set",
                    )),
                    _ => {}
                }
            }
        }
        if !["atomic", "set", "map"].contains(&lt) {
            errs.push(FieldError::not_supported(child(path, "x-kubernetes-list-type"), &json!(lt), &["atomic", "set", "map"]));
        }
    }
    let keys = s.list_map_keys();
    if !keys.is_empty() {
        match list_type {
            None => errs.push(FieldError::required(
                child(path, "x-kubernetes-list-type"),
                "must be map if x-kubernetes-list-map-keys is non-empty",
            )),
            Some(lt) if lt != "map" => errs.push(FieldError::invalid(
                child(path, "x-kubernetes-list-type"),
                &json!(lt),
                "must be map if x-kubernetes-list-map-keys is non-empty",
            )),
            _ => {}
        }
    }
    if list_type != Some("map") {
        return;
    }
    if keys.is_empty() {
        errs.push(FieldError::required(child(path, "x-kubernetes-list-map-keys"), "must not be empty if x-kubernetes-list-type is map"));
    }
    match s.get("items") {
        None | Some(Value::Null) => {
            errs.push(FieldError::required(child(path, "items"), "must have a schema if x-kubernetes-list-type is map"))
        }
        Some(items @ Value::Array(_)) => {
            errs.push(FieldError::invalid(child(path, "items"), items, "must only have a single schema if x-kubernetes-list-type is map"))
        }
        Some(_) => {}
    }
    let Some(items) = s.items() else { return };
    if items.ty() != "object" {
        errs.push(FieldError::invalid(
            child(&child(path, "items"), "type"),
            &json!(items.ty()),
            "must be object if parent array's x-kubernetes-list-type is map",
        ));
        return;
    }
    let all_keys = json!(keys);
    let mut seen: Vec<&str> = Vec::new();
    for k in &keys {
        match items.property(k) {
            Some(p) if p.ty() == "array" || p.ty() == "object" => errs.push(FieldError::invalid(
                child(&key(&child(&child(path, "items"), "properties"), k), "type"),
                &json!(items.ty()),
                "must be a scalar type if parent array's x-kubernetes-list-type is map",
            )),
            Some(_) => {}
            None => errs.push(FieldError::invalid(
                child(path, "x-kubernetes-list-map-keys"),
                &all_keys,
                "entries must all be names of item properties",
            )),
        }
        if seen.contains(k) {
            errs.push(FieldError::invalid(child(path, "x-kubernetes-list-map-keys"), &all_keys, "must not contain duplicate entries"));
        }
        seen.push(k);
    }
}
