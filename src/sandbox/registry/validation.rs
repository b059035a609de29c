//! The apiserver's shared validators: names, label keys and values, annotations and the
//! `ObjectMeta` rules every kind goes through, with the exact messages kubectl users see.
//!
//! Each validator returns the list of problems as plain messages (as apimachinery's
//! `validation.IsXxx` functions do), so a caller can attach them to whatever field path and
//! value the apiserver reports (`metadata.name`, `spec.containers[0].name`, ...).

use serde_json::{json, Value};

use crate::sandbox::resources::ResourceInfo;
use crate::sandbox::status::FieldError;

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const CONFIG_KEY_FMT: &str = "[-._a-zA-Z0-9]+";

/// Annotations of one object may not exceed 256 KiB in total (keys plus values).
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// Go's `RegexError`: the message, then the examples, then the regex.
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let quoted: Vec<String> = examples.iter().map(|e| format!("'{e}'")).collect();
    format!("{msg} (e.g. {}, regex used for validation is '{fmt}')", quoted.join(",  or "))
}

fn max_len_error(max: usize) -> String {
    format!("must be no more than {max} characters")
}

fn is_lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn matches_dns1123_label(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| is_lower_alnum(c) || c == '-') && s.starts_with(is_lower_alnum) && s.ends_with(is_lower_alnum)
}

/// `IsDNS1123Label`: namespace names, container names, service port names.
pub fn dns1123_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !matches_dns1123_label(s) {
        errs.push(regex_error(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
            DNS1123_LABEL_FMT,
            &["my-name", "123-abc"],
        ));
    }
    errs
}

/// `IsDNS1123Subdomain`: the name rule of most kinds.
pub fn dns1123_subdomain(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push(max_len_error(253));
    }
    if s.is_empty() || !s.split('.').all(matches_dns1123_label) {
        errs.push(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// `IsDNS1035Label`: service names must also start with a letter (they become DNS names
/// and environment variables).
pub fn dns1035_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push(max_len_error(63));
    }
    let ok = !s.is_empty()
        && s.chars().all(|c| is_lower_alnum(c) || c == '-')
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.ends_with(is_lower_alnum);
    if !ok {
        errs.push(regex_error(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

fn matches_qualified_name_part(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// `IsQualifiedName`: label keys, annotation keys, finalizers — `[prefix/]name`.
pub fn qualified_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = s.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(dns1123_subdomain(prefix).into_iter().map(|m| format!("prefix part {m}")));
            }
            *name
        }
        _ => {
            errs.push(regex_error(
                "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"],
            ) + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".into());
    } else if name.len() > 63 {
        errs.push(format!("name part {}", max_len_error(63)));
    }
    if !matches_qualified_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"],
            )
        ));
    }
    errs
}

/// `IsValidLabelValue`: empty, or a qualified name part of at most 63 characters.
pub fn label_value(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !s.is_empty() && !matches_qualified_name_part(s) {
        errs.push(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// `IsConfigMapKey`: the keys of configmaps and secrets become file names in volumes.
pub fn config_key(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push(max_len_error(253));
    }
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.') {
        errs.push(regex_error(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            CONFIG_KEY_FMT,
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    if s == "." {
        errs.push("must not be '.'".into());
    } else if s == ".." {
        errs.push("must not be '..'".into());
    } else if s.starts_with("..") {
        errs.push("must not start with '..'".into());
    }
    errs
}

/// `IsValidPortName` (IANA service names): container and service port names.
pub fn port_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 15 {
        errs.push(max_len_error(15));
    }
    if !s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if s.contains("--") {
        errs.push("must not contain consecutive hyphens".into());
    }
    if !s.chars().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".into());
    }
    if s.starts_with('-') || s.ends_with('-') {
        errs.push("must not begin or end with a hyphen".into());
    }
    errs
}

/// Which name rule a kind's `metadata.name` follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    Subdomain,
    Label,
    Dns1035,
    /// `path.ValidatePathSegmentName`: anything a URL path segment can carry (RBAC's
    /// `system:aggregate-to-admin`).
    PathSegment,
}

/// `path.ValidatePathSegmentName`.
pub fn path_segment_name(name: &str, prefix: bool) -> Vec<String> {
    if !prefix {
        if let Some(bad) = [".", ".."].into_iter().find(|b| *b == name) {
            return vec![format!("may not be '{bad}'")];
        }
    }
    ["/", "%"].into_iter().filter(|c| name.contains(c)).map(|c| format!("may not contain '{c}'")).collect()
}

impl NameRule {
    /// The rule of `res`'s names, as each kind's strategy picks it.
    pub fn of(res: &ResourceInfo) -> Self {
        match (res.group.as_str(), res.kind.as_str()) {
            ("", "Namespace") => NameRule::Label,
            ("", "Service") => NameRule::Dns1035,
            ("rbac.authorization.k8s.io", _) => NameRule::PathSegment,
            _ => NameRule::Subdomain,
        }
    }

    /// `prefix` is true for `generateName`: a trailing dash is fine since a suffix follows.
    pub fn check(self, name: &str, prefix: bool) -> Vec<String> {
        if self == NameRule::PathSegment {
            return path_segment_name(name, prefix);
        }
        let owned;
        let name = if prefix && name.ends_with('-') {
            owned = format!("{}a", &name[..name.len() - 1]);
            owned.as_str()
        } else {
            name
        };
        match self {
            NameRule::Subdomain => dns1123_subdomain(name),
            NameRule::Label => dns1123_label(name),
            NameRule::Dns1035 => dns1035_label(name),
            NameRule::PathSegment => path_segment_name(name, prefix),
        }
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

/// `ValidateLabels`: keys are qualified names, values label values; sorted by key so the
/// order of causes is stable (Go iterates a map).
pub fn validate_labels(labels: Option<&Value>, field: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(Value::Object(map)) = labels else { return errs };
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for k in keys {
        for m in qualified_name(k) {
            errs.push(FieldError::invalid(field, &json!(k), m));
        }
        let v = map[k].as_str().unwrap_or_default();
        for m in label_value(v) {
            errs.push(FieldError::invalid(field, &json!(v), m));
        }
    }
    errs
}

/// `ValidateAnnotations`: qualified (lower-cased) keys and at most 256 KiB in total.
pub fn validate_annotations(annotations: Option<&Value>, field: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(Value::Object(map)) = annotations else { return errs };
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    let mut total = 0;
    for k in keys {
        for m in qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(field, &json!(k), m));
        }
        total += k.len() + map[k].as_str().map(str::len).unwrap_or_default();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(field, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errs
}

/// Finalizers the apiserver itself understands; any other must be a qualified name with a
/// domain, so two controllers cannot pick the same one by accident.
const STANDARD_FINALIZERS: &[&str] = &["kubernetes", "orphan", "foregroundDeletion"];

pub fn validate_finalizers(finalizers: Option<&Value>, field: &str) -> Vec<FieldError> {
    validate_finalizer_names(finalizers, field, true)
}

/// `kube_names`: kube-apiserver's types also need the legacy "standard" names check
/// (`validateKubeFinalizerName`); apiextensions-apiserver's (CRDs and custom resources)
/// take any qualified name (apimachinery's `ValidateFinalizerName`).
fn validate_finalizer_names(finalizers: Option<&Value>, field: &str, kube_names: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(Value::Array(list)) = finalizers else { return errs };
    for (i, f) in list.iter().enumerate() {
        let s = f.as_str().unwrap_or_default();
        let path = format!("{field}[{i}]");
        let msgs = qualified_name(s);
        let had_errors = !msgs.is_empty();
        for m in msgs {
            errs.push(FieldError::invalid(&path, &json!(s), m));
        }
        if kube_names && !had_errors && !s.contains('/') && !STANDARD_FINALIZERS.contains(&s) {
            errs.push(FieldError::invalid(&path, &json!(s), "name is neither a standard finalizer name nor is it fully qualified"));
        }
    }
    errs
}

/// `ValidateObjectMeta`: generateName, name, namespace scope, generation, labels,
/// annotations and finalizers.
pub fn validate_object_meta(res: &ResourceInfo, obj: &Value) -> Vec<FieldError> {
    let rule = NameRule::of(res);
    let meta = obj.get("metadata").cloned().unwrap_or(Value::Null);
    let mut errs = Vec::new();
    if let Some(gn) = str_at(&meta, &["generateName"]).filter(|s| !s.is_empty()) {
        for m in rule.check(gn, true) {
            errs.push(FieldError::invalid("metadata.generateName", &json!(gn), m));
        }
    }
    match str_at(&meta, &["name"]).filter(|s| !s.is_empty()) {
        None => errs.push(FieldError::required("metadata.name", "name or generateName is required")),
        Some(name) => {
            for m in rule.check(name, false) {
                errs.push(FieldError::invalid("metadata.name", &json!(name), m));
            }
        }
    }
    let ns = str_at(&meta, &["namespace"]).unwrap_or_default();
    if res.namespaced {
        if !ns.is_empty() {
            for m in dns1123_label(ns) {
                errs.push(FieldError::invalid("metadata.namespace", &json!(ns), m));
            }
        }
    } else if !ns.is_empty() {
        errs.push(FieldError::forbidden("metadata.namespace", "not allowed on this type"));
    }
    if let Some(g) = meta.get("generation").and_then(Value::as_i64).filter(|g| *g < 0) {
        errs.push(FieldError::invalid("metadata.generation", &json!(g), "must be greater than or equal to 0"));
    }
    errs.extend(validate_labels(meta.get("labels"), "metadata.labels"));
    errs.extend(validate_annotations(meta.get("annotations"), "metadata.annotations"));
    let kube_names = !res.is_custom() && res.group != "apiextensions.k8s.io";
    errs.extend(validate_finalizer_names(meta.get("finalizers"), "metadata.finalizers", kube_names));
    errs
}

/// Go's `%#v` of a `[]string`: `[]string{"a", "b"}`.
pub fn go_string_slice(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

/// `ValidateObjectMetaUpdate`: the new metadata is validated as on create, names and
/// namespaces cannot change, and an object being deleted cannot gain finalizers (they
/// would hold it forever, since nothing asked for them when the deletion started).
pub fn validate_object_meta_update(res: &ResourceInfo, old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = validate_object_meta(res, new);
    let o = old.get("metadata").cloned().unwrap_or(Value::Null);
    let n = new.get("metadata").cloned().unwrap_or(Value::Null);
    for key in ["name", "namespace"] {
        let (ov, nv) = (str_at(&o, &[key]).unwrap_or_default(), str_at(&n, &[key]).unwrap_or_default());
        if ov != nv {
            errs.push(FieldError::invalid(format!("metadata.{key}"), &json!(nv), "field is immutable"));
        }
    }
    if o.get("deletionTimestamp").is_some_and(|v| !v.is_null()) {
        let old_f: Vec<&str> =
            o.get("finalizers").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        let mut added: Vec<&str> = n
            .get("finalizers")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).filter(|f| !old_f.contains(f)).collect())
            .unwrap_or_default();
        added.sort();
        added.dedup();
        if !added.is_empty() {
            errs.push(FieldError::forbidden(
                "metadata.finalizers",
                format!("no new finalizers can be added if the object is being deleted, found new finalizers {}", go_string_slice(&added)),
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::resources::builtins;
    use crate::sandbox::status::ApiError;
    use crate::sandbox::status::FieldErrorKind;

    fn res(kind: &str) -> ResourceInfo {
        builtins().into_iter().find(|r| r.kind == kind).unwrap()
    }

    /// p09 `bad-name`.
    #[test]
    fn bad_pod_name_message_matches_apiserver() {
        let errs = validate_object_meta(&res("Pod"), &json!({"metadata": {"name": "Bad_Name"}}));
        let e = ApiError::invalid("Pod", "Bad_Name", &errs);
        assert_eq!(
            e.message,
            "Pod \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        );
    }

    /// p04 `generatename-invalid`: the prefix and the generated name both fail.
    #[test]
    fn bad_generate_name_reports_prefix_then_name() {
        let errs = validate_object_meta(&res("Pod"), &json!({"metadata": {"generateName": "Bad_Prefix-", "name": "Bad_Prefix-g8tbx"}}));
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0].field, "metadata.generateName");
        assert_eq!(errs[0].kind, FieldErrorKind::Invalid("\"Bad_Prefix-\"".into()));
        assert_eq!(errs[1].field, "metadata.name");
        // a good prefix with its trailing dash is fine
        assert!(validate_object_meta(&res("Pod"), &json!({"metadata": {"generateName": "worker-", "name": "worker-4rpbl"}})).is_empty());
    }

    /// p09 `bad-label-value`.
    #[test]
    fn bad_label_value_message_matches_apiserver() {
        let errs = validate_object_meta(&res("ConfigMap"), &json!({"metadata": {"name": "badlabel", "labels": {"k": "has spaces"}}}));
        assert_eq!(errs.len(), 1);
        assert_eq!(
            errs[0].to_message(),
            "metadata.labels: Invalid value: \"has spaces\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        );
    }

    /// p09 `multiple-errors`: container names are RFC 1123 labels.
    #[test]
    fn label_message_matches_apiserver() {
        assert_eq!(
            dns1123_label("A_B"),
            vec!["a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".to_string()]
        );
        assert!(dns1123_label("web-1").is_empty());
        assert_eq!(dns1123_label(&"a".repeat(64))[0], "must be no more than 63 characters");
    }

    #[test]
    fn qualified_names_check_prefix_and_name() {
        assert!(qualified_name("app.kubernetes.io/name").is_empty());
        assert_eq!(qualified_name("Bad_Prefix/x"), vec![format!("prefix part {}", dns1123_subdomain("Bad_Prefix")[0])]);
        assert_eq!(qualified_name("a/b/c").len(), 1);
        assert_eq!(qualified_name("/x"), vec!["prefix part must be non-empty".to_string()]);
    }

    /// p07 `add-finalizer-while-deleting`.
    #[test]
    fn no_new_finalizers_while_deleting() {
        let old = json!({"metadata": {"name": "held", "deletionTimestamp": "2026-11-25T20:49:49Z", "finalizers": ["example.com/hold"]}});
        let new = json!({"metadata": {"name": "held", "deletionTimestamp": "2026-11-25T20:49:49Z", "finalizers": ["example.com/hold", "example.com/new"]}});
        let errs = validate_object_meta_update(&res("Pod"), &old, &new);
        assert_eq!(
            ApiError::invalid("Pod", "held", &errs).message,
            "Pod \"held\" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"example.com/new\"}"
        );
    }

    #[test]
    fn namespace_names_are_labels_and_service_names_dns1035() {
        let errs = validate_object_meta(&res("Namespace"), &json!({"metadata": {"name": "a.b"}}));
        assert_eq!(errs.len(), 1);
        let errs = validate_object_meta(&res("Service"), &json!({"metadata": {"name": "1abc"}}));
        assert!(errs[0].to_message().contains("a DNS-1035 label must consist"));
        let errs = validate_object_meta(&res("ConfigMap"), &json!({"metadata": {}}));
        assert_eq!(errs[0].to_message(), "metadata.name: Required value: name or generateName is required");
    }

    #[test]
    fn config_keys() {
        assert_eq!(
            config_key("bad key!")[0],
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
        );
        assert_eq!(config_key(".."), vec!["must not be '..'".to_string()]);
        assert!(config_key("app.properties").is_empty());
    }

    #[test]
    fn path_segment_names_refuse_only_what_a_path_cannot_carry() {
        let cases: &[(&str, bool, &[&str])] = &[
            ("system:aggregate-to-admin", false, &[]),
            ("Upper_Case ok", false, &[]),
            (".", false, &["may not be '.'"]),
            ("..", false, &["may not be '..'"]),
            ("..", true, &[]),
            ("a/b%c", false, &["may not contain '/'", "may not contain '%'"]),
            ("a/", true, &["may not contain '/'"]),
        ];
        for (name, prefix, want) in cases {
            assert_eq!(path_segment_name(name, *prefix), want.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "{name}");
        }
    }
}
