//! The Endpoints controller (`pkg/controller/endpoint/endpoints_controller.go`): for every
//! Service with a selector, a v1 Endpoints object of the same name listing the selected
//! pods' IPs (ready ones in `addresses`, the others in `notReadyAddresses`) on the ports the
//! Service's `targetPort`s resolve to. Deprecated since v1.33 in favour of EndpointSlices,
//! but still what `kubectl get endpoints` and older clients read.
//!
//! A selector-less Service is left alone: its Endpoints are written by the user. When a
//! Service goes, its Endpoints go with it (they carry no owner reference for the garbage
//! collector to follow).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service, ServicePort};
use kube::api::{Api, DeleteParams, PostParams};

use super::active_pods::is_ready;
use super::endpointslice::pod_endpoints::{
    find_port, is_service_ip_set, pod_ip, service_selects, should_pod_be_in_endpoints, should_set_hostname,
};
use super::endpointslice::service_index::ServiceIndex;
use super::endpointslice::trigger_time::{self, TriggerTimeTracker, LAST_CHANGE_TRIGGER_TIME};
use super::recorder::reference;
use super::replicaset::key_of;
use super::EventType;
use crate::machinery::delta_fifo::DeltaObject;
use crate::machinery::lister::Lister;
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::shared_informer::ResourceEventHandlerFuncs;

const LOOP: &str = "endpoint";
/// `ControllerName`, the value of [`LABEL_MANAGED_BY`].
pub const CONTROLLER_NAME: &str = "endpoint-controller";
/// `LabelManagedBy`.
pub const LABEL_MANAGED_BY: &str = "endpoints.kubernetes.io/managed-by";
/// `v1.IsHeadlessService`.
pub const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";

pub struct EndpointsController {
    client: kube::Client,
    recorder: super::EventRecorder,
    decisions: super::Decisions,
    pods: Lister<Pod>,
    endpoints: Lister<Endpoints>,
    triggers: TriggerTimeTracker,
    index: ServiceIndex,
}

pub fn start(ctx: &super::Context) -> Result<(), super::StartError> {
    let queue = RateLimitingQueue::with_default_rate_limiter();
    let services = ctx.factory.informer_for::<Service>()?;
    let pods = ctx.factory.informer_for::<Pod>()?;
    let endpoints = ctx.factory.informer_for::<Endpoints>()?;
    let index = ServiceIndex::watch(CONTROLLER_NAME, &services, &pods, &queue);
    // `onEndpointsDelete`: an Endpoints deleted under a live Service is written again.
    let q4 = queue.clone();
    endpoints.add_named_event_handler(
        CONTROLLER_NAME,
        ResourceEventHandlerFuncs::new().on_delete(move |e: &DeltaObject<Endpoints>| q4.add(key_of(&e.object().metadata))),
    );
    let controller = EndpointsController {
        client: ctx.client("kube-controller-manager"),
        recorder: ctx.recorder(CONTROLLER_NAME, None),
        decisions: ctx.decisions.clone(),
        pods: pods.lister(),
        endpoints: endpoints.lister(),
        triggers: TriggerTimeTracker::default(),
        index,
    };
    ctx.spawn_workers(Arc::new(controller), 5);
    Ok(())
}

impl super::Reconciler for EndpointsController {
    fn queue(&self) -> &RateLimitingQueue<String> {
        &self.index.queue
    }

    async fn sync(&self, key: String) -> Result<Option<Duration>, kube::Error> {
        self.sync_service(&key).await.map(|()| None).map_err(|e| self.decisions.sync_failed(LOOP, &key, e))
    }
}

/// `podToEndpointAddressForService`.
fn address_of(pod: &Pod, svc: &Service) -> Option<EndpointAddress> {
    let hostname = should_set_hostname(pod, svc).then(|| pod.spec.as_ref().and_then(|s| s.hostname.clone())).flatten();
    Some(EndpointAddress {
        ip: pod_ip(pod)?,
        hostname,
        node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty()),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: pod.metadata.namespace.clone(),
            name: pod.metadata.name.clone(),
            uid: pod.metadata.uid.clone(),
            ..Default::default()
        }),
    })
}

/// `endpointPortFromServicePort`.
fn endpoint_port(sp: &ServicePort, port: i32) -> EndpointPort {
    EndpointPort {
        name: sp.name.clone().filter(|n| !n.is_empty()),
        port,
        protocol: sp.protocol.clone(),
        app_protocol: sp.app_protocol.clone(),
    }
}

/// The subsets a Service's pods make, before [`repack`].
pub fn subsets_for(svc: &Service, pods: &[&Pod]) -> Vec<EndpointSubset> {
    let spec = svc.spec.clone().unwrap_or_default();
    let tolerate_unready = spec.publish_not_ready_addresses.unwrap_or(false);
    let ports = spec.ports.unwrap_or_default();
    let mut subsets = Vec::new();
    for pod in pods.iter().copied().filter(|p| should_pod_be_in_endpoints(p, false)) {
        let Some(address) = address_of(pod, svc) else { continue };
        let ready = tolerate_unready || is_ready(pod);
        let mut add = |ports: Vec<EndpointPort>| {
            let (addresses, not_ready) = if ready { (Some(vec![address.clone()]), None) } else { (None, Some(vec![address.clone()])) };
            subsets.push(EndpointSubset { addresses, not_ready_addresses: not_ready, ports: Some(ports) });
        };
        if ports.is_empty() {
            // A headless Service may have no ports.
            if spec.cluster_ip.as_deref() == Some("None") {
                add(Vec::new());
            }
            continue;
        }
        for sp in &ports {
            if let Some(n) = find_port(pod, sp) {
                add(vec![endpoint_port(sp, n)]);
            }
        }
    }
    repack(subsets)
}

fn port_key(p: &EndpointPort) -> (String, i32, String) {
    (p.name.clone().unwrap_or_default(), p.port, p.protocol.clone().unwrap_or_default())
}

fn address_key(a: &EndpointAddress) -> (String, String) {
    (a.ip.clone(), a.target_ref.as_ref().and_then(|r| r.uid.clone()).unwrap_or_default())
}

/// `endpoints.RepackSubsets`: the addresses offering the same set of ports grouped into one
/// subset, sorted, so an unchanged set of pods always yields the same object.
pub fn repack(subsets: Vec<EndpointSubset>) -> Vec<EndpointSubset> {
    type AddrSet = BTreeMap<((String, String), bool), EndpointAddress>;
    // Each port (a sentinel `None` for a subset without ports) to the addresses offering it.
    let mut by_port: BTreeMap<Option<(String, i32, String)>, (Option<EndpointPort>, AddrSet)> = BTreeMap::new();
    for s in &subsets {
        let ports: Vec<Option<&EndpointPort>> = match s.ports.as_deref() {
            Some(ps) if !ps.is_empty() => ps.iter().map(Some).collect(),
            _ => vec![None],
        };
        for p in ports {
            let entry = by_port.entry(p.map(port_key)).or_insert_with(|| (p.cloned(), BTreeMap::new()));
            for (addrs, ready) in [(&s.addresses, true), (&s.not_ready_addresses, false)] {
                for a in addrs.iter().flatten() {
                    entry.1.insert((address_key(a), ready), a.clone());
                }
            }
        }
    }
    // Then the sets of addresses to the ports they offer.
    let mut by_addrs: BTreeMap<Vec<((String, String), bool)>, (AddrSet, Vec<EndpointPort>)> = BTreeMap::new();
    for (port, addrs) in by_port.into_values() {
        let key: Vec<_> = addrs.keys().cloned().collect();
        let entry = by_addrs.entry(key).or_insert_with(|| (addrs, Vec::new()));
        entry.1.extend(port);
    }
    by_addrs
        .into_values()
        .filter(|(addrs, _)| !addrs.is_empty())
        .map(|(addrs, mut ports)| {
            ports.sort_by_key(port_key);
            let (mut ready, mut not_ready) = (Vec::new(), Vec::new());
            for ((_, r), a) in addrs {
                if r {
                    ready.push(a)
                } else {
                    not_ready.push(a)
                }
            }
            EndpointSubset {
                addresses: (!ready.is_empty()).then_some(ready),
                not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
                ports: (!ports.is_empty()).then_some(ports),
            }
        })
        .collect()
}

/// The labels an Endpoints object carries: the Service's, the headless marker, ours.
fn labels_for(svc: &Service) -> BTreeMap<String, String> {
    let mut labels = svc.metadata.labels.clone().unwrap_or_default();
    labels.remove(HEADLESS_LABEL);
    if !is_service_ip_set(svc) {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    }
    labels.insert(LABEL_MANAGED_BY.into(), CONTROLLER_NAME.into());
    labels
}

/// Subsets compared as sets of their parts, ignoring what a pod's update may change in a
/// target reference (`endpointSubsetsEqualIgnoreResourceVersion`).
fn same_subsets(a: &[EndpointSubset], b: &[EndpointSubset]) -> bool {
    let norm = |s: &[EndpointSubset]| {
        let mut s = s.to_vec();
        for sub in &mut s {
            for a in sub.addresses.iter_mut().flatten().chain(sub.not_ready_addresses.iter_mut().flatten()) {
                if let Some(r) = a.target_ref.as_mut() {
                    r.resource_version = None;
                }
            }
        }
        serde_json::to_value(s).unwrap_or_default()
    };
    norm(a) == norm(b)
}

impl EndpointsController {
    /// `syncService`.
    async fn sync_service(&self, key: &str) -> Result<(), kube::Error> {
        let (ns, name) = key.split_once('/').unwrap_or(("", key));
        let api: Api<Endpoints> = Api::namespaced(self.client.clone(), ns);
        let Some(svc) = self.index.services.get(key) else {
            // The Service is gone: so are its Endpoints.
            self.triggers.delete(key);
            return match api.delete(name, &DeleteParams::default()).await {
                Ok(_) => {
                    self.decisions.say(LOOP, key, "service deleted: deleted its endpoints");
                    Ok(())
                }
                Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
                Err(e) => Err(e),
            };
        };
        let spec = svc.spec.clone().unwrap_or_default();
        if spec.type_.as_deref() == Some("ExternalName") || spec.selector.is_none() {
            return Ok(());
        }
        let pods: Vec<Arc<Pod>> = self.pods.namespaced(ns).list_matching(|p| service_selects(&svc, p.metadata.labels.as_ref()));
        let pods: Vec<&Pod> = pods.iter().map(|p| &**p).collect();
        // Computed even when nothing is written, so the tracker sees every sync.
        let trigger = self.triggers.compute(key, &svc, &pods);
        let subsets = subsets_for(&svc, &pods);

        let current = self.endpoints.get(key);
        let labels = labels_for(&svc);
        if let Some(cur) = &current {
            if same_subsets(cur.subsets.as_deref().unwrap_or_default(), &subsets) && cur.metadata.labels.as_ref() == Some(&labels) {
                return Ok(());
            }
        }
        let mut next = current.as_deref().cloned().unwrap_or_default();
        next.metadata.name = Some(name.to_string());
        next.metadata.namespace = Some(ns.to_string());
        next.subsets = Some(subsets);
        next.metadata.labels = Some(labels);
        let annotations = next.metadata.annotations.get_or_insert_with(BTreeMap::new);
        match trigger {
            Some(t) => annotations.insert(LAST_CHANGE_TRIGGER_TIME.into(), trigger_time::format(t)),
            None => annotations.remove(LAST_CHANGE_TRIGGER_TIME),
        };
        let count = |f: fn(&EndpointSubset) -> Option<&Vec<EndpointAddress>>| -> usize {
            next.subsets.iter().flatten().flat_map(|s| f(s).into_iter().flatten()).map(|a| &a.ip).collect::<BTreeSet<_>>().len()
        };
        let (ready, not_ready) = (count(|s| s.addresses.as_ref()), count(|s| s.not_ready_addresses.as_ref()));
        let result = match &current {
            None => api.create(&PostParams::default(), &next).await,
            Some(_) => api.replace(name, &PostParams::default(), &next).await,
        };
        match result {
            Ok(_) => {
                let verb = if current.is_none() { "created" } else { "updated" };
                self.decisions.say(LOOP, key, &format!("{verb} endpoints: {ready} ready, {not_ready} not ready"));
                Ok(())
            }
            // A terminating namespace refuses new objects; nothing to retry.
            Err(kube::Error::Api(s)) if current.is_none() && s.code == 403 && s.message.contains("being terminated") => Ok(()),
            Err(e) => {
                let (reason, message) = match &current {
                    None => (
                        "FailedToCreateEndpoint",
                        format!("Failed to create endpoint for service {key}: {}", super::pod_control::api_message(&e)),
                    ),
                    Some(_) => {
                        ("FailedToUpdateEndpoint", format!("Failed to update endpoint {key}: {}", super::pod_control::api_message(&e)))
                    }
                };
                self.recorder.event(&reference(&next), EventType::Warning, reason, message);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, ip: &str, ready: bool) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"), "labels": {"app": "web"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i", "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]}]},
            "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}
        }))
        .unwrap()
    }

    fn service(extra: serde_json::Value) -> Service {
        let mut spec = json!({"selector": {"app": "web"}, "clusterIP": "10.96.0.10",
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}, {"name": "raw", "port": 81, "targetPort": 9000, "protocol": "TCP"}]});
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec})).unwrap()
    }

    fn ips(addrs: &Option<Vec<EndpointAddress>>) -> Vec<&str> {
        addrs.iter().flatten().map(|a| a.ip.as_str()).collect()
    }

    #[test]
    fn ready_and_unready_pods_are_repacked_into_one_subset_per_port_set() {
        let (a, b, c) = (pod("a", "10.244.1.3", true), pod("b", "10.244.1.2", true), pod("c", "10.244.1.4", false));
        let subsets = subsets_for(&service(json!({})), &[&a, &b, &c]);
        assert_eq!(subsets.len(), 1, "{subsets:?}");
        assert_eq!(ips(&subsets[0].addresses), ["10.244.1.2", "10.244.1.3"]);
        assert_eq!(ips(&subsets[0].not_ready_addresses), ["10.244.1.4"]);
        let ports: Vec<(Option<&str>, i32)> = subsets[0].ports.iter().flatten().map(|p| (p.name.as_deref(), p.port)).collect();
        assert_eq!(ports, [(Some("http"), 8080), (Some("raw"), 9000)]);
        let addr = &subsets[0].addresses.as_ref().unwrap()[0];
        assert_eq!(addr.node_name.as_deref(), Some("n1"));
        assert_eq!(addr.target_ref.as_ref().and_then(|r| r.uid.as_deref()), Some("uid-b"));
    }

    #[test]
    fn publish_not_ready_addresses_lists_unready_pods_as_ready() {
        let c = pod("c", "10.244.1.4", false);
        let subsets = subsets_for(&service(json!({"publishNotReadyAddresses": true})), &[&c]);
        assert_eq!(ips(&subsets[0].addresses), ["10.244.1.4"]);
        assert!(subsets[0].not_ready_addresses.is_none());
    }

    #[test]
    fn a_pod_without_the_named_port_is_listed_only_on_the_numeric_one() {
        let mut other = pod("o", "10.244.1.9", true);
        other.spec.as_mut().unwrap().containers[0].ports = None;
        let a = pod("a", "10.244.1.3", true);
        let subsets = subsets_for(&service(json!({})), &[&a, &other]);
        assert_eq!(subsets.len(), 2, "{subsets:?}");
        let ports_of = |want: &[&str]| -> Vec<i32> {
            let s = subsets.iter().find(|s| ips(&s.addresses) == want).expect("a subset of these addresses");
            s.ports.iter().flatten().map(|p| p.port).collect()
        };
        assert_eq!(ports_of(&["10.244.1.3", "10.244.1.9"]), [9000]);
        assert_eq!(ports_of(&["10.244.1.3"]), [8080]);
    }

    #[test]
    fn headless_services_are_labelled_and_may_have_no_ports() {
        let svc = service(json!({"clusterIP": "None", "ports": []}));
        assert_eq!(labels_for(&svc).get(HEADLESS_LABEL).map(String::as_str), Some(""));
        assert!(!labels_for(&service(json!({}))).contains_key(HEADLESS_LABEL));
        let a = pod("a", "10.244.1.3", true);
        let subsets = subsets_for(&svc, &[&a]);
        assert_eq!(ips(&subsets[0].addresses), ["10.244.1.3"]);
        assert!(subsets[0].ports.is_none());
    }
}
