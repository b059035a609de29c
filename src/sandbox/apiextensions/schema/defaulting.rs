//! Structural defaulting: a property with a `default` that is missing (or `null` where the
//! schema is not nullable) gets a copy of the default, top-down, so defaults inside a
//! defaulted object apply too.

use serde_json::Value;

use super::node::Node;

fn is_non_nullable_null(x: &Value, s: Option<Node>) -> bool {
    x.is_null() && s.is_some_and(|s| !s.nullable())
}

pub fn apply(s: Node, x: &mut Value) {
    if !s.0.is_object() {
        return;
    }
    match x {
        Value::Object(map) => {
            for (k, prop) in s.properties().into_iter().flatten() {
                let Some(default) = Node(prop).default().filter(|d| !d.is_null()) else { continue };
                let missing = map.get(k).is_none_or(|v| is_non_nullable_null(v, Some(Node(prop))));
                if missing {
                    map.insert(k.clone(), default.clone());
                }
            }
            for (k, v) in map.iter_mut() {
                if let Some(prop) = s.property(k) {
                    apply(prop, v);
                } else if let Some(extra) = s.additional_schema() {
                    if is_non_nullable_null(v, Some(extra)) {
                        *v = extra.default().cloned().unwrap_or(Value::Null);
                    }
                    apply(extra, v);
                }
            }
        }
        Value::Array(items) => {
            let Some(item_schema) = s.items() else { return };
            for v in items.iter_mut() {
                if is_non_nullable_null(v, Some(item_schema)) {
                    *v = item_schema.default().cloned().unwrap_or(Value::Null);
                }
                apply(item_schema, v);
            }
        }
        _ => {}
    }
}

/// `PruneNonNullableNullsWithoutDefaults` (run before defaulting): a `null` the schema does
/// not allow and has no default for is dropped rather than rejected.
pub fn prune_non_nullable_nulls(s: Node, x: &mut Value) {
    if !s.0.is_object() {
        return;
    }
    match x {
        Value::Object(map) => {
            map.retain(|k, v| {
                let Some(prop) = s.property(k).or_else(|| s.additional_schema()) else { return true };
                !(v.is_null() && !prop.nullable() && prop.default().is_none_or(Value::is_null))
            });
            for (k, v) in map.iter_mut() {
                if let Some(prop) = s.property(k).or_else(|| s.additional_schema()) {
                    prune_non_nullable_nulls(prop, v);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = s.items() {
                for v in items.iter_mut() {
                    prune_non_nullable_nulls(item_schema, v);
                }
            }
        }
        _ => {}
    }
}
