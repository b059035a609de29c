//! Request bodies into stored objects, the way the apiserver's codec does it.
//!
//! The apiserver decodes a body into its Go struct and encodes that struct when it stores
//! or answers: fields it does not know vanish, and fields Go always writes appear. The
//! sandbox reproduces this with a round trip through the k8s-openapi struct of the kind
//! (generated from the same OpenAPI document), then [`super::wire_shape`] adds what Go's
//! encoder writes and k8s-openapi leaves out. Comparing the body with the round-tripped
//! value tells which fields were unknown, for `?fieldValidation=Strict|Warn`.

use k8s_openapi::api::{
    admissionregistration::v1 as admissionregistration, apps::v1 as apps, autoscaling::v1 as autoscaling_v1,
    autoscaling::v2 as autoscaling_v2, batch::v1 as batch, certificates::v1 as certificates, coordination::v1 as coordination,
    core::v1 as core, discovery::v1 as discovery, events::v1 as events, flowcontrol::v1 as flowcontrol, networking::v1 as networking,
    node::v1 as node, policy::v1 as policy, rbac::v1 as rbac, resource::v1 as resource, scheduling::v1 as scheduling,
    storage::v1 as storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1 as apiregistration;
use serde::{de::DeserializeOwned, Serialize};
use serde_json::{Map, Value};

use super::wire_shape;
use crate::sandbox::resources::ResourceInfo;
use crate::sandbox::status::ApiError;

/// Built-in kinds the sandbox has a typed struct for. Custom resources (and anything else)
/// are stored as sent.
const TYPED_KINDS: &[(&str, &str)] = &[
    ("", "ConfigMap"),
    ("", "Endpoints"),
    ("", "Event"),
    ("", "LimitRange"),
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolumeClaim"),
    ("", "PersistentVolume"),
    ("", "Pod"),
    ("", "PodTemplate"),
    ("", "ReplicationController"),
    ("", "ResourceQuota"),
    ("", "Secret"),
    ("", "ServiceAccount"),
    ("", "Service"),
    ("apps", "ControllerRevision"),
    ("apps", "DaemonSet"),
    ("apps", "Deployment"),
    ("apps", "ReplicaSet"),
    ("apps", "StatefulSet"),
    ("coordination.k8s.io", "Lease"),
    ("events.k8s.io", "Event"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("batch", "CronJob"),
    ("batch", "Job"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("discovery.k8s.io", "EndpointSlice"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("networking.k8s.io", "IPAddress"),
    ("networking.k8s.io", "Ingress"),
    ("networking.k8s.io", "IngressClass"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("networking.k8s.io", "ServiceCIDR"),
    ("node.k8s.io", "RuntimeClass"),
    ("policy", "PodDisruptionBudget"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io", "Role"),
    ("rbac.authorization.k8s.io", "RoleBinding"),
    ("resource.k8s.io", "DeviceClass"),
    ("resource.k8s.io", "ResourceClaim"),
    ("resource.k8s.io", "ResourceClaimTemplate"),
    ("resource.k8s.io", "ResourceSlice"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "CSIStorageCapacity"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("storage.k8s.io", "VolumeAttributesClass"),
];

/// True for the built-in kinds whose bodies are decoded through a typed struct.
pub fn is_typed(res: &ResourceInfo) -> bool {
    TYPED_KINDS.iter().any(|(g, k)| *g == res.group && *k == res.kind)
}

/// Every kind the scheme knows, with its Go package: what a wrong `kind` in a body is
/// converted from (`v1.Service`), and into (`core.Pod`, `apps.Deployment`).
fn go_internal_package(group: &str) -> &str {
    match group {
        "" => "core",
        "coordination.k8s.io" => "coordination",
        "events.k8s.io" => "events",
        g => g.split('.').next().unwrap_or(g),
    }
}

/// `Pod in version "v1" cannot be handled as a Pod: <why>`: how every decode error starts.
fn cannot_handle(body_kind: &str, gv: &str, res: &ResourceInfo, why: &str) -> ApiError {
    ApiError::bad_request(format!("{body_kind} in version \"{gv}\" cannot be handled as a {}: {why}", res.kind))
}

/// Decodes `body` into the stored form of `res` and lists the fields that were dropped as
/// unknown, as paths like `spec.containers[0].foo`.
pub fn decode(res: &ResourceInfo, body: Value) -> Result<(Value, Vec<String>), ApiError> {
    let Value::Object(mut map) = body else {
        let found = go_json_type(&body);
        return Err(ApiError::bad_request(format!(
            "the object provided is unrecognized (must be of type {}): couldn't get version/kind; json parse error: json: cannot unmarshal {found} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}",
            res.kind
        )));
    };
    let body_kind = map.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
    let body_gv =
        map.get("apiVersion").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string).unwrap_or_else(|| res.api_version());
    let typed = is_typed(res);
    if typed && !body_kind.is_empty() && body_kind != res.kind {
        let version = body_gv.rsplit('/').next().unwrap_or("v1").to_string();
        let known = TYPED_KINDS.iter().any(|(_, k)| *k == body_kind);
        let why = if known {
            format!("converting ({version}.{body_kind}) to ({}.{}): unknown conversion", go_internal_package(&res.group), res.kind)
        } else {
            return Err(ApiError::bad_request(format!(
                "no kind \"{body_kind}\" is registered for version \"{body_gv}\" in scheme \"pkg/api/legacyscheme/scheme.go:30\""
            )));
        };
        return Err(cannot_handle(&body_kind, &body_gv, res, &why));
    }
    map.insert("apiVersion".into(), Value::String(res.api_version()));
    map.insert("kind".into(), Value::String(res.kind.clone()));
    if !typed {
        let mut obj = Value::Object(map);
        // A custom resource loses what its schema does not declare; those paths are its
        // unknown fields (`fieldValidation`).
        let pruned = res.schema.as_ref().map(|s| crate::sandbox::apiextensions::schema::prune(s, &mut obj)).unwrap_or_default();
        return Ok((obj, pruned));
    }
    if res.group.is_empty() && res.kind == "Secret" {
        merge_string_data(&mut map)
            .map_err(|byte| cannot_handle("Secret", &body_gv, res, &format!("illegal base64 data at input byte {byte}")))?;
    }
    let input = Value::Object(map);
    let mut out = round_trip(res, &input).map_err(|why| cannot_handle(&res.kind, &body_gv, res, &why))?;
    let mut unknown = Vec::new();
    unknown_fields(&input, &out, "", &mut unknown);
    wire_shape::prune_empty(&mut out);
    wire_shape::fill_go_zero_values(res, &mut out);
    Ok((out, unknown))
}

/// The typed round trip of `value` as `res`'s struct; the error is Go's json message.
pub fn round_trip(res: &ResourceInfo, value: &Value) -> Result<Value, String> {
    match (res.group.as_str(), res.kind.as_str()) {
        ("", "ConfigMap") => typed::<core::ConfigMap>(res, value),
        ("", "Endpoints") => typed::<core::Endpoints>(res, value),
        ("", "Event") => typed::<core::Event>(res, value),
        ("", "LimitRange") => typed::<core::LimitRange>(res, value),
        ("", "Namespace") => typed::<core::Namespace>(res, value),
        ("", "Node") => typed::<core::Node>(res, value),
        ("", "PersistentVolumeClaim") => typed::<core::PersistentVolumeClaim>(res, value),
        ("", "PersistentVolume") => typed::<core::PersistentVolume>(res, value),
        ("", "Pod") => typed::<core::Pod>(res, value),
        ("", "PodTemplate") => typed::<core::PodTemplate>(res, value),
        ("", "ReplicationController") => typed::<core::ReplicationController>(res, value),
        ("", "ResourceQuota") => typed::<core::ResourceQuota>(res, value),
        ("", "Secret") => typed::<core::Secret>(res, value),
        ("", "ServiceAccount") => typed::<core::ServiceAccount>(res, value),
        ("", "Service") => typed::<core::Service>(res, value),
        ("apps", "ControllerRevision") => typed::<apps::ControllerRevision>(res, value),
        ("apps", "DaemonSet") => typed::<apps::DaemonSet>(res, value),
        ("apps", "Deployment") => typed::<apps::Deployment>(res, value),
        ("apps", "ReplicaSet") => typed::<apps::ReplicaSet>(res, value),
        ("apps", "StatefulSet") => typed::<apps::StatefulSet>(res, value),
        ("coordination.k8s.io", "Lease") => typed::<coordination::Lease>(res, value),
        ("events.k8s.io", "Event") => typed::<events::Event>(res, value),
        // Both autoscaling versions are typed, each as its own struct.
        ("autoscaling", "HorizontalPodAutoscaler") if res.version == "v1" => typed::<autoscaling_v1::HorizontalPodAutoscaler>(res, value),
        ("autoscaling", "HorizontalPodAutoscaler") => typed::<autoscaling_v2::HorizontalPodAutoscaler>(res, value),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration") => {
            typed::<admissionregistration::MutatingWebhookConfiguration>(res, value)
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy") => {
            typed::<admissionregistration::ValidatingAdmissionPolicy>(res, value)
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding") => {
            typed::<admissionregistration::ValidatingAdmissionPolicyBinding>(res, value)
        }
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration") => {
            typed::<admissionregistration::ValidatingWebhookConfiguration>(res, value)
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => typed::<apiextensions::CustomResourceDefinition>(res, value),
        ("apiregistration.k8s.io", "APIService") => typed::<apiregistration::APIService>(res, value),
        ("batch", "CronJob") => typed::<batch::CronJob>(res, value),
        ("batch", "Job") => typed::<batch::Job>(res, value),
        ("certificates.k8s.io", "CertificateSigningRequest") => typed::<certificates::CertificateSigningRequest>(res, value),
        ("discovery.k8s.io", "EndpointSlice") => typed::<discovery::EndpointSlice>(res, value),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema") => typed::<flowcontrol::FlowSchema>(res, value),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration") => typed::<flowcontrol::PriorityLevelConfiguration>(res, value),
        ("networking.k8s.io", "IPAddress") => typed::<networking::IPAddress>(res, value),
        ("networking.k8s.io", "Ingress") => typed::<networking::Ingress>(res, value),
        ("networking.k8s.io", "IngressClass") => typed::<networking::IngressClass>(res, value),
        ("networking.k8s.io", "NetworkPolicy") => typed::<networking::NetworkPolicy>(res, value),
        ("networking.k8s.io", "ServiceCIDR") => typed::<networking::ServiceCIDR>(res, value),
        ("node.k8s.io", "RuntimeClass") => typed::<node::RuntimeClass>(res, value),
        ("policy", "PodDisruptionBudget") => typed::<policy::PodDisruptionBudget>(res, value),
        ("rbac.authorization.k8s.io", "ClusterRole") => typed::<rbac::ClusterRole>(res, value),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => typed::<rbac::ClusterRoleBinding>(res, value),
        ("rbac.authorization.k8s.io", "Role") => typed::<rbac::Role>(res, value),
        ("rbac.authorization.k8s.io", "RoleBinding") => typed::<rbac::RoleBinding>(res, value),
        ("resource.k8s.io", "DeviceClass") => typed::<resource::DeviceClass>(res, value),
        ("resource.k8s.io", "ResourceClaim") => typed::<resource::ResourceClaim>(res, value),
        ("resource.k8s.io", "ResourceClaimTemplate") => typed::<resource::ResourceClaimTemplate>(res, value),
        ("resource.k8s.io", "ResourceSlice") => typed::<resource::ResourceSlice>(res, value),
        ("scheduling.k8s.io", "PriorityClass") => typed::<scheduling::PriorityClass>(res, value),
        ("storage.k8s.io", "CSIDriver") => typed::<storage::CSIDriver>(res, value),
        ("storage.k8s.io", "CSINode") => typed::<storage::CSINode>(res, value),
        ("storage.k8s.io", "CSIStorageCapacity") => typed::<storage::CSIStorageCapacity>(res, value),
        ("storage.k8s.io", "StorageClass") => typed::<storage::StorageClass>(res, value),
        ("storage.k8s.io", "VolumeAttachment") => typed::<storage::VolumeAttachment>(res, value),
        ("storage.k8s.io", "VolumeAttributesClass") => typed::<storage::VolumeAttributesClass>(res, value),
        _ => Ok(value.clone()),
    }
}

fn typed<T: DeserializeOwned + Serialize>(res: &ResourceInfo, value: &Value) -> Result<Value, String> {
    let parse = |v: &Value| serde_json::from_value::<T>(v.clone());
    match parse(value) {
        Ok(obj) => serde_json::to_value(obj).map_err(|e| e.to_string()),
        Err(err) => Err(type_error_message(res, value, &err.to_string(), &|v| parse(v).is_ok())),
    }
}

/// One step of a path into a JSON value.
#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn child_mut<'a>(v: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    let mut cur = v;
    for s in path {
        cur = match s {
            Seg::Key(k) => cur.get_mut(k.as_str())?,
            Seg::Index(i) => cur.get_mut(*i)?,
        };
    }
    Some(cur)
}

/// Finds the value a typed decode chokes on: walks down while removing one child makes the
/// whole body decode, so the path ends at the first badly typed field.
fn locate_bad_value(value: &Value, decodes: &dyn Fn(&Value) -> bool) -> Vec<Seg> {
    let mut path = Vec::new();
    loop {
        let mut root = value.clone();
        let Some(node) = child_mut(&mut root, &path) else { return path };
        let children: Vec<Seg> = match node {
            Value::Object(m) => m.keys().map(|k| Seg::Key(k.clone())).collect(),
            Value::Array(a) => (0..a.len()).map(Seg::Index).collect(),
            _ => return path,
        };
        let culprit = children.into_iter().find(|c| {
            let mut trial = value.clone();
            match (child_mut(&mut trial, &path), c) {
                (Some(Value::Object(m)), Seg::Key(k)) => {
                    m.remove(k);
                }
                (Some(Value::Array(a)), Seg::Index(i)) => {
                    a.remove(*i);
                }
                _ => return false,
            }
            decodes(&trial)
        });
        match culprit {
            Some(c) => path.push(c),
            None => return path,
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

/// The Go struct a field path lives in, guessed from the path (`spec.containers` is in
/// `PodSpec`, `spec.containers[0].name` in `Container`).
fn go_parent_struct(kind: &str, keys: &[&str]) -> String {
    match keys {
        [] | [_] => kind.to_string(),
        [first, _] if *first == "spec" || *first == "status" => format!("{kind}{}", capitalize(first)),
        _ => {
            let parent = keys[keys.len() - 2];
            match parent {
                "metadata" => "ObjectMeta".into(),
                "template" => "PodTemplateSpec".into(),
                "selector" => "LabelSelector".into(),
                "spec" => "PodSpec".into(),
                "env" => "EnvVar".into(),
                "ports" if keys.contains(&"containers") => "ContainerPort".into(),
                "ports" => "ServicePort".into(),
                p => capitalize(p.strip_suffix('s').unwrap_or(p)),
            }
        }
    }
}

/// Go's name of the type serde expected (`a sequence` -> `[]v1.Container`).
fn go_type_name(expected: &str, field: &str) -> String {
    let element = || capitalize(field.strip_suffix('s').unwrap_or(field));
    match expected {
        "a string" => "string".into(),
        "a boolean" => "bool".into(),
        "i32" => "int32".into(),
        "i64" => "int64".into(),
        "f64" => "float64".into(),
        "a map" => "map[string]string".into(),
        "a sequence" if matches!(field, "args" | "command" | "finalizers") => "[]string".into(),
        "a sequence" => format!("[]v1.{}", element()),
        other => format!("v1.{}", other.trim_start_matches("struct ")),
    }
}

/// How Go's encoding/json names the type of a JSON value in its errors
/// (`json: cannot unmarshal <type> into ...`).
pub fn go_json_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    }
}

/// `json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type
/// []v1.Container`, as close as the serde error and the located field allow.
fn type_error_message(res: &ResourceInfo, value: &Value, serde_msg: &str, decodes: &dyn Fn(&Value) -> bool) -> String {
    let path = locate_bad_value(value, decodes);
    let keys: Vec<&str> = path.iter().filter_map(|s| if let Seg::Key(k) = s { Some(k.as_str()) } else { None }).collect();
    let mut bad = value.clone();
    let bad = child_mut(&mut bad, &path).cloned().unwrap_or(Value::Null);
    let expected = serde_msg.split(", expected ").nth(1).map(|s| s.split(" at line").next().unwrap_or(s).trim()).unwrap_or("");
    if keys.is_empty() || expected.is_empty() {
        return format!("json: {serde_msg}");
    }
    let field = keys.last().copied().unwrap_or_default();
    format!(
        "json: cannot unmarshal {} into Go struct field {}.{} of type {}",
        go_json_type(&bad),
        go_parent_struct(&res.kind, &keys),
        keys.join("."),
        go_type_name(expected, field)
    )
}

/// Fields of `input` that the round trip dropped (null values carry no field and are not
/// reported). Paths are written `spec.containers[0].foo`.
pub fn unknown_fields(input: &Value, out: &Value, prefix: &str, found: &mut Vec<String>) {
    match (input, out) {
        (Value::Object(i), Value::Object(o)) => {
            for (k, v) in i {
                let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                match o.get(k) {
                    None if !v.is_null() => found.push(path),
                    Some(ov) => unknown_fields(v, ov, &path, found),
                    None => {}
                }
            }
        }
        (Value::Array(i), Value::Array(o)) => {
            for (n, (iv, ov)) in i.iter().zip(o).enumerate() {
                unknown_fields(iv, ov, &format!("{prefix}[{n}]"), found);
            }
        }
        _ => {}
    }
}

/// The byte offset Go's `base64.StdEncoding` reports for malformed input, or `None` when
/// the text decodes. (Go skips `\r` and `\n`, requires padding, and points at the bad
/// character, or at the start of an unfinished quantum.)
pub fn go_base64_error(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let is_b64 = |c: u8| c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
    let next_significant = |from: usize| (from..b.len()).find(|&k| b[k] != b'\r' && b[k] != b'\n');
    let (mut i, mut j, mut quantum_start) = (0usize, 0usize, 0usize);
    while i < b.len() {
        let c = b[i];
        if c == b'\r' || c == b'\n' {
            i += 1;
            continue;
        }
        if j == 0 {
            quantum_start = i;
        }
        if c == b'=' {
            if j < 2 {
                return Some(i);
            }
            if j == 2 {
                match next_significant(i + 1) {
                    None => return Some(b.len()),
                    Some(k) if b[k] != b'=' => return Some(k),
                    Some(k) => i = k,
                }
            }
            return next_significant(i + 1);
        }
        if !is_b64(c) {
            return Some(i);
        }
        j = (j + 1) % 4;
        i += 1;
    }
    if j != 0 {
        return Some(quantum_start);
    }
    None
}

/// A Secret's `stringData` is write-only convenience: its entries are base64-encoded into
/// `data` (winning over the same key there) and the field disappears. The `data` values are
/// checked first, so a bad one is reported with Go's offset.
fn merge_string_data(map: &mut Map<String, Value>) -> Result<(), usize> {
    use base64::Engine;
    if let Some(Value::Object(data)) = map.get("data") {
        for v in data.values() {
            if let Some(byte) = v.as_str().and_then(go_base64_error) {
                return Err(byte);
            }
        }
    }
    let Some(Value::Object(string_data)) = map.remove("stringData") else { return Ok(()) };
    if string_data.is_empty() {
        return Ok(());
    }
    let data = map.entry("data").or_insert_with(|| Value::Object(Map::new()));
    if !data.is_object() {
        *data = Value::Object(Map::new());
    }
    let data = data.as_object_mut().expect("data was just made an object");
    for (k, v) in string_data {
        let text = v.as_str().unwrap_or_default();
        data.insert(k, Value::String(base64::engine::general_purpose::STANDARD.encode(text)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::resources::builtins;
    use serde_json::json;

    fn res(group: &str, kind: &str) -> ResourceInfo {
        builtins().into_iter().find(|r| r.group == group && r.kind == kind).unwrap()
    }

    /// p10 `wrong-kind-in-body`.
    #[test]
    fn wrong_kind_is_an_unknown_conversion() {
        let err = decode(&res("", "Pod"), json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}})).unwrap_err();
        assert_eq!(err.code, 400);
        assert_eq!(
            err.message,
            "Service in version \"v1\" cannot be handled as a Pod: converting (v1.Service) to (core.Pod): unknown conversion"
        );
    }

    /// p18 `secret-bad-base64`.
    #[test]
    fn bad_base64_in_secret() {
        let err = decode(
            &res("", "Secret"),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "badb64"}, "data": {"x": "not base64!!"}}),
        )
        .unwrap_err();
        assert_eq!(err.message, "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at input byte 3");
        assert_eq!(go_base64_error("YWJjMTIz"), None);
        assert_eq!(go_base64_error("YWRtaW4="), None);
        assert_eq!(go_base64_error("YWRtaW4"), Some(4));
    }

    /// p18 `secret-stringdata`: merged into `data`, base64-encoded.
    #[test]
    fn string_data_is_merged_into_data() {
        let (obj, unknown) = decode(
            &res("", "Secret"),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "plain"}, "stringData": {"token": "abc123"}}),
        )
        .unwrap();
        assert_eq!(obj["data"], json!({"token": "YWJjMTIz"}));
        assert!(obj.get("stringData").is_none());
        assert!(unknown.is_empty());
    }

    #[test]
    fn unknown_fields_are_dropped_and_reported() {
        let body = json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"x": 1, "containers": [{"name": "a", "image": "nginx", "foo": "bar", "resources": {}}]}});
        let (obj, unknown) = decode(&res("", "Pod"), body).unwrap();
        assert_eq!(unknown, vec!["spec.x".to_string(), "spec.containers[0].foo".to_string()]);
        assert!(obj["spec"].get("x").is_none());
        assert_eq!(obj["spec"]["containers"][0]["resources"], json!({}));
        assert_eq!(obj["apiVersion"], "v1");
    }

    #[test]
    fn body_without_kind_is_accepted() {
        let (obj, _) = decode(&res("", "ConfigMap"), json!({"metadata": {"name": "c"}, "data": {"a": "b"}})).unwrap();
        assert_eq!(obj, json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}, "metadata": {"name": "c"}}));
    }

    #[test]
    fn type_errors_name_the_go_field() {
        let err = decode(&res("", "Pod"), json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": "nginx"}})).unwrap_err();
        assert_eq!(err.code, 400);
        assert_eq!(
            err.message,
            "Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type []v1.Container"
        );
    }

    #[test]
    fn type_errors_deeper_in_a_container() {
        let err =
            decode(&res("", "Pod"), json!({"spec": {"containers": [{"name": "a", "image": "x", "env": [{"name": "A", "value": 5}]}]}}))
                .unwrap_err();
        assert_eq!(
            err.message,
            "Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal number into Go struct field EnvVar.spec.containers.env.value of type string"
        );
    }

    #[test]
    fn custom_resources_are_kept_as_sent() {
        let mut book = res("", "ConfigMap");
        book.group = "example.com".into();
        book.kind = "Book".into();
        let (obj, unknown) = decode(&book, json!({"metadata": {"name": "b"}, "spec": {"anything": 1}})).unwrap();
        assert_eq!(obj["spec"]["anything"], 1);
        assert_eq!(obj["apiVersion"], "example.com/v1");
        assert!(unknown.is_empty());
    }
}
