//! The sandbox as a background process: `kubelab sandbox start|stop|status|reset`.
//!
//! `start` re-runs this executable as `kubelab sandbox start --foreground` in its own
//! process group, with its log in `$KUBELAB_HOME/sandbox.log`, and returns once `/readyz`
//! answers. The pid and port are kept beside the data so every command finds it again.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::connection::{raise_descriptor_limit, Timeouts};
use super::{kubeconfig_path, Options, Sandbox, SandboxError};

/// `$KUBELAB_HOME`, else `~/.kubelab`.
pub fn home() -> PathBuf {
    if let Some(h) = std::env::var_os("KUBELAB_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    let base = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    base.join(".kubelab")
}

fn pid_file(home: &Path) -> PathBuf {
    home.join("sandbox.pid")
}
fn port_file(home: &Path) -> PathBuf {
    home.join("sandbox.port")
}
pub fn log_file(home: &Path) -> PathBuf {
    home.join("sandbox.log")
}

/// What `kubelab sandbox status` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    pub running: bool,
    pub address: Option<String>,
    pub pid: Option<u32>,
    pub data_dir: String,
    pub kubeconfig: String,
    pub objects: Option<u64>,
    pub resource_version: Option<String>,
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        || std::process::Command::new("kill")
            .arg("-0")
            .arg(pid.to_string())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

fn read_pid(home: &Path) -> Option<u32> {
    std::fs::read_to_string(pid_file(home)).ok()?.trim().parse().ok()
}

/// A client for the sandbox of `home` from its kubeconfig, if it has one.
pub async fn client_for(home: &Path) -> Option<kube::Client> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig_path(home)).ok()?;
    let config = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default()).await.ok()?;
    kube::Client::try_from(config).ok()
}

/// Asks the sandbox of `home` for its status document, if it answers.
async fn probe(home: &Path) -> Option<serde_json::Value> {
    let client = client_for(home).await?;
    let req = http::Request::get("/kubelab/status").body(Vec::new()).ok()?;
    let text = tokio::time::timeout(Duration::from_secs(2), client.request_text(req)).await.ok()?.ok()?;
    serde_json::from_str(&text).ok()
}

pub async fn status(home: &Path) -> Status {
    let doc = probe(home).await;
    let pid = read_pid(home).filter(|p| pid_alive(*p));
    let address = std::fs::read_to_string(port_file(home)).ok().map(|p| format!("https://127.0.0.1:{}", p.trim()));
    Status {
        running: doc.is_some(),
        address: if doc.is_some() { address } else { None },
        pid: doc.as_ref().and_then(|d| d["pid"].as_u64()).map(|p| p as u32).or(pid),
        data_dir: home.display().to_string(),
        kubeconfig: kubeconfig_path(home).display().to_string(),
        objects: doc.as_ref().and_then(|d| d["objects"].as_u64()),
        resource_version: doc.as_ref().and_then(|d| d["revision"].as_u64()).map(|r| r.to_string()),
    }
}

/// How `kubelab sandbox start` serves; the background process gets the same as flags.
#[derive(Debug, Clone)]
pub struct Serve {
    pub port: Option<u16>,
    pub timeouts: Timeouts,
    /// One line per request in the log.
    pub log_requests: bool,
    /// `--controllers`, as given.
    pub controllers: String,
    /// `--nodes FILE`: the Node manifests a new sandbox is seeded with.
    pub nodes: Option<PathBuf>,
}

impl Default for Serve {
    fn default() -> Self {
        Self { port: None, timeouts: Timeouts::default(), log_requests: false, controllers: "*".into(), nodes: None }
    }
}

impl Serve {
    fn options(&self, port: Option<u16>) -> Result<Options, SandboxError> {
        let controllers = super::controllers::Selection::parse(&self.controllers).map_err(|e| SandboxError::Nodes(e.to_string()))?;
        let nodes = match &self.nodes {
            Some(file) => Some(super::nodes_file::load(file)?),
            None => None,
        };
        Ok(Options {
            port,
            log_requests: self.log_requests,
            timeouts: self.timeouts,
            controllers,
            nodes,
            narrate: true,
            ..Default::default()
        })
    }
}

/// Starts the background sandbox unless one already answers; returns its status.
pub async fn start_background(home: &Path, port: Option<u16>) -> Result<Status, SandboxError> {
    start_background_with(home, &Serve { port, ..Serve::default() }).await
}

/// [`start_background`] with everything `kubelab sandbox start` can choose.
pub async fn start_background_with(home: &Path, serve: &Serve) -> Result<Status, SandboxError> {
    let (port, timeouts) = (serve.port, serve.timeouts);
    // Refuse a bad nodes file here, not in the background process's log.
    serve.options(port)?;
    let now = status(home).await;
    if now.running {
        return Ok(now);
    }
    super::private::create_dir(home)?;
    let log = super::private::open(&log_file(home), true)?;
    let exe = std::env::current_exe()?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["sandbox", "start", "--foreground"]);
    if let Some(p) = port {
        cmd.args(["--port", &p.to_string()]);
    }
    let ms = |d: Duration| format!("{}ms", d.as_millis());
    cmd.args(["--request-timeout", &ms(timeouts.request), "--min-request-timeout", &timeouts.min_request.as_secs().to_string()]);
    cmd.args(["--header-read-timeout", &ms(timeouts.header_read), "--idle-timeout", &ms(timeouts.idle)]);
    cmd.args(["--watcher-grace", &ms(timeouts.watcher_grace)]);
    cmd.arg(format!("--controllers={}", serve.controllers));
    if let Some(nodes) = &serve.nodes {
        cmd.arg("--nodes").arg(std::path::absolute(nodes)?);
    }
    if serve.log_requests {
        cmd.arg("--log-requests");
    }
    cmd.env("KUBELAB_HOME", home).stdin(std::process::Stdio::null()).stdout(log.try_clone()?).stderr(log);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd.spawn()?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = status(home).await;
        if s.running {
            return Ok(s);
        }
        if let Ok(Some(code)) = child.try_wait() {
            let tail = std::fs::read_to_string(log_file(home)).unwrap_or_default();
            let last = tail.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").to_string();
            return Err(SandboxError::Io(std::io::Error::other(format!("the sandbox exited ({code}): {last}"))));
        }
        if Instant::now() > deadline {
            return Err(SandboxError::Io(std::io::Error::other(format!(
                "the sandbox did not become ready within 20 s; see {}",
                log_file(home).display()
            ))));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Runs the sandbox in this process until SIGINT/SIGTERM.
pub async fn run_foreground(home: &Path, serve: &Serve, on_ready: impl FnOnce(&Sandbox)) -> Result<(), SandboxError> {
    raise_descriptor_limit();
    let port = serve.port;
    let remembered = std::fs::read_to_string(port_file(home)).ok().and_then(|p| p.trim().parse::<u16>().ok());
    let opts = serve.options(port.or(remembered))?;
    let sandbox = match Sandbox::start_with(home, opts.clone()).await {
        Ok(s) => s,
        // The remembered port is taken: pick a new one (the kubeconfig is rewritten).
        Err(SandboxError::Listen { .. }) if port.is_none() && remembered.is_some() => {
            Sandbox::start_with(home, Options { port: None, ..opts }).await?
        }
        Err(e) => return Err(e),
    };
    super::private::write(&port_file(home), sandbox.address().port().to_string())?;
    super::private::write(&pid_file(home), std::process::id().to_string())?;
    on_ready(&sandbox);
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    sandbox.stop();
    let _ = std::fs::remove_file(pid_file(home));
    Ok(())
}

/// Stops the background sandbox; returns whether one was running.
pub async fn stop(home: &Path) -> Result<bool, SandboxError> {
    let Some(pid) = read_pid(home).filter(|p| pid_alive(*p)) else {
        let _ = std::fs::remove_file(pid_file(home));
        return Ok(false);
    };
    let _ = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while pid_alive(pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    if pid_alive(pid) {
        let _ = std::process::Command::new("kill").arg("-KILL").arg(pid.to_string()).status();
    }
    let _ = std::fs::remove_file(pid_file(home));
    Ok(true)
}

/// Stops the sandbox and deletes its data (objects, certificates, token, kubeconfig).
pub async fn reset(home: &Path) -> Result<(), SandboxError> {
    stop(home).await?;
    for name in ["data", "ca.crt", "server.crt", "server.key", "token", "kubeconfig", "sandbox.port", "sandbox.log"] {
        let p = home.join(name);
        if p.is_dir() {
            std::fs::remove_dir_all(&p)?;
        } else if p.exists() {
            std::fs::remove_file(&p)?;
        }
    }
    Ok(())
}
