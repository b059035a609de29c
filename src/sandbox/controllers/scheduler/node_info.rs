//! `framework.NodeInfo`: one node with the pods on it and what they request, as the
//! scheduler's [`cache`](super::cache) keeps it up to date and every cycle reads it.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};

use super::resources::{allowed_pods, pod_requests, Resources};

/// A host port in use: `(hostIP, protocol, port)`, `0.0.0.0` for any address.
pub type HostPort = (String, String, i32);

/// One node and what is on it.
#[derive(Clone)]
pub struct NodeInfo {
    pub node: Arc<Node>,
    pub pods: Vec<Arc<Pod>>,
    /// The pods' requests summed (`Requested`), what NodeResourcesFit compares.
    pub requested: Resources,
    /// The same with the scheduler's defaults for missing requests, for scoring.
    pub non_zero_requested: Resources,
    pub allocatable: Resources,
    pub allowed_pods: i64,
    pub used_ports: Vec<HostPort>,
}

impl NodeInfo {
    pub fn new(node: Arc<Node>) -> NodeInfo {
        let alloc = node.status.as_ref().and_then(|s| s.allocatable.as_ref());
        NodeInfo {
            allocatable: Resources::from_list(alloc),
            allowed_pods: allowed_pods(alloc),
            node,
            pods: Vec::new(),
            requested: Resources::default(),
            non_zero_requested: Resources::default(),
            used_ports: Vec::new(),
        }
    }

    /// The node object changed (labels, taints, allocatable); its pods stay.
    pub fn set_node(&mut self, node: Arc<Node>) {
        let alloc = node.status.as_ref().and_then(|s| s.allocatable.as_ref());
        self.allocatable = Resources::from_list(alloc);
        self.allowed_pods = allowed_pods(alloc);
        self.node = node;
    }

    pub fn name(&self) -> &str {
        self.node.metadata.name.as_deref().unwrap_or_default()
    }

    pub fn add_pod(&mut self, pod: Arc<Pod>) {
        self.requested.add(&pod_requests(&pod, false));
        self.non_zero_requested.add(&pod_requests(&pod, true));
        self.used_ports.extend(host_ports(&pod));
        self.pods.push(pod);
    }

    /// `RemovePod`: the pod that `is_it` picks stops counting here.
    pub fn remove_pod(&mut self, is_it: impl Fn(&Pod) -> bool) {
        let Some(i) = self.pods.iter().position(|p| is_it(p)) else { return };
        let pod = self.pods.swap_remove(i);
        self.requested.sub(&pod_requests(&pod, false));
        self.non_zero_requested.sub(&pod_requests(&pod, true));
        for port in host_ports(&pod) {
            if let Some(j) = self.used_ports.iter().position(|p| *p == port) {
                self.used_ports.swap_remove(j);
            }
        }
    }
}

/// `getContainerPorts`: the host ports a pod's containers ask for.
pub fn host_ports(pod: &Pod) -> Vec<HostPort> {
    let Some(spec) = &pod.spec else { return vec![] };
    let inits = spec.init_containers.iter().flatten().filter(|c| c.restart_policy.as_deref() == Some("Always"));
    spec.containers
        .iter()
        .chain(inits)
        .flat_map(|c| c.ports.iter().flatten())
        .filter(|p| p.host_port.unwrap_or(0) > 0)
        .map(|p| {
            let ip = p.host_ip.clone().filter(|i| !i.is_empty()).unwrap_or_else(|| "0.0.0.0".into());
            let protocol = p.protocol.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "TCP".into());
            (ip, protocol, p.host_port.unwrap_or(0))
        })
        .collect()
}

/// Whether a pod still holds its node's resources: bound and not finished (the
/// scheduler's informer leaves out Succeeded and Failed pods).
pub fn holds_node(pod: &Pod) -> Option<&str> {
    let finished = matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"));
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).filter(|n| !n.is_empty() && !finished)
}
