//! What a new cluster holds besides namespaces and nodes: the RBAC bootstrap policy (with
//! `admin`, `edit` and `view` filled by the clusterrole-aggregation controller), the system
//! PriorityClasses, and RBAC's path-segment names.

mod common;

use std::time::{Duration, Instant};

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

fn has_rule(role: &ClusterRole, resource: &str, verb: &str) -> bool {
    role.rules
        .iter()
        .flatten()
        .any(|r| r.resources.iter().flatten().any(|x| x == resource || x == "*") && r.verbs.iter().any(|v| v == verb || v == "*"))
}

async fn until_rule(api: &Api<ClusterRole>, name: &str, resource: &str, verb: &str) {
    let start = Instant::now();
    loop {
        if has_rule(&api.get(name).await.unwrap(), resource, verb) {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{name} never got {verb} {resource}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bootstrap_policy_is_there_and_aggregated_roles_fill_up() {
    let t = common::TestSandbox::with_controllers("clusterrole-aggregation").await;
    let client = t.sandbox.client().await.unwrap();
    let roles: Api<ClusterRole> = Api::all(client.clone());
    let names: Vec<String> = roles.list(&ListParams::default()).await.unwrap().items.into_iter().filter_map(|r| r.metadata.name).collect();
    for name in ["cluster-admin", "admin", "edit", "view", "system:discovery", "system:node", "system:controller:deployment-controller"] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    assert!(has_rule(&roles.get("cluster-admin").await.unwrap(), "*", "*"));
    let bindings: Api<ClusterRoleBinding> = Api::all(client.clone());
    let binding = bindings.get("cluster-admin").await.unwrap();
    assert_eq!(binding.subjects.unwrap()[0].name, "system:masters");
    let kube_system: Api<Role> = Api::namespaced(client.clone(), "kube-system");
    kube_system.get("extension-apiserver-authentication-reader").await.unwrap();

    // admin, edit and view are aggregated from the aggregate-to-* roles.
    until_rule(&roles, "view", "pods", "list").await;
    until_rule(&roles, "edit", "deployments", "create").await;
    until_rule(&roles, "admin", "rolebindings", "create").await;
    assert!(!has_rule(&roles.get("view").await.unwrap(), "secrets", "get"), "view reads no secrets");

    // A CRD author's role joins view.
    let books: ClusterRole = serde_json::from_value(json!({
        "metadata": {"name": "books-view", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
        "rules": [{"apiGroups": ["kubelab.dev"], "resources": ["books"], "verbs": ["get", "list", "watch"]}],
    }))
    .unwrap();
    roles.create(&PostParams::default(), &books).await.unwrap();
    until_rule(&roles, "view", "books", "watch").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_priority_classes_and_rbac_names() {
    let t = common::TestSandbox::api_server_only().await;
    let client = t.sandbox.client().await.unwrap();
    let pcs: Api<PriorityClass> = Api::all(client.clone());
    assert_eq!(pcs.get("system-node-critical").await.unwrap().value, 2_000_001_000);
    assert_eq!(pcs.get("system-cluster-critical").await.unwrap().value, 2_000_000_000);

    // RBAC names are path segments: a colon is fine, a slash is not.
    let roles: Api<ClusterRole> = Api::all(client.clone());
    let named = |n: &str| -> ClusterRole { serde_json::from_value(json!({"metadata": {"name": n}})).unwrap() };
    roles.create(&PostParams::default(), &named("team:readers")).await.unwrap();
    let (code, body) = common::raw(
        &client,
        "POST",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        Some("application/json"),
        Some(r#"{"metadata":{"name":"a%b"}}"#),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        body["message"],
        r#"ClusterRole.rbac.authorization.k8s.io "a%b" is invalid: metadata.name: Invalid value: "a%b": may not contain '%'"#
    );
}
