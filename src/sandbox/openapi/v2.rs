//! The Swagger 2.0 rendering of a [`Model`]: `/openapi/v2`.
//!
//! Definitions keep their `#/definitions/...` references as generated; a reference with a
//! `description` beside it is left so, as upstream's v2 document does. Request bodies are
//! `in: body` parameters and responses carry a `schema`.

use serde_json::{json, Map, Value};

use super::custom::to_swagger2;
use super::operations::{patch_types, Body, Operation, Param};
use super::schemas::DEFINITIONS_PREFIX;
use super::{Model, KUBERNETES_VERSION};

pub fn document(model: &Model) -> Value {
    let mut definitions = model.definitions.clone();
    for name in &model.custom {
        if let Some(def) = definitions.get_mut(name) {
            to_swagger2(def);
        }
    }
    let mut paths = Map::new();
    for item in &model.paths {
        paths.insert(item.path.clone(), item.render(operation, param));
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "definitions": definitions,
        "securityDefinitions": {"BearerToken": {"description": "Bearer Token authentication", "type": "apiKey", "name": "authorization", "in": "header"}},
        "security": [{"BearerToken": []}]
    })
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("{DEFINITIONS_PREFIX}{name}")})
}

fn operation(op: &Operation) -> Value {
    let mut params: Vec<Value> = Vec::new();
    let mut consumes = vec!["*/*"];
    match &op.body {
        Some(Body::Object(name)) => params.push(json!({"name": "body", "in": "body", "required": true, "schema": reference(name)})),
        Some(Body::Patch { strategic }) => {
            params.push(
                json!({"name": "body", "in": "body", "required": true, "schema": reference("io.k8s.apimachinery.pkg.apis.meta.v1.Patch")}),
            );
            consumes = patch_types(*strategic);
        }
        Some(Body::DeleteOptions) => {
            params.push(json!({"name": "body", "in": "body", "schema": reference("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions")}))
        }
        None => {}
    }
    params.extend(op.params.iter().map(|p| param(p)));
    let mut responses = Map::new();
    responses.insert("200".into(), json!({"description": "OK", "schema": reference(&op.response)}));
    if op.creates {
        responses.insert("201".into(), json!({"description": "Created", "schema": reference(&op.response)}));
        responses.insert("202".into(), json!({"description": "Accepted", "schema": reference(&op.response)}));
    }
    responses.insert("401".into(), json!({"description": "Unauthorized"}));
    let produces = if op.action == "list" {
        vec![
            "application/json",
            "application/yaml",
            "application/vnd.kubernetes.protobuf",
            "application/json;stream=watch",
            "application/vnd.kubernetes.protobuf;stream=watch",
        ]
    } else {
        vec!["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]
    };
    let mut v = json!({
        "description": op.description,
        "consumes": consumes,
        "produces": produces,
        "schemes": ["https"],
        "tags": [op.tag],
        "operationId": op.id,
        "parameters": params,
        "responses": responses,
    });
    // A discovery endpoint's operation acts on no kind.
    if !op.action.is_empty() {
        v["x-kubernetes-action"] = json!(op.action);
    }
    if !op.gvk.is_null() {
        v["x-kubernetes-group-version-kind"] = op.gvk.clone();
    }
    v
}

fn param(p: &Param) -> Value {
    let mut v = json!({"name": p.name, "in": p.location, "description": p.description, "type": p.type_, "uniqueItems": true});
    if p.required {
        v["required"] = json!(true);
    }
    v
}
