//! CustomResourceDefinitions with real kubectl: a CRD applied, established, its custom
//! resources created, listed with printer columns, explained, scaled and deleted with it;
//! the v1beta1 API's 404, and CRD validation errors as kube-apiserver words them.

mod common;
use common::poll::blocking_until;

use std::time::{Duration, Instant};

use common::{raw, Kubectl, TestSandbox};

const CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: books.example.com
spec:
  group: example.com
  scope: Namespaced
  names:
    plural: books
    singular: book
    kind: Book
    shortNames: [bk]
    categories: [all]
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              author: {type: string}
              title: {type: string}
              replicas: {type: integer}
          status:
            type: object
            properties:
              replicas: {type: integer}
              copies: {type: integer}
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
    additionalPrinterColumns:
    - {name: Author, type: string, jsonPath: .spec.author}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
"#;

const BOOK: &str = r#"apiVersion: example.com/v1
kind: Book
metadata:
  name: dune
spec:
  author: Frank Herbert
  title: Dune
  replicas: 1
"#;

/// Runs `f` with kubectl against a sandbox that runs no kube-controller-manager loops:
/// what happens to CRDs is the API server's own doing.
async fn with_kubectl(f: impl FnOnce(&Kubectl) + Send + 'static) -> TestSandbox {
    let t = TestSandbox::api_server_only().await;
    let kubeconfig = t.kubeconfig();
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().to_path_buf();
    tokio::task::spawn_blocking(move || f(&Kubectl { kubeconfig: &kubeconfig, home: &home_path })).await.unwrap();
    t
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crd_serves_its_custom_resources_until_it_is_deleted() {
    with_kubectl(|k| {
        let dir = tempfile::tempdir().unwrap();
        let crd = write(dir.path(), "crd.yaml", CRD);
        assert!(k.ok(&["apply", "-f", &crd]).contains("customresourcedefinition.apiextensions.k8s.io/books.example.com created"));
        k.ok(&["wait", "--for", "condition=Established", "crd/books.example.com", "--timeout=10s"]);
        let got = k.get_json(&["crd", "books.example.com"]);
        let conds = got["status"]["conditions"].as_array().unwrap().clone();
        let cond = |t: &str| conds.iter().find(|c| c["type"] == t).cloned().unwrap();
        assert_eq!(cond("NamesAccepted")["reason"], "NoConflicts");
        assert_eq!(cond("NamesAccepted")["message"], "no conflicts found");
        assert_eq!(cond("Established")["reason"], "InitialNamesAccepted");
        assert_eq!(got["status"]["acceptedNames"]["shortNames"][0], "bk");
        assert_eq!(got["status"]["storedVersions"][0], "v1");
        assert_eq!(got["spec"]["conversion"]["strategy"], "None", "defaulted");

        let book = write(dir.path(), "book.yaml", BOOK);
        assert!(k.ok(&["apply", "-f", &book]).contains("book.example.com/dune created"));
        let table = k.ok(&["get", "books"]);
        assert!(table.starts_with("NAME") && table.contains("AUTHOR") && table.contains("Frank Herbert"), "{table}");
        assert!(k.ok(&["get", "bk", "dune", "-o", "name"]).contains("book.example.com/dune"), "short name");
        assert!(k.ok(&["get", "all"]).contains("book.example.com/dune"), "category all");
        let explain = k.ok(&["explain", "books.spec"]);
        assert!(explain.contains("author") && explain.contains("title"), "{explain}");

        assert!(k.ok(&["scale", "book", "dune", "--replicas=3"]).contains("scaled"));
        assert_eq!(k.get_json(&["book", "dune"])["spec"]["replicas"], 3);

        assert!(k.ok(&["delete", "crd", "books.example.com"]).contains("deleted"));
        blocking_until("the CRD to be gone", Duration::from_secs(10), || !k.run(&["get", "crd", "books.example.com"]).status.success());
        let gone = k.fails(&["get", "books.example.com"]);
        assert!(gone.contains("the server doesn't have a resource type"), "{gone}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_crd_deletes_its_objects_first() {
    let t = TestSandbox::api_server_only().await;
    let client = t.sandbox.client().await.unwrap();
    let crd = serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Cluster",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    });
    let (code, created) =
        raw(&client, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", Some("application/json"), Some(&crd.to_string()))
            .await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["status"]["acceptedNames"], serde_json::json!({"kind": "", "plural": ""}));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, _) = raw(&client, "GET", "/apis/example.com/v1/widgets", None, None).await;
        if code == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "widgets never served");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let w = r#"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","finalizers":["example.com/hold"]},"x":1}"#;
    assert_eq!(raw(&client, "POST", "/apis/example.com/v1/widgets", Some("application/json"), Some(w)).await.0, 201);
    let (code, marked) =
        raw(&client, "DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com", None, None).await;
    assert_eq!(code, 200);
    assert_eq!(marked["metadata"]["finalizers"][0], "customresourcecleanup.apiextensions.k8s.io");
    let terminating = marked["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Terminating").cloned().unwrap();
    assert_eq!(terminating["reason"], "InstanceDeletionPending");
    // The finalizer controller deleted w1, which waits for its own finalizer: so does the CRD.
    loop {
        let (_, w1) = raw(&client, "GET", "/apis/example.com/v1/widgets/w1", None, None).await;
        if w1["metadata"]["deletionTimestamp"].is_string() {
            break;
        }
        assert!(Instant::now() < deadline, "w1 was never deleted: {w1}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // While its CRD terminates, no custom resource can be created.
    let w2 = r#"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w2"}}"#;
    let (code, refused) = raw(&client, "POST", "/apis/example.com/v1/widgets", Some("application/json"), Some(w2)).await;
    assert_eq!(code, 405, "{refused}");
    assert_eq!(refused["message"], "create is not supported on resources of kind \"widgets.example.com\"");
    let (code, _) = raw(&client, "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com", None, None).await;
    assert_eq!(code, 200, "the CRD waits for its custom resources");
    let release = r#"{"metadata":{"finalizers":null}}"#;
    let (code, _) = raw(&client, "PATCH", "/apis/example.com/v1/widgets/w1", Some("application/merge-patch+json"), Some(release)).await;
    assert_eq!(code, 200);
    loop {
        let (code, left) =
            raw(&client, "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com", None, None).await;
        if code == 404 {
            break;
        }
        assert!(Instant::now() < deadline, "the CRD was never removed: {left}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let key = "example.com/widgets/w1";
    assert!(t.sandbox.apiserver().storage.get(key).is_none(), "the custom resource was deleted with its CRD");
    // Its endpoints go once the catalogue is rebuilt without it, just after.
    while raw(&client, "GET", "/apis/example.com/v1/widgets", None, None).await.0 != 404 {
        assert!(Instant::now() < deadline, "the widgets endpoint outlived its CRD");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1beta1_crds_are_not_served() {
    let t = TestSandbox::api_server_only().await;
    let client = t.sandbox.client().await.unwrap();
    let (code, _) = raw(&client, "GET", "/apis/apiextensions.k8s.io/v1beta1/customresourcedefinitions", None, None).await;
    assert_eq!(code, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_crds_are_refused_with_upstreams_messages() {
    let t = TestSandbox::api_server_only().await;
    let client = t.sandbox.client().await.unwrap();
    let base = || {
        serde_json::json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "books.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "books", "singular": "book", "kind": "Book", "listKind": "BookList"},
                "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object"}}}]}
        })
    };
    type Change = fn(&mut serde_json::Value);
    let cases: &[(&str, Change, &str)] = &[
        (
            "name",
            |c| c["metadata"]["name"] = "novels.example.com".into(),
            r#"CustomResourceDefinition.apiextensions.k8s.io "novels.example.com" is invalid: metadata.name: Invalid value: "novels.example.com": must be spec.names.plural+"."+spec.group"#,
        ),
        ("no storage version", |c| c["spec"]["versions"][0]["storage"] = false.into(), "spec.versions: Invalid value: "),
        (
            "no storage version detail",
            |c| c["spec"]["versions"][0]["storage"] = false.into(),
            "must have exactly one version marked as storage version",
        ),
        (
            "schema",
            |c| {
                c["spec"]["versions"][0].as_object_mut().unwrap().remove("schema");
            },
            "spec.versions[0].schema.openAPIV3Schema: Required value",
        ),
        (
            "scope",
            |c| c["spec"]["scope"] = "Everywhere".into(),
            r#"spec.scope: Unsupported value: "Everywhere": supported values: "Cluster", "Namespaced""#,
        ),
    ];
    for (name, change, want) in cases {
        let mut crd = base();
        change(&mut crd);
        let (code, status) = raw(
            &client,
            "POST",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            Some("application/json"),
            Some(&crd.to_string()),
        )
        .await;
        assert_eq!(code, 422, "{name}: {status}");
        let message = status["message"].as_str().unwrap_or_default();
        assert!(message.contains(want), "{name}: {message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_blogs_crd_commands_run_against_the_sandbox() {
    let t = TestSandbox::start().await;
    // Step 5 (an invalid book refused) needs the structural-schema engine's validation.
    for step in ["1", "2", "3", "4", "5", "6"] {
        let out = t.kubelab(&["book-crd", "--step", step]).await;
        assert!(
            out.status.success(),
            "book-crd step {step}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // foo-controller installs its CRD, then makes the Deployment a Foo asks for.
    let foo_controller = t
        .kubelab_command(&["foo-controller", "--for", "20s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("kubelab runs");
    let client = t.sandbox.client().await.unwrap();
    let foos = "/apis/samplecontroller.k8s.io/v1alpha1/namespaces/default/foos";
    let deadline = Instant::now() + Duration::from_secs(15);
    while raw(&client, "GET", foos, None, None).await.0 != 200 {
        assert!(Instant::now() < deadline, "foo-controller's CRD was never served");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let foo = r#"{"apiVersion":"samplecontroller.k8s.io/v1alpha1","kind":"Foo","metadata":{"name":"example-foo"},"spec":{"deploymentName":"example-foo","replicas":1}}"#;
    let (code, body) = raw(&client, "POST", foos, Some("application/json"), Some(foo)).await;
    assert_eq!(code, 201, "{body}");
    while raw(&client, "GET", "/apis/apps/v1/namespaces/default/deployments/example-foo", None, None).await.0 != 200 {
        assert!(Instant::now() < deadline, "foo-controller never made the Foo's Deployment");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = foo_controller.wait_with_output().await.unwrap();
    assert!(out.status.success(), "foo-controller failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_crds_are_served_again_after_a_restart() {
    let home = tempfile::tempdir().unwrap();
    let opts =
        || kubelab::sandbox::Options { controllers: kubelab::sandbox::controllers::Selection::parse("").unwrap(), ..Default::default() };
    let crd = serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "listKind": "GadgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "selectableFields": [{"jsonPath": ".spec.color"}],
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "properties": {"color": {"type": "string"}}}}}}}]}
    });
    let path = "/apis/example.com/v1/namespaces/default/gadgets";
    {
        let sandbox = kubelab::sandbox::Sandbox::start_with(home.path(), opts()).await.unwrap();
        let client = sandbox.client().await.unwrap();
        let (code, _) = raw(
            &client,
            "POST",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            Some("application/json"),
            Some(&crd.to_string()),
        )
        .await;
        assert_eq!(code, 201);
        let deadline = Instant::now() + Duration::from_secs(10);
        while raw(&client, "GET", path, None, None).await.0 != 200 {
            assert!(Instant::now() < deadline, "gadgets never served");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let g = r#"{"apiVersion":"example.com/v1","kind":"Gadget","metadata":{"name":"g1"},"spec":{"color":"red"}}"#;
        assert_eq!(raw(&client, "POST", path, Some("application/json"), Some(g)).await.0, 201);
        // The status write that established the CRD is durable before the stop.
        tokio::time::sleep(Duration::from_millis(300)).await;
        sandbox.stop();
    }
    let sandbox = kubelab::sandbox::Sandbox::start_with(home.path(), opts()).await.unwrap();
    let client = sandbox.client().await.unwrap();
    let (code, list) = raw(&client, "GET", path, None, None).await;
    assert_eq!(code, 200, "served from the start: {list}");
    assert_eq!(list["items"][0]["metadata"]["name"], "g1");
    let (code, red) = raw(&client, "GET", &format!("{path}?fieldSelector=spec.color%3Dred"), None, None).await;
    assert_eq!(code, 200, "{red}");
    assert_eq!(red["items"].as_array().map(Vec::len), Some(1), "selectable fields are indexed again after the restart: {red}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selectable_fields_and_the_scale_selector_come_from_the_crd() {
    let t = TestSandbox::api_server_only().await;
    let client = t.sandbox.client().await.unwrap();
    let crd = serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "shelves.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "shelves", "singular": "shelf", "kind": "Shelf", "listKind": "ShelfList"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "selectableFields": [{"jsonPath": ".spec.color"}],
                "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.size", "statusReplicasPath": ".status.size", "labelSelectorPath": ".status.selector"}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"color": {"type": "string"}, "size": {"type": "integer"}}},
                    "status": {"type": "object", "properties": {"size": {"type": "integer"}, "selector": {"type": "string"}}}}}}}]}
    });
    let (code, body) =
        raw(&client, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", Some("application/json"), Some(&crd.to_string()))
            .await;
    assert_eq!(code, 201, "{body}");
    let path = "/apis/example.com/v1/namespaces/default/shelves";
    let deadline = Instant::now() + Duration::from_secs(10);
    while raw(&client, "GET", path, None, None).await.0 != 200 {
        assert!(Instant::now() < deadline, "shelves never served");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (name, color) in [("red-one", "red"), ("blue-one", "blue")] {
        let s = serde_json::json!({"apiVersion": "example.com/v1", "kind": "Shelf", "metadata": {"name": name}, "spec": {"color": color, "size": 2}});
        assert_eq!(raw(&client, "POST", path, Some("application/json"), Some(&s.to_string())).await.0, 201);
    }
    let (code, list) = raw(&client, "GET", &format!("{path}?fieldSelector=spec.color%3Dblue"), None, None).await;
    assert_eq!(code, 200, "{list}");
    let names: Vec<&str> = list["items"].as_array().unwrap().iter().filter_map(|i| i["metadata"]["name"].as_str()).collect();
    assert_eq!(names, vec!["blue-one"]);
    let status = r#"{"status":{"size":1,"selector":"app=shelf"}}"#;
    let (code, _) = raw(&client, "PATCH", &format!("{path}/red-one/status"), Some("application/merge-patch+json"), Some(status)).await;
    assert_eq!(code, 200);
    let (code, scale) = raw(&client, "GET", &format!("{path}/red-one/scale"), None, None).await;
    assert_eq!(code, 200, "{scale}");
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["spec"]["replicas"], 2);
    assert_eq!(scale["status"]["replicas"], 1);
    assert_eq!(scale["status"]["selector"], "app=shelf");
    let bare = r#"{"apiVersion":"example.com/v1","kind":"Shelf","metadata":{"name":"bare"}}"#;
    assert_eq!(raw(&client, "POST", path, Some("application/json"), Some(bare)).await.0, 201);
    let (_, scale) = raw(&client, "GET", &format!("{path}/bare/scale"), None, None).await;
    assert_eq!(scale["spec"]["replicas"], 0, "absent replicas read as 0: {scale}");
    assert_eq!(scale["status"]["selector"], "");
}
