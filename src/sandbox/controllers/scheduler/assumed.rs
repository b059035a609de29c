//! The scheduler cache's assumed pods (`internal/cache`): a pod counts on its node from
//! the moment the scheduler decides, before the binding lands and long before the
//! informer shows it bound. Without this a burst of pods would all see the same free
//! node and over-commit it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::Pod;

/// Pods the scheduler placed that the informer does not show bound yet, by key.
#[derive(Default)]
pub struct AssumedPods {
    pods: Mutex<HashMap<String, Arc<Pod>>>,
}

fn uid(p: &Pod) -> Option<&str> {
    p.metadata.uid.as_deref()
}

impl AssumedPods {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Pod>>> {
        self.pods.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `AssumePod`: `pod` (with `spec.nodeName` set) now counts on its node.
    pub fn assume(&self, key: &str, pod: Pod) {
        self.lock().insert(key.to_string(), Arc::new(pod));
    }

    /// `ForgetPod`: the binding failed, or the pod is gone.
    pub fn forget(&self, key: &str) {
        self.lock().remove(key);
    }

    /// Whether this very pod (same uid) was placed and its binding is in flight or landed.
    pub fn contains(&self, key: &str, pod: &Pod) -> bool {
        self.lock().get(key).is_some_and(|a| uid(a) == uid(pod))
    }

    /// The informer saw `pod` (bound, or changed): an assumption about an older
    /// incarnation or a confirmed binding is dropped.
    pub fn observe(&self, key: &str, pod: &Pod) {
        let mut pods = self.lock();
        let confirmed = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some_and(|n| !n.is_empty());
        if pods.get(key).is_some_and(|a| confirmed || uid(a) != uid(pod)) {
            pods.remove(key);
        }
    }

    /// The assumed pods the informer's `bound` keys do not already hold.
    pub fn pending(&self, bound: &dyn Fn(&str) -> bool) -> Vec<Arc<Pod>> {
        self.lock().iter().filter(|(k, _)| !bound(k)).map(|(_, p)| p.clone()).collect()
    }
}
