//! Which pods count and which go first (`pkg/controller/controller_utils.go`:
//! `IsPodActive`, `ActivePodsWithRanks`, and `podutil.IsPodReady` / `IsPodAvailable`).
//!
//! Scaling down deletes the pods whose loss hurts least, in upstream's order: unscheduled
//! before scheduled, pending before unknown before running, not ready before ready, lower
//! `controller.kubernetes.io/pod-deletion-cost` first, pods doubled up on a node with
//! related pods first, then the most recently ready, the most restarted, the newest
//! (those two times compared on a log2 scale, as the `LogarithmicScaleDown` gate does).

use std::cmp::Ordering;
use std::collections::HashMap;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// `controller.kubernetes.io/pod-deletion-cost`.
pub const POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

fn phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

/// `IsPodActive`: not finished and not being deleted.
pub fn is_active(pod: &Pod) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && pod.metadata.deletion_timestamp.is_none()
}

/// `IsPodTerminating`: being deleted but not finished.
pub fn is_terminating(pod: &Pod) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && pod.metadata.deletion_timestamp.is_some()
}

/// The time the pod's Ready condition last became True, if it is ready now.
fn ready_since(pod: &Pod) -> Option<Option<Timestamp>> {
    let conds = pod.status.as_ref()?.conditions.as_ref()?;
    let ready = conds.iter().find(|c| c.type_ == "Ready")?;
    (ready.status == "True").then(|| ready.last_transition_time.as_ref().map(|t| t.0))
}

/// `podutil.IsPodReady`.
pub fn is_ready(pod: &Pod) -> bool {
    ready_since(pod).is_some()
}

/// `podutil.IsPodAvailable`: ready for at least `min_ready_seconds` by `now`.
pub fn is_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    match ready_since(pod) {
        None => false,
        Some(_) if min_ready_seconds <= 0 => true,
        Some(None) => false,
        Some(Some(since)) => since.checked_add(SignedDuration::from_secs(i64::from(min_ready_seconds))).is_ok_and(|t| t < now),
    }
}

fn phase_ordinal(pod: &Pod) -> u8 {
    match phase(pod) {
        "Unknown" => 1,
        "Running" => 2,
        _ => 0,
    }
}

fn deletion_cost(pod: &Pod) -> i32 {
    pod.metadata.annotations.as_ref().and_then(|a| a.get(POD_DELETION_COST)).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn max_restarts(pod: &Pod) -> (i32, i32) {
    let Some(status) = pod.status.as_ref() else { return (0, 0) };
    let regular = status.container_statuses.iter().flatten().map(|c| c.restart_count).max().unwrap_or(0);
    let sidecars: Vec<&str> = pod
        .spec
        .iter()
        .flat_map(|s| s.init_containers.iter().flatten())
        .filter(|c| c.restart_policy.as_deref() == Some("Always"))
        .map(|c| c.name.as_str())
        .collect();
    let sidecar = status
        .init_container_statuses
        .iter()
        .flatten()
        .filter(|c| sidecars.contains(&c.name.as_str()))
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0);
    (regular, sidecar)
}

/// `logarithmicRankDiff`: how many powers of two apart the ages of `t1` and `t2` are.
fn log_rank_diff(t1: Timestamp, t2: Timestamp, now: Timestamp) -> i64 {
    let rank = |t: Timestamp| {
        let nanos = now.duration_since(t).as_nanos();
        if nanos > 0 {
            (nanos as f64).log2() as i64
        } else {
            -1
        }
    };
    rank(t1) - rank(t2)
}

/// Later (or missing) times first, bucketed by log2 age when both are known.
fn newer_first(t1: Option<Timestamp>, t2: Option<Timestamp>, a: &Pod, b: &Pod, now: Timestamp) -> Option<bool> {
    if t1 == t2 {
        return None;
    }
    match (t1, t2) {
        (None, _) => Some(true),
        (_, None) => Some(false),
        (Some(t1), Some(t2)) => {
            let diff = log_rank_diff(t1, t2, now);
            Some(if diff == 0 { a.metadata.uid < b.metadata.uid } else { diff < 0 })
        }
    }
}

/// `ActivePodsWithRanks.Less`: whether `a` (with `rank_a` related pods on its node) should
/// be deleted before `b`.
fn less(a: &Pod, rank_a: usize, b: &Pod, rank_b: usize, now: Timestamp) -> bool {
    let node = |p: &Pod| p.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
    let (na, nb) = (node(a), node(b));
    if na != nb && (na.is_empty() || nb.is_empty()) {
        return na.is_empty();
    }
    if phase_ordinal(a) != phase_ordinal(b) {
        return phase_ordinal(a) < phase_ordinal(b);
    }
    if is_ready(a) != is_ready(b) {
        return !is_ready(a);
    }
    if deletion_cost(a) != deletion_cost(b) {
        return deletion_cost(a) < deletion_cost(b);
    }
    if rank_a != rank_b {
        return rank_a > rank_b;
    }
    if let (Some(ra), Some(rb)) = (ready_since(a), ready_since(b)) {
        if let Some(first) = newer_first(ra, rb, a, b, now) {
            return first;
        }
    }
    let (ra, rb) = (max_restarts(a), max_restarts(b));
    if ra.0 != rb.0 {
        return ra.0 > rb.0;
    }
    if ra.1 != rb.1 {
        return ra.1 > rb.1;
    }
    let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
    newer_first(created(a), created(b), a, b, now).unwrap_or(false)
}

/// `getPodsRankedByRelatedPodsOnSameNode` + `sort.Sort(ActivePodsWithRanks)`: `pods` in
/// deletion order, each ranked by how many active `related` pods share its node.
pub fn deletion_order(pods: Vec<std::sync::Arc<Pod>>, related: &[std::sync::Arc<Pod>], now: Timestamp) -> Vec<std::sync::Arc<Pod>> {
    let mut on_node: HashMap<String, usize> = HashMap::new();
    for p in related.iter().filter(|p| is_active(p)) {
        *on_node.entry(p.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default()).or_default() += 1;
    }
    let mut ranked: Vec<(usize, std::sync::Arc<Pod>)> = pods
        .into_iter()
        .map(|p| (on_node.get(&p.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default()).copied().unwrap_or(0), p))
        .collect();
    ranked.sort_by(|(ra, a), (rb, b)| {
        if less(a, *ra, b, *rb, now) {
            Ordering::Less
        } else if less(b, *rb, a, *ra, now) {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    });
    ranked.into_iter().map(|(_, p)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use std::sync::Arc;

    fn pod(name: &str, node: &str, phase: &str, ready_secs_ago: Option<i64>, created_secs_ago: i64, now: Timestamp) -> Arc<Pod> {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.uid = Some(name.into());
        p.metadata.creation_timestamp = Some(Time(now - SignedDuration::from_secs(created_secs_ago)));
        p.spec = Some(PodSpec { node_name: (!node.is_empty()).then(|| node.into()), ..Default::default() });
        let conditions = ready_secs_ago.map(|s| {
            vec![PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                last_transition_time: Some(Time(now - SignedDuration::from_secs(s))),
                ..Default::default()
            }]
        });
        p.status = Some(PodStatus { phase: Some(phase.into()), conditions, ..Default::default() });
        Arc::new(p)
    }

    #[test]
    fn deletion_order_follows_upstream_ranking() {
        let now = Timestamp::now();
        // (pods, expected order): each case checks one rule of ActivePodsWithRanks.Less.
        let cases: Vec<(&str, Vec<Arc<Pod>>, Vec<&str>)> = vec![
            (
                "unassigned first",
                vec![pod("on-node", "n1", "Pending", None, 10, now), pod("unassigned", "", "Pending", None, 10, now)],
                vec!["unassigned", "on-node"],
            ),
            (
                "pending before running",
                vec![pod("running", "n1", "Running", None, 10, now), pod("pending", "n1", "Pending", None, 10, now)],
                vec!["pending", "running"],
            ),
            (
                "not ready before ready",
                vec![pod("ready", "n1", "Running", Some(100), 200, now), pod("not-ready", "n1", "Running", None, 200, now)],
                vec!["not-ready", "ready"],
            ),
            (
                "most recently ready first",
                vec![pod("old-ready", "n1", "Running", Some(10_000), 20_000, now), pod("new-ready", "n1", "Running", Some(5), 20_000, now)],
                vec!["new-ready", "old-ready"],
            ),
            (
                "newest first",
                vec![pod("old", "n1", "Pending", None, 10_000, now), pod("new", "n1", "Pending", None, 5, now)],
                vec!["new", "old"],
            ),
        ];
        for (what, pods, want) in cases {
            let got: Vec<String> =
                deletion_order(pods.clone(), &pods, now).iter().map(|p| p.metadata.name.clone().unwrap_or_default()).collect();
            assert_eq!(got, want, "{what}");
        }
        // Doubled up: the pod sharing its node with more related pods goes first.
        let lonely = pod("lonely", "n1", "Running", Some(100), 200, now);
        let crowded = pod("crowded", "n2", "Running", Some(100), 200, now);
        let related = vec![lonely.clone(), crowded.clone(), pod("other", "n2", "Running", Some(100), 200, now)];
        let got: Vec<String> =
            deletion_order(vec![lonely, crowded], &related, now).iter().map(|p| p.metadata.name.clone().unwrap_or_default()).collect();
        assert_eq!(got, vec!["crowded", "lonely"]);
    }

    #[test]
    fn availability_waits_for_min_ready_seconds() {
        let now = Timestamp::now();
        let p = pod("p", "n1", "Running", Some(5), 10, now);
        assert!(is_available(&p, 0, now));
        assert!(is_available(&p, 3, now));
        assert!(!is_available(&p, 30, now));
        assert!(!is_available(&pod("q", "n1", "Running", None, 10, now), 0, now));
    }
}
