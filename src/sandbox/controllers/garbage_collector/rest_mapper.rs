//! The GC's RESTMapper: from an owner reference's `apiVersion` and `kind` to the resource
//! to GET, PATCH and DELETE, and whether it is namespaced. Built from one discovery at start.

use std::collections::HashMap;

use kube::api::ApiResource;
use kube::discovery::{verbs, ApiCapabilities, Discovery, Scope};

/// A resource the GC can act on.
#[derive(Clone)]
pub struct Mapping {
    pub resource: ApiResource,
    pub namespaced: bool,
}

/// Every served version of every kind, plus the resources to monitor.
pub struct RestMapper {
    by_kind: HashMap<(String, String), Mapping>,
    /// `GetDeletableResources` with the GC's ignored resources left out: one per kind at
    /// its preferred version.
    pub monitored: Vec<Mapping>,
}

/// `DefaultIgnoredResources`: events are never owners nor worth a watch.
fn ignored(resource: &ApiResource) -> bool {
    resource.plural == "events" && (resource.group.is_empty() || resource.group == "events.k8s.io")
}

fn deletable(caps: &ApiCapabilities) -> bool {
    [verbs::DELETE, verbs::LIST, verbs::WATCH].iter().all(|v| caps.supports_operation(v))
}

impl RestMapper {
    /// Before the first discovery: maps nothing.
    pub fn empty() -> Self {
        Self { by_kind: HashMap::new(), monitored: Vec::new() }
    }

    pub fn new(discovery: &Discovery) -> Self {
        let mut by_kind = HashMap::new();
        let mut monitored = Vec::new();
        for group in discovery.groups() {
            for version in group.versions() {
                for (resource, caps) in group.versioned_resources(version) {
                    let namespaced = caps.scope == Scope::Namespaced;
                    by_kind.entry((resource.api_version.clone(), resource.kind.clone())).or_insert(Mapping { resource, namespaced });
                }
            }
            for (resource, caps) in group.recommended_resources() {
                if deletable(&caps) && !ignored(&resource) {
                    monitored.push(Mapping { namespaced: caps.scope == Scope::Namespaced, resource });
                }
            }
        }
        Self { by_kind, monitored }
    }

    pub fn mapping(&self, api_version: &str, kind: &str) -> Option<&Mapping> {
        self.by_kind.get(&(api_version.to_string(), kind.to_string()))
    }
}
