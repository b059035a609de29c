//! `RealPodControl` (`pkg/controller/controller_utils.go`): how a workload controller
//! creates and deletes its pods, with the Events `kubectl describe` shows for them
//! (`SuccessfulCreate` `Created pod: web-abc12`, `FailedCreate`, `SuccessfulDelete`,
//! `FailedDelete`), and `slowStartBatch`, which creates in batches of 1, 2, 4, … so a
//! template the apiserver refuses costs one failed request, not hundreds.

use std::future::Future;

use futures::future::join_all;
use k8s_openapi::api::core::v1::{ObjectReference, Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, PostParams};

use super::{EventRecorder, EventType};

pub const SUCCESSFUL_CREATE: &str = "SuccessfulCreate";
pub const FAILED_CREATE: &str = "FailedCreate";
pub const SUCCESSFUL_DELETE: &str = "SuccessfulDelete";
pub const FAILED_DELETE: &str = "FailedDelete";

/// `SlowStartInitialBatchSize`.
pub const SLOW_START_INITIAL_BATCH: usize = 1;

/// Creates and deletes pods for one controller object, recording Events on it.
pub struct PodControl<'a> {
    pub client: &'a kube::Client,
    pub recorder: &'a EventRecorder,
    /// The controller object the Events are about.
    pub object: &'a ObjectReference,
}

/// `GetPodFromTemplate`: the template's labels, annotations, finalizers and spec, named
/// `<controller>-<random>` by generateName, controlled by `owner`.
pub fn pod_from_template(template: &PodTemplateSpec, namespace: &str, controller_name: &str, owner: OwnerReference) -> Pod {
    let mut pod = Pod::default();
    if let Some(meta) = &template.metadata {
        pod.metadata.labels = meta.labels.clone();
        pod.metadata.annotations = meta.annotations.clone();
        pod.metadata.finalizers = meta.finalizers.clone();
    }
    pod.metadata.generate_name = Some(format!("{controller_name}-"));
    pod.metadata.namespace = Some(namespace.to_string());
    pod.metadata.owner_references = Some(vec![owner]);
    pod.spec = template.spec.clone();
    pod
}

impl PodControl<'_> {
    /// `CreatePodsWithGenerateName`.
    pub async fn create(&self, pod: &Pod) -> Result<Pod, kube::Error> {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        match api.create(&PostParams::default(), pod).await {
            Ok(created) => {
                let name = created.metadata.name.clone().unwrap_or_default();
                self.recorder.event(self.object, EventType::Normal, SUCCESSFUL_CREATE, format!("Created pod: {name}"));
                Ok(created)
            }
            Err(e) => {
                // A terminating namespace refuses every create; upstream records nothing then.
                let terminating =
                    matches!(&e, kube::Error::Api(s) if s.code == 403 && s.message.contains("because it is being terminated"));
                if !terminating {
                    self.recorder.event(self.object, EventType::Warning, FAILED_CREATE, format!("Error creating: {}", api_message(&e)));
                }
                Err(e)
            }
        }
    }

    /// `DeletePod`.
    pub async fn delete(&self, namespace: &str, name: &str) -> Result<(), kube::Error> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => {
                self.recorder.event(self.object, EventType::Normal, SUCCESSFUL_DELETE, format!("Deleted pod: {name}"));
                Ok(())
            }
            Err(e) => {
                if !matches!(&e, kube::Error::Api(s) if s.code == 404) {
                    self.recorder.event(self.object, EventType::Warning, FAILED_DELETE, format!("Error deleting: {}", api_message(&e)));
                }
                Err(e)
            }
        }
    }
}

/// The apiserver's message for an API error (what Go's `err.Error()` prints).
pub fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}

/// `slowStartBatch`: runs `f` `count` times in batches doubling from `initial`, stopping
/// after the first batch with a failure. Returns the successes and the first error.
pub async fn slow_start_batch<F, Fut, E>(count: usize, initial: usize, f: F) -> (usize, Option<E>)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let mut remaining = count;
    let mut successes = 0;
    let mut batch = remaining.min(initial);
    while batch > 0 {
        let results = join_all((0..batch).map(|_| f())).await;
        let mut first = None;
        for r in results {
            match r {
                Ok(()) => successes += 1,
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        if first.is_some() {
            return (successes, first);
        }
        remaining -= batch;
        batch = remaining.min(2 * batch);
    }
    (successes, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    #[tokio::test]
    async fn slow_start_doubles_and_stops_at_the_first_failing_batch() {
        let cases: &[(usize, Option<usize>, usize, Vec<usize>)] = &[
            // (count, fail from call n, successes, batch sizes)
            (10, None, 10, vec![1, 2, 4, 3]),
            (10, Some(4), 4, vec![1, 2, 4]),
            (0, None, 0, vec![]),
        ];
        for (count, fail_from, want, want_batches) in cases {
            let calls = AtomicUsize::new(0);
            let batches = Mutex::new(Vec::<usize>::new());
            let (ok, err) = slow_start_batch(*count, SLOW_START_INITIAL_BATCH, || {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if fail_from.is_some_and(|f| n >= f) {
                        Err("refused")
                    } else {
                        Ok(())
                    }
                }
            })
            .await;
            // Batches are seen as jumps in the call counter at each await; recompute them.
            let mut b = batches.lock().unwrap();
            let (mut total, mut size) = (0, (*count).min(SLOW_START_INITIAL_BATCH));
            while size > 0 && total < calls.load(Ordering::SeqCst) {
                b.push(size);
                total += size;
                size = (count - total).min(2 * size);
            }
            assert_eq!(ok, *want, "count {count}");
            assert_eq!(err.is_some(), fail_from.is_some());
            assert_eq!(*b, *want_batches, "count {count}");
        }
    }
}
