//! Which fields an object has and which changed between two versions of it, as field sets.
//!
//! The apiserver compares *typed* Go objects, in which non-pointer structs always exist (an
//! empty Pod already has `metadata`, `spec` and a `null` `spec.containers`). The sandbox's JSON
//! objects do not, so [`normalise`] lays a per-kind skeleton of those always-present fields
//! under both sides first; that is why `f:spec` never carries a `"."` but `f:labels` does.

use serde_json::{json, Map, Value};

use super::field_set::{field_key, item_key, value_key, FieldSet};
use crate::sandbox::patch::list_semantics::{is_atomic_map, list_type, ListType};

/// What the comparison needs to know about the object's schema.
#[derive(Debug, Clone, Copy)]
pub struct Schema<'a> {
    /// The API group: one kind name can have a shape per group (core and events.k8s.io Events).
    pub group: &'a str,
    pub kind: &'a str,
    /// Custom resources have no struct markers: maps are granular and lists atomic.
    pub custom: bool,
}

impl Schema<'_> {
    fn list_type(&self, path: &[String]) -> ListType {
        list_type(self.kind, &path.iter().map(String::as_str).collect::<Vec<_>>(), self.custom)
    }
    fn atomic_map(&self, path: &[String]) -> bool {
        is_atomic_map(self.kind, &path.iter().map(String::as_str).collect::<Vec<_>>(), self.custom)
    }
}

/// Fields that exist in the kind's zero value (non-pointer structs, `null` non-omitempty lists).
fn skeleton(schema: Schema) -> Value {
    if schema.custom {
        // Custom resources are unstructured: only `metadata` always exists.
        return json!({"metadata": {}});
    }
    let kind = schema.kind;
    if (schema.group, kind) == ("events.k8s.io", "Event") {
        return json!({"metadata": {}, "regarding": {}, "deprecatedSource": {}, "eventTime": null, "deprecatedFirstTimestamp": null, "deprecatedLastTimestamp": null});
    }
    let pod_spec = json!({"containers": null});
    let template = json!({"metadata": {}, "spec": pod_spec});
    match kind {
        "Pod" => json!({"metadata": {}, "spec": pod_spec, "status": {}}),
        "PodTemplate" => json!({"metadata": {}, "template": template}),
        "Deployment" => json!({"metadata": {}, "spec": {"template": template, "strategy": {}}, "status": {}}),
        "ReplicaSet" | "ReplicationController" => json!({"metadata": {}, "spec": {"template": template}, "status": {}}),
        "StatefulSet" | "DaemonSet" => json!({"metadata": {}, "spec": {"template": template, "updateStrategy": {}}, "status": {}}),
        "Service" => json!({"metadata": {}, "spec": {}, "status": {"loadBalancer": {}}}),
        "Namespace" | "PersistentVolumeClaim" | "PersistentVolume" | "ResourceQuota" | "LimitRange" => {
            json!({"metadata": {}, "spec": {}, "status": {}})
        }
        "Node" => json!({"metadata": {}, "spec": {}, "status": {"daemonEndpoints": {"kubeletEndpoint": {}}, "nodeInfo": {}}}),
        // Non-omitempty zero values Go always encodes: present on both sides, never tracked.
        "Event" => {
            json!({"metadata": {}, "involvedObject": {}, "source": {}, "eventTime": null, "firstTimestamp": null, "lastTimestamp": null, "reportingComponent": "", "reportingInstance": ""})
        }
        "CustomResourceDefinition" => {
            json!({"metadata": {}, "spec": {"names": {}, "versions": null}, "status": {"acceptedNames": {}, "storedVersions": null}})
        }
        _ => json!({"metadata": {}}),
    }
}

fn overlay_missing(target: &mut Map<String, Value>, skeleton: &Map<String, Value>) {
    for (k, v) in skeleton {
        match (target.get_mut(k), v) {
            (None, _) => {
                target.insert(k.clone(), v.clone());
            }
            (Some(Value::Object(t)), Value::Object(s)) => overlay_missing(t, s),
            _ => {}
        }
    }
}

/// Fields the field manager never tracks: identity and bookkeeping of `metadata`.
const STRIPPED_METADATA: &[&str] =
    &["name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink"];

/// The object as the field manager sees it: identity stripped, `reset` top-level fields
/// (owned by another endpoint, e.g. `status` on the main resource) removed, skeleton laid under.
pub fn normalise(schema: Schema, obj: &Value, reset: &[&str], with_skeleton: bool) -> Value {
    let mut m = obj.as_object().cloned().unwrap_or_default();
    m.remove("apiVersion");
    m.remove("kind");
    if let Some(Value::Object(meta)) = m.get_mut("metadata") {
        for f in STRIPPED_METADATA {
            meta.remove(*f);
        }
    }
    if with_skeleton {
        if let Value::Object(s) = skeleton(schema) {
            overlay_missing(&mut m, &s);
        }
    }
    for f in reset {
        m.remove(*f);
    }
    Value::Object(m)
}

/// Every field of `value` at `path`. With `maps_are_members`, maps and lists are members
/// themselves (what an Update records for something new); without, only leaves and list items
/// are (what an Apply records).
pub fn all_fields(schema: Schema, path: &mut Vec<String>, value: &Value, maps_are_members: bool) -> FieldSet {
    let mut out = FieldSet::default();
    match value {
        Value::Object(m) if !schema.atomic_map(path) => {
            out.member = maps_are_members || m.is_empty();
            for (k, v) in m {
                if !maps_are_members && v.is_null() {
                    continue;
                }
                path.push(k.clone());
                let child = all_fields(schema, path, v, maps_are_members);
                path.pop();
                out.children.insert(field_key(k), child);
            }
        }
        Value::Array(items) => match schema.list_type(path) {
            ListType::Atomic => out.member = true,
            ListType::Map(keys) => {
                out.member = maps_are_members || items.is_empty();
                for item in items {
                    let mut child = all_fields(schema, path, item, maps_are_members);
                    child.member = true;
                    out.children.insert(item_key(item, keys), child);
                }
            }
            ListType::Set => {
                out.member = maps_are_members || items.is_empty();
                for item in items {
                    out.children.insert(value_key(item), FieldSet { member: true, ..Default::default() });
                }
            }
        },
        _ => out.member = true,
    }
    out
}

/// Fields added or changed from `old` to `new`, and fields removed.
#[derive(Debug, Default)]
pub struct Comparison {
    pub changed: FieldSet,
    pub removed: FieldSet,
}

pub fn compare(schema: Schema, old: &Value, new: &Value) -> Comparison {
    let mut c = Comparison::default();
    compare_at(schema, &mut Vec::new(), Some(old), Some(new), &mut c.changed, &mut c.removed);
    c.changed.member = false;
    c.removed.member = false;
    c
}

fn compare_at(
    schema: Schema,
    path: &mut Vec<String>,
    old: Option<&Value>,
    new: Option<&Value>,
    changed: &mut FieldSet,
    removed: &mut FieldSet,
) {
    match (old, new) {
        (None, None) => {}
        (None, Some(n)) => changed.union(&all_fields(schema, path, n, true)),
        (Some(o), None) => removed.union(&all_fields(schema, path, o, true)),
        (Some(Value::Object(o)), Some(Value::Object(n))) if !schema.atomic_map(path) => {
            let keys: Vec<&String> = o.keys().chain(n.keys().filter(|k| !o.contains_key(*k))).collect();
            for k in keys {
                path.push(k.clone());
                let key = field_key(k);
                let (mut ch, mut rm) = (FieldSet::default(), FieldSet::default());
                compare_at(schema, path, o.get(k), n.get(k), &mut ch, &mut rm);
                path.pop();
                if !ch.is_empty() {
                    changed.child(&key).union(&ch);
                }
                if !rm.is_empty() {
                    removed.child(&key).union(&rm);
                }
            }
        }
        (Some(o @ (Value::Array(_) | Value::Null)), Some(Value::Array(n))) if schema.list_type(path) != ListType::Atomic => {
            let empty = Vec::new();
            let o = o.as_array().unwrap_or(&empty);
            let key_of = |item: &Value| match schema.list_type(path) {
                ListType::Map(keys) => item_key(item, keys),
                _ => value_key(item),
            };
            let old_items: Vec<(String, &Value)> = o.iter().map(|i| (key_of(i), i)).collect();
            let new_items: Vec<(String, &Value)> = n.iter().map(|i| (key_of(i), i)).collect();
            for (k, item) in &new_items {
                let before = old_items.iter().find(|(ok, _)| ok == k).map(|(_, v)| *v);
                let (mut ch, mut rm) = (FieldSet::default(), FieldSet::default());
                match before {
                    None => {
                        let mut all = all_fields(schema, path, item, true);
                        all.member = true;
                        if k.starts_with("v:") {
                            all.children.clear();
                        }
                        ch = all;
                    }
                    Some(b) => compare_at(schema, path, Some(b), Some(item), &mut ch, &mut rm),
                }
                if !ch.is_empty() {
                    changed.child(k).union(&ch);
                }
                if !rm.is_empty() {
                    removed.child(k).union(&rm);
                }
            }
            for (k, item) in &old_items {
                if !new_items.iter().any(|(nk, _)| nk == k) {
                    let mut all = all_fields(schema, path, item, true);
                    all.member = true;
                    removed.child(k).union(&all);
                }
            }
        }
        (Some(o), Some(n)) => {
            if o != n {
                changed.member = true;
            }
        }
    }
}
