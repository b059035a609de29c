//! `kubelab tutorial`: the lessons, step by step, on the sandbox.
//!
//! On a terminal it is a course: lessons rendered to the terminal's width, a progress line
//! on every step, one key per decision (raw mode), a step's output streamed from its own
//! pseudo-terminal, and the place kept in `$KUBELAB_HOME/tutorial.json` on every way out.
//! `--yes` (or no terminal) runs straight through. `--check` runs every step and compares
//! its output with the lesson's expected block — the lessons are tested like code.

use std::io::IsTerminal;
use std::path::PathBuf;

use crossterm::style::Stylize;

use super::CommandError;
use crate::cli::{Global, TutorialArgs};
use crate::sandbox::daemon;
use crate::tutorial::lesson::{Block, Lesson, Step};
use crate::tutorial::progress::Progress;
use crate::tutorial::render::{self, Layout};
use crate::tutorial::runner::{self, Outcome, StepEnv};
use crate::tutorial::terminal::{Key, RawTerminal, Screen};
use crate::tutorial::{self, expect};

const KEYS: &str = "Enter run · s skip · b back · r re-run · ? help · q quit";

const HELP: &str = "\
  Enter   run this step
  s       skip it (go to the next one)
  b       back to the previous step
  r       run the last step again
  ?       this help
  q       quit; `kubelab tutorial` resumes here (Ctrl-C too)
  Ctrl-C during a step stops the step, not the course.";

pub async fn run(global: &Global, args: TutorialArgs) -> Result<(), CommandError> {
    sandbox_only(global, std::env::var_os("KUBECONFIG"))?;
    let lessons = tutorial::load(args.lessons_dir.as_deref()).map_err(|e| CommandError::new(e.to_string()))?;
    let numbers = || {
        let first = lessons.first().map_or(0, |l| l.number);
        let last = lessons.last().map_or(0, |l| l.number);
        format!("the lessons are numbered {first} to {last}; `kubelab lessons` lists them")
    };
    if let Some(n) = args.lesson() {
        let Some(lesson) = lessons.iter().find(|l| l.number == n) else {
            return Err(CommandError::new(format!("there is no lesson {n}")).hint(numbers()));
        };
        let count = lesson.steps().count();
        if let Some(step) = args.step.filter(|&s| s == 0 || s > count) {
            return Err(CommandError::new(format!("lesson {n} has no step {step}")).hint(format!("its steps are 1 to {count}")));
        }
    }
    let home = daemon::home();
    // The sandbox is started once up front, so no step's output depends on being first.
    let was_running = daemon::status(&home).await.running;
    let status = daemon::start_background(&home, None).await?;
    let mut env = StepEnv::current(home.clone()).map_err(|e| CommandError::new(format!("cannot find the kubelab executable: {e}")))?;
    if args.check {
        let only: Vec<Lesson> = lessons.into_iter().filter(|l| args.lesson().is_none_or(|n| l.number == n)).collect();
        return check(&only, &env, global.quiet);
    }
    let layout = Layout::for_stdout();
    let rows = crossterm::terminal::size().map_or(40, |(_, r)| r as usize).max(10);
    env.colour = layout.colour;
    env.size = (layout.width as u16, rows as u16);
    let interactive = !args.yes && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let screen = Screen::new(interactive, std::io::stdout().is_terminal());
    if !global.quiet {
        let address = status.address.as_deref().unwrap_or("?");
        let how = if was_running { "using the sandbox already running" } else { "started the sandbox for this course" };
        screen.line(&format!("{how} at {address} (KUBELAB_HOME={})", home.display()));
        screen.line(&format!(
            "steps run {}; to type them yourself: export PATH=\"{}:$PATH\"",
            env.bin_dir.join("kubelab").display(),
            env.bin_dir.display()
        ));
    }
    let term = if interactive {
        Some(RawTerminal::enable().map_err(|e| CommandError::new(format!("cannot use the terminal: {e}")))?)
    } else {
        None
    };
    let mut course = Course::new(&lessons, env, home, screen, term, layout, rows);
    let result = course.walk(&args);
    // The terminal goes back to normal before anything else is printed.
    drop(course.term.take());
    result
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

/// A lesson cut at its steps: the prose before each step, and what follows the last.
struct Outline<'a> {
    steps: Vec<(Option<&'a str>, &'a Step)>,
    closing: Option<&'a str>,
}

impl<'a> Outline<'a> {
    fn of(lesson: &'a Lesson) -> Outline<'a> {
        let mut steps = vec![];
        let mut prose: Option<&str> = None;
        for block in &lesson.blocks {
            match block {
                Block::Prose(p) => prose = Some(p),
                Block::Step(s) => steps.push((prose.take(), s)),
            }
        }
        Outline { steps, closing: prose }
    }
}

/// What the reader chose at a prompt that ends the walk or the lesson.
#[derive(Debug, PartialEq)]
enum Flow {
    Go,
    Quit,
}

struct Course<'a> {
    lessons: &'a [Lesson],
    env: StepEnv,
    home: PathBuf,
    screen: Screen,
    term: Option<RawTerminal>,
    layout: Layout,
    rows: usize,
    progress: Progress,
    /// Whether this walk moves the saved place: not after a jump, until the reader goes on
    /// past the lesson jumped to.
    saving: bool,
}

impl<'a> Course<'a> {
    fn new(
        lessons: &'a [Lesson],
        env: StepEnv,
        home: PathBuf,
        screen: Screen,
        term: Option<RawTerminal>,
        layout: Layout,
        rows: usize,
    ) -> Self {
        let progress = Progress::load(&home);
        Course { lessons, env, home, screen, term, layout, rows, progress, saving: true }
    }

    fn walk(&mut self, args: &TutorialArgs) -> Result<(), CommandError> {
        if args.restart {
            self.progress = Progress::default();
            self.save_place(0, 0);
        }
        let saved = (self.progress.lesson, self.progress.step);
        let (mut index, mut step) = match args.lesson() {
            Some(n) => {
                let step = args.step.map_or(0, |s| s - 1);
                self.saving = (n, step) == saved;
                if !self.saving && saved.0 > 0 {
                    self.note(&format!(
                        "(lesson {n}; your place in the course, lesson {} step {}, is kept unless you go on past this lesson)",
                        saved.0,
                        saved.1 + 1
                    ));
                }
                (self.lessons.iter().position(|l| l.number == n).unwrap_or(0), step)
            }
            None if saved.0 == 0 => (0, 0),
            None => match self.lessons.iter().position(|l| l.number == saved.0) {
                Some(i) => {
                    self.note("(resuming where you stopped; --restart starts over)");
                    (i, saved.1.min(Outline::of(&self.lessons[i]).steps.len()))
                }
                None if self.lessons.last().is_some_and(|l| saved.0 > l.number) => {
                    self.screen.line(
                        "You have finished the course. `kubelab tutorial --restart` starts over; `kubelab tutorial N` opens lesson N.",
                    );
                    return Ok(());
                }
                None => (0, 0),
            },
        };
        let jumped = !self.saving;
        loop {
            let lesson = &self.lessons[index];
            if self.lesson(lesson, step)? == Flow::Quit {
                return Ok(());
            }
            let Some(next) = self.lessons.get(index + 1) else {
                if self.saving {
                    // Past the last lesson: the next `kubelab tutorial` says the course is done.
                    self.save_place(lesson.number + 1, 0);
                }
                self.screen.line(&format!(
                    "That was the last lesson ({} of {}). `kubelab tutorial --restart` starts over.",
                    lesson.number,
                    self.total()
                ));
                return Ok(());
            };
            if self.term.is_none() && jumped {
                // `--lesson N --yes` runs that lesson only.
                self.note(&format!("(`kubelab tutorial {}` opens the next lesson)", next.number));
                return Ok(());
            }
            let go = self.ask(&format!("Enter for lesson {} ({}) · q quit", next.number, next.name()), &[Key::Enter])?;
            if go != Some(Key::Enter) {
                if self.saving {
                    self.save_place(next.number, 0);
                }
                self.quit_message();
                return Ok(());
            }
            // Going on from a lesson jumped to makes it the course's place.
            self.saving = true;
            self.save_place(next.number, 0);
            index += 1;
            step = 0;
        }
    }

    /// One lesson from step `start`; Quit when the reader leaves.
    fn lesson(&mut self, lesson: &Lesson, start: usize) -> Result<Flow, CommandError> {
        let outline = Outline::of(lesson);
        let mut k = start;
        let mut last_run: Option<usize> = None;
        if start > 0 {
            self.screen.print(&render::render(&format!("# {}\n", lesson.title), self.layout));
        }
        let mut show_prose = true;
        while k < outline.steps.len() {
            let (prose, step) = outline.steps[k];
            if show_prose {
                if let Some(p) = prose {
                    if self.page(&render::render(p, self.layout))? == Flow::Quit {
                        self.save_place(lesson.number, k);
                        self.quit_message();
                        return Ok(Flow::Quit);
                    }
                }
            }
            show_prose = true;
            self.header(lesson, k, outline.steps.len(), step);
            if self.term.is_none() {
                let _ = self.run_step(step);
                k += 1;
                self.save_place(lesson.number, k);
                if self.screen.closed() {
                    return Ok(Flow::Quit);
                }
                continue;
            }
            match self.ask(KEYS, &[Key::Enter, Key::Char('s'), Key::Char('b'), Key::Char('r'), Key::Char('?')])? {
                Some(Key::Enter) => {
                    last_run = Some(k);
                    if self.run_step(step) {
                        k += 1;
                        self.save_place(lesson.number, k);
                    } else {
                        // Stopped with Ctrl-C: the reader stays at this step.
                        show_prose = false;
                    }
                }
                Some(Key::Char('s')) => {
                    self.note("(skipped)");
                    k += 1;
                    self.save_place(lesson.number, k);
                }
                Some(Key::Char('b')) if k > 0 => {
                    k -= 1;
                    last_run = None;
                    self.save_place(lesson.number, k);
                }
                Some(Key::Char('b')) => {
                    self.note("(this is the lesson's first step)");
                    show_prose = false;
                }
                Some(Key::Char('r')) => {
                    match last_run {
                        Some(j) => {
                            let _ = self.run_step(outline.steps[j].1);
                        }
                        None => self.note("(no step has run yet in this lesson; Enter runs this one)"),
                    }
                    show_prose = false;
                }
                Some(Key::Char('?')) => {
                    self.screen.line(HELP);
                    show_prose = false;
                }
                _ => {
                    self.save_place(lesson.number, k);
                    self.quit_message();
                    return Ok(Flow::Quit);
                }
            }
        }
        self.progress.complete(lesson.number);
        self.save_place(lesson.number, k);
        if let Some(closing) = outline.closing {
            if self.page(&render::render(closing, self.layout))? == Flow::Quit {
                self.quit_message();
                return Ok(Flow::Quit);
            }
        }
        let done = format!("✓ lesson {}/{} done: {}", lesson.number, self.total(), lesson.name());
        self.screen.line(&if self.layout.colour { done.green().bold().to_string() } else { done });
        Ok(Flow::Go)
    }

    fn total(&self) -> u32 {
        self.lessons.last().map_or(0, |l| l.number)
    }

    /// `lesson 3/10 · step 4/11 · title`, then the command as it would be typed.
    fn header(&self, lesson: &Lesson, k: usize, count: usize, step: &Step) {
        let place = format!("lesson {}/{} · step {}/{} · ", lesson.number, self.total(), k + 1, count);
        let line =
            if self.layout.colour { format!("{}{}", place.dark_grey(), lesson.name().bold()) } else { format!("{place}{}", lesson.name()) };
        self.screen.line("");
        self.screen.line(&line);
        for (i, text) in render::wrap_shell(&step.command, self.layout.width.saturating_sub(2)).iter().enumerate() {
            let text = if i == 0 { format!("$ {text}") } else { format!("  {text}") };
            self.screen.line(&if self.layout.colour { text.green().bold().to_string() } else { text });
        }
    }

    /// Runs a step live, then says whether its output is what the lesson expects; false if
    /// the reader stopped it.
    fn run_step(&self, step: &Step) -> bool {
        let screen = &self.screen;
        let term = self.term.as_ref();
        let mut show = |bytes: &[u8]| screen.raw_bytes(bytes);
        // Keys typed while the step runs are read here and dropped; Ctrl-C stops the step.
        let mut stop = || matches!(term.map(|t| t.typed()), Some(Ok(Some(Key::Interrupt))));
        let outcome = runner::run_live(&step.command, &self.env, &mut show, &mut stop);
        self.screen.end_of_step();
        let stopped = matches!(outcome, Ok(Outcome { interrupted: true, .. }));
        let verdict = match outcome {
            Err(e) => format!("  ✗ cannot run the step: {e}"),
            Ok(Outcome { interrupted: true, .. }) => "  ■ stopped (Ctrl-C); Enter runs it again".to_string(),
            Ok(Outcome { timed_out: true, .. }) => format!("  ✗ stopped after {} s", self.env.timeout.as_secs()),
            Ok(o) => match expect::check(&step.expect, &o.output) {
                Ok(()) => "  ✓ as the lesson expects".to_string(),
                Err(m) => format!("  ✗ not what the lesson expects ({m})"),
            },
        };
        self.screen.line(&if self.layout.colour { verdict.dark_grey().to_string() } else { verdict });
        self.screen.line("");
        !stopped
    }

    /// Shows rendered text a screen at a time on a terminal; Quit if the reader leaves.
    fn page(&self, text: &str) -> Result<Flow, CommandError> {
        let lines: Vec<&str> = text.lines().collect();
        let height = self.rows.saturating_sub(4).max(5);
        if self.term.is_none() || lines.len() <= height + 2 {
            self.screen.print(text);
            return Ok(Flow::Go);
        }
        for (i, chunk) in lines.chunks(height).enumerate() {
            if i > 0 {
                match self.ask("── more: Enter or space for the next page · q quit", &[Key::Enter, Key::Space])? {
                    Some(_) => {}
                    None => return Ok(Flow::Quit),
                }
            }
            for line in chunk {
                self.screen.line(line);
            }
        }
        Ok(Flow::Go)
    }

    /// Prompts until one of `keys` (Some) or q / Ctrl-C (None); other keys re-prompt.
    /// Without a terminal it answers Enter at once.
    fn ask(&self, prompt: &str, keys: &[Key]) -> Result<Option<Key>, CommandError> {
        let Some(term) = &self.term else {
            return Ok(Some(Key::Enter));
        };
        let io = |e: std::io::Error| CommandError::new(format!("cannot read the terminal: {e}"));
        term.discard_typed().map_err(io)?;
        let shown = if self.layout.colour { format!("{}", prompt.reverse()) } else { prompt.to_string() };
        self.screen.print(&format!("{shown} "));
        loop {
            let key = term.key().map_err(io)?;
            if keys.contains(&key) {
                self.screen.print("\r\x1b[2K");
                return Ok(Some(key));
            }
            if matches!(key, Key::Char('q') | Key::Interrupt) {
                self.screen.print("\r\x1b[2K");
                return Ok(None);
            }
            self.screen.print(&format!("\r\x1b[2K{shown} "));
        }
    }

    fn note(&self, text: &str) {
        self.screen.line(&if self.layout.colour { text.dark_grey().to_string() } else { text.to_string() });
    }

    fn quit_message(&self) {
        let p = &self.progress;
        self.screen.line(&format!("progress saved (lesson {}, step {}); `kubelab tutorial` resumes there", p.lesson, p.step + 1));
    }

    /// Records the place (unless this walk jumped away from it) and writes the file.
    fn save_place(&mut self, lesson: u32, step: usize) {
        if self.saving {
            self.progress.lesson = lesson;
            self.progress.step = step;
        }
        if let Err(e) = self.progress.save(&self.home) {
            self.screen.line(&format!("warning: cannot save the tutorial's progress in {}: {e}", self.home.display()));
        }
    }
}

fn first_line(command: &str) -> &str {
    command.lines().next().unwrap_or("")
}
