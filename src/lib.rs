//! kubelab: how a Kubernetes client really works, run layer by layer.
//!
//! `sandbox` is the embedded API server, `machinery` client-go's controller pieces in
//! Rust, `commands` the subcommands that drive and narrate them.

pub mod cli;
pub mod commands;
pub mod machinery;
pub mod narrate;
pub mod sandbox;
pub mod target;
pub mod tutorial;

/// Parses the command line, runs the command, and turns any failure into one line on
/// stderr (plus a hint) and exit code 1.
pub fn main_entry() -> std::process::ExitCode {
    use clap::Parser;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kubelab: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kubelab: {}", e.message);
            if let Some(h) = e.hint {
                eprintln!("hint: {h}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}
