//! The sandbox: a small kube-apiserver (with its storage and controllers) embedded in kubelab,
//! so every lesson runs on a fresh machine with no cluster.
//!
//! [`Sandbox::start`] runs one in-process on an ephemeral port — what tests use, ours and a
//! user's controller tests alike. `kubelab sandbox start` runs the same server as a
//! background process ([`daemon`]).

pub mod apiextensions;
pub mod authenticator;
pub mod connection;
pub mod controllers;
pub mod conversion;
pub mod cri_log;
pub mod daemon;
pub mod deprecation;
pub mod discovery;
pub mod keys;
pub mod managed_fields;
pub mod meta;
pub mod nodes_file;
pub mod oidc;
pub mod openapi;
pub mod patch;
pub mod private;
pub mod protobuf;
pub mod registry;
pub mod request;
pub mod resources;
pub mod rest;
pub mod seed;
pub mod selectors;
pub mod server;
pub mod status;
pub mod storage;
pub mod table;
pub mod tls;
pub mod tunnel;
pub mod watch;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("seeding the sandbox failed: {0}")]
    Seed(status::ApiError),
    #[error(transparent)]
    Issuer(#[from] oidc::IssuerError),
    #[error("cannot build a client for the sandbox: {0}")]
    Client(String),
    #[error("{0}")]
    Nodes(String),
}

/// How to run a sandbox.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Port on 127.0.0.1; `None` or 0 picks a free one.
    pub port: Option<u16>,
    /// Log one line per request on stderr.
    pub log_requests: bool,
    /// How often etcd-style compaction runs (lists at older exact revisions get 410).
    pub compaction_interval: Option<Duration>,
    /// The Node manifests a fresh sandbox starts with; `None` for the two default workers,
    /// an empty list for a cluster without nodes (as the fidelity corpus was recorded on).
    pub nodes: Option<Vec<serde_json::Value>>,
    /// Header, idle, request and watch timeouts (kube-apiserver's by default).
    pub timeouts: connection::Timeouts,
    /// Which loops run (`--controllers`); every one by default.
    pub controllers: controllers::Selection,
    /// Print each loop's decisions on stderr.
    pub narrate: bool,
}

/// A running sandbox. Dropping it stops the server.
pub struct Sandbox {
    addr: SocketAddr,
    dir: PathBuf,
    token: String,
    ca_pem: String,
    api: Arc<rest::Apiserver>,
    shutdown: tokio::sync::watch::Sender<bool>,
    controllers: crate::machinery::stop::StopSignal,
    decisions: controllers::Decisions,
}

/// The files a sandbox keeps in its data directory.
pub fn kubeconfig_path(dir: &Path) -> PathBuf {
    dir.join("kubeconfig")
}

fn load_or_create_token(dir: &Path) -> std::io::Result<String> {
    let path = dir.join("token");
    if let Ok(t) = std::fs::read_to_string(&path) {
        if !t.trim().is_empty() {
            return Ok(t.trim().to_string());
        }
    }
    use rand::Rng;
    let token: String = rand::rng().sample_iter(&rand::distr::Alphanumeric).take(48).map(char::from).collect();
    private::write(&path, &token)?;
    Ok(token)
}

impl Sandbox {
    /// Starts a sandbox whose data lives in `dir`, on a free port of 127.0.0.1, and returns
    /// once it answers. Its kubeconfig is written to `dir/kubeconfig`.
    pub async fn start(dir: impl AsRef<Path>) -> Result<Sandbox, SandboxError> {
        Self::start_with(dir, Options::default()).await
    }

    pub async fn start_with(dir: impl AsRef<Path>, opts: Options) -> Result<Sandbox, SandboxError> {
        // kube's client and our server both use rustls with ring; a process that also pulls
        // aws-lc-rs needs the choice made explicitly, once.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = dir.as_ref().to_path_buf();
        let tightened = private::tighten(&dir)?;
        private::create_dir(&dir)?;
        if !tightened.is_empty() {
            eprintln!("kubelab: made {} private (owner only): {} item(s) were readable by other users", dir.display(), tightened.len());
        }
        let certs = tls::Certificates::load_or_create(&dir)?;
        let token = load_or_create_token(&dir)?;
        let storage = storage::Storage::open(&dir.join("data"))?;
        let fresh = storage.revision() <= 1;
        let api = rest::Apiserver::new(storage, resources::Catalogue::default());
        api.set_service_account_issuer(Arc::new(oidc::ServiceAccountIssuer::load_or_create(&dir)?));
        api.set_authenticator(Arc::new(authenticator::TokenAuthenticator::new(token.clone())));
        if fresh {
            seed::seed(&api, opts.nodes.as_deref()).await.map_err(SandboxError::Seed)?;
        }
        // A fresh watch cache remembers nothing from before this start.
        api.storage.forget_history();
        // The custom resources of the stored, established CRDs are served from the start.
        apiextensions::controller::load(&api);

        let bind = format!("127.0.0.1:{}", opts.port.unwrap_or(0));
        let listener = tokio::net::TcpListener::bind(&bind).await.map_err(|source| SandboxError::Listen { addr: bind.clone(), source })?;
        let addr = listener.local_addr()?;
        let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
        let server = Arc::new(server::Server {
            api: api.clone(),
            log_requests: opts.log_requests,
            data_dir: dir.clone(),
            address: addr.to_string(),
            timeouts: opts.timeouts,
        });
        tokio::spawn(connection::accept_loop(listener, certs.server_config()?, server, shutdown_rx.clone()));
        tokio::spawn(compaction(api.clone(), opts.compaction_interval.unwrap_or(Duration::from_secs(30)), shutdown_rx));

        let sandbox = Sandbox {
            addr,
            dir,
            token,
            ca_pem: certs.ca_pem,
            api,
            shutdown,
            controllers: crate::machinery::stop::StopSignal::new(),
            decisions: controllers::Decisions::new(opts.narrate),
        };
        private::write(&kubeconfig_path(&sandbox.dir), sandbox.kubeconfig_yaml())?;
        // The apiextensions-apiserver's own loops (naming, establishing, CRD finalizer) are
        // the API server's, so they run whatever `--controllers` selects.
        let crd_loops =
            apiextensions::controller::Controllers::new(sandbox.api.clone(), sandbox.client().await?, sandbox.decisions.clone());
        tokio::spawn(crd_loops.run(sandbox.controllers.clone()));
        // The controller manager is a client like any other, over HTTPS.
        controllers::spawn_all(
            sandbox.client_config().await?,
            &opts.controllers,
            sandbox.decisions.clone(),
            sandbox.controllers.clone(),
            sandbox.dir.clone(),
            sandbox.ca_pem.clone(),
        );
        Ok(sandbox)
    }

    pub fn address(&self) -> SocketAddr {
        self.addr
    }
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }
    pub fn data_dir(&self) -> &Path {
        &self.dir
    }
    pub fn token(&self) -> &str {
        &self.token
    }
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }
    pub fn kubeconfig_path(&self) -> PathBuf {
        kubeconfig_path(&self.dir)
    }
    /// The apiserver itself, for in-process inspection.
    pub fn apiserver(&self) -> &Arc<rest::Apiserver> {
        &self.api
    }

    /// A kubeconfig with one context, `kubelab`, carrying the CA and the token.
    pub fn kubeconfig_yaml(&self) -> String {
        let ca = base64::engine::general_purpose::STANDARD.encode(&self.ca_pem);
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: kubelab\n  cluster:\n    server: {}\n    certificate-authority-data: {ca}\ncontexts:\n- name: kubelab\n  context:\n    cluster: kubelab\n    user: kubelab\n    namespace: default\ncurrent-context: kubelab\nusers:\n- name: kubelab\n  user:\n    token: {}\n",
            self.url(),
            self.token
        )
    }

    /// A ready `kube::Client` for this sandbox.
    pub async fn client(&self) -> Result<kube::Client, SandboxError> {
        kube::Client::try_from(self.client_config().await?).map_err(|e| SandboxError::Client(e.to_string()))
    }

    /// The `kube::Config` of [`client`](Self::client), to build clients of one's own.
    pub async fn client_config(&self) -> Result<kube::Config, SandboxError> {
        let kc = kube::config::Kubeconfig::from_yaml(&self.kubeconfig_yaml()).map_err(|e| SandboxError::Client(e.to_string()))?;
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .map_err(|e| SandboxError::Client(e.to_string()))
    }

    /// The loops' decisions from now on, one line each (what `--foreground` prints).
    pub fn decisions(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.decisions.subscribe()
    }

    /// Stops serving (also done on drop).
    pub fn stop(&self) {
        self.controllers.stop();
        let _ = self.shutdown.send(true);
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop();
    }
}

/// etcd-style compaction: every interval, forget exact revisions older than the revision
/// seen at the previous tick, as `--etcd-compaction-interval` does.
async fn compaction(api: Arc<rest::Apiserver>, every: Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut previous = api.storage.revision();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        api.storage.compact(previous);
        previous = api.storage.revision();
    }
}
