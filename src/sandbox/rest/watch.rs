//! WATCH as a verb like the others: the request resolved and its options parsed here,
//! the stream itself run by [`crate::sandbox::watch`].

use super::super::connection::Timeouts;
use super::super::keys::list_prefix;
use super::super::request::{Format, HttpRequest, Verb};
use super::super::status::ApiError;
use super::super::watch::Watch;
use super::Apiserver;

impl Apiserver {
    /// A watch ready to start streaming, or the error to answer instead.
    pub fn watch(&self, req: HttpRequest, timeouts: &Timeouts) -> Result<Watch, ApiError> {
        let (res, req) = self.understand(req)?;
        let Verb::Watch(opts) = req.verb else { return Err(ApiError::method_not_allowed()) };
        if req.path.name.is_some() || !res.has_verb("watch") {
            return Err(ApiError::method_not_allowed());
        }
        // A watch streams JSON events (or Tables); other formats fall back to JSON.
        let format = if req.format == Format::Table { Format::Table } else { Format::Json };
        let prefix = list_prefix(&res, req.path.namespace.as_deref());
        let mut watch = Watch::prepare(self.storage.clone(), &res, prefix, opts, format, req.include_object, timeouts)?;
        watch.warnings.extend(super::super::deprecation::warning(&res));
        Ok(watch)
    }
}
