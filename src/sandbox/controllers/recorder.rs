//! client-go's event recorder (`tools/record`): what `kubectl describe` shows under Events.
//!
//! Each controller records as its component (`deployment-controller`, `kubelet` with the
//! node as host). Before an event is written it passes the same `EventCorrelator` as
//! client-go's (`events_cache.go`):
//! - a spam filter, a token bucket of 25 with one token back every 5 minutes per source,
//!   object and type, drops floods;
//! - the aggregator turns the tenth distinct message of one reason on one object within
//!   10 minutes into `(combined from similar events): …`;
//! - the logger makes a repeat of an identical event a PATCH of `count` and
//!   `lastTimestamp` on the first one instead of a new Event.
//!
//! Writing is asynchronous, as the broadcaster's is: recording never blocks a sync.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Resource;

/// `EventTypeNormal` / `EventTypeWarning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// `ref.GetReference`: the reference an Event names its object by.
pub fn reference<K: Resource<DynamicType = ()>>(obj: &K) -> ObjectReference {
    let meta = obj.meta();
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        namespace: meta.namespace.clone(),
        name: meta.name.clone(),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        field_path: None,
    }
}

const SPAM_BURST: f64 = 25.0;
const SPAM_REFILL: Duration = Duration::from_secs(300);
const AGGREGATE_MAX_EVENTS: usize = 10;
const AGGREGATE_INTERVAL: Duration = Duration::from_secs(600);
/// `maxLruCacheEntries`; beyond it the oldest half is forgotten.
const CACHE_ENTRIES: usize = 4096;

struct Bucket {
    tokens: f64,
    at: Instant,
}

struct Aggregate {
    local_keys: Vec<String>,
    last: Instant,
}

struct Observation {
    count: i32,
    name: String,
}

#[derive(Default)]
struct Correlator {
    spam: HashMap<String, Bucket>,
    aggregates: HashMap<String, Aggregate>,
    observed: HashMap<String, Observation>,
}

/// What the correlator decided for one event.
enum Write {
    Create(Event),
    /// A repeat: bump the first event's count.
    Patch {
        name: String,
        namespace: String,
        body: serde_json::Value,
    },
}

fn join(parts: &[&str]) -> String {
    parts.concat()
}

fn bounded<V>(map: &mut HashMap<String, V>) {
    if map.len() > CACHE_ENTRIES {
        let drop: Vec<String> = map.keys().take(CACHE_ENTRIES / 2).cloned().collect();
        for k in drop {
            map.remove(&k);
        }
    }
}

impl Correlator {
    fn correlate(&mut self, mut event: Event, now: Instant) -> Option<Write> {
        let o = &event.involved_object;
        let s = event.source.clone().unwrap_or_default();
        let (component, host) = (s.component.as_deref().unwrap_or(""), s.host.as_deref().unwrap_or(""));
        let (kind, ns, name, uid, api) = (
            o.kind.as_deref().unwrap_or(""),
            o.namespace.as_deref().unwrap_or(""),
            o.name.as_deref().unwrap_or(""),
            o.uid.as_deref().unwrap_or(""),
            o.api_version.as_deref().unwrap_or(""),
        );
        let (ty, reason, message) =
            (event.type_.clone().unwrap_or_default(), event.reason.clone().unwrap_or_default(), event.message.clone().unwrap_or_default());
        let field_path = o.field_path.as_deref().unwrap_or("");

        // EventSourceObjectSpamFilter
        let spam_key = join(&[component, host, kind, ns, name, uid, api, &ty]);
        let bucket = self.spam.entry(spam_key).or_insert(Bucket { tokens: SPAM_BURST, at: now });
        let refill = now.duration_since(bucket.at).as_secs_f64() / SPAM_REFILL.as_secs_f64();
        bucket.tokens = (bucket.tokens + refill).min(SPAM_BURST);
        bucket.at = now;
        if bucket.tokens < 1.0 {
            return None;
        }
        bucket.tokens -= 1.0;

        // EventAggregator (EventAggregatorByReasonFunc)
        let event_key = join(&[component, host, kind, ns, name, field_path, uid, api, &ty, &reason, &message]);
        let aggregate_key = join(&[component, host, kind, ns, name, uid, api, &ty, &reason, component, host]);
        let record = self.aggregates.entry(aggregate_key.clone()).or_insert(Aggregate { local_keys: vec![], last: now });
        if now.duration_since(record.last) > AGGREGATE_INTERVAL {
            record.local_keys.clear();
        }
        if !record.local_keys.contains(&message) {
            record.local_keys.push(message.clone());
        }
        record.last = now;
        let key = if record.local_keys.len() < AGGREGATE_MAX_EVENTS {
            event_key
        } else {
            record.local_keys.pop();
            event.message = Some(format!("(combined from similar events): {message}"));
            aggregate_key
        };

        // eventLogger
        let write = match self.observed.get_mut(&key) {
            Some(seen) => {
                seen.count += 1;
                Write::Patch {
                    name: seen.name.clone(),
                    namespace: event.metadata.namespace.clone().unwrap_or_default(),
                    body: serde_json::json!({
                        "count": seen.count,
                        "lastTimestamp": event.last_timestamp,
                        "message": event.message,
                    }),
                }
            }
            None => {
                self.observed.insert(key, Observation { count: 1, name: event.metadata.name.clone().unwrap_or_default() });
                Write::Create(event)
            }
        };
        bounded(&mut self.spam);
        bounded(&mut self.aggregates);
        bounded(&mut self.observed);
        Some(write)
    }
}

/// An `EventRecorder` for one component.
#[derive(Clone)]
pub struct EventRecorder {
    client: kube::Client,
    source: EventSource,
    correlator: Arc<Mutex<Correlator>>,
}

impl EventRecorder {
    /// A recorder writing as `component` (and `host`, which the kubelet sets to its node).
    pub fn new(client: kube::Client, component: &str, host: Option<&str>) -> Self {
        Self {
            client,
            source: EventSource { component: Some(component.to_string()), host: host.map(str::to_string) },
            correlator: Arc::new(Mutex::new(Correlator::default())),
        }
    }

    /// `recorder.Event(obj, type, reason, message)`.
    pub fn event(&self, object: &ObjectReference, ty: EventType, reason: &str, message: impl Into<String>) {
        let now = k8s_openapi::jiff::Timestamp::now();
        let name = object.name.clone().unwrap_or_default();
        let namespace = object.namespace.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| "default".to_string());
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!("{name}.{:x}", now.as_nanosecond())),
                namespace: Some(namespace),
                ..Default::default()
            },
            involved_object: object.clone(),
            reason: Some(reason.to_string()),
            message: Some(message.into()),
            source: Some(self.source.clone()),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            count: Some(1),
            type_: Some(ty.as_str().to_string()),
            reporting_component: self.source.component.clone(),
            reporting_instance: Some(self.source.host.clone().unwrap_or_default()),
            ..Default::default()
        };
        let write = self.correlator.lock().unwrap_or_else(|e| e.into_inner()).correlate(event, Instant::now());
        let Some(write) = write else { return };
        let client = self.client.clone();
        tokio::spawn(async move {
            // The broadcaster retries a failed write a few times, then drops the event.
            for attempt in 0..3u32 {
                let ok = match &write {
                    Write::Create(e) => {
                        let api: Api<Event> = Api::namespaced(client.clone(), e.metadata.namespace.as_deref().unwrap_or("default"));
                        api.create(&PostParams::default(), e).await.map(|_| ())
                    }
                    Write::Patch { name, namespace, body } => {
                        let api: Api<Event> = Api::namespaced(client.clone(), namespace);
                        api.patch(name, &PatchParams::default(), &Patch::Strategic(body)).await.map(|_| ())
                    }
                };
                match ok {
                    Ok(()) => return,
                    // The namespace is going away, or the event was deleted: nothing to retry.
                    Err(kube::Error::Api(s)) if matches!(s.code, 403 | 404 | 409 | 422) => return,
                    Err(_) => tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await,
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(reason: &str, message: &str) -> Event {
        Event {
            metadata: ObjectMeta { name: Some(format!("web.{message}")), namespace: Some("default".into()), ..Default::default() },
            involved_object: ObjectReference {
                kind: Some("ReplicaSet".into()),
                name: Some("web".into()),
                namespace: Some("default".into()),
                uid: Some("u1".into()),
                ..Default::default()
            },
            reason: Some(reason.into()),
            message: Some(message.into()),
            source: Some(EventSource { component: Some("replicaset-controller".into()), host: None }),
            ..Default::default()
        }
    }

    #[test]
    fn a_repeat_patches_the_count_of_the_first_event() {
        let mut c = Correlator::default();
        let now = Instant::now();
        assert!(matches!(c.correlate(ev("SuccessfulCreate", "Created pod: a"), now), Some(Write::Create(_))));
        match c.correlate(ev("SuccessfulCreate", "Created pod: a"), now) {
            Some(Write::Patch { name, body, .. }) => {
                assert_eq!(name, "web.Created pod: a");
                assert_eq!(body["count"], 2);
            }
            _ => panic!("a repeat must patch"),
        }
    }

    #[test]
    fn the_tenth_distinct_message_of_a_reason_is_combined() {
        let mut c = Correlator::default();
        let now = Instant::now();
        for i in 0..9 {
            assert!(matches!(c.correlate(ev("SuccessfulCreate", &format!("Created pod: p{i}")), now), Some(Write::Create(_))));
        }
        match c.correlate(ev("SuccessfulCreate", "Created pod: p9"), now) {
            Some(Write::Create(e)) => assert_eq!(e.message.as_deref(), Some("(combined from similar events): Created pod: p9")),
            _ => panic!("the tenth is a new aggregate event"),
        }
        match c.correlate(ev("SuccessfulCreate", "Created pod: p10"), now) {
            Some(Write::Patch { body, .. }) => {
                assert_eq!(body["count"], 2);
                assert_eq!(body["message"], "(combined from similar events): Created pod: p10");
            }
            _ => panic!("later ones bump the aggregate"),
        }
    }

    #[test]
    fn floods_are_dropped_after_a_burst_of_25() {
        let mut c = Correlator::default();
        let now = Instant::now();
        let written = (0..40).filter(|i| c.correlate(ev(&format!("R{i}"), "m"), now).is_some()).count();
        assert_eq!(written, 25);
        assert!(c.correlate(ev("R", "m"), now + SPAM_REFILL).is_some(), "a token comes back after five minutes");
    }
}
