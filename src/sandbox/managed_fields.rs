//! `metadata.managedFields`: which manager set which field, and server-side apply.
//! (Placeholder signatures; implemented in its own change.)

use serde_json::Value;

use super::resources::ResourceInfo;
use super::status::ApiError;

/// Records an `Update` by `manager` (create, update, patch): the fields that changed from
/// `old` (None on create) to `new` become the manager's, in `new.metadata.managedFields`.
pub fn track_update(_res: &ResourceInfo, _old: Option<&Value>, _new: &mut Value, _manager: &str, _subresource: Option<&str>, _now: &str) {
    todo!()
}

/// Server-side apply of `applied` by `manager` over `live` (None: the object is created).
/// Returns the merged object with managedFields updated, or a 409 listing the conflicts.
pub fn apply(_res: &ResourceInfo, _live: Option<&Value>, _applied: &Value, _manager: &str, _force: bool, _subresource: Option<&str>, _now: &str) -> Result<Value, ApiError> {
    todo!()
}
