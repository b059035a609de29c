//! Custom resources: the strategy every kind defined by a CustomResourceDefinition gets
//! (`apiextensions-apiserver/pkg/registry/customresource/strategy.go`). The object is
//! unstructured, so `generation` counts any change outside `metadata` and `status`, and a
//! status update takes nothing but `status` from the request.

use serde_json::Value;

use super::strategy::Strategy;

/// The custom resource strategy.
pub struct CustomResourceStrategy;

/// Everything of a custom resource but `metadata` and `status`: what its generation tracks.
fn spec_of(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    v
}

impl Strategy for CustomResourceStrategy {
    fn tracks_generation(&self) -> bool {
        true
    }
    fn spec_changed(&self, old: &Value, new: &Value) -> bool {
        spec_of(old) != spec_of(new)
    }
    fn prepare_for_subresource_update(&self, subresource: &str, old: &Value, new: &mut Value) {
        if subresource != "status" {
            return;
        }
        let status = new.get("status").cloned();
        let managed = new.pointer("/metadata/managedFields").cloned();
        *new = old.clone();
        if let Some(m) = new.as_object_mut() {
            match status {
                Some(s) => m.insert("status".into(), s),
                None => m.remove("status"),
            };
        }
        if let (Some(mf), Some(meta)) = (managed, new.get_mut("metadata").filter(|m| m.is_object())) {
            meta["managedFields"] = mf;
        }
    }
    fn delete_returns_status(&self) -> bool {
        true
    }
}
