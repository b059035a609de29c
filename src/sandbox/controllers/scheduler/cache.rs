//! The scheduler's cache (`pkg/scheduler/backend/cache`): one [`NodeInfo`] per node, kept
//! up to date by the informers' events and by the scheduler's own assumptions, so that a
//! scheduling cycle reads the cluster in O(nodes) instead of re-adding every pod on every
//! cycle (which made a 10,000-pod rollout quadratic).
//!
//! A pod counts on its node from the moment the scheduler decides (`AssumePod`), before
//! the binding lands and long before the informer shows it bound; without that a burst
//! of pods would all see the same free node and over-commit it. The informer's bound pod
//! then replaces the assumed one; a failed binding forgets it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use k8s_openapi::api::core::v1::{Node, Pod};

use super::node_info::{holds_node, NodeInfo};

/// Where a pod is counted.
struct Placement {
    node: String,
    uid: Option<String>,
    /// Placed by the scheduler, not yet seen bound by the informer.
    assumed: bool,
}

/// A node's entry: pods can be bound to a node the node informer has not shown yet
/// (upstream's "imaginary" NodeInfo), which no cycle may choose.
struct Entry {
    info: Arc<NodeInfo>,
    known: bool,
}

#[derive(Default)]
struct Inner {
    /// By name, so a snapshot comes in the nodes' name order.
    nodes: BTreeMap<String, Entry>,
    placed: HashMap<String, Placement>,
}

#[derive(Default)]
pub struct Cache {
    inner: Mutex<Inner>,
}

fn uid(p: &Pod) -> Option<&str> {
    p.metadata.uid.as_deref()
}

fn same_pod(key: &str) -> impl Fn(&Pod) -> bool + '_ {
    move |p: &Pod| {
        let (ns, name) = key.split_once('/').unwrap_or(("", key));
        p.metadata.name.as_deref() == Some(name) && p.metadata.namespace.as_deref().unwrap_or_default() == ns
    }
}

fn placeholder(name: &str) -> Arc<Node> {
    let mut node = Node::default();
    node.metadata.name = Some(name.to_string());
    Arc::new(node)
}

impl Inner {
    fn unplace(&mut self, key: &str) {
        let Some(placement) = self.placed.remove(key) else { return };
        if let Some(entry) = self.nodes.get_mut(&placement.node) {
            Arc::make_mut(&mut entry.info).remove_pod(same_pod(key));
            if !entry.known && entry.info.pods.is_empty() {
                self.nodes.remove(&placement.node);
            }
        }
    }

    fn place(&mut self, key: &str, node: &str, pod: Arc<Pod>, assumed: bool) {
        self.unplace(key);
        let entry =
            self.nodes.entry(node.to_string()).or_insert_with(|| Entry { info: Arc::new(NodeInfo::new(placeholder(node))), known: false });
        let placement = Placement { node: node.to_string(), uid: uid(&pod).map(str::to_string), assumed };
        Arc::make_mut(&mut entry.info).add_pod(pod);
        self.placed.insert(key.to_string(), placement);
    }
}

impl Cache {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `AddNode` / `UpdateNode`.
    pub fn set_node(&self, node: &Arc<Node>) {
        let name = node.metadata.name.clone().unwrap_or_default();
        let mut inner = self.lock();
        match inner.nodes.get_mut(&name) {
            Some(entry) => {
                Arc::make_mut(&mut entry.info).set_node(node.clone());
                entry.known = true;
            }
            None => {
                inner.nodes.insert(name, Entry { info: Arc::new(NodeInfo::new(node.clone())), known: true });
            }
        }
    }

    /// `RemoveNode`: its pods stay counted until their own deletes arrive.
    pub fn remove_node(&self, name: &str) {
        let mut inner = self.lock();
        let empty = match inner.nodes.get_mut(name) {
            Some(entry) => {
                entry.known = false;
                entry.info.pods.is_empty()
            }
            None => false,
        };
        if empty {
            inner.nodes.remove(name);
        }
    }

    /// The informer's add or update of a pod: a bound, unfinished pod counts on its
    /// node (replacing an assumption); any other stops counting, unless it is the very pod
    /// whose binding is still in flight.
    pub fn observe(&self, key: &str, pod: &Arc<Pod>) {
        let mut inner = self.lock();
        match holds_node(pod) {
            Some(node) => inner.place(key, node, pod.clone(), false),
            None => {
                // Neither bound (then it would hold its node) nor finished.
                let pending = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_none_or(str::is_empty)
                    && !matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"));
                let in_flight = inner.placed.get(key).is_some_and(|p| p.assumed && p.uid.as_deref() == uid(pod) && pending);
                if !in_flight {
                    inner.unplace(key);
                }
            }
        }
    }

    /// The informer's delete.
    pub fn remove_pod(&self, key: &str) {
        self.lock().unplace(key);
    }

    /// `AssumePod`: `pod` (with `spec.nodeName` set) now counts on `node`.
    pub fn assume(&self, key: &str, node: &str, pod: Pod) {
        self.lock().place(key, node, Arc::new(pod), true);
    }

    /// `ForgetPod`: the binding failed.
    pub fn forget(&self, key: &str) {
        let mut inner = self.lock();
        if inner.placed.get(key).is_some_and(|p| p.assumed) {
            inner.unplace(key);
        }
    }

    /// Whether this very pod (same uid) was placed by the scheduler: its binding is in
    /// flight or has landed.
    pub fn is_placed(&self, key: &str, pod: &Pod) -> bool {
        self.lock().placed.get(key).is_some_and(|p| p.uid.as_deref() == uid(pod))
    }

    /// `UpdateSnapshot`: the known nodes, each shared until the cache next changes it.
    pub fn snapshot(&self) -> Vec<Arc<NodeInfo>> {
        self.lock().nodes.values().filter(|e| e.known).map(|e| e.info.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": name}, "status": {"allocatable": {"cpu": "4", "pods": "10"}}})).unwrap(),
        )
    }

    fn pod(name: &str, uid: &str, node: Option<&str>, phase: Option<&str>) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default", "uid": uid},
            "spec": {"nodeName": node, "containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]},
            "status": {"phase": phase},
        }))
        .unwrap()
    }

    fn on(cache: &Cache, node: &str) -> (usize, i64) {
        let snapshot = cache.snapshot();
        let n = snapshot.iter().find(|n| n.name() == node).expect("the node");
        (n.pods.len(), n.requested.milli_cpu)
    }

    #[test]
    fn assumed_pods_count_until_confirmed_finished_or_forgotten() {
        let cache = Cache::default();
        cache.set_node(&node("a"));
        cache.assume("default/p", "a", pod("p", "1", Some("a"), None));
        assert_eq!(on(&cache, "a"), (1, 1000), "assumed");
        // A status write of the still-pending pod keeps the assumption.
        cache.observe("default/p", &Arc::new(pod("p", "1", None, Some("Pending"))));
        assert_eq!(on(&cache, "a"), (1, 1000), "binding in flight");
        // The informer shows it bound: counted once, not twice.
        cache.observe("default/p", &Arc::new(pod("p", "1", Some("a"), Some("Running"))));
        assert_eq!(on(&cache, "a"), (1, 1000), "confirmed");
        cache.forget("default/p");
        assert_eq!(on(&cache, "a"), (1, 1000), "a confirmed pod is not forgotten");
        cache.observe("default/p", &Arc::new(pod("p", "1", Some("a"), Some("Succeeded"))));
        assert_eq!(on(&cache, "a"), (0, 0), "finished pods free their node");

        cache.assume("default/q", "a", pod("q", "2", Some("a"), None));
        cache.forget("default/q");
        assert_eq!(on(&cache, "a"), (0, 0), "a failed binding is forgotten");
        // A new incarnation (other uid) without a node drops an old assumption.
        cache.assume("default/r", "a", pod("r", "3", Some("a"), None));
        cache.observe("default/r", &Arc::new(pod("r", "4", None, None)));
        assert_eq!(on(&cache, "a"), (0, 0), "another incarnation");
        assert!(!cache.is_placed("default/r", &pod("r", "4", None, None)));
    }

    #[test]
    fn pods_on_an_unknown_node_wait_for_it_and_a_snapshot_is_a_copy() {
        let cache = Cache::default();
        cache.observe("default/p", &Arc::new(pod("p", "1", Some("b"), Some("Running"))));
        assert!(cache.snapshot().is_empty(), "a node not yet seen is not offered");
        cache.set_node(&node("b"));
        let before = cache.snapshot();
        assert_eq!(on(&cache, "b"), (1, 1000));
        cache.remove_pod("default/p");
        assert_eq!(on(&cache, "b"), (0, 0));
        assert_eq!(before[0].pods.len(), 1, "an earlier snapshot does not change under a cycle");
        cache.set_node(&node("c"));
        cache.remove_node("b");
        assert_eq!(cache.snapshot().iter().map(|n| n.name().to_string()).collect::<Vec<_>>(), ["c"]);
    }
}
