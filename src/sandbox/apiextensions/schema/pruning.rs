//! Pruning: fields the schema does not specify are dropped on the way in (unless under
//! `x-kubernetes-preserve-unknown-fields`), and their paths are what strict field
//! validation reports (`unknown field "spec.x"`). `apiVersion`, `kind` and `metadata` of
//! the resource and of every embedded resource always stay.

use serde_json::Value;

use super::node::Node;

const META_FIELDS: &[&str] = &["apiVersion", "kind", "metadata"];

/// Where the walk is: the path of the value being pruned, in upstream's spelling.
struct Walk {
    path: String,
    unknown: Vec<String>,
}

impl Walk {
    fn key(&self, k: &str) -> String {
        if self.path.is_empty() {
            k.to_string()
        } else {
            format!("{}.{k}", self.path)
        }
    }
    fn descend(&mut self, next: String, f: impl FnOnce(&mut Self)) {
        let saved = std::mem::replace(&mut self.path, next);
        f(self);
        self.path = saved;
    }
}

/// Prunes `obj` (a whole resource) and returns the pruned paths, sorted.
pub fn prune_resource(s: &Value, obj: &mut Value) -> Vec<String> {
    let mut walk = Walk { path: String::new(), unknown: Vec::new() };
    // The resource root behaves as an embedded resource whatever the schema says.
    prune(Some(Node(s)), true, obj, &mut walk);
    walk.unknown.sort();
    walk.unknown
}

/// Prunes a value of schema `s` (a default, say); `embedded` treats it as a resource.
pub fn prune_at(s: Node, embedded: bool, x: &mut Value) {
    let mut walk = Walk { path: String::new(), unknown: Vec::new() };
    prune(Some(s), embedded, x, &mut walk);
}

fn prune(s: Option<Node>, root: bool, x: &mut Value, walk: &mut Walk) {
    let s = s.filter(|s| s.0.is_object());
    if let Some(s) = s.filter(|s| s.preserve_unknown_fields()) {
        skip_prune(s, root, x, walk);
        return;
    }
    match x {
        Value::Object(map) => {
            let Some(s) = s else {
                for k in map.keys() {
                    walk.unknown.push(walk.key(k));
                }
                map.clear();
                return;
            };
            let embedded = root || s.embedded_resource();
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                let sub = s.property(&k).or_else(|| s.additional_schema());
                let has_schema_for_key = s.property(&k).is_some() || s.get("additionalProperties").is_some_and(|a| !a.is_null());
                if has_schema_for_key {
                    if let Some(v) = map.get_mut(&k) {
                        walk.descend(walk.key(&k), |w| prune(sub, false, v, w));
                    }
                } else {
                    if !META_FIELDS.contains(&k.as_str()) || !walk.path.is_empty() {
                        walk.unknown.push(walk.key(&k));
                    }
                    map.remove(&k);
                }
            }
        }
        Value::Array(items) => {
            let item_schema = s.and_then(|s| s.items());
            for (i, v) in items.iter_mut().enumerate() {
                walk.descend(format!("{}[{i}]", walk.path), |w| prune(item_schema, false, v, w));
            }
        }
        _ => {}
    }
}

/// Under preserve-unknown-fields only the specified fields are walked into.
fn skip_prune(s: Node, root: bool, x: &mut Value, walk: &mut Walk) {
    match x {
        Value::Object(map) => {
            let embedded = root || s.embedded_resource();
            for (k, v) in map.iter_mut() {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                if let Some(prop) = s.property(k) {
                    walk.descend(walk.key(k), |w| prune(Some(prop), false, v, w));
                } else if s.get("additionalProperties").is_some_and(|a| !a.is_null()) {
                    let extra = s.additional_schema();
                    walk.descend(walk.key(k), |w| prune(extra, false, v, w));
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = s.items() {
                for (i, v) in items.iter_mut().enumerate() {
                    walk.descend(format!("{}[{i}]", walk.path), |w| skip_prune(item_schema, false, v, w));
                }
            }
        }
        _ => {}
    }
}
