//! PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch.
//! (Placeholder signatures; implemented in its own change.)

use serde_json::Value;

use super::resources::ResourceInfo;
use super::status::ApiError;

pub fn merge_patch(_target: &mut Value, _patch: &Value) {
    todo!()
}

pub fn json_patch(_target: &mut Value, _patch: &Value) -> Result<(), ApiError> {
    todo!()
}

pub fn strategic_merge_patch(_res: &ResourceInfo, _target: &mut Value, _patch: &Value) -> Result<(), ApiError> {
    todo!()
}
