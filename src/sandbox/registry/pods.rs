//! Pods: the defaults every pod spec gets (pods and the templates of workloads), the pod
//! strategy on create, and pod spec validation.

use super::strategy::{field_flag, field_text, keep, Strategy};
use serde_json::{json, Value};

use super::qos::pod_qos_class;
use super::validation::{dns1123_label, dns1123_subdomain, port_name, validate_labels};
use super::wire_shape::{ensure, CONTAINER_LISTS};
use crate::sandbox::status::FieldError;

/// `SetDefaults_Container`'s pull policy: a `:latest` (or untagged, undigested) image may
/// change under the same name, so it is always pulled; a pinned tag is pulled once.
pub fn default_pull_policy(image: &str) -> &'static str {
    let last = image.rsplit('/').next().unwrap_or(image);
    let (name, digest) = match last.split_once('@') {
        Some((n, _)) => (n, true),
        None => (last, false),
    };
    let tag = name.split_once(':').map(|(_, t)| t);
    match tag {
        Some("latest") => "Always",
        Some(_) => "IfNotPresent",
        None if digest || image.is_empty() => "IfNotPresent",
        None => "Always",
    }
}

fn default_probe(probe: &mut Value) {
    for (k, v) in [("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1), ("failureThreshold", 3)] {
        ensure(probe, k, json!(v));
    }
    default_handler(probe);
}

/// `httpGet` handlers default their path and scheme.
fn default_handler(handler: &mut Value) {
    if let Some(get) = handler.get_mut("httpGet").filter(|g| g.is_object()) {
        ensure(get, "path", json!("/"));
        ensure(get, "scheme", json!("HTTP"));
    }
}

fn default_container(c: &mut Value, host_network: bool) {
    let image = c.get("image").and_then(Value::as_str).unwrap_or_default().to_string();
    ensure(c, "imagePullPolicy", json!(default_pull_policy(&image)));
    ensure(c, "terminationMessagePath", json!("/dev/termination-log"));
    ensure(c, "terminationMessagePolicy", json!("File"));
    ensure(c, "resources", json!({}));
    if let Some(Value::Array(ports)) = c.get_mut("ports") {
        for p in ports {
            ensure(p, "protocol", json!("TCP"));
            if host_network {
                if let Some(cp) = p.get("containerPort").cloned() {
                    ensure(p, "hostPort", cp);
                }
            }
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(probe).filter(|p| p.is_object()) {
            default_probe(p);
        }
    }
    if let Some(lc) = c.get_mut("lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = lc.get_mut(hook) {
                default_handler(h);
            }
        }
    }
    if let Some(Value::Array(env)) = c.get_mut("env") {
        for e in env {
            if let Some(fr) = e.get_mut("valueFrom").and_then(|v| v.get_mut("fieldRef")) {
                ensure(fr, "apiVersion", json!("v1"));
            }
        }
    }
}

/// Volume sources whose files get mode 0644 (420) unless told otherwise.
const MODE_SOURCES: &[&str] = &["secret", "configMap", "downwardAPI", "projected"];

fn default_volume(v: &mut Value) {
    let Some(m) = v.as_object_mut() else { return };
    if m.len() == 1 && m.contains_key("name") {
        m.insert("emptyDir".into(), json!({}));
    }
    for src in MODE_SOURCES {
        if let Some(s) = m.get_mut(*src).filter(|s| s.is_object()) {
            ensure(s, "defaultMode", json!(420));
        }
    }
    if let Some(hp) = m.get_mut("hostPath").filter(|s| s.is_object()) {
        ensure(hp, "type", json!(""));
    }
}

/// `SetDefaults_PodSpec` and the defaults of its containers and volumes: what a pod and a
/// workload's pod template both get.
pub fn default_pod_spec(spec: &mut Value) {
    if !spec.is_object() {
        *spec = json!({});
    }
    ensure(spec, "dnsPolicy", json!("ClusterFirst"));
    ensure(spec, "restartPolicy", json!("Always"));
    ensure(spec, "terminationGracePeriodSeconds", json!(30));
    ensure(spec, "securityContext", json!({}));
    ensure(spec, "schedulerName", json!("default-scheduler"));
    let host_network = spec.get("hostNetwork").and_then(Value::as_bool).unwrap_or(false);
    for list in CONTAINER_LISTS {
        if let Some(Value::Array(cs)) = spec.get_mut(*list) {
            cs.iter_mut().for_each(|c| default_container(c, host_network));
        }
    }
    if let Some(Value::Array(vols)) = spec.get_mut("volumes") {
        vols.iter_mut().for_each(default_volume);
    }
}

/// `SetDefaults_Pod`: the pod-only defaults on top of the spec's. A container that sets a
/// limit but no request for a resource requests its limit.
pub fn default_pod(pod: &mut Value) {
    let spec = ensure(pod, "spec", json!({})).expect("pod is an object");
    default_pod_spec(spec);
    ensure(spec, "enableServiceLinks", json!(true));
    for list in ["initContainers", "containers"] {
        if let Some(Value::Array(cs)) = spec.get_mut(list) {
            for c in cs {
                let Some(res) = c.get_mut("resources") else { continue };
                let Some(limits) = res.get("limits").and_then(Value::as_object).cloned() else { continue };
                let requests = ensure(res, "requests", json!({})).expect("resources is an object");
                for (k, v) in limits {
                    ensure(requests, &k, v);
                }
            }
        }
    }
}

/// The pod strategy's `PrepareForCreate`: a new pod starts Pending with its QoS class;
/// whatever status the client sent is dropped.
pub fn prepare_create(pod: &mut Value) {
    let qos = pod_qos_class(pod.get("spec").unwrap_or(&Value::Null));
    if let Some(m) = pod.as_object_mut() {
        m.insert("status".into(), json!({"phase": "Pending", "qosClass": qos}));
    }
}

const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];
const DNS_POLICIES: &[&str] = &["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"];
const PULL_POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];
const TERMINATION_MESSAGE_POLICIES: &[&str] = &["File", "FallbackToLogsOnError"];
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const TOLERATION_OPERATORS: &[&str] = &["Equal", "Exists"];
const TAINT_EFFECTS: &[&str] = &["NoExecute", "NoSchedule", "PreferNoSchedule"];

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn validate_port_number(port: i64, path: &str, errs: &mut Vec<FieldError>) {
    if !(1..=65535).contains(&port) {
        errs.push(FieldError::invalid(path, &json!(port), "must be between 1 and 65535, inclusive"));
    }
}

fn validate_container_ports(c: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let mut names: Vec<&str> = Vec::new();
    for (i, p) in c.get("ports").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let pp = format!("{path}.ports[{i}]");
        let name = str_of(p, "name");
        if !name.is_empty() {
            for m in port_name(name) {
                errs.push(FieldError::invalid(format!("{pp}.name"), &json!(name), m));
            }
            if names.contains(&name) {
                errs.push(FieldError::duplicate(format!("{pp}.name"), &json!(name)));
            }
            names.push(name);
        }
        match p.get("containerPort").and_then(Value::as_i64).unwrap_or(0) {
            0 => errs.push(FieldError::required(format!("{pp}.containerPort"), "")),
            n => validate_port_number(n, &format!("{pp}.containerPort"), errs),
        }
        if let Some(hp) = p.get("hostPort").and_then(Value::as_i64).filter(|h| *h != 0) {
            validate_port_number(hp, &format!("{pp}.hostPort"), errs);
        }
        match str_of(p, "protocol") {
            "" => errs.push(FieldError::required(format!("{pp}.protocol"), "")),
            proto if !PROTOCOLS.contains(&proto) => {
                errs.push(FieldError::not_supported(format!("{pp}.protocol"), &json!(proto), PROTOCOLS))
            }
            _ => {}
        }
    }
}

/// One container: its name (an RFC 1123 label, unique in the pod), image, ports and
/// policies.
fn validate_container(c: &Value, path: &str, seen: &mut Vec<String>, errs: &mut Vec<FieldError>) {
    let name = str_of(c, "name");
    if name.is_empty() {
        errs.push(FieldError::required(format!("{path}.name"), ""));
    } else {
        for m in dns1123_label(name) {
            errs.push(FieldError::invalid(format!("{path}.name"), &json!(name), m));
        }
        if seen.iter().any(|s| s == name) {
            errs.push(FieldError::duplicate(format!("{path}.name"), &json!(name)));
        }
        seen.push(name.to_string());
    }
    if str_of(c, "image").trim().is_empty() {
        errs.push(FieldError::required(format!("{path}.image"), ""));
    }
    validate_container_ports(c, path, errs);
    let pull = str_of(c, "imagePullPolicy");
    if !pull.is_empty() && !PULL_POLICIES.contains(&pull) {
        errs.push(FieldError::not_supported(format!("{path}.imagePullPolicy"), &json!(pull), PULL_POLICIES));
    }
    let tmp = str_of(c, "terminationMessagePolicy");
    if !tmp.is_empty() && !TERMINATION_MESSAGE_POLICIES.contains(&tmp) {
        errs.push(FieldError::not_supported(format!("{path}.terminationMessagePolicy"), &json!(tmp), TERMINATION_MESSAGE_POLICIES));
    }
}

fn validate_tolerations(spec: &Value, path: &str, errs: &mut Vec<FieldError>) {
    for (i, t) in spec.get("tolerations").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let tp = format!("{path}.tolerations[{i}]");
        let op = str_of(t, "operator");
        if !op.is_empty() && !TOLERATION_OPERATORS.contains(&op) {
            errs.push(FieldError::not_supported(format!("{tp}.operator"), &json!(op), TOLERATION_OPERATORS));
        }
        if op == "Exists" && !str_of(t, "value").is_empty() {
            errs.push(FieldError::invalid(
                format!("{tp}.operator"),
                &json!(str_of(t, "value")),
                "value must be empty when `operator` is 'Exists'",
            ));
        }
        let effect = str_of(t, "effect");
        if !effect.is_empty() && !TAINT_EFFECTS.contains(&effect) {
            errs.push(FieldError::not_supported(format!("{tp}.effect"), &json!(effect), TAINT_EFFECTS));
        }
        if t.get("tolerationSeconds").is_some_and(|s| !s.is_null()) && effect != "NoExecute" {
            errs.push(FieldError::invalid(
                format!("{tp}.effect"),
                &json!(effect),
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
    }
}

/// `ValidatePodSpec` (the commonly hit rules), fields under `path` (`spec` for a pod,
/// `spec.template.spec` for a workload).
pub fn validate_pod_spec(spec: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut volume_names: Vec<&str> = Vec::new();
    for (i, v) in spec.get("volumes").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let name = str_of(v, "name");
        let np = format!("{path}.volumes[{i}].name");
        if name.is_empty() {
            errs.push(FieldError::required(np, ""));
            continue;
        }
        for m in dns1123_label(name) {
            errs.push(FieldError::invalid(&np, &json!(name), m));
        }
        if volume_names.contains(&name) {
            errs.push(FieldError::duplicate(&np, &json!(name)));
        }
        volume_names.push(name);
    }
    let mut names = Vec::new();
    let containers = spec.get("containers").and_then(Value::as_array).cloned().unwrap_or_default();
    if containers.is_empty() {
        errs.push(FieldError::required(format!("{path}.containers"), ""));
    }
    for (i, c) in containers.iter().enumerate() {
        validate_container(c, &format!("{path}.containers[{i}]"), &mut names, &mut errs);
    }
    for (i, c) in spec.get("initContainers").and_then(Value::as_array).into_iter().flatten().enumerate() {
        validate_container(c, &format!("{path}.initContainers[{i}]"), &mut names, &mut errs);
    }
    let restart = str_of(spec, "restartPolicy");
    if restart.is_empty() {
        errs.push(FieldError::required(format!("{path}.restartPolicy"), ""));
    } else if !RESTART_POLICIES.contains(&restart) {
        errs.push(FieldError::not_supported(format!("{path}.restartPolicy"), &json!(restart), RESTART_POLICIES));
    }
    let dns = str_of(spec, "dnsPolicy");
    if !dns.is_empty() && !DNS_POLICIES.contains(&dns) {
        errs.push(FieldError::not_supported(format!("{path}.dnsPolicy"), &json!(dns), DNS_POLICIES));
    }
    errs.extend(validate_labels(spec.get("nodeSelector"), &format!("{path}.nodeSelector")));
    for key in ["serviceAccountName", "nodeName"] {
        let v = str_of(spec, key);
        if !v.is_empty() {
            for m in dns1123_subdomain(v) {
                errs.push(FieldError::invalid(format!("{path}.{key}"), &json!(v), m));
            }
        }
    }
    if let Some(ads) = spec.get("activeDeadlineSeconds").and_then(Value::as_i64) {
        if !(1..=i64::from(i32::MAX)).contains(&ads) {
            errs.push(FieldError::invalid(
                format!("{path}.activeDeadlineSeconds"),
                &json!(ads),
                "must be between 1 and 2147483647, inclusive",
            ));
        }
    }
    validate_tolerations(spec, path, &mut errs);
    errs
}

/// The pod strategy (`pkg/registry/core/pod/strategy.go`).
pub struct PodStrategy;

impl Strategy for PodStrategy {
    fn defaults(&self, obj: &mut Value) {
        default_pod(obj);
    }
    fn tracks_generation(&self) -> bool {
        true
    }
    fn prepare_for_create(&self, obj: &mut Value) {
        prepare_create(obj);
    }
    fn admit_create(&self, obj: &mut Value) {
        super::pod_admission::admit_pod(obj);
    }
    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        validate_pod_spec(obj.get("spec").unwrap_or(&json!({})), "spec")
    }
    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        super::pod_update::validate_pod_update(old, new)
    }
    fn prepare_for_subresource_update(&self, subresource: &str, old: &Value, new: &mut Value) {
        if subresource != "status" {
            return;
        }
        keep(old, new, "spec");
        // the QoS class is decided once, at creation
        if let (Some(q), Some(status)) = (old.pointer("/status/qosClass").cloned(), new.get_mut("status").filter(|s| s.is_object())) {
            status["qosClass"] = q;
        }
    }
    /// A pod on a node gets its grace period (asked for, else the spec's), for its kubelet
    /// to stop the containers; one that never ran, or has finished, has nothing to wait for.
    fn graceful_delete(&self, obj: &Value, requested: Option<i64>) -> Option<i64> {
        let on_node = obj.pointer("/spec/nodeName").and_then(Value::as_str).is_some_and(|n| !n.is_empty());
        let finished = matches!(obj.pointer("/status/phase").and_then(Value::as_str), Some("Succeeded" | "Failed"));
        let spec_grace = obj.pointer("/spec/terminationGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(30);
        Some(if on_node && !finished { requested.unwrap_or(spec_grace).max(0) } else { 0 })
    }
    fn named_creater(&self, subresource: &str) -> Option<&dyn super::strategy::NamedCreater> {
        (subresource == "binding").then_some(&super::pod_binding::BindingRest as &dyn super::strategy::NamedCreater)
    }

    /// `pods/log` reads the kubelet's container logs; exec, attach and port-forward are
    /// refused, as no process runs.
    fn streamer(&self, subresource: &str) -> Option<&dyn super::SubresourceStreamer> {
        match subresource {
            "log" => Some(&super::pod_log::PodLog),
            "exec" => Some(&super::pod_connect::EXEC),
            "attach" => Some(&super::pod_connect::ATTACH),
            "portforward" => Some(&super::pod_connect::PORT_FORWARD),
            _ => None,
        }
    }
    fn selectable_fields(&self, obj: &Value) -> Vec<(&'static str, String)> {
        let text = |p: &str| field_text(obj, p);
        let ips: Vec<String> = obj
            .pointer("/status/podIPs")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|ip| field_text(ip, "/ip")).collect())
            .unwrap_or_default();
        vec![
            ("spec.nodeName", text("/spec/nodeName")),
            ("spec.restartPolicy", text("/spec/restartPolicy")),
            ("spec.schedulerName", text("/spec/schedulerName")),
            ("spec.serviceAccountName", text("/spec/serviceAccountName")),
            ("spec.hostNetwork", field_flag(obj, "/spec/hostNetwork")),
            ("status.phase", text("/status/phase")),
            ("status.podIP", text("/status/podIP")),
            ("status.podIPs", ips.join(",")),
            ("status.nominatedNodeName", text("/status/nominatedNodeName")),
        ]
    }
}

/// PodTemplates: a pod spec to stamp out, defaulted and validated as one.
pub struct PodTemplateStrategy;

impl Strategy for PodTemplateStrategy {
    fn defaults(&self, obj: &mut Value) {
        if let Some(spec) = obj.get_mut("template").and_then(|t| t.get_mut("spec")) {
            default_pod_spec(spec);
        }
    }
    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        validate_pod_spec(obj.pointer("/template/spec").unwrap_or(&json!({})), "template.spec")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::status::ApiError;

    #[test]
    fn pull_policy_follows_the_tag() {
        assert_eq!(default_pull_policy("nginx"), "Always");
        assert_eq!(default_pull_policy("nginx:latest"), "Always");
        assert_eq!(default_pull_policy("nginx:1.27"), "IfNotPresent");
        assert_eq!(default_pull_policy("localhost:5000/app"), "Always");
        assert_eq!(default_pull_policy("app@sha256:abc"), "IfNotPresent");
    }

    /// p03 `create`: the spec defaults of the 201 body.
    #[test]
    fn pod_defaults_match_the_corpus() {
        let mut pod = json!({"metadata": {"name": "web"}, "spec": {"containers": [{"image": "nginx:1.27", "name": "app"}]}});
        default_pod(&mut pod);
        prepare_create(&mut pod);
        assert_eq!(
            pod["spec"],
            json!({
                "containers": [{"image": "nginx:1.27", "name": "app", "imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "resources": {}}],
                "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "securityContext": {}, "schedulerName": "default-scheduler", "enableServiceLinks": true
            })
        );
        assert_eq!(pod["status"], json!({"phase": "Pending", "qosClass": "BestEffort"}));
    }

    #[test]
    fn limits_become_requests_and_make_the_pod_guaranteed() {
        let mut pod =
            json!({"spec": {"containers": [{"image": "x:1", "name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}});
        default_pod(&mut pod);
        prepare_create(&mut pod);
        assert_eq!(pod["spec"]["containers"][0]["resources"]["requests"], json!({"cpu": "1", "memory": "1Gi"}));
        assert_eq!(pod["status"]["qosClass"], "Guaranteed");
    }

    /// p09 `multiple-errors`, `no-image`, `no-containers`.
    #[test]
    fn pod_spec_errors_in_apiserver_order() {
        let spec = json!({"containers": [{"name": "A_B"}], "restartPolicy": "Sometimes", "dnsPolicy": "ClusterFirst"});
        let errs = validate_pod_spec(&spec, "spec");
        assert_eq!(
            ApiError::invalid("Pod", "multi", &errs).message,
            "Pod \"multi\" is invalid: [spec.containers[0].name: Invalid value: \"A_B\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?'), spec.containers[0].image: Required value, spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"]"
        );
        let errs = validate_pod_spec(&json!({"containers": [], "restartPolicy": "Always"}), "spec");
        assert_eq!(ApiError::invalid("Pod", "empty", &errs).message, "Pod \"empty\" is invalid: spec.containers: Required value");
    }

    #[test]
    fn duplicate_container_names_and_bad_ports() {
        let spec = json!({"restartPolicy": "Always", "containers": [
            {"name": "a", "image": "x", "ports": [{"containerPort": 70000, "protocol": "TCP"}]},
            {"name": "a", "image": "x"}]});
        let msgs: Vec<String> = validate_pod_spec(&spec, "spec").iter().map(|e| e.to_message()).collect();
        assert_eq!(
            msgs,
            vec![
                "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive".to_string(),
                "spec.containers[1].name: Duplicate value: \"a\"".to_string()
            ]
        );
    }
}
