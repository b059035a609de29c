//! `kubelab tutorial`: the lessons, step by step, on the sandbox.
//!
//! Interactive on a terminal (Enter runs the next step; progress is kept in
//! `$KUBELAB_HOME/tutorial.json` so a reader can stop and come back); straight through with
//! `--yes` or without a terminal. `--check` runs every step and compares its output with
//! the lesson's expected block — the lessons are tested like code.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use crossterm::style::Stylize;
use serde::{Deserialize, Serialize};

use super::CommandError;
use crate::cli::Global;
use crate::sandbox::daemon;
use crate::tutorial::lesson::{Block, Lesson};
use crate::tutorial::runner::{self, StepEnv};
use crate::tutorial::{self, expect};

pub struct Options {
    pub check: bool,
    pub yes: bool,
    pub lesson: Option<u32>,
    pub restart: bool,
    pub lessons_dir: Option<PathBuf>,
}

/// Where the reader stopped: the next step to run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Progress {
    lesson: u32,
    step: usize,
}

fn progress_file(home: &Path) -> PathBuf {
    home.join("tutorial.json")
}

fn load_progress(home: &Path) -> Progress {
    std::fs::read_to_string(progress_file(home)).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
}

fn save_progress(home: &Path, p: Progress) {
    let _ = std::fs::create_dir_all(home);
    let _ = std::fs::write(progress_file(home), serde_json::to_string(&p).unwrap_or_default());
}

pub async fn run(global: &Global, opts: Options) -> Result<(), CommandError> {
    sandbox_only(global, std::env::var_os("KUBECONFIG"))?;
    let lessons = tutorial::load(opts.lessons_dir.as_deref()).map_err(|e| CommandError::new(e.to_string()))?;
    let lessons: Vec<Lesson> = lessons.into_iter().filter(|l| opts.lesson.is_none_or(|n| l.number == n)).collect();
    if lessons.is_empty() {
        return Err(CommandError::new(format!("there is no lesson {}", opts.lesson.unwrap_or(0))).hint("the lessons are numbered 1 to 4"));
    }
    let home = daemon::home();
    // The sandbox is started once up front, so no step's output depends on being first.
    let status = daemon::start_background(&home, None).await?;
    let env = StepEnv::current(home.clone()).map_err(|e| CommandError::new(format!("cannot find the kubelab executable: {e}")))?;
    if opts.check {
        check(&lessons, &env, global.quiet)
    } else {
        if !global.quiet {
            println!("sandbox: {} (KUBELAB_HOME={})", status.address.as_deref().unwrap_or("?"), home.display());
        }
        walk(&lessons, &env, &home, &opts)
    }
}

/// The lessons' expect blocks and their create/delete steps are written for the sandbox (a
/// fresh real server's watch cache, admission and RBAC answer differently), so a cluster
/// named with `--kubeconfig`, `--context` or `KUBECONFIG` is refused rather than ignored.
fn sandbox_only(global: &Global, kubeconfig_env: Option<std::ffi::OsString>) -> Result<(), CommandError> {
    let named = match (&global.kubeconfig, &global.context, kubeconfig_env.filter(|v| !v.is_empty())) {
        (Some(path), _, _) => format!("--kubeconfig {}", path.display()),
        (None, Some(context), _) => format!("--context {context}"),
        (None, None, Some(env)) => format!("KUBECONFIG={}", env.to_string_lossy()),
        (None, None, None) => return Ok(()),
    };
    Err(CommandError::new(format!("the tutorial runs on its own sandbox only, not on the cluster of {named}")).hint(
        "run `env -u KUBECONFIG kubelab tutorial` without --kubeconfig/--context; list-nodes, get, watch-pods and the demos take --kubeconfig",
    ))
}

/// Runs every step; one line per step, then the totals.
fn check(lessons: &[Lesson], env: &StepEnv, quiet: bool) -> Result<(), CommandError> {
    let (mut passed, mut failed) = (0, 0);
    for lesson in lessons {
        for step in lesson.steps() {
            let outcome =
                runner::run_step(&step.command, env).map_err(|e| CommandError::new(format!("cannot run `{}`: {e}", step.command)))?;
            let verdict = if outcome.timed_out {
                Err(format!("timed out after {} s", env.timeout.as_secs()))
            } else {
                expect::check(&step.expect, &outcome.output).map_err(|m| m.to_string())
            };
            let place = format!("{}:{}", lesson.file, step.line);
            match verdict {
                Ok(()) => {
                    passed += 1;
                    if !quiet {
                        println!("ok    {place:<36} {}", first_line(&step.command));
                    }
                }
                Err(why) => {
                    failed += 1;
                    println!("FAIL  {place:<36} {}", first_line(&step.command));
                    println!("      {why}");
                    for line in outcome.output.lines().take(60) {
                        println!("      | {line}");
                    }
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        Err(CommandError::new(format!("{failed} lesson step(s) did not produce the expected output")))
    } else {
        Ok(())
    }
}

/// Shows the lessons and runs their steps, waiting for Enter on a terminal.
fn walk(lessons: &[Lesson], env: &StepEnv, home: &Path, opts: &Options) -> Result<(), CommandError> {
    let interactive = !opts.yes && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let saved = if opts.restart || opts.lesson.is_some() { Progress::default() } else { load_progress(home) };
    if saved != Progress::default() && lessons.iter().any(|l| l.number == saved.lesson) {
        println!("(resuming at lesson {}, step {}; --restart starts over)", saved.lesson, saved.step + 1);
    }
    for lesson in lessons.iter().filter(|l| l.number >= saved.lesson) {
        let mut step_index = 0;
        for block in &lesson.blocks {
            match block {
                Block::Prose(text) => {
                    if lesson.number == saved.lesson && step_index < saved.step {
                        continue;
                    }
                    print_prose(text, colour);
                }
                Block::Step(step) => {
                    let resumed = lesson.number == saved.lesson && step_index < saved.step;
                    step_index += 1;
                    if resumed {
                        continue;
                    }
                    let prompt = format!("$ {}", step.command);
                    println!("{}", if colour { prompt.green().bold().to_string() } else { prompt });
                    if interactive {
                        print!("  [Enter] run   s skip   q quit > ");
                        std::io::stdout().flush().ok();
                        let mut answer = String::new();
                        std::io::stdin().lock().read_line(&mut answer).ok();
                        match answer.trim() {
                            "q" => {
                                save_progress(home, Progress { lesson: lesson.number, step: step_index - 1 });
                                println!("progress saved; `kubelab tutorial` resumes here");
                                return Ok(());
                            }
                            "s" => {
                                save_progress(home, Progress { lesson: lesson.number, step: step_index });
                                continue;
                            }
                            _ => {}
                        }
                    }
                    let outcome = runner::run_step(&step.command, env)
                        .map_err(|e| CommandError::new(format!("cannot run `{}`: {e}", step.command)))?;
                    print!("{}", outcome.output);
                    let verdict = match expect::check(&step.expect, &outcome.output) {
                        Ok(()) => "  ✓ as the lesson expects".to_string(),
                        Err(m) => format!("  ✗ not what the lesson expects ({m})"),
                    };
                    println!("{}\n", if colour { verdict.dark_grey().to_string() } else { verdict });
                    save_progress(home, Progress { lesson: lesson.number, step: step_index });
                }
            }
        }
        save_progress(home, Progress { lesson: lesson.number + 1, step: 0 });
    }
    println!("That was the last lesson. `kubelab tutorial --restart` starts over.");
    Ok(())
}

fn print_prose(text: &str, colour: bool) {
    for line in text.lines() {
        if colour && line.starts_with('#') {
            println!("{}", line.bold());
        } else {
            println!("{line}");
        }
    }
}

fn first_line(command: &str) -> &str {
    command.lines().next().unwrap_or("")
}
