//! `kubectl get` asks for `application/json;as=Table;v=v1;g=meta.k8s.io`: the server prints.
//! (Placeholder signatures; implemented in its own change.)

use serde_json::Value;

use super::resources::ResourceInfo;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    /// The default: each row carries a PartialObjectMetadata.
    Metadata,
    Object,
}

/// A `meta.k8s.io/v1 Table` of `objects`; `list_metadata` is the list's
/// `{resourceVersion, continue?}` (or the single object's resourceVersion for a GET).
pub fn to_table(_res: &ResourceInfo, _objects: &[Value], _list_metadata: Value, _include: IncludeObject, _now: std::time::SystemTime) -> Value {
    todo!()
}
