//! The Deployment controller (`pkg/controller/deployment/deployment_controller.go`): a
//! deployment owns one replica set per pod template (`<name>-<pod-template-hash>`) and
//! moves pods from the old ones to the new one by its strategy ([`rolling`],
//! [`recreate`]), keeping revisions for `kubectl rollout history|undo` ([`revision`]) and
//! reporting progress in its conditions ([`progress`]).

mod conditions;
pub mod pod_template_hash;
mod progress;
mod recreate;
pub mod replicas;
mod revision;
mod rollback;
mod rolling;
mod sync;

pub use pod_template_hash::{compute_hash, POD_TEMPLATE_HASH};
pub use revision::{REVISION, REVISION_HISTORY};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;

use super::controller_ref::{controller_of, controller_selects, selects, ClaimError, Claimer};
use super::recorder::reference;
use super::EventType;
use crate::machinery::delta_fifo::DeltaObject;
use crate::machinery::lister::Lister;
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::shared_informer::ResourceEventHandlerFuncs;

const LOOP: &str = "deployment";

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

fn key(d: &Deployment) -> String {
    format!("{}/{}", d.metadata.namespace.as_deref().unwrap_or_default(), d.metadata.name.as_deref().unwrap_or_default())
}

/// What the event handlers need to map replica sets and pods to deployments.
#[derive(Clone)]
struct Index {
    deployments: Lister<Deployment>,
    replica_sets: Lister<ReplicaSet>,
    queue: RateLimitingQueue<String>,
}

impl Index {
    fn enqueue(&self, d: &Deployment) {
        self.queue.add(key(d));
    }

    /// `resolveControllerRef` for a replica set.
    fn owner_of(&self, rs: &ReplicaSet) -> Option<Arc<Deployment>> {
        let r = controller_of(&rs.metadata)?;
        if r.kind != "Deployment" {
            return None;
        }
        let d = self.deployments.get(&format!("{}/{}", rs.metadata.namespace.as_deref().unwrap_or_default(), r.name))?;
        (d.metadata.uid.as_deref() == Some(r.uid.as_str())).then_some(d)
    }

    /// `getDeploymentsForReplicaSet`: deployments whose selector matches an orphan.
    fn selecting(&self, rs: &ReplicaSet) -> Vec<Arc<Deployment>> {
        let ns = rs.metadata.namespace.clone().unwrap_or_default();
        self.deployments
            .namespaced(&ns)
            .list_matching(|d| d.spec.as_ref().is_some_and(|s| controller_selects(&s.selector, rs.metadata.labels.as_ref())))
    }

    fn replica_set_changed(&self, rs: &ReplicaSet) {
        if controller_of(&rs.metadata).is_some() {
            if let Some(d) = self.owner_of(rs) {
                self.enqueue(&d);
            }
            return;
        }
        for d in self.selecting(rs) {
            self.enqueue(&d);
        }
    }

    fn replica_set_updated(&self, old: &ReplicaSet, cur: &ReplicaSet) {
        if old.metadata.resource_version == cur.metadata.resource_version {
            return;
        }
        if controller_of(&old.metadata) != controller_of(&cur.metadata) {
            if let Some(d) = self.owner_of(old) {
                self.enqueue(&d);
            }
        }
        self.replica_set_changed(cur);
    }

    /// `deletePod`: a Recreate rollout waits for the old pods to be gone.
    fn pod_deleted(&self, pod: &Pod) {
        let Some(r) = controller_of(&pod.metadata) else { return };
        if r.kind != "ReplicaSet" {
            return;
        }
        let Some(rs) = self.replica_sets.get(&format!("{}/{}", pod.metadata.namespace.as_deref().unwrap_or_default(), r.name)) else {
            return;
        };
        if let Some(d) = self.owner_of(&rs) {
            if !replicas::is_rolling_update(&d) {
                self.enqueue(&d);
            }
        }
    }
}

pub struct DeploymentController {
    client: kube::Client,
    recorder: super::EventRecorder,
    decisions: super::Decisions,
    replica_sets: Lister<ReplicaSet>,
    pods: Lister<Pod>,
    index: Index,
}

pub fn start(ctx: &super::Context) -> Result<(), super::StartError> {
    let queue = RateLimitingQueue::with_default_rate_limiter();
    let d_informer = ctx.factory.informer_for::<Deployment>()?;
    let rs_informer = ctx.factory.informer_for::<ReplicaSet>()?;
    let pod_informer = ctx.factory.informer_for::<Pod>()?;
    let index = Index { deployments: d_informer.lister(), replica_sets: rs_informer.lister(), queue: queue.clone() };

    let (a, u, d) = (index.clone(), index.clone(), index.clone());
    d_informer.add_named_event_handler(
        "deployment-controller",
        ResourceEventHandlerFuncs::new()
            .on_add(move |x: &Arc<Deployment>, _| a.enqueue(x))
            .on_update(move |_, x: &Arc<Deployment>| u.enqueue(x))
            .on_delete(move |x: &DeltaObject<Deployment>| d.enqueue(x.object())),
    );
    let (a, u, d) = (index.clone(), index.clone(), index.clone());
    rs_informer.add_named_event_handler(
        "deployment-controller",
        ResourceEventHandlerFuncs::new()
            .on_add(move |rs: &Arc<ReplicaSet>, _| a.replica_set_changed(rs))
            .on_update(move |old: &Arc<ReplicaSet>, cur: &Arc<ReplicaSet>| u.replica_set_updated(old, cur))
            .on_delete(move |rs: &DeltaObject<ReplicaSet>| {
                if let Some(owner) = d.owner_of(rs.object()) {
                    d.enqueue(&owner);
                }
            }),
    );
    let p = index.clone();
    pod_informer.add_named_event_handler(
        "deployment-controller",
        ResourceEventHandlerFuncs::new().on_delete(move |pod: &DeltaObject<Pod>| p.pod_deleted(pod.object())),
    );
    let controller = DeploymentController {
        client: ctx.client("kube-controller-manager"),
        recorder: ctx.recorder("deployment-controller", None),
        decisions: ctx.decisions.clone(),
        replica_sets: rs_informer.lister(),
        pods: pod_informer.lister(),
        index,
    };
    ctx.spawn_workers(Arc::new(controller), 5);
    Ok(())
}

impl super::Reconciler for DeploymentController {
    fn queue(&self) -> &RateLimitingQueue<String> {
        &self.index.queue
    }

    async fn sync(&self, key: String) -> Result<Option<Duration>, kube::Error> {
        self.sync_deployment(&key).await.map_err(|e| self.decisions.sync_failed(LOOP, &key, kube::Error::from(e)))
    }
}

impl DeploymentController {
    /// `syncDeployment`.
    async fn sync_deployment(&self, key: &str) -> Result<Option<Duration>, SyncError> {
        let Some(cached) = self.index.deployments.get(key) else { return Ok(None) };
        let mut d = (*cached).clone();
        let Some(spec) = d.spec.clone() else { return Ok(None) };
        let everything = spec.selector.match_labels.as_ref().is_none_or(|m| m.is_empty())
            && spec.selector.match_expressions.as_ref().is_none_or(|m| m.is_empty());
        if everything {
            self.recorder.event(
                &reference(&d),
                EventType::Warning,
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.",
            );
            let status = d.status.get_or_insert_with(Default::default);
            if status.observed_generation < d.metadata.generation {
                status.observed_generation = d.metadata.generation;
                self.update_status(&mut d).await?;
            }
            return Ok(None);
        }
        let sets = self.replica_sets_for(&d).await?;
        let pods = self.pod_map(&d, &sets);

        if d.metadata.deletion_timestamp.is_some() {
            let (new_rs, old) = self.new_and_old(&mut d, &sets, false).await?;
            let mut all = old;
            all.extend(new_rs.clone());
            self.sync_status(&all, new_rs.as_deref(), &mut d).await?;
            return Ok(None);
        }
        self.check_paused_conditions(&mut d).await?;
        if spec.paused.unwrap_or(false) {
            self.sync_scale(&mut d, &sets).await?;
            return Ok(None);
        }
        if rollback::rollback_to(&d).is_some() {
            self.rollback(&mut d, &sets).await?;
            return Ok(None);
        }
        if self.is_scaling_event(&mut d, &sets).await? {
            self.sync_scale(&mut d, &sets).await?;
            return Ok(None);
        }
        if replicas::is_rolling_update(&d) {
            self.rollout_rolling(&mut d, &sets).await
        } else {
            self.rollout_recreate(&mut d, &sets, &pods).await
        }
    }

    /// `getReplicaSetsForDeployment`: claims the replica sets (adopting and releasing).
    async fn replica_sets_for(&self, d: &Deployment) -> Result<Vec<Arc<ReplicaSet>>, SyncError> {
        let ns = d.metadata.namespace.clone().unwrap_or_default();
        let all = self.replica_sets.namespaced(&ns).list();
        let Some(spec) = d.spec.as_ref() else { return Ok(vec![]) };
        let claimer = Claimer { owner: d, selector: &spec.selector };
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), &ns);
        let sets: Api<ReplicaSet> = Api::namespaced(self.client.clone(), &ns);
        Ok(claimer.claim(&deployments, all, &sets).await?)
    }

    /// `getPodMapForDeployment`: the deployment's pods by the uid of their replica set.
    fn pod_map(&self, d: &Deployment, sets: &[Arc<ReplicaSet>]) -> HashMap<String, Vec<Arc<Pod>>> {
        let ns = d.metadata.namespace.clone().unwrap_or_default();
        let mut map: HashMap<String, Vec<Arc<Pod>>> =
            sets.iter().map(|rs| (rs.metadata.uid.clone().unwrap_or_default(), Vec::new())).collect();
        let Some(spec) = d.spec.as_ref() else { return map };
        for pod in self.pods.namespaced(&ns).list_matching(|p| selects(&spec.selector, p.metadata.labels.as_ref())) {
            if let Some(r) = controller_of(&pod.metadata) {
                if let Some(v) = map.get_mut(&r.uid) {
                    v.push(pod.clone());
                }
            }
        }
        map
    }
}
