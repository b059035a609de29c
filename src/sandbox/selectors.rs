//! Label and field selectors: parsing the query strings and matching objects.
//! (Placeholder signatures; implemented in its own change.)

use std::collections::BTreeMap;

use super::resources::ResourceInfo;

/// An object's labels.
pub type Labels = BTreeMap<String, String>;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector {}

impl LabelSelector {
    /// Parses `app=web,env in (a,b),!x`; the error is the apiserver's message for a 400.
    pub fn parse(_s: &str) -> Result<Self, String> {
        todo!()
    }
    pub fn is_empty(&self) -> bool {
        todo!()
    }
    pub fn matches(&self, _labels: &Labels) -> bool {
        todo!()
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector {}

impl FieldSelector {
    /// Parses `metadata.name=x,status.phase!=Running`, refusing fields `res` cannot select on
    /// with `field label not supported: <field>`.
    pub fn parse(_s: &str, _res: &ResourceInfo) -> Result<Self, String> {
        todo!()
    }
    pub fn is_empty(&self) -> bool {
        todo!()
    }
    /// `fields` is what [`field_set`] computed for the object.
    pub fn matches(&self, _fields: &[(String, String)]) -> bool {
        todo!()
    }
}

/// The selectable fields of an object and their values (always `metadata.name` and
/// `metadata.namespace`, plus the kind's own, e.g. `spec.nodeName`, `status.phase` for pods).
pub fn field_set(_res: &ResourceInfo, _obj: &serde_json::Value) -> Vec<(String, String)> {
    todo!()
}
