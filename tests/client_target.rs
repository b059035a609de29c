//! Which cluster kubelab talks to: an explicit kubeconfig (flag or KUBECONFIG) goes through
//! kube-rs' ordinary config loading to whatever cluster it names; nothing explicit means the
//! sandbox of KUBELAB_HOME, started on demand — never ~/.kube/config.

mod common;

use std::path::Path;
use std::process::Output;

use common::TestSandbox;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Stops the sandbox auto-started in `home` when the test ends, even if it fails.
struct StopOnDrop<'a>(&'a Path);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        let _ = std::process::Command::new(common::kubelab_bin()).args(["sandbox", "stop", "-q"]).env("KUBELAB_HOME", self.0).status();
    }
}

async fn run(home: &Path, args: &[&str], kubeconfig_env: Option<&Path>) -> Output {
    let mut cmd = tokio::process::Command::new(common::kubelab_bin());
    cmd.args(args).env("KUBELAB_HOME", home).env("NO_COLOR", "1").env_remove("KUBECONFIG");
    if let Some(k) = kubeconfig_env {
        cmd.env("KUBECONFIG", k);
    }
    cmd.output().await.expect("kubelab runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_kubeconfig_selects_another_cluster() {
    // `home` has a sandbox of its own; the kubeconfig names a second one.
    let home = TestSandbox::start().await;
    let other = TestSandbox::start().await;
    let other_url = other.sandbox.url();
    let kubeconfig = other.kubeconfig();

    let flag = run(home.home(), &["--kubeconfig", kubeconfig.to_str().unwrap(), "list-nodes"], None).await;
    assert!(flag.status.success(), "{}", text(&flag.stderr));
    let narration = text(&flag.stderr);
    assert!(narration.contains("    source             --kubeconfig flag\n"), "{narration}");
    assert!(narration.contains(&format!("    cluster            kubelab -> {other_url}\n")), "{narration}");
    assert!(!narration.contains(&home.sandbox.url()), "the home sandbox is not used: {narration}");
    assert!(text(&flag.stdout).contains("kubelab-worker-1"));

    let env = run(home.home(), &["list-nodes"], Some(&kubeconfig)).await;
    assert!(env.status.success(), "{}", text(&env.stderr));
    let narration = text(&env.stderr);
    assert!(narration.contains("    source             KUBECONFIG environment variable\n"), "{narration}");
    assert!(narration.contains(&format!("    cluster_url        {other_url}/\n")), "{narration}");
    assert_eq!(text(&env.stdout), text(&flag.stdout));

    // The request really reached the second sandbox.
    let pods = run(home.home(), &["--kubeconfig", kubeconfig.to_str().unwrap(), "create-pod", "--name", "on-other", "-q"], None).await;
    assert!(pods.status.success(), "{}", text(&pods.stderr));
    let stored = other.sandbox.apiserver().storage.revision();
    let client = other.sandbox.client().await.unwrap();
    let api: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(client, "default");
    assert!(api.get_opt("on-other").await.unwrap().is_some(), "created in the second sandbox (revision {stored})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_kubeconfig_the_home_sandbox_is_started() {
    let home = tempfile::tempdir().unwrap();
    let _stop = StopOnDrop(home.path());

    let first = run(home.path(), &["list-nodes"], None).await;
    assert!(first.status.success(), "{}", text(&first.stderr));
    let narration = text(&first.stderr);
    assert!(narration.contains("    source             the sandbox (no --kubeconfig, no KUBECONFIG)\n"), "{narration}");
    assert!(narration.contains("    sandbox            started just now at https://127.0.0.1:"), "{narration}");
    assert!(narration.contains(&format!("    file               {}\n", home.path().join("kubeconfig").display())), "{narration}");
    assert!(text(&first.stdout).starts_with("NAME"), "{}", text(&first.stdout));

    let second = run(home.path(), &["list-nodes"], None).await;
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert!(text(&second.stderr).contains("    sandbox            already running at https://127.0.0.1:"), "{}", text(&second.stderr));

    let stop = run(home.path(), &["sandbox", "stop"], None).await;
    assert_eq!(text(&stop.stdout), "sandbox stopped\n");
}
