//! What the integration tests share: an isolated sandbox per test.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use kubelab::sandbox::Sandbox;

pub mod poll;

/// A sandbox in its own temporary KUBELAB_HOME, on an ephemeral port.
pub struct TestSandbox {
    pub sandbox: Sandbox,
    pub home: tempfile::TempDir,
}

impl TestSandbox {
    pub async fn start() -> TestSandbox {
        Self::start_with(kubelab::sandbox::Options::default()).await
    }
    /// A sandbox with options, e.g. `--controllers` as `Selection::parse("scheduler,kubelet")`.
    pub async fn start_with(opts: kubelab::sandbox::Options) -> TestSandbox {
        let home = tempfile::tempdir().expect("a temporary directory");
        let sandbox = Sandbox::start_with(home.path(), opts).await.expect("the sandbox starts");
        TestSandbox { sandbox, home }
    }
    /// A sandbox running only the loops named (as `--controllers` takes them).
    pub async fn with_controllers(list: &str) -> TestSandbox {
        let controllers = kubelab::sandbox::controllers::Selection::parse(list).expect("known controller names");
        Self::start_with(kubelab::sandbox::Options { controllers, ..Default::default() }).await
    }
    /// The API server alone (`--controllers=`): nothing writes but the test.
    pub async fn api_server_only() -> TestSandbox {
        Self::with_controllers("").await
    }
    /// kubelab bound to this sandbox's kubeconfig, in the test's own KUBELAB_HOME, no colours.
    pub fn kubelab_command(&self, args: &[&str]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(kubelab_bin());
        c.arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(args)
            .env("KUBELAB_HOME", self.home())
            .env("NO_COLOR", "1")
            .env_remove("KUBECONFIG");
        c
    }
    /// Runs [`kubelab_command`](Self::kubelab_command) to its end.
    pub async fn kubelab(&self, args: &[&str]) -> std::process::Output {
        self.kubelab_command(args).output().await.expect("kubelab runs")
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

/// Real kubectl against a sandbox, with a HOME of its own (so its discovery cache is never
/// shared between tests).
pub struct Kubectl<'a> {
    pub kubeconfig: &'a Path,
    pub home: &'a Path,
}

impl Kubectl<'_> {
    pub fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new("kubectl");
        c.args(args).env("KUBECONFIG", self.kubeconfig).env("HOME", self.home).env_remove("KUBERNETES_SERVICE_HOST");
        c
    }
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        self.cmd(args).output().expect("kubectl runs")
    }
    /// Runs and requires success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "kubectl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }
    /// Runs and requires failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "kubectl {args:?} should have failed: {}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8(out.stderr).unwrap()
    }
    /// `kubectl get <what> -o json`, parsed.
    pub fn get_json(&self, what: &[&str]) -> serde_json::Value {
        let mut args = vec!["get"];
        args.extend_from_slice(what);
        args.extend_from_slice(&["-o", "json"]);
        serde_json::from_str(&self.ok(&args)).expect("kubectl prints JSON")
    }
}

/// Runs `f` with a kubectl bound to a fresh sandbox, off the runtime that serves it
/// (kubectl blocks; the sandbox must keep answering meanwhile).
pub async fn with_kubectl(f: impl FnOnce(&Kubectl) + Send + 'static) {
    let t = TestSandbox::start().await;
    let kubeconfig = t.kubeconfig();
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().to_path_buf();
    tokio::task::spawn_blocking(move || f(&Kubectl { kubeconfig: &kubeconfig, home: &home_path })).await.unwrap();
}
