//! OpenAPI: `/openapi/v2` (Swagger 2.0) and `/openapi/v3[/<group-version>]` (OpenAPI 3.0).
//!
//! kubectl reads these to explain fields (`kubectl explain pod.spec` walks `/openapi/v3`,
//! then the group-version document), to build strategic merge patches for `apply`, and to
//! decide whether the server validates fields itself. Both versions are rendered from one
//! [`Model`] of what the catalogue serves: the definitions (k8s-openapi's schemas for
//! built-ins, the CRD's schema for custom resources) and the REST operations.
//!
//! Documents are cached per catalogue: `/openapi/v2` is large and kubectl asks often, and
//! the catalogue only changes when a CRD comes or goes.

mod custom;
mod issuer;
mod non_resource;
mod operations;
mod patch_meta;
mod schemas;
mod v2;
mod v2_protobuf;
mod v3;

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::discovery::{accepts, Document};
use super::resources::{Catalogue, ResourceInfo};
use super::status::ApiError;
use operations::{Names, PathItem};
use schemas::{closure, DEFINITIONS_PREFIX, META_ROOTS};

/// The version the documents' `info` announces: the apiserver the sandbox imitates.
pub use super::server::KUBERNETES_VERSION;

/// What a document describes: definitions (Swagger-2 references) and paths.
pub struct Model {
    pub definitions: Map<String, Value>,
    pub paths: Vec<PathItem>,
    /// Definitions built from CRD schemas, which Swagger 2 needs trimmed.
    pub custom: BTreeSet<String>,
}

/// The model of the resources of `catalogue` that `include` selects.
pub fn model(catalogue: &Catalogue, include: impl Fn(&ResourceInfo) -> bool) -> Model {
    let builtins = schemas::builtins();
    let mut own = Map::new();
    let mut custom = BTreeSet::new();
    let mut roots: Vec<String> = META_ROOTS.iter().map(|s| s.to_string()).collect();
    let mut gvks: Vec<(String, Value)> = Vec::new();
    let mut paths = Vec::new();
    let mut group_versions: Vec<(String, String)> = Vec::new();

    for r in catalogue.discoverable().filter(|r| include(r)) {
        let (kind_name, strategic) = match (&r.schema, builtins.name_of(&r.group, &r.version, &r.kind)) {
            (Some(schema), _) => {
                let name = custom::definition_name(r);
                own.insert(name.clone(), custom::definition(schema));
                custom.insert(name.clone());
                (name, false)
            }
            (None, Some(name)) => (name.to_string(), true),
            // A built-in k8s-openapi does not describe: still explainable as an object.
            (None, None) => {
                let name = format!(
                    "io.k8s.api.{}.{}.{}",
                    r.group.split('.').next().filter(|g| !g.is_empty()).unwrap_or("core"),
                    r.version,
                    r.kind
                );
                own.insert(name.clone(), json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
                (name, true)
            }
        };
        let list_name = format!("{kind_name}List");
        own.insert(list_name.clone(), list_definition(r, &kind_name));
        roots.push(kind_name.clone());
        if r.has_subresource("scale") {
            roots.push("io.k8s.api.autoscaling.v1.Scale".into());
            gvks.push(("io.k8s.api.autoscaling.v1.Scale".into(), json!({"group": "autoscaling", "kind": "Scale", "version": "v1"})));
        }
        gvks.push((kind_name.clone(), json!({"group": r.group, "kind": r.kind, "version": r.version})));
        gvks.push((list_name.clone(), json!({"group": r.group, "kind": r.list_kind(), "version": r.version})));
        let gv = (r.group.clone(), r.version.clone());
        if !group_versions.contains(&gv) {
            group_versions.push(gv);
        }
        paths.extend(operations::paths_for(r, &Names { kind: kind_name, list: list_name, strategic }));
    }

    // Built-in definitions reached from the roots and from the custom and list definitions.
    let mut pending: Vec<String> = roots;
    for def in own.values() {
        collect_ref_names(def, &mut pending);
    }
    let mut definitions = own;
    for name in closure(&builtins.definitions, pending.iter().map(String::as_str)) {
        if !definitions.contains_key(&name) {
            definitions.insert(name.clone(), builtins.definitions[&name].clone());
        }
    }

    // Kinds that travel in every group-version: the delete options and watch events.
    for (group, version) in &group_versions {
        for kind in ["DeleteOptions", "WatchEvent"] {
            gvks.push((format!("io.k8s.apimachinery.pkg.apis.meta.v1.{kind}"), json!({"group": group, "kind": kind, "version": version})));
        }
    }
    gvks.push(("io.k8s.apimachinery.pkg.apis.meta.v1.Status".into(), json!({"group": "", "kind": "Status", "version": "v1"})));
    for (name, gvk) in gvks {
        if let Some(Value::Object(def)) = definitions.get_mut(&name) {
            let list = def.entry("x-kubernetes-group-version-kind").or_insert_with(|| json!([]));
            if let Value::Array(items) = list {
                if !items.contains(&gvk) {
                    items.push(gvk);
                }
            }
        }
    }
    Model { definitions, paths, custom }
}

fn collect_ref_names(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(m) => {
            if let Some(name) = m.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix(DEFINITIONS_PREFIX)) {
                out.push(name.to_string());
            }
            m.values().for_each(|v| collect_ref_names(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_ref_names(v, out)),
        _ => {}
    }
}

/// `PodList`: k8s-openapi has one generic `List<T>`, so the per-kind list definitions that
/// upstream publishes are written out here.
fn list_definition(r: &ResourceInfo, kind_name: &str) -> Value {
    json!({
        "description": format!("{} is a list of {}.", r.list_kind(), r.kind),
        "type": "object",
        "properties": {
            "apiVersion": {"description": "APIVersion defines the versioned schema of this representation of an object.", "type": "string"},
            "items": {"description": format!("List of {}.", r.plural), "type": "array", "items": {"$ref": format!("{DEFINITIONS_PREFIX}{kind_name}")}},
            "kind": {"description": "Kind is a string value representing the REST resource this object represents.", "type": "string"},
            "metadata": {"$ref": format!("{DEFINITIONS_PREFIX}io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"), "description": "Standard list metadata."}
        },
        "required": ["items"]
    })
}

/// `api/v1` or `apis/apps/v1`: how `/openapi/v3` names a group-version.
pub fn group_version_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// A stable digest of what a group-version serves: the `hash` of its `/openapi/v3` entry,
/// which clients use to cache the document (the server ignores it on the way back).
pub fn group_version_hash(catalogue: &Catalogue, group: &str, version: &str) -> String {
    let mut hasher = DefaultHasher::new();
    KUBERNETES_VERSION.hash(&mut hasher);
    for r in catalogue.discoverable().filter(|r| r.group == group && r.version == version) {
        format!("{r:?}").hash(&mut hasher);
    }
    format!("{:016X}", hasher.finish())
}

/// The discovery endpoints of `catalogue`, each with its `/openapi/v3` document.
fn discovery_endpoints(catalogue: &Catalogue) -> Vec<non_resource::Endpoint> {
    let groups = catalogue.groups();
    non_resource::endpoints(groups.iter().map(|(g, _)| g.as_str()))
}

/// The `hash` of a discovery endpoint's `/openapi/v3` entry: its document describes one
/// `GET` and a meta type, so it only changes with the server version.
fn endpoint_hash(key: &str) -> String {
    let mut hasher = DefaultHasher::new();
    KUBERNETES_VERSION.hash(&mut hasher);
    key.hash(&mut hasher);
    format!("{:016X}", hasher.finish())
}

/// The document of one discovery endpoint: its `GET` and the type it answers with.
fn endpoint_model(endpoint: &non_resource::Endpoint) -> Model {
    let builtins = schemas::builtins();
    let mut definitions = Map::new();
    for name in closure(&builtins.definitions, [endpoint.response]) {
        definitions.insert(name.clone(), builtins.definitions[&name].clone());
    }
    Model { definitions, paths: vec![endpoint.path_item()], custom: BTreeSet::new() }
}

/// Answers `/openapi/v2` and `/openapi/v3...`; `None` for other paths.
pub fn serve(path: &str, accept: &str, catalogue: &Catalogue) -> Option<Result<Document, ApiError>> {
    let path = path.split('?').next().unwrap_or(path);
    let rest = path.strip_prefix("/openapi/")?;
    let json = |body: Bytes| Document { content_type: "application/json".into(), body };
    match rest {
        "v2" => Some(match v2_format(accept) {
            Some(format) => {
                let json = cached(catalogue, "v2", || v2_document(catalogue));
                Ok(match format {
                    V2Format::Json => Document { content_type: "application/json".into(), body: json },
                    V2Format::Protobuf => Document {
                        content_type: V2_PROTOBUF.into(),
                        body: cached_bytes(catalogue, "v2.pb", || {
                            let doc: Value = serde_json::from_slice(&json).unwrap_or(Value::Null);
                            v2_protobuf::document(&doc).into()
                        }),
                    },
                })
            }
            None => Err(not_acceptable()),
        }),
        // The real server writes the index without a content type; Go sniffs it as text.
        "v3" => {
            Some(Ok(Document { content_type: "text/plain; charset=utf-8".into(), body: Bytes::from(v3::index(catalogue).to_string()) }))
        }
        _ => {
            let gv = rest.strip_prefix("v3/")?;
            if let Some(endpoint) = issuer::find(gv) {
                if !accepts(accept, &["application/json"]) {
                    return Some(Err(not_acceptable()));
                }
                return Some(Ok(json(cached(catalogue, rest, || endpoint.v3_document()))));
            }
            if let Some(endpoint) = discovery_endpoints(catalogue).into_iter().find(|e| e.key == gv) {
                if !accepts(accept, &["application/json"]) {
                    return Some(Err(not_acceptable()));
                }
                let key = format!("v3/{gv}");
                return Some(Ok(json(cached(catalogue, &key, || v3::document(&endpoint_model(&endpoint))))));
            }
            let (group, version) = match gv.split('/').collect::<Vec<_>>().as_slice() {
                ["api", version] => (String::new(), version.to_string()),
                ["apis", group, version] => (group.to_string(), version.to_string()),
                _ => return Some(Err(ApiError::page_not_found())),
            };
            if !catalogue.serves_group_version(&group, &version) {
                return Some(Err(ApiError::page_not_found()));
            }
            if !accepts(accept, &["application/json"]) {
                return Some(Err(not_acceptable()));
            }
            let key = format!("v3/{gv}");
            Some(Ok(json(cached(catalogue, &key, || v3::document(&model(catalogue, |r| r.group == group && r.version == version))))))
        }
    }
}

/// The whole Swagger 2 document: every resource, and the discovery endpoints too.
fn v2_document(catalogue: &Catalogue) -> Value {
    let mut all = model(catalogue, |_| true);
    for endpoint in discovery_endpoints(catalogue) {
        let part = endpoint_model(&endpoint);
        all.paths.extend(part.paths);
        for (name, def) in part.definitions {
            all.definitions.entry(name).or_insert(def);
        }
    }
    let mut doc = v2::document(&all);
    for endpoint in &issuer::ENDPOINTS {
        doc["paths"][format!("{}/", endpoint.path)] = endpoint.v2_path_item();
    }
    doc
}

/// What kube-openapi answers for the protobuf form, whichever of its two names was asked.
const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

enum V2Format {
    Json,
    Protobuf,
}

/// kube-openapi's choice: the first range of the client's that names JSON or one of the
/// protobuf names (`...spec.v2@v1.0+protobuf`, the deprecated one kubectl sends, or
/// `...spec.v2.v1.0+protobuf`); a wildcard takes JSON. An absent Accept is `*/*`.
fn v2_format(accept: &str) -> Option<V2Format> {
    if accept.trim().is_empty() {
        return Some(V2Format::Json);
    }
    accept.split(',').find_map(|range| match range.split(';').next().unwrap_or_default().trim() {
        "application/json" | "application/*" | "*/*" => Some(V2Format::Json),
        "application/com.github.proto-openapi.spec.v2@v1.0+protobuf" | "application/com.github.proto-openapi.spec.v2.v1.0+protobuf" => {
            Some(V2Format::Protobuf)
        }
        _ => None,
    })
}

/// A document kind that exists, in a form the sandbox does not write.
fn not_acceptable() -> ApiError {
    ApiError { plain_text: true, ..ApiError::new(406, "NotAcceptable", "406: Not Acceptable\n") }
}

/// Serialised documents of the catalogue last asked about.
struct Cache {
    catalogue: Catalogue,
    documents: HashMap<String, Bytes>,
}

static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

/// The document `key` of `catalogue`, built by `build` on the first request. The cache holds
/// a clone of the catalogue, so a new catalogue is recognised even if equal in address.
fn cached(catalogue: &Catalogue, key: &str, build: impl FnOnce() -> Value) -> Bytes {
    cached_bytes(catalogue, key, || Bytes::from(build().to_string()))
}

/// [`cached`] for a document that is not JSON.
fn cached_bytes(catalogue: &Catalogue, key: &str, build: impl FnOnce() -> Bytes) -> Bytes {
    let mut guard = CACHE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let fresh = guard.as_ref().is_some_and(|c| c.catalogue.same_as(catalogue));
    if !fresh {
        *guard = Some(Cache { catalogue: catalogue.clone(), documents: HashMap::new() });
    }
    let cache = guard.as_mut().expect("cache just filled");
    cache.documents.entry(key.to_string()).or_insert_with(build).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(path: &str) -> Value {
        let doc = serve(path, "application/json", &Catalogue::default()).unwrap().unwrap();
        serde_json::from_slice(&doc.body).unwrap()
    }

    #[test]
    fn v2_has_pod_with_gvk_and_patch_keys() {
        let v2 = body("/openapi/v2");
        assert_eq!(v2["swagger"], "2.0");
        let pod = &v2["definitions"]["io.k8s.api.core.v1.Pod"];
        // as upstream's: metadata is never required
        assert!(pod.get("required").is_none());
        assert_eq!(v2["definitions"]["io.k8s.api.authentication.v1.TokenReview"]["required"], json!(["spec"]));
        assert_eq!(pod["x-kubernetes-group-version-kind"], json!([{"group": "", "kind": "Pod", "version": "v1"}]));
        let spec = &v2["definitions"]["io.k8s.api.core.v1.PodSpec"]["properties"];
        assert_eq!(spec["containers"]["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(v2["definitions"]["io.k8s.api.apps.v1.DeploymentList"]["x-kubernetes-group-version-kind"][0]["kind"], "DeploymentList");
        let get = &v2["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["get"];
        assert_eq!(get["x-kubernetes-action"], "get");
        assert_eq!(get["x-kubernetes-group-version-kind"]["kind"], "Pod");
    }

    #[test]
    fn every_v2_reference_resolves() {
        let v2 = body("/openapi/v2");
        let mut refs = Vec::new();
        collect_ref_names(&v2, &mut refs);
        for name in refs {
            assert!(v2["definitions"].get(&name).is_some(), "dangling $ref {name}");
        }
    }

    #[test]
    fn v2_is_served_in_protobuf_by_either_name_and_json_by_default() {
        let cases = [
            ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf", Some(V2_PROTOBUF)),
            ("application/com.github.proto-openapi.spec.v2.v1.0+protobuf", Some(V2_PROTOBUF)),
            ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf, application/json", Some(V2_PROTOBUF)),
            ("application/json, application/com.github.proto-openapi.spec.v2@v1.0+protobuf", Some("application/json")),
            ("*/*", Some("application/json")),
            ("", Some("application/json")),
            ("application/xml", None),
        ];
        for (accept, want) in cases {
            let r = serve("/openapi/v2", accept, &Catalogue::default()).unwrap();
            assert_eq!(r.as_ref().ok().map(|d| d.content_type.as_str()), want, "{accept}");
            if want.is_none() {
                assert_eq!(r.err().unwrap().code, 406);
            }
        }
        let pb = serve("/openapi/v2", V2_PROTOBUF, &Catalogue::default()).unwrap().unwrap();
        // Document.swagger (field 1) first: "2.0"
        assert_eq!(&pb.body[..5], b"\x0a\x032.0");
    }

    #[test]
    fn v3_unknown_group_version_is_404() {
        let r = serve("/openapi/v3/apis/nope.example.com/v1", "application/json", &Catalogue::default()).unwrap();
        assert_eq!(r.err().unwrap().code, 404);
    }

    #[test]
    fn custom_resource_gets_a_definition_from_its_schema() {
        let base = Catalogue::default();
        let book = Catalogue::book_for_tests(
            json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {"author": {"type": "string"}}}}}),
        );
        let catalogue = base.with(vec![book]);
        let doc = serve("/openapi/v3/apis/example.com/v1?hash=0", "application/json", &catalogue).unwrap().unwrap();
        let v3: Value = serde_json::from_slice(&doc.body).unwrap();
        let book = &v3["components"]["schemas"]["com.example.v1.Book"];
        assert_eq!(book["properties"]["spec"]["properties"]["author"]["type"], "string");
        assert_eq!(book["x-kubernetes-group-version-kind"][0]["kind"], "Book");
        let patch = &v3["paths"]["/apis/example.com/v1/namespaces/{namespace}/books/{name}"]["patch"];
        assert!(patch["requestBody"]["content"].get("application/strategic-merge-patch+json").is_none());
    }
}
