//! A CRD's `status.conditions` (`apiextensions/helpers.go`): find one, and set one keeping
//! `lastTransitionTime` when the status did not change.

use serde_json::{json, Value};

/// The condition of `type_`, if the CRD has one.
pub fn find<'a>(crd: &'a Value, type_: &str) -> Option<&'a Value> {
    crd.pointer("/status/conditions")?.as_array()?.iter().find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
}

/// `IsCRDConditionTrue`.
pub fn is_true(crd: &Value, type_: &str) -> bool {
    find(crd, type_).and_then(|c| c.get("status")).and_then(Value::as_str) == Some("True")
}

/// `SetCRDCondition` on a status object: replaces the condition of the same type, keeping
/// its transition time when the status is unchanged.
pub fn set(status: &mut Value, type_: &str, state: &str, reason: &str, message: &str) {
    if !status.is_object() {
        *status = json!({});
    }
    let old = status
        .get("conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c.get("type").and_then(Value::as_str) == Some(type_)).cloned());
    let time = match &old {
        Some(o) if o.get("status").and_then(Value::as_str) == Some(state) => o.get("lastTransitionTime").cloned().unwrap_or(Value::Null),
        _ => json!(crate::sandbox::meta::now_rfc3339()),
    };
    let cond = json!({"type": type_, "status": state, "lastTransitionTime": time, "reason": reason, "message": message});
    match status.get_mut("conditions").and_then(Value::as_array_mut) {
        Some(cs) => match cs.iter_mut().find(|c| c.get("type").and_then(Value::as_str) == Some(type_)) {
            Some(c) => *c = cond,
            None => cs.push(cond),
        },
        None => status["conditions"] = json!([cond]),
    }
}
