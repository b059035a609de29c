//! Testing a kube-rs controller against the sandbox, with its controllers running.
//!
//! envtest (controller-runtime's test harness) starts a real kube-apiserver and etcd but no
//! controllers: a Deployment your controller makes never gets a pod. The sandbox runs the
//! scheduler, the ReplicaSet and Deployment controllers and a simulated kubelet in-process,
//! so a test can wait for what a user would see: the pods Ready.
//!
//! The controller here is the smallest useful one: every ConfigMap labelled
//! `example.kubelab.dev/web=true` gets a Deployment of that name, owned by the ConfigMap,
//! with `data.replicas` replicas of `data.image`.
//!
//! `cargo run --example controller_test`; `tests/example_controller.rs` runs the same code.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

const LABEL: &str = "example.kubelab.dev/web";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Kube(#[from] kube::Error),
    #[error("the ConfigMap has no namespace")]
    NoNamespace,
}

/// The reconciler: make the ConfigMap's Deployment exist as it says.
async fn reconcile(cm: Arc<ConfigMap>, client: Arc<kube::Client>) -> Result<Action, Error> {
    let ns = cm.namespace().ok_or(Error::NoNamespace)?;
    let data = cm.data.clone().unwrap_or_default();
    let replicas: i32 = data.get("replicas").and_then(|r| r.parse().ok()).unwrap_or(1);
    let image = data.get("image").cloned().unwrap_or_else(|| "nginx".into());
    let labels = BTreeMap::from([("app".to_string(), cm.name_any())]);
    let deployment = Deployment {
        metadata: ObjectMeta {
            name: Some(cm.name_any()),
            owner_references: cm.controller_owner_ref(&()).map(|r| vec![r]),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector { match_labels: Some(labels.clone()), ..Default::default() },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels), ..Default::default() }),
                spec: Some(PodSpec {
                    containers: vec![Container { name: "web".into(), image: Some(image), ..Default::default() }],
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    let api: Api<Deployment> = Api::namespaced((*client).clone(), &ns);
    api.patch(&cm.name_any(), &PatchParams::apply("web-controller").force(), &Patch::Apply(&deployment)).await?;
    Ok(Action::requeue(Duration::from_secs(300)))
}

fn error_policy(_: Arc<ConfigMap>, _: &Error, _: Arc<kube::Client>) -> Action {
    Action::requeue(Duration::from_secs(1))
}

/// Starts a sandbox in `dir`, runs the controller on it, creates one ConfigMap and returns
/// how long it took until the Deployment's `replicas` pods were Ready.
pub async fn run(dir: &std::path::Path, replicas: i32) -> Result<Duration, Box<dyn std::error::Error>> {
    let sandbox = kubelab::sandbox::Sandbox::start(dir).await?;
    let client = sandbox.client().await?;

    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let controller = Controller::new(configmaps.clone(), watcher::Config::default().labels(&format!("{LABEL}=true")))
        .owns(Api::<Deployment>::namespaced(client.clone(), "default"), watcher::Config::default())
        .run(reconcile, error_policy, Arc::new(client.clone()))
        .for_each(|_| async {});
    let controller = tokio::spawn(controller);

    let started = Instant::now();
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("web".into()),
            labels: Some(BTreeMap::from([(LABEL.to_string(), "true".to_string())])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("replicas".into(), replicas.to_string()), ("image".into(), "nginx".into())])),
        ..Default::default()
    };
    configmaps.create(&PostParams::default(), &cm).await?;

    // Wait, as a test would, until the Deployment reports every replica ready.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let ready = async {
        let mut events = watcher(deployments, watcher::Config::default().fields("metadata.name=web")).boxed();
        while let Some(event) = events.next().await {
            if let Ok(watcher::Event::Apply(d) | watcher::Event::InitApply(d)) = event {
                let status = d.status.unwrap_or_default();
                if status.ready_replicas.unwrap_or(0) == replicas && status.updated_replicas.unwrap_or(0) == replicas {
                    return true;
                }
            }
        }
        false
    };
    let done = tokio::time::timeout(Duration::from_secs(30), ready).await;
    let elapsed = started.elapsed();
    controller.abort();
    match done {
        Ok(true) => Ok(elapsed),
        _ => Err(format!("the Deployment's {replicas} pods were not Ready within 30 s").into()),
    }
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let elapsed = run(dir.path(), 3).await?;
    println!("ConfigMap → Deployment → 3 Ready pods in {} ms", elapsed.as_millis());
    Ok(())
}
