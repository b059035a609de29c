//! The Deployment controller (with the ReplicaSet controller under it) against an
//! in-process sandbox running only those loops: the replica set per template and its
//! name, labels and annotations, rolling updates within maxSurge / maxUnavailable,
//! rollback onto the old replica set, history cleanup, conditions, Events, decisions, and
//! real kubectl's `create deployment`, `scale`, `set image`, `rollout status|history|undo`.
//! No kubelet runs: [`Kubelet`] stands in for one by marking every new pod Ready.

mod common;
use common::poll::eventually;

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::json;

/// How long any one wait of this file may take.
const LIMIT: Duration = Duration::from_secs(15);

fn is_ready(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Marks every pod of the default namespace Running and Ready, as a kubelet would once
/// its containers started, until dropped.
struct Kubelet(tokio::task::JoinHandle<()>);

impl Kubelet {
    fn start(client: &Client) -> Kubelet {
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        Kubelet(tokio::spawn(async move {
            loop {
                for p in pods.list(&ListParams::default()).await.map(|l| l.items).unwrap_or_default() {
                    if is_ready(&p) || p.metadata.deletion_timestamp.is_some() {
                        continue;
                    }
                    let now = k8s_openapi::jiff::Timestamp::now().to_string();
                    let status = json!({"status": {"phase": "Running", "conditions": [
                        {"type": "Ready", "status": "True", "lastTransitionTime": now},
                        {"type": "ContainersReady", "status": "True", "lastTransitionTime": now}
                    ]}});
                    let _ = pods
                        .patch_status(p.metadata.name.as_deref().unwrap_or_default(), &PatchParams::default(), &Patch::Merge(status))
                        .await;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }))
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn deployment(name: &str, replicas: i32, image: &str, extra_spec: serde_json::Value) -> Deployment {
    let mut v = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "annotations": {"kubernetes.io/change-cause": "first rollout"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "nginx", "image": image}]}}}
    });
    if let (Some(spec), Some(extra)) = (v["spec"].as_object_mut(), extra_spec.as_object()) {
        for (k, x) in extra {
            spec.insert(k.clone(), x.clone());
        }
    }
    serde_json::from_value(v).unwrap()
}

async fn sets_of(client: &Client, app: &str) -> Vec<ReplicaSet> {
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let mut list = sets.list(&ListParams::default().labels(&format!("app={app}"))).await.unwrap().items;
    list.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    list
}

fn annotation(rs: &ReplicaSet, key: &str) -> Option<String> {
    rs.metadata.annotations.as_ref()?.get(key).cloned()
}

fn image_of(rs: &ReplicaSet) -> String {
    rs.spec
        .as_ref()
        .and_then(|s| s.template.as_ref())
        .and_then(|t| t.spec.as_ref())
        .and_then(|s| s.containers[0].image.clone())
        .unwrap_or_default()
}

fn condition(d: &Deployment, ty: &str) -> Option<(String, String, String)> {
    let c = d.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == ty)?;
    Some((c.status.clone(), c.reason.clone().unwrap_or_default(), c.message.clone().unwrap_or_default()))
}

/// Waits until the rollout of `name` is complete at `replicas`, as `kubectl rollout status` judges.
async fn rolled_out(client: &Client, name: &str, replicas: i32) -> Deployment {
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    eventually(&format!("{name} rolled out"), LIMIT, || async {
        let d = api.get(name).await.ok()?;
        let s = d.status.clone()?;
        let done = s.observed_generation >= d.metadata.generation
            && s.updated_replicas == Some(replicas)
            && s.replicas == Some(replicas)
            && s.available_replicas == Some(replicas);
        done.then_some(d)
    })
    .await
}

async fn set_image(client: &Client, name: &str, image: &str) {
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": image}]}}}});
    api.patch(name, &PatchParams::default(), &Patch::Strategic(patch)).await.unwrap();
}

async fn workload_sandbox() -> (common::TestSandbox, Client) {
    let t = common::TestSandbox::with_controllers("replicaset,deployment").await;
    let client = t.sandbox.client().await.unwrap();
    (t, client)
}

#[tokio::test]
async fn a_replica_set_per_template_with_upstream_names_labels_annotations_status_and_events() {
    let (t, client) = workload_sandbox().await;
    let mut decisions = t.sandbox.decisions();
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &deployment("web", 3, "nginx:1.27", json!({}))).await.unwrap();

    let rs = eventually("one replica set", LIMIT, || async { sets_of(&client, "web").await.into_iter().next() }).await;
    let name = rs.metadata.name.clone().unwrap();
    let hash = rs.metadata.labels.as_ref().unwrap()["pod-template-hash"].clone();
    assert_eq!(name, format!("web-{hash}"));
    assert!(hash.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)), "{hash}");
    let spec = rs.spec.clone().unwrap();
    assert_eq!(spec.selector.match_labels.as_ref().unwrap()["pod-template-hash"], hash);
    assert_eq!(spec.template.as_ref().unwrap().metadata.as_ref().unwrap().labels.as_ref().unwrap()["pod-template-hash"], hash);
    assert_eq!(spec.replicas, Some(3));
    assert_eq!(annotation(&rs, "deployment.kubernetes.io/revision").as_deref(), Some("1"));
    assert_eq!(annotation(&rs, "deployment.kubernetes.io/desired-replicas").as_deref(), Some("3"));
    assert_eq!(annotation(&rs, "deployment.kubernetes.io/max-replicas").as_deref(), Some("4"), "3 + 25% rounded up");
    assert_eq!(annotation(&rs, "kubernetes.io/change-cause").as_deref(), Some("first rollout"));
    let owner = &rs.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str(), owner.controller), ("Deployment", "web", Some(true)));

    // Without ready pods the minimum (3 - 25% rounded down = 3) is not available.
    let d = eventually("Available False", LIMIT, || async {
        let d = api.get("web").await.ok()?;
        (condition(&d, "Available")?.0 == "False").then_some(d)
    })
    .await;
    assert_eq!(
        condition(&d, "Available").unwrap(),
        ("False".into(), "MinimumReplicasUnavailable".into(), "Deployment does not have minimum availability.".into())
    );
    assert_eq!(d.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"], "1");

    let _kubelet = Kubelet::start(&client);
    rolled_out(&client, "web", 3).await;
    let d = eventually("the final conditions", LIMIT, || async {
        let d = api.get("web").await.ok()?;
        (condition(&d, "Progressing")?.1 == "NewReplicaSetAvailable").then_some(d)
    })
    .await
    .clone();
    let s = d.status.clone().unwrap();
    assert_eq!((s.ready_replicas, s.unavailable_replicas), (Some(3), None));
    assert_eq!(
        condition(&d, "Available").unwrap(),
        ("True".into(), "MinimumReplicasAvailable".into(), "Deployment has minimum availability.".into())
    );
    assert_eq!(
        condition(&d, "Progressing").unwrap(),
        ("True".into(), "NewReplicaSetAvailable".into(), format!("ReplicaSet \"{name}\" has successfully progressed."))
    );

    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let e = eventually("the ScalingReplicaSet event", LIMIT, || async {
        let list = events.list(&ListParams::default().fields("involvedObject.name=web")).await.ok()?.items;
        list.into_iter().find(|e| e.reason.as_deref() == Some("ScalingReplicaSet"))
    })
    .await;
    assert_eq!(e.message.unwrap(), format!("Scaled up replica set {name} from 0 to 3"));
    assert_eq!(e.source.unwrap().component.as_deref(), Some("deployment-controller"));
    assert_eq!(e.involved_object.kind.as_deref(), Some("Deployment"));

    let want = format!("deployment default/web: scaled up replica set {name} from 0 to 3");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = false;
    while !seen && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(200), decisions.recv()).await {
            Ok(Ok(line)) => seen = line == want,
            Ok(Err(_)) => break,
            Err(_) => {}
        }
    }
    assert!(seen, "the decision log says {want:?}");
}

#[tokio::test]
async fn rolling_update_with_max_unavailable_zero_never_drops_below_the_desired_ready_pods_and_rollback_reuses_the_old_set() {
    let (_t, client) = workload_sandbox().await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let strategy = json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}});
    api.create(&PostParams::default(), &deployment("web", 3, "nginx:1.27", strategy)).await.unwrap();
    let _kubelet = Kubelet::start(&client);
    rolled_out(&client, "web", 3).await;
    let first = sets_of(&client, "web").await.remove(0);
    let first_name = first.metadata.name.clone().unwrap();

    set_image(&client, "web", "nginx:1.28").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let list = pods.list(&ListParams::default().labels("app=web")).await.unwrap().items;
        let ready = list.iter().filter(|p| p.metadata.deletion_timestamp.is_none() && is_ready(p)).count();
        let total = list.iter().filter(|p| p.metadata.deletion_timestamp.is_none()).count();
        assert!(ready >= 3, "maxUnavailable 0: {ready} ready pods during the rollout");
        assert!(total <= 4, "maxSurge 1: {total} pods during the rollout");
        let sets = sets_of(&client, "web").await;
        let done = sets.len() == 2
            && sets.iter().all(|rs| {
                let want = if image_of(rs) == "nginx:1.28" { 3 } else { 0 };
                rs.spec.as_ref().and_then(|s| s.replicas) == Some(want) && rs.status.as_ref().map(|s| s.replicas) == Some(want)
            });
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "the rollout finishes: {sets:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let d = rolled_out(&client, "web", 3).await;
    assert_eq!(d.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"], "2");
    let sets = sets_of(&client, "web").await;
    let second = sets.iter().find(|rs| image_of(rs) == "nginx:1.28").unwrap();
    assert_eq!(annotation(second, "deployment.kubernetes.io/revision").as_deref(), Some("2"));

    // `kubectl rollout undo` writes the old template back; the old set becomes the new one.
    set_image(&client, "web", "nginx:1.27").await;
    let back = eventually("the first replica set back at 3, revision 3", LIMIT, || async {
        let sets = sets_of(&client, "web").await;
        let rs = sets.into_iter().find(|rs| rs.metadata.name.as_deref() == Some(first_name.as_str()))?;
        (annotation(&rs, "deployment.kubernetes.io/revision").as_deref() == Some("3") && rs.spec.as_ref()?.replicas == Some(3))
            .then_some(rs)
    })
    .await;
    assert_eq!(annotation(&back, "deployment.kubernetes.io/revision-history").as_deref(), Some("1"));
    rolled_out(&client, "web", 3).await;
    assert_eq!(sets_of(&client, "web").await.len(), 2, "no third replica set");
}

#[tokio::test]
async fn revision_history_limit_deletes_the_oldest_replica_sets() {
    let (_t, client) = workload_sandbox().await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &deployment("hist", 2, "nginx:1.25", json!({"revisionHistoryLimit": 1}))).await.unwrap();
    let _kubelet = Kubelet::start(&client);
    rolled_out(&client, "hist", 2).await;
    for image in ["nginx:1.26", "nginx:1.27"] {
        set_image(&client, "hist", image).await;
        eventually(&format!("{image} rolled out"), LIMIT, || async {
            let sets = sets_of(&client, "hist").await;
            sets.iter().any(|rs| image_of(rs) == image && rs.status.as_ref().and_then(|s| s.available_replicas) == Some(2)).then_some(())
        })
        .await;
        rolled_out(&client, "hist", 2).await;
    }
    let sets =
        eventually("one old replica set kept", LIMIT, || async { Some(sets_of(&client, "hist").await).filter(|s| s.len() == 2) }).await;
    let mut revisions: Vec<(String, String)> =
        sets.iter().map(|rs| (annotation(rs, "deployment.kubernetes.io/revision").unwrap_or_default(), image_of(rs))).collect();
    revisions.sort();
    assert_eq!(revisions, vec![("2".into(), "nginx:1.26".into()), ("3".into(), "nginx:1.27".into())], "revision 1 was deleted");
}

#[tokio::test]
async fn paused_deployments_wait_and_stuck_rollouts_exceed_their_deadline() {
    let (_t, client) = workload_sandbox().await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &deployment("slow", 1, "nginx:1.27", json!({"progressDeadlineSeconds": 1}))).await.unwrap();
    // No kubelet: the pod never becomes ready, so the rollout makes no progress.
    let d = eventually("ProgressDeadlineExceeded", LIMIT, || async {
        let d = api.get("slow").await.ok()?;
        (condition(&d, "Progressing")?.1 == "ProgressDeadlineExceeded").then_some(d)
    })
    .await;
    let rs = sets_of(&client, "slow").await.remove(0);
    assert_eq!(
        condition(&d, "Progressing").unwrap(),
        (
            "False".into(),
            "ProgressDeadlineExceeded".into(),
            format!("ReplicaSet \"{}\" has timed out progressing.", rs.metadata.name.unwrap())
        )
    );

    api.create(&PostParams::default(), &deployment("held", 1, "nginx:1.27", json!({"paused": true}))).await.unwrap();
    let d = eventually("DeploymentPaused", LIMIT, || async {
        let d = api.get("held").await.ok()?;
        (condition(&d, "Progressing")?.1 == "DeploymentPaused").then_some(d)
    })
    .await;
    assert_eq!(condition(&d, "Progressing").unwrap(), ("Unknown".into(), "DeploymentPaused".into(), "Deployment is paused".into()));
    assert!(sets_of(&client, "held").await.is_empty(), "a paused deployment starts no rollout");
    api.patch("held", &PatchParams::default(), &Patch::Merge(json!({"spec": {"paused": false}}))).await.unwrap();
    eventually("the rollout starts once resumed", LIMIT, || async { sets_of(&client, "held").await.into_iter().next() }).await;
}

#[tokio::test]
async fn kubectl_create_scale_set_image_history_and_undo() {
    let t = workload_sandbox().await.0;
    let client = t.sandbox.client().await.unwrap();
    let _kubelet = Kubelet::start(&client);
    let kubeconfig = t.kubeconfig();
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let k = common::Kubectl { kubeconfig: &kubeconfig, home: &home_path };
        k.ok(&["create", "deployment", "web", "--image=nginx:1.27", "--replicas=2"]);
        let out = k.ok(&["rollout", "status", "deployment/web", "--timeout=30s"]);
        assert!(out.contains("deployment \"web\" successfully rolled out"), "{out}");

        k.ok(&["scale", "deployment", "web", "--replicas=3"]);
        let out = k.ok(&["rollout", "status", "deployment/web", "--timeout=30s"]);
        assert!(out.contains("successfully rolled out"), "{out}");
        let rs = k.get_json(&["replicasets", "-l", "app=web"]);
        assert_eq!(rs["items"].as_array().unwrap().len(), 1, "scaling is no new revision");
        assert_eq!(rs["items"][0]["spec"]["replicas"], 3);

        k.ok(&["set", "image", "deployment/web", "nginx=nginx:1.28"]);
        let out = k.ok(&["rollout", "status", "deployment/web", "--timeout=30s"]);
        assert!(out.contains("successfully rolled out"), "{out}");
        let history = k.ok(&["rollout", "history", "deployment/web"]);
        let revisions: Vec<&str> =
            history.lines().filter_map(|l| l.split_whitespace().next()).filter(|w| w.parse::<u32>().is_ok()).collect();
        assert_eq!(revisions, vec!["1", "2"], "{history}");

        let out = k.ok(&["rollout", "undo", "deployment/web"]);
        assert!(out.contains("rolled back"), "{out}");
        let out = k.ok(&["rollout", "status", "deployment/web", "--timeout=30s"]);
        assert!(out.contains("successfully rolled out"), "{out}");
        let history = k.ok(&["rollout", "history", "deployment/web"]);
        let revisions: Vec<&str> =
            history.lines().filter_map(|l| l.split_whitespace().next()).filter(|w| w.parse::<u32>().is_ok()).collect();
        assert_eq!(revisions, vec!["2", "3"], "revision 1 became 3: {history}");
        let d = k.get_json(&["deployment", "web"]);
        assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.27");
        assert_eq!(d["status"]["updatedReplicas"], 3);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn recreate_removes_every_old_pod_before_the_new_replica_set_grows() {
    let (_t, client) = workload_sandbox().await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &deployment("batch", 2, "busybox:1.36", json!({"strategy": {"type": "Recreate"}}))).await.unwrap();
    let _kubelet = Kubelet::start(&client);
    rolled_out(&client, "batch", 2).await;
    let old_hash = sets_of(&client, "batch").await[0].metadata.labels.as_ref().unwrap()["pod-template-hash"].clone();

    set_image(&client, "batch", "busybox:1.37").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let list = pods.list(&ListParams::default().labels("app=batch")).await.unwrap().items;
        let hash = |p: &Pod| p.metadata.labels.as_ref().and_then(|l| l.get("pod-template-hash").cloned()).unwrap_or_default();
        let old = list.iter().filter(|p| hash(p) == old_hash).count();
        let new = list.len() - old;
        assert!(old == 0 || new == 0, "Recreate: {old} old pods next to {new} new ones");
        if old == 0 && new == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "the new pods come up");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    rolled_out(&client, "batch", 2).await;
}

#[tokio::test]
async fn scaling_during_a_rollout_is_proportional_across_the_replica_sets() {
    let (_t, client) = workload_sandbox().await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let strategy = json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}}});
    api.create(&PostParams::default(), &deployment("wide", 10, "nginx:1.27", strategy)).await.unwrap();
    let kubelet = Kubelet::start(&client);
    rolled_out(&client, "wide", 10).await;
    drop(kubelet);

    // New pods never become ready now: the rollout stops at old 8 + new 5 (10 + 3 surge,
    // at least 10 - 2 available).
    set_image(&client, "wide", "nginx:1.28").await;
    let sizes = |sets: &[ReplicaSet]| -> (Option<i32>, Option<i32>) {
        let size = |image: &str| sets.iter().find(|rs| image_of(rs) == image).and_then(|rs| rs.spec.as_ref()?.replicas);
        (size("nginx:1.27"), size("nginx:1.28"))
    };
    eventually("old 8, new 5", LIMIT, || async { (sizes(&sets_of(&client, "wide").await) == (Some(8), Some(5))).then_some(()) }).await;

    // 20 replicas (max 23) spread in proportion: round(8 * 23 / 13) = 14 and the rest, 9.
    api.patch("wide", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 20}}))).await.unwrap();
    let sets = eventually("old 14, new 9", LIMIT, || async {
        let sets = sets_of(&client, "wide").await;
        (sizes(&sets) == (Some(14), Some(9))).then_some(sets)
    })
    .await;
    for rs in &sets {
        assert_eq!(annotation(rs, "deployment.kubernetes.io/desired-replicas").as_deref(), Some("20"));
        assert_eq!(annotation(rs, "deployment.kubernetes.io/max-replicas").as_deref(), Some("23"));
    }
}

#[tokio::test]
async fn the_deprecated_rollback_annotation_restores_a_revision_and_is_cleared() {
    let (_t, client) = workload_sandbox().await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &deployment("undo", 1, "nginx:1.27", json!({}))).await.unwrap();
    let _kubelet = Kubelet::start(&client);
    rolled_out(&client, "undo", 1).await;
    set_image(&client, "undo", "nginx:1.28").await;
    eventually("revision 2", LIMIT, || async {
        let d = api.get("undo").await.ok()?;
        (d.metadata.annotations?.get("deployment.kubernetes.io/revision")? == "2").then_some(())
    })
    .await;
    rolled_out(&client, "undo", 1).await;

    let patch = json!({"metadata": {"annotations": {"deprecated.deployment.rollback.to": "1"}}});
    api.patch("undo", &PatchParams::default(), &Patch::Merge(patch)).await.unwrap();
    let d = eventually("the template of revision 1, the annotation gone", LIMIT, || async {
        let d = api.get("undo").await.ok()?;
        let image = d.spec.as_ref()?.template.spec.as_ref()?.containers[0].image.clone()?;
        let cleared = !d.metadata.annotations.as_ref()?.contains_key("deprecated.deployment.rollback.to");
        (image == "nginx:1.27" && cleared).then_some(d)
    })
    .await;
    assert!(
        d.spec.unwrap().template.metadata.unwrap().labels.unwrap().get("pod-template-hash").is_none(),
        "the hash label is not copied back"
    );
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    eventually("the DeploymentRollback event", LIMIT, || async {
        let list = events.list(&ListParams::default().fields("involvedObject.name=undo")).await.ok()?.items;
        list.into_iter()
            .find(|e| e.reason.as_deref() == Some("DeploymentRollback"))
            .filter(|e| e.message.as_deref() == Some("Rolled back deployment \"undo\" to revision 1"))
    })
    .await;
}
