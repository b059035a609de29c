//! `pods/<name>/binding` and `bindings`: how a scheduler assigns a pod to a node.
//!
//! Ported from `pkg/registry/core/pod/storage/storage.go` (`BindingREST`,
//! `LegacyBindingREST`) and `ValidatePodBinding`. The binding is not stored: it changes the
//! pod in storage, as upstream's storage-level `GuaranteedUpdate` does (a new
//! resourceVersion and a MODIFIED watch event; no strategy and no field manager run, so
//! `managedFields` is left as it was), and answers `Status Success`.

use serde_json::{json, Map, Value};

use super::strategy::{Created, ForwardedCreate, NamedCreater, Strategy, SubresourceCreate};
use crate::sandbox::meta;
use crate::sandbox::status::{ApiError, FieldError};

/// `api.Resource("pods/binding")`: what a refused binding is a conflict on.
const BINDING_RESOURCE: &str = "pods/binding";

/// The top-level `bindings` resource: a create of one is a create on `pods/<name>/binding`.
pub struct BindingsStrategy;

impl Strategy for BindingsStrategy {
    fn create_forwards_to(&self) -> Option<ForwardedCreate> {
        Some(ForwardedCreate { group: "", kind: "Pod", subresource: "binding" })
    }
}

/// `BindingREST`.
pub struct BindingRest;

/// What a Binding asks: the pod's preconditions, the node, metadata to merge.
struct Binding {
    uid: Option<String>,
    resource_version: Option<String>,
    node: String,
    annotations: Map<String, Value>,
}

fn decode(name: &str, body: &Value) -> Result<Binding, ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request("the object provided is unrecognized (must be of type Binding)"));
    }
    if meta::name(body).unwrap_or_default() != name {
        return Err(ApiError::bad_request("name in URL does not match name in Binding object"));
    }
    let text = |p: &str| body.pointer(p).and_then(Value::as_str).unwrap_or_default().to_string();
    let (kind, node) = (text("/target/kind"), text("/target/name"));
    let mut errs = Vec::new();
    if !kind.is_empty() && kind != "Node" {
        errs.push(FieldError::not_supported("target.kind", &json!(kind), &["Node", "<empty>"]));
    }
    if node.is_empty() {
        errs.push(FieldError::required("target.name", ""));
    }
    if !errs.is_empty() {
        // Upstream returns the field errors' aggregate, not a StatusError: a 500.
        let messages: Vec<String> = errs.iter().map(FieldError::to_message).collect();
        let message = if messages.len() == 1 { messages[0].clone() } else { format!("[{}]", messages.join(", ")) };
        return Err(ApiError::internal(message));
    }
    let non_empty = |s: String| Some(s).filter(|s| !s.is_empty());
    Ok(Binding {
        uid: non_empty(text("/metadata/uid")),
        resource_version: non_empty(text("/metadata/resourceVersion")),
        node,
        annotations: body.pointer("/metadata/annotations").and_then(Value::as_object).cloned().unwrap_or_default(),
    })
}

/// `setPodNodeAndMetadata`: the pod bound to `b.node`, or why it cannot be.
fn assign(pod: &Value, b: &Binding) -> Result<Value, ApiError> {
    let name = meta::name(pod).unwrap_or_default().to_string();
    // Preconditions fail as `InterpretUpdateError` reports them: a conflict on `pods`.
    let precondition = |what: &str, wanted: &str, found: &str| {
        ApiError::conflict("pods", &name, &format!("Precondition failed: {what} in precondition: {wanted}, {what} in object meta: {found}"))
    };
    if let Some(uid) = &b.uid {
        let found = meta::uid(pod).unwrap_or_default();
        if uid != found {
            return Err(precondition("UID", uid, found));
        }
    }
    if let Some(rv) = &b.resource_version {
        let found = meta::resource_version(pod).unwrap_or_default();
        if rv != found {
            return Err(precondition("ResourceVersion", rv, found));
        }
    }
    let refuse = |why: String| ApiError::conflict(BINDING_RESOURCE, &name, &why);
    if meta::deletion_timestamp(pod).is_some() {
        return Err(refuse(format!("pod {name} is being deleted, cannot be assigned to a host")));
    }
    if let Some(node) = pod.pointer("/spec/nodeName").and_then(Value::as_str).filter(|n| !n.is_empty()) {
        return Err(refuse(format!("pod {name} is already assigned to node {node:?}")));
    }
    if pod.pointer("/spec/schedulingGates").and_then(Value::as_array).is_some_and(|g| !g.is_empty()) {
        return Err(refuse(format!("pod {name} has non-empty .spec.schedulingGates")));
    }
    let mut pod = pod.clone();
    let spec = pod.get_mut("spec").and_then(Value::as_object_mut).ok_or_else(|| ApiError::internal("a stored pod without a spec"))?;
    spec.insert("nodeName".into(), json!(b.node));
    if !b.annotations.is_empty() {
        let meta = pod.get_mut("metadata").and_then(Value::as_object_mut).ok_or_else(|| ApiError::internal("a pod without metadata"))?;
        let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
        if let Some(a) = annotations.as_object_mut() {
            a.extend(b.annotations.clone());
        }
    }
    set_scheduled(&mut pod);
    Ok(pod)
}

/// `podutil.UpdatePodCondition` with `PodScheduled=True`: a condition that was already
/// True keeps its transition time; reason and message are cleared.
fn set_scheduled(pod: &mut Value) {
    let Some(pod) = pod.as_object_mut() else { return };
    let status = pod.entry("status").or_insert_with(|| json!({}));
    if !status.is_object() {
        *status = json!({});
    }
    let Some(status) = status.as_object_mut() else { return };
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let Some(conditions) = conditions.as_array_mut() else { return };
    let existing = conditions.iter().position(|c| c.get("type").and_then(Value::as_str) == Some("PodScheduled"));
    let mut condition = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": meta::now_rfc3339()});
    match existing {
        Some(i) => {
            if conditions[i].get("status").and_then(Value::as_str) == Some("True") {
                condition["lastTransitionTime"] = conditions[i].get("lastTransitionTime").cloned().unwrap_or(Value::Null);
            }
            conditions[i] = condition;
        }
        None => conditions.push(condition),
    }
}

impl NamedCreater for BindingRest {
    fn create(&self, req: SubresourceCreate<'_>) -> Result<Created, ApiError> {
        let binding = decode(req.name, &req.body)?;
        Ok(Created {
            object: json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
            warnings: vec![],
            change: Some(Box::new(move |pod: &Value| assign(pod, &binding))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(node: Option<&str>, deleting: bool) -> Value {
        let mut p = json!({"metadata": {"name": "p", "uid": "u1", "resourceVersion": "7"}, "spec": {"containers": []}, "status": {"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/2 nodes are available", "lastProbeTime": null, "lastTransitionTime": "2026-01-01T00:00:00Z"}
        ]}});
        if let Some(n) = node {
            p["spec"]["nodeName"] = json!(n);
        }
        if deleting {
            p["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        }
        p
    }

    fn binding(target: Value, meta_extra: Value) -> Value {
        let mut m = json!({"name": "p"});
        if let (Some(m), Some(e)) = (m.as_object_mut(), meta_extra.as_object()) {
            m.extend(e.clone());
        }
        json!({"apiVersion": "v1", "kind": "Binding", "metadata": m, "target": target})
    }

    fn bind(pod: &Value, body: Value) -> Result<Value, ApiError> {
        let b = decode("p", &body)?;
        assign(pod, &b)
    }

    #[test]
    fn binding_sets_the_node_and_replaces_the_unschedulable_condition() {
        let bound = bind(&pod(None, false), binding(json!({"kind": "Node", "name": "n1"}), json!({"annotations": {"a": "b"}}))).unwrap();
        assert_eq!(bound["spec"]["nodeName"], "n1");
        assert_eq!(bound["metadata"]["annotations"]["a"], "b");
        let c = &bound["status"]["conditions"][0];
        assert_eq!((c["type"].as_str(), c["status"].as_str(), c.get("reason")), (Some("PodScheduled"), Some("True"), None));
        assert_ne!(c["lastTransitionTime"], "2026-01-01T00:00:00Z");
    }

    #[test]
    fn refusals_say_what_upstream_says() {
        let cases: &[(Value, Value, u16, &str)] = &[
            (
                pod(Some("n"), false),
                binding(json!({"name": "n1"}), json!({})),
                409,
                "Operation cannot be fulfilled on pods/binding \"p\": pod p is already assigned to node \"n\"",
            ),
            (
                pod(None, true),
                binding(json!({"name": "n1"}), json!({})),
                409,
                "Operation cannot be fulfilled on pods/binding \"p\": pod p is being deleted, cannot be assigned to a host",
            ),
            (
                pod(None, false),
                binding(json!({"name": "n1"}), json!({"uid": "other"})),
                409,
                "Operation cannot be fulfilled on pods \"p\": Precondition failed: UID in precondition: other, UID in object meta: u1",
            ),
            (pod(None, false), binding(json!({}), json!({})), 500, "target.name: Required value"),
            (
                pod(None, false),
                binding(json!({"kind": "Pod", "name": "n"}), json!({})),
                500,
                "target.kind: Unsupported value: \"Pod\": supported values: \"Node\", \"<empty>\"",
            ),
            (
                pod(None, false),
                json!({"metadata": {"name": "q"}, "target": {"name": "n"}}),
                400,
                "name in URL does not match name in Binding object",
            ),
        ];
        for (pod, body, code, message) in cases {
            let e = bind(pod, body.clone()).expect_err("refused");
            assert_eq!((e.code, e.message.as_str()), (*code, *message));
        }
    }
}
