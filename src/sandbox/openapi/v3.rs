//! The OpenAPI 3.0 rendering: the `/openapi/v3` index and one document per group-version.
//!
//! Definitions move to `components.schemas`. OpenAPI 3.0 ignores the siblings of a `$ref`,
//! so a reference that carries its own `description` becomes `allOf: [{$ref}]` beside it,
//! as upstream renders it; kubectl explain prints that description for the field.

use serde_json::{json, Map, Value};

use super::operations::{patch_types, Body, Operation, Param};
use super::schemas::DEFINITIONS_PREFIX;
use super::{discovery_endpoints, endpoint_hash, group_version_hash, group_version_path, Model, KUBERNETES_VERSION};
use crate::sandbox::resources::Catalogue;

const SCHEMAS_PREFIX: &str = "#/components/schemas/";

/// `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=..."}, ...}}`.
/// Discovery endpoints are listed beside the group-versions, as upstream lists them.
pub fn index(catalogue: &Catalogue) -> Value {
    let mut gvs: Vec<(String, String)> = Vec::new();
    for r in catalogue.discoverable() {
        let gv = (r.group.clone(), r.version.clone());
        if !gvs.contains(&gv) {
            gvs.push(gv);
        }
    }
    gvs.sort();
    let mut paths = Map::new();
    for (group, version) in gvs {
        let path = group_version_path(&group, &version);
        let url = format!("/openapi/v3/{path}?hash={}", group_version_hash(catalogue, &group, &version));
        paths.insert(path, json!({"serverRelativeURL": url}));
    }
    for endpoint in discovery_endpoints(catalogue) {
        let url = format!("/openapi/v3/{}?hash={}", endpoint.key, endpoint_hash(&endpoint.key));
        paths.insert(endpoint.key, json!({"serverRelativeURL": url}));
    }
    for endpoint in &super::issuer::ENDPOINTS {
        let url = format!("/openapi/v3/{}?hash={}", endpoint.key, endpoint_hash(endpoint.key));
        paths.insert(endpoint.key.to_string(), json!({"serverRelativeURL": url}));
    }
    paths.sort_keys();
    json!({"paths": paths})
}

pub fn document(model: &Model) -> Value {
    let mut schemas = Map::new();
    for (name, def) in &model.definitions {
        let mut def = def.clone();
        to_v3(&mut def);
        schemas.insert(name.clone(), def);
    }
    let mut paths = Map::new();
    for item in &model.paths {
        paths.insert(item.path.clone(), item.render(operation, param));
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"BearerToken": {"type": "apiKey", "description": "Bearer Token authentication", "name": "authorization", "in": "header"}}
        }
    })
}

/// Rewrites references for `components.schemas` and wraps those with siblings in `allOf`.
fn to_v3(value: &mut Value) {
    match value {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                let target = match r.strip_prefix(DEFINITIONS_PREFIX) {
                    Some(name) => format!("{SCHEMAS_PREFIX}{name}"),
                    None => r.clone(),
                };
                m.remove("$ref");
                if m.is_empty() {
                    m.insert("$ref".into(), Value::String(target));
                } else {
                    m.insert("allOf".into(), json!([{"$ref": target}]));
                }
            }
            m.values_mut().for_each(to_v3);
        }
        Value::Array(items) => items.iter_mut().for_each(to_v3),
        _ => {}
    }
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("{SCHEMAS_PREFIX}{name}")})
}

fn operation(op: &Operation) -> Value {
    let body = |types: Vec<&str>, schema: Value, required: bool| {
        let content: Map<String, Value> = types.into_iter().map(|t| (t.to_string(), json!({"schema": schema.clone()}))).collect();
        json!({"content": content, "required": required})
    };
    let request = match &op.body {
        Some(Body::Object(name)) => Some(body(vec!["*/*"], reference(name), true)),
        Some(Body::Patch { strategic }) => {
            Some(body(patch_types(*strategic), reference("io.k8s.apimachinery.pkg.apis.meta.v1.Patch"), true))
        }
        Some(Body::DeleteOptions) => Some(body(vec!["*/*"], reference("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"), false)),
        None => None,
    };
    let produces: &[&str] = if op.action == "list" {
        &[
            "application/json",
            "application/yaml",
            "application/vnd.kubernetes.protobuf",
            "application/json;stream=watch",
            "application/vnd.kubernetes.protobuf;stream=watch",
        ]
    } else {
        &["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]
    };
    let content: Map<String, Value> = produces.iter().map(|t| (t.to_string(), json!({"schema": reference(&op.response)}))).collect();
    let mut responses = Map::new();
    responses.insert("200".into(), json!({"description": "OK", "content": content}));
    if op.creates {
        responses.insert("201".into(), json!({"description": "Created", "content": content}));
        responses.insert("202".into(), json!({"description": "Accepted", "content": content}));
    }
    responses.insert("401".into(), json!({"description": "Unauthorized"}));
    let mut m = Map::new();
    m.insert("tags".into(), json!([op.tag]));
    m.insert("description".into(), json!(op.description));
    m.insert("operationId".into(), json!(op.id));
    m.insert("parameters".into(), Value::Array(op.params.iter().map(|p| param(p)).collect()));
    if let Some(request) = request {
        m.insert("requestBody".into(), request);
    }
    m.insert("responses".into(), Value::Object(responses));
    // A discovery endpoint's operation acts on no kind.
    if !op.action.is_empty() {
        m.insert("x-kubernetes-action".into(), json!(op.action));
    }
    if !op.gvk.is_null() {
        m.insert("x-kubernetes-group-version-kind".into(), op.gvk.clone());
    }
    Value::Object(m)
}

fn param(p: &Param) -> Value {
    let mut v = json!({"name": p.name, "in": p.location, "description": p.description, "schema": {"type": p.type_, "uniqueItems": true}});
    if p.required {
        v["required"] = json!(true);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::super::serve;
    use super::*;

    fn get(path: &str) -> Value {
        let doc = serve(path, "application/json", &Catalogue::default()).unwrap().unwrap();
        let text = std::str::from_utf8(&doc.body).unwrap();
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn index_lists_group_versions_with_a_hash() {
        let index = get("/openapi/v3");
        let url = index["paths"]["api/v1"]["serverRelativeURL"].as_str().unwrap();
        assert!(url.starts_with("/openapi/v3/api/v1?hash="));
        assert!(index["paths"]["apis/apps/v1"].is_object());
        assert!(index["paths"].get("apis/nope/v1").is_none());
    }

    /// The recorded server's index, the service-account issuer endpoints included.
    #[test]
    fn index_lists_what_the_recorded_server_lists() {
        let corpus = include_str!("../../../tests/fixtures/p01-discovery.jsonl");
        let step: Value =
            corpus.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).find(|o| o["name"] == "openapi-v3-root").unwrap();
        let recorded: Value = serde_json::from_str(step["response"]["body"].as_str().unwrap()).unwrap();
        let want: Vec<&String> = recorded["paths"].as_object().unwrap().keys().collect();
        let index = get("/openapi/v3");
        let got: Vec<&String> = index["paths"].as_object().unwrap().keys().collect();
        assert_eq!(got, want);
    }

    #[test]
    fn discovery_endpoints_have_their_documents() {
        let group = get("/openapi/v3/apis/batch");
        let op = &group["paths"]["/apis/batch/"]["get"];
        assert_eq!(op["operationId"], "getBatchAPIGroup");
        assert!(op.get("x-kubernetes-group-version-kind").is_none());
        assert_eq!(
            op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup"
        );
        assert!(group["components"]["schemas"]["io.k8s.apimachinery.pkg.apis.meta.v1.GroupVersionForDiscovery"].is_object());
        assert!(get("/openapi/v3/version")["paths"]["/version/"]["get"].is_object());
        assert_eq!(get("/openapi/v3/apis")["paths"]["/apis/"]["get"]["operationId"], "getAPIVersions");
        for (key, path, media_type) in [
            (".well-known/openid-configuration", "/.well-known/openid-configuration/", "application/json"),
            ("openid/v1/jwks", "/openid/v1/jwks/", "application/jwk-set+json"),
        ] {
            let op = &get(&format!("/openapi/v3/{key}"))["paths"][path]["get"];
            assert_eq!(op["responses"]["200"]["content"][media_type]["schema"], json!({"type": "string"}), "{key}");
            assert!(op.get("parameters").is_none(), "{key}");
        }
        let r = serve("/openapi/v3/apis/nope.example.com", "application/json", &Catalogue::default()).unwrap();
        assert_eq!(r.err().unwrap().code, 404);
    }

    #[test]
    fn reviews_have_only_a_create() {
        let doc = get("/openapi/v3/apis/authorization.k8s.io/v1");
        let item = &doc["paths"]["/apis/authorization.k8s.io/v1/namespaces/{namespace}/localsubjectaccessreviews"];
        assert_eq!(item["post"]["operationId"], "createAuthorizationV1NamespacedLocalSubjectAccessReview");
        assert!(item.get("get").is_none());
        let schema = &doc["components"]["schemas"]["io.k8s.api.authorization.v1.LocalSubjectAccessReview"];
        assert_eq!(schema["x-kubernetes-group-version-kind"][0]["kind"], "LocalSubjectAccessReview");
    }

    #[test]
    fn core_document_finds_pods_kind_the_way_kubectl_explain_does() {
        let doc = get("/openapi/v3/api/v1?hash=whatever");
        let list = &doc["paths"]["/api/v1/namespaces/{namespace}/pods"]["get"];
        assert_eq!(list["x-kubernetes-group-version-kind"], json!({"group": "", "kind": "Pod", "version": "v1"}));
        let pod = &doc["components"]["schemas"]["io.k8s.api.core.v1.Pod"];
        assert_eq!(pod["x-kubernetes-group-version-kind"], json!([{"group": "", "kind": "Pod", "version": "v1"}]));
        let spec = &pod["properties"]["spec"];
        assert_eq!(spec["allOf"][0]["$ref"], "#/components/schemas/io.k8s.api.core.v1.PodSpec");
        assert!(spec["description"].as_str().unwrap().contains("desired behavior"));
        assert!(doc["components"]["schemas"].get("io.k8s.api.apps.v1.Deployment").is_none());
    }

    #[test]
    fn core_patch_supports_strategic_merge_and_field_validation() {
        let doc = get("/openapi/v3/api/v1");
        let patch = &doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"];
        assert!(patch["requestBody"]["content"].get("application/strategic-merge-patch+json").is_some());
        let params = patch["parameters"].as_array().unwrap();
        assert!(params.iter().any(|p| p["name"] == "fieldValidation" && p["in"] == "query"));
        let containers = &doc["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(containers["items"]["$ref"], "#/components/schemas/io.k8s.api.core.v1.Container");
    }

    #[test]
    fn no_v2_reference_survives() {
        let text = serde_json::to_string(&get("/openapi/v3/apis/apps/v1")).unwrap();
        assert!(!text.contains("#/definitions/"));
    }
}
