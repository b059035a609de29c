//! The sandbox as a cluster: how long its controllers take, and what they cost in memory.
//!
//! 1. A Deployment of `KUBELAB_BENCH_REPLICAS` (default 1,000) replicas, from the create to
//!    `availableReplicas` = replicas: the deployment and replicaset controllers, the
//!    scheduler binding every pod, the kubelets running them.
//! 2. Its garbage collection: `DELETE` (Background), until every pod has been deleted
//!    (has a deletionTimestamp — a bound pod then waits out its 30 s grace period, as on
//!    a real cluster) or is gone.
//! 3. The resident memory of the whole process — apiserver, storage, every controller and
//!    their shared informers — with a Deployment of `KUBELAB_BENCH_PODS` (default 10,000)
//!    pods Running.
//!
//! Nodes: enough 110-pod nodes for the pods (kube-scheduler's default pod limit), seeded with
//! `Options.nodes`. A one-shot measurement, printed; recorded by hand in benches/RESULTS.md.
//! `cargo bench --bench cluster` (release).

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;

use kubelab::sandbox::{Options, Sandbox};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn nodes(pods: usize) -> Vec<serde_json::Value> {
    let count = pods.div_ceil(100).max(2);
    (0..count)
        .map(|i| {
            let name = format!("bench-node-{i:03}");
            json!({
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}},
                "spec": {"podCIDR": format!("10.{}.{}.0/24", 100 + i / 256, i % 256)},
                "status": {
                    "capacity": {"cpu": "64", "memory": "256Gi", "pods": "110"},
                    "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "110"},
                    "addresses": [{"type": "InternalIP", "address": format!("172.20.{}.{}", i / 250, 1 + i % 250)}]
                }
            })
        })
        .collect()
}

fn deployment(name: &str, replicas: usize) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}
            }
        }
    }))
    .expect("a valid Deployment")
}

/// Polls `done` until it holds; returns the time since `start`.
async fn until(what: &str, start: Instant, limit: Duration, mut done: impl AsyncFnMut() -> bool) -> Duration {
    while !done().await {
        if start.elapsed() > limit {
            panic!("{what}: not done within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

async fn available(api: &Api<Deployment>, name: &str, replicas: usize) -> bool {
    api.get_status(name).await.ok().and_then(|d| d.status).and_then(|s| s.available_replicas).unwrap_or(0) as usize == replicas
}

async fn collected(pods: &Api<Pod>, app: &str) -> bool {
    match pods.list_metadata(&ListParams::default().labels(&format!("app={app}"))).await {
        Ok(list) => list.items.iter().all(|p| p.metadata.deletion_timestamp.is_some()),
        Err(_) => false,
    }
}

async fn rollout(client: &kube::Client, name: &str, replicas: usize) -> (Duration, Duration) {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let start = Instant::now();
    deployments.create(&PostParams::default(), &deployment(name, replicas)).await.expect("created");
    let up = until("rollout", start, Duration::from_secs(300), async || available(&deployments, name, replicas).await).await;
    let start = Instant::now();
    deployments.delete(name, &DeleteParams::background()).await.expect("deleted");
    let gc = until("garbage collection", start, Duration::from_secs(300), async || collected(&pods, name).await).await;
    (up, gc)
}

#[tokio::main]
async fn main() {
    let replicas = env_usize("KUBELAB_BENCH_REPLICAS", 1000);
    let pods = env_usize("KUBELAB_BENCH_PODS", 10_000);

    let dir = tempfile::tempdir().expect("a temporary directory");
    let opts = Options { nodes: Some(nodes(replicas.max(pods))), ..Default::default() };
    let sandbox = Sandbox::start_with(dir.path(), opts).await.expect("the sandbox starts");
    let client = sandbox.client().await.expect("a client");
    let idle = rss_mib();

    let (up, gc) = rollout(&client, "web", replicas).await;
    println!("deployment of {replicas}: all available after {:.2} s; garbage collected after {:.2} s", up.as_secs_f64(), gc.as_secs_f64());

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let start = Instant::now();
    deployments.create(&PostParams::default(), &deployment("many", pods)).await.expect("created");
    let t = until("10k rollout", start, Duration::from_secs(900), async || available(&deployments, "many", pods).await).await;
    // Let the informers and the allocator settle before reading the resident set.
    tokio::time::sleep(Duration::from_secs(3)).await;
    println!(
        "deployment of {pods}: all available after {:.1} s; resident memory {:.0} MiB (idle sandbox {:.0} MiB)",
        t.as_secs_f64(),
        rss_mib(),
        idle
    );
}
