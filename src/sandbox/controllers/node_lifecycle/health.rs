//! Node health (`monitorNodeHealth` / `tryUpdateNodeHealth`): a node whose kubelet stops
//! posting status and renewing its Lease is, after a grace period, marked `Unknown`, which
//! the tainting pass turns into the `unreachable` taints.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, NodeCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// `--node-monitor-grace-period` (50 s in v1.34).
pub const MONITOR_GRACE: Duration = Duration::from_secs(50);
/// `--node-startup-grace-period`: for a node that never posted a Ready condition.
pub const STARTUP_GRACE: Duration = Duration::from_secs(60);
/// `--node-monitor-period`.
pub const MONITOR_PERIOD: Duration = Duration::from_secs(5);

/// The conditions a silent kubelet's node has set to Unknown (NetworkUnavailable is the
/// control plane's, not the kubelet's, so it is left).
const KUBELET_CONDITIONS: &[&str] = &["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// What was last seen of a node's kubelet: upstream's `nodeHealthData`.
struct Seen {
    heartbeat: Option<Time>,
    lease_renewed: Option<String>,
    /// When a sign of life was last observed (this process's clock).
    probe: Instant,
}

/// Every node's last sign of life.
#[derive(Default)]
pub struct Health {
    seen: HashMap<String, Seen>,
}

fn ready(node: &Node) -> Option<&NodeCondition> {
    node.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready")
}

impl Health {
    /// Records what `node` and its Lease's `renew_time` show now; returns whether the
    /// kubelet has been silent for longer than its grace period.
    pub fn overdue(&mut self, node: &Node, lease_renewed: Option<String>, now: Instant) -> bool {
        let name = node.metadata.name.clone().unwrap_or_default();
        let heartbeat = ready(node).and_then(|c| c.last_heartbeat_time.clone());
        let grace = if ready(node).is_none() { STARTUP_GRACE } else { MONITOR_GRACE };
        let seen = self.seen.entry(name).or_insert_with(|| Seen {
            heartbeat: heartbeat.clone(),
            lease_renewed: lease_renewed.clone(),
            probe: now,
        });
        if seen.heartbeat != heartbeat || (lease_renewed.is_some() && seen.lease_renewed != lease_renewed) {
            *seen = Seen { heartbeat, lease_renewed, probe: now };
        }
        now.duration_since(seen.probe) > grace
    }

    /// Forgets a deleted node.
    pub fn forget(&mut self, name: &str) {
        self.seen.remove(name);
    }
}

/// The conditions of an overdue node: the kubelet's set to Unknown as upstream words it,
/// or `None` when they already are.
pub fn unknown_conditions(node: &Node, now: &Time) -> Option<Vec<NodeCondition>> {
    let mut conditions = node.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
    let mut changed = false;
    for kind in KUBELET_CONDITIONS {
        match conditions.iter_mut().find(|c| c.type_ == *kind) {
            None => {
                conditions.push(NodeCondition {
                    type_: kind.to_string(),
                    status: "Unknown".into(),
                    reason: Some("NodeStatusNeverUpdated".into()),
                    message: Some("Kubelet never posted node status.".into()),
                    last_heartbeat_time: node.metadata.creation_timestamp.clone(),
                    last_transition_time: Some(now.clone()),
                });
                changed = true;
            }
            Some(c) if c.status != "Unknown" => {
                c.status = "Unknown".into();
                c.reason = Some("NodeStatusUnknown".into());
                c.message = Some("Kubelet stopped posting node status.".into());
                c.last_transition_time = Some(now.clone());
                changed = true;
            }
            Some(_) => {}
        }
    }
    changed.then_some(conditions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(heartbeat: Option<&str>) -> Node {
        let conditions: Vec<serde_json::Value> = heartbeat
            .map(|h| serde_json::json!({"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": h}))
            .into_iter()
            .collect();
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"conditions": conditions},
        }))
        .unwrap()
    }

    #[test]
    fn silence_longer_than_the_grace_period_is_overdue() {
        let mut h = Health::default();
        let t0 = Instant::now();
        assert!(!h.overdue(&node(Some("2026-01-01T00:00:10Z")), None, t0));
        assert!(!h.overdue(&node(Some("2026-01-01T00:00:10Z")), None, t0 + Duration::from_secs(49)));
        assert!(h.overdue(&node(Some("2026-01-01T00:00:10Z")), None, t0 + Duration::from_secs(51)));
        // A new heartbeat, or a renewed lease alone, is a sign of life.
        assert!(!h.overdue(&node(Some("2026-01-01T00:01:10Z")), None, t0 + Duration::from_secs(52)));
        assert!(!h.overdue(&node(Some("2026-01-01T00:01:10Z")), Some("r1".into()), t0 + Duration::from_secs(110)));
        // A node that never posted status gets the startup grace.
        let mut h = Health::default();
        assert!(!h.overdue(&node(None), None, t0));
        assert!(!h.overdue(&node(None), None, t0 + Duration::from_secs(55)));
        assert!(h.overdue(&node(None), None, t0 + Duration::from_secs(61)));
    }

    #[test]
    fn overdue_conditions_become_unknown_with_upstreams_words() {
        let now = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        let c = unknown_conditions(&node(Some("2026-01-01T00:00:10Z")), &now).unwrap();
        let ready = c.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!((ready.status.as_str(), ready.reason.as_deref()), ("Unknown", Some("NodeStatusUnknown")));
        assert_eq!(ready.message.as_deref(), Some("Kubelet stopped posting node status."));
        let memory = c.iter().find(|c| c.type_ == "MemoryPressure").unwrap();
        assert_eq!(
            (memory.reason.as_deref(), memory.message.as_deref()),
            (Some("NodeStatusNeverUpdated"), Some("Kubelet never posted node status."))
        );
        assert_eq!(c.len(), 4);
        // Already Unknown: nothing to write.
        let mut n = node(None);
        n.status.as_mut().unwrap().conditions = Some(c);
        assert!(unknown_conditions(&n, &now).is_none());
    }
}
