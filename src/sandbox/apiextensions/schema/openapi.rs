//! kube-openapi's `SchemaValidator` over a custom resource: for each value the type,
//! composition (`allOf`/`anyOf`/`oneOf`/`not`), string, format, number, array, enum and
//! object validators run in that order, each only where it applies to the value's JSON
//! kind — so a string in an integer field gets a type error but no range errors.

use serde_json::{Map, Value};

use super::formats;
use super::go_regex::{compiled, pattern_error};
use super::messages::{self, go_float, go_number, in_body};
use super::node::{Additional, Node};
use crate::sandbox::status::FieldError;

/// Validates `data` at `path` (`""` at the root, `spec.pages` below) against `s`.
pub fn validate(s: Node, path: &str, data: &Value, out: &mut Vec<FieldError>) {
    validate_ratcheting(s, path, data, None, out)
}

/// Validation ratcheting (CRDValidationRatcheting, on by default): `old` is the value
/// this one correlates with in the object being updated. A value equal to its old self
/// reports nothing — its errors become warnings upstream — so an object that was valid
/// under an older schema can still be updated elsewhere.
pub fn validate_ratcheting(s: Node, path: &str, data: &Value, old: Option<&Value>, out: &mut Vec<FieldError>) {
    if !s.0.is_object() || old.is_some_and(|o| o == data) {
        return;
    }
    let v = Validator::of(s, path, old);
    if data.is_null() {
        v.types(data, out);
        v.enumeration(data, out);
        return;
    }
    v.types(data, out);
    v.composition(data, out);
    match data {
        Value::String(st) => {
            v.string(st, out);
            v.format(st, out);
        }
        Value::Number(_) => v.number(data, out),
        Value::Array(items) => v.array(items, out),
        _ => {}
    }
    v.enumeration(data, out);
    if let Value::Object(map) = data {
        v.object(map, out);
    }
}

/// Whether `data` passes `s` (what the composition keywords ask of each alternative).
fn passes(s: Node, path: &str, data: &Value, old: Option<&Value>) -> (bool, Vec<FieldError>) {
    let mut errs = Vec::new();
    validate_ratcheting(s, path, data, old, &mut errs);
    (errs.is_empty(), errs)
}

struct Validator<'a> {
    s: Node<'a>,
    path: &'a str,
    /// `type` as kube-openapi sees it: `[integer, string]` for int-or-string.
    types: Vec<&'a str>,
    /// `format` after unsupported formats are stripped.
    format: &'a str,
    /// The correlated old value, on updates.
    old: Option<&'a Value>,
}

/// The JSON type and the strfmt format kube-openapi infers from a decoded value.
fn type_of(data: &Value) -> (&'static str, &'static str) {
    match data {
        Value::Null => ("null", ""),
        Value::Bool(_) => ("boolean", ""),
        Value::String(_) => ("string", ""),
        Value::Number(n) if n.is_i64() => ("integer", "int64"),
        Value::Number(_) => ("number", "float64"),
        Value::Array(_) => ("array", ""),
        Value::Object(_) => ("object", ""),
    }
}

fn is_json_integer(f: f64) -> bool {
    f.is_finite() && f.fract() == 0.0
}

/// `IsValueValidAgainstRange` for a schema without a numeric format: an integer schema
/// needs a value that parses as int64.
fn fits_type(value: &Value, ty: &str) -> bool {
    if ty != "integer" {
        return true;
    }
    if value.is_i64() {
        return true;
    }
    let rep = go_number(value);
    rep.parse::<i64>().is_ok()
}

impl<'a> Validator<'a> {
    fn of(s: Node<'a>, path: &'a str, old: Option<&'a Value>) -> Self {
        let types = if s.int_or_string() {
            vec!["integer", "string"]
        } else if s.ty().is_empty() {
            vec![]
        } else {
            vec![s.ty()]
        };
        let format = s.str("format").filter(|f| formats::is_supported(f)).unwrap_or_default();
        Self { s, path, types, format, old }
    }

    fn child(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    fn types(&self, data: &Value, out: &mut Vec<FieldError>) {
        if self.types.is_empty() && self.format.is_empty() {
            return;
        }
        let joined = self.types.join(",");
        if data.is_null() {
            if !self.types.is_empty() && !self.types.contains(&"null") && !self.s.nullable() {
                out.push(messages::invalid_type(self.path, &joined, "null"));
            }
            return;
        }
        let (sch_type, format) = type_of(data);
        let is_float_int = sch_type == "number" && data.as_f64().is_some_and(is_json_integer) && self.types.contains(&"integer");
        let is_int_float = sch_type == "integer" && self.types.contains(&"number");
        let stringish = data.is_string() || data.is_array();
        let type_or_format_matches = self.types.contains(&sch_type) || format == self.format || is_float_int || is_int_float;
        if !stringish && !self.format.is_empty() && !type_or_format_matches {
            out.push(messages::invalid_type(self.path, self.format, format));
            return;
        }
        let numeric = self.types.contains(&"number") || self.types.contains(&"integer");
        if !numeric && !self.format.is_empty() && stringish {
            return;
        }
        if !(self.types.contains(&sch_type) || is_float_int || is_int_float) {
            out.push(messages::invalid_type(self.path, &joined, sch_type));
        }
    }

    fn composition(&self, data: &Value, out: &mut Vec<FieldError>) {
        let any_of = self.s.list("anyOf");
        if !any_of.is_empty() {
            let results: Vec<(bool, Vec<FieldError>)> = any_of.iter().map(|alt| passes(Node(alt), self.path, data, self.old)).collect();
            match results.iter().find(|(ok, _)| *ok) {
                Some(_) => {}
                None => {
                    out.push(messages::plain(format!("{:?} must validate at least one schema (anyOf)", self.path)));
                    // kube-openapi keeps the failures of the best-matching alternative;
                    // the first one stands in for it.
                    if let Some((_, errs)) = results.into_iter().next() {
                        out.extend(errs);
                    }
                }
            }
        }
        let one_of = self.s.list("oneOf");
        if !one_of.is_empty() {
            let results: Vec<(bool, Vec<FieldError>)> = one_of.iter().map(|alt| passes(Node(alt), self.path, data, self.old)).collect();
            let valid = results.iter().filter(|(ok, _)| *ok).count();
            if valid != 1 {
                let more = if valid == 0 { "Found none valid".to_string() } else { format!("Found {valid} valid alternatives") };
                out.push(messages::plain(format!("{:?} must validate one and only one schema (oneOf). {more}", self.path)));
                if valid == 0 {
                    if let Some((_, errs)) = results.into_iter().next() {
                        out.extend(errs);
                    }
                }
            }
        }
        let all_of = self.s.list("allOf");
        if !all_of.is_empty() {
            let mut valid = 0;
            for alt in all_of {
                let (ok, errs) = passes(Node(alt), self.path, data, self.old);
                valid += usize::from(ok);
                out.extend(errs);
            }
            if valid != all_of.len() {
                let more = if valid == 0 { ". None validated" } else { "" };
                out.push(messages::plain(format!("{:?} must validate all the schemas (allOf){more}", self.path)));
            }
        }
        if let Some(not) = self.s.get("not") {
            if passes(Node(not), self.path, data, self.old).0 {
                out.push(messages::plain(format!("{:?} must not validate the schema (not)", self.path)));
            }
        }
    }

    /// maxLength, minLength, pattern: the first failure only.
    fn string(&self, st: &str, out: &mut Vec<FieldError>) {
        let value = Value::String(st.to_string());
        let len = st.chars().count();
        if let Some(max) = self.s.get("maxLength").and_then(Value::as_u64) {
            if len as u64 > max {
                out.push(messages::too_long(self.path, max as usize));
                return;
            }
        }
        if let Some(min) = self.s.get("minLength").and_then(Value::as_u64) {
            if (len as u64) < min {
                out.push(messages::invalid(self.path, Some(&value), in_body(self.path, &format!("should be at least {min} chars long"))));
                return;
            }
        }
        if let Some(pattern) = self.s.str("pattern").filter(|p| !p.is_empty()) {
            match compiled(pattern) {
                Ok(re) if re.is_match(st) => {}
                Ok(_) => out.push(messages::invalid(self.path, Some(&value), in_body(self.path, &format!("should match '{pattern}'")))),
                Err(_) => {
                    let e = pattern_error(pattern).unwrap_or_default();
                    out.push(messages::invalid(
                        self.path,
                        Some(&value),
                        in_body(self.path, &format!("should match '{pattern}, but pattern is invalid: {e}'")),
                    ))
                }
            }
        }
    }

    fn format(&self, st: &str, out: &mut Vec<FieldError>) {
        if !self.format.is_empty() && !formats::validates(self.format, st) {
            out.push(messages::invalid_type(self.path, self.format, st));
        }
    }

    fn number(&self, data: &Value, out: &mut Vec<FieldError>) {
        let ty = self.types.first().copied().unwrap_or_default();
        let range_error = |prefix: &str| messages::plain(format!("{prefix} value must be of type {ty} (default format) in {}", self.path));
        if !fits_type(data, ty) {
            out.push(range_error("Checked"));
        }
        let as_int = data.as_i64();
        let f = data.as_f64().unwrap_or_default();
        let bound = |key: &str| self.s.get(key).and_then(Value::as_f64);
        let mut multiple = Vec::new();
        if let Some(factor) = bound("multipleOf") {
            let native = fits_type(&serde_json::json!(factor), ty);
            if !native {
                multiple.push(range_error("MultipleOf"));
            }
            let positive_error = |shown: String| {
                messages::invalid(
                    self.path,
                    Some(&serde_json::json!(factor)),
                    format!("factor MultipleOf declared for {} must be positive: {shown}", self.path),
                )
            };
            match (as_int.filter(|_| native), factor) {
                (Some(_), fac) if fac as i64 <= 0 => multiple.push(positive_error((fac as i64).to_string())),
                (None, fac) if fac <= 0.0 => multiple.push(positive_error(go_float(fac))),
                (Some(i), fac) => {
                    let fac = fac as i64;
                    if i % fac != 0 {
                        multiple.push(messages::invalid(
                            self.path,
                            Some(data),
                            in_body(self.path, &format!("should be a multiple of {fac}")),
                        ));
                    }
                }
                (None, fac) => {
                    let mult = if fac < 1.0 { 1.0 / fac * f } else { f / fac };
                    if !is_json_integer(mult) {
                        multiple.push(messages::invalid(
                            self.path,
                            Some(data),
                            in_body(self.path, &format!("should be a multiple of {}", go_float(fac))),
                        ));
                    }
                }
            }
        }
        let mut minimum = Vec::new();
        if let Some(min) = bound("minimum") {
            let exclusive = self.s.flag("exclusiveMinimum");
            let native = fits_type(&serde_json::json!(min), ty);
            if !native {
                minimum.push(range_error("Minimum boundary"));
            }
            let (fails, shown) = match as_int.filter(|_| native) {
                Some(i) => {
                    let m = min as i64;
                    (if exclusive { i <= m } else { i < m }, m.to_string())
                }
                None => (if exclusive { f <= min } else { f < min }, go_float(min)),
            };
            if fails {
                let words = if exclusive { "should be greater than" } else { "should be greater than or equal to" };
                minimum.push(messages::invalid(self.path, Some(data), in_body(self.path, &format!("{words} {shown}"))));
            }
        }
        let mut maximum = Vec::new();
        if let Some(max) = bound("maximum") {
            let exclusive = self.s.flag("exclusiveMaximum");
            let native = fits_type(&serde_json::json!(max), ty);
            if !native {
                maximum.push(range_error("Maximum boundary"));
            }
            let (fails, shown) = match as_int.filter(|_| native) {
                Some(i) => {
                    let m = max as i64;
                    (if exclusive { i >= m } else { i > m }, m.to_string())
                }
                None => (if exclusive { f >= max } else { f > max }, go_float(max)),
            };
            if fails {
                let words = if exclusive { "should be less than" } else { "should be less than or equal to" };
                maximum.push(messages::invalid(self.path, Some(data), in_body(self.path, &format!("{words} {shown}"))));
            }
        }
        out.extend(multiple);
        out.extend(minimum);
        out.extend(maximum);
    }

    fn array(&self, items: &[Value], out: &mut Vec<FieldError>) {
        if let Some(item_schema) = self.s.items() {
            for (i, item) in items.iter().enumerate() {
                let old = self.old.and_then(|old| correlated_item(self.s, old, item));
                validate_ratcheting(item_schema, &format!("{}[{i}]", self.path), item, old, out);
            }
        }
        let size = items.len();
        if let Some(min) = self.s.get("minItems").and_then(Value::as_u64) {
            if (size as u64) < min {
                out.push(messages::invalid(
                    self.path,
                    Some(&size.into()),
                    in_body(self.path, &format!("should have at least {min} items")),
                ));
            }
        }
        if let Some(max) = self.s.get("maxItems").and_then(Value::as_u64) {
            if size as u64 > max {
                out.push(messages::too_many(self.path, size, max as usize));
            }
        }
        if self.s.flag("uniqueItems") {
            let duplicated = items.iter().enumerate().any(|(i, a)| items[..i].iter().any(|b| a == b));
            if duplicated {
                out.push(messages::invalid(self.path, None, in_body(self.path, "shouldn't contain duplicates")));
            }
        }
    }

    /// `enum`: a number matches a number of equal value (Go converts before comparing).
    fn enumeration(&self, data: &Value, out: &mut Vec<FieldError>) {
        let allowed = self.s.list("enum");
        if allowed.is_empty() {
            return;
        }
        let same = |e: &Value| match (e, data) {
            (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
            (a, b) => a == b,
        };
        if !allowed.iter().any(same) {
            out.push(messages::enum_fail(self.path, data, allowed));
        }
    }

    fn object(&self, map: &Map<String, Value>, out: &mut Vec<FieldError>) {
        let n = map.len();
        if let Some(min) = self.s.get("minProperties").and_then(Value::as_u64) {
            if (n as u64) < min {
                out.push(messages::invalid(
                    self.path,
                    Some(&n.into()),
                    in_body(self.path, &format!("should have at least {min} properties")),
                ));
            }
        }
        if let Some(max) = self.s.get("maxProperties").and_then(Value::as_u64) {
            if n as u64 > max {
                out.push(messages::too_many(self.path, n, max as usize));
            }
        }
        let props = self.s.properties();
        let known = |k: &str| props.is_some_and(|p| p.contains_key(k));
        match self.s.additional() {
            Additional::Bool(false) => {
                for k in map.keys().filter(|k| !known(k)) {
                    out.push(messages::invalid(
                        self.path,
                        Some(&Value::String(k.clone())),
                        format!("{}.{k} in body is a forbidden property", self.path),
                    ));
                }
            }
            Additional::Schema(extra) => {
                for (k, v) in map.iter().filter(|(k, _)| !known(k)) {
                    validate_ratcheting(extra, &self.child(k), v, self.old.and_then(|o| o.get(k)), out);
                }
            }
            _ => {}
        }
        if let Some(props) = props {
            for (name, schema) in props {
                if let Some(v) = map.get(name) {
                    let path = if self.path.is_empty() { name.clone() } else { self.child(name) };
                    // apiVersion and kind of the resource never ratchet.
                    let type_meta = self.path.is_empty() && (name == "apiVersion" || name == "kind");
                    let old = self.old.filter(|_| !type_meta).and_then(|o| o.get(name));
                    validate_ratcheting(Node(schema), &path, v, old, out);
                }
            }
        }
        for k in self.s.list("required").iter().filter_map(Value::as_str) {
            if !map.contains_key(k) {
                out.push(messages::required(&self.child(k)));
            }
        }
    }
}

/// The old item a new list item correlates with: only `x-kubernetes-list-type: map`
/// items do, by their keys (atomic lists and sets do not ratchet per item).
fn correlated_item<'v>(s: Node, old: &'v Value, item: &Value) -> Option<&'v Value> {
    if s.list_type() != Some("map") {
        return None;
    }
    let keys = s.list_map_keys();
    old.as_array()?.iter().find(|o| keys.iter().all(|k| o.get(*k) == item.get(*k)))
}
