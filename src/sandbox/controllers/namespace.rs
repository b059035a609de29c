//! The namespace controller and the service-account controller's one job the lessons need:
//! every new namespace gets its `default` ServiceAccount, and a namespace being deleted is
//! emptied, then removed.
//!
//! Like kube-controller-manager's, it takes a few seconds: a terminating namespace is
//! looked at again every [`RESYNC`] and emptied once it has been terminating for
//! [`GRACE`], so `kubectl get ns` shows `Terminating` for a moment, as on a real cluster.

use std::sync::Arc;

use serde_json::json;

use crate::sandbox::meta;
use crate::sandbox::rest::{list_prefix, Apiserver};
use crate::sandbox::storage::{EventType, Snapshot};

const MANAGER: &str = "kube-controller-manager";
const RESYNC: std::time::Duration = std::time::Duration::from_secs(1);
const GRACE: chrono::TimeDelta = chrono::TimeDelta::seconds(3);

pub async fn run(api: Arc<Apiserver>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut committed = api.storage.committed();
    // Start from everything there is: namespaces made while the sandbox was down count too.
    let mut position = api.storage.oldest_watchable();
    if let Some(ns_res) = api.catalogue().find("", "v1", "namespaces").cloned() {
        if let Ok((rev, items)) = api.storage.list(&list_prefix(&ns_res, None), None, Snapshot::Current) {
            for s in items {
                sync(&api, meta::name(&s.value()).unwrap_or_default()).await;
            }
            position = rev;
        }
    }
    loop {
        let events = match api.storage.events_after(position, 1024) {
            Ok(e) => e,
            Err(oldest) => {
                position = oldest;
                continue;
            }
        };
        if events.is_empty() {
            tokio::select! {
                r = committed.changed() => if r.is_err() { return },
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(RESYNC) => resync_terminating(&api).await,
            }
            continue;
        }
        for e in events {
            position = e.rev;
            if e.key.starts_with("/namespaces/") && e.type_ != EventType::Deleted {
                let name = e.key.trim_start_matches("/namespaces/").to_string();
                sync(&api, &name).await;
            }
        }
    }
}

/// Looks again at every terminating namespace.
async fn resync_terminating(api: &Apiserver) {
    let Some(ns_res) = api.catalogue().find("", "v1", "namespaces").cloned() else { return };
    let Ok((_, items)) = api.storage.list(&list_prefix(&ns_res, None), None, Snapshot::Current) else { return };
    for s in items {
        let v = s.value();
        if meta::deletion_timestamp(&v).is_some() {
            sync(api, meta::name(&v).unwrap_or_default()).await;
        }
    }
}

/// Brings one namespace to its desired state.
async fn sync(api: &Apiserver, name: &str) {
    let cat = api.catalogue();
    let Some(ns_res) = cat.find("", "v1", "namespaces") else { return };
    let Some(ns) = api.storage.get(&format!("/namespaces/{name}")) else { return };
    let ns_value = ns.value();
    if meta::deletion_timestamp(&ns_value).is_none() {
        let sa = cat.find("", "v1", "serviceaccounts").expect("built in");
        if api.storage.get(&format!("/serviceaccounts/{name}/default")).is_none() {
            let obj = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": name}});
            if let Err(e) = api.create_internal(sa, obj, MANAGER).await {
                if e.code != 409 && e.code != 403 {
                    eprintln!("kubelab sandbox: namespace controller: {e}");
                }
            }
        }
        return;
    }
    let _ = ns_res;
    let since = meta::deletion_timestamp(&ns_value).and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    if since.is_some_and(|t| chrono::Utc::now().signed_duration_since(t) < GRACE) {
        return;
    }
    // Terminating: delete everything namespaced in it, then the namespace itself.
    for res in cat.all().iter().filter(|r| r.namespaced) {
        let Ok((_, items)) = api.storage.list(&list_prefix(res, Some(name)), None, Snapshot::Current) else { continue };
        for s in items {
            let v = s.value();
            if let Some(obj_name) = meta::name(&v) {
                let _ = api.delete_internal(res, Some(name), obj_name).await;
            }
        }
    }
    let empty = cat.all().iter().filter(|r| r.namespaced).all(|res| {
        api.storage.list(&list_prefix(res, Some(name)), None, Snapshot::Current).map(|(_, i)| i.is_empty()).unwrap_or(false)
    });
    if empty {
        if let Err(e) = api.finalize_namespace(name).await {
            eprintln!("kubelab sandbox: namespace controller: {e}");
        }
    }
}
