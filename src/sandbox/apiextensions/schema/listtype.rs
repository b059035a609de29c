//! `x-kubernetes-list-type`: a `set` may not repeat an item, a `map` may not repeat a
//! key (the tuple of its `x-kubernetes-list-map-keys`); upstream reports the first repeat
//! of each value as `Duplicate value`.

use serde_json::{Map, Value};

use super::node::Node;
use crate::sandbox::status::FieldError;

pub fn validate(s: Node, path: &str, obj: &Value, errs: &mut Vec<FieldError>) {
    match obj {
        Value::Array(items) => array(s, path, items, errs),
        Value::Object(map) => object(s, path, map, errs),
        _ => {}
    }
}

fn join(path: &str, k: &str) -> String {
    if path.is_empty() {
        k.to_string()
    } else {
        format!("{path}.{k}")
    }
}

fn object(s: Node, path: &str, map: &Map<String, Value>, errs: &mut Vec<FieldError>) {
    if let Some(extra) = s.additional_schema() {
        for (k, v) in map {
            validate(extra, &format!("{path}[{k}]"), v, errs);
        }
    }
    if s.properties().is_some() {
        for (k, v) in map {
            if let Some(sub) = s.property(k) {
                validate(sub, &join(path, k), v, errs);
            }
        }
    }
}

fn array(s: Node, path: &str, items: &[Value], errs: &mut Vec<FieldError>) {
    match s.list_type() {
        Some("set") => {
            for i in first_repeats(items) {
                errs.push(FieldError::duplicate(format!("{path}[{i}]"), &items[i]));
            }
        }
        Some("map") => list_map(s, path, items, errs),
        _ => {}
    }
    if let Some(item_schema) = s.items() {
        for (i, item) in items.iter().enumerate() {
            validate(item_schema, &format!("{path}[{i}]"), item, errs);
        }
    }
}

/// Go's `json.Marshal`: map keys sorted, so equal maps compare equal whatever their order.
fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys.iter().map(|k| format!("{}:{}", Value::String((*k).clone()), canonical(&m[*k]))).collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// The indices where a value appears for the second time.
fn first_repeats(items: &[Value]) -> Vec<usize> {
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    let mut repeats = Vec::new();
    for (i, x) in items.iter().enumerate() {
        let times = seen.entry(canonical(x)).or_insert(0);
        *times += 1;
        if *times == 2 {
            repeats.push(i);
        }
    }
    repeats
}

fn list_map(s: Node, path: &str, items: &[Value], errs: &mut Vec<FieldError>) {
    if let Some((i, x)) = items.iter().enumerate().find(|(_, x)| !x.is_null() && !x.is_object()) {
        errs.push(FieldError::invalid(format!("{path}[{i}]"), x, "must be an object for an array of list-type map"));
        return;
    }
    if items.len() <= 1 {
        return;
    }
    let key_fields = s.list_map_keys();
    let keys: Vec<Value> = items
        .iter()
        .map(|x| {
            let mut key = Map::new();
            for f in &key_fields {
                if let Some(v) = x.get(*f) {
                    key.insert(f.to_string(), v.clone());
                }
            }
            Value::Object(key)
        })
        .collect();
    for i in first_repeats(&keys) {
        errs.push(FieldError::duplicate(format!("{path}[{i}]"), &sorted(&keys[i])));
    }
}

/// The key as Go prints a map: sorted by name.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        }
        other => other.clone(),
    }
}
