//! `pods/log`: what `kubectl logs` reads. Upstream the apiserver validates the options and
//! the container (`pkg/registry/core/pod/rest/log.go`, `LogLocation` in `strategy.go`)
//! and proxies to the node's kubelet, which checks the container's state
//! (`validateContainerLogStatus`) and streams its CRI log file. Here the simulated kubelet
//! writes those files under the data directory and this streamer reads them, with both
//! halves' checks and wording.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::strategy::{ObjectReader, Streamed, SubresourceStream, SubresourceStreamer};
use crate::sandbox::cri_log;
use crate::sandbox::status::{ApiError, FieldError};

/// How often a followed log looks for new lines and checks that its pod is still there.
const FOLLOW_POLL: Duration = Duration::from_millis(200);

/// The validated `PodLogOptions`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogOptions {
    pub container: Option<String>,
    pub follow: bool,
    pub previous: bool,
    pub timestamps: bool,
    pub tail_lines: Option<usize>,
    pub limit_bytes: Option<usize>,
    pub since: Option<DateTime<Utc>>,
}

impl LogOptions {
    /// Decodes and validates the query (`ValidatePodLogOptions`).
    pub fn parse(q: &crate::sandbox::request::Query, now: DateTime<Utc>) -> Result<LogOptions, ApiError> {
        let mut errs = Vec::new();
        let tail = q.int("tailLines")?;
        if let Some(t) = tail.filter(|t| *t < 0) {
            errs.push(FieldError::invalid("tailLines", &json!(t), "must be greater than or equal to 0"));
        }
        let limit = q.int("limitBytes")?;
        if let Some(l) = limit.filter(|l| *l < 1) {
            errs.push(FieldError::invalid("limitBytes", &json!(l), "must be greater than 0"));
        }
        let since_seconds = q.int("sinceSeconds")?;
        if let Some(s) = since_seconds.filter(|s| *s < 1) {
            errs.push(FieldError::invalid("sinceSeconds", &json!(s), "must be greater than 0"));
        }
        let since_time = match q.text("sinceTime") {
            None => None,
            Some(t) => Some(
                DateTime::parse_from_rfc3339(&t)
                    .map_err(|_| ApiError::bad_request(format!("parsing time \"{t}\" as \"2006-01-02T15:04:05Z07:00\": cannot parse")))?
                    .with_timezone(&Utc),
            ),
        };
        if since_seconds.is_some() && since_time.is_some() {
            errs.push(FieldError::forbidden("", "at most one of `sinceTime` or `sinceSeconds` may be specified"));
        }
        if !errs.is_empty() {
            return Err(ApiError::invalid("PodLogOptions", "", &errs));
        }
        let since = since_time.or_else(|| since_seconds.map(|s| now - chrono::Duration::seconds(s)));
        Ok(LogOptions {
            container: q.text("container"),
            follow: q.flag("follow"),
            previous: q.flag("previous"),
            timestamps: q.flag("timestamps"),
            tail_lines: tail.map(|t| t.max(0) as usize),
            limit_bytes: limit.map(|l| l.max(1) as usize),
            since,
        })
    }
}

fn names(spec: &Value, list: &str) -> Vec<String> {
    spec.get(list)
        .and_then(Value::as_array)
        .map(|cs| cs.iter().filter_map(|c| c.get("name").and_then(Value::as_str)).map(String::from).collect())
        .unwrap_or_default()
}

/// `validateContainer`: the container asked for, or the only one; every container kind
/// (init, regular, ephemeral) counts.
pub fn choose_container(pod: &Value, asked: Option<&str>) -> Result<String, ApiError> {
    let name = pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let spec = pod.get("spec").cloned().unwrap_or_default();
    let all: Vec<String> = ["initContainers", "containers", "ephemeralContainers"].iter().flat_map(|l| names(&spec, l)).collect();
    match asked {
        Some(c) if all.iter().any(|n| n == c) => Ok(c.to_string()),
        Some(c) => Err(ApiError::bad_request(format!("container {c} is not valid for pod {name}"))),
        None => {
            let regular = names(&spec, "containers");
            match regular.as_slice() {
                [only] => Ok(only.clone()),
                [] => Err(ApiError::bad_request(format!("a container name must be specified for pod {name}"))),
                _ => Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    all.join(" ")
                ))),
            }
        }
    }
}

fn container_status<'a>(pod: &'a Value, container: &str) -> Option<&'a Value> {
    ["containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"].iter().find_map(|l| {
        pod.pointer(&format!("/status/{l}"))
            .and_then(Value::as_array)
            .and_then(|ss| ss.iter().find(|s| s.get("name").and_then(Value::as_str) == Some(container)))
    })
}

/// The kubelet's `validateContainerLogStatus`: whether the container has logs to read.
pub fn check_log_status(pod: &Value, container: &str, previous: bool) -> Result<(), ApiError> {
    let pod_name = pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let bad = |what: String| Err(ApiError::bad_request(what));
    let Some(status) = container_status(pod, container) else {
        return bad(format!("container {container:?} in pod {pod_name:?} is not available"));
    };
    let last_id = status.pointer("/lastState/terminated/containerID").and_then(Value::as_str).filter(|s| !s.is_empty());
    let state = status.get("state").cloned().unwrap_or_default();
    if previous {
        return match last_id {
            Some(_) => Ok(()),
            None => bad(format!("previous terminated container {container:?} in pod {pod_name:?} not found")),
        };
    }
    if state.get("running").is_some() {
        return Ok(());
    }
    if let Some(t) = state.get("terminated") {
        let id = t.get("containerID").and_then(Value::as_str).filter(|s| !s.is_empty());
        return match id.or(last_id) {
            Some(_) => Ok(()),
            None => bad(format!("container {container:?} in pod {pod_name:?} is terminated")),
        };
    }
    if status.pointer("/lastState/terminated").is_some() {
        return match last_id {
            Some(_) => Ok(()),
            None => bad(format!("container {container:?} in pod {pod_name:?} is terminated")),
        };
    }
    match state.pointer("/waiting/reason").and_then(Value::as_str) {
        Some("ErrImagePull") => bad(format!("container {container:?} in pod {pod_name:?} is waiting to start: image can't be pulled")),
        Some("ImagePullBackOff") => {
            bad(format!("container {container:?} in pod {pod_name:?} is waiting to start: trying and failing to pull image"))
        }
        Some(reason) => bad(format!("container {container:?} in pod {pod_name:?} is waiting to start: {reason}")),
        None if state.get("waiting").is_some() => bad(format!("container {container:?} in pod {pod_name:?} is waiting to start: ")),
        None => bad(format!("container {container:?} in pod {pod_name:?} is waiting to start - no logs yet")),
    }
}

/// The kubelet's log reading over a file's lines: since, tail, timestamps, limitBytes.
pub fn render(text: &str, opts: &LogOptions) -> (String, bool) {
    let entries: Vec<cri_log::Entry> =
        text.lines().filter_map(|l| cri_log::parse_line(l).ok()).filter(|e| opts.since.is_none_or(|s| e.time >= s)).collect();
    let skip = opts.tail_lines.map(|t| entries.len().saturating_sub(t)).unwrap_or(0);
    let mut out = String::new();
    for e in &entries[skip..] {
        out.push_str(&e.render(opts.timestamps));
    }
    limit(out, opts.limit_bytes)
}

/// Cuts `out` at `limit` bytes (on a char boundary); true when the limit was reached.
fn limit(mut out: String, limit: Option<usize>) -> (String, bool) {
    match limit {
        Some(l) if out.len() >= l => {
            let mut cut = l;
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
            (out, true)
        }
        _ => (out, false),
    }
}

/// Where a followed log is.
struct Follow {
    path: PathBuf,
    offset: u64,
    /// A last line not yet ended by a newline.
    carry: String,
    objects: Arc<dyn ObjectReader + Send + Sync>,
    namespace: Option<String>,
    name: String,
    uid: String,
    container: String,
    opts: LogOptions,
    /// Bytes still allowed by limitBytes.
    left: Option<usize>,
    queue: VecDeque<Bytes>,
    done: bool,
}

impl Follow {
    /// Whether the pod (this one, by uid) still has the container running.
    fn still_running(&self) -> bool {
        match self.objects.get("", "Pod", self.namespace.as_deref(), &self.name) {
            Ok(pod) if pod.pointer("/metadata/uid").and_then(Value::as_str) == Some(self.uid.as_str()) => {
                container_status(&pod, &self.container).and_then(|s| s.pointer("/state/terminated")).is_none()
            }
            _ => false,
        }
    }

    /// Reads what was appended since the last look.
    async fn read_more(&mut self) {
        let Ok(bytes) = tokio::fs::read(&self.path).await else { return };
        let Some(new) = bytes.get(self.offset as usize..) else { return };
        self.offset = bytes.len() as u64;
        self.carry.push_str(&String::from_utf8_lossy(new));
        let Some(end) = self.carry.rfind('\n') else { return };
        let complete: String = self.carry.drain(..=end).collect();
        let opts = LogOptions { tail_lines: None, limit_bytes: self.left, ..self.opts.clone() };
        let (out, reached) = render(&complete, &opts);
        if let Some(left) = self.left.as_mut() {
            *left = left.saturating_sub(out.len());
        }
        if !out.is_empty() {
            self.queue.push_back(Bytes::from(out));
        }
        if reached {
            self.done = true;
        }
    }
}

/// The `pods/log` streamer.
pub struct PodLog;

impl SubresourceStreamer for PodLog {
    fn open(&self, req: SubresourceStream<'_>) -> Result<Streamed, ApiError> {
        if req.method != "GET" {
            return Err(ApiError::method_not_allowed());
        }
        let pod = req.objects.get("", "Pod", req.namespace, req.name)?;
        let opts = LogOptions::parse(req.query, Utc::now())?;
        let container = choose_container(&pod, opts.container.as_deref())?;
        let text = |v: &str| pod.pointer(v).and_then(Value::as_str).unwrap_or_default().to_string();
        let content_type = "text/plain".to_string();
        // `LogLocation` gives no location for a pod on no node: an empty log.
        if text("/spec/nodeName").is_empty() {
            return Ok(Streamed { content_type, body: Box::pin(futures::stream::empty()) });
        }
        check_log_status(&pod, &container, opts.previous)?;
        let (namespace, uid) = (text("/metadata/namespace"), text("/metadata/uid"));
        // The current run's file, or the one before it for `previous`.
        let restarts = container_status(&pod, &container).and_then(|s| s.get("restartCount")).and_then(Value::as_i64).unwrap_or(0);
        let run = if opts.previous { restarts - 1 } else { restarts };
        let path = cri_log::path(req.data_dir, &namespace, req.name, &uid, &container, run.max(0) as i32);
        let bytes = std::fs::read(&path).unwrap_or_default();
        let whole = String::from_utf8_lossy(&bytes).into_owned();
        let (out, reached) = render(&whole, &opts);
        let first = Bytes::from(out);
        if !opts.follow || reached {
            return Ok(Streamed { content_type, body: Box::pin(futures::stream::once(async move { first })) });
        }
        let left = opts.limit_bytes.map(|l| l.saturating_sub(first.len()));
        let follow = Follow {
            path,
            offset: bytes.len() as u64,
            carry: String::new(),
            objects: req.objects,
            namespace: req.namespace.map(String::from),
            name: req.name.to_string(),
            uid,
            container,
            opts: LogOptions { since: None, ..opts },
            left,
            queue: VecDeque::from([first]),
            done: false,
        };
        let body = futures::stream::unfold(follow, |mut f| async move {
            loop {
                if let Some(b) = f.queue.pop_front() {
                    return Some((b, f));
                }
                if f.done {
                    return None;
                }
                let running = f.still_running();
                f.read_more().await;
                if !running {
                    f.done = true;
                } else if f.queue.is_empty() {
                    tokio::time::sleep(FOLLOW_POLL).await;
                }
            }
        });
        Ok(Streamed { content_type, body: Box::pin(body) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::request::Query;

    fn pod(containers: &[&str], init: &[&str]) -> Value {
        let list = |n: &[&str]| n.iter().map(|c| json!({"name": c, "image": "nginx"})).collect::<Vec<_>>();
        json!({"metadata": {"name": "p"}, "spec": {"containers": list(containers), "initContainers": list(init)}})
    }

    #[test]
    fn the_container_is_chosen_as_validate_container_does() {
        // (containers, init containers, asked for, chosen or the error)
        type Case<'a> = (&'a [&'a str], &'a [&'a str], Option<&'a str>, Result<&'a str, &'a str>);
        let cases: &[Case] = &[
            (&["a"], &[], None, Ok("a")),
            (&["a", "b"], &[], Some("b"), Ok("b")),
            (&["a"], &["i"], Some("i"), Ok("i")),
            (&["a", "b"], &["i"], None, Err("a container name must be specified for pod p, choose one of: [i a b]")),
            (&["a"], &[], Some("x"), Err("container x is not valid for pod p")),
        ];
        for (cs, init, asked, want) in cases {
            let got = choose_container(&pod(cs, init), *asked).map_err(|e| e.message);
            assert_eq!(got, want.map(String::from).map_err(String::from), "{cs:?} {asked:?}");
        }
    }

    #[test]
    fn the_log_status_is_checked_as_the_kubelet_does() {
        let with = |state: Value| json!({"metadata": {"name": "p"}, "status": {"containerStatuses": [{"name": "c", "state": state, "lastState": {}}]}});
        let cases = [
            (with(json!({"running": {}})), Ok(())),
            (
                with(json!({"waiting": {"reason": "ContainerCreating"}})),
                Err("container \"c\" in pod \"p\" is waiting to start: ContainerCreating"),
            ),
            (
                with(json!({"waiting": {"reason": "ErrImagePull"}})),
                Err("container \"c\" in pod \"p\" is waiting to start: image can't be pulled"),
            ),
            (
                with(json!({"waiting": {"reason": "ImagePullBackOff"}})),
                Err("container \"c\" in pod \"p\" is waiting to start: trying and failing to pull image"),
            ),
            (with(json!({"terminated": {"containerID": "containerd://1"}})), Ok(())),
            (with(json!({"terminated": {}})), Err("container \"c\" in pod \"p\" is terminated")),
            (json!({"metadata": {"name": "p"}}), Err("container \"c\" in pod \"p\" is not available")),
        ];
        for (pod, want) in cases {
            assert_eq!(check_log_status(&pod, "c", false).map_err(|e| e.message), want.map_err(String::from), "{pod}");
        }
        let previous = check_log_status(&with(json!({"running": {}})), "c", true).map_err(|e| e.message);
        assert_eq!(previous, Err("previous terminated container \"c\" in pod \"p\" not found".to_string()));
    }

    #[test]
    fn rendering_applies_tail_since_timestamps_and_limit() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let text = [("2026-01-01T00:00:01Z", "one"), ("2026-01-01T00:00:02Z", "two"), ("2026-01-01T00:00:03Z", "three")]
            .iter()
            .map(|(ts, l)| cri_log::format_line(t(ts), l))
            .collect::<String>();
        let o = LogOptions::default;
        let cases = [
            (o(), "one\ntwo\nthree\n", false),
            (LogOptions { tail_lines: Some(2), ..o() }, "two\nthree\n", false),
            (LogOptions { tail_lines: Some(0), ..o() }, "", false),
            (LogOptions { since: Some(t("2026-01-01T00:00:02Z")), ..o() }, "two\nthree\n", false),
            (LogOptions { limit_bytes: Some(6), ..o() }, "one\ntw", true),
            (LogOptions { tail_lines: Some(1), timestamps: true, ..o() }, "2026-01-01T00:00:03.000000000Z three\n", false),
        ];
        for (opts, want, reached) in cases {
            assert_eq!(render(&text, &opts), (want.to_string(), reached), "{opts:?}");
        }
    }

    #[test]
    fn options_are_validated() {
        let now = Utc::now();
        let bad = |q: &str| LogOptions::parse(&Query::parse(Some(q)), now).map_err(|e| e.message).unwrap_err();
        assert!(
            bad("tailLines=-1").contains("tailLines: Invalid value: -1: must be greater than or equal to 0"),
            "{}",
            bad("tailLines=-1")
        );
        assert!(bad("limitBytes=0").contains("limitBytes: Invalid value: 0: must be greater than 0"));
        assert!(bad("sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z").contains("at most one of"));
        let ok = LogOptions::parse(&Query::parse(Some("container=c&follow=true&tailLines=3&timestamps=true")), now).unwrap();
        assert_eq!(
            ok,
            LogOptions { container: Some("c".into()), follow: true, timestamps: true, tail_lines: Some(3), ..LogOptions::default() }
        );
    }
}
