//! The ReplicaSet controller against an in-process sandbox running only the workload loops:
//! pods created from the template and owned by the set, counted in the status, the
//! surplus removed in upstream's ranking, orphans adopted and strays released, Events.
//! No kubelet runs here: the tests make pods Ready by writing their status.

mod common;
use common::poll::eventually;

use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::json;

/// How long any one wait of this file may take.
const LIMIT: Duration = Duration::from_secs(15);

/// What a kubelet would report for a started pod: Running and Ready.
async fn make_ready(client: &Client, name: &str) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let status = json!({"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": now},
        {"type": "ContainersReady", "status": "True", "lastTransitionTime": now}
    ]}});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(status)).await.expect("the pod's status is written");
}

fn replica_set(name: &str, replicas: i32) -> ReplicaSet {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}
    }))
    .unwrap()
}

/// The active pods selected by `app=<app>`.
async fn pods_of(client: &Client, app: &str) -> Vec<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut list = pods.list(&ListParams::default().labels(&format!("app={app}"))).await.unwrap().items;
    list.retain(|p| p.metadata.deletion_timestamp.is_none());
    list.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    list
}

async fn workload_sandbox() -> (common::TestSandbox, Client) {
    let t = common::TestSandbox::with_controllers("replicaset,deployment").await;
    let client = t.sandbox.client().await.unwrap();
    (t, client)
}

#[tokio::test]
async fn creates_owned_pods_from_the_template_and_reports_them() {
    let (_t, client) = workload_sandbox().await;
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let rs = sets.create(&PostParams::default(), &replica_set("web", 3)).await.unwrap();

    let pods = eventually("three pods", LIMIT, || async { Some(pods_of(&client, "web").await).filter(|p| p.len() == 3) }).await;
    for p in &pods {
        let name = p.metadata.name.clone().unwrap();
        let suffix = name.strip_prefix("web-").expect("named by generateName from the set");
        assert_eq!(suffix.len(), 5, "{name}: five random characters");
        let owners = p.metadata.owner_references.clone().unwrap();
        assert_eq!(owners.len(), 1);
        assert_eq!((owners[0].kind.as_str(), owners[0].name.as_str()), ("ReplicaSet", "web"));
        assert_eq!(owners[0].uid, rs.metadata.uid.clone().unwrap());
        assert_eq!((owners[0].controller, owners[0].block_owner_deletion), (Some(true), Some(true)));
        assert_eq!(p.spec.as_ref().unwrap().containers[0].image.as_deref(), Some("nginx:1.27"));
    }

    let st = eventually("status replicas 3", LIMIT, || async {
        let rs = sets.get("web").await.ok()?;
        rs.status.filter(|s| s.replicas == 3 && s.observed_generation == rs.metadata.generation)
    })
    .await;
    assert_eq!(st.fully_labeled_replicas, Some(3));
    assert_eq!(st.ready_replicas, None, "no pod is ready yet");

    for p in &pods[..2] {
        make_ready(&client, p.metadata.name.as_deref().unwrap()).await;
    }
    let st = eventually("two ready", LIMIT, || async { sets.get("web").await.ok()?.status.filter(|s| s.ready_replicas == Some(2)) }).await;
    assert_eq!(st.available_replicas, Some(2));
    assert_eq!(pods_of(&client, "web").await.len(), 3, "the syncs the status changes caused created no more pods");

    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let created = eventually("three SuccessfulCreate events", LIMIT, || async {
        let list = events.list(&ListParams::default().fields("involvedObject.name=web")).await.ok()?.items;
        let created: Vec<Event> = list.into_iter().filter(|e| e.reason.as_deref() == Some("SuccessfulCreate")).collect();
        (created.len() == 3).then_some(created)
    })
    .await;
    for e in created {
        let msg = e.message.unwrap();
        let pod = msg.strip_prefix("Created pod: ").expect("upstream's wording");
        assert!(pods.iter().any(|p| p.metadata.name.as_deref() == Some(pod)), "{msg}");
        assert_eq!(e.source.unwrap().component.as_deref(), Some("replicaset-controller"));
        assert_eq!(e.involved_object.kind.as_deref(), Some("ReplicaSet"));
    }
}

#[tokio::test]
async fn scale_down_deletes_the_not_ready_pods_first() {
    let (_t, client) = workload_sandbox().await;
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    sets.create(&PostParams::default(), &replica_set("api", 4)).await.unwrap();
    let pods = eventually("four pods", LIMIT, || async { Some(pods_of(&client, "api").await).filter(|p| p.len() == 4) }).await;
    let keep: Vec<String> = pods[..2].iter().map(|p| p.metadata.name.clone().unwrap()).collect();
    for name in &keep {
        make_ready(&client, name).await;
    }
    eventually("two ready", LIMIT, || async { sets.get("api").await.ok()?.status.filter(|s| s.ready_replicas == Some(2)) }).await;

    sets.patch("api", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 2}}))).await.unwrap();
    let left = eventually("two pods left", LIMIT, || async { Some(pods_of(&client, "api").await).filter(|p| p.len() == 2) }).await;
    let left: Vec<String> = left.into_iter().map(|p| p.metadata.name.unwrap()).collect();
    assert_eq!(left, keep, "the ready pods stay, the not-ready ones go");

    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    eventually("two SuccessfulDelete events", LIMIT, || async {
        let list = events.list(&ListParams::default().fields("involvedObject.name=api")).await.ok()?.items;
        let deleted: Vec<String> =
            list.into_iter().filter(|e| e.reason.as_deref() == Some("SuccessfulDelete")).filter_map(|e| e.message).collect();
        (deleted.len() == 2 && deleted.iter().all(|m| m.starts_with("Deleted pod: api-") && !keep.iter().any(|k| m.ends_with(k.as_str()))))
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn adopts_matching_orphans_and_releases_pods_that_stop_matching() {
    let (_t, client) = workload_sandbox().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let orphan: Pod = serde_json::from_value(json!({
        "metadata": {"name": "orphan", "labels": {"app": "db"}},
        "spec": {"containers": [{"name": "c", "image": "postgres:17"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &orphan).await.unwrap();

    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let rs = sets.create(&PostParams::default(), &replica_set("db", 2)).await.unwrap();
    let owned = eventually("two pods, the orphan adopted", LIMIT, || async {
        let list = pods_of(&client, "db").await;
        let adopted = list.iter().find(|p| p.metadata.name.as_deref() == Some("orphan"))?;
        let refs = adopted.metadata.owner_references.clone()?;
        (list.len() == 2 && refs.iter().any(|r| r.controller == Some(true) && Some(&r.uid) == rs.metadata.uid.as_ref())).then_some(list)
    })
    .await;
    assert_eq!(owned.len(), 2, "only one pod was created next to the adopted one");

    // A pod relabelled out of the selector is released, and replaced.
    pods.patch("orphan", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"app": "debug"}}}))).await.unwrap();
    eventually("the relabelled pod released", LIMIT, || async {
        let p = pods.get("orphan").await.ok()?;
        p.metadata.owner_references.unwrap_or_default().iter().all(|r| r.controller != Some(true)).then_some(())
    })
    .await;
    eventually("a replacement", LIMIT, || async { Some(pods_of(&client, "db").await).filter(|p| p.len() == 2) }).await;
}
