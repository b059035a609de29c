//! CREATE on a subresource that answers an object of its own (`rest.NamedCreater`): the
//! kind's strategy serves it, given the body and read access to the store.

use serde_json::Value;

use super::super::keys::object_key;
use super::super::registry::{ObjectReader, SubresourceCreate};
use super::super::request::ApiRequest;
use super::super::resources::ResourceInfo;
use super::super::status::ApiError;
use super::body::parse_body;
use super::{Apiserver, Reply, MAX_BODY_BYTES};

impl ObjectReader for Apiserver {
    fn get(&self, group: &str, kind: &str, namespace: Option<&str>, name: &str) -> Result<Value, ApiError> {
        let cat = self.catalogue();
        let res = cat.find_kind(group, kind).ok_or_else(|| ApiError::internal(format!("no resource serves {kind} in group {group:?}")))?;
        let key = object_key(res, namespace.filter(|_| res.namespaced), name);
        self.storage.get(&key).map(|s| s.value()).ok_or_else(|| ApiError::not_found(&res.qualified_resource(), name))
    }
}

impl Apiserver {
    pub(super) fn create_on_subresource(&self, res: &ResourceInfo, req: &ApiRequest, name: &str) -> Result<Reply, ApiError> {
        let sub = req.path.subresource.as_deref().unwrap_or_default();
        let creater = res.strategy.named_creater(sub).ok_or_else(ApiError::method_not_allowed)?;
        if req.body.len() > MAX_BODY_BYTES {
            return Err(ApiError::too_large("the request body is too large"));
        }
        let body = parse_body(res, &req.media_type, &req.body)?;
        let issuer = self.service_account_issuer();
        let created = creater.create(SubresourceCreate {
            namespace: req.path.namespace.as_deref(),
            name,
            body,
            objects: self,
            issuer: issuer.as_deref(),
        })?;
        let body = serde_json::to_vec(&created.object).map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(Reply { warnings: created.warnings, ..Reply::json(201, body.into()) })
    }
}
