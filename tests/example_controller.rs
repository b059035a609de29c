//! The example `examples/controller_test.rs` as a test: a kube-rs `Controller` on an
//! in-process sandbox sees its Deployment's pods become Ready, and deleting the owner
//! takes the Deployment, its ReplicaSet and pods with it (the blog's controller flow).

#[path = "../examples/controller_test.rs"]
mod example;

#[tokio::test(flavor = "multi_thread")]
async fn a_kube_rs_controller_sees_its_deployments_pods_ready() {
    let dir = tempfile::tempdir().unwrap();
    let t = example::run(dir.path(), 3).await.expect("the pods become Ready, then everything goes with the owner");
    // Speed is a benchmark's business; this only says it happened.
    eprintln!("ready after {:?}, collected {:?} after the owner's delete", t.ready, t.collected);
}
