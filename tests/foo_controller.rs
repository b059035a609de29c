//! `kubelab foo-controller` end to end on a sandbox with every loop, on both runtimes
//! (kubelab's machinery and kube-rs' Controller): a Foo's Deployment made and its pods
//! Running until `status.availableReplicas` is reached; the Deployment deleted by hand comes
//! back; scaling the Foo scales it; a Deployment the Foo does not own is refused with
//! sample-controller's event; deleting the Foo takes everything with it.

mod common;
use common::poll::until;

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::json;

/// How long any one wait of this file may take.
const LIMIT: Duration = Duration::from_secs(30);

fn foo(name: &str, deployment: &str, replicas: i32) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "samplecontroller.k8s.io/v1alpha1", "kind": "Foo",
        "metadata": {"name": name},
        "spec": {"deploymentName": deployment, "replicas": replicas},
    }))
    .unwrap()
}

async fn run(runtime: &str) {
    let t = common::TestSandbox::start().await;
    let controller = t
        .kubelab_command(&["foo-controller", "--runtime", runtime, "--for", "90s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("kubelab runs");
    let client = t.sandbox.client().await.unwrap();
    let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("samplecontroller.k8s.io", "v1alpha1", "Foo"), "foos");
    let foos: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    until("foo-controller's CRD served", LIMIT, || async { foos.list(&ListParams::default()).await.is_ok() }).await;

    foos.create(&PostParams::default(), &foo("example-foo", "example-foo", 2)).await.unwrap();
    until("the Foo's pods available", LIMIT, || async {
        foos.get("example-foo").await.ok().and_then(|f| f.data["status"]["availableReplicas"].as_i64()) == Some(2)
    })
    .await;
    let d = deployments.get("example-foo").await.unwrap();
    let owner = &d.metadata.owner_references.as_ref().expect("owned by the Foo")[0];
    assert_eq!((owner.kind.as_str(), owner.controller), ("Foo", Some(true)));

    // Deleted by hand, it comes back (a new uid).
    let uid = d.metadata.uid.clone();
    deployments.delete("example-foo", &DeleteParams::default()).await.unwrap();
    until("the Deployment back", LIMIT, || async {
        deployments
            .get_opt("example-foo")
            .await
            .ok()
            .flatten()
            .is_some_and(|d| d.metadata.uid != uid && d.metadata.deletion_timestamp.is_none())
    })
    .await;

    // Scaling the Foo scales its Deployment.
    foos.patch("example-foo", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 3}}))).await.unwrap();
    until("scaled to 3", LIMIT, || async {
        deployments.get("example-foo").await.ok().and_then(|d| d.spec).and_then(|s| s.replicas) == Some(3)
    })
    .await;

    // A Deployment it does not own is refused, and said so.
    let mine: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "not-mine"},
        "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": {"metadata": {"labels": {"app": "x"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
    }))
    .unwrap();
    deployments.create(&PostParams::default(), &mine).await.unwrap();
    foos.create(&PostParams::default(), &foo("greedy", "not-mine", 1)).await.unwrap();
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    until("ErrResourceExists", LIMIT, || async {
        events.list(&ListParams::default().fields("involvedObject.name=greedy")).await.is_ok_and(|l| {
            l.items.iter().any(|e| {
                e.reason.as_deref() == Some("ErrResourceExists")
                    && e.message.as_deref() == Some("Resource \"not-mine\" already exists and is not managed by Foo")
            })
        })
    })
    .await;
    assert!(deployments.get("not-mine").await.unwrap().metadata.owner_references.is_none(), "not taken over");

    // The Foo goes; the garbage collector takes its Deployment and pods. As
    // kube-controller-manager's, it learns of kinds defined after it started (Foo) at its
    // next discovery, at most 30 s later.
    foos.delete("example-foo", &DeleteParams::default()).await.unwrap();
    until("the Foo's Deployment collected", Duration::from_secs(45), || async {
        deployments.get_opt("example-foo").await.ok().flatten().is_none()
    })
    .await;
    drop(controller);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foo_controller_on_kubelabs_machinery() {
    run("machinery").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foo_controller_on_kube_runtime() {
    run("kube").await;
}
