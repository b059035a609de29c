//! `kubelab foo-controller`: kubernetes/sample-controller in Rust (the blog's last post).
//!
//! A `Foo` (`samplecontroller.k8s.io/v1alpha1`, sample-controller's own group, so its
//! example manifests apply unchanged) asks for a Deployment: `spec.deploymentName`,
//! `spec.replicas`. The controller makes it exist, owned by the Foo, refuses a Deployment of
//! that name it does not own (sample-controller's `ErrResourceExists` event), keeps its
//! replicas, and copies `availableReplicas` into the Foo's status.
//!
//! Two runtimes run the same [`sync_handler`]:
//! - `--runtime machinery` (default): client-go's shape rebuilt in `src/machinery`, as
//!   sample-controller's `controller.go` is: shared informers for Foos and Deployments, a
//!   rate-limited workqueue of `namespace/name` keys, `--workers N` loops of
//!   `processNextWorkItem`, reads from listers.
//! - `--runtime kube`: kube-rs' `kube::runtime::Controller`, which owns the watches, the
//!   queue and the retries itself; the reconciler reads the Deployment with a GET (it keeps
//!   no cache of owned objects unless you build one).
//!
//! Every enqueue, sync and write is narrated on stderr; the summary is the result.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::{Api, PostParams};
use kube::{CustomResource, CustomResourceExt, Resource, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::live::{parse_duration, StopReason, Stopper};
use super::{CommandError, Session};
use crate::cli::{Global, OutputFormat};
use crate::machinery::delta_fifo::DeltaObject;
use crate::machinery::informer_factory::SharedInformerFactory;
use crate::machinery::lister::Lister;
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::shared_informer::ResourceEventHandlerFuncs;
use crate::sandbox::controllers::recorder::{reference, EventRecorder, EventType};

/// sample-controller's `controllerAgentName`: its field manager and event source.
pub const AGENT: &str = "sample-controller";
const SUCCESS_SYNCED: &str = "Synced";
const ERR_RESOURCE_EXISTS: &str = "ErrResourceExists";
const MESSAGE_RESOURCE_SYNCED: &str = "Foo synced successfully";

/// sample-controller's `FooSpec`.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, JsonSchema)]
#[kube(
    group = "samplecontroller.k8s.io",
    version = "v1alpha1",
    kind = "Foo",
    namespaced,
    status = "FooStatus",
    annotation(
        "api-approved.kubernetes.io",
        "unapproved, experimental-only; please get an approval from Kubernetes API reviewers if you're trying to develop a CRD in the *.k8s.io or *.kubernetes.io groups"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct FooSpec {
    pub deployment_name: String,
    #[schemars(range(min = 1, max = 10))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
}

/// sample-controller's `FooStatus`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FooStatus {
    pub available_replicas: i32,
}

/// Which controller runtime runs the reconciler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Runtime {
    /// kubelab's machinery: informers, listers, a rate-limited workqueue, workers.
    Machinery,
    /// kube-rs' `kube::runtime::Controller`.
    Kube,
}

/// `kubelab foo-controller` flags.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Worker loops taking keys off the queue (sample-controller's `workers`).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub workers: u16,
    /// `machinery` (client-go's shape, rebuilt here) or `kube` (kube-rs' Controller).
    #[arg(long, value_enum, default_value = "machinery")]
    pub runtime: Runtime,
    /// Stop after this long (`30s`, `2m`); otherwise on Ctrl-C.
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    pub run_for: Option<Duration>,
}

/// Why a sync failed: it is retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Kube(#[from] kube::Error),
    /// sample-controller's `MessageResourceExists`.
    #[error("Resource {0:?} already exists and is not managed by Foo")]
    ResourceExists(String),
}

/// What the runs did, for the summary.
#[derive(Default)]
struct Counters {
    enqueued: AtomicUsize,
    synced: AtomicUsize,
    created: AtomicUsize,
    updated: AtomicUsize,
    failed: AtomicUsize,
}

/// What a sync needs besides the Foo: a client, a recorder, and where to say what it did.
pub struct Syncer {
    client: kube::Client,
    recorder: EventRecorder,
    narrate: bool,
    counters: Counters,
}

impl Syncer {
    fn say(&self, text: impl std::fmt::Display) {
        if self.narrate {
            eprintln!("{text}");
        }
    }
}

/// sample-controller's `newDeployment`: nginx pods labelled for this Foo, owned by it.
pub fn new_deployment(foo: &Foo) -> Deployment {
    let labels = BTreeMap::from([("app".to_string(), "nginx".to_string()), ("controller".to_string(), foo.name_any())]);
    Deployment {
        metadata: ObjectMeta {
            name: Some(foo.spec.deployment_name.clone()),
            namespace: foo.namespace(),
            owner_references: foo.controller_owner_ref(&()).map(|r| vec![r]),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: foo.spec.replicas,
            selector: LabelSelector { match_labels: Some(labels.clone()), ..Default::default() },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels), ..Default::default() }),
                spec: Some(PodSpec {
                    containers: vec![Container { name: "nginx".into(), image: Some("nginx:latest".into()), ..Default::default() }],
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn controlled_by(d: &Deployment, foo: &Foo) -> bool {
    d.owner_references().iter().any(|r| r.controller == Some(true) && Some(&r.uid) == foo.uid().as_ref())
}

/// sample-controller's `syncHandler`, given the Foo and the Deployment as the runtime sees it.
pub async fn sync_handler(s: &Syncer, foo: &Foo, existing: Option<Deployment>) -> Result<(), SyncError> {
    let ns = foo.namespace().unwrap_or_default();
    let key = format!("{ns}/{}", foo.name_any());
    s.counters.synced.fetch_add(1, Ordering::Relaxed);
    if foo.spec.deployment_name.is_empty() {
        s.say(format!("sync {key}: spec.deploymentName is empty; nothing to do"));
        return Ok(());
    }
    let deployments: Api<Deployment> = Api::namespaced(s.client.clone(), &ns);
    let pp = PostParams { field_manager: Some(AGENT.into()), ..Default::default() };
    let deployment = match existing {
        Some(d) => d,
        None => {
            s.say(format!(
                "sync {key}: POST Deployment {ns}/{} (replicas {:?}, owned by the Foo)",
                foo.spec.deployment_name, foo.spec.replicas
            ));
            s.counters.created.fetch_add(1, Ordering::Relaxed);
            deployments.create(&pp, &new_deployment(foo)).await?
        }
    };
    if !controlled_by(&deployment, foo) {
        let err = SyncError::ResourceExists(deployment.name_any());
        s.recorder.event(&reference(foo), EventType::Warning, ERR_RESOURCE_EXISTS, err.to_string());
        s.say(format!("sync {key}: event Warning {ERR_RESOURCE_EXISTS}: {err}"));
        return Err(err);
    }
    let current = deployment.spec.as_ref().and_then(|s| s.replicas);
    let deployment = match foo.spec.replicas {
        Some(want) if Some(want) != current => {
            s.say(format!("sync {key}: PUT Deployment {ns}/{}: replicas {} -> {want}", deployment.name_any(), current.unwrap_or(1)));
            s.counters.updated.fetch_add(1, Ordering::Relaxed);
            let mut d = new_deployment(foo);
            d.metadata.resource_version = deployment.resource_version();
            deployments.replace(&deployment.name_any(), &pp, &d).await?
        }
        _ => deployment,
    };
    let available = deployment.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0);
    if foo.status.as_ref().map(|s| s.available_replicas) != Some(available) {
        let foos: Api<Foo> = Api::namespaced(s.client.clone(), &ns);
        let mut copy = foo.clone();
        copy.status = Some(FooStatus { available_replicas: available });
        s.say(format!("sync {key}: PUT Foo {key}/status: availableReplicas {available}"));
        foos.replace_status(&foo.name_any(), &pp, &copy).await?;
    }
    s.recorder.event(&reference(foo), EventType::Normal, SUCCESS_SYNCED, MESSAGE_RESOURCE_SYNCED);
    s.say(format!("sync {key}: event Normal {SUCCESS_SYNCED}: {MESSAGE_RESOURCE_SYNCED}"));
    Ok(())
}

/// Creates the Foo CRD when the cluster lacks it and waits until it is Established.
async fn ensure_crd(session: &mut Session) -> Result<(), CommandError> {
    let crds: Api<CustomResourceDefinition> = Api::all(session.client.clone());
    let name = "foos.samplecontroller.k8s.io";
    if crds.get_opt(name).await.map_err(|e| session.explain(e))?.is_none() {
        session.n.step(format!("install CustomResourceDefinition {name} (from FooSpec's #[derive(CustomResource)])"));
        crds.create(&PostParams::default(), &Foo::crd()).await.map_err(|e| session.explain(e))?;
    }
    for _ in 0..100 {
        let crd = crds.get(name).await.map_err(|e| session.explain(e))?;
        let established =
            crd.status.and_then(|s| s.conditions).unwrap_or_default().iter().any(|c| c.type_ == "Established" && c.status == "True");
        if established {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(CommandError::new(format!("{name} was not Established within 10 s")))
}

fn key_of<K: Resource>(obj: &K) -> String {
    let m = obj.meta();
    format!("{}/{}", m.namespace.clone().unwrap_or_default(), m.name.clone().unwrap_or_default())
}

/// sample-controller's `handleObject`: a Deployment enqueues the Foo that controls it.
fn owner_key(d: &Deployment) -> Option<String> {
    let owner = d.owner_references().iter().find(|r| r.controller == Some(true))?;
    (owner.kind == "Foo").then(|| format!("{}/{}", d.namespace().unwrap_or_default(), owner.name))
}

async fn run_machinery(syncer: Arc<Syncer>, workers: u16, stop: &Stopper) -> Result<(), CommandError> {
    let factory = SharedInformerFactory::new(syncer.client.clone());
    let foos = factory.informer_for::<Foo>().map_err(|e| CommandError::new(e.to_string()))?;
    let deployments = factory.informer_for::<Deployment>().map_err(|e| CommandError::new(e.to_string()))?;
    let queue: RateLimitingQueue<String> = RateLimitingQueue::with_default_rate_limiter();

    let enqueue = {
        let (queue, s) = (queue.clone(), syncer.clone());
        move |key: String, why: &str| {
            s.counters.enqueued.fetch_add(1, Ordering::Relaxed);
            s.say(format!("enqueue {key} ({why})"));
            queue.add(key);
        }
    };
    let (e1, e2) = (enqueue.clone(), enqueue.clone());
    foos.add_named_event_handler(
        "foo-controller",
        ResourceEventHandlerFuncs::new()
            .on_add(move |f: &Arc<Foo>, _| e1(key_of(f.as_ref()), "Foo added"))
            .on_update(move |_, f: &Arc<Foo>| e2(key_of(f.as_ref()), "Foo updated")),
    );
    let foo_lister: Lister<Foo> = foos.lister();
    let (l1, l2, l3) = (foo_lister.clone(), foo_lister.clone(), foo_lister.clone());
    let (e3, e4, e5) = (enqueue.clone(), enqueue.clone(), enqueue);
    let owned = move |d: &Deployment, lister: &Lister<Foo>| owner_key(d).filter(|k| lister.get(k).is_some());
    deployments.add_named_event_handler(
        "foo-controller",
        ResourceEventHandlerFuncs::new()
            .on_add(move |d: &Arc<Deployment>, _| {
                if let Some(k) = owned(d, &l1) {
                    e3(k, "its Deployment was added");
                }
            })
            .on_update(move |old: &Arc<Deployment>, new: &Arc<Deployment>| {
                // Periodic resyncs send updates with the same resourceVersion: nothing changed.
                if old.resource_version() != new.resource_version() {
                    if let Some(k) = owned(new, &l2) {
                        e4(k, "its Deployment changed");
                    }
                }
            })
            .on_delete(move |d: &DeltaObject<Deployment>| {
                let d = match d {
                    DeltaObject::Object(d) => d.clone(),
                    DeltaObject::DeletedFinalStateUnknown { obj, .. } => obj.clone(),
                };
                if let Some(k) = owned(&d, &l3) {
                    e5(k, "its Deployment was deleted");
                }
            }),
    );
    factory.start(&stop.signal);
    syncer.say("waiting for the informers' caches to sync (Foos, Deployments)");
    factory.wait_for_cache_sync(&stop.signal).await;
    syncer.say(format!("caches synced; starting {workers} worker(s)"));

    let deployment_lister = deployments.lister();
    let mut tasks = Vec::new();
    for w in 1..=workers {
        let (queue, syncer, foos, deployments) = (queue.clone(), syncer.clone(), foo_lister.clone(), deployment_lister.clone());
        tasks.push(tokio::spawn(async move {
            // processNextWorkItem, until the queue shuts down.
            while let Some(key) = queue.get().await {
                syncer.say(format!("worker {w}: get {key}"));
                let result = match foos.get(&key) {
                    None => {
                        syncer.say(format!("worker {w}: Foo {key} no longer exists; forget it"));
                        Ok(())
                    }
                    Some(foo) => {
                        let ns = foo.namespace().unwrap_or_default();
                        let existing = deployments.get(&format!("{ns}/{}", foo.spec.deployment_name)).map(|d| (*d).clone());
                        sync_handler(&syncer, &foo, existing).await
                    }
                };
                match result {
                    Ok(()) => queue.forget(&key),
                    Err(e) => {
                        syncer.counters.failed.fetch_add(1, Ordering::Relaxed);
                        let after = queue.add_rate_limited(key.clone());
                        syncer.say(format!("worker {w}: sync {key} failed: {e}; requeued after {} ms", after.as_millis()));
                    }
                }
                queue.done(&key);
            }
        }));
    }
    stop.signal.stopped().await;
    queue.shut_down();
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

async fn run_kube(syncer: Arc<Syncer>, stop: &Stopper) -> Result<(), CommandError> {
    use kube::runtime::controller::{Action, Controller};
    use kube::runtime::watcher;
    let client = syncer.client.clone();
    let reconcile = |foo: Arc<Foo>, s: Arc<Syncer>| async move {
        let ns = foo.namespace().unwrap_or_default();
        s.say(format!("reconcile {ns}/{}", foo.name_any()));
        let existing = Api::<Deployment>::namespaced(s.client.clone(), &ns).get_opt(&foo.spec.deployment_name).await?;
        sync_handler(&s, &foo, existing).await.map(|_| Action::await_change())
    };
    let error_policy = |foo: Arc<Foo>, e: &SyncError, s: Arc<Syncer>| {
        s.counters.failed.fetch_add(1, Ordering::Relaxed);
        s.say(format!("reconcile {}/{} failed: {e}; again in 5 s", foo.namespace().unwrap_or_default(), foo.name_any()));
        Action::requeue(Duration::from_secs(5))
    };
    let stopped = stop.signal.clone();
    Controller::new(Api::<Foo>::all(client.clone()), watcher::Config::default())
        .owns(Api::<Deployment>::all(client), watcher::Config::default())
        .graceful_shutdown_on(async move { stopped.stopped().await })
        .run(reconcile, error_policy, syncer)
        .for_each(|_| async {})
        .await;
    Ok(())
}

pub async fn run(global: &Global, args: Args) -> Result<(), CommandError> {
    let mut session = Session::open(global).await?;
    ensure_crd(&mut session).await?;
    let syncer = Arc::new(Syncer {
        client: session.client.clone(),
        recorder: EventRecorder::new(session.client.clone(), AGENT, None),
        narrate: !global.quiet,
        counters: Counters::default(),
    });
    session.n.step(match args.runtime {
        Runtime::Machinery => format!("run the controller on kubelab's machinery ({} worker(s))", args.workers),
        Runtime::Kube => "run the same reconciler on kube::runtime::Controller".to_string(),
    });
    session.n.note("apply a Foo (lessons/manifests/foo.yaml, or sample-controller's example-foo.yaml) in another terminal");
    let stop = Stopper::arm(args.run_for);
    match args.runtime {
        Runtime::Machinery => run_machinery(syncer.clone(), args.workers, &stop).await?,
        Runtime::Kube => run_kube(syncer.clone(), &stop).await?,
    }
    let c = &syncer.counters;
    let (enqueued, synced, created, updated, failed) = (
        c.enqueued.load(Ordering::Relaxed),
        c.synced.load(Ordering::Relaxed),
        c.created.load(Ordering::Relaxed),
        c.updated.load(Ordering::Relaxed),
        c.failed.load(Ordering::Relaxed),
    );
    let why = match stop.reason() {
        StopReason::Deadline => "--for elapsed",
        StopReason::Interrupted => "interrupted",
        StopReason::Finished => "finished",
    };
    if global.output == OutputFormat::Json {
        let doc = serde_json::json!({"runtime": format!("{:?}", args.runtime).to_lowercase(), "enqueued": enqueued, "synced": synced,
            "deploymentsCreated": created, "deploymentsUpdated": updated, "failed": failed, "stopped": why});
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        println!(
            "stopped ({why}): {synced} sync(s), {created} Deployment(s) created, {updated} updated, {failed} failed, {enqueued} enqueue(s)"
        );
    }
    Ok(())
}
