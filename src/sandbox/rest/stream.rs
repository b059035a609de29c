//! Subresources answered as a stream rather than from storage (`pods/log`, `pods/exec`):
//! the kind's [`SubresourceStreamer`](super::super::registry::SubresourceStreamer) serves
//! them, given the request and lasting read access to the store. Nothing here names a kind.

use std::path::Path;
use std::sync::Arc;

use super::super::registry::{Streamed, SubresourceStream};
use super::super::request::HttpRequest;
use super::super::status::ApiError;
use super::Apiserver;

impl Apiserver {
    /// Serves `req` when it names a streamed subresource; `None` for every other request.
    pub fn stream(self: &Arc<Self>, req: &HttpRequest, data_dir: &Path) -> Option<Result<Streamed, ApiError>> {
        let sub = req.path.subresource.as_deref()?;
        let name = req.path.name.as_deref()?;
        let res = self.resolve(&req.path).ok()?;
        let streamer = res.strategy.streamer(sub)?;
        let objects: Arc<dyn super::super::registry::ObjectReader + Send + Sync> = self.clone();
        Some(streamer.open(SubresourceStream {
            method: req.method.as_str(),
            namespace: req.path.namespace.as_deref(),
            name,
            query: &req.query,
            objects,
            data_dir,
        }))
    }
}
