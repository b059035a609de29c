//! `kubelab sandbox start --nodes FILE --controllers=…` and `kubelab sandbox log`, through the
//! real binary and real kubectl.

mod common;

use std::path::Path;
use std::process::{Command, Output};

struct Stop<'a>(&'a Path);
impl Drop for Stop<'_> {
    fn drop(&mut self) {
        let _ = kubelab(self.0, &["sandbox", "stop", "-q"]);
    }
}

fn kubelab(home: &Path, args: &[&str]) -> Output {
    Command::new(common::kubelab_bin()).args(args).env("KUBELAB_HOME", home).env("NO_COLOR", "1").output().expect("kubelab runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn nodes_come_from_the_file_and_the_log_tells_the_decisions() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("nodes.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: big\n  labels: {disk: ssd}\nstatus:\n  capacity: {cpu: '64', memory: 256Gi, pods: '250'}\n  allocatable: {cpu: '64', memory: 256Gi, pods: '250'}\n---\napiVersion: v1\nkind: Node\nmetadata: {name: small}\nspec:\n  taints: [{key: dedicated, value: batch, effect: NoSchedule}]\n",
    )
    .unwrap();
    let _stop = Stop(home.path());
    let out = kubelab(home.path(), &["sandbox", "start", "--nodes", file.to_str().unwrap(), "--controllers=*,-serviceaccount"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let kubectl_home = tempfile::tempdir().unwrap();
    let kubeconfig = home.path().join("kubeconfig");
    let k = common::Kubectl { kubeconfig: &kubeconfig, home: kubectl_home.path() };
    let nodes = k.get_json(&["nodes"]);
    let names: Vec<&str> = nodes["items"].as_array().unwrap().iter().map(|n| n["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["big", "small"]);
    assert_eq!(nodes["items"][0]["status"]["capacity"]["cpu"], "64");
    assert_eq!(nodes["items"][1]["spec"]["taints"][0]["key"], "dedicated");

    // The root-CA publisher ran (its decision is in the log), the service-accounts controller did not.
    let cm = k.run(&["get", "configmap", "kube-root-ca.crt", "-o", "name"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut ok = cm.status.success();
    while !ok && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
        ok = k.run(&["get", "configmap", "kube-root-ca.crt", "-o", "name"]).status.success();
    }
    assert!(ok, "kube-root-ca.crt is published");
    let sa = k.run(&["get", "serviceaccount", "default", "-n", "kube-public"]);
    assert!(!sa.status.success(), "serviceaccount-controller was disabled");

    let log = kubelab(home.path(), &["sandbox", "log", "--tail", "50"]);
    assert!(log.status.success());
    let log = text(&log.stdout);
    assert!(log.contains("listening on"), "{log}");
    assert!(log.contains("root-ca-cert-publisher default: published kube-root-ca.crt"), "{log}");
    let followed = kubelab(home.path(), &["sandbox", "log", "-f", "--for", "300ms", "--tail", "1"]);
    assert!(followed.status.success(), "{}", text(&followed.stderr));
}

#[test]
fn bad_flags_are_one_readable_line() {
    let home = tempfile::tempdir().unwrap();
    let out = kubelab(home.path(), &["sandbox", "start", "--controllers=*,bogus"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("\"bogus\" is not in the list of known controllers"), "{}", text(&out.stderr));

    let file = home.path().join("nodes.yaml");
    std::fs::write(&file, "kind: Pod\nmetadata: {name: p}\n").unwrap();
    let _stop = Stop(home.path());
    let out = kubelab(home.path(), &["sandbox", "start", "--nodes", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("expected kind Node, found \"Pod\""), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let log = kubelab(home.path(), &["sandbox", "log"]);
    assert!(!log.status.success(), "no sandbox ran, so there is no log");
}
