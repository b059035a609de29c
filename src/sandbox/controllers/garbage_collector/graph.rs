//! The dependency graph (`graph.go`, GraphBuilder's `uidToNode`): one node per object any
//! monitor has seen, or per owner some object names but no monitor has shown yet (a
//! *virtual* node, which the attempt-to-delete worker verifies with a live GET).
//!
//! Nodes are keyed by uid; queues carry uids and read the node back, so a node that left
//! the graph meanwhile is simply skipped.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

/// `objectReference`: an owner reference's coordinates plus the namespace (empty for
/// cluster-scoped objects, and for owners of cluster-scoped dependents).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub uid: String,
    pub namespace: String,
}

impl Identity {
    /// The owner a reference of a dependent in `namespace` names.
    pub fn of_owner(reference: &OwnerReference, namespace: &str) -> Self {
        Self {
            api_version: reference.api_version.clone(),
            kind: reference.kind.clone(),
            name: reference.name.clone(),
            uid: reference.uid.clone(),
            namespace: namespace.to_string(),
        }
    }

    /// `namespace/name`, or `name` when cluster-scoped: the key decision lines use.
    pub fn key(&self) -> String {
        if self.namespace.is_empty() {
            self.name.clone()
        } else {
            format!("{}/{}", self.namespace, self.name)
        }
    }
}

/// One object in the graph.
#[derive(Debug, Clone)]
pub struct Node {
    pub identity: Identity,
    /// The ownerReferences last observed (empty for a virtual node).
    pub owners: Vec<OwnerReference>,
    /// The uids of the nodes whose ownerReferences name this one.
    pub dependents: BTreeSet<String>,
    /// Seen through an informer; false for a virtual node.
    pub observed: bool,
    /// Has a deletionTimestamp.
    pub being_deleted: bool,
    /// Has a deletionTimestamp and the `foregroundDeletion` finalizer: the GC deletes its
    /// dependents, then removes the finalizer.
    pub deleting_dependents: bool,
}

impl Node {
    pub fn virtual_owner(identity: Identity) -> Self {
        Self {
            identity,
            owners: Vec::new(),
            dependents: BTreeSet::new(),
            observed: false,
            being_deleted: false,
            deleting_dependents: false,
        }
    }
}

/// `uidToNode`, behind one lock (the graph builder is its only writer).
#[derive(Default)]
pub struct Graph {
    nodes: Mutex<HashMap<String, Node>>,
}

impl Graph {
    pub fn lock(&self) -> MutexGuard<'_, HashMap<String, Node>> {
        self.nodes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the node with `uid`.
    pub fn read(&self, uid: &str) -> Option<Node> {
        self.lock().get(uid).cloned()
    }

    /// The dependents of `uid`, copied.
    pub fn dependents(&self, uid: &str) -> Vec<Node> {
        let nodes = self.lock();
        let Some(n) = nodes.get(uid) else { return Vec::new() };
        n.dependents.iter().filter_map(|d| nodes.get(d).cloned()).collect()
    }

    /// `blockingDependents`: the dependents whose reference to `uid` has
    /// `blockOwnerDeletion: true` — a foreground deletion waits for these.
    pub fn blocking_dependents(&self, uid: &str) -> Vec<Node> {
        self.dependents(uid).into_iter().filter(|d| d.owners.iter().any(|o| o.uid == uid && o.block_owner_deletion == Some(true))).collect()
    }
}

/// What linking a dependent to its owners found out.
#[derive(Debug, Default, PartialEq)]
pub struct Linked {
    /// Owners not in the graph, now virtual nodes to be verified.
    pub virtual_owners: Vec<String>,
    /// A reference disagrees with its owner's node (namespace or coordinates): the
    /// dependent must be checked against the live owners.
    pub recheck_dependent: bool,
    /// Observed namespaced owners in another namespace than the dependent's.
    pub invalid_namespace_owners: Vec<String>,
}

/// `insertNode`: adds `node` and links it to its owners.
pub fn insert_node(nodes: &mut HashMap<String, Node>, node: Node) -> Linked {
    let identity = node.identity.clone();
    let owners = node.owners.clone();
    nodes.insert(identity.uid.clone(), node);
    add_dependent_to_owners(nodes, &identity, &owners)
}

/// `ownerReferenceMatchesCoordinates`.
fn matches_coordinates(r: &OwnerReference, id: &Identity) -> bool {
    r.uid == id.uid && r.name == id.name && r.kind == id.kind && r.api_version == id.api_version
}

/// `addDependentToOwners`: virtual nodes for owners not in the graph; references that
/// disagree with their owner's node mark the dependent for a recheck.
pub fn add_dependent_to_owners(nodes: &mut HashMap<String, Node>, dependent: &Identity, owners: &[OwnerReference]) -> Linked {
    let mut linked = Linked::default();
    for owner in owners {
        let Some(o) = nodes.get_mut(&owner.uid) else {
            let mut virtual_owner = Node::virtual_owner(Identity::of_owner(owner, &dependent.namespace));
            virtual_owner.dependents.insert(dependent.uid.clone());
            nodes.insert(owner.uid.clone(), virtual_owner);
            linked.virtual_owners.push(owner.uid.clone());
            continue;
        };
        o.dependents.insert(dependent.uid.clone());
        if linked.recheck_dependent {
            continue;
        }
        let owner_namespaced = !o.identity.namespace.is_empty();
        if owner_namespaced && o.identity.namespace != dependent.namespace {
            if o.observed {
                linked.invalid_namespace_owners.push(owner.uid.clone());
            }
            linked.recheck_dependent = true;
        } else if !matches_coordinates(owner, &o.identity)
            || (!owner_namespaced && o.identity.namespace != dependent.namespace && !o.observed)
        {
            linked.recheck_dependent = true;
        }
    }
    linked
}

/// `removeDependentFromOwners`.
pub fn remove_dependent_from_owners(nodes: &mut HashMap<String, Node>, uid: &str, owners: &[OwnerReference]) {
    for owner in owners {
        if let Some(o) = nodes.get_mut(&owner.uid) {
            o.dependents.remove(uid);
        }
    }
}

/// `removeNode`: the node leaves the graph and its owners forget it.
pub fn remove_node(nodes: &mut HashMap<String, Node>, uid: &str) -> Option<Node> {
    let node = nodes.remove(uid)?;
    remove_dependent_from_owners(nodes, uid, &node.owners);
    Some(node)
}

/// `referencesDiffs`: owner references added, removed, and changed (same uid, other fields).
pub fn references_diffs(
    old: &[OwnerReference],
    new: &[OwnerReference],
) -> (Vec<OwnerReference>, Vec<OwnerReference>, Vec<(OwnerReference, OwnerReference)>) {
    let mut added = Vec::new();
    let mut changed = Vec::new();
    for n in new {
        match old.iter().find(|o| o.uid == n.uid) {
            None => added.push(n.clone()),
            Some(o) if o != n => changed.push((o.clone(), n.clone())),
            Some(_) => {}
        }
    }
    let removed = old.iter().filter(|o| !new.iter().any(|n| n.uid == o.uid)).cloned().collect();
    (added, removed, changed)
}

/// `absentOwnerCache`: owners a live GET found missing, so their other dependents need no
/// GET of their own. Bounded as upstream's LRU of 500 (here: forgotten all at once).
#[derive(Default)]
pub struct AbsentOwners {
    set: Mutex<HashSet<Identity>>,
}

const ABSENT_OWNER_CACHE_SIZE: usize = 500;

impl AbsentOwners {
    pub fn add(&self, identity: Identity) {
        let mut set = self.set.lock().unwrap_or_else(|e| e.into_inner());
        if set.len() >= ABSENT_OWNER_CACHE_SIZE {
            set.clear();
        }
        set.insert(identity);
    }

    pub fn has(&self, identity: &Identity) -> bool {
        self.set.lock().unwrap_or_else(|e| e.into_inner()).contains(identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(uid: &str, block: Option<bool>) -> OwnerReference {
        OwnerReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: format!("cm-{uid}"),
            uid: uid.into(),
            block_owner_deletion: block,
            controller: None,
        }
    }

    fn node(uid: &str, owners: Vec<OwnerReference>) -> Node {
        let mut n = Node::virtual_owner(Identity {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: format!("cm-{uid}"),
            uid: uid.into(),
            namespace: "default".into(),
        });
        n.owners = owners;
        n.observed = true;
        n
    }

    #[test]
    fn an_unknown_owner_becomes_a_virtual_node_and_removal_unlinks() {
        let graph = Graph::default();
        let mut nodes = graph.lock();
        let linked = insert_node(&mut nodes, node("child", vec![owner("parent", Some(true))]));
        assert_eq!(linked.virtual_owners, vec!["parent".to_string()]);
        assert!(!nodes["parent"].observed);
        assert_eq!(nodes["parent"].identity.namespace, "default");
        assert!(nodes["parent"].dependents.contains("child"));
        // A second dependent of the same owner creates nothing new.
        assert_eq!(insert_node(&mut nodes, node("sibling", vec![owner("parent", None)])), Linked::default());
        drop(nodes);
        let blocking: Vec<String> = graph.blocking_dependents("parent").into_iter().map(|n| n.identity.uid).collect();
        assert_eq!(blocking, vec!["child".to_string()]);
        let mut nodes = graph.lock();
        remove_node(&mut nodes, "child");
        assert_eq!(nodes["parent"].dependents.iter().collect::<Vec<_>>(), vec!["sibling"]);
    }

    #[test]
    fn references_that_disagree_with_the_owner_node_recheck_the_dependent() {
        let graph = Graph::default();
        let mut nodes = graph.lock();
        insert_node(&mut nodes, node("owner", vec![]));
        // Same namespace, same coordinates: nothing to recheck.
        assert_eq!(insert_node(&mut nodes, node("fine", vec![owner("owner", None)])), Linked::default());
        // Another namespace than the observed owner's: recheck, and an Event.
        let mut foreign = node("foreign", vec![owner("owner", None)]);
        foreign.identity.namespace = "elsewhere".into();
        let linked = insert_node(&mut nodes, foreign);
        assert!(linked.recheck_dependent);
        assert_eq!(linked.invalid_namespace_owners, vec!["owner".to_string()]);
        // Another name under the owner's uid: recheck, no Event.
        let renamed = OwnerReference { name: "other".into(), ..owner("owner", None) };
        let linked = insert_node(&mut nodes, node("renamed", vec![renamed]));
        assert!(linked.recheck_dependent && linked.invalid_namespace_owners.is_empty());
    }

    #[test]
    fn references_diffs_tells_added_removed_changed() {
        let cases = [
            (vec![], vec![owner("a", None)], (1, 0, 0)),
            (vec![owner("a", None)], vec![], (0, 1, 0)),
            (vec![owner("a", None)], vec![owner("a", Some(true))], (0, 0, 1)),
            (vec![owner("a", None), owner("b", None)], vec![owner("b", None), owner("c", None)], (1, 1, 0)),
        ];
        for (old, new, (a, r, c)) in cases {
            let (added, removed, changed) = references_diffs(&old, &new);
            assert_eq!((added.len(), removed.len(), changed.len()), (a, r, c), "{old:?} -> {new:?}");
        }
    }
}
