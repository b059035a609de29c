//! The scale subresource: an `autoscaling/v1 Scale` read from and written to the paths the
//! kind's strategy names (`spec.replicas`, `status.replicas`, the selector).

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::super::keys::object_key;
use super::super::meta;
use super::super::patch;
use super::super::registry::ScalePaths;
use super::super::request::{ApiRequest, PatchType, WriteOptions};
use super::super::resources::ResourceInfo;
use super::super::status::ApiError;
use super::super::storage::Outcome;
use super::update::UpdateContext;
use super::{Apiserver, Reply};

/// A selector as `Scale.status.selector` prints it: `k=v,k2=v2` (a `LabelSelector`'s
/// matchLabels, a plain map, or a custom resource's selector string as it is).
fn selector_text(v: Option<&Value>) -> String {
    let labels = match v {
        Some(Value::String(s)) => return s.clone(),
        Some(Value::Object(m)) if m.contains_key("matchLabels") || m.contains_key("matchExpressions") => {
            m.get("matchLabels").and_then(Value::as_object).cloned().unwrap_or_default()
        }
        Some(Value::Object(m)) => m.clone(),
        _ => return String::new(),
    };
    labels.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect::<Vec<_>>().join(",")
}

fn scale_of(paths: &ScalePaths, obj: &Value) -> Value {
    let m = meta::metadata(obj).cloned().unwrap_or_default();
    let mut sm = Map::new();
    for k in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
        if let Some(v) = m.get(k) {
            sm.insert(k.into(), v.clone());
        }
    }
    let selector = selector_text(paths.selector.as_deref().and_then(|p| obj.pointer(p)));
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": sm,
        // Absent replicas read as 0 (`scaleFromCustomResource`); built-ins always store theirs.
        "spec": {"replicas": obj.pointer(&paths.spec_replicas).cloned().unwrap_or(json!(0))},
        "status": {"replicas": obj.pointer(&paths.status_replicas).cloned().unwrap_or(json!(0)), "selector": selector}
    })
}

/// Sets `value` at a JSON pointer, creating the objects on the way.
fn set_pointer(obj: &mut Value, pointer: &str, value: Value) {
    let mut cur = obj;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (i, p) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        let m = cur.as_object_mut().expect("made an object");
        if i + 1 == parts.len() {
            m.insert(p.to_string(), value);
            return;
        }
        cur = m.entry(p.to_string()).or_insert_with(|| json!({}));
    }
}

fn scale_reply(paths: &ScalePaths, obj: &Value) -> Reply {
    Reply::json(200, Bytes::from(serde_json::to_vec(&scale_of(paths, obj)).expect("JSON values serialize")))
}

impl Apiserver {
    fn scale_paths(res: &ResourceInfo) -> Result<ScalePaths, ApiError> {
        res.strategy.scale().ok_or_else(ApiError::resource_not_found)
    }

    pub(super) fn get_scale(&self, res: &ResourceInfo, req: &ApiRequest, name: &str) -> Result<Reply, ApiError> {
        let paths = Self::scale_paths(res)?;
        let key = object_key(res, req.path.namespace.as_deref(), name);
        let stored = self.storage.get(&key).ok_or_else(|| ApiError::not_found(&res.qualified_resource(), name))?;
        Ok(scale_reply(&paths, &stored.value()))
    }

    /// PUT (`patch_type` `None`) or PATCH of `/scale`: the new replicas go to the main
    /// resource's spec through the ordinary update path.
    pub(super) async fn update_scale(
        &self,
        res: &ResourceInfo,
        req: &ApiRequest,
        name: &str,
        opts: &WriteOptions,
        patch_type: Option<PatchType>,
    ) -> Result<Reply, ApiError> {
        let paths = Self::scale_paths(res)?;
        let body: Value = serde_json::from_slice(&req.body).map_err(|e| ApiError::bad_request(format!("error decoding scale: {e}")))?;
        let key = object_key(res, req.path.namespace.as_deref(), name);
        let ctx = UpdateContext::new(res, Some("scale"), req.field_manager(opts.field_manager.as_deref()), false);
        let outcome = self
            .guaranteed_update(res, &key, name, |old| {
                let mut scale = scale_of(&paths, old);
                match patch_type {
                    Some(PatchType::Json) => patch::json_patch(&mut scale, &body)?,
                    Some(PatchType::Strategic) => patch::strategic_merge_patch(res, &mut scale, &body)?,
                    Some(_) => patch::merge_patch(&mut scale, &body),
                    None => {
                        if let Some(rv) = meta::resource_version(&body) {
                            if Some(rv) != meta::resource_version(old) {
                                return Err(ApiError::stale_update(&res.qualified_resource(), name));
                            }
                        }
                        scale = body.clone();
                    }
                }
                let replicas = scale.pointer("/spec/replicas").cloned().unwrap_or(json!(0));
                let mut new = old.clone();
                set_pointer(&mut new, &paths.spec_replicas, replicas);
                self.prepare_updated(&ctx, old, new)
            })
            .await;
        self.settle_allocation(&ctx, &outcome, false);
        match outcome? {
            Outcome::Updated(s) | Outcome::Unchanged(s) => Ok(scale_reply(&paths, &s.value())),
            Outcome::NotFound => Err(ApiError::not_found(&res.qualified_resource(), name)),
            _ => Err(ApiError::internal("unexpected storage outcome on scale")),
        }
    }
}
