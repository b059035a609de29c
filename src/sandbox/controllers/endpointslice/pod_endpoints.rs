//! Which pods back a Service and on which port (`staging/src/k8s.io/endpointslice/util`:
//! `ShouldPodBeInEndpoints`, `ShouldSetHostname`, `FindPort`), shared by the Endpoints and
//! the EndpointSlice controllers so both publish the same pods.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// `ShouldPodBeInEndpoints`: a pod with an IP that is not finished; a terminating one only
/// when `include_terminating` (the slices keep it, marked terminating).
pub fn should_pod_be_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    let status = pod.status.as_ref();
    if matches!(status.and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed")) {
        return false;
    }
    let has_ip = status
        .is_some_and(|s| s.pod_ip.as_deref().is_some_and(|ip| !ip.is_empty()) || s.pod_ips.as_ref().is_some_and(|ips| !ips.is_empty()));
    has_ip && (include_terminating || pod.metadata.deletion_timestamp.is_none())
}

/// The pod's IPv4 address (the sandbox is single-stack).
pub fn pod_ip(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    status.pod_ip.clone().filter(|ip| !ip.is_empty()).or_else(|| status.pod_ips.as_ref()?.first().map(|p| p.ip.clone()))
}

/// `ShouldSetHostname`: a pod naming the Service as its subdomain is reachable by hostname.
pub fn should_set_hostname(pod: &Pod, svc: &Service) -> bool {
    let spec = pod.spec.as_ref();
    spec.and_then(|s| s.hostname.as_deref()).is_some_and(|h| !h.is_empty())
        && spec.and_then(|s| s.subdomain.as_deref()) == svc.metadata.name.as_deref()
        && svc.metadata.namespace == pod.metadata.namespace
}

/// `FindPort`: a numeric `targetPort` as is, a named one looked up among the containers'
/// ports (and restartable init containers', the sidecars) of the same protocol.
pub fn find_port(pod: &Pod, port: &ServicePort) -> Option<i32> {
    let protocol = port.protocol.as_deref().unwrap_or("TCP");
    match port.target_port.as_ref() {
        None => Some(port.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => match name.parse::<i32>() {
            Ok(n) => Some(n),
            Err(_) => {
                let spec = pod.spec.as_ref()?;
                let sidecars = spec.init_containers.iter().flatten().filter(|c| c.restart_policy.as_deref() == Some("Always"));
                spec.containers
                    .iter()
                    .chain(sidecars)
                    .flat_map(|c| c.ports.iter().flatten())
                    .find(|p| p.name.as_deref() == Some(name.as_str()) && p.protocol.as_deref().unwrap_or("TCP") == protocol)
                    .map(|p| p.container_port)
            }
        },
    }
}

/// Whether a Service's selector selects these labels (a selector-less Service selects none).
pub fn service_selects(svc: &Service, labels: Option<&BTreeMap<String, String>>) -> bool {
    let Some(selector) = svc.spec.as_ref().and_then(|s| s.selector.as_ref()) else { return false };
    selector.iter().all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// `helper.IsServiceIPSet`: false for a headless Service.
pub fn is_service_ip_set(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()).is_some_and(|ip| !ip.is_empty() && ip != "None")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "i", "ports": [
                {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                {"name": "dns", "containerPort": 53, "protocol": "UDP"}]}]},
            "status": {"phase": "Running", "podIP": "10.244.1.2"}
        }))
        .unwrap()
    }

    #[test]
    fn target_ports_resolve_by_number_or_by_name_and_protocol() {
        let cases = [
            (json!({"port": 80, "targetPort": 9376}), Some(9376)),
            (json!({"port": 80, "targetPort": "http"}), Some(8080)),
            (json!({"port": 80, "targetPort": "http", "protocol": "UDP"}), None),
            (json!({"port": 53, "targetPort": "dns", "protocol": "UDP"}), Some(53)),
            (json!({"port": 80, "targetPort": "nope"}), None),
            (json!({"port": 80}), Some(80)),
        ];
        for (port, want) in cases {
            let p: ServicePort = serde_json::from_value(port.clone()).unwrap();
            assert_eq!(find_port(&pod(), &p), want, "{port}");
        }
    }

    #[test]
    fn pods_without_ip_finished_or_terminating_are_left_out() {
        let mut no_ip = pod();
        no_ip.status.as_mut().unwrap().pod_ip = None;
        let mut done = pod();
        done.status.as_mut().unwrap().phase = Some("Succeeded".into());
        let mut deleting = pod();
        deleting.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now()));
        let cases =
            [(pod(), false, true), (no_ip, true, false), (done, true, false), (deleting.clone(), false, false), (deleting, true, true)];
        for (i, (p, include_terminating, want)) in cases.into_iter().enumerate() {
            assert_eq!(should_pod_be_in_endpoints(&p, include_terminating), want, "case {i}");
        }
    }
}
