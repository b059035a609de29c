//! The tutorial as a user with a real cluster, or a second run, meets it: it refuses any
//! other cluster in one line (before starting anything), and lessons that create objects
//! clean up after an earlier run, so `--check` passes twice in one `KUBELAB_HOME`.

mod common;

use std::path::Path;

struct StopOnDrop<'a>(&'a Path);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        let _ = std::process::Command::new(common::kubelab_bin()).args(["sandbox", "stop", "-q"]).env("KUBELAB_HOME", self.0).status();
    }
}

fn tutorial(home: &Path, args: &[&str], kubeconfig_env: Option<&str>) -> std::process::Output {
    let mut cmd = std::process::Command::new(common::kubelab_bin());
    cmd.arg("tutorial").args(args).env("KUBELAB_HOME", home).env_remove("KUBECONFIG");
    if let Some(v) = kubeconfig_env {
        cmd.env("KUBECONFIG", v);
    }
    cmd.output().expect("kubelab runs")
}

#[test]
fn another_cluster_is_refused_in_one_line_before_the_sandbox_starts() {
    let home = tempfile::tempdir().unwrap();
    let _stop = StopOnDrop(home.path());
    // (arguments, KUBECONFIG, what the refusal must name)
    let cases: &[(&[&str], Option<&str>, &str)] = &[
        (&["--kubeconfig", "/tmp/real-cluster.yaml", "--check"], None, "--kubeconfig /tmp/real-cluster.yaml"),
        (&["--context", "prod", "--check"], None, "--context prod"),
        (&["--check", "--lesson", "1"], Some("/tmp/a.yaml:/tmp/b.yaml"), "KUBECONFIG=/tmp/a.yaml:/tmp/b.yaml"),
    ];
    for (args, env, named) in cases {
        let out = tutorial(home.path(), args, *env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} {env:?} must fail: {stderr}");
        let first = stderr.lines().next().unwrap_or("");
        assert_eq!(first, format!("kubelab: the tutorial runs on its own sandbox only, not on the cluster of {named}"), "{stderr}");
        assert!(stderr.lines().nth(1).is_some_and(|l| l.starts_with("hint: ")), "{stderr}");
        assert!(out.stdout.is_empty(), "no step ran: {}", String::from_utf8_lossy(&out.stdout));
    }
    let left: Vec<_> = std::fs::read_dir(home.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "no sandbox was started, nothing written to KUBELAB_HOME: {left:?}");
    // An empty KUBECONFIG names nothing, as for every other command.
    let out = tutorial(home.path(), &["--check", "--lessons-dir", "/nonexistent-lessons"], Some(""));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("sandbox only"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_second_check_of_lessons_6_7_and_9_passes_in_the_same_home() {
    let home = tempfile::tempdir().unwrap();
    let _stop = StopOnDrop(home.path());
    for run in 1..=2 {
        for lesson in ["6", "7", "9"] {
            let out = tutorial(home.path(), &["--check", "--lesson", lesson], None);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "run {run}, lesson {lesson}:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
            assert!(stdout.lines().last().is_some_and(|l| l.ends_with(" passed, 0 failed")), "run {run}, lesson {lesson}: {stdout}");
        }
    }
}
