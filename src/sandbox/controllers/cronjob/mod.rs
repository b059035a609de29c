//! The CronJob controller (`pkg/controller/cronjob/cronjob_controllerv2.go`): a Job from
//! `spec.jobTemplate` at each tick of `spec.schedule` in `spec.timeZone` (UTC when unset),
//! named `<cronjob>-<scheduled minutes since the epoch>` so a tick is never run twice.
//!
//! A sync first reconciles `status.active` with the Jobs it owns (a finished one is
//! `SawCompletedJob`), then looks for the most recent missed tick since
//! `lastScheduleTime`, honours `startingDeadlineSeconds` and `concurrencyPolicy`
//! (`Allow`, `Forbid`: skip while one runs, `Replace`: delete it first), creates the Job,
//! deletes finished Jobs beyond the history limits, and asks to be woken at the next tick.

pub mod schedule;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job, JobStatus};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::tz::TimeZone;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, PostParams, PropagationPolicy};

use self::schedule::{time_zone, Schedule};
use super::controller_ref::{controller_of, new_controller_ref};
use super::job::conditions::{COMPLETE, FAILED};
use super::pod_control::api_message;
use super::recorder::reference;
use super::replicaset::key_of;
use super::EventType;
use crate::machinery::delta_fifo::DeltaObject;
use crate::machinery::lister::Lister;
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::shared_informer::ResourceEventHandlerFuncs;

const LOOP: &str = "cronjob";
/// The annotation with the tick a Job was created for (RFC 3339 in the CronJob's zone).
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// Beyond this many missed ticks the controller warns (and still runs the latest).
const TOO_MANY_MISSED: usize = 100;
/// Woken this long after a tick, so the tick is in the past when the sync runs.
const NEXT_TICK_DELTA: Duration = Duration::from_millis(100);

/// The job name for a tick: `<cronjob>-<minutes since the epoch>` (`getJobName`).
pub fn job_name(cron_job: &str, scheduled: Timestamp) -> String {
    format!("{cron_job}-{}", scheduled.as_second() / 60)
}

/// What `getMostRecentScheduleTime` found between `earliest` and `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missed {
    /// The most recent tick not after `now`.
    pub latest: Option<Timestamp>,
    /// How many ticks were passed over.
    pub count: usize,
}

/// The ticks of `schedule` after `earliest` up to `now` (`getMostRecentScheduleTime`).
pub fn most_recent(schedule: &Schedule, tz: &TimeZone, earliest: Timestamp, now: Timestamp) -> Missed {
    let mut missed = Missed { latest: None, count: 0 };
    let mut t = earliest;
    // Bounded: a minute schedule missed for a year is ~500k ticks; stop well before.
    while let Some(next) = schedule.next(t, tz).filter(|n| *n <= now) {
        missed.latest = Some(next);
        missed.count += 1;
        t = next;
        if missed.count > 100_000 {
            break;
        }
    }
    missed
}

/// The finished condition of a job, if it has one.
fn finished(status: Option<&JobStatus>) -> Option<&'static str> {
    let conds = status?.conditions.as_ref()?;
    [COMPLETE, FAILED].into_iter().find(|t| conds.iter().any(|c| c.type_ == *t && c.status == "True"))
}

fn is_owned_by(job: &Job, cj: &CronJob) -> bool {
    controller_of(&job.metadata).is_some_and(|r| r.kind == "CronJob" && Some(&r.uid) == cj.metadata.uid.as_ref())
}

pub struct CronJobController {
    client: kube::Client,
    recorder: super::EventRecorder,
    decisions: super::Decisions,
    cron_jobs: Lister<CronJob>,
    jobs: Lister<Job>,
    queue: RateLimitingQueue<String>,
}

pub fn start(ctx: &super::Context) -> Result<(), super::StartError> {
    let queue = RateLimitingQueue::with_default_rate_limiter();
    let cj_informer = ctx.factory.informer_for::<CronJob>()?;
    let job_informer = ctx.factory.informer_for::<Job>()?;
    let (a, u) = (queue.clone(), queue.clone());
    cj_informer.add_named_event_handler(
        "cronjob-controller",
        ResourceEventHandlerFuncs::new()
            .on_add(move |cj: &Arc<CronJob>, _| a.add(key_of(&cj.metadata)))
            .on_update(move |_, cj: &Arc<CronJob>| u.add(key_of(&cj.metadata))),
    );
    let owner_key = |job: &Job| {
        let r = controller_of(&job.metadata).filter(|r| r.kind == "CronJob")?;
        Some(format!("{}/{}", job.metadata.namespace.as_deref().unwrap_or_default(), r.name))
    };
    let (a, u, d) = (queue.clone(), queue.clone(), queue.clone());
    job_informer.add_named_event_handler(
        "cronjob-controller",
        ResourceEventHandlerFuncs::new()
            .on_add(move |j: &Arc<Job>, _| {
                if let Some(k) = owner_key(j) {
                    a.add(k)
                }
            })
            .on_update(move |_, j: &Arc<Job>| {
                if let Some(k) = owner_key(j) {
                    u.add(k)
                }
            })
            .on_delete(move |j: &DeltaObject<Job>| {
                if let Some(k) = owner_key(j.object()) {
                    d.add(k)
                }
            }),
    );
    let controller = CronJobController {
        client: ctx.client("kube-controller-manager"),
        recorder: ctx.recorder("cronjob-controller", None),
        decisions: ctx.decisions.clone(),
        cron_jobs: cj_informer.lister(),
        jobs: job_informer.lister(),
        queue,
    };
    ctx.spawn_workers(Arc::new(controller), 5);
    Ok(())
}

impl super::Reconciler for CronJobController {
    fn queue(&self) -> &RateLimitingQueue<String> {
        &self.queue
    }

    async fn sync(&self, key: String) -> Result<Option<Duration>, kube::Error> {
        self.sync_cron_job(&key).await.map_err(|e| self.decisions.sync_failed(LOOP, &key, e))
    }
}

fn job_ref(job: &Job) -> ObjectReference {
    ObjectReference { field_path: None, ..reference(job) }
}

impl CronJobController {
    /// `sync` + `syncCronJob` + `cleanupFinishedJobs`.
    async fn sync_cron_job(&self, key: &str) -> Result<Option<Duration>, kube::Error> {
        let Some(cj) = self.cron_jobs.get(key) else { return Ok(None) };
        let ns = cj.metadata.namespace.clone().unwrap_or_default();
        let name = cj.metadata.name.clone().unwrap_or_default();
        let object = reference(&*cj);
        let job_api: Api<Job> = Api::namespaced(self.client.clone(), &ns);
        let owned: Vec<Arc<Job>> = self.jobs.namespaced(&ns).list_matching(|j| is_owned_by(j, &cj));
        let mut status = cj.status.clone().unwrap_or_default();
        let mut active: Vec<ObjectReference> = status.active.take().unwrap_or_default();

        // Reconcile `active` with the owned jobs.
        for j in &owned {
            let listed = active.iter().any(|r| r.uid == j.metadata.uid);
            match finished(j.status.as_ref()) {
                None if !listed => active.push(job_ref(j)),
                Some(cond) if listed => {
                    active.retain(|r| r.uid != j.metadata.uid);
                    let jname = j.metadata.name.clone().unwrap_or_default();
                    self.recorder.event(
                        &object,
                        EventType::Normal,
                        "SawCompletedJob",
                        format!("Saw completed job: {jname}, condition: {cond}"),
                    );
                    if cond == COMPLETE {
                        let done = j.status.as_ref().and_then(|s| s.completion_time.clone());
                        if done.as_ref().is_some_and(|d| status.last_successful_time.as_ref().is_none_or(|l| l.0 < d.0)) {
                            status.last_successful_time = done;
                        }
                    }
                }
                _ => {}
            }
        }
        let mut kept = Vec::new();
        for r in active {
            if owned.iter().any(|j| j.metadata.uid == r.uid) {
                kept.push(r);
                continue;
            }
            // Not in the cache: ask the API before forgetting it (the cache may lag).
            match job_api.get_opt(r.name.as_deref().unwrap_or_default()).await? {
                Some(j) if j.metadata.uid == r.uid && finished(j.status.as_ref()).is_none() => kept.push(r),
                _ => {}
            }
        }
        status.active = Some(kept);

        if cj.metadata.deletion_timestamp.is_some() {
            return self.write_status(&cj, status).await.map(|_| None);
        }
        let spec = cj.spec.clone().unwrap_or_default();
        let zone_name = spec.time_zone.clone();
        let Some(tz) = time_zone(zone_name.as_deref().unwrap_or("UTC")) else {
            let z = zone_name.unwrap_or_default();
            self.recorder.event(&object, EventType::Warning, "UnknownTimeZone", format!("invalid timeZone: {z:?}: unknown time zone {z}"));
            return self.write_status(&cj, status).await.map(|_| None);
        };
        let sched = match Schedule::parse(&spec.schedule) {
            Ok(s) => s,
            Err(e) => {
                self.recorder.event(
                    &object,
                    EventType::Warning,
                    "UnparseableSchedule",
                    format!("unparseable schedule: {:?} : {e}", spec.schedule),
                );
                return self.write_status(&cj, status).await.map(|_| None);
            }
        };
        let tz = sched.zone().and_then(time_zone).unwrap_or(tz);
        let now = Timestamp::now();
        let until_next = |now: Timestamp| sched.next(now, &tz).map(|n| n.duration_since(now).unsigned_abs() + NEXT_TICK_DELTA);
        if spec.suspend == Some(true) {
            self.cleanup(&cj, &owned, &status).await?;
            self.write_status(&cj, status).await?;
            return Ok(None);
        }
        let mut earliest = status.last_schedule_time.as_ref().or(cj.metadata.creation_timestamp.as_ref()).map(|t| t.0).unwrap_or(now);
        if let Some(deadline) = spec.starting_deadline_seconds {
            let floor = now - Duration::from_secs(u64::try_from(deadline).unwrap_or(0));
            earliest = earliest.max(floor);
        }
        let missed = most_recent(&sched, &tz, earliest, now);
        if missed.count > TOO_MANY_MISSED {
            self.recorder.event(
                &object,
                EventType::Warning,
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
            );
        }
        let Some(scheduled) = missed.latest else {
            self.cleanup(&cj, &owned, &status).await?;
            self.write_status(&cj, status).await?;
            return Ok(until_next(now));
        };
        let too_late = spec.starting_deadline_seconds.is_some_and(|d| scheduled + Duration::from_secs(u64::try_from(d).unwrap_or(0)) < now);
        if too_late {
            let at = scheduled.strftime("%a, %d %b %Y %H:%M:%S %z");
            self.recorder.event(&object, EventType::Normal, "MissSchedule", format!("Missed scheduled time to start a job: {at}"));
            self.write_status(&cj, status).await?;
            return Ok(until_next(now));
        }
        let jname = job_name(&name, scheduled);
        let mut active = status.active.clone().unwrap_or_default();
        if active.iter().any(|r| r.name.as_deref() == Some(jname.as_str()))
            || status.last_schedule_time.as_ref().is_some_and(|t| t.0 >= scheduled)
        {
            self.write_status(&cj, status).await?;
            return Ok(until_next(now));
        }
        match spec.concurrency_policy.as_deref() {
            Some("Forbid") if !active.is_empty() => {
                self.recorder.event(
                    &object,
                    EventType::Normal,
                    "JobAlreadyActive",
                    "Not starting job because prior execution is running and concurrency policy is Forbid",
                );
                self.write_status(&cj, status).await?;
                return Ok(until_next(now));
            }
            Some("Replace") => {
                for r in std::mem::take(&mut active) {
                    let rname = r.name.clone().unwrap_or_default();
                    let params = DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..Default::default() };
                    match job_api.delete(&rname, &params).await {
                        Ok(_) | Err(kube::Error::Api(_)) => {
                            self.recorder.event(&object, EventType::Normal, "SuccessfulDelete", format!("Deleted job {rname}"));
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            _ => {}
        }
        let job = self.job_for(&cj, &jname, scheduled, &tz);
        let created = match job_api.create(&PostParams::default(), &job).await {
            Ok(j) => {
                self.recorder.event(&object, EventType::Normal, "SuccessfulCreate", format!("Created job {jname}"));
                self.decisions.say(LOOP, key, &format!("created job {jname} for {scheduled}"));
                j
            }
            Err(kube::Error::Api(s)) if s.code == 409 => match job_api.get_opt(&jname).await? {
                // Made by an earlier sync whose status write was lost.
                Some(j) if is_owned_by(&j, &cj) => j,
                _ => {
                    self.write_status(&cj, status).await?;
                    return Ok(until_next(now));
                }
            },
            Err(e) => {
                self.recorder.event(&object, EventType::Warning, "FailedCreate", format!("Error creating job: {}", api_message(&e)));
                return Err(e);
            }
        };
        active.push(job_ref(&created));
        status.active = Some(active);
        status.last_schedule_time = Some(Time(scheduled));
        self.cleanup(&cj, &owned, &status).await?;
        self.write_status(&cj, status).await?;
        Ok(until_next(now))
    }

    /// `getJobFromTemplate2`: the template's labels, annotations and spec, the tick in an
    /// annotation, controlled by the CronJob.
    fn job_for(&self, cj: &CronJob, name: &str, scheduled: Timestamp, tz: &TimeZone) -> Job {
        let template = cj.spec.as_ref().map(|s| s.job_template.clone()).unwrap_or_default();
        let mut job = Job { spec: template.spec, ..Default::default() };
        let meta = template.metadata.unwrap_or_default();
        job.metadata.labels = meta.labels;
        let mut annotations = meta.annotations.unwrap_or_default();
        let local = scheduled.to_zoned(tz.clone());
        annotations.insert(SCHEDULED_TIMESTAMP.into(), local.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string().replace("+00:00", "Z"));
        job.metadata.annotations = Some(annotations);
        job.metadata.name = Some(name.to_string());
        job.metadata.namespace = cj.metadata.namespace.clone();
        job.metadata.owner_references = Some(vec![new_controller_ref(cj)]);
        job
    }

    /// `cleanupFinishedJobs`: the oldest finished Jobs beyond the history limits go.
    async fn cleanup(&self, cj: &CronJob, owned: &[Arc<Job>], status: &CronJobStatus) -> Result<(), kube::Error> {
        let spec = cj.spec.clone().unwrap_or_default();
        let ns = cj.metadata.namespace.clone().unwrap_or_default();
        let api: Api<Job> = Api::namespaced(self.client.clone(), &ns);
        let object = reference(cj);
        let active = status.active.clone().unwrap_or_default();
        for (cond, limit) in [(COMPLETE, spec.successful_jobs_history_limit), (FAILED, spec.failed_jobs_history_limit)] {
            let Some(limit) = limit else { continue };
            let mut done: Vec<&Arc<Job>> = owned
                .iter()
                .filter(|j| finished(j.status.as_ref()) == Some(cond) && !active.iter().any(|r| r.uid == j.metadata.uid))
                .filter(|j| j.metadata.deletion_timestamp.is_none())
                .collect();
            let limit = usize::try_from(limit).unwrap_or(0);
            if done.len() <= limit {
                continue;
            }
            // Oldest first, by start time (then creation).
            done.sort_by_key(|j| {
                (j.status.as_ref().and_then(|s| s.start_time.clone()).map(|t| t.0), j.metadata.creation_timestamp.clone().map(|t| t.0))
            });
            let excess = done.len() - limit;
            for j in done.into_iter().take(excess) {
                let jname = j.metadata.name.clone().unwrap_or_default();
                let params = DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..Default::default() };
                match api.delete(&jname, &params).await {
                    Ok(_) => self.recorder.event(&object, EventType::Normal, "SuccessfulDelete", format!("Deleted job {jname}")),
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Writes a changed status.
    async fn write_status(&self, cj: &CronJob, mut status: CronJobStatus) -> Result<(), kube::Error> {
        if status.active.as_ref().is_some_and(Vec::is_empty) {
            status.active = None;
        }
        if cj.status.clone().unwrap_or_default() == status {
            return Ok(());
        }
        let mut next = cj.clone();
        next.status = Some(status);
        let api: Api<CronJob> = Api::namespaced(self.client.clone(), cj.metadata.namespace.as_deref().unwrap_or_default());
        api.replace_status(cj.metadata.name.as_deref().unwrap_or_default(), &PostParams::default(), &next).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn most_recent_missed_tick() {
        let every_minute = Schedule::parse("*/1 * * * *").unwrap();
        let hourly = Schedule::parse("@hourly").unwrap();
        let cases: &[(&Schedule, &str, &str, Option<&str>, usize)] = &[
            (&every_minute, "2026-12-07T15:00:30Z", "2026-12-07T15:00:59Z", None, 0),
            (&every_minute, "2026-12-07T15:00:30Z", "2026-12-07T15:01:00Z", Some("2026-12-07T15:01:00Z"), 1),
            (&every_minute, "2026-12-07T15:00:00Z", "2026-12-07T15:05:10Z", Some("2026-12-07T15:05:00Z"), 5),
            (&hourly, "2026-12-07T15:00:00Z", "2026-12-07T15:59:00Z", None, 0),
            (&hourly, "2026-12-07T10:10:00Z", "2026-12-07T15:01:00Z", Some("2026-12-07T15:00:00Z"), 5),
        ];
        for (s, earliest, now, want, count) in cases {
            let m = most_recent(s, &TimeZone::UTC, at(earliest), at(now));
            assert_eq!(m, Missed { latest: want.map(at), count: *count }, "{earliest} .. {now}");
        }
    }

    #[test]
    fn job_names_count_minutes() {
        assert_eq!(job_name("hello", at("2026-12-07T15:07:00Z")), format!("hello-{}", at("2026-12-07T15:07:00Z").as_second() / 60));
        assert_eq!(job_name("hello", at("1970-01-01T01:00:00Z")), "hello-60");
    }
}
