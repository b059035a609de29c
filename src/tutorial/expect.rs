//! Matching a command's output against what a lesson (or a snapshot test) expects.
//!
//! An expected line matches an output line when they are equal after collapsing runs of
//! blanks (table column widths follow the data), with `<…>` (or `<...>`) standing for any
//! text, volatile values such as ages, uids, ports and timings (including no text, and the
//! blanks beside it).

/// Why an output does not match.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Mismatch {
    #[error("expected line {index} not found (in order) in the output: {line:?}")]
    Missing { index: usize, line: String },
    #[error("line {index}: expected {expected:?}, got {actual:?}")]
    Different { index: usize, expected: String, actual: String },
    #[error("expected {expected} lines, got {actual}")]
    Count { expected: usize, actual: usize },
}

const WILDCARDS: [&str; 2] = ["<…>", "<...>"];

/// Does `line` match `pattern`?
pub fn line_matches(pattern: &str, line: &str) -> bool {
    let pattern = collapse(pattern);
    let line = collapse(line);
    let mut pieces = split_wildcards(&pattern);
    if pieces.len() == 1 {
        return pattern == line;
    }
    // Blanks next to a wildcard are part of what it may stand for: `a <…> b` matches `a b`,
    // as an empty table cell collapses to one blank.
    let last_index = pieces.len() - 1;
    for (i, piece) in pieces.iter_mut().enumerate() {
        let trimmed = match i {
            0 => piece.trim_end(),
            i if i == last_index => piece.trim_start(),
            _ => piece.trim(),
        };
        *piece = trimmed.to_string();
    }
    let first = pieces.remove(0);
    let last = pieces.pop().unwrap_or_default();
    let Some(mut rest) = line.strip_prefix(first.as_str()) else {
        return false;
    };
    for piece in pieces {
        match rest.find(piece.as_str()) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last.as_str())
}

/// Each non-blank expected line must match an output line, in order; other output lines
/// may come between them (the checker's rule for lessons).
pub fn check(expected: &str, output: &str) -> Result<(), Mismatch> {
    let mut lines = output.lines();
    for (index, want) in expected.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        if !lines.any(|got| line_matches(want, got)) {
            return Err(Mismatch::Missing { index: index + 1, line: want.to_string() });
        }
    }
    Ok(())
}

/// Line for line, nothing missing and nothing extra (blank lines ignored): for snapshots.
pub fn check_exact(expected: &str, output: &str) -> Result<(), Mismatch> {
    let want: Vec<&str> = expected.lines().filter(|l| !l.trim().is_empty()).collect();
    let got: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    for (index, (w, g)) in want.iter().zip(got.iter()).enumerate() {
        if !line_matches(w, g) {
            return Err(Mismatch::Different { index: index + 1, expected: w.to_string(), actual: g.to_string() });
        }
    }
    if want.len() != got.len() {
        return Err(Mismatch::Count { expected: want.len(), actual: got.len() });
    }
    Ok(())
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The literal pieces between wildcards (n wildcards give n + 1 pieces).
fn split_wildcards(pattern: &str) -> Vec<String> {
    let mut pieces = vec![];
    let mut rest = pattern;
    loop {
        let next = WILDCARDS.iter().filter_map(|w| rest.find(w).map(|at| (at, w.len()))).min();
        match next {
            Some((at, len)) => {
                pieces.push(rest[..at].to_string());
                rest = &rest[at + len..];
            }
            None => {
                pieces.push(rest.to_string());
                return pieces;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_stand_for_any_text() {
        assert!(line_matches("uid <…>", "uid 6f1c-22"));
        assert!(line_matches("<…> created", "pod/web created"));
        assert!(line_matches("latency <...> ms to <…>", "latency 1.2 ms to the response head"));
        assert!(line_matches("<…>", ""));
        assert!(!line_matches("uid <…>", "name web"));
        assert!(!line_matches("a<…>a", "a"));
        assert!(line_matches("FAIL x:1 <…> echo hi", "FAIL x:1   echo hi"));
    }

    #[test]
    fn blanks_are_collapsed_and_lines_anchored() {
        assert!(line_matches("NAME   ARCH OS", "NAME               ARCH    OS"));
        assert!(!line_matches("NAME", "NAME ARCH"));
    }

    #[test]
    fn check_wants_expected_lines_in_order() {
        let out = "one\ntwo\nthree\n";
        assert!(check("one\n\nthree", out).is_ok());
        assert_eq!(check("three\none", out), Err(Mismatch::Missing { index: 2, line: "one".into() }));
    }

    #[test]
    fn exact_check_rejects_extra_lines() {
        assert!(check_exact("a\n<…>\n", "a\nb\n").is_ok());
        assert_eq!(check_exact("a\n", "a\nb\n"), Err(Mismatch::Count { expected: 1, actual: 2 }));
    }
}
