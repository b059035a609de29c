//! The voice every client command speaks with.
//!
//! A command's *result* (a table, a JSON document) goes to stdout; the *narration* — which
//! layer of the client stack did what — goes to stderr, so `kubelab list-nodes -o json | jq`
//! and `kubelab list-nodes 2>/dev/null` both see only the result. Narration is made of
//! numbered steps with indented `key  value` details; levels come from `--explain` (0 =
//! nothing, 1 = step titles, 2 = details) and `-q` forces 0.
//!
//! The layout is fixed (a step title, then details indented by four spaces, keys padded to
//! one width) so tests can snapshot it with the volatile values (ports, uids, timings)
//! masked.

use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use crossterm::style::Stylize;

use crate::cli::{Global, OutputFormat};
use crate::target::wire::Exchange;

/// Width the detail keys are padded to.
const KEY_WIDTH: usize = 18;

/// Narrates one command run.
#[derive(Debug)]
pub struct Narrator {
    level: u8,
    color: bool,
    step: usize,
    output: OutputFormat,
}

impl Narrator {
    pub fn new(global: &Global) -> Narrator {
        let level = if global.quiet { 0 } else { global.explain };
        Narrator { level, color: colour_wanted(std::io::stderr().is_terminal()), step: 0, output: global.output }
    }

    /// Whether the result should be printed as a table (and plain text) rather than JSON/YAML.
    pub fn output(&self) -> OutputFormat {
        self.output
    }

    /// Whether step details are shown; lets a command skip work only done to be narrated.
    pub fn detailed(&self) -> bool {
        self.level >= 2
    }

    /// Colours may be used on stdout too (tables), under the same rules.
    pub fn stdout_colour(&self) -> bool {
        colour_wanted(std::io::stdout().is_terminal())
    }

    /// Starts a numbered step: `[3] request sent`.
    pub fn step(&mut self, title: impl Display) {
        if self.level == 0 {
            return;
        }
        self.step += 1;
        let head = format!("[{}]", self.step);
        let line = if self.color { format!("{} {}", head.cyan().bold(), title.to_string().bold()) } else { format!("{head} {title}") };
        emit(&line);
    }

    /// One `key  value` detail of the current step.
    pub fn detail(&self, key: &str, value: impl Display) {
        if self.level < 2 {
            return;
        }
        let key = format!("{key:<KEY_WIDTH$}");
        let key = if self.color { key.dark_grey().to_string() } else { key };
        for (i, line) in value.to_string().lines().enumerate() {
            if i == 0 {
                emit(&format!("    {key} {line}"));
            } else {
                emit(&format!("    {:KEY_WIDTH$} {line}", ""));
            }
        }
    }

    /// A sentence explaining the step (the "why" a reader needs).
    pub fn note(&self, text: impl Display) {
        if self.level < 2 {
            return;
        }
        for line in text.to_string().lines() {
            let line = format!("    {line}");
            emit(&if self.color { line.italic().to_string() } else { line });
        }
    }

    /// A block shown verbatim under the step (a Debug value, a JSON body), indented.
    pub fn block(&self, text: impl Display) {
        if self.level < 2 {
            return;
        }
        for line in text.to_string().lines() {
            emit(&format!("      {line}"));
        }
    }

    /// A line that stands on its own between steps (a watch event, a warning); shown from
    /// level 1.
    pub fn event(&self, text: impl Display) {
        if self.level == 0 {
            return;
        }
        emit(&text.to_string());
    }

    /// A line that warns about something unexpected, shown at every level but 0.
    pub fn warn(&self, text: impl Display) {
        if self.level == 0 {
            return;
        }
        let line = format!("    ! {text}");
        emit(&if self.color { line.yellow().to_string() } else { line });
    }
}

impl Narrator {
    /// The request half of an exchange: method, path, and (with `headers`) what was sent.
    pub fn request(&self, ex: &Exchange, headers: bool) {
        self.detail("request", format!("{} {}", ex.method, ex.path_and_query()));
        if headers {
            for (k, v) in &ex.request_headers {
                self.detail(&format!("  {k}"), v);
            }
            if ex.request_headers.is_empty() {
                self.detail("  (headers)", "none: kube sets Accept only where it negotiates (discovery)");
            }
            if ex.request_bytes > 0 {
                self.detail("  body", bytes(ex.request_bytes));
            }
        }
    }

    /// The response half: status, protocol, size and timing; with `headers`, all of them.
    pub fn response(&self, ex: &Exchange, headers: bool) {
        match (ex.status, &ex.error) {
            (Some(code), _) => {
                let reason = http::StatusCode::from_u16(code).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
                self.detail("status", format!("{code} {reason} over {}", ex.version.as_deref().unwrap_or("?")));
            }
            (None, Some(e)) => self.detail("error", e),
            (None, None) => self.detail("status", "no answer yet"),
        }
        if headers {
            for (k, v) in &ex.response_headers {
                self.detail(&format!("  {k}"), v);
            }
        }
        self.detail("body", bytes(ex.bytes));
        if let Some(l) = ex.latency {
            self.detail(
                "latency",
                format!(
                    "{} to the response head{}",
                    duration(l),
                    ex.complete.map(|c| format!(", {} to the last byte", duration(c))).unwrap_or_default()
                ),
            );
        }
    }
}

/// A kubectl-like table: no borders, columns three spaces apart, no trailing blanks.
pub fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING);
    t.set_content_arrangement(comfy_table::ContentArrangement::Disabled);
    t.set_header(headers.iter().copied());
    for row in rows {
        t.add_row(row);
    }
    for column in t.column_iter_mut() {
        column.set_padding((0, 3));
    }
    let mut out = String::new();
    for line in t.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Prints the result text on stdout.
pub fn print_result(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// `1.2 ms`, `340 µs`, `2.5 s`: one decimal, the unit a reader expects.
pub fn duration(d: Duration) -> String {
    let micros = d.as_micros();
    if micros < 1000 {
        format!("{micros} µs")
    } else if micros < 1_000_000 {
        format!("{:.1} ms", micros as f64 / 1000.0)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// `1234 bytes` / `1.2 KiB`.
pub fn bytes(n: usize) -> String {
    if n < 1024 {
        format!("{n} bytes")
    } else {
        format!("{:.1} KiB ({n} bytes)", n as f64 / 1024.0)
    }
}

/// Prints the result document as JSON or YAML on stdout.
pub fn print_document(format: OutputFormat, value: &serde_json::Value) {
    let text = match format {
        OutputFormat::Yaml => serde_saphyr::to_string(value).unwrap_or_else(|e| format!("# cannot render YAML: {e}\n")),
        _ => serde_json::to_string_pretty(value).unwrap_or_default() + "\n",
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org).
fn colour_wanted(is_terminal: bool) -> bool {
    is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn emit(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_pick_a_readable_unit() {
        assert_eq!(duration(Duration::from_micros(340)), "340 µs");
        assert_eq!(duration(Duration::from_micros(1250)), "1.2 ms");
        assert_eq!(duration(Duration::from_millis(2500)), "2.5 s");
    }

    #[test]
    fn byte_counts_switch_to_kib() {
        assert_eq!(bytes(12), "12 bytes");
        assert_eq!(bytes(2048), "2.0 KiB (2048 bytes)");
    }
}
