//! `metadata.managedFields`: which manager set which field, and server-side apply.
//!
//! Every write records, per field manager (the client's `?fieldManager=` or user agent), the
//! set of fields it set. An Update takes ownership of whatever it changed — even from other
//! managers — and everyone loses fields that were removed. An Apply owns exactly the fields in
//! its configuration and must not silently change a field another manager owns: that is a 409
//! conflict unless the client forces it. The caller decides *when* to call (the real apiserver
//! tracks the object after defaulting but before admission plugins and strategies mutate it).

mod compare;
mod entries;
mod field_set;
mod ssa;

use serde_json::{json, Value};

pub use entries::Operation;
pub use field_set::FieldSet;

use self::compare::{all_fields, normalise, Schema};
use self::entries::Entry;
use self::field_set::display_path;
use super::resources::ResourceInfo;
use super::status::ApiError;

fn schema(res: &ResourceInfo) -> Schema<'_> {
    Schema { group: &res.group, kind: &res.kind, custom: res.schema.is_some() }
}

/// Top-level fields another endpoint owns: `status` when writing the main resource of a kind
/// with a status subresource, `spec` when writing `/status`.
fn reset_fields(res: &ResourceInfo, subresource: Option<&str>) -> Vec<&'static str> {
    match subresource {
        Some("status") => vec!["spec"],
        None if res.has_subresource("status") => vec!["status"],
        _ => vec![],
    }
}

fn api_version_of(res: &ResourceInfo, obj: &Value) -> String {
    obj.get("apiVersion").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| res.api_version())
}

/// The entries to start from: the client's own managedFields if it changed them, else the
/// stored object's.
fn starting_entries(old: Option<&Value>, new: &Value) -> Vec<Entry> {
    let sent = new.pointer("/metadata/managedFields");
    let stored = old.and_then(|o| o.pointer("/metadata/managedFields"));
    match (sent, old) {
        (Some(s), Some(_)) if Some(s) != stored => entries::read(new),
        (Some(_), None) => entries::read(new),
        (_, Some(o)) => entries::read(o),
        (None, None) => vec![],
    }
}

/// Records an `Update` by `manager` (create, update, patch): the fields that changed from
/// `old` (None on create) to `new` become the manager's, in `new.metadata.managedFields`.
pub fn track_update(res: &ResourceInfo, old: Option<&Value>, new: &mut Value, manager: &str, subresource: Option<&str>, now: &str) {
    let schema = schema(res);
    let reset = reset_fields(res, subresource);
    let before = normalise(schema, old.unwrap_or(&json!({})), &reset, true);
    let after = normalise(schema, new, &reset, true);
    let diff = compare::compare(schema, &before, &after);

    let sub = subresource.unwrap_or_default();
    let mut list = starting_entries(old, new);
    for e in list.iter_mut().filter(|e| !e.same_owner(manager, Operation::Update, sub)) {
        e.fields.difference(&diff.changed);
        e.fields.difference(&diff.removed);
    }
    let time = if sub == "scale" { None } else { Some(now.to_string()) };
    let api_version = api_version_of(res, new);
    match list.iter_mut().find(|e| e.same_owner(manager, Operation::Update, sub)) {
        Some(mine) => {
            mine.fields.union(&diff.changed);
            mine.fields.difference(&diff.removed);
            mine.time = time;
            mine.api_version = api_version;
        }
        None => {
            let mut fields = diff.changed;
            fields.difference(&diff.removed);
            list.push(Entry { manager: manager.into(), operation: Operation::Update, subresource: sub.into(), api_version, time, fields });
        }
    }
    entries::write(new, list);
}

/// Server-side apply of `applied` by `manager` over `live` (None: the object is created).
/// Returns the merged object with managedFields updated, or a 409 listing the conflicts.
pub fn apply(
    res: &ResourceInfo,
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    subresource: Option<&str>,
    now: &str,
) -> Result<Value, ApiError> {
    let schema = schema(res);
    let reset = reset_fields(res, subresource);
    let sub = subresource.unwrap_or_default();
    let mut list = live.map(entries::read).unwrap_or_default();

    // What this configuration claims: its leaves and list items.
    let config = normalise(schema, applied, &reset, false);
    let mut claimed = all_fields(schema, &mut Vec::new(), &config, false);
    claimed.member = false;

    // The merged object: live + configuration, minus what this manager applied before, omits
    // now, and nobody else owns.
    let mut merged = live.cloned().unwrap_or_else(|| json!({}));
    ssa::merge(schema, &mut Vec::new(), &mut merged, applied);
    if let Some(previous) = list.iter().find(|e| e.same_owner(manager, Operation::Apply, sub)) {
        let mut dropped = previous.fields.clone();
        dropped.difference(&claimed);
        for other in list.iter().filter(|e| !e.same_owner(manager, Operation::Apply, sub)) {
            dropped.difference(&other.fields);
        }
        for path in dropped.paths() {
            ssa::remove_path(schema, &mut merged, &path);
        }
    }
    if let Some(meta) = merged.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }

    let before = normalise(schema, live.unwrap_or(&json!({})), &reset, true);
    let after = normalise(schema, &merged, &reset, true);
    let diff = compare::compare(schema, &before, &after);

    let mut conflicts: Vec<(String, Vec<String>)> = Vec::new();
    for e in list.iter().filter(|e| !e.same_owner(manager, Operation::Apply, sub)) {
        let overlap = e.fields.intersection(&diff.changed);
        for path in overlap.paths() {
            conflicts.push((e.display(), path));
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflict_error(&conflicts));
    }
    for e in list.iter_mut().filter(|e| !e.same_owner(manager, Operation::Apply, sub)) {
        e.fields.difference(&diff.changed);
        e.fields.difference(&diff.removed);
    }
    let api_version = api_version_of(res, applied);
    match list.iter_mut().find(|e| e.same_owner(manager, Operation::Apply, sub)) {
        Some(mine) => {
            mine.fields = claimed;
            mine.time = Some(now.to_string());
            mine.api_version = api_version;
        }
        None => list.push(Entry {
            manager: manager.into(),
            operation: Operation::Apply,
            subresource: sub.into(),
            api_version,
            time: Some(now.into()),
            fields: claimed,
        }),
    }
    entries::write(&mut merged, list);
    Ok(merged)
}

/// The 409 `Apply failed with N conflict(s)` Status, one cause per conflicting field.
fn conflict_error(conflicts: &[(String, Vec<String>)]) -> ApiError {
    let causes: Vec<Value> = conflicts
        .iter()
        .map(
            |(who, path)| json!({"reason": "FieldManagerConflict", "message": format!("conflict with {who}"), "field": display_path(path)}),
        )
        .collect();
    let message = if let [(who, path)] = conflicts {
        format!("Apply failed with 1 conflict: conflict with {who}: {}", display_path(path))
    } else {
        let mut managers: Vec<&String> = conflicts.iter().map(|(w, _)| w).collect();
        managers.sort();
        managers.dedup();
        let mut lines = Vec::new();
        for m in managers {
            lines.push(format!("conflicts with {m}:"));
            for (_, p) in conflicts.iter().filter(|(w, _)| w == m) {
                lines.push(format!("- {}", display_path(p)));
            }
        }
        format!("Apply failed with {} conflicts: {}", conflicts.len(), lines.join("\n"))
    };
    ApiError::new(409, "Conflict", message).with_details(json!({"causes": causes}))
}

#[cfg(test)]
mod tests;
