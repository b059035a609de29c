//! The Job controller (`pkg/controller/job/job_controller.go`): runs a job's pods until
//! enough succeed (`completions`, `parallelism` at a time, or one per index for an
//! Indexed job) or too many fail (`backoffLimit`) or it runs too long
//! (`activeDeadlineSeconds`), and reports them in the status.
//!
//! Every pod is created with the `batch.kubernetes.io/job-tracking` finalizer, so that a
//! finished pod cannot vanish before it is counted. A sync first records newly finished
//! pods in `status.uncountedTerminatedPods`, then removes their finalizers, then moves
//! them into `succeeded`/`failed`: a crash at any step neither loses nor doubles a count.
//! Failed pods are replaced after a backoff of 10 s doubling up to 6 minutes.

pub mod conditions;
pub mod indexes;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};

use self::conditions::Outcome;
use super::active_pods::{is_active, is_ready, is_terminating};
use super::controller_expectations::Expectations;
use super::controller_ref::{controller_of, new_controller_ref, ClaimError, Claimer};
use super::pod_control::{api_message, pod_from_template, slow_start_batch, PodControl, SLOW_START_INITIAL_BATCH};
use super::recorder::reference;
use super::replicaset::key_of;
use super::EventType;
use crate::machinery::delta_fifo::DeltaObject;
use crate::machinery::lister::Lister;
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::shared_informer::ResourceEventHandlerFuncs;

const LOOP: &str = "job";
/// The finalizer that keeps a job's finished pods until they are counted.
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
/// `DefaultJobPodFailureBackOff` and `MaxJobPodFailureBackOff`.
const BACKOFF_INITIAL: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(360);
/// The most pods one sync creates or deletes (`MaxPodCreateDeletePerSync`).
const BURST: usize = 500;

/// Why a sync failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Kube(#[from] kube::Error),
    #[error(transparent)]
    Claim(#[from] ClaimError),
}

impl From<SyncError> for kube::Error {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Kube(e) | SyncError::Claim(ClaimError::Kube(e)) => e,
            other => kube::Error::Service(Box::new(other)),
        }
    }
}

/// What a job's pods are, as one sync sees them.
#[derive(Debug, Default)]
struct Census {
    active: Vec<Arc<Pod>>,
    ready: i32,
    terminating: i32,
    /// Finished pods still holding our finalizer.
    release: Vec<Arc<Pod>>,
    /// Among them, those counted for the first time.
    new_succeeded: Vec<String>,
    new_failed: Vec<String>,
    /// Completion index of every pod that has one.
    index_of: HashMap<String, i32>,
    /// When the last failed pod ended, for the replacement backoff.
    last_failure: Option<Timestamp>,
    /// Container restarts of active pods (restartPolicy OnFailure counts them as failures).
    restarts: i32,
}

/// What the sync remembers between runs, per job uid: pods whose finalizer it removed
/// (counted already, though the cache may still show the finalizer) and pods it deleted
/// itself (stopped, not failed).
#[derive(Default)]
struct Memory {
    released: HashSet<String>,
    deleted: HashSet<String>,
}

#[derive(Clone)]
struct Index {
    jobs: Lister<Job>,
    expectations: Expectations,
    queue: RateLimitingQueue<String>,
}

impl Index {
    /// The key of the job controlling `pod` (even one that is gone: its pods' finalizers
    /// must still be removed).
    fn job_key(pod: &Pod) -> Option<String> {
        let r = controller_of(&pod.metadata).filter(|r| r.kind == "Job" && r.api_version == "batch/v1")?;
        Some(format!("{}/{}", pod.metadata.namespace.as_deref().unwrap_or_default(), r.name))
    }

    fn add_pod(&self, pod: &Pod) {
        if let Some(key) = Self::job_key(pod) {
            self.expectations.creation_observed(&key);
            self.queue.add(key);
        }
    }

    fn update_pod(&self, old: &Pod, cur: &Pod) {
        if old.metadata.resource_version == cur.metadata.resource_version {
            return;
        }
        if let Some(key) = Self::job_key(cur) {
            if old.metadata.deletion_timestamp.is_none() && cur.metadata.deletion_timestamp.is_some() {
                self.expectations.deletion_observed(&key, &key_of(&cur.metadata));
            }
            self.queue.add(key);
        }
    }

    fn delete_pod(&self, pod: &Pod) {
        if let Some(key) = Self::job_key(pod) {
            self.expectations.deletion_observed(&key, &key_of(&pod.metadata));
            self.queue.add(key);
        }
    }
}

pub struct JobController {
    client: kube::Client,
    recorder: super::EventRecorder,
    decisions: super::Decisions,
    pods: Lister<Pod>,
    index: Index,
    memory: Mutex<HashMap<String, Memory>>,
}

pub fn start(ctx: &super::Context) -> Result<(), super::StartError> {
    let queue = RateLimitingQueue::with_default_rate_limiter();
    let job_informer = ctx.factory.informer_for::<Job>()?;
    let pod_informer = ctx.factory.informer_for::<Pod>()?;
    let index = Index { jobs: job_informer.lister(), expectations: Expectations::default(), queue: queue.clone() };
    let (a, u, d) = (index.clone(), index.clone(), index.clone());
    job_informer.add_named_event_handler(
        "job-controller",
        ResourceEventHandlerFuncs::new()
            .on_add(move |j: &Arc<Job>, _| a.queue.add(key_of(&j.metadata)))
            .on_update(move |old: &Arc<Job>, j: &Arc<Job>| {
                if old.metadata.uid != j.metadata.uid {
                    u.expectations.delete(&key_of(&old.metadata));
                }
                u.queue.add(key_of(&j.metadata))
            })
            .on_delete(move |j: &DeltaObject<Job>| {
                let key = key_of(&j.object().metadata);
                d.expectations.delete(&key);
                d.queue.add(key);
            }),
    );
    let (a, u, d) = (index.clone(), index.clone(), index.clone());
    pod_informer.add_named_event_handler(
        "job-controller",
        ResourceEventHandlerFuncs::new()
            .on_add(move |p: &Arc<Pod>, _| a.add_pod(p))
            .on_update(move |old: &Arc<Pod>, cur: &Arc<Pod>| u.update_pod(old, cur))
            .on_delete(move |p: &DeltaObject<Pod>| d.delete_pod(p.object())),
    );
    let controller = JobController {
        client: ctx.client("kube-controller-manager"),
        recorder: ctx.recorder("job-controller", None),
        decisions: ctx.decisions.clone(),
        pods: pod_informer.lister(),
        index,
        memory: Mutex::new(HashMap::new()),
    };
    ctx.spawn_workers(Arc::new(controller), 5);
    Ok(())
}

impl super::Reconciler for JobController {
    fn queue(&self) -> &RateLimitingQueue<String> {
        &self.index.queue
    }

    async fn sync(&self, key: String) -> Result<Option<Duration>, kube::Error> {
        self.sync_job(&key).await.map_err(|e| self.decisions.sync_failed(LOOP, &key, kube::Error::from(e)))
    }
}

fn phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or_default()
}

fn has_finalizer(pod: &Pod) -> bool {
    pod.metadata.finalizers.iter().flatten().any(|f| f == TRACKING_FINALIZER)
}

fn uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

/// When a failed pod's last container ended.
fn finished_at(pod: &Pod) -> Option<Timestamp> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    statuses.iter().filter_map(|s| s.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref().map(|t| t.0)).max()
}

/// `getBackoff`-like delay before replacing the `failures`-th failed pod.
pub fn backoff(failures: i32) -> Duration {
    if failures <= 0 {
        return Duration::ZERO;
    }
    let exp = u32::try_from(failures - 1).unwrap_or(0).min(16);
    (BACKOFF_INITIAL * 2u32.pow(exp)).min(BACKOFF_MAX)
}

/// How many pods should run now (`wantActive` of `manageJob`).
pub fn want_active(parallelism: i32, completions: Option<i32>, succeeded: i32, active: i32) -> i32 {
    match completions {
        Some(c) => parallelism.min(c - succeeded).max(0),
        // A work queue: once one pod succeeded, no new pod starts.
        None if succeeded > 0 => active.min(parallelism),
        None => parallelism,
    }
}

impl JobController {
    fn remember<R>(&self, job_uid: &str, f: impl FnOnce(&mut Memory) -> R) -> R {
        let mut m = self.memory.lock().unwrap_or_else(|p| p.into_inner());
        f(m.entry(job_uid.to_string()).or_default())
    }

    /// Removes our finalizer from `pods` (a pod already gone is fine).
    async fn release(&self, job_uid: &str, ns: &str, pods: &[Arc<Pod>]) -> Result<(), kube::Error> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let patch = serde_json::json!({"metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER]}});
        let mut first = None;
        for p in pods {
            let name = p.metadata.name.clone().unwrap_or_default();
            match api.patch(&name, &PatchParams::default(), &Patch::Strategic(&patch)).await {
                Ok(_) => {
                    self.remember(job_uid, |m| m.released.insert(uid(p)));
                }
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// A job that is gone or going: its pods lose our finalizer so they can go too.
    async fn release_all(&self, ns: &str, name: &str, job_uid: Option<&str>) -> Result<(), kube::Error> {
        let pods = self.pods.namespaced(ns).list_matching(|p| {
            has_finalizer(p)
                && controller_of(&p.metadata).is_some_and(|r| r.kind == "Job" && r.name == name && job_uid.is_none_or(|u| r.uid == u))
        });
        self.release(job_uid.unwrap_or_default(), ns, &pods).await
    }

    /// `syncJob`.
    async fn sync_job(&self, key: &str) -> Result<Option<Duration>, SyncError> {
        let (ns, name) = key.split_once('/').unwrap_or(("", key));
        let Some(job) = self.index.jobs.get(key) else {
            self.index.expectations.delete(key);
            self.release_all(ns, name, None).await?;
            return Ok(None);
        };
        let job_uid = job.metadata.uid.clone().unwrap_or_default();
        if job.metadata.deletion_timestamp.is_some() {
            self.release_all(ns, name, Some(&job_uid)).await?;
            return Ok(None);
        }
        let Some(spec) = job.spec.clone() else { return Ok(None) };
        let Some(selector) = spec.selector.clone() else { return Ok(None) };
        let job_api: Api<Job> = Api::namespaced(self.client.clone(), ns);
        let pod_api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let all = self.pods.namespaced(ns).list();
        let pods = Claimer { owner: &*job, selector: &selector }.claim(&job_api, all, &pod_api).await?;
        let mut current = (*job).clone();
        let mut status = job.status.clone().unwrap_or_default();
        let finished = conditions::is_finished(&status);
        let indexed = spec.completion_mode.as_deref() == Some("Indexed");
        let completions = spec.completions;
        let now = Timestamp::now();

        let census = self.census(&job_uid, &pods, &status, finished, indexed, completions.unwrap_or(0));
        let uncounted = status.uncounted_terminated_pods.get_or_insert_with(UncountedTerminatedPods::default);
        let fresh = !census.new_succeeded.is_empty() || !census.new_failed.is_empty();
        uncounted.succeeded.get_or_insert_with(Vec::new).extend(census.new_succeeded.iter().cloned());
        uncounted.failed.get_or_insert_with(Vec::new).extend(census.new_failed.iter().cloned());
        // Step 1: the newly finished pods are recorded before their finalizers go.
        if fresh {
            status = self.write_status(&job_api, &mut current, status).await?;
        }
        // Step 2 and 3: finalizers off, then the counts.
        if !census.release.is_empty() {
            self.release(&job_uid, ns, &census.release).await?;
        }
        let uncounted = status.uncounted_terminated_pods.get_or_insert_with(UncountedTerminatedPods::default);
        let succeeded_now: Vec<String> = uncounted.succeeded.take().unwrap_or_default();
        let failed_now: Vec<String> = uncounted.failed.take().unwrap_or_default();
        uncounted.succeeded = None;
        uncounted.failed = None;
        if indexed {
            let mut done = indexes::parse(status.completed_indexes.as_deref().unwrap_or_default(), completions.unwrap_or(0));
            done.extend(succeeded_now.iter().filter_map(|u| census.index_of.get(u)));
            status.succeeded = Some(i32::try_from(done.len()).unwrap_or(i32::MAX));
            status.completed_indexes = Some(indexes::format(&done));
        } else {
            status.succeeded = Some(status.succeeded.unwrap_or(0) + i32::try_from(succeeded_now.len()).unwrap_or(0));
        }
        status.failed = Some(status.failed.unwrap_or(0) + i32::try_from(failed_now.len()).unwrap_or(0));

        let active = i32::try_from(census.active.len()).unwrap_or(i32::MAX);
        status.active = Some(active);
        status.ready = Some(census.ready);
        status.terminating = Some(census.terminating);
        if finished {
            self.write_status(&job_api, &mut current, status).await?;
            return Ok(None);
        }
        let succeeded = status.succeeded.unwrap_or(0);
        let failed = status.failed.unwrap_or(0);
        let mut requeue: Option<Duration> = None;
        let object = reference(&*job);

        // What ends the job, once known, stays known.
        let outcome = Outcome::recorded(&status).or_else(|| {
            let on_failure = spec.template.spec.as_ref().and_then(|s| s.restart_policy.as_deref()) == Some("OnFailure");
            let failures = failed + if on_failure { census.restarts } else { 0 };
            let deadline = spec.active_deadline_seconds.zip(status.start_time.as_ref()).map(|(s, t)| (s, t.0));
            let complete = match completions {
                Some(c) => succeeded >= c,
                None => succeeded > 0 && active == 0,
            };
            if failures > spec.backoff_limit.unwrap_or(6) {
                Some(Outcome::BackoffLimitExceeded)
            } else if complete {
                Some(Outcome::Completed)
            } else if let Some((secs, start)) = deadline.filter(|_| spec.suspend != Some(true)) {
                let left = Duration::from_secs(u64::try_from(secs).unwrap_or(0)).saturating_sub(now.duration_since(start).unsigned_abs());
                if left.is_zero() {
                    Some(Outcome::DeadlineExceeded)
                } else {
                    requeue = Some(left);
                    None
                }
            } else {
                None
            }
        });
        if let Some(outcome) = outcome {
            conditions::ensure(&mut status, outcome.interim(), "True", outcome.reason(), outcome.message(), now);
            if !census.active.is_empty() {
                self.delete_pods(key, &job_uid, &object, ns, &census.active).await?;
            }
            let settled = census.active.is_empty() && census.terminating == 0 && census.release.is_empty();
            if settled {
                conditions::ensure(&mut status, outcome.terminal(), "True", outcome.reason(), outcome.message(), now);
                if outcome == Outcome::Completed {
                    status.completion_time = Some(Time(now));
                    self.recorder.event(&object, EventType::Normal, "Completed", "Job completed");
                } else {
                    self.recorder.event(&object, EventType::Warning, outcome.reason(), outcome.message());
                }
                self.decisions.say(LOOP, key, &format!("{}: {}", outcome.terminal(), outcome.message()));
            }
            self.write_status(&job_api, &mut current, status).await?;
            return Ok(None);
        }

        if spec.suspend == Some(true) {
            if conditions::ensure(&mut status, conditions::SUSPENDED, "True", "JobSuspended", "Job suspended", now) {
                self.recorder.event(&object, EventType::Normal, "Suspended", "Job suspended");
            }
            if !census.active.is_empty() {
                self.delete_pods(key, &job_uid, &object, ns, &census.active).await?;
            }
            self.write_status(&job_api, &mut current, status).await?;
            return Ok(None);
        }
        if conditions::ensure(&mut status, conditions::SUSPENDED, "False", "JobResumed", "Job resumed", now) {
            self.recorder.event(&object, EventType::Normal, "Resumed", "Job resumed");
            // The deadline counts from the resumption.
            status.start_time = Some(Time(now));
        }
        if status.start_time.is_none() {
            status.start_time = Some(Time(now));
            if let Some(secs) = spec.active_deadline_seconds {
                requeue = Some(Duration::from_secs(u64::try_from(secs).unwrap_or(0)));
            }
        }

        let manage = if self.index.expectations.satisfied(key) { self.manage(&job, &census, &status, failed, now).await } else { Ok(None) };
        self.write_status(&job_api, &mut current, status).await?;
        let wait = manage?;
        Ok([requeue, wait].into_iter().flatten().min())
    }

    /// Sorts the job's pods: which run, which are finished and still to be released.
    fn census(&self, job_uid: &str, pods: &[Arc<Pod>], status: &JobStatus, finished: bool, indexed: bool, completions: i32) -> Census {
        let uncounted = status.uncounted_terminated_pods.clone().unwrap_or_default();
        let listed = |l: &Option<Vec<String>>, u: &str| l.iter().flatten().any(|x| x == u);
        let mut c = Census::default();
        self.remember(job_uid, |m| {
            // Forget pods whose finalizer the cache shows gone.
            let holding: HashSet<String> = pods.iter().filter(|p| has_finalizer(p)).map(|p| uid(p)).collect();
            m.released.retain(|u| holding.contains(u));
            m.deleted.retain(|u| pods.iter().any(|p| uid(p) == *u));
        });
        for p in pods {
            let u = uid(p);
            if indexed {
                if let Some(i) = indexes::index_of(p, completions) {
                    c.index_of.insert(u.clone(), i);
                }
            }
            if is_active(p) {
                c.ready += i32::from(is_ready(p));
                c.restarts += p.status.iter().flat_map(|s| s.container_statuses.iter().flatten()).map(|s| s.restart_count).sum::<i32>();
                c.active.push(p.clone());
            } else if is_terminating(p) {
                c.terminating += 1;
            }
            if phase(p) == "Failed" {
                c.last_failure = c.last_failure.max(finished_at(p).or(Some(Timestamp::UNIX_EPOCH)));
            }
            let done = matches!(phase(p), "Succeeded" | "Failed") || p.metadata.deletion_timestamp.is_some();
            if !has_finalizer(p) || !done {
                continue;
            }
            c.release.push(p.clone());
            let (released, deleted) = self.remember(job_uid, |m| (m.released.contains(&u), m.deleted.contains(&u)));
            if finished || released || listed(&uncounted.succeeded, &u) || listed(&uncounted.failed, &u) {
                continue;
            }
            match phase(p) {
                "Succeeded" => c.new_succeeded.push(u),
                // A pod deleted before it finished failed, unless this controller stopped it.
                _ if phase(p) == "Failed" || !deleted => c.new_failed.push(u),
                _ => {}
            }
        }
        c
    }

    /// `manageJob`: creates the missing pods (after the failure backoff) or deletes the
    /// surplus. Returns when to look again.
    async fn manage(
        &self,
        job: &Job,
        census: &Census,
        status: &JobStatus,
        failed: i32,
        now: Timestamp,
    ) -> Result<Option<Duration>, kube::Error> {
        let key = key_of(&job.metadata);
        let spec = job.spec.clone().unwrap_or_default();
        let ns = job.metadata.namespace.clone().unwrap_or_default();
        let name = job.metadata.name.clone().unwrap_or_default();
        let job_uid = job.metadata.uid.clone().unwrap_or_default();
        let object = reference(job);
        let parallelism = spec.parallelism.unwrap_or(1);
        let active = i32::try_from(census.active.len()).unwrap_or(i32::MAX);
        // With podReplacementPolicy Failed a terminating pod is replaced only once it failed.
        let occupying = active + if spec.pod_replacement_policy.as_deref() == Some("Failed") { census.terminating } else { 0 };
        let indexed = spec.completion_mode.as_deref() == Some("Indexed");
        let succeeded = status.succeeded.unwrap_or(0);
        let want = want_active(parallelism, spec.completions, succeeded, active);
        if active > want {
            let surplus = usize::try_from(active - want).unwrap_or(0).min(BURST);
            let victims: Vec<Arc<Pod>> = census.active.iter().rev().take(surplus).cloned().collect();
            self.delete_pods(&key, &job_uid, &object, &ns, &victims).await?;
            return Ok(None);
        }
        if occupying >= want {
            return Ok(None);
        }
        if let Some(last) = census.last_failure.filter(|_| failed > 0) {
            let left = backoff(failed).saturating_sub(now.duration_since(last).unsigned_abs());
            if !left.is_zero() {
                return Ok(Some(left));
            }
        }
        let template = spec.template.clone();
        let mut base = pod_from_template(&template, &ns, &name, new_controller_ref(job));
        base.metadata.finalizers.get_or_insert_with(Vec::new).push(TRACKING_FINALIZER.into());
        let diff = usize::try_from(want - occupying).unwrap_or(0).min(BURST);
        let pods: Vec<Pod> = if indexed {
            let done = indexes::parse(status.completed_indexes.as_deref().unwrap_or_default(), spec.completions.unwrap_or(0));
            let running: BTreeSet<i32> = census.active.iter().filter_map(|p| census.index_of.get(&uid(p)).copied()).collect();
            (0..spec.completions.unwrap_or(0))
                .filter(|i| !done.contains(i) && !running.contains(i))
                .take(diff)
                .map(|i| indexed_pod(&base, &name, i))
                .collect()
        } else {
            vec![base; diff]
        };
        if pods.is_empty() {
            return Ok(None);
        }
        let n = pods.len();
        self.index.expectations.expect_creations(&key, n);
        self.decisions.say(LOOP, &key, &format!("too few active pods: want {want}, creating {n}"));
        let control = PodControl { client: &self.client, recorder: &self.recorder, object: &object };
        let next = std::sync::atomic::AtomicUsize::new(0);
        let (created, err) = slow_start_batch(n, SLOW_START_INITIAL_BATCH, || {
            let pod = &pods[next.fetch_add(1, std::sync::atomic::Ordering::SeqCst).min(n - 1)];
            let control = &control;
            async move { control.create(pod).await.map(|_| ()) }
        })
        .await;
        for _ in created..n {
            self.index.expectations.creation_observed(&key);
        }
        if let Some(e) = err {
            self.decisions.say(LOOP, &key, &format!("failed to create pods: {}", api_message(&e)));
            return Err(e);
        }
        Ok(None)
    }

    /// Deletes running pods the job no longer wants; they are stopped, not failed.
    async fn delete_pods(
        &self,
        key: &str,
        job_uid: &str,
        object: &k8s_openapi::api::core::v1::ObjectReference,
        ns: &str,
        pods: &[Arc<Pod>],
    ) -> Result<(), kube::Error> {
        let keys: Vec<String> = pods.iter().map(|p| key_of(&p.metadata)).collect();
        self.index.expectations.expect_deletions(key, &keys);
        let control = PodControl { client: &self.client, recorder: &self.recorder, object };
        let mut first = None;
        for p in pods {
            self.remember(job_uid, |m| m.deleted.insert(uid(p)));
            let name = p.metadata.name.clone().unwrap_or_default();
            if let Err(e) = control.delete(ns, &name).await {
                self.index.expectations.deletion_observed(key, &key_of(&p.metadata));
                if !matches!(&e, kube::Error::Api(s) if s.code == 404) {
                    first.get_or_insert(e);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Writes `status` when it differs from what the job had; answers the status stored.
    async fn write_status(&self, api: &Api<Job>, job: &mut Job, mut status: JobStatus) -> Result<JobStatus, kube::Error> {
        let uncounted = status.uncounted_terminated_pods.get_or_insert_with(UncountedTerminatedPods::default);
        if uncounted.succeeded.as_ref().is_some_and(Vec::is_empty) {
            uncounted.succeeded = None;
        }
        if uncounted.failed.as_ref().is_some_and(Vec::is_empty) {
            uncounted.failed = None;
        }
        if status.completed_indexes.as_deref() == Some("") {
            status.completed_indexes = None;
        }
        if job.status.as_ref() == Some(&status) {
            return Ok(status);
        }
        let mut next = job.clone();
        next.status = Some(status);
        let name = job.metadata.name.clone().unwrap_or_default();
        *job = api.replace_status(&name, &PostParams::default(), &next).await?;
        Ok(job.status.clone().unwrap_or_default())
    }
}

/// The pod of one completion index: named and labelled by it, told it in
/// `JOB_COMPLETION_INDEX`, and with a hostname of `<job>-<index>`.
fn indexed_pod(base: &Pod, job_name: &str, index: i32) -> Pod {
    let mut pod = base.clone();
    let i = index.to_string();
    pod.metadata.generate_name = Some(format!("{job_name}-{i}-"));
    pod.metadata.annotations.get_or_insert_with(Default::default).insert(indexes::COMPLETION_INDEX.into(), i.clone());
    pod.metadata.labels.get_or_insert_with(Default::default).insert(indexes::COMPLETION_INDEX.into(), i.clone());
    if let Some(spec) = pod.spec.as_mut() {
        if spec.hostname.is_none() {
            spec.hostname = Some(format!("{job_name}-{i}"));
        }
        let env = EnvVar {
            name: "JOB_COMPLETION_INDEX".into(),
            value: None,
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: format!("metadata.labels['{}']", indexes::COMPLETION_INDEX),
                    api_version: None,
                }),
                ..Default::default()
            }),
        };
        for c in spec.init_containers.iter_mut().flatten().chain(spec.containers.iter_mut()) {
            c.env.get_or_insert_with(Vec::new).insert(0, env.clone());
        }
    }
    pod
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_pods_wanted() {
        // (parallelism, completions, succeeded, active, want)
        let cases = [
            (1, Some(1), 0, 0, 1),
            (3, Some(5), 3, 2, 2),
            (3, Some(5), 5, 0, 0),
            (2, None, 0, 0, 2),
            (2, None, 1, 1, 1),
            (2, None, 1, 0, 0),
        ];
        for (p, c, s, a, want) in cases {
            assert_eq!(want_active(p, c, s, a), want, "{p} {c:?} {s} {a}");
        }
    }

    #[test]
    fn backoff_doubles_to_six_minutes() {
        let cases = [(0, 0), (1, 10), (2, 20), (3, 40), (6, 320), (7, 360), (40, 360)];
        for (failures, secs) in cases {
            assert_eq!(backoff(failures), Duration::from_secs(secs), "{failures}");
        }
    }

    #[test]
    fn indexed_pods_carry_their_index() {
        let mut base = Pod::default();
        base.spec = Some(k8s_openapi::api::core::v1::PodSpec { containers: vec![Default::default()], ..Default::default() });
        let pod = indexed_pod(&base, "pi", 2);
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("pi-2-"));
        assert_eq!(pod.metadata.annotations.unwrap()[indexes::COMPLETION_INDEX], "2");
        let spec = pod.spec.unwrap();
        assert_eq!(spec.hostname.as_deref(), Some("pi-2"));
        assert_eq!(spec.containers[0].env.as_ref().unwrap()[0].name, "JOB_COMPLETION_INDEX");
    }
}
