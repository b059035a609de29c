//! The sandbox's controller manager: the loops that make a cluster more than a database.
//!
//! Each controller is an ordinary client of the apiserver, built exactly like the ones the
//! lessons teach: shared informers from [`crate::machinery`] over a `kube::Client`, a
//! rate-limited workqueue, and a sync function that writes back through the API. The
//! sandbox is thus itself a worked example of the controller pattern.
//!
//! All of them share one [`SharedInformerFactory`], as kube-controller-manager's loops do:
//! ten controllers watching pods hold one cache of pods. [`LOOPS`] is the one list of them,
//! with kube-controller-manager's names; the scheduler and the nodes' kubelets are in it
//! too, so `--controllers` chooses every loop the sandbox runs.

pub mod active_pods;
pub mod clusterrole_aggregation;
pub mod controller_expectations;
pub mod controller_ref;
pub mod cronjob;
pub mod daemonset;
pub mod decisions;
pub mod deployment;
pub mod endpoint;
pub mod endpointslice;
pub mod events_recorder;
pub mod garbage_collector;
pub mod history;
pub mod hostpath_provisioner;
pub mod job;
pub mod kubelet;
pub mod namespace;
pub mod node_lifecycle;
pub mod persistentvolume;
pub mod pod_cache;
pub mod pod_control;
pub mod pv_protection;
pub mod pvc_protection;
pub mod recorder;
pub mod replicaset;
pub mod root_ca;
pub mod scheduler;
pub mod selection;
pub mod serviceaccount;
pub mod statefulset;
pub mod ttl_after_finished;

use std::path::PathBuf;
use std::sync::Arc;

use crate::machinery::informer_factory::{FactoryError, SharedInformerFactory};
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::stop::StopSignal;

pub use decisions::Decisions;
pub use recorder::{EventRecorder, EventType};
pub use selection::{Selection, SelectionError};

/// Why a loop could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Factory(#[from] FactoryError),
    #[error(transparent)]
    Kube(#[from] kube::Error),
}

/// One loop: its full name (what `--controllers` and the logs say), the alias the flag
/// also accepts, and how to start it.
pub struct Loop {
    pub name: &'static str,
    pub alias: &'static str,
    start: fn(&Context) -> Result<(), StartError>,
}

/// Every loop the sandbox can run, in the order they start.
pub const LOOPS: &[Loop] = &[
    Loop { name: "namespace-controller", alias: "namespace", start: namespace::start },
    Loop { name: "serviceaccount-controller", alias: "serviceaccount", start: serviceaccount::start },
    Loop { name: "root-ca-certificate-publisher-controller", alias: "root-ca-cert-publisher", start: root_ca::start },
    Loop { name: "clusterrole-aggregation-controller", alias: "clusterrole-aggregation", start: clusterrole_aggregation::start },
    Loop { name: "replicaset-controller", alias: "replicaset", start: replicaset::start },
    Loop { name: "deployment-controller", alias: "deployment", start: deployment::start },
    Loop { name: "job-controller", alias: "job", start: job::start },
    Loop { name: "cronjob-controller", alias: "cronjob", start: cronjob::start },
    Loop { name: "ttl-after-finished-controller", alias: "ttl-after-finished", start: ttl_after_finished::start },
    Loop { name: "statefulset-controller", alias: "statefulset", start: statefulset::start },
    Loop { name: "daemonset-controller", alias: "daemonset", start: daemonset::start },
    Loop { name: "node-lifecycle-controller", alias: "nodelifecycle", start: node_lifecycle::start },
    Loop { name: "kubelet", alias: "kubelet", start: kubelet::start },
    Loop { name: "default-scheduler", alias: "scheduler", start: scheduler::start },
    Loop { name: "endpoints-controller", alias: "endpoint", start: endpoint::start },
    Loop { name: "endpointslice-controller", alias: "endpointslice", start: endpointslice::start },
    Loop { name: "persistentvolume-binder-controller", alias: "persistentvolume-binder", start: persistentvolume::start },
    Loop { name: "hostpath-provisioner", alias: "hostpath-provisioner", start: hostpath_provisioner::start },
    Loop { name: "persistentvolume-protection-controller", alias: "pv-protection", start: pv_protection::start },
    Loop { name: "persistentvolumeclaim-protection-controller", alias: "pvc-protection", start: pvc_protection::start },
    // Last: it monitors every resource, so the typed informers other loops ask for must
    // exist first (see `garbage_collector::graph_builder::monitor`).
    Loop { name: "garbage-collector-controller", alias: "garbagecollector", start: garbage_collector::start },
];

/// The full name of a loop given by its name or alias.
pub fn canonical_name(name: &str) -> Option<&'static str> {
    LOOPS.iter().find(|l| l.name == name || l.alias == name).map(|l| l.name)
}

/// What every loop gets: the shared informers, clients, a recorder, the decision log.
pub struct Context {
    /// The one informer factory every loop shares.
    pub factory: Arc<SharedInformerFactory>,
    config: kube::Config,
    pub decisions: Decisions,
    pub stop: StopSignal,
    /// The sandbox's data directory (the kubelets keep their containers' logs there).
    pub data_dir: PathBuf,
    /// The cluster CA, as the root-ca publisher hands it to every namespace.
    pub ca_pem: String,
}

impl Context {
    /// A client whose writes are managed by `component` (the User-Agent's first word is
    /// the field manager): `kube-controller-manager`, `kube-scheduler`, `kubelet`.
    pub fn client(&self, component: &str) -> kube::Client {
        component_client(&self.config, component)
    }

    /// An event recorder for `component` (`host`: the kubelet's node).
    pub fn recorder(&self, component: &str, host: Option<&str>) -> EventRecorder {
        EventRecorder::new(self.client(component), component, host)
    }

    /// Runs `workers` copies of the worker loop over `reconciler`'s queue until stop.
    pub fn spawn_workers<R: Reconciler>(&self, reconciler: Arc<R>, workers: usize) {
        for _ in 0..workers.max(1) {
            tokio::spawn(run(reconciler.clone(), self.stop.clone()));
        }
    }
}

fn component_client(config: &kube::Config, component: &str) -> kube::Client {
    let mut config = config.clone();
    let agent = format!("{component}/{} (linux/{}) kubernetes/kubelab", crate::sandbox::server::KUBERNETES_VERSION, go_arch());
    if let Ok(v) = http::HeaderValue::from_str(&agent) {
        config.headers.push((http::header::USER_AGENT, v));
    }
    kube::Client::try_from(config).expect("a client from the sandbox's own kubeconfig")
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    }
}

/// Starts the selected loops over the sandbox's `config`; they stop with `ctx.stop`.
/// A loop that cannot start is reported in the decision log and skipped.
pub fn spawn_all(config: kube::Config, selection: &Selection, decisions: Decisions, stop: StopSignal, data_dir: PathBuf, ca_pem: String) {
    // As kube-controller-manager's factory, the caches drop managedFields: no loop reads them.
    let factory = Arc::new(
        SharedInformerFactory::new(component_client(&config, "kube-controller-manager"))
            .with_transform(Some(crate::machinery::reflector::strip_managed_fields))
            .with_object_transform(pod_cache::trim),
    );
    let ctx = Context { factory, config, decisions, stop, data_dir, ca_pem };
    for l in LOOPS.iter().filter(|l| selection.is_enabled(l.name)) {
        if let Err(e) = (l.start)(&ctx) {
            ctx.decisions.say(l.alias, "-", &format!("could not start: {e}"));
        }
    }
    ctx.factory.start(&ctx.stop);
}

/// What a controller supplies to the shared worker loop: its queue and how to sync one key.
pub trait Reconciler: Send + Sync + 'static {
    fn queue(&self) -> &RateLimitingQueue<String>;
    /// Brings `key` to its desired state; `Ok(Some(d))` asks to be called again after `d`.
    fn sync(&self, key: String) -> impl std::future::Future<Output = Result<Option<std::time::Duration>, kube::Error>> + Send;
}

/// client-go's `processNextWorkItem` loop until the queue shuts down (on `stop`): a failed
/// key is retried with backoff, a key that asks to be looked at later is re-added then.
pub async fn run<R: Reconciler>(reconciler: Arc<R>, stop: StopSignal) {
    let queue = reconciler.queue().clone();
    let shutdown = {
        let queue = queue.clone();
        tokio::spawn(async move {
            stop.stopped().await;
            queue.shut_down();
        })
    };
    while let Some(key) = queue.get().await {
        match reconciler.sync(key.clone()).await {
            Ok(None) => queue.forget(&key),
            Ok(Some(after)) => {
                queue.forget(&key);
                queue.add_after(key.clone(), after);
            }
            Err(_) => {
                queue.add_rate_limited(key.clone());
            }
        }
        queue.done(&key);
    }
    shutdown.abort();
}
