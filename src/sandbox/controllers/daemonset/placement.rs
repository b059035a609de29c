//! Where a daemon pod belongs (`daemon_controller.go` `NodeShouldRunDaemonPod`,
//! `pkg/controller/daemon/util`): the node must match the template's `nodeName`, node
//! selector and required node affinity, and its taints must be tolerated, with the
//! tolerations every daemon pod gets added (a node not ready, unreachable, under pressure
//! or cordoned keeps its daemons). Each pod is pinned to its node by required node
//! affinity `matchFields metadata.name In [node]`; the scheduler then binds it.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodSpec, PodTemplateSpec, Taint, Toleration,
};

use crate::sandbox::controllers::history::CONTROLLER_REVISION_HASH;
use crate::sandbox::controllers::scheduler::filters::tolerates;
use crate::sandbox::controllers::scheduler::node_affinity::required_matches;

/// `extensions.DaemonSetTemplateGenerationKey`.
pub const TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";
/// The v1 form of `spec.templateGeneration`.
pub const TEMPLATE_GENERATION_ANNOTATION: &str = "deprecated.daemonset.template.generation";

/// The tolerations `AddOrUpdateDaemonPodTolerations` gives every daemon pod: (key, effect).
pub const DAEMON_TOLERATIONS: &[(&str, &str)] = &[
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
];
/// Added too when the pod uses the host's network.
pub const NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";

/// `AddOrUpdateTolerationInPodSpec` for an `Exists` toleration of `key`/`effect`.
fn add_toleration(spec: &mut PodSpec, key: &str, effect: &str) {
    let t = Toleration { key: Some(key.into()), operator: Some("Exists".into()), effect: Some(effect.into()), ..Default::default() };
    let list = spec.tolerations.get_or_insert_with(Vec::new);
    match list.iter_mut().find(|o| o.key.as_deref() == Some(key) && o.effect.as_deref() == Some(effect)) {
        Some(existing) => *existing = t,
        None => list.push(t),
    }
}

/// `AddOrUpdateDaemonPodTolerations`.
pub fn add_daemon_tolerations(spec: &mut PodSpec) {
    for (key, effect) in DAEMON_TOLERATIONS {
        add_toleration(spec, key, effect);
    }
    if spec.host_network == Some(true) {
        add_toleration(spec, NETWORK_UNAVAILABLE, "NoSchedule");
    }
}

/// `GetTemplateGeneration`: the annotation, else (the registry here does not keep it) the
/// set's generation.
pub fn template_generation(ds: &DaemonSet) -> Option<i64> {
    let annotated = ds.metadata.annotations.as_ref().and_then(|a| a.get(TEMPLATE_GENERATION_ANNOTATION)).and_then(|g| g.parse().ok());
    annotated.or(ds.metadata.generation)
}

/// `CreatePodTemplate`: the template with the daemon tolerations, the generation and hash labels.
pub fn pod_template(ds: &DaemonSet, hash: &str) -> PodTemplateSpec {
    let mut t = ds.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
    add_daemon_tolerations(t.spec.get_or_insert_with(Default::default));
    let labels = t.metadata.get_or_insert_with(Default::default).labels.get_or_insert_with(BTreeMap::new);
    if let Some(g) = template_generation(ds) {
        labels.insert(TEMPLATE_GENERATION_LABEL.into(), g.to_string());
    }
    if !hash.is_empty() {
        labels.insert(CONTROLLER_REVISION_HASH.into(), hash.into());
    }
    t
}

/// `ReplaceDaemonSetPodNodeNameNodeAffinity`: the required terms become the one that
/// names `node`.
pub fn pin_to_node(affinity: Option<Affinity>, node: &str) -> Affinity {
    let term = NodeSelectorTerm {
        match_fields: Some(vec![NodeSelectorRequirement {
            key: "metadata.name".into(),
            operator: "In".into(),
            values: Some(vec![node.into()]),
        }]),
        match_expressions: None,
    };
    let mut affinity = affinity.unwrap_or_default();
    let na = affinity.node_affinity.get_or_insert_with(NodeAffinity::default);
    na.required_during_scheduling_ignored_during_execution = Some(NodeSelector { node_selector_terms: vec![term] });
    affinity
}

/// `GetTargetNodeName`: the node a daemon pod is bound or pinned to.
pub fn target_node(pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    if let Some(n) = spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        return Some(n.to_string());
    }
    let terms =
        &spec.affinity.as_ref()?.node_affinity.as_ref()?.required_during_scheduling_ignored_during_execution.as_ref()?.node_selector_terms;
    terms.iter().flat_map(|t| t.match_fields.iter().flatten()).find_map(|r| {
        (r.key == "metadata.name" && r.operator == "In").then(|| r.values.as_ref().and_then(|v| v.first().cloned())).flatten()
    })
}

/// `NewPod`: the daemon pod for `node` as the placement checks see it.
fn new_pod(ds: &DaemonSet, node: &str) -> Pod {
    let template = pod_template(ds, "");
    let mut spec = template.spec.unwrap_or_default();
    // as upstream's NewPod: the node by name, the template's own affinity still checked
    spec.node_name = Some(node.to_string());
    Pod { metadata: template.metadata.unwrap_or_default(), spec: Some(spec), status: None }
}

/// `FindMatchingUntoleratedTaint` over the taints `effects` picks.
fn untolerated(taints: &[Taint], tolerations: &[Toleration], effects: &[&str]) -> bool {
    taints.iter().filter(|t| effects.contains(&t.effect.as_str())).any(|taint| !tolerations.iter().any(|t| tolerates(t, taint)))
}

/// Whether a node should run the set's pod, and whether a pod already there may stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub should_run: bool,
    pub should_continue_running: bool,
}

/// `NodeShouldRunDaemonPod`: a node that does not match never runs the pod; one with an
/// untolerated NoSchedule taint gets no new pod but keeps one it has, unless a taint is
/// NoExecute.
pub fn node_should_run(node: &Node, ds: &DaemonSet) -> Placement {
    let name = node.metadata.name.as_deref().unwrap_or_default();
    let neither = Placement { should_run: false, should_continue_running: false };
    let wanted = ds.spec.as_ref().and_then(|s| s.template.spec.as_ref()).and_then(|s| s.node_name.as_deref()).unwrap_or_default();
    if !wanted.is_empty() && wanted != name {
        return neither;
    }
    let pod = new_pod(ds, name);
    if !required_matches(&pod, node) {
        return neither;
    }
    let taints = node.spec.as_ref().and_then(|s| s.taints.as_deref()).unwrap_or_default();
    let tolerations = pod.spec.as_ref().and_then(|s| s.tolerations.as_deref()).unwrap_or_default();
    if untolerated(taints, tolerations, &["NoSchedule", "NoExecute"]) {
        return Placement { should_run: false, should_continue_running: !untolerated(taints, tolerations, &["NoExecute"]) };
    }
    Placement { should_run: true, should_continue_running: true }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ds(template_spec: serde_json::Value) -> DaemonSet {
        serde_json::from_value(json!({
            "metadata": {"name": "agent", "namespace": "default", "generation": 2},
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                     "template": {"metadata": {"labels": {"app": "agent"}}, "spec": template_spec}}
        }))
        .unwrap()
    }

    fn node(labels: serde_json::Value, taints: serde_json::Value) -> Node {
        serde_json::from_value(json!({"metadata": {"name": "n1", "labels": labels}, "spec": {"taints": taints}})).unwrap()
    }

    #[test]
    fn node_should_run_by_selector_affinity_and_taints() {
        let c = json!([{"name": "c", "image": "x"}]);
        let plain = json!({"containers": c});
        let selector = json!({"containers": c, "nodeSelector": {"disk": "ssd"}});
        let affinity = json!({"containers": c, "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}}});
        let tolerant = json!({"containers": c, "tolerations": [{"key": "dedicated", "operator": "Exists"}]});
        let other_node = json!({"containers": c, "nodeName": "n2"});
        let no_schedule = json!([{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]);
        let no_execute = json!([{"key": "dedicated", "value": "x", "effect": "NoExecute"}]);
        let cordoned = json!([{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]);
        let not_ready = json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]);
        // (template spec, node labels, node taints, should run, should continue running)
        let cases = [
            (&plain, json!({}), json!([]), true, true),
            (&selector, json!({}), json!([]), false, false),
            (&selector, json!({"disk": "ssd"}), json!([]), true, true),
            (&affinity, json!({"zone": "b"}), json!([]), false, false),
            (&affinity, json!({"zone": "a"}), json!([]), true, true),
            (&plain, json!({}), no_schedule.clone(), false, true),
            (&plain, json!({}), no_execute.clone(), false, false),
            (&tolerant, json!({}), no_execute, true, true),
            (&plain, json!({}), cordoned, true, true),
            (&plain, json!({}), not_ready, true, true),
            (&other_node, json!({}), json!([]), false, false),
        ];
        for (i, (spec, labels, taints, run, keep)) in cases.into_iter().enumerate() {
            let got = node_should_run(&node(labels, taints), &ds(spec.clone()));
            assert_eq!((got.should_run, got.should_continue_running), (run, keep), "case {i}");
        }
    }

    #[test]
    fn the_template_gets_the_daemon_tolerations_labels_and_a_node_pin() {
        let d = ds(json!({"containers": [{"name": "c", "image": "x"}], "hostNetwork": true,
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}]}));
        let t = pod_template(&d, "abc");
        let labels = t.metadata.unwrap().labels.unwrap();
        assert_eq!((labels[CONTROLLER_REVISION_HASH].as_str(), labels[TEMPLATE_GENERATION_LABEL].as_str()), ("abc", "2"));
        let tolerations = t.spec.unwrap().tolerations.unwrap();
        assert_eq!(tolerations.len(), DAEMON_TOLERATIONS.len() + 1, "{tolerations:?}");
        let not_ready = tolerations.iter().find(|t| t.key.as_deref() == Some("node.kubernetes.io/not-ready")).unwrap();
        assert_eq!(not_ready.toleration_seconds, None, "replaced by the daemon's own");
        assert!(tolerations.iter().any(|t| t.key.as_deref() == Some(NETWORK_UNAVAILABLE)));

        let mut pod = Pod::default();
        pod.spec = Some(PodSpec { affinity: Some(pin_to_node(None, "n7")), ..Default::default() });
        assert_eq!(target_node(&pod).as_deref(), Some("n7"));
        pod.spec.as_mut().unwrap().node_name = Some("n8".into());
        assert_eq!(target_node(&pod).as_deref(), Some("n8"));
    }
}
