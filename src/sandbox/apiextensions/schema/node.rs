//! A read-only view of one `JSONSchemaProps` as the CRD stores it (plain JSON).
//!
//! Upstream converts the schema into a `Structural` tree first; the sandbox keeps CRDs as
//! JSON, so every algorithm here reads the same keywords through this view instead.

use serde_json::{Map, Value};

/// One schema node; `Node(&Value::Null)` stands for "no schema".
#[derive(Debug, Clone, Copy)]
pub struct Node<'a>(pub &'a Value);

/// `additionalProperties`: absent, a boolean, or a schema for every other key.
#[derive(Debug, Clone, Copy)]
pub enum Additional<'a> {
    Absent,
    Bool(bool),
    Schema(Node<'a>),
}

impl<'a> Node<'a> {
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.0.get(key)
    }
    /// `type`, empty when unset.
    pub fn ty(&self) -> &'a str {
        self.get("type").and_then(Value::as_str).unwrap_or_default()
    }
    pub fn flag(&self, key: &str) -> bool {
        self.get(key).and_then(Value::as_bool).unwrap_or(false)
    }
    pub fn str(&self, key: &str) -> Option<&'a str> {
        self.get(key).and_then(Value::as_str)
    }
    pub fn nullable(&self) -> bool {
        self.flag("nullable")
    }
    pub fn preserve_unknown_fields(&self) -> bool {
        self.flag("x-kubernetes-preserve-unknown-fields")
    }
    pub fn embedded_resource(&self) -> bool {
        self.flag("x-kubernetes-embedded-resource")
    }
    pub fn int_or_string(&self) -> bool {
        self.flag("x-kubernetes-int-or-string")
    }
    pub fn properties(&self) -> Option<&'a Map<String, Value>> {
        self.get("properties").and_then(Value::as_object)
    }
    pub fn property(&self, key: &str) -> Option<Node<'a>> {
        self.properties().and_then(|p| p.get(key)).map(Node)
    }
    /// `items` in its object form (structural schemas allow no other).
    pub fn items(&self) -> Option<Node<'a>> {
        self.get("items").filter(|v| v.is_object()).map(Node)
    }
    pub fn additional(&self) -> Additional<'a> {
        match self.get("additionalProperties") {
            None | Some(Value::Null) => Additional::Absent,
            Some(Value::Bool(b)) => Additional::Bool(*b),
            Some(v) => Additional::Schema(Node(v)),
        }
    }
    /// The schema of a map value under `additionalProperties`, when there is one.
    pub fn additional_schema(&self) -> Option<Node<'a>> {
        match self.additional() {
            Additional::Schema(n) => Some(n),
            _ => None,
        }
    }
    pub fn default(&self) -> Option<&'a Value> {
        self.get("default")
    }
    pub fn list_type(&self) -> Option<&'a str> {
        self.str("x-kubernetes-list-type")
    }
    pub fn list_map_keys(&self) -> Vec<&'a str> {
        self.get("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .map(|keys| keys.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }
    /// A list of sub-schemas (`allOf`, `anyOf`, `oneOf`).
    pub fn list(&self, key: &str) -> &'a [Value] {
        self.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
    }
}
