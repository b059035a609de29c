//! The simulated container runtime's view of one pod: its sandbox (the pod IP) and the
//! state of each container, as the kubelet's `PodStatus` from the CRI holds it. The
//! kubelet's status generation ([`super::pod_status`]) turns this into `pod.status`.

use std::net::Ipv4Addr;
use std::time::Instant;

use super::image::Pulled;

/// `v1.ContainerState`: exactly one of waiting, running or terminated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Waiting { reason: String, message: Option<String> },
    Running { started_at: String },
    Terminated { exit_code: i32, reason: String, started_at: String, finished_at: String },
}

impl State {
    pub fn waiting(reason: &str) -> State {
        State::Waiting { reason: reason.to_string(), message: None }
    }
}

/// Where a container's image pull stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pull {
    /// Being pulled (the kubelet pulls one image at a time); the outcome is known at
    /// `done_at`. `attempts` counts the failed pulls before this one.
    InProgress { done_at: Instant, outcome: Result<Pulled, String>, attempts: u32 },
    /// Just failed: `ErrImagePull`; the back-off is reported `at`.
    Failed { attempts: u32, at: Instant },
    /// Waiting out the back-off before the next pull at `retry_at`: `ImagePullBackOff`.
    BackingOff { attempts: u32, retry_at: Instant },
}

impl Pull {
    /// When this pull next needs the kubelet.
    pub fn next_at(&self) -> Instant {
        match self {
            Pull::InProgress { done_at, .. } => *done_at,
            Pull::Failed { at, .. } => *at,
            Pull::BackingOff { retry_at, .. } => *retry_at,
        }
    }
}

/// One container as the runtime knows it.
#[derive(Debug, Clone)]
pub struct Container {
    pub name: String,
    /// The image as the spec names it.
    pub image: String,
    pub pulled: Option<Pulled>,
    /// `containerd://<64 hex>` once created.
    pub id: Option<String>,
    pub state: State,
    /// The pull under way or failed; `None` before the first and once pulled.
    pub pull: Option<Pull>,
    /// The exit code its command ends with, when the sandbox can tell (`sh -c "exit 3"`).
    pub exits_with: Option<i32>,
    /// Whether the restart policy starts it again when it exits (Always; OnFailure after
    /// a failure).
    pub restarts_on_exit: bool,
    /// `restartCount`.
    pub restarts: i32,
    /// `lastState`: how the previous run ended, and that run's container id.
    pub last_terminated: Option<State>,
    pub last_id: Option<String>,
    /// When an exited container is next looked at: restarted, or put in CrashLoopBackOff.
    pub restart_at: Option<Instant>,
}

impl Container {
    pub fn is_running(&self) -> bool {
        matches!(self.state, State::Running { .. })
    }
    pub fn succeeded(&self) -> bool {
        matches!(self.state, State::Terminated { exit_code: 0, .. })
    }
    pub fn is_terminated(&self) -> bool {
        matches!(self.state, State::Terminated { .. })
    }
}

/// Where the kubelet is with the pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The sandbox is being created, until `ready_at`: containers wait (ContainerCreating).
    Creating { ready_at: Instant },
    /// Containers were started (or failed to be).
    Started,
    /// Deleted: containers were sent SIGTERM; the pod is removed at `until`.
    Stopping { until: Instant },
}

/// The runtime's record of one pod.
#[derive(Debug, Clone)]
pub struct PodRuntime {
    pub uid: String,
    pub ip: Option<Ipv4Addr>,
    /// When the kubelet admitted the pod (`status.startTime`).
    pub start_time: String,
    pub sandbox_ready: bool,
    pub init: Vec<Container>,
    pub main: Vec<Container>,
    pub stage: Stage,
}

impl PodRuntime {
    /// Init containers that have not completed.
    pub fn pending_init(&self) -> Vec<&Container> {
        self.init.iter().filter(|c| !c.succeeded()).collect()
    }
}

/// A fresh `containerd://` id.
pub fn container_id() -> String {
    format!("containerd://{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// The exit code a shell command would end with, when it is as plain as `exit 3`
/// (`["sh", "-c", "exit 3"]`, or `command: [sh, -c]` with `args: ["… ; exit 0"]`).
pub fn exit_code_of(command: &[String], args: &[String]) -> Option<i32> {
    let words: Vec<&String> = command.iter().chain(args).collect();
    // `true` and `false` (`kubectl create job x --image=busybox -- true`) exit at once.
    if let [program] = words.as_slice() {
        match program.rsplit('/').next() {
            Some("true") => return Some(0),
            Some("false") => return Some(1),
            _ => {}
        }
    }
    let script = words.last()?;
    let last = script.rsplit([';', '\n', '&']).next()?.trim();
    let code = last.strip_prefix("exit")?.trim();
    if code.is_empty() {
        return Some(0);
    }
    code.parse::<i32>().ok().map(|c| c.rem_euclid(256))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_read_from_plain_shell_commands() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases: &[(&[&str], &[&str], Option<i32>)] = &[
            (&["sh", "-c", "exit 3"], &[], Some(3)),
            (&["sh", "-c"], &["echo hi; exit 0"], Some(0)),
            (&["/bin/sh", "-c", "echo done && exit"], &[], Some(0)),
            (&["sh", "-c", "exit 257"], &[], Some(1)),
            (&["nginx"], &["-g", "daemon off;"], None),
            (&[], &[], None),
            (&["sh", "-c", "exit abc"], &[], None),
            (&["true"], &[], Some(0)),
            (&["/bin/false"], &[], Some(1)),
            (&[], &["false"], Some(1)),
            (&["sh", "-c", "true"], &[], None),
        ];
        for (command, args, want) in cases {
            assert_eq!(exit_code_of(&s(command), &s(args)), *want, "{command:?} {args:?}");
        }
    }
}
