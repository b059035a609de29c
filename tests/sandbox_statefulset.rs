//! The StatefulSet controller: pods `<set>-<ordinal>` with their identity, started in order
//! (`OrderedReady`) or together (`Parallel`), scaled down from the highest ordinal, updated
//! from the highest ordinal down to the partition, claims per ordinal from the templates,
//! and `kubectl rollout status/history/undo`. Where the order matters no kubelet runs: the
//! tests make pods Ready themselves, so nothing happens before they say.

mod common;
use common::poll::{blocking_until, eventually, until};

use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(20);

fn stateful_set(name: &str, replicas: i32, extra: Value) -> StatefulSet {
    let mut v = json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}
    });
    if let (Some(spec), Some(extra)) = (v["spec"].as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    serde_json::from_value(v).unwrap()
}

async fn sandbox(controllers: &str) -> (common::TestSandbox, Client) {
    let t = common::TestSandbox::with_controllers(controllers).await;
    let client = t.sandbox.client().await.unwrap();
    (t, client)
}

async fn create(client: &Client, set: StatefulSet) -> StatefulSet {
    Api::<StatefulSet>::namespaced(client.clone(), "default").create(&PostParams::default(), &set).await.unwrap()
}

/// The names of the set's pods not being deleted, sorted.
async fn pod_names(client: &Client, app: &str) -> Vec<String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let list = pods.list(&ListParams::default().labels(&format!("app={app}"))).await.unwrap().items;
    let mut names: Vec<String> =
        list.into_iter().filter(|p| p.metadata.deletion_timestamp.is_none()).filter_map(|p| p.metadata.name).collect();
    names.sort();
    names
}

/// What a kubelet would report: Running and Ready.
async fn make_ready(client: &Client, name: &str) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let status = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}]}});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(status)).await.unwrap();
}

async fn wait_for_pods(client: &Client, app: &str, want: &[&str]) {
    let what = format!("pods {want:?}");
    until(&what, LIMIT, || async { pod_names(client, app).await == want }).await;
}

/// The pods stay `want` for a while (nothing more is created).
async fn stays(client: &Client, app: &str, want: &[&str]) {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(pod_names(client, app).await, want, "nothing else may happen yet");
}

#[tokio::test]
async fn ordered_ready_creates_one_pod_at_a_time_with_its_identity() {
    let (_t, client) = sandbox("statefulset").await;
    let set = create(&client, stateful_set("web", 3, json!({}))).await;

    wait_for_pods(&client, "web", &["web-0"]).await;
    stays(&client, "web", &["web-0"]).await;
    make_ready(&client, "web-0").await;
    wait_for_pods(&client, "web", &["web-0", "web-1"]).await;
    stays(&client, "web", &["web-0", "web-1"]).await;
    make_ready(&client, "web-1").await;
    wait_for_pods(&client, "web", &["web-0", "web-1", "web-2"]).await;
    make_ready(&client, "web-2").await;

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let st = eventually("3 ready replicas", LIMIT, || async {
        sets.get("web").await.ok()?.status.filter(|s| s.ready_replicas == Some(3) && s.current_revision.is_some())
    })
    .await;
    let revision = st.update_revision.clone().unwrap();
    assert_eq!(st.current_revision.as_deref(), Some(revision.as_str()));
    assert_eq!((st.replicas, st.current_replicas, st.updated_replicas, st.available_replicas), (3, Some(3), Some(3), Some(3)));
    assert_eq!(st.observed_generation, set.metadata.generation);
    assert_eq!(st.collision_count, Some(0));

    for (i, name) in ["web-0", "web-1", "web-2"].iter().enumerate() {
        let p = pods.get(name).await.unwrap();
        let labels = p.metadata.labels.clone().unwrap();
        assert_eq!(labels["statefulset.kubernetes.io/pod-name"], *name);
        assert_eq!(labels["apps.kubernetes.io/pod-index"], i.to_string());
        assert_eq!(labels["controller-revision-hash"], revision);
        let spec = p.spec.unwrap();
        assert_eq!((spec.hostname.as_deref(), spec.subdomain.as_deref()), (Some(*name), Some("web")));
        let owner = &p.metadata.owner_references.unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
            ("StatefulSet", set.metadata.uid.as_deref().unwrap(), Some(true))
        );
    }

    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), "default");
    let r = revisions.get(&revision).await.unwrap();
    assert_eq!(r.revision, 1);
    assert!(revision.starts_with("web-"), "{revision}");
    assert_eq!(r.metadata.labels.unwrap()["controller.kubernetes.io/hash"], revision["web-".len()..]);

    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let messages = eventually("the create events", LIMIT, || async {
        let all = events.list(&ListParams::default()).await.ok()?.items;
        let m: Vec<String> = all
            .into_iter()
            .filter(|e| e.involved_object.kind.as_deref() == Some("StatefulSet") && e.reason.as_deref() == Some("SuccessfulCreate"))
            .filter_map(|e| e.message)
            .collect();
        (m.len() >= 3).then_some(m)
    })
    .await;
    assert!(messages.iter().any(|m| m == "create Pod web-0 in StatefulSet web successful"), "{messages:?}");
}

#[tokio::test]
async fn parallel_creates_every_pod_at_once() {
    let (_t, client) = sandbox("statefulset").await;
    create(&client, stateful_set("par", 3, json!({"podManagementPolicy": "Parallel"}))).await;
    wait_for_pods(&client, "par", &["par-0", "par-1", "par-2"]).await;
}

#[tokio::test]
async fn scale_down_removes_the_highest_ordinal_first_one_at_a_time() {
    let (_t, client) = sandbox("statefulset").await;
    create(&client, stateful_set("db", 3, json!({}))).await;
    for (n, want) in [("db-0", &["db-0"][..]), ("db-1", &["db-0", "db-1"]), ("db-2", &["db-0", "db-1", "db-2"])] {
        wait_for_pods(&client, "db", want).await;
        make_ready(&client, n).await;
    }
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    until("3 ready", LIMIT, || async { sets.get("db").await.ok().and_then(|s| s.status).and_then(|s| s.ready_replicas) == Some(3) }).await;
    // A finalizer holds db-2 while it terminates, so the order can be seen.
    pods.patch("db-2", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": ["kubelab.dev/hold"]}}))).await.unwrap();
    sets.patch("db", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 1}}))).await.unwrap();
    wait_for_pods(&client, "db", &["db-0", "db-1"]).await;
    stays(&client, "db", &["db-0", "db-1"]).await;
    pods.patch("db-2", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": null}}))).await.unwrap();
    wait_for_pods(&client, "db", &["db-0"]).await;
    let st = eventually("status of 1 replica", LIMIT, || async { sets.get("db").await.ok()?.status.filter(|s| s.replicas == 1) }).await;
    assert_eq!(st.ready_replicas, Some(1));
}

#[tokio::test]
async fn claims_from_templates_are_named_per_ordinal_labelled_and_kept() {
    let (_t, client) = sandbox("statefulset").await;
    let claim_template =
        json!([{"metadata": {"name": "www"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]);
    // (set, retention policy, the owner kind the claims get)
    let cases = [("keep", json!({}), None), ("gone", json!({"whenDeleted": "Delete"}), Some("StatefulSet"))];
    for (name, policy, _) in &cases {
        let extra = json!({"podManagementPolicy": "Parallel", "volumeClaimTemplates": claim_template, "persistentVolumeClaimRetentionPolicy": policy});
        create(&client, stateful_set(name, 2, extra)).await;
    }
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for (name, _, owner) in &cases {
        for ordinal in 0..2 {
            let claim_name = format!("www-{name}-{ordinal}");
            let c = eventually(&claim_name, LIMIT, || async { claims.get(&claim_name).await.ok() }).await;
            assert_eq!(c.metadata.labels.as_ref().unwrap()["app"], *name, "the selector's labels");
            let kind = c.metadata.owner_references.as_ref().map(|r| r[0].kind.clone());
            assert_eq!(kind.as_deref(), *owner, "{claim_name}");
            let pod_name = format!("{name}-{ordinal}");
            let p = eventually(&pod_name, LIMIT, || async { pods.get(&pod_name).await.ok() }).await;
            let volumes = p.spec.unwrap().volumes.unwrap_or_default();
            let v = volumes.iter().find(|v| v.name == "www").expect("the template's volume");
            assert_eq!(v.persistent_volume_claim.as_ref().unwrap().claim_name, claim_name);
        }
    }
    // Scaled down under Retain, the claim stays.
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    sets.patch("keep", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 1}}))).await.unwrap();
    wait_for_pods(&client, "keep", &["keep-0"]).await;
    assert!(claims.get("www-keep-1").await.is_ok(), "a claim outlives its pod");
}

#[tokio::test]
async fn rolling_update_goes_from_the_highest_ordinal_down_to_the_partition() {
    let (_t, client) = sandbox("statefulset,scheduler,kubelet,nodelifecycle").await;
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    create(&client, stateful_set("ru", 3, json!({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}}))).await;
    let first = eventually("3 ready", LIMIT, || async {
        sets.get("ru").await.ok()?.status.filter(|s| s.ready_replicas == Some(3)).and_then(|s| s.current_revision)
    })
    .await;
    let image = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.28"}]}}}});
    sets.patch("ru", &PatchParams::default(), &Patch::Strategic(image)).await.unwrap();
    let revision_of = |p: &Pod| p.metadata.labels.as_ref().unwrap()["controller-revision-hash"].clone();
    let st = eventually("2 updated above the partition", Duration::from_secs(40), || async {
        sets.get("ru").await.ok()?.status.filter(|s| s.updated_replicas == Some(2) && s.ready_replicas == Some(3))
    })
    .await;
    let second = st.update_revision.clone().unwrap();
    assert_ne!(first, second);
    assert_eq!(st.current_revision.as_deref(), Some(first.as_str()), "a partitioned update is not complete");
    for (name, want) in [("ru-0", &first), ("ru-1", &second), ("ru-2", &second)] {
        assert_eq!(&revision_of(&pods.get(name).await.unwrap()), want, "{name}");
    }
    let image = pods.get("ru-0").await.unwrap().spec.unwrap().containers[0].image.clone();
    assert_eq!(image.as_deref(), Some("nginx:1.27"), "below the partition nothing changes");

    sets.patch("ru", &PatchParams::default(), &Patch::Merge(json!({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}})))
        .await
        .unwrap();
    let st = eventually("the update complete", Duration::from_secs(40), || async {
        sets.get("ru").await.ok()?.status.filter(|s| s.current_revision.as_deref() == Some(second.as_str()) && s.ready_replicas == Some(3))
    })
    .await;
    assert_eq!((st.current_replicas, st.updated_replicas), (Some(3), Some(3)));
    assert_eq!(revision_of(&pods.get("ru-0").await.unwrap()), second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_rollout_status_history_and_undo() {
    common::with_kubectl(|k| {
        let manifest = serde_json::to_string(&stateful_set("kb", 2, json!({}))).unwrap();
        let path = k.home.join("sts.json");
        std::fs::write(&path, manifest).unwrap();
        k.ok(&["apply", "-f", path.to_str().unwrap()]);
        let out = k.ok(&["rollout", "status", "statefulset/kb", "--timeout=40s"]);
        assert!(out.contains("partitioned roll out complete") || out.contains("roll out complete"), "{out}");
        k.ok(&["set", "image", "statefulset/kb", "c=nginx:1.28"]);
        let out = k.ok(&["rollout", "status", "statefulset/kb", "--timeout=40s"]);
        // kubectl words it "partitioned" whenever rollingUpdate.partition is set (defaulted 0)
        assert!(
            out.contains("rolling update complete 2 pods at revision kb-") || out.contains("partitioned roll out complete: 2 new pods"),
            "{out}"
        );
        let history = k.ok(&["rollout", "history", "statefulset/kb"]);
        assert!(history.lines().any(|l| l.starts_with('1')) && history.lines().any(|l| l.starts_with('2')), "{history}");
        k.ok(&["rollout", "undo", "statefulset/kb"]);
        blocking_until("the undo rolled out", Duration::from_secs(40), || {
            let s = k.get_json(&["statefulset", "kb"]);
            s["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
                && s["status"]["currentRevision"] == s["status"]["updateRevision"]
                && s["status"]["readyReplicas"] == 2
        });
        let history = k.ok(&["rollout", "history", "statefulset/kb"]);
        assert!(
            history.lines().any(|l| l.starts_with('3')) && !history.lines().any(|l| l.starts_with('1')),
            "revision 1 became 3: {history}"
        );
    })
    .await;
}
