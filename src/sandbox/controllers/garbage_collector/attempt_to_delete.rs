//! The attempt-to-delete worker (`attemptToDeleteItem`): looks at one node against the
//! live API and either leaves it, patches out references to owners that are gone or
//! waiting, deletes it, or — for an owner deleting its dependents in the foreground —
//! removes its `foregroundDeletion` finalizer once nothing blocks it.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DynamicObject, PropagationPolicy};

use super::graph::{Identity, Node};
use super::graph_builder::{GraphEvent, FOREGROUND, ORPHAN};
use super::{GarbageCollector, GcError, WHO};
use crate::machinery::rate_limiting_queue::RateLimitingQueue;

pub struct AttemptToDelete(pub Arc<GarbageCollector>);

/// How one owner reference stands (`classifyReferences`).
enum OwnerState {
    /// The owner exists and is not deleting its dependents.
    Solid,
    /// No object has that uid (absent, or a different object under that name).
    Dangling,
    /// The owner is being deleted in the foreground.
    WaitingForDependentsDeletion,
}

fn has_finalizer(obj: &DynamicObject, f: &str) -> bool {
    obj.metadata.finalizers.iter().flatten().any(|x| x == f)
}

fn describe(refs: &[&OwnerReference]) -> String {
    refs.iter().map(|r| format!("{} {}", r.kind, r.name)).collect::<Vec<_>>().join(", ")
}

impl super::super::Reconciler for AttemptToDelete {
    fn queue(&self) -> &RateLimitingQueue<String> {
        &self.0.attempt_to_delete
    }

    /// `attemptToDeleteWorker`.
    async fn sync(&self, uid: String) -> Result<Option<Duration>, kube::Error> {
        let gc = &self.0;
        let Some(node) = gc.graph.read(&uid) else { return Ok(None) };
        match gc.attempt_to_delete_item(&node).await {
            // A virtual node that exists: looked at again, with backoff, until observed.
            Ok(()) if !node.observed => Err(GcError::NotYetObserved(node.identity.key()).into_kube()),
            Ok(()) | Err(GcError::EnqueuedVirtualDeleteEvent | GcError::NamespacedOwnerOfClusterScopedObject) => Ok(None),
            Err(e) => Err(e.into_kube()),
        }
    }
}

impl GarbageCollector {
    async fn attempt_to_delete_item(&self, item: &Node) -> Result<(), GcError> {
        if item.being_deleted && !item.deleting_dependents {
            return Ok(());
        }
        let latest = match self.get_object(&item.identity).await? {
            Some(l) if l.metadata.uid.as_deref() == Some(item.identity.uid.as_str()) => l,
            _ => {
                let _ = self.graph_changes.send(GraphEvent::virtual_delete(&item.identity));
                return Err(GcError::EnqueuedVirtualDeleteEvent);
            }
        };
        if item.deleting_dependents {
            return self.process_deleting_dependents(item).await;
        }
        let owners = latest.metadata.owner_references.clone().unwrap_or_default();
        if owners.is_empty() {
            return Ok(());
        }
        let (mut solid, mut dangling, mut waiting) = (Vec::new(), Vec::new(), Vec::new());
        for r in &owners {
            match self.classify(r, item).await? {
                OwnerState::Solid => solid.push(r),
                OwnerState::Dangling => dangling.push(r),
                OwnerState::WaitingForDependentsDeletion => waiting.push(r),
            }
        }
        let key = item.identity.key();
        let rv = latest.metadata.resource_version.clone();
        if !solid.is_empty() {
            if dangling.is_empty() && waiting.is_empty() {
                return Ok(());
            }
            // Some owners remain: only the references to the others go.
            let gone: Vec<String> = dangling.iter().chain(waiting.iter()).map(|r| r.uid.clone()).collect();
            let what = describe(&dangling.iter().chain(waiting.iter()).copied().collect::<Vec<_>>());
            self.delete_owner_refs(&item.identity, &gone).await?;
            self.decisions.say(WHO, &key, &format!("removed owner references to {what} (still owned by {})", describe(&solid)));
            return Ok(());
        }
        if !waiting.is_empty() && !item.dependents.is_empty() {
            // It has dependents of its own: delete it in the foreground too, so its owner
            // waits for the whole tree. A dependent itself deleting dependents would wait
            // on us in a cycle: unblock our references first.
            if self.graph.dependents(&item.identity.uid).iter().any(|d| d.deleting_dependents) {
                self.unblock_owner_refs(&item.identity, &item.owners).await?;
            }
            self.delete_object(&item.identity, rv, &owners, PropagationPolicy::Foreground).await?;
            self.decisions.say(WHO, &key, &format!("deleting in the foreground (owner {} is deleting its dependents)", describe(&waiting)));
            return Ok(());
        }
        let policy = if has_finalizer(&latest, ORPHAN) {
            PropagationPolicy::Orphan
        } else if has_finalizer(&latest, FOREGROUND) {
            PropagationPolicy::Foreground
        } else {
            PropagationPolicy::Background
        };
        self.delete_object(&item.identity, rv, &owners, policy).await?;
        let why = if waiting.is_empty() {
            format!("owner {} is gone", describe(&dangling))
        } else {
            format!("owner {} is deleting its dependents", describe(&waiting))
        };
        self.decisions.say(WHO, &key, &format!("deleting ({why})"));
        Ok(())
    }

    /// `isDangling` then the foreground check: the owner's live state, remembered in the
    /// absent-owner cache when missing.
    async fn classify(&self, reference: &OwnerReference, item: &Node) -> Result<OwnerState, GcError> {
        let mut owner = Identity::of_owner(reference, "");
        if self.absent_owners.has(&owner) {
            return Ok(OwnerState::Dangling);
        }
        owner.namespace = item.identity.namespace.clone();
        if self.absent_owners.has(&owner) {
            return Ok(OwnerState::Dangling);
        }
        let namespaced = self.namespaced(&reference.api_version, &reference.kind)?;
        if !namespaced {
            owner.namespace.clear();
        }
        if item.identity.namespace.is_empty() && namespaced {
            return Err(GcError::NamespacedOwnerOfClusterScopedObject);
        }
        let live = match self.get_object(&owner).await? {
            Some(l) if l.metadata.uid.as_deref() == Some(reference.uid.as_str()) => l,
            _ => {
                self.absent_owners.add(owner);
                return Ok(OwnerState::Dangling);
            }
        };
        if live.metadata.deletion_timestamp.is_some() && has_finalizer(&live, FOREGROUND) {
            return Ok(OwnerState::WaitingForDependentsDeletion);
        }
        Ok(OwnerState::Solid)
    }

    /// `processDeletingDependentsItem`: the owner goes once no dependent blocks it; until
    /// then its blocking dependents are (re)considered for deletion.
    async fn process_deleting_dependents(&self, item: &Node) -> Result<(), GcError> {
        let blocking = self.graph.blocking_dependents(&item.identity.uid);
        if blocking.is_empty() {
            self.remove_finalizer(&item.identity, FOREGROUND).await?;
            self.decisions.say(WHO, &item.identity.key(), "removed finalizer foregroundDeletion (no dependent blocks its deletion)");
            return Ok(());
        }
        for dep in blocking.iter().filter(|d| !d.deleting_dependents) {
            self.attempt_to_delete.add(dep.identity.uid.clone());
        }
        Ok(())
    }
}
