//! The EndpointSlice controller (`pkg/controller/endpointslice/endpointslice_controller.go`):
//! for every Service with a selector, discovery.k8s.io/v1 EndpointSlices owned by it
//! listing the selected pods with their conditions (ready, serving, terminating), node,
//! zone and ports. What kube-proxy and DNS read since Endpoints were deprecated.
//!
//! A deleted Service's slices go with the garbage collector, through their owner
//! reference. Slices are created with a generated name, so a sync that trusted a cache not
//! yet showing its own last writes would create them twice; [`stale::Tracker`] holds a sync
//! back until the cache has caught up (upstream's `EndpointSliceTracker`).

pub mod pod_endpoints;
pub mod reconciler;
pub mod service_index;
pub mod stale;
pub mod trigger_time;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, PostParams};

use self::pod_endpoints::service_selects;
use self::reconciler::{desired, plan, Action, CONTROLLER_NAME, LABEL_MANAGED_BY, LABEL_SERVICE_NAME, MAX_ENDPOINTS_PER_SLICE, ZONE_LABEL};
use self::service_index::ServiceIndex;
use self::trigger_time::TriggerTimeTracker;
use super::recorder::reference;
use super::EventType;
use crate::machinery::delta_fifo::DeltaObject;
use crate::machinery::lister::Lister;
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::shared_informer::ResourceEventHandlerFuncs;

const LOOP: &str = "endpointslice";
const COMPONENT: &str = "endpointslice-controller";

/// The Service a slice of ours belongs to, as `namespace/name`.
fn service_key_of(slice: &EndpointSlice) -> Option<String> {
    let labels = slice.metadata.labels.as_ref()?;
    if labels.get(LABEL_MANAGED_BY).map(String::as_str) != Some(CONTROLLER_NAME) {
        return None;
    }
    Some(format!("{}/{}", slice.metadata.namespace.as_deref().unwrap_or_default(), labels.get(LABEL_SERVICE_NAME)?))
}

/// Queues the Service of a slice of ours.
fn enqueue_slice(queue: &RateLimitingQueue<String>, slice: &EndpointSlice) {
    if let Some(key) = service_key_of(slice) {
        queue.add(key);
    }
}

pub struct EndpointSliceController {
    client: kube::Client,
    recorder: super::EventRecorder,
    decisions: super::Decisions,
    pods: Lister<Pod>,
    nodes: Lister<Node>,
    slices: Lister<EndpointSlice>,
    triggers: TriggerTimeTracker,
    tracker: stale::Tracker,
    index: ServiceIndex,
}

pub fn start(ctx: &super::Context) -> Result<(), super::StartError> {
    let queue = RateLimitingQueue::with_default_rate_limiter();
    let services = ctx.factory.informer_for::<Service>()?;
    let pods = ctx.factory.informer_for::<Pod>()?;
    let nodes = ctx.factory.informer_for::<Node>()?;
    let slices = ctx.factory.informer_for::<EndpointSlice>()?;
    let index = ServiceIndex::watch(COMPONENT, &services, &pods, &queue);
    // A slice of ours changed or deleted by someone else is put right.
    let (a, u, d) = (queue.clone(), queue.clone(), queue.clone());
    slices.add_named_event_handler(
        COMPONENT,
        ResourceEventHandlerFuncs::new()
            .on_add(move |s: &Arc<EndpointSlice>, _| enqueue_slice(&a, s))
            .on_update(move |_, s: &Arc<EndpointSlice>| enqueue_slice(&u, s))
            .on_delete(move |s: &DeltaObject<EndpointSlice>| enqueue_slice(&d, s.object())),
    );
    let controller = EndpointSliceController {
        client: ctx.client("kube-controller-manager"),
        recorder: ctx.recorder(COMPONENT, None),
        decisions: ctx.decisions.clone(),
        pods: pods.lister(),
        nodes: nodes.lister(),
        slices: slices.lister(),
        triggers: TriggerTimeTracker::default(),
        tracker: stale::Tracker::default(),
        index,
    };
    ctx.spawn_workers(Arc::new(controller), 5);
    Ok(())
}

impl super::Reconciler for EndpointSliceController {
    fn queue(&self) -> &RateLimitingQueue<String> {
        &self.index.queue
    }

    async fn sync(&self, key: String) -> Result<Option<Duration>, kube::Error> {
        match self.sync_service(&key).await {
            Ok(()) => Ok(None),
            // Not a failure: the next try (with backoff) finds the cache caught up.
            Err(SyncError::Stale) => Err(kube::Error::Service(Box::new(SyncError::Stale))),
            Err(SyncError::Kube(e)) => Err(self.decisions.sync_failed(LOOP, &key, e)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error("EndpointSlice informer cache is out of date")]
    Stale,
    #[error(transparent)]
    Kube(#[from] kube::Error),
}

impl EndpointSliceController {
    /// `syncService`.
    async fn sync_service(&self, key: &str) -> Result<(), SyncError> {
        let (ns, _) = key.split_once('/').unwrap_or(("", key));
        let Some(svc) = self.index.services.get(key) else {
            self.triggers.delete(key);
            self.tracker.forget(key);
            return Ok(());
        };
        let spec = svc.spec.clone().unwrap_or_default();
        if spec.type_.as_deref() == Some("ExternalName") || spec.selector.is_none() {
            return Ok(());
        }
        let existing: Vec<Arc<EndpointSlice>> = self.slices.namespaced(ns).list_matching(|s| service_key_of(s).as_deref() == Some(key));
        if self.tracker.is_stale(key, &existing) {
            return Err(SyncError::Stale);
        }
        let pods: Vec<Arc<Pod>> = self.pods.namespaced(ns).list_matching(|p| service_selects(&svc, p.metadata.labels.as_ref()));
        let pods: Vec<&Pod> = pods.iter().map(|p| &**p).collect();
        let trigger = self.triggers.compute(key, &svc, &pods).map(trigger_time::format);
        let zone_of = |node: &str| self.nodes.get(node).and_then(|n| n.metadata.labels.as_ref()?.get(ZONE_LABEL).cloned());
        let actions = plan(&svc, &existing, desired(&svc, &pods, zone_of), trigger.as_deref(), MAX_ENDPOINTS_PER_SLICE);
        if actions.is_empty() {
            return Ok(());
        }
        let api: Api<EndpointSlice> = Api::namespaced(self.client.clone(), ns);
        let (mut created, mut updated, mut deleted) = (0, 0, 0);
        for action in actions {
            let result = match action {
                Action::Create(s) => api.create(&PostParams::default(), &s).await.map(|s| {
                    created += 1;
                    self.tracker.expect(key, &s);
                }),
                Action::Update(s) => {
                    api.replace(s.metadata.name.as_deref().unwrap_or_default(), &PostParams::default(), &s).await.map(|s| {
                        updated += 1;
                        self.tracker.expect(key, &s);
                    })
                }
                Action::Delete(name) => match api.delete(&name, &DeleteParams::default()).await {
                    Ok(_) => {
                        deleted += 1;
                        self.tracker.expect_gone(key, &name);
                        Ok(())
                    }
                    Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
                    Err(e) => Err(e),
                },
            };
            if let Err(e) = result {
                // A terminating namespace refuses new slices; nothing to retry.
                if matches!(&e, kube::Error::Api(s) if s.code == 403 && s.message.contains("being terminated")) {
                    return Ok(());
                }
                let message = format!("Error updating Endpoint Slices for Service {key}: {}", super::pod_control::api_message(&e));
                self.recorder.event(&reference(&*svc), EventType::Warning, "FailedToUpdateEndpointSlices", message);
                return Err(e.into());
            }
        }
        self.decisions.say(LOOP, key, &format!("endpoint slices: {created} created, {updated} updated, {deleted} deleted"));
        Ok(())
    }
}
