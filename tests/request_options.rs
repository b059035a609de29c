//! Every option of every verb, valid and invalid, answered with kube-apiserver's exact
//! `Status` (metav1's option validation and the parameter codec's conversion errors), the
//! body's group/version/kind checked against the URL, and `checkName` on patches.
//! Table-driven: one row per rule.

mod common;

use serde_json::{json, Value};

const NS: &str = "/api/v1/namespaces/default";

/// One request and what must come back: the code, the reason, and the message (exact
/// unless it ends with `*`, then a prefix).
struct Case {
    what: &'static str,
    method: &'static str,
    path: String,
    content_type: Option<&'static str>,
    body: Option<String>,
    code: u16,
    reason: &'static str,
    message: &'static str,
}

fn case(what: &'static str, method: &'static str, path: impl Into<String>, code: u16, reason: &'static str, message: &'static str) -> Case {
    Case { what, method, path: path.into(), content_type: None, body: None, code, reason, message }
}

impl Case {
    fn json(mut self, body: Value) -> Case {
        self.content_type = Some("application/json");
        self.body = Some(body.to_string());
        self
    }
    fn body(mut self, content_type: &'static str, body: &str) -> Case {
        self.content_type = Some(content_type);
        self.body = Some(body.to_string());
        self
    }
}

fn cm(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}})
}

async fn check(client: &kube::Client, cases: Vec<Case>) {
    let mut failures = Vec::new();
    for c in cases {
        let (code, body) = common::raw(client, c.method, &c.path, c.content_type, c.body.as_deref()).await;
        let message = body.get("message").and_then(Value::as_str).unwrap_or_default();
        let reason = body.get("reason").and_then(Value::as_str).unwrap_or_default();
        let message_ok = match c.message.strip_suffix('*') {
            Some(prefix) => message.starts_with(prefix),
            None => c.message.is_empty() || message == c.message,
        };
        let reason_ok = c.reason.is_empty() || reason == c.reason;
        let is_status = c.code < 300 || body.get("kind").and_then(Value::as_str) == Some("Status");
        if code != c.code || !message_ok || !reason_ok || !is_status {
            failures.push(format!(
                "{}: {} {} -> {code} {reason} {message:?} (wanted {} {} {:?})",
                c.what, c.method, c.path, c.code, c.reason, c.message
            ));
        }
    }
    assert!(failures.is_empty(), "{} cases failed:\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test]
async fn options_of_every_verb() {
    let t = common::TestSandbox::start().await;
    let client = t.sandbox.client().await.unwrap();
    let cms = format!("{NS}/configmaps");
    let (code, _) = common::raw(&client, "POST", &cms, Some("application/json"), Some(&cm("cm").to_string())).await;
    assert_eq!(code, 201);
    let one = format!("{cms}/cm");
    let long_manager = "m".repeat(129);
    let cases = vec![
        // create: CreateOptions
        case("create, dry run", "POST", format!("{cms}?dryRun=All"), 201, "", "").json(cm("dry")),
        case("create, bad dryRun", "POST", format!("{cms}?dryRun=Bogus"), 422, "Invalid",
            r#"CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["Bogus"]: supported values: "All""#).json(cm("bogus")),
        case("create, empty dryRun", "POST", format!("{cms}?dryRun="), 422, "Invalid",
            r#"CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: [""]: supported values: "All""#).json(cm("empty-dry")),
        case("create, two dryRun values", "POST", format!("{cms}?dryRun=All&dryRun=x"), 422, "Invalid",
            r#"CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["All","x"]: supported values: "All""#).json(cm("two-dry")),
        case("create, bad fieldValidation", "POST", format!("{cms}?fieldValidation=Loud"), 422, "Invalid",
            r#"CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Loud": supported values: "", "Ignore", "Strict", "Warn""#).json(cm("fv")),
        case("create, strict unknown field", "POST", format!("{cms}?fieldValidation=Strict"), 400, "BadRequest",
            r#"ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "spec""#)
            .json(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "strict"}, "spec": {}})),
        case("create, ignore unknown field", "POST", format!("{cms}?fieldValidation=Ignore"), 201, "", "")
            .json(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ignored"}, "spec": {}})),
        case("create, long fieldManager", "POST", format!("{cms}?fieldManager={long_manager}"), 422, "Invalid",
            r#"CreateOptions.meta.k8s.io "" is invalid: fieldManager: Too long: may not be more than 128 bytes"#).json(cm("long")),
        case("create, unprintable fieldManager", "POST", format!("{cms}?fieldManager=a%09b"), 422, "Invalid",
            r#"CreateOptions.meta.k8s.io "" is invalid: fieldManager: Invalid value: "a\tb": invalid character U+0009 (at position 1)"#).json(cm("tab")),
        case("create, unknown content type", "POST", cms.clone(), 415, "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf")
            .body("text/csv", "a,b"),
        // update: UpdateOptions
        case("update, bad dryRun", "PUT", format!("{one}?dryRun=Bogus"), 422, "Invalid",
            r#"UpdateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["Bogus"]: supported values: "All""#).json(cm("cm")),
        case("update, bad fieldValidation", "PUT", format!("{one}?fieldValidation=x"), 422, "Invalid",
            r#"UpdateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "x": supported values: "", "Ignore", "Strict", "Warn""#).json(cm("cm")),
        case("update, dry run", "PUT", format!("{one}?dryRun=All"), 200, "", "").json(cm("cm")),
        // patch: PatchOptions
        case("merge patch, force", "PATCH", format!("{one}?force=true"), 422, "Invalid",
            r#"PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch"#)
            .body("application/merge-patch+json", r#"{"data":{"a":"b"}}"#),
        case("merge patch, force=false is still set", "PATCH", format!("{one}?force=false"), 422, "Invalid",
            r#"PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch"#)
            .body("application/merge-patch+json", r#"{"data":{"a":"b"}}"#),
        case("apply, no fieldManager", "PATCH", one.clone(), 422, "Invalid",
            r#"PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch"#)
            .body("application/apply-patch+yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"),
        case("patch, bad dryRun", "PATCH", format!("{one}?dryRun=Nope"), 422, "Invalid",
            r#"PatchOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["Nope"]: supported values: "All""#)
            .body("application/merge-patch+json", "{}"),
        case("patch, unknown patch type", "PATCH", one.clone(), 415, "UnsupportedMediaType", "415: Unsupported Media Type")
            .body("application/json", "{}"),
        case("merge patch, dry run", "PATCH", format!("{one}?dryRun=All"), 200, "", "")
            .body("application/merge-patch+json", r#"{"data":{"dry":"run"}}"#),
        // delete: DeleteOptions, from the query or the body
        case("delete, bad propagationPolicy", "DELETE", format!("{one}?propagationPolicy=Sideways"), 422, "Invalid",
            r#"DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Sideways": supported values: "Foreground", "Background", "Orphan", "nil""#),
        case("delete, bad propagationPolicy in the body", "DELETE", one.clone(), 422, "Invalid",
            r#"DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Sideways": supported values: "Foreground", "Background", "Orphan", "nil""#)
            .json(json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Sideways"})),
        case("delete, orphanDependents and propagationPolicy", "DELETE", one.clone(), 422, "Invalid",
            r#"DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: "Background": orphanDependents and deletionPropagation cannot be both set"#)
            .json(json!({"propagationPolicy": "Background", "orphanDependents": true})),
        case("delete, bad gracePeriodSeconds", "DELETE", format!("{one}?gracePeriodSeconds=abc"), 400, "BadRequest",
            r#"strconv.ParseInt: parsing "abc": invalid syntax"#),
        case("delete, huge gracePeriodSeconds", "DELETE", format!("{one}?gracePeriodSeconds=99999999999999999999"), 400, "BadRequest",
            r#"strconv.ParseInt: parsing "99999999999999999999": value out of range"#),
        case("delete, bad dryRun", "DELETE", format!("{one}?dryRun=x"), 422, "Invalid",
            r#"DeleteOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["x"]: supported values: "All""#),
        case("delete, dry run answers what a deletion would", "DELETE", format!("{one}?dryRun=All"), 200, "", ""),
        case("deletecollection, bad propagationPolicy", "DELETE", format!("{cms}?propagationPolicy=x"), 422, "Invalid",
            r#"DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "x": supported values: "Foreground", "Background", "Orphan", "nil""#),
        case("deletecollection, bad limit", "DELETE", format!("{cms}?limit=x"), 400, "BadRequest", r#"strconv.ParseInt: parsing "x": invalid syntax"#),
        // list: ListOptions
        case("list, bad limit", "GET", format!("{cms}?limit=ten"), 400, "BadRequest", r#"strconv.ParseInt: parsing "ten": invalid syntax"#),
        case("list, negative limit is no limit", "GET", format!("{cms}?limit=-1"), 200, "", ""),
        case("list, bad timeoutSeconds", "GET", format!("{cms}?timeoutSeconds=abc"), 400, "BadRequest", r#"strconv.ParseInt: parsing "abc": invalid syntax"#),
        case("list, bad resourceVersionMatch", "GET", format!("{cms}?resourceVersion=1&resourceVersionMatch=Bogus"), 422, "Invalid",
            r#"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Unsupported value: "Bogus": supported values: "Exact", "NotOlderThan", """#),
        case("list, resourceVersionMatch without resourceVersion", "GET", format!("{cms}?resourceVersionMatch=Exact"), 422, "Invalid",
            r#"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"#),
        case("list, Exact at 0", "GET", format!("{cms}?resourceVersion=0&resourceVersionMatch=Exact"), 422, "Invalid",
            r#"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0""#),
        case("list, sendInitialEvents", "GET", format!("{cms}?sendInitialEvents=true"), 422, "Invalid",
            r#"ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list"#),
        case("list, field selector that does not parse", "GET", format!("{cms}?fieldSelector=metadata.name%3D%3Da%3D%3Db"), 400, "BadRequest",
            "invalid field selector: unescaped character in value: 61"),
        case("list, field selector without an operator", "GET", format!("{cms}?fieldSelector=metadata.name"), 400, "BadRequest",
            "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
        case("list, label selector that does not parse", "GET", format!("{cms}?labelSelector=a%20in%20(b"), 400, "BadRequest", "*"),
        case("list, watch=false is a list", "GET", format!("{cms}?watch=false"), 200, "", ""),
        case("list, watch=0 is a list", "GET", format!("{cms}?watch=0"), 200, "", ""),
        case("table, bad includeObject", "GET", format!("{cms}?includeObject=All"), 200, "", ""),
        // watch: the watch half of ListOptions
        case("watch, resourceVersionMatch alone", "GET", format!("{cms}?watch=true&resourceVersionMatch=NotOlderThan"), 422, "Invalid",
            r#"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"#),
        case("watch, sendInitialEvents without NotOlderThan", "GET", format!("{cms}?watch=true&sendInitialEvents=true"), 422, "Invalid",
            r#"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"#),
        case("watch, bad timeoutSeconds", "GET", format!("{cms}?watch=true&timeoutSeconds=abc"), 400, "BadRequest",
            r#"strconv.ParseInt: parsing "abc": invalid syntax"#),
        case("watch, resourceVersion that is not a number", "GET", format!("{cms}?watch=true&resourceVersion=abc"), 400, "BadRequest",
            "invalid resource version: abc"),
        case("watch of one object", "GET", format!("{one}?watch=true"), 405, "MethodNotAllowed", "*"),
    ];
    check(&client, cases).await;

    // Nothing that was refused, or only tried, was written.
    for name in ["dry", "bogus", "empty-dry", "two-dry", "fv", "strict", "long", "tab"] {
        let (code, _) = common::raw(&client, "GET", &format!("{cms}/{name}"), None, None).await;
        assert_eq!(code, 404, "configmap {name} must not exist");
    }
    let (code, stored) = common::raw(&client, "GET", &one, None, None).await;
    assert_eq!(code, 200, "the dry-run delete kept cm");
    assert_eq!(stored["data"], json!({"k": "v"}), "the dry-run update and patch changed nothing");
}

#[tokio::test]
async fn watch_parameter_converts_like_go() {
    let t = common::TestSandbox::start().await;
    let client = t.sandbox.client().await.unwrap();
    let (code, _) =
        common::raw(&client, "POST", &format!("{NS}/configmaps"), Some("application/json"), Some(&cm("seen").to_string())).await;
    assert_eq!(code, 201);
    // `watch=notabool` is true to the parameter codec: the request is a watch, which
    // streams events (here the initial ADDED of every config map) until its timeout.
    let path = format!("{NS}/configmaps?watch=notabool&timeoutSeconds=1");
    let req = http::Request::builder().method("GET").uri(&path).body(Vec::new()).unwrap();
    let resp = client.send(req.map(kube::client::Body::from)).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let bytes = http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    let first: Value = serde_json::from_str(text.lines().next().expect("an event line")).expect("an event");
    assert_eq!(first["type"], "ADDED");
    assert_eq!(first["object"]["kind"], "ConfigMap");

    // A negative timeout has passed already: the stream ends at once, with no event.
    let (_, list) = common::raw(&client, "GET", &format!("{NS}/configmaps"), None, None).await;
    let rv = list["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    let started = std::time::Instant::now();
    let req = http::Request::builder()
        .method("GET")
        .uri(format!("{NS}/configmaps?watch=1&timeoutSeconds=-1&resourceVersion={rv}"))
        .body(Vec::new())
        .unwrap();
    let resp = client.send(req.map(kube::client::Body::from)).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let bytes = http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes();
    assert!(bytes.is_empty(), "{}", String::from_utf8_lossy(&bytes));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[tokio::test]
async fn body_group_version_kind_against_the_url() {
    let t = common::TestSandbox::start().await;
    let client = t.sandbox.client().await.unwrap();
    let pods = format!("{NS}/pods");
    let pod = |api_version: &str| json!({"apiVersion": api_version, "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
    let cms = format!("{NS}/configmaps");
    let (code, _) = common::raw(&client, "POST", &cms, Some("application/json"), Some(&cm("cm").to_string())).await;
    assert_eq!(code, 201);
    let with_version = |v: &str| json!({"apiVersion": v, "kind": "ConfigMap", "metadata": {"name": "cm"}});
    let cases = vec![
        case("create, pod as apps/v1", "POST", pods.clone(), 400, "BadRequest",
            r#"Pod in version "v1" cannot be handled as a Pod: no kind "Pod" is registered for version "apps/v1" in scheme "pkg/api/legacyscheme/scheme.go:30""#)
            .json(pod("apps/v1")),
        case("create, pod as foo/v9", "POST", pods.clone(), 400, "BadRequest",
            r#"Pod in version "v9" cannot be handled as a Pod: no kind "Pod" is registered for version "foo/v9" in scheme "pkg/api/legacyscheme/scheme.go:30""#)
            .json(pod("foo/v9")),
        case("create, deployment as extensions/v1beta1", "POST", "/apis/apps/v1/namespaces/default/deployments", 400, "BadRequest",
            r#"Deployment in version "v1beta1" cannot be handled as a Deployment: no kind "Deployment" is registered for version "extensions/v1beta1" in scheme "pkg/api/legacyscheme/scheme.go:30""#)
            .json(json!({"apiVersion": "extensions/v1beta1", "kind": "Deployment", "metadata": {"name": "d"}})),
        case("create, event as events.k8s.io/v1 on the core URL", "POST", format!("{NS}/events"), 400, "BadRequest",
            "the API version in the data (events.k8s.io/v1) does not match the expected API version (v1)")
            .json(json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"}})),
        case("create, a number for apiVersion", "POST", pods.clone(), 400, "BadRequest",
            "the object provided is unrecognized (must be of type Pod): couldn't get version/kind; json parse error: json: cannot unmarshal number into Go struct field .apiVersion of type string")
            .json(json!({"apiVersion": 5, "kind": "Pod", "metadata": {"name": "p5"}})),
        case("create, a number for kind", "POST", pods.clone(), 400, "BadRequest",
            "the object provided is unrecognized (must be of type Pod): couldn't get version/kind; json parse error: json: cannot unmarshal number into Go struct field .kind of type string")
            .json(json!({"apiVersion": "v1", "kind": 1, "metadata": {"name": "p1"}})),
        case("json patch, unknown op", "PATCH", format!("{cms}/cm"), 422, "Invalid", "the server rejected our request due to an error in our request")
            .body("application/json-patch+json", r#"[{"op": "frobnicate", "path": "/data/k"}]"#),
        case("json patch, no path", "PATCH", format!("{cms}/cm"), 422, "Invalid", "the server rejected our request due to an error in our request")
            .body("application/json-patch+json", r#"[{"op": "remove"}]"#),
        case("json patch, not a list", "PATCH", format!("{cms}/cm"), 400, "BadRequest", "json: cannot unmarshal object into Go value of type jsonpatch.Patch")
            .body("application/json-patch+json", r#"{"op": "remove"}"#),
        case("create, pod without apiVersion takes the URL's", "POST", pods.clone(), 201, "", "")
            .json(json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}})),
        case("update, config map as apps/v1", "PUT", format!("{cms}/cm"), 400, "BadRequest",
            r#"ConfigMap in version "v1" cannot be handled as a ConfigMap: no kind "ConfigMap" is registered for version "apps/v1" in scheme "pkg/api/legacyscheme/scheme.go:30""#)
            .json(with_version("apps/v1")),
        case("update, body named otherwise", "PUT", format!("{cms}/cm"), 400, "BadRequest",
            "the name of the object (other) does not match the name on the URL (cm)")
            .json(cm("other")),
        case("apply, as apps/v1", "PATCH", format!("{cms}/cm?fieldManager=t"), 400, "BadRequest",
            "Incorrect version specified in apply patch. Specified patch version: apps/v1, expected: v1")
            .body("application/apply-patch+yaml", "apiVersion: apps/v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"),
        case("apply, without apiVersion", "PATCH", format!("{cms}/cm?fieldManager=t"), 400, "BadRequest",
            "Incorrect version specified in apply patch. Specified patch version: , expected: v1")
            .body("application/apply-patch+yaml", "kind: ConfigMap\nmetadata:\n  name: cm\n"),
        case("apply, without kind", "PATCH", format!("{cms}/cm?fieldManager=t"), 400, "BadRequest", "failed to create typed patch object*")
            .body("application/apply-patch+yaml", "apiVersion: v1\nmetadata:\n  name: cm\n"),
        case("apply, with managedFields", "PATCH", format!("{cms}/cm?fieldManager=t"), 400, "BadRequest", "metadata.managedFields must be nil")
            .body("application/apply-patch+yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  managedFields: []\n"),
        case("apply, named otherwise", "PATCH", format!("{cms}/cm?fieldManager=t"), 400, "BadRequest",
            "the name of the object (other) does not match the name on the URL (cm)")
            .body("application/apply-patch+yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n"),
        case("apply that creates, named otherwise", "PATCH", format!("{cms}/new?fieldManager=t"), 400, "BadRequest",
            "the name of the object (other) does not match the name on the URL (new)")
            .body("application/apply-patch+yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n"),
        case("json patch renaming", "PATCH", format!("{cms}/cm"), 400, "BadRequest",
            "the name of the object (renamed) does not match the name on the URL (cm)")
            .body("application/json-patch+json", r#"[{"op": "replace", "path": "/metadata/name", "value": "renamed"}]"#),
        case("merge patch dropping metadata", "PATCH", format!("{cms}/cm"), 400, "BadRequest",
            "the name of the object () does not match the name on the URL (cm)")
            .body("application/merge-patch+json", r#"{"metadata": null}"#),
        case("merge patch moving namespaces", "PATCH", format!("{cms}/cm"), 400, "BadRequest",
            "the namespace of the object (kube-system) does not match the namespace on the request (default)")
            .body("application/merge-patch+json", r#"{"metadata": {"namespace": "kube-system"}}"#),
        case("strategic patch renaming", "PATCH", format!("{cms}/cm"), 400, "BadRequest",
            "the name of the object (x) does not match the name on the URL (cm)")
            .body("application/strategic-merge-patch+json", r#"{"metadata": {"name": "x"}}"#),
    ];
    check(&client, cases).await;
    let (code, stored) = common::raw(&client, "GET", &format!("{cms}/cm"), None, None).await;
    assert_eq!((code, stored["metadata"]["name"].as_str()), (200, Some("cm")), "nothing renamed cm");
}
