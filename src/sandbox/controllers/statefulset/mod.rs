//! The StatefulSet controller (`pkg/controller/statefulset`): pods with a stable identity,
//! `<set>-0 … <set>-N-1`, each with its own claims from `volumeClaimTemplates`, started and
//! stopped in ordinal order (`OrderedReady`) or all at once (`Parallel`), and updated by
//! ordinal from the highest down to `partition` (`RollingUpdate`) or only when deleted
//! (`OnDelete`).
//!
//! A sync claims the set's pods and its ControllerRevisions ([`super::history`]), finds the
//! current and update revisions, runs one step of [`update::update_stateful_set`], writes
//! the status and prunes the history. There are no expectations: the pods' fixed names make
//! a create the stale cache repeats fail with AlreadyExists, which is no harm.

pub mod identity;
pub mod pod_control;
pub mod update;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, PostParams};

use super::controller_ref::{controller_of, controller_selects, Claimer};
use super::history::{template_of, History, REVISION_HASH_LABEL};
use super::recorder::reference;
use super::replicaset::{key_of, SyncError};
use crate::machinery::delta_fifo::DeltaObject;
use crate::machinery::lister::Lister;
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::shared_informer::ResourceEventHandlerFuncs;
use identity::{is_member_of, revision_of};
use pod_control::StatefulPodControl;
use update::{complete_rolling_update, update_stateful_set, Versions};

const LOOP: &str = "statefulset";

/// What the pod handlers need to find a pod's sets.
#[derive(Clone)]
struct Index {
    sets: Lister<StatefulSet>,
    queue: RateLimitingQueue<String>,
}

impl Index {
    /// `resolveControllerRef`.
    fn controller(&self, pod: &Pod) -> Option<Arc<StatefulSet>> {
        let r = controller_of(&pod.metadata).filter(|r| r.kind == "StatefulSet")?;
        let set = self.sets.get(&format!("{}/{}", pod.metadata.namespace.as_deref().unwrap_or_default(), r.name))?;
        (set.metadata.uid.as_deref() == Some(r.uid.as_str())).then_some(set)
    }

    /// `getPodStatefulSets`: the sets whose selector matches an orphan.
    fn selecting(&self, pod: &Pod) -> Vec<Arc<StatefulSet>> {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        self.sets
            .namespaced(&ns)
            .list_matching(|s| s.spec.as_ref().is_some_and(|sp| controller_selects(&sp.selector, pod.metadata.labels.as_ref())))
    }

    fn pod_changed(&self, pod: &Pod) {
        match controller_of(&pod.metadata) {
            Some(_) => {
                if let Some(set) = self.controller(pod) {
                    self.queue.add(key_of(&set.metadata));
                }
            }
            None if pod.metadata.deletion_timestamp.is_none() => {
                for set in self.selecting(pod) {
                    self.queue.add(key_of(&set.metadata));
                }
            }
            None => {}
        }
    }

    fn update_pod(&self, old: &Pod, cur: &Pod) {
        if old.metadata.resource_version == cur.metadata.resource_version {
            return;
        }
        if controller_of(&old.metadata) != controller_of(&cur.metadata) || old.metadata.labels != cur.metadata.labels {
            self.pod_changed(old);
        }
        self.pod_changed(cur);
    }
}

pub struct StatefulSetController {
    client: kube::Client,
    recorder: super::EventRecorder,
    decisions: super::Decisions,
    pods: Lister<Pod>,
    claims: Lister<PersistentVolumeClaim>,
    revisions: Lister<ControllerRevision>,
    index: Index,
}

pub fn start(ctx: &super::Context) -> Result<(), super::StartError> {
    let queue = RateLimitingQueue::with_default_rate_limiter();
    let set_informer = ctx.factory.informer_for::<StatefulSet>()?;
    let pod_informer = ctx.factory.informer_for::<Pod>()?;
    let claim_informer = ctx.factory.informer_for::<PersistentVolumeClaim>()?;
    let revision_informer = ctx.factory.informer_for::<ControllerRevision>()?;
    let index = Index { sets: set_informer.lister(), queue: queue.clone() };

    let (a, u, d) = (queue.clone(), queue.clone(), queue.clone());
    set_informer.add_named_event_handler(
        "statefulset-controller",
        ResourceEventHandlerFuncs::new()
            .on_add(move |s: &Arc<StatefulSet>, _| a.add(key_of(&s.metadata)))
            .on_update(move |_, s: &Arc<StatefulSet>| u.add(key_of(&s.metadata)))
            .on_delete(move |s: &DeltaObject<StatefulSet>| d.add(key_of(&s.object().metadata))),
    );
    let (a, u, d) = (index.clone(), index.clone(), index.clone());
    pod_informer.add_named_event_handler(
        "statefulset-controller",
        ResourceEventHandlerFuncs::new()
            .on_add(move |p: &Arc<Pod>, _| a.pod_changed(p))
            .on_update(move |old: &Arc<Pod>, cur: &Arc<Pod>| u.update_pod(old, cur))
            .on_delete(move |p: &DeltaObject<Pod>| d.pod_changed(p.object())),
    );
    let controller = StatefulSetController {
        client: ctx.client("kube-controller-manager"),
        recorder: ctx.recorder("statefulset-controller", None),
        decisions: ctx.decisions.clone(),
        pods: pod_informer.lister(),
        claims: claim_informer.lister(),
        revisions: revision_informer.lister(),
        index,
    };
    ctx.spawn_workers(Arc::new(controller), 5);
    Ok(())
}

impl super::Reconciler for StatefulSetController {
    fn queue(&self) -> &RateLimitingQueue<String> {
        &self.index.queue
    }

    async fn sync(&self, key: String) -> Result<Option<Duration>, kube::Error> {
        self.sync_set(&key).await.map_err(|e| self.decisions.sync_failed(LOOP, &key, kube::Error::from(e)))
    }
}

impl StatefulSetController {
    /// `syncStatefulSet`.
    async fn sync_set(&self, key: &str) -> Result<Option<Duration>, SyncError> {
        let Some(set) = self.index.sets.get(key) else { return Ok(None) };
        let Some(spec) = set.spec.as_ref() else { return Ok(None) };
        let ns = set.metadata.namespace.clone().unwrap_or_default();
        let uid = set.metadata.uid.clone().unwrap_or_default();
        let set_api: Api<StatefulSet> = Api::namespaced(self.client.clone(), &ns);
        let pod_api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);

        // getPodsForStatefulSet: only pods named as members may be adopted.
        let candidates =
            self.pods.namespaced(&ns).list_matching(|p| controller_of(&p.metadata).map_or_else(|| is_member_of(&set, p), |o| o.uid == uid));
        let claimer = Claimer { owner: &*set, selector: &spec.selector };
        let pods = claimer.claim(&set_api, candidates, &pod_api).await?;

        let history = History { client: &self.client, revisions: &self.revisions };
        let all = history.claim(&set_api, &*set, &spec.selector).await?;
        let status = set.status.clone().unwrap_or_default();
        let revs = history
            .revisions(
                &*set,
                all,
                &spec.template,
                REVISION_HASH_LABEL,
                status.current_revision.as_deref(),
                status.collision_count.unwrap_or(0),
            )
            .await?;
        let versions = Versions {
            current: &revs.current,
            update: &revs.update,
            current_template: template_of(&revs.current).unwrap_or_else(|| spec.template.clone()),
            update_template: template_of(&revs.update).unwrap_or_else(|| spec.template.clone()),
        };

        let object = reference(&*set);
        let control =
            StatefulPodControl { client: &self.client, recorder: &self.recorder, claims: &self.claims, set: &set, object: &object };
        let outcome = update_stateful_set(&control, &set, &versions, revs.collision_count, &pods).await;
        let mut status = outcome.status;
        complete_rolling_update(&set, &mut status);
        self.update_status(&set_api, &set, &status).await?;

        let mut live: HashSet<String> = pods.iter().map(|p| revision_of(p).to_string()).collect();
        live.extend([revs.current.metadata.name.clone().unwrap_or_default(), revs.update.metadata.name.clone().unwrap_or_default()]);
        history.truncate(&revs.all, &live, spec.revision_history_limit.unwrap_or(10)).await?;
        outcome.result?;

        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        if min_ready > 0 && status.ready_replicas != status.available_replicas {
            return Ok(Some(Duration::from_secs(u64::try_from(min_ready).unwrap_or(0))));
        }
        Ok(None)
    }

    /// `updateStatefulSetStatus`: writes only a changed status (a conflict is retried
    /// with the queue's backoff, against the newer set).
    async fn update_status(&self, api: &Api<StatefulSet>, set: &StatefulSet, status: &StatefulSetStatus) -> Result<(), kube::Error> {
        let mut status = status.clone();
        status.conditions = set.status.as_ref().and_then(|s| s.conditions.clone());
        if set.status.as_ref() == Some(&status) {
            return Ok(());
        }
        let mut next = set.clone();
        next.status = Some(status);
        api.replace_status(set.metadata.name.as_deref().unwrap_or_default(), &PostParams::default(), &next).await.map(|_| ())
    }
}
