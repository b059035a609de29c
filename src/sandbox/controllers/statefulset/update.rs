//! `updateStatefulSet` (`stateful_set_control.go`): one step of the set towards its spec.
//!
//! The pods are split into the replicas (ordinals in `[start, start+replicas)`, missing
//! ones made from the current or update revision) and the condemned (outside the range,
//! highest first). With `OrderedReady` every step waits for the one before: a replica is
//! created only when all lower ones are Running and Ready, one condemned pod goes at a
//! time. `Parallel` does them all at once. Then a `RollingUpdate` deletes the highest
//! replica at or above `partition` still on an old revision, once everything above it is
//! healthy; it comes back from the update revision.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::jiff::Timestamp;

use super::identity::{identity_matches, in_ordinal_range, new_pod, ordinal_of, replicas_of, revision_of, start_ordinal};
use super::pod_control::StatefulPodControl;
use crate::sandbox::controllers::active_pods::{is_available, is_ready, is_terminating};
use crate::sandbox::controllers::pod_control::slow_start_batch;

/// What a step over one pod tells the loop over all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Next,
    /// Wait for this pod (OrderedReady) or stop after an action.
    Exit,
}

fn phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

/// `isCreated`: the apiserver gave it a phase (the ones made here for missing ordinals have none).
pub fn is_created(pod: &Pod) -> bool {
    !phase(pod).is_empty()
}

/// `isRunningAndReady`.
pub fn is_running_and_ready(pod: &Pod) -> bool {
    phase(pod) == "Running" && is_ready(pod)
}

fn is_running_and_available(pod: &Pod, min_ready: i32) -> bool {
    is_running_and_ready(pod) && is_available(pod, min_ready, Timestamp::now())
}

/// `isUnavailable`.
fn is_unavailable(pod: &Pod, min_ready: i32) -> bool {
    !is_running_and_available(pod, min_ready) || pod.metadata.deletion_timestamp.is_some()
}

/// `allowsBurst`: `Parallel`.
pub fn allows_burst(set: &StatefulSet) -> bool {
    set.spec.as_ref().and_then(|s| s.pod_management_policy.as_deref()) == Some("Parallel")
}

fn strategy(set: &StatefulSet) -> &str {
    set.spec.as_ref().and_then(|s| s.update_strategy.as_ref()).and_then(|u| u.type_.as_deref()).unwrap_or("RollingUpdate")
}

fn partition(set: &StatefulSet) -> Option<i32> {
    set.spec.as_ref().and_then(|s| s.update_strategy.as_ref()).and_then(|u| u.rolling_update.as_ref()).and_then(|r| r.partition)
}

fn min_ready(set: &StatefulSet) -> i32 {
    set.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
}

/// `updateStatus` / `computeReplicaStatus` over the pods (missing ones count for nothing).
pub fn count_into(status: &mut StatefulSetStatus, min_ready: i32, current: &str, update: &str, pods: &[Arc<Pod>]) {
    let (mut replicas, mut ready, mut available, mut cur, mut upd) = (0, 0, 0, 0, 0);
    for pod in pods {
        if is_created(pod) {
            replicas += 1;
        }
        if is_running_and_ready(pod) {
            ready += 1;
            if is_running_and_available(pod, min_ready) {
                available += 1;
            }
        }
        if is_created(pod) && pod.metadata.deletion_timestamp.is_none() {
            let r = revision_of(pod);
            cur += i32::from(r == current);
            upd += i32::from(r == update);
        }
    }
    status.replicas = replicas;
    status.ready_replicas = Some(ready);
    status.available_replicas = Some(available);
    status.current_replicas = Some(cur);
    status.updated_replicas = Some(upd);
}

/// `completeRollingUpdate`: every replica updated and ready, the update becomes current.
pub fn complete_rolling_update(set: &StatefulSet, status: &mut StatefulSetStatus) {
    let want = replicas_of(set);
    if strategy(set) == "RollingUpdate"
        && status.updated_replicas == Some(want)
        && status.ready_replicas == Some(want)
        && status.replicas == want
    {
        status.current_replicas = status.updated_replicas;
        status.current_revision = status.update_revision.clone();
    }
}

/// The revisions a sync works with, and their templates.
pub struct Versions<'a> {
    pub current: &'a ControllerRevision,
    pub update: &'a ControllerRevision,
    pub current_template: PodTemplateSpec,
    pub update_template: PodTemplateSpec,
}

impl Versions<'_> {
    fn current_name(&self) -> &str {
        self.current.metadata.name.as_deref().unwrap_or_default()
    }
    fn update_name(&self) -> &str {
        self.update.metadata.name.as_deref().unwrap_or_default()
    }

    /// `newVersionedStatefulSetPod`: ordinals below the partition (or, without one, below
    /// the current replicas) stay on the current revision.
    fn pod_for(&self, set: &StatefulSet, ordinal: i32) -> Pod {
        let start = start_ordinal(set);
        let current_replicas = set.status.as_ref().and_then(|s| s.current_replicas).unwrap_or(0);
        let stays = strategy(set) == "RollingUpdate"
            && match partition(set) {
                None => ordinal < start + current_replicas,
                Some(p) => ordinal < start + p,
            };
        if stays {
            new_pod(set, &self.current_template, ordinal, self.current_name())
        } else {
            new_pod(set, &self.update_template, ordinal, self.update_name())
        }
    }
}

/// Runs `f` over `0..n`: in order, stopping at the first `Exit`, when `monotonic`;
/// otherwise all of them, in slow-start batches (`runForAll`).
async fn run_for_all<F, Fut>(n: usize, monotonic: bool, f: F) -> Result<Step, kube::Error>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<Step, kube::Error>>,
{
    if monotonic {
        for i in 0..n {
            if f(i).await? == Step::Exit {
                return Ok(Step::Exit);
            }
        }
        return Ok(Step::Next);
    }
    let next = AtomicUsize::new(0);
    let step = |i| {
        let fut = f(i);
        async move { fut.await.map(|_| ()) }
    };
    let (_, err) = slow_start_batch(n, 1, || step(next.fetch_add(1, Ordering::SeqCst))).await;
    match err {
        Some(e) => Err(e),
        None => Ok(Step::Next),
    }
}

/// The status this step leaves, and the error that stopped it.
pub struct Outcome {
    pub status: StatefulSetStatus,
    pub result: Result<(), kube::Error>,
}

/// `updateStatefulSet`.
pub async fn update_stateful_set(
    control: &StatefulPodControl<'_>,
    set: &StatefulSet,
    v: &Versions<'_>,
    collision_count: i32,
    pods: &[Arc<Pod>],
) -> Outcome {
    let min_ready = min_ready(set);
    let mut status = StatefulSetStatus {
        observed_generation: set.metadata.generation,
        current_revision: Some(v.current_name().to_string()),
        update_revision: Some(v.update_name().to_string()),
        collision_count: Some(collision_count),
        ..Default::default()
    };
    count_into(&mut status, min_ready, v.current_name(), v.update_name(), pods);

    let start = start_ordinal(set);
    let count = usize::try_from(replicas_of(set)).unwrap_or(0);
    let mut slots: Vec<Option<Arc<Pod>>> = vec![None; count];
    let mut condemned: Vec<Arc<Pod>> = Vec::new();
    for pod in pods {
        let ord = ordinal_of(pod);
        if in_ordinal_range(set, ord) {
            slots[usize::try_from(ord - start).unwrap_or(0)] = Some(pod.clone());
        } else if ord >= 0 {
            condemned.push(pod.clone());
        }
    }
    let replicas: Vec<Arc<Pod>> = slots
        .into_iter()
        .enumerate()
        .map(|(i, p)| p.unwrap_or_else(|| Arc::new(v.pod_for(set, start + i32::try_from(i).unwrap_or(0)))))
        .collect();
    condemned.sort_by_key(|p| std::cmp::Reverse(ordinal_of(p)));
    // The first unavailable pod: the replicas in order, then the condemned lowest first.
    let first_unavailable =
        replicas.iter().chain(condemned.iter().rev()).find(|p| is_unavailable(p, min_ready)).and_then(|p| p.metadata.name.clone());

    let recount = |status: &mut StatefulSetStatus| {
        let all: Vec<Arc<Pod>> = replicas.iter().chain(&condemned).cloned().collect();
        count_into(status, min_ready, v.current_name(), v.update_name(), &all);
    };
    if set.metadata.deletion_timestamp.is_some() {
        return Outcome { status, result: Ok(()) };
    }
    let monotonic = !allows_burst(set);

    // processReplica
    let r = run_for_all(replicas.len(), monotonic, |i| {
        let pod = replicas[i].clone();
        async move {
            if matches!(phase(&pod), "Failed" | "Succeeded") {
                if pod.metadata.deletion_timestamp.is_none() {
                    control.delete(&pod).await?;
                }
                return Ok(Step::Exit);
            }
            if !is_created(&pod) {
                control.create(&pod).await?;
                return Ok(if monotonic { Step::Exit } else { Step::Next });
            }
            if phase(&pod) == "Pending" {
                control.create_missing_claims(&pod).await?;
            }
            if monotonic && (is_terminating(&pod) || !is_running_and_available(&pod, min_ready)) {
                return Ok(Step::Exit);
            }
            if !identity_matches(set, &pod) {
                control.update_identity(&pod).await?;
            }
            Ok(Step::Next)
        }
    })
    .await;
    if !matches!(r, Ok(Step::Next)) {
        recount(&mut status);
        return Outcome { status, result: r.map(|_| ()) };
    }

    // The claims of pods about to be scaled away follow `whenScaled`.
    let r = run_for_all(condemned.len(), monotonic, |i| {
        let pod = condemned[i].clone();
        async move { control.hand_claims_to(&pod).await.map(|()| Step::Next) }
    })
    .await;
    if r.is_err() {
        recount(&mut status);
        return Outcome { status, result: r.map(|_| ()) };
    }

    // processCondemned: highest ordinal first.
    let r = run_for_all(condemned.len(), monotonic, |i| {
        let pod = condemned[i].clone();
        let first = first_unavailable.clone();
        async move {
            if pod.metadata.deletion_timestamp.is_some() {
                return Ok(if monotonic { Step::Exit } else { Step::Next });
            }
            let is_first = pod.metadata.name == first;
            if monotonic && !is_first && !is_running_and_available(&pod, min_ready) {
                return Ok(Step::Exit);
            }
            control.delete(&pod).await?;
            Ok(Step::Exit)
        }
    })
    .await;
    recount(&mut status);
    if !matches!(r, Ok(Step::Next)) {
        return Outcome { status, result: r.map(|_| ()) };
    }

    if strategy(set) == "OnDelete" {
        return Outcome { status, result: Ok(()) };
    }
    // RollingUpdate: from the highest ordinal down to the partition, one at a time.
    let update_min = usize::try_from(partition(set).unwrap_or(0)).unwrap_or(0);
    for pod in replicas.iter().skip(update_min).rev() {
        if revision_of(pod) != v.update_name() && !is_terminating(pod) {
            let result = control.delete(pod).await;
            status.current_replicas = status.current_replicas.map(|c| c - 1);
            return Outcome { status, result };
        }
        if is_unavailable(pod, min_ready) {
            break;
        }
    }
    Outcome { status, result: Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, phase: &str, ready: bool, revision: &str) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "labels": {"controller-revision-hash": revision}},
                "status": {"phase": phase, "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}
            }))
            .unwrap(),
        )
    }

    #[test]
    fn status_counts_created_ready_current_and_updated_pods() {
        let pods = vec![
            pod("web-0", "Running", true, "web-a"),
            pod("web-1", "Running", false, "web-b"),
            pod("web-2", "Pending", false, "web-b"),
            Arc::new(new_pod(&StatefulSet::default(), &PodTemplateSpec::default(), 3, "web-b")),
        ];
        let mut st = StatefulSetStatus::default();
        count_into(&mut st, 0, "web-a", "web-b", &pods);
        assert_eq!(st.replicas, 3, "the pod not yet created is not counted");
        assert_eq!((st.ready_replicas, st.available_replicas), (Some(1), Some(1)));
        assert_eq!((st.current_replicas, st.updated_replicas), (Some(1), Some(2)));
    }

    #[test]
    fn a_finished_rolling_update_makes_the_update_current() {
        let set: StatefulSet = serde_json::from_value(serde_json::json!({"spec": {
            "replicas": 2, "selector": {}, "template": {}, "updateStrategy": {"type": "RollingUpdate"}
        }}))
        .unwrap();
        // (replicas, ready, updated, completes)
        for (replicas, ready, updated, done) in [(2, 2, 2, true), (2, 1, 2, false), (2, 2, 1, false), (3, 2, 2, false)] {
            let mut st = StatefulSetStatus {
                replicas,
                ready_replicas: Some(ready),
                updated_replicas: Some(updated),
                current_replicas: Some(0),
                current_revision: Some("a".into()),
                update_revision: Some("b".into()),
                ..Default::default()
            };
            complete_rolling_update(&set, &mut st);
            assert_eq!(st.current_revision.as_deref() == Some("b"), done, "{replicas} {ready} {updated}");
        }
    }
}
