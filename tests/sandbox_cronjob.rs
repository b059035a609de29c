//! The CronJob controller against an in-process sandbox: a `*/1 * * * *` CronJob creates
//! its Job at the next minute, named after the tick and annotated with it; the apiserver
//! refuses a `TZ=` schedule. (The schedule maths are unit-tested with a fixed clock.)

mod common;
use common::poll::eventually;

use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

fn cron_job(name: &str, schedule: &str) -> CronJob {
    serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
        "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}}}}}
    }))
    .unwrap()
}

#[tokio::test]
async fn a_minutely_cron_job_creates_its_job_at_the_next_tick() {
    let t = common::TestSandbox::with_controllers("cronjob,job,nodelifecycle,scheduler,kubelet").await;
    let client = t.sandbox.client().await.unwrap();
    let cjs: Api<CronJob> = Api::namespaced(client.clone(), "default");
    let created = cjs.create(&PostParams::default(), &cron_job("hello", "*/1 * * * *")).await.unwrap();
    assert_eq!(created.spec.as_ref().unwrap().concurrency_policy.as_deref(), Some("Allow"));
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let job = eventually("the first job of the cron job", Duration::from_secs(70), || {
        let jobs = jobs.clone();
        async move { jobs.list(&ListParams::default()).await.ok()?.items.into_iter().next() }
    })
    .await;
    let name = job.metadata.name.clone().unwrap();
    let stamp = job.metadata.annotations.as_ref().unwrap()["batch.kubernetes.io/cronjob-scheduled-timestamp"].clone();
    let at: k8s_openapi::jiff::Timestamp = stamp.parse().unwrap();
    assert_eq!(name, format!("hello-{}", at.as_second() / 60));
    assert_eq!(job.metadata.owner_references.as_ref().unwrap()[0].kind, "CronJob");
    let cj = eventually("lastScheduleTime", Duration::from_secs(10), || {
        let cjs = cjs.clone();
        async move { cjs.get("hello").await.ok().filter(|c| c.status.as_ref().is_some_and(|s| s.last_schedule_time.is_some())) }
    })
    .await;
    assert_eq!(cj.status.unwrap().last_schedule_time.unwrap().0, at);
}

#[tokio::test]
async fn the_apiserver_refuses_a_tz_schedule() {
    let t = common::TestSandbox::api_server_only().await;
    let client = t.sandbox.client().await.unwrap();
    let cjs: Api<CronJob> = Api::namespaced(client.clone(), "default");
    let kube::Error::Api(s) = cjs.create(&PostParams::default(), &cron_job("tz", "TZ=UTC 0 * * * *")).await.unwrap_err() else {
        panic!("an API error")
    };
    assert_eq!(s.code, 422);
    assert!(s.message.contains("cannot use TZ or CRON_TZ in schedule, use timeZone field instead"), "{}", s.message);
}
