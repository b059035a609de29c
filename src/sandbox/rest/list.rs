//! LIST: a consistent snapshot (now, or at an exact earlier revision), selectors, and
//! pages with continue tokens.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::super::keys::list_prefix;
use super::super::request::{ApiRequest, Format, ListOptions};
use super::super::resources::ResourceInfo;
use super::super::status::ApiError;
use super::super::storage::{Snapshot, Stored};
use super::body::go_json_error;
use super::encode::encode_list;
use super::{Apiserver, Reply};

/// A continue token: the revision the first page was read at and the last key served.
/// Encoded like the apiserver's (base64 of a small JSON document), opaque to clients.
#[derive(Debug, Clone, PartialEq)]
pub struct ContinueToken {
    pub rv: u64,
    pub start: String,
}

impl ContinueToken {
    pub fn encode(&self) -> String {
        use base64::Engine;
        let doc = json!({"v": "meta.k8s.io/v1", "rv": self.rv, "start": self.start});
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(doc.to_string())
    }

    pub fn decode(s: &str) -> Result<ContinueToken, ApiError> {
        use base64::Engine;
        let invalid = |why: String| ApiError::bad_request(format!("invalid continue token: {why}"));
        // Lenient like Go's RawURLEncoding: trailing bits are not checked.
        let engine = base64::engine::GeneralPurpose::new(
            &base64::alphabet::URL_SAFE,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_allow_trailing_bits(true)
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        let bytes = engine.decode(s).map_err(|e| invalid(format!("continue key is not valid: {e}")))?;
        let doc: Value =
            serde_json::from_slice(&bytes).map_err(|e| invalid(format!("continue key is not valid: {}", go_json_error(&bytes, &e))))?;
        if doc.get("v").and_then(|v| v.as_str()) != Some("meta.k8s.io/v1") {
            return Err(invalid("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)".into()));
        }
        let rv = doc
            .get("rv")
            .and_then(|r| r.as_u64())
            .ok_or_else(|| invalid("continue key is not valid: incorrect encoded start resourceVersion".into()))?;
        let start = doc.get("start").and_then(|r| r.as_str()).unwrap_or_default().to_string();
        Ok(ContinueToken { rv, start })
    }
}

/// Whether a stored object passes the label and field selectors.
pub fn selected(opts: &ListOptions, s: &Stored) -> bool {
    opts.matches(&s.labels, &s.fields)
}

/// Which revision a list reads, from `resourceVersion` and `resourceVersionMatch`.
fn snapshot(opts: &ListOptions, current: u64) -> Result<Snapshot, ApiError> {
    let Some(rv) = &opts.resource_version else { return Ok(Snapshot::Current) };
    let n = ApiError::parse_resource_version(rv)?;
    if n > current {
        return Err(ApiError::too_large_resource_version(n, current));
    }
    Ok(match opts.resource_version_match.as_deref() {
        Some("Exact") => Snapshot::At(n),
        _ => Snapshot::Current,
    })
}

impl Apiserver {
    pub(super) fn list(&self, res: &ResourceInfo, req: &ApiRequest, opts: &ListOptions) -> Result<Reply, ApiError> {
        let continue_token = opts.continue_token.as_deref().map(ContinueToken::decode).transpose()?;
        let prefix = list_prefix(res, req.path.namespace.as_deref());
        let (snapshot, start_after) = match &continue_token {
            Some(c) => (Snapshot::At(c.rv), Some(c.start.clone())),
            None => (snapshot(opts, self.storage.revision())?, None),
        };
        let (rev, items) = self.storage.list(&prefix, start_after.as_deref(), snapshot).map_err(|_| {
            if continue_token.is_some() {
                ApiError::gone("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.")
            } else {
                ApiError::gone("The resourceVersion for the provided list is too old.")
            }
        })?;
        let mut page: Vec<Arc<Stored>> = Vec::new();
        let mut next = None;
        let mut remaining = 0usize;
        for s in items.into_iter().filter(|s| selected(opts, s)) {
            if opts.limit.is_some_and(|limit| page.len() >= limit) {
                if next.is_none() {
                    let last = page.last().map(|l| l.key.clone()).unwrap_or_default();
                    next = Some(ContinueToken { rv: rev, start: last }.encode());
                }
                remaining += 1;
                continue;
            }
            page.push(s);
        }
        let mut list_meta = Map::new();
        list_meta.insert("resourceVersion".into(), json!(rev.to_string()));
        if let Some(c) = &next {
            list_meta.insert("continue".into(), json!(c));
            // With a selector the count is unknown to etcd; the apiserver leaves it out.
            if opts.label.is_empty() && opts.field.is_empty() {
                list_meta.insert("remainingItemCount".into(), json!(remaining));
            }
        } else if res.is_custom() && matches!(req.format, Format::Json | Format::Yaml) {
            // An unstructured list always carries its continue token, empty on the last page.
            list_meta.insert("continue".into(), json!(""));
        }
        encode_list(res, req, Value::Object(list_meta), &page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_garbage_is_a_400() {
        let t = ContinueToken { rv: 42, start: "/configmaps/ns/b".into() };
        assert_eq!(ContinueToken::decode(&t.encode()).unwrap(), t);
        let e = ContinueToken::decode("not-a-token").unwrap_err();
        assert_eq!(e.code, 400);
        assert_eq!(
            e.message,
            "invalid continue token: continue key is not valid: invalid character '\\u009e' looking for beginning of value"
        );
    }
}
