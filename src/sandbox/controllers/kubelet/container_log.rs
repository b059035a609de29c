//! What a simulated container prints: nothing runs, so its log says what would have —
//! the image it got and the command it would start — in the CRI format the kubelet's
//! log files hold ([`crate::sandbox::cri_log`]).

use std::io::Write;
use std::path::Path;

use chrono::Utc;

use super::image::Pulled;
use crate::sandbox::cri_log;

/// A command line as a shell would show it (words with spaces or quotes quoted).
pub fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            if !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c)) {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The lines a container's log starts with.
pub fn start_lines(container: &str, image: &str, pulled: &Pulled, command: &[String], args: &[String]) -> Vec<String> {
    let run = match (command.is_empty(), args.is_empty()) {
        (true, true) => format!("the entrypoint and command of image {image:?}"),
        (true, false) => format!("the entrypoint of image {image:?} with args: {}", shell_words(args)),
        _ => shell_words(&[command, args].concat()),
    };
    vec![
        format!("[kubelab] container {container:?}: image {image:?} pulled as {}", pulled.image_id),
        format!("[kubelab] container {container:?} would run: {run}"),
        "[kubelab] this sandbox simulates containers: no process runs, so this log is all it prints".to_string(),
    ]
}

/// Appends `lines` (stdout, now) to the container's log file, creating it.
pub fn append(path: &Path, lines: &[String]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    let now = Utc::now();
    let text: String = lines.iter().map(|l| cri_log::format_line(now, l)).collect();
    f.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_quoted_as_a_shell_shows_them() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(shell_words(&s(&["sh", "-c", "exit 3"])), "sh -c 'exit 3'");
        assert_eq!(shell_words(&s(&["nginx", "-g", "daemon off;"])), "nginx -g 'daemon off;'");
        assert_eq!(shell_words(&s(&["echo", "it's", ""])), r"echo 'it'\''s' ''");
    }

    #[test]
    fn the_log_is_written_in_the_cri_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c/0.log");
        let pulled = super::super::image::pull("busybox").unwrap();
        let lines = start_lines("c", "busybox", &pulled, &["sh".into(), "-c".into()], &["exit 3".into()]);
        append(&path, &lines).unwrap();
        append(&path, &["more".to_string()]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let parsed: Vec<_> = text.lines().map(|l| cri_log::parse_line(l).unwrap().content).collect();
        assert_eq!(parsed.len(), 4);
        assert_eq!(parsed[1], "[kubelab] container \"c\" would run: sh -c 'exit 3'");
        assert_eq!(parsed[3], "more");
        assert!(text.lines().all(|l| l.contains(" stdout F ")));
    }
}
