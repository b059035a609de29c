//! Which cluster a command talks to, and the client stack it talks through.
//!
//! A real cluster is only ever chosen explicitly: `--kubeconfig` or `KUBECONFIG`, loaded
//! with kube-rs' ordinary config path (`Kubeconfig::read_from` / `from_env`, then
//! `Config::from_custom_kubeconfig`), exactly what a user's own program would do. Without
//! either, the target is the sandbox of `$KUBELAB_HOME`, started in the background if it is
//! not running. `~/.kube/config` is never read by surprise: a lesson must not create pods in
//! someone's production cluster because they forgot which shell they were in.
//!
//! [`connect`] then assembles the client the way `kube::Client::try_from(config)` does, but
//! layer by layer and with a [`wire::RecordLayer`] inside, so each command can show what went
//! over the wire.

pub mod refusal;
pub mod wire;

use std::path::PathBuf;

use hyper_util::client::legacy::connect::HttpConnector;
use kube::client::ConfigExt;
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use tower::ServiceBuilder;

use crate::cli::Global;
use crate::commands::CommandError;
use crate::narrate::Narrator;
use crate::sandbox::daemon;

/// Where the kubeconfig came from.
#[derive(Debug, Clone)]
pub enum Source {
    /// `--kubeconfig PATH`.
    Flag(PathBuf),
    /// `KUBECONFIG=a:b:c` (files merged in order, as kubectl does).
    Env(String),
    /// The sandbox of `$KUBELAB_HOME`; `started` when this command had to start it.
    Sandbox { home: PathBuf, started: bool },
}

/// The cluster chosen, and how to reach it.
#[derive(Debug, Clone)]
pub struct Target {
    pub source: Source,
    pub context: String,
    pub cluster: String,
    pub user: String,
    /// How the user authenticates, in words.
    pub auth: String,
    pub config: kube::Config,
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("cannot read the kubeconfig {path}: {}", read_reason(source))]
    Read { path: String, source: KubeconfigError },
    #[error("KUBECONFIG is set but names no readable file")]
    EmptyEnv,
    #[error("cannot build a client configuration from {origin}: {source}")]
    Config { origin: String, source: KubeconfigError },
    #[error("cannot start the sandbox in {home}: {source}")]
    Sandbox { home: String, source: crate::sandbox::SandboxError },
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] kube::Error),
}

/// kube's own message for an unreadable file repeats the path Debug-quoted
/// (`from '"/x"'`); the path is already in our line, so only the OS reason is kept.
fn read_reason(e: &KubeconfigError) -> String {
    match e {
        KubeconfigError::ReadConfig(io, _) => io.to_string(),
        other => other.to_string(),
    }
}

impl From<TargetError> for CommandError {
    fn from(e: TargetError) -> CommandError {
        let hint = match &e {
            TargetError::Read { .. } | TargetError::EmptyEnv => {
                "check the path, or leave out --kubeconfig and unset KUBECONFIG to use the sandbox"
            }
            TargetError::Config { .. } => "`kubectl config get-contexts` lists the contexts; pick one with --context",
            TargetError::Sandbox { .. } => "see $KUBELAB_HOME/sandbox.log, or try `kubelab sandbox reset --yes`",
            TargetError::Client(_) => "the kubeconfig's TLS settings could not be loaded",
        };
        CommandError::new(e.to_string()).hint(hint)
    }
}

impl Source {
    pub fn describe(&self) -> String {
        match self {
            Source::Flag(p) => format!("--kubeconfig {}", p.display()),
            Source::Env(v) => format!("KUBECONFIG={v}"),
            Source::Sandbox { home, .. } => format!("the sandbox's own kubeconfig ({})", crate::sandbox::kubeconfig_path(home).display()),
        }
    }
}

/// Picks the cluster and builds its `kube::Config`, narrating both steps.
pub async fn resolve(global: &Global, n: &mut Narrator) -> Result<Target, TargetError> {
    n.step("kubeconfig: which cluster, as whom");
    let (source, kubeconfig) = if let Some(path) = &global.kubeconfig {
        n.detail("source", "--kubeconfig flag");
        n.detail("file", path.display());
        let kc = Kubeconfig::read_from(path).map_err(|source| TargetError::Read { path: path.display().to_string(), source })?;
        (Source::Flag(path.clone()), kc)
    } else if let Some(value) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        let value = value.to_string_lossy().into_owned();
        n.detail("source", "KUBECONFIG environment variable");
        n.detail("files", &value);
        let kc =
            Kubeconfig::from_env().map_err(|source| TargetError::Read { path: value.clone(), source })?.ok_or(TargetError::EmptyEnv)?;
        (Source::Env(value), kc)
    } else {
        let home = daemon::home();
        let was = daemon::status(&home).await;
        let status = daemon::start_background(&home, None)
            .await
            .map_err(|source| TargetError::Sandbox { home: home.display().to_string(), source })?;
        n.detail("source", "the sandbox (no --kubeconfig, no KUBECONFIG)");
        n.note("~/.kube/config is only used when named explicitly, so a lesson never touches a real cluster by surprise.");
        let how = if was.running { "already running" } else { "started just now" };
        n.detail("sandbox", format!("{how} at {}", status.address.as_deref().unwrap_or("?")));
        n.detail("file", &status.kubeconfig);
        let kc =
            Kubeconfig::read_from(&status.kubeconfig).map_err(|source| TargetError::Read { path: status.kubeconfig.clone(), source })?;
        (Source::Sandbox { home, started: !was.running }, kc)
    };

    let context = global.context.clone().or_else(|| kubeconfig.current_context.clone()).unwrap_or_default();
    let named = kubeconfig.contexts.iter().find(|c| c.name == context).and_then(|c| c.context.clone());
    let cluster = named.as_ref().map(|c| c.cluster.clone()).unwrap_or_default();
    let user = named.as_ref().and_then(|c| c.user.clone()).unwrap_or_default();
    let auth = kubeconfig
        .auth_infos
        .iter()
        .find(|a| a.name == user)
        .and_then(|a| a.auth_info.as_ref())
        .map(describe_auth)
        .unwrap_or_else(|| "none".into());
    let server = kubeconfig
        .clusters
        .iter()
        .find(|c| c.name == cluster)
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.server.clone())
        .unwrap_or_default();
    let via = if global.context.is_some() { "--context" } else { "current-context" };
    n.detail("context", format!("{context} ({via})"));
    if named.is_some() {
        n.detail("cluster", format!("{cluster} -> {server}"));
        n.detail("user", format!("{user} ({auth})"));
    }

    let options = KubeConfigOptions { context: global.context.clone(), ..Default::default() };
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|source| TargetError::Config { origin: format!("context {context:?}"), source })?;
    if let Some(ns) = &global.namespace {
        config.default_namespace = ns.clone();
    }

    n.step("kube::Config built from it (client-go: clientcmd.BuildConfigFromFlags -> rest.Config)");
    n.detail("cluster_url", &config.cluster_url);
    n.detail("namespace", format!("{}{}", config.default_namespace, if global.namespace.is_some() { " (-n)" } else { "" }));
    let roots = config.root_cert.as_ref().map_or(0, |c| c.len());
    n.detail(
        "tls",
        if config.accept_invalid_certs {
            "server certificate NOT verified (insecure-skip-tls-verify)".to_string()
        } else {
            format!("verify the server against {roots} CA certificate(s) from the kubeconfig")
        },
    );
    n.detail("auth", &auth);
    n.detail("timeouts", format!("connect {}, read {}", opt_secs(config.connect_timeout), opt_secs(config.read_timeout)));
    Ok(Target { source, context, cluster, user, auth, config })
}

fn opt_secs(d: Option<std::time::Duration>) -> String {
    d.map_or("none".into(), |d| format!("{} s", d.as_secs()))
}

fn describe_auth(a: &kube::config::AuthInfo) -> String {
    if a.token.is_some() {
        "bearer token".into()
    } else if a.token_file.is_some() {
        "bearer token from a file".into()
    } else if a.client_certificate.is_some() || a.client_certificate_data.is_some() {
        "client certificate".into()
    } else if let Some(exec) = &a.exec {
        format!("exec plugin {}", exec.command.as_deref().unwrap_or("?"))
    } else if a.auth_provider.is_some() {
        "auth provider plugin".into()
    } else if a.username.is_some() {
        "basic auth".into()
    } else {
        "none".into()
    }
}

/// Builds the client, layer by layer, with a recorder inside; narrates the stack.
pub fn connect(target: &Target, n: &mut Narrator) -> Result<(kube::Client, wire::Journal), TargetError> {
    let config = &target.config;
    let journal = wire::Journal::default();
    let https = config.rustls_https_connector_with_connector(tcp_connector(config))?;
    let hyper = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build::<_, kube::client::Body>(https);
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .layer(wire::RecordLayer::new(journal.clone()))
        // The auth layer's errors are boxed; make hyper's the same type below it.
        .map_err(tower::BoxError::from)
        .service(hyper);
    let client = kube::Client::new(service, config.default_namespace.clone());

    n.step("kube::Client built (client-go: kubernetes.NewForConfig -> Clientset)");
    n.note("A tower stack; each request goes down it, each response comes back up:");
    n.detail("BaseUriLayer", format!("prefixes {} to each request path", config.cluster_url));
    n.detail("AuthLayer", format!("adds credentials ({})", target.auth));
    n.detail("ExtraHeaders", format!("{} impersonation/extra header(s)", config.headers.len()));
    n.detail("RecordLayer", "kubelab's own: records each request and response for this narration");
    n.detail("hyper-util", "legacy::Client: connection pool, HTTP/1.1 or HTTP/2 chosen by ALPN");
    n.detail("hyper-rustls", "TLS by rustls (ring provider), over a tokio TCP socket");
    n.detail("TCP", format!("TCP_NODELAY on (as Go does; kube-rs leaves Nagle on), connect timeout {}", opt_secs(config.connect_timeout)));
    n.note("`kube::Client::try_from(config)` builds the same stack, with a tracing layer instead of ours.");
    Ok((client, journal))
}

/// The TCP layer under TLS, with `TCP_NODELAY`: each write leaves at once. With Nagle's
/// algorithm on (the socket default, kept by kube-rs' `HttpConnector::new()`), the request,
/// written right after the TLS handshake's last flight, waits for the server to acknowledge
/// that flight, and a server that has nothing to send then delays its ACK (Linux: up to
/// 40 ms): kube-apiserver does, and each new connection to it cost ~45 ms instead of ~8 ms
/// (benches/RESULTS.md). client-go never meets this: Go sets TCP_NODELAY on every TCP
/// connection. The connect timeout is the kubeconfig's, applied
/// here since there is no `TimeoutConnector` in this stack.
pub fn tcp_connector(config: &kube::Config) -> HttpConnector {
    let mut http = HttpConnector::new();
    // https:// URIs are passed through to the TLS layer above.
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(config.connect_timeout);
    http
}

/// Turns a client error into one readable line and a hint; the Status of an API error is
/// the server's own words and is quoted as is.
pub fn explain(err: kube::Error, target: &Target) -> CommandError {
    let url = target.config.cluster_url.to_string();
    let url = url.trim_end_matches('/');
    match err {
        kube::Error::Api(status) => {
            // A 403 (or a webhook's or a policy's refusal) says who refused only in its message.
            let hint = match refusal::Refusal::of(&status) {
                Some(r) => Some(format!("{}; {}", r.cause(), r.advice())),
                None => match status.reason.as_str() {
                    "Unauthorized" => Some("the credentials in the kubeconfig were rejected".to_string()),
                    "NotFound" => Some("check the name and the namespace (-n)".to_string()),
                    "AlreadyExists" => Some("delete it first, or choose another name".to_string()),
                    "Invalid" => Some("the server's validation rejected the object; the message says which field".to_string()),
                    _ => None,
                },
            };
            let e = CommandError::new(format!("the server answered {} {}: {}", status.code, status.reason, status.message));
            match hint {
                Some(h) => e.hint(h),
                None => e,
            }
        }
        other => {
            let chain = error_chain(&other);
            let unreachable =
                ["Connection refused", "connect error", "dns error", "timed out", "Connection reset"].iter().any(|s| chain.contains(s));
            if unreachable {
                CommandError::new(format!("no cluster reachable at {url}: {}", last_cause(&other)))
                    .hint("start one with `kubelab sandbox start`, or pass --kubeconfig for another cluster")
            } else if chain.contains("certificate") || chain.contains("InvalidCertificate") {
                CommandError::new(format!("TLS with {url} failed: {}", last_cause(&other)))
                    .hint("the kubeconfig's certificate-authority does not match the server's certificate")
            } else {
                CommandError::new(format!("request to {url} failed: {chain}"))
            }
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

fn last_cause(e: &dyn std::error::Error) -> String {
    let mut last = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        last = c.to_string();
        cause = c.source();
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[test]
    fn an_admission_403_is_not_explained_as_rbac() {
        let target = super::Target {
            source: super::Source::Flag("/tmp/kubeconfig".into()),
            context: "real".into(),
            cluster: "real".into(),
            user: "admin".into(),
            auth: "client certificate".into(),
            config: kube::Config::new("https://127.0.0.1:6443".parse().unwrap()),
        };
        let status: kube::core::Status = serde_json::from_str(
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"real-p\" is forbidden: error looking up service account default/default: serviceaccount \"default\" not found","reason":"Forbidden","details":{"name":"real-p","kind":"pods"},"code":403}"#,
        )
        .unwrap();
        let e = super::explain(kube::Error::Api(Box::new(status)), &target);
        assert_eq!(
            e.message,
            "the server answered 403 Forbidden: pods \"real-p\" is forbidden: error looking up service account default/default: serviceaccount \"default\" not found"
        );
        let hint = e.hint.unwrap_or_default();
        assert!(hint.starts_with("admission refused, not RBAC: the ServiceAccount plugin"), "{hint}");
        assert!(hint.contains("kubectl create serviceaccount default -n default"), "{hint}");
    }

    #[tokio::test]
    async fn the_connector_turns_nagle_off() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri: http::Uri = format!("https://{}/", listener.local_addr().unwrap()).parse().unwrap();
        let config = kube::Config::new(uri.clone());
        let accepted = tokio::spawn(async move { listener.accept().await.map(|(s, _)| s) });
        let stream = super::tcp_connector(&config).oneshot(uri).await.expect("connects");
        assert!(stream.inner().nodelay().unwrap(), "TCP_NODELAY set on the client socket");
        // The default socket, for contrast: Nagle on, which is what this connector changes.
        let server_side = accepted.await.unwrap().unwrap();
        assert!(!server_side.nodelay().unwrap());
    }

    #[test]
    fn an_unreadable_kubeconfig_names_its_path_once_unquoted() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let e = TargetError::Read { path: "/nonexistent".into(), source: KubeconfigError::ReadConfig(io, "/nonexistent".into()) };
        assert_eq!(e.to_string(), "cannot read the kubeconfig /nonexistent: entity not found");
    }
}
