//! `rollingUpdate` (`pkg/controller/daemon/update.go`): replaces old daemon pods node by
//! node. Without surge, old pods are deleted while at most `maxUnavailable` nodes are
//! without an available pod (an old pod already unavailable may always go). With
//! `maxSurge`, a new pod starts beside the old one on up to `maxSurge` nodes and the old
//! one goes once the new one is available.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;

use super::manage::{is_updated, NodePods};
use super::placement::node_should_run;
use crate::sandbox::controllers::active_pods::is_available;
use crate::sandbox::controllers::deployment::replicas::scaled_value;

/// What a rolling-update step does.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Step {
    pub delete: Vec<String>,
    pub create_on: Vec<String>,
}

/// `findUpdatedPodsOnNode`: the node's new and old pod; `None` when it has two of a kind.
fn new_and_old(ds: &DaemonSet, pods: &[Arc<Pod>], hash: &str) -> Option<(Option<Arc<Pod>>, Option<Arc<Pod>>)> {
    let (mut new, mut old) = (None, None);
    for pod in pods.iter().filter(|p| p.metadata.deletion_timestamp.is_none()) {
        let slot = if is_updated(pod, ds, hash) { &mut new } else { &mut old };
        if slot.is_some() {
            return None;
        }
        *slot = Some(pod.clone());
    }
    Some((new, old))
}

/// `updatedDesiredNodeCounts`: (maxSurge, maxUnavailable, desired); every node that should
/// run a pod gets an entry in `node_pods`.
fn counts(ds: &DaemonSet, nodes: &[Arc<Node>], node_pods: &mut NodePods) -> (usize, usize, usize) {
    let mut desired = 0;
    for node in nodes.iter().filter(|n| node_should_run(n, ds).should_run) {
        desired += 1;
        node_pods.entry(node.metadata.name.clone().unwrap_or_default()).or_default();
    }
    let ru = ds.spec.as_ref().and_then(|s| s.update_strategy.as_ref()).and_then(|u| u.rolling_update.as_ref());
    let total = i32::try_from(desired).unwrap_or(i32::MAX);
    let unavailable = ru.and_then(|r| r.max_unavailable.clone()).unwrap_or(IntOrString::Int(1));
    let surge = ru.and_then(|r| r.max_surge.clone()).unwrap_or(IntOrString::Int(0));
    let to_usize = |v: i32| usize::try_from(v).unwrap_or(0);
    let (mut max_unavailable, max_surge) = (to_usize(scaled_value(&unavailable, total, true)), to_usize(scaled_value(&surge, total, true)));
    if desired > 0 && max_unavailable == 0 && max_surge == 0 {
        max_unavailable = 1;
    }
    (max_surge, max_unavailable, desired)
}

fn name(p: &Pod) -> String {
    p.metadata.name.clone().unwrap_or_default()
}

/// `rollingUpdate`.
pub fn rolling_update(ds: &DaemonSet, nodes: &[Arc<Node>], node_pods: &NodePods, hash: &str, now: Timestamp) -> Step {
    let mut node_pods = node_pods.clone();
    let (max_surge, max_unavailable, desired) = counts(ds, nodes, &mut node_pods);
    let min_ready = ds.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0);
    let available = |p: &Pod| is_available(p, min_ready, now);
    let should_run =
        |node: &str| nodes.iter().find(|n| n.metadata.name.as_deref() == Some(node)).is_some_and(|n| node_should_run(n, ds).should_run);

    if max_surge == 0 {
        let (mut unavailable, mut allowed, mut candidates) = (0, Vec::new(), Vec::new());
        for pods in node_pods.values() {
            match new_and_old(ds, pods, hash) {
                None | Some((None, None)) | Some((Some(_), Some(_))) => unavailable += 1,
                Some((Some(new), None)) => unavailable += usize::from(!available(&new)),
                Some((None, Some(old))) if !available(&old) => {
                    allowed.push(name(&old));
                    unavailable += 1;
                }
                Some((None, Some(_))) if unavailable >= max_unavailable => {}
                Some((None, Some(old))) => candidates.push(name(&old)),
            }
        }
        let remaining = max_unavailable.saturating_sub(unavailable).min(candidates.len());
        allowed.extend(candidates.into_iter().take(remaining));
        return Step { delete: allowed, create_on: vec![] };
    }

    let (mut delete, mut should_not_run, mut candidate_nodes, mut allowed_nodes) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut surge, mut n_available) = (0, 0);
    for (node, pods) in &node_pods {
        let Some((new, old)) = new_and_old(ds, pods, hash) else {
            surge += 1;
            continue;
        };
        if let Some(p) = old.as_ref().or(new.as_ref()) {
            n_available += usize::from(available(p));
        }
        match (new, old) {
            (_, None) => {}
            (None, Some(old)) if !available(&old) => {
                if should_run(node) {
                    allowed_nodes.push(node.clone());
                } else {
                    delete.push(name(&old));
                }
            }
            (None, Some(old)) => {
                if !should_run(node) {
                    should_not_run.push(name(&old));
                } else if surge < max_surge {
                    candidate_nodes.push(node.clone());
                }
            }
            (Some(new), Some(old)) => {
                if available(&new) {
                    delete.push(name(&old));
                } else {
                    surge += 1;
                }
            }
        }
    }
    let deletable = n_available.saturating_sub(desired).min(should_not_run.len());
    delete.extend(should_not_run.into_iter().take(deletable));
    let remaining = max_surge.saturating_sub(surge).min(candidate_nodes.len());
    allowed_nodes.extend(candidate_nodes.into_iter().take(remaining));
    Step { delete, create_on: allowed_nodes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ds(strategy: serde_json::Value) -> DaemonSet {
        serde_json::from_value(json!({
            "metadata": {"name": "agent", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "agent"}}, "updateStrategy": strategy,
                     "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}
        }))
        .unwrap()
    }

    fn node(name: &str) -> Arc<Node> {
        Arc::new(serde_json::from_value(json!({"metadata": {"name": name}})).unwrap())
    }

    fn pod(name: &str, hash: &str, ready: bool) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "labels": {"controller-revision-hash": hash}},
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}
            }))
            .unwrap(),
        )
    }

    #[test]
    fn steps_by_max_unavailable_and_max_surge() {
        let nodes: Vec<_> = ["n1", "n2", "n3"].into_iter().map(node).collect();
        let all_old = |ready: [bool; 3]| -> NodePods {
            ["n1", "n2", "n3"].iter().zip(ready).map(|(n, r)| (n.to_string(), vec![pod(&format!("old-{n}"), "old", r)])).collect()
        };
        let mut one_new = all_old([true, true, true]);
        one_new.insert("n1".into(), vec![pod("new-n1", "new", false)]);
        let mut surged = all_old([true, true, true]);
        surged.get_mut("n1").unwrap().push(pod("new-n1", "new", true));
        let unavailable_1 = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}});
        let unavailable_2 = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}});
        let surge_1 = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}});
        // (strategy, pods by node, deleted, created on)
        let cases: Vec<(&serde_json::Value, NodePods, Vec<&str>, Vec<&str>)> = vec![
            (&unavailable_1, all_old([true, true, true]), vec!["old-n1"], vec![]),
            (&unavailable_2, all_old([true, true, true]), vec!["old-n1", "old-n2"], vec![]),
            (&unavailable_1, one_new, vec![], vec![]),
            (&unavailable_1, all_old([true, false, true]), vec!["old-n2"], vec![]),
            (&surge_1, all_old([true, true, true]), vec![], vec!["n1"]),
            // as upstream: an available new pod is no longer a surge, so the next node surges
            (&surge_1, surged, vec!["old-n1"], vec!["n2"]),
        ];
        for (i, (strategy, pods, delete, create)) in cases.into_iter().enumerate() {
            let step = rolling_update(&ds(strategy.clone()), &nodes, &pods, "new", Timestamp::now());
            assert_eq!(step.delete, delete, "case {i}");
            assert_eq!(step.create_on, create, "case {i}");
        }
    }
}
