//! `metav1.LabelSelector` (matchLabels and matchExpressions) as workloads use it: validated,
//! and matched against their pod template's labels.

use serde_json::{json, Value};

use super::validation::{label_value, qualified_name, validate_labels};
use crate::sandbox::status::FieldError;

const OPERATORS: &[&str] = &["In", "NotIn", "Exists", "DoesNotExist"];

/// True when the selector selects by nothing (no labels, no expressions) — for a workload
/// that is the same as a missing one.
pub fn is_empty(selector: Option<&Value>) -> bool {
    let count = |k: &str| {
        selector.and_then(|s| s.get(k)).map(|v| v.as_object().map(|m| m.len()).or(v.as_array().map(Vec::len)).unwrap_or(0)).unwrap_or(0)
    };
    count("matchLabels") + count("matchExpressions") == 0
}

/// `ValidateLabelSelector`.
pub fn validate(selector: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = validate_labels(selector.get("matchLabels"), &format!("{path}.matchLabels"));
    for (i, e) in selector.get("matchExpressions").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let ep = format!("{path}.matchExpressions[{i}]");
        let op = e.get("operator").and_then(Value::as_str).unwrap_or_default();
        let values = e.get("values").and_then(Value::as_array).map(Vec::len).unwrap_or(0);
        match op {
            "In" | "NotIn" if values == 0 => {
                errs.push(FieldError::required(format!("{ep}.values"), "must be specified when `operator` is 'In' or 'NotIn'"))
            }
            "Exists" | "DoesNotExist" if values > 0 => errs
                .push(FieldError::forbidden(format!("{ep}.values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => errs.push(FieldError::not_supported(format!("{ep}.operator"), &json!(other), OPERATORS)),
        }
        let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
        for m in qualified_name(key) {
            errs.push(FieldError::invalid(format!("{ep}.key"), &json!(key), m));
        }
        for (j, v) in e.get("values").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let s = v.as_str().unwrap_or_default();
            for m in label_value(s) {
                errs.push(FieldError::invalid(format!("{ep}.values[{j}]"), &json!(s), m));
            }
        }
    }
    errs
}

/// Whether `labels` (an object of strings, or null) is selected.
pub fn matches(selector: &Value, labels: Option<&Value>) -> bool {
    let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    let labels_ok = selector.get("matchLabels").and_then(Value::as_object).is_none_or(|m| m.iter().all(|(k, v)| get(k) == v.as_str()));
    let exprs_ok = selector.get("matchExpressions").and_then(Value::as_array).is_none_or(|es| {
        es.iter().all(|e| {
            let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
            let values: Vec<&str> =
                e.get("values").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
            match e.get("operator").and_then(Value::as_str).unwrap_or_default() {
                "In" => get(key).is_some_and(|v| values.contains(&v)),
                "NotIn" => get(key).is_none_or(|v| !values.contains(&v)),
                "Exists" => get(key).is_some(),
                "DoesNotExist" => get(key).is_none(),
                _ => false,
            }
        })
    });
    labels_ok && exprs_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching() {
        let sel = json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}, {"key": "x", "operator": "DoesNotExist"}]});
        assert!(matches(&sel, Some(&json!({"app": "web", "tier": "a"}))));
        assert!(!matches(&sel, Some(&json!({"app": "web", "tier": "c"}))));
        assert!(!matches(&sel, Some(&json!({"app": "web", "tier": "a", "x": ""}))));
        assert!(!matches(&sel, None));
        assert!(is_empty(Some(&json!({}))));
        assert!(is_empty(None));
    }

    #[test]
    fn bad_operator() {
        let errs = validate(&json!({"matchExpressions": [{"key": "a", "operator": "Is", "values": ["b"]}]}), "spec.selector");
        assert_eq!(
            errs[0].to_message(),
            "spec.selector.matchExpressions[0].operator: Unsupported value: \"Is\": supported values: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\""
        );
    }
}
