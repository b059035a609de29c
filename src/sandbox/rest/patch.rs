//! PATCH: JSON patch, merge patch, strategic merge patch and server-side apply (which
//! creates what does not exist yet), each applied to the stored object inside the
//! GuaranteedUpdate loop and then checked as the handler's `checkName` does.

use std::sync::Arc;

use serde_json::{json, Value};

use super::super::conversion;
use super::super::keys::object_key;
use super::super::managed_fields;
use super::super::meta;
use super::super::patch;
use super::super::request::{ApiRequest, PatchOptions, PatchType};
use super::super::resources::ResourceInfo;
use super::super::status::ApiError;
use super::super::storage::{Change, Outcome, Stored, Write};
use super::body::go_json_error;
use super::encode::{encode_raw, encode_value};
use super::update::UpdateContext;
use super::{new_object, Apiserver, Reply, MAX_BODY_BYTES};

/// `checkName`: a patch may not rename the object or move it to another namespace.
fn check_name(obj: &Value, name: &str, namespace: Option<&str>) -> Result<(), ApiError> {
    let obj_name = meta::name(obj).unwrap_or_default();
    if obj_name != name {
        return Err(ApiError::bad_request(format!("the name of the object ({obj_name}) does not match the name on the URL ({name})")));
    }
    if let (Some(ns), Some(obj_ns)) = (namespace, meta::namespace(obj).filter(|n| !n.is_empty())) {
        if obj_ns != ns {
            return Err(ApiError::bad_request(format!(
                "the namespace of the object ({obj_ns}) does not match the namespace on the request ({ns})"
            )));
        }
    }
    Ok(())
}

/// What the field manager checks of an apply configuration before merging it.
fn check_apply_body(res: &ResourceInfo, body: &Value, name: &str, namespace: Option<&str>) -> Result<(), ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request("error decoding YAML: the apply configuration must be an object"));
    }
    let version = body.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    if version != res.api_version() {
        return Err(ApiError::bad_request(format!(
            "Incorrect version specified in apply patch. Specified patch version: {version}, expected: {}",
            res.api_version()
        )));
    }
    if body.pointer("/metadata/managedFields").is_some_and(|m| !m.is_null()) {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    let kind = body.get("kind").and_then(Value::as_str).unwrap_or_default();
    if kind != res.kind {
        // kube-apiserver fails here with a 500 from its type converter; the cause is the
        // client's, so the sandbox answers 400 with the same words.
        let ns = namespace.unwrap_or_default();
        return Err(ApiError::bad_request(format!(
            "failed to create typed patch object ({ns}/{name}; {version}, Kind={kind}): no corresponding type for {version}, Kind={kind}"
        )));
    }
    Ok(())
}

impl Apiserver {
    pub(super) async fn patch(&self, res: &ResourceInfo, req: &ApiRequest, name: &str, opts: &PatchOptions) -> Result<Reply, ApiError> {
        if req.body.len() > MAX_BODY_BYTES {
            return Err(ApiError::too_large("the request body is too large"));
        }
        let namespace = req.path.namespace.as_deref();
        let patch_body: Value = match opts.patch_type {
            PatchType::Apply => {
                let body =
                    serde_saphyr::from_slice::<Value>(&req.body).map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
                check_apply_body(res, &body, name, namespace)?;
                body
            }
            _ => serde_json::from_slice(&req.body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {}", go_json_error(&req.body, &e))))?,
        };
        let sub = req.path.subresource.as_deref();
        let manager = req.field_manager(opts.write.field_manager.as_deref());
        let is_apply = opts.patch_type == PatchType::Apply;
        let ctx = UpdateContext::new(res, sub, manager.clone(), is_apply);
        let key = object_key(res, namespace, name);
        let mut warnings = vec![];
        let dry = opts.write.dry_run;
        let mut dry_result = None;
        let outcome = self
            .guaranteed_update(res, &key, name, |old| {
                // A patch is written against the representation the client reads.
                let mut patched = conversion::from_stored(res, old.clone());
                match opts.patch_type {
                    PatchType::Merge => patch::merge_patch(&mut patched, &patch_body),
                    PatchType::Json => patch::json_patch(&mut patched, &patch_body)?,
                    PatchType::Strategic => patch::strategic_merge_patch(res, &mut patched, &patch_body)?,
                    PatchType::Apply => {
                        patched = managed_fields::apply(res, Some(&patched), &patch_body, &manager, opts.force, sub, &meta::now_rfc3339())?
                    }
                };
                check_name(&patched, name, namespace)?;
                if let Some(rv) = meta::resource_version(&patched) {
                    if Some(rv) != meta::resource_version(old) {
                        return Err(ApiError::stale_update(&res.qualified_resource(), name));
                    }
                }
                let mut w = vec![];
                let decoded = self.decode_value(res, req, patched, opts.write.field_validation, &mut w)?;
                warnings = w;
                let computed = self.prepare_updated(&ctx, old, decoded)?;
                Ok(computed.unless_dry_run(dry, old, &mut dry_result))
            })
            .await;
        self.settle_allocation(&ctx, &outcome, dry);
        let outcome = outcome?;
        if let Some(v) = dry_result {
            return encode_value(res, req, 200, &v, warnings);
        }
        if matches!(outcome, Outcome::NotFound) && is_apply && sub.is_none() {
            // Server-side apply creates what does not exist yet.
            let applied = managed_fields::apply(res, None, &patch_body, &manager, opts.force, None, &meta::now_rfc3339())?;
            let mut w = vec![];
            let mut obj = self.decode_value(res, req, applied, opts.write.field_validation, &mut w)?;
            if meta::name(&obj).is_none() {
                meta::set(&mut obj, "name", json!(name));
            }
            check_name(&obj, name, namespace)?;
            let mf = meta::metadata(&obj).and_then(|m| m.get("managedFields")).cloned();
            let (stored, status) = self.create_applied(res, req, &mut obj, &manager, mf, dry).await?;
            return match stored {
                Some(s) => encode_raw(res, req, status, &s.raw, w),
                None => encode_value(res, req, status, &obj, w),
            };
        }
        self.finish_update(res, req, name, outcome, warnings)
    }

    /// Creates an object made by server-side apply, keeping the Apply managedFields entry.
    async fn create_applied(
        &self,
        res: &ResourceInfo,
        req: &ApiRequest,
        obj: &mut Value,
        manager: &str,
        managed: Option<Value>,
        dry: bool,
    ) -> Result<(Option<Arc<Stored>>, u16), ApiError> {
        // create_object records an Update entry; the apply entry replaces it.
        let created = self.create_object(res, req, obj, manager, dry).await?;
        let Some(stored) = created.0 else {
            if let Some(mf) = managed {
                meta::set(obj, "managedFields", mf);
            }
            return Ok((None, 201));
        };
        let Some(mf) = managed else { return Ok((Some(stored), 201)) };
        let key = stored.key.clone();
        let res2 = res.clone();
        let expected = stored.rv;
        let mut v = stored.value();
        meta::set(&mut v, "managedFields", mf);
        // Rewrite in place: same revision semantics as the apiserver, which never stores
        // the intermediate Update entry.
        let write = Write::Update(Box::new(move |now, rev| {
            if now.rv != expected {
                return Change::Stale;
            }
            Change::Put(new_object(&res2, &mut v, rev))
        }));
        match self.storage.write(&key, write).await? {
            Outcome::Updated(s) => Ok((Some(s), 201)),
            _ => Ok((Some(stored), 201)),
        }
    }
}
