//! A port of `github.com/pmezard/go-difflib` (itself Python's `difflib`), which
//! apimachinery's `diff.Diff` uses: `SequenceMatcher` with auto-junk and a unified diff
//! without file headers. Its longest-contiguous-match algorithm does not give minimal edit
//! scripts, so a textbook LCS diff prints different hunks; this follows it step by step.

use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq)]
struct Match {
    a: usize,
    b: usize,
    size: usize,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Tag {
    Equal,
    Replace,
    Delete,
    Insert,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct OpCode {
    tag: Tag,
    i1: usize,
    i2: usize,
    j1: usize,
    j2: usize,
}

struct SequenceMatcher<'a> {
    a: &'a [&'a str],
    b: &'a [&'a str],
    /// Where each line of `b` occurs, without "popular" lines (auto-junk).
    b2j: HashMap<&'a str, Vec<usize>>,
}

impl<'a> SequenceMatcher<'a> {
    fn new(a: &'a [&'a str], b: &'a [&'a str]) -> Self {
        let mut b2j: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, line) in b.iter().enumerate() {
            b2j.entry(line).or_default().push(i);
        }
        // auto-junk: in 200 lines or more, a line seen more than 1% + 1 times is ignored
        if b.len() >= 200 {
            let ntest = b.len() / 100 + 1;
            b2j.retain(|_, indices| indices.len() <= ntest);
        }
        SequenceMatcher { a, b, b2j }
    }

    /// The longest matching block in `a[alo..ahi]`, `b[blo..bhi]`, earliest in `a` then `b`,
    /// extended over popular lines on both sides.
    fn find_longest_match(&self, alo: usize, ahi: usize, blo: usize, bhi: usize) -> Match {
        let (mut besti, mut bestj, mut bestsize) = (alo, blo, 0);
        let mut j2len: HashMap<usize, usize> = HashMap::new();
        for i in alo..ahi {
            let mut new_j2len = HashMap::new();
            for &j in self.b2j.get(self.a[i]).map(Vec::as_slice).unwrap_or_default() {
                if j < blo {
                    continue;
                }
                if j >= bhi {
                    break;
                }
                let k = j.checked_sub(1).and_then(|p| j2len.get(&p)).copied().unwrap_or(0) + 1;
                new_j2len.insert(j, k);
                if k > bestsize {
                    (besti, bestj, bestsize) = (i + 1 - k, j + 1 - k, k);
                }
            }
            j2len = new_j2len;
        }
        while besti > alo && bestj > blo && self.a[besti - 1] == self.b[bestj - 1] {
            (besti, bestj, bestsize) = (besti - 1, bestj - 1, bestsize + 1);
        }
        while besti + bestsize < ahi && bestj + bestsize < bhi && self.a[besti + bestsize] == self.b[bestj + bestsize] {
            bestsize += 1;
        }
        Match { a: besti, b: bestj, size: bestsize }
    }

    fn matching_blocks(&self) -> Vec<Match> {
        let mut matched = Vec::new();
        let mut stack = vec![(0, self.a.len(), 0, self.b.len())];
        // depth-first, left before right, as the recursive original
        let mut pending: Vec<Match> = Vec::new();
        while let Some((alo, ahi, blo, bhi)) = stack.pop() {
            let m = self.find_longest_match(alo, ahi, blo, bhi);
            if m.size > 0 {
                pending.push(m);
                if m.a + m.size < ahi && m.b + m.size < bhi {
                    stack.push((m.a + m.size, ahi, m.b + m.size, bhi));
                }
                if alo < m.a && blo < m.b {
                    stack.push((alo, m.a, blo, m.b));
                }
            }
        }
        pending.sort_by_key(|m| (m.a, m.b));
        // collapse adjacent blocks
        let (mut i1, mut j1, mut k1) = (0, 0, 0);
        for m in pending {
            if i1 + k1 == m.a && j1 + k1 == m.b {
                k1 += m.size;
            } else {
                if k1 > 0 {
                    matched.push(Match { a: i1, b: j1, size: k1 });
                }
                (i1, j1, k1) = (m.a, m.b, m.size);
            }
        }
        if k1 > 0 {
            matched.push(Match { a: i1, b: j1, size: k1 });
        }
        matched.push(Match { a: self.a.len(), b: self.b.len(), size: 0 });
        matched
    }

    fn opcodes(&self) -> Vec<OpCode> {
        let (mut i, mut j) = (0, 0);
        let mut codes = Vec::new();
        for m in self.matching_blocks() {
            let tag = match (i < m.a, j < m.b) {
                (true, true) => Some(Tag::Replace),
                (true, false) => Some(Tag::Delete),
                (false, true) => Some(Tag::Insert),
                (false, false) => None,
            };
            if let Some(tag) = tag {
                codes.push(OpCode { tag, i1: i, i2: m.a, j1: j, j2: m.b });
            }
            (i, j) = (m.a + m.size, m.b + m.size);
            if m.size > 0 {
                codes.push(OpCode { tag: Tag::Equal, i1: m.a, i2: i, j1: m.b, j2: j });
            }
        }
        codes
    }

    /// Change clusters with up to `n` lines of context each.
    fn grouped_opcodes(&self, n: usize) -> Vec<Vec<OpCode>> {
        let mut codes = self.opcodes();
        if codes.is_empty() {
            codes.push(OpCode { tag: Tag::Equal, i1: 0, i2: 1, j1: 0, j2: 1 });
        }
        if let Some(c) = codes.first_mut().filter(|c| c.tag == Tag::Equal) {
            c.i1 = c.i1.max(c.i2.saturating_sub(n));
            c.j1 = c.j1.max(c.j2.saturating_sub(n));
        }
        if let Some(c) = codes.last_mut().filter(|c| c.tag == Tag::Equal) {
            c.i2 = c.i2.min(c.i1 + n);
            c.j2 = c.j2.min(c.j1 + n);
        }
        let mut groups = Vec::new();
        let mut group = Vec::new();
        for mut c in codes {
            if c.tag == Tag::Equal && c.i2 - c.i1 > 2 * n {
                group.push(OpCode { i2: c.i2.min(c.i1 + n), j2: c.j2.min(c.j1 + n), ..c });
                groups.push(std::mem::take(&mut group));
                c.i1 = c.i1.max(c.i2.saturating_sub(n));
                c.j1 = c.j1.max(c.j2.saturating_sub(n));
            }
            group.push(c);
        }
        if !matches!(group.as_slice(), [] | [OpCode { tag: Tag::Equal, .. }]) {
            groups.push(group);
        }
        groups
    }
}

/// `start,length` as unified diffs number ranges (1-based; an empty range names the line before).
fn range(start: usize, stop: usize) -> String {
    let length = stop - start;
    match length {
        1 => format!("{}", start + 1),
        0 => format!("{start},0"),
        _ => format!("{},{length}", start + 1),
    }
}

/// `difflib.GetUnifiedDiffString` of two texts split into lines, with `context` lines
/// around each change; empty when they are equal.
pub fn unified_diff(a: &str, b: &str, context: usize) -> String {
    let a: Vec<&str> = a.split('\n').collect();
    let b: Vec<&str> = b.split('\n').collect();
    let m = SequenceMatcher::new(&a, &b);
    let mut out = String::new();
    for group in m.grouped_opcodes(context) {
        let (first, last) = (group[0], group[group.len() - 1]);
        out.push_str(&format!("@@ -{} +{} @@\n", range(first.i1, last.i2), range(first.j1, last.j2)));
        for c in group {
            let mut lines = |prefix: char, text: &[&str]| {
                for line in text {
                    out.push(prefix);
                    out.push_str(line);
                    out.push('\n');
                }
            };
            if c.tag == Tag::Equal {
                lines(' ', &a[c.i1..c.i2]);
                continue;
            }
            if matches!(c.tag, Tag::Replace | Tag::Delete) {
                lines('-', &a[c.i1..c.i2]);
            }
            if matches!(c.tag, Tag::Replace | Tag::Insert) {
                lines('+', &b[c.j1..c.j2]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::unified_diff;

    /// Expected outputs are Python's `difflib.unified_diff(a, b, n=3, lineterm="")`, which
    /// go-difflib ports line for line.
    #[test]
    fn matches_python_difflib() {
        let cases: [(&str, &str, &str); 5] = [
            ("a\nb\nc\nd\ne\nf\ng\nh", "a\nb\nc\nd\nE\nf\ng\nh", "@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n"),
            ("a\nb", "a\nb", ""),
            ("a", "b", "@@ -1 +1 @@\n-a\n+b\n"),
            ("x\na\nb", "a\nb", "@@ -1,3 +1,2 @@\n-x\n a\n b\n"),
            // two changes far apart: two hunks
            (
                "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12",
                "1\nX\n3\n4\n5\n6\n7\n8\n9\n10\nY\n12",
                "@@ -1,5 +1,5 @@\n 1\n-2\n+X\n 3\n 4\n 5\n@@ -8,5 +8,5 @@\n 8\n 9\n 10\n-11\n+Y\n 12\n",
            ),
        ];
        for (a, b, want) in cases {
            assert_eq!(unified_diff(a, b, 3), want, "{a:?} -> {b:?}");
        }
    }

    /// Insertion into an empty range is numbered from the line before it.
    #[test]
    fn inserted_lines_number_the_line_before() {
        assert_eq!(unified_diff("a\nb", "a\nX\nb", 0), "@@ -1,0 +2 @@\n+X\n");
    }

    /// Longest contiguous match first, not a minimal edit script: `ab` -> `acab` is an
    /// insertion of `ac` before `ab`.
    #[test]
    fn longest_block_wins() {
        assert_eq!(unified_diff("a\nb", "a\nc\na\nb", 3), "@@ -1,2 +1,4 @@\n+a\n+c\n a\n b\n");
    }
}
