//! Custom resources: the strategy every kind defined by a CustomResourceDefinition gets
//! (`apiextensions-apiserver/pkg/registry/customresource/strategy.go`). The object is
//! unstructured, so `generation` counts any change outside `metadata` and `status`, and a
//! status update takes nothing but `status` from the request. The CRD version's schema
//! defaults and validates it, and its scale subresource and selectable fields come from the
//! CRD too.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

use super::strategy::{ScalePaths, Strategy};
use crate::sandbox::apiextensions::schema;
use crate::sandbox::status::{ApiError, FieldError};

/// The custom resource strategy of one served version of a CRD.
#[derive(Default)]
pub struct CustomResourceStrategy {
    /// The version's `openAPIV3Schema`; `None` validates nothing.
    pub schema: Option<Value>,
    /// Whether the version has the status subresource (then create and update keep
    /// `status` out of the main resource).
    pub status: bool,
    /// `subresources.scale`, as JSON pointers.
    pub scale: Option<ScalePaths>,
    /// `selectableFields`: (field path as a field selector names it, JSON pointer).
    pub selectable: Vec<(&'static str, String)>,
    /// The CRD is being deleted: creates are refused (`forbidCreateAdmission`), with the
    /// resource named as `<plural>.<group>`.
    pub terminating: Option<String>,
}

/// A field selector's name for a CRD field lives as long as the process: selectable
/// fields are few and the strategy trait names them `&'static str`. Interned, so a CRD
/// rebuilt many times leaks each name once.
pub fn intern(name: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = names.get(name) {
        return n;
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.insert(leaked);
    leaked
}

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
    fn defaults(&self, obj: &mut Value) {
        if let Some(s) = &self.schema {
            schema::apply_defaults(s, obj);
        }
    }
    fn tracks_generation(&self) -> bool {
        true
    }
    fn spec_changed(&self, old: &Value, new: &Value) -> bool {
        spec_of(old) != spec_of(new)
    }
    /// With the status subresource, a create cannot set status.
    fn prepare_for_create(&self, obj: &mut Value) {
        if self.status {
            if let Some(m) = obj.as_object_mut() {
                m.remove("status");
            }
        }
    }
    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        self.schema.as_ref().map(|s| schema::validate(s, obj)).unwrap_or_default()
    }
    fn validate_update(&self, _old: &Value, new: &Value) -> Vec<FieldError> {
        self.validate(new)
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
    fn answer_create(
        &self,
        _obj: &Value,
        _auth: Option<&crate::sandbox::authenticator::TokenAuthenticator>,
    ) -> Option<Result<Value, ApiError>> {
        let resource = self.terminating.as_ref()?;
        let (plural, group) = resource.split_once('.').unwrap_or((resource, ""));
        let e = ApiError::new(405, "MethodNotAllowed", format!("create is not supported on resources of kind {resource:?}"))
            .with_details(serde_json::json!({"group": group, "kind": plural}));
        Some(Err(e))
    }
    fn scale(&self) -> Option<ScalePaths> {
        self.scale.clone()
    }
    fn selectable_fields(&self, obj: &Value) -> Vec<(&'static str, String)> {
        self.selectable
            .iter()
            .map(|(name, pointer)| {
                let v = match obj.pointer(pointer) {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                };
                (*name, v)
            })
            .collect()
    }
}
