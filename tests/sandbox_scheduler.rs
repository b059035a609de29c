//! The default-scheduler loop against a sandbox running only it (no kubelet): where pods
//! land and why the ones that cannot land do not (the FitError text of kube-scheduler
//! v1.34), spreading, `pods/<name>/binding` and `bindings`, and the events.k8s.io Events
//! as core clients and `kubectl describe` see them.

mod common;
use common::poll::eventually;

use std::time::Duration;

use k8s_openapi::api::core::v1::{Event as CoreEvent, Node, Pod, Taint};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::{json, Value};

/// How long any one wait of this file may take.
const LIMIT: Duration = Duration::from_secs(15);

const DEADLINE: Duration = Duration::from_secs(10);

fn node(name: &str, spec: Value, labels: Value) -> Value {
    let mut l = json!({"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"});
    if let (Some(l), Some(extra)) = (l.as_object_mut(), labels.as_object()) {
        l.extend(extra.clone());
    }
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": l},
        "spec": spec,
        "status": {
            "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
        }
    })
}

/// A sandbox running only the scheduler, its nodes made ready: a new node carries the
/// `node.kubernetes.io/not-ready:NoSchedule` taint until the node lifecycle controller
/// sees its kubelet's Ready condition, which neither runs here, so the test lifts it.
async fn sandbox(nodes: Option<Vec<Value>>) -> common::TestSandbox {
    let controllers = kubelab::sandbox::controllers::Selection::parse("scheduler").expect("a known loop");
    let t = common::TestSandbox::start_with(kubelab::sandbox::Options { controllers, nodes, ..Default::default() }).await;
    let client = t.sandbox.client().await.unwrap();
    let api: Api<Node> = Api::all(client);
    for n in api.list(&ListParams::default()).await.unwrap() {
        let taints: Vec<Taint> =
            n.spec.and_then(|s| s.taints).unwrap_or_default().into_iter().filter(|t| t.key != "node.kubernetes.io/not-ready").collect();
        let patch = json!({"spec": {"taints": taints}});
        api.patch(n.metadata.name.as_deref().unwrap(), &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    }
    t
}

async fn create_pod(client: &Client, name: &str, spec: Value) -> Pod {
    let mut spec = spec;
    if spec.get("containers").is_none() {
        spec["containers"] = json!([{"name": "app", "image": "nginx:1.27"}]);
    }
    let pod: Pod = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec})).unwrap();
    Api::<Pod>::namespaced(client.clone(), "default").create(&PostParams::default(), &pod).await.unwrap()
}

fn cpu(amount: &str) -> Value {
    json!([{"name": "app", "image": "nginx:1.27", "resources": {"requests": {"cpu": amount}}}])
}

/// The pod's node once it has one.
async fn bound_node(client: &Client, name: &str) -> String {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    eventually(&format!("{name} to be bound"), LIMIT, || async { pods.get(name).await.ok().and_then(|p| p.spec.and_then(|s| s.node_name)) })
        .await
}

/// The pod's PodScheduled=False message once it has one.
async fn unschedulable_message(client: &Client, name: &str) -> String {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    eventually(&format!("{name} to be unschedulable"), LIMIT, || async {
        let p = pods.get(name).await.ok()?;
        let c = p.status?.conditions?.into_iter().find(|c| c.type_ == "PodScheduled" && c.status == "False")?;
        assert_eq!(c.reason.as_deref(), Some("Unschedulable"));
        c.message
    })
    .await
}

enum Expect {
    Node(&'static str),
    Unschedulable(&'static str),
}

#[tokio::test]
async fn pods_land_where_the_filters_allow_or_say_why_not() {
    let nodes = vec![
        node("kubelab-worker-1", json!({}), json!({"disk": "ssd"})),
        node("kubelab-worker-2", json!({"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}), json!({})),
        node("kubelab-worker-3", json!({"unschedulable": true}), json!({})),
    ];
    let t = sandbox(Some(nodes)).await;
    let client = t.sandbox.client().await.unwrap();
    let host = |n: &str| json!({"kubernetes.io/hostname": n});
    let gpu = json!([{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]);
    let cordoned = json!([{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]);
    let not_helpful = "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.";
    let cases: Vec<(&str, Value, Expect)> = vec![
        ("preset", json!({"nodeName": "kubelab-worker-3"}), Expect::Node("kubelab-worker-3")),
        ("ssd", json!({"nodeSelector": {"disk": "ssd"}}), Expect::Node("kubelab-worker-1")),
        ("plain", json!({}), Expect::Node("kubelab-worker-1")),
        ("nvme", json!({"nodeSelector": {"disk": "nvme"}}), Expect::Unschedulable("0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint(s), 1 node(s) were unschedulable.")),
        ("tainted", json!({"nodeSelector": host("kubelab-worker-2")}), Expect::Unschedulable("0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint(s), 1 node(s) were unschedulable.")),
        ("tolerating", json!({"nodeSelector": host("kubelab-worker-2"), "tolerations": gpu}), Expect::Node("kubelab-worker-2")),
        ("cordon-tolerating", json!({"nodeSelector": host("kubelab-worker-3"), "tolerations": cordoned}), Expect::Node("kubelab-worker-3")),
        ("affinity", json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["kubelab-worker-2"]}]}]}}}, "tolerations": gpu}),
            Expect::Node("kubelab-worker-2")),
        ("huge", json!({"containers": cpu("5")}), Expect::Unschedulable("0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint(s), 1 node(s) were unschedulable.")),
        ("ports-1", json!({"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}), Expect::Node("kubelab-worker-1")),
    ];
    for (name, spec, _) in &cases {
        create_pod(&client, name, spec.clone()).await;
        // One at a time, so each sees the ones before it.
        if let Some((_, _, Expect::Node(_))) = cases.iter().find(|c| c.0 == *name) {
            bound_node(&client, name).await;
        }
    }
    for (name, _, expect) in &cases {
        match expect {
            Expect::Node(n) => assert_eq!(bound_node(&client, name).await, *n, "{name}"),
            Expect::Unschedulable(m) => assert_eq!(unschedulable_message(&client, name).await, format!("{m} {not_helpful}"), "{name}"),
        }
    }
    // The same host port again has no node: NodePorts says so, and preemption can only
    // look where the rejection was resolvable, finding no lower-priority pod there.
    create_pod(&client, "ports-2", json!({"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 80, "hostPort": 8080}]}]})).await;
    assert_eq!(
        unschedulable_message(&client, "ports-2").await,
        "0/3 nodes are available: 1 node(s) didn't have free ports for the requested pod ports, 1 node(s) had untolerated taint(s), 1 node(s) were unschedulable. preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling."
    );

    // Another scheduler's pod is left alone, and a gated pod waits for its gates: by the
    // time a later pod is bound, both were passed over.
    create_pod(&client, "elsewhere", json!({"schedulerName": "my-scheduler"})).await;
    create_pod(&client, "gated", json!({"schedulingGates": [{"name": "example.com/wait"}]})).await;
    create_pod(&client, "after", json!({})).await;
    bound_node(&client, "after").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let p = pods.get("elsewhere").await.unwrap();
    assert_eq!(p.spec.unwrap().node_name, None);
    assert!(p.status.and_then(|s| s.conditions).unwrap_or_default().is_empty(), "no PodScheduled condition");
    let p = pods.get("gated").await.unwrap();
    assert_eq!(p.spec.unwrap().node_name, None);
    let events: Api<CoreEvent> = Api::namespaced(client.clone(), "default");
    let about = events.list(&ListParams::default().fields("involvedObject.name=gated")).await.unwrap();
    assert!(about.items.is_empty(), "the scheduler said nothing about a gated pod: {:?}", about.items);
    // Lifting the gate (a spec change) queues it.
    pods.patch("gated", &PatchParams::default(), &Patch::Merge(&json!({"spec": {"schedulingGates": null}}))).await.unwrap();
    assert_eq!(bound_node(&client, "gated").await, "kubelab-worker-1");
}

#[tokio::test]
async fn replicas_spread_and_a_full_cluster_says_no_victims() {
    let t = sandbox(None).await;
    let client = t.sandbox.client().await.unwrap();
    for i in 0..6 {
        create_pod(&client, &format!("web-{i}"), json!({})).await;
    }
    let mut on = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..6 {
        *on.entry(bound_node(&client, &format!("web-{i}")).await).or_default() += 1;
    }
    assert_eq!(on.len(), 2, "both nodes get replicas: {on:?}");
    assert!(on.values().all(|n| *n >= 2), "spread: {on:?}");

    // Two large pods take a node each (the second sees the first as assumed, so they do
    // not pile up); a third finds no room and no lower-priority pod to preempt.
    create_pod(&client, "big-1", json!({"containers": cpu("3")})).await;
    create_pod(&client, "big-2", json!({"containers": cpu("3")})).await;
    let (a, b) = (bound_node(&client, "big-1").await, bound_node(&client, "big-2").await);
    assert_ne!(a, b);
    create_pod(&client, "big-3", json!({"containers": cpu("2")})).await;
    let message =
        "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.";
    assert_eq!(unschedulable_message(&client, "big-3").await, message);

    let events: Api<CoreEvent> = Api::namespaced(client.clone(), "default");
    let failed = eventually("a FailedScheduling event", LIMIT, || async {
        events
            .list(&ListParams::default().fields("involvedObject.name=big-3"))
            .await
            .ok()?
            .items
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("FailedScheduling"))
    })
    .await;
    assert_eq!(failed.message.as_deref(), Some(message));
    assert_eq!(failed.type_.as_deref(), Some("Warning"));
    assert_eq!(failed.action.as_deref(), Some("Scheduling"));
    assert_eq!(failed.reporting_component.as_deref(), Some("default-scheduler"));
    assert!(failed.reporting_instance.as_deref().unwrap_or_default().starts_with("default-scheduler-"));

    // Room made: the waiting pod is retried when a bound pod leaves (at once: no kubelet
    // would finish a graceful deletion, and a terminating pod still holds its node).
    let now = kube::api::DeleteParams { grace_period_seconds: Some(0), ..Default::default() };
    Api::<Pod>::namespaced(client.clone(), "default").delete("big-1", &now).await.unwrap();
    assert_eq!(bound_node(&client, "big-3").await, a);
}

#[tokio::test]
async fn binding_sets_the_node_once() {
    let t = sandbox(None).await;
    let client = t.sandbox.client().await.unwrap();
    // Not this scheduler's: only the test binds these.
    let before = create_pod(&client, "p", json!({"schedulerName": "manual"})).await;
    create_pod(&client, "q", json!({"schedulerName": "manual"})).await;
    let binding = |pod: &str, node: &str| {
        json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod}, "target": {"kind": "Node", "name": node}}).to_string()
    };

    let (code, body) = common::raw(
        &client,
        "POST",
        "/api/v1/namespaces/default/pods/p/binding",
        Some("application/json"),
        Some(&binding("p", "kubelab-worker-2")),
    )
    .await;
    assert_eq!((code, body["kind"].as_str(), body["status"].as_str()), (201, Some("Status"), Some("Success")), "{body}");
    let p = Api::<Pod>::namespaced(client.clone(), "default").get("p").await.unwrap();
    assert_eq!(p.spec.as_ref().unwrap().node_name.as_deref(), Some("kubelab-worker-2"));
    assert_ne!(p.metadata.resource_version, before.metadata.resource_version);
    let scheduled =
        p.status.unwrap().conditions.unwrap().into_iter().find(|c| c.type_ == "PodScheduled").expect("a PodScheduled condition");
    assert_eq!(scheduled.status, "True");

    let (code, body) = common::raw(
        &client,
        "POST",
        "/api/v1/namespaces/default/pods/p/binding",
        Some("application/json"),
        Some(&binding("p", "kubelab-worker-1")),
    )
    .await;
    assert_eq!(code, 409);
    assert_eq!(body["reason"], "Conflict");
    assert_eq!(
        body["message"],
        "Operation cannot be fulfilled on pods/binding \"p\": pod p is already assigned to node \"kubelab-worker-2\""
    );

    // The top-level `bindings` resource binds the pod its body names.
    let (code, _) = common::raw(
        &client,
        "POST",
        "/api/v1/namespaces/default/bindings",
        Some("application/json"),
        Some(&binding("q", "kubelab-worker-1")),
    )
    .await;
    assert_eq!(code, 201);
    assert_eq!(bound_node(&client, "q").await, "kubelab-worker-1");

    let (code, body) = common::raw(
        &client,
        "POST",
        "/api/v1/namespaces/default/pods/nope/binding",
        Some("application/json"),
        Some(&binding("nope", "kubelab-worker-1")),
    )
    .await;
    assert_eq!((code, body["message"].as_str()), (404, Some("pods \"nope\" not found")));
}

#[tokio::test]
async fn kubectl_describe_shows_the_schedulers_events() {
    let t = sandbox(None).await;
    let client = t.sandbox.client().await.unwrap();
    let mut decisions = t.sandbox.decisions();
    create_pod(&client, "p", json!({})).await;
    let node = bound_node(&client, "p").await;
    let said = tokio::time::timeout(DEADLINE, async {
        loop {
            match decisions.recv().await {
                Ok(l) if l.starts_with("scheduler default/p: ") => return l,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("decision log closed: {e}"),
            }
        }
    })
    .await
    .expect("a decision about p");
    assert_eq!(said, format!("scheduler default/p: bound to {node}"));
    create_pod(&client, "stuck", json!({"nodeSelector": {"disk": "none"}})).await;
    unschedulable_message(&client, "stuck").await;
    let events: Api<CoreEvent> = Api::namespaced(client.clone(), "default");
    let scheduled = eventually("a Scheduled event", LIMIT, || async {
        events
            .list(&ListParams::default().fields("involvedObject.name=p"))
            .await
            .ok()?
            .items
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("Scheduled"))
    })
    .await;
    assert_eq!(scheduled.message.as_deref(), Some(format!("Successfully assigned default/p to {node}").as_str()));
    assert_eq!((scheduled.type_.as_deref(), scheduled.action.as_deref()), (Some("Normal"), Some("Binding")));
    eventually("a FailedScheduling event", LIMIT, || async {
        events
            .list(&ListParams::default().fields("involvedObject.name=stuck"))
            .await
            .ok()?
            .items
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("FailedScheduling"))
    })
    .await;

    let kubeconfig = t.kubeconfig();
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().to_path_buf();
    let (p, stuck) = tokio::task::spawn_blocking(move || {
        let k = common::Kubectl { kubeconfig: &kubeconfig, home: &home_path };
        (k.ok(&["describe", "pod", "p"]), k.ok(&["describe", "pod", "stuck"]))
    })
    .await
    .unwrap();
    let line = |out: &str, reason: &str| {
        out.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(reason))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    let scheduled = line(&p, "Scheduled");
    assert!(scheduled.starts_with("Normal Scheduled "), "{p}");
    assert!(scheduled.ends_with(&format!("default-scheduler Successfully assigned default/p to {node}")), "{p}");
    let failed = line(&stuck, "FailedScheduling");
    assert!(failed.starts_with("Warning FailedScheduling "), "{stuck}");
    assert!(
        failed.ends_with("default-scheduler 0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."),
        "{stuck}"
    );

    // Node changes that do not help: the pod is tried again (after its backoff) and fails
    // the same way. The first event named the pod at the resourceVersion before its
    // condition was written, so the retry is a new event (as upstream: the reference is
    // part of what makes events isomorphic); the next retry repeats that one, which the
    // recorder counts as a series.
    let nodes: Api<Node> = Api::all(client.clone());
    let failed_events = || async {
        events.list(&ListParams::default().fields("involvedObject.name=stuck,reason=FailedScheduling")).await.ok().map(|l| l.items)
    };
    let relabel = |v: &'static str| {
        let nodes = nodes.clone();
        async move {
            nodes
                .patch("kubelab-worker-2", &PatchParams::default(), &Patch::Merge(&json!({"metadata": {"labels": {"x": v}}})))
                .await
                .unwrap()
        }
    };
    relabel("1").await;
    eventually("a second FailedScheduling event", LIMIT, || async { failed_events().await.filter(|e| e.len() == 2) }).await;
    relabel("2").await;
    let repeated = eventually("a FailedScheduling series", LIMIT, || async {
        let list = failed_events().await?;
        assert!(list.len() <= 2, "a repeat is counted, not written anew: {list:#?}");
        list.into_iter().find(|e| e.series.as_ref().and_then(|s| s.count) == Some(2))
    })
    .await;
    assert_eq!(repeated.reporting_component.as_deref(), Some("default-scheduler"));

    // A node gaining the wanted label wakes the waiting pod.
    nodes
        .patch("kubelab-worker-1", &PatchParams::default(), &Patch::Merge(&json!({"metadata": {"labels": {"disk": "none"}}})))
        .await
        .unwrap();
    assert_eq!(bound_node(&client, "stuck").await, "kubelab-worker-1");
}

#[tokio::test]
async fn a_burst_of_pods_does_not_overcommit_a_node() {
    // Each node takes four 1-CPU pods; twelve arrive at once, faster than the informer
    // shows the bindings, so only the assumed pods keep the count right.
    let t = sandbox(None).await;
    let client = t.sandbox.client().await.unwrap();
    let names: Vec<String> = (0..12).map(|i| format!("burst-{i}")).collect();
    futures::future::join_all(names.iter().map(|n| create_pod(&client, n, json!({"containers": cpu("1")})))).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let decided = eventually("every pod decided", LIMIT, || async {
        let list = pods.list(&ListParams::default()).await.ok()?;
        let decided: Vec<(String, Option<String>, Option<String>)> = list
            .items
            .into_iter()
            .map(|p| {
                let node = p.spec.and_then(|s| s.node_name);
                let why = p
                    .status
                    .and_then(|s| s.conditions)
                    .unwrap_or_default()
                    .into_iter()
                    .find(|c| c.status == "False")
                    .and_then(|c| c.message);
                (p.metadata.name.unwrap_or_default(), node, why)
            })
            .filter(|(_, node, why)| node.is_some() || why.is_some())
            .collect();
        (decided.len() == 12).then_some(decided)
    })
    .await;
    let mut per_node = std::collections::BTreeMap::<String, usize>::new();
    for (_, node, _) in &decided {
        if let Some(n) = node {
            *per_node.entry(n.clone()).or_default() += 1;
        }
    }
    assert_eq!(per_node.values().copied().collect::<Vec<_>>(), vec![4, 4], "{per_node:?}");
    let refused: Vec<&String> = decided.iter().filter_map(|(_, node, why)| node.is_none().then_some(why.as_ref()).flatten()).collect();
    assert_eq!(refused.len(), 4);
    assert!(refused.iter().all(|m| m.as_str() == "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."), "{refused:?}");
}

#[tokio::test]
async fn a_higher_priority_pod_preempts_a_lower_one() {
    let t = sandbox(None).await;
    let client = t.sandbox.client().await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    create_pod(&client, "low-1", json!({"containers": cpu("3")})).await;
    create_pod(&client, "low-2", json!({"containers": cpu("3")})).await;
    bound_node(&client, "low-1").await;
    bound_node(&client, "low-2").await;
    create_pod(&client, "critical", json!({"containers": cpu("2"), "priorityClassName": "system-cluster-critical"})).await;

    // One victim is marked and deleted (gracefully: it stays terminating, as no kubelet
    // finishes it), the preemptor is nominated to its node and told why it waits.
    let (victim, node) = eventually("a victim", LIMIT, || async {
        let list = pods.list(&ListParams::default()).await.ok()?;
        list.items.into_iter().filter(|p| p.metadata.name.as_deref().is_some_and(|n| n.starts_with("low-"))).find_map(|p| {
            p.metadata.deletion_timestamp.as_ref()?;
            let c = p.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "DisruptionTarget")?.clone();
            assert_eq!(
                (c.reason.as_deref(), c.message.as_deref()),
                (Some("PreemptionByScheduler"), Some("default-scheduler: preempting to accommodate a higher priority pod"))
            );
            Some((p.metadata.name.clone()?, p.spec?.node_name?))
        })
    })
    .await;
    let nominated = eventually("a nomination", LIMIT, || async { pods.get("critical").await.ok()?.status?.nominated_node_name }).await;
    assert_eq!(nominated, node);
    assert_eq!(unschedulable_message(&client, "critical").await, "0/2 nodes are available: 2 Insufficient cpu.");
    let events: Api<CoreEvent> = Api::namespaced(client.clone(), "default");
    let preempted = eventually("a Preempted event", LIMIT, || async {
        let selector = format!("involvedObject.name={victim},reason=Preempted");
        events.list(&ListParams::default().fields(&selector)).await.ok()?.items.into_iter().next()
    })
    .await;
    let uid = pods.get("critical").await.unwrap().metadata.uid.unwrap();
    assert_eq!(preempted.message, Some(format!("Preempted by pod {uid} on node {node}")));

    // Once the victim is gone the preemptor takes its place.
    let now = kube::api::DeleteParams { grace_period_seconds: Some(0), ..Default::default() };
    pods.delete(&victim, &now).await.unwrap();
    assert_eq!(bound_node(&client, "critical").await, node);
}
