//! `metadata.managedFields` entries: one per (manager, operation, subresource).

use serde_json::{json, Map, Value};

use super::field_set::FieldSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Self::Apply => "Apply",
            Self::Update => "Update",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub manager: String,
    pub operation: Operation,
    pub subresource: String,
    pub api_version: String,
    /// `None` for entries written through `/scale`, which the apiserver records without a time.
    pub time: Option<String>,
    pub fields: FieldSet,
}

impl Entry {
    pub fn same_owner(&self, manager: &str, operation: Operation, subresource: &str) -> bool {
        self.manager == manager && self.operation == operation && self.subresource == subresource
    }

    fn from_json(v: &Value) -> Option<Self> {
        Some(Self {
            manager: v.get("manager")?.as_str().unwrap_or_default().to_string(),
            operation: if v.get("operation")?.as_str() == Some("Apply") { Operation::Apply } else { Operation::Update },
            subresource: v.get("subresource").and_then(Value::as_str).unwrap_or_default().to_string(),
            api_version: v.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_string(),
            time: v.get("time").and_then(Value::as_str).map(str::to_string),
            fields: FieldSet::from_fields_v1(v.get("fieldsV1").unwrap_or(&Value::Null)),
        })
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("apiVersion".into(), json!(self.api_version));
        m.insert("fieldsType".into(), json!("FieldsV1"));
        m.insert("fieldsV1".into(), self.fields.to_fields_v1());
        m.insert("manager".into(), json!(self.manager));
        m.insert("operation".into(), json!(self.operation.as_str()));
        if !self.subresource.is_empty() {
            m.insert("subresource".into(), json!(self.subresource));
        }
        if let Some(t) = &self.time {
            m.insert("time".into(), json!(t));
        }
        Value::Object(m)
    }

    /// How a conflict message names the manager: `"kubelab"`, or
    /// `"kubectl-edit" using v1` for an Update.
    pub fn display(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s = format!("{s} with subresource {:?}", self.subresource);
        }
        match (self.operation, &self.time) {
            (Operation::Apply, _) => s,
            (Operation::Update, Some(t)) => format!("{s} using {} at {t}", self.api_version),
            (Operation::Update, None) => format!("{s} using {}", self.api_version),
        }
    }
}

pub fn read(obj: &Value) -> Vec<Entry> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Entry::from_json).collect())
        .unwrap_or_default()
}

/// Writes the entries into `obj.metadata.managedFields` in the apiserver's order: Apply before
/// Update, then by time (untimed first), manager, apiVersion and subresource. Empty entries go.
pub fn write(obj: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| !e.fields.is_empty());
    entries.sort_by(|a, b| {
        (a.operation.as_str(), a.time.clone().unwrap_or_default(), &a.manager, &a.api_version, &a.subresource).cmp(&(
            b.operation.as_str(),
            b.time.clone().unwrap_or_default(),
            &b.manager,
            &b.api_version,
            &b.subresource,
        ))
    });
    if !obj.is_object() {
        return;
    }
    let meta = obj.as_object_mut().unwrap().entry("metadata").or_insert_with(|| json!({}));
    if let Value::Object(meta) = meta {
        if entries.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(entries.iter().map(Entry::to_json).collect()));
        }
    }
}
