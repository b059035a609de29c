//! The structural schema engine of custom resources, ported from apiextensions-apiserver
//! (`pkg/apiserver/schema` and `pkg/apiserver/validation`) and the kube-openapi validator
//! it runs: the CRD-time structural check, then for every custom resource pruning,
//! defaulting and validation against its version's `openAPIV3Schema`.
//!
//! Schemas stay plain JSON (`serde_json::Value`, as stored in the CRD); [`node::Node`]
//! reads them. `x-kubernetes-validations` (CEL rules) are not evaluated.
//!
//! At CRD time upstream runs [`schema_errors`], then [`structural_errors`], and only if
//! that found nothing [`default_errors`]. For a custom resource on create or update the
//! order is: decode, [`prune`] (the paths feed strict field validation),
//! [`prune_non_nullable_nulls`], [`apply_defaults`], then [`validate`] (create) or
//! [`validate_update`] (update, with ratcheting).

mod crd_rules;
mod default_validation;
mod defaulting;
mod embedded;
mod field_path;
mod formats;
mod go_regex;
mod listtype;
mod messages;
pub mod node;
mod openapi;
mod pruning;
mod structural;

#[cfg(test)]
mod tests;

use serde_json::Value;

use crate::sandbox::status::FieldError;
use node::Node;

/// `ValidateStructural`: why `schema` (found at `path`, e.g.
/// `spec.versions[0].schema.openAPIV3Schema`) is not a structural schema; empty if it is.
pub fn structural_errors(schema: &Value, path: &str) -> Vec<FieldError> {
    structural::structural_errors(schema, path)
}

/// `ValidateCustomResourceDefinitionOpenAPISchema` (without CEL): the keyword rules of a
/// CRD schema (`$ref`, `uniqueItems`, list and map types, defaults in top-level metadata).
pub fn schema_errors(schema: &Value, path: &str) -> Vec<FieldError> {
    crd_rules::schema_errors(schema, path)
}

/// `ValidateDefaults` (run after [`structural_errors`] found nothing): every `default`
/// must be pruned and valid against its own schema.
pub fn default_errors(schema: &Value, path: &str) -> Vec<FieldError> {
    default_validation::default_errors(schema, path)
}

/// A custom resource against its schema, as the CR strategy validates it: the kube-openapi
/// validator, then embedded resources' `apiVersion`/`kind`/`metadata`, then list-type
/// sets and maps. Paths are relative to the object (`spec.pages`).
pub fn validate(schema: &Value, obj: &Value) -> Vec<FieldError> {
    let s = Node(schema);
    let mut errs = Vec::new();
    openapi::validate(s, "", obj, &mut errs);
    embedded::validate(s, "", obj, &mut errs);
    listtype::validate(s, "", obj, &mut errs);
    errs
}

/// An update of a custom resource (`ValidateUpdate` with validation ratcheting): values
/// unchanged from `old` report no schema errors, and list-type errors count only if
/// `old` had none.
pub fn validate_update(schema: &Value, obj: &Value, old: &Value) -> Vec<FieldError> {
    let s = Node(schema);
    let mut errs = Vec::new();
    openapi::validate_ratcheting(s, "", obj, Some(old), &mut errs);
    embedded::validate(s, "", obj, &mut errs);
    let mut old_list_errs = Vec::new();
    listtype::validate(s, "", old, &mut old_list_errs);
    if old_list_errs.is_empty() {
        listtype::validate(s, "", obj, &mut errs);
    }
    errs
}

/// Drops the fields `schema` does not specify, and the non-`ObjectMeta` fields of embedded
/// resources' `metadata`; returns their paths sorted, worded as strict field validation
/// reports them (`spec.x`, `spec.items[0].y`, `spec.template.metadata.z`).
pub fn prune(schema: &Value, obj: &mut Value) -> Vec<String> {
    let mut unknown = pruning::prune_resource(schema, obj);
    embedded::coerce(Node(schema), "", obj, &mut unknown);
    unknown.sort();
    unknown
}

/// Structural defaulting of `obj`: missing (or non-nullable `null`) fields with a
/// `default` get it.
pub fn apply_defaults(schema: &Value, obj: &mut Value) {
    defaulting::apply(Node(schema), obj)
}

/// `PruneNonNullableNullsWithoutDefaults`: drops `null`s the schema neither allows nor
/// defaults (the CR handler runs it before [`apply_defaults`]).
pub fn prune_non_nullable_nulls(schema: &Value, obj: &mut Value) {
    defaulting::prune_non_nullable_nulls(Node(schema), obj)
}
