//! The Endpoints and EndpointSlice controllers: a Service's selected pods published with
//! their IPs, readiness, node and resolved ports; nothing for a selector-less Service; both
//! kinds gone with their Service.

mod common;

use std::time::Duration;

use k8s_openapi::api::core::v1::{Endpoints, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::{json, Value};

use common::poll::{eventually, until};
use common::{Kubectl, TestSandbox};

const NODE: &str = "kubelab-worker-1";
const LIMIT: Duration = Duration::from_secs(20);
const TRIGGER: &str = "endpoints.kubernetes.io/last-change-trigger-time";

async fn sandbox(loops: &str) -> (TestSandbox, Client) {
    let t = TestSandbox::with_controllers(loops).await;
    let client = t.sandbox.client().await.expect("a client");
    (t, client)
}

/// A pod on [`NODE`] serving a port named `http` (8080); `ready: false` keeps it unready.
async fn pod(client: &Client, name: &str, app: &str, ready: bool, finalizer: bool) -> Pod {
    let mut meta = json!({"name": name, "labels": {"app": app}});
    if !ready {
        meta["annotations"] = json!({"sandbox.kubelab.dev/ready": "false"});
    }
    if finalizer {
        meta["finalizers"] = json!(["kubelab.dev/hold"]);
    }
    let p: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": meta,
        "spec": {"nodeName": NODE, "containers": [{"name": "app", "image": "nginx", "ports": [{"name": "http", "containerPort": 8080}]}]}
    }))
    .unwrap();
    Api::<Pod>::namespaced(client.clone(), "default").create(&PostParams::default(), &p).await.expect("the pod is created")
}

async fn service(client: &Client, name: &str, spec: Value) -> Service {
    let s: Service =
        serde_json::from_value(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec})).unwrap();
    Api::<Service>::namespaced(client.clone(), "default").create(&PostParams::default(), &s).await.expect("the service is created")
}

fn web_spec() -> Value {
    json!({"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]})
}

async fn endpoints(client: &Client, name: &str) -> Option<Value> {
    let e = Api::<Endpoints>::namespaced(client.clone(), "default").get_opt(name).await.ok()??;
    Some(serde_json::to_value(e).unwrap())
}

async fn slices(client: &Client, service: &str) -> Vec<Value> {
    let lp = ListParams::default().labels(&format!("kubernetes.io/service-name={service}"));
    let list = Api::<EndpointSlice>::namespaced(client.clone(), "default").list(&lp).await.expect("slices list");
    list.items.into_iter().map(|s| serde_json::to_value(s).unwrap()).collect()
}

/// The pod's IP, once the kubelet gave it one.
async fn ip_of(client: &Client, name: &str) -> String {
    let api = Api::<Pod>::namespaced(client.clone(), "default");
    eventually(&format!("{name} to get an IP"), LIMIT, || async { api.get(name).await.ok()?.status?.pod_ip.filter(|ip| !ip.is_empty()) })
        .await
}

fn ips(subsets: &Value, field: &str) -> Vec<String> {
    let mut v: Vec<String> = subsets
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s[field].as_array().cloned().unwrap_or_default())
        .map(|a| a["ip"].as_str().unwrap_or_default().to_string())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn endpoints_list_ready_and_unready_pods_on_the_named_target_port() {
    let (_t, client) = sandbox("endpoint,kubelet").await;
    service(&client, "web", web_spec()).await;
    let a = pod(&client, "web-a", "web", true, true).await;
    pod(&client, "web-b", "web", false, false).await;
    pod(&client, "other", "db", true, false).await;
    let (ip_a, ip_b) = (ip_of(&client, "web-a").await, ip_of(&client, "web-b").await);

    let e = eventually("web-a ready and web-b not ready in the endpoints", LIMIT, || async {
        let e = endpoints(&client, "web").await?;
        (ips(&e["subsets"], "addresses") == [ip_a.clone()] && ips(&e["subsets"], "notReadyAddresses") == [ip_b.clone()]).then_some(e)
    })
    .await;
    let subset = &e["subsets"][0];
    let addr = &subset["addresses"][0];
    assert_eq!(addr["nodeName"], NODE);
    assert_eq!(addr["targetRef"], json!({"kind": "Pod", "namespace": "default", "name": "web-a", "uid": a.metadata.uid}));
    assert_eq!(subset["ports"], json!([{"name": "http", "port": 8080, "protocol": "TCP"}]), "the named targetPort resolved");
    assert_eq!(e["metadata"]["labels"], json!({"endpoints.kubernetes.io/managed-by": "endpoint-controller"}));
    // The trigger time is written with a change it explains and cleared by a sync without
    // one (upstream), so it may or may not be present here; when present it is a time.
    let trigger = &e["metadata"]["annotations"][TRIGGER];
    assert!(trigger.is_null() || trigger.as_str().is_some_and(|t| t.ends_with('Z')), "{e:#}");

    // web-b turns ready: both are addresses.
    let unannotate = json!({"metadata": {"annotations": {"sandbox.kubelab.dev/ready": null}}});
    let pods = Api::<Pod>::namespaced(client.clone(), "default");
    pods.patch("web-b", &PatchParams::default(), &Patch::Merge(&unannotate)).await.unwrap();
    let both = {
        let mut v = vec![ip_a.clone(), ip_b.clone()];
        v.sort();
        v
    };
    until("both pods ready in the endpoints", LIMIT, || async {
        endpoints(&client, "web").await.is_some_and(|e| ips(&e["subsets"], "addresses") == both)
    })
    .await;

    // web-a terminating (held by its finalizer): out of the endpoints.
    pods.delete("web-a", &DeleteParams::default()).await.unwrap();
    until("the terminating web-a out of the endpoints", LIMIT, || async {
        endpoints(&client, "web")
            .await
            .is_some_and(|e| ips(&e["subsets"], "addresses") == [ip_b.clone()] && ips(&e["subsets"], "notReadyAddresses").is_empty())
    })
    .await;
    let release = json!({"metadata": {"finalizers": null}});
    pods.patch("web-a", &PatchParams::default(), &Patch::Merge(&release)).await.unwrap();
}

#[tokio::test]
async fn endpoint_slices_carry_conditions_zone_ports_and_their_service_as_owner() {
    let (_t, client) = sandbox("endpointslice,kubelet").await;
    let zone = json!({"metadata": {"labels": {"topology.kubernetes.io/zone": "zone-a"}}});
    Api::<Node>::all(client.clone()).patch(NODE, &PatchParams::default(), &Patch::Merge(&zone)).await.unwrap();
    let svc = service(&client, "web", web_spec()).await;
    let a = pod(&client, "web-a", "web", true, true).await;
    pod(&client, "web-b", "web", false, false).await;
    ip_of(&client, "web-a").await;
    ip_of(&client, "web-b").await;

    let cond = |s: &Value, pod: &str| -> Value {
        s["endpoints"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["targetRef"]["name"] == pod)
            .map(|e| e["conditions"].clone())
            .unwrap_or(Value::Null)
    };
    let s = eventually("a slice with web-a ready and web-b not", LIMIT, || async {
        let all = slices(&client, "web").await;
        let s = all.into_iter().next()?;
        (cond(&s, "web-a") == json!({"ready": true, "serving": true, "terminating": false})
            && cond(&s, "web-b") == json!({"ready": false, "serving": false, "terminating": false}))
        .then_some(s)
    })
    .await;
    assert_eq!(slices(&client, "web").await.len(), 1, "one slice");
    assert!(s["metadata"]["name"].as_str().unwrap().starts_with("web-"), "{s:#}");
    assert_eq!(s["metadata"]["generateName"], "web-");
    assert_eq!(s["addressType"], "IPv4");
    assert_eq!(s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"], "endpointslice-controller.k8s.io");
    let owner = &s["metadata"]["ownerReferences"][0];
    assert_eq!((owner["kind"].as_str(), owner["name"].as_str()), (Some("Service"), Some("web")));
    assert_eq!(
        (owner["uid"].as_str(), owner["controller"].as_bool(), owner["blockOwnerDeletion"].as_bool()),
        (svc.metadata.uid.as_deref(), Some(true), Some(true))
    );
    assert_eq!(s["ports"], json!([{"name": "http", "port": 8080, "protocol": "TCP"}]));
    assert!(s["metadata"]["annotations"][TRIGGER].is_string());
    let ep_a = s["endpoints"].as_array().unwrap().iter().find(|e| e["targetRef"]["name"] == "web-a").unwrap().clone();
    assert_eq!((ep_a["nodeName"].as_str(), ep_a["zone"].as_str()), (Some(NODE), Some("zone-a")));
    assert_eq!(ep_a["targetRef"]["uid"].as_str(), a.metadata.uid.as_deref());

    // Terminating: never ready, marked terminating while it is listed at all.
    let pods = Api::<Pod>::namespaced(client.clone(), "default");
    pods.delete("web-a", &DeleteParams::default()).await.unwrap();
    until("web-a not ready once terminating", LIMIT, || async {
        let c = slices(&client, "web").await.first().map(|s| cond(s, "web-a")).unwrap_or(Value::Null);
        c.is_null() || (c["ready"] == false && c["terminating"] == true)
    })
    .await;
    let release = json!({"metadata": {"finalizers": null}});
    pods.patch("web-a", &PatchParams::default(), &Patch::Merge(&release)).await.unwrap();
}

#[tokio::test]
async fn a_selector_less_service_gets_nothing_and_keeps_the_users_endpoints() {
    let (_t, client) = sandbox("endpoint,endpointslice,kubelet").await;
    service(&client, "ext", json!({"ports": [{"port": 80}]})).await;
    let mine: Endpoints = serde_json::from_value(json!({
        "metadata": {"name": "ext"}, "subsets": [{"addresses": [{"ip": "192.0.2.10"}], "ports": [{"port": 80}]}]
    }))
    .unwrap();
    Api::<Endpoints>::namespaced(client.clone(), "default").create(&PostParams::default(), &mine).await.unwrap();
    // A Service with a selector, synced after ext: once it has both kinds, ext was seen.
    service(&client, "web", web_spec()).await;
    pod(&client, "web-a", "web", true, false).await;
    until("web's endpoints and slice", LIMIT, || async {
        endpoints(&client, "web").await.is_some_and(|e| !ips(&e["subsets"], "addresses").is_empty())
            && slices(&client, "web").await.iter().any(|s| !s["endpoints"].as_array().is_none_or(|e| e.is_empty()))
    })
    .await;
    let ext = endpoints(&client, "ext").await.expect("the user's endpoints stay");
    assert_eq!(ips(&ext["subsets"], "addresses"), ["192.0.2.10"]);
    assert!(ext["metadata"]["labels"].is_null(), "not taken over: {ext:#}");
    assert!(slices(&client, "ext").await.is_empty());
}

#[tokio::test]
async fn a_deleted_service_takes_its_endpoints_and_slices_along() {
    let (_t, client) = sandbox("endpoint,endpointslice,kubelet,garbagecollector").await;
    service(&client, "web", web_spec()).await;
    pod(&client, "web-a", "web", true, false).await;
    until("web's endpoints and slice", LIMIT, || async {
        endpoints(&client, "web").await.is_some() && !slices(&client, "web").await.is_empty()
    })
    .await;
    Api::<Service>::namespaced(client.clone(), "default").delete("web", &DeleteParams::default()).await.unwrap();
    until("the endpoints and slices gone", LIMIT, || async {
        endpoints(&client, "web").await.is_none() && slices(&client, "web").await.is_empty()
    })
    .await;
}

#[tokio::test]
async fn kubectl_get_endpoints_shows_the_pod_ips() {
    common::with_kubectl(|k: &Kubectl| {
        k.ok(&["run", "web", "--image=nginx", "--port=80", "--labels=app=web"]);
        k.ok(&["create", "service", "clusterip", "web", "--tcp=80:80"]);
        let mut ip = String::new();
        common::poll::blocking_until("the pod's IP", LIMIT, || {
            ip = k.ok(&["get", "pod", "web", "-o", "jsonpath={.status.podIP}"]);
            !ip.is_empty()
        });
        common::poll::blocking_until("kubectl get endpoints web to list the pod", LIMIT, || {
            k.ok(&["get", "endpoints", "web"]).contains(&format!("{ip}:80"))
        });
        let slices = k.ok(&["get", "endpointslices", "-l", "kubernetes.io/service-name=web"]);
        assert!(slices.contains(&ip) && slices.contains("IPv4"), "{slices}");
    })
    .await;
}
