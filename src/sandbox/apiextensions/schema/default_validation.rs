//! `ValidateDefaults`, the CRD-time check of every `default` in a structural schema: it
//! must be pruned already (no fields the schema would drop), and must itself pass the
//! schema it defaults — errors are reported under `...properties[x].default`.
//!
//! Defaults inside an embedded resource's `apiVersion`/`kind`/`metadata` (checked
//! upstream against a surrounding fake object) are not checked here.

use super::field_path::child;
use serde_json::Value;

use super::node::Node;
use super::{embedded, messages, openapi, pruning};
use crate::sandbox::status::FieldError;

/// The errors of the defaults in `schema` (found at `path`).
pub fn default_errors(schema: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    walk(Node(schema), true, false, path, &mut errs);
    errs
}

fn walk(s: Node, root: bool, inside_meta: bool, path: &str, errs: &mut Vec<FieldError>) {
    if !s.0.is_object() {
        return;
    }
    let embedded_here = root || s.embedded_resource();
    let inside_meta = inside_meta && !embedded_here;
    if let Some(default) = s.default().filter(|d| !d.is_null()) {
        if !inside_meta {
            check_default(s, embedded_here, default, &child(path, "default"), errs);
        }
    }
    if let Some(items) = s.items() {
        walk(items, false, inside_meta, &child(path, "items"), errs);
    }
    for (k, sub) in s.properties().into_iter().flatten() {
        let sub_inside_meta = inside_meta || (embedded_here && ["metadata", "apiVersion", "kind"].contains(&k.as_str()));
        walk(Node(sub), false, sub_inside_meta, &format!("{}[{k}]", child(path, "properties")), errs);
    }
}

fn check_default(s: Node, embedded_here: bool, default: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let mut pruned = default.clone();
    pruning::prune_at(s, embedded_here, &mut pruned);
    if &pruned != default {
        errs.push(FieldError::invalid(path, default, "must not have unknown fields"));
    }
    let mut found = Vec::new();
    embedded::validate_at(s, embedded_here, path, default, &mut found);
    if found.is_empty() {
        openapi::validate(s, "", default, &mut found);
        for e in &mut found {
            e.field = if e.field == messages::NIL_PATH { path.to_string() } else { child(path, &e.field) };
        }
    }
    errs.extend(found);
}
