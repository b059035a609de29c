//! Where the reader is in the course, kept in `$KUBELAB_HOME/tutorial.json` so `kubelab
//! tutorial` resumes at the same step and `kubelab lessons` can say what is done.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The next step to run, and the lessons finished so far.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// The lesson number (0: not started).
    pub lesson: u32,
    /// 0-based index of the next step in that lesson.
    pub step: usize,
    /// Lessons whose last step was reached.
    #[serde(default)]
    pub completed: Vec<u32>,
}

/// How far a reader got with one lesson, as `kubelab lessons` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LessonState {
    Done,
    InProgress,
    NotStarted,
}

impl std::fmt::Display for LessonState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LessonState::Done => "done",
            LessonState::InProgress => "in progress",
            LessonState::NotStarted => "not started",
        })
    }
}

impl Progress {
    fn file(home: &Path) -> PathBuf {
        home.join("tutorial.json")
    }

    /// The saved progress; none (or an unreadable file) is a course not started.
    pub fn load(home: &Path) -> Progress {
        std::fs::read_to_string(Progress::file(home)).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
    }

    pub fn save(&self, home: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(home)?;
        let text = serde_json::to_string(self).map_err(std::io::Error::other)?;
        // Written aside and renamed, so an interrupted write never leaves half a file.
        let tmp = home.join("tutorial.json.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(tmp, Progress::file(home))
    }

    pub fn complete(&mut self, lesson: u32) {
        if !self.completed.contains(&lesson) {
            self.completed.push(lesson);
            self.completed.sort_unstable();
        }
    }

    pub fn state(&self, lesson: u32) -> LessonState {
        if self.completed.contains(&lesson) {
            LessonState::Done
        } else if self.lesson == lesson && self.step > 0 {
            LessonState::InProgress
        } else {
            LessonState::NotStarted
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_progress_comes_back_and_old_files_still_read() {
        let home = tempfile::tempdir().unwrap();
        assert_eq!(Progress::load(home.path()), Progress::default());
        let mut p = Progress { lesson: 3, step: 2, completed: vec![] };
        p.complete(2);
        p.complete(1);
        p.complete(2);
        p.save(home.path()).unwrap();
        assert_eq!(Progress::load(home.path()), Progress { lesson: 3, step: 2, completed: vec![1, 2] });
        std::fs::write(home.path().join("tutorial.json"), r#"{"lesson":2,"step":1}"#).unwrap();
        assert_eq!(Progress::load(home.path()), Progress { lesson: 2, step: 1, completed: vec![] });
    }

    #[test]
    fn lesson_states_follow_the_place_and_the_completed_list() {
        let p = Progress { lesson: 3, step: 2, completed: vec![1] };
        let states: Vec<_> = (1..=4).map(|n| p.state(n)).collect();
        assert_eq!(states, [LessonState::Done, LessonState::NotStarted, LessonState::InProgress, LessonState::NotStarted]);
    }
}
