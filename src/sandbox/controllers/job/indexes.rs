//! The completion indexes of an Indexed Job: which of `0..completions` have a succeeded
//! pod, written to `status.completedIndexes` as sorted intervals (`"0-2,5"`), and which
//! pod runs which index (`batch.kubernetes.io/job-completion-index`).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Pod;

/// The annotation (and label) holding a pod's completion index.
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";

/// `getCompletionIndex`: the pod's index, if it has a valid one below `completions`.
pub fn index_of(pod: &Pod, completions: i32) -> Option<i32> {
    let text = pod.metadata.annotations.as_ref()?.get(COMPLETION_INDEX)?;
    text.parse::<i32>().ok().filter(|i| (0..completions).contains(i))
}

/// `parseIndexesFromString`: tolerant of what it cannot read (it was written by us).
pub fn parse(text: &str, completions: i32) -> BTreeSet<i32> {
    let mut out = BTreeSet::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(a), Ok(b)) = (a.parse::<i32>(), b.parse::<i32>()) {
            out.extend((a..=b.min(completions - 1)).filter(|i| *i >= 0));
        }
    }
    out
}

/// `succeededIndexes.String()`: consecutive indexes as `a-b`.
pub fn format(indexes: &BTreeSet<i32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut iter = indexes.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end = iter.next().unwrap_or(end);
        }
        parts.push(if start == end { start.to_string() } else { format!("{start}-{end}") });
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_round_trip() {
        let cases: &[(&[i32], &str)] = &[(&[], ""), (&[0], "0"), (&[0, 1, 2, 5], "0-2,5"), (&[1, 3, 4, 5, 7, 8], "1,3-5,7-8")];
        for (set, text) in cases {
            let set: BTreeSet<i32> = set.iter().copied().collect();
            assert_eq!(format(&set), *text);
            assert_eq!(parse(text, 10), set);
        }
        assert_eq!(parse("0-20", 3), BTreeSet::from([0, 1, 2]), "indexes beyond completions are dropped");
    }
}
