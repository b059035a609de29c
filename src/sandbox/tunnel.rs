//! `kubelab sandbox tunnel`, as `minikube tunnel`: while it runs, every Service of type
//! LoadBalancer gets an address, its own ClusterIP (the sandbox has no cloud load balancer,
//! and on the host the ClusterIP is as reachable as anything). The address is written where
//! a cloud controller writes it, `status.loadBalancer.ingress` through `services/status`,
//! and taken back when the tunnel closes, so `kubectl get svc` shows `<pending>` again.
//!
//! An ordinary client: a `kube::runtime::watcher` over Services in every namespace.

use std::collections::BTreeMap;
use std::future::Future;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use serde_json::json;

/// A Service the tunnel gave an address.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Assigned {
    pub namespace: String,
    pub name: String,
    pub ip: String,
}

impl Assigned {
    /// `web-lb`, or `team/web-lb` outside the default namespace.
    pub fn display_name(&self) -> String {
        if self.namespace == "default" {
            self.name.clone()
        } else {
            format!("{}/{}", self.namespace, self.name)
        }
    }
}

/// What the tunnel did, for the command to narrate.
#[derive(Debug)]
pub enum Happening<'a> {
    Assigned(&'a Assigned),
    Released(&'a Assigned),
    Failed { service: String, error: kube::Error },
    WatchError(watcher::Error),
}

/// The address a LoadBalancer Service should have while the tunnel runs.
fn wanted_ip(svc: &Service) -> Option<String> {
    let spec = svc.spec.as_ref()?;
    if spec.type_.as_deref() != Some("LoadBalancer") {
        return None;
    }
    spec.cluster_ip.clone().filter(|ip| !ip.is_empty() && ip != "None")
}

/// Whether the Service already shows exactly `ip`.
fn shows(svc: &Service, ip: &str) -> bool {
    let ingress = svc.status.as_ref().and_then(|s| s.load_balancer.as_ref()).and_then(|l| l.ingress.as_ref());
    matches!(ingress.map(Vec::as_slice), Some([i]) if i.ip.as_deref() == Some(ip) && i.ip_mode.as_deref() == Some("VIP"))
}

async fn write_status(api: &Api<Service>, name: &str, ingress: serde_json::Value) -> Result<(), kube::Error> {
    // A merge patch: `null` removes the list, leaving `loadBalancer: {}`.
    let patch = json!({"status": {"loadBalancer": {"ingress": ingress}}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch)).await.map(|_| ())
}

/// Runs the tunnel until `until` completes, then releases every address it holds; returns
/// the Services it served.
pub async fn run(client: kube::Client, until: impl Future<Output = ()>, mut report: impl FnMut(Happening<'_>)) -> Vec<Assigned> {
    let mut held: BTreeMap<(String, String), Assigned> = BTreeMap::new();
    let mut served: Vec<Assigned> = Vec::new();
    let services: Api<Service> = Api::all(client.clone());
    // The watcher re-lists and re-watches with backoff on its own after an error.
    let mut stream = watcher::watcher(services, watcher::Config::default()).default_backoff().boxed();
    tokio::pin!(until);
    loop {
        let event = tokio::select! {
            _ = &mut until => break,
            e = stream.next() => match e {
                Some(e) => e,
                None => break,
            },
        };
        let svc = match event {
            Ok(Event::Apply(svc) | Event::InitApply(svc)) => svc,
            Ok(Event::Delete(svc)) => {
                held.remove(&(svc.metadata.namespace.clone().unwrap_or_default(), svc.metadata.name.clone().unwrap_or_default()));
                continue;
            }
            Ok(Event::Init | Event::InitDone) => continue,
            Err(e) => {
                report(Happening::WatchError(e));
                continue;
            }
        };
        let ns = svc.metadata.namespace.clone().unwrap_or_default();
        let name = svc.metadata.name.clone().unwrap_or_default();
        let key = (ns.clone(), name.clone());
        let api: Api<Service> = Api::namespaced(client.clone(), &ns);
        match wanted_ip(&svc) {
            Some(ip) => {
                let a = Assigned { namespace: ns, name: name.clone(), ip: ip.clone() };
                if !shows(&svc, &ip) {
                    if let Err(error) = write_status(&api, &name, json!([{"ip": ip, "ipMode": "VIP"}])).await {
                        report(Happening::Failed { service: a.display_name(), error });
                        continue;
                    }
                }
                if held.get(&key) != Some(&a) {
                    report(Happening::Assigned(&a));
                    if !served.contains(&a) {
                        served.push(a.clone());
                    }
                    held.insert(key, a);
                }
            }
            // No longer a LoadBalancer: its address goes now.
            None => {
                if let Some(a) = held.remove(&key) {
                    release(&api, &a, &mut report).await;
                }
            }
        }
    }
    for a in held.values() {
        let api: Api<Service> = Api::namespaced(client.clone(), &a.namespace);
        release(&api, a, &mut report).await;
    }
    served
}

async fn release(api: &Api<Service>, a: &Assigned, report: &mut impl FnMut(Happening<'_>)) {
    match write_status(api, &a.name, serde_json::Value::Null).await {
        Ok(()) => report(Happening::Released(a)),
        // Deleted meanwhile: nothing to take back.
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(error) => report(Happening::Failed { service: a.display_name(), error }),
    }
}
