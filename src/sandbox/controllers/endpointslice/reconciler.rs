//! What a Service's EndpointSlices should hold, and the writes that get them there
//! (`staging/src/k8s.io/endpointslice/reconciler.go`, simplified): endpoints grouped by the
//! ports their pod serves, at most [`MAX_ENDPOINTS_PER_SLICE`] to a slice. Existing slices
//! with the same ports are reused first, then any other of ours, so a change rewrites
//! slices in place rather than replacing them; a Service with no endpoints keeps one empty
//! placeholder slice, as upstream does.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ObjectReference, Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::pod_endpoints::{find_port, is_service_ip_set, pod_ip, should_pod_be_in_endpoints, should_set_hostname};
use super::trigger_time::LAST_CHANGE_TRIGGER_TIME;
use crate::sandbox::controllers::active_pods::is_ready;
use crate::sandbox::controllers::controller_ref::new_controller_ref;

/// `--max-endpoints-per-slice`'s default.
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;
/// `discovery.LabelServiceName`.
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
/// `discovery.LabelManagedBy`.
pub const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
/// `ControllerName`, the value of [`LABEL_MANAGED_BY`].
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
/// `v1.IsHeadlessService`.
const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";
/// `v1.LabelTopologyZone`.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// One write.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Create(EndpointSlice),
    Update(EndpointSlice),
    Delete(String),
}

/// `podToEndpoint`: ready only if the pod is (or the Service publishes unready pods) and
/// not terminating; serving whatever it is doing; terminating once deleted.
fn endpoint_of(pod: &Pod, svc: &Service, zone: Option<String>) -> Option<Endpoint> {
    let publish = svc.spec.as_ref().and_then(|s| s.publish_not_ready_addresses).unwrap_or(false);
    let serving = is_ready(pod);
    let terminating = pod.metadata.deletion_timestamp.is_some();
    let ready = (publish || serving) && (!terminating || publish);
    let spec = pod.spec.as_ref();
    Some(Endpoint {
        addresses: vec![pod_ip(pod)?],
        conditions: Some(EndpointConditions { ready: Some(ready), serving: Some(serving), terminating: Some(terminating) }),
        hostname: should_set_hostname(pod, svc).then(|| spec.and_then(|s| s.hostname.clone())).flatten(),
        node_name: spec.and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty()),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: pod.metadata.namespace.clone(),
            name: pod.metadata.name.clone(),
            uid: pod.metadata.uid.clone(),
            ..Default::default()
        }),
        zone,
        ..Default::default()
    })
}

/// `getEndpointPorts`: the Service's ports this pod serves.
fn ports_of(pod: &Pod, svc: &Service) -> Vec<EndpointPort> {
    let ports = svc.spec.as_ref().and_then(|s| s.ports.clone()).unwrap_or_default();
    ports
        .iter()
        .filter_map(|sp| {
            Some(EndpointPort {
                name: Some(sp.name.clone().unwrap_or_default()),
                port: Some(find_port(pod, sp)?),
                protocol: sp.protocol.clone(),
                app_protocol: sp.app_protocol.clone(),
            })
        })
        .collect()
}

fn ports_key(ports: &[EndpointPort]) -> String {
    serde_json::to_string(ports).unwrap_or_default()
}

/// The endpoints of the selected `pods`, grouped by the ports they serve (each group's
/// endpoints in pod-name order). `zone_of` names a node's zone.
pub fn desired(svc: &Service, pods: &[&Pod], zone_of: impl Fn(&str) -> Option<String>) -> Vec<(Vec<EndpointPort>, Vec<Endpoint>)> {
    let mut groups: BTreeMap<String, (Vec<EndpointPort>, Vec<(String, Endpoint)>)> = BTreeMap::new();
    for pod in pods.iter().copied().filter(|p| should_pod_be_in_endpoints(p, true)) {
        let zone = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).and_then(&zone_of);
        let Some(ep) = endpoint_of(pod, svc, zone) else { continue };
        let ports = ports_of(pod, svc);
        let entry = groups.entry(ports_key(&ports)).or_insert_with(|| (ports, Vec::new()));
        entry.1.push((pod.metadata.name.clone().unwrap_or_default(), ep));
    }
    groups
        .into_values()
        .map(|(ports, mut eps)| {
            eps.sort_by(|a, b| a.0.cmp(&b.0));
            (ports, eps.into_iter().map(|(_, e)| e).collect())
        })
        .collect()
}

/// `setEndpointSliceLabels`: the Service's labels, ours, and the headless marker.
fn labels_for(svc: &Service) -> BTreeMap<String, String> {
    let mut labels = svc.metadata.labels.clone().unwrap_or_default();
    for k in [HEADLESS_LABEL, LABEL_SERVICE_NAME, LABEL_MANAGED_BY] {
        labels.remove(k);
    }
    labels.insert(LABEL_SERVICE_NAME.into(), svc.metadata.name.clone().unwrap_or_default());
    labels.insert(LABEL_MANAGED_BY.into(), CONTROLLER_NAME.into());
    if !is_service_ip_set(svc) {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    }
    labels
}

/// Whether `slice` already holds what is wanted of it.
fn holds(slice: &EndpointSlice, want: &EndpointSlice) -> bool {
    slice.endpoints == want.endpoints
        && slice.ports.as_deref().unwrap_or_default() == want.ports.as_deref().unwrap_or_default()
        && slice.address_type == want.address_type
        && slice.metadata.labels == want.metadata.labels
        && slice.metadata.owner_references == want.metadata.owner_references
}

/// The writes that turn `existing` (our slices of `svc`) into `groups`, each group split
/// into slices of at most `max` endpoints. `trigger` is the annotation's new value.
pub fn plan(
    svc: &Service,
    existing: &[Arc<EndpointSlice>],
    groups: Vec<(Vec<EndpointPort>, Vec<Endpoint>)>,
    trigger: Option<&str>,
    max: usize,
) -> Vec<Action> {
    let mut wanted: Vec<(Option<Vec<EndpointPort>>, Vec<Endpoint>)> = Vec::new();
    for (ports, eps) in groups {
        for chunk in eps.chunks(max.max(1)) {
            wanted.push((Some(ports.clone()), chunk.to_vec()));
        }
    }
    if wanted.is_empty() {
        wanted.push((None, Vec::new()));
    }
    let mut unused: Vec<&Arc<EndpointSlice>> = existing.iter().collect();
    unused.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let name = svc.metadata.name.clone().unwrap_or_default();
    let mut actions = Vec::new();
    let mut fresh = Vec::new();
    for (ports, endpoints) in wanted {
        let want = EndpointSlice {
            metadata: ObjectMeta {
                generate_name: Some(format!("{name}-")),
                namespace: svc.metadata.namespace.clone(),
                labels: Some(labels_for(svc)),
                owner_references: Some(vec![new_controller_ref(svc)]),
                ..Default::default()
            },
            address_type: "IPv4".into(),
            endpoints,
            ports: ports.filter(|p| !p.is_empty()),
        };
        let same_ports = unused.iter().position(|s| s.ports.as_deref().unwrap_or_default() == want.ports.as_deref().unwrap_or_default());
        match same_ports {
            Some(i) => actions.extend(update(unused.remove(i), want, trigger)),
            None => fresh.push(want),
        }
    }
    for mut want in fresh {
        match unused.pop() {
            Some(s) => actions.extend(update(s, want, trigger)),
            None => {
                if let Some(t) = trigger {
                    want.metadata.annotations = Some(BTreeMap::from([(LAST_CHANGE_TRIGGER_TIME.to_string(), t.to_string())]));
                }
                actions.push(Action::Create(want));
            }
        }
    }
    actions.extend(unused.into_iter().map(|s| Action::Delete(s.metadata.name.clone().unwrap_or_default())));
    actions
}

fn update(slice: &EndpointSlice, want: EndpointSlice, trigger: Option<&str>) -> Option<Action> {
    if holds(slice, &want) {
        return None;
    }
    let mut next = slice.clone();
    next.endpoints = want.endpoints;
    next.ports = want.ports;
    next.address_type = want.address_type;
    next.metadata.labels = want.metadata.labels;
    next.metadata.owner_references = want.metadata.owner_references;
    if let Some(t) = trigger {
        next.metadata.annotations.get_or_insert_with(BTreeMap::new).insert(LAST_CHANGE_TRIGGER_TIME.into(), t.into());
    }
    Some(Action::Update(next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc() -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "svc-uid", "labels": {"tier": "front"}},
            "spec": {"selector": {"app": "web"}, "clusterIP": "10.96.0.10", "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}
        }))
        .unwrap()
    }

    fn pod(i: usize, ready: bool, named_port: bool) -> Pod {
        let ports = if named_port { json!([{"name": "http", "containerPort": 8080, "protocol": "TCP"}]) } else { json!([]) };
        serde_json::from_value(json!({
            "metadata": {"name": format!("p{i:03}"), "namespace": "default", "uid": format!("u{i}"), "labels": {"app": "web"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i", "ports": ports}]},
            "status": {"phase": "Running", "podIP": format!("10.244.{}.{}", i / 250, i % 250 + 1),
                       "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}
        }))
        .unwrap()
    }

    fn created(actions: &[Action]) -> Vec<&EndpointSlice> {
        actions.iter().filter_map(|a| if let Action::Create(s) = a { Some(s) } else { None }).collect()
    }

    #[test]
    fn a_slice_holds_ready_and_unready_endpoints_with_zone_and_labels() {
        let (a, b) = (pod(1, true, true), pod(2, false, true));
        let groups = desired(&svc(), &[&a, &b], |n| (n == "n1").then(|| "zone-a".to_string()));
        let actions = plan(&svc(), &[], groups, Some("2026-01-01T00:00:00Z"), MAX_ENDPOINTS_PER_SLICE);
        let slices = created(&actions);
        assert_eq!(slices.len(), 1);
        let s = slices[0];
        assert_eq!(s.metadata.generate_name.as_deref(), Some("web-"));
        let labels = s.metadata.labels.as_ref().unwrap();
        assert_eq!(labels.get(LABEL_SERVICE_NAME).map(String::as_str), Some("web"));
        assert_eq!(labels.get(LABEL_MANAGED_BY).map(String::as_str), Some(CONTROLLER_NAME));
        assert_eq!(labels.get("tier").map(String::as_str), Some("front"));
        let conds: Vec<(Option<bool>, Option<bool>)> =
            s.endpoints.iter().map(|e| (e.conditions.as_ref().unwrap().ready, e.conditions.as_ref().unwrap().serving)).collect();
        assert_eq!(conds, [(Some(true), Some(true)), (Some(false), Some(false))]);
        assert_eq!(s.endpoints[0].zone.as_deref(), Some("zone-a"));
        assert_eq!(s.ports.as_ref().unwrap()[0].port, Some(8080));
        assert_eq!(s.metadata.owner_references.as_ref().unwrap()[0].controller, Some(true));
        assert_eq!(
            s.metadata.annotations.as_ref().unwrap().get(LAST_CHANGE_TRIGGER_TIME).map(String::as_str),
            Some("2026-01-01T00:00:00Z")
        );
    }

    #[test]
    fn slices_split_beyond_the_maximum_and_by_port_set_and_shrink_in_place() {
        let cases: [(usize, usize, usize); 4] = [(0, 0, 1), (3, 0, 1), (250, 0, 3), (100, 1, 2)];
        for (named, unnamed, want_slices) in cases {
            let pods: Vec<Pod> = (0..named).map(|i| pod(i, true, true)).chain((0..unnamed).map(|i| pod(1000 + i, true, false))).collect();
            let refs: Vec<&Pod> = pods.iter().collect();
            let actions = plan(&svc(), &[], desired(&svc(), &refs, |_| None), None, MAX_ENDPOINTS_PER_SLICE);
            let slices = created(&actions);
            assert_eq!(slices.len(), want_slices, "{named}+{unnamed} pods");
            assert!(slices.iter().all(|s| s.endpoints.len() <= MAX_ENDPOINTS_PER_SLICE));
            assert_eq!(slices.iter().map(|s| s.endpoints.len()).sum::<usize>(), named + unnamed);
        }
        // 250 endpoints in three slices, then 50: one slice rewritten, two deleted.
        let pods: Vec<Pod> = (0..250).map(|i| pod(i, true, true)).collect();
        let refs: Vec<&Pod> = pods.iter().collect();
        let existing: Vec<Arc<EndpointSlice>> = created(&plan(&svc(), &[], desired(&svc(), &refs, |_| None), None, 100))
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let mut s = s.clone();
                s.metadata.name = Some(format!("web-{i}"));
                Arc::new(s)
            })
            .collect();
        let actions = plan(&svc(), &existing, desired(&svc(), &refs[..50], |_| None), None, 100);
        assert_eq!(actions.iter().filter(|a| matches!(a, Action::Update(_))).count(), 1, "{actions:?}");
        assert_eq!(actions.iter().filter(|a| matches!(a, Action::Delete(_))).count(), 2);
        // Nothing changed: nothing written.
        assert_eq!(plan(&svc(), &existing, desired(&svc(), &refs, |_| None), None, 100), vec![]);
    }
}
