//! Table-driven tests per keyword: each case is a schema, a value and the exact messages
//! the apiserver prints (field path included), or none.

use serde_json::{json, Value};

use super::*;

fn messages(errs: &[FieldError]) -> Vec<String> {
    errs.iter().map(FieldError::to_message).collect()
}

/// A CR schema with one `spec.x` field of schema `x`.
fn spec_x(x: Value) -> Value {
    json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {"x": x}}}})
}

/// Runs `(name, field schema, value of spec.x, expected messages)` cases.
fn run_field_cases(cases: &[(&str, Value, Value, &[&str])]) {
    for (name, schema, value, want) in cases {
        let obj = json!({"apiVersion": "example.com/v1", "kind": "Book", "metadata": {"name": "a"}, "spec": {"x": value}});
        let got = messages(&validate(&spec_x(schema.clone()), &obj));
        assert_eq!(got, want.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "case {name}");
    }
}

#[test]
fn type_keyword() {
    run_field_cases(&[
        ("integer ok", json!({"type": "integer"}), json!(3), &[]),
        (
            "integer from string",
            json!({"type": "integer"}),
            json!("3"),
            &[r#"spec.x: Invalid value: "string": spec.x in body must be of type integer: "string""#],
        ),
        ("integral float is an integer", json!({"type": "integer"}), json!(2.0), &[]),
        (
            "fraction is not an integer",
            json!({"type": "integer"}),
            json!(1.5),
            &[
                r#"spec.x: Invalid value: "number": spec.x in body must be of type integer: "number""#,
                r#"<nil>: Invalid value: "": Checked value must be of type integer (default format) in spec.x"#,
            ],
        ),
        ("number takes integers", json!({"type": "number"}), json!(3), &[]),
        ("string ok", json!({"type": "string"}), json!("a"), &[]),
        (
            "string from bool",
            json!({"type": "string"}),
            json!(true),
            &[r#"spec.x: Invalid value: "boolean": spec.x in body must be of type string: "boolean""#],
        ),
        (
            "boolean from string",
            json!({"type": "boolean"}),
            json!("true"),
            &[r#"spec.x: Invalid value: "string": spec.x in body must be of type boolean: "string""#],
        ),
        (
            "array from object",
            json!({"type": "array", "items": {"type": "string"}}),
            json!({}),
            &[r#"spec.x: Invalid value: "object": spec.x in body must be of type array: "object""#],
        ),
        (
            "object from array",
            json!({"type": "object"}),
            json!([]),
            &[r#"spec.x: Invalid value: "array": spec.x in body must be of type object: "array""#],
        ),
        (
            "null not nullable",
            json!({"type": "string"}),
            json!(null),
            &[r#"spec.x: Invalid value: "null": spec.x in body must be of type string: "null""#],
        ),
        ("null nullable", json!({"type": "string", "nullable": true}), json!(null), &[]),
        ("int-or-string int", json!({"x-kubernetes-int-or-string": true}), json!(80), &[]),
        ("int-or-string string", json!({"x-kubernetes-int-or-string": true}), json!("http"), &[]),
        (
            "int-or-string bool",
            json!({"x-kubernetes-int-or-string": true}),
            json!(true),
            &[r#"spec.x: Invalid value: "boolean": spec.x in body must be of type integer,string: "boolean""#],
        ),
        ("untyped preserve takes anything", json!({"x-kubernetes-preserve-unknown-fields": true}), json!({"a": [1]}), &[]),
    ]);
}

#[test]
fn number_keywords() {
    run_field_cases(&[
        ("minimum ok", json!({"type": "integer", "minimum": 1}), json!(1), &[]),
        (
            "minimum",
            json!({"type": "integer", "minimum": 1}),
            json!(0),
            &["spec.x: Invalid value: 0: spec.x in body should be greater than or equal to 1"],
        ),
        (
            "exclusive minimum",
            json!({"type": "integer", "minimum": 1, "exclusiveMinimum": true}),
            json!(1),
            &["spec.x: Invalid value: 1: spec.x in body should be greater than 1"],
        ),
        (
            "maximum",
            json!({"type": "integer", "maximum": 10}),
            json!(11),
            &["spec.x: Invalid value: 11: spec.x in body should be less than or equal to 10"],
        ),
        (
            "exclusive maximum",
            json!({"type": "number", "maximum": 2.5, "exclusiveMaximum": true}),
            json!(2.5),
            &["spec.x: Invalid value: 2.5: spec.x in body should be less than 2.5"],
        ),
        (
            "float minimum",
            json!({"type": "number", "minimum": 0.5}),
            json!(0.25),
            &["spec.x: Invalid value: 0.25: spec.x in body should be greater than or equal to 0.5"],
        ),
        ("multipleOf ok", json!({"type": "integer", "multipleOf": 5}), json!(15), &[]),
        (
            "multipleOf",
            json!({"type": "integer", "multipleOf": 5}),
            json!(12),
            &["spec.x: Invalid value: 12: spec.x in body should be a multiple of 5"],
        ),
        (
            "float multipleOf",
            json!({"type": "number", "multipleOf": 0.5}),
            json!(1.25),
            &["spec.x: Invalid value: 1.25: spec.x in body should be a multiple of 0.5"],
        ),
        (
            "range checks skip strings",
            json!({"type": "integer", "minimum": 1}),
            json!("0"),
            &[r#"spec.x: Invalid value: "string": spec.x in body must be of type integer: "string""#],
        ),
    ]);
}

#[test]
fn string_keywords() {
    run_field_cases(&[
        ("maxLength ok", json!({"type": "string", "maxLength": 3}), json!("abc"), &[]),
        ("maxLength counts characters", json!({"type": "string", "maxLength": 3}), json!("äöü"), &[]),
        ("maxLength", json!({"type": "string", "maxLength": 3}), json!("abcd"), &["spec.x: Too long: may not be more than 3 bytes"]),
        ("maxLength 1", json!({"type": "string", "maxLength": 1}), json!("ab"), &["spec.x: Too long: may not be more than 1 byte"]),
        (
            "minLength",
            json!({"type": "string", "minLength": 2}),
            json!("a"),
            &[r#"spec.x: Invalid value: "a": spec.x in body should be at least 2 chars long"#],
        ),
        ("pattern ok", json!({"type": "string", "pattern": "^a+$"}), json!("aaa"), &[]),
        ("pattern unanchored", json!({"type": "string", "pattern": "b"}), json!("abc"), &[]),
        (
            "pattern",
            json!({"type": "string", "pattern": "^a$"}),
            json!("b"),
            &[r#"spec.x: Invalid value: "b": spec.x in body should match '^a$'"#],
        ),
        (
            "only the first string error",
            json!({"type": "string", "maxLength": 1, "pattern": "^a$"}),
            json!("bb"),
            &["spec.x: Too long: may not be more than 1 byte"],
        ),
    ]);
}

#[test]
fn enum_keyword() {
    run_field_cases(&[
        ("string in enum", json!({"type": "string", "enum": ["a", "b"]}), json!("b"), &[]),
        (
            "string not in enum",
            json!({"type": "string", "enum": ["a", "b"]}),
            json!("x"),
            &[r#"spec.x: Unsupported value: "x": supported values: "a", "b""#],
        ),
        ("number in enum by value", json!({"type": "number", "enum": [1.0, 2.0]}), json!(2), &[]),
        (
            "number not in enum",
            json!({"type": "integer", "enum": [1, 2]}),
            json!(3),
            &[r#"spec.x: Unsupported value: 3: supported values: "1", "2""#],
        ),
    ]);
}

#[test]
fn array_keywords() {
    let strings = |extra: Value| {
        let mut s = json!({"type": "array", "items": {"type": "string"}});
        s.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        s
    };
    run_field_cases(&[
        ("items ok", strings(json!({})), json!(["a"]), &[]),
        (
            "items type",
            strings(json!({})),
            json!(["a", 1]),
            &[r#"spec.x[1]: Invalid value: "integer": spec.x[1] in body must be of type string: "integer""#],
        ),
        ("maxItems", strings(json!({"maxItems": 3})), json!(["a", "b", "c", "d"]), &["spec.x: Too many: 4: must have at most 3 items"]),
        ("maxItems 1", strings(json!({"maxItems": 1})), json!(["a", "b"]), &["spec.x: Too many: 2: must have at most 1 item"]),
        (
            "minItems",
            strings(json!({"minItems": 2})),
            json!(["a"]),
            &["spec.x: Invalid value: 1: spec.x in body should have at least 2 items"],
        ),
        ("uniqueItems ok", strings(json!({"uniqueItems": true})), json!(["a", "b"]), &[]),
        (
            "uniqueItems",
            strings(json!({"uniqueItems": true})),
            json!(["a", "a"]),
            &[r#"spec.x: Invalid value: "": spec.x in body shouldn't contain duplicates"#],
        ),
        ("list-type set ok", strings(json!({"x-kubernetes-list-type": "set"})), json!(["a", "b"]), &[]),
        (
            "list-type set",
            strings(json!({"x-kubernetes-list-type": "set"})),
            json!(["a", "b", "a", "a"]),
            &[r#"spec.x[2]: Duplicate value: "a""#],
        ),
    ]);
}

#[test]
fn list_type_map() {
    let ports = |keys: Value| {
        json!({"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": keys,
               "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}})
    };
    run_field_cases(&[
        ("distinct keys", ports(json!(["name"])), json!([{"name": "a"}, {"name": "b"}]), &[]),
        (
            "repeated key",
            ports(json!(["name"])),
            json!([{"name": "a", "port": 1}, {"name": "a", "port": 2}]),
            &[r#"spec.x[1]: Duplicate value: {"name":"a"}"#],
        ),
        ("missing key twice", ports(json!(["name"])), json!([{"port": 1}, {"port": 2}]), &["spec.x[1]: Duplicate value: {}"]),
        ("compound key distinct", ports(json!(["name", "port"])), json!([{"name": "a", "port": 1}, {"name": "a", "port": 2}]), &[]),
        (
            "compound key repeated",
            ports(json!(["port", "name"])),
            json!([{"port": 1, "name": "a"}, {"name": "a", "port": 1}]),
            &[r#"spec.x[1]: Duplicate value: {"name":"a","port":1}"#],
        ),
    ]);
}

#[test]
fn object_keywords() {
    let obj = json!({"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}});
    run_field_cases(&[
        ("required present", obj.clone(), json!({"a": "x"}), &[]),
        ("required missing", obj.clone(), json!({"b": 1}), &["spec.x.a: Required value"]),
        (
            "nested type",
            obj.clone(),
            json!({"a": "x", "b": "y"}),
            &[r#"spec.x.b: Invalid value: "string": spec.x.b in body must be of type integer: "string""#],
        ),
        (
            "additionalProperties schema",
            json!({"type": "object", "additionalProperties": {"type": "string"}}),
            json!({"k": "v", "n": 1}),
            &[r#"spec.x.n: Invalid value: "integer": spec.x.n in body must be of type string: "integer""#],
        ),
        (
            "additionalProperties false",
            json!({"type": "object", "additionalProperties": false}),
            json!({"k": 1}),
            &[r#"spec.x: Invalid value: "k": spec.x.k in body is a forbidden property"#],
        ),
        (
            "maxProperties",
            json!({"type": "object", "maxProperties": 1, "additionalProperties": {"type": "string"}}),
            json!({"a": "1", "b": "2"}),
            &["spec.x: Too many: 2: must have at most 1 item"],
        ),
        (
            "minProperties",
            json!({"type": "object", "minProperties": 2, "additionalProperties": {"type": "string"}}),
            json!({"a": "1"}),
            &["spec.x: Invalid value: 1: spec.x in body should have at least 2 properties"],
        ),
    ]);
}

#[test]
fn root_required_path() {
    let schema = json!({"type": "object", "required": ["spec"], "properties": {"spec": {"type": "object"}}});
    let got = messages(&validate(&schema, &json!({"apiVersion": "a/v1", "kind": "K", "metadata": {}})));
    assert_eq!(got, ["spec: Required value"]);
}

#[test]
fn composition_keywords() {
    run_field_cases(&[
        ("anyOf ok", json!({"type": "integer", "anyOf": [{"minimum": 10}, {"maximum": 0}]}), json!(-1), &[]),
        (
            "anyOf none",
            json!({"type": "integer", "anyOf": [{"minimum": 10}, {"maximum": 0}]}),
            json!(5),
            &[
                r#"<nil>: Invalid value: "": "spec.x" must validate at least one schema (anyOf)"#,
                "spec.x: Invalid value: 5: spec.x in body should be greater than or equal to 10",
            ],
        ),
        (
            "allOf",
            json!({"type": "integer", "allOf": [{"minimum": 10}]}),
            json!(5),
            &[
                "spec.x: Invalid value: 5: spec.x in body should be greater than or equal to 10",
                r#"<nil>: Invalid value: "": "spec.x" must validate all the schemas (allOf). None validated"#,
            ],
        ),
        (
            "oneOf two",
            json!({"type": "integer", "oneOf": [{"minimum": 0}, {"maximum": 10}]}),
            json!(5),
            &[r#"<nil>: Invalid value: "": "spec.x" must validate one and only one schema (oneOf). Found 2 valid alternatives"#],
        ),
        (
            "not",
            json!({"type": "string", "not": {"enum": ["x"]}}),
            json!("x"),
            &[r#"<nil>: Invalid value: "": "spec.x" must not validate the schema (not)"#],
        ),
    ]);
}

#[test]
fn format_keyword() {
    let cases: &[(&str, &str, bool)] = &[
        ("date-time", "2024-01-02T03:04:05Z", true),
        ("date-time", "2024-01-02T03:04:05.123+02:00", true),
        ("date-time", "2024-01-02", false),
        ("date-time", "2024-01-02t03:04:05z", true),
        ("date-time", "2024-01-02T03:04:05", false),
        ("date-time", "2024-01-02T24:00:00Z", false),
        ("datetime", "yesterday", false),
        ("date", "2024-02-29", true),
        ("date", "2023-02-29", false),
        ("date", "2024-1-2", false),
        ("uuid", "123e4567-e89b-12d3-a456-426614174000", true),
        ("uuid", "123e4567", false),
        ("uuid4", "123e4567-e89b-42d3-a456-426614174000", true),
        ("uuid4", "123e4567-e89b-12d3-a456-426614174000", false),
        ("ipv4", "10.0.0.1", true),
        ("ipv4", "10.0.0.256", false),
        ("ipv6", "fe80::1", true),
        ("ipv6", "10.0.0.1", false),
        ("cidr", "10.0.0.0/8", true),
        ("cidr", "10.0.0.0/33", false),
        ("mac", "00:1a:2b:3c:4d:5e", true),
        ("mac", "00:1a:2b", false),
        ("hostname", "example.com", true),
        ("hostname", "-bad-.com", false),
        ("email", "a@example.com", true),
        ("email", "not-an-email", false),
        ("uri", "https://example.com/x", true),
        ("uri", "example.com", false),
        ("byte", "aGVsbG8=", true),
        ("byte", "not base64!", false),
        ("duration", "1h30m", true),
        ("duration", "3 days", true),
        ("duration", "10 Minutes", true),
        ("duration", "soon", false),
        ("hexcolor", "#ffaa00", true),
        ("hexcolor", "#ffaa0", false),
        ("isbn10", "0321751043", true),
        ("isbn13", "978-0321751041", true),
        ("isbn13", "978-0321751042", false),
        ("creditcard", "4111 1111 1111 1111", true),
        ("creditcard", "4111 1111 1111 1112", false),
        ("ssn", "123-45-6789", true),
        ("ssn", "123456789", false),
        ("bsonobjectid", "507f1f77bcf86cd799439011", true),
        ("password", "anything", true),
        // Unsupported formats are stripped: nothing is checked.
        ("int32", "anything", true),
        ("k8s-short-name", "Not_A_Name", true),
    ];
    for (format, value, ok) in cases {
        let schema = spec_x(json!({"type": "string", "format": format}));
        let got = messages(&validate(&schema, &json!({"spec": {"x": value}})));
        let want: Vec<String> = if *ok {
            vec![]
        } else {
            vec![format!(r#"spec.x: Invalid value: {value:?}: spec.x in body must be of type {format}: {value:?}"#)]
        };
        assert_eq!(got, want, "format {format} value {value}");
    }
}

#[test]
fn integer_formats_are_not_range_checked() {
    // int32/int64 are stripped like every unsupported format.
    run_field_cases(&[("int32 overflow passes", json!({"type": "integer", "format": "int32"}), json!(3_000_000_000i64), &[])]);
}

#[test]
fn embedded_resources() {
    let schema = spec_x(json!({"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}));
    let cases: &[(&str, Value, &[&str])] = &[
        ("complete", json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}), &[]),
        ("missing apiVersion and kind", json!({"metadata": {}}), &["spec.x.apiVersion: Required value", "spec.x.kind: Required value"]),
        ("empty kind", json!({"apiVersion": "v1", "kind": ""}), &[r#"spec.x.kind: Invalid value: "": must not be empty"#]),
        ("kind not a string", json!({"apiVersion": "v1", "kind": 5}), &["spec.x.kind: Invalid value: 5: must be a string"]),
        (
            "bad kind",
            json!({"apiVersion": "v1", "kind": "Pod_X"}),
            &[
                r#"spec.x.kind: Invalid value: "Pod_X": may have mixed case, but should otherwise match: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"#,
            ],
        ),
        (
            "bad apiVersion",
            json!({"apiVersion": "a/b/c", "kind": "K"}),
            &[r#"spec.x.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c"#],
        ),
        (
            "bad name",
            json!({"apiVersion": "v1", "kind": "K", "metadata": {"name": "a/b"}}),
            &[r#"spec.x.metadata.name: Invalid value: "a/b": may not contain '/'"#],
        ),
        (
            "metadata not an object",
            json!({"apiVersion": "v1", "kind": "K", "metadata": "m"}),
            &[r#"spec.x.metadata: Invalid value: "m": invalid metadata: expected object, got string"#],
        ),
    ];
    for (name, x, want) in cases {
        let got = messages(&validate(&schema, &json!({"spec": {"x": x}})));
        assert_eq!(got, want.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "case {name}");
    }
}

#[test]
fn pruning() {
    let schema = json!({"type": "object", "properties": {
        "spec": {"type": "object", "properties": {
            "known": {"type": "string"},
            "list": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"typed": {"type": "object", "properties": {}}}},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "template": {"type": "object", "x-kubernetes-embedded-resource": true, "properties": {"spec": {"type": "object"}}}
        }}
    }});
    let mut obj = json!({
        "apiVersion": "example.com/v1", "kind": "Book", "metadata": {"name": "a"},
        "status": {"x": 1},
        "spec": {
            "known": "k", "unknown": 1,
            "list": [{"a": "x", "b": "y"}],
            "free": {"anything": {"goes": true}, "typed": {"dropped": 1}},
            "labels": {"any": "key"},
            "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "bogus": 1, "creationTimestamp": null}, "spec": {}, "extra": 1}
        }
    });
    let pruned = prune(&schema, &mut obj);
    assert_eq!(
        pruned,
        ["spec.free.typed.dropped", "spec.list[0].b", "spec.template.extra", "spec.template.metadata.bogus", "spec.unknown", "status"]
    );
    assert_eq!(
        obj,
        json!({
            "apiVersion": "example.com/v1", "kind": "Book", "metadata": {"name": "a"},
            "spec": {
                "known": "k",
                "list": [{"a": "x"}],
                "free": {"anything": {"goes": true}, "typed": {}},
                "labels": {"any": "key"},
                "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}}
            }
        })
    );
}

#[test]
fn pruning_nested_meta_fields_are_unknown() {
    // apiVersion/kind/metadata are kept only at the root and in embedded resources.
    let schema = spec_x(json!({"type": "object"}));
    let mut obj = json!({"spec": {"x": {"kind": "K"}, "metadata": {}}});
    assert_eq!(prune(&schema, &mut obj), ["spec.metadata", "spec.x.kind"]);
    assert_eq!(obj, json!({"spec": {"x": {}}}));
}

#[test]
fn defaulting() {
    let schema = json!({"type": "object", "properties": {
        "spec": {"type": "object", "default": {}, "properties": {
            "replicas": {"type": "integer", "default": 1},
            "mode": {"type": "string", "default": "fast"},
            "nullable": {"type": "string", "nullable": true, "default": "d"},
            "ports": {"type": "array", "items": {"type": "object", "properties": {"protocol": {"type": "string", "default": "TCP"}}}},
            "labels": {"type": "object", "additionalProperties": {"type": "string", "default": "v"}}
        }}
    }});
    let cases: &[(&str, Value, Value)] = &[
        ("missing spec defaults top-down", json!({}), json!({"spec": {"replicas": 1, "mode": "fast", "nullable": "d"}})),
        (
            "set values stay; non-nullable null is defaulted; nullable null stays",
            json!({"spec": {"replicas": 3, "mode": null, "nullable": null}}),
            json!({"spec": {"replicas": 3, "mode": "fast", "nullable": null}}),
        ),
        (
            "items and map values",
            json!({"spec": {"ports": [{}, {"protocol": "UDP"}], "labels": {"a": null}}}),
            json!({"spec": {"replicas": 1, "mode": "fast", "nullable": "d", "ports": [{"protocol": "TCP"}, {"protocol": "UDP"}], "labels": {"a": "v"}}}),
        ),
    ];
    for (name, input, want) in cases {
        let mut obj = input.clone();
        apply_defaults(&schema, &mut obj);
        assert_eq!(&obj, want, "case {name}");
    }
}

#[test]
fn non_nullable_nulls_without_defaults_are_dropped() {
    let schema = spec_x(json!({"type": "string"}));
    let mut obj = json!({"spec": {"x": null}});
    prune_non_nullable_nulls(&schema, &mut obj);
    assert_eq!(obj, json!({"spec": {}}));
}

const P: &str = "spec.versions[0].schema.openAPIV3Schema";

#[test]
fn structural_schemas() {
    let cases: &[(&str, Value, &[&str])] = &[
        (
            "complete",
            json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}, "n": {"x-kubernetes-int-or-string": true}}}}}),
            &[],
        ),
        ("root type missing", json!({"properties": {}}), &["spec.versions[0].schema.openAPIV3Schema.type: Required value: must not be empty at the root"]),
        ("root not object", json!({"type": "string"}), &[r#"spec.versions[0].schema.openAPIV3Schema.type: Invalid value: "string": must be object at the root"#]),
        (
            "field type missing",
            json!({"type": "object", "properties": {"spec": {"properties": {}}}}),
            &["spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields"],
        ),
        (
            "items type missing",
            json!({"type": "object", "properties": {"l": {"type": "array", "items": {}}}}),
            &["spec.versions[0].schema.openAPIV3Schema.properties[l].items.type: Required value: must not be empty for specified array items"],
        ),
        (
            "array without items",
            json!({"type": "object", "properties": {"l": {"type": "array"}}}),
            &["spec.versions[0].schema.openAPIV3Schema.properties[l].items: Required value: must be specified"],
        ),
        (
            "additionalProperties at the root",
            json!({"type": "object", "additionalProperties": {"type": "string"}}),
            &["spec.versions[0].schema.openAPIV3Schema.additionalProperties: Forbidden: must not be used at the root"],
        ),
        (
            "int-or-string with preserve",
            json!({"type": "object", "properties": {"p": {"x-kubernetes-int-or-string": true, "x-kubernetes-preserve-unknown-fields": true}}}),
            &["spec.versions[0].schema.openAPIV3Schema.properties[p].x-kubernetes-preserve-unknown-fields: Invalid value: true: must be false if x-kubernetes-int-or-string is true"],
        ),
        (
            "embedded resource not object",
            json!({"type": "object", "properties": {"t": {"type": "string", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}}}),
            &[r#"spec.versions[0].schema.openAPIV3Schema.properties[t].type: Invalid value: "string": must be object if x-kubernetes-embedded-resource is true"#],
        ),
        (
            "embedded resource without properties",
            json!({"type": "object", "properties": {"t": {"type": "object", "x-kubernetes-embedded-resource": true}}}),
            &["spec.versions[0].schema.openAPIV3Schema.properties[t].properties: Required value: must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields"],
        ),
        (
            "kind must be string",
            json!({"type": "object", "properties": {"kind": {"type": "integer"}}}),
            &[r#"spec.versions[0].schema.openAPIV3Schema.properties[kind].type: Invalid value: "integer": must be string"#],
        ),
        ("metadata name only", json!({"type": "object", "properties": {"metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 10}}}}}), &[]),
        (
            "metadata with labels",
            json!({"type": "object", "properties": {"metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}}}),
            &["spec.versions[0].schema.openAPIV3Schema.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified"],
        ),
        (
            "metadata not object",
            json!({"type": "object", "properties": {"metadata": {"type": "string"}}}),
            &[r#"spec.versions[0].schema.openAPIV3Schema.properties[metadata].type: Invalid value: "string": must be object"#],
        ),
        (
            "type inside anyOf",
            json!({"type": "object", "properties": {"a": {"type": "string", "anyOf": [{"type": "string"}]}}}),
            &["spec.versions[0].schema.openAPIV3Schema.properties[a].anyOf[0].type: Forbidden: must be empty to be structural"],
        ),
        ("int-or-string anyOf idiom", json!({"type": "object", "properties": {"a": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]}}}), &[]),
        (
            "junctor forbids generics and extensions",
            json!({"type": "object", "properties": {"a": {"type": "string", "allOf": [{"description": "d", "nullable": true, "default": "x", "x-kubernetes-list-type": "set"}]}}}),
            &[
                "spec.versions[0].schema.openAPIV3Schema.properties[a].allOf[0].default: Forbidden: must be undefined to be structural",
                "spec.versions[0].schema.openAPIV3Schema.properties[a].allOf[0].description: Forbidden: must be empty to be structural",
                "spec.versions[0].schema.openAPIV3Schema.properties[a].allOf[0].nullable: Forbidden: must be false to be structural",
                "spec.versions[0].schema.openAPIV3Schema.properties[a].allOf[0].x-kubernetes-list-type: Forbidden: must be undefined to be structural",
            ],
        ),
        (
            // Upstream checks completeness from the root's junctors (which reach down
            // through their own `properties`).
            "junctor names an unknown field",
            json!({"type": "object", "properties": {"spec": {"type": "object"}}, "anyOf": [{"properties": {"spec": {"required": ["b"], "properties": {"b": {"minimum": 1}}}}}]}),
            &["spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[b]: Required value: because it is defined in spec.versions[0].schema.openAPIV3Schema.anyOf[0].properties[spec].properties[b]"],
        ),
        (
            "junctor names an unknown array",
            json!({"type": "object", "properties": {"spec": {"type": "object"}}, "not": {"properties": {"spec": {"items": {"minimum": 1}}}}}),
            &["spec.versions[0].schema.openAPIV3Schema.properties[spec].items: Required value: because it is defined in spec.versions[0].schema.openAPIV3Schema.not.properties[spec].items"],
        ),
        (
            "metadata in a junctor",
            json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {"metadata": {"type": "object"}}, "not": {"properties": {"metadata": {}}}}}}),
            &["spec.versions[0].schema.openAPIV3Schema.properties[spec].not.properties[metadata]: Forbidden: must not be specified in a nested context"],
        ),
        (
            "invalid pattern",
            json!({"type": "object", "properties": {"a": {"type": "string", "pattern": "("}}}),
            &[r#"spec.versions[0].schema.openAPIV3Schema.properties[a].pattern: Invalid value: "(": must be a valid regular expression, but isn't: error parsing regexp: missing closing ): `(`"#],
        ),
    ];
    for (name, schema, want) in cases {
        let got = messages(&structural_errors(schema, P));
        assert_eq!(got, want.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "case {name}");
    }
}

#[test]
fn defaults_must_be_valid_and_pruned() {
    let field = |x: Value| json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {"x": x}}}});
    let at = "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[x].default";
    let cases: &[(&str, Value, Vec<String>)] = &[
        ("valid", field(json!({"type": "integer", "minimum": 1, "default": 1})), vec![]),
        (
            "below minimum",
            field(json!({"type": "integer", "minimum": 1, "default": 0})),
            vec![format!("{at}: Invalid value: 0:  in body should be greater than or equal to 1")],
        ),
        (
            "wrong type",
            field(json!({"type": "integer", "default": "one"})),
            vec![format!(r#"{at}: Invalid value: "string":  in body must be of type integer: "string""#)],
        ),
        (
            "unknown field",
            field(json!({"type": "object", "properties": {"a": {"type": "string"}}, "default": {"a": "x", "b": "y"}})),
            vec![format!(r#"{at}: Invalid value: {{"a":"x","b":"y"}}: must not have unknown fields"#)],
        ),
        (
            "nested path",
            field(json!({"type": "object", "properties": {"a": {"type": "string"}}, "default": {"a": 1}})),
            vec![format!(r#"{at}.a: Invalid value: "integer": a in body must be of type string: "integer""#)],
        ),
        (
            "embedded resource default needs kind",
            field(
                json!({"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true, "default": {"apiVersion": "v1"}}),
            ),
            vec![format!("{at}.kind: Required value")],
        ),
    ];
    for (name, schema, want) in cases {
        let got = messages(&default_errors(schema, P));
        assert_eq!(&got, want, "case {name}");
    }
}

#[test]
fn whole_objects() {
    let schema = json!({"type": "object", "properties": {
        "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 5}}},
        "spec": {"type": "object", "required": ["port"], "properties": {
            "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}], "pattern": "^[a-z]+$"},
            "pages": {"type": "integer", "minimum": 1}
        }}
    }});
    let book = |name: &str, spec: Value| json!({"apiVersion": "example.com/v1", "kind": "Book", "metadata": {"name": name}, "spec": spec});
    let cases: &[(&str, Value, &[&str])] = &[
        ("valid with int port", book("a", json!({"port": 80, "pages": 3})), &[]),
        ("valid with named port", book("a", json!({"port": "http"})), &[]),
        (
            "named port pattern",
            book("a", json!({"port": "HTTP"})),
            &[r#"spec.port: Invalid value: "HTTP": spec.port in body should match '^[a-z]+$'"#],
        ),
        ("schema restricts metadata.name", book("toolong", json!({"port": 1})), &["metadata.name: Too long: may not be more than 5 bytes"]),
        (
            "several errors",
            book("a", json!({"pages": 0})),
            &["spec.pages: Invalid value: 0: spec.pages in body should be greater than or equal to 1", "spec.port: Required value"],
        ),
    ];
    for (name, obj, want) in cases {
        let got = messages(&validate(&schema, obj));
        assert_eq!(got, want.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "case {name}");
    }
}

#[test]
fn preserve_unknown_fields_at_the_root_keeps_everything_unspecified() {
    let schema = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                        "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}}});
    let mut obj = json!({"apiVersion": "a/v1", "kind": "K", "metadata": {}, "status": {"any": 1}, "spec": {"a": "x", "b": 1}});
    assert_eq!(prune(&schema, &mut obj), ["spec.b"]);
    assert_eq!(obj, json!({"apiVersion": "a/v1", "kind": "K", "metadata": {}, "status": {"any": 1}, "spec": {"a": "x"}}));
}

#[test]
fn updates_ratchet_unchanged_values() {
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "pages": {"type": "integer", "minimum": 1},
        "title": {"type": "string", "maxLength": 3},
        "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                  "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer", "maximum": 100}}}},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 2}}
    }}}});
    let obj = |spec: Value| json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "x"}, "spec": spec});
    let old = obj(json!({"pages": 0, "title": "long", "ports": [{"name": "a", "port": 500}], "tags": ["long"]}));
    let cases: &[(&str, Value, &[&str])] = &[
        ("nothing changed", old.clone(), &[]),
        (
            "an unrelated change keeps old invalid values",
            obj(json!({"pages": 0, "title": "long", "ports": [{"name": "a", "port": 500}, {"name": "b", "port": 1}], "tags": ["long"]})),
            &[],
        ),
        (
            "a changed invalid value is reported",
            obj(json!({"pages": -1, "title": "long", "ports": [{"name": "a", "port": 500}], "tags": ["long"]})),
            &["spec.pages: Invalid value: -1: spec.pages in body should be greater than or equal to 1"],
        ),
        (
            "map-list items correlate by key, wherever they move",
            obj(json!({"pages": 0, "title": "long", "ports": [{"name": "b", "port": 200}, {"name": "a", "port": 500}], "tags": ["long"]})),
            &["spec.ports[0].port: Invalid value: 200: spec.ports[0].port in body should be less than or equal to 100"],
        ),
        (
            "atomic list items do not correlate",
            obj(json!({"pages": 0, "title": "long", "ports": [{"name": "a", "port": 500}], "tags": ["long", "ok"]})),
            &["spec.tags[0]: Too long: may not be more than 2 bytes"],
        ),
    ];
    for (name, new, want) in cases {
        let got = messages(&validate_update(&schema, new, &old));
        assert_eq!(got, want.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "case {name}");
    }
    // Without an old object every problem counts.
    assert_eq!(validate(&schema, &old).len(), 4);
}

#[test]
fn updates_check_list_types_only_if_old_was_clean() {
    let schema = spec_x(json!({"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}));
    let dup = json!({"spec": {"x": ["a", "a"]}});
    let dup_more = json!({"spec": {"x": ["a", "a", "b", "b"]}});
    assert!(validate_update(&schema, &dup_more, &dup).is_empty());
    assert_eq!(messages(&validate_update(&schema, &dup, &json!({"spec": {"x": ["a"]}}))), [r#"spec.x[1]: Duplicate value: "a""#]);
}

#[test]
fn crd_schema_keyword_rules() {
    let field = |x: Value| json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {"x": x}}}});
    let at = "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[x]";
    let cases: &[(&str, Value, Vec<String>)] = &[
        ("fine", field(json!({"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}})), vec![]),
        (
            "unknown type",
            field(json!({"type": "float"})),
            vec![format!(
                r#"{at}.type: Unsupported value: "float": supported values: "array", "boolean", "integer", "number", "object", "string""#
            )],
        ),
        (
            "null type",
            field(json!({"type": "null"})),
            vec![
                format!(
                    r#"{at}.type: Unsupported value: "null": supported values: "array", "boolean", "integer", "number", "object", "string""#
                ),
                format!("{at}.type: Forbidden: type cannot be set to null, use nullable as an alternative"),
            ],
        ),
        ("ref", field(json!({"$ref": "#/definitions/a"})), vec![format!("{at}.$ref: Forbidden: $ref is not supported")]),
        (
            "uniqueItems",
            field(json!({"type": "array", "uniqueItems": true, "items": {"type": "string"}})),
            vec![format!("{at}.uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic")],
        ),
        (
            "properties and additionalProperties",
            field(json!({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "string"}})),
            vec![format!("{at}.additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive")],
        ),
        (
            "preserve false",
            field(json!({"type": "object", "x-kubernetes-preserve-unknown-fields": false})),
            vec![format!("{at}.x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined")],
        ),
        (
            "list type on a string",
            field(json!({"type": "string", "x-kubernetes-list-type": "set"})),
            vec![format!(r#"{at}.type: Invalid value: "string": must be array if x-kubernetes-list-type is specified"#)],
        ),
        (
            "unknown list type",
            field(json!({"type": "array", "x-kubernetes-list-type": "bag", "items": {"type": "string"}})),
            vec![format!(r#"{at}.x-kubernetes-list-type: Unsupported value: "bag": supported values: "atomic", "set", "map""#)],
        ),
        (
            "map list without keys",
            field(
                json!({"type": "array", "x-kubernetes-list-type": "map", "items": {"type": "object", "properties": {"a": {"type": "string"}}}}),
            ),
            vec![format!("{at}.x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map")],
        ),
        (
            "map list key not a property",
            field(
                json!({"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["b"], "items": {"type": "object", "properties": {"a": {"type": "string"}}}}),
            ),
            vec![format!(r#"{at}.x-kubernetes-list-map-keys: Invalid value: ["b"]: entries must all be names of item properties"#)],
        ),
        (
            "keys without map",
            field(
                json!({"type": "array", "x-kubernetes-list-map-keys": ["a"], "items": {"type": "object", "properties": {"a": {"type": "string"}}}}),
            ),
            vec![format!("{at}.x-kubernetes-list-type: Required value: must be map if x-kubernetes-list-map-keys is non-empty")],
        ),
        (
            "validation rule without rule",
            field(json!({"type": "string", "x-kubernetes-validations": [{"rule": " ", "reason": "Bad"}]})),
            vec![
                format!("{at}.x-kubernetes-validations[0].rule: Required value: rule is not specified"),
                format!(
                    r#"{at}.x-kubernetes-validations[0].reason: Unsupported value: "Bad": supported values: "FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired""#
                ),
            ],
        ),
        (
            "multi-line rule needs a message",
            field(json!({"type": "string", "x-kubernetes-validations": [{"rule": "self.size() > 1 &&\nself != 'x'"}]})),
            vec![format!(
                "{at}.x-kubernetes-validations[0].message: Required value: message must be specified if rule contains line breaks"
            )],
        ),
        (
            "default in top-level metadata",
            json!({"type": "object", "properties": {"metadata": {"type": "object", "default": {}}}}),
            vec!["spec.versions[0].schema.openAPIV3Schema.properties[metadata].default: Forbidden: must not be set in top-level metadata"
                .to_string()],
        ),
    ];
    for (name, schema, want) in cases {
        let got = messages(&schema_errors(schema, P));
        assert_eq!(&got, want, "case {name}");
    }
}
