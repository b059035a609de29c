//! One file per subcommand: each drives one layer of the stack and narrates it.

pub mod live;
pub mod queue_demo;
pub mod sandbox;
pub mod store_demo;

use crate::cli::{Cli, Command};

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
    }
}
