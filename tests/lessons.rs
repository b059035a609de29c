//! The lessons are tested like code: `kubelab tutorial --check` runs every step of every
//! lesson against a fresh sandbox and compares each output with the lesson's expect block
//! (lesson 10 drives `scripts/digitalocean/` with bash, curl, jq and python3).

mod common;

use std::path::Path;

struct StopOnDrop<'a>(&'a Path);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        let _ = std::process::Command::new(common::kubelab_bin()).args(["sandbox", "stop", "-q"]).env("KUBELAB_HOME", self.0).status();
    }
}

fn tutorial(home: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(common::kubelab_bin())
        .arg("tutorial")
        .args(args)
        .env("KUBELAB_HOME", home)
        .env_remove("KUBECONFIG")
        .output()
        .expect("kubelab runs")
}

#[test]
fn every_lesson_step_passes_on_a_fresh_sandbox() {
    let home = tempfile::tempdir().unwrap();
    let _stop = StopOnDrop(home.path());
    let out = tutorial(home.path(), &["--check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for lesson in [
        "01-basics.md",
        "02-structs-and-interfaces.md",
        "03-slices-and-resources.md",
        "04-life-of-a-request.md",
        "05-queues-and-the-controller-loop.md",
        "06-stores-indexers-list-watch.md",
        "07-informers-inside.md",
        "08-custom-resources-and-controllers.md",
        "09-a-local-cluster.md",
        "10-automating-a-cloud-cluster.md",
    ] {
        assert!(stdout.lines().any(|l| l.starts_with("ok") && l.contains(lesson)), "{lesson} ran: {stdout}");
    }
    let last = stdout.lines().last().unwrap_or("");
    let (passed, failed) = last.split_once(" passed, ").expect("a totals line");
    assert_eq!(failed, "0 failed", "{stdout}");
    assert_eq!(passed.parse::<usize>().unwrap(), stdout.lines().filter(|l| l.starts_with("ok")).count());
    // Lesson 10's last step stopped its DigitalOcean stand-in, and with it the cluster's sandbox.
    assert!(!home.path().join("digitalocean-standin/pid").exists(), "{stdout}");
}

#[test]
fn a_step_that_differs_from_its_expect_block_fails_the_check() {
    let home = tempfile::tempdir().unwrap();
    let _stop = StopOnDrop(home.path());
    let lessons = tempfile::tempdir().unwrap();
    std::fs::write(
        lessons.path().join("01-sample.md"),
        // The first step passes only if `kubelab` in a step is this very binary.
        format!(
            "# Sample\n\n```sh step\necho \"kubelab is $(command -v kubelab)\"\n```\n\n```text expect\nkubelab is {}\n```\n\n```sh step\necho hello\n```\n\n```text expect\ngoodbye\n```\n",
            common::kubelab_bin().display()
        ),
    )
    .unwrap();
    let out = tutorial(home.path(), &["--check", "--lessons-dir", lessons.path().to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    let expected = "ok    01-sample.md:3 <…>\nFAIL  01-sample.md:11 <…> echo hello\n      expected line 1 not found (in order) in the output: \"goodbye\"\n      | hello\n1 passed, 1 failed\n";
    kubelab::tutorial::expect::check_exact(expected, &stdout).unwrap_or_else(|m| panic!("{m}\n{stdout}"));
}
