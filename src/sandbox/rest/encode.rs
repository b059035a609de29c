//! Response encoding: one object or a list, in the negotiated format (JSON, YAML, Table,
//! PartialObjectMetadata) and in the representation the resource is served in.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{json, Value};

use super::super::conversion::{self, served_bytes};
use super::super::meta;
use super::super::request::{ApiRequest, Format};
use super::super::resources::ResourceInfo;
use super::super::status::ApiError;
use super::super::storage::Stored;
use super::super::table;
use super::{stored_form, Reply};

/// Encodes an object that was not stored (a dry run) in the negotiated format.
pub fn encode_value(res: &ResourceInfo, req: &ApiRequest, status: u16, v: &Value, warnings: Vec<String>) -> Result<Reply, ApiError> {
    encode_raw(res, req, status, &Bytes::from(serde_json::to_vec(v).expect("JSON values serialize")), warnings)
}

/// Encodes one object (raw JSON, stored form) in the negotiated format and the
/// representation `res` is served in.
pub fn encode_raw(res: &ResourceInfo, req: &ApiRequest, status: u16, raw: &Bytes, warnings: Vec<String>) -> Result<Reply, ApiError> {
    let raw = &served_bytes(res, raw);
    let (content_type, body) = match req.format {
        Format::Json => ("application/json".to_string(), raw.clone()),
        Format::Yaml => {
            let v: Value = serde_json::from_slice(raw).map_err(|e| ApiError::internal(e.to_string()))?;
            ("application/yaml".to_string(), Bytes::from(serde_saphyr::to_string(&v).map_err(|e| ApiError::internal(e.to_string()))?))
        }
        Format::Table => {
            let v: Value = serde_json::from_slice(raw).map_err(|e| ApiError::internal(e.to_string()))?;
            let rv = meta::resource_version(&v).unwrap_or_default().to_string();
            let t = table::to_table(res, &[v], json!({"resourceVersion": rv}), req.include_object, std::time::SystemTime::now());
            (Format::Table.content_type().to_string(), Bytes::from(serde_json::to_vec(&t).unwrap()))
        }
        Format::Metadata => {
            let v: Value = serde_json::from_slice(raw).map_err(|e| ApiError::internal(e.to_string()))?;
            let m = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": v.get("metadata").cloned().unwrap_or(json!({}))});
            (Format::Metadata.content_type().to_string(), Bytes::from(serde_json::to_vec(&m).unwrap()))
        }
    };
    Ok(Reply { status, content_type, body, warnings })
}

/// Encodes a list. JSON is assembled from the stored bytes without re-parsing them, which
/// is what keeps a LIST of 10,000 pods fast; a resource served in another representation
/// than its stored one has its items converted first.
pub fn encode_list(res: &ResourceInfo, req: &ApiRequest, list_meta: Value, items: &[Arc<Stored>]) -> Result<Reply, ApiError> {
    if res.is_custom() {
        let served: Vec<Arc<Stored>> = items.iter().map(|s| defaulted(res, s).map(Arc::new).unwrap_or_else(|| s.clone())).collect();
        return encode_list_as_stored(res, req, list_meta, &served);
    }
    if conversion::is_converted(res) {
        let served: Vec<Arc<Stored>> = items.iter().map(|s| Arc::new(served_item(res, s))).collect();
        return encode_list_as_stored(res, req, list_meta, &served);
    }
    encode_list_as_stored(res, req, list_meta, items)
}

/// A custom resource as read from storage: the apiextensions-apiserver's decoder applies
/// the schema's defaults on every read, so an object stored before a default was added
/// shows it. `None` when the defaults change nothing.
pub fn defaulted(res: &ResourceInfo, s: &Stored) -> Option<Stored> {
    let stored = s.value();
    let mut v = stored.clone();
    res.strategy.defaults(&mut v);
    if v == stored {
        return None;
    }
    Some(reshaped(res, s, &v))
}

/// A stored item converted to `res`'s representation, laid out as the store lays out items.
fn served_item(res: &ResourceInfo, s: &Stored) -> Stored {
    reshaped(res, s, &conversion::from_stored(res, s.value()))
}

/// `s` served as `obj` (its defaulted or converted form): the same key, revision and
/// index, the body laid out as the store lays out items.
fn reshaped(res: &ResourceInfo, s: &Stored, obj: &Value) -> Stored {
    let served = stored_form(res, obj);
    Stored {
        key: s.key.clone(),
        rv: s.rv,
        raw: served.raw,
        item_start: served.item_start,
        labels: s.labels.clone(),
        fields: s.fields.clone(),
    }
}

fn encode_list_as_stored(res: &ResourceInfo, req: &ApiRequest, list_meta: Value, items: &[Arc<Stored>]) -> Result<Reply, ApiError> {
    match req.format {
        Format::Json => {
            let total: usize = items.iter().map(|s| s.raw.len() + 1).sum();
            let mut out = Vec::with_capacity(total + 256);
            out.extend_from_slice(b"{\"kind\":");
            out.extend_from_slice(serde_json::to_string(&res.list_kind()).unwrap().as_bytes());
            out.extend_from_slice(b",\"apiVersion\":");
            out.extend_from_slice(serde_json::to_string(&res.api_version()).unwrap().as_bytes());
            out.extend_from_slice(b",\"metadata\":");
            out.extend_from_slice(list_meta.to_string().as_bytes());
            out.extend_from_slice(b",\"items\":[");
            for (i, s) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let (open, rest) = s.item_parts();
                out.extend_from_slice(open);
                out.extend_from_slice(rest);
            }
            out.extend_from_slice(b"]}");
            Ok(Reply::json(200, Bytes::from(out)))
        }
        Format::Yaml => {
            let values: Vec<Value> = items.iter().map(|s| s.value()).collect();
            let list = json!({"kind": res.list_kind(), "apiVersion": res.api_version(), "metadata": list_meta, "items": values});
            let body = serde_saphyr::to_string(&list).map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(Reply { status: 200, content_type: "application/yaml".into(), body: Bytes::from(body), warnings: vec![] })
        }
        Format::Table => {
            let values: Vec<Value> = items.iter().map(|s| s.value()).collect();
            let t = table::to_table(res, &values, list_meta, req.include_object, std::time::SystemTime::now());
            Ok(Reply {
                status: 200,
                content_type: Format::Table.content_type().into(),
                body: Bytes::from(serde_json::to_vec(&t).unwrap()),
                warnings: vec![],
            })
        }
        Format::Metadata => {
            let values: Vec<Value> = items
                .iter()
                .map(|s| {
                    let v = s.value();
                    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": v.get("metadata").cloned().unwrap_or(json!({}))})
                })
                .collect();
            let list = json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta, "items": values});
            Ok(Reply {
                status: 200,
                content_type: "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io".into(),
                body: Bytes::from(serde_json::to_vec(&list).unwrap()),
                warnings: vec![],
            })
        }
    }
}
