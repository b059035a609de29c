//! What a request asks for, parsed once: the apiserver's `RequestInfo`, its query options
//! and the negotiated response format.

use std::collections::HashMap;

use super::status::ApiError;

/// The parsed API path: `/api/v1/namespaces/ns/pods/name/status` and friends.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApiPath {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// The path forms, as in the apiserver's RequestInfoFactory.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// `/api`, `/apis`, `/apis/<g>`, `/apis/<g>/<v>`, `/api/v1`: discovery documents.
    Discovery,
    /// A resource path under a group-version.
    Resource(ApiPath),
}

/// Splits an API path (`/api/...` or `/apis/...`) into its parts; `None` for anything that
/// is not a resource path (discovery, unknown).
pub fn parse_path(path: &str) -> Option<Route> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest): (&str, &str, &[&str]) = match parts.as_slice() {
        ["api"] | ["apis"] | ["apis", _] => return Some(Route::Discovery),
        ["api", v] | ["apis", _, v] if !v.is_empty() => {
            let _ = v;
            return Some(Route::Discovery);
        }
        ["api", v, rest @ ..] => ("", v, rest),
        ["apis", g, v, rest @ ..] => (g, v, rest),
        _ => return None,
    };
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    let mut p = ApiPath { group: group.into(), version: version.into(), ..Default::default() };
    match rest {
        // `/namespaces/<ns>` is the namespace object itself, `/namespaces/<ns>/status` its subresource.
        ["namespaces"] => p.resource = "namespaces".into(),
        ["namespaces", ns] => {
            p.resource = "namespaces".into();
            p.name = Some(decode(ns));
        }
        ["namespaces", ns, sub @ ("status" | "finalize")] => {
            p.resource = "namespaces".into();
            p.name = Some(decode(ns));
            p.subresource = Some(sub.to_string());
        }
        ["namespaces", ns, resource, tail @ ..] => {
            p.namespace = Some(decode(ns));
            p.resource = resource.to_string();
            match tail {
                [] => {}
                [name] => p.name = Some(decode(name)),
                [name, sub] => {
                    p.name = Some(decode(name));
                    p.subresource = Some(sub.to_string());
                }
                _ => return None,
            }
        }
        [resource] => p.resource = resource.to_string(),
        [resource, name] => {
            p.resource = resource.to_string();
            p.name = Some(decode(name));
        }
        [resource, name, sub] => {
            p.resource = resource.to_string();
            p.name = Some(decode(name));
            p.subresource = Some(sub.to_string());
        }
        _ => return None,
    }
    Some(Route::Resource(p))
}

/// The query string, decoded. Repeated keys keep the last value, as Go's `Get` keeps the first
/// — close enough for the options the API reads.
#[derive(Debug, Clone, Default)]
pub struct Query(HashMap<String, String>);

impl Query {
    pub fn parse(q: Option<&str>) -> Query {
        let mut m = HashMap::new();
        for pair in q.unwrap_or("").split('&').filter(|s| !s.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
            m.entry(dec(k)).or_insert_with(|| dec(v));
        }
        Query(m)
    }
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(|s| s.as_str())
    }
    pub fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true" | "1" | "True"))
    }
    pub fn has(&self, k: &str) -> bool {
        self.0.contains_key(k)
    }
}

/// How the response body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
    /// `application/json;as=Table;v=v1;g=meta.k8s.io`
    Table,
    /// `application/json;as=PartialObjectMetadata(List);v=v1;g=meta.k8s.io`
    Metadata,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Yaml => "application/yaml",
            Format::Table => "application/json;as=Table;v=v1;g=meta.k8s.io",
            Format::Metadata => "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io",
        }
    }
}

/// Picks the first representation the client accepts that the sandbox can produce, in the
/// client's order (kubectl lists Table first, then plain JSON as the fallback).
pub fn negotiate(accept: Option<&str>) -> Result<Format, ApiError> {
    let accept = match accept {
        None | Some("") => return Ok(Format::Json),
        Some(a) => a,
    };
    for clause in accept.split(',') {
        let mut parts = clause.split(';').map(|s| s.trim());
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let params: HashMap<String, String> =
            parts.filter_map(|p| p.split_once('=').map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))).collect();
        let as_ = params.get("as").map(|s| s.as_str());
        match (media.as_str(), as_) {
            ("application/json" | "*/*" | "application/*", None) => return Ok(Format::Json),
            ("application/json", Some("Table")) if params.get("g").map(|s| s.as_str()) == Some("meta.k8s.io") => return Ok(Format::Table),
            ("application/json", Some("PartialObjectMetadata" | "PartialObjectMetadataList")) => return Ok(Format::Metadata),
            ("application/yaml", None) => return Ok(Format::Yaml),
            _ => continue,
        }
    }
    Err(ApiError::not_acceptable())
}

/// The media type of a request body (parameters dropped).
pub fn media_type(content_type: Option<&str>) -> String {
    content_type.unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_namespaced_and_cluster_paths() {
        let Some(Route::Resource(p)) = parse_path("/api/v1/namespaces/ns1/pods/web/status") else { panic!() };
        assert_eq!(
            (p.group.as_str(), p.namespace.as_deref(), p.resource.as_str(), p.name.as_deref(), p.subresource.as_deref()),
            ("", Some("ns1"), "pods", Some("web"), Some("status"))
        );
        let Some(Route::Resource(p)) = parse_path("/api/v1/namespaces/ns1") else { panic!() };
        assert_eq!((p.resource.as_str(), p.name.as_deref(), p.namespace), ("namespaces", Some("ns1"), None));
        let Some(Route::Resource(p)) = parse_path("/apis/apps/v1/deployments") else { panic!() };
        assert_eq!((p.group.as_str(), p.resource.as_str()), ("apps", "deployments"));
        assert_eq!(parse_path("/apis/apps/v1"), Some(Route::Discovery));
        assert_eq!(parse_path("/version"), None);
    }

    #[test]
    fn negotiates_kubectl_table_then_json() {
        assert_eq!(
            negotiate(Some(
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
            ))
            .unwrap(),
            Format::Table
        );
        assert_eq!(negotiate(Some("application/vnd.kubernetes.protobuf, application/json")).unwrap(), Format::Json);
        assert_eq!(negotiate(Some("application/xml")).unwrap_err().code, 406);
    }
}
