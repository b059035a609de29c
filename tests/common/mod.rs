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
