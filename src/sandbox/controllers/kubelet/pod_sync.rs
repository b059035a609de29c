//! `syncPod` for one pod on a simulated node: admit it (containers waiting while the
//! sandbox is created), create the sandbox and start the containers in order (init
//! containers to completion first), back off image pulls that fail, stop a deleted pod
//! and then delete it for good, and write the status whenever it changes — with the
//! kubelet's Events (`Pulling`, `Pulled`, `Created`, `Started`, `Failed`, `BackOff`,
//! `Killing`) and their upstream messages.

use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use k8s_openapi::api::core::v1::{Container as ContainerSpec, Node, Pod, PodStatus};
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use serde_json::{json, Value};

use super::container_log;
use super::image;
use super::pod_status::{self, Inputs};
use super::runtime::{self, Container, PodRuntime, Pull, Stage, State};
use super::{lock, Kubelets, WHO};
use crate::sandbox::controllers::recorder::reference;
use crate::sandbox::controllers::{EventRecorder, EventType};
use crate::sandbox::cri_log;

/// How long creating the sandbox takes: the containers wait (ContainerCreating) this long.
/// Short, so a Deployment's pods are Ready in well under a second, as tests want them.
const SANDBOX_CREATION: Duration = Duration::from_millis(100);
/// A pull of an image the registry does not have takes this long to fail.
const PULL_FAILS_AFTER: Duration = Duration::from_millis(300);
/// A failed pull shows ErrImagePull this long before the back-off starts.
const PULL_FAILED_FOR: Duration = Duration::from_secs(1);
/// The image back-off: 10 s, doubling, at most 300 s (`flowcontrol.NewBackOff`).
const BACKOFF_INITIAL: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// Simulated containers stop at once on SIGTERM, so a deleted pod is gone after its
/// grace period or this, whichever is shorter.
const STOP_TAKES: Duration = Duration::from_secs(1);

fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn backoff(attempts: u32) -> Duration {
    BACKOFF_INITIAL.saturating_mul(1 << attempts.saturating_sub(1).min(8)).min(BACKOFF_MAX)
}

/// The specs of a pod's init and regular containers.
fn specs(pod: &Pod) -> (Vec<ContainerSpec>, Vec<ContainerSpec>) {
    let spec = pod.spec.clone().unwrap_or_default();
    (spec.init_containers.unwrap_or_default(), spec.containers)
}

/// The node's InternalIP, as `hostIP`.
fn internal_ip(node: &Node) -> Option<String> {
    node.status.as_ref()?.addresses.as_ref()?.iter().find(|a| a.type_ == "InternalIP").map(|a| a.address.clone())
}

impl Kubelets {
    pub(super) async fn sync_pod(&self, key: &str) -> Result<Option<Duration>, kube::Error> {
        let Some(pod) = self.pods.get(key) else {
            self.forget(key);
            return Ok(None);
        };
        let node_name = pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
        let Some(node) = self.nodes.get(&node_name) else { return Ok(None) };
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let known = lock(&self.runtimes).get(key).cloned();
        let known = match known {
            Some(rt) if rt.uid != uid => {
                // The same name, another pod: the old one is gone.
                self.forget(key);
                None
            }
            other => other,
        };
        if pod.metadata.deletion_timestamp.is_some() {
            return self.stop(key, &pod, &node, known).await;
        }
        let finished = matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"));
        let (rt, requeue) = match known {
            None if finished => return Ok(None),
            None => match self.adopt(&pod, &node) {
                Some(rt) => (rt, None),
                None => {
                    let rt = self.admit(&pod);
                    self.decisions.say(WHO, key, &format!("admitted on node {node_name}; creating the pod sandbox"));
                    (rt, Some(SANDBOX_CREATION))
                }
            },
            // Woken early (by its own status write): the sandbox is not ready yet.
            Some(rt) if matches!(rt.stage, Stage::Creating { ready_at } if Instant::now() < ready_at) => {
                let Stage::Creating { ready_at } = rt.stage else { return Ok(None) };
                return Ok(Some(ready_at.saturating_duration_since(Instant::now())));
            }
            Some(mut rt) => {
                if matches!(rt.stage, Stage::Creating { .. }) {
                    self.create_sandbox(key, &pod, &node, &mut rt);
                    rt.stage = Stage::Started;
                }
                let next = self.advance(&pod, &node_name, &mut rt);
                (rt, next)
            }
        };
        if matches!(rt.stage, Stage::Started) && rt.main.iter().all(|c| c.is_terminated() && !c.restarts_on_exit) {
            // A finished pod's sandbox is torn down: its IP goes back to the pool.
            self.with_allocator(&node_name, None, |a| a.release(&rt.uid));
        }
        lock(&self.runtimes).insert(key.to_string(), rt.clone());
        self.write_status(&pod, &node, &rt, false).await?;
        Ok(requeue)
    }

    /// A new pod: every container waits while the sandbox is created.
    fn admit(&self, pod: &Pod) -> PodRuntime {
        let (init, main) = specs(pod);
        let waiting = if init.is_empty() { "ContainerCreating" } else { "PodInitializing" };
        let restart = pod.spec.as_ref().and_then(|s| s.restart_policy.clone()).unwrap_or_else(|| "Always".into());
        let code =
            |c: &ContainerSpec| runtime::exit_code_of(c.command.as_deref().unwrap_or_default(), c.args.as_deref().unwrap_or_default());
        let make = |c: &ContainerSpec, regular: bool| Container {
            name: c.name.clone(),
            image: c.image.clone().unwrap_or_default(),
            pulled: None,
            id: None,
            state: State::waiting(waiting),
            pull: None,
            // Init containers run to completion; a regular one ends as its command says, and
            // is started again if the restart policy says so.
            exits_with: if regular { code(c) } else { Some(0) },
            restarts_on_exit: regular
                && match restart.as_str() {
                    "Always" => true,
                    "OnFailure" => code(c) != Some(0),
                    _ => false,
                },
            restarts: 0,
            last_terminated: None,
            last_id: None,
            restart_at: None,
        };
        PodRuntime {
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            ip: None,
            start_time: now_rfc3339(),
            sandbox_ready: false,
            init: init.iter().map(|c| make(c, false)).collect(),
            main: main.iter().map(|c| make(c, true)).collect(),
            stage: Stage::Creating { ready_at: Instant::now() + SANDBOX_CREATION },
        }
    }

    /// A pod this kubelet ran before the sandbox restarted: take its IP and containers
    /// back from its status rather than starting them again.
    fn adopt(&self, pod: &Pod, node: &Node) -> Option<PodRuntime> {
        let status = pod.status.as_ref()?;
        let ip: std::net::Ipv4Addr = status.pod_ip.as_deref()?.parse().ok()?;
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let node_name = node.metadata.name.clone().unwrap_or_default();
        let cidr = node.spec.as_ref().and_then(|s| s.pod_cidr.clone());
        if !self.with_allocator(&node_name, cidr.as_deref(), |a| a.reserve(ip, &uid)).unwrap_or(false) {
            return None;
        }
        let mut rt = self.admit(pod);
        rt.ip = Some(ip);
        rt.sandbox_ready = true;
        rt.stage = Stage::Started;
        rt.start_time = status.start_time.as_ref().map(|t| t.0.to_string()).unwrap_or_else(now_rfc3339);
        let time =
            |t: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| t.as_ref().map(|t| t.0.to_string()).unwrap_or_default();
        let ended = |t: &k8s_openapi::api::core::v1::ContainerStateTerminated| State::Terminated {
            exit_code: t.exit_code,
            reason: t.reason.clone().unwrap_or_default(),
            started_at: time(&t.started_at),
            finished_at: time(&t.finished_at),
        };
        let lists = [(&mut rt.init, &status.init_container_statuses), (&mut rt.main, &status.container_statuses)];
        for (containers, statuses) in lists {
            for c in containers.iter_mut() {
                let s = statuses.as_ref()?.iter().find(|s| s.name == c.name)?;
                let st = s.state.clone().unwrap_or_default();
                let last = s.last_state.as_ref().and_then(|l| l.terminated.as_ref());
                c.state = match (&st.running, &st.terminated, last) {
                    (Some(r), _, _) => State::Running { started_at: time(&r.started_at) },
                    (_, Some(t), _) => ended(t),
                    // Waiting to be restarted: as if it had just exited.
                    (_, _, Some(t)) if c.restarts_on_exit => ended(t),
                    _ => return None,
                };
                if c.is_terminated() && c.restarts_on_exit {
                    c.restart_at = Some(Instant::now());
                }
                c.id = s.container_id.clone().or_else(|| last.and_then(|t| t.container_id.clone()));
                c.restarts = s.restart_count;
                c.pulled = image::pull(&c.image).ok();
            }
        }
        Some(rt)
    }

    /// `createPodSandbox`: the pod gets its IP.
    fn create_sandbox(&self, key: &str, pod: &Pod, node: &Node, rt: &mut PodRuntime) {
        let node_name = node.metadata.name.clone().unwrap_or_default();
        let cidr = node.spec.as_ref().and_then(|s| s.pod_cidr.clone());
        let host_network = pod.spec.as_ref().and_then(|s| s.host_network).unwrap_or(false);
        rt.ip = if host_network {
            internal_ip(node).and_then(|ip| ip.parse().ok())
        } else {
            match self.with_allocator(&node_name, cidr.as_deref(), |a| a.allocate(&rt.uid)) {
                Some(Ok(ip)) => Some(ip),
                Some(Err(e)) => {
                    self.decisions.say(WHO, key, &format!("no pod IP: {e}"));
                    None
                }
                None => None,
            }
        };
        rt.sandbox_ready = true;
        let ip = rt.ip.map(|i| i.to_string()).unwrap_or_else(|| "none".into());
        self.decisions.say(WHO, key, &format!("pod sandbox created on node {node_name}, pod IP {ip}"));
    }

    /// Starts what is due, init containers one at a time to completion first; moves a
    /// failed pull into back-off. Returns when to look again.
    fn advance(&self, pod: &Pod, node: &str, rt: &mut PodRuntime) -> Option<Duration> {
        let now = Instant::now();
        let recorder = self.recorder(node);
        let (init_specs, main_specs) = specs(pod);
        for (i, spec) in init_specs.iter().enumerate() {
            let Some(c) = rt.init.get_mut(i) else { break };
            self.step(pod, node, &recorder, spec, c, "initContainers", now);
            if !c.succeeded() {
                return next_look(rt, now);
            }
        }
        for (i, spec) in main_specs.iter().enumerate() {
            if let Some(c) = rt.main.get_mut(i) {
                self.step(pod, node, &recorder, spec, c, "containers", now);
                // Image pulls are serialized: the next container waits for this pull.
                if matches!(c.pull, Some(Pull::InProgress { .. })) {
                    break;
                }
            }
        }
        next_look(rt, now)
    }

    /// Moves one container on: starts its pull, finishes it (created and started, or
    /// ErrImagePull), moves a failed pull into back-off, or retries after the back-off.
    #[allow(clippy::too_many_arguments)]
    fn step(&self, pod: &Pod, node: &str, recorder: &EventRecorder, spec: &ContainerSpec, c: &mut Container, list: &str, now: Instant) {
        let mut r = reference(pod);
        r.field_path = Some(format!("spec.{list}{{{}}}", c.name));
        if let Some(at) = c.restart_at {
            if now < at {
                return;
            }
            if !self.restart(pod, recorder, &r, c, now) {
                return;
            }
        }
        let attempts = match c.pull.clone() {
            _ if !matches!(c.state, State::Waiting { .. }) => return,
            Some(p) if now < p.next_at() => return,
            Some(Pull::Failed { attempts, .. }) => {
                let prev = match &c.state {
                    State::Waiting { message, .. } => message.clone().unwrap_or_default(),
                    _ => String::new(),
                };
                recorder.event(&r, EventType::Normal, "BackOff", format!("Back-off pulling image {:?}", c.image));
                recorder.event(&r, EventType::Warning, "Failed", "Error: ImagePullBackOff");
                c.state = State::Waiting {
                    reason: "ImagePullBackOff".into(),
                    message: Some(format!("Back-off pulling image {:?}: ErrImagePull: {prev}", c.image)),
                };
                c.pull = Some(Pull::BackingOff { attempts, retry_at: now + backoff(attempts) });
                return;
            }
            Some(Pull::InProgress { outcome, attempts, .. }) => {
                match outcome {
                    Ok(p) => {
                        let took = image::go_duration(p.took);
                        recorder.event(
                            &r,
                            EventType::Normal,
                            "Pulled",
                            format!(
                                "Successfully pulled image {:?} in {took} ({took} including waiting). Image size: {} bytes.",
                                c.image, p.size
                            ),
                        );
                        self.remember_image(node, &c.image);
                        c.pull = None;
                        self.run(pod, recorder, &r, spec, c, p);
                    }
                    Err(e) => {
                        recorder.event(&r, EventType::Warning, "Failed", format!("Failed to pull image {:?}: {e}", c.image));
                        recorder.event(&r, EventType::Warning, "Failed", "Error: ErrImagePull");
                        c.state = State::Waiting { reason: "ErrImagePull".into(), message: Some(e) };
                        c.pull = Some(Pull::Failed { attempts: attempts + 1, at: now + PULL_FAILED_FOR });
                        self.decisions.say(
                            WHO,
                            &super::pod_key(pod),
                            &format!("image {:?} of container {} cannot be pulled", c.image, c.name),
                        );
                    }
                }
                return;
            }
            Some(Pull::BackingOff { attempts, .. }) => attempts,
            None => 0,
        };
        // The spec's image may have been changed while the pull was failing.
        c.image = spec.image.clone().unwrap_or_default();
        let policy = spec.image_pull_policy.as_deref().unwrap_or("IfNotPresent");
        if policy != "Always" && self.image_present(node, &c.image) {
            if let Ok(p) = image::pull(&c.image) {
                recorder.event(&r, EventType::Normal, "Pulled", format!("Container image {:?} already present on machine", c.image));
                c.pull = None;
                self.run(pod, recorder, &r, spec, c, p);
                return;
            }
        }
        recorder.event(&r, EventType::Normal, "Pulling", format!("Pulling image {:?}", c.image));
        // An image the node already holds (a pull policy of Always re-checks it with the
        // registry) comes in milliseconds; a first pull takes what `image::pull` says.
        let cached = self.image_present(node, &c.image);
        let outcome = image::pull(&c.image).map(|mut p| {
            if cached {
                p.took = image::CACHED_PULL;
            }
            p
        });
        let takes = outcome.as_ref().map(|p| p.took).unwrap_or(PULL_FAILS_AFTER);
        c.pull = Some(Pull::InProgress { done_at: now + takes, outcome, attempts });
    }

    /// An exited container the restart policy starts again: the first restart at once,
    /// later ones after a CrashLoopBackOff of 10 s doubling to 300 s. True when it is to
    /// be started now.
    fn restart(
        &self,
        pod: &Pod,
        recorder: &EventRecorder,
        r: &k8s_openapi::api::core::v1::ObjectReference,
        c: &mut Container,
        now: Instant,
    ) -> bool {
        c.restart_at = None;
        if c.is_terminated() {
            c.last_terminated = Some(c.state.clone());
            c.last_id = c.id.clone();
            if c.restarts > 0 {
                let delay = backoff(c.restarts as u32);
                let who = format!(
                    "{}_{}({})",
                    pod.metadata.name.as_deref().unwrap_or_default(),
                    pod.metadata.namespace.as_deref().unwrap_or_default(),
                    pod.metadata.uid.as_deref().unwrap_or_default()
                );
                recorder.event(r, EventType::Warning, "BackOff", format!("Back-off restarting failed container {} in pod {who}", c.name));
                c.state = State::Waiting {
                    reason: "CrashLoopBackOff".into(),
                    message: Some(format!("back-off {} restarting failed container={} pod={who}", image::go_duration(delay), c.name)),
                };
                c.restart_at = Some(now + delay);
                self.decisions.say(
                    WHO,
                    &super::pod_key(pod),
                    &format!("container {} keeps failing: back-off {}", c.name, image::go_duration(delay)),
                );
                return false;
            }
        }
        c.restarts += 1;
        c.state = State::waiting("ContainerCreating");
        c.pull = None;
        true
    }

    /// `startContainer` after the pull: create, start, and the container's first log lines.
    fn run(
        &self,
        pod: &Pod,
        recorder: &EventRecorder,
        r: &k8s_openapi::api::core::v1::ObjectReference,
        spec: &ContainerSpec,
        c: &mut Container,
        pulled: image::Pulled,
    ) {
        let id = runtime::container_id();
        recorder.event(r, EventType::Normal, "Created", format!("Created container: {}", c.name));
        recorder.event(r, EventType::Normal, "Started", format!("Started container {}", c.name));
        let started_at = now_rfc3339();
        let mut lines = container_log::start_lines(
            &c.name,
            &c.image,
            &pulled,
            spec.command.as_deref().unwrap_or_default(),
            spec.args.as_deref().unwrap_or_default(),
        );
        c.state = match c.exits_with {
            Some(code) => {
                lines.push(format!("[kubelab] container {:?} exited with code {code}", c.name));
                State::Terminated {
                    exit_code: code,
                    reason: if code == 0 { "Completed" } else { "Error" }.into(),
                    started_at: started_at.clone(),
                    finished_at: started_at,
                }
            }
            None => State::Running { started_at },
        };
        if c.exits_with.is_some() && c.restarts_on_exit {
            // The exit is seen for a moment before the restart policy acts on it.
            c.restart_at = Some(Instant::now() + PULL_FAILED_FOR);
        }
        let what = match &c.state {
            State::Terminated { exit_code, .. } => format!("container {} started and exited with code {exit_code}", c.name),
            _ => format!("container {} started", c.name),
        };
        self.decisions.say(WHO, &super::pod_key(pod), &what);
        c.pulled = Some(pulled);
        c.id = Some(id);
        let (ns, name) = (pod.metadata.namespace.as_deref().unwrap_or_default(), pod.metadata.name.as_deref().unwrap_or_default());
        let path = cri_log::path(&self.data_dir, ns, name, pod.metadata.uid.as_deref().unwrap_or_default(), &c.name, c.restarts);
        if let Err(e) = container_log::append(&path, &lines) {
            self.decisions.say(WHO, &super::pod_key(pod), &format!("could not write the log of container {}: {e}", c.name));
        }
    }

    /// `killPod` then the status manager's final delete: SIGTERM to every running
    /// container (`Killing`), the terminal status, then — once stopped, within the grace
    /// period — the delete with grace 0 and the pod's uid as precondition.
    async fn stop(&self, key: &str, pod: &Pod, node: &Node, known: Option<PodRuntime>) -> Result<Option<Duration>, kube::Error> {
        let now = Instant::now();
        let rt = match known {
            Some(mut rt) if !matches!(rt.stage, Stage::Stopping { .. }) => {
                let node_name = node.metadata.name.clone().unwrap_or_default();
                let recorder = self.recorder(&node_name);
                let (ns, name) = (pod.metadata.namespace.as_deref().unwrap_or_default(), pod.metadata.name.as_deref().unwrap_or_default());
                for (list, containers) in [("initContainers", &mut rt.init), ("containers", &mut rt.main)] {
                    for c in containers.iter_mut().filter(|c| c.is_running()) {
                        let mut r = reference(pod);
                        r.field_path = Some(format!("spec.{list}{{{}}}", c.name));
                        recorder.event(&r, EventType::Normal, "Killing", format!("Stopping container {}", c.name));
                        let started_at = match &c.state {
                            State::Running { started_at } => started_at.clone(),
                            _ => String::new(),
                        };
                        c.state = State::Terminated { exit_code: 0, reason: "Completed".into(), started_at, finished_at: now_rfc3339() };
                        let path = cri_log::path(&self.data_dir, ns, name, &rt.uid, &c.name, c.restarts);
                        let _ = container_log::append(&path, &[format!("[kubelab] container {:?} received SIGTERM and stopped", c.name)]);
                    }
                }
                let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(0).max(0) as u64;
                let until = now + STOP_TAKES.min(Duration::from_secs(grace));
                rt.stage = Stage::Stopping { until };
                self.decisions.say(WHO, key, &format!("stopping the pod's containers (grace period {grace}s)"));
                lock(&self.runtimes).insert(key.to_string(), rt.clone());
                self.write_status(pod, node, &rt, true).await?;
                Some(rt)
            }
            other => other,
        };
        if let Some(PodRuntime { stage: Stage::Stopping { until }, .. }) = &rt {
            if now < *until {
                return Ok(Some(*until - now));
            }
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), pod.metadata.namespace.as_deref().unwrap_or_default());
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions { uid: pod.metadata.uid.clone(), resource_version: None }),
            ..Default::default()
        };
        match api.delete(pod.metadata.name.as_deref().unwrap_or_default(), &params).await {
            Ok(_) => self.decisions.say(WHO, key, "containers stopped; pod deleted"),
            // Gone already, or the name now holds another pod: nothing of ours is left.
            Err(kube::Error::Api(s)) if matches!(s.code, 404 | 409) => {}
            Err(e) => return Err(e),
        }
        self.forget(key);
        Ok(None)
    }

    /// Writes the pod's status when it differs from what is stored.
    async fn write_status(&self, pod: &Pod, node: &Node, rt: &PodRuntime, terminal: bool) -> Result<(), kube::Error> {
        let pod_json = serde_json::to_value(pod).unwrap_or_default();
        let host_ip = internal_ip(node);
        let now = now_rfc3339();
        let generated = pod_status::generate(rt, &Inputs { pod: &pod_json, host_ip: host_ip.as_deref(), now: &now, terminal });
        let mut merged = pod_json.get("status").cloned().filter(Value::is_object).unwrap_or_else(|| json!({}));
        if let (Some(m), Some(g)) = (merged.as_object_mut(), generated.as_object()) {
            for (k, v) in g {
                m.insert(k.clone(), v.clone());
            }
        }
        let wanted: Option<PodStatus> = serde_json::from_value(merged).ok();
        if wanted.is_none() || wanted.as_ref() == pod.status.as_ref() {
            return Ok(());
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), pod.metadata.namespace.as_deref().unwrap_or_default());
        let patch = json!({"status": generated});
        match api.patch_status(pod.metadata.name.as_deref().unwrap_or_default(), &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => Ok(()),
            // Deleted meanwhile: the informer's delete brings the key back.
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Drops what the runtime had of the pod at `key`: its IP and its logs.
    fn forget(&self, key: &str) {
        let Some(rt) = lock(&self.runtimes).remove(key) else { return };
        let nodes: Vec<String> = lock(&self.per_node).keys().cloned().collect();
        for n in nodes {
            self.with_allocator(&n, None, |a| a.release(&rt.uid));
        }
        if let Some((ns, name)) = key.split_once('/') {
            let _ = std::fs::remove_dir_all(cri_log::pod_dir(&self.data_dir, ns, name, &rt.uid));
        }
    }
}

/// The soonest moment something in `rt` is due (a pull finishing, a failed pull to
/// report as back-off, a back-off ending).
fn next_look(rt: &PodRuntime, now: Instant) -> Option<Duration> {
    rt.init
        .iter()
        .chain(&rt.main)
        .filter_map(|c| c.pull.as_ref().map(Pull::next_at).or(c.restart_at))
        .min()
        .map(|t| t.saturating_duration_since(now).max(Duration::from_millis(10)))
}
