//! What the three machinery demos share: how long they run, how they stop, and how each
//! step reaches the reader.
//!
//! A demo is a loop that watches the machinery move. It stops on Ctrl-C, or after
//! `--for <duration>` (so the tutorial checker and the tests can run it unattended), and
//! both paths go through the same [`StopSignal`] the machinery itself listens to, so the
//! summary printed at the end is the same whichever way it ended.
//!
//! Each step is shown in one of three ways ([`Out`]): a plain line (coloured on a terminal
//! unless NO_COLOR), a JSON line (`-o json`, one document per step, for `jq`), or nothing
//! (`-q`: only the summary). `--live` swaps the lines for a full-screen [`screen::Screen`]
//! that redraws the pipeline as boxes; without a terminal it falls back to lines.

pub mod screen;

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossterm::style::Stylize;
use serde_json::Value;

pub use crate::cli::parse_duration;
use crate::cli::{Global, OutputFormat};
use crate::machinery::stop::StopSignal;
use crate::narrate::Narrator;

/// The run flags every demo takes (flattened into its own `Args`).
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Full-screen view of the pipeline, redrawn in place (needs a terminal).
    #[arg(long)]
    pub live: bool,
    /// Stop after this long (`500ms`, `5s`, `2m`) with the same summary as Ctrl-C.
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    pub run_for: Option<Duration>,
}

/// Why a demo ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// It ran out of things to show.
    Finished,
    /// The `--for` deadline passed.
    Deadline,
    /// The user pressed Ctrl-C.
    Interrupted,
}

impl StopReason {
    pub fn describe(self, run_for: Option<Duration>) -> String {
        match self {
            StopReason::Finished => "finished".into(),
            StopReason::Deadline => format!("--for {} elapsed", run_for.map(format_duration).unwrap_or_default()),
            StopReason::Interrupted => "interrupted (Ctrl-C)".into(),
        }
    }
}

/// A [`StopSignal`] fired by Ctrl-C or by the `--for` deadline, remembering which came first.
#[derive(Clone)]
pub struct Stopper {
    pub signal: StopSignal,
    reason: Arc<Mutex<Option<StopReason>>>,
}

impl Stopper {
    /// Arms Ctrl-C and the optional deadline. Must be called inside the tokio runtime.
    pub fn arm(run_for: Option<Duration>) -> Stopper {
        let stopper = Stopper { signal: StopSignal::new(), reason: Arc::new(Mutex::new(None)) };
        let s = stopper.clone();
        tokio::spawn(async move {
            let deadline = async {
                match run_for {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            };
            let reason = tokio::select! {
                _ = tokio::signal::ctrl_c() => StopReason::Interrupted,
                _ = deadline => StopReason::Deadline,
                _ = s.signal.stopped() => return,
            };
            s.stop(reason);
        });
        stopper
    }

    /// Stops everything; the first reason given wins.
    pub fn stop(&self, reason: StopReason) {
        self.reason.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(reason);
        self.signal.stop();
    }

    pub fn is_stopped(&self) -> bool {
        self.signal.is_stopped()
    }

    /// Why it stopped ([`StopReason::Finished`] if nobody stopped it).
    pub fn reason(&self) -> StopReason {
        self.reason.lock().unwrap_or_else(|e| e.into_inner()).unwrap_or(StopReason::Finished)
    }
}

/// How steps are shown when not full-screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Text { colour: bool },
    Json,
    Quiet,
}

/// The line printer of a demo. Steps and the summary are the demo's result and go to
/// stdout; titles and notes are narration ([`Narrator`], on stderr), so `2>/dev/null`
/// keeps only the state changes.
#[derive(Debug)]
pub struct Out {
    style: Style,
    started: Instant,
    narrator: Mutex<Narrator>,
}

impl Out {
    pub fn new(global: &Global) -> Out {
        let style = if global.output == OutputFormat::Json {
            Style::Json
        } else if global.quiet {
            Style::Quiet
        } else {
            Style::Text { colour: colour_wanted(std::io::stdout().is_terminal()) }
        };
        Out { style, started: Instant::now(), narrator: Mutex::new(Narrator::new(global)) }
    }

    /// Continues the numbering of a narrator that already told earlier steps (a session's).
    pub fn with_narrator(global: &Global, narrator: Narrator) -> Out {
        let out = Out::new(global);
        *out.narrator.lock().unwrap_or_else(|e| e.into_inner()) = narrator;
        out
    }

    /// Whether steps are printed as JSON lines.
    pub fn json(&self) -> bool {
        self.style == Style::Json
    }

    /// Whether lines may be coloured.
    pub fn colour(&self) -> bool {
        matches!(self.style, Style::Text { colour: true })
    }

    /// Time since the demo started, for the `+12ms` column.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// A numbered section title (narration; not with `-o json`).
    pub fn title(&self, text: &str) {
        if !self.json() {
            self.narrator.lock().unwrap_or_else(|e| e.into_inner()).step(text);
        }
    }

    /// An explanation under a title (narration; not with `-o json`).
    pub fn note(&self, text: &str) {
        if !self.json() {
            self.narrator.lock().unwrap_or_else(|e| e.into_inner()).note(text);
        }
    }

    /// Something the reader must not miss (a fallback, a failure), on stderr.
    pub fn warn(&self, text: &str) {
        self.narrator.lock().unwrap_or_else(|e| e.into_inner()).warn(text);
    }

    /// One state change: `text` as a line, or `json()` as a JSON line; nothing with `-q`.
    pub fn step(&self, text: &str, json: impl FnOnce() -> Value) {
        match self.style {
            Style::Text { .. } => out_line(text),
            Style::Json => out_line(&json().to_string()),
            Style::Quiet => {}
        }
    }

    /// The closing summary, shown in every style.
    pub fn summary(&self, lines: &[String], json: Value) {
        match self.style {
            Style::Json => out_line(&serde_json::json!({ "summary": json }).to_string()),
            Style::Text { colour } => {
                let head = if colour { "summary".bold().green().to_string() } else { "summary".to_string() };
                out_line(&head);
                lines.iter().for_each(|l| out_line(&format!("  {l}")));
            }
            Style::Quiet => lines.iter().for_each(|l| out_line(l)),
        }
    }

    /// Whether `--live` can be honoured; explains on stderr when it cannot.
    pub fn live_possible(&self, requested: bool) -> bool {
        if !requested {
            return false;
        }
        if self.json() || !std::io::stdout().is_terminal() {
            self.warn("--live needs a terminal on stdout (and no -o json): printing plain lines instead");
            return false;
        }
        true
    }
}

/// Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org).
fn colour_wanted(is_terminal: bool) -> bool {
    is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn out_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// `5ms`, `1.5s`, `2m`: the shortest readable form, as Go prints durations.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if d.is_zero() {
        "0s".into()
    } else if ms < 1.0 {
        format!("{}µs", d.as_micros())
    } else if ms < 1000.0 {
        format!("{}ms", trim_float(ms))
    } else if ms < 60_000.0 {
        format!("{}s", trim_float(ms / 1000.0))
    } else {
        format!("{}m", trim_float(ms / 60_000.0))
    }
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_go() {
        assert_eq!(format_duration(Duration::from_millis(5)), "5ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_secs(30)), "30s");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
    }

    #[tokio::test]
    async fn the_deadline_stops_with_its_reason() {
        let s = Stopper::arm(Some(Duration::from_millis(20)));
        s.signal.stopped().await;
        assert_eq!(s.reason(), StopReason::Deadline);
        // A later stop does not rewrite history.
        s.stop(StopReason::Finished);
        assert_eq!(s.reason(), StopReason::Deadline);
    }
}
