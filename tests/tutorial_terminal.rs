//! `kubelab tutorial` as a reader meets it: on a pseudo-terminal, one key at a time.
//! Short lessons of our own (echo steps, one `watch-pods --for 3s`) keep it to seconds.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kubelab::tutorial::pty::PtyChild;

struct StopOnDrop<'a>(&'a Path);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        let _ = Command::new(common::kubelab_bin()).args(["sandbox", "stop", "-q"]).env("KUBELAB_HOME", self.0).status();
    }
}

/// A tutorial on a 120x40 pty, and everything it has written so far.
struct Reader {
    child: PtyChild,
    screen: Arc<Mutex<String>>,
}

impl Reader {
    fn start(home: &Path, lessons: &Path, args: &[&str]) -> Reader {
        let mut cmd = Command::new(common::kubelab_bin());
        cmd.arg("tutorial")
            .arg("--lessons-dir")
            .arg(lessons)
            .args(args)
            .env("KUBELAB_HOME", home)
            .env("NO_COLOR", "1")
            .env("TERM", "xterm")
            .env_remove("KUBECONFIG");
        let child = PtyChild::spawn(cmd, 120, 40).expect("the tutorial starts on a pty");
        let rx = child.output().unwrap();
        let screen = Arc::new(Mutex::new(String::new()));
        let sink = screen.clone();
        std::thread::spawn(move || {
            for chunk in rx {
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&chunk));
            }
        });
        Reader { child, screen }
    }

    fn text(&self) -> String {
        self.screen.lock().unwrap().clone()
    }

    /// Waits until `needle` has appeared `times` times in all output so far.
    fn wait_for(&self, needle: &str, times: usize) -> Duration {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if self.text().matches(needle).count() >= times {
                return started.elapsed();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("{needle:?} did not appear {times} time(s); the screen:\n{}", self.text());
    }

    fn press(&mut self, key: &str) {
        self.child.master.write_all(key.as_bytes()).unwrap();
        self.child.master.flush().unwrap();
    }

    fn exits(&mut self) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if self.child.child.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the tutorial did not exit; the screen:\n{}", self.text());
    }
}

fn progress(home: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(home.join("tutorial.json")).unwrap()).unwrap()
}

const LESSON_1: &str = "# Lesson 1 — Sample\n\nIntro of the *sample*.\n\n\
```sh step\necho one-$((1 + 1))\n```\n\n```text expect\none-2\n```\n\n\
Now a step that streams.\n\n\
```sh step\nkubelab watch-pods --for 3s; echo stream-$((1 + 1))\n```\n\n```text expect\nstream-2\n```\n\n\
```sh step\necho three-$((1 + 2))\n```\n\n```text expect\nthree-3\n```\n";

const LESSON_2: &str = "# Lesson 2 — Next\n\n```sh step\necho two-$((1 + 1))\n```\n\n```text expect\ntwo-2\n```\n";

#[test]
fn the_tutorial_is_driven_one_key_at_a_time_and_keeps_its_place() {
    let home = tempfile::tempdir().unwrap();
    let _stop = StopOnDrop(home.path());
    let lessons = tempfile::tempdir().unwrap();
    std::fs::write(lessons.path().join("01-sample.md"), LESSON_1).unwrap();
    std::fs::write(lessons.path().join("02-next.md"), LESSON_2).unwrap();

    let mut r = Reader::start(home.path(), lessons.path(), &[]);
    r.wait_for("lesson 1/2 · step 1/3 · Sample", 1);
    assert!(r.text().contains("started the sandbox for this course at https://127.0.0.1:"), "{}", r.text());
    // An unknown key only re-prompts; Enter (no newline after it) runs the step.
    r.press("x");
    std::thread::sleep(Duration::from_millis(300));
    assert!(!r.text().contains("one-2"), "x must not run the step:\n{}", r.text());
    r.press("\r");
    r.wait_for("one-2", 1);
    r.wait_for("✓ as the lesson expects", 1);
    r.wait_for("lesson 1/2 · step 2/3", 1);

    // The step streams: its first line is on screen while `--for 3s` still runs.
    r.press("\r");
    let started = Instant::now();
    r.wait_for("Events print as they arrive", 1);
    assert!(!r.text().contains("stopped: time is up"), "a line of the step came before the step ended:\n{}", r.text());
    assert!(started.elapsed() < Duration::from_secs(2), "it came at once, not after 3 s");
    // Keys typed while the step runs do not answer the next prompt.
    r.press("\r");
    r.wait_for("stream-2", 1);
    r.wait_for("lesson 1/2 · step 3/3", 1);
    std::thread::sleep(Duration::from_millis(500));
    assert!(!r.text().contains("three-3"), "the Enter typed during the step ran the next one:\n{}", r.text());

    // b goes back a step, q quits and saves the place.
    r.press("b");
    r.wait_for("lesson 1/2 · step 2/3", 2);
    r.press("q");
    r.wait_for("progress saved (lesson 1, step 2)", 1);
    r.exits();
    assert_eq!(progress(home.path())["step"], 1);

    // A new run resumes at the same step; Ctrl-C stops the running step, not the course,
    // and Ctrl-C at the prompt leaves with the place saved.
    let mut r = Reader::start(home.path(), lessons.path(), &[]);
    r.wait_for("resuming where you stopped", 1);
    r.wait_for("lesson 1/2 · step 2/3", 1);
    r.press("\r");
    r.wait_for("Events print as they arrive", 1);
    let started = Instant::now();
    r.press("\x03");
    r.wait_for("stopped (Ctrl-C)", 1);
    assert!(started.elapsed() < Duration::from_secs(2), "Ctrl-C stopped the step at once");
    r.wait_for("lesson 1/2 · step 2/3", 2);
    r.press("\x03");
    r.wait_for("progress saved (lesson 1, step 2)", 1);
    r.exits();
    assert_eq!(progress(home.path())["lesson"], 1);
    assert_eq!(progress(home.path())["step"], 1);

    // A jump to lesson 2 runs it without losing the course's place.
    let mut r = Reader::start(home.path(), lessons.path(), &["--lesson", "2"]);
    r.wait_for("your place in the course, lesson 1 step 2, is kept", 1);
    r.wait_for("lesson 2/2 · step 1/1 · Next", 1);
    r.press("\r");
    r.wait_for("two-2", 1);
    r.wait_for("That was the last lesson", 1);
    r.exits();
    let p = progress(home.path());
    assert_eq!((p["lesson"].as_u64(), p["step"].as_u64()), (Some(1), Some(1)), "{p}");
    assert_eq!(p["completed"], serde_json::json!([2]));

    let lessons_out = Command::new(common::kubelab_bin())
        .args(["lessons", "-q", "--lessons-dir"])
        .arg(lessons.path())
        .env("KUBELAB_HOME", home.path())
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&lessons_out.stdout);
    let expected = "LESSON TITLE STEPS STATE SUMMARY\n1 Sample 3 in progress (step 2) Intro of the sample.\n2 Next 1 done\n";
    kubelab::tutorial::expect::check_exact(expected, &table).unwrap_or_else(|m| panic!("{m}\n{table}"));
}
