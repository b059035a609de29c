//! The default profile's Filter plugins, in the order kube-scheduler runs them
//! (`apis/config/v1/default_plugins.go`), each with upstream's name, reasons and status
//! code. A node is feasible when every filter passes; the first that fails is its status.

use k8s_openapi::api::core::v1::{Pod, Taint, Toleration};

use super::node_affinity;
use super::node_info::{host_ports, NodeInfo};
use super::resources::{pod_requests, Resources};

/// `fwk.Code` of a rejection. Preemption only tries nodes that are `Unschedulable`:
/// removing pods cannot help an `UnschedulableAndUnresolvable` one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Unschedulable,
    UnschedulableAndUnresolvable,
}

/// Why a plugin rejected a node (`fwk.Status` with its reasons).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub code: Code,
    pub reasons: Vec<String>,
    pub plugin: &'static str,
}

impl Status {
    fn new(plugin: &'static str, code: Code, reason: &str) -> Status {
        Status { code, reasons: vec![reason.to_string()], plugin }
    }
}

/// A Filter: `None` when the node passes.
pub type Filter = fn(&Pod, &NodeInfo) -> Option<Status>;

/// The filters of the default profile that concern what the sandbox models.
pub const FILTERS: &[(&str, Filter)] = &[
    ("NodeUnschedulable", node_unschedulable),
    ("NodeName", node_name),
    ("TaintToleration", taint_toleration),
    ("NodeAffinity", node_affinity),
    ("NodePorts", node_ports),
    ("NodeResourcesFit", node_resources_fit),
];

/// `RunFilterPlugins`: the first rejection, or `None` when the node fits.
pub fn run(pod: &Pod, node: &NodeInfo) -> Option<Status> {
    FILTERS.iter().find_map(|(_, f)| f(pod, node))
}

pub const ERR_REASON_UNSCHEDULABLE: &str = "node(s) were unschedulable";
pub const ERR_REASON_NODE_NAME: &str = "node(s) didn't match the requested node name";
pub const ERR_REASON_TAINTS: &str = "node(s) had untolerated taint(s)";
pub const ERR_REASON_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";
pub const ERR_REASON_PORTS: &str = "node(s) didn't have free ports for the requested pod ports";

/// `v1.TaintNodeUnschedulable`.
const TAINT_NODE_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

fn tolerations(pod: &Pod) -> &[Toleration] {
    pod.spec.as_ref().and_then(|s| s.tolerations.as_deref()).unwrap_or_default()
}

/// `Toleration.ToleratesTaint`.
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if t.effect.as_deref().is_some_and(|e| !e.is_empty() && e != taint.effect) {
        return false;
    }
    if t.key.as_deref().is_some_and(|k| !k.is_empty() && k != taint.key) {
        return false;
    }
    match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "" | "Equal" => t.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default(),
        _ => false,
    }
}

fn node_unschedulable(pod: &Pod, n: &NodeInfo) -> Option<Status> {
    if !n.node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false) {
        return None;
    }
    let taint = Taint { key: TAINT_NODE_UNSCHEDULABLE.into(), effect: "NoSchedule".into(), ..Default::default() };
    if tolerations(pod).iter().any(|t| tolerates(t, &taint)) {
        return None;
    }
    Some(Status::new("NodeUnschedulable", Code::UnschedulableAndUnresolvable, ERR_REASON_UNSCHEDULABLE))
}

fn node_name(pod: &Pod, n: &NodeInfo) -> Option<Status> {
    let wanted = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or_default();
    (!wanted.is_empty() && wanted != n.name()).then(|| Status::new("NodeName", Code::UnschedulableAndUnresolvable, ERR_REASON_NODE_NAME))
}

/// `FindMatchingUntoleratedTaint` over the NoSchedule and NoExecute taints.
fn taint_toleration(pod: &Pod, n: &NodeInfo) -> Option<Status> {
    let taints = n.node.spec.as_ref().and_then(|s| s.taints.as_deref()).unwrap_or_default();
    let untolerated = taints
        .iter()
        .filter(|t| matches!(t.effect.as_str(), "NoSchedule" | "NoExecute"))
        .any(|taint| !tolerations(pod).iter().any(|t| tolerates(t, taint)));
    untolerated.then(|| Status::new("TaintToleration", Code::UnschedulableAndUnresolvable, ERR_REASON_TAINTS))
}

fn node_affinity(pod: &Pod, n: &NodeInfo) -> Option<Status> {
    (!node_affinity::required_matches(pod, &n.node))
        .then(|| Status::new("NodeAffinity", Code::UnschedulableAndUnresolvable, ERR_REASON_AFFINITY))
}

/// `fitsPorts`: a wanted host port conflicts with a used one of the same protocol and
/// port when either listens on every address or both on the same one.
fn node_ports(pod: &Pod, n: &NodeInfo) -> Option<Status> {
    let wanted = host_ports(pod);
    let conflict = wanted.iter().any(|(ip, proto, port)| {
        n.used_ports
            .iter()
            .any(|(uip, uproto, uport)| uport == port && uproto == proto && (ip == "0.0.0.0" || uip == "0.0.0.0" || ip == uip))
    });
    conflict.then(|| Status::new("NodePorts", Code::Unschedulable, ERR_REASON_PORTS))
}

/// `fitsRequest`: too many pods, then each resource the pod requests more of than is
/// free. A request larger than the whole node is unresolvable.
pub fn insufficient(req: &Resources, n: &NodeInfo) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    if n.pods.len() as i64 + 1 > n.allowed_pods {
        out.push(("Too many pods".to_string(), false));
    }
    if req.is_zero() {
        return out;
    }
    let (alloc, used) = (&n.allocatable, &n.requested);
    let mut check = |name: &str, want: i64, cap: i64, used: i64| {
        if want > 0 && want > cap - used {
            out.push((format!("Insufficient {name}"), want > cap));
        }
    };
    check("cpu", req.milli_cpu, alloc.milli_cpu, used.milli_cpu);
    check("memory", req.memory, alloc.memory, used.memory);
    check("ephemeral-storage", req.ephemeral_storage, alloc.ephemeral_storage, used.ephemeral_storage);
    for (name, want) in &req.scalar {
        let cap = alloc.scalar.get(name).copied().unwrap_or(0);
        check(name, *want, cap, used.scalar.get(name).copied().unwrap_or(0));
    }
    out
}

fn node_resources_fit(pod: &Pod, n: &NodeInfo) -> Option<Status> {
    let found = insufficient(&pod_requests(pod, false), n);
    if found.is_empty() {
        return None;
    }
    let code = if found.iter().any(|(_, unresolvable)| *unresolvable) { Code::UnschedulableAndUnresolvable } else { Code::Unschedulable };
    Some(Status { code, reasons: found.into_iter().map(|(r, _)| r).collect(), plugin: "NodeResourcesFit" })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use k8s_openapi::api::core::v1::Node;
    use serde_json::json;

    use super::*;

    fn pod(spec: serde_json::Value) -> Pod {
        let mut spec = spec;
        spec["containers"] = json!([{"name": "a", "image": "x"}]);
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap()
    }

    fn node(spec: serde_json::Value, labels: serde_json::Value) -> NodeInfo {
        let n: Node = serde_json::from_value(json!({
            "metadata": {"name": "n1", "labels": labels}, "spec": spec,
            "status": {"allocatable": {"cpu": "2", "memory": "1Gi", "pods": "1"}},
        }))
        .unwrap();
        NodeInfo::new(Arc::new(n))
    }

    #[test]
    fn each_filter_rejects_with_upstreams_reason_and_code() {
        use Code::*;
        let taint = json!({"taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]});
        let cases: Vec<(&str, serde_json::Value, serde_json::Value, serde_json::Value, Option<(&str, Code, Vec<&str>)>)> = vec![
            ("fits", json!({}), json!({}), json!({}), None),
            (
                "cordoned",
                json!({}),
                json!({"unschedulable": true}),
                json!({}),
                Some(("NodeUnschedulable", UnschedulableAndUnresolvable, vec![ERR_REASON_UNSCHEDULABLE])),
            ),
            ("cordon tolerated", json!({"tolerations": [{"operator": "Exists"}]}), json!({"unschedulable": true}), json!({}), None),
            (
                "other node",
                json!({"nodeName": "n2"}),
                json!({}),
                json!({}),
                Some(("NodeName", UnschedulableAndUnresolvable, vec![ERR_REASON_NODE_NAME])),
            ),
            (
                "tainted",
                json!({}),
                taint.clone(),
                json!({}),
                Some(("TaintToleration", UnschedulableAndUnresolvable, vec![ERR_REASON_TAINTS])),
            ),
            ("tolerated", json!({"tolerations": [{"key": "k", "value": "v", "effect": "NoSchedule"}]}), taint.clone(), json!({}), None),
            (
                "wrong value",
                json!({"tolerations": [{"key": "k", "value": "w"}]}),
                taint.clone(),
                json!({}),
                Some(("TaintToleration", UnschedulableAndUnresolvable, vec![ERR_REASON_TAINTS])),
            ),
            ("key exists", json!({"tolerations": [{"key": "k", "operator": "Exists"}]}), taint.clone(), json!({}), None),
            (
                "wrong effect",
                json!({"tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute"}]}),
                taint,
                json!({}),
                Some(("TaintToleration", UnschedulableAndUnresolvable, vec![ERR_REASON_TAINTS])),
            ),
            ("prefer only", json!({}), json!({"taints": [{"key": "k", "effect": "PreferNoSchedule"}]}), json!({}), None),
            ("selector", json!({"nodeSelector": {"disk": "ssd"}}), json!({}), json!({"disk": "ssd"}), None),
            (
                "selector miss",
                json!({"nodeSelector": {"disk": "ssd"}}),
                json!({}),
                json!({"disk": "hdd"}),
                Some(("NodeAffinity", UnschedulableAndUnresolvable, vec![ERR_REASON_AFFINITY])),
            ),
            (
                "not in",
                json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "disk", "operator": "NotIn", "values": ["hdd"]}]}]}}}}),
                json!({}),
                json!({"disk": "hdd"}),
                Some(("NodeAffinity", UnschedulableAndUnresolvable, vec![ERR_REASON_AFFINITY])),
            ),
            (
                "gt",
                json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["3"]}]}]}}}}),
                json!({}),
                json!({"gen": "4"}),
                None,
            ),
            (
                "or of terms",
                json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}}}}),
                json!({}),
                json!({}),
                None,
            ),
            (
                "empty term",
                json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{}]}}}}),
                json!({}),
                json!({}),
                Some(("NodeAffinity", UnschedulableAndUnresolvable, vec![ERR_REASON_AFFINITY])),
            ),
        ];
        for (name, pod_spec, node_spec, labels, want) in cases {
            let got = run(&pod(pod_spec), &node(node_spec, labels));
            let want =
                want.map(|(plugin, code, reasons)| Status { code, reasons: reasons.iter().map(|r| r.to_string()).collect(), plugin });
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn resources_fit_counts_requests_and_pods() {
        let mut n = node(json!({}), json!({}));
        let small = |cpu: &str| {
            let mut p = pod(json!({}));
            p.spec.as_mut().unwrap().containers[0].resources =
                Some(serde_json::from_value(json!({"requests": {"cpu": cpu, "memory": "512Mi"}})).unwrap());
            p
        };
        assert_eq!(run(&small("1500m"), &n), None);
        n.add_pod(Arc::new(small("1500m")));
        let got = run(&small("1"), &n).expect("rejected");
        assert_eq!((got.plugin, got.code), ("NodeResourcesFit", Code::Unschedulable));
        assert_eq!(got.reasons, vec!["Too many pods", "Insufficient cpu"]);
        let huge = run(&small("3"), &NodeInfo::new(n.node.clone())).expect("rejected");
        assert_eq!((huge.code, huge.reasons), (Code::UnschedulableAndUnresolvable, vec!["Insufficient cpu".to_string()]));
    }
}
