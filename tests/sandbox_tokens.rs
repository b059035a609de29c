//! Service-account tokens as a client sees them: `kubectl create token` gets a JWT that
//! verifies against the JWKS the sandbox serves, with upstream's claims; bad requests get
//! upstream's errors; the issuer discovery documents are served as kube-apiserver serves
//! them; and the recorded `/openapi/v3` index (which lists them) matches.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
use serde_json::{json, Value};

const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

fn kubectl(kubeconfig: &Path, home: &Path, args: &[&str]) -> Output {
    Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", home)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .expect("kubectl runs")
}

fn token_of(out: &Output) -> String {
    assert!(out.status.success(), "kubectl create token failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap().trim().to_string()
}

fn segment(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("a JSON segment")
}

/// Verifies `token` against `jwks` the way a relying party does: the key named by the
/// header's `kid`, the header's `alg`, the signature over `header.payload`. Returns the claims.
fn verify(token: &str, jwks: &Value) -> Value {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS: {token}");
    let header = segment(parts[0]);
    assert_eq!(header["alg"], "ES256");
    let key = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == header["kid"]).expect("the JWKS has the token's key");
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str(), key["alg"].as_str(), key["use"].as_str()),
        (Some("EC"), Some("P-256"), Some("ES256"), Some("sig"))
    );
    let mut point = vec![4u8];
    point.extend(URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap());
    point.extend(URL_SAFE_NO_PAD.decode(key["y"].as_str().unwrap()).unwrap());
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    let signed = format!("{}.{}", parts[0], parts[1]);
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point).verify(signed.as_bytes(), &signature).expect("the signature verifies");
    // A token whose claims were changed does not.
    let forged = format!("{}.{}", parts[0], URL_SAFE_NO_PAD.encode(b"{\"sub\":\"system:admin\"}"));
    assert!(UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point).verify(forged.as_bytes(), &signature).is_err());
    segment(parts[1])
}

/// The key id as upstream's `keyIDFromPublicKey`: base64url(SHA-256(DER public key)).
fn key_id_of_pem(pem: &str) -> String {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
    URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, &der))
}

/// The `default` service account, once its controller has made it (as upstream, shortly
/// after a namespace exists).
async fn default_account(client: &kube::Client) -> Value {
    for attempt in 0..50 {
        let (status, sa) = common::raw(client, "GET", "/api/v1/namespaces/default/serviceaccounts/default", None, None).await;
        if status == 200 {
            return sa;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20 * (attempt + 1).min(10))).await;
    }
    panic!("the default service account never appeared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_create_token_verifies_against_the_served_jwks() {
    let t = common::TestSandbox::start().await;
    let client = t.sandbox.client().await.unwrap();
    let (status, config) = common::raw(&client, "GET", "/.well-known/openid-configuration", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        config,
        json!({
            "issuer": ISSUER,
            "jwks_uri": format!("https://{}/openid/v1/jwks", t.sandbox.address()),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
        })
    );
    let (status, jwks) = common::raw(&client, "GET", "/openid/v1/jwks", None, None).await;
    assert_eq!(status, 200);
    let kid = key_id_of_pem(&std::fs::read_to_string(t.home().join("sa.pub")).unwrap());
    assert_eq!(jwks["keys"][0]["kid"], kid.as_str());
    let sa = default_account(&client).await;
    let (_, pod) = common::raw(
        &client,
        "POST",
        "/api/v1/namespaces/default/pods",
        Some("application/json"),
        Some(r#"{"metadata":{"name":"holder"},"spec":{"nodeName":"gone","containers":[{"name":"c","image":"busybox"}]}}"#),
    )
    .await;

    let kubeconfig = t.kubeconfig();
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().to_path_buf();
    let claims = tokio::task::spawn_blocking(move || {
        let run = |args: &[&str]| kubectl(&kubeconfig, &home_path, args);
        let default = token_of(&run(&["create", "token", "default", "-n", "default"]));
        let short = token_of(&run(&["create", "token", "default", "-n", "default", "--duration", "10m"]));
        let bound = token_of(&run(&["create", "token", "default", "--bound-object-kind", "Pod", "--bound-object-name", "holder"]));
        let unknown = run(&["create", "token", "nope", "-n", "default"]);
        let too_short = run(&["create", "token", "default", "--duration", "1m"]);
        (default, short, bound, unknown, too_short)
    })
    .await
    .unwrap();
    let (default, short, bound, unknown, too_short) = claims;

    let c = verify(&default, &jwks);
    let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["aud", "exp", "iat", "iss", "jti", "kubernetes.io", "nbf", "sub"], "claims in upstream's order: {c}");
    assert_eq!(c["aud"], json!([ISSUER]));
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["sub"], "system:serviceaccount:default:default");
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 3600);
    assert_eq!(c["nbf"], c["iat"]);
    assert_eq!(c["kubernetes.io"], json!({"namespace": "default", "serviceaccount": {"name": "default", "uid": sa["metadata"]["uid"]}}));
    assert_ne!(verify(&short, &jwks)["jti"], c["jti"], "every token has its own id");
    let s = verify(&short, &jwks);
    assert_eq!(s["exp"].as_i64().unwrap() - s["iat"].as_i64().unwrap(), 600);
    // Bound to a pod: the pod, and the node it names even when that node does not exist.
    let b = verify(&bound, &jwks);
    assert_eq!(b["kubernetes.io"]["pod"], json!({"name": "holder", "uid": pod["metadata"]["uid"]}));
    assert_eq!(b["kubernetes.io"]["node"], json!({"name": "gone"}));

    assert!(!unknown.status.success());
    assert_eq!(String::from_utf8_lossy(&unknown.stderr).trim(), "error: failed to create token: serviceaccounts \"nope\" not found");
    assert!(!too_short.status.success());
    assert_eq!(
        String::from_utf8_lossy(&too_short.stderr).trim(),
        "error: failed to create token: TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_requests_answer_as_upstream() {
    let t = common::TestSandbox::start().await;
    let client = t.sandbox.client().await.unwrap();
    default_account(&client).await;
    let post = |sa: &str, body: &str| {
        let (path, body) = (format!("/api/v1/namespaces/default/serviceaccounts/{sa}/token"), body.to_string());
        let client = client.clone();
        async move { common::raw(&client, "POST", &path, Some("application/json"), Some(&body)).await }
    };
    let (status, tr) =
        post("default", r#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"audiences":["vault"]}}"#).await;
    assert_eq!(status, 201, "{tr}");
    assert_eq!((tr["kind"].as_str(), tr["apiVersion"].as_str()), (Some("TokenRequest"), Some("authentication.k8s.io/v1")));
    assert_eq!(tr["spec"], json!({"audiences": ["vault"], "expirationSeconds": 3600, "boundObjectRef": null}));
    let (_, jwks) = common::raw(&client, "GET", "/openid/v1/jwks", None, None).await;
    let claims = verify(tr["status"]["token"].as_str().unwrap(), &jwks);
    assert_eq!(claims["aud"], json!(["vault"]));
    let expires = chrono::DateTime::parse_from_rfc3339(tr["status"]["expirationTimestamp"].as_str().unwrap()).unwrap();
    assert!((expires.timestamp() - claims["exp"].as_i64().unwrap()).abs() <= 1, "expirationTimestamp is the token's exp");

    // Errors, by rule: what the request got wrong, and upstream's answer to it.
    let cases: &[(&str, &str, u16, &str)] = &[
        ("nope", "{}", 404, "serviceaccounts \"nope\" not found"),
        (
            "default",
            r#"{"spec":{"expirationSeconds":60}}"#,
            422,
            "TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes",
        ),
        (
            "default",
            r#"{"metadata":{"name":"other"}}"#,
            422,
            "TokenRequest.authentication.k8s.io \"default\" is invalid: metadata.name: Invalid value: \"other\": must match the service account name if specified",
        ),
        ("default", r#"{"spec":{"boundObjectRef":{"kind":"Pod","apiVersion":"v1","name":"absent"}}}"#, 404, "pods \"absent\" not found"),
        (
            "default",
            r#"{"spec":{"boundObjectRef":{"kind":"ConfigMap","apiVersion":"v1","name":"x"}}}"#,
            400,
            "cannot bind token to object of type /v1, Kind=ConfigMap",
        ),
    ];
    for (sa, body, code, message) in cases {
        let (status, s) = post(sa, body).await;
        assert_eq!((status, s["message"].as_str()), (*code, Some(*message)), "{sa} {body}: {s}");
        assert_eq!(s["kind"], "Status");
    }
    let (_, s) = post("nope", "{}").await;
    assert_eq!(s["details"], json!({"name": "nope", "kind": "serviceaccounts"}));
    let (_, s) = post("default", r#"{"spec":{"expirationSeconds":60}}"#).await;
    assert_eq!(s["details"]["group"], "authentication.k8s.io");
    assert_eq!(s["details"]["kind"], "TokenRequest");

    // Other subresources of a service account do not exist; other verbs on token are refused.
    let (status, _) =
        common::raw(&client, "POST", "/api/v1/namespaces/default/serviceaccounts/default/status", Some("application/json"), Some("{}"))
            .await;
    assert_eq!(status, 404);
    let (status, _) = common::raw(&client, "GET", "/api/v1/namespaces/default/serviceaccounts/default/token", None, None).await;
    assert_eq!(status, 405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuer_documents_are_for_authenticated_clients_with_upstream_headers() {
    let t = common::TestSandbox::start().await;
    let ca = t.home().join("ca.crt");
    let token = t.sandbox.token().to_string();
    let url = t.sandbox.url();
    let curl = move |path: &str, auth: bool| {
        let mut c = Command::new("curl");
        c.args(["-s", "-i", "--cacert"]).arg(&ca).arg(format!("{url}{path}"));
        if auth {
            c.args(["-H", &format!("Authorization: Bearer {token}")]);
        }
        String::from_utf8(c.output().expect("curl runs").stdout).unwrap().to_lowercase()
    };
    let out = tokio::task::spawn_blocking(move || {
        [
            curl("/.well-known/openid-configuration", true),
            curl("/openid/v1/jwks", true),
            curl("/openid/v1/jwks", false),
            curl("/.well-known/openid-configuration", false),
        ]
    })
    .await
    .unwrap();
    let rules = [
        (&out[0], "200", "content-type: application/json"),
        (&out[1], "200", "content-type: application/jwk-set+json"),
        (&out[2], "403", "forbidden: user \\\"system:anonymous\\\" cannot get path \\\"/openid/v1/jwks\\\""),
        (&out[3], "403", "cannot get path \\\"/.well-known/openid-configuration\\\""),
    ];
    for (response, code, text) in rules {
        assert!(response.starts_with(&format!("http/2 {code}")) || response.starts_with(&format!("http/1.1 {code}")), "{response}");
        assert!(response.contains(text), "{text} in {response}");
    }
    assert!(out[0].contains("cache-control: public, max-age=3600"), "{}", out[0]);
    assert!(out[1].contains("cache-control: public, max-age=3600"), "{}", out[1]);
}

/// The recorded p01 replay against `kubelab sandbox start`: the `/openapi/v3` index, which
/// lists the issuer endpoints, matches (only `version`, the recorded build, and `api`, the
/// recorded port, may differ).
#[test]
fn p01_openapi_v3_root_matches_the_recording() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fidelity");
    let corpus = std::env::var_os("KUBELAB_FIDELITY").map(std::path::PathBuf::from).unwrap_or(corpus);
    assert!(corpus.join("compare.py").exists(), "the fidelity corpus is missing at {}", corpus.display());
    let home = tempfile::tempdir().unwrap();
    let only_p01 = tempfile::tempdir().unwrap();
    std::fs::copy(corpus.join("corpus/p01-discovery.jsonl"), only_p01.path().join("p01-discovery.jsonl")).unwrap();
    let kubelab = |args: &[&str]| {
        Command::new(common::kubelab_bin()).args(args).env("KUBELAB_HOME", home.path()).env("NO_COLOR", "1").output().unwrap()
    };
    let started = kubelab(&["sandbox", "start", "-q"]);
    assert!(started.status.success(), "sandbox start: {}", String::from_utf8_lossy(&started.stderr));
    let env = String::from_utf8(kubelab(&["sandbox", "env"]).stdout).unwrap();
    let kubeconfig = env.trim().strip_prefix("export KUBECONFIG=").expect("an export line").trim_matches(['"', '\'']);
    let url = std::fs::read_to_string(kubeconfig)
        .unwrap()
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: ").map(String::from))
        .expect("the kubeconfig names the server");
    let token = std::fs::read_to_string(home.path().join("token")).unwrap();
    let out = Command::new("python3")
        .arg(corpus.join("compare.py"))
        .arg(only_p01.path())
        .args(["--server", &url, "--token", token.trim(), "--cacert"])
        .arg(home.path().join("ca.crt"))
        .output()
        .expect("python3 runs compare.py");
    let _ = kubelab(&["sandbox", "stop", "-q"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.lines().any(|l| l.starts_with("MATCH") && l.ends_with(" openapi-v3-root")), "{stdout}");
    let mismatched: Vec<&str> =
        stdout.lines().filter(|l| l.starts_with("MISMATCH")).filter(|l| !l.contains(" version ") && !l.contains(" api ")).collect();
    assert!(mismatched.is_empty(), "{stdout}");
}
