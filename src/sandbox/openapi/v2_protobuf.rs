//! `/openapi/v2` in protobuf: the Swagger document as gnostic's `openapi.v2.Document`.
//!
//! kubectl asks for the v2 document only in this form
//! (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`), for client-side
//! validation of kinds it does not find in OpenAPI v3. kube-openapi answers it by parsing
//! its JSON with gnostic and marshalling the message (`handler.ToProtoBinary`); this is the
//! same walk over the same JSON. Every value gnostic keeps as `Any` (vendor extensions,
//! `default`, `enum`, `example`) travels as its YAML text, which kubectl parses back; JSON
//! is YAML, so the JSON text is sent. The field numbers are `OpenAPIv2.proto`'s.

use serde_json::{Map, Value};

/// One protobuf message being written: fields in the order they are added, proto3
/// defaults (empty, zero, false) left out as Go's `proto.Marshal` leaves them out.
#[derive(Default)]
struct Message(Vec<u8>);

impl Message {
    fn key(&mut self, tag: u32, wire: u8) {
        self.varint(u64::from(tag) << 3 | u64::from(wire));
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn bytes(&mut self, tag: u32, b: &[u8]) {
        self.key(tag, 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }

    fn string(&mut self, tag: u32, v: Option<&Value>) {
        if let Some(s) = v.and_then(Value::as_str).filter(|s| !s.is_empty()) {
            self.bytes(tag, s.as_bytes());
        }
    }

    fn strings(&mut self, tag: u32, v: Option<&Value>) {
        for s in v.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            self.bytes(tag, s.as_bytes());
        }
    }

    fn boolean(&mut self, tag: u32, v: Option<&Value>) {
        if v.and_then(Value::as_bool) == Some(true) {
            self.key(tag, 0);
            self.varint(1);
        }
    }

    fn int64(&mut self, tag: u32, v: Option<&Value>) {
        if let Some(n) = v.and_then(Value::as_i64).filter(|n| *n != 0) {
            self.key(tag, 0);
            self.varint(n as u64);
        }
    }

    fn double(&mut self, tag: u32, v: Option<&Value>) {
        if let Some(n) = v.and_then(Value::as_f64).filter(|n| *n != 0.0) {
            self.key(tag, 1);
            self.0.extend_from_slice(&n.to_le_bytes());
        }
    }

    fn message(&mut self, tag: u32, m: Message) {
        self.bytes(tag, &m.0);
    }

    /// A message field written only when `v` is there.
    fn optional(&mut self, tag: u32, v: Option<&Value>, build: impl Fn(&Value) -> Message) {
        if let Some(v) = v {
            self.message(tag, build(v));
        }
    }

    /// gnostic's `Any`: the value's YAML text (field 2).
    fn any(&mut self, tag: u32, v: Option<&Value>) {
        if let Some(v) = v {
            self.message(tag, any(v));
        }
    }

    /// `repeated NamedAny vendor_extension`: every `x-` key of `obj`, in order.
    fn extensions(&mut self, tag: u32, obj: &Value) {
        for (k, v) in entries(obj).filter(|(k, _)| k.starts_with("x-")) {
            let mut named = Message::default();
            named.bytes(1, k.as_bytes());
            named.message(2, any(v));
            self.message(tag, named);
        }
    }

    /// `repeated Named<T>`: a map of `obj` as name/value pairs.
    fn named(&mut self, tag: u32, obj: Option<&Value>, value: impl Fn(&Value) -> Message) {
        for (k, v) in obj.map(entries).into_iter().flatten() {
            let mut named = Message::default();
            named.bytes(1, k.as_bytes());
            named.message(2, value(v));
            self.message(tag, named);
        }
    }
}

fn entries(v: &Value) -> impl Iterator<Item = (&String, &Value)> {
    v.as_object().map(Map::iter).into_iter().flatten()
}

fn any(v: &Value) -> Message {
    let mut m = Message::default();
    m.bytes(2, format!("{v}\n").as_bytes());
    m
}

/// The protobuf body of the Swagger 2.0 document `doc`.
pub fn document(doc: &Value) -> Vec<u8> {
    let mut m = Message::default();
    m.string(1, doc.get("swagger"));
    m.optional(2, doc.get("info"), info);
    m.string(3, doc.get("host"));
    m.string(4, doc.get("basePath"));
    m.strings(5, doc.get("schemes"));
    m.strings(6, doc.get("consumes"));
    m.strings(7, doc.get("produces"));
    m.optional(8, doc.get("paths"), paths);
    m.optional(9, doc.get("definitions"), |d| wrap_named(d, schema));
    m.optional(10, doc.get("parameters"), |d| wrap_named(d, parameter));
    m.optional(11, doc.get("responses"), |d| wrap_named(d, response));
    for s in doc.get("security").and_then(Value::as_array).into_iter().flatten() {
        m.message(12, security_requirement(s));
    }
    m.optional(13, doc.get("securityDefinitions"), |d| wrap_named(d, security_definition));
    for t in doc.get("tags").and_then(Value::as_array).into_iter().flatten() {
        m.message(14, tag(t));
    }
    m.optional(15, doc.get("externalDocs"), external_docs);
    m.extensions(16, doc);
    m.0
}

/// A `{ repeated Named<T> additional_properties = 1; }` message.
fn wrap_named(obj: &Value, value: impl Fn(&Value) -> Message) -> Message {
    let mut m = Message::default();
    m.named(1, Some(obj), value);
    m
}

fn info(v: &Value) -> Message {
    let mut m = Message::default();
    for (tag, key) in [(1, "title"), (2, "version"), (3, "description"), (4, "termsOfService")] {
        m.string(tag, v.get(key));
    }
    m.optional(5, v.get("contact"), |c| {
        let mut m = Message::default();
        for (tag, key) in [(1, "name"), (2, "url"), (3, "email")] {
            m.string(tag, c.get(key));
        }
        m.extensions(4, c);
        m
    });
    m.optional(6, v.get("license"), |l| {
        let mut m = Message::default();
        m.string(1, l.get("name"));
        m.string(2, l.get("url"));
        m.extensions(3, l);
        m
    });
    m.extensions(7, v);
    m
}

fn external_docs(v: &Value) -> Message {
    let mut m = Message::default();
    m.string(1, v.get("description"));
    m.string(2, v.get("url"));
    m.extensions(3, v);
    m
}

fn tag(v: &Value) -> Message {
    let mut m = Message::default();
    m.string(1, v.get("name"));
    m.string(2, v.get("description"));
    m.optional(3, v.get("externalDocs"), external_docs);
    m.extensions(4, v);
    m
}

fn paths(v: &Value) -> Message {
    let mut m = Message::default();
    m.extensions(1, v);
    for (k, item) in entries(v).filter(|(k, _)| !k.starts_with("x-")) {
        let mut named = Message::default();
        named.bytes(1, k.as_bytes());
        named.message(2, path_item(item));
        m.message(2, named);
    }
    m
}

fn path_item(v: &Value) -> Message {
    let mut m = Message::default();
    m.string(1, v.get("$ref"));
    for (tag, verb) in [(2, "get"), (3, "put"), (4, "post"), (5, "delete"), (6, "options"), (7, "head"), (8, "patch")] {
        m.optional(tag, v.get(verb), operation);
    }
    for p in v.get("parameters").and_then(Value::as_array).into_iter().flatten() {
        m.message(9, parameters_item(p));
    }
    m.extensions(10, v);
    m
}

fn operation(v: &Value) -> Message {
    let mut m = Message::default();
    m.strings(1, v.get("tags"));
    m.string(2, v.get("summary"));
    m.string(3, v.get("description"));
    m.optional(4, v.get("externalDocs"), external_docs);
    m.string(5, v.get("operationId"));
    m.strings(6, v.get("produces"));
    m.strings(7, v.get("consumes"));
    for p in v.get("parameters").and_then(Value::as_array).into_iter().flatten() {
        m.message(8, parameters_item(p));
    }
    m.optional(9, v.get("responses"), |r| {
        let mut m = Message::default();
        for (code, value) in entries(r).filter(|(k, _)| !k.starts_with("x-")) {
            let mut named = Message::default();
            named.bytes(1, code.as_bytes());
            named.message(2, response_value(value));
            m.message(1, named);
        }
        m.extensions(2, r);
        m
    });
    m.strings(10, v.get("schemes"));
    m.boolean(11, v.get("deprecated"));
    for s in v.get("security").and_then(Value::as_array).into_iter().flatten() {
        m.message(12, security_requirement(s));
    }
    m.extensions(13, v);
    m
}

fn json_reference(v: &Value) -> Message {
    let mut m = Message::default();
    m.string(1, v.get("$ref"));
    m.string(2, v.get("description"));
    m
}

/// `ParametersItem`: a reference, or a parameter.
fn parameters_item(v: &Value) -> Message {
    let mut m = Message::default();
    if v.get("$ref").is_some() {
        m.message(2, json_reference(v));
    } else {
        m.message(1, parameter(v));
    }
    m
}

/// `Parameter`: a body parameter, or one of the four others by `in`.
fn parameter(v: &Value) -> Message {
    let mut m = Message::default();
    match v.get("in").and_then(Value::as_str) {
        Some("body") => {
            let mut body = Message::default();
            body.string(1, v.get("description"));
            body.string(2, v.get("name"));
            body.string(3, v.get("in"));
            body.boolean(4, v.get("required"));
            body.optional(5, v.get("schema"), schema);
            body.extensions(6, v);
            m.message(1, body);
        }
        location => {
            // header 1, formData 2, query 3, path 4; query and formData have
            // allowEmptyValue at 5, which moves the later fields one on.
            let (which, allow_empty) = match location {
                Some("header") => (1, false),
                Some("formData") => (2, true),
                Some("path") => (4, false),
                _ => (3, true),
            };
            let mut sub = Message::default();
            sub.boolean(1, v.get("required"));
            sub.string(2, v.get("in"));
            sub.string(3, v.get("description"));
            sub.string(4, v.get("name"));
            let first = if allow_empty {
                sub.boolean(5, v.get("allowEmptyValue"));
                6
            } else {
                5
            };
            primitive_fields(&mut sub, v, first);
            sub.extensions(first + 17, v);
            let mut non_body = Message::default();
            non_body.message(which, sub);
            m.message(2, non_body);
        }
    }
    m
}

/// The run of fields a primitive schema has (`type` … `multipleOf`), numbered from
/// `first`: `PrimitivesItems`, `Header` and the non-body parameters share it.
fn primitive_fields(m: &mut Message, v: &Value, first: u32) {
    let t = |i: u32| first + i;
    m.string(t(0), v.get("type"));
    m.string(t(1), v.get("format"));
    m.optional(t(2), v.get("items"), primitives_items);
    m.string(t(3), v.get("collectionFormat"));
    m.any(t(4), v.get("default"));
    m.double(t(5), v.get("maximum"));
    m.boolean(t(6), v.get("exclusiveMaximum"));
    m.double(t(7), v.get("minimum"));
    m.boolean(t(8), v.get("exclusiveMinimum"));
    m.int64(t(9), v.get("maxLength"));
    m.int64(t(10), v.get("minLength"));
    m.string(t(11), v.get("pattern"));
    m.int64(t(12), v.get("maxItems"));
    m.int64(t(13), v.get("minItems"));
    m.boolean(t(14), v.get("uniqueItems"));
    for e in v.get("enum").and_then(Value::as_array).into_iter().flatten() {
        m.any(t(15), Some(e));
    }
    m.double(t(16), v.get("multipleOf"));
}

fn primitives_items(v: &Value) -> Message {
    let mut m = Message::default();
    primitive_fields(&mut m, v, 1);
    m.extensions(18, v);
    m
}

fn header(v: &Value) -> Message {
    let mut m = Message::default();
    primitive_fields(&mut m, v, 1);
    m.string(18, v.get("description"));
    m.extensions(19, v);
    m
}

fn response_value(v: &Value) -> Message {
    let mut m = Message::default();
    if v.get("$ref").is_some() {
        m.message(2, json_reference(v));
    } else {
        m.message(1, response(v));
    }
    m
}

fn response(v: &Value) -> Message {
    let mut m = Message::default();
    m.string(1, v.get("description"));
    m.optional(2, v.get("schema"), |s| {
        let mut item = Message::default();
        item.message(1, schema(s));
        item
    });
    m.optional(3, v.get("headers"), |h| wrap_named(h, header));
    m.optional(4, v.get("examples"), |e| {
        let mut m = Message::default();
        m.named(1, Some(e), any);
        m
    });
    m.extensions(5, v);
    m
}

fn schema(v: &Value) -> Message {
    let mut m = Message::default();
    m.string(1, v.get("$ref"));
    m.string(2, v.get("format"));
    m.string(3, v.get("title"));
    m.string(4, v.get("description"));
    m.any(5, v.get("default"));
    m.double(6, v.get("multipleOf"));
    m.double(7, v.get("maximum"));
    m.boolean(8, v.get("exclusiveMaximum"));
    m.double(9, v.get("minimum"));
    m.boolean(10, v.get("exclusiveMinimum"));
    m.int64(11, v.get("maxLength"));
    m.int64(12, v.get("minLength"));
    m.string(13, v.get("pattern"));
    m.int64(14, v.get("maxItems"));
    m.int64(15, v.get("minItems"));
    m.boolean(16, v.get("uniqueItems"));
    m.int64(17, v.get("maxProperties"));
    m.int64(18, v.get("minProperties"));
    m.strings(19, v.get("required"));
    for e in v.get("enum").and_then(Value::as_array).into_iter().flatten() {
        m.any(20, Some(e));
    }
    m.optional(21, v.get("additionalProperties"), |a| {
        let mut m = Message::default();
        match a.as_bool() {
            // proto3 writes a oneof's false too: it is set
            Some(b) => {
                m.key(2, 0);
                m.varint(u64::from(b));
            }
            None => m.message(1, schema(a)),
        }
        m
    });
    m.optional(22, v.get("type"), |t| {
        let mut m = Message::default();
        match t {
            Value::String(s) => m.bytes(1, s.as_bytes()),
            other => m.strings(1, Some(other)),
        }
        m
    });
    m.optional(23, v.get("items"), |i| {
        let mut m = Message::default();
        match i.as_array() {
            Some(all) => all.iter().for_each(|s| m.message(1, schema(s))),
            None => m.message(1, schema(i)),
        }
        m
    });
    for s in v.get("allOf").and_then(Value::as_array).into_iter().flatten() {
        m.message(24, schema(s));
    }
    m.optional(25, v.get("properties"), |p| wrap_named(p, schema));
    m.string(26, v.get("discriminator"));
    m.boolean(27, v.get("readOnly"));
    m.optional(28, v.get("xml"), |x| {
        let mut m = Message::default();
        for (tag, key) in [(1, "name"), (2, "namespace"), (3, "prefix")] {
            m.string(tag, x.get(key));
        }
        m.boolean(4, x.get("attribute"));
        m.boolean(5, x.get("wrapped"));
        m.extensions(6, x);
        m
    });
    m.optional(29, v.get("externalDocs"), external_docs);
    m.any(30, v.get("example"));
    m.extensions(31, v);
    m
}

fn security_requirement(v: &Value) -> Message {
    let mut m = Message::default();
    m.named(1, Some(v), |scopes| {
        let mut m = Message::default();
        m.strings(1, Some(scopes));
        m
    });
    m
}

/// `SecurityDefinitionsItem`: the scheme by `type` (and `flow` for OAuth 2).
fn security_definition(v: &Value) -> Message {
    let s = |k: &str| v.get(k);
    let mut inner = Message::default();
    let which = match (s("type").and_then(Value::as_str), s("flow").and_then(Value::as_str)) {
        (Some("basic"), _) => {
            inner.string(1, s("type"));
            inner.string(2, s("description"));
            inner.extensions(3, v);
            1
        }
        (Some("apiKey"), _) => {
            inner.string(1, s("type"));
            inner.string(2, s("name"));
            inner.string(3, s("in"));
            inner.string(4, s("description"));
            inner.extensions(5, v);
            2
        }
        (_, flow) => {
            inner.string(1, s("type"));
            inner.string(2, s("flow"));
            inner.optional(3, s("scopes"), |sc| {
                let mut m = Message::default();
                m.named(1, Some(sc), |d| {
                    // NamedString: its value is a plain string, not a message
                    Message(d.as_str().unwrap_or_default().as_bytes().to_vec())
                });
                m
            });
            let (which, urls): (u32, &[&str]) = match flow {
                Some("implicit") => (3, &["authorizationUrl"]),
                Some("password") => (4, &["tokenUrl"]),
                Some("application") => (5, &["tokenUrl"]),
                _ => (6, &["authorizationUrl", "tokenUrl"]),
            };
            let mut tag = 4;
            for u in urls {
                inner.string(tag, s(u));
                tag += 1;
            }
            inner.string(tag, s("description"));
            inner.extensions(tag + 1, v);
            which
        }
    };
    let mut m = Message::default();
    m.message(which, inner);
    m
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Reads one level of a message: (tag, wire type, payload) triples.
    fn fields(mut buf: &[u8]) -> Vec<(u32, u8, Vec<u8>)> {
        let mut out = Vec::new();
        let varint = |buf: &mut &[u8]| {
            let (mut v, mut shift) = (0u64, 0);
            loop {
                let b = buf[0];
                *buf = &buf[1..];
                v |= u64::from(b & 0x7f) << shift;
                shift += 7;
                if b < 0x80 {
                    return v;
                }
            }
        };
        while !buf.is_empty() {
            let key = varint(&mut buf);
            let (tag, wire) = ((key >> 3) as u32, (key & 7) as u8);
            let payload = match wire {
                0 => varint(&mut buf).to_le_bytes().to_vec(),
                1 => {
                    let (p, rest) = buf.split_at(8);
                    buf = rest;
                    p.to_vec()
                }
                2 => {
                    let n = varint(&mut buf) as usize;
                    let (p, rest) = buf.split_at(n);
                    buf = rest;
                    p.to_vec()
                }
                w => panic!("wire type {w}"),
            };
            out.push((tag, wire, payload));
        }
        out
    }

    fn field(buf: &[u8], tag: u32) -> Vec<Vec<u8>> {
        fields(buf).into_iter().filter(|f| f.0 == tag).map(|f| f.2).collect()
    }

    fn text(b: &[u8]) -> &str {
        std::str::from_utf8(b).unwrap()
    }

    #[test]
    fn each_part_of_a_document_lands_on_its_field() {
        let doc = json!({
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": "v1.34.2"},
            "paths": {"/api/v1/pods": {
                "get": {"operationId": "listPods", "x-kubernetes-action": "list",
                    "parameters": [{"name": "limit", "in": "query", "type": "integer", "uniqueItems": true}],
                    "responses": {"200": {"description": "OK", "schema": {"$ref": "#/definitions/PodList"}}}},
                "parameters": [{"$ref": "#/parameters/pretty"}],
            }},
            "definitions": {"Pod": {
                "type": "object", "required": ["spec"],
                "properties": {"spec": {"$ref": "#/definitions/PodSpec"}, "n": {"type": "integer", "minimum": 1.5}},
                "x-kubernetes-group-version-kind": [{"group": "", "kind": "Pod", "version": "v1"}],
            }},
            "securityDefinitions": {"BearerToken": {"type": "apiKey", "name": "authorization", "in": "header"}},
            "security": [{"BearerToken": []}],
        });
        let buf = document(&doc);
        assert_eq!(text(&field(&buf, 1)[0]), "2.0");
        assert_eq!(text(&field(&field(&buf, 2)[0], 2)[0]), "v1.34.2");

        let path = &field(&field(&buf, 8)[0], 2)[0];
        assert_eq!(text(&field(path, 1)[0]), "/api/v1/pods");
        let item = &field(path, 2)[0];
        let get = &field(item, 2)[0];
        assert_eq!(text(&field(get, 5)[0]), "listPods");
        let ext = &field(get, 13)[0];
        assert_eq!(text(&field(ext, 1)[0]), "x-kubernetes-action");
        assert_eq!(text(&field(&field(ext, 2)[0], 2)[0]), "\"list\"\n");
        // query parameter: Parameter.non_body(2) → query(3); uniqueItems at 20
        let query = &field(&field(&field(&field(get, 8)[0], 1)[0], 2)[0], 3)[0];
        assert_eq!(text(&field(query, 4)[0]), "limit");
        assert_eq!(text(&field(query, 6)[0]), "integer");
        assert_eq!(field(query, 20).len(), 1);
        // the path item's reference parameter
        assert_eq!(text(&field(&field(&field(item, 9)[0], 2)[0], 1)[0]), "#/parameters/pretty");
        let ok = &field(&field(get, 9)[0], 1)[0];
        assert_eq!(text(&field(ok, 1)[0]), "200");
        let response = &field(&field(ok, 2)[0], 1)[0];
        assert_eq!(text(&field(&field(&field(response, 2)[0], 1)[0], 1)[0]), "#/definitions/PodList");

        let def = &field(&field(&buf, 9)[0], 1)[0];
        assert_eq!(text(&field(def, 1)[0]), "Pod");
        let pod = &field(def, 2)[0];
        assert_eq!(text(&field(&field(pod, 22)[0], 1)[0]), "object");
        assert_eq!(text(&field(pod, 19)[0]), "spec");
        let props: Vec<_> = field(&field(pod, 25)[0], 1);
        assert_eq!(props.iter().map(|p| text(&field(p, 1)[0]).to_string()).collect::<Vec<_>>(), ["spec", "n"]);
        let n = &field(&props[1], 2)[0];
        assert_eq!(f64::from_le_bytes(field(n, 9)[0].clone().try_into().unwrap()), 1.5);
        let gvk = &field(pod, 31)[0];
        let yaml: Value = serde_json::from_str(text(&field(&field(gvk, 2)[0], 2)[0])).unwrap();
        assert_eq!(yaml[0]["kind"], "Pod");

        let bearer = &field(&field(&buf, 13)[0], 1)[0];
        let api_key = &field(&field(bearer, 2)[0], 2)[0];
        assert_eq!(text(&field(api_key, 3)[0]), "header");
        let req = &field(&field(&buf, 12)[0], 1)[0];
        assert_eq!(text(&field(req, 1)[0]), "BearerToken");
    }

    #[test]
    fn additional_properties_false_is_written() {
        let buf = schema(&json!({"additionalProperties": false})).0;
        let item = &field(&buf, 21)[0];
        assert_eq!(fields(item), [(2, 0, 0u64.to_le_bytes().to_vec())]);
    }
}
