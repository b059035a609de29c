//! Secrets: `Opaque` unless typed; typed secrets must carry the keys their consumers read;
//! the type never changes; and like configmaps they can be made immutable.

use super::strategy::{field_text, Strategy};
use serde_json::{json, Value};

use super::configmaps::{validate_immutable, validate_keys, validate_size};
use super::wire_shape::ensure;
use crate::sandbox::status::FieldError;

pub fn default_secret(obj: &mut Value) {
    ensure(obj, "type", json!("Opaque"));
}

/// Keys a typed secret must have, by type.
fn required_keys(ty: &str) -> &'static [&'static str] {
    match ty {
        "kubernetes.io/tls" => &["tls.crt", "tls.key"],
        "kubernetes.io/dockerconfigjson" => &[".dockerconfigjson"],
        "kubernetes.io/dockercfg" => &[".dockercfg"],
        "kubernetes.io/ssh-auth" => &["ssh-privatekey"],
        _ => &[],
    }
}

pub fn validate_secret(obj: &Value) -> Vec<FieldError> {
    let mut errs = validate_keys(obj, &["data"]);
    let ty = obj.get("type").and_then(Value::as_str).unwrap_or_default();
    for key in required_keys(ty) {
        if obj.get("data").and_then(|d| d.get(*key)).is_none() {
            errs.push(FieldError::required(format!("data[{key}]"), ""));
        }
    }
    if ty == "kubernetes.io/service-account-token" {
        let named =
            obj.pointer("/metadata/annotations/kubernetes.io~1service-account.name").and_then(Value::as_str).is_some_and(|s| !s.is_empty());
        if !named {
            errs.push(FieldError::required("metadata.annotations[kubernetes.io/service-account.name]", ""));
        }
    }
    errs.extend(validate_size(obj, &["data"]));
    errs
}

pub fn validate_secret_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let (ot, nt) = (old.get("type"), new.get("type"));
    if ot != nt {
        errs.push(FieldError::invalid("type", nt.unwrap_or(&Value::Null), "field is immutable"));
    }
    errs.extend(validate_immutable(old, new, &["data"]));
    errs.extend(validate_secret(new));
    errs
}

/// The secret strategy.
pub struct SecretStrategy;

impl Strategy for SecretStrategy {
    fn defaults(&self, obj: &mut Value) {
        default_secret(obj);
    }
    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        validate_secret(obj)
    }
    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        validate_secret_update(old, new)
    }
    fn selectable_fields(&self, obj: &Value) -> Vec<(&'static str, String)> {
        vec![("type", field_text(obj, "/type"))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// p18 `secret-stringdata`: `type: Opaque` by default.
    #[test]
    fn opaque_by_default_and_typed_keys() {
        let mut s = json!({"data": {"token": "YWJjMTIz"}});
        default_secret(&mut s);
        assert_eq!(s["type"], "Opaque");
        assert!(validate_secret(&s).is_empty());
        let tls = json!({"type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}});
        assert_eq!(validate_secret(&tls)[0].to_message(), "data[tls.key]: Required value");
        let errs = validate_secret_update(&s, &json!({"type": "kubernetes.io/tls", "data": {"tls.crt": "eA==", "tls.key": "eA=="}}));
        assert_eq!(errs[0].to_message(), "type: Invalid value: \"kubernetes.io/tls\": field is immutable");
    }
}
