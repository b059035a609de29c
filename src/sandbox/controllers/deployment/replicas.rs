//! Sizes: maxSurge / maxUnavailable resolved against `spec.replicas`
//! (`ResolveFenceposts`: surge rounds up, unavailability down, never both zero), sums
//! over replica sets, the orders replica sets are scaled in, and how many replicas a new
//! replica set gets (`NewRSNewReplicas`) or a proportional scale gives each set
//! (`GetReplicaSetProportion`).

use std::cmp::Ordering;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::revision::{replicas_annotation, revision_of, DESIRED_REPLICAS, MAX_REPLICAS};

/// `spec.replicas` of a deployment (defaulted to 1).
pub fn desired(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// `spec.replicas` of a replica set.
pub fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn status_of(rs: &ReplicaSet) -> k8s_openapi::api::apps::v1::ReplicaSetStatus {
    rs.status.clone().unwrap_or_default()
}

/// `IsRollingUpdate`.
pub fn is_rolling_update(d: &Deployment) -> bool {
    d.spec.as_ref().and_then(|s| s.strategy.as_ref()).and_then(|s| s.type_.as_deref()).unwrap_or("RollingUpdate") == "RollingUpdate"
}

/// `GetScaledValueFromIntOrPercent`: a number as is, a percentage of `total` rounded up or down.
pub fn scaled_value(v: &IntOrString, total: i32, round_up: bool) -> i32 {
    match v {
        IntOrString::Int(n) => *n,
        IntOrString::String(s) => {
            let pct: f64 = s.trim_end_matches('%').parse().unwrap_or(0.0);
            let x = pct * f64::from(total) / 100.0;
            (if round_up { x.ceil() } else { x.floor() }) as i32
        }
    }
}

/// `ResolveFenceposts`: (maxSurge, maxUnavailable) for `desired` replicas.
pub fn fenceposts(d: &Deployment) -> (i32, i32) {
    let ru = d.spec.as_ref().and_then(|s| s.strategy.as_ref()).and_then(|s| s.rolling_update.as_ref());
    let quarter = IntOrString::String("25%".into());
    let surge = ru.and_then(|r| r.max_surge.clone()).unwrap_or(quarter.clone());
    let unavailable = ru.and_then(|r| r.max_unavailable.clone()).unwrap_or(quarter);
    let n = desired(d);
    let surge = scaled_value(&surge, n, true);
    let mut unavailable = scaled_value(&unavailable, n, false);
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable)
}

/// `MaxUnavailable`.
pub fn max_unavailable(d: &Deployment) -> i32 {
    if !is_rolling_update(d) || desired(d) == 0 {
        return 0;
    }
    fenceposts(d).1.min(desired(d))
}

/// `MaxSurge`.
pub fn max_surge(d: &Deployment) -> i32 {
    if !is_rolling_update(d) {
        return 0;
    }
    fenceposts(d).0
}

/// `GetReplicaCountForReplicaSets`: the sum of `spec.replicas`.
pub fn spec_total(sets: &[Arc<ReplicaSet>]) -> i32 {
    sets.iter().map(|rs| spec_replicas(rs)).sum()
}

/// `GetActualReplicaCountForReplicaSets`: the sum of `status.replicas`.
pub fn actual_total(sets: &[Arc<ReplicaSet>]) -> i32 {
    sets.iter().map(|rs| status_of(rs).replicas).sum()
}

/// `GetReadyReplicaCountForReplicaSets`.
pub fn ready_total(sets: &[Arc<ReplicaSet>]) -> i32 {
    sets.iter().map(|rs| status_of(rs).ready_replicas.unwrap_or(0)).sum()
}

/// `GetAvailableReplicaCountForReplicaSets`.
pub fn available_total(sets: &[Arc<ReplicaSet>]) -> i32 {
    sets.iter().map(|rs| status_of(rs).available_replicas.unwrap_or(0)).sum()
}

/// `FilterActiveReplicaSets`: the ones with replicas wanted.
pub fn active(sets: &[Arc<ReplicaSet>]) -> Vec<Arc<ReplicaSet>> {
    sets.iter().filter(|rs| spec_replicas(rs) > 0).cloned().collect()
}

/// `ReplicaSetsByCreationTimestamp`: oldest first, then by name.
pub fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    let t = |rs: &ReplicaSet| rs.metadata.creation_timestamp.as_ref().map(|t| t.0);
    t(a).cmp(&t(b)).then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// `ReplicaSetsByRevision`: lowest revision first.
pub fn by_revision(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    revision_of(a).cmp(&revision_of(b)).then_with(|| by_creation(a, b))
}

/// `ReplicaSetsBySizeNewer`: largest first, newest first among equals.
pub fn by_size_newer(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    spec_replicas(b).cmp(&spec_replicas(a)).then_with(|| by_creation(b, a))
}

/// `ReplicaSetsBySizeOlder`: largest first, oldest first among equals.
pub fn by_size_older(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    spec_replicas(b).cmp(&spec_replicas(a)).then_with(|| by_creation(a, b))
}

/// `NewRSNewReplicas`: how big the new replica set may be now.
pub fn new_rs_new_replicas(d: &Deployment, all: &[Arc<ReplicaSet>], new_rs: &ReplicaSet) -> i32 {
    if !is_rolling_update(d) {
        return desired(d);
    }
    let current = spec_total(all);
    let max_total = desired(d) + max_surge(d);
    if current >= max_total {
        return spec_replicas(new_rs);
    }
    let up = (max_total - current).min(desired(d) - spec_replicas(new_rs));
    spec_replicas(new_rs) + up
}

/// `IsSaturated`: the new replica set alone is the whole deployment, all available.
pub fn is_saturated(d: &Deployment, rs: Option<&ReplicaSet>) -> bool {
    let Some(rs) = rs else { return false };
    let Some(want) = rs.metadata.annotations.as_ref().and_then(|a| a.get(DESIRED_REPLICAS)).and_then(|v| v.parse::<i32>().ok()) else {
        return false;
    };
    spec_replicas(rs) == desired(d) && want == desired(d) && status_of(rs).available_replicas.unwrap_or(0) == desired(d)
}

/// `getReplicaSetFraction`.
fn fraction(rs: &ReplicaSet, d: &Deployment) -> i32 {
    if desired(d) == 0 {
        return -spec_replicas(rs);
    }
    let max_now = desired(d) + max_surge(d);
    let before = match replicas_annotation(rs, MAX_REPLICAS) {
        Some(n) if n != 0 => n,
        _ => {
            let n = d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0);
            if n == 0 {
                return 0;
            }
            n
        }
    };
    let size = f64::from(spec_replicas(rs)) * f64::from(max_now) / f64::from(before);
    size.round() as i32 - spec_replicas(rs)
}

/// `GetReplicaSetProportion`: this set's share of `to_add` (negative: to remove).
pub fn proportion(rs: &ReplicaSet, d: &Deployment, to_add: i32, added: i32) -> i32 {
    if spec_replicas(rs) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let f = fraction(rs, d);
    let allowed = to_add - added;
    if to_add > 0 {
        f.min(allowed)
    } else {
        f.max(allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(replicas: i32, surge: IntOrString, unavailable: IntOrString) -> Deployment {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": {}, "template": {},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}}
        }))
        .unwrap()
    }

    #[test]
    fn fenceposts_round_as_upstream() {
        let pct = |s: &str| IntOrString::String(s.into());
        // (replicas, maxSurge, maxUnavailable, want surge, want unavailable)
        let cases = [
            (10, pct("25%"), pct("25%"), 3, 2),
            (3, pct("25%"), pct("25%"), 1, 0),
            (4, pct("25%"), pct("25%"), 1, 1),
            (3, IntOrString::Int(0), pct("10%"), 0, 1),
            (5, IntOrString::Int(2), IntOrString::Int(0), 2, 0),
            (2, pct("100%"), IntOrString::Int(9), 2, 2),
        ];
        for (n, s, u, ws, wu) in cases {
            let d = deployment(n, s.clone(), u.clone());
            assert_eq!((max_surge(&d), max_unavailable(&d)), (ws, wu), "{n} replicas, surge {s:?}, unavailable {u:?}");
        }
    }

    #[test]
    fn proportional_shares_follow_the_max_replicas_annotation() {
        // A deployment scaled from 10 (max 13 with 25% surge) to 20 (max 25) mid-rollout.
        let d = deployment(20, IntOrString::String("25%".into()), IntOrString::String("25%".into()));
        let set = |replicas: i32, max: &str| -> ReplicaSet {
            serde_json::from_value(serde_json::json!({
                "metadata": {"annotations": {MAX_REPLICAS: max}},
                "spec": {"replicas": replicas, "selector": {}}
            }))
            .unwrap()
        };
        // (set size, its max-replicas, to add, added so far, share)
        let cases = [(5, "13", 12, 0, 5), (8, "13", 12, 5, 7), (8, "13", 12, 0, 7), (0, "13", 12, 0, 0)];
        for (size, max, to_add, added, want) in cases {
            assert_eq!(proportion(&set(size, max), &d, to_add, added), want, "{size} of max {max}, {to_add} to add, {added} added");
        }
        // Scaled down from 10 to 5 (max 7): a set of 5 keeps round(5 * 7 / 13) = 3.
        let down = deployment(5, IntOrString::String("25%".into()), IntOrString::String("25%".into()));
        assert_eq!(proportion(&set(5, "13"), &down, -6, 0), -2);
        assert_eq!(proportion(&set(5, "13"), &down, -1, 0), -1, "never more than is left to remove");
    }
}
