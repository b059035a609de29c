//! Every flag of every command, in one place (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "kubelab", version, about = "How a Kubernetes client really works, run layer by layer", propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command understands.
#[derive(Debug, Args, Clone)]
pub struct Global {
    /// Use this kubeconfig instead of the sandbox (also KUBECONFIG).
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// Use this context of the kubeconfig.
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// Namespace to work in.
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
    /// Output format of the result.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Print only the result, no narration.
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run and manage the embedded API server every lesson uses.
    Sandbox {
        #[command(subcommand)]
        action: SandboxAction,
    },
    /// The work queue of "Understanding Kubernetes controllers" I, its state after every step.
    QueueDemo(crate::commands::queue_demo::Args),
    /// The books store of post II: key function, indexer, an index by author, listers.
    StoreDemo(crate::commands::store_demo::Args),
}

#[derive(Debug, Subcommand)]
pub enum SandboxAction {
    /// Start the sandbox in the background (no-op when it already runs).
    Start {
        /// Stay attached and log each request on stderr.
        #[arg(long)]
        foreground: bool,
        /// Port on 127.0.0.1 (default: the last one used, else a free one).
        #[arg(long)]
        port: Option<u16>,
    },
    /// Stop the background sandbox.
    Stop,
    /// Is it up? Address, data directory, object count, current resourceVersion.
    Status,
    /// Print `export KUBECONFIG=...` for `eval "$(kubelab sandbox env)"`.
    Env,
    /// Stop the sandbox and delete all of its data.
    Reset {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}
