//! Cluster IPs and node ports: the two cluster-wide resources services compete for. The
//! apiserver hands them out when a service is created (so two services never share one),
//! and gets them back when it is deleted. The sandbox keeps the taken ones in memory and
//! rebuilds the sets from the stored services at start ([`Allocators::observe`]).

use std::collections::HashSet;
use std::net::Ipv4Addr;

use rand::Rng;
use serde_json::{json, Value};

use super::services::uses_node_ports;
use crate::sandbox::status::FieldError;

/// `--service-cluster-ip-range=10.96.0.0/12`.
const SERVICE_CIDR: (u32, u32) = (u32::from_be_bytes([10, 96, 0, 0]), 12);
/// `--service-node-port-range=30000-32767`.
const NODE_PORTS: (u16, u16) = (30000, 32767);
/// The low band of the range is kept for static (requested) IPs, such as `10.96.0.1` of
/// the `kubernetes` service and `10.96.0.10` of cluster DNS; random ones come from above.
const STATIC_BAND: u32 = 256;

fn range_size() -> u32 {
    1u32 << (32 - SERVICE_CIDR.1)
}

fn cidr_text() -> String {
    format!("{}/{}", Ipv4Addr::from(SERVICE_CIDR.0), SERVICE_CIDR.1)
}

fn str_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect()).unwrap_or_default()
}

/// What one service holds.
#[derive(Debug, Default, PartialEq)]
struct Held {
    ip: Option<u32>,
    ports: Vec<u16>,
}

fn held_by(obj: &Value) -> Held {
    let spec = obj.get("spec").cloned().unwrap_or(json!({}));
    let ip = spec.get("clusterIP").and_then(Value::as_str).and_then(|s| s.parse::<Ipv4Addr>().ok()).map(u32::from);
    let mut ports: Vec<u16> = spec
        .get("ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("nodePort").and_then(Value::as_u64))
        .chain(spec.get("healthCheckNodePort").and_then(Value::as_u64))
        .filter_map(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
        .collect();
    ports.sort();
    ports.dedup();
    Held { ip, ports }
}

/// Cluster IPs and node ports handed out to services, rebuilt from the store at start.
#[derive(Debug, Default)]
pub struct Allocators {
    ips: HashSet<u32>,
    ports: HashSet<u16>,
}

impl Allocators {
    /// Marks what an existing service holds as taken (used when loading the store).
    pub fn observe(&mut self, obj: &Value) {
        let held = held_by(obj);
        self.ips.extend(held.ip);
        self.ports.extend(held.ports);
    }

    /// Releases what a deleted service held.
    pub fn release(&mut self, obj: &Value) {
        let held = held_by(obj);
        if let Some(ip) = held.ip {
            self.ips.remove(&ip);
        }
        for p in held.ports {
            self.ports.remove(&p);
        }
    }

    /// True when `ip` is handed out (for tests and the sandbox's own `kubernetes` service).
    pub fn ip_taken(&self, ip: Ipv4Addr) -> bool {
        self.ips.contains(&u32::from(ip))
    }

    pub fn port_taken(&self, port: u16) -> bool {
        self.ports.contains(&port)
    }

    /// Allocates (or checks the requested) cluster IP and node ports of a new service.
    /// Nothing stays taken when it fails.
    pub fn allocate(&mut self, obj: &mut Value) -> Result<(), Vec<FieldError>> {
        let mut taken = Held::default();
        let result = self.allocate_into(obj, &Held::default(), &mut taken);
        if result.is_err() {
            self.give_back(&taken);
        }
        result
    }

    /// Allocation on update: a service that became NodePort or LoadBalancer gets node
    /// ports, one that stopped being ExternalName gets a cluster IP, and what the old
    /// service held and the new one no longer does is released. Call it after
    /// `validate_update` succeeded; on failure nothing changed.
    pub fn allocate_update(&mut self, old: &Value, new: &mut Value) -> Result<(), Vec<FieldError>> {
        let before = held_by(old);
        let mut taken = Held::default();
        if let Err(e) = self.allocate_into(new, &before, &mut taken) {
            self.give_back(&taken);
            return Err(e);
        }
        let after = held_by(new);
        if let Some(ip) = before.ip.filter(|ip| after.ip != Some(*ip)) {
            self.ips.remove(&ip);
        }
        for p in before.ports.iter().filter(|p| !after.ports.contains(p)) {
            self.ports.remove(p);
        }
        Ok(())
    }

    fn give_back(&mut self, taken: &Held) {
        if let Some(ip) = taken.ip {
            self.ips.remove(&ip);
        }
        for p in &taken.ports {
            self.ports.remove(p);
        }
    }

    /// Fills and checks `obj`'s IP and ports; `already` is what the service held before
    /// (an update), which it may keep; everything newly taken is added to `taken`.
    fn allocate_into(&mut self, obj: &mut Value, already: &Held, taken: &mut Held) -> Result<(), Vec<FieldError>> {
        let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else { return Ok(()) };
        let ty = spec.get("type").and_then(Value::as_str).unwrap_or("ClusterIP").to_string();
        if ty != "ExternalName" {
            let mut ips = str_list(spec.get("clusterIPs"));
            if ips.is_empty() {
                ips = spec
                    .get("clusterIP")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(|s| vec![s.to_string()])
                    .unwrap_or_default();
            }
            let ip = match ips.first().map(String::as_str) {
                Some("None") => "None".to_string(),
                Some(requested) => {
                    let addr: Ipv4Addr = requested.parse().map_err(|_| {
                        vec![FieldError::invalid(
                            "spec.clusterIPs",
                            &json!(ips),
                            format!("failed to allocate IP {requested}: the provided network does not match the current range"),
                        )]
                    })?;
                    let n = u32::from(addr);
                    if already.ip != Some(n) {
                        self.take_ip(n, &ips)?;
                        taken.ip = Some(n);
                    }
                    requested.to_string()
                }
                None => {
                    let n = self.random_ip().ok_or_else(|| {
                        vec![FieldError::invalid("spec.clusterIPs", &json!(ips), "failed to allocate a serviceIP: range is full")]
                    })?;
                    taken.ip = Some(n);
                    Ipv4Addr::from(n).to_string()
                }
            };
            spec["clusterIP"] = json!(ip);
            spec["clusterIPs"] = json!([ip]);
        }
        if !uses_node_ports(&ty) {
            return Ok(());
        }
        let lb_without_ports = ty == "LoadBalancer" && spec.get("allocateLoadBalancerNodePorts").and_then(Value::as_bool) == Some(false);
        let mut mine: Vec<u16> = Vec::new();
        let count = spec.get("ports").and_then(Value::as_array).map(Vec::len).unwrap_or(0);
        for i in 0..count {
            let requested = spec["ports"][i].get("nodePort").and_then(Value::as_i64).unwrap_or(0);
            if requested == 0 {
                if lb_without_ports {
                    continue;
                }
                let p = self
                    .random_port()
                    .ok_or_else(|| vec![FieldError::invalid(format!("spec.ports[{i}].nodePort"), &json!(0), "range is full")])?;
                taken.ports.push(p);
                mine.push(p);
                spec["ports"][i]["nodePort"] = json!(p);
                continue;
            }
            let path = format!("spec.ports[{i}].nodePort");
            let port = self.check_port(requested, &path)?;
            if mine.contains(&port) || already.ports.contains(&port) {
                continue;
            }
            if self.ports.contains(&port) {
                return Err(vec![FieldError::invalid(path, &json!(requested), "provided port is already allocated")]);
            }
            self.ports.insert(port);
            taken.ports.push(port);
            mine.push(port);
        }
        let local = spec.get("externalTrafficPolicy").and_then(Value::as_str) == Some("Local");
        if ty == "LoadBalancer" && local {
            match spec.get("healthCheckNodePort").and_then(Value::as_i64).unwrap_or(0) {
                0 => {
                    let p = self
                        .random_port()
                        .ok_or_else(|| vec![FieldError::invalid("spec.healthCheckNodePort", &json!(0), "range is full")])?;
                    taken.ports.push(p);
                    spec["healthCheckNodePort"] = json!(p);
                }
                requested => {
                    let port = self.check_port(requested, "spec.healthCheckNodePort")?;
                    if !already.ports.contains(&port) && !mine.contains(&port) {
                        if !self.ports.insert(port) {
                            return Err(vec![FieldError::invalid(
                                "spec.healthCheckNodePort",
                                &json!(requested),
                                "provided port is already allocated",
                            )]);
                        }
                        taken.ports.push(port);
                    }
                }
            }
        }
        Ok(())
    }

    fn check_port(&self, requested: i64, path: &str) -> Result<u16, Vec<FieldError>> {
        match u16::try_from(requested) {
            Ok(p) if (NODE_PORTS.0..=NODE_PORTS.1).contains(&p) => Ok(p),
            _ => Err(vec![FieldError::invalid(
                path,
                &json!(requested),
                format!("provided port is not in the valid range. The range of valid ports is {}-{}", NODE_PORTS.0, NODE_PORTS.1),
            )]),
        }
    }

    fn take_ip(&mut self, n: u32, ips: &[String]) -> Result<(), Vec<FieldError>> {
        let ip = Ipv4Addr::from(n);
        let err = |why: String| vec![FieldError::invalid("spec.clusterIPs", &json!(ips), format!("failed to allocate IP {ip}: {why}"))];
        let (base, size) = (SERVICE_CIDR.0, range_size());
        if n & !(size - 1) != base {
            return Err(err("the provided network does not match the current range".into()));
        }
        if n == base || n == base + size - 1 {
            return Err(err(format!("the provided IP ({ip}) is not in the valid range. The range of valid IPs is {}", cidr_text())));
        }
        if !self.ips.insert(n) {
            return Err(err("provided IP is already allocated".into()));
        }
        Ok(())
    }

    /// A random free IP above the static band, else anywhere in the range.
    fn random_ip(&mut self) -> Option<u32> {
        let (base, size) = (SERVICE_CIDR.0, range_size());
        let mut rng = rand::rng();
        for _ in 0..64 {
            let n = base + rng.random_range(STATIC_BAND..size - 1);
            if self.ips.insert(n) {
                return Some(n);
            }
        }
        let n = (1..size - 1).map(|o| base + o).find(|n| !self.ips.contains(n))?;
        self.ips.insert(n);
        Some(n)
    }

    fn random_port(&mut self) -> Option<u16> {
        let mut rng = rand::rng();
        for _ in 0..64 {
            let p = rng.random_range(NODE_PORTS.0..=NODE_PORTS.1);
            if self.ports.insert(p) {
                return Some(p);
            }
        }
        let p = (NODE_PORTS.0..=NODE_PORTS.1).find(|p| !self.ports.contains(p))?;
        self.ports.insert(p);
        Some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::status::ApiError;

    fn svc(spec: Value) -> Value {
        json!({"metadata": {"name": "s"}, "spec": spec})
    }

    #[test]
    fn random_ip_in_range_and_clusterips_mirrors_it() {
        let mut a = Allocators::default();
        let mut s = svc(json!({"type": "ClusterIP", "ports": [{"port": 80}]}));
        a.allocate(&mut s).unwrap();
        let ip: Ipv4Addr = s["spec"]["clusterIP"].as_str().unwrap().parse().unwrap();
        assert_eq!(u32::from(ip) & 0xfff0_0000, SERVICE_CIDR.0);
        assert!(u32::from(ip) >= SERVICE_CIDR.0 + STATIC_BAND);
        assert_eq!(s["spec"]["clusterIPs"], json!([ip.to_string()]));
        assert!(a.ip_taken(ip));
        a.release(&s);
        assert!(!a.ip_taken(ip));
    }

    /// p17 `clusterip-out-of-range`.
    #[test]
    fn requested_ip_outside_the_range() {
        let mut a = Allocators::default();
        let mut s = svc(json!({"clusterIP": "192.168.1.1", "clusterIPs": ["192.168.1.1"], "ports": [{"port": 80}]}));
        let errs = a.allocate(&mut s).unwrap_err();
        assert_eq!(
            ApiError::invalid("Service", "cip-bad", &errs).message,
            "Service \"cip-bad\" is invalid: spec.clusterIPs: Invalid value: [\"192.168.1.1\"]: failed to allocate IP 192.168.1.1: the provided network does not match the current range"
        );
    }

    #[test]
    fn requested_ip_taken_and_headless() {
        let mut a = Allocators::default();
        let mut k = svc(json!({"clusterIP": "10.96.0.1", "ports": [{"port": 443}]}));
        a.allocate(&mut k).unwrap();
        let mut again = svc(json!({"clusterIP": "10.96.0.1", "ports": [{"port": 443}]}));
        let errs = a.allocate(&mut again).unwrap_err();
        assert_eq!(
            errs[0].to_message(),
            "spec.clusterIPs: Invalid value: [\"10.96.0.1\"]: failed to allocate IP 10.96.0.1: provided IP is already allocated"
        );
        let mut h = svc(json!({"clusterIP": "None", "ports": [{"port": 80}]}));
        a.allocate(&mut h).unwrap();
        assert_eq!(h["spec"]["clusterIPs"], json!(["None"]));
    }

    /// p17 `nodeport-fixed`, `nodeport-duplicate`, `nodeport-out-of-range`.
    #[test]
    fn node_ports() {
        let mut a = Allocators::default();
        let mut fixed = svc(json!({"type": "NodePort", "ports": [{"nodePort": 31380, "port": 80}]}));
        a.allocate(&mut fixed).unwrap();
        assert!(a.port_taken(31380));
        let mut dup = svc(json!({"type": "NodePort", "ports": [{"nodePort": 31380, "port": 80}]}));
        let errs = a.allocate(&mut dup).unwrap_err();
        assert_eq!(
            ApiError::invalid("Service", "np-dup", &errs).message,
            "Service \"np-dup\" is invalid: spec.ports[0].nodePort: Invalid value: 31380: provided port is already allocated"
        );
        // the failed service's cluster IP was given back
        assert_eq!(a.ips.len(), 1);
        let mut range = svc(json!({"type": "NodePort", "ports": [{"nodePort": 80, "port": 80}]}));
        let errs = a.allocate(&mut range).unwrap_err();
        assert_eq!(
            errs[0].to_message(),
            "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"
        );
        let mut auto = svc(json!({"type": "NodePort", "ports": [{"port": 80}]}));
        a.allocate(&mut auto).unwrap();
        let p = auto["spec"]["ports"][0]["nodePort"].as_u64().unwrap();
        assert!((30000..=32767).contains(&p));
    }

    #[test]
    fn observe_and_update_to_node_port() {
        let mut a = Allocators::default();
        let old = svc(json!({"type": "ClusterIP", "clusterIP": "10.96.3.3", "clusterIPs": ["10.96.3.3"], "ports": [{"port": 80}]}));
        a.observe(&old);
        assert!(a.ip_taken("10.96.3.3".parse().unwrap()));
        let mut new = svc(json!({"type": "NodePort", "clusterIP": "10.96.3.3", "clusterIPs": ["10.96.3.3"], "ports": [{"port": 80}]}));
        a.allocate_update(&old, &mut new).unwrap();
        let p = new["spec"]["ports"][0]["nodePort"].as_u64().unwrap() as u16;
        assert!(a.port_taken(p));
        let mut back = old.clone();
        a.allocate_update(&new, &mut back).unwrap();
        assert!(!a.port_taken(p));
        assert!(a.ip_taken("10.96.3.3".parse().unwrap()));
    }
}
