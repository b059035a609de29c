//! kube-openapi's validation errors and how apiextensions turns them into field errors
//! (`kubeOpenAPIResultToFieldErrors`): the path drops its leading `.`, each error code
//! maps to one `field` error type, and the message keeps kube-openapi's own words
//! (`spec.pages in body should be greater than or equal to 1`).

use serde_json::Value;

use crate::sandbox::status::FieldError;

/// Every message of the CR validator says where the value came from: the request body.
const IN: &str = "body";

/// What Go prints for the nil `*field.Path` the CR validator starts from: errors about
/// the object as a whole (and not about one named field) carry it.
pub const NIL_PATH: &str = "<nil>";

/// The field path of an error named `name` (`.spec` at the root becomes `spec`).
fn field(name: &str) -> String {
    match name.strip_prefix('.').unwrap_or(name) {
        "" => NIL_PATH.to_string(),
        rest => rest.to_string(),
    }
}

/// Go's `%v` of a float64: shortest form, exponent form below 1e-4 and from 1e21 on.
pub fn go_float(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    let exp = f.abs().log10().floor() as i32;
    if !(-4..21).contains(&exp) {
        let s = format!("{f:e}");
        let (mantissa, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        let sign = if e < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", e.abs());
    }
    format!("{f}")
}

/// Go's `%v` of a JSON number as the unstructured decoder holds it (int64 or float64).
pub fn go_number(v: &Value) -> String {
    match v.as_i64() {
        Some(i) => i.to_string(),
        None => go_float(v.as_f64().unwrap_or_default()),
    }
}

/// `InvalidTypeCode` → `field.TypeInvalid`; the value is what kube-openapi saw (a type
/// name for a type mismatch, the string for a format mismatch).
pub fn invalid_type(name: &str, type_name: &str, value: &str) -> FieldError {
    FieldError::type_invalid(field(name), &Value::String(value.into()), format!("{name} in {IN} must be of type {type_name}: {value:?}"))
}

/// `RequiredFailCode` → `field.Required` without detail.
pub fn required(name: &str) -> FieldError {
    FieldError::required(field(name), "")
}

/// `EnumFailCode` → `field.NotSupported`: strings as they are, other values as JSON.
pub fn enum_fail(name: &str, value: &Value, allowed: &[Value]) -> FieldError {
    let values: Vec<String> = allowed.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect();
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    FieldError::not_supported(field(name), value, &refs)
}

/// `TooLongFailCode` → `field.TooLong`.
pub fn too_long(name: &str, max: usize) -> FieldError {
    FieldError::too_long(field(name), max)
}

/// `MaxItemsFailCode` and `TooManyPropertiesCode` → `field.TooMany`.
pub fn too_many(name: &str, actual: usize, max: usize) -> FieldError {
    FieldError::too_many(field(name), Some(actual), max)
}

/// Every other code → `field.Invalid` with the value (or `""`) and kube-openapi's message.
pub fn invalid(name: &str, value: Option<&Value>, message: String) -> FieldError {
    let empty = Value::String(String::new());
    FieldError::invalid(field(name), value.unwrap_or(&empty), message)
}

/// kube-openapi's message with the path and `in body` in front: `spec.x in body {rest}`.
pub fn in_body(name: &str, rest: &str) -> String {
    format!("{name} in {IN} {rest}")
}

/// An error that is not a `*errors.Validation` (composite schemas, range checks): no path
/// of its own, the value `""`.
pub fn plain(message: String) -> FieldError {
    FieldError::invalid(NIL_PATH, &Value::String(String::new()), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_go_prints_them() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1"),
            (2.5, "2.5"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (-3.25, "-3.25"),
        ];
        for (f, want) in cases {
            assert_eq!(go_float(*f), *want, "{f}");
        }
    }
}
