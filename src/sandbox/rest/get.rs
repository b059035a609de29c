//! GET of one object.

use super::super::keys::object_key;
use super::super::request::ApiRequest;
use super::super::resources::ResourceInfo;
use super::super::status::ApiError;
use super::encode::encode_raw;
use super::{Apiserver, Reply};

impl Apiserver {
    pub(super) fn get(&self, res: &ResourceInfo, req: &ApiRequest, name: &str) -> Result<Reply, ApiError> {
        let key = object_key(res, req.path.namespace.as_deref(), name);
        let stored = self.storage.get(&key).ok_or_else(|| ApiError::not_found(&res.qualified_resource(), name))?;
        if res.is_custom() {
            if let Some(d) = super::encode::defaulted(res, &stored) {
                return encode_raw(res, req, 200, &d.raw, vec![]);
            }
        }
        encode_raw(res, req, 200, &stored.raw, vec![])
    }
}
