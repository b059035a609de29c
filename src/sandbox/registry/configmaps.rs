//! ConfigMaps (and the key rules Secrets share): keys become file names when mounted, and
//! an `immutable` one can never change its data again (kubelets stop watching it).

use super::strategy::Strategy;
use serde_json::{json, Value};

use super::validation::config_key;
use crate::sandbox::status::FieldError;

/// A configmap or secret may hold at most 1 MiB.
pub const MAX_DATA_SIZE: usize = 1024 * 1024;

/// Checks the keys of `data` and `binaryData`-like maps, under their own field names
/// (`data[bad key!]`), and that no key appears in both.
pub fn validate_keys(obj: &Value, maps: &[&str]) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for map in maps {
        let Some(m) = obj.get(*map).and_then(Value::as_object) else { continue };
        for k in m.keys() {
            let path = format!("{map}[{k}]");
            for msg in config_key(k) {
                errs.push(FieldError::invalid(&path, &json!(k), msg));
            }
            if seen.contains(&k.as_str()) {
                errs.push(FieldError::invalid(&path, &json!(k), "duplicate of key present in data"));
            }
            seen.push(k);
        }
    }
    errs
}

fn data_size(obj: &Value, maps: &[&str]) -> usize {
    maps.iter()
        .filter_map(|m| obj.get(*m).and_then(Value::as_object))
        .flat_map(|m| m.iter())
        .map(|(k, v)| k.len() + v.as_str().map(str::len).unwrap_or_default())
        .sum()
}

/// The size limit, reported as the apiserver does (on the whole object, no field).
pub fn validate_size(obj: &Value, maps: &[&str]) -> Vec<FieldError> {
    let size = data_size(obj, maps);
    if size > MAX_DATA_SIZE {
        return vec![FieldError::forbidden("", format!("Too long: must have at most {MAX_DATA_SIZE} bytes"))];
    }
    Vec::new()
}

pub fn validate_config_map(obj: &Value) -> Vec<FieldError> {
    let mut errs = validate_keys(obj, &["data", "binaryData"]);
    errs.extend(validate_size(obj, &["data", "binaryData"]));
    errs
}

/// Once `immutable: true` is stored, the listed fields and the flag itself are frozen.
pub fn validate_immutable(old: &Value, new: &Value, fields: &[&str]) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if old.get("immutable").and_then(Value::as_bool) != Some(true) {
        return errs;
    }
    if new.get("immutable").and_then(Value::as_bool) != Some(true) {
        errs.push(FieldError::forbidden("immutable", "field is immutable when `immutable` is set"));
    }
    for f in fields {
        if old.get(*f) != new.get(*f) {
            errs.push(FieldError::forbidden(*f, "field is immutable when `immutable` is set"));
        }
    }
    errs
}

pub fn validate_config_map_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = validate_immutable(old, new, &["data", "binaryData"]);
    errs.extend(validate_config_map(new));
    errs
}

/// The config map strategy.
pub struct ConfigMapStrategy;

impl Strategy for ConfigMapStrategy {
    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        validate_config_map(obj)
    }
    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        validate_config_map_update(old, new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::status::ApiError;

    /// p18 `cm-bad-key`.
    #[test]
    fn bad_key() {
        let errs = validate_config_map(&json!({"data": {"bad key!": "x"}}));
        assert_eq!(
            ApiError::invalid("ConfigMap", "badkey", &errs).message,
            "ConfigMap \"badkey\" is invalid: data[bad key!]: Invalid value: \"bad key!\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
        );
    }

    /// p18 `cm-immutable-update`.
    #[test]
    fn immutable_data() {
        let old = json!({"immutable": true, "data": {"a": "1"}});
        let new = json!({"immutable": true, "data": {"a": "2"}});
        let errs = validate_config_map_update(&old, &new);
        assert_eq!(
            ApiError::invalid("ConfigMap", "frozen", &errs).message,
            "ConfigMap \"frozen\" is invalid: data: Forbidden: field is immutable when `immutable` is set"
        );
        assert!(validate_config_map_update(&json!({"data": {"a": "1"}}), &new).is_empty());
    }

    #[test]
    fn key_in_data_and_binary_data() {
        let errs = validate_config_map(&json!({"data": {"a": "1"}, "binaryData": {"a": "MQ=="}}));
        assert_eq!(errs[0].to_message(), "binaryData[a]: Invalid value: \"a\": duplicate of key present in data");
    }
}
