//! The garbage collector alone (`--controllers garbagecollector`): owners and dependents
//! made by hand — ConfigMaps owning ConfigMaps, a ReplicaSet owning pods with no
//! ReplicaSet controller running — and deleted with each propagation policy.

mod common;
use common::poll::until;

use std::time::Duration;

use common::{Kubectl, TestSandbox};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

/// How long any one wait of this file may take.
const LIMIT: Duration = Duration::from_secs(10);

const NS: &str = "default";
const HOLD: &str = "example.com/hold";

fn owner_ref<K: Resource<DynamicType = ()>>(owner: &K, block: bool) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).into(),
        kind: K::kind(&()).into(),
        name: owner.meta().name.clone().unwrap_or_default(),
        uid: owner.meta().uid.clone().unwrap_or_default(),
        block_owner_deletion: block.then_some(true),
        controller: None,
    }
}

async fn config_map(api: &Api<ConfigMap>, name: &str, owners: Vec<OwnerReference>, finalizers: &[&str]) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.into());
    cm.metadata.owner_references = (!owners.is_empty()).then_some(owners);
    cm.metadata.finalizers = (!finalizers.is_empty()).then(|| finalizers.iter().map(|f| f.to_string()).collect());
    api.create(&PostParams::default(), &cm).await.expect("the config map is created")
}

async fn release(api: &Api<ConfigMap>, name: &str) {
    api.patch(name, &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": null}}))).await.expect("finalizers removed");
}

async fn gone(api: &Api<ConfigMap>, name: &str) -> bool {
    matches!(api.get_opt(name).await, Ok(None))
}

async fn sandbox() -> (TestSandbox, kube::Client, Api<ConfigMap>) {
    let t = TestSandbox::with_controllers("garbagecollector").await;
    let client = t.sandbox.client().await.expect("a client");
    let cms = Api::namespaced(client.clone(), NS);
    (t, client, cms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_deletion_collects_dependents_and_says_why() {
    let (t, _, cms) = sandbox().await;
    let mut decisions = t.sandbox.decisions();
    let parent = config_map(&cms, "parent", vec![], &[]).await;
    config_map(&cms, "child", vec![owner_ref(&parent, false)], &[]).await;
    config_map(&cms, "bystander", vec![], &[]).await;
    cms.delete("parent", &DeleteParams::background()).await.expect("the owner is deleted");
    until("the child is collected", LIMIT, || gone(&cms, "child")).await;
    assert!(cms.get_opt("bystander").await.unwrap().is_some(), "an object without owners stays");
    let line = "garbagecollector default/child: deleting (owner ConfigMap parent is gone)";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, decisions.recv()).await {
            Ok(Ok(l)) if l == line => break,
            Ok(Ok(_)) => {}
            other => panic!("no decision line {line:?}: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreground_keeps_the_owner_until_blocking_dependents_are_gone() {
    let (_t, client, cms) = sandbox().await;
    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), NS);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
    }))
    .unwrap();
    let rs = rss.create(&PostParams::default(), &rs).await.expect("the replica set is created");
    for (name, finalizers) in [("web-held", json!([HOLD])), ("web-free", json!(null))] {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"app": "web"}, "finalizers": finalizers,
                         "ownerReferences": [owner_ref(&rs, true)]},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}
        }))
        .unwrap();
        pods.create(&PostParams::default(), &pod).await.expect("the pod is created");
    }
    rss.delete("web", &DeleteParams::foreground()).await.expect("the owner is deleted");
    until("the free pod is collected", LIMIT, || async { matches!(pods.get_opt("web-free").await, Ok(None)) }).await;
    until("the held pod is being deleted", LIMIT, || async {
        pods.get_opt("web-held").await.ok().flatten().is_some_and(|p| p.metadata.deletion_timestamp.is_some())
    })
    .await;
    let owner = rss.get("web").await.expect("the owner waits for its blocking dependent");
    assert!(owner.metadata.deletion_timestamp.is_some());
    assert_eq!(owner.finalizers(), ["foregroundDeletion".to_string()]);
    pods.patch("web-held", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": null}}))).await.unwrap();
    until("the owner goes once its dependents are gone", LIMIT, || async { matches!(rss.get_opt("web").await, Ok(None)) }).await;
    // ConfigMaps: a dependent with dependents of its own is deleted in the foreground too.
    let top = config_map(&cms, "top", vec![], &[]).await;
    let mid = config_map(&cms, "mid", vec![owner_ref(&top, true)], &[]).await;
    config_map(&cms, "leaf", vec![owner_ref(&mid, true)], &[HOLD]).await;
    cms.delete("top", &DeleteParams::foreground()).await.unwrap();
    until("the middle waits in the foreground", LIMIT, || async {
        cms.get_opt("mid")
            .await
            .ok()
            .flatten()
            .is_some_and(|m| m.metadata.deletion_timestamp.is_some() && m.finalizers() == ["foregroundDeletion"])
    })
    .await;
    assert!(cms.get_opt("top").await.unwrap().is_some(), "the top waits for the middle");
    release(&cms, "leaf").await;
    until("the whole tree goes", LIMIT, || async { gone(&cms, "leaf").await && gone(&cms, "mid").await && gone(&cms, "top").await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_removes_the_owner_reference_and_keeps_dependents() {
    let (_t, _, cms) = sandbox().await;
    let parent = config_map(&cms, "parent", vec![], &[]).await;
    let other = config_map(&cms, "other", vec![], &[]).await;
    config_map(&cms, "only-child", vec![owner_ref(&parent, true)], &[]).await;
    config_map(&cms, "shared-child", vec![owner_ref(&parent, false), owner_ref(&other, false)], &[]).await;
    cms.delete("parent", &DeleteParams::orphan()).await.unwrap();
    until("the owner goes", LIMIT, || gone(&cms, "parent")).await;
    let only = cms.get("only-child").await.expect("orphaned, not deleted");
    assert_eq!(only.metadata.owner_references, None);
    let shared = cms.get("shared-child").await.unwrap();
    let uids: Vec<String> = shared.owner_references().iter().map(|r| r.uid.clone()).collect();
    assert_eq!(uids, vec![other.uid().unwrap()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dangling_owner_references_make_garbage() {
    let (_t, client, cms) = sandbox().await;
    let alive = config_map(&cms, "alive", vec![], &[]).await;
    // An owner absent by uid, and one whose name exists under another uid.
    let absent = OwnerReference { uid: "00000000-0000-0000-0000-000000000001".into(), name: "ghost".into(), ..owner_ref(&alive, false) };
    let impostor = OwnerReference { uid: "00000000-0000-0000-0000-000000000002".into(), ..owner_ref(&alive, false) };
    config_map(&cms, "of-ghost", vec![absent.clone()], &[]).await;
    config_map(&cms, "of-impostor", vec![impostor], &[]).await;
    // With a live owner besides, only the dangling reference goes.
    config_map(&cms, "half-dangling", vec![absent, owner_ref(&alive, false)], &[]).await;
    // References cannot cross namespaces: an owner by that uid in another namespace is absent.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "elsewhere"}})).unwrap()).await.unwrap();
    let elsewhere: Api<ConfigMap> = Api::namespaced(client, "elsewhere");
    config_map(&elsewhere, "of-foreign", vec![owner_ref(&alive, false)], &[]).await;
    until("dependents of missing owners are collected", LIMIT, || async {
        gone(&cms, "of-ghost").await && gone(&cms, "of-impostor").await && gone(&elsewhere, "of-foreign").await
    })
    .await;
    let events: Api<Event> = Api::namespaced(elsewhere.clone().into_client(), "elsewhere");
    let message = format!(
        "ownerRef [v1/ConfigMap, namespace: elsewhere, name: alive, uid: {}] does not exist in namespace \"elsewhere\"",
        alive.uid().unwrap()
    );
    until("the foreign dependent gets an OwnerRefInvalidNamespace event", LIMIT, || async {
        events.list(&Default::default()).await.is_ok_and(|l| {
            l.items.iter().any(|e| {
                e.reason.as_deref() == Some("OwnerRefInvalidNamespace")
                    && e.type_.as_deref() == Some("Warning")
                    && e.involved_object.name.as_deref() == Some("of-foreign")
                    && e.message.as_deref() == Some(message.as_str())
                    && e.source.as_ref().and_then(|s| s.component.as_deref()) == Some("garbage-collector-controller")
            })
        })
    })
    .await;
    until("the dangling reference is patched out", LIMIT, || async {
        cms.get_opt("half-dangling")
            .await
            .ok()
            .flatten()
            .is_some_and(|c| c.owner_references().iter().map(|r| r.name.as_str()).collect::<Vec<_>>() == ["alive"])
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependent_goes_with_its_last_owner() {
    let (_t, _, cms) = sandbox().await;
    let a = config_map(&cms, "owner-a", vec![], &[]).await;
    let b = config_map(&cms, "owner-b", vec![], &[]).await;
    config_map(&cms, "shared", vec![owner_ref(&a, false), owner_ref(&b, false)], &[]).await;
    cms.delete("owner-a", &DeleteParams::background()).await.unwrap();
    until("the reference to the deleted owner is removed", LIMIT, || async {
        cms.get_opt("shared")
            .await
            .ok()
            .flatten()
            .is_some_and(|c| c.owner_references().len() == 1 && c.owner_references()[0].name == "owner-b")
    })
    .await;
    cms.delete("owner-b", &DeleteParams::background()).await.unwrap();
    until("the dependent goes with its last owner", LIMIT, || gone(&cms, "shared")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_cascade_flags() {
    let (t, _, cms) = sandbox().await;
    for policy in ["background", "foreground", "orphan"] {
        let owner = config_map(&cms, &format!("{policy}-owner"), vec![], &[]).await;
        config_map(&cms, &format!("{policy}-dep"), vec![owner_ref(&owner, true)], &[]).await;
    }
    let kubeconfig = t.kubeconfig();
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let k = Kubectl { kubeconfig: &kubeconfig, home: &home_path };
        for policy in ["background", "foreground", "orphan"] {
            // kubectl waits for the owner to be gone (foreground: after its dependents).
            let out = k.ok(&["delete", "configmap", &format!("{policy}-owner"), &format!("--cascade={policy}"), "--timeout=20s"]);
            assert!(out.contains(&format!("configmap \"{policy}-owner\" deleted")), "{out}");
        }
    })
    .await
    .unwrap();
    until("background and foreground dependents are collected", LIMIT, || async {
        gone(&cms, "background-dep").await && gone(&cms, "foreground-dep").await
    })
    .await;
    let orphan = cms.get("orphan-dep").await.expect("the orphan stays");
    assert_eq!(orphan.metadata.owner_references, None);
}
