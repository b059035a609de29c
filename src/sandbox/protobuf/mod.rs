//! Request bodies in Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`),
//! read into the JSON the same client would have sent as `application/json`.
//!
//! kubectl's typed commands (`create namespace`, `create configmap`, `create deployment`,
//! `create secret`, `create service`) and client-go programs configured for protobuf send
//! built-in objects this way, and kube-apiserver accepts them. The sandbox keeps objects
//! as JSON, so it converts at the door and everything after the body parser is unchanged.
//!
//! The body is the magic `k8s\0` and a `runtime.Unknown` envelope: `{1: typeMeta
//! {1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding, 4: contentType}`, where `raw` is
//! the object's own message. [`table`] knows every message's fields (generated into
//! [`schema`]); [`object`] walks them; [`well_known`] handles the types that have their
//! own JSON form. Custom resources have no protobuf form and keep being refused with 415,
//! as kube-apiserver refuses them.

mod object;
mod schema;
pub mod table;
mod well_known;
pub mod wire;

use serde_json::{Map, Value};

use super::resources::ResourceInfo;
use super::status::ApiError;
use wire::{Fields, Raw, WireError};

/// The media type of Kubernetes protobuf bodies.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// What every Kubernetes protobuf document starts with.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// Decodes a request body for `res` into its JSON object. Malformed input is a 400 that
/// says what was wrong; a custom resource is a 415, as upstream.
pub fn decode(res: &ResourceInfo, body: &[u8]) -> Result<Value, ApiError> {
    if res.schema.is_some() {
        return Err(ApiError::unsupported_media_type(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml",
        ));
    }
    let unrecognized = |why: &dyn std::fmt::Display| {
        ApiError::bad_request(format!(
            "the object provided is unrecognized (must be of type {}): {why} ({})",
            res.kind,
            summary(body)
        ))
    };
    let Some(envelope) = body.strip_prefix(MAGIC.as_slice()) else {
        return Err(unrecognized(&format!("provided data does not appear to be a protobuf message, expected prefix {:?}", MAGIC)));
    };
    unknown(envelope, Some(res), 0).map_err(|e| unrecognized(&e))
}

/// A `runtime.Unknown` (after the magic): its object's JSON, with `apiVersion` and `kind`
/// from the envelope — or from `fallback`, the resource of the request, when the envelope
/// leaves them out.
pub(crate) fn unknown(bytes: &[u8], fallback: Option<&ResourceInfo>, depth: usize) -> Result<Value, WireError> {
    let (mut api_version, mut kind, mut raw, mut encoding) = (String::new(), String::new(), &[][..], String::new());
    let mut fields = Fields::new(bytes);
    while let Some((tag, value)) = fields.next_field()? {
        match (tag, value) {
            (1, Raw::Bytes(type_meta)) => {
                let mut tm = Fields::new(type_meta);
                while let Some((tag, value)) = tm.next_field()? {
                    match (tag, value) {
                        (1, Raw::Bytes(v)) => api_version = String::from_utf8_lossy(v).into_owned(),
                        (2, Raw::Bytes(k)) => kind = String::from_utf8_lossy(k).into_owned(),
                        _ => {}
                    }
                }
            }
            (2, Raw::Bytes(r)) => raw = r,
            (3, Raw::Bytes(e)) => encoding = String::from_utf8_lossy(e).into_owned(),
            (1..=4, other) => return Err(WireError(format!("proto: wrong wireType ({}) for field {tag} of runtime.Unknown", other.describe()))),
            _ => {}
        }
    }
    if !encoding.is_empty() {
        return Err(WireError(format!("unsupported content encoding {encoding:?}")));
    }
    if let Some(res) = fallback {
        if api_version.is_empty() {
            api_version = res.api_version();
        }
        if kind.is_empty() {
            kind = res.kind.clone();
        }
    }
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
    let message = table::message_of_kind(group, version, &kind)
        .ok_or_else(|| WireError(format!("no kind {kind:?} is registered for version {api_version:?}")))?;
    let Value::Object(fields) = object::message(message.name, raw, depth + 1)? else {
        return Err(WireError(format!("{kind} is not an object")));
    };
    // apiVersion and kind first, where a JSON client writes them
    let mut out = Map::new();
    out.insert("apiVersion".into(), Value::String(api_version));
    out.insert("kind".into(), Value::String(kind));
    out.extend(fields.into_iter().filter(|(k, _)| k != "apiVersion" && k != "kind"));
    Ok(Value::Object(out))
}

/// The start of the body, as the apiserver quotes it in decode errors.
fn summary(body: &[u8]) -> String {
    let head = String::from_utf8_lossy(&body[..body.len().min(30)]).into_owned();
    if body.len() > 30 {
        format!("{head} ...")
    } else {
        head
    }
}
