//! What an established CRD adds to the catalogue: one [`ResourceInfo`] per served version,
//! with the accepted names, scope, subresources, printer columns and a custom resource
//! strategy built from that version (`customresource_handler.go`'s `crdInfo`).

use serde_json::Value;

use crate::sandbox::registry::{CustomResourceStrategy, ScalePaths, StrategyRef};
use crate::sandbox::resources::{PrinterColumn, ResourceInfo};

const VERBS: &[&str] = &["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"];

fn text(v: &Value, pointer: &str) -> String {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn strings(v: &Value, pointer: &str) -> Vec<String> {
    v.pointer(pointer).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(String::from).collect()
}

/// `.spec.replicas` -> `/spec/replicas`: the simple JSONPaths a scale subresource names.
fn pointer_of(json_path: &str) -> String {
    json_path.trim_start_matches('.').split('.').fold(String::new(), |p, part| format!("{p}/{part}"))
}

/// `discovery.StorageVersionHash(group, version, kind)`: base64 of the first 8 bytes of
/// sha256(`group/version/kind`), of the storage version.
pub fn storage_version_hash(group: &str, version: &str, kind: &str) -> String {
    use base64::Engine;
    let digest = ring::digest::digest(&ring::digest::SHA256, format!("{group}/{version}/{kind}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(&digest.as_ref()[..8])
}

/// The resources `crd` serves (its status' accepted names; a CRD not established serves
/// nothing, and neither does one whose status names no plural yet).
pub fn resources_of(crd: &Value) -> Vec<ResourceInfo> {
    let group = text(crd, "/spec/group");
    let plural = text(crd, "/status/acceptedNames/plural");
    let kind = text(crd, "/status/acceptedNames/kind");
    if plural.is_empty() || kind.is_empty() || !super::conditions::is_true(crd, "Established") {
        return vec![];
    }
    let singular = Some(text(crd, "/status/acceptedNames/singular")).filter(|s| !s.is_empty()).unwrap_or_else(|| kind.to_lowercase());
    let versions: Vec<&Value> = crd.pointer("/spec/versions").and_then(Value::as_array).into_iter().flatten().collect();
    let storage =
        versions.iter().find(|v| v.get("storage").and_then(Value::as_bool) == Some(true)).map(|v| text(v, "/name")).unwrap_or_default();
    let hash = storage_version_hash(&group, &storage, &kind);
    versions
        .iter()
        .filter(|v| v.get("served").and_then(Value::as_bool) == Some(true))
        .map(|v| {
            let status = v.pointer("/subresources/status").is_some_and(|s| !s.is_null());
            let scale = v.pointer("/subresources/scale").filter(|s| s.is_object()).map(|s| ScalePaths {
                spec_replicas: pointer_of(&text(s, "/specReplicasPath")),
                status_replicas: pointer_of(&text(s, "/statusReplicasPath")),
                selector: Some(text(s, "/labelSelectorPath")).filter(|p| !p.is_empty()).map(|p| pointer_of(&p)),
            });
            let mut subresources = vec![];
            if status {
                subresources.push("status".to_string());
            }
            if scale.is_some() {
                subresources.push("scale".to_string());
            }
            let selectable = v
                .get("selectableFields")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|f| {
                    let path = text(f, "/jsonPath");
                    (crate::sandbox::registry::intern_field_name(path.trim_start_matches('.')), pointer_of(&path))
                })
                .collect();
            let schema = v.pointer("/schema/openAPIV3Schema").cloned().unwrap_or_else(|| serde_json::json!({"type": "object"}));
            let printer_columns = v
                .get("additionalPrinterColumns")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| PrinterColumn {
                    name: text(c, "/name"),
                    type_: text(c, "/type"),
                    format: text(c, "/format"),
                    description: text(c, "/description"),
                    priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0) as i32,
                    json_path: text(c, "/jsonPath"),
                })
                .collect();
            let terminating = super::conditions::is_true(crd, "Terminating").then(|| format!("{plural}.{group}"));
            let strategy = CustomResourceStrategy { schema: Some(schema.clone()), status, scale, selectable, terminating };
            ResourceInfo {
                group: group.clone(),
                version: text(v, "/name"),
                kind: kind.clone(),
                plural: plural.clone(),
                singular: singular.clone(),
                namespaced: text(crd, "/spec/scope") == "Namespaced",
                short_names: strings(crd, "/status/acceptedNames/shortNames"),
                categories: strings(crd, "/status/acceptedNames/categories"),
                verbs: VERBS.iter().map(|s| s.to_string()).collect(),
                subresources,
                listed_subresources: vec![],
                storage_version_hash: hash.clone(),
                printer_columns,
                schema: Some(schema),
                strategy: StrategyRef::new(strategy),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_storage_version_hash_is_upstreams() {
        // recorded from kube-apiserver v1.34.2 for the blog's books.example.com
        assert_eq!(storage_version_hash("example.com", "v1", "Book"), "ovSd5RyWAi8=");
    }

    #[test]
    fn json_paths_become_pointers() {
        assert_eq!(pointer_of(".spec.replicas"), "/spec/replicas");
        assert_eq!(pointer_of(".status.labelSelector"), "/status/labelSelector");
    }
}
