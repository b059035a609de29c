//! Discovery: `/api`, `/api/v1`, `/apis`, `/apis/<g>[/<v>]`, and the OpenAPI paths (handed
//! to [`super::openapi`]).
//!
//! A client knows nothing of the server's resources until it asks. client-go's discovery
//! client first asks `/api` and `/apis` for the *aggregated* form (apidiscovery.k8s.io/v2:
//! every group, version and resource in one response, negotiated through the Accept header)
//! and falls back to the legacy walk: `/api` and `/apis` list groups and versions, then one
//! `APIResourceList` per group-version. Both are derived here from the catalogue, so a
//! custom resource appears in discovery as soon as its CRD is in the catalogue.

use serde_json::{json, Map, Value};

use super::openapi;
use super::resources::{Catalogue, ResourceInfo};
use super::status::ApiError;

/// A response body with its content type.
pub struct Document {
    pub content_type: String,
    pub body: bytes::Bytes,
}

/// What `/api` advertises as the server's address when the caller does not say.
pub const DEFAULT_SERVER_ADDRESS: &str = "127.0.0.1:6443";

/// Answers a discovery or OpenAPI path, or `None` when `path` is neither.
/// `accept` is the request's Accept header (aggregated discovery is negotiated through it).
pub fn serve(path: &str, accept: &str, catalogue: &Catalogue) -> Option<Result<Document, ApiError>> {
    serve_at(path, accept, catalogue, DEFAULT_SERVER_ADDRESS)
}

/// [`serve`], with the `host:port` clients reach the server at, which `/api` advertises in
/// `serverAddressByClientCIDRs`.
pub fn serve_at(path: &str, accept: &str, catalogue: &Catalogue, server_address: &str) -> Option<Result<Document, ApiError>> {
    let path = path.split('?').next().unwrap_or(path);
    if path.starts_with("/openapi/") {
        return openapi::serve(path, accept, catalogue);
    }
    let path = if path.len() > 1 { path.strip_suffix('/').unwrap_or(path) } else { path };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if !matches!(segments.as_slice(), ["api"] | ["api", _] | ["apis"] | ["apis", _] | ["apis", _, _]) {
        return None;
    }
    let aggregated_allowed = matches!(segments.as_slice(), ["api"] | ["apis"]);
    let Some(format) = negotiate(accept, aggregated_allowed) else {
        return Some(Err(ApiError::not_acceptable()));
    };
    let body = match (segments.as_slice(), format) {
        (["api"], Format::Aggregated(v)) => return Some(Ok(aggregated(v, vec![core_group(catalogue)]))),
        (["apis"], Format::Aggregated(v)) => {
            return Some(Ok(aggregated(v, groups(catalogue).iter().map(|(g, vs)| api_group_discovery(catalogue, g, vs)).collect())))
        }
        (["api"], Format::Plain) => json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]
        }),
        (["api", version], Format::Plain) => {
            if !catalogue.serves_group_version("", version) {
                return Some(Err(ApiError::page_not_found()));
            }
            // The core group's list has no apiVersion: kube-apiserver leaves it out.
            json!({"kind": "APIResourceList", "groupVersion": version, "resources": api_resources(catalogue, "", version)})
        }
        (["apis"], Format::Plain) => json!({
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": groups(catalogue).iter().map(|(g, vs)| api_group(g, vs)).collect::<Vec<_>>()
        }),
        (["apis", group], Format::Plain) => match groups(catalogue).into_iter().find(|(g, _)| g == group) {
            Some((g, vs)) => {
                let mut v = api_group(&g, &vs);
                let m = v.as_object_mut().expect("an APIGroup is an object");
                m.insert("kind".into(), json!("APIGroup"));
                m.insert("apiVersion".into(), json!("v1"));
                v
            }
            None => return Some(Err(ApiError::page_not_found())),
        },
        (["apis", group, version], Format::Plain) => {
            if !catalogue.serves_group_version(group, version) {
                return Some(Err(ApiError::page_not_found()));
            }
            json!({
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": format!("{group}/{version}"),
                "resources": api_resources(catalogue, group, version)
            })
        }
        _ => return None,
    };
    Some(Ok(Document { content_type: "application/json".into(), body: body.to_string().into() }))
}

/// The representation a request asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    /// `apidiscovery.k8s.io/<version>` `APIGroupDiscoveryList`.
    Aggregated(&'static str),
    /// The legacy `APIVersions` / `APIGroupList` / `APIResourceList`.
    Plain,
}

/// One media range of an Accept header: `application/json;g=...;v=v2;as=...`.
struct MediaRange<'a> {
    type_: &'a str,
    params: Vec<(&'a str, &'a str)>,
}

impl<'a> MediaRange<'a> {
    fn param(&self, key: &str) -> Option<&'a str> {
        self.params.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

fn media_ranges(accept: &str) -> Vec<MediaRange<'_>> {
    accept
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| {
            let mut parts = r.split(';').map(str::trim);
            let type_ = parts.next().unwrap_or("");
            let params = parts.filter_map(|p| p.split_once('=')).map(|(k, v)| (k.trim(), v.trim())).collect();
            MediaRange { type_, params }
        })
        .collect()
}

/// True when `accept` takes one of `offered` (plain types, or wildcards); an absent Accept
/// takes anything. Ranges asking for a specific object (`as=...`) are not plain.
pub fn accepts(accept: &str, offered: &[&str]) -> bool {
    let ranges = media_ranges(accept);
    ranges.is_empty()
        || ranges.iter().any(|r| {
            r.param("as").is_none()
                && (r.type_ == "*/*"
                    || offered.iter().any(|o| *o == r.type_ || (r.type_.ends_with("/*") && o.starts_with(r.type_.trim_end_matches('*')))))
        })
}

/// The first range, in the client's order, that the sandbox can answer. Protobuf ranges
/// are skipped: kubectl lists JSON after them and takes what it gets.
fn negotiate(accept: &str, aggregated_allowed: bool) -> Option<Format> {
    let ranges = media_ranges(accept);
    if ranges.is_empty() {
        return Some(Format::Plain);
    }
    for r in &ranges {
        if r.type_ == "application/json" && r.param("g") == Some("apidiscovery.k8s.io") && r.param("as") == Some("APIGroupDiscoveryList") {
            if !aggregated_allowed {
                continue;
            }
            match r.param("v") {
                Some("v2") => return Some(Format::Aggregated("v2")),
                Some("v2beta1") => return Some(Format::Aggregated("v2beta1")),
                _ => continue,
            }
        }
        if r.param("as").is_none() && matches!(r.type_, "application/json" | "application/*" | "*/*") {
            return Some(Format::Plain);
        }
    }
    None
}

/// Upstream's order of built-in groups in `/apis` (by group priority); groups not listed,
/// such as those of custom resources, follow in alphabetical order.
const GROUP_ORDER: &[&str] = &[
    "apiregistration.k8s.io",
    "apps",
    "events.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "node.k8s.io",
    "discovery.k8s.io",
    "resource.k8s.io",
    "flowcontrol.apiserver.k8s.io",
];

/// The non-core groups in discovery order, each with its versions, preferred first.
fn groups(catalogue: &Catalogue) -> Vec<(String, Vec<String>)> {
    let mut groups = catalogue.groups();
    for (_, versions) in groups.iter_mut() {
        versions.sort_by(|a, b| version_priority(a).cmp(&version_priority(b)).then_with(|| a.cmp(b)));
    }
    groups.sort_by_key(|(g, _)| match GROUP_ORDER.iter().position(|o| o == g) {
        Some(i) => (0, i, String::new()),
        None => (1, 0, g.clone()),
    });
    groups
}

/// Kubernetes' version order, as a sort key (smaller first): GA before beta before alpha,
/// higher numbers first (`v2`, `v1`, `v1beta2`, `v1beta1`, `v1alpha1`), then anything else.
fn version_priority(version: &str) -> (u8, i64, i64) {
    let Some(rest) = version.strip_prefix('v') else { return (3, 0, 0) };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let Ok(major) = digits.parse::<i64>() else { return (3, 0, 0) };
    let tail = &rest[digits.len()..];
    let (level, minor) = if tail.is_empty() {
        (0, "0")
    } else if let Some(m) = tail.strip_prefix("beta") {
        (1, m)
    } else if let Some(m) = tail.strip_prefix("alpha") {
        (2, m)
    } else {
        return (3, 0, 0);
    };
    match minor.parse::<i64>() {
        Ok(minor) => (level, -major, -minor),
        Err(_) => (3, 0, 0),
    }
}

fn group_version(group: &str, version: &str) -> Value {
    json!({"groupVersion": format!("{group}/{version}"), "version": version})
}

fn api_group(group: &str, versions: &[String]) -> Value {
    json!({
        "name": group,
        "versions": versions.iter().map(|v| group_version(group, v)).collect::<Vec<_>>(),
        "preferredVersion": group_version(group, &versions[0]),
    })
}

/// A subresource as discovery lists it.
struct Sub {
    name: String,
    kind: String,
    /// The kind's group and version when it belongs to another group (`autoscaling/v1` Scale).
    foreign: Option<(&'static str, &'static str)>,
    verbs: Vec<String>,
}

/// Subresource kinds that live in other groups than their resource.
fn foreign_group(kind: &str) -> Option<(&'static str, &'static str)> {
    match kind {
        "Scale" => Some(("autoscaling", "v1")),
        "Eviction" => Some(("policy", "v1")),
        "TokenRequest" => Some(("authentication.k8s.io", "v1")),
        _ => None,
    }
}

/// Served and discovery-only subresources of `r`, by name.
fn subresources(r: &ResourceInfo) -> Vec<Sub> {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut subs: Vec<Sub> = r
        .subresources
        .iter()
        .map(|name| match name.as_str() {
            "scale" => Sub {
                name: name.clone(),
                kind: "Scale".into(),
                foreign: foreign_group("Scale"),
                verbs: strings(&["get", "patch", "update"]),
            },
            "finalize" => Sub { name: name.clone(), kind: r.kind.clone(), foreign: None, verbs: strings(&["update"]) },
            _ => Sub { name: name.clone(), kind: r.kind.clone(), foreign: None, verbs: strings(&["get", "patch", "update"]) },
        })
        .collect();
    for (name, kind, verbs) in &r.listed_subresources {
        if !subs.iter().any(|s| &s.name == name) {
            subs.push(Sub { name: name.clone(), kind: kind.clone(), foreign: foreign_group(kind), verbs: verbs.clone() });
        }
    }
    subs.sort_by(|a, b| a.name.cmp(&b.name));
    subs
}

/// The resources of one group-version, by plural, discovery-only ones included.
fn resources_of(catalogue: &Catalogue, group: &str, version: &str) -> Vec<ResourceInfo> {
    let mut out: Vec<ResourceInfo> = Vec::new();
    for r in catalogue.discoverable().filter(|r| r.group == group && r.version == version) {
        if !out.iter().any(|o| o.plural == r.plural) {
            out.push(r.clone());
        }
    }
    out.sort_by(|a, b| a.plural.cmp(&b.plural));
    out
}

/// Inserts `key` when the list is not empty: discovery omits empty `shortNames`/`categories`.
fn insert_non_empty(m: &mut Map<String, Value>, key: &str, values: &[String]) {
    if !values.is_empty() {
        m.insert(key.into(), json!(values));
    }
}

/// `metav1.APIResource` entries, subresources as `pods/status` after their resource.
fn api_resources(catalogue: &Catalogue, group: &str, version: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for r in resources_of(catalogue, group, version) {
        let mut m = Map::new();
        m.insert("name".into(), json!(r.plural));
        m.insert("singularName".into(), json!(r.singular));
        m.insert("namespaced".into(), json!(r.namespaced));
        m.insert("kind".into(), json!(r.kind));
        m.insert("verbs".into(), json!(r.verbs));
        insert_non_empty(&mut m, "shortNames", &r.short_names);
        insert_non_empty(&mut m, "categories", &r.categories);
        if !r.storage_version_hash.is_empty() {
            m.insert("storageVersionHash".into(), json!(r.storage_version_hash));
        }
        out.push(Value::Object(m));
        for sub in subresources(&r) {
            let mut m = Map::new();
            m.insert("name".into(), json!(format!("{}/{}", r.plural, sub.name)));
            m.insert("singularName".into(), json!(""));
            m.insert("namespaced".into(), json!(r.namespaced));
            if let Some((g, v)) = sub.foreign {
                m.insert("group".into(), json!(g));
                m.insert("version".into(), json!(v));
            }
            m.insert("kind".into(), json!(sub.kind));
            m.insert("verbs".into(), json!(sub.verbs));
            out.push(Value::Object(m));
        }
    }
    out
}

/// The `responseKind` of aggregated discovery. Built-ins leave group and version empty when
/// they are the resource's own (as `APIResource` does); the CRD discovery controller fills them.
fn response_kind(r: &ResourceInfo, kind: &str, foreign: Option<(&str, &str)>) -> Value {
    match foreign {
        Some((g, v)) => json!({"group": g, "version": v, "kind": kind}),
        None if r.is_custom() => json!({"group": r.group, "version": r.version, "kind": kind}),
        None => json!({"group": "", "version": "", "kind": kind}),
    }
}

/// `apidiscovery.k8s.io/v2` `APIResourceDiscovery` entries of one group-version.
fn resource_discovery(catalogue: &Catalogue, group: &str, version: &str) -> Vec<Value> {
    resources_of(catalogue, group, version)
        .iter()
        .map(|r| {
            let mut m = Map::new();
            m.insert("resource".into(), json!(r.plural));
            m.insert("responseKind".into(), response_kind(r, &r.kind, None));
            m.insert("scope".into(), json!(if r.namespaced { "Namespaced" } else { "Cluster" }));
            m.insert("singularResource".into(), json!(r.singular));
            m.insert("verbs".into(), json!(r.verbs));
            insert_non_empty(&mut m, "shortNames", &r.short_names);
            insert_non_empty(&mut m, "categories", &r.categories);
            let subs: Vec<Value> = subresources(r)
                .iter()
                .map(|s| json!({"subresource": s.name, "responseKind": response_kind(r, &s.kind, s.foreign), "verbs": s.verbs}))
                .collect();
            if !subs.is_empty() {
                m.insert("subresources".into(), Value::Array(subs));
            }
            Value::Object(m)
        })
        .collect()
}

fn version_discovery(catalogue: &Catalogue, group: &str, version: &str) -> Value {
    json!({"version": version, "resources": resource_discovery(catalogue, group, version), "freshness": "Current"})
}

/// The core group's `APIGroupDiscovery`: it has no name.
fn core_group(catalogue: &Catalogue) -> Value {
    json!({"metadata": {}, "versions": [version_discovery(catalogue, "", "v1")]})
}

fn api_group_discovery(catalogue: &Catalogue, group: &str, versions: &[String]) -> Value {
    json!({
        "metadata": {"name": group},
        "versions": versions.iter().map(|v| version_discovery(catalogue, group, v)).collect::<Vec<_>>(),
    })
}

fn aggregated(version: &str, items: Vec<Value>) -> Document {
    let body = json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items,
    });
    Document {
        content_type: format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"),
        body: body.to_string().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// A recorded response of p01-discovery, by step name.
    fn recorded(step: &str) -> Value {
        let corpus = include_str!("../../tests/fixtures/p01-discovery.jsonl");
        corpus
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|o| o["name"] == step)
            .unwrap_or_else(|| panic!("no step {step}"))["response"]
            .clone()
    }

    fn get(path: &str, accept: &str) -> (String, Value) {
        let doc = serve(path, accept, &Catalogue::default()).expect("a discovery path").expect("a document");
        (doc.content_type, serde_json::from_slice(&doc.body).unwrap())
    }

    /// Every key path of a JSON value, list items merged (`resources[].verbs`).
    fn key_paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let p = format!("{prefix}.{k}");
                    out.insert(p.clone());
                    key_paths(v, &p, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| key_paths(i, &format!("{prefix}[]"), out)),
            _ => {}
        }
    }

    fn by_name<'a>(list: &'a Value, key: &str) -> Vec<(&'a str, &'a Value)> {
        let mut v: Vec<_> = list.as_array().unwrap().iter().map(|r| (r[key].as_str().unwrap(), r)).collect();
        v.sort_by_key(|(n, _)| *n);
        v
    }

    #[test]
    fn core_v1_matches_the_recorded_server() {
        let want = recorded("api-v1")["body"].clone();
        let (ct, got) = get("/api/v1", "application/json");
        assert_eq!(ct, "application/json");
        assert_eq!(got["kind"], want["kind"]);
        assert!(got.get("apiVersion").is_none());
        assert_eq!(by_name(&got["resources"], "name"), by_name(&want["resources"], "name"));
    }

    #[test]
    fn apps_v1_matches_the_recorded_server() {
        let want = recorded("apis-apps-v1")["body"].clone();
        let (_, got) = get("/apis/apps/v1", "application/json");
        assert_eq!(got["apiVersion"], "v1");
        assert_eq!(got["groupVersion"], "apps/v1");
        assert_eq!(by_name(&got["resources"], "name"), by_name(&want["resources"], "name"));
    }

    #[test]
    fn aggregated_core_matches_the_recorded_server() {
        let response = recorded("aggregated-discovery-api");
        let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
        let (ct, got) = get("/api", accept);
        assert_eq!(ct, response["content_type"]);
        let want = &response["body"];
        assert_eq!(got["apiVersion"], want["apiVersion"]);
        let (mut got_paths, mut want_paths) = (BTreeSet::new(), BTreeSet::new());
        key_paths(&got, "", &mut got_paths);
        key_paths(want, "", &mut want_paths);
        assert_eq!(got_paths, want_paths);
        let resources = |v: &Value| v["items"][0]["versions"][0]["resources"].clone();
        assert_eq!(by_name(&resources(&got), "resource"), by_name(&resources(want), "resource"));
    }

    #[test]
    fn api_versions_and_group_list_have_the_recorded_shape() {
        let (_, api) = get("/api", "application/json");
        let want = recorded("api")["body"].clone();
        assert_eq!(api, want);
        let (_, apis) = get("/apis", "");
        // Every group and version, in the real server's order, autoscaling's v2 preferred.
        assert_eq!(apis, recorded("apis")["body"]);
    }

    #[test]
    fn aggregated_apis_lists_groups_and_v2beta1_is_honoured() {
        let (ct, got) = get("/apis", "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json");
        assert_eq!(ct, "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList");
        assert_eq!(got["apiVersion"], "apidiscovery.k8s.io/v2beta1");
        assert_eq!(got["items"][0]["metadata"]["name"], "apiregistration.k8s.io");
        let apps = &got["items"][1];
        assert_eq!(apps["metadata"]["name"], "apps");
        let deployments = apps["versions"][0]["resources"].as_array().unwrap().iter().find(|r| r["resource"] == "deployments").unwrap();
        assert_eq!(
            deployments["subresources"][0],
            json!({"subresource": "scale", "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"}, "verbs": ["get", "patch", "update"]})
        );
    }

    #[test]
    fn aggregated_apis_has_both_autoscaling_versions_and_unstored_reviews() {
        let (_, got) = get("/apis", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
        let group = |name: &str| got["items"].as_array().unwrap().iter().find(|g| g["metadata"]["name"] == name).unwrap().clone();
        let autoscaling = group("autoscaling");
        let versions: Vec<&str> = autoscaling["versions"].as_array().unwrap().iter().map(|v| v["version"].as_str().unwrap()).collect();
        assert_eq!(versions, ["v2", "v1"]);
        let hpa = &autoscaling["versions"][1]["resources"][0];
        assert_eq!(hpa["resource"], "horizontalpodautoscalers");
        assert_eq!(hpa["shortNames"], json!(["hpa"]));
        assert_eq!(hpa["categories"], json!(["all"]));
        assert_eq!(hpa["subresources"][0]["subresource"], "status");
        let authn = group("authentication.k8s.io");
        let reviews = &authn["versions"][0]["resources"];
        assert_eq!(reviews.as_array().unwrap().len(), 2);
        assert_eq!(
            reviews[1],
            json!({"resource": "tokenreviews", "responseKind": {"group": "", "version": "", "kind": "TokenReview"}, "scope": "Cluster", "singularResource": "tokenreview", "verbs": ["create"]})
        );
        let csr = &group("certificates.k8s.io")["versions"][0]["resources"][0];
        let subs: Vec<&str> = csr["subresources"].as_array().unwrap().iter().map(|s| s["subresource"].as_str().unwrap()).collect();
        assert_eq!(subs, ["approval", "status"]);
    }

    #[test]
    fn resource_lists_carry_hashes_only_for_stored_resources() {
        let (_, authz) = get("/apis/authorization.k8s.io/v1", "application/json");
        let names: Vec<&str> = authz["resources"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["localsubjectaccessreviews", "selfsubjectaccessreviews", "selfsubjectrulesreviews", "subjectaccessreviews"]);
        assert!(authz["resources"].as_array().unwrap().iter().all(|r| r.get("storageVersionHash").is_none()));
        assert_eq!(authz["resources"][0]["namespaced"], true);
        let (_, v1) = get("/apis/autoscaling/v1", "application/json");
        let (_, v2) = get("/apis/autoscaling/v2", "application/json");
        assert_eq!(v1["resources"][0]["storageVersionHash"], v2["resources"][0]["storageVersionHash"]);
        let (_, resource) = get("/apis/resource.k8s.io/v1", "application/json");
        let claims = resource["resources"].as_array().unwrap().iter().find(|r| r["name"] == "resourceclaims").unwrap();
        // Stored as v1beta2 (emulation 1.34, compatibility 1.33): sha256("resource.k8s.io/v1beta2/ResourceClaim").
        assert_eq!(claims["storageVersionHash"], "EJAWH5WrAYg=");
    }

    #[test]
    fn unknown_groups_and_versions_are_page_not_found() {
        let c = Catalogue::default();
        for path in ["/apis/nope.example.com/v1", "/apis/nope.example.com", "/apis/apps/v2", "/api/v2"] {
            let err = serve(path, "application/json", &c).unwrap().err().unwrap();
            assert_eq!((err.code, err.plain_text), (404, true), "{path}");
        }
        assert!(serve("/api/v1/pods", "application/json", &c).is_none());
        assert!(serve("/healthz", "application/json", &c).is_none());
    }

    #[test]
    fn group_document_prefers_the_highest_version() {
        let c = Catalogue::default();
        let mut v1beta1 = c.find("apps", "v1", "deployments").unwrap().clone();
        v1beta1.version = "v1beta1".into();
        let mut v2 = v1beta1.clone();
        v2.version = "v2".into();
        let c = c.with(vec![v1beta1, v2]);
        let doc = serve("/apis/apps/", "application/json", &c).unwrap().unwrap();
        let g: Value = serde_json::from_slice(&doc.body).unwrap();
        assert_eq!(g["kind"], "APIGroup");
        assert_eq!(g["preferredVersion"]["version"], "v2");
        let versions: Vec<&str> = g["versions"].as_array().unwrap().iter().map(|v| v["version"].as_str().unwrap()).collect();
        assert_eq!(versions, ["v2", "v1", "v1beta1"]);
    }

    #[test]
    fn custom_resources_appear_with_their_group_in_response_kind() {
        let base = Catalogue::default();
        let mut book = Catalogue::book_for_tests(json!({"type": "object"}));
        book.storage_version_hash = "abc=".into();
        let c = base.with(vec![book]);
        let doc = serve("/apis", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", &c).unwrap().unwrap();
        let got: Value = serde_json::from_slice(&doc.body).unwrap();
        let example = got["items"].as_array().unwrap().last().unwrap();
        assert_eq!(example["metadata"]["name"], "example.com");
        let books = &example["versions"][0]["resources"][0];
        assert_eq!(books["responseKind"], json!({"group": "example.com", "version": "v1", "kind": "Book"}));
        assert_eq!(books["subresources"][0]["responseKind"]["kind"], "Book");
        let doc = serve("/apis/example.com/v1", "application/json", &c).unwrap().unwrap();
        let list: Value = serde_json::from_slice(&doc.body).unwrap();
        assert_eq!(list["resources"][0]["name"], "books");
        assert_eq!(list["resources"][1]["name"], "books/status");
    }

    #[test]
    fn only_protobuf_is_not_acceptable() {
        let c = Catalogue::default();
        let r = serve("/api", "application/vnd.kubernetes.protobuf", &c).unwrap();
        assert_eq!(r.err().unwrap().code, 406);
        // A resource path is the server's to negotiate, whatever it asks for.
        assert!(serve("/api/v1/pods", "application/vnd.kubernetes.protobuf", &c).is_none());
    }

    #[test]
    fn version_priority_orders_like_kubernetes() {
        let mut v = vec!["v1alpha1", "v1", "v2beta1", "v1beta2", "v2", "foo", "v1beta1"];
        v.sort_by_key(|s| version_priority(s));
        assert_eq!(v, ["v2", "v1", "v2beta1", "v1beta2", "v1beta1", "v1alpha1", "foo"]);
    }
}
