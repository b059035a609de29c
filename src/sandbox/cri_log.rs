//! The CRI container log format, as containerd writes it and the kubelet reads it
//! (`pkg/kubelet/kuberuntime/logs/logs.go`): one line per write,
//! `<RFC3339Nano timestamp> <stream> <tag> <content>`, where the tag is `F` for a full line
//! and `P` for a partial one. The simulated kubelet writes these files and the server's
//! `pods/log` reads them back, so both ends share this one definition.

use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};

/// Where a container's log lives under the sandbox's data directory, as the kubelet lays
/// out `/var/log/pods`: `pods/<namespace>_<name>_<uid>/<container>/<restart>.log`, one
/// file per run of the container (`restart` is its restartCount then).
pub fn path(data_dir: &Path, namespace: &str, name: &str, uid: &str, container: &str, restart: i32) -> PathBuf {
    pod_dir(data_dir, namespace, name, uid).join(container).join(format!("{restart}.log"))
}

/// The directory holding every container log of one pod.
pub fn pod_dir(data_dir: &Path, namespace: &str, name: &str, uid: &str) -> PathBuf {
    data_dir.join("pods").join(format!("{namespace}_{name}_{uid}"))
}

/// One parsed log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub time: DateTime<Utc>,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// The content, without its trailing newline; `partial` when the tag is `P`.
    pub content: String,
    pub partial: bool,
}

/// Formats one full stdout line as containerd writes it (with the newline).
pub fn format_line(time: DateTime<Utc>, content: &str) -> String {
    format!("{} stdout F {content}\n", time.to_rfc3339_opts(SecondsFormat::Nanos, true))
}

/// Why a line is not CRI-formatted (`parseCRILog`'s errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("timestamp is not found")]
    NoTimestamp,
    #[error("unexpected timestamp format {0:?}")]
    BadTimestamp(String),
    #[error("stream type is not found")]
    NoStream,
    #[error("unexpected stream type {0:?}")]
    BadStream(String),
    #[error("log tag is not found")]
    NoTag,
}

/// `parseCRILog`: splits one line into its parts.
pub fn parse_line(line: &str) -> Result<Entry, ParseError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let (ts, rest) = line.split_once(' ').ok_or(ParseError::NoTimestamp)?;
    let time = DateTime::parse_from_rfc3339(ts).map_err(|_| ParseError::BadTimestamp(ts.to_string()))?.with_timezone(&Utc);
    let (stream, rest) = rest.split_once(' ').ok_or(ParseError::NoStream)?;
    if stream != "stdout" && stream != "stderr" {
        return Err(ParseError::BadStream(stream.to_string()));
    }
    let (tag, content) = match rest.split_once(' ') {
        Some((tag, content)) => (tag, content),
        None if !rest.is_empty() => (rest, ""),
        None => return Err(ParseError::NoTag),
    };
    let partial = tag.split(':').next() == Some("P");
    Ok(Entry { time, stream: stream.to_string(), content: content.to_string(), partial })
}

impl Entry {
    /// What `kubectl logs` receives for this line: the content, after the RFC3339Nano
    /// timestamp and a space with `timestamps=true` (the kubelet's `writeLogs`).
    pub fn render(&self, timestamps: bool) -> String {
        let newline = if self.partial { "" } else { "\n" };
        if timestamps {
            format!("{} {}{newline}", self.time.to_rfc3339_opts(SecondsFormat::Nanos, true), self.content)
        } else {
            format!("{}{newline}", self.content)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_through_the_cri_format() {
        let t = DateTime::parse_from_rfc3339("2026-12-06T20:45:13.123456789Z").unwrap().with_timezone(&Utc);
        let line = format_line(t, "hello world");
        assert_eq!(line, "2026-12-06T20:45:13.123456789Z stdout F hello world\n");
        let e = parse_line(&line).unwrap();
        assert_eq!(e, Entry { time: t, stream: "stdout".into(), content: "hello world".into(), partial: false });
        assert_eq!(e.render(false), "hello world\n");
        assert_eq!(e.render(true), "2026-12-06T20:45:13.123456789Z hello world\n");
    }

    #[test]
    fn parse_follows_parse_cri_log() {
        // (line, Ok((stream, content, partial)) or the error)
        type Case<'a> = (&'a str, Result<(&'a str, &'a str, bool), ParseError>);
        let cases: &[Case] = &[
            ("2026-01-01T00:00:00Z stderr P part", Ok(("stderr", "part", true))),
            ("2026-01-01T00:00:00Z stdout F ", Ok(("stdout", "", false))),
            ("2026-01-01T00:00:00Z stdout F", Ok(("stdout", "", false))),
            ("2026-01-01T00:00:00Z stdout F a b  c", Ok(("stdout", "a b  c", false))),
            ("nonsense", Err(ParseError::NoTimestamp)),
            ("yesterday stdout F x", Err(ParseError::BadTimestamp("yesterday".into()))),
            ("2026-01-01T00:00:00Z", Err(ParseError::NoTimestamp)),
            ("2026-01-01T00:00:00Z stdin F x", Err(ParseError::BadStream("stdin".into()))),
            ("2026-01-01T00:00:00Z stdout", Err(ParseError::NoStream)),
        ];
        for (line, want) in cases {
            let got = parse_line(line).map(|e| (e.stream, e.content, e.partial));
            let want = want.clone().map(|(s, c, p)| (s.to_string(), c.to_string(), p));
            assert_eq!(got, want, "{line}");
        }
    }

    #[test]
    fn the_path_is_the_kubelets_layout() {
        let p = path(Path::new("/d"), "default", "web", "u-1", "nginx", 0);
        assert_eq!(p, PathBuf::from("/d/pods/default_web_u-1/nginx/0.log"));
        assert_eq!(path(Path::new("/d"), "ns", "p", "u", "c", 2), PathBuf::from("/d/pods/ns_p_u/c/2.log"));
    }
}
