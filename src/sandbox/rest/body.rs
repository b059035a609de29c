//! Request bodies: parsed by content type, checked against the URL's resource (group,
//! version, kind, namespace) and decoded into the stored form by the kind's registry.

use serde_json::{json, Value};

use super::super::conversion;
use super::super::meta;
use super::super::registry;
use super::super::request::{unsupported_body_media_type, ApiRequest, FieldValidation};
use super::super::resources::ResourceInfo;
use super::super::status::ApiError;
use super::{Apiserver, MAX_BODY_BYTES};

/// How Go's encoding/json names the first byte it could not parse.
fn go_quote_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".into(),
        b'"' => "'\"'".into(),
        c if (0x20..0x7f).contains(&c) => format!("'{}'", c as char),
        c => format!("'\\u{:04x}'", c),
    }
}

/// A JSON parse error worded as Go's decoder words it, for messages the apiserver passes on.
pub fn go_json_error(body: &[u8], e: &serde_json::Error) -> String {
    if e.is_eof() {
        return "unexpected end of JSON input".into();
    }
    let offset: usize =
        body.split(|b| *b == b'\n').take(e.line().saturating_sub(1)).map(|l| l.len() + 1).sum::<usize>() + e.column().saturating_sub(1);
    match body.get(offset) {
        Some(c) => format!("invalid character {} looking for beginning of value", go_quote_char(*c)),
        None => e.to_string(),
    }
}

/// Parses a request body by its content type into JSON.
pub(super) fn parse_body(res: &ResourceInfo, media_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    let snippet = |b: &[u8]| {
        let s = String::from_utf8_lossy(&b[..b.len().min(30)]).into_owned();
        if b.len() > 30 {
            format!("{s} ...")
        } else {
            s
        }
    };
    match media_type {
        "application/json" | "" => serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!(
                "the object provided is unrecognized (must be of type {}): couldn't get version/kind; json parse error: {} ({})",
                res.kind,
                go_json_error(body, &e),
                snippet(body)
            ))
        }),
        "application/yaml" => serde_saphyr::from_slice::<Value>(body).map_err(|e| {
            ApiError::bad_request(format!(
                "the object provided is unrecognized (must be of type {}): couldn't get version/kind; yaml parse error: {e}",
                res.kind
            ))
        }),
        super::super::protobuf::MEDIA_TYPE => super::super::protobuf::decode(res, body),
        _ => Err(unsupported_body_media_type()),
    }
}

/// Refuses, warns about or ignores unknown fields, as `?fieldValidation=` asks.
fn check_unknown_fields(res: &ResourceInfo, mode: FieldValidation, unknown: &[String], warnings: &mut Vec<String>) -> Result<(), ApiError> {
    if unknown.is_empty() {
        return Ok(());
    }
    match mode {
        FieldValidation::Ignore => Ok(()),
        FieldValidation::Warn => {
            warnings.extend(unknown.iter().map(|f| format!("unknown field \"{f}\"")));
            Ok(())
        }
        FieldValidation::Strict => {
            let list: Vec<String> = unknown.iter().map(|f| format!("unknown field \"{f}\"")).collect();
            Err(ApiError::bad_request(format!(
                "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
                res.kind,
                res.version,
                res.kind,
                list.join(", ")
            )))
        }
    }
}

impl Apiserver {
    /// The body's group/version checked against the URL's, as the decoder and the
    /// handler's `AcceptsGroupVersion` do. A kind the scheme does not have at the body's
    /// version cannot be decoded at all; one it has, at another version, is the wrong API.
    fn check_group_version(&self, res: &ResourceInfo, body: &Value) -> Result<(), ApiError> {
        // The type meta is read into Go strings first: anything else cannot be decoded.
        for field in ["apiVersion", "kind"] {
            if let Some(v) = body.get(field).filter(|v| !v.is_string() && !v.is_null()) {
                let found = registry::decode::go_json_type(v);
                return Err(ApiError::bad_request(format!(
                    "the object provided is unrecognized (must be of type {}): couldn't get version/kind; json parse error: json: cannot unmarshal {found} into Go struct field .{field} of type string",
                    res.kind
                )));
            }
        }
        let Some(api_version) = body.get("apiVersion").and_then(Value::as_str).filter(|v| !v.is_empty()) else { return Ok(()) };
        if api_version == res.api_version() {
            return Ok(());
        }
        let kind = body.get("kind").and_then(Value::as_str).filter(|k| !k.is_empty()).unwrap_or(&res.kind);
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let cat = self.catalogue();
        let registered = cat.all().iter().any(|r| r.group == group && r.version == version && r.kind == kind);
        if !registered {
            if res.is_custom() {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({api_version}) does not match the expected API version ({})",
                    res.api_version()
                )));
            }
            return Err(ApiError::bad_request(format!(
                "{kind} in version \"{version}\" cannot be handled as a {}: no kind \"{kind}\" is registered for version \"{api_version}\" in scheme \"pkg/api/legacyscheme/scheme.go:30\"",
                res.kind
            )));
        }
        if kind == res.kind {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({api_version}) does not match the expected API version ({})",
                res.api_version()
            )));
        }
        Ok(())
    }

    /// Decodes a body for `res`, checking group, version, kind and namespace against the URL.
    pub(super) fn decode_body(
        &self,
        res: &ResourceInfo,
        req: &ApiRequest,
        validation: FieldValidation,
        warnings: &mut Vec<String>,
    ) -> Result<Value, ApiError> {
        if req.body.len() > MAX_BODY_BYTES {
            return Err(ApiError::too_large("the request body is too large"));
        }
        let body = parse_body(res, &req.media_type, &req.body)?;
        self.decode_value(res, req, body, validation, warnings)
    }

    pub(super) fn decode_value(
        &self,
        res: &ResourceInfo,
        req: &ApiRequest,
        body: Value,
        validation: FieldValidation,
        warnings: &mut Vec<String>,
    ) -> Result<Value, ApiError> {
        // A body that is not an object has no type meta to check; the decoder refuses it.
        self.check_group_version(res, &body)?;
        let (mut obj, unknown) = registry::decode(res, body)?;
        check_unknown_fields(res, validation, &unknown, warnings)?;
        if let Some(map) = obj.as_object_mut() {
            map.insert("apiVersion".into(), json!(res.api_version()));
            map.insert("kind".into(), json!(res.kind));
        }
        // From here on the object is in the form it is stored in (core, for events.k8s.io).
        let mut obj = conversion::to_stored(res, obj);
        if res.namespaced {
            if let Some(url_ns) = req.path.namespace.as_deref() {
                match meta::namespace(&obj) {
                    Some(ns) if ns != url_ns => {
                        return Err(ApiError::bad_request(
                            "the namespace of the provided object does not match the namespace sent on the request",
                        ))
                    }
                    _ => meta::set(&mut obj, "namespace", json!(url_ns)),
                }
            }
        } else {
            meta::remove(&mut obj, "namespace");
        }
        Ok(obj)
    }
}
