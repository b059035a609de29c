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
//! Then the blog's own ending: the ConfigMap (the owner) is deleted, and the garbage
//! collector takes the Deployment, its ReplicaSet and its pods with it.
//!
//! `cargo run --example controller_test`; `tests/example_controller.rs` runs the same code.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::core::v1::{ConfigMap, Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
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

/// What a run saw: how long until the Deployment's pods were Ready, and until everything
/// the owner had made was gone after the owner was deleted.
pub struct Timings {
    pub ready: Duration,
    pub collected: Duration,
}

/// Polls `done` every 20 ms for up to 30 s.
async fn until<F: std::future::Future<Output = bool>>(what: &str, mut done: impl FnMut() -> F) -> Result<Duration, String> {
    let started = Instant::now();
    while !done().await {
        if started.elapsed() > Duration::from_secs(30) {
            return Err(format!("{what}: not within 30 s"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(started.elapsed())
}

/// Starts a sandbox in `dir` with all its loops, runs the controller on it, creates one
/// ConfigMap, waits for the Deployment's `replicas` pods to be Ready, then deletes the
/// ConfigMap and waits until the Deployment, its ReplicaSets and pods are gone.
pub async fn run(dir: &std::path::Path, replicas: i32) -> Result<Timings, Box<dyn std::error::Error>> {
    let sandbox = kubelab::sandbox::Sandbox::start(dir).await?;
    let client = sandbox.client().await?;

    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let controller = Controller::new(configmaps.clone(), watcher::Config::default().labels(&format!("{LABEL}=true")))
        .owns(Api::<Deployment>::namespaced(client.clone(), "default"), watcher::Config::default())
        .run(reconcile, error_policy, Arc::new(client.clone()))
        .for_each(|_| async {});
    let controller = tokio::spawn(controller);

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

    // As a test would: until the Deployment reports every replica ready and updated.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let ready = until("the Deployment's pods Ready", || async {
        let status = deployments.get_opt("web").await.ok().flatten().and_then(|d| d.status).unwrap_or_default();
        status.ready_replicas.unwrap_or(0) == replicas && status.updated_replicas.unwrap_or(0) == replicas
    })
    .await?;

    // The owner goes; the garbage collector takes what hangs from it.
    configmaps.delete("web", &DeleteParams::background()).await?;
    let (replica_sets, pods) = (Api::<ReplicaSet>::namespaced(client.clone(), "default"), Api::<Pod>::namespaced(client, "default"));
    let collected = until("the Deployment, ReplicaSet and pods gone", || async {
        let app = ListParams::default().labels("app=web");
        let gone_rs = replica_sets.list_metadata(&app).await.is_ok_and(|l| l.items.is_empty());
        let gone_pods = pods.list_metadata(&app).await.is_ok_and(|l| l.items.is_empty());
        deployments.get_opt("web").await.is_ok_and(|d| d.is_none()) && gone_rs && gone_pods
    })
    .await?;
    controller.abort();
    Ok(Timings { ready, collected })
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let t = run(dir.path(), 3).await?;
    println!("ConfigMap → Deployment → 3 Ready pods in {} ms", t.ready.as_millis());
    println!("ConfigMap deleted → Deployment, ReplicaSet and pods gone in {} ms", t.collected.as_millis());
    Ok(())
}
