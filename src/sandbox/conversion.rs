//! Representations of one stored kind.
//!
//! kube-apiserver keeps some objects in one storage and serves them through more than one API
//! group: a core `v1` Event and an `events.k8s.io/v1` Event are the same object
//! (`/registry/events/<namespace>/<name>`), converted on the way in and on the way out. That is
//! why an event kube-rs' `Recorder` publishes (events.k8s.io) shows under `Events:` in
//! `kubectl describe pod` (core), and why the sandbox must not keep two stores either.
//!
//! The sandbox stores the core form, so whatever reads stored objects (field selectors, tables,
//! the corpus of core responses) sees what it always saw. A request through the other group has
//! its body converted after it is decoded ([`to_stored`]) and every object it gets back
//! converted before it is encoded ([`from_stored`]). Both directions produce the keys Go's
//! encoder writes for the target struct (a nested struct is always written, `omitempty`
//! strings and numbers vanish when zero, a zero time is `null`), so a converted object looks
//! exactly like one the apiserver would send.

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::resources::ResourceInfo;

/// How Go encodes a field whose value is its zero value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Zero {
    /// `omitempty` string, number or pointer: left out.
    Omit,
    /// A time (`metav1.Time`, `metav1.MicroTime`): `null`.
    Null,
    /// A nested struct: `{}` (`omitempty` does not apply to structs).
    Object,
    /// A string without `omitempty`: `""`.
    Empty,
}

/// One field of a representation: its name, the name of the same data in the other
/// representation, and how Go writes it when unset. Listed in the Go struct's order, which
/// is the order the apiserver's JSON has.
type FieldMap = &'static [(&'static str, &'static str, Zero)];

/// core/v1 `Event`, with the events.k8s.io/v1 field each one is converted from.
const CORE_EVENT: FieldMap = &[
    ("metadata", "metadata", Zero::Object),
    ("involvedObject", "regarding", Zero::Object),
    ("reason", "reason", Zero::Omit),
    ("message", "note", Zero::Omit),
    ("source", "deprecatedSource", Zero::Object),
    ("firstTimestamp", "deprecatedFirstTimestamp", Zero::Null),
    ("lastTimestamp", "deprecatedLastTimestamp", Zero::Null),
    ("count", "deprecatedCount", Zero::Omit),
    ("type", "type", Zero::Omit),
    ("eventTime", "eventTime", Zero::Null),
    ("series", "series", Zero::Omit),
    ("action", "action", Zero::Omit),
    ("related", "related", Zero::Omit),
    ("reportingComponent", "reportingController", Zero::Empty),
    ("reportingInstance", "reportingInstance", Zero::Empty),
];

/// events.k8s.io/v1 `Event`, with the core/v1 field each one is converted from.
const EVENTS_V1_EVENT: FieldMap = &[
    ("metadata", "metadata", Zero::Object),
    ("eventTime", "eventTime", Zero::Null),
    ("series", "series", Zero::Omit),
    ("reportingController", "reportingComponent", Zero::Omit),
    ("reportingInstance", "reportingInstance", Zero::Omit),
    ("action", "action", Zero::Omit),
    ("reason", "reason", Zero::Omit),
    ("regarding", "involvedObject", Zero::Object),
    ("related", "related", Zero::Omit),
    ("note", "message", Zero::Omit),
    ("type", "type", Zero::Omit),
    ("deprecatedSource", "source", Zero::Object),
    ("deprecatedFirstTimestamp", "firstTimestamp", Zero::Null),
    ("deprecatedLastTimestamp", "lastTimestamp", Zero::Null),
    ("deprecatedCount", "count", Zero::Omit),
];

/// A representation of a stored kind: its apiVersion and kind, and its fields.
struct Representation {
    api_version: &'static str,
    kind: &'static str,
    fields: FieldMap,
    /// Whether `series.count` is written when zero (events.k8s.io has no `omitempty` on it).
    series_count_always: bool,
}

const CORE_V1_EVENT: Representation = Representation { api_version: "v1", kind: "Event", fields: CORE_EVENT, series_count_always: false };
const EVENTS_V1: Representation =
    Representation { api_version: "events.k8s.io/v1", kind: "Event", fields: EVENTS_V1_EVENT, series_count_always: true };

/// The stored representation and the one `res` is served in, when they differ.
fn representations(res: &ResourceInfo) -> Option<(&'static Representation, &'static Representation)> {
    (res.group == "events.k8s.io" && res.plural == "events").then_some((&CORE_V1_EVENT, &EVENTS_V1))
}

/// True when `res` is served in another representation than the one it is stored in.
pub fn is_converted(res: &ResourceInfo) -> bool {
    representations(res).is_some()
}

/// The `(group, plural)` whose storage `res` shares: the stored kind's, or its own.
pub fn stored_as(res: &ResourceInfo) -> (&str, &str) {
    match representations(res) {
        Some(_) => ("", "events"),
        None => (&res.group, &res.plural),
    }
}

/// `res`'s object (as decoded from a request) in the stored representation.
pub fn to_stored(res: &ResourceInfo, obj: Value) -> Value {
    match representations(res) {
        Some((stored, served)) => convert(obj, served, stored),
        None => obj,
    }
}

/// A stored object in the representation `res` is served in.
pub fn from_stored(res: &ResourceInfo, obj: Value) -> Value {
    match representations(res) {
        Some((stored, served)) => convert(obj, stored, served),
        None => obj,
    }
}

/// Go's zero values: what `omitempty` leaves out (a nil pointer is `null` or absent here).
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

fn convert(obj: Value, from: &Representation, to: &Representation) -> Value {
    let Value::Object(mut src) = obj else { return obj };
    let mut out = Map::new();
    out.insert("apiVersion".into(), json!(to.api_version));
    out.insert("kind".into(), json!(to.kind));
    debug_assert!(from.fields.iter().all(|(name, _, _)| to.fields.iter().any(|(_, other, _)| other == name)));
    for (name, other, zero) in to.fields {
        let value = src.remove(*other).filter(|v| !is_zero(v));
        let value = match (value, *name) {
            (Some(series), "series") => Some(convert_series(series, to.series_count_always)),
            (v, _) => v,
        };
        match (value, zero) {
            (Some(v), _) => {
                out.insert(name.to_string(), v);
            }
            (None, Zero::Omit) => {}
            (None, Zero::Null) => {
                out.insert(name.to_string(), Value::Null);
            }
            (None, Zero::Object) => {
                out.insert(name.to_string(), json!({}));
            }
            (None, Zero::Empty) => {
                out.insert(name.to_string(), json!(""));
            }
        }
    }
    Value::Object(out)
}

/// `EventSeries` has the same two fields in both groups; only core's `count` is `omitempty`.
/// `lastObservedTime` is a time struct, so a zero one is `null` in both.
fn convert_series(series: Value, count_always: bool) -> Value {
    let count = series.get("count").filter(|c| !is_zero(c)).cloned();
    let mut out = Map::new();
    match count {
        Some(c) => {
            out.insert("count".into(), c);
        }
        None if count_always => {
            out.insert("count".into(), json!(0));
        }
        None => {}
    }
    out.insert("lastObservedTime".into(), series.get("lastObservedTime").cloned().unwrap_or(Value::Null));
    Value::Object(out)
}

/// A stored object's bytes in the representation `res` is served in.
pub fn served_bytes(res: &ResourceInfo, raw: &Bytes) -> Bytes {
    if !is_converted(res) {
        return raw.clone();
    }
    let v: Value = serde_json::from_slice(raw).expect("stored objects are valid JSON");
    Bytes::from(serde_json::to_vec(&from_stored(res, v)).expect("JSON values serialize"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::resources::builtins;

    fn events_v1() -> ResourceInfo {
        builtins().into_iter().find(|r| r.group == "events.k8s.io" && r.plural == "events").unwrap()
    }

    fn core_events() -> ResourceInfo {
        builtins().into_iter().find(|r| r.group.is_empty() && r.plural == "events").unwrap()
    }

    fn metadata() -> Value {
        json!({"name": "e1", "namespace": "ns", "resourceVersion": "435", "uid": "2e6e60e8-d2f6-47d4-ae02-f0d41ee0bd2b"})
    }

    /// p20 `event-create` as stored, read through events.k8s.io (`event-v1-new-api`): the
    /// deprecated fields carry the legacy data, empty reporting fields vanish, times stay null.
    #[test]
    fn a_legacy_core_event_read_through_events_k8s_io() {
        let stored = json!({
            "apiVersion": "v1", "kind": "Event", "metadata": metadata(),
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "ns"},
            "reason": "Tested", "message": "hello", "source": {"component": "kubelab"},
            "firstTimestamp": null, "lastTimestamp": null, "count": 1, "type": "Normal", "eventTime": null,
            "reportingComponent": "", "reportingInstance": ""
        });
        let served = from_stored(&events_v1(), stored);
        assert_eq!(
            served,
            json!({
                "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": metadata(),
                "eventTime": null, "reason": "Tested",
                "regarding": {"kind": "Pod", "name": "p", "namespace": "ns"},
                "note": "hello", "type": "Normal", "deprecatedSource": {"component": "kubelab"},
                "deprecatedFirstTimestamp": null, "deprecatedLastTimestamp": null, "deprecatedCount": 1
            })
        );
        let keys: Vec<&String> = served.as_object().unwrap().keys().collect();
        assert_eq!(keys[..4], ["apiVersion", "kind", "metadata", "eventTime"], "Go's field order");
    }

    /// What kube-rs' `Recorder` publishes, stored as core: the reporting fields move to their
    /// core names, the legacy structs appear empty, and the series keeps its shape.
    #[test]
    fn a_new_api_event_is_stored_as_core() {
        let published = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "web.1", "namespace": "ns"},
            "eventTime": "2026-11-25T20:49:56.123456Z", "series": {"count": 2, "lastObservedTime": "2026-11-25T20:50:00.000001Z"},
            "reportingController": "kubelab.dev/demo", "reportingInstance": "demo-1", "action": "Reconcile", "reason": "Synced",
            "regarding": {"apiVersion": "v1", "kind": "Pod", "name": "web", "namespace": "ns"},
            "related": {"kind": "Node", "name": "n1"}, "note": "all good", "type": "Normal"
        });
        let stored = to_stored(&events_v1(), published.clone());
        assert_eq!(
            stored,
            json!({
                "apiVersion": "v1", "kind": "Event", "metadata": {"name": "web.1", "namespace": "ns"},
                "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": "web", "namespace": "ns"},
                "reason": "Synced", "message": "all good", "source": {},
                "firstTimestamp": null, "lastTimestamp": null, "type": "Normal",
                "eventTime": "2026-11-25T20:49:56.123456Z",
                "series": {"count": 2, "lastObservedTime": "2026-11-25T20:50:00.000001Z"},
                "action": "Reconcile", "related": {"kind": "Node", "name": "n1"},
                "reportingComponent": "kubelab.dev/demo", "reportingInstance": "demo-1"
            })
        );
        let keys: Vec<&String> = stored.as_object().unwrap().keys().collect();
        assert_eq!(keys[keys.len() - 2..], ["reportingComponent", "reportingInstance"], "Go's field order");
        // and back: what the client sent, plus the structs Go always writes
        let mut expected = published;
        expected["deprecatedSource"] = json!({});
        expected["deprecatedFirstTimestamp"] = Value::Null;
        expected["deprecatedLastTimestamp"] = Value::Null;
        assert_eq!(from_stored(&events_v1(), stored), expected);
    }

    #[test]
    fn series_count_is_omitempty_only_in_core() {
        let core = to_stored(&events_v1(), json!({"series": {"count": 0, "lastObservedTime": null}}));
        assert_eq!(core["series"], json!({"lastObservedTime": null}));
        assert_eq!(from_stored(&events_v1(), core)["series"], json!({"count": 0, "lastObservedTime": null}));
    }

    #[test]
    fn other_resources_are_served_as_stored() {
        let obj = json!({"apiVersion": "v1", "kind": "Event", "message": "m"});
        assert!(!is_converted(&core_events()));
        assert_eq!(from_stored(&core_events(), obj.clone()), obj);
        assert_eq!(to_stored(&core_events(), obj.clone()), obj);
        assert_eq!(stored_as(&events_v1()), ("", "events"));
        assert_eq!(stored_as(&core_events()), ("", "events"));
    }
}
