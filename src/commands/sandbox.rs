//! `kubelab sandbox start|stop|status|env|reset`.

use std::io::{BufRead, IsTerminal, Write};

use crate::cli::{Global, OutputFormat, SandboxAction};
use crate::sandbox::daemon;

use super::CommandError;

pub async fn run(global: &Global, action: SandboxAction) -> Result<(), CommandError> {
    let home = daemon::home();
    match action {
        SandboxAction::Start { foreground: true, port, limits } => {
            let quiet = global.quiet;
            daemon::run_foreground(&home, port, true, limits.timeouts(), |s| {
                if !quiet {
                    eprintln!(
                        "kubelab sandbox listening on {} (data: {}, kubeconfig: {})",
                        s.url(),
                        s.data_dir().display(),
                        s.kubeconfig_path().display()
                    );
                }
            })
            .await?;
            Ok(())
        }
        SandboxAction::Start { foreground: false, port, limits } => {
            let before = daemon::status(&home).await;
            let s = daemon::start_background_with(&home, port, limits.timeouts()).await?;
            if global.output == OutputFormat::Json {
                println!("{}", serde_json::to_string_pretty(&s).unwrap());
            } else if !global.quiet {
                let verb = if before.running { "already running" } else { "started" };
                println!("sandbox {verb} at {}", s.address.as_deref().unwrap_or("?"));
                println!("kubeconfig: {}", s.kubeconfig);
                println!("use it with kubectl: eval \"$(kubelab sandbox env)\"");
            }
            Ok(())
        }
        SandboxAction::Stop => {
            let was = daemon::stop(&home).await?;
            if !global.quiet {
                println!("{}", if was { "sandbox stopped" } else { "no sandbox was running" });
            }
            Ok(())
        }
        SandboxAction::Status => {
            let s = daemon::status(&home).await;
            if global.output == OutputFormat::Json {
                println!("{}", serde_json::to_string_pretty(&s).unwrap());
            } else {
                println!("state:            {}", if s.running { "up" } else { "down" });
                if let Some(a) = &s.address {
                    println!("address:          {a}");
                }
                println!("data dir:         {}", s.data_dir);
                println!("kubeconfig:       {}", s.kubeconfig);
                if let Some(n) = s.objects {
                    println!("objects:          {n}");
                }
                if let Some(rv) = &s.resource_version {
                    println!("resourceVersion:  {rv}");
                }
            }
            if s.running {
                Ok(())
            } else {
                Err(CommandError::new("the sandbox is not running").hint("start it with `kubelab sandbox start`"))
            }
        }
        SandboxAction::Env => {
            println!("export KUBECONFIG={}", crate::sandbox::kubeconfig_path(&home).display());
            Ok(())
        }
        SandboxAction::Reset { yes } => {
            if !yes {
                if !std::io::stdin().is_terminal() {
                    return Err(CommandError::new("reset deletes all sandbox data").hint("pass --yes to confirm"));
                }
                print!("delete all sandbox data in {}? [y/N] ", home.display());
                std::io::stdout().flush().ok();
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line).ok();
                if !matches!(line.trim(), "y" | "Y" | "yes") {
                    println!("nothing deleted");
                    return Ok(());
                }
            }
            daemon::reset(&home).await?;
            if !global.quiet {
                println!("sandbox data deleted from {}", home.display());
            }
            Ok(())
        }
    }
}
