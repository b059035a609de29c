//! The structural-schema engine's seam (stub): validate, prune and default a custom resource
//! against its CRD version's `openAPIV3Schema`, and check a schema is structural. The real
//! engine (branch `schema`) replaces this file; its signatures stay exactly these.

use serde_json::Value;

use crate::sandbox::status::FieldError;

/// The structural check of a CRD version's schema, with field paths under `path`.
pub fn structural_errors(_schema: &Value, _path: &str) -> Vec<FieldError> {
    Vec::new()
}

/// The schema's validation of a custom resource.
pub fn validate(_schema: &Value, _obj: &Value) -> Vec<FieldError> {
    Vec::new()
}

/// Drops the fields the schema does not know; returns their paths (`spec.x`).
pub fn prune(_schema: &Value, _obj: &mut Value) -> Vec<String> {
    Vec::new()
}

/// Fills the schema's `default`s.
pub fn apply_defaults(_schema: &Value, _obj: &mut Value) {}
