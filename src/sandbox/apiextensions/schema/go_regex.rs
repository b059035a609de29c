//! Schema `pattern`s are Go regular expressions (RE2). The `regex` crate speaks the same
//! syntax with two differences this module removes: Go's `\d`, `\w`, `\s` and `\b` are
//! ASCII-only, and Go words compile errors its own way.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use regex::Regex;

/// The ASCII classes Go gives the Perl escapes (the contents of a bracket expression).
fn ascii_class(c: char) -> Option<&'static str> {
    match c {
        'd' => Some("0-9"),
        'w' => Some("0-9A-Za-z_"),
        's' => Some(r"\t\n\x0C\r "),
        _ => None,
    }
}

/// Rewrites the Perl classes of `pattern` to their ASCII meaning, leaving the rest alone.
fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    out.push('\\');
                    break;
                };
                let lower = next.to_ascii_lowercase();
                match (ascii_class(lower), next.is_ascii_uppercase(), in_class) {
                    (Some(set), false, false) => out.push_str(&format!("[{set}]")),
                    (Some(set), false, true) => out.push_str(set),
                    (Some(set), true, false) => out.push_str(&format!("[^{set}]")),
                    _ if next == 'b' && !in_class => out.push_str(r"(?-u:\b)"),
                    _ if next == 'B' && !in_class => out.push_str(r"(?-u:\B)"),
                    _ => {
                        out.push('\\');
                        out.push(next);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // A leading `^` and a leading `]` belong to the class.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push(']');
                    chars.next();
                }
            }
            '[' if in_class && chars.peek() == Some(&':') => {
                // `[:alpha:]` inside a class.
                out.push('[');
                for c in chars.by_ref() {
                    out.push(c);
                    if c == ']' {
                        break;
                    }
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            _ => out.push(c),
        }
    }
    out
}

/// The compiled `pattern` (cached: every CR of a kind runs the same patterns).
pub fn compiled(pattern: &str) -> Result<Regex, regex::Error> {
    static CACHE: OnceLock<Mutex<HashMap<String, Regex>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(re) = cache.lock().ok().and_then(|c| c.get(pattern).cloned()) {
        return Ok(re);
    }
    let re = Regex::new(&translate(pattern))?;
    if let Ok(mut c) = cache.lock() {
        c.insert(pattern.to_string(), re.clone());
    }
    Ok(re)
}

/// Why Go's regexp would not compile `pattern`, worded as Go words it
/// (``error parsing regexp: missing closing ): `(` ``), or `None` if it compiles.
pub fn pattern_error(pattern: &str) -> Option<String> {
    let err = compiled(pattern).err()?.to_string();
    const CODES: &[(&str, &str)] = &[
        ("unclosed group", "missing closing )"),
        ("unopened group", "unexpected )"),
        ("unclosed character class", "missing closing ]"),
        ("repetition operator missing expression", "missing argument to repetition operator"),
        ("invalid character class range", "invalid character class range"),
        ("incomplete escape sequence", "trailing backslash at end of expression"),
        ("escape", "invalid escape sequence"),
        ("repetition", "invalid repeat count"),
        ("decimal", "invalid repeat count"),
        ("capture group name", "invalid named capture"),
    ];
    let code = CODES.iter().find(|(needle, _)| err.contains(needle)).map_or("invalid or unsupported Perl syntax", |(_, code)| code);
    Some(format!("error parsing regexp: {code}: `{pattern}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perl_classes_are_ascii_as_in_go() {
        let cases: &[(&str, &str, bool)] = &[
            (r"^\d+$", "123", true),
            (r"^\d+$", "١٢٣", false), // Arabic-Indic digits: Unicode \d, not Go's
            (r"^[\d-]+$", "1-2", true),
            (r"^\w+$", "abc_1", true),
            (r"^\w+$", "äbc", false),
            (r"^\S+$", "a b", false),
            (r"^\D$", "a", true),
            (r"\bcat\b", "a cat!", true),
            (r"^[^\d]+$", "abc", true),
            (r"^[[:alpha:]]+$", "abc", true),
            (r"^\.$", ".", true),
        ];
        for (pattern, s, want) in cases {
            let re = compiled(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
            assert_eq!(re.is_match(s), *want, "{pattern} on {s:?}");
        }
    }

    #[test]
    fn compile_errors_in_go_words() {
        let cases: &[(&str, Option<&str>)] = &[
            ("^a$", None),
            ("(", Some("error parsing regexp: missing closing ): `(`")),
            ("a)", Some("error parsing regexp: unexpected ): `a)`")),
            ("[a", Some("error parsing regexp: missing closing ]: `[a`")),
            ("*", Some("error parsing regexp: missing argument to repetition operator: `*`")),
        ];
        for (pattern, want) in cases {
            assert_eq!(pattern_error(pattern).as_deref(), *want, "{pattern}");
        }
    }
}
