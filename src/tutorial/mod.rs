//! The lessons and what runs them: [`lesson`] parses the Markdown, [`expect`] compares
//! output with a step's expected block, [`runner`] runs a step's command.
//!
//! The lessons are compiled into the binary, so `kubelab tutorial` works from any
//! directory; `--lessons-dir` reads them from disk instead (to write a new one).

pub mod expect;
pub mod lesson;
pub mod progress;
pub mod pty;
pub mod render;
pub mod runner;
pub mod terminal;

use std::path::Path;

use lesson::{Lesson, LessonError};

/// The lessons shipped with kubelab, in order.
const BUILTIN: [(&str, &str); 10] = [
    ("01-basics.md", include_str!("../../lessons/01-basics.md")),
    ("02-structs-and-interfaces.md", include_str!("../../lessons/02-structs-and-interfaces.md")),
    ("03-slices-and-resources.md", include_str!("../../lessons/03-slices-and-resources.md")),
    ("04-life-of-a-request.md", include_str!("../../lessons/04-life-of-a-request.md")),
    ("05-queues-and-the-controller-loop.md", include_str!("../../lessons/05-queues-and-the-controller-loop.md")),
    ("06-stores-indexers-list-watch.md", include_str!("../../lessons/06-stores-indexers-list-watch.md")),
    ("07-informers-inside.md", include_str!("../../lessons/07-informers-inside.md")),
    ("08-custom-resources-and-controllers.md", include_str!("../../lessons/08-custom-resources-and-controllers.md")),
    ("09-a-local-cluster.md", include_str!("../../lessons/09-a-local-cluster.md")),
    ("10-automating-a-cloud-cluster.md", include_str!("../../lessons/10-automating-a-cloud-cluster.md")),
];

/// The built-in lessons, or every `NN-*.md` of `dir`, sorted by number.
pub fn load(dir: Option<&Path>) -> Result<Vec<Lesson>, LessonError> {
    let mut lessons = match dir {
        None => BUILTIN.iter().map(|(file, text)| Lesson::parse(file, text)).collect::<Result<Vec<_>, _>>()?,
        Some(dir) => {
            let entries =
                std::fs::read_dir(dir).map_err(|e| LessonError::Read { file: dir.display().to_string(), message: e.to_string() })?;
            let mut files: Vec<_> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension().is_some_and(|x| x == "md")
                        && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(|c: char| c.is_ascii_digit()))
                })
                .collect();
            files.sort();
            files.iter().map(|p| Lesson::read(p)).collect::<Result<Vec<_>, _>>()?
        }
    };
    lessons.sort_by_key(|l| l.number);
    Ok(lessons)
}

#[cfg(test)]
mod tests {
    #[test]
    fn builtin_lessons_parse_and_have_steps() {
        let lessons = super::load(None).unwrap();
        assert_eq!(lessons.iter().map(|l| l.number).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert!(lessons.iter().all(|l| l.steps().count() >= 2), "every lesson has runnable steps");
        // Each lesson ends with what to try alone and how to run it on a real cluster.
        for l in &lessons {
            let Some(super::lesson::Block::Prose(closing)) = l.blocks.last() else { panic!("{} ends with a step", l.file) };
            for wanted in ["## On your own", "## On a real cluster", "--context"] {
                assert!(closing.contains(wanted), "{} ends without {wanted:?}", l.file);
            }
        }
    }
}
