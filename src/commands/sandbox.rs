//! `kubelab sandbox start|stop|status|env|reset|tunnel`.

use std::io::{BufRead, IsTerminal, Write};

use crate::cli::{Global, OutputFormat, SandboxAction};
use crate::sandbox::daemon;

use super::CommandError;

pub async fn run(global: &Global, action: SandboxAction) -> Result<(), CommandError> {
    let home = daemon::home();
    match action {
        SandboxAction::Start { foreground: true, port, log_requests, limits, cluster } => {
            let quiet = global.quiet;
            daemon::run_foreground(&home, &cluster.serve(port, log_requests, &limits), |s| {
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
        SandboxAction::Start { foreground: false, port, log_requests, limits, cluster } => {
            let before = daemon::status(&home).await;
            let s = daemon::start_background_with(&home, &cluster.serve(port, log_requests, &limits)).await?;
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
        SandboxAction::Log { follow, tail, duration } => log(&home, follow, tail, duration).await,
        SandboxAction::Tunnel { duration } => tunnel(global, duration).await,
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

/// `kubelab sandbox log`: the background server's log file, then (with `-f`) what it adds.
async fn log(home: &std::path::Path, follow: bool, tail: Option<usize>, duration: Option<std::time::Duration>) -> Result<(), CommandError> {
    use std::io::{Read, Seek, SeekFrom};
    let path = daemon::log_file(home);
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(_) => {
            return Err(CommandError::new(format!("no sandbox log at {}", path.display()))
                .hint("the background sandbox writes it: `kubelab sandbox start`"))
        }
    };
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(|e| CommandError::new(format!("cannot read {}: {e}", path.display())))?;
    let lines: Vec<&str> = text.lines().collect();
    let from = tail.map(|n| lines.len().saturating_sub(n)).unwrap_or(0);
    let mut out = std::io::stdout().lock();
    for line in &lines[from..] {
        let _ = writeln!(out, "{line}");
    }
    drop(out);
    if !follow {
        return Ok(());
    }
    let mut offset = text.len() as u64;
    let deadline = duration.map(|d| std::time::Instant::now() + d);
    let mut pending = String::new();
    loop {
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            return Ok(());
        }
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if len < offset {
            // A reset truncated it: start again from its beginning.
            offset = 0;
        }
        if len > offset {
            let mut f = std::fs::File::open(&path).map_err(|e| CommandError::new(format!("cannot read {}: {e}", path.display())))?;
            f.seek(SeekFrom::Start(offset)).map_err(|e| CommandError::new(e.to_string()))?;
            let mut chunk = Vec::new();
            f.read_to_end(&mut chunk).map_err(|e| CommandError::new(e.to_string()))?;
            offset += chunk.len() as u64;
            pending.push_str(&String::from_utf8_lossy(&chunk));
            let mut out = std::io::stdout().lock();
            while let Some(nl) = pending.find('\n') {
                let _ = writeln!(out, "{}", &pending[..nl]);
                pending.drain(..=nl);
            }
            let _ = out.flush();
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// `kubelab sandbox tunnel`: LoadBalancer Services get their ClusterIP until Ctrl-C or
/// `--for`; the narration says each assignment, the result lists them.
async fn tunnel(global: &Global, duration: Option<std::time::Duration>) -> Result<(), CommandError> {
    use crate::sandbox::tunnel::{self, Happening};
    let s = super::Session::open(global).await?;
    let n = &s.n;
    n.event(match duration {
        Some(d) => format!("tunnel: LoadBalancer services get their ClusterIP for {}", crate::narrate::duration(d)),
        None => "tunnel: LoadBalancer services get their ClusterIP until Ctrl-C".to_string(),
    });
    let until = async move {
        match duration {
            Some(d) => tokio::select! {
                _ = tokio::time::sleep(d) => {}
                _ = tokio::signal::ctrl_c() => {}
            },
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    let served = tunnel::run(s.client.clone(), until, |h| match h {
        Happening::Assigned(a) => n.event(format!("tunnel: {} got {}", a.display_name(), a.ip)),
        Happening::Released(a) => n.event(format!("tunnel: {} released {}", a.display_name(), a.ip)),
        Happening::Failed { service, error } => {
            n.warn(format!("tunnel: {service}: {}", crate::sandbox::controllers::pod_control::api_message(&error)))
        }
        Happening::WatchError(e) => n.warn(format!("tunnel: watching services: {e} (retrying)")),
    })
    .await;
    if global.output == OutputFormat::Table {
        let list: Vec<String> = served.iter().map(|a| format!("{} {}", a.display_name(), a.ip)).collect();
        let detail = if list.is_empty() { String::new() } else { format!(": {}", list.join(", ")) };
        println!("tunnel closed; {} service(s) had an address{detail}", served.len());
    } else {
        crate::narrate::print_document(global.output, &serde_json::json!({"services": served}));
    }
    Ok(())
}
