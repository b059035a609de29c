//! What a pod asks of a node and what a node offers (`framework.Resource`), in the
//! scheduler's units: milli-CPUs, bytes, and counts for extended resources.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// `schedutil.DefaultMilliCPURequest`: what a container without a cpu request counts
/// as when scoring, so that such pods still spread.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// `schedutil.DefaultMemoryRequest`: 200 MiB.
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// `framework.Resource`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    /// Extended resources (`example.com/gpu`, hugepages), by name.
    pub scalar: BTreeMap<String, i64>,
}

/// `Quantity.MilliValue()` / `Value()`: rounded up, as Go does.
fn amount(q: &Quantity, milli: bool) -> i64 {
    let v = crate::sandbox::registry::parse_quantity(&q.0).unwrap_or(0.0);
    let v = if milli { v * 1000.0 } else { v };
    // Float noise must not round 0.1*1000 up to 101.
    (v - 1e-6).ceil().max(0.0) as i64
}

impl Resources {
    /// A `ResourceList` (requests, allocatable) in scheduler units. `pods` is not a
    /// resource here; [`allowed_pods`] reads it.
    pub fn from_list(list: Option<&BTreeMap<String, Quantity>>) -> Resources {
        let mut r = Resources::default();
        for (name, q) in list.into_iter().flatten() {
            match name.as_str() {
                "cpu" => r.milli_cpu = amount(q, true),
                "memory" => r.memory = amount(q, false),
                "ephemeral-storage" => r.ephemeral_storage = amount(q, false),
                "pods" => {}
                other if other.contains('/') || other.starts_with("hugepages-") => {
                    r.scalar.insert(other.to_string(), amount(q, false));
                }
                _ => {}
            }
        }
        r
    }

    pub fn add(&mut self, o: &Resources) {
        self.milli_cpu += o.milli_cpu;
        self.memory += o.memory;
        self.ephemeral_storage += o.ephemeral_storage;
        for (k, v) in &o.scalar {
            *self.scalar.entry(k.clone()).or_default() += v;
        }
    }

    /// `RemovePod`'s subtraction; a resource that drops to nothing leaves the map.
    pub fn sub(&mut self, o: &Resources) {
        self.milli_cpu -= o.milli_cpu;
        self.memory -= o.memory;
        self.ephemeral_storage -= o.ephemeral_storage;
        for (k, v) in &o.scalar {
            if let Some(e) = self.scalar.get_mut(k) {
                *e -= v;
                if *e == 0 {
                    self.scalar.remove(k);
                }
            }
        }
    }

    /// Keeps, per resource, the larger of the two (`maxResourceList`).
    fn max_with(&mut self, o: &Resources) {
        self.milli_cpu = self.milli_cpu.max(o.milli_cpu);
        self.memory = self.memory.max(o.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(o.ephemeral_storage);
        for (k, v) in &o.scalar {
            let e = self.scalar.entry(k.clone()).or_default();
            *e = (*e).max(*v);
        }
    }

    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0 && self.memory == 0 && self.ephemeral_storage == 0 && self.scalar.is_empty()
    }
}

fn container_requests(c: &Container, non_zero: bool) -> Resources {
    let mut r = Resources::from_list(c.resources.as_ref().and_then(|r| r.requests.as_ref()));
    if non_zero {
        if r.milli_cpu == 0 {
            r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if r.memory == 0 {
            r.memory = DEFAULT_MEMORY_REQUEST;
        }
    }
    r
}

/// `resourcehelper.PodRequests`: the containers' requests summed, sidecars (init
/// containers that restart) added, at least what the largest init container needs while
/// the sidecars before it run, plus the pod's overhead. `non_zero` counts a container
/// without cpu or memory requests as the scheduler's defaults (for scoring).
pub fn pod_requests(pod: &Pod, non_zero: bool) -> Resources {
    let Some(spec) = &pod.spec else { return Resources::default() };
    let mut reqs = Resources::default();
    for c in &spec.containers {
        reqs.add(&container_requests(c, non_zero));
    }
    let mut sidecars = Resources::default();
    let mut init = Resources::default();
    for c in spec.init_containers.iter().flatten() {
        let mut r = container_requests(c, non_zero);
        if c.restart_policy.as_deref() == Some("Always") {
            reqs.add(&r);
            sidecars.add(&r);
            r = sidecars.clone();
        } else {
            r.add(&sidecars);
        }
        init.max_with(&r);
    }
    reqs.max_with(&init);
    reqs.add(&Resources::from_list(spec.overhead.as_ref()));
    reqs
}

/// `allocatable["pods"]`: how many pods a node takes.
pub fn allowed_pods(allocatable: Option<&BTreeMap<String, Quantity>>) -> i64 {
    allocatable.and_then(|a| a.get("pods")).map(|q| amount(q, false)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(json: serde_json::Value) -> Pod {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn requests_sum_containers_and_take_the_largest_init_container() {
        let p = pod(serde_json::json!({"spec": {
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "100m", "memory": "1Gi"}}},
                           {"name": "b", "resources": {"requests": {"cpu": "0.2"}}}],
            "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "1"}}}],
        }}));
        let r = pod_requests(&p, false);
        assert_eq!((r.milli_cpu, r.memory), (1000, 1 << 30));
        let p = pod(serde_json::json!({"spec": {"containers": [{"name": "a"}]}}));
        assert!(pod_requests(&p, false).is_zero());
        assert_eq!(pod_requests(&p, true).milli_cpu, DEFAULT_MILLI_CPU_REQUEST);
    }
}
