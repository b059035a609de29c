//! `kubelab lessons`: the course's table of contents — every lesson, a one-line summary,
//! and whether the reader has done it, is in the middle of it, or has not started.

use super::CommandError;
use crate::cli::{Global, LessonsArgs, OutputFormat};
use crate::narrate;
use crate::sandbox::daemon;
use crate::tutorial::{self, progress::Progress};

pub fn run(global: &Global, args: &LessonsArgs) -> Result<(), CommandError> {
    let lessons = tutorial::load(args.lessons_dir.as_deref()).map_err(|e| CommandError::new(e.to_string()))?;
    let progress = Progress::load(&daemon::home());
    if global.output != OutputFormat::Table {
        let doc: Vec<serde_json::Value> = lessons
            .iter()
            .map(|l| {
                serde_json::json!({
                    "number": l.number,
                    "title": l.name(),
                    "summary": l.summary(200),
                    "steps": l.steps().count(),
                    "state": progress.state(l.number).to_string(),
                })
            })
            .collect();
        narrate::print_document(global.output, &serde_json::Value::Array(doc));
        return Ok(());
    }
    let rows = lessons
        .iter()
        .map(|l| {
            let state = progress.state(l.number);
            let state = match state {
                tutorial::progress::LessonState::InProgress => format!("{state} (step {})", progress.step + 1),
                _ => state.to_string(),
            };
            vec![l.number.to_string(), l.name().to_string(), l.steps().count().to_string(), state, l.summary(70)]
        })
        .collect();
    narrate::print_result(&narrate::table(&["LESSON", "TITLE", "STEPS", "STATE", "SUMMARY"], rows));
    if !global.quiet {
        eprintln!("`kubelab tutorial` goes on where you stopped; `kubelab tutorial N` opens lesson N.");
    }
    Ok(())
}
