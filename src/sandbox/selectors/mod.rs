//! Label and field selectors: parsing the query strings and matching objects.
//!
//! `?labelSelector=` and `?fieldSelector=` filter lists, watches and deletecollection. Both are
//! parsed once per request into a small structure, then matched against every candidate.

mod field;
mod label;
mod label_syntax;
mod lexer;

use std::collections::BTreeMap;

pub use field::{field_set, supported_fields, FieldOp, FieldRequirement, FieldSelector};
pub use label::{LabelOp, LabelSelector, Requirement};

/// An object's labels.
pub type Labels = BTreeMap<String, String>;

/// The labels of a stored object (`metadata.labels`), empty when it has none.
pub fn labels_of(obj: &serde_json::Value) -> Labels {
    obj.pointer("/metadata/labels")
        .and_then(serde_json::Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string()))).collect())
        .unwrap_or_default()
}
