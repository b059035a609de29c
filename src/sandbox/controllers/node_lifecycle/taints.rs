//! Which taints a node's conditions call for (`doNoScheduleTaintingPass` and the NoExecute
//! half of `doNoExecuteTaintingPass`, `pkg/controller/nodelifecycle`).
//!
//! The scheduler reads taints, not conditions: a node the kubelet has not yet reported
//! Ready carries `node.kubernetes.io/not-ready:NoSchedule` from admission, and this is what
//! lifts it once the kubelet says Ready (and puts it back, with `NoExecute`, when it stops).

use k8s_openapi::api::core::v1::{Node, Taint};

pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

/// upstream's `nodeConditionToTaintKeyStatusMap`: (condition, status) → taint key.
const CONDITION_TAINTS: &[(&str, &str, &str)] = &[
    ("Ready", "False", NOT_READY),
    ("Ready", "Unknown", UNREACHABLE),
    ("MemoryPressure", "True", "node.kubernetes.io/memory-pressure"),
    ("DiskPressure", "True", "node.kubernetes.io/disk-pressure"),
    ("NetworkUnavailable", "True", "node.kubernetes.io/network-unavailable"),
    ("PIDPressure", "True", "node.kubernetes.io/pid-pressure"),
];

fn condition_status<'a>(node: &'a Node, kind: &str) -> Option<&'a str> {
    node.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == kind).map(|c| c.status.as_str())
}

fn taint(key: &str, effect: &str) -> Taint {
    Taint { key: key.into(), effect: effect.into(), ..Default::default() }
}

/// Whether this controller owns `t` (only those are added or removed; a user's stay).
fn ours(t: &Taint) -> bool {
    match t.effect.as_str() {
        "NoSchedule" => t.key == UNSCHEDULABLE || CONDITION_TAINTS.iter().any(|(_, _, k)| *k == t.key),
        "NoExecute" => t.key == NOT_READY || t.key == UNREACHABLE,
        _ => false,
    }
}

/// The taints the node's conditions and `spec.unschedulable` call for.
pub fn wanted(node: &Node) -> Vec<Taint> {
    let mut taints: Vec<Taint> = CONDITION_TAINTS
        .iter()
        .filter(|(kind, status, _)| condition_status(node, kind) == Some(*status))
        .map(|(_, _, key)| taint(key, "NoSchedule"))
        .collect();
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        taints.push(taint(UNSCHEDULABLE, "NoSchedule"));
    }
    // NoExecute: what the taint-eviction controller acts on, stamped with when it came.
    match condition_status(node, "Ready") {
        Some("False") => taints.push(taint(NOT_READY, "NoExecute")),
        Some("Unknown") => taints.push(taint(UNREACHABLE, "NoExecute")),
        _ => {}
    }
    taints
}

/// The node's new taint list, or `None` when it already has what it should: the taints
/// this controller does not own kept as they are, ours made to match `wanted`.
/// `now` stamps a NoExecute taint's `timeAdded` as upstream does.
pub fn reconciled(node: &Node, now: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> Option<Vec<Taint>> {
    let current = node.spec.as_ref().and_then(|s| s.taints.clone()).unwrap_or_default();
    let wanted = wanted(node);
    let same = |a: &Taint, b: &Taint| a.key == b.key && a.effect == b.effect;
    let stale = current.iter().any(|t| ours(t) && !wanted.iter().any(|w| same(w, t)));
    let missing: Vec<&Taint> = wanted.iter().filter(|w| !current.iter().any(|t| same(t, w))).collect();
    if !stale && missing.is_empty() {
        return None;
    }
    let mut taints: Vec<Taint> = current.into_iter().filter(|t| !ours(t) || wanted.iter().any(|w| same(w, t))).collect();
    for w in missing {
        let mut t = w.clone();
        if t.effect == "NoExecute" {
            t.time_added = Some(now.clone());
        }
        taints.push(t);
    }
    Some(taints)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(conditions: &[(&str, &str)], taints: &[(&str, &str)], unschedulable: bool) -> Node {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n"},
            "spec": {
                "unschedulable": unschedulable,
                "taints": taints.iter().map(|(k, e)| serde_json::json!({"key": k, "effect": e})).collect::<Vec<_>>(),
            },
            "status": {"conditions": conditions.iter().map(|(t, s)| serde_json::json!({"type": t, "status": s})).collect::<Vec<_>>()},
        }))
        .unwrap()
    }

    fn keys(taints: &[Taint]) -> Vec<String> {
        taints.iter().map(|t| format!("{}:{}", t.key, t.effect)).collect()
    }

    #[test]
    fn taints_follow_the_conditions() {
        let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        let nr = "node.kubernetes.io/not-ready";
        let table: &[(&[(&str, &str)], &[(&str, &str)], bool, Option<&[&str]>)] = &[
            // Admission's taint lifted once the kubelet reports Ready.
            (&[("Ready", "True")], &[(nr, "NoSchedule")], false, Some(&[])),
            // Nothing to do.
            (&[("Ready", "True")], &[], false, None),
            // A user's taint is kept.
            (&[("Ready", "True")], &[("dedicated", "NoSchedule"), (nr, "NoSchedule")], false, Some(&["dedicated:NoSchedule"])),
            (
                &[("Ready", "False")],
                &[],
                false,
                Some(&["node.kubernetes.io/not-ready:NoSchedule", "node.kubernetes.io/not-ready:NoExecute"]),
            ),
            (
                &[("Ready", "Unknown")],
                &[(nr, "NoSchedule")],
                false,
                Some(&["node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unreachable:NoExecute"]),
            ),
            (
                &[("Ready", "True"), ("MemoryPressure", "True")],
                &[],
                true,
                Some(&["node.kubernetes.io/memory-pressure:NoSchedule", "node.kubernetes.io/unschedulable:NoSchedule"]),
            ),
            // No conditions yet (a kubelet that never posted): admission's taint stays.
            (&[], &[(nr, "NoSchedule")], false, Some(&[])),
        ];
        for (conditions, taints, unschedulable, want) in table {
            let n = node(conditions, taints, *unschedulable);
            let got = reconciled(&n, &now).map(|t| keys(&t));
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "{conditions:?} {taints:?}");
        }
    }
}
