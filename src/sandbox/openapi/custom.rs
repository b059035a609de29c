//! Definitions of custom resources, from their CRD's `openAPIV3Schema`.
//!
//! The apiextensions server publishes a custom resource under a name built from the group
//! reversed (`example.com` -> `com.example`), the version and the kind, so `Book` of
//! `example.com/v1` is `com.example.v1.Book`. It completes the CRD's schema with what every
//! object has: `apiVersion`, `kind` and a `metadata` that points at `ObjectMeta` (which is
//! why `kubectl explain book.metadata` shows the full ObjectMeta).

use serde_json::{json, Map, Value};

use super::schemas::DEFINITIONS_PREFIX;
use crate::sandbox::resources::ResourceInfo;

/// `com.example.v1.Book`.
pub fn definition_name(r: &ResourceInfo) -> String {
    let reversed: Vec<&str> = r.group.split('.').rev().collect();
    format!("{}.{}.{}", reversed.join("."), r.version, r.kind)
}

/// The definition of a custom resource: its schema plus the fields every object has.
pub fn definition(schema: &Value) -> Value {
    let mut def = match schema {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    def.entry("type").or_insert_with(|| json!("object"));
    let properties = def.entry("properties").or_insert_with(|| json!({}));
    if let Value::Object(p) = properties {
        p.insert(
            "apiVersion".into(),
            json!({"description": "APIVersion defines the versioned schema of this representation of an object.", "type": "string"}),
        );
        p.insert(
            "kind".into(),
            json!({"description": "Kind is a string value representing the REST resource this object represents.", "type": "string"}),
        );
        p.insert(
            "metadata".into(),
            json!({"$ref": format!("{DEFINITIONS_PREFIX}io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), "description": "Standard object's metadata."}),
        );
    }
    Value::Object(def)
}

/// Swagger 2 has no `nullable`, `oneOf`, `anyOf` or `not`: upstream drops them from the v2
/// rendering of CRD schemas, and so does this. Property *names* are left alone: only keys
/// of schema objects are schema keywords.
pub fn to_swagger2(schema: &mut Value) {
    let Value::Object(m) = schema else { return };
    for keyword in ["nullable", "oneOf", "anyOf", "not"] {
        m.remove(keyword);
    }
    for (key, value) in m.iter_mut() {
        match key.as_str() {
            "properties" | "patternProperties" | "definitions" => {
                if let Value::Object(children) = value {
                    children.values_mut().for_each(to_swagger2);
                }
            }
            "items" | "additionalProperties" => match value {
                Value::Array(items) => items.iter_mut().for_each(to_swagger2),
                other => to_swagger2(other),
            },
            "allOf" => {
                if let Value::Array(items) = value {
                    items.iter_mut().for_each(to_swagger2);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::resources::Catalogue;

    #[test]
    fn book_gets_upstream_name_and_object_meta() {
        let mut book = Catalogue::default().find("", "v1", "pods").unwrap().clone();
        book.group = "example.com".into();
        book.kind = "Book".into();
        assert_eq!(definition_name(&book), "com.example.v1.Book");
        let def = definition(&json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
        assert_eq!(def["properties"]["metadata"]["$ref"], "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
        assert_eq!(def["x-kubernetes-preserve-unknown-fields"], true);
    }

    #[test]
    fn swagger2_drops_v3_keywords_but_keeps_fields_named_like_them() {
        let mut s = json!({"type": "object", "properties": {
            "nullable": {"type": "string", "nullable": true},
            "spec": {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": true}
        }});
        to_swagger2(&mut s);
        assert_eq!(s["properties"]["nullable"], json!({"type": "string"}));
        assert_eq!(s["properties"]["spec"], json!({"x-kubernetes-int-or-string": true}));
    }
}
