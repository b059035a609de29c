//! `kubelab create-pod`: an object built from typed structs, serialized, POSTed, and read
//! back with what the server filled in.
//!
//! Go builds `&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: ...}, Spec: ...}` and its
//! struct tags (`json:"name,omitempty"`) drive encoding/json. Rust builds the same value from
//! k8s-openapi structs, and serde attributes (`rename`, `skip_serializing_if`) do the tags'
//! job — which is why every `None` below is simply absent from the JSON.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use serde_json::Value;

use super::{CommandError, Session};
use crate::cli::{Global, OutputFormat};
use crate::narrate;

/// The pod the lesson builds: one container, one label.
pub fn build(name: &str, image: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(BTreeMap::from([("app".to_string(), "kubelab".to_string())])),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container { name: "main".into(), image: Some(image.to_string()), ..Default::default() }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub async fn run(global: &Global, name: &str, image: &str) -> Result<(), CommandError> {
    let mut s = Session::open(global).await?;
    let pod = build(name, image);

    s.n.step("the Pod as a Rust value (Debug, fields that are None left out)");
    s.n.block(without_nones(&format!("{pod:#?}")));
    s.n.step("serialized by serde: apiVersion and kind come from the Resource trait, None fields are skipped");
    let sent = serde_json::to_value(&pod).unwrap_or_default();
    s.n.block(serde_json::to_string_pretty(&sent).unwrap_or_default());

    let namespace = s.client.default_namespace().to_string();
    let pods: Api<Pod> = Api::namespaced(s.client.clone(), &namespace);
    s.n.step(format!("request: Api::<Pod>::namespaced(client, {namespace:?}).create(&PostParams::default(), &pod)"));
    s.n.note("Go: clientset.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{})");
    let before = s.journal.len();
    let result = pods.create(&PostParams::default(), &pod).await;
    let ex = s.journal.since(before).pop().unwrap_or_default();
    s.n.request(&ex, true);

    let created = match result {
        Ok(p) => p,
        Err(kube::Error::Api(status)) => {
            s.n.step("response: refused, with a metav1.Status explaining why");
            s.n.response(&ex, false);
            s.n.detail("kind", "Status");
            s.n.detail("code", status.code);
            s.n.detail("reason", &status.reason);
            s.n.detail("message", &status.message);
            s.n.note(reason_meaning(&status));
            return Err(s.explain(kube::Error::Api(status)));
        }
        Err(e) => return Err(s.explain(e)),
    };

    s.n.step("response: the object as stored, decoded back into a Pod");
    s.n.response(&ex, false);
    let meta = &created.metadata;
    s.n.detail("uid", meta.uid.as_deref().unwrap_or("?"));
    s.n.detail("resourceVersion", meta.resource_version.as_deref().unwrap_or("?"));
    s.n.detail("creationTimestamp", meta.creation_timestamp.as_ref().map(|t| t.0.to_string()).unwrap_or_else(|| "?".into()));
    s.n.detail("namespace", meta.namespace.as_deref().unwrap_or("?"));
    let received = serde_json::to_value(&created).unwrap_or_default();
    let mut added = Vec::new();
    added_paths(&sent, &received, "", &mut added);
    s.n.detail("server added", added.join("\n"));

    match s.n.output() {
        OutputFormat::Table => narrate::print_result(&format!("pod/{} created\n", meta.name.as_deref().unwrap_or(name))),
        format => narrate::print_document(format, &received),
    }
    Ok(())
}

/// What a Status means for someone creating an object. A refusal (403 from RBAC or an
/// admission plugin, a webhook's or a policy's denial) is told by its message, not its reason.
fn reason_meaning(status: &kube::core::Status) -> String {
    if let Some(r) = crate::target::refusal::Refusal::of(status) {
        return format!("{} {}: {}.\nWhat to do: {}.", status.code, status.reason, r.cause(), r.advice());
    }
    match status.reason.as_str() {
        "AlreadyExists" => "409 AlreadyExists: names are unique per namespace and kind. Delete the old pod or pick another --name.",
        "Invalid" => "422 Invalid: validation failed. Names must be DNS-1123 subdomains: lower case letters, digits, '-' and '.'.",
        "NotFound" => "404 NotFound: the namespace does not exist.",
        _ => "The Status's reason and message are the server's own explanation.",
    }
    .to_string()
}

/// `{:#?}` of a k8s-openapi struct prints every optional field; most are `None`.
fn without_nones(debug: &str) -> String {
    debug.lines().filter(|l| !l.trim_end().ends_with(": None,")).collect::<Vec<_>>().join("\n")
}

/// Dotted paths present in `after` but not in `before` (lists compared by index), stopping at
/// the first new key so `metadata.managedFields` is one entry, not dozens.
fn added_paths(before: &Value, after: &Value, prefix: &str, out: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (k, v) in a {
                let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                match b.get(k) {
                    Some(old) => added_paths(old, v, &path, out),
                    None => out.push(path),
                }
            }
        }
        (Value::Array(b), Value::Array(a)) => {
            for (i, v) in a.iter().enumerate() {
                let path = format!("{prefix}[{i}]");
                match b.get(i) {
                    Some(old) => added_paths(old, v, &path, out),
                    None => out.push(path),
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_403_is_narrated_by_who_refused() {
        let admission: kube::core::Status = serde_json::from_value(json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
            "message": "pods \"real-p\" is forbidden: error looking up service account default/default: serviceaccount \"default\" not found",
            "details": {"name": "real-p", "kind": "pods"}
        }))
        .unwrap();
        let note = reason_meaning(&admission);
        assert!(note.starts_with("403 Forbidden: admission refused, not RBAC"), "{note}");
        assert!(note.contains("What to do: kube-controller-manager creates `default` in each namespace"), "{note}");

        let rbac: kube::core::Status = serde_json::from_value(json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
            "message": "pods is forbidden: User \"dev\" cannot create resource \"pods\" in API group \"\" in the namespace \"team\"",
            "details": {"kind": "pods"}
        }))
        .unwrap();
        let note = reason_meaning(&rbac);
        assert!(
            note.starts_with("403 Forbidden: authorization refused (RBAC, on most clusters): no role bound to dev allows create on pods in namespace team"),
            "{note}"
        );
    }

    #[test]
    fn built_pod_serializes_without_empty_fields() {
        let v = serde_json::to_value(build("web", "nginx:1.27")).unwrap();
        assert_eq!(
            v,
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "kubelab"}}, "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}})
        );
    }

    #[test]
    fn added_paths_stop_at_the_first_new_key() {
        let mut out = vec![];
        added_paths(
            &json!({"metadata": {"name": "a"}, "spec": {"c": [{"n": 1}]}}),
            &json!({"metadata": {"name": "a", "uid": "u", "managedFields": [{}]}, "spec": {"c": [{"n": 1, "p": "x"}]}, "status": {}}),
            "",
            &mut out,
        );
        assert_eq!(out, ["metadata.uid", "metadata.managedFields", "spec.c[0].p", "status"]);
    }

    #[test]
    fn debug_output_loses_its_none_lines() {
        assert_eq!(without_nones("Pod {\n    a: None,\n    b: Some(1),\n}"), "Pod {\n    b: Some(1),\n}");
    }
}
