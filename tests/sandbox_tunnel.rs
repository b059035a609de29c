//! `kubelab sandbox tunnel`: a LoadBalancer Service stays pending without it, gets its
//! ClusterIP as ingress while it runs (existing and new Services alike), and is pending
//! again once it stops.

mod common;

use std::process::Stdio;
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, PostParams};
use kube::Client;
use serde_json::{json, Value};

use common::poll::until;
use common::TestSandbox;

const LIMIT: Duration = Duration::from_secs(15);

async fn service(client: &Client, name: &str, ty: &str) -> Value {
    let s: Service = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
        "spec": {"type": ty, "selector": {"app": name}, "ports": [{"port": 80}]}
    }))
    .unwrap();
    let s = Api::<Service>::namespaced(client.clone(), "default").create(&PostParams::default(), &s).await.expect("created");
    serde_json::to_value(s).unwrap()
}

async fn get(client: &Client, name: &str) -> Value {
    serde_json::to_value(Api::<Service>::namespaced(client.clone(), "default").get(name).await.expect("the service")).unwrap()
}

fn ingress_of(ip: &Value) -> Value {
    json!({"ingress": [{"ip": ip, "ipMode": "VIP"}]})
}

#[tokio::test]
async fn load_balancers_get_their_cluster_ip_while_the_tunnel_runs_and_lose_it_after() {
    let t = TestSandbox::api_server_only().await;
    let client = t.sandbox.client().await.expect("a client");
    let lb = service(&client, "web-lb", "LoadBalancer").await;
    service(&client, "plain", "ClusterIP").await;
    assert_eq!(lb["status"]["loadBalancer"], json!({}), "pending without a tunnel");
    assert!(lb["spec"]["ports"][0]["nodePort"].as_i64().is_some_and(|p| p > 0), "a LoadBalancer gets a nodePort: {lb:#}");
    let ip = lb["spec"]["clusterIP"].clone();

    let tunnel = t
        .kubelab_command(&["sandbox", "tunnel", "--for", "6s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tunnel runs");
    until("web-lb to get its ClusterIP", LIMIT, || async { get(&client, "web-lb").await["status"]["loadBalancer"] == ingress_of(&ip) })
        .await;
    let late = service(&client, "late-lb", "LoadBalancer").await;
    let late_ip = late["spec"]["clusterIP"].clone();
    until("a new LoadBalancer to get its ClusterIP", LIMIT, || async {
        get(&client, "late-lb").await["status"]["loadBalancer"] == ingress_of(&late_ip)
    })
    .await;
    assert_eq!(get(&client, "plain").await["status"]["loadBalancer"], json!({}), "a ClusterIP service is left alone");

    let out = tunnel.wait_with_output().await.expect("the tunnel ends");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("tunnel: web-lb got {}", ip.as_str().unwrap())), "{stderr}");
    assert!(stdout.contains("2 service(s) had an address"), "{stdout}");
    for name in ["web-lb", "late-lb"] {
        assert_eq!(get(&client, name).await["status"]["loadBalancer"], json!({}), "{name} pending again after the tunnel");
    }
}

#[tokio::test]
async fn quiet_json_tunnel_prints_only_the_services_it_served() {
    let t = TestSandbox::api_server_only().await;
    let client = t.sandbox.client().await.expect("a client");
    let lb = service(&client, "web-lb", "LoadBalancer").await;
    let out = t.kubelab(&["sandbox", "tunnel", "--for", "2s", "-q", "-o", "json"]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "quiet: {}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(doc, json!({"services": [{"namespace": "default", "name": "web-lb", "ip": lb["spec"]["clusterIP"]}]}));
    assert_eq!(get(&client, "web-lb").await["status"]["loadBalancer"], json!({}));
}
