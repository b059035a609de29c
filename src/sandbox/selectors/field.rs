//! Field selectors (`?fieldSelector=spec.nodeName=node-a,status.phase!=Running`).
//!
//! Unlike labels, fields are not arbitrary: each resource publishes a small, fixed set of
//! selectable fields (the kubelet watches `spec.nodeName=<me>`, kubectl finds events with
//! `involvedObject.name=<pod>`). Anything else is a 400 `field label not supported`, which is
//! why `field_set` and `supported_fields` live side by side here.

use serde_json::Value;

use crate::sandbox::registry::strategy::field_text;
use crate::sandbox::resources::ResourceInfo;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldOp {
    /// `=` or `==`
    Equals,
    /// `!=`
    NotEquals,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldRequirement {
    pub field: String,
    pub op: FieldOp,
    pub value: String,
}

/// A parsed field selector: every requirement must hold. Empty selects everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector {
    pub requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// Parses `metadata.name=x,status.phase!=Running`, refusing fields `res` cannot select on
    /// with `field label not supported: <field>`.
    pub fn parse(s: &str, res: &ResourceInfo) -> Result<Self, String> {
        let supported = supported_fields(res);
        let mut requirements = Vec::new();
        for term in split_unescaped(s, ',') {
            if term.is_empty() {
                continue;
            }
            let Some((field, op, raw_value)) = split_term(&term) else {
                return Err(format!("invalid selector: '{s}'; can't understand '{term}'"));
            };
            let value = unescape(raw_value).map_err(|e| format!("invalid field selector: {e}"))?;
            if !supported.contains(&field) {
                return Err(format!("field label not supported: {field}"));
            }
            requirements.push(FieldRequirement { field: stored_field_label(res, field).to_string(), op, value });
        }
        Ok(Self { requirements })
    }

    /// `metadata.name=<name>`: what a watch on a single object (`/pods?watch&fieldSelector=...`
    /// or `GET /pods/<name>?watch`) selects by.
    pub fn name_equals(name: &str) -> Self {
        Self { requirements: vec![FieldRequirement { field: "metadata.name".into(), op: FieldOp::Equals, value: name.into() }] }
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// `fields` is what [`field_set`] computed for the object. A field missing from the set
    /// has the value `""`, as the apiserver's `fields.Set` does.
    pub fn matches(&self, fields: &[(String, String)]) -> bool {
        self.requirements.iter().all(|r| {
            let have = fields.iter().find(|(f, _)| *f == r.field).map(|(_, v)| v.as_str()).unwrap_or("");
            match r.op {
                FieldOp::Equals => have == r.value,
                FieldOp::NotEquals => have != r.value,
            }
        })
    }

    /// The value a selector pins `field` to with `=`, if any (e.g. the name of a single-object
    /// watch, so the server can skip a scan).
    pub fn required_value(&self, field: &str) -> Option<&str> {
        self.requirements.iter().find(|r| r.field == field && r.op == FieldOp::Equals).map(|r| r.value.as_str())
    }
}

/// Splits on `sep` where it is not escaped with a backslash; escapes are kept for `unescape`.
fn split_unescaped(s: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            out.last_mut().unwrap().push(c);
            escaped = false;
        } else if c == '\\' {
            out.last_mut().unwrap().push(c);
            escaped = true;
        } else if c == sep {
            out.push(String::new());
        } else {
            out.last_mut().unwrap().push(c);
        }
    }
    out
}

/// `field<op>value` at the first unescaped operator; `!=` and `==` win over `=`.
fn split_term(term: &str) -> Option<(&str, FieldOp, &str)> {
    let bytes = term.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                i += 2;
                continue;
            }
            b'!' if bytes.get(i + 1) == Some(&b'=') => return Some((&term[..i], FieldOp::NotEquals, &term[i + 2..])),
            b'=' if bytes.get(i + 1) == Some(&b'=') => return Some((&term[..i], FieldOp::Equals, &term[i + 2..])),
            b'=' => return Some((&term[..i], FieldOp::Equals, &term[i + 1..])),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Undoes `\\`, `\,` and `\=`, the only escapes a field selector value may use, as
/// `fields.UnescapeValue`: an unescaped `,` or `=` in a value is an error (Go prints the
/// rune as its number).
fn unescape(v: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('\\' | ',' | '=')) => out.push(e),
                Some(e) => return Err(format!("invalid escape sequence: \\{e}")),
                None => return Err("invalid escape sequence: \\".into()),
            },
            ',' | '=' => return Err(format!("unescaped character in value: {}", c as u32)),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// events.k8s.io/v1 Events select by that API's field names, paired with the core names of
/// the same data: the objects are stored as core events (see [`crate::sandbox::conversion`]),
/// so a label is converted before matching, as the apiserver's field label conversion does.
/// The core spellings (`involvedObject.name`) are not accepted through events.k8s.io.
const EVENTS_V1_FIELDS: &[(&str, &str)] = &[
    ("regarding.kind", "involvedObject.kind"),
    ("regarding.namespace", "involvedObject.namespace"),
    ("regarding.name", "involvedObject.name"),
    ("regarding.uid", "involvedObject.uid"),
    ("regarding.apiVersion", "involvedObject.apiVersion"),
    ("regarding.resourceVersion", "involvedObject.resourceVersion"),
    ("regarding.fieldPath", "involvedObject.fieldPath"),
    ("reason", "reason"),
    ("reportingController", "reportingComponent"),
    ("source", "source"),
    ("type", "type"),
];

fn is_events_v1(res: &ResourceInfo) -> bool {
    res.group == "events.k8s.io" && res.plural == "events"
}

/// The name a selectable field has in the stored object's field set.
fn stored_field_label<'a>(res: &ResourceInfo, field: &'a str) -> &'a str {
    if !is_events_v1(res) {
        return field;
    }
    EVENTS_V1_FIELDS.iter().find(|(served, _)| *served == field).map(|(_, stored)| *stored).unwrap_or(field)
}

/// The fields `res` can be selected by: `metadata.name`, `metadata.namespace` and the kind's own.
pub fn supported_fields(res: &ResourceInfo) -> Vec<&'static str> {
    if is_events_v1(res) {
        let mut out = vec!["metadata.name", "metadata.namespace"];
        out.extend(EVENTS_V1_FIELDS.iter().map(|(served, _)| *served));
        return out;
    }
    let mut out = vec!["metadata.name", "metadata.namespace"];
    out.extend(res.strategy.selectable_fields(&Value::Null).into_iter().map(|(field, _)| field));
    out
}

/// The selectable fields of an object and their values (always `metadata.name` and
/// `metadata.namespace`, plus the kind's own, e.g. `spec.nodeName`, `status.phase` for pods).
pub fn field_set(res: &ResourceInfo, obj: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = vec![
        ("metadata.name".into(), field_text(obj, "/metadata/name")),
        ("metadata.namespace".into(), field_text(obj, "/metadata/namespace")),
    ];
    out.extend(res.strategy.selectable_fields(obj).into_iter().map(|(field, value)| (field.to_string(), value)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::resources::builtins;
    use serde_json::json;

    fn res(group: &str, plural: &str) -> ResourceInfo {
        builtins().into_iter().find(|r| r.group == group && r.plural == plural).unwrap()
    }

    fn p12_pods() -> Vec<Value> {
        vec![
            json!({"metadata": {"name": "s1", "namespace": "ns"}, "spec": {}, "status": {"phase": "Pending"}}),
            json!({"metadata": {"name": "s2", "namespace": "ns"}, "spec": {}, "status": {"phase": "Pending"}}),
            json!({"metadata": {"name": "s3", "namespace": "ns"}, "spec": {"nodeName": "node-a"}, "status": {"phase": "Pending"}}),
        ]
    }

    fn selected(selector: &str) -> Vec<String> {
        let pods = res("", "pods");
        let s = FieldSelector::parse(selector, &pods).unwrap();
        p12_pods().iter().filter(|p| s.matches(&field_set(&pods, p))).map(|p| p["metadata"]["name"].as_str().unwrap().to_string()).collect()
    }

    #[test]
    fn p12_field_selectors() {
        assert_eq!(selected("metadata.name=s2"), ["s2"]);
        assert_eq!(selected("spec.nodeName=node-a"), ["s3"]);
        assert_eq!(selected("spec.nodeName="), ["s1", "s2"]);
        assert_eq!(selected("status.phase=Pending"), ["s1", "s2", "s3"]);
        assert!(selected("status.phase!=Pending").is_empty());
        assert_eq!(selected("metadata.name!=s1"), ["s2", "s3"]);
        assert_eq!(selected("metadata.name==s1"), ["s1"]);
    }

    #[test]
    fn p10_unsupported_field() {
        let e = FieldSelector::parse("spec.containers.image=nginx", &res("", "pods")).unwrap_err();
        assert_eq!(e, "field label not supported: spec.containers.image");
        assert!(FieldSelector::parse("type=Opaque", &res("", "configmaps")).is_err());
        assert!(FieldSelector::parse("type=Opaque", &res("", "secrets")).is_ok());
    }

    #[test]
    fn p20_event_selector() {
        let events = res("", "events");
        let s = FieldSelector::parse("involvedObject.name=p,reason=Tested", &events).unwrap();
        let e = json!({"involvedObject": {"kind": "Pod", "name": "p", "namespace": "ns"}, "metadata": {"name": "e1"}, "reason": "Tested", "source": {"component": "kubelab"}, "type": "Normal"});
        assert!(s.matches(&field_set(&events, &e)));
        assert!(FieldSelector::parse("source=kubelab", &events).unwrap().matches(&field_set(&events, &e)));
    }

    /// events.k8s.io selects by its own names, matched against the stored core fields.
    #[test]
    fn events_v1_selectors_use_that_api_names() {
        let events = res("events.k8s.io", "events");
        let stored = json!({"involvedObject": {"kind": "Pod", "name": "web", "namespace": "ns"}, "metadata": {"name": "e1", "namespace": "ns"},
            "reason": "Synced", "reportingComponent": "kubelab.dev/demo", "source": {}, "type": "Normal"});
        let fields = field_set(&events, &stored);
        let s = FieldSelector::parse("regarding.name=web,reportingController=kubelab.dev/demo,type=Normal", &events).unwrap();
        assert_eq!(s.requirements[0].field, "involvedObject.name");
        assert!(s.matches(&fields));
        assert!(!FieldSelector::parse("regarding.kind=Node", &events).unwrap().matches(&fields));
        assert_eq!(FieldSelector::parse("involvedObject.name=web", &events).unwrap_err(), "field label not supported: involvedObject.name");
        assert!(FieldSelector::parse("regarding.name=web", &res("", "events")).is_err());
    }

    #[test]
    fn syntax() {
        let pods = res("", "pods");
        assert_eq!(
            FieldSelector::parse("metadata.name", &pods).unwrap_err(),
            "invalid selector: 'metadata.name'; can't understand 'metadata.name'"
        );
        let s = FieldSelector::parse(r"metadata.name=a\,b", &pods).unwrap();
        assert_eq!(s.requirements[0].value, "a,b");
        assert!(FieldSelector::parse("", &pods).unwrap().is_empty());
        assert_eq!(FieldSelector::name_equals("x").required_value("metadata.name"), Some("x"));
        let node = json!({"metadata": {"name": "n"}, "spec": {"unschedulable": true}});
        assert!(FieldSelector::parse("spec.unschedulable=true", &res("", "nodes")).unwrap().matches(&field_set(&res("", "nodes"), &node)));
    }
}
