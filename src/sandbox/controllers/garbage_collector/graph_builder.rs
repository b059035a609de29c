//! The graph builder (`graph_builder.go`): monitors (informers) over every deletable
//! resource feed one queue of changes; a single task applies them to the graph in order
//! and decides which nodes the workers must look at.

use std::sync::Arc;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use tokio::sync::mpsc;

use super::graph::{self, Identity, Node};
use super::rest_mapper::Mapping;
use super::GarbageCollector;
use crate::machinery::informer_factory::{FactoryError, SharedInformerFactory};
use crate::machinery::metadata_informer::{MetadataEvent, MetadataHandler};
use crate::machinery::stop::StopSignal;
use crate::sandbox::controllers::EventType as EventKind;

pub const FOREGROUND: &str = "foregroundDeletion";
pub const ORPHAN: &str = "orphan";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Add,
    Update,
    Delete,
}

/// What the graph needs of an object's metadata.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    pub uid: String,
    pub name: String,
    pub namespace: String,
    pub owners: Vec<OwnerReference>,
    pub being_deleted: bool,
    pub finalizers: Vec<String>,
}

impl Meta {
    pub fn of(m: &ObjectMeta) -> Self {
        Self {
            uid: m.uid.clone().unwrap_or_default(),
            name: m.name.clone().unwrap_or_default(),
            namespace: m.namespace.clone().unwrap_or_default(),
            owners: m.owner_references.clone().unwrap_or_default(),
            being_deleted: m.deletion_timestamp.is_some(),
            finalizers: m.finalizers.clone().unwrap_or_default(),
        }
    }

    fn has_finalizer(&self, f: &str) -> bool {
        self.finalizers.iter().any(|x| x == f)
    }
}

/// One entry of `graphChanges`.
#[derive(Debug, Clone)]
pub struct GraphEvent {
    pub event_type: EventType,
    pub api_version: String,
    pub kind: String,
    pub obj: Meta,
    pub old: Option<Meta>,
    /// Queued by a worker that found the object missing, not by an informer.
    pub virtual_: bool,
}

impl GraphEvent {
    /// `enqueueVirtualDeleteEvent`.
    pub fn virtual_delete(identity: &Identity) -> Self {
        Self {
            event_type: EventType::Delete,
            api_version: identity.api_version.clone(),
            kind: identity.kind.clone(),
            obj: Meta { uid: identity.uid.clone(), name: identity.name.clone(), namespace: identity.namespace.clone(), ..Meta::default() },
            old: None,
            virtual_: true,
        }
    }

    fn identity(&self) -> Identity {
        Identity {
            api_version: self.api_version.clone(),
            kind: self.kind.clone(),
            name: self.obj.name.clone(),
            uid: self.obj.uid.clone(),
            namespace: self.obj.namespace.clone(),
        }
    }
}

/// `controllerFor`: the metadata of `m`'s objects, as the factory shares them (the typed
/// informer another loop already runs, else a metadata-only one), sent to `changes`.
pub fn monitor(factory: &SharedInformerFactory, m: &Mapping, changes: mpsc::UnboundedSender<GraphEvent>) -> Result<(), FactoryError> {
    let informer = factory.metadata_informer(&m.resource)?;
    let (api_version, kind) = (m.resource.api_version.clone(), m.resource.kind.clone());
    let handler: MetadataHandler = Arc::new(move |event| {
        let (event_type, obj, old) = match event {
            MetadataEvent::Add(o) => (EventType::Add, o, None),
            MetadataEvent::Update { old, new } => (EventType::Update, new, Some(old)),
            MetadataEvent::Delete(o) => (EventType::Delete, o, None),
        };
        let _ = changes.send(GraphEvent {
            event_type,
            api_version: api_version.clone(),
            kind: kind.clone(),
            obj: Meta::of(obj),
            old: old.map(Meta::of),
            virtual_: false,
        });
    });
    informer.add_metadata_handler("garbage-collector", handler);
    Ok(())
}

/// `deletionStartsWithFinalizer`: `new` is being deleted with `finalizer`, and `old` was not.
fn deletion_starts_with_finalizer(old: Option<&Meta>, new: &Meta, finalizer: &str) -> bool {
    if !new.being_deleted || !new.has_finalizer(finalizer) {
        return false;
    }
    old.is_none_or(|o| !o.being_deleted || !o.has_finalizer(finalizer))
}

/// `runProcessGraphChanges` until stop.
pub async fn process_graph_changes(gc: Arc<GarbageCollector>, mut rx: mpsc::UnboundedReceiver<GraphEvent>, stop: StopSignal) {
    loop {
        let event = tokio::select! {
            _ = stop.stopped() => return,
            e = rx.recv() => match e { Some(e) => e, None => return },
        };
        apply(&gc, &event);
    }
}

/// `processGraphChanges` for one event.
fn apply(gc: &GarbageCollector, event: &GraphEvent) {
    let uid = event.obj.uid.clone();
    if uid.is_empty() {
        return;
    }
    let mut to_delete: Vec<String> = Vec::new();
    let mut to_orphan: Vec<String> = Vec::new();
    let mut invalid_namespace: Vec<(ObjectReference, String)> = Vec::new();
    {
        let mut nodes = gc.graph.lock();
        if !event.virtual_ && nodes.get(&uid).is_some_and(|n| !n.observed) {
            // A virtual node now seen: its dependents guessed its coordinates; recheck them
            // if they guessed wrong, and tell those in another namespace than the owner's.
            let observed = event.identity();
            let dependents: Vec<String> = nodes.get(&uid).map(|n| n.dependents.iter().cloned().collect()).unwrap_or_default();
            if nodes.get(&uid).is_some_and(|n| n.identity != observed) {
                for dep in dependents.iter().filter_map(|d| nodes.get(d)) {
                    if !observed.namespace.is_empty() && dep.identity.namespace != observed.namespace {
                        invalid_namespace.extend(invalid_namespace_owner_ref(&dep.identity, &dep.owners, &uid));
                    }
                }
                to_delete.extend(dependents);
            }
            if let Some(n) = nodes.get_mut(&uid) {
                n.identity = observed;
                n.observed = true;
            }
        }
        let found = nodes.contains_key(&uid);
        match event.event_type {
            EventType::Add | EventType::Update if !found => {
                let obj = &event.obj;
                let node = Node {
                    identity: event.identity(),
                    owners: obj.owners.clone(),
                    dependents: Default::default(),
                    observed: true,
                    being_deleted: obj.being_deleted,
                    deleting_dependents: obj.being_deleted && obj.has_finalizer(FOREGROUND),
                };
                let dependent = node.identity.clone();
                let owners = node.owners.clone();
                let linked = graph::insert_node(&mut nodes, node);
                link_findings(&dependent, &owners, linked, &mut to_delete, &mut invalid_namespace);
                transitions(&mut nodes, event, &mut to_delete, &mut to_orphan);
            }
            EventType::Add | EventType::Update => {
                let old_owners = nodes.get(&uid).map(|n| n.owners.clone()).unwrap_or_default();
                let (added, removed, changed) = graph::references_diffs(&old_owners, &event.obj.owners);
                if !added.is_empty() || !removed.is_empty() || !changed.is_empty() {
                    // `addUnblockedOwnersToDeleteQueue`: an owner waiting for this dependent
                    // may go now that the dependent no longer blocks it.
                    let unblocked = removed.iter().filter(|r| r.block_owner_deletion == Some(true)).chain(
                        changed
                            .iter()
                            .filter(|(o, n)| o.block_owner_deletion == Some(true) && n.block_owner_deletion != Some(true))
                            .map(|(o, _)| o),
                    );
                    for r in unblocked {
                        if nodes.get(&r.uid).is_some_and(|o| o.deleting_dependents) {
                            to_delete.push(r.uid.clone());
                        }
                    }
                    if let Some(n) = nodes.get_mut(&uid) {
                        n.owners = event.obj.owners.clone();
                    }
                    let dependent = event.identity();
                    let linked = graph::add_dependent_to_owners(&mut nodes, &dependent, &added);
                    link_findings(&dependent, &event.obj.owners, linked, &mut to_delete, &mut invalid_namespace);
                    graph::remove_dependent_from_owners(&mut nodes, &uid, &removed);
                }
                if event.obj.being_deleted {
                    if let Some(n) = nodes.get_mut(&uid) {
                        n.being_deleted = true;
                    }
                }
                transitions(&mut nodes, event, &mut to_delete, &mut to_orphan);
            }
            EventType::Delete => {
                let Some(existing) = nodes.get(&uid) else { return };
                // A virtual delete of coordinates other than the observed node's only tells
                // that those coordinates are absent (`partitionDependents`, simplified).
                if event.virtual_ && existing.observed && existing.identity != event.identity() {
                    gc.absent_owners.add(event.identity());
                    to_delete.extend(existing.dependents.iter().cloned());
                } else if let Some(removed) = graph::remove_node(&mut nodes, &uid) {
                    if !removed.dependents.is_empty() {
                        gc.absent_owners.add(event.identity());
                    }
                    to_delete.extend(removed.dependents.iter().cloned());
                    for owner in &removed.owners {
                        if nodes.get(&owner.uid).is_some_and(|o| o.deleting_dependents) {
                            to_delete.push(owner.uid.clone());
                        }
                    }
                }
            }
        }
    }
    for (dependent, message) in invalid_namespace {
        gc.recorder.event(&dependent, EventKind::Warning, "OwnerRefInvalidNamespace", message);
    }
    for uid in to_delete {
        gc.attempt_to_delete.add(uid);
    }
    for uid in to_orphan {
        gc.attempt_to_orphan.add(uid);
    }
}

/// What linking a dependent to its owners asks for: verify virtual owners, recheck the
/// dependent, report references to owners in another namespace.
fn link_findings(
    dependent: &Identity,
    owners: &[OwnerReference],
    linked: graph::Linked,
    to_delete: &mut Vec<String>,
    invalid_namespace: &mut Vec<(ObjectReference, String)>,
) {
    to_delete.extend(linked.virtual_owners);
    if linked.recheck_dependent {
        to_delete.push(dependent.uid.clone());
    }
    for owner in &linked.invalid_namespace_owners {
        invalid_namespace.extend(invalid_namespace_owner_ref(dependent, owners, owner));
    }
}

/// `reportInvalidNamespaceOwnerRef`: the Event a dependent gets when the owner its
/// reference names turned out to live in another namespace (references cannot cross them).
fn invalid_namespace_owner_ref(id: &Identity, owners: &[OwnerReference], owner_uid: &str) -> Option<(ObjectReference, String)> {
    let r = owners.iter().find(|r| r.uid == owner_uid)?;
    let object = ObjectReference {
        api_version: Some(id.api_version.clone()),
        kind: Some(id.kind.clone()),
        namespace: Some(id.namespace.clone()),
        name: Some(id.name.clone()),
        uid: Some(id.uid.clone()),
        ..ObjectReference::default()
    };
    let message = format!(
        "ownerRef [{}/{}, namespace: {}, name: {}, uid: {}] does not exist in namespace {:?}",
        r.api_version, r.kind, id.namespace, r.name, r.uid, id.namespace
    );
    Some((object, message))
}

/// `processTransitions`: an owner whose deletion started with `orphan` goes to the orphan
/// queue; with `foregroundDeletion`, it and all its dependents go to the delete queue.
fn transitions(
    nodes: &mut std::collections::HashMap<String, Node>,
    event: &GraphEvent,
    to_delete: &mut Vec<String>,
    to_orphan: &mut Vec<String>,
) {
    let uid = &event.obj.uid;
    if deletion_starts_with_finalizer(event.old.as_ref(), &event.obj, ORPHAN) {
        to_orphan.push(uid.clone());
        return;
    }
    if deletion_starts_with_finalizer(event.old.as_ref(), &event.obj, FOREGROUND) {
        if let Some(n) = nodes.get_mut(uid) {
            n.deleting_dependents = true;
            n.being_deleted = true;
            to_delete.extend(n.dependents.iter().cloned());
        }
        to_delete.push(uid.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(being_deleted: bool, finalizers: &[&str]) -> Meta {
        Meta { being_deleted, finalizers: finalizers.iter().map(|s| s.to_string()).collect(), ..Meta::default() }
    }

    #[test]
    fn deletion_starts_only_on_the_transition() {
        let cases = [
            (None, meta(true, &[ORPHAN]), ORPHAN, true),
            (Some(meta(false, &[])), meta(true, &[ORPHAN]), ORPHAN, true),
            (Some(meta(true, &[ORPHAN])), meta(true, &[ORPHAN]), ORPHAN, false),
            (Some(meta(false, &[])), meta(true, &[FOREGROUND]), ORPHAN, false),
            (Some(meta(false, &[])), meta(false, &[FOREGROUND]), FOREGROUND, false),
            (Some(meta(true, &[])), meta(true, &[FOREGROUND]), FOREGROUND, true),
        ];
        for (old, new, f, want) in cases {
            assert_eq!(deletion_starts_with_finalizer(old.as_ref(), &new, f), want, "{old:?} -> {new:?} {f}");
        }
    }
}
