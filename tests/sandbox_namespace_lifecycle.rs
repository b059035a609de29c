//! The namespace controller alone (`--controllers namespace`): a deleted namespace is
//! Terminating, refuses new content, reports what holds it in its deletion conditions,
//! deletes pods before anything else, and goes once empty.

mod common;
use common::poll::until;

use std::time::Duration;

use common::{raw, TestSandbox};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, NamespaceCondition, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

const HOLD: &str = "example.com/hold";

fn condition<'a>(ns: &'a Namespace, type_: &str) -> Option<&'a NamespaceCondition> {
    ns.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

async fn namespace(api: &Api<Namespace>, name: &str) {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    api.create(&PostParams::default(), &ns).await.expect("the namespace is created");
}

fn held_config_map(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "finalizers": [HOLD]}})).unwrap()
}

async fn release<K>(api: &Api<K>, name: &str)
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(name, &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": null}}))).await.expect("finalizers removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditions_tell_what_holds_a_terminating_namespace_until_it_is_empty() {
    let t = TestSandbox::with_controllers("namespace").await;
    let client = t.sandbox.client().await.unwrap();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespace(&namespaces, "doomed").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
    cms.create(&PostParams::default(), &held_config_map("held")).await.unwrap();
    let plain: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "plain"}})).unwrap();
    cms.create(&PostParams::default(), &plain).await.unwrap();
    namespaces.delete("doomed", &DeleteParams::default()).await.unwrap();

    until("the conditions report the held config map", Duration::from_secs(10), || async {
        let Ok(ns) = namespaces.get("doomed").await else { return false };
        condition(&ns, "NamespaceContentRemaining").is_some_and(|c| c.status == "True")
    })
    .await;
    let ns = namespaces.get("doomed").await.unwrap();
    assert_eq!(ns.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Terminating"));
    let expect = [
        ("NamespaceDeletionDiscoveryFailure", "False", "ResourcesDiscovered", "All resources successfully discovered"),
        ("NamespaceDeletionGroupVersionParsingFailure", "False", "ParsedGroupVersions", "All legacy kube types successfully parsed"),
        ("NamespaceDeletionContentFailure", "False", "ContentDeleted", "All content successfully deleted, may be waiting on finalization"),
        ("NamespaceContentRemaining", "True", "SomeResourcesRemain", "Some resources are remaining: configmaps. has 1 resource instances"),
        (
            "NamespaceFinalizersRemaining",
            "True",
            "SomeFinalizersRemain",
            "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances",
        ),
    ];
    for (type_, status, reason, message) in expect {
        let c = condition(&ns, type_).unwrap_or_else(|| panic!("no condition {type_}"));
        assert_eq!((c.status.as_str(), c.reason.as_deref(), c.message.as_deref()), (status, Some(reason), Some(message)), "{type_}");
    }
    assert!(cms.get_opt("plain").await.unwrap().is_none(), "content without finalizers is deleted");
    assert!(cms.get("held").await.unwrap().metadata.deletion_timestamp.is_some());

    // Meanwhile nothing new may be created in it.
    let (code, body) =
        raw(&client, "POST", "/api/v1/namespaces/doomed/configmaps", Some("application/json"), Some(r#"{"metadata":{"name":"late"}}"#))
            .await;
    assert_eq!(code, 403);
    assert_eq!(
        body["message"],
        "configmaps \"late\" is forbidden: unable to create new content in namespace doomed because it is being terminated"
    );
    assert_eq!(body["details"]["causes"][0]["reason"], "NamespaceTerminating");

    // The finalizer done, the next pass (after half the 15 s estimate) empties and finalizes it.
    release(&cms, "held").await;
    until("the namespace is gone", Duration::from_secs(20), || async { matches!(namespaces.get_opt("doomed").await, Ok(None)) }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_are_deleted_before_other_content() {
    let t = TestSandbox::with_controllers("namespace").await;
    let client = t.sandbox.client().await.unwrap();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespace(&namespaces, "ordered").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "ordered");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "held", "finalizers": [HOLD]},
        "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "c", "image": "nginx"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "ordered");
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "settings"}})).unwrap();
    cms.create(&PostParams::default(), &cm).await.unwrap();
    namespaces.delete("ordered", &DeleteParams::default()).await.unwrap();

    until("the pod is being deleted and the conditions written", Duration::from_secs(10), || async {
        let pod_deleting = pods.get_opt("held").await.ok().flatten().is_some_and(|p| p.metadata.deletion_timestamp.is_some());
        let ns = namespaces.get("ordered").await.ok();
        pod_deleting && ns.is_some_and(|ns| condition(&ns, "NamespaceContentRemaining").is_some())
    })
    .await;
    // OrderedNamespaceDeletion: while a pod remains nothing else is touched (and, as
    // upstream, the content totals are not reported).
    assert!(cms.get_opt("settings").await.unwrap().is_some(), "the config map waits for the pods");
    let ns = namespaces.get("ordered").await.unwrap();
    assert_eq!(condition(&ns, "NamespaceContentRemaining").map(|c| c.status.as_str()), Some("False"));
    release(&pods, "held").await;
    until("the namespace is gone", Duration::from_secs(20), || async { matches!(namespaces.get_opt("ordered").await, Ok(None)) }).await;
    assert!(matches!(cms.get_opt("settings").await, Ok(None)));
}
