//! The Kubernetes types whose JSON is not an object of their protobuf fields.
//!
//! These Go types have their own `MarshalJSON`: a `Quantity` is the string `"100m"`, an
//! `IntOrString` a number or a string, a `Time` an RFC 3339 string, a `RawExtension` the
//! embedded JSON itself. On the wire each is an ordinary little message, so the generic
//! reader would make `{"string": "100m"}` of a quantity; this module makes what the JSON
//! client would have sent instead.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::object;
use super::wire::{Fields, Raw, WireError};

const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const TIME: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Time";
const MICRO_TIME: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime";
const DURATION: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Duration";
const RAW_EXTENSION: &str = "io.k8s.apimachinery.pkg.runtime.RawExtension";
const FIELDS_V1: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1";
const APIEXTENSIONS: &str = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.";

/// The JSON of `name` if it is one of these types, `None` for an ordinary message.
pub fn decode(name: &str, bytes: &[u8], depth: usize) -> Result<Option<Value>, WireError> {
    let value = match name {
        QUANTITY => quantity(bytes)?,
        INT_OR_STRING => int_or_string(bytes)?,
        TIME => time(bytes, SecondsFormat::Secs)?,
        MICRO_TIME => time(bytes, SecondsFormat::Micros)?,
        DURATION => duration(bytes)?,
        RAW_EXTENSION | FIELDS_V1 => embedded_json(bytes, depth)?,
        _ => match name.strip_prefix(APIEXTENSIONS).and_then(|rest| rest.split_once('.')) {
            Some((_, "JSON" | "Json")) => embedded_json(bytes, depth)?,
            Some((version, "JSONSchemaPropsOrArray" | "JsonSchemaPropsOrArray")) => schema_or_array(bytes, version, depth)?,
            Some((version, "JSONSchemaPropsOrBool" | "JsonSchemaPropsOrBool")) => schema_or_bool(bytes, version, depth)?,
            Some((version, "JSONSchemaPropsOrStringArray" | "JsonSchemaPropsOrStringArray")) => schema_or_strings(bytes, version, depth)?,
            _ => return Ok(None),
        },
    };
    Ok(Some(value))
}

/// Reads every field of a small message, handing each to `f`.
fn each<'a>(bytes: &'a [u8], mut f: impl FnMut(u32, Raw<'a>) -> Result<(), WireError>) -> Result<(), WireError> {
    let mut fields = Fields::new(bytes);
    while let Some((tag, raw)) = fields.next_field()? {
        f(tag, raw)?;
    }
    Ok(())
}

fn text(raw: Raw<'_>, what: &str) -> Result<String, WireError> {
    match raw {
        Raw::Bytes(b) => Ok(String::from_utf8_lossy(b).into_owned()),
        other => Err(WireError(format!("proto: wrong wireType ({}) for field {what}", other.describe()))),
    }
}

fn number(raw: Raw<'_>, what: &str) -> Result<u64, WireError> {
    match raw {
        Raw::Varint(v) => Ok(v),
        other => Err(WireError(format!("proto: wrong wireType ({}) for field {what}", other.describe()))),
    }
}

fn bytes_of<'a>(raw: Raw<'a>, what: &str) -> Result<&'a [u8], WireError> {
    match raw {
        Raw::Bytes(b) => Ok(b),
        other => Err(WireError(format!("proto: wrong wireType ({}) for field {what}", other.describe()))),
    }
}

/// `{1: string}`: the quantity's canonical text. An empty one is Go's zero `Quantity`,
/// which marshals as `"0"`.
fn quantity(bytes: &[u8]) -> Result<Value, WireError> {
    let mut s = String::new();
    each(bytes, |tag, raw| {
        if tag == 1 {
            s = text(raw, "string")?;
        }
        Ok(())
    })?;
    Ok(Value::String(if s.is_empty() { "0".into() } else { s }))
}

/// `{1: type, 2: intVal, 3: strVal}`: type 1 is a string, anything else a number.
fn int_or_string(bytes: &[u8]) -> Result<Value, WireError> {
    let (mut kind, mut int, mut string) = (0u64, 0i32, String::new());
    each(bytes, |tag, raw| {
        match tag {
            1 => kind = number(raw, "type")?,
            2 => int = number(raw, "intVal")? as i32,
            3 => string = text(raw, "strVal")?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(if kind == 1 { Value::String(string) } else { Value::from(int) })
}

/// `{1: seconds, 2: nanos}` since the Unix epoch, as Go's `metav1.Time` writes it: an
/// empty message is the zero time, which is JSON `null`; otherwise RFC 3339 in UTC, to
/// the second for `Time`, to the microsecond for `MicroTime`.
fn time(bytes: &[u8], precision: SecondsFormat) -> Result<Value, WireError> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    let (mut seconds, mut nanos) = (0i64, 0i32);
    each(bytes, |tag, raw| {
        match tag {
            1 => seconds = number(raw, "seconds")? as i64,
            2 => nanos = number(raw, "nanos")? as i32,
            _ => {}
        }
        Ok(())
    })?;
    let t = u32::try_from(nanos)
        .ok()
        .and_then(|n| DateTime::<Utc>::from_timestamp(seconds, n))
        .ok_or_else(|| WireError(format!("time out of range: {seconds}s {nanos}ns")))?;
    Ok(Value::String(t.to_rfc3339_opts(precision, true)))
}

/// `{1: nanoseconds}`, written as Go's `time.Duration.String()`: `1h2m3.5s`, `150ms`.
fn duration(bytes: &[u8]) -> Result<Value, WireError> {
    let mut nanos = 0i64;
    each(bytes, |tag, raw| {
        if tag == 1 {
            nanos = number(raw, "duration")? as i64;
        }
        Ok(())
    })?;
    Ok(Value::String(go_duration(nanos)))
}

/// Go's `time.Duration.String()`.
pub fn go_duration(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    if u == 0 {
        return "0s".into();
    }
    if u < 1_000_000_000 {
        let (unit, scale, digits) = match u {
            0..=999 => ("ns", 1, 0),
            1_000..=999_999 => ("µs", 1_000, 3),
            _ => ("ms", 1_000_000, 6),
        };
        return format!("{sign}{}{unit}", with_fraction(u / scale, u % scale, digits));
    }
    let seconds = u / 1_000_000_000;
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let mut out = sign.to_string();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&with_fraction(s, u % 1_000_000_000, 9));
    out.push('s');
    out
}

/// `whole.fraction` with the fraction's trailing zeros (and a bare point) left out.
fn with_fraction(whole: u64, fraction: u64, digits: usize) -> String {
    if fraction == 0 {
        return whole.to_string();
    }
    let f = format!("{fraction:0digits$}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

/// `{1: raw}`: JSON the client embedded as bytes (`RawExtension`, `FieldsV1`,
/// apiextensions' `JSON`). A nested protobuf object (`k8s\0...`) is decoded in turn.
fn embedded_json(bytes: &[u8], depth: usize) -> Result<Value, WireError> {
    let mut raw: &[u8] = &[];
    each(bytes, |tag, r| {
        if tag == 1 {
            raw = bytes_of(r, "raw")?;
        }
        Ok(())
    })?;
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    if raw.starts_with(super::MAGIC) {
        return super::unknown(&raw[super::MAGIC.len()..], depth + 1);
    }
    serde_json::from_slice(raw).map_err(|e| WireError(format!("embedded JSON: {e}")))
}

fn schema_name(version: &str) -> String {
    let props = if version == "v1" { "JSONSchemaProps" } else { "JsonSchemaProps" };
    format!("{APIEXTENSIONS}{version}.{props}")
}

/// `{1: schema, 2: repeated schemas}`: the array when it has items, else the schema.
fn schema_or_array(bytes: &[u8], version: &str, depth: usize) -> Result<Value, WireError> {
    let name = schema_name(version);
    let (mut schema, mut list) = (Value::Null, Vec::new());
    each(bytes, |tag, raw| {
        match tag {
            1 => schema = object::message(&name, bytes_of(raw, "schema")?, depth + 1)?,
            2 => list.push(object::message(&name, bytes_of(raw, "jsonSchemas")?, depth + 1)?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(if list.is_empty() { schema } else { Value::Array(list) })
}

/// `{1: allows, 2: schema}`: the schema when there is one, else the boolean.
fn schema_or_bool(bytes: &[u8], version: &str, depth: usize) -> Result<Value, WireError> {
    let name = schema_name(version);
    let (mut allows, mut schema) = (false, None);
    each(bytes, |tag, raw| {
        match tag {
            1 => allows = number(raw, "allows")? != 0,
            2 => schema = Some(object::message(&name, bytes_of(raw, "schema")?, depth + 1)?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(schema.unwrap_or(json!(allows)))
}

/// `{1: schema, 2: repeated property}`: the strings when there are some, else the schema.
fn schema_or_strings(bytes: &[u8], version: &str, depth: usize) -> Result<Value, WireError> {
    let name = schema_name(version);
    let (mut schema, mut strings) = (Value::Null, Vec::new());
    each(bytes, |tag, raw| {
        match tag {
            1 => schema = object::message(&name, bytes_of(raw, "schema")?, depth + 1)?,
            2 => strings.push(Value::String(text(raw, "property")?)),
            _ => {}
        }
        Ok(())
    })?;
    Ok(if strings.is_empty() { schema } else { Value::Array(strings) })
}

#[cfg(test)]
mod tests {
    use super::super::wire::encode_varint as varint;
    use super::*;

    #[test]
    fn durations_read_as_go_writes_them() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (150_000_000, "150ms"),
            (1_000_000_000, "1s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (3_723_500_000_000, "1h2m3.5s"),
            (-2_000_000_000, "-2s"),
        ];
        for (nanos, text) in cases {
            assert_eq!(go_duration(nanos), text, "{nanos}");
        }
    }

    #[test]
    fn times_are_rfc3339_and_the_zero_time_is_null() {
        assert_eq!(time(&[], SecondsFormat::Secs).unwrap(), Value::Null);
        // seconds 1700000000, nanos 5000
        let mut bytes = vec![0x08];
        bytes.extend(varint(1_700_000_000));
        bytes.push(0x10);
        bytes.extend(varint(5_000));
        assert_eq!(time(&bytes, SecondsFormat::Secs).unwrap(), json!("2023-11-14T22:13:20Z"));
        assert_eq!(time(&bytes, SecondsFormat::Micros).unwrap(), json!("2023-11-14T22:13:20.000005Z"));
    }

    #[test]
    fn int_or_string_follows_its_type() {
        // type 0, intVal 8080, strVal ""
        assert_eq!(int_or_string(&[0x08, 0, 0x10, 0x90, 0x3f, 0x1a, 0]).unwrap(), json!(8080));
        // type 1, intVal 0, strVal "http"
        assert_eq!(int_or_string(&[0x08, 1, 0x10, 0, 0x1a, 4, b'h', b't', b't', b'p']).unwrap(), json!("http"));
    }

    #[test]
    fn quantities_are_their_text() {
        assert_eq!(quantity(&[0x0a, 4, b'1', b'0', b'0', b'm']).unwrap(), json!("100m"));
        assert_eq!(quantity(&[]).unwrap(), json!("0"));
    }
}
