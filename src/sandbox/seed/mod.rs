//! What a new cluster has before anyone writes to it: the four system namespaces, the
//! `kubernetes` service, the default StorageClass `standard`, and two worker nodes with realistic `status.nodeInfo`: one
//! `amd64` and one `arm64`, so scheduling by architecture can be shown.

use serde_json::{json, Value};

use super::resources::ResourceInfo;
use super::rest::Apiserver;
use super::status::ApiError;

const MANAGER: &str = "kube-apiserver";

/// The default workers: name, InternalIP, architecture.
const DEFAULT_NODES: &[(&str, &str, &str)] = &[("kubelab-worker-1", "172.18.0.2", "amd64"), ("kubelab-worker-2", "172.18.0.3", "arm64")];

/// A worker as its kubelet registers it: 4 CPUs, 8Gi of memory, 110 pods, and the
/// conditions the kubelet's setters report on a healthy node.
fn node(name: &str, ip: &str, arch: &str) -> Value {
    let now = super::meta::now_rfc3339();
    let condition = |kind: &str, status: &str, reason: &str, message: &str| json!({"type": kind, "status": status, "reason": reason, "message": message, "lastHeartbeatTime": now, "lastTransitionTime": now});
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "beta.kubernetes.io/arch": arch,
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": arch,
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
            }
        },
        "spec": {"podCIDR": format!("10.244.{}.0/24", &ip[ip.len() - 1..]), "podCIDRs": [format!("10.244.{}.0/24", &ip[ip.len() - 1..])]},
        "status": {
            "capacity": {"cpu": "4", "ephemeral-storage": "61255492Ki", "hugepages-2Mi": "0", "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": "4", "ephemeral-storage": "61255492Ki", "hugepages-2Mi": "0", "memory": "8Gi", "pods": "110"},
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": arch,
                "bootID": uuid::Uuid::new_v4().to_string(),
                "containerRuntimeVersion": "containerd://2.1.4",
                "kernelVersion": "6.12.0-kubelab",
                "kubeProxyVersion": "",
                "kubeletVersion": super::server::KUBERNETES_VERSION,
                "machineID": uuid::Uuid::new_v4().simple().to_string(),
                "operatingSystem": "linux",
                "osImage": "Debian GNU/Linux 13 (trixie)",
                "systemUUID": uuid::Uuid::new_v4().to_string(),
            }
        }
    })
}

/// Creates what a fresh cluster has, skipping what already exists: `nodes` as given, or
/// the two default workers.
pub async fn seed(api: &Apiserver, nodes: Option<&[Value]>) -> Result<(), ApiError> {
    let cat = api.catalogue();
    let ns = cat.find("", "v1", "namespaces").expect("built in").clone();
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        ignore_exists(
            api.create_internal(&ns, json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}), MANAGER).await,
        )?;
    }
    let svc = cat.find("", "v1", "services").expect("built in").clone();
    let kubernetes = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"clusterIP": "10.96.0.1", "ipFamilyPolicy": "SingleStack", "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}], "type": "ClusterIP", "sessionAffinity": "None"}
    });
    ignore_exists(api.create_internal(&svc, kubernetes, MANAGER).await)?;
    let node_res = cat.find("", "v1", "nodes").expect("built in").clone();
    let default_nodes: Vec<Value>;
    let nodes = match nodes {
        Some(n) => n,
        None => {
            default_nodes = DEFAULT_NODES.iter().map(|(n, ip, arch)| node(n, ip, arch)).collect();
            &default_nodes
        }
    };
    for n in nodes {
        ignore_exists(api.create_internal(&node_res, n.clone(), "kubelet").await)?;
    }
    // Concurrent creates share the store's group commits: one fsync for many objects.
    let mut policy: Vec<(ResourceInfo, Value)> = Vec::new();
    let priority_classes = cat.find("scheduling.k8s.io", "v1", "priorityclasses").expect("built in").clone();
    policy.extend(system_priority_classes().into_iter().map(|pc| (priority_classes.clone(), pc)));
    for obj in bootstrap_rbac() {
        let plural = match obj["kind"].as_str().unwrap_or_default() {
            "ClusterRole" => "clusterroles",
            "ClusterRoleBinding" => "clusterrolebindings",
            "Role" => "roles",
            _ => "rolebindings",
        };
        policy.push((cat.find("rbac.authorization.k8s.io", "v1", plural).expect("built in").clone(), obj));
    }
    let storage_classes = cat.find("storage.k8s.io", "v1", "storageclasses").expect("built in").clone();
    policy.push((storage_classes, standard_storage_class()));
    let created = futures::future::join_all(policy.iter().map(|(res, obj)| api.create_internal(res, obj.clone(), MANAGER))).await;
    for r in created {
        ignore_exists(r)?;
    }
    Ok(())
}

/// `schedulingapiv1.SystemPriorityClasses()`, created by the apiserver's post-start hook.
fn system_priority_classes() -> [Value; 2] {
    let pc = |name: &str, value: i64, description: &str| {
        json!({
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value, "description": description, "preemptionPolicy": "PreemptLowerPriority",
        })
    };
    [
        pc("system-node-critical", 2_000_001_000, "Used for system critical pods that must not be moved from their current node."),
        pc(
            "system-cluster-critical",
            2_000_000_000,
            "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
        ),
    ]
}

/// The default StorageClass, as minikube's storage-provisioner addon installs it (there
/// with `k8s.io/minikube-hostpath`): claims that name no class get it, and the in-process
/// hostpath provisioner makes their volumes.
fn standard_storage_class() -> Value {
    json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": crate::sandbox::controllers::hostpath_provisioner::PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
    })
}

/// The RBAC bootstrap policy's objects (see the module's doc).
fn bootstrap_rbac() -> Vec<Value> {
    serde_json::from_str(include_str!("bootstrap_rbac.json")).expect("bootstrap_rbac.json is a JSON array")
}

fn ignore_exists(r: Result<Value, ApiError>) -> Result<(), ApiError> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}
