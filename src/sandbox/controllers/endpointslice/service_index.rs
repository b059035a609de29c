//! `GetPodServiceMemberships`: the Services a pod belongs to, so that a Service is synced
//! when it changes and when any pod it selects does. The Endpoints and EndpointSlice
//! controllers queue their Services the same way.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, Service};

use super::pod_endpoints::service_selects;
use crate::machinery::delta_fifo::DeltaObject;
use crate::machinery::lister::Lister;
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::shared_informer::{ResourceEventHandlerFuncs, SharedIndexInformer};
use crate::sandbox::controllers::replicaset::key_of;

#[derive(Clone)]
pub struct ServiceIndex {
    pub services: Lister<Service>,
    pub queue: RateLimitingQueue<String>,
}

impl ServiceIndex {
    /// Queues `namespace/name` of a Service on its own changes and on its pods', through
    /// handlers named `name`.
    pub fn watch(
        name: &str,
        services: &SharedIndexInformer<Service>,
        pods: &SharedIndexInformer<Pod>,
        queue: &RateLimitingQueue<String>,
    ) -> Self {
        let index = ServiceIndex { services: services.lister(), queue: queue.clone() };
        let (q1, q2, q3) = (queue.clone(), queue.clone(), queue.clone());
        services.add_named_event_handler(
            name,
            ResourceEventHandlerFuncs::new()
                .on_add(move |s: &Arc<Service>, _| q1.add(key_of(&s.metadata)))
                .on_update(move |_, s: &Arc<Service>| q2.add(key_of(&s.metadata)))
                .on_delete(move |s: &DeltaObject<Service>| q3.add(key_of(&s.object().metadata))),
        );
        let (a, u, d) = (index.clone(), index.clone(), index.clone());
        pods.add_named_event_handler(
            name,
            ResourceEventHandlerFuncs::new()
                .on_add(move |p: &Arc<Pod>, _| a.enqueue_for(p))
                .on_update(move |old: &Arc<Pod>, cur: &Arc<Pod>| u.update_pod(old, cur))
                .on_delete(move |p: &DeltaObject<Pod>| d.enqueue_for(p.object())),
        );
        index
    }

    fn enqueue_for(&self, pod: &Pod) {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        for svc in self.services.namespaced(&ns).list_matching(|s| service_selects(s, pod.metadata.labels.as_ref())) {
            self.queue.add(key_of(&svc.metadata));
        }
    }

    fn update_pod(&self, old: &Pod, cur: &Pod) {
        if old.metadata.resource_version == cur.metadata.resource_version {
            return;
        }
        self.enqueue_for(cur);
        if old.metadata.labels != cur.metadata.labels {
            self.enqueue_for(old);
        }
    }
}
