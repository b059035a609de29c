//! One file per subcommand: each drives one layer of the stack and narrates it.

pub mod book_crd;
pub mod create_pod;
pub mod foo_controller;
pub mod get;
pub mod informer_demo;
pub mod kinds;
pub mod lessons;
pub mod list_nodes;
pub mod live;
pub mod queue_demo;
pub mod sandbox;
pub mod store_demo;
pub mod tutorial;
pub mod watch_pods;

use crate::cli::{Cli, Command, Global};
use crate::narrate::Narrator;
use crate::target::{self, wire::Journal, Target};

/// A command's failure: one readable line, and a hint where one helps.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    pub message: String,
    pub hint: Option<String>,
}

impl CommandError {
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), hint: None }
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl From<crate::sandbox::SandboxError> for CommandError {
    fn from(e: crate::sandbox::SandboxError) -> Self {
        CommandError::new(e.to_string())
    }
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<(), CommandError> {
    match cli.command {
        Command::Sandbox { action } => sandbox::run(&cli.global, action).await,
        Command::QueueDemo(args) => queue_demo::run(&cli.global, args).await,
        Command::StoreDemo(args) => store_demo::run(&cli.global, args).await,
        Command::InformerDemo(args) => informer_demo::run(&cli.global, args).await,
        Command::BookCrd(args) => book_crd::run(&cli.global, args).await,
        Command::FooController(args) => foo_controller::run(&cli.global, args).await,
        Command::ListNodes => list_nodes::run(&cli.global).await,
        Command::CreatePod { name, image } => create_pod::run(&cli.global, &name, &image).await,
        Command::Get(args) => get::run(&cli.global, &args).await,
        Command::Kinds { group } => kinds::run(&cli.global, group.as_deref()).await,
        Command::WatchPods(args) => watch_pods::run(&cli.global, &args).await,
        Command::Tutorial(args) => tutorial::run(&cli.global, args).await,
        Command::Lessons(args) => lessons::run(&cli.global, &args),
    }
}

/// What every client command starts with: a narrator, the target cluster, and a client
/// whose requests are recorded in `journal`.
pub struct Session {
    pub n: Narrator,
    pub target: Target,
    pub client: kube::Client,
    pub journal: Journal,
}

impl Session {
    pub async fn open(global: &Global) -> Result<Session, CommandError> {
        let mut n = Narrator::new(global);
        let target = target::resolve(global, &mut n).await?;
        let (client, journal) = target::connect(&target, &mut n)?;
        Ok(Session { n, target, client, journal })
    }

    /// A client error in the words of this session's target.
    pub fn explain(&self, e: kube::Error) -> CommandError {
        target::explain(e, &self.target)
    }
}
