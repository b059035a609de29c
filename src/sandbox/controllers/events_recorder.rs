//! client-go's newer event recorder (`tools/events`): writes `events.k8s.io/v1` Events, as
//! kube-scheduler does (`kubectl describe` still shows them: the sandbox stores them as the
//! core Events they convert to).
//!
//! Unlike [`super::recorder`]'s correlator there is no spam filter and no aggregation by
//! message: an event isomorphic to one already written (same type, action, reason,
//! reporting controller and instance, regarding and related object — not the note) becomes
//! an `EventSeries`. The second occurrence patches `series {count: 2}` onto the first
//! event; later ones only count locally, and the broadcaster writes the series every 30
//! minutes and once more when it has been quiet for 6 (`refreshTime`, `finishTime`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{json, Value};

use super::recorder::EventType;

/// `finishTime`: a series quiet for this long is written a last time and forgotten.
const FINISH_TIME: Duration = Duration::from_secs(6 * 60);
/// `refreshTime`: how often ongoing series are written.
const REFRESH_TIME: Duration = Duration::from_secs(30 * 60);

/// One event the broadcaster remembers, keyed by what makes events isomorphic.
struct Cached {
    /// The event as first written (name, namespace, the whole body).
    event: Value,
    first: Instant,
    /// `series.count` and when it was last observed, once the event repeated.
    series: Option<(i32, Instant, String)>,
}

/// What one recording decided to write.
enum Write {
    Create(Value),
    /// `createPatchBytesForSeries`: the series patched onto the first event (created
    /// anew if that one is gone).
    Series(Value),
}

/// An `EventRecorder` of `tools/events` for one reporting controller and instance.
#[derive(Clone)]
pub struct EventsRecorder {
    client: kube::Client,
    controller: String,
    instance: String,
    cache: Arc<Mutex<HashMap<String, Cached>>>,
}

fn micro_time(t: k8s_openapi::jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string()
}

impl EventsRecorder {
    /// `NewRecorder(scheme, reportingController)`: the instance is `<controller>-<hostname>`
    /// unless given. Must be called inside the runtime (it starts the series' timers).
    pub fn new(client: kube::Client, controller: &str, instance: Option<&str>) -> Self {
        let instance = instance.map(str::to_string).unwrap_or_else(|| format!("{controller}-{}", hostname()));
        let recorder = Self { client, controller: controller.into(), instance, cache: Arc::new(Mutex::new(HashMap::new())) };
        tokio::spawn(series_timers(Arc::downgrade(&recorder.cache), recorder.client.clone()));
        recorder
    }

    /// The reporting instance the events carry.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// `recorder.Eventf(regarding, related, type, reason, action, note)`.
    pub fn eventf(
        &self,
        regarding: &ObjectReference,
        related: Option<&ObjectReference>,
        ty: EventType,
        reason: &str,
        action: &str,
        note: &str,
    ) {
        let now = k8s_openapi::jiff::Timestamp::now();
        let regarding_json = serde_json::to_value(regarding).unwrap_or(Value::Null);
        let related_json = related.and_then(|r| serde_json::to_value(r).ok());
        let key = format!(
            "{}\u{0}{action}\u{0}{reason}\u{0}{}\u{0}{}\u{0}{regarding_json}\u{0}{}",
            ty.as_str(),
            self.controller,
            self.instance,
            related_json.clone().unwrap_or(Value::Null)
        );
        let write = {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            match cache.get_mut(&key) {
                Some(cached) => match &mut cached.series {
                    Some((count, at, last)) => {
                        *count += 1;
                        *at = Instant::now();
                        *last = micro_time(now);
                        None
                    }
                    None => {
                        cached.series = Some((2, Instant::now(), micro_time(now)));
                        Some(Write::Series(series_event(cached)))
                    }
                },
                None => {
                    let name = regarding.name.clone().unwrap_or_default();
                    let namespace = regarding.namespace.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| "default".into());
                    let mut event = json!({
                        "apiVersion": "events.k8s.io/v1",
                        "kind": "Event",
                        "metadata": {"name": format!("{name}.{:x}", now.as_nanosecond()), "namespace": namespace},
                        "eventTime": micro_time(now),
                        "reportingController": self.controller,
                        "reportingInstance": self.instance,
                        "action": action,
                        "reason": reason,
                        "regarding": regarding_json,
                        "note": note,
                        "type": ty.as_str(),
                    });
                    if let Some(r) = related_json {
                        event["related"] = r;
                    }
                    cache.insert(key, Cached { event: event.clone(), first: Instant::now(), series: None });
                    Some(Write::Create(event))
                }
            }
        };
        if let Some(write) = write {
            tokio::spawn(record(self.client.clone(), write));
        }
    }
}

/// The first event with its series as it stands.
fn series_event(cached: &Cached) -> Value {
    let mut e = cached.event.clone();
    if let Some((count, _, last)) = &cached.series {
        e["series"] = json!({"count": count, "lastObservedTime": last});
    }
    e
}

/// `recordEvent` with the broadcaster's retries: a write the server refuses is dropped.
async fn record(client: kube::Client, write: Write) {
    for attempt in 0..3u32 {
        let result = match &write {
            Write::Create(e) => create(&client, e).await,
            Write::Series(e) => {
                let api = api_for(&client, e);
                let name = e.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
                let patch = json!({"series": e["series"]});
                match api.patch(name, &PatchParams::default(), &Patch::Strategic(&patch)).await {
                    Err(kube::Error::Api(s)) if s.code == 404 => create(&client, e).await,
                    other => other.map(|_| ()),
                }
            }
        };
        match result {
            Ok(()) => return,
            Err(kube::Error::Api(s)) if (400..500).contains(&s.code) => return,
            Err(_) => tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await,
        }
    }
}

fn api_for(client: &kube::Client, e: &Value) -> Api<Event> {
    Api::namespaced(client.clone(), e.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default"))
}

async fn create(client: &kube::Client, e: &Value) -> Result<(), kube::Error> {
    let event: Event = serde_json::from_value(e.clone()).map_err(kube::Error::SerdeError)?;
    api_for(client, e).create(&PostParams::default(), &event).await.map(|_| ())
}

/// `refreshExistingEventSeries` every 30 minutes and `finishSeries` every 6, until the
/// recorder is dropped.
async fn series_timers(cache: Weak<Mutex<HashMap<String, Cached>>>, client: kube::Client) {
    let mut since_refresh = Duration::ZERO;
    loop {
        tokio::time::sleep(FINISH_TIME).await;
        since_refresh += FINISH_TIME;
        let Some(cache) = cache.upgrade() else { return };
        let refresh = since_refresh >= REFRESH_TIME;
        if refresh {
            since_refresh = Duration::ZERO;
        }
        let writes: Vec<Write> = {
            let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
            let mut writes = Vec::new();
            cache.retain(|_, c| match &c.series {
                Some((_, at, _)) if at.elapsed() > FINISH_TIME => {
                    writes.push(Write::Series(series_event(c)));
                    false
                }
                Some(_) => {
                    if refresh {
                        writes.push(Write::Series(series_event(c)));
                    }
                    true
                }
                None => c.first.elapsed() <= FINISH_TIME,
            });
            writes
        };
        for w in writes {
            record(client.clone(), w).await;
        }
    }
}

/// `os.Hostname()`.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}
