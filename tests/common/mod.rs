//! What the integration tests share: an isolated sandbox per test.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use kubelab::sandbox::Sandbox;

/// A sandbox in its own temporary KUBELAB_HOME, on an ephemeral port.
pub struct TestSandbox {
    pub sandbox: Sandbox,
    pub home: tempfile::TempDir,
}

impl TestSandbox {
    pub async fn start() -> TestSandbox {
        let home = tempfile::tempdir().expect("a temporary directory");
        let sandbox = Sandbox::start(home.path()).await.expect("the sandbox starts");
        TestSandbox { sandbox, home }
    }
    pub fn kubeconfig(&self) -> PathBuf {
        self.sandbox.kubeconfig_path()
    }
    pub fn home(&self) -> &Path {
        self.home.path()
    }
}

/// The kubelab binary cargo built for these tests.
pub fn kubelab_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kubelab"))
}

/// One raw request through kube's client (so through the sandbox's TLS and auth): the
/// status code and the body as JSON (`Value::Null` when it is not JSON).
pub async fn raw(
    client: &kube::Client,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut b = http::Request::builder().method(method).uri(path);
    if let Some(ct) = content_type {
        b = b.header("Content-Type", ct);
    }
    let req = b.body(body.unwrap_or("").as_bytes().to_vec()).expect("a valid request");
    let resp = client.send(req.map(kube::client::Body::from)).await.expect("the sandbox answers");
    let status = resp.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(resp.into_body()).await.expect("a body").to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}
