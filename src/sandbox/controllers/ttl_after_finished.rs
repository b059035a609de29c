//! The TTL-after-finished controller (`pkg/controller/ttlafterfinished`): a finished Job
//! with `spec.ttlSecondsAfterFinished` is deleted that many seconds after its `Complete`
//! or `Failed` condition became true, with its pods (foreground propagation, as upstream,
//! so the Job is seen to go only once its pods are gone).
//!
//! The cached Job may be stale, so before deleting, a fresh read checks the TTL again,
//! and the delete is conditional on the uid that read saw.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Preconditions, PropagationPolicy};

use super::job::conditions::{COMPLETE, FAILED};
use super::replicaset::key_of;
use crate::machinery::lister::Lister;
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::shared_informer::ResourceEventHandlerFuncs;

const LOOP: &str = "ttl-after-finished";

pub struct TtlAfterFinished {
    client: kube::Client,
    decisions: super::Decisions,
    jobs: Lister<Job>,
    queue: RateLimitingQueue<String>,
}

/// Whether the job needs cleaning up at all: it has a TTL and is not being deleted.
fn needs_cleanup(job: &Job) -> bool {
    job.metadata.deletion_timestamp.is_none() && job.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished).is_some()
}

/// When the job finished: the transition time of its terminal condition.
fn finished_at(job: &Job) -> Option<Timestamp> {
    let conds = job.status.as_ref()?.conditions.as_ref()?;
    conds.iter().find(|c| (c.type_ == COMPLETE || c.type_ == FAILED) && c.status == "True")?.last_transition_time.as_ref().map(|t| t.0)
}

/// `timeLeft`: `None` when the job is not (yet) subject to cleanup, zero once expired.
pub fn time_left(job: &Job, now: Timestamp) -> Option<Duration> {
    if !needs_cleanup(job) {
        return None;
    }
    let ttl = job.spec.as_ref()?.ttl_seconds_after_finished?;
    let expires = finished_at(job)? + Duration::from_secs(u64::try_from(ttl).unwrap_or(0));
    Some(expires.duration_since(now).try_into().unwrap_or(Duration::ZERO))
}

pub fn start(ctx: &super::Context) -> Result<(), super::StartError> {
    let queue = RateLimitingQueue::with_default_rate_limiter();
    let informer = ctx.factory.informer_for::<Job>()?;
    let (a, u) = (queue.clone(), queue.clone());
    let enqueue = |q: &RateLimitingQueue<String>, job: &Job| {
        if needs_cleanup(job) {
            q.add(key_of(&job.metadata));
        }
    };
    informer.add_named_event_handler(
        "ttlafterfinished-controller",
        ResourceEventHandlerFuncs::new().on_add(move |j: &Arc<Job>, _| enqueue(&a, j)).on_update(move |_, j: &Arc<Job>| enqueue(&u, j)),
    );
    let controller = TtlAfterFinished {
        client: ctx.client("kube-controller-manager"),
        decisions: ctx.decisions.clone(),
        jobs: informer.lister(),
        queue,
    };
    ctx.spawn_workers(Arc::new(controller), 5);
    Ok(())
}

impl super::Reconciler for TtlAfterFinished {
    fn queue(&self) -> &RateLimitingQueue<String> {
        &self.queue
    }

    /// `processJob`.
    async fn sync(&self, key: String) -> Result<Option<Duration>, kube::Error> {
        let Some(job) = self.jobs.get(&key) else { return Ok(None) };
        match time_left(&job, Timestamp::now()) {
            None => return Ok(None),
            Some(left) if !left.is_zero() => return Ok(Some(left)),
            Some(_) => {}
        }
        let (ns, name) = key.split_once('/').unwrap_or(("", &key));
        let api: Api<Job> = Api::namespaced(self.client.clone(), ns);
        let fresh = match api.get(name).await {
            Ok(j) => j,
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(None),
            Err(e) => return Err(e),
        };
        match time_left(&fresh, Timestamp::now()) {
            None => return Ok(None),
            Some(left) if !left.is_zero() => return Ok(Some(left)),
            Some(_) => {}
        }
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Foreground),
            preconditions: Some(Preconditions { uid: fresh.metadata.uid.clone(), resource_version: None }),
            ..Default::default()
        };
        match api.delete(name, &params).await {
            Ok(_) => {
                self.decisions.say(LOOP, &key, "TTL after finished expired: deleting the job");
                Ok(None)
            }
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_counts_from_the_terminal_condition() {
        let job = |ttl: Option<i32>, finished: Option<&str>| -> Job {
            let conds: Vec<serde_json::Value> =
                finished.map(|t| serde_json::json!({"type": "Complete", "status": "True", "lastTransitionTime": t})).into_iter().collect();
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "j"}, "spec": {"ttlSecondsAfterFinished": ttl, "template": {}}, "status": {"conditions": conds}
            }))
            .unwrap()
        };
        let now: Timestamp = "2026-12-07T15:00:10Z".parse().unwrap();
        let cases = [
            (None, Some("2026-12-07T15:00:00Z"), None),
            (Some(30), None, None),
            (Some(30), Some("2026-12-07T15:00:00Z"), Some(Duration::from_secs(20))),
            (Some(5), Some("2026-12-07T15:00:00Z"), Some(Duration::ZERO)),
            (Some(0), Some("2026-12-07T15:00:10Z"), Some(Duration::ZERO)),
        ];
        for (ttl, finished, want) in cases {
            assert_eq!(time_left(&job(ttl, finished), now), want, "{ttl:?} {finished:?}");
        }
    }
}
