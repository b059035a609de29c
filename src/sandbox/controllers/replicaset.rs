//! The ReplicaSet controller (`pkg/controller/replicaset/replica_set.go`): keeps
//! `spec.replicas` pods matching the selector, created from the template and owned by the
//! replica set, and reports them in the status.
//!
//! A sync claims the active pods (adopting matching orphans, releasing ours that no longer
//! match), creates the missing ones in slow-start batches or deletes the surplus in
//! upstream's ranking ([`super::active_pods`]), at most 500 per sync (`burstReplicas`), and
//! only when the pods asked for by the previous sync have been seen
//! ([`super::controller_expectations`]).

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};

use super::active_pods::{deletion_order, is_active, is_available, is_ready};
use super::controller_expectations::Expectations;
use super::controller_ref::{controller_of, controller_selects, new_controller_ref, selects, ClaimError, Claimer};
use super::pod_control::{api_message, pod_from_template, slow_start_batch, PodControl, SLOW_START_INITIAL_BATCH};
use super::recorder::reference;
use crate::machinery::delta_fifo::DeltaObject;
use crate::machinery::lister::Lister;
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::shared_informer::ResourceEventHandlerFuncs;

const LOOP: &str = "replicaset";
/// `BurstReplicas`: the most pods one sync creates or deletes.
pub const BURST_REPLICAS: usize = 500;
/// `ReplicaSetReplicaFailure`.
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

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

/// `namespace/name`.
pub fn key_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    format!("{}/{}", meta.namespace.as_deref().unwrap_or_default(), meta.name.as_deref().unwrap_or_default())
}

/// What the event handlers need to find a pod's replica sets.
#[derive(Clone)]
struct Index {
    replica_sets: Lister<ReplicaSet>,
    expectations: Expectations,
    queue: RateLimitingQueue<String>,
}

impl Index {
    /// `resolveControllerRef`: the replica set a pod's controller reference names, if it
    /// still is that object.
    fn controller(&self, pod: &Pod) -> Option<Arc<ReplicaSet>> {
        let r = controller_of(&pod.metadata)?;
        if r.kind != "ReplicaSet" {
            return None;
        }
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        let rs = self.replica_sets.get(&format!("{ns}/{}", r.name))?;
        (rs.metadata.uid.as_deref() == Some(r.uid.as_str())).then_some(rs)
    }

    /// `getPodReplicaSets`: the replica sets whose selector matches an orphan.
    fn selecting(&self, pod: &Pod) -> Vec<Arc<ReplicaSet>> {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        self.replica_sets
            .namespaced(&ns)
            .list_matching(|rs| rs.spec.as_ref().is_some_and(|s| controller_selects(&s.selector, pod.metadata.labels.as_ref())))
    }

    fn enqueue(&self, rs: &ReplicaSet) {
        self.queue.add(key_of(&rs.metadata));
    }

    fn add_pod(&self, pod: &Pod) {
        if pod.metadata.deletion_timestamp.is_some() {
            return self.delete_pod(pod);
        }
        if controller_of(&pod.metadata).is_some() {
            if let Some(rs) = self.controller(pod) {
                self.expectations.creation_observed(&key_of(&rs.metadata));
                self.enqueue(&rs);
            }
            return;
        }
        for rs in self.selecting(pod) {
            self.enqueue(&rs);
        }
    }

    fn update_pod(&self, old: &Pod, cur: &Pod) {
        if old.metadata.resource_version == cur.metadata.resource_version {
            return;
        }
        let labels_changed = old.metadata.labels != cur.metadata.labels;
        if cur.metadata.deletion_timestamp.is_some() {
            self.delete_pod(cur);
            if labels_changed {
                self.delete_pod(old);
            }
            return;
        }
        let (old_ref, cur_ref) = (controller_of(&old.metadata), controller_of(&cur.metadata));
        let ref_changed = old_ref != cur_ref;
        if ref_changed && old_ref.is_some() {
            if let Some(rs) = self.controller(old) {
                self.enqueue(&rs);
            }
        }
        if cur_ref.is_some() {
            if let Some(rs) = self.controller(cur) {
                self.enqueue(&rs);
                let min_ready = rs.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0);
                if !is_ready(old) && is_ready(cur) && min_ready > 0 {
                    // Look again once the pod can count as available.
                    let after = Duration::from_secs(u64::try_from(min_ready).unwrap_or(0)) + Duration::from_secs(1);
                    self.queue.add_after(key_of(&rs.metadata), after);
                }
            }
            return;
        }
        if labels_changed || ref_changed {
            for rs in self.selecting(cur) {
                self.enqueue(&rs);
            }
        }
    }

    fn delete_pod(&self, pod: &Pod) {
        if let Some(rs) = self.controller(pod) {
            let key = key_of(&rs.metadata);
            self.expectations.deletion_observed(&key, &key_of(&pod.metadata));
            self.enqueue(&rs);
        }
    }
}

pub struct ReplicaSetController {
    client: kube::Client,
    recorder: super::EventRecorder,
    decisions: super::Decisions,
    pods: Lister<Pod>,
    index: Index,
}

pub fn start(ctx: &super::Context) -> Result<(), super::StartError> {
    let queue = RateLimitingQueue::with_default_rate_limiter();
    let rs_informer = ctx.factory.informer_for::<ReplicaSet>()?;
    let pod_informer = ctx.factory.informer_for::<Pod>()?;
    let index = Index { replica_sets: rs_informer.lister(), expectations: Expectations::default(), queue: queue.clone() };

    let (a, u, d) = (index.clone(), index.clone(), index.clone());
    rs_informer.add_named_event_handler(
        "replicaset-controller",
        ResourceEventHandlerFuncs::new()
            .on_add(move |rs: &Arc<ReplicaSet>, _| a.enqueue(rs))
            .on_update(move |old: &Arc<ReplicaSet>, rs: &Arc<ReplicaSet>| {
                // Deleted and created again under the same name: the old one's
                // expectations are moot.
                if old.metadata.uid != rs.metadata.uid {
                    u.expectations.delete(&key_of(&old.metadata));
                }
                u.enqueue(rs)
            })
            .on_delete(move |rs: &DeltaObject<ReplicaSet>| {
                let rs = rs.object();
                d.expectations.delete(&key_of(&rs.metadata));
                d.enqueue(rs);
            }),
    );
    let (a, u, d) = (index.clone(), index.clone(), index.clone());
    pod_informer.add_named_event_handler(
        "replicaset-controller",
        ResourceEventHandlerFuncs::new()
            .on_add(move |p: &Arc<Pod>, _| a.add_pod(p))
            .on_update(move |old: &Arc<Pod>, cur: &Arc<Pod>| u.update_pod(old, cur))
            .on_delete(move |p: &DeltaObject<Pod>| d.delete_pod(p.object())),
    );
    let controller = ReplicaSetController {
        client: ctx.client("kube-controller-manager"),
        recorder: ctx.recorder("replicaset-controller", None),
        decisions: ctx.decisions.clone(),
        pods: pod_informer.lister(),
        index,
    };
    ctx.spawn_workers(Arc::new(controller), 5);
    Ok(())
}

impl super::Reconciler for ReplicaSetController {
    fn queue(&self) -> &RateLimitingQueue<String> {
        &self.index.queue
    }

    async fn sync(&self, key: String) -> Result<Option<Duration>, kube::Error> {
        self.sync_replica_set(&key).await.map_err(|e| self.decisions.sync_failed(LOOP, &key, kube::Error::from(e)))
    }
}

fn replicas_of(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

impl ReplicaSetController {
    /// `syncReplicaSet`.
    async fn sync_replica_set(&self, key: &str) -> Result<Option<Duration>, SyncError> {
        let Some(rs) = self.index.replica_sets.get(key) else {
            self.index.expectations.delete(key);
            return Ok(None);
        };
        let Some(spec) = rs.spec.as_ref() else { return Ok(None) };
        let ns = rs.metadata.namespace.clone().unwrap_or_default();
        let needs_sync = self.index.expectations.satisfied(key);

        let all: Vec<Arc<Pod>> = self.pods.namespaced(&ns).list();
        let active: Vec<Arc<Pod>> = all.into_iter().filter(|p| is_active(p)).collect();
        let rs_api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), &ns);
        let pod_api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let claimer = Claimer { owner: &*rs, selector: &spec.selector };
        let pods = claimer.claim(&rs_api, active, &pod_api).await?;

        let mut manage_err = None;
        if needs_sync && rs.metadata.deletion_timestamp.is_none() {
            manage_err = self.manage_replicas(&pods, &rs, key).await.err();
        }
        let now = Timestamp::now();
        let status = calculate_status(&rs, &pods, manage_err.as_ref(), now);
        let updated = self.update_status(&rs_api, &rs, status).await?;

        if let Some(e) = manage_err {
            return Err(e.into());
        }
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        let st = updated.status.unwrap_or_default();
        if min_ready > 0 && st.ready_replicas.unwrap_or(0) == replicas_of(&rs) && st.available_replicas.unwrap_or(0) != replicas_of(&rs) {
            return Ok(Some(Duration::from_secs(u64::try_from(min_ready).unwrap_or(0))));
        }
        Ok(None)
    }

    /// `manageReplicas`: one step towards `spec.replicas`.
    async fn manage_replicas(&self, pods: &[Arc<Pod>], rs: &ReplicaSet, key: &str) -> Result<(), kube::Error> {
        let want = usize::try_from(replicas_of(rs)).unwrap_or(0);
        let have = pods.len();
        let object = reference(rs);
        let control = PodControl { client: &self.client, recorder: &self.recorder, object: &object };
        let ns = rs.metadata.namespace.clone().unwrap_or_default();
        let name = rs.metadata.name.clone().unwrap_or_default();
        if have < want {
            let n = (want - have).min(BURST_REPLICAS);
            self.index.expectations.expect_creations(key, n);
            self.decisions.say(LOOP, key, &format!("too few replicas: need {want}, creating {n}"));
            let Some(template) = rs.spec.as_ref().map(|s| s.template.clone().unwrap_or_default()) else { return Ok(()) };
            let pod = pod_from_template(&template, &ns, &name, new_controller_ref(rs));
            let (created, err) = slow_start_batch(n, SLOW_START_INITIAL_BATCH, || async { control.create(&pod).await.map(|_| ()) }).await;
            // The creations never attempted (or refused) will not be observed.
            for _ in created..n {
                self.index.expectations.creation_observed(key);
            }
            if let Some(e) = err {
                self.decisions.say(LOOP, key, &format!("failed to create pods: {}", api_message(&e)));
                return Err(e);
            }
        } else if have > want {
            let n = (have - want).min(BURST_REPLICAS);
            let mut victims: Vec<Arc<Pod>> = pods.to_vec();
            if n < have {
                victims = deletion_order(victims, &self.related_pods(rs), Timestamp::now());
            }
            victims.truncate(n);
            let keys: Vec<String> = victims.iter().map(|p| key_of(&p.metadata)).collect();
            self.index.expectations.expect_deletions(key, &keys);
            self.decisions.say(LOOP, key, &format!("too many replicas: need {want}, deleting {n}"));
            let results = join_all(victims.iter().map(|p| {
                let name = p.metadata.name.clone().unwrap_or_default();
                let (control, ns) = (&control, &ns);
                async move { (key_of(&p.metadata), control.delete(ns, &name).await) }
            }))
            .await;
            let mut first = None;
            for (pod_key, r) in results {
                if let Err(e) = r {
                    self.index.expectations.deletion_observed(key, &pod_key);
                    if !matches!(&e, kube::Error::Api(s) if s.code == 404) {
                        first.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = first {
                return Err(e);
            }
        }
        Ok(())
    }

    /// `getIndirectlyRelatedPods`: the pods of every replica set with the same controller
    /// (the deployment's other revisions), for ranking pods doubled up on a node.
    fn related_pods(&self, rs: &ReplicaSet) -> Vec<Arc<Pod>> {
        let ns = rs.metadata.namespace.clone().unwrap_or_default();
        let related: Vec<Arc<ReplicaSet>> = match controller_of(&rs.metadata) {
            None => vec![Arc::new(rs.clone())],
            Some(owner) => {
                let uid = owner.uid.clone();
                self.index.replica_sets.namespaced(&ns).list_matching(|r| controller_of(&r.metadata).is_some_and(|o| o.uid == uid))
            }
        };
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for r in related {
            let Some(spec) = r.spec.as_ref() else { continue };
            for p in self.pods.namespaced(&ns).list_matching(|p| selects(&spec.selector, p.metadata.labels.as_ref())) {
                if seen.insert(p.metadata.uid.clone()) {
                    out.push(p);
                }
            }
        }
        out
    }

    /// `updateReplicaSetStatus`: writes only a changed status.
    async fn update_status(&self, api: &Api<ReplicaSet>, rs: &ReplicaSet, mut status: ReplicaSetStatus) -> Result<ReplicaSet, kube::Error> {
        status.observed_generation = rs.metadata.generation;
        if rs.status.as_ref() == Some(&status) {
            return Ok(rs.clone());
        }
        let mut next = rs.clone();
        next.status = Some(status);
        let name = rs.metadata.name.clone().unwrap_or_default();
        api.replace_status(&name, &PostParams::default(), &next).await
    }
}

/// `calculateStatus` (without `terminatingReplicas`: its feature gate is alpha in v1.34).
pub fn calculate_status(rs: &ReplicaSet, pods: &[Arc<Pod>], manage_err: Option<&kube::Error>, now: Timestamp) -> ReplicaSetStatus {
    let mut status = rs.status.clone().unwrap_or_default();
    let spec = rs.spec.clone().unwrap_or_default();
    let template_labels = spec.template.as_ref().and_then(|t| t.metadata.as_ref()).and_then(|m| m.labels.clone()).unwrap_or_default();
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let (mut fully_labeled, mut ready, mut available) = (0, 0, 0);
    for p in pods {
        let labels = p.metadata.labels.clone().unwrap_or_default();
        if template_labels.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            fully_labeled += 1;
        }
        if is_ready(p) {
            ready += 1;
            if is_available(p, min_ready, now) {
                available += 1;
            }
        }
    }
    let failure = status.conditions.iter().flatten().any(|c| c.type_ == REPLICA_FAILURE);
    match manage_err {
        Some(e) if !failure => {
            let diff = i64::try_from(pods.len()).unwrap_or(0) - i64::from(replicas_of(rs));
            let reason = if diff < 0 {
                "FailedCreate"
            } else if diff > 0 {
                "FailedDelete"
            } else {
                ""
            };
            let cond = ReplicaSetCondition {
                type_: REPLICA_FAILURE.into(),
                status: "True".into(),
                last_transition_time: Some(Time(now)),
                reason: Some(reason.into()),
                message: Some(error_text(e)),
            };
            let mut conds: Vec<ReplicaSetCondition> = status.conditions.take().unwrap_or_default();
            conds.push(cond);
            status.conditions = Some(conds);
        }
        None if failure => {
            let conds: Vec<ReplicaSetCondition> =
                status.conditions.take().unwrap_or_default().into_iter().filter(|c| c.type_ != REPLICA_FAILURE).collect();
            status.conditions = (!conds.is_empty()).then_some(conds);
        }
        _ => {}
    }
    status.replicas = i32::try_from(pods.len()).unwrap_or(i32::MAX);
    // omitempty in Go: a zero count is not written.
    status.fully_labeled_replicas = (fully_labeled != 0).then_some(fully_labeled);
    status.ready_replicas = (ready != 0).then_some(ready);
    status.available_replicas = (available != 0).then_some(available);
    status
}

/// Go's `err.Error()` for an API error: `pods "x" is forbidden: …`.
fn error_text(e: &kube::Error) -> String {
    api_message(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(status: &ReplicaSetStatus) -> Option<(String, String)> {
        let c = status.conditions.as_ref()?.iter().find(|c| c.type_ == REPLICA_FAILURE)?;
        Some((c.reason.clone().unwrap_or_default(), c.message.clone().unwrap_or_default()))
    }

    #[test]
    fn replica_failure_is_set_from_the_manage_error_and_cleared_after_a_clean_sync() {
        let mut rs: ReplicaSet = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "default", "generation": 2},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}
        }))
        .unwrap();
        let refused = kube::Error::Api(Box::new(
            serde_json::from_value(serde_json::json!({"code": 403, "message": "pods \"web-x\" is forbidden: exceeded quota"})).unwrap(),
        ));
        let now = Timestamp::now();
        let status = calculate_status(&rs, &[], Some(&refused), now);
        assert_eq!(failure(&status), Some(("FailedCreate".into(), "pods \"web-x\" is forbidden: exceeded quota".into())));
        assert_eq!(status.replicas, 0);
        rs.status = Some(status);
        let again = calculate_status(&rs, &[], Some(&refused), now);
        assert_eq!(again.conditions.as_ref().map(Vec::len), Some(1), "one condition, not a second");
        rs.status = Some(again);
        assert_eq!(failure(&calculate_status(&rs, &[], None, now)), None);
    }
}
