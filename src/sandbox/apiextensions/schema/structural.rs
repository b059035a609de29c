//! The CRD-time check that an `openAPIV3Schema` is structural (`ValidateStructural`):
//! every level says its `type`, `items`/`properties` are where values can be, and the
//! logical junctors (`allOf`, `anyOf`, `oneOf`, `not`) only add value validations over
//! fields the structure already declares — so pruning and defaulting can follow the
//! structure alone.

use super::field_path::{child, key};
use serde_json::{json, Value};

use super::go_regex;
use super::node::{Additional, Node};
use crate::sandbox::status::FieldError;

/// Where a schema node sits, which decides what its `type` may be.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Level {
    Root,
    Item,
    Field,
}

/// The errors of `schema` at `path`, sorted by their text as upstream sorts them.
pub fn structural_errors(schema: &Value, path: &str) -> Vec<FieldError> {
    let s = Node(schema);
    let mut errs = Vec::new();
    invariants(s, Level::Root, path, &mut errs);
    completeness(s, path, &mut errs);
    errs.sort_by_key(|e| e.to_message());
    errs
}

fn is_set(v: Option<&Value>) -> bool {
    !matches!(v, None | Some(Value::Null))
}

fn invariants(s: Node, lvl: Level, path: &str, errs: &mut Vec<FieldError>) {
    if !s.0.is_object() {
        return;
    }
    let ty = s.ty();
    if ty == "array" && s.items().is_none() {
        errs.push(FieldError::required(child(path, "items"), "must be specified"));
    }
    if let Some(items) = s.items() {
        invariants(items, Level::Item, &child(path, "items"), errs);
    }
    for (k, v) in s.properties().into_iter().flatten() {
        invariants(Node(v), Level::Field, &key(&child(path, "properties"), k), errs);
    }
    let additional = !matches!(s.additional(), Additional::Absent);
    if additional {
        if lvl == Level::Root {
            errs.push(FieldError::forbidden(child(path, "additionalProperties"), "must not be used at the root"));
        }
        if let Some(a) = s.additional_schema() {
            invariants(a, Level::Field, &child(path, "additionalProperties"), errs);
        }
    }
    if s.int_or_string() && s.preserve_unknown_fields() {
        errs.push(FieldError::invalid(
            child(path, "x-kubernetes-preserve-unknown-fields"),
            &json!(true),
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    if s.int_or_string() && s.embedded_resource() {
        errs.push(FieldError::invalid(
            child(path, "x-kubernetes-embedded-resource"),
            &json!(true),
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    let skip_any_of = is_int_or_string_any_of(s.list("anyOf"));
    let skip_first_all_of_any_of = s.list("allOf").first().is_some_and(|first| is_int_or_string_any_of(Node(first).list("anyOf")));
    value_validation(s, skip_any_of, skip_first_all_of_any_of, path, errs);

    let check_metadata = lvl == Level::Root || s.embedded_resource();
    if s.embedded_resource() && ty != "object" {
        if ty.is_empty() {
            errs.push(FieldError::required(child(path, "type"), "must be object if x-kubernetes-embedded-resource is true"));
        } else {
            errs.push(FieldError::invalid(child(path, "type"), &json!(ty), "must be object if x-kubernetes-embedded-resource is true"));
        }
    } else if ty.is_empty() && !s.int_or_string() && !s.preserve_unknown_fields() {
        let detail = match lvl {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        errs.push(FieldError::required(child(path, "type"), detail));
    }
    if s.embedded_resource() && additional {
        errs.push(FieldError::forbidden(child(path, "additionalProperties"), "must not be used if x-kubernetes-embedded-resource is set"));
    }
    if lvl == Level::Root && !ty.is_empty() && ty != "object" {
        errs.push(FieldError::invalid(child(path, "type"), &json!(ty), "must be object at the root"));
    }
    if check_metadata {
        for name in ["kind", "apiVersion"] {
            if let Some(p) = s.property(name) {
                if p.ty() != "string" {
                    errs.push(FieldError::invalid(child(&key(&child(path, "properties"), name), "type"), &json!(p.ty()), "must be string"));
                }
            }
        }
    }
    if let Some(meta) = s.property("metadata") {
        metadata_invariants(meta, check_metadata, lvl, &key(&child(path, "properties"), "metadata"), errs);
    }
    if s.embedded_resource() && !s.preserve_unknown_fields() && s.properties().is_none_or(|p| p.is_empty()) {
        errs.push(FieldError::required(
            child(path, "properties"),
            "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
        ));
    }
}

/// `metadata` is the apiserver's: at the root a schema may only restrict `name` and
/// `generateName`; in an embedded resource it must at least be an object.
fn metadata_invariants(s: Node, check_metadata: bool, lvl: Level, path: &str, errs: &mut Vec<FieldError>) {
    if check_metadata && s.ty() != "object" {
        errs.push(FieldError::invalid(child(path, "type"), &json!(s.ty()), "must be object"));
    }
    if lvl != Level::Root {
        return;
    }
    let Some(obj) = s.0.as_object() else { return };
    let props_only_names = s.properties().is_some_and(|p| {
        let (name, generate) = (p.contains_key("name"), p.contains_key("generateName"));
        (name && generate && p.len() == 2) || ((name || generate) && p.len() == 1)
    });
    let anything_else = obj.iter().any(|(k, v)| match k.as_str() {
        "type" | "default" => false,
        "properties" => !props_only_names && !v.as_object().is_some_and(|p| p.is_empty()),
        // Unset booleans and empty lists are the zero value upstream compares against.
        _ => {
            !matches!(v, Value::Null | Value::Bool(false))
                && !v.as_array().is_some_and(|a| a.is_empty())
                && !v.as_str().is_some_and(str::is_empty)
        }
    });
    if anything_else {
        errs.push(FieldError::forbidden(
            path,
            "must not specify anything other than name and generateName, but metadata is implicitly specified",
        ));
    }
}

/// `anyOf: [{type: integer}, {type: string}]`, the int-or-string idiom allowed to keep
/// its types.
fn is_int_or_string_any_of(any_of: &[Value]) -> bool {
    any_of.len() == 2 && any_of[0] == json!({"type": "integer"}) && any_of[1] == json!({"type": "string"})
}

fn value_validation(s: Node, skip_any_of: bool, skip_first_all_of_any_of: bool, path: &str, errs: &mut Vec<FieldError>) {
    if !skip_any_of {
        for (i, v) in s.list("anyOf").iter().enumerate() {
            nested(Node(v), false, &format!("{}[{i}]", child(path, "anyOf")), errs);
        }
    }
    for (i, v) in s.list("allOf").iter().enumerate() {
        nested(Node(v), skip_first_all_of_any_of && i == 0, &format!("{}[{i}]", child(path, "allOf")), errs);
    }
    for (i, v) in s.list("oneOf").iter().enumerate() {
        nested(Node(v), false, &format!("{}[{i}]", child(path, "oneOf")), errs);
    }
    if let Some(not) = s.get("not").filter(|v| v.is_object()) {
        nested(Node(not), false, &child(path, "not"), errs);
    }
    if let Some(pattern) = s.str("pattern").filter(|p| !p.is_empty()) {
        if let Some(e) = go_regex::pattern_error(pattern) {
            errs.push(FieldError::invalid(
                child(path, "pattern"),
                &json!(pattern),
                format!("must be a valid regular expression, but isn't: {e}"),
            ));
        }
    }
}

/// A schema under a junctor: value validations only.
fn nested(v: Node, skip_any_of: bool, path: &str, errs: &mut Vec<FieldError>) {
    value_validation(v, skip_any_of, false, path, errs);
    if let Some(items) = v.items() {
        nested(items, false, &child(path, "items"), errs);
    }
    for (k, p) in v.properties().into_iter().flatten() {
        nested(Node(p), false, &key(&child(path, "properties"), k), errs);
    }
    let forbid = |errs: &mut Vec<FieldError>, name: &str, detail: &str| errs.push(FieldError::forbidden(child(path, name), detail));
    if !v.ty().is_empty() {
        forbid(errs, "type", "must be empty to be structural");
    }
    if !matches!(v.additional(), Additional::Absent) {
        forbid(errs, "additionalProperties", "must be undefined to be structural");
    }
    if is_set(v.default()) {
        forbid(errs, "default", "must be undefined to be structural");
    }
    for name in ["title", "description"] {
        if v.str(name).is_some_and(|t| !t.is_empty()) {
            forbid(errs, name, "must be empty to be structural");
        }
    }
    for name in ["nullable", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource", "x-kubernetes-int-or-string"] {
        if v.flag(name) {
            forbid(errs, name, "must be false to be structural");
        }
    }
    if !v.list_map_keys().is_empty() {
        forbid(errs, "x-kubernetes-list-map-keys", "must be empty to be structural");
    }
    for name in ["x-kubernetes-list-type", "x-kubernetes-map-type"] {
        if is_set(v.get(name)) {
            forbid(errs, name, "must be undefined to be structural");
        }
    }
    if !v.list("x-kubernetes-validations").is_empty() {
        forbid(errs, "x-kubernetes-validations", "must be empty to be structural");
    }
    if v.property("metadata").is_some() {
        errs.push(FieldError::forbidden(key(&child(path, "properties"), "metadata"), "must not be specified in a nested context"));
    }
}

/// Every field a junctor talks about must exist in the structure.
fn completeness(s: Node, path: &str, errs: &mut Vec<FieldError>) {
    value_completeness(s, s, path, path, errs);
}

fn value_completeness(v: Node, s: Node, s_path: &str, v_path: &str, errs: &mut Vec<FieldError>) {
    if let Some(not) = v.get("not").filter(|n| n.is_object()) {
        nested_completeness(Node(not), s, s_path, &child(v_path, "not"), errs);
    }
    for junctor in ["allOf", "anyOf", "oneOf"] {
        for (i, alt) in v.list(junctor).iter().enumerate() {
            nested_completeness(Node(alt), s, s_path, &format!("{}[{i}]", child(v_path, junctor)), errs);
        }
    }
}

fn nested_completeness(v: Node, s: Node, s_path: &str, v_path: &str, errs: &mut Vec<FieldError>) {
    value_completeness(v, s, s_path, v_path, errs);
    if let Some(items) = v.items() {
        match s.items() {
            Some(s_items) => nested_completeness(items, s_items, &child(s_path, "items"), &child(v_path, "items"), errs),
            None => errs.push(FieldError::required(child(s_path, "items"), format!("because it is defined in {}", child(v_path, "items")))),
        }
    }
    for (k, p) in v.properties().into_iter().flatten() {
        let s_key = key(&child(s_path, "properties"), k);
        let v_key = key(&child(v_path, "properties"), k);
        match s.property(k) {
            Some(sp) => nested_completeness(Node(p), sp, &s_key, &v_key, errs),
            None => errs.push(FieldError::required(s_key, format!("because it is defined in {v_key}"))),
        }
    }
}
