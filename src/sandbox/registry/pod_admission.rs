//! The admission plugins that change a pod on create, after its defaults: ServiceAccount
//! (the identity and the token volume every container gets), DefaultTolerationSeconds and
//! Priority. They run in kube-apiserver, not in the pod strategy, which is why a pod in a
//! workload's template never shows them.

use serde_json::{json, Value};

use super::wire_shape::ensure;

/// Where every container finds its token, CA bundle and namespace.
pub const SERVICE_ACCOUNT_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The projected volume holding a bound service account token (valid one hour plus the
/// 7 s the kubelet's refresh needs), the cluster CA and the pod's namespace: the three
/// sources upstream kube-apiserver's ServiceAccount admission projects.
pub fn kube_api_access_volume(name: &str) -> Value {
    json!({
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}},
                {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}}
            ]
        }
    })
}

fn mounts_service_account(c: &Value) -> bool {
    c.get("volumeMounts")
        .and_then(Value::as_array)
        .is_some_and(|ms| ms.iter().any(|m| m.get("mountPath").and_then(Value::as_str) == Some(SERVICE_ACCOUNT_MOUNT_PATH)))
}

/// ServiceAccount admission: the pod runs as `default` unless told otherwise, and unless it
/// opts out (`automountServiceAccountToken: false`) gets the token volume mounted read-only
/// in every container and init container.
pub fn admit_service_account(spec: &mut Value) {
    let named = spec.get("serviceAccountName").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    let legacy = spec.get("serviceAccount").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    let account = named.or(legacy).unwrap_or_else(|| "default".into());
    spec["serviceAccountName"] = json!(account);
    spec["serviceAccount"] = json!(account);
    if spec.get("automountServiceAccountToken").and_then(Value::as_bool) == Some(false) {
        return;
    }
    let volume = format!("kube-api-access-{}", crate::sandbox::meta::random_suffix());
    let mut mounted = false;
    for list in ["initContainers", "containers"] {
        if let Some(Value::Array(cs)) = spec.get_mut(list) {
            for c in cs.iter_mut().filter(|c| !mounts_service_account(c)) {
                let mounts = ensure(c, "volumeMounts", json!([])).expect("container is an object");
                if let Value::Array(ms) = mounts {
                    ms.push(json!({"mountPath": SERVICE_ACCOUNT_MOUNT_PATH, "name": volume, "readOnly": true}));
                    mounted = true;
                }
            }
        }
    }
    if mounted {
        if let Some(Value::Array(vols)) = ensure(spec, "volumes", json!([])) {
            vols.push(kube_api_access_volume(&volume));
        }
    }
}

/// DefaultTolerationSeconds: a pod tolerates a not-ready or unreachable node for five
/// minutes before it is evicted, unless it already says how long.
pub fn admit_default_tolerations(spec: &mut Value) {
    let Some(Value::Array(tolerations)) = ensure(spec, "tolerations", json!([])) else { return };
    for key in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] {
        let covered = tolerations.iter().any(|t| {
            let effect = t.get("effect").and_then(Value::as_str).unwrap_or_default();
            let tkey = t.get("key").and_then(Value::as_str).unwrap_or_default();
            let op = t.get("operator").and_then(Value::as_str).unwrap_or("Equal");
            (effect.is_empty() || effect == "NoExecute") && (tkey == key || (tkey.is_empty() && op == "Exists"))
        });
        if !covered {
            tolerations.push(json!({"effect": "NoExecute", "key": key, "operator": "Exists", "tolerationSeconds": 300}));
        }
    }
}

/// The two system priority classes kube-apiserver creates itself.
fn system_priority(class: &str) -> Option<i64> {
    match class {
        "system-node-critical" => Some(2_000_001_000),
        "system-cluster-critical" => Some(2_000_000_000),
        _ => None,
    }
}

/// Priority admission: without a priority class (and with no global default class) the pod
/// gets priority 0 and may preempt lower ones.
pub fn admit_priority(spec: &mut Value) {
    let class = spec.get("priorityClassName").and_then(Value::as_str).unwrap_or_default().to_string();
    let priority = if class.is_empty() { Some(0) } else { system_priority(&class) };
    if let Some(p) = priority {
        spec["priority"] = json!(p);
        ensure(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
    }
}

/// All of a pod's create-time admission, in kube-apiserver's plugin order.
pub fn admit_pod(pod: &mut Value) {
    let Some(spec) = pod.get_mut("spec").filter(|s| s.is_object()) else { return };
    admit_service_account(spec);
    admit_default_tolerations(spec);
    admit_priority(spec);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// p03 `create`: service account, token volume, tolerations and priority.
    #[test]
    fn pod_admission_matches_the_corpus() {
        let mut pod = json!({"spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}});
        admit_pod(&mut pod);
        let spec = &pod["spec"];
        assert_eq!(spec["serviceAccountName"], "default");
        assert_eq!(spec["serviceAccount"], "default");
        let vol = spec["volumes"][0]["name"].as_str().unwrap();
        assert!(vol.starts_with("kube-api-access-") && vol.len() == "kube-api-access-".len() + 5);
        assert!(vol["kube-api-access-".len()..].bytes().all(|b| crate::sandbox::meta::GENERATE_ALPHABET.contains(&b)));
        assert_eq!(spec["volumes"][0], kube_api_access_volume(vol));
        assert_eq!(
            spec["containers"][0]["volumeMounts"],
            json!([{"mountPath": SERVICE_ACCOUNT_MOUNT_PATH, "name": vol, "readOnly": true}])
        );
        assert_eq!(
            spec["tolerations"],
            json!([
                {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
                {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300}
            ])
        );
        assert_eq!(spec["priority"], 0);
        assert_eq!(spec["preemptionPolicy"], "PreemptLowerPriority");
    }

    #[test]
    fn opting_out_of_the_token_keeps_the_account_only() {
        let mut pod = json!({"spec": {"serviceAccountName": "robot", "automountServiceAccountToken": false, "containers": [{"name": "a", "image": "x"}]}});
        admit_pod(&mut pod);
        assert_eq!(pod["spec"]["serviceAccount"], "robot");
        assert!(pod["spec"].get("volumes").is_none());
    }

    #[test]
    fn existing_tolerations_are_respected() {
        let mut spec = json!({"tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10}]});
        admit_default_tolerations(&mut spec);
        assert_eq!(spec["tolerations"].as_array().unwrap().len(), 2);
        assert_eq!(spec["tolerations"][0]["tolerationSeconds"], 10);
    }
}
