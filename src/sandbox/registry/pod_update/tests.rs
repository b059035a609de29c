//! Table-driven checks of the refusal text against kube-apiserver v1.34.2 answers recorded
//! in the fidelity corpus (`/work/shared/fidelity/corpus`), plus changes the corpus lacks.

use serde_json::{json, Value};

use super::*;
use crate::sandbox::status::ApiError;

/// p03 `update-restartpolicy-forbidden`: the PUT body's spec (the stored pod differs only
/// in `restartPolicy: Always`).
const P03_SPEC: &str = r##"{"containers": [{"image": "nginx:1.28", "imagePullPolicy": "IfNotPresent", "name": "app", "resources": {}, "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "volumeMounts": [{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": "kube-api-access-wkqbq", "readOnly": true}]}], "dnsPolicy": "ClusterFirst", "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority", "priority": 0, "restartPolicy": "Never", "schedulerName": "default-scheduler", "securityContext": {}, "serviceAccount": "default", "serviceAccountName": "default", "terminationGracePeriodSeconds": 30, "tolerations": [{"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300}, {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300}], "volumes": [{"name": "kube-api-access-wkqbq", "projected": {"defaultMode": 420, "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}, {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}}, {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}}]}}]}"##;

/// p09 `immutable-container-name`: the PUT body's spec (stored: container named `app`).
const P09_SPEC: &str = r##"{"containers": [{"image": "nginx:1.27", "imagePullPolicy": "IfNotPresent", "name": "renamed", "resources": {}, "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "volumeMounts": [{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": "kube-api-access-jdvc6", "readOnly": true}]}], "dnsPolicy": "ClusterFirst", "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority", "priority": 0, "restartPolicy": "Always", "schedulerName": "default-scheduler", "securityContext": {}, "serviceAccount": "default", "serviceAccountName": "default", "terminationGracePeriodSeconds": 30, "tolerations": [{"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300}, {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300}], "volumes": [{"name": "kube-api-access-jdvc6", "projected": {"defaultMode": 420, "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}, {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}}, {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}}]}}]}"##;

/// The recorded Status `message` of p03 `update-restartpolicy-forbidden`.
const P03_MESSAGE: &str = "Pod \"web\" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n@@ -151,7 +151,7 @@\n   }\n  ],\n  \"EphemeralContainers\": null,\n- \"RestartPolicy\": \"Always\",\n+ \"RestartPolicy\": \"Never\",\n  \"TerminationGracePeriodSeconds\": 30,\n  \"ActiveDeadlineSeconds\": null,\n  \"DNSPolicy\": \"ClusterFirst\",\n";

/// The recorded Status `message` of p09 `immutable-container-name`.
const P09_MESSAGE: &str = "Pod \"ok\" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n@@ -109,7 +109,7 @@\n  \"InitContainers\": null,\n  \"Containers\": [\n   {\n-   \"Name\": \"app\",\n+   \"Name\": \"renamed\",\n    \"Image\": \"nginx:1.27\",\n    \"Command\": null,\n    \"Args\": null,\n";

fn pod(spec: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "spec": serde_json::from_str::<Value>(spec).unwrap()})
}

fn with(spec: &str, change: impl Fn(&mut Value)) -> Value {
    let mut p = pod(spec);
    change(&mut p["spec"]);
    p
}

fn message(name: &str, old: &Value, new: &Value) -> String {
    ApiError::invalid("Pod", name, &validate_pod_update(old, new)).message
}

fn forbidden(diff: &str) -> String {
    format!("Pod \"web\" is invalid: spec: Forbidden: {POD_UPDATE_FORBIDDEN}\n{diff}")
}

/// The recorder's kube-apiserver (openshift/kubernetes) gave every pod a fourth projected
/// source; the corpus bodies had it removed afterwards, but the diff's line numbers still
/// count its 18 lines. Put back, the recorded messages come out byte for byte.
fn with_fork_source(mut pod: Value) -> Value {
    let source = json!({"configMap": {"items": [{"key": "service-ca.crt", "path": "service-ca.crt"}], "name": "openshift-service-ca.crt"}});
    pod["spec"]["volumes"][0]["projected"]["sources"].as_array_mut().unwrap().push(source);
    pod
}

/// Byte for byte what the recorder's kube-apiserver answered, from the recorded request
/// and stored pod (with the fork's projected source, see [`with_fork_source`]).
#[test]
fn recorded_refusals_match_byte_for_byte() {
    let cases = [
        ("web", with(P03_SPEC, |s| s["restartPolicy"] = json!("Always")), pod(P03_SPEC), P03_MESSAGE),
        ("ok", with(P09_SPEC, |s| s["containers"][0]["name"] = json!("app")), pod(P09_SPEC), P09_MESSAGE),
    ];
    for (name, old, new, want) in cases {
        assert_eq!(message(name, &with_fork_source(old), &with_fork_source(new)), want);
    }
}

/// Upstream's pods have three projected sources: the same hunks, 18 lines earlier.
#[test]
fn upstream_refusals_are_the_recorded_hunks_18_lines_up() {
    let shifted = |msg: &str, from: &str, to: &str| {
        assert!(msg.contains(from), "{msg}");
        msg.replace(from, to)
    };
    let cases = [
        (
            "web",
            with(P03_SPEC, |s| s["restartPolicy"] = json!("Always")),
            pod(P03_SPEC),
            shifted(P03_MESSAGE, "@@ -151,7 +151,7 @@", "@@ -133,7 +133,7 @@"),
        ),
        (
            "ok",
            with(P09_SPEC, |s| s["containers"][0]["name"] = json!("app")),
            pod(P09_SPEC),
            shifted(P09_MESSAGE, "@@ -109,7 +109,7 @@", "@@ -91,7 +91,7 @@"),
        ),
    ];
    for (name, old, new, want) in cases {
        assert_eq!(message(name, &old, &new), want);
    }
}

/// The Status causes carry the same text after `Forbidden: `.
#[test]
fn recorded_cause_matches() {
    let old = with_fork_source(with(P03_SPEC, |s| s["restartPolicy"] = json!("Always")));
    let errs = validate_pod_update(&old, &with_fork_source(pod(P03_SPEC)));
    let status = ApiError::invalid("Pod", "web", &errs).to_status();
    let want: Value = serde_json::from_str(r##"[{"field": "spec", "message": "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n@@ -151,7 +151,7 @@\n   }\n  ],\n  \"EphemeralContainers\": null,\n- \"RestartPolicy\": \"Always\",\n+ \"RestartPolicy\": \"Never\",\n  \"TerminationGracePeriodSeconds\": 30,\n  \"ActiveDeadlineSeconds\": null,\n  \"DNSPolicy\": \"ClusterFirst\",\n", "reason": "FieldValueForbidden"}]"##).unwrap();
    assert_eq!(status["details"]["causes"], want);
}

/// Changes the corpus does not cover. The Go text is written from `pkg/apis/core/types.go`
/// (field order) and `json.MarshalIndent`; the hunks agree with Python's `difflib`, which
/// go-difflib ports.
#[test]
fn other_frozen_changes_show_go_diffs() {
    let cases: Vec<(&str, Value, String)> = vec![
        (
            "a volume renamed: the first field of the first volume",
            with(P03_SPEC, |s| s["volumes"][0]["name"] = json!("other")),
            forbidden(concat!(
                "@@ -1,7 +1,7 @@\n",
                " {\n",
                "  \"Volumes\": [\n",
                "   {\n",
                "-   \"Name\": \"kube-api-access-wkqbq\",\n",
                "+   \"Name\": \"other\",\n",
                "    \"HostPath\": null,\n",
                "    \"EmptyDir\": null,\n",
                "    \"GCEPersistentDisk\": null,\n",
            )),
        ),
        (
            "a CPU limit: quantities in canonical form, resource names as map keys",
            with(P03_SPEC, |s| s["containers"][0]["resources"] = json!({"limits": {"cpu": "0.5"}})),
            forbidden(concat!(
                "@@ -100,7 +100,9 @@\n",
                "    \"EnvFrom\": null,\n",
                "    \"Env\": null,\n",
                "    \"Resources\": {\n",
                "-    \"Limits\": null,\n",
                "+    \"Limits\": {\n",
                "+     \"cpu\": \"500m\"\n",
                "+    },\n",
                "     \"Requests\": null,\n",
                "     \"Claims\": null\n",
                "    },\n",
            )),
        ),
        (
            "hostNetwork: the internal type keeps it in the pod security context",
            with(P03_SPEC, |s| s["hostNetwork"] = json!(true)),
            forbidden(concat!(
                "@@ -142,7 +142,7 @@\n",
                "  \"AutomountServiceAccountToken\": null,\n",
                "  \"NodeName\": \"\",\n",
                "  \"SecurityContext\": {\n",
                "-  \"HostNetwork\": false,\n",
                "+  \"HostNetwork\": true,\n",
                "   \"HostPID\": false,\n",
                "   \"HostIPC\": false,\n",
                "   \"ShareProcessNamespace\": null,\n",
            )),
        ),
        (
            "a volume added: one hunk of inserted lines (checked against Python's difflib)",
            with(P03_SPEC, |s| s["volumes"].as_array_mut().unwrap().push(json!({"name": "scratch", "emptyDir": {}}))),
            forbidden(concat!(
                "@@ -86,6 +86,42 @@\n",
                "    \"CSI\": null,\n",
                "    \"Ephemeral\": null,\n",
                "    \"Image\": null\n",
                "+  },\n",
                "+  {\n",
                "+   \"Name\": \"scratch\",\n",
                "+   \"HostPath\": null,\n",
                "+   \"EmptyDir\": {\n",
                "+    \"Medium\": \"\",\n",
                "+    \"SizeLimit\": null\n",
                "+   },\n",
                "+   \"GCEPersistentDisk\": null,\n",
                "+   \"AWSElasticBlockStore\": null,\n",
                "+   \"GitRepo\": null,\n",
                "+   \"Secret\": null,\n",
                "+   \"NFS\": null,\n",
                "+   \"ISCSI\": null,\n",
                "+   \"Glusterfs\": null,\n",
                "+   \"PersistentVolumeClaim\": null,\n",
                "+   \"RBD\": null,\n",
                "+   \"Quobyte\": null,\n",
                "+   \"FlexVolume\": null,\n",
                "+   \"Cinder\": null,\n",
                "+   \"CephFS\": null,\n",
                "+   \"Flocker\": null,\n",
                "+   \"DownwardAPI\": null,\n",
                "+   \"FC\": null,\n",
                "+   \"AzureFile\": null,\n",
                "+   \"ConfigMap\": null,\n",
                "+   \"VsphereVolume\": null,\n",
                "+   \"AzureDisk\": null,\n",
                "+   \"PhotonPersistentDisk\": null,\n",
                "+   \"Projected\": null,\n",
                "+   \"PortworxVolume\": null,\n",
                "+   \"ScaleIO\": null,\n",
                "+   \"StorageOS\": null,\n",
                "+   \"CSI\": null,\n",
                "+   \"Ephemeral\": null,\n",
                "+   \"Image\": null\n",
                "   }\n",
                "  ],\n",
                "  \"InitContainers\": null,\n",
            )),
        ),
        (
            "an env var: Go escapes <, > and & in JSON strings",
            with(P03_SPEC, |s| s["containers"][0]["env"] = json!([{"name": "A", "value": "<1>"}])),
            forbidden(concat!(
                "@@ -98,7 +98,13 @@\n",
                "    \"WorkingDir\": \"\",\n",
                "    \"Ports\": null,\n",
                "    \"EnvFrom\": null,\n",
                "-   \"Env\": null,\n",
                "+   \"Env\": [\n",
                "+    {\n",
                "+     \"Name\": \"A\",\n",
                "+     \"Value\": \"\\u003c1\\u003e\",\n",
                "+     \"ValueFrom\": null\n",
                "+    }\n",
                "+   ],\n",
                "    \"Resources\": {\n",
                "     \"Limits\": null,\n",
                "     \"Requests\": null,\n",
            )),
        ),
    ];
    let old = pod(P03_SPEC);
    for (what, new, want) in cases {
        assert_eq!(message("web", &old, &new), want, "{what}");
    }
}

/// What an update may change leaves no diff: images, a lower deadline, added tolerations.
#[test]
fn allowed_changes_pass() {
    let old = with(P03_SPEC, |s| s["activeDeadlineSeconds"] = json!(60));
    let cases = [
        with(P03_SPEC, |s| {
            s["activeDeadlineSeconds"] = json!(60);
            s["containers"][0]["image"] = json!("nginx:1.29");
        }),
        with(P03_SPEC, |s| s["activeDeadlineSeconds"] = json!(30)),
        with(P03_SPEC, |s| {
            s["activeDeadlineSeconds"] = json!(60);
            s["tolerations"].as_array_mut().unwrap().push(json!({"key": "x", "operator": "Exists"}));
        }),
        // an empty list sent where the stored pod has none is no change
        with(P03_SPEC, |s| {
            s["activeDeadlineSeconds"] = json!(60);
            s["containers"][0]["args"] = json!([]);
        }),
    ];
    for new in cases {
        assert!(validate_pod_update(&old, &new).is_empty(), "{new}");
    }
}

/// Adding a container stops before the diff, as upstream's `ValidateContainerUpdates`.
#[test]
fn adding_containers_is_forbidden() {
    let old = pod(P03_SPEC);
    let cases = [
        ("containers", with(P03_SPEC, |s| s["containers"].as_array_mut().unwrap().push(json!({"name": "b", "image": "b"})))),
        ("initContainers", with(P03_SPEC, |s| s["initContainers"] = json!([{"name": "i", "image": "busybox"}]))),
    ];
    for (key, new) in cases {
        let errs = validate_pod_update(&old, &new);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].to_message(), format!("spec.{key}: Forbidden: pod updates may not add or remove containers"));
    }
}

#[test]
fn tolerations_may_only_be_added() {
    let old = pod(P03_SPEC);
    let new = with(P03_SPEC, |s| {
        s["tolerations"].as_array_mut().unwrap().remove(0);
    });
    let errs = validate_pod_update(&old, &new);
    assert_eq!(errs[0].to_message(), "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds");
    // tolerations are taken from the stored pod before diffing: nothing else to report
    assert_eq!(errs.len(), 1);
    // a changed tolerationSeconds or a spelled-out default is no modification
    let cases = [
        with(P03_SPEC, |s| s["tolerations"][0]["tolerationSeconds"] = json!(10)),
        with(P03_SPEC, |s| s["tolerations"][1]["value"] = json!("")),
    ];
    for new in cases {
        assert!(validate_pod_update(&old, &new).is_empty(), "{new}");
    }
}

/// `activeDeadlineSeconds` may only come down; scheduling gates may only go.
#[test]
fn deadline_and_gates_rules() {
    let deadline = |v: Value| with(P03_SPEC, |s| s["activeDeadlineSeconds"] = v.clone());
    let gates =
        |names: &[&str]| with(P03_SPEC, |s| s["schedulingGates"] = Value::Array(names.iter().map(|n| json!({"name": n})).collect()));
    let cases = [
        (
            deadline(json!(60)),
            deadline(json!(61)),
            "spec.activeDeadlineSeconds: Invalid value: 61: must be less than or equal to previous value",
        ),
        (
            deadline(json!(60)),
            deadline(json!(-1)),
            "spec.activeDeadlineSeconds: Invalid value: -1: must be between 0 and 2147483647, inclusive",
        ),
        (
            deadline(json!(60)),
            pod(P03_SPEC),
            "spec.activeDeadlineSeconds: Invalid value: null: must not update from a positive integer to nil value",
        ),
        (
            gates(&["a"]),
            gates(&["a", "b"]),
            "spec.schedulingGates[1].name: Forbidden: only deletion is allowed, but found new scheduling gate 'b'",
        ),
    ];
    for (old, new, want) in cases {
        let errs = validate_pod_update(&old, &new);
        assert_eq!(errs.iter().map(FieldError::to_message).collect::<Vec<_>>(), [want]);
    }
    assert!(validate_pod_update(&gates(&["a", "b"]), &gates(&["b"])).is_empty());
}
