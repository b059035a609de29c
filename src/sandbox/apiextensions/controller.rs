//! The apiextensions-apiserver's own loops, run inside the sandbox whatever `--controllers`
//! says (they are the API server's, not kube-controller-manager's): naming
//! (`controller/status/naming_controller.go`), establishing (`controller/establish`) and
//! the CRD finalizer (`controller/finalizer/crd_finalizer.go`), plus the handler's side of
//! it: whenever the stored CRDs change, the catalogue is rebuilt from the established ones,
//! so discovery, OpenAPI and the REST verbs serve their custom resources.
//!
//! One task wakes on every committed write, reads the CRDs from storage and writes each
//! status change through the API (as `kube-apiserver`, status subresource), so watchers
//! and managedFields see what they see upstream.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, PostParams};
use serde_json::{json, Value};

use super::conditions;
use super::served::resources_of;
use super::strategy::CLEANUP_FINALIZER;
use crate::machinery::stop::StopSignal;
use crate::sandbox::controllers::Decisions;
use crate::sandbox::keys::list_prefix;
use crate::sandbox::meta;
use crate::sandbox::rest::Apiserver;
use crate::sandbox::storage::Snapshot;

const WHO: &str = "apiextensions";
const MANAGER: &str = "kube-apiserver";

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error("cannot encode the CRD: {0}")]
    Encode(#[from] serde_json::Error),
}

/// The CRDs in storage, oldest first (names are claimed first come, first served).
pub fn stored_crds(api: &Apiserver) -> Vec<Value> {
    let cat = api.catalogue();
    let Some(res) = cat.find("apiextensions.k8s.io", "v1", "customresourcedefinitions") else { return vec![] };
    let Ok((_, items)) = api.storage.list(&list_prefix(res, None), None, Snapshot::Current) else { return vec![] };
    let mut crds: Vec<Value> = items.iter().map(|s| s.value()).collect();
    crds.sort_by_key(|c| c.pointer("/metadata/creationTimestamp").and_then(Value::as_str).unwrap_or_default().to_string());
    crds
}

/// What the catalogue was last built from: each CRD's name and resourceVersion (a
/// strategy's state, such as terminating, is not part of the catalogue's equality).
fn signature(crds: &[Value]) -> String {
    crds.iter()
        .map(|c| format!("{}@{}", meta::name(c).unwrap_or_default(), meta::resource_version(c).unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Puts the custom resources of the established `crds` in the catalogue, unless it was
/// built from exactly these (`last` holds what it was built from).
pub fn serve(api: &Apiserver, crds: &[Value], last: &std::sync::Mutex<String>) {
    let sig = signature(crds);
    let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
    if *last == sig {
        return;
    }
    api.set_catalogue(api.catalogue().with(crds.iter().flat_map(resources_of).collect()));
    *last = sig;
}

/// `calculateNamesAndConditions` + the establishing controller: the accepted names, the
/// `NamesAccepted` condition and `Established` once the names are accepted.
fn desired_status(crd: &Value, others: &[Value]) -> Value {
    let group = crd.pointer("/spec/group").and_then(Value::as_str).unwrap_or_default();
    let name = meta::name(crd).unwrap_or_default();
    let (mut resources, mut kinds) = (std::collections::HashSet::new(), std::collections::HashSet::new());
    for o in others.iter().filter(|o| o.pointer("/spec/group").and_then(Value::as_str) == Some(group)) {
        if meta::name(o) == Some(name) {
            continue;
        }
        let n = o.pointer("/status/acceptedNames").cloned().unwrap_or(Value::Null);
        for k in ["plural", "singular"] {
            resources.insert(n.get(k).and_then(Value::as_str).unwrap_or_default().to_string());
        }
        for s in n.get("shortNames").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            resources.insert(s.to_string());
        }
        for k in ["kind", "listKind"] {
            kinds.insert(n.get(k).and_then(Value::as_str).unwrap_or_default().to_string());
        }
    }
    resources.remove("");
    kinds.remove("");
    let requested = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let accepted = crd.pointer("/status/acceptedNames").cloned().unwrap_or(json!({}));
    let mut names = accepted.clone();
    if !names.is_object() {
        names = json!({});
    }
    let mut conflict: Option<(&str, String)> = None;
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let fresh = |req: &str, acc: &str, used: &std::collections::HashSet<String>| req == acc || !used.contains(req);
    for (field, reason, used) in [
        ("plural", "PluralConflict", &resources),
        ("singular", "SingularConflict", &resources),
        ("kind", "KindConflict", &kinds),
        ("listKind", "ListKindConflict", &kinds),
    ] {
        let (req, acc) = (s(&requested, field), s(&accepted, field));
        if fresh(&req, &acc, used) {
            names[field] = json!(req);
        } else {
            conflict = Some((reason, format!("{req:?} is already in use")));
        }
        // Upstream checks the short names between the singular and the kind.
        if field == "singular" {
            let short_req = requested.get("shortNames").cloned().unwrap_or(Value::Null);
            if short_req != accepted.get("shortNames").cloned().unwrap_or(Value::Null) {
                let had: Vec<String> = accepted
                    .get("shortNames")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect();
                let errs: Vec<String> = short_req
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .filter(|n| !had.iter().any(|h| h == n) && resources.contains(*n))
                    .map(|n| format!("{n:?} is already in use"))
                    .collect();
                if errs.is_empty() {
                    match short_req {
                        Value::Null => names.as_object_mut().map(|m| m.remove("shortNames")),
                        v => names.as_object_mut().map(|m| m.insert("shortNames".into(), v)),
                    };
                } else {
                    let msg = if errs.len() == 1 { errs[0].clone() } else { format!("[{}]", errs.join(", ")) };
                    conflict = Some(("ShortNamesConflict", msg));
                }
            }
        }
    }
    match requested.get("categories").cloned() {
        Some(c) => names["categories"] = c,
        None => {
            names.as_object_mut().map(|m| m.remove("categories"));
        }
    }
    let mut status = crd.get("status").cloned().unwrap_or(json!({}));
    status["acceptedNames"] = names;
    match &conflict {
        Some((reason, message)) => conditions::set(&mut status, "NamesAccepted", "False", reason, message),
        None => conditions::set(&mut status, "NamesAccepted", "True", "NoConflicts", "no conflicts found"),
    }
    let established = conditions::find(crd, "Established").cloned();
    let was_established = established.as_ref().and_then(|c| c.get("status")).and_then(Value::as_str) == Some("True");
    if conflict.is_none() && !was_established {
        conditions::set(&mut status, "Established", "True", "InitialNamesAccepted", "the initial names have been accepted");
    } else if established.is_none() {
        conditions::set(&mut status, "Established", "False", "NotAccepted", "not all names are accepted");
    }
    status
}

/// The loops' state: the API server (for its storage and catalogue) and a client to write
/// through it.
pub struct Controllers {
    api: Arc<Apiserver>,
    crds: Api<CustomResourceDefinition>,
    client: kube::Client,
    decisions: Decisions,
    served: std::sync::Mutex<String>,
}

impl Controllers {
    pub fn new(api: Arc<Apiserver>, client: kube::Client, decisions: Decisions) -> Self {
        Controllers { api, crds: Api::all(client.clone()), client, decisions, served: Default::default() }
    }

    /// Until `stop`: a pass after every committed write, and one a second for retries.
    pub async fn run(self, stop: StopSignal) {
        let mut committed = self.api.storage.committed();
        loop {
            let pending = self.pass().await;
            let wait = if pending { Duration::from_millis(200) } else { Duration::from_secs(1) };
            tokio::select! {
                _ = committed.changed() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stop.stopped() => return,
            }
        }
    }

    /// One look at every CRD; true when some work is left for a later pass.
    async fn pass(&self) -> bool {
        let crds = stored_crds(&self.api);
        // Serve what is stored first: a terminating CRD refuses creates before its
        // instances are deleted.
        serve(&self.api, &crds, &self.served);
        let mut pending = false;
        for crd in &crds {
            let name = meta::name(crd).unwrap_or_default().to_string();
            let result =
                if meta::deletion_timestamp(crd).is_some() { self.finalize(crd).await } else { self.name_and_establish(crd, &crds).await };
            match result {
                Ok(more) => pending |= more,
                Err(e) => {
                    pending = true;
                    self.decisions.say(WHO, &name, &format!("sync failed, retrying: {e}"));
                }
            }
        }
        serve(&self.api, &stored_crds(&self.api), &self.served);
        pending
    }

    async fn write_status(&self, crd: &Value) -> Result<(), SyncError> {
        let name = meta::name(crd).unwrap_or_default();
        let pp = PostParams { field_manager: Some(MANAGER.into()), ..Default::default() };
        let typed: CustomResourceDefinition = serde_json::from_value(crd.clone())?;
        match self.crds.replace_status(name, &pp, &typed).await {
            Ok(_) => Ok(()),
            // Someone wrote in between (or it is gone): the next pass sees the new object.
            Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn name_and_establish(&self, crd: &Value, all: &[Value]) -> Result<bool, SyncError> {
        let status = desired_status(crd, all);
        if crd.get("status") == Some(&status) {
            return Ok(false);
        }
        let mut next = crd.clone();
        next["status"] = status;
        // The handler serves the resource before anyone sees it Established.
        let mut serving: Vec<Value> = all.iter().filter(|c| meta::name(c) != meta::name(crd)).cloned().collect();
        serving.push(next.clone());
        serve(&self.api, &serving, &self.served);
        let name = meta::name(crd).unwrap_or_default();
        match conditions::find(&next, "NamesAccepted").and_then(|c| c.get("message")).and_then(Value::as_str) {
            Some("no conflicts found") => self.decisions.say(WHO, name, "names accepted, established"),
            Some(m) => self.decisions.say(WHO, name, &format!("names not accepted: {m}")),
            None => {}
        }
        self.write_status(&next).await?;
        Ok(false)
    }

    /// The custom resources of `crd` as the dynamic client names them.
    fn instances(&self, crd: &Value) -> Option<ApiResource> {
        let group = crd.pointer("/spec/group").and_then(Value::as_str)?;
        let version = crd.pointer("/spec/versions")?.as_array()?.iter().find(|v| v.get("served").and_then(Value::as_bool) == Some(true))?;
        let version = version.get("name").and_then(Value::as_str)?;
        let plural = crd.pointer("/status/acceptedNames/plural").and_then(Value::as_str).filter(|p| !p.is_empty())?;
        let kind = crd.pointer("/status/acceptedNames/kind").and_then(Value::as_str).unwrap_or_default();
        Some(ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: format!("{group}/{version}"),
            kind: kind.into(),
            plural: plural.into(),
        })
    }

    /// `CRDFinalizer.sync`: Terminating, every instance deleted, then the finalizer removed.
    async fn finalize(&self, crd: &Value) -> Result<bool, SyncError> {
        if !meta::finalizers(crd).iter().any(|f| f == CLEANUP_FINALIZER) {
            return Ok(false);
        }
        let name = meta::name(crd).unwrap_or_default().to_string();
        let mut next = crd.clone();
        let mut status = next.get("status").cloned().unwrap_or(json!({}));
        let reason = conditions::find(crd, "Terminating").and_then(|c| c.get("reason")).and_then(Value::as_str);
        if reason != Some("InstanceDeletionInProgress") {
            conditions::set(&mut status, "Terminating", "True", "InstanceDeletionInProgress", "CustomResource deletion is in progress");
            next["status"] = status;
            self.decisions.say(WHO, &name, "terminating: deleting its custom resources");
            self.write_status(&next).await?;
            return Ok(true);
        }
        let namespaced = crd.pointer("/spec/scope").and_then(Value::as_str) == Some("Namespaced");
        match self.instances(crd).filter(|_| conditions::is_true(crd, "Established")) {
            Some(ar) => {
                let all: Api<DynamicObject> = Api::all_with(self.client.clone(), &ar);
                let items = all.list(&ListParams::default()).await?.items;
                if !items.is_empty() {
                    // Only where something is not being deleted yet: the rest waits for finalizers.
                    let mut namespaces: Vec<Option<String>> =
                        items.iter().filter(|i| i.metadata.deletion_timestamp.is_none()).map(|i| i.metadata.namespace.clone()).collect();
                    namespaces.sort();
                    namespaces.dedup();
                    for ns in namespaces {
                        let api: Api<DynamicObject> = match (&ns, namespaced) {
                            (Some(ns), true) => Api::namespaced_with(self.client.clone(), ns, &ar),
                            _ => Api::all_with(self.client.clone(), &ar),
                        };
                        api.delete_collection(&DeleteParams::default(), &ListParams::default()).await?;
                    }
                    // Wait for them (finalizers of their own may hold them).
                    return Ok(true);
                }
                conditions::set(&mut status, "Terminating", "False", "InstanceDeletionCompleted", "removed all instances");
            }
            None => conditions::set(&mut status, "Terminating", "False", "NeverEstablished", "resource was never established"),
        }
        next["status"] = status;
        let rest: Vec<String> = meta::finalizers(crd).into_iter().filter(|f| f != CLEANUP_FINALIZER).collect();
        meta::set(&mut next, "finalizers", json!(rest));
        self.decisions.say(WHO, &name, "custom resources gone, finalizer removed");
        self.write_status(&next).await?;
        Ok(false)
    }
}

/// Loads the stored, established CRDs into `api`'s catalogue (at start, before serving).
pub fn load(api: &Apiserver) {
    let crds = stored_crds(api);
    if crds.is_empty() {
        return;
    }
    serve(api, &crds, &Default::default());
    // The store indexed custom resources before their kinds were known: their selectable
    // fields are computed again now.
    let cat = api.catalogue();
    let customs: Vec<_> = cat.all().iter().filter(|r| r.is_custom()).collect();
    api.storage.reindex(|s| {
        let res = customs.iter().find(|r| s.key.starts_with(&format!("{}/", r.storage_prefix())));
        match res {
            Some(res) => crate::sandbox::rest::stored_form(res, &s.value()),
            None => crate::sandbox::storage::NewObject {
                raw: s.raw.clone(),
                item_start: s.item_start,
                labels: s.labels.clone(),
                fields: s.fields.clone(),
            },
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd(name: &str, plural: &str, kind: &str, accepted: bool) -> Value {
        let names = json!({"plural": plural, "singular": plural.trim_end_matches('s'), "kind": kind, "listKind": format!("{kind}List")});
        json!({
            "metadata": {"name": name, "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"group": "example.com", "names": names, "scope": "Namespaced",
                "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object"}}}]},
            "status": {"acceptedNames": if accepted { names.clone() } else { json!({"kind": "", "plural": ""}) }, "storedVersions": ["v1"]}
        })
    }

    #[test]
    fn names_are_accepted_first_come_first_served() {
        let first = crd("books.example.com", "books", "Book", true);
        let mut second = crd("books2.example.com", "books", "Novel", false);
        second["spec"]["names"]["singular"] = json!("novel");
        let fresh = desired_status(&crd("papers.example.com", "papers", "Paper", false), &[first.clone()]);
        let c = |s: &Value, t: &str| s["conditions"].as_array().unwrap().iter().find(|c| c["type"] == t).cloned().unwrap();
        assert_eq!(c(&fresh, "NamesAccepted")["reason"], "NoConflicts");
        assert_eq!(c(&fresh, "Established")["reason"], "InitialNamesAccepted");
        assert_eq!(fresh["acceptedNames"]["plural"], "papers");
        let clash = desired_status(&second, &[first]);
        assert_eq!(c(&clash, "NamesAccepted")["status"], "False");
        assert_eq!(c(&clash, "NamesAccepted")["reason"], "PluralConflict");
        assert_eq!(c(&clash, "NamesAccepted")["message"], "\"books\" is already in use");
        assert_eq!(c(&clash, "Established")["status"], "False");
        assert_eq!(clash["acceptedNames"]["plural"], "");
        assert_eq!(clash["acceptedNames"]["kind"], "Novel");
    }
}
