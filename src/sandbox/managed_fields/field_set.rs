//! A set of field paths, as `fieldsV1` encodes it: a tree whose keys are path elements
//! (`f:name` a field, `k:{"name":"app"}` a list item by key, `v:"x"` a set value, `i:0` an
//! index) and where `"."` marks that the node itself — not only its children — is a member.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSet {
    /// The node itself is in the set.
    pub member: bool,
    pub children: BTreeMap<String, FieldSet>,
}

impl FieldSet {
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.values().all(FieldSet::is_empty)
    }

    pub fn child(&mut self, key: &str) -> &mut FieldSet {
        self.children.entry(key.to_string()).or_default()
    }

    pub fn union(&mut self, other: &FieldSet) {
        self.member |= other.member;
        for (k, v) in &other.children {
            self.child(k).union(v);
        }
    }

    pub fn difference(&mut self, other: &FieldSet) {
        if other.member {
            self.member = false;
        }
        for (k, v) in &other.children {
            if let Some(mine) = self.children.get_mut(k) {
                mine.difference(v);
            }
        }
        self.prune();
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet { member: self.member && other.member, children: BTreeMap::new() };
        for (k, v) in &self.children {
            if let Some(o) = other.children.get(k) {
                let i = v.intersection(o);
                if !i.is_empty() {
                    out.children.insert(k.clone(), i);
                }
            }
        }
        out
    }

    fn prune(&mut self) {
        self.children.retain(|_, c| {
            c.prune();
            !c.is_empty()
        });
    }

    /// Every member path, as lists of element keys, in order.
    pub fn paths(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        self.walk(&mut Vec::new(), &mut out);
        out
    }

    fn walk(&self, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        if self.member && !prefix.is_empty() {
            out.push(prefix.clone());
        }
        for (k, c) in &self.children {
            prefix.push(k.clone());
            c.walk(prefix, out);
            prefix.pop();
        }
    }

    /// The `fieldsV1` JSON.
    pub fn to_fields_v1(&self) -> Value {
        let mut m = Map::new();
        if self.member && !self.children.is_empty() {
            m.insert(".".into(), Value::Object(Map::new()));
        }
        for (k, c) in &self.children {
            if !c.is_empty() {
                m.insert(k.clone(), c.to_fields_v1());
            }
        }
        Value::Object(m)
    }

    /// Reads `fieldsV1`; the root of the tree is never itself a member.
    pub fn from_fields_v1(v: &Value) -> FieldSet {
        let mut out = Self::from_node(v);
        out.member = false;
        out
    }

    fn from_node(v: &Value) -> FieldSet {
        let mut out = FieldSet::default();
        match v.as_object() {
            Some(m) if !m.is_empty() => {
                for (k, c) in m {
                    if k == "." {
                        out.member = true;
                    } else {
                        out.children.insert(k.clone(), Self::from_node(c));
                    }
                }
            }
            _ => out.member = true,
        }
        out
    }
}

/// `f:<name>`
pub fn field_key(name: &str) -> String {
    format!("f:{name}")
}

/// `k:{"name":"app"}` with the key fields sorted by name.
pub fn item_key(item: &Value, keys: &[&str]) -> String {
    let mut sorted: Vec<&str> = keys.to_vec();
    sorted.sort();
    let mut m = Map::new();
    for k in sorted {
        m.insert(k.to_string(), item.get(k).cloned().unwrap_or(Value::Null));
    }
    format!("k:{}", Value::Object(m))
}

/// `v:"example.com/hold"`
pub fn value_key(v: &Value) -> String {
    format!("v:{v}")
}

/// A path in the apiserver's conflict notation: `.metadata.labels.owner`,
/// `.spec.containers[name="app"].image`.
pub fn display_path(path: &[String]) -> String {
    let mut out = String::new();
    for el in path {
        if let Some(f) = el.strip_prefix("f:") {
            out.push('.');
            out.push_str(f);
        } else if let Some(k) = el.strip_prefix("k:") {
            let parts: Vec<String> = serde_json::from_str::<Map<String, Value>>(k)
                .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
                .unwrap_or_default();
            out.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(v) = el.strip_prefix("v:") {
            out.push_str(&format!("[={v}]"));
        } else if let Some(i) = el.strip_prefix("i:") {
            out.push_str(&format!("[{i}]"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_p05_update_status_entry() {
        let v = json!({"f:metadata": {"f:labels": {"f:ignored": {}}}, "f:status": {"f:conditions": {".": {}, "k:{\"type\":\"Ready\"}": {".": {}, "f:status": {}, "f:type": {}}}, "f:message": {}, "f:phase": {}}});
        let s = FieldSet::from_fields_v1(&v);
        assert_eq!(s.to_fields_v1(), v);
        assert_eq!(s.paths().len(), 7);
    }

    #[test]
    fn difference_keeps_the_map_itself() {
        // p05 update-status: the main manager keeps `f:labels` itself, loses `f:env`.
        let mut main = FieldSet::from_fields_v1(&json!({"f:metadata": {"f:labels": {".": {}, "f:env": {}}}}));
        main.difference(&FieldSet::from_fields_v1(&json!({"f:metadata": {"f:labels": {"f:env": {}}}})));
        assert_eq!(main.to_fields_v1(), json!({"f:metadata": {"f:labels": {}}}));
    }

    #[test]
    fn keys_and_paths() {
        assert_eq!(
            item_key(&json!({"protocol": "TCP", "port": 80, "x": 1}), &["port", "protocol"]),
            "k:{\"port\":80,\"protocol\":\"TCP\"}"
        );
        assert_eq!(display_path(&["f:metadata".into(), "f:labels".into(), "f:owner".into()]), ".metadata.labels.owner");
        assert_eq!(
            display_path(&["f:spec".into(), "f:containers".into(), "k:{\"name\":\"app\"}".into(), "f:image".into()]),
            ".spec.containers[name=\"app\"].image"
        );
    }
}
