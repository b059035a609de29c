//! `TriggerTimeTracker` (`staging/src/k8s.io/endpointslice/util/trigger_time_tracker.go`):
//! the `endpoints.kubernetes.io/last-change-trigger-time` annotation, the earliest moment a
//! change not yet published happened (a pod's Ready transition, the Service's creation), so
//! the network programming latency can be measured from it.

use std::collections::HashMap;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::jiff::Timestamp;

/// `v1.EndpointsLastChangeTriggerTime`.
pub const LAST_CHANGE_TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";

#[derive(Default)]
struct ServiceState {
    pods: HashMap<String, Timestamp>,
    service: Option<Timestamp>,
}

/// What each Service's last sync saw.
#[derive(Default)]
pub struct TriggerTimeTracker {
    states: Mutex<HashMap<String, ServiceState>>,
}

fn pod_trigger_time(pod: &Pod) -> Option<Timestamp> {
    let conds = pod.status.as_ref()?.conditions.as_ref()?;
    conds.iter().find(|c| c.type_ == "Ready")?.last_transition_time.as_ref().map(|t| t.0)
}

impl TriggerTimeTracker {
    /// `ComputeEndpointLastChangeTriggerTime`: the Service's creation on its first sync,
    /// then the earliest trigger newer than what the previous sync saw (`None`: nothing new).
    pub fn compute(&self, key: &str, svc: &Service, pods: &[&Pod]) -> Option<Timestamp> {
        let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        let known = states.contains_key(key);
        let state = states.entry(key.to_string()).or_default();
        let mut earliest: Option<Timestamp> = None;
        let mut seen = HashMap::new();
        for pod in pods {
            if let Some(t) = pod_trigger_time(pod) {
                let name = pod.metadata.name.clone().unwrap_or_default();
                if state.pods.get(&name).is_none_or(|last| t > *last) {
                    earliest = Some(earliest.map_or(t, |e| e.min(t)));
                }
                seen.insert(name, t);
            }
        }
        let created = svc.metadata.creation_timestamp.as_ref().map(|t| t.0);
        if let Some(t) = created.filter(|t| state.service.is_none_or(|last| *t > last)) {
            earliest = Some(earliest.map_or(t, |e| e.min(t)));
        }
        state.pods = seen;
        state.service = created;
        if !known {
            return created;
        }
        earliest
    }

    /// `DeleteService`.
    pub fn delete(&self, key: &str) {
        self.states.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

/// Go's `time.RFC3339Nano`.
pub fn format(t: Timestamp) -> String {
    t.to_string()
}
