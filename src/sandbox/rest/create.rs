//! CREATE: metadata bookkeeping, the kind's create strategy, admission, validation,
//! allocation, then the store; generateName retried on a collision.

use std::sync::Arc;

use serde_json::{json, Value};

use super::super::keys::object_key;
use super::super::meta;
use super::super::registry;
use super::super::request::{ApiRequest, WriteOptions};
use super::super::resources::ResourceInfo;
use super::super::status::{ApiError, FieldError};
use super::super::storage::{Outcome, Stored, Write};
use super::encode::{encode_raw, encode_value};
use super::{new_object, Apiserver, Reply};

/// How often a generated name is drawn again when it is taken (the store's
/// `generateNameRetries` in kube-apiserver's generic registry).
const GENERATE_NAME_ATTEMPTS: usize = 8;

impl Apiserver {
    pub(super) async fn create(&self, res: &ResourceInfo, req: &ApiRequest, opts: &WriteOptions) -> Result<Reply, ApiError> {
        if req.path.subresource.is_some() {
            return Err(ApiError::method_not_allowed());
        }
        if res.namespaced && req.path.namespace.is_none() {
            return Err(ApiError::resource_not_found());
        }
        if let Some(to) = res.strategy.create_forwards_to() {
            return self.forward_create(res, req, to).await;
        }
        let mut warnings = vec![];
        let mut obj = self.decode_body(res, req, opts.field_validation, &mut warnings)?;
        if let Some(answer) = res.strategy.answer_create(&obj, self.authenticator()) {
            return encode_value(res, req, 201, &answer?, warnings);
        }
        let manager = req.field_manager(opts.field_manager.as_deref());
        let (stored, status) = self.create_object(res, req, &mut obj, &manager, opts.dry_run).await?;
        warnings.extend(res.strategy.warnings(&obj));
        match stored {
            Some(s) => encode_raw(res, req, status, &s.raw, warnings),
            None => encode_value(res, req, status, &obj, warnings),
        }
    }

    /// A create that is a create on `to.subresource` of the object the body names.
    async fn forward_create(&self, res: &ResourceInfo, req: &ApiRequest, to: registry::ForwardedCreate) -> Result<Reply, ApiError> {
        if req.body.len() > super::MAX_BODY_BYTES {
            return Err(ApiError::too_large("the request body is too large"));
        }
        let body = super::body::parse_body(res, &req.media_type, &req.body)?;
        let name = meta::name(&body).unwrap_or_default().to_string();
        let target = self
            .catalogue()
            .find_kind(to.group, to.kind)
            .cloned()
            .ok_or_else(|| ApiError::internal(format!("no resource serves {}", to.kind)))?;
        self.create_named(&target, req, to.subresource, &name, body).await
    }

    /// Fills metadata, runs the create strategy and stores `obj`. `None` for a dry run
    /// (then `obj` holds what would have been stored).
    pub(super) async fn create_object(
        &self,
        res: &ResourceInfo,
        req: &ApiRequest,
        obj: &mut Value,
        manager: &str,
        dry_run: bool,
    ) -> Result<(Option<Arc<Stored>>, u16), ApiError> {
        let generate_name = if meta::name(obj).is_none() { meta::str_field(obj, "generateName").map(String::from) } else { None };
        if let Some(g) = &generate_name {
            meta::set(obj, "name", json!(meta::generate_name(g)));
        }
        let name = meta::name(obj).unwrap_or_default().to_string();
        if let Some(url_name) = req.path.name.as_deref() {
            if url_name != name {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({name}) does not match the name on the URL ({url_name})"
                )));
            }
        }
        for k in ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"] {
            meta::remove(obj, k);
        }
        meta::set(obj, "uid", json!(uuid::Uuid::new_v4().to_string()));
        let now = meta::now_rfc3339();
        meta::set(obj, "creationTimestamp", json!(now));
        // The field manager sees the object as decoded with defaults, before the strategy
        // and admission add what the client did not send (status, finalizers, volumes...).
        res.strategy.defaults(obj);
        super::update::track_update(res, None, obj, manager, None, &now);
        registry::before_create(res, obj);
        if name.is_empty() {
            let errs = vec![FieldError::required("metadata.name", "name or generateName is required")];
            return Err(ApiError::invalid(&res.qualified_kind(), &name, &errs));
        }
        if res.namespaced {
            let ns = req.path.namespace.as_deref().unwrap_or_default();
            let cat = self.catalogue();
            registry::admit_namespace_lifecycle(&cat, |key| self.storage.get(key).map(|s| s.value()), res, ns, &name)?;
        }
        if res.group.is_empty() && res.kind == "PersistentVolumeClaim" {
            let list = |prefix: &str| -> Vec<Value> {
                let stored = self.storage.list(prefix, None, crate::sandbox::storage::Snapshot::Current);
                stored.map(|(_, items)| items.iter().map(|s| s.value()).collect()).unwrap_or_default()
            };
            registry::admit_default_storage_class(&self.catalogue(), list, res, obj);
        }
        res.strategy.admit_create(obj);
        let errs = registry::validate_create(res, obj);
        if !errs.is_empty() {
            return Err(ApiError::invalid(&res.qualified_kind(), &name, &errs));
        }
        if dry_run {
            return Ok((None, 201));
        }
        res.strategy.allocate(obj).map_err(|errs| ApiError::invalid(&res.qualified_kind(), &name, &errs))?;
        for attempt in 1..=GENERATE_NAME_ATTEMPTS {
            let name = meta::name(obj).unwrap_or_default().to_string();
            let key = object_key(res, meta::namespace(obj), &name);
            let value = obj.clone();
            let res2 = res.clone();
            let written = self
                .storage
                .write(
                    &key,
                    Write::Create(Box::new(move |rev| {
                        let mut v = value;
                        new_object(&res2, &mut v, rev)
                    })),
                )
                .await;
            match written {
                Ok(Outcome::Created(s)) => return Ok((Some(s), 201)),
                Ok(Outcome::AlreadyExists(_)) if generate_name.is_some() && attempt < GENERATE_NAME_ATTEMPTS => {
                    // A generated name that collided is drawn again, as the store retries.
                    meta::set(obj, "name", json!(meta::generate_name(generate_name.as_deref().unwrap_or_default())));
                }
                Ok(Outcome::AlreadyExists(_)) => {
                    res.strategy.release(obj);
                    return Err(ApiError::already_exists(&res.qualified_resource(), &name));
                }
                Ok(_) => {
                    res.strategy.release(obj);
                    return Err(ApiError::internal("unexpected storage outcome on create"));
                }
                Err(e) => {
                    res.strategy.release(obj);
                    return Err(e.into());
                }
            }
        }
        Err(ApiError::internal("no free generated name"))
    }
}
