//! The example `examples/controller_test.rs` as a test: a kube-rs `Controller` on an
//! in-process sandbox sees its Deployment's pods become Ready.

#[path = "../examples/controller_test.rs"]
mod example;

#[tokio::test(flavor = "multi_thread")]
async fn a_kube_rs_controller_sees_its_deployments_pods_ready() {
    let dir = tempfile::tempdir().unwrap();
    let elapsed = example::run(dir.path(), 3).await.expect("the pods become Ready");
    // Speed is a benchmark's business; this only says it happened.
    eprintln!("ready after {elapsed:?}");
}
