//! Events: the record of something that happened to an object.
//!
//! Core `v1` and `events.k8s.io/v1` Events are one stored kind (see
//! [`crate::sandbox::conversion`]); both are validated here, on the stored core form. The
//! apiserver decides how strictly by the API the request came through: every event must make
//! sense as a legacy core event (its namespace agrees with its object's; with `eventTime`, the
//! newer reporting fields are required), and one written through events.k8s.io must also be a
//! well-formed new-style event: `eventTime` set, the deprecated fields unset, a valid `type`,
//! and, once created, nothing but its `series` may change.

use super::strategy::{field_text, Strategy};
use serde_json::{json, Value};

use super::validation::{dns1123_subdomain, qualified_name};
use crate::sandbox::status::FieldError;

/// `reportingInstance`, `action` and `reason` may have at most this many characters.
const SHORT_FIELD_LIMIT: usize = 128;
/// The message (`note`) may have at most this many characters.
const NOTE_LENGTH_LIMIT: usize = 1024;

/// The API a write came through, which decides the validation it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventApi {
    /// core `v1`: legacy validation only, for backwards compatibility.
    CoreV1,
    /// `events.k8s.io/v1`: legacy validation plus the new API's rules.
    EventsV1,
}

fn text<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

fn is_set(obj: &Value, key: &str) -> bool {
    obj.get(key).is_some_and(|v| !v.is_null())
}

/// `ValidateEventCreate`.
pub fn validate_event(obj: &Value, api: EventApi) -> Vec<FieldError> {
    let mut errs = legacy(obj, api);
    if api == EventApi::EventsV1 {
        errs.extend(series(obj));
        errs.extend(new_api(obj));
    }
    errs
}

/// `ValidateEventUpdate`: through events.k8s.io only the series may change.
pub fn validate_event_update(old: &Value, new: &Value, api: EventApi) -> Vec<FieldError> {
    let mut errs = legacy(new, api);
    if api == EventApi::CoreV1 {
        return errs;
    }
    if zero_as_null(new.get("series")) != zero_as_null(old.get("series")) {
        errs.extend(series(new));
    }
    for key in [
        "involvedObject",
        "reason",
        "message",
        "source",
        "firstTimestamp",
        "lastTimestamp",
        "count",
        // checked twice upstream, so reported twice
        "reason",
        "type",
        "eventTime",
        "action",
        "related",
        "reportingComponent",
        "reportingInstance",
    ] {
        let now = zero_as_null(new.get(key));
        if now != zero_as_null(old.get(key)) {
            let field = if key == "reportingComponent" { "reportingController" } else { key };
            errs.push(FieldError::invalid(field, &now, "field is immutable"));
        }
    }
    errs
}

/// A field as Go compares it: absent, `null`, `""`, `0` and `{}` are all the zero value.
fn zero_as_null(v: Option<&Value>) -> Value {
    match v {
        None | Some(Value::Null) => Value::Null,
        Some(Value::String(s)) if s.is_empty() => Value::Null,
        Some(Value::Number(n)) if n.as_f64() == Some(0.0) => Value::Null,
        Some(Value::Object(m)) if m.is_empty() => Value::Null,
        Some(other) => other.clone(),
    }
}

/// `legacyValidateEvent`: what every event must satisfy, whichever API wrote it.
fn legacy(obj: &Value, api: EventApi) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let ns = text(obj, "/metadata/namespace");
    let involved = text(obj, "/involvedObject/namespace");
    let mismatch = || FieldError::invalid("involvedObject.namespace", &json!(involved), "does not match event.namespace");
    if !is_set(obj, "eventTime") {
        // An old-style event: its namespace is its object's (or default, for cluster objects).
        let agrees = if involved.is_empty() { ns.is_empty() || ns == "default" } else { ns == involved };
        if !agrees {
            errs.push(mismatch());
        }
    } else {
        if involved.is_empty() && ns != "default" && ns != "kube-system" {
            errs.push(mismatch());
        }
        // Each API names the reporting controller its own way.
        let controller_field = match api {
            EventApi::CoreV1 => "reportingComponent",
            EventApi::EventsV1 => "reportingController",
        };
        let controller = text(obj, "/reportingComponent");
        if controller.is_empty() {
            errs.push(FieldError::required(controller_field, ""));
        }
        for m in qualified_name(controller) {
            errs.push(FieldError::invalid(controller_field, &json!(controller), m));
        }
        for (key, limit) in [("reportingInstance", SHORT_FIELD_LIMIT), ("action", SHORT_FIELD_LIMIT), ("reason", SHORT_FIELD_LIMIT)] {
            let value = text(obj, &format!("/{key}"));
            if value.is_empty() {
                errs.push(FieldError::required(key, ""));
            }
            if value.len() > limit {
                errs.push(FieldError::invalid(key, &json!(""), format!("can have at most {limit} characters")));
            }
        }
        if text(obj, "/message").len() > NOTE_LENGTH_LIMIT {
            errs.push(FieldError::invalid("message", &json!(""), format!("can have at most {NOTE_LENGTH_LIMIT} characters")));
        }
    }
    if !ns.is_empty() {
        for m in dns1123_subdomain(ns) {
            errs.push(FieldError::invalid("metadata.namespace", &json!(ns), m));
        }
    }
    errs
}

/// `validateV1EventSeries`: a series is at least the second occurrence, observed at a time.
fn series(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(series) = obj.get("series").filter(|s| !s.is_null()) else { return errs };
    if series.get("count").and_then(Value::as_i64).unwrap_or(0) < 2 {
        errs.push(FieldError::invalid("series.count", &json!(""), "should be at least 2"));
    }
    if !is_set(series, "lastObservedTime") {
        errs.push(FieldError::required("series.lastObservedTime", ""));
    }
    errs
}

/// The new API's own rules on create: an event time, a known type, no deprecated fields.
fn new_api(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if !is_set(obj, "eventTime") {
        errs.push(FieldError::required("eventTime", ""));
    }
    let ty = text(obj, "/type");
    if ty != "Normal" && ty != "Warning" {
        errs.push(FieldError::invalid("type", &json!(""), format!("has invalid value: {ty}")));
    }
    let unset = |key: &str| FieldError::invalid(key, &json!(""), "needs to be unset");
    for key in ["firstTimestamp", "lastTimestamp"] {
        if is_set(obj, key) {
            errs.push(unset(key));
        }
    }
    if obj.get("count").and_then(Value::as_i64).unwrap_or(0) != 0 {
        errs.push(unset("count"));
    }
    if !text(obj, "/source/component").is_empty() || !text(obj, "/source/host").is_empty() {
        errs.push(unset("source"));
    }
    errs
}

/// The event strategy, for the API the event was written through.
pub struct EventStrategy(pub EventApi);

impl Strategy for EventStrategy {
    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        validate_event(obj, self.0)
    }
    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        validate_event_update(old, new, self.0)
    }
    /// Stored as core events whichever API wrote them, so selected by the core names
    /// (events.k8s.io's own names are converted before matching: see `selectors/`).
    fn selectable_fields(&self, obj: &Value) -> Vec<(&'static str, String)> {
        vec![
            ("involvedObject.kind", field_text(obj, "/involvedObject/kind")),
            ("involvedObject.namespace", field_text(obj, "/involvedObject/namespace")),
            ("involvedObject.name", field_text(obj, "/involvedObject/name")),
            ("involvedObject.uid", field_text(obj, "/involvedObject/uid")),
            ("involvedObject.apiVersion", field_text(obj, "/involvedObject/apiVersion")),
            ("involvedObject.resourceVersion", field_text(obj, "/involvedObject/resourceVersion")),
            ("involvedObject.fieldPath", field_text(obj, "/involvedObject/fieldPath")),
            ("reason", field_text(obj, "/reason")),
            ("reportingComponent", field_text(obj, "/reportingComponent")),
            ("source", field_text(obj, "/source/component")),
            ("type", field_text(obj, "/type")),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::status::ApiError;

    fn recorded() -> Value {
        json!({
            "metadata": {"name": "web.1", "namespace": "ns"},
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": "ns"},
            "reason": "Synced", "message": "ok", "source": {}, "firstTimestamp": null, "lastTimestamp": null, "type": "Normal",
            "eventTime": "2026-11-25T20:49:56.123456Z", "action": "Reconcile",
            "reportingComponent": "kubelab.dev/demo", "reportingInstance": "demo-1"
        })
    }

    fn messages(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::to_message).collect()
    }

    /// p20 `event-invalid` and `event-create`.
    #[test]
    fn involved_object_namespace_must_match() {
        let bad = json!({"metadata": {"name": "e2", "namespace": "ns1"}, "reason": "X", "involvedObject": {}, "eventTime": null});
        assert_eq!(
            ApiError::invalid("Event", "e2", &validate_event(&bad, EventApi::CoreV1)).message,
            "Event \"e2\" is invalid: involvedObject.namespace: Invalid value: \"\": does not match event.namespace"
        );
        let good =
            json!({"metadata": {"name": "e1", "namespace": "ns1"}, "involvedObject": {"kind": "Pod", "name": "p", "namespace": "ns1"}});
        assert!(validate_event(&good, EventApi::CoreV1).is_empty());
    }

    /// A new-style event names the missing reporter as the request's API does.
    #[test]
    fn reporting_fields_are_required_with_an_event_time() {
        let mut e = recorded();
        e["reportingComponent"] = json!("");
        e["action"] = json!("");
        let core = messages(&validate_event(&e, EventApi::CoreV1));
        assert_eq!(core[0], "reportingComponent: Required value");
        assert!(core.contains(&"action: Required value".to_string()), "{core:?}");
        let v1 = messages(&validate_event(&e, EventApi::EventsV1));
        assert_eq!(v1[0], "reportingController: Required value");
        assert!(validate_event(&recorded(), EventApi::EventsV1).is_empty());
    }

    #[test]
    fn the_new_api_refuses_legacy_fields_and_needs_a_time() {
        let mut e = recorded();
        e["eventTime"] = Value::Null;
        e["count"] = json!(3);
        e["source"] = json!({"component": "kubelet"});
        e["type"] = json!("Info");
        assert_eq!(
            messages(&validate_event(&e, EventApi::EventsV1)),
            [
                "eventTime: Required value",
                "type: Invalid value: \"\": has invalid value: Info",
                "count: Invalid value: \"\": needs to be unset",
                "source: Invalid value: \"\": needs to be unset",
            ]
        );
        assert!(validate_event(&e, EventApi::CoreV1).is_empty(), "core keeps accepting legacy events");
    }

    /// What kube-rs' Recorder does for a repeated event: only `series` changes.
    #[test]
    fn through_events_k8s_io_only_the_series_may_change() {
        let old = recorded();
        let mut new = old.clone();
        new["series"] = json!({"count": 2, "lastObservedTime": "2026-11-25T20:50:00.000001Z"});
        assert!(validate_event_update(&old, &new, EventApi::EventsV1).is_empty());
        new["series"]["count"] = json!(1);
        new["message"] = json!("changed");
        assert_eq!(
            messages(&validate_event_update(&old, &new, EventApi::EventsV1)),
            ["series.count: Invalid value: \"\": should be at least 2", "message: Invalid value: \"changed\": field is immutable"]
        );
        assert!(validate_event_update(&old, &new, EventApi::CoreV1).is_empty());
    }
}
