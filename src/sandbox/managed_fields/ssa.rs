//! Server-side apply's merge: the applied configuration over the live object, with the same
//! list and map semantics managedFields uses, and removal of fields a manager stopped applying.

use serde_json::{Map, Value};

use super::compare::Schema;
use super::field_set::{item_key, value_key};
use crate::sandbox::patch::list_semantics::{is_atomic_map, list_type, ListType};

pub fn merge(schema: Schema, path: &mut Vec<String>, live: &mut Value, applied: &Value) {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) if !is_atomic_map(schema.kind, &p, schema.custom) => {
            for (k, v) in a {
                if v.is_null() {
                    continue;
                }
                path.push(k.clone());
                match l.get_mut(k) {
                    Some(existing) => merge(schema, path, existing, v),
                    None => {
                        l.insert(k.clone(), strip_nulls(v));
                    }
                }
                path.pop();
            }
        }
        (Value::Array(l), Value::Array(a)) => match list_type(schema.kind, &p, schema.custom) {
            ListType::Map(keys) => {
                for item in a {
                    let k = item_key(item, keys);
                    match l.iter_mut().find(|x| item_key(x, keys) == k) {
                        Some(existing) => merge(schema, path, existing, item),
                        None => l.push(strip_nulls(item)),
                    }
                }
            }
            ListType::Set => {
                for item in a {
                    if !l.contains(item) {
                        l.push(item.clone());
                    }
                }
            }
            ListType::Atomic => *l = a.clone(),
        },
        (live, applied) => *live = strip_nulls(applied),
    }
}

fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            Value::Object(m.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), strip_nulls(v))).collect::<Map<_, _>>())
        }
        other => other.clone(),
    }
}

/// Removes the field at `path` (fieldsV1 element keys) from `obj`, if it is there.
pub fn remove_path(schema: Schema, obj: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut current = obj;
    let mut names: Vec<String> = Vec::new();
    for el in parents {
        let next = match step(schema, &names, current, el) {
            Some(n) => n,
            None => return,
        };
        if let Some(f) = el.strip_prefix("f:") {
            names.push(f.to_string());
        }
        current = next;
    }
    if let Some(f) = last.strip_prefix("f:") {
        if let Value::Object(m) = current {
            m.remove(f);
        }
    } else if let Value::Array(items) = current {
        let names_ref: Vec<&str> = names.iter().map(String::as_str).collect();
        let lt = list_type(schema.kind, &names_ref, schema.custom);
        items.retain(|item| match lt {
            ListType::Map(keys) => item_key(item, keys) != *last,
            _ => value_key(item) != *last,
        });
    }
}

fn step<'a>(schema: Schema, names: &[String], current: &'a mut Value, el: &str) -> Option<&'a mut Value> {
    if let Some(f) = el.strip_prefix("f:") {
        return current.get_mut(f);
    }
    let names_ref: Vec<&str> = names.iter().map(String::as_str).collect();
    let ListType::Map(keys) = list_type(schema.kind, &names_ref, schema.custom) else { return None };
    current.as_array_mut()?.iter_mut().find(|item| item_key(item, keys) == el)
}
