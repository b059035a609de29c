//! The internal Go `core.PodSpec` as `json.MarshalIndent(spec, "", " ")` prints it, built
//! from the v1 JSON the sandbox stores. kube-apiserver shows this text (diffed) when a pod
//! update is refused, so field names, order, nulls and value spellings must be Go's: the
//! layout comes from the generated [`super::go_types`] table.

use serde_json::Value;

use super::go_types::STRUCTS;
use super::quantity;

/// One field of an internal struct: its Go name (the JSON key Go prints; empty for an
/// embedded foreign struct whose fields Go inlines), the v1 JSON key it is read from, its
/// Go type, and whether its json tag says `omitempty` (only metav1 types have tags).
pub struct GoField {
    pub go: &'static str,
    pub json: &'static str,
    pub ty: &'static str,
    pub omitempty: bool,
}

/// A Go value as `encoding/json` sees it. Nil and empty slices and maps differ in print
/// (`null` vs `[]`) but not to `apiequality.Semantic.DeepEqual`.
#[derive(Clone, Debug, PartialEq)]
pub enum GoValue {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    /// A `resource.Quantity`: printed as its canonical text, equal to another of the same amount.
    Quantity(String),
    /// Already JSON (`metav1.FieldsV1`'s raw bytes), re-indented as Go does.
    Raw(Value),
    List(Vec<GoValue>),
    /// Keys sorted, as Go prints maps.
    Map(Vec<(String, GoValue)>),
    Struct(Vec<(&'static str, GoValue)>),
}

/// Where a v1 object comes from. A stored pod went through etcd's protobuf encoding, which
/// cannot tell an empty list or map from a missing one: both come back nil.
#[derive(Clone, Copy, PartialEq)]
pub enum Origin {
    Storage,
    Request,
}

fn fields(name: &str) -> &'static [GoField] {
    STRUCTS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f).unwrap_or_default()
}

/// The internal `core.PodSpec` of a v1 pod, as `Convert_v1_Pod_To_core_Pod` makes it.
pub fn internal_pod_spec(pod: &Value, origin: Origin) -> GoValue {
    let mut spec = pod.get("spec").cloned().unwrap_or_else(|| Value::Object(Default::default()));
    if let Some(s) = spec.as_object_mut() {
        // `serviceAccount` is the deprecated alias; the new field wins when both are set
        let deprecated = s.get("serviceAccount").cloned();
        if s.get("serviceAccountName").and_then(Value::as_str).unwrap_or_default().is_empty() {
            if let Some(v) = deprecated {
                s.insert("serviceAccountName".into(), v);
            }
        }
        // the host namespace fields live in the internal PodSecurityContext, which always exists
        let mut sc = match s.remove("securityContext") {
            Some(Value::Object(m)) => m,
            _ => Default::default(),
        };
        for key in ["hostNetwork", "hostPID", "hostIPC", "shareProcessNamespace", "hostUsers"] {
            match s.get(key) {
                Some(v) => sc.insert(key.into(), v.clone()),
                None => sc.remove(key),
            };
        }
        s.insert("securityContext".into(), Value::Object(sc));
        // a negative grace period means "now": the pod conversion makes it 1
        if s.get("terminationGracePeriodSeconds").and_then(Value::as_i64).is_some_and(|g| g < 0) {
            s.insert("terminationGracePeriodSeconds".into(), Value::from(1));
        }
    }
    convert(Some(&spec), "PodSpec", origin)
}

/// A v1 JSON value read into the Go type `ty`; absent values are Go's zero values.
fn convert(v: Option<&Value>, ty: &str, origin: Origin) -> GoValue {
    let v = v.filter(|v| !v.is_null());
    if let Some(elem) = ty.strip_prefix('*') {
        return v.map_or(GoValue::Null, |v| convert(Some(v), elem, origin));
    }
    if let Some(elem) = ty.strip_prefix("[]") {
        return match v.and_then(Value::as_array) {
            None => GoValue::Null,
            Some(a) if a.is_empty() && origin == Origin::Storage => GoValue::Null,
            Some(a) => GoValue::List(a.iter().map(|x| convert(Some(x), elem, origin)).collect()),
        };
    }
    if let Some(elem) = ty.strip_prefix("map[string]") {
        return match v.and_then(Value::as_object) {
            None => GoValue::Null,
            Some(m) if m.is_empty() && origin == Origin::Storage => GoValue::Null,
            Some(m) => {
                let mut entries: Vec<(String, GoValue)> = m.iter().map(|(k, x)| (k.clone(), convert(Some(x), elem, origin))).collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                GoValue::Map(entries)
            }
        };
    }
    match ty {
        "string" => GoValue::Str(match v {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        }),
        "bool" => GoValue::Bool(v.and_then(Value::as_bool).unwrap_or(false)),
        "int32" | "int64" => GoValue::Int(v.and_then(Value::as_i64).unwrap_or(0)),
        "Quantity" => quantity_value(v, quantity::canonical),
        // a named map type: its quantities are rounded up to milli-units by the v1 defaults
        "ResourceList" => match convert(v, "map[string]RawQuantity", origin) {
            GoValue::Map(entries) => {
                GoValue::Map(entries.into_iter().map(|(k, q)| (k, quantity_value(q.raw(), quantity::canonical_in_resource_list))).collect())
            }
            other => other,
        },
        "RawQuantity" => v.map_or(GoValue::Null, |v| GoValue::Raw(v.clone())),
        "IntOrString" => match v {
            Some(Value::String(s)) => GoValue::Str(s.clone()),
            Some(n) => GoValue::Int(n.as_i64().unwrap_or(0)),
            None => GoValue::Int(0),
        },
        // metav1.Time: RFC 3339 text, or null for the zero time
        "Time" => v.and_then(Value::as_str).map_or(GoValue::Null, |s| GoValue::Str(s.into())),
        "Raw" => v.map_or(GoValue::Null, |v| GoValue::Raw(v.clone())),
        name => {
            let mut out = Vec::new();
            for f in fields(name) {
                let value = convert(v.and_then(|v| v.get(f.json)), f.ty, origin);
                if f.go.is_empty() {
                    // an embedded struct without a tag: Go promotes its fields
                    if let GoValue::Struct(inner) = value {
                        out.extend(inner);
                    }
                } else if !(f.omitempty && omitted(&value, f.ty)) {
                    out.push((f.go, value));
                }
            }
            GoValue::Struct(out)
        }
    }
}

/// `resource.Quantity`'s `MarshalJSON`: canonical text, `"0"` for the zero value.
fn quantity_value(v: Option<&Value>, canonical: fn(&str) -> String) -> GoValue {
    GoValue::Quantity(match v {
        Some(Value::String(s)) => canonical(s),
        Some(Value::Number(n)) => canonical(&n.to_string()),
        _ => "0".into(),
    })
}

/// `omitempty`: false, 0, "", nil pointers and empty slices and maps; never a struct.
fn omitted(v: &GoValue, ty: &str) -> bool {
    match v {
        GoValue::Null => ty.starts_with(['*', '[']) || ty.starts_with("map["),
        GoValue::Bool(b) => !b,
        GoValue::Int(i) => *i == 0 && matches!(ty, "int32" | "int64"),
        GoValue::Str(s) => s.is_empty() && ty == "string",
        GoValue::List(l) => l.is_empty(),
        GoValue::Map(m) => m.is_empty(),
        GoValue::Quantity(_) | GoValue::Raw(_) | GoValue::Struct(_) => false,
    }
}

impl GoValue {
    fn raw(&self) -> Option<&Value> {
        match self {
            GoValue::Raw(v) => Some(v),
            _ => None,
        }
    }

    pub fn field(&self, name: &str) -> Option<&GoValue> {
        match self {
            GoValue::Struct(fs) => fs.iter().find(|(n, _)| *n == name).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn field_mut(&mut self, name: &str) -> Option<&mut GoValue> {
        match self {
            GoValue::Struct(fs) => fs.iter_mut().find(|(n, _)| *n == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Sets a field the struct has (every internal field is always present).
    pub fn set(&mut self, name: &str, value: GoValue) {
        if let Some(slot) = self.field_mut(name) {
            *slot = value;
        }
    }

    /// `apiequality.Semantic.DeepEqual`: nil and empty slices and maps are equal.
    pub fn semantic_eq(&self, other: &GoValue) -> bool {
        use GoValue::*;
        match (self, other) {
            (Null, List(l)) | (List(l), Null) => l.is_empty(),
            (Null, Map(m)) | (Map(m), Null) => m.is_empty(),
            (List(a), List(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.semantic_eq(y)),
            (Map(a), Map(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.0 == y.0 && x.1.semantic_eq(&y.1)),
            (Struct(a), Struct(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.0 == y.0 && x.1.semantic_eq(&y.1)),
            (Quantity(a), Quantity(b)) => quantity::same_value(a, b),
            (a, b) => a == b,
        }
    }

    /// `json.MarshalIndent(v, "", " ")`.
    pub fn marshal_indent(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        match self {
            GoValue::Null => out.push_str("null"),
            GoValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            GoValue::Int(i) => out.push_str(&i.to_string()),
            GoValue::Str(s) | GoValue::Quantity(s) => quote(s, out),
            GoValue::Raw(v) => write_raw(v, out, depth),
            GoValue::List(items) => write_seq(out, depth, '[', ']', items.iter().map(|v| (None, v))),
            GoValue::Map(entries) => write_seq(out, depth, '{', '}', entries.iter().map(|(k, v)| (Some(k.as_str()), v))),
            GoValue::Struct(fields) => write_seq(out, depth, '{', '}', fields.iter().map(|(k, v)| (Some(*k), v))),
        }
    }
}

/// An array or object the way `json.Indent` lays it out: empty ones stay `[]` / `{}`.
fn write_seq<'a>(
    out: &mut String,
    depth: usize,
    open: char,
    close: char,
    items: impl ExactSizeIterator<Item = (Option<&'a str>, &'a GoValue)>,
) {
    out.push(open);
    let n = items.len();
    for (i, (key, v)) in items.enumerate() {
        out.push('\n');
        out.push_str(&" ".repeat(depth + 1));
        if let Some(k) = key {
            quote(k, out);
            out.push_str(": ");
        }
        v.write(out, depth + 1);
        if i + 1 < n {
            out.push(',');
        }
    }
    if n > 0 {
        out.push('\n');
        out.push_str(&" ".repeat(depth));
    }
    out.push(close);
}

fn write_raw(v: &Value, out: &mut String, depth: usize) {
    match v {
        Value::String(s) => quote(s, out),
        Value::Array(a) => {
            let items: Vec<GoValue> = a.iter().map(|x| GoValue::Raw(x.clone())).collect();
            write_seq(out, depth, '[', ']', items.iter().map(|v| (None, v)));
        }
        Value::Object(m) => {
            let items: Vec<(String, GoValue)> = m.iter().map(|(k, x)| (k.clone(), GoValue::Raw(x.clone()))).collect();
            write_seq(out, depth, '{', '}', items.iter().map(|(k, v)| (Some(k.as_str()), v)));
        }
        other => out.push_str(&other.to_string()),
    }
}

/// A JSON string as Go's `encoding/json` writes it: HTML-safe (`<`, `>`, `&` escaped) and
/// with U+2028 / U+2029 escaped.
fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_escapes_strings_html_safe() {
        let cases = [("a<b>&c", r#""a\u003cb\u003e\u0026c""#), ("q\"\\\n\t\u{1}", r#""q\"\\\n\t\u0001""#), ("\u{2028}", r#""\u2028""#)];
        for (input, want) in cases {
            let mut out = String::new();
            quote(input, &mut out);
            assert_eq!(out, want, "{input:?}");
        }
    }

    #[test]
    fn layout_is_marshal_indent() {
        let v = GoValue::Struct(vec![
            ("A", GoValue::List(vec![])),
            ("B", GoValue::Null),
            ("C", GoValue::Map(vec![("k".into(), GoValue::Int(1))])),
            ("D", GoValue::Struct(vec![])),
        ]);
        assert_eq!(v.marshal_indent(), "{\n \"A\": [],\n \"B\": null,\n \"C\": {\n  \"k\": 1\n },\n \"D\": {}\n}");
    }

    /// Stored pods lose empty lists in etcd; request bodies keep them; both are equal.
    #[test]
    fn empty_lists_are_nil_from_storage() {
        let pod = json!({"spec": {"containers": [{"name": "a", "args": []}], "nodeSelector": {}}});
        let stored = internal_pod_spec(&pod, Origin::Storage);
        let sent = internal_pod_spec(&pod, Origin::Request);
        let args = |s: &GoValue| {
            s.field("Containers").cloned().map(|c| match c {
                GoValue::List(l) => l[0].field("Args").cloned(),
                _ => None,
            })
        };
        assert_eq!(args(&stored), Some(Some(GoValue::Null)));
        assert_eq!(args(&sent), Some(Some(GoValue::List(vec![]))));
        assert_eq!(stored.field("NodeSelector"), Some(&GoValue::Null));
        assert!(stored.semantic_eq(&sent));
        assert_ne!(stored, sent);
    }

    /// Conversion moves the host namespace flags and the deprecated service account.
    #[test]
    fn conversion_moves_v1_only_fields() {
        let pod = json!({"spec": {"hostNetwork": true, "serviceAccount": "old", "terminationGracePeriodSeconds": -5}});
        let spec = internal_pod_spec(&pod, Origin::Request);
        let sc = spec.field("SecurityContext").unwrap();
        assert_eq!(sc.field("HostNetwork"), Some(&GoValue::Bool(true)));
        assert_eq!(sc.field("ShareProcessNamespace"), Some(&GoValue::Null));
        assert_eq!(spec.field("ServiceAccountName"), Some(&GoValue::Str("old".into())));
        assert_eq!(spec.field("TerminationGracePeriodSeconds"), Some(&GoValue::Int(1)));
    }

    /// Quantities compare by amount, as `apiequality.Semantic` does.
    #[test]
    fn quantities_compare_by_amount() {
        let pod = |mem: &str| json!({"spec": {"containers": [{"resources": {"limits": {"memory": mem}}}]}});
        let stored = internal_pod_spec(&pod("1Ki"), Origin::Storage);
        assert!(stored.semantic_eq(&internal_pod_spec(&pod("1024"), Origin::Request)));
        assert!(!stored.semantic_eq(&internal_pod_spec(&pod("1k"), Origin::Request)));
    }

    /// Quantities print canonically; in resource lists rounded up to milli-units.
    #[test]
    fn quantities_are_canonical() {
        let pod = json!({"spec": {"containers": [{"resources": {"requests": {"memory": "2048Ki", "cpu": "0.1m"}}}],
            "volumes": [{"emptyDir": {"sizeLimit": "0.1m"}}]}});
        let text = internal_pod_spec(&pod, Origin::Request).marshal_indent();
        assert!(text.contains("\"Requests\": {\n     \"cpu\": \"1m\",\n     \"memory\": \"2Mi\"\n    },"), "{text}");
        assert!(text.contains("\"SizeLimit\": \"100u\""), "{text}");
    }

    /// `intstr.IntOrString` prints as the number or the string it holds.
    #[test]
    fn int_or_string_keeps_its_kind() {
        let probe = |port: Value| json!({"spec": {"containers": [{"livenessProbe": {"httpGet": {"port": port}}}]}});
        for (port, want) in [(json!(8080), "\"Port\": 8080,"), (json!("http"), "\"Port\": \"http\",")] {
            let text = internal_pod_spec(&probe(port), Origin::Request).marshal_indent();
            assert!(text.contains(want), "{text}");
        }
    }

    /// metav1 types keep their json tags: `omitempty` drops empty fields.
    #[test]
    fn label_selectors_use_json_tags() {
        let pod = json!({"spec": {"topologySpreadConstraints": [{"labelSelector": {"matchLabels": {"app": "x"}}, "maxSkew": 1}]}});
        let text = internal_pod_spec(&pod, Origin::Request).marshal_indent();
        assert!(text.contains("\"LabelSelector\": {\n    \"matchLabels\": {\n     \"app\": \"x\"\n    }\n   },"), "{text}");
    }
}
