//! The Job controller against an in-process sandbox with the scheduler and kubelets:
//! `true` completes, `false` exhausts the backoff limit, parallel and Indexed jobs count
//! their pods, a suspended job runs nothing, a finished job with a TTL is deleted, and a
//! real kubectl can `create job` and `wait --for=condition=complete`.

mod common;
use common::poll::{blocking_until, eventually, until};

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(20);

fn job(name: &str, command: &str, spec: Value) -> Job {
    let mut s =
        json!({"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox", "command": [command]}]}}});
    if let (Some(s), Some(extra)) = (s.as_object_mut(), spec.as_object()) {
        s.extend(extra.clone());
    }
    serde_json::from_value(json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": s})).unwrap()
}

async fn sandbox(controllers: &str) -> (common::TestSandbox, Client) {
    let t = common::TestSandbox::with_controllers(controllers).await;
    let client = t.sandbox.client().await.unwrap();
    (t, client)
}

/// The job once its condition `type_` is true.
async fn until_condition(client: &Client, name: &str, type_: &str, limit: Duration) -> Job {
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    eventually(&format!("job {name} {type_}"), limit, || {
        let jobs = jobs.clone();
        async move {
            let j = jobs.get(name).await.ok()?;
            let conds = j.status.as_ref()?.conditions.clone()?;
            conds.iter().any(|c| c.type_ == type_ && c.status == "True").then_some(j)
        }
    })
    .await
}

fn condition_types(job: &Job) -> Vec<String> {
    job.status.iter().flat_map(|s| s.conditions.iter().flatten()).filter(|c| c.status == "True").map(|c| c.type_.clone()).collect()
}

async fn pods_of(client: &Client, job: &str) -> Vec<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.list(&ListParams::default().labels(&format!("batch.kubernetes.io/job-name={job}"))).await.unwrap().items
}

async fn reasons(client: &Client, name: &str) -> Vec<(String, String)> {
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let list = events.list(&ListParams::default().fields(&format!("involvedObject.name={name}"))).await.unwrap().items;
    list.into_iter().map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default())).collect()
}

#[tokio::test]
async fn a_true_job_completes_and_its_pod_is_released() {
    let (_t, client) = sandbox("job,nodelifecycle,scheduler,kubelet").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let created = jobs.create(&PostParams::default(), &job("ok", "true", json!({}))).await.unwrap();
    let uid = created.metadata.uid.clone().unwrap();
    assert_eq!(
        created.spec.as_ref().unwrap().selector.as_ref().unwrap().match_labels.as_ref().unwrap()["batch.kubernetes.io/controller-uid"],
        uid
    );
    let done = until_condition(&client, "ok", "Complete", LIMIT).await;
    let st = done.status.clone().unwrap();
    assert_eq!((st.succeeded, st.failed, st.active), (Some(1), Some(0), Some(0)));
    assert!(st.start_time.is_some() && st.completion_time.is_some());
    assert_eq!(condition_types(&done), vec!["SuccessCriteriaMet", "Complete"]);
    let pods = pods_of(&client, "ok").await;
    assert_eq!(pods.len(), 1);
    let pod = &pods[0];
    assert!(pod.metadata.name.as_ref().unwrap().starts_with("ok-"));
    assert_eq!(pod.metadata.labels.as_ref().unwrap()["controller-uid"], uid);
    assert_eq!(pod.status.as_ref().unwrap().phase.as_deref(), Some("Succeeded"));
    until("the tracking finalizer to be removed", LIMIT, || {
        let client = client.clone();
        async move { pods_of(&client, "ok").await.iter().all(|p| p.metadata.finalizers.as_ref().is_none_or(|f| f.is_empty())) }
    })
    .await;
    let seen = reasons(&client, "ok").await;
    let pod_name = pod.metadata.name.clone().unwrap();
    assert!(seen.contains(&("SuccessfulCreate".into(), format!("Created pod: {pod_name}"))), "{seen:?}");
    until("the Completed event", LIMIT, || {
        let client = client.clone();
        async move { reasons(&client, "ok").await.contains(&("Completed".into(), "Job completed".into())) }
    })
    .await;
}

#[tokio::test]
async fn a_false_job_reaches_its_backoff_limit() {
    let (_t, client) = sandbox("job,nodelifecycle,scheduler,kubelet").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    jobs.create(&PostParams::default(), &job("bad", "false", json!({"backoffLimit": 1}))).await.unwrap();
    // The second pod starts after the 10 s failure backoff.
    let failed = until_condition(&client, "bad", "Failed", Duration::from_secs(40)).await;
    let st = failed.status.clone().unwrap();
    assert_eq!((st.failed, st.succeeded, st.active), (Some(2), Some(0), Some(0)));
    assert_eq!(condition_types(&failed), vec!["FailureTarget", "Failed"]);
    let cond = st.conditions.unwrap().into_iter().find(|c| c.type_ == "Failed").unwrap();
    assert_eq!(cond.reason.as_deref(), Some("BackoffLimitExceeded"));
    assert_eq!(cond.message.as_deref(), Some("Job has reached the specified backoff limit"));
    assert_eq!(pods_of(&client, "bad").await.len(), 2);
    until("the BackoffLimitExceeded event", LIMIT, || {
        let client = client.clone();
        async move { reasons(&client, "bad").await.iter().any(|(r, _)| r == "BackoffLimitExceeded") }
    })
    .await;
}

#[tokio::test]
async fn parallel_and_indexed_jobs_count_their_pods() {
    let (_t, client) = sandbox("job,nodelifecycle,scheduler,kubelet").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    jobs.create(&PostParams::default(), &job("par", "true", json!({"completions": 4, "parallelism": 2}))).await.unwrap();
    jobs.create(&PostParams::default(), &job("idx", "true", json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed"})))
        .await
        .unwrap();
    let par = until_condition(&client, "par", "Complete", LIMIT).await;
    assert_eq!(par.status.as_ref().unwrap().succeeded, Some(4));
    assert_eq!(pods_of(&client, "par").await.len(), 4);
    let idx = until_condition(&client, "idx", "Complete", LIMIT).await;
    assert_eq!(idx.status.as_ref().unwrap().completed_indexes.as_deref(), Some("0-2"));
    assert_eq!(idx.status.as_ref().unwrap().succeeded, Some(3));
    let mut indexes: Vec<String> = pods_of(&client, "idx")
        .await
        .iter()
        .map(|p| p.metadata.annotations.as_ref().unwrap()["batch.kubernetes.io/job-completion-index"].clone())
        .collect();
    indexes.sort();
    assert_eq!(indexes, vec!["0", "1", "2"]);
}

#[tokio::test]
async fn a_suspended_job_runs_nothing_until_resumed() {
    let (_t, client) = sandbox("job,nodelifecycle,scheduler,kubelet").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    jobs.create(&PostParams::default(), &job("later", "true", json!({"suspend": true}))).await.unwrap();
    let suspended = until_condition(&client, "later", "Suspended", LIMIT).await;
    assert_eq!(suspended.status.as_ref().unwrap().active, Some(0));
    assert!(pods_of(&client, "later").await.is_empty());
    jobs.patch("later", &PatchParams::default(), &Patch::Merge(json!({"spec": {"suspend": false}}))).await.unwrap();
    let done = until_condition(&client, "later", "Complete", LIMIT).await;
    let resumed = done.status.unwrap().conditions.unwrap().into_iter().find(|c| c.type_ == "Suspended").unwrap();
    assert_eq!((resumed.status.as_str(), resumed.reason.as_deref()), ("False", Some("JobResumed")));
}

#[tokio::test]
async fn a_finished_job_with_a_ttl_is_deleted() {
    let (_t, client) = sandbox("job,ttl-after-finished,nodelifecycle,scheduler,kubelet,garbagecollector").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    jobs.create(&PostParams::default(), &job("brief", "true", json!({"ttlSecondsAfterFinished": 1}))).await.unwrap();
    until_condition(&client, "brief", "Complete", LIMIT).await;
    until("the job and its pod to be deleted", LIMIT, || {
        let (jobs, client) = (jobs.clone(), client.clone());
        async move { jobs.get_opt("brief").await.unwrap().is_none() && pods_of(&client, "brief").await.is_empty() }
    })
    .await;
}

#[tokio::test]
async fn the_apiserver_refuses_a_job_whose_pods_restart_forever() {
    let (_t, client) = sandbox("").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let mut j = job("forever", "true", json!({}));
    j.spec.as_mut().unwrap().template.spec.as_mut().unwrap().restart_policy = Some("Always".into());
    let err = jobs.create(&PostParams::default(), &j).await.unwrap_err();
    let kube::Error::Api(s) = err else { panic!("an API error") };
    assert_eq!(s.code, 422);
    assert_eq!(
        s.message,
        "Job.batch \"forever\" is invalid: spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""
    );
}

#[tokio::test]
async fn kubectl_create_job_then_wait_for_complete() {
    common::with_kubectl(|k| {
        k.ok(&["create", "job", "pi", "--image=busybox", "--", "true"]);
        let out = k.ok(&["wait", "--for=condition=complete", "job/pi", "--timeout=30s"]);
        assert_eq!(out.trim(), "job.batch/pi condition met");
        let j = k.get_json(&["job", "pi"]);
        assert_eq!(j["status"]["succeeded"], 1);
        assert_eq!(j["spec"]["template"]["spec"]["restartPolicy"], "Never");
        blocking_until("kubectl to show the job Complete", LIMIT, || k.ok(&["get", "job", "pi"]).contains("Complete"));
    })
    .await;
}
