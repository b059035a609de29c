//! CREATE on a subresource that answers an object of its own (`rest.NamedCreater`): the
//! kind's strategy serves it, given the body and read access to the store. A creater that
//! changes the named object (a pod's binding) has that change stored first, as a
//! storage-level update with no strategy or field manager, as upstream's
//! `Storage.GuaranteedUpdate`.

use serde_json::Value;

use super::super::keys::object_key;
use super::super::registry::{ObjectReader, SubresourceCreate};
use super::super::request::{ApiRequest, Verb};
use super::super::resources::ResourceInfo;
use super::super::status::ApiError;
use super::body::parse_body;
use super::update::Computed;
use super::{Apiserver, Reply, MAX_BODY_BYTES};
use crate::sandbox::storage::Outcome;

impl ObjectReader for Apiserver {
    fn get(&self, group: &str, kind: &str, namespace: Option<&str>, name: &str) -> Result<Value, ApiError> {
        let cat = self.catalogue();
        let res = cat.find_kind(group, kind).ok_or_else(|| ApiError::internal(format!("no resource serves {kind} in group {group:?}")))?;
        let key = object_key(res, namespace.filter(|_| res.namespaced), name);
        self.storage.get(&key).map(|s| s.value()).ok_or_else(|| ApiError::not_found(&res.qualified_resource(), name))
    }
}

impl Apiserver {
    pub(super) async fn create_on_subresource(&self, res: &ResourceInfo, req: &ApiRequest, name: &str) -> Result<Reply, ApiError> {
        let sub = req.path.subresource.as_deref().unwrap_or_default();
        if req.body.len() > MAX_BODY_BYTES {
            return Err(ApiError::too_large("the request body is too large"));
        }
        let body = parse_body(res, &req.media_type, &req.body)?;
        self.create_named(res, req, sub, name, body).await
    }

    /// Runs `res`'s named creater for `sub` on the object `name` with `body`.
    pub(super) async fn create_named(
        &self,
        res: &ResourceInfo,
        req: &ApiRequest,
        sub: &str,
        name: &str,
        body: Value,
    ) -> Result<Reply, ApiError> {
        let creater = res.strategy.named_creater(sub).ok_or_else(ApiError::method_not_allowed)?;
        let issuer = self.service_account_issuer();
        let created = creater.create(SubresourceCreate {
            namespace: req.path.namespace.as_deref(),
            name,
            body,
            objects: self,
            issuer: issuer.as_deref(),
        })?;
        if let Some(change) = &created.change {
            let key = object_key(res, req.path.namespace.as_deref().filter(|_| res.namespaced), name);
            let dry = matches!(&req.verb, Verb::Create(o) if o.dry_run);
            let outcome = self
                .guaranteed_update(res, &key, name, |cur| {
                    if dry {
                        change(cur).map(|_| Computed::Unchanged)
                    } else {
                        change(cur).map(Computed::Put)
                    }
                })
                .await?;
            if matches!(outcome, Outcome::NotFound) {
                return Err(ApiError::not_found(&res.qualified_resource(), name));
            }
        }
        let body = serde_json::to_vec(&created.object).map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(Reply { warnings: created.warnings, ..Reply::json(201, body.into()) })
    }
}
