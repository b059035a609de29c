//! The default profile's Score plugins that matter without volumes or topology, with
//! their weights (`default_plugins.go`): NodeResourcesFit (LeastAllocated, 1),
//! NodeResourcesBalancedAllocation (1), TaintToleration (3) and NodeAffinity (2). Replicas
//! without requests still spread: they count as 100m CPU and 200Mi each.

use k8s_openapi::api::core::v1::Pod;

use super::filters::tolerates;
use super::node_affinity::preferred_weight;
use super::node_info::NodeInfo;
use super::resources::{pod_requests, Resources};

/// `framework.MaxNodeScore`.
const MAX_NODE_SCORE: i64 = 100;

/// (allocatable, requested with the pod) of cpu and memory.
fn usage(pod_req: &Resources, n: &NodeInfo) -> [(i64, i64); 2] {
    let used = &n.non_zero_requested;
    [(n.allocatable.milli_cpu, used.milli_cpu + pod_req.milli_cpu), (n.allocatable.memory, used.memory + pod_req.memory)]
}

/// `leastRequestedScore` averaged over cpu and memory.
fn least_allocated(u: &[(i64, i64); 2]) -> i64 {
    let score = |(cap, req): (i64, i64)| if cap == 0 || req > cap { 0 } else { (cap - req) * MAX_NODE_SCORE / cap };
    u.iter().map(|x| score(*x)).sum::<i64>() / u.len() as i64
}

/// `balancedResourceScorer`: 100 minus the spread of the cpu and memory fractions.
fn balanced(u: &[(i64, i64); 2]) -> i64 {
    let f: Vec<f64> = u.iter().map(|(cap, req)| if *cap == 0 { 0.0 } else { (*req as f64 / *cap as f64).min(1.0) }).collect();
    let std = (f[0] - f[1]).abs() / 2.0;
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

/// `DefaultNormalizeScore`: scales to 0..100 by the highest; `reverse` turns it around.
fn normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    for s in scores.iter_mut() {
        *s = match (max, reverse) {
            (0, true) => MAX_NODE_SCORE,
            (0, false) => *s,
            (m, false) => *s * MAX_NODE_SCORE / m,
            (m, true) => MAX_NODE_SCORE - *s * MAX_NODE_SCORE / m,
        };
    }
}

/// Each feasible node's total score, in the order given.
pub fn score(pod: &Pod, feasible: &[&NodeInfo]) -> Vec<i64> {
    let req = pod_requests(pod, true);
    let tolerations = pod.spec.as_ref().and_then(|s| s.tolerations.clone()).unwrap_or_default();
    let mut taints: Vec<i64> = feasible
        .iter()
        .map(|n| {
            let taints = n.node.spec.as_ref().and_then(|s| s.taints.as_deref()).unwrap_or_default();
            taints.iter().filter(|t| t.effect == "PreferNoSchedule" && !tolerations.iter().any(|tol| tolerates(tol, t))).count() as i64
        })
        .collect();
    normalize(&mut taints, true);
    let mut affinity: Vec<i64> = feasible.iter().map(|n| preferred_weight(pod, &n.node)).collect();
    normalize(&mut affinity, false);
    feasible
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let u = usage(&req, n);
            least_allocated(&u) + balanced(&u) + 3 * taints[i] + 2 * affinity[i]
        })
        .collect()
}

/// `selectHost`: the highest score; a tie is broken at random (`seed` picks among them).
pub fn select(scores: &[i64], seed: u64) -> Option<usize> {
    let max = *scores.iter().max()?;
    let best: Vec<usize> = (0..scores.len()).filter(|i| scores[*i] == max).collect();
    Some(best[(seed % best.len() as u64) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emptier_nodes_score_higher() {
        let empty = [(4000, 100), (8 << 30, 200 << 20)];
        let busy = [(4000, 2100), (8 << 30, 4 << 30)];
        assert!(least_allocated(&empty) > least_allocated(&busy));
        assert_eq!(select(&[3, 7, 7], 0), Some(1));
        assert_eq!(select(&[3, 7, 7], 1), Some(2));
        assert_eq!(select(&[], 1), None);
    }
}
