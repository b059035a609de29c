//! `ValidateCustomResourceDefinition` (apiextensions-apiserver
//! `pkg/apis/apiextensions/validation/validation.go`) for v1 objects as JSON: the name rule
//! tying `metadata.name` to the plural and group, the group, scope, versions (exactly one
//! storage version, a schema each), names, printer columns and each schema's structural check.

use serde_json::{json, Value};

use super::schema;
use crate::sandbox::registry::validation::{dns1035_label, dns1123_subdomain};
use crate::sandbox::status::FieldError;

const SCOPES: &[&str] = &["Cluster", "Namespaced"];
const COLUMN_TYPES: &[&str] = &["boolean", "date", "integer", "number", "string"];
const COLUMN_FORMATS: &[&str] = &["byte", "date", "date-time", "double", "float", "int32", "int64", "name", "password"];

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

/// The errors of a CRD being created (also run on update: the spec rules are the same).
pub fn validate(crd: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = text(crd, "/metadata/name");
    let required = format!("{}.{}", text(crd, "/spec/names/plural"), text(crd, "/spec/group"));
    if !name.is_empty() && name != required {
        errs.push(FieldError::invalid("metadata.name", &json!(name), r#"must be spec.names.plural+"."+spec.group"#));
    }
    errs.extend(validate_spec(crd.get("spec").unwrap_or(&Value::Null)));
    errs.extend(validate_names(crd.pointer("/status/acceptedNames").unwrap_or(&Value::Null), "status.acceptedNames"));
    errs.extend(validate_stored_versions(crd));
    errs
}

/// `ValidateCustomResourceDefinitionUpdate`: the create rules plus the immutable scope once
/// established and stored versions that stay in `spec.versions`.
pub fn validate_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = validate(new);
    let established = super::conditions::is_true(old, "Established");
    let (old_scope, new_scope) = (text(old, "/spec/scope"), text(new, "/spec/scope"));
    if established && old_scope != new_scope {
        errs.push(FieldError::invalid("spec.scope", &json!(new_scope), "field is immutable"));
    }
    errs
}

fn validate_spec(spec: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let group = text(spec, "/group");
    if group.is_empty() {
        errs.push(FieldError::required("spec.group", ""));
    } else {
        let dns = dns1123_subdomain(group);
        if !dns.is_empty() {
            errs.push(FieldError::invalid("spec.group", &json!(group), dns.join(",")));
        } else if group.split('.').count() < 2 {
            errs.push(FieldError::invalid("spec.group", &json!(group), "should be a domain with at least one dot"));
        }
    }
    match text(spec, "/scope") {
        "" => errs.push(FieldError::required("spec.scope", "")),
        s if !SCOPES.contains(&s) => errs.push(FieldError::not_supported("spec.scope", &json!(s), SCOPES)),
        _ => {}
    }
    let empty = vec![];
    let versions = spec.get("versions").and_then(Value::as_array).unwrap_or(&empty);
    if versions.is_empty() {
        errs.push(FieldError::required("spec.versions", ""));
    }
    for (i, v) in versions.iter().enumerate() {
        let path = format!("spec.versions[{i}]");
        if v.pointer("/schema/openAPIV3Schema").is_none_or(Value::is_null) {
            errs.push(FieldError::required(format!("{path}.schema.openAPIV3Schema"), ""));
        }
    }
    let mut storage = 0;
    let mut seen = std::collections::HashSet::new();
    let mut unique = true;
    for (i, v) in versions.iter().enumerate() {
        let path = format!("spec.versions[{i}]");
        if v.get("storage").and_then(Value::as_bool).unwrap_or(false) {
            storage += 1;
        }
        let name = text(v, "/name");
        unique &= seen.insert(name.to_string());
        let dns = dns1035_label(name);
        if !dns.is_empty() {
            errs.push(FieldError::invalid(format!("{path}.name"), &json!(name), dns.join(",")));
        }
        errs.extend(validate_version(v, &path));
    }
    if !unique {
        errs.push(FieldError::invalid("spec.versions", &json!(versions), "must contain unique version names"));
    }
    if !versions.is_empty() && storage != 1 {
        errs.push(FieldError::invalid("spec.versions", &json!(versions), "must have exactly one version marked as storage version"));
    }
    let names = spec.get("names").unwrap_or(&Value::Null);
    for (field, key) in [("plural", "/plural"), ("singular", "/singular"), ("kind", "/kind"), ("listKind", "/listKind")] {
        if text(names, key).is_empty() {
            errs.push(FieldError::required(format!("spec.names.{field}"), ""));
        }
    }
    errs.extend(validate_names(names, "spec.names"));
    errs
}

/// One entry of `spec.versions`: its printer columns and its schema's structural check.
fn validate_version(v: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let status_enabled = v.pointer("/subresources/status").is_some_and(|s| !s.is_null());
    if let Some(schema) = v.pointer("/schema/openAPIV3Schema").filter(|s| !s.is_null()) {
        let schema_path = format!("{path}.schema.openAPIV3Schema");
        if status_enabled && schema.get("type").and_then(Value::as_str).is_some_and(|t| t != "object") {
            errs.push(FieldError::invalid(
                format!("{schema_path}.type"),
                &schema["type"],
                r#"only "object" is allowed as the type at the root of the schema if the status subresource is enabled"#,
            ));
        }
        errs.extend(schema::structural_errors(schema, &schema_path));
    }
    errs.extend(validate_selectable_fields(v, path));
    for (i, col) in v.get("additionalPrinterColumns").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let cp = format!("{path}.additionalPrinterColumns[{i}]");
        if text(col, "/name").is_empty() {
            errs.push(FieldError::required(format!("{cp}.name"), ""));
        }
        let types = COLUMN_TYPES.join(",");
        match text(col, "/type") {
            "" => errs.push(FieldError::required(format!("{cp}.type"), format!("must be one of {types}"))),
            t if !COLUMN_TYPES.contains(&t) => {
                errs.push(FieldError::invalid(format!("{cp}.type"), &json!(t), format!("must be one of {types}")))
            }
            _ => {}
        }
        let format = text(col, "/format");
        if !format.is_empty() && !COLUMN_FORMATS.contains(&format) {
            errs.push(FieldError::invalid(format!("{cp}.format"), &json!(format), format!("must be one of {}", COLUMN_FORMATS.join(","))));
        }
        if text(col, "/jsonPath").is_empty() {
            errs.push(FieldError::required(format!("{cp}.JSONPath"), ""));
        }
    }
    errs
}

/// The schema of a simple `.a.b` path through `properties`, if it names one.
fn schema_at<'a>(schema: &'a Value, json_path: &str) -> Option<&'a Value> {
    json_path.trim_start_matches('.').split('.').try_fold(schema, |s, part| s.pointer(&format!("/properties/{part}")))
}

/// `ValidateCustomResourceSelectableFields`: each a path into the schema, outside metadata,
/// to a string, boolean or integer, named once, at most eight.
fn validate_selectable_fields(v: &Value, path: &str) -> Vec<FieldError> {
    let Some(fields) = v.get("selectableFields").and_then(Value::as_array) else { return vec![] };
    let fp = format!("{path}.selectableFields");
    let Some(schema) = v.pointer("/schema/openAPIV3Schema").filter(|s| !s.is_null()) else {
        return vec![FieldError::invalid(&fp, &json!(""), "may only be set when `version.schema.openAPIV3Schema` is not included")];
    };
    let mut errs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, f) in fields.iter().enumerate() {
        let ip = format!("{fp}[{i}].jsonPath");
        let jp = text(f, "/jsonPath");
        if jp.is_empty() {
            errs.push(FieldError::required(ip, ""));
            continue;
        }
        let Some(found) = schema_at(schema, jp) else {
            errs.push(FieldError::invalid(ip, &json!(jp), "is an invalid path: does not refer to a valid field"));
            continue;
        };
        if jp.trim_start_matches('.').split('.').next() == Some("metadata") {
            errs.push(FieldError::invalid(&ip, &json!(jp), "must not point to fields in metadata"));
        }
        if !matches!(found.get("type").and_then(Value::as_str), Some("string" | "boolean" | "integer")) {
            errs.push(FieldError::invalid(
                &ip,
                &json!(jp),
                "must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed.",
            ));
        }
        if !seen.insert(jp.to_string()) {
            errs.push(FieldError::duplicate(&ip, &json!(jp)));
        }
    }
    if seen.len() > 8 {
        errs.push(FieldError::invalid(&fp, &json!(seen.len()), "must have at most 8 items"));
    }
    errs
}

/// `ValidateCustomResourceDefinitionNames`: DNS-1035 labels (kinds lowercased first).
fn validate_names(names: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (field, lower) in [("plural", false), ("singular", false), ("kind", true), ("listKind", true)] {
        let value = text(names, &format!("/{field}"));
        if value.is_empty() {
            continue;
        }
        let checked = if lower { value.to_lowercase() } else { value.to_string() };
        let dns = dns1035_label(&checked);
        if !dns.is_empty() {
            let detail = if lower { format!("may have mixed case, but should otherwise match: {}", dns.join(",")) } else { dns.join(",") };
            errs.push(FieldError::invalid(format!("{path}.{field}"), &json!(value), detail));
        }
    }
    for (i, short) in names.get("shortNames").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let s = short.as_str().unwrap_or_default();
        let dns = dns1035_label(s);
        if !dns.is_empty() {
            errs.push(FieldError::invalid(format!("{path}.shortNames[{i}]"), &json!(s), dns.join(",")));
        }
    }
    let (kind, list_kind) = (text(names, "/kind"), text(names, "/listKind"));
    if !kind.is_empty() && kind == list_kind {
        errs.push(FieldError::invalid(format!("{path}.listKind"), &json!(list_kind), "kind and listKind may not be the same"));
    }
    for (i, c) in names.get("categories").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let s = c.as_str().unwrap_or_default();
        let dns = dns1035_label(s);
        if !dns.is_empty() {
            errs.push(FieldError::invalid(format!("{path}.categories[{i}]"), &json!(s), dns.join(",")));
        }
    }
    errs
}

/// `ValidateCustomResourceDefinitionStoredVersions`: the storage version is among the
/// stored ones and every stored version is still in `spec.versions`.
fn validate_stored_versions(crd: &Value) -> Vec<FieldError> {
    let stored: Vec<&str> =
        crd.pointer("/status/storedVersions").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    let versions: Vec<&Value> = crd.pointer("/spec/versions").and_then(Value::as_array).into_iter().flatten().collect();
    let path = "status.storedVersions";
    if stored.is_empty() {
        return vec![FieldError::invalid(path, &json!(stored), "must have at least one stored version")];
    }
    let mut errs = Vec::new();
    for v in &versions {
        if v.get("storage").and_then(Value::as_bool).unwrap_or(false) {
            let name = text(v, "/name");
            if !stored.contains(&name) {
                errs.push(FieldError::invalid(path, &json!(stored), format!("must have the storage version {name}")));
            }
        }
    }
    for (i, s) in stored.iter().enumerate() {
        if !versions.iter().any(|v| text(v, "/name") == *s) {
            errs.push(FieldError::invalid(
                format!("{path}[{i}]"),
                &json!(s),
                format!("missing from spec.versions; {s} was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in {s} and removes {s} from status.storedVersions"),
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "books.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "books", "singular": "book", "kind": "Book", "listKind": "BookList"},
                "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object"}}}]},
            "status": {"storedVersions": ["v1"]}
        })
    }

    #[test]
    fn crd_rules_answer_upstream_messages() {
        let cases: &[(&str, fn(&mut Value), &[&str])] = &[
            ("valid", |_| {}, &[]),
            (
                "name",
                |c| c["metadata"]["name"] = json!("book.example.com"),
                &[r#"metadata.name: Invalid value: "book.example.com": must be spec.names.plural+"."+spec.group"#],
            ),
            (
                "group without dot",
                |c| {
                    c["spec"]["group"] = json!("example");
                    c["metadata"]["name"] = json!("books.example")
                },
                &[r#"spec.group: Invalid value: "example": should be a domain with at least one dot"#],
            ),
            (
                "scope",
                |c| c["spec"]["scope"] = json!("Global"),
                &[r#"spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced""#],
            ),
            (
                "two storage versions",
                |c| {
                    c["spec"]["versions"] = json!([
                {"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object"}}},
                {"name": "v2", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object"}}}])
                },
                &[
                    "must have exactly one version marked as storage version",
                    r#"status.storedVersions: Invalid value: ["v1"]: must have the storage version v2"#,
                ],
            ),
            (
                "schema required",
                |c| {
                    c["spec"]["versions"][0].as_object_mut().unwrap().remove("schema");
                },
                &["spec.versions[0].schema.openAPIV3Schema: Required value"],
            ),
            (
                "plural not a label",
                |c| {
                    c["spec"]["names"]["plural"] = json!("Books");
                    c["metadata"]["name"] = json!("Books.example.com")
                },
                &[r#"spec.names.plural: Invalid value: "Books": a DNS-1035 label must consist of lower case alphanumeric characters"#],
            ),
            (
                "kind equals listKind",
                |c| c["spec"]["names"]["listKind"] = json!("Book"),
                &[r#"spec.names.listKind: Invalid value: "Book": kind and listKind may not be the same"#],
            ),
            (
                "printer column type",
                |c| c["spec"]["versions"][0]["additionalPrinterColumns"] = json!([{"name": "A", "type": "text", "jsonPath": ".a"}]),
                &[
                    r#"spec.versions[0].additionalPrinterColumns[0].type: Invalid value: "text": must be one of boolean,date,integer,number,string"#,
                ],
            ),
            (
                "selectable fields",
                |c| {
                    c["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = json!({"type": "object", "properties": {
                        "spec": {"type": "object", "properties": {"color": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}}}}});
                    c["spec"]["versions"][0]["selectableFields"] = json!([{"jsonPath": ".spec.color"}, {"jsonPath": ".spec.tags"}, {"jsonPath": ".spec.nope"}, {"jsonPath": ".spec.color"}]);
                },
                &[
                    r#"spec.versions[0].selectableFields[1].jsonPath: Invalid value: ".spec.tags": must point to a field of type string, boolean or integer"#,
                    r#"spec.versions[0].selectableFields[2].jsonPath: Invalid value: ".spec.nope": is an invalid path: does not refer to a valid field"#,
                    r#"spec.versions[0].selectableFields[3].jsonPath: Duplicate value: ".spec.color""#,
                ],
            ),
        ];
        for (name, change, want) in cases {
            let mut crd = book();
            change(&mut crd);
            let got: Vec<String> = validate(&crd).iter().map(FieldError::to_message).collect();
            assert_eq!(got.len(), want.len(), "{name}: {got:?}");
            for (g, w) in got.iter().zip(want.iter()) {
                assert!(g.contains(w), "{name}: {g} does not contain {w}");
            }
        }
    }
}
