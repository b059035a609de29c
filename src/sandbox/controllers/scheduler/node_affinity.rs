//! `component-helpers/scheduling/corev1/nodeaffinity`: whether a node matches a pod's
//! `nodeSelector` and required node affinity, and the weight of the preferred terms it
//! matches.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, NodeSelectorRequirement, NodeSelectorTerm, Pod};

fn labels(node: &Node) -> BTreeMap<String, String> {
    node.metadata.labels.clone().unwrap_or_default()
}

/// One requirement on labels (`matchExpressions`), or on fields (`matchFields`, only
/// `metadata.name`). An unknown operator or an unparsable number matches nothing.
fn requirement_matches(r: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = r.values.as_deref().unwrap_or_default();
    let number = |s: &str| s.parse::<i64>().ok();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => !value.is_some_and(|v| values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        op @ ("Gt" | "Lt") => {
            let (Some(v), Some(bound)) = (value.and_then(number), values.first().and_then(|b| number(b))) else { return false };
            values.len() == 1 && if op == "Gt" { v > bound } else { v < bound }
        }
        _ => false,
    }
}

/// A term ANDs its requirements; an empty term matches no node.
fn term_matches(t: &NodeSelectorTerm, node: &Node) -> bool {
    let (exprs, fields) = (t.match_expressions.as_deref().unwrap_or_default(), t.match_fields.as_deref().unwrap_or_default());
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    let labels = labels(node);
    let name = node.metadata.name.as_deref();
    exprs.iter().all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
        && fields.iter().all(|r| r.key == "metadata.name" && requirement_matches(r, name))
}

/// `GetRequiredNodeAffinity(pod).Match(node)`: every `nodeSelector` label, and one of the
/// required terms if there are any.
pub fn required_matches(pod: &Pod, node: &Node) -> bool {
    let Some(spec) = &pod.spec else { return true };
    let labels = labels(node);
    if let Some(sel) = &spec.node_selector {
        if !sel.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            return false;
        }
    }
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref());
    match required {
        Some(sel) => sel.node_selector_terms.iter().any(|t| term_matches(t, node)),
        None => true,
    }
}

/// NodeAffinity's Score: the summed weights of the preferred terms the node matches.
pub fn preferred_weight(pod: &Pod, node: &Node) -> i64 {
    let preferred = pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| n.preferred_during_scheduling_ignored_during_execution.as_ref());
    preferred.into_iter().flatten().filter(|p| term_matches(&p.preference, node)).map(|p| i64::from(p.weight)).sum()
}
