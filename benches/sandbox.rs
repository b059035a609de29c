//! The sandbox's speed and memory, measured the way kube-apiserver was measured for
//! `benches/RESULTS.md`: a separate server process, real HTTPS clients.
//!
//! `cargo bench --bench sandbox` (release profile). Prints one line per figure; the
//! numbers are recorded by hand in `benches/RESULTS.md`. `KUBELAB_BENCH_PODS` (default
//! 10000) sets the data size.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams, WatchEvent, WatchParams};

fn pod(name: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"app": "bench"}},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}
    }))
    .unwrap()
}

fn spawn_server(home: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .args(["sandbox", "start", "--foreground", "-q"])
        .env("KUBELAB_HOME", home)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the sandbox starts")
}

/// Spawns the server and returns (process, client, time until /readyz answered); the caller
/// kills and waits for the process.
#[allow(clippy::zombie_processes)]
async fn start(home: &Path) -> (Child, kube::Client, Duration) {
    let t0 = Instant::now();
    let child = spawn_server(home);
    loop {
        if let Some(client) = kubelab::sandbox::daemon::client_for(home).await {
            let req = http::Request::get("/readyz").body(Vec::new()).unwrap();
            if client.request_text(req).await.is_ok() {
                return (child, client, t0.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probes with --list: nothing to list.
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let n: usize = std::env::var("KUBELAB_BENCH_PODS").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let home = tempfile::tempdir().unwrap();

    // Cold start of a fresh sandbox (certificates made, store seeded), then of an empty restart.
    let (mut server, client, fresh) = start(home.path()).await;
    println!("cold start, fresh data dir: {:.1} ms", fresh.as_secs_f64() * 1e3);
    server.kill().unwrap();
    server.wait().unwrap();
    let (mut server, client2, warm) = start(home.path()).await;
    drop(client);
    println!("cold start, existing data dir: {:.1} ms", warm.as_secs_f64() * 1e3);
    let client = client2;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    // Acknowledged (durable) creates with 16 concurrent clients.
    let t0 = Instant::now();
    let per = n / 16;
    let mut tasks = vec![];
    for w in 0..16 {
        let pods = pods.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per {
                pods.create(&PostParams::default(), &pod(&format!("p-{w}-{i}"))).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let created = per * 16;
    let secs = t0.elapsed().as_secs_f64();
    println!("creates, 16 concurrent kube-rs clients: {created} in {secs:.2} s = {:.0}/s", created as f64 / secs);

    // LIST of every pod, JSON, as bytes on the wire.
    let mut times = vec![];
    let mut bytes = 0;
    for _ in 0..7 {
        let req = http::Request::get("/api/v1/namespaces/default/pods").body(Vec::new()).unwrap();
        let t = Instant::now();
        let body = client.request_text(req).await.unwrap();
        times.push(t.elapsed());
        bytes = body.len();
    }
    println!("LIST {created} pods ({:.1} MB JSON): median {:.0} ms", bytes as f64 / 1e6, median(times).as_secs_f64() * 1e3);
    println!("resident memory with {created} pods: {:.0} MiB", rss_mib(server.id()));

    // GET throughput, one client, sequential.
    let t = Instant::now();
    for i in 0..1000 {
        pods.get(&format!("p-0-{}", i % per)).await.unwrap();
    }
    println!("GET, one client, sequential: {:.0}/s", 1000.0 / t.elapsed().as_secs_f64());

    // Watch delivery: time from a create being acknowledged to each watcher receiving it.
    for watchers in [1usize, 100] {
        let mut streams = vec![];
        // Watch from now: a list's resourceVersion, so nothing old is replayed first.
        let rv = pods.list(&kube::api::ListParams::default().limit(1)).await.unwrap().metadata.resource_version.unwrap();
        for _ in 0..watchers {
            let s = pods.watch(&WatchParams::default().timeout(30), &rv).await.unwrap().boxed();
            streams.push(s);
        }
        let mut lat = vec![];
        for round in 0..20 {
            let name = format!("w-{watchers}-{round}");
            let t = Instant::now();
            pods.create(&PostParams::default(), &pod(&name)).await.unwrap();
            let mut last = Duration::ZERO;
            for s in streams.iter_mut() {
                loop {
                    match s.try_next().await.unwrap() {
                        Some(WatchEvent::Added(p)) if p.metadata.name.as_deref() == Some(name.as_str()) => break,
                        Some(_) => continue,
                        None => panic!("watch ended"),
                    }
                }
                last = t.elapsed();
            }
            lat.push(last);
        }
        println!(
            "watch delivery to the last of {watchers} watcher(s): median {:.2} ms (from the create's acknowledgement request)",
            median(lat).as_secs_f64() * 1e3
        );
    }

    server.kill().unwrap();
    server.wait().unwrap();
}
