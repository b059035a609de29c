//! Lessons are Markdown files; a runnable step is a fenced block opened with ` ```sh step `
//! holding one command, immediately followed by a ` ```text expect ` block holding what the
//! reader should see. Everything else is prose, shown as written.

use std::path::Path;

/// One lesson file, split into prose and steps in reading order.
#[derive(Debug, Clone)]
pub struct Lesson {
    /// From the file name's leading digits: `02-structs.md` is lesson 2.
    pub number: u32,
    pub file: String,
    /// The first `# ` heading.
    pub title: String,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Prose(String),
    Step(Step),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub command: String,
    pub expect: String,
    /// 1-based line of the ` ```sh step ` fence, for messages.
    pub line: usize,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LessonError {
    #[error("{file}:{line}: a ```sh step block must be followed by a ```text expect block")]
    MissingExpect { file: String, line: usize },
    #[error("{file}:{line}: this fenced block is never closed")]
    Unclosed { file: String, line: usize },
    #[error("{file}:{line}: a step holds one command, and this one is empty")]
    EmptyStep { file: String, line: usize },
    #[error("{file}: the name must start with the lesson number, as in 01-basics.md")]
    NoNumber { file: String },
    #[error("cannot read {file}: {message}")]
    Read { file: String, message: String },
}

impl Lesson {
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Step(s) => Some(s),
            Block::Prose(_) => None,
        })
    }

    /// The title without its `Lesson N — ` prefix.
    pub fn name(&self) -> &str {
        let t = self.title.as_str();
        match t.split_once(" — ").or_else(|| t.split_once(" - ")) {
            Some((head, rest)) if head.to_ascii_lowercase().starts_with("lesson") => rest.trim(),
            _ => t,
        }
    }

    /// The first sentence of the introduction, Markdown taken out, at most `max` characters.
    pub fn summary(&self, max: usize) -> String {
        let intro = match self.blocks.first() {
            Some(Block::Prose(p)) => p.as_str(),
            _ => "",
        };
        let plain = super::render::render(intro, super::render::Layout { width: 100_000, colour: false });
        let paragraph = plain
            .lines()
            .skip_while(|l| l.trim() != self.title)
            .skip(1)
            .find(|l| !l.trim().is_empty() && !l.chars().all(|c| c == '═'))
            .unwrap_or("");
        let sentence = paragraph.split_inclusive(". ").next().unwrap_or("").trim();
        if sentence.chars().count() <= max {
            sentence.to_string()
        } else {
            let cut: String = sentence.chars().take(max.saturating_sub(1)).collect();
            format!("{}…", cut.trim_end())
        }
    }

    pub fn read(path: &Path) -> Result<Lesson, LessonError> {
        let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let text =
            std::fs::read_to_string(path).map_err(|e| LessonError::Read { file: path.display().to_string(), message: e.to_string() })?;
        Lesson::parse(&file, &text)
    }

    pub fn parse(file: &str, text: &str) -> Result<Lesson, LessonError> {
        let digits: String = file.chars().take_while(|c| c.is_ascii_digit()).collect();
        let number = digits.parse().map_err(|_| LessonError::NoNumber { file: file.to_string() })?;
        let title = text.lines().find_map(|l| l.strip_prefix("# ")).unwrap_or(file).trim().to_string();
        let lines: Vec<&str> = text.lines().collect();
        let mut blocks = Vec::new();
        let mut prose = String::new();
        let mut i = 0;
        while i < lines.len() {
            let info = fence_info(lines[i]);
            match info {
                Some(info) if is_step(info) => {
                    let start = i;
                    let (command, next) = fenced(file, &lines, i)?;
                    if command.trim().is_empty() {
                        return Err(LessonError::EmptyStep { file: file.to_string(), line: start + 1 });
                    }
                    let mut j = next;
                    while j < lines.len() && lines[j].trim().is_empty() {
                        j += 1;
                    }
                    if j >= lines.len() || !fence_info(lines[j]).is_some_and(is_expect) {
                        return Err(LessonError::MissingExpect { file: file.to_string(), line: start + 1 });
                    }
                    let (expect, after) = fenced(file, &lines, j)?;
                    if !prose.trim().is_empty() {
                        blocks.push(Block::Prose(std::mem::take(&mut prose)));
                    }
                    prose.clear();
                    blocks.push(Block::Step(Step { command: command.trim().to_string(), expect, line: start + 1 }));
                    i = after;
                }
                Some(_) => {
                    // Any other fenced block is prose, copied with its fences.
                    let (body, after) = fenced(file, &lines, i)?;
                    prose.push_str(lines[i]);
                    prose.push('\n');
                    prose.push_str(&body);
                    prose.push_str("```\n");
                    i = after;
                }
                None => {
                    prose.push_str(lines[i]);
                    prose.push('\n');
                    i += 1;
                }
            }
        }
        if !prose.trim().is_empty() {
            blocks.push(Block::Prose(prose));
        }
        Ok(Lesson { number, file: file.to_string(), title, blocks })
    }
}

/// The info string of a fence line (` ```sh step ` -> `sh step`), if it is one.
fn fence_info(line: &str) -> Option<&str> {
    line.trim_start().strip_prefix("```").map(str::trim)
}

fn is_step(info: &str) -> bool {
    let mut words = info.split_whitespace();
    matches!(words.next(), Some("sh" | "shell" | "bash")) && words.any(|w| w == "step")
}

fn is_expect(info: &str) -> bool {
    let mut words = info.split_whitespace();
    words.next() == Some("text") && words.any(|w| w == "expect")
}

/// The body of the fenced block opening at `open`, and the index after its closing fence.
fn fenced(file: &str, lines: &[&str], open: usize) -> Result<(String, usize), LessonError> {
    let mut body = String::new();
    for (k, line) in lines.iter().enumerate().skip(open + 1) {
        if line.trim() == "```" {
            return Ok((body, k + 1));
        }
        body.push_str(line);
        body.push('\n');
    }
    Err(LessonError::Unclosed { file: file.to_string(), line: open + 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# Basics\n\nSome prose.\n\n```sh step\nkubelab list-nodes\n```\n\n```text expect\nNAME ARCH OS\n<…>\n```\n\n```sh\nkubectl get nodes\n```\n\nMore prose.\n";

    #[test]
    fn splits_prose_and_steps() {
        let l = Lesson::parse("01-basics.md", SAMPLE).unwrap();
        assert_eq!((l.number, l.title.as_str()), (1, "Basics"));
        let steps: Vec<_> = l.steps().collect();
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].command, "kubelab list-nodes");
        assert_eq!(steps[0].expect, "NAME ARCH OS\n<…>\n");
        assert_eq!(steps[0].line, 5);
        match &l.blocks[2] {
            Block::Prose(p) => {
                assert!(p.contains("```sh\nkubectl get nodes\n```") && p.contains("More prose."))
            }
            other => panic!("expected prose, got {other:?}"),
        }
    }

    #[test]
    fn name_and_summary_come_from_the_title_and_the_first_sentence() {
        let l = Lesson::parse("04-x.md", "# Lesson 4 — The life of a request\n\nA *request* goes `down`. Then it comes back.\n").unwrap();
        assert_eq!(l.name(), "The life of a request");
        assert_eq!(l.summary(80), "A request goes down.");
        assert_eq!(l.summary(10), "A request…");
    }

    #[test]
    fn a_step_without_expect_is_an_error() {
        let e = Lesson::parse("02-x.md", "```sh step\nls\n```\n\nprose\n").unwrap_err();
        assert_eq!(e, LessonError::MissingExpect { file: "02-x.md".into(), line: 1 });
    }

    #[test]
    fn unclosed_blocks_and_unnumbered_files_are_errors() {
        assert!(matches!(Lesson::parse("03-x.md", "```sh step\nls\n"), Err(LessonError::Unclosed { line: 1, .. })));
        assert!(matches!(Lesson::parse("intro.md", "# x"), Err(LessonError::NoNumber { .. })));
    }
}
