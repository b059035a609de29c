//! `kubectl auth whoami` and `kubectl auth can-i` against the sandbox: the identity and
//! access reviews, answered and never stored.

mod common;

use serde_json::{json, Value};

use common::with_kubectl;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_auth_whoami_and_can_i() {
    with_kubectl(|k| {
        let whoami = k.ok(&["auth", "whoami"]);
        assert!(whoami.contains("kubelab-admin") && whoami.contains("system:masters"), "{whoami}");
        let review: Value = serde_json::from_str(&k.ok(&["auth", "whoami", "-o", "json"])).unwrap();
        assert_eq!(review["kind"], "SelfSubjectReview");
        assert_eq!(review["status"]["userInfo"]["username"], "kubelab-admin");
        assert_eq!(k.ok(&["auth", "can-i", "create", "pods"]).trim(), "yes");
        assert_eq!(k.ok(&["auth", "can-i", "*", "*", "--all-namespaces"]).trim(), "yes");
        assert_eq!(k.ok(&["auth", "can-i", "get", "/healthz"]).trim(), "yes");
        // SelfSubjectRulesReview: the admin's rules, as RBAC resolves them.
        let list = k.ok(&["auth", "can-i", "--list"]);
        let rows: Vec<Vec<&str>> = list.lines().map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(rows[0], ["Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"], "{list}");
        assert!(rows.contains(&vec!["*.*", "[]", "[]", "[*]"]), "{list}");
        assert!(rows.contains(&vec!["[*]", "[]", "[*]"]), "{list}");
        assert!(rows.contains(&vec!["selfsubjectrulesreviews.authorization.k8s.io", "[]", "[]", "[create]"]), "{list}");
    })
    .await;
}

#[tokio::test]
async fn reviews_are_answered_not_stored() {
    let t = common::TestSandbox::start().await;
    let client = t.sandbox.client().await.unwrap();
    let sars = "/apis/authorization.k8s.io/v1/subjectaccessreviews";
    let body = |spec: Value| json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}).to_string();
    let alice = body(json!({"user": "alice", "resourceAttributes": {"verb": "get", "resource": "pods", "namespace": "default"}}));
    let (code, review) = common::raw(&client, "POST", sars, Some("application/json"), Some(&alice)).await;
    assert_eq!((code, &review["status"]), (201, &json!({"allowed": false})), "{review}");
    assert_eq!(review["spec"]["user"], "alice", "the review comes back as sent");
    let masters = body(json!({"groups": ["system:masters"], "nonResourceAttributes": {"path": "/metrics", "verb": "get"}}));
    let (code, review) = common::raw(&client, "POST", sars, Some("application/json"), Some(&masters)).await;
    assert_eq!((code, &review["status"]), (201, &json!({"allowed": true})));
    let (code, status) = common::raw(&client, "POST", sars, Some("application/json"), Some(&body(json!({"user": "bob"})))).await;
    assert_eq!(code, 422);
    assert_eq!(
        status["message"],
        "SubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified"
    );
    // Nothing is stored, and only `create` is served.
    for method in ["GET", "DELETE"] {
        let (code, status) = common::raw(&client, method, sars, None, None).await;
        assert_eq!((code, status["reason"].as_str()), (405, Some("MethodNotAllowed")), "{method}");
    }
    let local = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "LocalSubjectAccessReview",
        "spec": {"user": "u", "resourceAttributes": {"verb": "get", "resource": "pods", "namespace": "other"}}});
    let (code, status) = common::raw(
        &client,
        "POST",
        "/apis/authorization.k8s.io/v1/namespaces/default/localsubjectaccessreviews",
        Some("application/json"),
        Some(&local.to_string()),
    )
    .await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(
        status["message"],
        "LocalSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes.namespace: Invalid value: \"other\": must match metadata.namespace"
    );
}

/// A TokenReview asks the sandbox's own authenticator: the kubeconfig's token is the admin,
/// any other is not, as kubectl sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_reviews_say_whose_a_token_is() {
    with_kubectl(|k| {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("review.yaml");
        let review = |token: &str| {
            std::fs::write(&file, format!("apiVersion: authentication.k8s.io/v1\nkind: TokenReview\nspec:\n  token: {token}\n")).unwrap();
            let out: Value = serde_json::from_str(&k.ok(&["create", "-f", file.to_str().unwrap(), "-o", "json"])).unwrap();
            out
        };
        let config = k.ok(&["config", "view", "--raw", "-o", "jsonpath={.users[0].user.token}"]);
        let admin = review(config.trim());
        assert_eq!(admin["status"]["authenticated"], true, "{admin}");
        assert_eq!(admin["status"]["user"]["username"], "kubelab-admin");
        assert_eq!(admin["status"]["audiences"], json!(["https://kubernetes.default.svc.cluster.local"]));
        assert_eq!(admin["metadata"], json!({"creationTimestamp": null}));
        let stranger = review("not-a-token");
        assert_eq!(stranger["status"], json!({"user": {}, "error": "invalid bearer token"}), "{stranger}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_reviews_are_forbidden_as_rbac_words_it() {
    let t = common::TestSandbox::start().await;
    let url = t.sandbox.url();
    let ca = t.home().join("ca.crt");
    // curl blocks, so it runs beside the runtime that serves the sandbox.
    let curl = |method: &'static str, path: &'static str| {
        let (url, ca) = (url.clone(), ca.clone());
        tokio::task::spawn_blocking(move || -> Value {
            let out = std::process::Command::new("curl")
                .args(["-sS", "--cacert"])
                .arg(&ca)
                .args(["-X", method, "-H", "Content-Type: application/json", "-d", "{}", &format!("{url}{path}")])
                .output()
                .expect("curl runs");
            serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stdout)))
        })
    };
    let status = curl("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews").await.unwrap();
    assert_eq!(status["code"], 403);
    assert_eq!(
        status["message"],
        "selfsubjectreviews.authentication.k8s.io is forbidden: User \"system:anonymous\" cannot create resource \"selfsubjectreviews\" in API group \"authentication.k8s.io\" at the cluster scope"
    );
    assert_eq!(status["details"], json!({"group": "authentication.k8s.io", "kind": "selfsubjectreviews"}));
    let status = curl("GET", "/api/v1/namespaces/default/pods/web/log").await.unwrap();
    assert_eq!(
        status["message"],
        "pods \"web\" is forbidden: User \"system:anonymous\" cannot get resource \"pods/log\" in API group \"\" in the namespace \"default\""
    );
}
