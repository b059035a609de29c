//! Core (v1) events: the record of something that happened to an object. An event lives
//! in its object's namespace, so the two namespaces must agree.

use serde_json::{json, Value};

use super::validation::dns1123_subdomain;
use crate::sandbox::status::FieldError;

/// `ValidateEventCreate` for core/v1 events without `eventTime` (the legacy shape kubectl
/// and client-go's recorder write); with `eventTime` the newer reporting fields are required.
pub fn validate_event(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default();
    let involved = obj.pointer("/involvedObject/namespace").and_then(Value::as_str).unwrap_or_default();
    let has_event_time = obj.get("eventTime").is_some_and(|t| !t.is_null());
    let mismatch = if involved.is_empty() { !ns.is_empty() && ns != "default" } else { ns != involved };
    if !has_event_time {
        if mismatch {
            errs.push(FieldError::invalid("involvedObject.namespace", &json!(involved), "does not match event.namespace"));
        }
    } else {
        for key in ["reportingComponent", "reportingInstance", "action", "reason"] {
            if obj.get(key).and_then(Value::as_str).unwrap_or_default().is_empty() {
                let field = if key == "reportingComponent" { "reportingController" } else { key };
                errs.push(FieldError::required(field, ""));
            }
        }
        let ty = obj.get("type").and_then(Value::as_str).unwrap_or_default();
        if ty != "Normal" && ty != "Warning" {
            errs.push(FieldError::invalid("type", &json!(""), format!("has invalid value: {ty}")));
        }
    }
    if !ns.is_empty() {
        for m in dns1123_subdomain(ns) {
            errs.push(FieldError::invalid("metadata.namespace", &json!(ns), m));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::status::ApiError;

    /// p20 `event-invalid` and `event-create`.
    #[test]
    fn involved_object_namespace_must_match() {
        let bad = json!({"metadata": {"name": "e2", "namespace": "ns1"}, "reason": "X", "involvedObject": {}, "eventTime": null});
        assert_eq!(
            ApiError::invalid("Event", "e2", &validate_event(&bad)).message,
            "Event \"e2\" is invalid: involvedObject.namespace: Invalid value: \"\": does not match event.namespace"
        );
        let good =
            json!({"metadata": {"name": "e1", "namespace": "ns1"}, "involvedObject": {"kind": "Pod", "name": "p", "namespace": "ns1"}});
        assert!(validate_event(&good).is_empty());
    }
}
