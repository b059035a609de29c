//! The node's heartbeats (`kubelet_node_status.go`, `nodestatus/setters.go`,
//! `pkg/kubelet/nodelease`): every [`HEARTBEAT`] the kubelet patches its node's
//! conditions with a fresh lastHeartbeatTime, and creates or renews its Lease in
//! `kube-node-lease`, which is what the node lifecycle controller watches.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, OwnerReference};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{json, Value};

/// `nodeStatusUpdateFrequency` and the lease's renew interval, both 10 s by default.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// `nodeLeaseDurationSeconds`.
pub const LEASE_DURATION_SECONDS: i32 = 40;
pub const LEASE_NAMESPACE: &str = "kube-node-lease";

/// The conditions the kubelet's setters own, healthy, in the order it writes them.
const CONDITIONS: &[(&str, &str, &str, &str)] = &[
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
];

/// The node's conditions after a heartbeat at `now`: the setters' conditions with a new
/// heartbeat (and a new transition time only when the status changes), others kept.
pub fn heartbeat_conditions(old: &[Value], now: &str) -> Vec<Value> {
    let mut out: Vec<Value> = CONDITIONS
        .iter()
        .map(|(kind, status, reason, message)| {
            let prev = old.iter().find(|c| c["type"] == *kind);
            let transition =
                prev.filter(|p| p["status"] == *status).and_then(|p| p.get("lastTransitionTime")).cloned().unwrap_or(json!(now));
            json!({"type": kind, "status": status, "reason": reason, "message": message,
                   "lastHeartbeatTime": now, "lastTransitionTime": transition})
        })
        .collect();
    out.extend(old.iter().filter(|c| !CONDITIONS.iter().any(|(k, ..)| c["type"] == *k)).cloned());
    out
}

/// `nodeStatusMaxImages`.
const MAX_IMAGES: usize = 50;

/// The `Images` setter: the images on the node, largest first, each by digest and tag.
pub fn images(pulled: &[super::image::Pulled]) -> Vec<Value> {
    let mut list: Vec<&super::image::Pulled> = Vec::new();
    for p in pulled {
        if !list.iter().any(|q| q.image_id == p.image_id) {
            list.push(p);
        }
    }
    list.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.reference.cmp(&b.reference)));
    list.into_iter().take(MAX_IMAGES).map(|p| json!({"names": [p.image_id, p.reference], "sizeBytes": p.size})).collect()
}

/// One heartbeat: the status patch (conditions and images), then the lease.
pub async fn beat(client: &kube::Client, node: &Node, images: Vec<Value>) -> Result<(), kube::Error> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let old: Vec<Value> = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .map(|cs| cs.iter().filter_map(|c| serde_json::to_value(c).ok()).collect())
        .unwrap_or_default();
    let nodes: Api<Node> = Api::all(client.clone());
    let patch = json!({"status": {"conditions": heartbeat_conditions(&old, &now), "images": images}});
    nodes.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
    renew_lease(client, node).await
}

/// `nodelease.Controller`: create the lease the first time, renew it after.
async fn renew_lease(client: &kube::Client, node: &Node) -> Result<(), kube::Error> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let renew = Some(MicroTime(k8s_openapi::jiff::Timestamp::now()));
    match leases.get_opt(&name).await? {
        Some(mut lease) => {
            let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
            spec.renew_time = renew;
            spec.holder_identity = Some(name.clone());
            spec.lease_duration_seconds = Some(LEASE_DURATION_SECONDS);
            leases.replace(&name, &PostParams::default(), &lease).await.map(|_| ())
        }
        None => {
            let mut lease = Lease {
                spec: Some(LeaseSpec {
                    holder_identity: Some(name.clone()),
                    lease_duration_seconds: Some(LEASE_DURATION_SECONDS),
                    renew_time: renew,
                    ..Default::default()
                }),
                ..Default::default()
            };
            lease.metadata.name = Some(name.clone());
            lease.metadata.namespace = Some(LEASE_NAMESPACE.into());
            // The lease goes with its node (`setNodeOwnerFunc`).
            if let Some(uid) = node.metadata.uid.clone() {
                lease.metadata.owner_references = Some(vec![OwnerReference {
                    api_version: "v1".into(),
                    kind: "Node".into(),
                    name: name.clone(),
                    uid,
                    ..Default::default()
                }]);
            }
            leases.create(&PostParams::default(), &lease).await.map(|_| ())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_listed_once_largest_first() {
        let pulled: Vec<_> = ["busybox", "nginx", "nginx:latest", "redis"].iter().map(|i| super::super::image::pull(i).unwrap()).collect();
        let list = images(&pulled);
        assert_eq!(list.len(), 3, "nginx and nginx:latest are one image");
        let sizes: Vec<u64> = list.iter().map(|i| i["sizeBytes"].as_u64().unwrap()).collect();
        assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
        let nginx = list.iter().find(|i| i["names"][1] == "docker.io/library/nginx:latest").unwrap();
        assert!(nginx["names"][0].as_str().unwrap().starts_with("docker.io/library/nginx@sha256:"));
    }

    #[test]
    fn a_heartbeat_refreshes_every_setter_condition_and_keeps_transitions() {
        let old = vec![
            json!({"type": "Ready", "status": "True", "lastTransitionTime": "t0", "lastHeartbeatTime": "t0"}),
            json!({"type": "MemoryPressure", "status": "True", "lastTransitionTime": "t0"}),
            json!({"type": "NetworkUnavailable", "status": "False"}),
        ];
        let got = heartbeat_conditions(&old, "t1");
        let types: Vec<&str> = got.iter().map(|c| c["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready", "NetworkUnavailable"]);
        let ready = &got[3];
        assert_eq!((ready["lastHeartbeatTime"].as_str(), ready["lastTransitionTime"].as_str()), (Some("t1"), Some("t0")));
        // MemoryPressure went from True to False: a transition.
        assert_eq!(got[0]["lastTransitionTime"], "t1");
        assert_eq!(got[0]["reason"], "KubeletHasSufficientMemory");
    }
}
