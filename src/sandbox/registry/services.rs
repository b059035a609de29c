//! Services: defaults (ClusterIP, TCP ports targeting themselves, the IP family fields),
//! validation, and what an update keeps from the stored service (its allocated IP and node
//! ports, which a client re-sending its manifest does not know).

use std::net::IpAddr;
use std::sync::Mutex;

use serde_json::{json, Value};

use super::allocators::Allocators;
use super::strategy::Strategy;
use super::validation::{dns1123_label, dns1123_subdomain, port_name, validate_labels};
use super::wire_shape::ensure;
use crate::sandbox::status::FieldError;

const TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const AFFINITIES: &[&str] = &["ClientIP", "None"];

fn spec_str<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj.get("spec").and_then(|s| s.get(key)).and_then(Value::as_str).unwrap_or_default()
}

/// True for the types that open a port on every node.
pub fn uses_node_ports(ty: &str) -> bool {
    ty == "NodePort" || ty == "LoadBalancer"
}

/// `SetDefaults_Service`.
pub fn default_service(obj: &mut Value) {
    let Some(spec) = ensure(obj, "spec", json!({})) else { return };
    ensure(spec, "type", json!("ClusterIP"));
    ensure(spec, "sessionAffinity", json!("None"));
    if spec["sessionAffinity"] == "ClientIP" {
        let cfg = ensure(spec, "sessionAffinityConfig", json!({})).expect("object");
        let ip = ensure(cfg, "clientIP", json!({})).expect("object");
        ensure(ip, "timeoutSeconds", json!(10800));
    }
    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
        for p in ports {
            ensure(p, "protocol", json!("TCP"));
            let unset = match p.get("targetPort") {
                None | Some(Value::Null) => true,
                Some(Value::Number(n)) => n.as_i64() == Some(0),
                Some(Value::String(s)) => s.is_empty(),
                _ => false,
            };
            if unset {
                if let Some(port) = p.get("port").cloned() {
                    p["targetPort"] = port;
                }
            }
        }
    }
    let ty = spec["type"].as_str().unwrap_or_default().to_string();
    if uses_node_ports(&ty) {
        ensure(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        ensure(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    if ty != "ExternalName" {
        ensure(spec, "internalTrafficPolicy", json!("Cluster"));
    }
}

/// `clusterIPs` mirroring a lone `clusterIP`: the service REST layer's normalisation, after
/// the field manager has seen the client's object.
fn mirror_cluster_ip(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else { return };
    let ip = spec.get("clusterIP").and_then(Value::as_str).unwrap_or_default().to_string();
    if !ip.is_empty() && spec.get("clusterIPs").and_then(Value::as_array).is_none_or(|a| a.is_empty()) {
        spec["clusterIPs"] = json!([ip]);
    }
}

/// The service REST layer on create: a single-stack IPv4 cluster gives every non-external
/// service the IPv4 family (a selector-less headless service asks for dual stack, which
/// this cluster satisfies with its one family). A new service has no status.
pub fn prepare_create(obj: &mut Value) {
    mirror_cluster_ip(obj);
    let ty = spec_str(obj, "type").to_string();
    let headless = spec_str(obj, "clusterIP") == "None";
    let has_selector = obj.pointer("/spec/selector").and_then(Value::as_object).is_some_and(|m| !m.is_empty());
    if ty != "ExternalName" {
        let spec = ensure(obj, "spec", json!({})).expect("object");
        let policy = if headless && !has_selector { "RequireDualStack" } else { "SingleStack" };
        ensure(spec, "ipFamilyPolicy", json!(policy));
        ensure(spec, "ipFamilies", json!(["IPv4"]));
    }
    if let Some(m) = obj.as_object_mut() {
        m.insert("status".into(), json!({"loadBalancer": {}}));
    }
}

/// `PrepareForUpdate` of the main resource: a service re-sent without its allocated
/// `clusterIP`, node ports or IP families keeps the stored ones (the REST layer's
/// `patchAllocatedValues`).
pub fn keep_allocated(old: &Value, new: &mut Value) {
    let (old_ty, new_ty) = (spec_str(old, "type").to_string(), spec_str(new, "type").to_string());
    let Some(os) = old.get("spec").cloned() else { return };
    let Some(ns) = new.get_mut("spec").filter(|s| s.is_object()) else { return };
    if new_ty != "ExternalName" && old_ty != "ExternalName" {
        for key in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            let missing = match ns.get(key) {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) => s.is_empty(),
                Some(Value::Array(a)) => a.is_empty(),
                _ => false,
            };
            if missing {
                if let Some(v) = os.get(key) {
                    ns[key] = v.clone();
                }
            }
        }
    }
    if uses_node_ports(&new_ty) {
        let old_ports = os.get("ports").and_then(Value::as_array).cloned().unwrap_or_default();
        if let Some(Value::Array(ports)) = ns.get_mut("ports") {
            for p in ports.iter_mut().filter(|p| p.get("nodePort").and_then(Value::as_i64).unwrap_or(0) == 0) {
                let same = old_ports.iter().find(|o| o.get("port") == p.get("port") && o.get("protocol") == p.get("protocol"));
                if let Some(np) = same.and_then(|o| o.get("nodePort")).filter(|n| n.as_i64().unwrap_or(0) != 0) {
                    p["nodePort"] = np.clone();
                }
            }
        }
        if ns.get("healthCheckNodePort").is_none() {
            if let Some(h) = os.get("healthCheckNodePort") {
                ns["healthCheckNodePort"] = h.clone();
            }
        }
    }
}

fn validate_port_range(v: &Value, path: String, errs: &mut Vec<FieldError>) {
    let n = v.as_i64().unwrap_or(0);
    if !(1..=65535).contains(&n) {
        errs.push(FieldError::invalid(path, v, "must be between 1 and 65535, inclusive"));
    }
}

/// `ValidateService`, without metadata (checked by the caller).
pub fn validate_service(obj: &Value) -> Vec<FieldError> {
    let spec = obj.get("spec").cloned().unwrap_or(json!({}));
    let mut errs = Vec::new();
    let ty = spec.get("type").and_then(Value::as_str).unwrap_or_default();
    let ports = spec.get("ports").and_then(Value::as_array).cloned().unwrap_or_default();
    if ty != "ExternalName" && ports.is_empty() {
        errs.push(FieldError::required("spec.ports", ""));
    }
    let mut names: Vec<&str> = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let pp = format!("spec.ports[{i}]");
        let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
        if name.is_empty() {
            if ports.len() > 1 {
                errs.push(FieldError::required(format!("{pp}.name"), ""));
            }
        } else {
            for m in dns1123_label(name) {
                errs.push(FieldError::invalid(format!("{pp}.name"), &json!(name), m));
            }
            if names.contains(&name) {
                errs.push(FieldError::duplicate(format!("{pp}.name"), &json!(name)));
            }
            names.push(name);
        }
        validate_port_range(p.get("port").unwrap_or(&json!(0)), format!("{pp}.port"), &mut errs);
        let proto = p.get("protocol").and_then(Value::as_str).unwrap_or_default();
        if !PROTOCOLS.contains(&proto) {
            errs.push(FieldError::not_supported(format!("{pp}.protocol"), &json!(proto), PROTOCOLS));
        }
        match p.get("targetPort") {
            Some(Value::String(s)) => {
                for m in port_name(s) {
                    errs.push(FieldError::invalid(format!("{pp}.targetPort"), &json!(s), m));
                }
            }
            Some(v @ Value::Number(_)) => validate_port_range(v, format!("{pp}.targetPort"), &mut errs),
            _ => {}
        }
        if ty == "ClusterIP" && p.get("nodePort").and_then(Value::as_i64).unwrap_or(0) != 0 {
            errs.push(FieldError::forbidden(format!("{pp}.nodePort"), "may not be used when `type` is 'ClusterIP'"));
        }
    }
    if !TYPES.contains(&ty) {
        errs.push(FieldError::not_supported("spec.type", &json!(ty), TYPES));
    }
    let affinity = spec.get("sessionAffinity").and_then(Value::as_str).unwrap_or_default();
    if !AFFINITIES.contains(&affinity) {
        errs.push(FieldError::not_supported("spec.sessionAffinity", &json!(affinity), AFFINITIES));
    }
    let ips: Vec<&str> =
        spec.get("clusterIPs").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    for (i, ip) in ips.iter().enumerate() {
        let path = format!("spec.clusterIPs[{i}]");
        if *ip == "None" {
            if i == 0 && uses_node_ports(ty) {
                errs.push(FieldError::invalid(&path, &json!(ip), format!("may not be set to 'None' for {ty} services")));
            }
        } else if ip.parse::<IpAddr>().is_err() {
            errs.push(FieldError::invalid(&path, &json!(ip), "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"));
        }
    }
    if let (Some(first), Some(ip)) = (ips.first(), spec.get("clusterIP").and_then(Value::as_str)) {
        if !ip.is_empty() && ip != *first {
            errs.push(FieldError::invalid("spec.clusterIPs", &json!(ips), "must be consistent with `spec.clusterIP`"));
        }
    }
    if ty == "ExternalName" {
        let ext = spec.get("externalName").and_then(Value::as_str).unwrap_or_default();
        if ext.is_empty() {
            errs.push(FieldError::required("spec.externalName", ""));
        } else {
            for m in dns1123_subdomain(ext.trim_end_matches('.')) {
                errs.push(FieldError::invalid("spec.externalName", &json!(ext), m));
            }
        }
        if !ips.is_empty() {
            errs.push(FieldError::forbidden("spec.clusterIPs", "may not be set for ExternalName services"));
        }
    }
    errs.extend(validate_labels(spec.get("selector"), "spec.selector"));
    errs
}

/// `ValidateServiceUpdate`: the rules of create, and an allocated cluster IP stays.
pub fn validate_service_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = validate_service(new);
    let first = |v: &Value| v.pointer("/spec/clusterIPs/0").and_then(Value::as_str).map(str::to_string);
    let both_internal = spec_str(old, "type") != "ExternalName" && spec_str(new, "type") != "ExternalName";
    if let (Some(o), true) = (first(old), both_internal) {
        if first(new).as_deref() != Some(o.as_str()) {
            let ips = new.pointer("/spec/clusterIPs").cloned().unwrap_or(json!([]));
            errs.push(FieldError::invalid("spec.clusterIPs[0]", &ips, "may not change once set"));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::status::ApiError;

    /// p17 `clusterip` and `nodeport-auto` (before allocation).
    #[test]
    fn defaults_match_the_corpus() {
        let mut svc = json!({"metadata": {"name": "api"}, "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}], "selector": {"app": "api"}}});
        default_service(&mut svc);
        prepare_create(&mut svc);
        assert_eq!(
            svc["spec"],
            json!({"ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}], "selector": {"app": "api"}, "type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster", "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]})
        );
        assert_eq!(svc["status"], json!({"loadBalancer": {}}));
        let mut np = json!({"spec": {"ports": [{"port": 80}], "type": "NodePort"}});
        default_service(&mut np);
        assert_eq!(np["spec"]["ports"][0], json!({"port": 80, "protocol": "TCP", "targetPort": 80}));
        assert_eq!(np["spec"]["externalTrafficPolicy"], "Cluster");
    }

    /// p17 `no-ports`.
    #[test]
    fn ports_are_required() {
        let mut svc = json!({"spec": {"selector": {"app": "api"}}});
        default_service(&mut svc);
        assert_eq!(
            ApiError::invalid("Service", "noports", &validate_service(&svc)).message,
            "Service \"noports\" is invalid: spec.ports: Required value"
        );
    }

    #[test]
    fn update_keeps_allocations_and_refuses_ip_changes() {
        let old = json!({"spec": {"type": "NodePort", "clusterIP": "10.96.5.5", "clusterIPs": ["10.96.5.5"], "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}]}});
        let mut new = json!({"spec": {"type": "NodePort", "ports": [{"port": 80, "protocol": "TCP"}]}});
        keep_allocated(&old, &mut new);
        assert_eq!(new["spec"]["clusterIP"], "10.96.5.5");
        assert_eq!(new["spec"]["ports"][0]["nodePort"], 30080);
        let mut moved = new.clone();
        moved["spec"]["clusterIP"] = json!("10.96.6.6");
        moved["spec"]["clusterIPs"] = json!(["10.96.6.6"]);
        default_service(&mut moved);
        let msgs: Vec<String> = validate_service_update(&old, &moved).iter().map(|e| e.to_message()).collect();
        assert_eq!(msgs, vec!["spec.clusterIPs[0]: Invalid value: [\"10.96.6.6\"]: may not change once set".to_string()]);
    }
}

/// The service strategy, holding the cluster IPs and node ports handed out: the service
/// REST storage's allocators (`pkg/registry/core/service/storage/alloc.go`).
#[derive(Default)]
pub struct ServiceStrategy {
    allocators: Mutex<Allocators>,
}

impl ServiceStrategy {
    /// The allocators; a panic elsewhere while they were held leaves sets still worth using.
    fn allocators(&self) -> std::sync::MutexGuard<'_, Allocators> {
        self.allocators.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Strategy for ServiceStrategy {
    fn defaults(&self, obj: &mut Value) {
        default_service(obj);
    }
    fn prepare_for_create(&self, obj: &mut Value) {
        prepare_create(obj);
    }
    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        validate_service(obj)
    }
    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        validate_service_update(old, new)
    }
    fn prepare_for_update(&self, old: &Value, new: &mut Value) {
        keep_allocated(old, new);
    }
    fn allocates(&self) -> bool {
        true
    }
    fn allocate(&self, obj: &mut Value) -> Result<(), Vec<FieldError>> {
        self.allocators().allocate(obj)
    }
    fn allocate_update(&self, old: &Value, new: &mut Value) -> Result<(), Vec<FieldError>> {
        self.allocators().allocate_update(old, new)
    }
    fn release(&self, obj: &Value) {
        self.allocators().release(obj);
    }
    fn observe(&self, obj: &Value) {
        self.allocators().observe(obj);
    }
}
