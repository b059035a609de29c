//! Core `v1` and `events.k8s.io/v1` Events are one storage: what kube-rs' `Recorder` publishes
//! (events.k8s.io) is what `kubectl describe pod` and core clients read, and a core event is
//! listed and watched through events.k8s.io, each side in its own representation.

mod common;

use std::time::Duration;

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::{Event as CoreEvent, Pod};
use k8s_openapi::api::events::v1::Event as EventsV1Event;
use kube::api::{Api, DeleteParams, ListParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource};
use serde_json::json;

const CONTROLLER: &str = "kubelab.dev/test-controller";

async fn create_pod(client: &Client, name: &str) -> Pod {
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}
    }))
    .unwrap();
    Api::<Pod>::namespaced(client.clone(), "default").create(&PostParams::default(), &pod).await.unwrap()
}

/// Publishes "Synced" about `pod` as a controller would.
async fn publish_synced(client: &Client, pod: &Pod) {
    let reporter = Reporter { controller: CONTROLLER.into(), instance: Some("test-1".into()) };
    let recorder = Recorder::new(client.clone(), reporter);
    let event = Event {
        type_: EventType::Normal,
        reason: "Synced".into(),
        note: Some("pod is in sync".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    let reference = pod.object_ref(&());
    recorder.publish(&event, &reference).await.unwrap();
    // The same event again: the Recorder merge-patches a series onto the first one.
    recorder.publish(&event, &reference).await.unwrap();
}

#[tokio::test]
async fn a_recorder_event_is_a_core_event() {
    let t = common::TestSandbox::start().await;
    let client = t.sandbox.client().await.unwrap();
    let pod = create_pod(&client, "web").await;
    publish_synced(&client, &pod).await;

    let core: Api<CoreEvent> = Api::namespaced(client.clone(), "default");
    let listed = core.list(&ListParams::default().fields("involvedObject.name=web,reason=Synced")).await.unwrap();
    assert_eq!(listed.items.len(), 1, "one event, its repetition counted in a series");
    let e = &listed.items[0];
    assert_eq!(e.message.as_deref(), Some("pod is in sync"));
    assert_eq!(e.reason.as_deref(), Some("Synced"));
    assert_eq!(e.action.as_deref(), Some("Reconcile"));
    assert_eq!(e.reporting_component.as_deref(), Some(CONTROLLER));
    assert_eq!(e.reporting_instance.as_deref(), Some("test-1"));
    assert_eq!(e.involved_object.kind.as_deref(), Some("Pod"));
    assert_eq!(e.involved_object.uid, pod.metadata.uid);
    assert_eq!(e.series.as_ref().and_then(|s| s.count), Some(2));
    assert!(e.event_time.is_some());

    // The same object through events.k8s.io, selected by that API's field names.
    let new_api: Api<EventsV1Event> = Api::namespaced(client.clone(), "default");
    let listed =
        new_api.list(&ListParams::default().fields("regarding.name=web,reportingController=kubelab.dev/test-controller")).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    let e = &listed.items[0];
    assert_eq!(e.note.as_deref(), Some("pod is in sync"));
    assert_eq!(e.reporting_controller.as_deref(), Some(CONTROLLER));
    assert_eq!(e.series.as_ref().map(|s| s.count), Some(2));
    let managers = e.metadata.managed_fields.as_ref().unwrap();
    assert!(managers.iter().all(|m| m.api_version.as_deref() == Some("events.k8s.io/v1")), "{managers:?}");

    // The core spelling of a field is not an events.k8s.io field.
    match new_api.list(&ListParams::default().fields("involvedObject.name=web")).await.unwrap_err() {
        kube::Error::Api(s) => assert_eq!((s.code, s.message.as_str()), (400, "field label not supported: involvedObject.name")),
        other => panic!("expected a Status, got {other:?}"),
    }
}

#[tokio::test]
async fn a_core_event_is_listed_and_watched_through_events_k8s_io() {
    let t = common::TestSandbox::start().await;
    let client = t.sandbox.client().await.unwrap();
    let core: Api<CoreEvent> = Api::namespaced(client.clone(), "default");
    let new_api: Api<EventsV1Event> = Api::namespaced(client.clone(), "default");
    let legacy = |name: &str, message: &str| -> CoreEvent {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
            "reason": "Tested", "message": message, "source": {"component": "kubelab"}, "count": 1, "type": "Normal"
        }))
        .unwrap()
    };
    core.create(&PostParams::default(), &legacy("e1", "hello")).await.unwrap();

    let listed = new_api.list(&ListParams::default()).await.unwrap();
    let e = listed.items.iter().find(|e| e.metadata.name.as_deref() == Some("e1")).expect("e1 is listed through events.k8s.io");
    assert_eq!(e.note.as_deref(), Some("hello"));
    assert_eq!(e.regarding.as_ref().and_then(|r| r.name.as_deref()), Some("p"));
    assert_eq!(e.deprecated_count, Some(1));
    assert_eq!(e.deprecated_source.as_ref().and_then(|s| s.component.as_deref()), Some("kubelab"));
    assert_eq!(new_api.get("e1").await.unwrap().note.as_deref(), Some("hello"));

    // Changes made through core are seen by an events.k8s.io watch, as events.k8s.io objects.
    let rv = listed.metadata.resource_version.unwrap();
    let watch = new_api.watch(&WatchParams::default().fields("regarding.name=p").timeout(3), &rv).await.unwrap();
    core.create(&PostParams::default(), &legacy("e2", "again")).await.unwrap();
    core.delete("e1", &DeleteParams::default()).await.unwrap();
    let seen: Vec<String> = tokio::time::timeout(Duration::from_secs(10), watch.try_collect::<Vec<_>>())
        .await
        .unwrap()
        .unwrap()
        .into_iter()
        .filter_map(|e| match e {
            WatchEvent::Added(e) => Some(format!("ADDED {} {}", e.metadata.name.unwrap(), e.note.unwrap_or_default())),
            WatchEvent::Deleted(e) => Some(format!("DELETED {} {}", e.metadata.name.unwrap(), e.note.unwrap_or_default())),
            WatchEvent::Modified(e) => Some(format!("MODIFIED {}", e.metadata.name.unwrap())),
            WatchEvent::Bookmark(_) => None,
            WatchEvent::Error(e) => panic!("watch error {e:?}"),
        })
        .collect();
    assert_eq!(seen, ["ADDED e2 again", "DELETED e1 hello"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_describe_shows_a_recorder_event() {
    let t = common::TestSandbox::start().await;
    let client = t.sandbox.client().await.unwrap();
    let pod = create_pod(&client, "described").await;
    publish_synced(&client, &pod).await;

    let kubeconfig = t.kubeconfig();
    let kubectl_home = tempfile::tempdir().unwrap();
    let home = kubectl_home.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("kubectl")
            .args(["describe", "pod", "described"])
            .env("KUBECONFIG", kubeconfig)
            .env("HOME", home)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .output()
            .expect("kubectl runs")
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let described = String::from_utf8(out.stdout).unwrap();
    let events = described.split("Events:").nth(1).unwrap_or_default();
    let line = events.lines().find(|l| l.contains("Synced")).unwrap_or_else(|| panic!("no Synced event in:\n{described}"));
    assert!(line.contains("Normal") && line.contains(CONTROLLER) && line.contains("pod is in sync"), "{line}");
}
