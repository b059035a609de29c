//! What the loops keep of a pod in their shared cache.
//!
//! A decoded pod's largest parts are its volumes (k8s-openapi's `Volume` holds every volume
//! source inline, ~3 KiB before the projected token's sources) and its containers' volume
//! mounts. The loops read only the volumes that name a claim: the scheduler's
//! VolumeBinding and the claim protection controller look for `persistentVolumeClaim` and
//! `ephemeral` sources. The kubelet mounts nothing, the workload controllers create pods
//! from their templates, and no loop writes a pod back whole (status goes by patch, binding
//! by `pods/binding`). So the other volumes and every mount are dropped on the way into the
//! cache, as client-go's `SetTransform` is meant for.

use k8s_openapi::api::core::v1::Pod;

/// The pod informer's transform.
pub fn trim(pod: &mut Pod) {
    if let Some(spec) = pod.spec.as_mut() {
        let claims: Vec<_> =
            spec.volumes.take().into_iter().flatten().filter(|v| v.persistent_volume_claim.is_some() || v.ephemeral.is_some()).collect();
        spec.volumes = (!claims.is_empty()).then_some(claims);
        for c in spec.containers.iter_mut().chain(spec.init_containers.iter_mut().flatten()) {
            c.volume_mounts = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_volumes_stay_other_volumes_and_mounts_go() {
        let mut pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "labels": {"app": "web"}},
            "spec": {
                "nodeName": "n",
                "containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}],
                    "volumeMounts": [{"name": "v", "mountPath": "/v"}]}],
                "initContainers": [{"name": "i", "image": "busybox", "volumeMounts": [{"name": "v", "mountPath": "/v"}]}],
                "volumes": [
                    {"name": "v", "emptyDir": {}},
                    {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                    {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}},
                ],
            },
            "status": {"phase": "Running"},
        }))
        .unwrap();
        trim(&mut pod);
        let spec = pod.spec.as_ref().unwrap();
        let kept: Vec<&str> = spec.volumes.iter().flatten().map(|v| v.name.as_str()).collect();
        assert_eq!(kept, ["data", "scratch"]);
        assert!(spec.containers[0].volume_mounts.is_none());
        assert!(spec.init_containers.as_ref().unwrap()[0].volume_mounts.is_none());
        assert_eq!(spec.containers[0].ports.as_ref().unwrap()[0].container_port, 80);
        assert_eq!(spec.node_name.as_deref(), Some("n"));
        assert_eq!(pod.status.unwrap().phase.as_deref(), Some("Running"));
    }

    #[test]
    fn a_pod_without_claims_keeps_no_volumes() {
        let mut pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}], "volumes": [{"name": "v", "emptyDir": {}}]},
        }))
        .unwrap();
        trim(&mut pod);
        assert!(pod.spec.unwrap().volumes.is_none());
    }
}
