//! Persistent volumes end to end: the binder matches claims to volumes (or has the
//! hostpath provisioner make one, on disk, for the default `standard` class), phases move
//! as upstream's do, reclaim policies apply when a claim goes, the protection finalizers
//! hold what is in use, and the scheduler keeps a pod waiting for its claim.

mod common;

use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, PersistentVolume, PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::{json, Value};

use common::poll::{blocking_until, eventually, until};
use common::{Kubectl, TestSandbox};

const VOLUME_LOOPS: &str = "persistentvolume-binder,hostpath-provisioner,pv-protection,pvc-protection";
const LIMIT: Duration = Duration::from_secs(15);

async fn sandbox(extra: &str) -> (TestSandbox, kube::Client) {
    let list = if extra.is_empty() { VOLUME_LOOPS.to_string() } else { format!("{VOLUME_LOOPS},{extra}") };
    let t = TestSandbox::with_controllers(&list).await;
    let client = t.sandbox.client().await.expect("a client");
    (t, client)
}

fn pv(name: &str, size: &str, modes: &[&str], class: &str, extra: Value) -> PersistentVolume {
    let mut v = json!({
        "metadata": {"name": name},
        "spec": {"capacity": {"storage": size}, "accessModes": modes, "storageClassName": class,
                 "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": format!("/srv/{name}")}},
    });
    merge(&mut v, extra);
    serde_json::from_value(v).unwrap()
}

fn pvc(name: &str, size: &str, extra: Value) -> PersistentVolumeClaim {
    let mut c =
        json!({"metadata": {"name": name}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}});
    merge(&mut c, extra);
    serde_json::from_value(c).unwrap()
}

fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

fn volumes(c: &kube::Client) -> Api<PersistentVolume> {
    Api::all(c.clone())
}

fn claims(c: &kube::Client) -> Api<PersistentVolumeClaim> {
    Api::namespaced(c.clone(), "default")
}

async fn create_pv(c: &kube::Client, v: PersistentVolume) {
    volumes(c).create(&PostParams::default(), &v).await.expect("the volume is created");
}

async fn create_pvc(c: &kube::Client, claim: PersistentVolumeClaim) -> PersistentVolumeClaim {
    claims(c).create(&PostParams::default(), &claim).await.expect("the claim is created")
}

/// Waits for the claim to be Bound and answers it with its volume.
async fn bound(c: &kube::Client, claim: &str) -> (PersistentVolumeClaim, PersistentVolume) {
    let what = format!("claim {claim} Bound with its volume Bound");
    eventually(&what, LIMIT, || async {
        let claim = claims(c).get(claim).await.ok()?;
        let name = claim.spec.as_ref()?.volume_name.clone()?;
        let volume = volumes(c).get(&name).await.ok()?;
        let phase = |p: Option<&str>| p == Some("Bound");
        (phase(claim.status.as_ref()?.phase.as_deref()) && phase(volume.status.as_ref()?.phase.as_deref())).then_some((claim, volume))
    })
    .await
}

async fn events_of(c: &kube::Client, name: &str) -> Vec<Event> {
    let all = Api::<Event>::namespaced(c.clone(), "default").list(&ListParams::default()).await.expect("events");
    all.items.into_iter().filter(|e| e.involved_object.name.as_deref() == Some(name)).collect()
}

async fn has_event(c: &kube::Client, name: &str, reason: &str, message: &str) {
    until(&format!("{reason} event on {name}: {message}"), LIMIT, || async {
        events_of(c, name).await.iter().any(|e| e.reason.as_deref() == Some(reason) && e.message.as_deref() == Some(message))
    })
    .await;
}

fn annotation<'a>(meta: &'a kube::api::ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref().and_then(|a| a.get(key)).map(String::as_str)
}

#[tokio::test]
async fn a_claim_binds_to_the_smallest_matching_volume() {
    let (_t, c) = sandbox("").await;
    create_pv(&c, pv("big", "10Gi", &["ReadWriteOnce"], "manual", json!({}))).await;
    create_pv(&c, pv("small", "2Gi", &["ReadWriteOnce"], "manual", json!({}))).await;
    create_pv(&c, pv("tiny", "500Mi", &["ReadWriteOnce"], "manual", json!({}))).await;
    create_pv(&c, pv("shared", "1Gi", &["ReadWriteMany"], "manual", json!({}))).await;
    create_pv(&c, pv("other-class", "1Gi", &["ReadWriteOnce"], "fast", json!({}))).await;
    let claim = create_pvc(&c, pvc("data", "1Gi", json!({"spec": {"storageClassName": "manual"}}))).await;
    let (claim_now, volume) = bound(&c, "data").await;
    assert_eq!(volume.metadata.name.as_deref(), Some("small"));
    let r = volume.spec.as_ref().unwrap().claim_ref.as_ref().unwrap();
    assert_eq!(
        (r.name.as_deref(), r.namespace.as_deref(), r.uid.as_deref()),
        (Some("data"), Some("default"), claim.metadata.uid.as_deref())
    );
    assert_eq!(annotation(&volume.metadata, "pv.kubernetes.io/bound-by-controller"), Some("yes"));
    assert_eq!(annotation(&claim_now.metadata, "pv.kubernetes.io/bound-by-controller"), Some("yes"));
    assert_eq!(annotation(&claim_now.metadata, "pv.kubernetes.io/bind-completed"), Some("yes"));
    let status = claim_now.status.unwrap();
    assert_eq!(status.capacity.unwrap()["storage"].0, "2Gi");
    assert_eq!(status.access_modes.unwrap(), ["ReadWriteOnce"]);
    for name in ["big", "tiny", "shared", "other-class"] {
        let phase = || async { volumes(&c).get(name).await.ok()?.status?.phase };
        until(&format!("{name} Available"), LIMIT, || async { phase().await.as_deref() == Some("Available") }).await;
    }
}

#[tokio::test]
async fn pre_bound_volumes_and_claims_bind_to_each_other() {
    let (_t, c) = sandbox("").await;
    // By the claim's spec.volumeName: a bigger volume than needed, but the one asked for.
    create_pv(&c, pv("chosen", "8Gi", &["ReadWriteOnce"], "", json!({}))).await;
    create_pv(&c, pv("closer", "1Gi", &["ReadWriteOnce"], "", json!({}))).await;
    create_pvc(&c, pvc("named", "1Gi", json!({"spec": {"storageClassName": "", "volumeName": "chosen"}}))).await;
    let (claim, volume) = bound(&c, "named").await;
    assert_eq!(volume.metadata.name.as_deref(), Some("chosen"));
    assert_eq!(annotation(&claim.metadata, "pv.kubernetes.io/bound-by-controller"), None, "the user bound the claim");
    assert_eq!(annotation(&volume.metadata, "pv.kubernetes.io/bound-by-controller"), Some("yes"));
    // By the volume's claimRef: the volume waits, Available, for its claim.
    create_pv(&c, pv("reserved", "4Gi", &["ReadWriteOnce"], "", json!({"spec": {"claimRef": {"namespace": "default", "name": "mine"}}})))
        .await;
    until("reserved Available", LIMIT, || async {
        volumes(&c).get("reserved").await.ok().and_then(|v| v.status?.phase).as_deref() == Some("Available")
    })
    .await;
    create_pvc(&c, pvc("mine", "1Gi", json!({"spec": {"storageClassName": ""}}))).await;
    let (claim, volume) = bound(&c, "mine").await;
    assert_eq!(volume.metadata.name.as_deref(), Some("reserved"), "not the smaller free one");
    assert_eq!(annotation(&volume.metadata, "pv.kubernetes.io/bound-by-controller"), None, "the user bound the volume");
    assert_eq!(annotation(&claim.metadata, "pv.kubernetes.io/bound-by-controller"), Some("yes"));
    // A volume named by a claim that it cannot satisfy.
    create_pvc(&c, pvc("greedy", "5Gi", json!({"spec": {"storageClassName": "", "volumeName": "closer"}}))).await;
    has_event(&c, "greedy", "VolumeMismatch", "Cannot bind to requested volume \"closer\": requested PV is too small").await;
}

#[tokio::test]
async fn claims_get_the_default_class_and_the_protection_finalizer() {
    let (_t, c) = sandbox("").await;
    let defaulted = create_pvc(&c, pvc("plain", "1Gi", json!({}))).await;
    assert_eq!(defaulted.spec.unwrap().storage_class_name.as_deref(), Some("standard"));
    assert_eq!(defaulted.metadata.finalizers.unwrap(), ["kubernetes.io/pvc-protection"]);
    let empty = create_pvc(&c, pvc("none", "1Gi", json!({"spec": {"storageClassName": ""}}))).await;
    assert_eq!(empty.spec.unwrap().storage_class_name.as_deref(), Some(""), "an explicit empty class stays");
    has_event(&c, "none", "FailedBinding", "no persistent volumes available for this claim and no storage class is set").await;
    create_pvc(&c, pvc("lost-class", "1Gi", json!({"spec": {"storageClassName": "missing"}}))).await;
    has_event(&c, "lost-class", "ProvisioningFailed", "storageclass.storage.k8s.io \"missing\" not found").await;
    let volume = volumes(&c).create(&PostParams::default(), &pv("v", "1Gi", &["ReadWriteOnce"], "x", json!({}))).await.unwrap();
    assert_eq!(volume.metadata.finalizers.unwrap(), ["kubernetes.io/pv-protection"]);
    let class = Api::<k8s_openapi::api::storage::v1::StorageClass>::all(c.clone()).get("standard").await.expect("the default class");
    assert_eq!((class.provisioner.as_str(), class.reclaim_policy.as_deref()), ("kubelab.dev/hostpath", Some("Delete")));
    assert_eq!(class.volume_binding_mode.as_deref(), Some("Immediate"));
    assert_eq!(annotation(&class.metadata, "storageclass.kubernetes.io/is-default-class"), Some("true"));
}

#[tokio::test]
async fn a_provisioned_volume_lives_on_disk_across_restarts_and_goes_with_its_claim() {
    let (t, c) = sandbox("").await;
    let claim = create_pvc(&c, pvc("data", "3Gi", json!({}))).await;
    let uid = claim.metadata.uid.clone().unwrap();
    let name = format!("pvc-{uid}");
    let (claim_now, volume) = bound(&c, "data").await;
    assert_eq!(volume.metadata.name.as_deref(), Some(name.as_str()));
    assert_eq!(annotation(&claim_now.metadata, "volume.kubernetes.io/storage-provisioner"), Some("kubelab.dev/hostpath"));
    assert_eq!(annotation(&claim_now.metadata, "volume.beta.kubernetes.io/storage-provisioner"), Some("kubelab.dev/hostpath"));
    assert_eq!(annotation(&volume.metadata, "pv.kubernetes.io/provisioned-by"), Some("kubelab.dev/hostpath"));
    let spec = volume.spec.clone().unwrap();
    let dir = t.home().join("volumes").join(&name);
    assert_eq!(spec.host_path.unwrap().path, dir.to_string_lossy());
    assert_eq!(spec.capacity.unwrap()["storage"].0, "3Gi");
    assert_eq!((spec.persistent_volume_reclaim_policy.as_deref(), spec.storage_class_name.as_deref()), (Some("Delete"), Some("standard")));
    assert!(dir.is_dir(), "the volume's directory exists");
    std::fs::write(dir.join("kept"), "data").unwrap();
    let waiting = "Waiting for a volume to be created either by the external provisioner 'kubelab.dev/hostpath' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.";
    has_event(&c, "data", "ExternalProvisioning", waiting).await;
    has_event(&c, "data", "ProvisioningSucceeded", &format!("Successfully provisioned volume {name}")).await;

    // The same home again: the data and the binding are still there.
    let TestSandbox { sandbox: first, home } = t;
    first.stop();
    drop(first);
    let controllers = kubelab::sandbox::controllers::Selection::parse(VOLUME_LOOPS).unwrap();
    let again = kubelab::sandbox::Sandbox::start_with(home.path(), kubelab::sandbox::Options { controllers, ..Default::default() })
        .await
        .expect("the sandbox starts again");
    let c = again.client().await.unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("kept")).unwrap(), "data");
    let (_, volume) = bound(&c, "data").await;
    assert_eq!(volume.metadata.name.as_deref(), Some(name.as_str()));

    // Reclaim policy Delete: the claim goes, then the volume and its directory.
    claims(&c).delete("data", &DeleteParams::default()).await.unwrap();
    until("the provisioned volume deleted", LIMIT, || async { volumes(&c).get_opt(&name).await.unwrap().is_none() }).await;
    assert!(!Path::new(&dir).exists(), "the directory is removed");
}

#[tokio::test]
async fn a_retained_volume_is_released_and_a_bound_volume_is_protected() {
    let (_t, c) = sandbox("").await;
    create_pv(&c, pv("keep", "1Gi", &["ReadWriteOnce"], "manual", json!({}))).await;
    create_pvc(&c, pvc("data", "1Gi", json!({"spec": {"storageClassName": "manual"}}))).await;
    bound(&c, "data").await;
    // pv-protection: deleting a bound volume only marks it.
    volumes(&c).delete("keep", &DeleteParams::default()).await.unwrap();
    let marked = volumes(&c).get("keep").await.expect("a bound volume stays");
    assert!(marked.metadata.deletion_timestamp.is_some());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let still = volumes(&c).get("keep").await.expect("still there while bound");
    assert_eq!(still.status.unwrap().phase.as_deref(), Some("Bound"));
    // Retain: the claim goes, the volume is Released (and, being deleted, then goes).
    claims(&c).delete("data", &DeleteParams::default()).await.unwrap();
    until("keep released and gone", LIMIT, || async { volumes(&c).get_opt("keep").await.unwrap().is_none() }).await;

    create_pv(&c, pv("retained", "1Gi", &["ReadWriteOnce"], "manual", json!({}))).await;
    create_pvc(&c, pvc("second", "1Gi", json!({"spec": {"storageClassName": "manual"}}))).await;
    bound(&c, "second").await;
    claims(&c).delete("second", &DeleteParams::default()).await.unwrap();
    let released = eventually("retained Released", LIMIT, || async {
        let v = volumes(&c).get("retained").await.ok()?;
        (v.status.as_ref()?.phase.as_deref() == Some("Released")).then_some(v)
    })
    .await;
    let r = released.spec.unwrap().claim_ref.unwrap();
    assert_eq!(r.name.as_deref(), Some("second"), "a released volume keeps its claim reference");
    assert!(released.status.unwrap().last_phase_transition_time.is_some());
}

#[tokio::test]
async fn a_claim_in_use_waits_for_its_pod_and_a_pod_waits_for_its_claim() {
    let (_t, c) = sandbox("kubelet,scheduler,nodelifecycle").await;
    let pods: Api<Pod> = Api::namespaced(c.clone(), "default");
    let pod = |name: &str, claim: &str| -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "c", "image": "nginx", "volumeMounts": [{"name": "v", "mountPath": "/data"}]}],
                     "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": claim}}]}
        }))
        .unwrap()
    };
    let scheduled_message = |name: &'static str| {
        let pods = pods.clone();
        async move {
            let p = pods.get(name).await.ok()?;
            let c = p.status?.conditions?.into_iter().find(|c| c.type_ == "PodScheduled")?;
            (c.status == "False").then_some(c.message.unwrap_or_default())
        }
    };
    pods.create(&PostParams::default(), &pod("orphan", "nope")).await.unwrap();
    let msg = eventually("orphan unschedulable", LIMIT, || scheduled_message("orphan")).await;
    assert!(msg.starts_with("0/2 nodes are available: persistentvolumeclaim \"nope\" not found."), "{msg}");

    create_pvc(&c, pvc("later", "1Gi", json!({"spec": {"storageClassName": "manual"}}))).await;
    pods.create(&PostParams::default(), &pod("waiter", "later")).await.unwrap();
    let msg = eventually("waiter unschedulable", LIMIT, || scheduled_message("waiter")).await;
    assert_eq!(
        msg,
        "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    );
    // The volume appears, the claim binds, the pod is scheduled.
    create_pv(&c, pv("late", "1Gi", &["ReadWriteOnce"], "manual", json!({}))).await;
    bound(&c, "later").await;
    until("waiter scheduled", LIMIT, || async { pods.get("waiter").await.ok().and_then(|p| p.spec?.node_name).is_some() }).await;

    // pvc-protection: the claim the running pod uses stays Terminating until the pod goes.
    claims(&c).delete("later", &DeleteParams::default()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = claims(&c).get("later").await.expect("a used claim stays");
    assert!(held.metadata.deletion_timestamp.is_some());
    assert_eq!(held.metadata.finalizers.unwrap(), ["kubernetes.io/pvc-protection"]);
    pods.delete("waiter", &DeleteParams::default()).await.unwrap();
    until("the claim gone after its pod", LIMIT, || async { claims(&c).get_opt("later").await.unwrap().is_none() }).await;
}

/// The sandbox's server-side table for claims has only NAME and AGE so far: the columns
/// `kubectl get pvc` prints upstream, asked for explicitly.
const COLUMNS: &str = "custom-columns=NAME:.metadata.name,STATUS:.status.phase,VOLUME:.spec.volumeName,STORAGECLASS:.spec.storageClassName";

#[tokio::test]
async fn kubectl_shows_a_provisioned_claim_bound() {
    common::with_kubectl(|k: &Kubectl| {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pvc.yaml");
        std::fs::write(
            &file,
            "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: web-data\nspec:\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 1Gi\n",
        )
        .unwrap();
        k.ok(&["apply", "-f", file.to_str().unwrap()]);
        blocking_until("kubectl get pvc shows Bound", LIMIT, || {
            let out = k.ok(&["get", "pvc", "web-data", "-o", COLUMNS]);
            out.contains("Bound") && out.contains("pvc-") && out.contains("standard")
        });
        let out = k.ok(&["get", "pvc", "web-data", "-o", COLUMNS]);
        let claim = k.get_json(&["pvc", "web-data"]);
        let volume = claim["spec"]["volumeName"].as_str().unwrap().to_string();
        assert!(out.contains(&volume), "{out}");
        let pv = k.get_json(&["pv", &volume]);
        assert_eq!((pv["status"]["phase"].as_str(), pv["spec"]["claimRef"]["name"].as_str()), (Some("Bound"), Some("web-data")));
    })
    .await;
}
