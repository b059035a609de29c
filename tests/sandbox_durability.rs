//! Every acknowledged write survives `kill -9`: eight writers keep creating objects, the
//! server process is killed mid-stream, restarted on the same data, and every object it
//! ever acknowledged is there, ten times over, with resourceVersions never reused.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams};

fn start_server(home: &Path) -> Child {
    Command::new(common::kubelab_bin())
        .args(["sandbox", "start", "--foreground", "-q"])
        .env("KUBELAB_HOME", home)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the sandbox process starts")
}

async fn wait_ready(home: &Path) -> kube::Client {
    for _ in 0..400 {
        if let Some(c) = kubelab::sandbox::daemon::client_for(home).await {
            if c.apiserver_version().await.is_ok() {
                return c;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the sandbox did not become ready");
}

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(serde_json::json!({"metadata": {"name": name}, "data": {"n": name}})).unwrap()
}

const CYCLES: usize = 10;
const WRITERS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_creates_survive_kill_9() {
    let home = tempfile::tempdir().unwrap();
    // Every create ever acknowledged, and the resourceVersion it was acknowledged with.
    let mut acked_all: Vec<(String, u64)> = vec![];
    let mut server = start_server(home.path());
    for cycle in 0..=CYCLES {
        let client = wait_ready(home.path()).await;
        let api: Api<ConfigMap> = Api::namespaced(client, "default");

        // What the last run acknowledged is all here.
        let present: BTreeSet<String> =
            api.list(&ListParams::default()).await.unwrap().items.into_iter().filter_map(|c| c.metadata.name).collect();
        let lost: Vec<&String> = acked_all.iter().map(|(n, _)| n).filter(|n| !present.contains(*n)).collect();
        assert!(lost.is_empty(), "cycle {cycle}: {} acknowledged creates lost after kill -9: {:?}", lost.len(), &lost[..lost.len().min(5)]);
        if cycle == CYCLES {
            break;
        }

        let acked: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
        let mut writers = vec![];
        for w in 0..WRITERS {
            let api = api.clone();
            let acked = acked.clone();
            writers.push(tokio::spawn(async move {
                for i in 0.. {
                    let name = format!("c{cycle}-w{w}-{i}");
                    match api.create(&PostParams::default(), &cm(&name)).await {
                        Ok(o) => acked.lock().unwrap().push((name, o.metadata.resource_version.unwrap().parse().unwrap())),
                        Err(_) => return,
                    }
                }
            }));
        }
        // Let a few hundred writes through, then kill the server without warning.
        while acked.lock().unwrap().len() < 300 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        server.kill().unwrap(); // SIGKILL
        server.wait().unwrap();
        for w in writers {
            w.await.unwrap();
        }
        let acked = acked.lock().unwrap().clone();
        // resourceVersions are never reused: this run's all exceed every earlier run's.
        let before = acked_all.iter().map(|(_, rv)| *rv).max().unwrap_or(0);
        let lowest = acked.iter().map(|(_, rv)| *rv).min().unwrap();
        assert!(lowest > before, "cycle {cycle}: resourceVersion {lowest} acknowledged after {before} was, before the restart");
        acked_all.extend(acked);
        server = start_server(home.path());
    }
    let distinct: BTreeSet<u64> = acked_all.iter().map(|(_, rv)| *rv).collect();
    assert_eq!(distinct.len(), acked_all.len(), "every acknowledged create has its own resourceVersion");
    assert!(acked_all.len() >= CYCLES * 300);

    server.kill().unwrap();
    server.wait().unwrap();
}
