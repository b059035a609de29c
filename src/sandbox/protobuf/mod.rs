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
mod table;
mod well_known;
mod wire;

use serde_json::{Map, Value};

use super::resources::ResourceInfo;
use super::status::ApiError;
use wire::{Fields, Raw, WireError};

/// The media type of Kubernetes protobuf bodies.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// What every Kubernetes protobuf document starts with.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// Decodes a request body for `res` into its JSON object. Malformed input is a 400 that
/// says what was wrong, worded as the apiserver words it; a custom resource is a 415, as
/// upstream.
pub fn decode(res: &ResourceInfo, body: &[u8]) -> Result<Value, ApiError> {
    if res.is_custom() {
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
    let Some(bytes) = body.strip_prefix(MAGIC.as_slice()) else {
        return Err(unrecognized(&format!("provided data does not appear to be a protobuf message, expected prefix {:?}", MAGIC)));
    };
    let mut envelope = Envelope::read(bytes).map_err(|e| unrecognized(&e))?;
    if envelope.api_version.is_empty() {
        envelope.api_version = res.api_version();
    }
    if envelope.kind.is_empty() {
        envelope.kind = res.kind.clone();
    }
    envelope.object(0).map_err(|e| {
        let version = envelope.api_version.rsplit('/').next().unwrap_or_default();
        ApiError::bad_request(format!("{} in version {version:?} cannot be handled as a {}: {e}", envelope.kind, res.kind))
    })
}

/// A nested protobuf object (after its magic), as `RawExtension`s may carry.
pub(crate) fn unknown(bytes: &[u8], depth: usize) -> Result<Value, WireError> {
    Envelope::read(bytes)?.object(depth)
}

/// `runtime.Unknown`: the object's type and its message.
struct Envelope<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
}

impl<'a> Envelope<'a> {
    fn read(bytes: &'a [u8]) -> Result<Self, WireError> {
        let mut envelope = Envelope { api_version: String::new(), kind: String::new(), raw: &[] };
        let mut fields = Fields::new(bytes);
        while let Some((tag, value)) = fields.next_field()? {
            match (tag, value) {
                (1, Raw::Bytes(type_meta)) => {
                    let mut tm = Fields::new(type_meta);
                    while let Some((tag, value)) = tm.next_field()? {
                        match (tag, value) {
                            (1, Raw::Bytes(v)) => envelope.api_version = String::from_utf8_lossy(v).into_owned(),
                            (2, Raw::Bytes(k)) => envelope.kind = String::from_utf8_lossy(k).into_owned(),
                            _ => {}
                        }
                    }
                }
                (2, Raw::Bytes(raw)) => envelope.raw = raw,
                // contentEncoding: Go's client never compresses the object inside
                (3, Raw::Bytes(e)) if !e.is_empty() => {
                    return Err(WireError(format!("unsupported content encoding {:?}", String::from_utf8_lossy(e))))
                }
                // contentType: always protobuf when clients send it
                (3 | 4, Raw::Bytes(_)) => {}
                (1..=4, other) => {
                    return Err(WireError(format!("proto: wrong wireType ({}) for field {tag} of runtime.Unknown", other.describe())))
                }
                _ => {}
            }
        }
        Ok(envelope)
    }

    /// The object's JSON, `apiVersion` and `kind` first, where a JSON client writes them.
    fn object(&self, depth: usize) -> Result<Value, WireError> {
        let (group, version) = self.api_version.rsplit_once('/').unwrap_or(("", &self.api_version));
        let message = table::message_of_kind(group, version, &self.kind)
            .ok_or_else(|| WireError(format!("no kind {:?} is registered for version {:?}", self.kind, self.api_version)))?;
        let Value::Object(fields) = object::message(message.name, self.raw, depth + 1)? else {
            return Err(WireError(format!("{} is not an object", self.kind)));
        };
        let mut out = Map::new();
        out.insert("apiVersion".into(), Value::String(self.api_version.clone()));
        out.insert("kind".into(), Value::String(self.kind.clone()));
        out.extend(fields.into_iter().filter(|(k, _)| k != "apiVersion" && k != "kind"));
        Ok(Value::Object(out))
    }
}

/// The start of the body as the apiserver quotes it in decode errors: binary in hex.
fn summary(body: &[u8]) -> String {
    const MAX: usize = 30;
    if body.is_empty() {
        return "<empty>".into();
    }
    let head = &body[..body.len().min(MAX)];
    let text = if body[0] == b'{' {
        String::from_utf8_lossy(head).into_owned()
    } else {
        head.iter().map(|b| format!("{b:02x}")).collect()
    };
    if body.len() > MAX {
        format!("{text} ...")
    } else {
        text
    }
}

#[cfg(test)]
mod tests;
