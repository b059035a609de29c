//! Every client command, run as the real binary against an in-process sandbox (through
//! `--kubeconfig`, the ordinary kube-rs config path): narration snapshots with the volatile
//! values written `<…>`, parseable `-o json`, and readable errors.

mod common;

use std::process::Output;
use std::time::Duration;

use common::TestSandbox;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use kubelab::tutorial::expect;
use serde_json::{json, Value};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn assert_snapshot(expected: &str, actual: &str) {
    if let Err(m) = expect::check_exact(expected, actual) {
        panic!("narration differs from the snapshot: {m}\n--- actual ---\n{actual}");
    }
}

#[track_caller]
fn assert_contains_in_order(expected: &str, actual: &str) {
    if let Err(m) = expect::check(expected, actual) {
        panic!("{m}\n--- actual ---\n{actual}");
    }
}

#[track_caller]
fn assert_clean_failure(out: &Output) -> String {
    assert!(!out.status.success(), "the command should fail");
    let err = text(&out.stderr);
    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "no panic: {err}");
    err
}

const LIST_NODES_NARRATION: &str = r#"
[1] kubeconfig: which cluster, as whom
    source             --kubeconfig flag
    file               <…>/kubeconfig
    context            kubelab (current-context)
    cluster            kubelab -> https://127.0.0.1:<…>
    user               kubelab (bearer token)
[2] kube::Config built from it (client-go: clientcmd.BuildConfigFromFlags -> rest.Config)
    cluster_url        https://127.0.0.1:<…>/
    namespace          default
    tls                verify the server against 1 CA certificate(s) from the kubeconfig
    auth               bearer token
    timeouts           connect 30 s, read none
[3] kube::Client built (client-go: kubernetes.NewForConfig -> Clientset)
    A tower stack; each request goes down it, each response comes back up:
    BaseUriLayer       prefixes https://127.0.0.1:<…>/ to each request path
    AuthLayer          adds credentials (bearer token)
    ExtraHeaders       0 impersonation/extra header(s)
    RecordLayer        kubelab's own: records each request and response for this narration
    hyper-util         legacy::Client: connection pool, HTTP/1.1 or HTTP/2 chosen by ALPN
    hyper-rustls       TLS by rustls (ring provider), over a tokio TCP socket
    TCP                TCP_NODELAY on (as Go does; kube-rs leaves Nagle on), connect timeout 30 s
    `kube::Client::try_from(config)` builds the same stack, with a tracing layer instead of ours.
[4] request: Api::<Node>::all(client).list(&ListParams::default())
    Go: clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
    request            GET /api/v1/nodes
[5] response
    status             200 OK over <…>
    body               <…> bytes<…>
    latency            <…> to the response head, <…> to the last byte
    kind               NodeList
    resourceVersion    <…>
[6] decoded by serde into kube::core::ObjectList<k8s_openapi::api::core::v1::Node>
    items              2
    Go: the same JSON is decoded into a *v1.NodeList; list.Items is a []v1.Node, here a Vec<Node>.
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_nodes_narrates_each_layer_and_prints_the_table() {
    let t = TestSandbox::start().await;
    let out = t.kubelab(&["list-nodes"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_snapshot(LIST_NODES_NARRATION, &text(&out.stderr));
    assert_snapshot("NAME ARCH OS\nkubelab-worker-1 <…> linux\nkubelab-worker-2 <…> linux\n", &text(&out.stdout));

    let quiet = t.kubelab(&["list-nodes", "-q"]).await;
    assert_eq!(text(&quiet.stderr), "", "-q leaves only the result");
    assert_eq!(text(&quiet.stdout), text(&out.stdout));

    let json = t.kubelab(&["list-nodes", "-o", "json"]).await;
    let doc: Value = serde_json::from_slice(&json.stdout).expect("-o json is JSON");
    assert_eq!(doc["kind"], "NodeList");
    let names: Vec<&str> = doc["items"].as_array().unwrap().iter().map(|n| n["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["kubelab-worker-1", "kubelab-worker-2"]);
    assert!(text(&json.stderr).contains("[6] decoded by serde"), "narration goes to stderr with -o json");

    let titles = t.kubelab(&["list-nodes", "--explain", "1"]).await;
    assert_eq!(text(&titles.stderr).lines().count(), 6, "one line per layer: {}", text(&titles.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_pod_shows_the_value_the_json_and_the_server_fields() {
    let t = TestSandbox::start().await;
    let out = t.kubelab(&["create-pod", "--name", "web", "--image", "nginx:1.27"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_contains_in_order(
        r#"
[4] the Pod as a Rust value (Debug, fields that are None left out)
      Pod {
          metadata: ObjectMeta {
              name: Some(
                  "web",
[5] serialized by serde: apiVersion and kind come from the Resource trait, None fields are skipped
        "apiVersion": "v1",
        "kind": "Pod",
[6] request: Api::<Pod>::namespaced(client, "default").create(&PostParams::default(), &pod)
    request            POST /api/v1/namespaces/default/pods
      content-type     application/json
      authorization    Bearer <redacted, 48 chars>
      body             <…> bytes
[7] response: the object as stored, decoded back into a Pod
    status             201 Created over <…>
    uid                <…>-<…>-<…>-<…>-<…>
    resourceVersion    <…>
    creationTimestamp  <…>T<…>Z
    namespace          default
    server added       <…>
"#,
        &text(&out.stderr),
    );
    assert!(!text(&out.stderr).contains(t.sandbox.token()), "the token never reaches the narration");
    assert_eq!(text(&out.stdout), "pod/web created\n");

    let json = t.kubelab(&["create-pod", "--name", "web2", "-o", "json", "-q"]).await;
    let pod: Value = serde_json::from_slice(&json.stdout).expect("-o json is JSON");
    assert_eq!(pod["metadata"]["name"], "web2");
    assert!(pod["metadata"]["uid"].is_string() && pod["metadata"]["resourceVersion"].is_string());

    let again = t.kubelab(&["create-pod", "--name", "web"]).await;
    let err = assert_clean_failure(&again);
    assert_contains_in_order(
        r#"
[7] response: refused, with a metav1.Status explaining why
    status             409 Conflict over <…>
    kind               Status
    code               409
    reason             AlreadyExists
    message            pods "web" already exists
kubelab: the server answered 409 AlreadyExists: pods "web" already exists
hint: delete it first, or choose another name
"#,
        &err,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_traces_the_life_of_a_request() {
    let t = TestSandbox::start().await;
    let pods: Api<Pod> = Api::namespaced(t.sandbox.client().await.unwrap(), "default");
    let pod: Pod = serde_json::from_value(
        json!({"metadata": {"name": "traced", "labels": {"app": "demo"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}),
    )
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();

    let out = t.kubelab(&["get", "pods", "--trace", "-l", "app=demo"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let narration = text(&out.stderr);
    let from_step_4 = &narration[narration.find("[4]").expect("a step 4")..];
    assert_snapshot(
        r#"
[4] resolve "pods": discovery, the RESTMapper's job
    request            GET /api
    status             200 OK over <…>
    body               <…>
    latency            <…>
    request            GET /apis
    status             200 OK over <…>
    body               <…>
    latency            <…>
    matched            pods -> pods (plural)
    GVK                v1, Kind=Pod (core group)
    GVR                v1, Resource=pods
    scope              namespaced
[5] REST path and query
    rule               core group -> /api/<version>
    scope              namespaced -> /namespaces/default/pods
    verb               list: Request::list(&ListParams)
    path               /api/v1/namespaces/default/pods
    query              labelSelector=app%3Ddemo
    Go: restClient.Get().Namespace(ns).Resource(plural).VersionedParams(&opts, scheme.ParameterCodec)
[6] on the wire
    request            GET /api/v1/namespaces/default/pods?labelSelector=app%3Ddemo
      authorization    Bearer <redacted, 48 chars>
    status             200 OK over <…>
<…>
    body               <…> bytes<…>
    latency            <…>
    first bytes        {"kind":"PodList"<…>
[7] decode
    decoder            serde_json, into the k8s-openapi type the scheme registers for this GVK
    Rust type          kube::core::ObjectList<k8s_openapi::api::core::v1::Pod>
    items              1
[8] columns: the server's Table, as kubectl asks for it
    Accept             application/json;as=Table;v=v1;g=meta.k8s.io,application/json
    request            GET /api/v1/namespaces/default/pods?labelSelector=app%3Ddemo
      accept           application/json;as=Table;v=v1;g=meta.k8s.io,application/json
      authorization    Bearer <redacted, 48 chars>
    status             200 OK over <…>
<…>
    body               <…>
    latency            <…>
    columns            NAME READY STATUS RESTARTS AGE
"#,
        // Response headers vary in number by server; the snapshot holds one `<…>` line for them.
        &collapse_response_headers(from_step_4),
    );
    assert_snapshot("NAME READY STATUS RESTARTS AGE\ntraced 0/1 Pending 0 <…>s\n", &text(&out.stdout));
    // The very columns and cells kubectl prints (ages aside: a second may pass between).
    let kubectl = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(t.kubeconfig())
        .args(["get", "pods", "-l", "app=demo"])
        .output()
        .expect("kubectl runs");
    let without_age = |table: &str| -> Vec<String> {
        table.lines().map(|l| l.split_whitespace().collect::<Vec<_>>()).map(|w| w[..w.len() - 1].join(" ")).collect()
    };
    assert_eq!(without_age(&text(&out.stdout)), without_age(&text(&kubectl.stdout)), "{}", text(&kubectl.stderr));

    let raw = t.kubelab(&["get", "ns", "--raw", "-q"]).await;
    let doc: Value = serde_json::from_slice(&raw.stdout).expect("--raw is the JSON body");
    assert_eq!(doc["kind"], "NamespaceList");
    let json = t.kubelab(&["get", "node", "kubelab-worker-2", "-o", "json", "-q"]).await;
    let node: Value = serde_json::from_slice(&json.stdout).expect("-o json is JSON");
    assert_eq!((node["kind"].as_str(), node["metadata"]["name"].as_str()), (Some("Node"), Some("kubelab-worker-2")));

    let unknown = t.kubelab(&["get", "gadgets"]).await;
    let err = assert_clean_failure(&unknown);
    assert!(
        err.ends_with("kubelab: the server doesn't have a resource type \"gadgets\"\nhint: `kubelab kinds` lists what it serves\n"),
        "{err}"
    );

    let missing = t.kubelab(&["get", "pod", "nope", "-q"]).await;
    let err = assert_clean_failure(&missing);
    assert!(err.starts_with("kubelab: the server answered 404 NotFound: pods \"nope\" not found\n"), "{err}");
}

/// Replaces the indented response-header lines of steps 6 and 8 by one `<…>` line.
fn collapse_response_headers(narration: &str) -> String {
    let mut out = Vec::new();
    let (mut in_step_6, mut skipping) = (false, false);
    for line in narration.lines() {
        if line.starts_with('[') {
            in_step_6 = line.starts_with("[6]") || line.starts_with("[8]");
        }
        if skipping && line.starts_with("      ") {
            continue;
        }
        skipping = false;
        out.push(line.to_string());
        if in_step_6 && line.starts_with("    status ") {
            out.push("<…>".to_string());
            skipping = true;
        }
    }
    out.join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinds_is_the_scheme() {
    let t = TestSandbox::start().await;
    let out = t.kubelab(&["kinds", "--group", "apps", "-q"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_snapshot(
        r#"
KIND APIVERSION RESOURCE NAMESPACED VERBS RUST TYPE (k8s_openapi::)
ControllerRevision apps/v1 controllerrevisions true <…> api::apps::v1::ControllerRevision
DaemonSet apps/v1 daemonsets true <…> api::apps::v1::DaemonSet
Deployment apps/v1 deployments true create,delete,deletecollection,get,list,patch,update,watch api::apps::v1::Deployment
ReplicaSet apps/v1 replicasets true <…> api::apps::v1::ReplicaSet
StatefulSet apps/v1 statefulsets true <…> api::apps::v1::StatefulSet
"#,
        &text(&out.stdout),
    );

    let json = t.kubelab(&["kinds", "-o", "json", "-q"]).await;
    let kinds: Vec<Value> = serde_json::from_slice(&json.stdout).expect("-o json is JSON");
    let pod = kinds.iter().find(|k| k["kind"] == "Pod" && k["group"] == "").expect("pods are served");
    assert_eq!(pod["rustType"], "k8s_openapi::api::core::v1::Pod");
    assert_eq!((pod["plural"].as_str(), pod["namespaced"].as_bool()), (Some("pods"), Some(true)));
    assert!(pod["verbs"].as_array().unwrap().iter().any(|v| v == "watch"));
    let node = kinds.iter().find(|k| k["kind"] == "Node").unwrap();
    assert_eq!(node["namespaced"], false);

    let none = t.kubelab(&["kinds", "--group", "nothing.example.com"]).await;
    assert!(assert_clean_failure(&none).contains("the server serves no API group \"nothing.example.com\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_pods_lists_then_watches_and_summarises() {
    let t = TestSandbox::start().await;
    let client = t.sandbox.client().await.unwrap();
    let watching = {
        let cmd = tokio::process::Command::new(common::kubelab_bin())
            .args(["--kubeconfig"])
            .arg(t.kubeconfig())
            .args(["watch-pods", "--for", "3s", "-o", "json"])
            .env("KUBELAB_HOME", t.home())
            .env_remove("KUBECONFIG")
            .output();
        tokio::spawn(cmd)
    };
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let pod: Pod =
        serde_json::from_value(json!({"metadata": {"name": "seen"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})).unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let out = watching.await.unwrap().expect("watch-pods runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("-o json is one JSON document");
    let added: Vec<&Value> = doc["events"].as_array().unwrap().iter().filter(|e| e["type"] == "ADDED").collect();
    assert_eq!(added.len(), 1, "{doc}");
    assert_eq!(added[0]["name"], "seen");
    assert_eq!(doc["summary"]["ADDED"], 1);
    assert_eq!(doc["relists"], 0);
    assert_contains_in_order(
        r#"
[4] LIST, to learn the current state and its resourceVersion
    request            GET /api/v1/namespaces/default/pods
    pods               0
    resourceVersion    <…>
[5] WATCH from resourceVersion <…>
    request            GET /api/v1/namespaces/default/pods?watch=true&timeoutSeconds=290&allowWatchBookmarks=true&resourceVersion=<…>
[6] stopped: time is up
    watch requests     1
    re-lists (410)     0
"#,
        &text(&out.stderr),
    );

    let gone = t.kubelab(&["watch-pods", "--from-version", "1", "--for", "1s"]).await;
    assert!(gone.status.success(), "{}", text(&gone.stderr));
    assert_contains_in_order(
        r#"
EVENT NAME PHASE RESOURCEVERSION TIME
ERROR 410 Gone - 1 <…>
summary: ADDED 0, MODIFIED 0, DELETED 0, BOOKMARK <…>, ERROR 1; re-lists after 410 Gone: 1
"#,
        &text(&gone.stdout),
    );
    assert_contains_in_order(
        r#"
[6] 410 Gone: that resourceVersion is too old for the server's watch cache
    server said        too old resource version: 1 <…>
[7] LIST, to learn the current state and its resourceVersion
    pods               1
[8] WATCH from resourceVersion <…>
[9] stopped: time is up
    re-lists (410)     1
"#,
        &text(&gone.stderr),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_cluster_is_one_line_and_a_hint() {
    let t = TestSandbox::start().await;
    let port = t.sandbox.address().port().to_string();
    let kubeconfig = std::fs::read_to_string(t.kubeconfig()).unwrap();
    // Port 9 (discard) on loopback: nothing listens there.
    let dead = t.home().join("dead-kubeconfig");
    std::fs::write(&dead, kubeconfig.replace(&format!("127.0.0.1:{port}"), "127.0.0.1:9")).unwrap();
    let out = tokio::process::Command::new(common::kubelab_bin())
        .arg("--kubeconfig")
        .arg(&dead)
        .args(["list-nodes", "-q"])
        .env("KUBELAB_HOME", t.home())
        .env_remove("KUBECONFIG")
        .output()
        .await
        .unwrap();
    let err = assert_clean_failure(&out);
    assert_snapshot(
        "kubelab: no cluster reachable at https://127.0.0.1:9: Connection refused <…>\nhint: start one with `kubelab sandbox start`, or pass --kubeconfig for another cluster\n",
        &err,
    );

    let bad_context = t.kubelab(&["list-nodes", "-q", "--context", "elsewhere"]).await;
    let err = assert_clean_failure(&bad_context);
    assert!(err.starts_with("kubelab: cannot build a client configuration from context \"elsewhere\""), "{err}");
    assert_eq!(err.lines().count(), 2, "one line and a hint: {err}");
}
