//! Hand-built protobuf bodies, encoded the way Go's generated marshallers write them
//! (every plain field, zero or not), decoded into the JSON a JSON client sends.

use serde_json::{json, Value};

use super::wire::encode_varint as varint;
use super::{decode, MAGIC};
use crate::sandbox::resources::{builtins, ResourceInfo};

/// A protobuf message under construction.
#[derive(Default, Clone)]
struct Msg(Vec<u8>);

impl Msg {
    fn key(mut self, tag: u32, wire: u8) -> Self {
        self.0.extend(varint(u64::from(tag) << 3 | u64::from(wire)));
        self
    }
    fn int(self, tag: u32, v: i64) -> Self {
        let mut m = self.key(tag, 0);
        m.0.extend(varint(v as u64));
        m
    }
    fn bytes(self, tag: u32, b: &[u8]) -> Self {
        let mut m = self.key(tag, 2);
        m.0.extend(varint(b.len() as u64));
        m.0.extend_from_slice(b);
        m
    }
    fn str(self, tag: u32, s: &str) -> Self {
        self.bytes(tag, s.as_bytes())
    }
    fn msg(self, tag: u32, inner: Msg) -> Self {
        self.bytes(tag, &inner.0)
    }
    fn map_entry(self, tag: u32, k: &str, v: &[u8]) -> Self {
        self.msg(tag, Msg::default().str(1, k).bytes(2, v))
    }
}

/// The `k8s\0` + `runtime.Unknown` envelope around `raw`.
fn envelope(api_version: &str, kind: &str, raw: Msg) -> Vec<u8> {
    let unknown = Msg::default().msg(1, Msg::default().str(1, api_version).str(2, kind)).msg(2, raw).str(3, "").str(4, "");
    [MAGIC.as_slice(), &unknown.0].concat()
}

fn resource(kind: &str) -> ResourceInfo {
    builtins().into_iter().find(|r| r.kind == kind).expect("a built-in kind")
}

/// ObjectMeta as Go writes it: every string, `generation`, and a zero `creationTimestamp`.
fn object_meta(name: &str, namespace: &str) -> Msg {
    Msg::default().str(1, name).str(2, "").str(3, namespace).str(4, "").str(5, "").str(6, "").int(7, 0).msg(8, Msg::default())
}

#[test]
fn a_configmap_with_data_and_binary_data() {
    let cm = Msg::default().msg(1, object_meta("c", "demo").map_entry(11, "app", b"web")).map_entry(2, "a", b"b").map_entry(
        3,
        "blob",
        &[0, 1, 2],
    );
    let json = decode(&resource("ConfigMap"), &envelope("v1", "ConfigMap", cm)).unwrap();
    assert_eq!(
        json,
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "demo", "creationTimestamp": null, "labels": {"app": "web"}},
            "data": {"a": "b"},
            "binaryData": {"blob": "AAEC"},
        })
    );
}

#[test]
fn a_pod_with_ports_resources_probes_and_volumes() {
    let port = Msg::default().str(1, "http").int(2, 0).int(3, 8080).str(4, "TCP").str(5, "");
    let quantity = |q: &str| Msg::default().str(1, q).0;
    let resources = Msg::default().map_entry(1, "cpu", &quantity("500m")).map_entry(2, "memory", &quantity("64Mi"));
    // Probe{handler: ProbeHandler{httpGet: {path, port: IntOrString "http"}}, initialDelaySeconds 0, timeoutSeconds 0, ...}
    let http_get = Msg::default().str(1, "/healthz").msg(2, Msg::default().int(1, 1).int(2, 0).str(3, "http")).str(3, "");
    let probe = Msg::default().msg(1, Msg::default().msg(2, http_get)).int(2, 0).int(3, 0).int(4, 0).int(5, 0).int(6, 0);
    let container = Msg::default()
        .str(1, "web")
        .str(2, "nginx:1.27")
        .str(5, "")
        .msg(6, port)
        .msg(8, resources)
        .msg(10, probe)
        .str(13, "")
        .str(14, "")
        .int(16, 0)
        .int(17, 0)
        .int(18, 0);
    // Volume{name, VolumeSource{emptyDir: {}}}: the empty struct is the whole point
    let volume = Msg::default().str(1, "scratch").msg(2, Msg::default().msg(2, Msg::default()));
    let spec = Msg::default()
        .msg(1, volume)
        .msg(2, container)
        .str(3, "Always")
        .int(4, 0) // terminationGracePeriodSeconds: a pointer, so 0 is meant
        .str(6, "")
        .int(11, 0); // hostNetwork false
    let pod = Msg::default().msg(1, object_meta("web", "default")).msg(2, spec).msg(3, Msg::default());
    let json = decode(&resource("Pod"), &envelope("v1", "Pod", pod)).unwrap();
    assert_eq!(
        json,
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "creationTimestamp": null},
            "spec": {
                "volumes": [{"name": "scratch", "emptyDir": {}}],
                "containers": [{
                    "name": "web",
                    "image": "nginx:1.27",
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                    "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}},
                    "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                }],
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 0,
            },
            "status": {},
        })
    );
}

#[test]
fn a_secret_keeps_its_bytes_as_base64() {
    let secret = Msg::default().msg(1, object_meta("s", "demo")).map_entry(2, "k", b"v").str(3, "Opaque");
    let json = decode(&resource("Secret"), &envelope("v1", "Secret", secret)).unwrap();
    assert_eq!(json["data"], json!({"k": "dg=="}));
    assert_eq!(json["type"], json!("Opaque"));
}

#[test]
fn the_kind_comes_from_the_envelope_or_else_the_url() {
    let ns = Msg::default().msg(1, object_meta("demo", ""));
    let body = [MAGIC.as_slice(), &Msg::default().msg(2, ns).0].concat();
    let json = decode(&resource("Namespace"), &body).unwrap();
    assert_eq!(json["apiVersion"], json!("v1"));
    assert_eq!(json["kind"], json!("Namespace"));
    assert_eq!(json["metadata"]["name"], json!("demo"));
}

fn bad_request_message(body: &[u8]) -> String {
    let err = decode(&resource("Pod"), body).unwrap_err();
    assert_eq!(err.code, 400, "{}", err.message);
    err.message
}

#[test]
fn garbage_after_the_magic_is_a_400() {
    let msg = bad_request_message(b"k8s\0\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff");
    assert_eq!(msg, "the object provided is unrecognized (must be of type Pod): proto: integer overflow (6b387300ffffffffffffffffffffff)");
    bad_request_message(b"k8s\0\x0a\x05ab");
    bad_request_message(b"k8s\0\x0b");
}

#[test]
fn a_body_without_the_magic_is_a_400() {
    let msg = bad_request_message(b"{\"kind\": \"Pod\"}");
    assert!(msg.contains("does not appear to be a protobuf message"), "{msg}");
}

#[test]
fn a_wrong_wire_type_inside_the_object_is_a_400() {
    // Pod.metadata sent as a varint
    let msg = bad_request_message(&envelope("v1", "Pod", Msg::default().int(1, 7)));
    assert!(msg.starts_with("Pod in version \"v1\" cannot be handled as a Pod: "), "{msg}");
    assert!(msg.contains("wrong wireType"), "{msg}");
}

#[test]
fn an_unknown_kind_is_a_400() {
    let msg = bad_request_message(&envelope("example.com/v1", "Widget", Msg::default()));
    assert!(msg.contains("no kind \"Widget\" is registered"), "{msg}");
}

#[test]
fn nesting_beyond_the_limit_is_a_400_not_a_stack_overflow() {
    // JSONSchemaProps.not (tag 28) nested a thousand times, in
    // spec (2) .versions[] (7) .schema (4) .openAPIV3Schema (1)
    let mut inner = Msg::default();
    for _ in 0..1000 {
        inner = Msg::default().msg(28, inner);
    }
    let crd = Msg::default().msg(2, Msg::default().msg(7, Msg::default().msg(4, Msg::default().msg(1, inner))));
    let mut res = resource("Pod");
    res.group = "apiextensions.k8s.io".into();
    res.kind = "CustomResourceDefinition".into();
    let err = decode(&res, &envelope("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd)).unwrap_err();
    assert_eq!(err.code, 400);
    assert!(err.message.contains("max depth"), "{}", err.message);
}

#[test]
fn custom_resources_have_no_protobuf_form() {
    let mut res = resource("Pod");
    res.schema = Some(json!({"type": "object"}));
    let err = decode(&res, &envelope("v1", "Pod", Msg::default())).unwrap_err();
    assert_eq!(err.code, 415);
}

#[test]
fn unknown_fields_of_newer_clients_are_skipped() {
    let ns = Msg::default().msg(1, object_meta("demo", "")).str(999, "from the future");
    let json: Value = decode(&resource("Namespace"), &envelope("v1", "Namespace", ns)).unwrap();
    assert_eq!(json["metadata"]["name"], json!("demo"));
    assert_eq!(json.as_object().unwrap().len(), 3);
}

#[test]
fn a_lease_with_micro_times() {
    // acquireTime 2023-11-14T22:13:20.000005Z; renewTime (a pointer) unset, so not written
    let acquired = Msg::default().int(1, 1_700_000_000).int(2, 5_000);
    let spec = Msg::default().str(1, "me").int(2, 15).msg(3, acquired).int(5, 0);
    let lease = Msg::default().msg(1, object_meta("leader", "kube-system")).msg(2, spec);
    let json = decode(&resource("Lease"), &envelope("coordination.k8s.io/v1", "Lease", lease)).unwrap();
    assert_eq!(
        json["spec"],
        json!({
            "holderIdentity": "me",
            "leaseDurationSeconds": 15,
            "acquireTime": "2023-11-14T22:13:20.000005Z",
            "leaseTransitions": 0,
        })
    );
}

#[test]
fn a_raw_extension_is_the_json_it_embeds() {
    let data = Msg::default().bytes(1, br#"{"spec":{"template":{"x":1}}}"#);
    let revision = Msg::default().msg(1, object_meta("web-1", "default")).msg(2, data).int(3, 3);
    let json = decode(&resource("ControllerRevision"), &envelope("apps/v1", "ControllerRevision", revision)).unwrap();
    assert_eq!(json["data"], json!({"spec": {"template": {"x": 1}}}));
    assert_eq!(json["revision"], json!(3));

    let broken = Msg::default().msg(2, Msg::default().bytes(1, b"{not json"));
    let err = decode(&resource("ControllerRevision"), &envelope("apps/v1", "ControllerRevision", broken)).unwrap_err();
    assert_eq!(err.code, 400);
    assert!(err.message.contains("embedded JSON"), "{}", err.message);
}
