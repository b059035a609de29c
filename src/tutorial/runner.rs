//! Running one lesson step: `sh -c` with this kubelab first on PATH, stdout and stderr
//! merged in the order they were written (narration and result interleave as a reader sees
//! them), a time limit, and the sandbox of `$KUBELAB_HOME` as the only cluster.
//!
//! [`run_step`] (for `--check`) uses pipes and `NO_COLOR`, so the captured text is exactly
//! what the expected blocks describe; [`run_live`] (for a reader) puts the step on a
//! pseudo-terminal and hands each chunk over as it is written.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where and how steps run.
#[derive(Debug, Clone)]
pub struct StepEnv {
    /// Directory of the kubelab executable, put first on PATH.
    pub bin_dir: PathBuf,
    /// `KUBELAB_HOME` for the step.
    pub home: PathBuf,
    /// A step running longer is killed (with its whole process group) and fails.
    pub timeout: Duration,
    /// Whether a live step may colour its output (the reader's terminal shows colours).
    pub colour: bool,
    /// The live step's terminal size, columns x rows.
    pub size: (u16, u16),
}

impl StepEnv {
    /// Steps run this very executable, against the sandbox of `home`.
    pub fn current(home: PathBuf) -> std::io::Result<StepEnv> {
        let exe = std::env::current_exe()?;
        let bin_dir = exe.parent().map(PathBuf::from).unwrap_or_default();
        Ok(StepEnv { bin_dir, home, timeout: Duration::from_secs(60), colour: false, size: (100, 40) })
    }
}

/// What a step did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// stdout and stderr, merged.
    pub output: String,
    /// The exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    pub elapsed: Duration,
    pub timed_out: bool,
    /// Stopped by the reader (Ctrl-C) before it ended.
    pub interrupted: bool,
}

/// Runs `command` with `sh -c` and waits for it (and anything it left writing to its
/// output) to finish.
pub fn run_step(command: &str, env: &StepEnv) -> std::io::Result<Outcome> {
    let mut cmd = shell(command, env)?;
    cmd.env("NO_COLOR", "1");
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let started = Instant::now();
    let mut child = cmd.spawn()?;
    let mut stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    // Done when `sh` has exited *and* the output is closed: a background job started by the
    // step (`cmd &`) may still be writing after `sh` is gone.
    let mut status = None;
    let mut output = None;
    let mut timed_out = false;
    while status.is_none() || output.is_none() {
        if status.is_none() {
            status = child.try_wait()?;
        }
        if output.is_none() {
            output = rx.try_recv().ok();
        }
        if started.elapsed() > env.timeout {
            timed_out = true;
            kill_group(child.id());
            status = Some(child.wait()?);
            output = Some(rx.recv_timeout(Duration::from_secs(2)).unwrap_or_default());
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let code = status.and_then(|s| s.code());
    let output = output.unwrap_or_default();
    Ok(Outcome { output: String::from_utf8_lossy(&output).into_owned(), code, elapsed: started.elapsed(), timed_out, interrupted: false })
}

/// `sh -c` for the step, with this kubelab first on PATH and the sandbox as the cluster.
fn shell(command: &str, env: &StepEnv) -> std::io::Result<Command> {
    let path = match std::env::var_os("PATH") {
        Some(p) => {
            let mut dirs = vec![env.bin_dir.clone()];
            dirs.extend(std::env::split_paths(&p));
            std::env::join_paths(dirs).map_err(std::io::Error::other)?
        }
        None => env.bin_dir.clone().into_os_string(),
    };
    let mut cmd = Command::new("sh");
    // The braces make `2>&1` cover every command of the step, pipelines included.
    cmd.arg("-c").arg(format!("{{ {command}\n}} 2>&1"));
    cmd.env("PATH", path).env("KUBELAB_HOME", &env.home).env_remove("KUBECONFIG");
    Ok(cmd)
}

/// Runs `command` on a pseudo-terminal, passing each chunk of output to `show` as it is
/// written. `stop` is asked every few milliseconds; when it says yes the step's process
/// group gets SIGINT (as Ctrl-C would), then SIGKILL if it is still there 2 s later. The
/// outcome's text has the terminal's `\r\n` and colours taken out.
pub fn run_live(command: &str, env: &StepEnv, show: &mut dyn FnMut(&[u8]), stop: &mut dyn FnMut() -> bool) -> std::io::Result<Outcome> {
    let mut cmd = shell(command, env)?;
    if !env.colour {
        cmd.env("NO_COLOR", "1");
    }
    let started = Instant::now();
    let mut p = super::pty::PtyChild::spawn(cmd, env.size.0, env.size.1)?;
    let rx = p.output()?;
    let mut captured = Vec::new();
    let mut status = None;
    let mut open = true;
    let (mut timed_out, mut interrupted) = (false, false);
    let mut kill_at: Option<Instant> = None;
    // As with pipes: done when `sh` has exited and nothing holds the terminal any more.
    while status.is_none() || open {
        match rx.recv_timeout(Duration::from_millis(10)) {
            Ok(chunk) => {
                show(&chunk);
                captured.extend_from_slice(&chunk);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => open = false,
        }
        if status.is_none() {
            status = p.child.try_wait()?;
        }
        if kill_at.is_none() && (stop() || started.elapsed() > env.timeout) {
            if started.elapsed() > env.timeout {
                timed_out = true;
            } else {
                interrupted = true;
            }
            signal_group(p.child.id(), libc::SIGINT);
            kill_at = Some(Instant::now() + Duration::from_secs(2));
        }
        if kill_at.is_some_and(|at| Instant::now() > at) {
            kill_group(p.child.id());
            if status.is_none() {
                status = Some(p.child.wait()?);
            }
            while let Ok(chunk) = rx.recv_timeout(Duration::from_millis(200)) {
                show(&chunk);
                captured.extend_from_slice(&chunk);
            }
            break;
        }
    }
    let text = String::from_utf8_lossy(&captured).replace("\r\n", "\n");
    Ok(Outcome {
        output: super::render::strip_ansi(&text),
        code: status.and_then(|s| s.code()),
        elapsed: started.elapsed(),
        timed_out,
        interrupted,
    })
}

/// Ends the step's process group — `sh` and whatever it started, background jobs included.
/// The group id is the `sh`'s pid (it was started with `process_group(0)`, or leads its
/// own session on a pty).
fn kill_group(pid: u32) {
    signal_group(pid, libc::SIGKILL);
}

fn signal_group(pid: u32, signal: i32) {
    match i32::try_from(pid) {
        // SAFETY: kill(2) with a negative pid signals exactly that process group; the guard
        // keeps 0, 1 and overflow (which would mean "everyone") out.
        Ok(pgid) if pgid > 1 => unsafe {
            libc::kill(-pgid, signal);
        },
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> StepEnv {
        StepEnv {
            bin_dir: PathBuf::from("/nonexistent"),
            home: std::env::temp_dir(),
            timeout: Duration::from_secs(5),
            colour: false,
            size: (100, 40),
        }
    }

    #[test]
    fn stdout_and_stderr_are_merged_in_order() {
        let o = run_step("echo one; echo two >&2; echo three", &env()).unwrap();
        assert_eq!(o.output, "one\ntwo\nthree\n");
        assert_eq!(o.code, Some(0));
    }

    #[test]
    fn exit_codes_and_environment_come_through() {
        let o = run_step("echo \"$KUBELAB_HOME\"; exit 3", &env()).unwrap();
        assert_eq!(o.output.trim(), std::env::temp_dir().display().to_string());
        assert_eq!(o.code, Some(3));
    }

    #[test]
    fn a_step_over_its_time_is_killed() {
        let o = run_step("sleep 5", &StepEnv { timeout: Duration::from_millis(200), ..env() }).unwrap();
        assert!(o.timed_out);
        assert!(o.elapsed < Duration::from_secs(4));
    }

    #[test]
    fn a_live_step_streams_and_is_captured_without_carriage_returns() {
        let started = Instant::now();
        let mut first_chunk_at = None;
        let o = run_live(
            "echo first; sleep 1; echo second >&2",
            &env(),
            &mut |_| {
                first_chunk_at.get_or_insert(started.elapsed());
            },
            &mut || false,
        )
        .unwrap();
        assert_eq!(o.output, "first\nsecond\n");
        assert!(first_chunk_at.unwrap() < Duration::from_millis(800), "the first line arrived before the step ended");
        assert!(o.elapsed >= Duration::from_secs(1));
    }

    #[test]
    fn a_live_step_stops_when_asked() {
        let started = Instant::now();
        let o = run_live("trap 'echo stopped; exit 130' INT; sleep 10 & wait", &env(), &mut |_| {}, &mut || {
            started.elapsed() > Duration::from_millis(300)
        })
        .unwrap();
        assert!(o.interrupted && !o.timed_out);
        assert!(o.elapsed < Duration::from_secs(4), "{:?}", o.elapsed);
    }
}
