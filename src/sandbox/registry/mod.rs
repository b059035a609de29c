//! Per-kind strategies, as the apiserver's registry: decode, default, validate, and what an
//! update may change. (Placeholder signatures; implemented in its own change.)

use serde_json::Value;

use super::resources::ResourceInfo;
use super::status::{ApiError, FieldError};

/// What the client asked for with `?fieldValidation=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

/// Decodes a request body into the stored form of `res`: a typed round trip through the
/// k8s-openapi struct where one exists. Unknown fields are returned (as paths such as
/// `spec.x`) so the caller can refuse, warn or ignore them.
pub fn decode(_res: &ResourceInfo, _body: Value) -> Result<(Value, Vec<String>), ApiError> {
    Ok((_body, vec![]))
}

/// Defaults and strategy `PrepareForCreate` (status reset, generation 1, ...).
pub fn prepare_create(_res: &ResourceInfo, _obj: &mut Value) {

}

/// Admission on create (service account for pods, ...), after defaults.
pub fn admit_create(_res: &ResourceInfo, _obj: &mut Value) {

}

pub fn validate_create(_res: &ResourceInfo, _obj: &Value) -> Vec<FieldError> {
    vec![]
}

/// Strategy `PrepareForUpdate`: keep status on the main resource, keep spec on `/status`,
/// bump generation when spec changed.
pub fn prepare_update(_res: &ResourceInfo, _old: &Value, _new: &mut Value, _subresource: Option<&str>) {

}

pub fn validate_update(_res: &ResourceInfo, _old: &Value, _new: &Value, _subresource: Option<&str>) -> Vec<FieldError> {
    vec![]
}

/// Cluster IPs and node ports handed out to services, rebuilt from the store at start.
#[derive(Debug, Default)]
pub struct Allocators {}

impl Allocators {
    /// Marks what an existing service holds as taken (used when loading the store).
    pub fn observe(&mut self, _res: &ResourceInfo, _obj: &Value) {}
    /// Allocates (or checks the requested) cluster IP and node ports of a new service.
    pub fn allocate(&mut self, _res: &ResourceInfo, _obj: &mut Value) -> Result<(), Vec<FieldError>> {
        Ok(())
    }
    /// Releases what a deleted service held.
    pub fn release(&mut self, _res: &ResourceInfo, _obj: &Value) {}
}
