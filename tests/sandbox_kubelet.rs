//! The simulated kubelet: pods bound to a node (no scheduler: `spec.nodeName` is set
//! directly) get the status a kubelet writes, its Events, logs `kubectl logs` reads, and
//! a graceful stop on delete; nodes heartbeat and renew their leases.

mod common;

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams, PostParams};
use serde_json::{json, Value};

use common::{Kubectl, TestSandbox};

const NODE: &str = "kubelab-worker-1";
const NODE_CIDR_PREFIX: &str = "10.244.2.";
const NODE_IP: &str = "172.18.0.2";

async fn sandbox() -> (TestSandbox, kube::Client) {
    let t = TestSandbox::with_controllers("kubelet").await;
    let client = t.sandbox.client().await.expect("a client");
    (t, client)
}

fn pod(name: &str, containers: Value) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"nodeName": NODE, "containers": containers}
    }))
    .unwrap()
}

async fn create(client: &kube::Client, p: Pod) -> Pod {
    Api::<Pod>::namespaced(client.clone(), "default").create(&PostParams::default(), &p).await.expect("the pod is created")
}

/// Polls the pod until `ok` holds of it (as JSON), for up to 10 s.
async fn until(client: &kube::Client, name: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let api = Api::<Pod>::namespaced(client.clone(), "default");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = Value::Null;
    while Instant::now() < deadline {
        if let Ok(p) = api.get(name).await {
            last = serde_json::to_value(&p).unwrap();
            if ok(&last) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("pod {name} never got {what}: {last:#}");
}

async fn events_of(client: &kube::Client, name: &str) -> Vec<Event> {
    let api = Api::<Event>::namespaced(client.clone(), "default");
    let all = api.list(&ListParams::default()).await.expect("events list");
    all.items.into_iter().filter(|e| e.involved_object.name.as_deref() == Some(name)).collect()
}

/// Polls until the pod has an Event with `reason` (its message returned), for up to 10 s.
async fn event(client: &kube::Client, name: &str, reason: &str) -> Event {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let evs = events_of(client, name).await;
        if let Some(e) = evs.iter().find(|e| e.reason.as_deref() == Some(reason)) {
            return e.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no {reason} event for {name}: {:?}",
            evs.iter().map(|e| (&e.reason, &e.message)).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn condition<'a>(pod: &'a Value, kind: &str) -> &'a Value {
    pod["status"]["conditions"].as_array().and_then(|cs| cs.iter().find(|c| c["type"] == kind)).unwrap_or(&Value::Null)
}

fn running(p: &Value) -> bool {
    p["status"]["phase"] == "Running"
}

/// Runs kubectl off the async runtime (it blocks; the sandbox must keep serving).
async fn kubectl<T: Send + 'static>(t: &TestSandbox, f: impl FnOnce(&Kubectl) -> T + Send + 'static) -> T {
    let kubeconfig = t.kubeconfig();
    let home = t.home().to_path_buf();
    tokio::task::spawn_blocking(move || f(&Kubectl { kubeconfig: &kubeconfig, home: &home })).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_on_a_node_run_with_ips_from_its_cidr_and_the_kubelets_events() {
    let (_t, client) = sandbox().await;
    for name in ["web-1", "web-2"] {
        create(&client, pod(name, json!([{"name": "nginx", "image": "nginx"}]))).await;
    }
    let a = until(&client, "web-1", "Running", running).await;
    let b = until(&client, "web-2", "Running", running).await;
    let (ip_a, ip_b) = (a["status"]["podIP"].as_str().unwrap(), b["status"]["podIP"].as_str().unwrap());
    assert!(ip_a.starts_with(NODE_CIDR_PREFIX) && ip_b.starts_with(NODE_CIDR_PREFIX), "{ip_a} {ip_b}");
    assert_ne!(ip_a, ip_b);
    assert_eq!(a["status"]["podIPs"], json!([{"ip": ip_a}]));
    assert_eq!((a["status"]["hostIP"].as_str(), &a["status"]["hostIPs"]), (Some(NODE_IP), &json!([{"ip": NODE_IP}])));
    assert!(a["status"]["startTime"].is_string());
    for kind in ["PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready", "PodScheduled"] {
        assert_eq!(condition(&a, kind)["status"], "True", "{kind}: {a:#}");
    }
    let c = &a["status"]["containerStatuses"][0];
    assert_eq!((c["name"].as_str(), c["image"].as_str()), (Some("nginx"), Some("docker.io/library/nginx:latest")));
    assert!(c["imageID"].as_str().unwrap().starts_with("docker.io/library/nginx@sha256:"), "{c}");
    assert!(c["containerID"].as_str().unwrap().starts_with("containerd://"), "{c}");
    assert_eq!((c["ready"].as_bool(), c["started"].as_bool(), c["restartCount"].as_i64()), (Some(true), Some(true), Some(0)));
    assert!(c["state"]["running"]["startedAt"].is_string(), "{c}");

    let pulling = event(&client, "web-1", "Pulling").await;
    assert_eq!(pulling.message.as_deref(), Some("Pulling image \"nginx\""));
    let source = pulling.source.clone().unwrap_or_default();
    assert_eq!((source.component.as_deref(), source.host.as_deref()), (Some("kubelet"), Some(NODE)));
    assert_eq!(pulling.involved_object.field_path.as_deref(), Some("spec.containers{nginx}"));
    let pulled = event(&client, "web-1", "Pulled").await.message.unwrap_or_default();
    assert!(pulled.starts_with("Successfully pulled image \"nginx\" in "), "{pulled}");
    assert_eq!(event(&client, "web-1", "Created").await.message.as_deref(), Some("Created container: nginx"));
    assert_eq!(event(&client, "web-1", "Started").await.message.as_deref(), Some("Started container nginx"));
    // The second pod's image: already on the node, unless its policy is Always (`:latest` is).
    let second = event(&client, "web-2", "Pulled").await.message.unwrap_or_default();
    assert!(second.starts_with("Successfully pulled image \"nginx\""), "{second}");
    // Once running, the status is written no more: resyncs find nothing to change.
    let api = Api::<Pod>::namespaced(client.clone(), "default");
    let rv = api.get("web-1").await.unwrap().metadata.resource_version;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(api.get("web-1").await.unwrap().metadata.resource_version, rv);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unready_annotation_keeps_a_running_pod_unready() {
    let (_t, client) = sandbox().await;
    let mut p = pod("slow", json!([{"name": "app", "image": "nginx:1.27"}]));
    p.metadata.annotations = Some([("sandbox.kubelab.dev/ready".to_string(), "false".to_string())].into());
    create(&client, p).await;
    let p = until(&client, "slow", "Running", running).await;
    for kind in ["ContainersReady", "Ready"] {
        let c = condition(&p, kind);
        assert_eq!(
            (c["status"].as_str(), c["reason"].as_str(), c["message"].as_str()),
            (Some("False"), Some("ContainersNotReady"), Some("containers with unready status: [app]")),
            "{kind}"
        );
    }
    assert_eq!(p["status"]["containerStatuses"][0]["ready"], false);
    assert_eq!(p["status"]["containerStatuses"][0]["started"], true);
    // Without the annotation the pod turns Ready.
    let api = Api::<Pod>::namespaced(client.clone(), "default");
    let unannotate = json!({"metadata": {"annotations": {"sandbox.kubelab.dev/ready": null}}});
    api.patch("slow", &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&unannotate)).await.unwrap();
    let p = until(&client, "slow", "Ready", |p| condition(p, "Ready")["status"] == "True").await;
    assert_eq!(p["status"]["containerStatuses"][0]["ready"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_that_does_not_exist_fails_to_pull_then_backs_off() {
    let (t, client) = sandbox().await;
    create(&client, pod("broken", json!([{"name": "app", "image": "doesnotexist:v1"}]))).await;
    let waiting = |reason: &'static str| move |p: &Value| p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == reason;
    let p = until(&client, "broken", "ErrImagePull", waiting("ErrImagePull")).await;
    assert_eq!(p["status"]["phase"], "Pending");
    assert!(p["status"]["podIP"].as_str().unwrap().starts_with(NODE_CIDR_PREFIX));
    let p = until(&client, "broken", "ImagePullBackOff", waiting("ImagePullBackOff")).await;
    assert_eq!(p["status"]["phase"], "Pending");
    let message = p["status"]["containerStatuses"][0]["state"]["waiting"]["message"].as_str().unwrap_or_default().to_string();
    assert!(message.starts_with("Back-off pulling image \"doesnotexist:v1\": ErrImagePull: "), "{message}");

    let evs = events_of(&client, "broken").await;
    let said = |reason: &str, msg: &str| {
        evs.iter().any(|e| e.reason.as_deref() == Some(reason) && e.message.as_deref().is_some_and(|m| m.starts_with(msg)))
    };
    assert!(said("Failed", "Failed to pull image \"doesnotexist:v1\": "), "{evs:?}");
    assert!(said("Failed", "Error: ErrImagePull"));
    assert!(said("BackOff", "Back-off pulling image \"doesnotexist:v1\""));
    assert!(said("Failed", "Error: ImagePullBackOff"));
    let failed = evs.iter().find(|e| e.reason.as_deref() == Some("Failed")).unwrap();
    assert_eq!(failed.type_.as_deref(), Some("Warning"));

    let err = kubectl(&t, |k| k.fails(&["logs", "broken"])).await;
    assert!(err.contains("container \"app\" in pod \"broken\" is waiting to start: trying and failing to pull image"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_containers_complete_before_the_containers_start() {
    let (_t, client) = sandbox().await;
    let mut p = pod("with-init", json!([{"name": "app", "image": "nginx"}]));
    p.spec.as_mut().unwrap().init_containers =
        Some(vec![serde_json::from_value(json!({"name": "setup", "image": "busybox", "command": ["sh", "-c", "echo ready"]})).unwrap()]);
    create(&client, p).await;
    let p = until(&client, "with-init", "Running", running).await;
    let init = &p["status"]["initContainerStatuses"][0];
    let done = &init["state"]["terminated"];
    assert_eq!((done["reason"].as_str(), done["exitCode"].as_i64()), (Some("Completed"), Some(0)), "{init}");
    assert_eq!(init["ready"], true);
    assert_eq!(condition(&p, "Initialized")["status"], "True");
    let evs = events_of(&client, "with-init").await;
    let started: Vec<_> = evs.iter().filter(|e| e.reason.as_deref() == Some("Started")).filter_map(|e| e.message.clone()).collect();
    assert!(
        started.contains(&"Started container setup".to_string()) && started.contains(&"Started container app".to_string()),
        "{started:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_that_exit_end_pods_that_are_not_restarted() {
    let (_t, client) = sandbox().await;
    let cases = [("fails", "Never", "exit 3", "Failed", 3, "Error"), ("succeeds", "OnFailure", "exit 0", "Succeeded", 0, "Completed")];
    for (name, policy, script, ..) in cases {
        let mut p = pod(name, json!([{"name": "job", "image": "busybox", "command": ["sh", "-c", script]}]));
        p.spec.as_mut().unwrap().restart_policy = Some(policy.into());
        create(&client, p).await;
    }
    for (name, _, _, phase, code, reason) in cases {
        let p = until(&client, name, phase, |p| p["status"]["phase"] == phase).await;
        let t = &p["status"]["containerStatuses"][0]["state"]["terminated"];
        assert_eq!((t["exitCode"].as_i64(), t["reason"].as_str()), (Some(code), Some(reason)), "{name}: {p:#}");
        assert_eq!(condition(&p, "Ready")["reason"], "PodCompleted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_that_keeps_failing_is_restarted_then_backs_off() {
    let (t, client) = sandbox().await;
    create(&client, pod("crash", json!([{"name": "app", "image": "busybox:1.36", "command": ["sh", "-c", "exit 1"]}]))).await;
    let backing_off = |p: &Value| p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff";
    let p = until(&client, "crash", "CrashLoopBackOff", backing_off).await;
    let c = &p["status"]["containerStatuses"][0];
    assert_eq!(p["status"]["phase"], "Running", "{p:#}");
    assert_eq!(c["restartCount"], 1);
    let last = &c["lastState"]["terminated"];
    assert_eq!((last["exitCode"].as_i64(), last["reason"].as_str()), (Some(1), Some("Error")), "{c}");
    assert_eq!(c["containerID"], last["containerID"], "the last run's id is kept while waiting: {c}");
    let uid = p["metadata"]["uid"].as_str().unwrap();
    assert_eq!(
        c["state"]["waiting"]["message"].as_str(),
        Some(format!("back-off 10s restarting failed container=app pod=crash_default({uid})").as_str())
    );
    let backoff = event(&client, "crash", "BackOff").await;
    assert_eq!(backoff.message, Some(format!("Back-off restarting failed container app in pod crash_default({uid})")));
    assert_eq!(condition(&p, "Ready")["status"], "False");
    // Each run has its own log; --previous reads the one before.
    let (previous, current) = kubectl(&t, |k| (k.ok(&["logs", "crash", "--previous"]), k.ok(&["logs", "crash"]))).await;
    assert!(previous.contains("exited with code 1") && current.contains("exited with code 1"), "{previous}\n{current}");
    let started = events_of(&client, "crash")
        .await
        .iter()
        .filter(|e| e.reason.as_deref() == Some("Started"))
        .map(|e| e.count.unwrap_or(1))
        .sum::<i32>();
    assert_eq!(started, 2, "started, then restarted once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_pod_is_stopped_then_removed() {
    let (t, client) = sandbox().await;
    create(&client, pod("doomed", json!([{"name": "app", "image": "nginx"}]))).await;
    until(&client, "doomed", "Running", running).await;
    let started = Instant::now();
    // kubectl waits until the pod is gone, which only the kubelet's final delete does.
    let out = kubectl(&t, |k| k.ok(&["delete", "pod", "doomed", "--timeout=20s"])).await;
    assert!(out.contains("pod \"doomed\" deleted"), "{out}");
    assert!(started.elapsed() < Duration::from_secs(20));
    let gone = Api::<Pod>::namespaced(client.clone(), "default").get_opt("doomed").await.unwrap();
    assert!(gone.is_none(), "{gone:?}");
    let killing = event(&client, "doomed", "Killing").await;
    assert_eq!(killing.message.as_deref(), Some("Stopping container app"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_create_and_renew_their_leases() {
    let (_t, client) = sandbox().await;
    // A pulled image shows in the node's status from the next heartbeat.
    create(&client, pod("puller", json!([{"name": "app", "image": "nginx"}]))).await;
    let leases = Api::<Lease>::namespaced(client.clone(), "kube-node-lease");
    let deadline = Instant::now() + Duration::from_secs(10);
    let first = loop {
        if let Some(l) = leases.get_opt(NODE).await.unwrap() {
            break l;
        }
        assert!(Instant::now() < deadline, "no lease for {NODE}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let spec = first.spec.clone().unwrap();
    assert_eq!((spec.holder_identity.as_deref(), spec.lease_duration_seconds), (Some(NODE), Some(40)));
    let owner = &first.metadata.owner_references.clone().unwrap()[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("Node", NODE));
    assert!(leases.get_opt("kubelab-worker-2").await.unwrap().is_some());
    // The next heartbeat, 10 s on, renews it.
    let deadline = Instant::now() + Duration::from_secs(25);
    loop {
        let l = leases.get(NODE).await.unwrap();
        if l.spec.as_ref().and_then(|s| s.renew_time.clone()) != spec.renew_time {
            break;
        }
        assert!(Instant::now() < deadline, "the lease was never renewed");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let node: Value = serde_json::to_value(Api::<k8s_openapi::api::core::v1::Node>::all(client.clone()).get(NODE).await.unwrap()).unwrap();
    let ready = condition(&node, "Ready");
    assert_eq!((ready["status"].as_str(), ready["reason"].as_str()), (Some("True"), Some("KubeletReady")));
    assert_eq!(condition(&node, "MemoryPressure")["reason"], "KubeletHasSufficientMemory");
    let images = node["status"]["images"].as_array().cloned().unwrap_or_default();
    assert!(images.iter().any(|i| i["names"][1] == "docker.io/library/nginx:latest" && i["sizeBytes"].as_u64() > Some(0)), "{images:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_nodes_are_one_amd64_and_one_arm64() {
    let (_t, client) = sandbox().await;
    let nodes = Api::<k8s_openapi::api::core::v1::Node>::all(client.clone());
    let mut archs = vec![];
    for name in ["kubelab-worker-1", "kubelab-worker-2"] {
        let n = serde_json::to_value(nodes.get(name).await.unwrap()).unwrap();
        assert_eq!(n["metadata"]["labels"]["kubernetes.io/arch"], n["status"]["nodeInfo"]["architecture"]);
        assert_eq!((n["status"]["capacity"]["cpu"].as_str(), n["status"]["capacity"]["memory"].as_str()), (Some("4"), Some("8Gi")));
        assert_eq!(n["status"]["capacity"]["pods"], "110");
        archs.push(n["status"]["nodeInfo"]["architecture"].as_str().unwrap().to_string());
    }
    assert_eq!(archs, ["amd64", "arm64"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_logs_reads_what_the_containers_would_run() {
    let (t, client) = sandbox().await;
    create(&client, pod("one", json!([{"name": "app", "image": "busybox", "command": ["sh", "-c", "echo hello; sleep 3600"]}]))).await;
    create(&client, pod("two", json!([{"name": "a", "image": "nginx"}, {"name": "b", "image": "redis", "args": ["--port", "7000"]}])))
        .await;
    until(&client, "one", "Running", running).await;
    until(&client, "two", "Running", running).await;

    let (limited, since) = kubectl(&t, |k| (k.ok(&["logs", "one", "--limit-bytes=10"]), k.ok(&["logs", "one", "--since=1h"]))).await;
    let (plain, tail, stamped, b, bad_container) = kubectl(&t, |k| {
        (
            k.ok(&["logs", "one"]),
            k.ok(&["logs", "one", "--tail=1"]),
            k.ok(&["logs", "one", "--timestamps"]),
            k.ok(&["logs", "two", "-c", "b"]),
            k.fails(&["logs", "two", "-c", "x"]),
        )
    })
    .await;
    assert!(plain.contains("image \"busybox\" pulled as docker.io/library/busybox@sha256:"), "{plain}");
    assert!(plain.contains("would run: sh -c 'echo hello; sleep 3600'"), "{plain}");
    assert_eq!(tail.lines().count(), 1, "{tail}");
    assert_eq!(limited, plain[..10]);
    assert_eq!(since, plain);
    assert_eq!(tail, plain.lines().last().unwrap().to_string() + "\n");
    for (with, without) in stamped.lines().zip(plain.lines()) {
        let (ts, rest) = with.split_once(' ').unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{with}");
        assert_eq!(rest, without);
    }
    assert!(b.contains("would run: the entrypoint of image \"redis\" with args: --port 7000"), "{b}");
    assert!(bad_container.contains("container x is not valid for pod two"), "{bad_container}");

    // The API's own checks, as kube-apiserver words them.
    let (code, body) = common::raw(&client, "GET", "/api/v1/namespaces/default/pods/two/log", None, None).await;
    assert_eq!((code, body["message"].as_str()), (400, Some("a container name must be specified for pod two, choose one of: [a b]")));
    let (code, body) = common::raw(&client, "GET", "/api/v1/namespaces/default/pods/one/log?tailLines=-1", None, None).await;
    assert_eq!((code, body["reason"].as_str()), (422, Some("Invalid")), "{body}");
    let (code, _) = common::raw(&client, "GET", "/api/v1/namespaces/default/pods/nope/log", None, None).await;
    assert_eq!(code, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_whose_images_are_being_pulled_is_container_creating() {
    let (_t, client) = sandbox().await;
    create(&client, pod("early", json!([{"name": "app", "image": "nginx"}]))).await;
    let creating = |p: &Value| p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating";
    let p = until(&client, "early", "ContainerCreating", creating).await;
    assert_eq!(p["status"]["phase"], "Pending");
    let (code, body) = common::raw(&client, "GET", "/api/v1/namespaces/default/pods/early/log", None, None).await;
    assert_eq!(
        (code, body["message"].as_str()),
        (400, Some("container \"app\" in pod \"early\" is waiting to start: ContainerCreating")),
        "{body}"
    );
    // The pull takes a while: Pulling comes first, and Pulled only once it is done.
    let pulling = event(&client, "early", "Pulling").await;
    let p = until(&client, "early", "Running", running).await;
    let pulled = event(&client, "early", "Pulled").await;
    assert!(pulled.first_timestamp >= pulling.first_timestamp);
    assert!(p["status"]["containerStatuses"][0]["state"]["running"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_logs_follow_ends_when_the_pod_goes() {
    let (t, client) = sandbox().await;
    create(&client, pod("followed", json!([{"name": "app", "image": "nginx"}]))).await;
    until(&client, "followed", "Running", running).await;
    let kubeconfig = t.kubeconfig();
    let home = t.home().to_path_buf();
    let follower = std::thread::spawn(move || Kubectl { kubeconfig: &kubeconfig, home: &home }.run(&["logs", "-f", "followed"]));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!follower.is_finished(), "kubectl logs -f returned while the pod runs");
    Api::<Pod>::namespaced(client.clone(), "default").delete("followed", &Default::default()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !follower.is_finished() {
        assert!(Instant::now() < deadline, "kubectl logs -f did not end with its pod");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = follower.join().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("would run: the entrypoint and command of image \"nginx\""), "{text}");
    assert!(text.contains("received SIGTERM and stopped"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_exec_says_the_sandbox_runs_no_processes() {
    let (t, client) = sandbox().await;
    create(&client, pod("shell", json!([{"name": "app", "image": "nginx"}]))).await;
    until(&client, "shell", "Running", running).await;
    let (exec, forward) =
        kubectl(&t, |k| (k.fails(&["exec", "shell", "--", "ls"]), k.fails(&["port-forward", "pod/shell", "18080:80"]))).await;
    assert!(exec.contains("runs no processes"), "{exec}");
    assert!(forward.contains("runs no processes"), "{forward}");
    let (code, body) = common::raw(&client, "POST", "/api/v1/namespaces/default/pods/shell/exec?command=ls&stdout=true", None, None).await;
    assert_eq!((code, body["reason"].as_str()), (400, Some("BadRequest")));
    assert!(body["message"].as_str().unwrap().contains("pods/exec is not available in the kubelab sandbox"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_sandbox_keeps_its_running_pods_and_their_ips() {
    let (t, client) = sandbox().await;
    create(&client, pod("steady", json!([{"name": "app", "image": "nginx"}]))).await;
    let before = until(&client, "steady", "Running", running).await;
    let TestSandbox { sandbox, home } = t;
    drop(client);
    drop(sandbox);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let controllers = kubelab::sandbox::controllers::Selection::parse("kubelet").unwrap();
    let sandbox = kubelab::sandbox::Sandbox::start_with(home.path(), kubelab::sandbox::Options { controllers, ..Default::default() })
        .await
        .expect("the sandbox starts again");
    let client = sandbox.client().await.unwrap();
    // A new pod on the same node gets another IP: the old pod's is still held.
    create(&client, pod("newcomer", json!([{"name": "app", "image": "nginx"}]))).await;
    let newcomer = until(&client, "newcomer", "Running", running).await;
    assert_ne!(newcomer["status"]["podIP"], before["status"]["podIP"]);
    let after = until(&client, "steady", "Running", running).await;
    assert_eq!(after["status"]["podIP"], before["status"]["podIP"]);
    assert_eq!(after["status"]["containerStatuses"][0]["containerID"], before["status"]["containerStatuses"][0]["containerID"]);
    let started = events_of(&client, "steady").await.iter().filter(|e| e.reason.as_deref() == Some("Started")).count();
    assert_eq!(started, 1, "the container was not started again");
}
