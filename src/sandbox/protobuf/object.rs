//! A message's bytes into the JSON a Go client would have written for the same struct.
//!
//! Field by field, the table says what each number is called and holds: scalars become
//! JSON scalars, repeated fields arrays, maps objects, nested messages objects (or, for
//! the Kubernetes types with a JSON form of their own, what [`super::well_known`] makes of
//! them). Zeros of plain (non-pointer) scalars are dropped: Go's protobuf encoder writes
//! them, its JSON encoder does not, and the apiserver's Go struct cannot tell them from
//! absent. Nested structs are kept even when empty, as Go's JSON encoder keeps them
//! (`emptyDir: {}` *is* the volume's source).

use base64::Engine;
use serde_json::{Map, Number, Value};

use super::table::{self, Field, Kind};
use super::well_known;
use super::wire::{self, Fields, PackedKind, Raw, WireError};

/// Nesting deeper than this is refused: a hostile body must not exhaust the stack. It is
/// the depth serde_json allows a JSON body, so protobuf gets no more and no less room.
const MAX_DEPTH: usize = 128;

/// The JSON of the message `name` encoded in `bytes`.
pub fn message(name: &str, bytes: &[u8], depth: usize) -> Result<Value, WireError> {
    if depth > MAX_DEPTH {
        return Err(WireError(format!("exceeded max depth of {MAX_DEPTH}")));
    }
    if let Some(value) = well_known::decode(name, bytes, depth)? {
        return Ok(value);
    }
    let msg = table::message(name).ok_or_else(|| WireError(format!("no protobuf schema for {name}")))?;
    let mut out = Map::new();
    let mut fields = Fields::new(bytes);
    while let Some((tag, raw)) = fields.next_field()? {
        // An unknown field number comes from a newer client: skipped, as Go's reader does.
        let Some(field) = msg.field(tag) else { continue };
        if field.map {
            let (key, value) = map_entry(field, raw, depth)?;
            entry_object(&mut out, field.json).insert(key, value);
        } else if field.repeated {
            let values = repeated(field, raw, depth)?;
            entry_array(&mut out, field.json).extend(values);
        } else if let Kind::Inline(embedded) = field.kind {
            let Raw::Bytes(b) = raw else { return Err(wrong_wire_type(field, raw)) };
            if let Value::Object(inner) = message(embedded, b, depth + 1)? {
                out.extend(inner);
            }
        } else {
            let value = single(field, raw, depth)?;
            if is_zero(&value) && !field.keep_zero {
                out.remove(field.json);
            } else {
                out.insert(field.json.to_string(), value);
            }
        }
    }
    Ok(Value::Object(out))
}

/// A single (not repeated) value of `field`.
fn single(field: &Field, raw: Raw<'_>, depth: usize) -> Result<Value, WireError> {
    let wrong = || wrong_wire_type(field, raw);
    Ok(match (field.kind, raw) {
        (Kind::String, Raw::Bytes(b)) => Value::String(String::from_utf8_lossy(b).into_owned()),
        (Kind::Bytes, Raw::Bytes(b)) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        (Kind::Bool, Raw::Varint(v)) => Value::Bool(v != 0),
        // int32 travels as a sign-extended 64-bit varint: truncating restores it
        (Kind::Int32, Raw::Varint(v)) => Value::from(v as i32),
        (Kind::Int64, Raw::Varint(v)) => Value::from(v as i64),
        (Kind::Double, Raw::Fixed64(bits)) => {
            let f = f64::from_bits(bits);
            Value::Number(Number::from_f64(f).ok_or_else(|| WireError(format!("json: unsupported value: {f}")))?)
        }
        (Kind::Message(name) | Kind::Inline(name), Raw::Bytes(b)) => message(name, b, depth + 1)?,
        _ => return Err(wrong()),
    })
}

/// The elements one occurrence of a repeated field carries: one, or for a packed numeric
/// field (which Go's proto2 encoder never writes, but others may) several.
fn repeated(field: &Field, raw: Raw<'_>, depth: usize) -> Result<Vec<Value>, WireError> {
    let packing = match field.kind {
        Kind::Bool | Kind::Int32 | Kind::Int64 => Some(PackedKind::Varint),
        Kind::Double => Some(PackedKind::Fixed64),
        _ => None,
    };
    match (packing, raw) {
        (Some(kind), Raw::Bytes(b)) => wire::packed(b, kind)?.into_iter().map(|r| single(field, r, depth)).collect(),
        _ => Ok(vec![single(field, raw, depth)?]),
    }
}

/// A map entry: a message `{1: key, 2: value}`. Either may be absent and is then its zero.
fn map_entry(field: &Field, raw: Raw<'_>, depth: usize) -> Result<(String, Value), WireError> {
    let Raw::Bytes(b) = raw else { return Err(wrong_wire_type(field, raw)) };
    let mut key = String::new();
    let mut value = None;
    let mut entry = Fields::new(b);
    while let Some((tag, raw)) = entry.next_field()? {
        match (tag, raw) {
            (1, Raw::Bytes(k)) => key = String::from_utf8_lossy(k).into_owned(),
            (1, other) => return Err(wrong_wire_type(field, other)),
            (2, v) => value = Some(single(field, v, depth)?),
            _ => {}
        }
    }
    let value = match value {
        Some(v) => v,
        None => single(field, Raw::Bytes(&[]), depth)?,
    };
    Ok((key, value))
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

fn entry_object<'m>(out: &'m mut Map<String, Value>, key: &str) -> &'m mut Map<String, Value> {
    let slot = out.entry(key.to_string()).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().expect("an object")
}

fn entry_array<'m>(out: &'m mut Map<String, Value>, key: &str) -> &'m mut Vec<Value> {
    let slot = out.entry(key.to_string()).or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    slot.as_array_mut().expect("an array")
}

/// Go's words for a field whose wire type does not match its schema.
fn wrong_wire_type(field: &Field, raw: Raw<'_>) -> WireError {
    WireError(format!("proto: wrong wireType ({}) for field {}", raw.describe(), field.json))
}
