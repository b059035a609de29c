//! `generateAPIPodStatus` (`pkg/kubelet/kubelet_pods.go`): the pod status the kubelet
//! writes, from what the runtime says of its containers. Phase as `getPhase`, conditions
//! as `pkg/kubelet/status/generate.go`, container statuses as
//! `convertToAPIContainerStatuses`. Conditions keep their lastTransitionTime while their
//! status holds, as the status manager does.

use serde_json::{json, Map, Value};

use super::runtime::{Container, PodRuntime, State};

/// The annotation that keeps a running pod unready (the sandbox has no probes).
pub const READY_ANNOTATION: &str = "sandbox.kubelab.dev/ready";

/// What the status depends on besides the runtime.
pub struct Inputs<'a> {
    /// The pod as stored (for its spec and current status).
    pub pod: &'a Value,
    pub host_ip: Option<&'a str>,
    pub now: &'a str,
    /// Deleted: the pod is terminal whatever its restart policy.
    pub terminal: bool,
}

/// `v1.ContainerStateTerminated` of a run that ended.
fn terminated(t: &State, id: Option<&str>) -> Value {
    match t {
        State::Terminated { exit_code, reason, started_at, finished_at } => json!({
            "exitCode": exit_code, "reason": reason, "startedAt": started_at, "finishedAt": finished_at,
            "containerID": id.unwrap_or_default()
        }),
        _ => json!({}),
    }
}

fn container_status(c: &Container, ready: bool) -> Value {
    let state = match &c.state {
        State::Waiting { reason, message } => {
            let mut w = json!({"reason": reason});
            if let Some(m) = message {
                w["message"] = json!(m);
            }
            json!({"waiting": w})
        }
        State::Running { started_at } => json!({"running": {"startedAt": started_at}}),
        t @ State::Terminated { .. } => json!({"terminated": terminated(t, c.id.as_deref())}),
    };
    // A container waiting to be restarted still shows its last run's id and image.
    let created = c.id.is_some() && (!matches!(c.state, State::Waiting { .. }) || c.last_terminated.is_some());
    let mut s = json!({
        "name": c.name,
        "image": c.pulled.as_ref().filter(|_| created).map(|p| p.reference.clone()).unwrap_or_else(|| c.image.clone()),
        "imageID": c.pulled.as_ref().filter(|_| created).map(|p| p.image_id.clone()).unwrap_or_default(),
        "ready": ready,
        "restartCount": c.restarts,
        "started": c.is_running(),
        "state": state,
        "lastState": c.last_terminated.as_ref().map(|t| json!({"terminated": terminated(t, c.last_id.as_deref())})).unwrap_or_else(|| json!({})),
    });
    if let (Some(id), true) = (&c.id, created) {
        s["containerID"] = json!(id);
    }
    s
}

/// `getPhase`.
fn phase(rt: &PodRuntime, restart_policy: &str, terminal: bool) -> &'static str {
    if rt.init.iter().any(|c| matches!(c.state, State::Terminated { exit_code, .. } if exit_code != 0)) && restart_policy == "Never" {
        return "Failed";
    }
    if !rt.pending_init().is_empty() {
        return "Pending";
    }
    // A container waiting to be restarted counts as stopped, as `getPhase` has it.
    let restarting = |c: &&Container| matches!(c.state, State::Waiting { .. }) && c.last_terminated.is_some();
    let waiting = rt.main.iter().filter(|c| matches!(c.state, State::Waiting { .. }) && !restarting(c)).count();
    let running = rt.main.iter().filter(|c| c.is_running()).count();
    let stopped = rt.main.iter().filter(|c| c.is_terminated() || restarting(c)).count();
    let succeeded = rt.main.iter().filter(|c| c.succeeded()).count();
    if waiting > 0 && !terminal {
        return "Pending";
    }
    if running > 0 && !terminal {
        return "Running";
    }
    if stopped == 0 {
        return "Pending";
    }
    if terminal || restart_policy == "Never" {
        return if stopped == succeeded && waiting == 0 && running == 0 { "Succeeded" } else { "Failed" };
    }
    match restart_policy {
        "OnFailure" if stopped == succeeded && running == 0 => "Succeeded",
        _ => "Running",
    }
}

fn condition(kind: &str, ok: bool, reason: Option<&str>, message: Option<String>) -> Value {
    let mut c = json!({"type": kind, "status": if ok { "True" } else { "False" }, "lastProbeTime": null});
    if let Some(r) = reason {
        c["reason"] = json!(r);
    }
    if let Some(m) = message {
        c["message"] = json!(m);
    }
    c
}

fn names(cs: &[&Container]) -> String {
    format!("[{}]", cs.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(" "))
}

/// The status the kubelet writes for `rt`.
pub fn generate(rt: &PodRuntime, i: &Inputs<'_>) -> Value {
    let text = |p: &str| i.pod.pointer(p).and_then(Value::as_str);
    let restart_policy = text("/spec/restartPolicy").unwrap_or("Always");
    let unready =
        i.pod.pointer(&format!("/metadata/annotations/{}", READY_ANNOTATION.replace('/', "~1"))).and_then(Value::as_str) == Some("false");
    let phase = phase(rt, restart_policy, i.terminal);
    let ready_of = |c: &Container| c.is_running() && !unready && !i.terminal;
    let init_done = rt.pending_init().is_empty();
    let unready_list: Vec<&Container> = rt.main.iter().filter(|c| !ready_of(c)).collect();
    let finished = matches!(phase, "Succeeded" | "Failed");

    let initialized = if init_done {
        condition("Initialized", true, None, None)
    } else {
        condition(
            "Initialized",
            false,
            Some("ContainersNotInitialized"),
            Some(format!("containers with incomplete status: {}", names(&rt.pending_init()))),
        )
    };
    let ready = |kind: &str| {
        if finished {
            condition(kind, false, Some("PodCompleted"), None)
        } else if !init_done {
            condition(
                kind,
                false,
                Some("ContainersNotInitialized"),
                Some(format!("containers with incomplete status: {}", names(&rt.pending_init()))),
            )
        } else if unready_list.is_empty() {
            condition(kind, true, None, None)
        } else {
            condition(kind, false, Some("ContainersNotReady"), Some(format!("containers with unready status: {}", names(&unready_list))))
        }
    };
    let old: Vec<Value> = i.pod.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
    // Conditions the kubelet does not own (DisruptionTarget, readiness gates) come first
    // and stay as they are; then the kubelet's, PodScheduled always True.
    let ours = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"];
    let mut conditions: Vec<Value> = old.iter().filter(|c| !ours.iter().any(|o| c["type"] == *o)).cloned().collect();
    let kept = conditions.len();
    conditions.extend([
        condition("PodReadyToStartContainers", rt.sandbox_ready && !finished, None, None),
        initialized,
        ready("Ready"),
        ready("ContainersReady"),
        condition("PodScheduled", true, None, None),
    ]);
    // PodObservedGenerationTracking (beta, on in 1.34): each says which spec it saw.
    let generation = i.pod.pointer("/metadata/generation").and_then(Value::as_i64);
    for c in conditions.iter_mut().skip(kept) {
        if let Some(g) = generation {
            c["observedGeneration"] = json!(g);
        }
        let kept =
            old.iter().find(|o| o["type"] == c["type"] && o["status"] == c["status"]).and_then(|o| o.get("lastTransitionTime")).cloned();
        c["lastTransitionTime"] = kept.unwrap_or_else(|| json!(i.now));
    }

    let mut status = Map::new();
    if let Some(g) = generation {
        status.insert("observedGeneration".into(), json!(g));
    }
    status.insert("phase".into(), json!(phase));
    status.insert("conditions".into(), Value::Array(conditions));
    if let Some(h) = i.host_ip {
        status.insert("hostIP".into(), json!(h));
        status.insert("hostIPs".into(), json!([{"ip": h}]));
    }
    if let Some(ip) = rt.ip {
        status.insert("podIP".into(), json!(ip.to_string()));
        status.insert("podIPs".into(), json!([{"ip": ip.to_string()}]));
    }
    status.insert("startTime".into(), json!(rt.start_time));
    if !rt.init.is_empty() {
        let init: Vec<Value> = rt.init.iter().map(|c| container_status(c, c.succeeded())).collect();
        status.insert("initContainerStatuses".into(), Value::Array(init));
    }
    let main: Vec<Value> = rt.main.iter().map(|c| container_status(c, ready_of(c))).collect();
    status.insert("containerStatuses".into(), Value::Array(main));
    Value::Object(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::controllers::kubelet::image;

    fn container(name: &str, state: State) -> Container {
        Container {
            name: name.into(),
            image: "nginx".into(),
            pulled: image::pull("nginx").ok(),
            id: Some("containerd://1".into()),
            state,
            pull: None,
            exits_with: None,
            restarts_on_exit: false,
            restarts: 0,
            last_terminated: None,
            last_id: None,
            restart_at: None,
        }
    }
    fn running() -> State {
        State::Running { started_at: "2026-01-01T00:00:00Z".into() }
    }
    fn exited(code: i32) -> State {
        State::Terminated { exit_code: code, reason: "Completed".into(), started_at: "t".into(), finished_at: "t".into() }
    }
    /// Waiting in CrashLoopBackOff after a failed run.
    fn restarting(name: &str) -> Container {
        Container { last_terminated: Some(exited(1)), restarts: 1, ..container(name, State::waiting("CrashLoopBackOff")) }
    }
    fn rt(init: Vec<Container>, main: Vec<Container>) -> PodRuntime {
        PodRuntime {
            uid: "u".into(),
            ip: Some("10.244.1.2".parse().unwrap()),
            start_time: "2026-01-01T00:00:00Z".into(),
            sandbox_ready: true,
            init,
            main,
            stage: super::super::runtime::Stage::Started,
        }
    }
    fn cond<'a>(s: &'a Value, kind: &str) -> &'a Value {
        s["conditions"].as_array().unwrap().iter().find(|c| c["type"] == kind).unwrap()
    }

    #[test]
    fn phases_and_readiness_follow_the_kubelets_rules() {
        let pod = |policy: &str, unready: bool| {
            let mut p = json!({"spec": {"restartPolicy": policy}, "metadata": {}});
            if unready {
                p["metadata"]["annotations"] = json!({READY_ANNOTATION: "false"});
            }
            p
        };
        // (runtime, restart policy, unready, terminal) → (phase, Ready status, Ready reason, message)
        let cases = [
            (rt(vec![], vec![container("c", running())]), "Always", false, false, ("Running", "True", None, None)),
            (
                rt(vec![], vec![container("a", running()), container("b", running())]),
                "Always",
                true,
                false,
                ("Running", "False", Some("ContainersNotReady"), Some("containers with unready status: [a b]")),
            ),
            (
                rt(vec![], vec![container("c", State::waiting("ErrImagePull"))]),
                "Always",
                false,
                false,
                ("Pending", "False", Some("ContainersNotReady"), Some("containers with unready status: [c]")),
            ),
            (
                rt(vec![container("i", State::waiting("PodInitializing"))], vec![container("c", State::waiting("PodInitializing"))]),
                "Always",
                false,
                false,
                ("Pending", "False", Some("ContainersNotInitialized"), Some("containers with incomplete status: [i]")),
            ),
            (rt(vec![container("i", exited(0))], vec![container("c", running())]), "Always", false, false, ("Running", "True", None, None)),
            (rt(vec![], vec![container("c", exited(0))]), "Never", false, false, ("Succeeded", "False", Some("PodCompleted"), None)),
            (rt(vec![], vec![container("c", exited(3))]), "Never", false, false, ("Failed", "False", Some("PodCompleted"), None)),
            (rt(vec![], vec![container("c", exited(0))]), "OnFailure", false, false, ("Succeeded", "False", Some("PodCompleted"), None)),
            (rt(vec![], vec![container("c", exited(0))]), "Always", false, true, ("Succeeded", "False", Some("PodCompleted"), None)),
            (
                rt(vec![], vec![container("c", exited(1))]),
                "OnFailure",
                false,
                false,
                ("Running", "False", Some("ContainersNotReady"), Some("containers with unready status: [c]")),
            ),
            (
                rt(vec![], vec![restarting("c")]),
                "Always",
                false,
                false,
                ("Running", "False", Some("ContainersNotReady"), Some("containers with unready status: [c]")),
            ),
        ];
        for (r, policy, unready, terminal, (phase, ready, reason, message)) in cases {
            let p = pod(policy, unready);
            let s = generate(&r, &Inputs { pod: &p, host_ip: Some("172.18.0.2"), now: "now", terminal });
            assert_eq!(s["phase"], phase, "{s:#}");
            let c = cond(&s, "Ready");
            assert_eq!((c["status"].as_str(), c["reason"].as_str(), c["message"].as_str()), (Some(ready), reason, message), "{s:#}");
            assert_eq!(cond(&s, "ContainersReady")["status"], ready);
        }
    }

    #[test]
    fn statuses_carry_ips_ids_and_kept_transition_times() {
        let pod = json!({"metadata": {"generation": 2}, "spec": {}, "status": {"conditions": [
            {"type": "DisruptionTarget", "status": "True", "lastTransitionTime": "t"},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": "then"},
            {"type": "Ready", "status": "True", "lastTransitionTime": "earlier"},
        ]}});
        let s = generate(
            &rt(vec![], vec![container("c", running())]),
            &Inputs { pod: &pod, host_ip: Some("172.18.0.2"), now: "now", terminal: false },
        );
        let types: Vec<&str> = s["conditions"].as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["DisruptionTarget", "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]);
        assert_eq!((s["observedGeneration"].as_i64(), cond(&s, "Ready")["observedGeneration"].as_i64()), (Some(2), Some(2)));
        assert_eq!(cond(&s, "DisruptionTarget").get("observedGeneration"), None);
        assert_eq!(cond(&s, "Ready")["lastTransitionTime"], "earlier");
        assert_eq!(cond(&s, "PodScheduled")["lastTransitionTime"], "then");
        assert_eq!(cond(&s, "Initialized")["lastTransitionTime"], "now");
        assert_eq!(s["podIPs"], json!([{"ip": "10.244.1.2"}]));
        assert_eq!(s["hostIPs"], json!([{"ip": "172.18.0.2"}]));
        let c = &s["containerStatuses"][0];
        assert_eq!(c["image"], "docker.io/library/nginx:latest");
        assert!(c["imageID"].as_str().unwrap().starts_with("docker.io/library/nginx@sha256:"));
        assert_eq!((c["ready"].as_bool(), c["started"].as_bool(), c["restartCount"].as_i64()), (Some(true), Some(true), Some(0)));
        assert_eq!(c["containerID"], "containerd://1");
        // A waiting container shows the spec's image and no ids.
        let w = generate(
            &rt(vec![], vec![container("c", State::waiting("ContainerCreating"))]),
            &Inputs { pod: &pod, host_ip: None, now: "now", terminal: false },
        );
        let c = &w["containerStatuses"][0];
        assert_eq!((c["image"].as_str(), c["imageID"].as_str(), c.get("containerID")), (Some("nginx"), Some(""), None));
    }
}
