//! HTTPS front door: TLS, bearer-token authentication, routing of `/api`, `/apis`,
//! `/version` and the health checks, and one log line per request.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::discovery;
use super::request::{parse_path, HttpRequest, Query, Route};
use super::rest::{Apiserver, Reply, MAX_BODY_BYTES};
use super::status::ApiError;

/// The Kubernetes version whose API the sandbox serves (k8s-openapi's `v1_34`).
pub const KUBERNETES_VERSION: &str = "v1.34.2";

type Body = BoxBody<Bytes, Infallible>;

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum User {
    Admin,
    Anonymous,
}

pub struct Server {
    pub api: Arc<Apiserver>,
    pub token: String,
    /// Log each request on stderr (`sandbox start --foreground`).
    pub log_requests: bool,
    pub data_dir: std::path::PathBuf,
    /// `host:port` the server listens on, as discovery advertises it.
    pub address: String,
}

fn full(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Content-Type", content_type)
        .header("Cache-Control", "no-cache, private")
        .body(Full::new(body.into()).boxed())
        .expect("a valid response")
}

fn reply_to_response(r: Reply) -> Response<Body> {
    let mut b = Response::builder().status(r.status).header("Content-Type", r.content_type).header("Cache-Control", "no-cache, private");
    for w in &r.warnings {
        b = b.header("Warning", format!("299 - {w:?}"));
    }
    b.body(Full::new(r.body).boxed()).expect("a valid response")
}

fn error_response(e: &ApiError) -> Response<Body> {
    reply_to_response(Reply::error(e))
}

/// The verb an authorizer would see, for the anonymous 403 message.
fn verb_of(method: &Method, has_name: bool, watch: bool) -> &'static str {
    match (method, has_name, watch) {
        (_, _, true) => "watch",
        (&Method::GET, true, _) => "get",
        (&Method::GET, false, _) => "list",
        (&Method::POST, _, _) => "create",
        (&Method::PUT, _, _) => "update",
        (&Method::PATCH, _, _) => "patch",
        (&Method::DELETE, true, _) => "delete",
        (&Method::DELETE, false, _) => "deletecollection",
        _ => "get",
    }
}

impl Server {
    fn authenticate(&self, req: &Request<Incoming>) -> Result<User, ApiError> {
        match req.headers().get("authorization").and_then(|h| h.to_str().ok()) {
            None => Ok(User::Anonymous),
            Some(h) => match h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")) {
                Some(t) if constant_time_eq(t.trim().as_bytes(), self.token.as_bytes()) => Ok(User::Admin),
                _ => Err(ApiError::unauthorized()),
            },
        }
    }

    /// Serves one HTTP request.
    pub async fn serve(self: Arc<Self>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
        let started = Instant::now();
        let method = req.method().clone();
        // Under HTTP/2 the URI is absolute: route on the path alone.
        let path = req.uri().path().to_string();
        let query_str = req.uri().query().map(String::from);
        let resp = self.route(req).await;
        if self.log_requests {
            let q = query_str.map(|q| format!("?{q}")).unwrap_or_default();
            eprintln!("{method} {path}{q} {} {:.1}ms", resp.status().as_u16(), started.elapsed().as_secs_f64() * 1000.0);
        }
        Ok(resp)
    }

    async fn route(&self, req: Request<Incoming>) -> Response<Body> {
        let user = match self.authenticate(&req) {
            Ok(u) => u,
            Err(e) => return error_response(&e),
        };
        let path = req.uri().path().to_string();
        let query = Query::parse(req.uri().query());
        match path.as_str() {
            "/version" | "/version/" => return full(200, "application/json", version_document().to_string()),
            "/healthz" | "/livez" => return full(200, "text/plain; charset=utf-8", "ok"),
            "/readyz" => return self.readyz(),
            _ => {}
        }
        let is_watch = req.method() == Method::GET && query.flag("watch");
        let route = parse_path(&path);
        if user == User::Anonymous {
            let message = match &route {
                Some(Route::Resource(p)) => {
                    let verb = verb_of(req.method(), p.name.is_some(), is_watch);
                    let scope = p.namespace.as_ref().map(|ns| format!(" in the namespace \"{ns}\"")).unwrap_or_default();
                    let e = ApiError::forbidden(
                        &p.resource,
                        p.name.as_deref().unwrap_or(""),
                        &format!("User \"system:anonymous\" cannot {verb} resource \"{}\" in API group \"{}\"{scope}", p.resource, p.group),
                    );
                    return error_response(&e);
                }
                _ => format!("forbidden: User \"system:anonymous\" cannot get path \"{path}\""),
            };
            return error_response(&ApiError::new(403, "Forbidden", message).with_details(json!({})));
        }
        if let Some(resp) = super::oidc::serve(&path, req.method(), self.api.service_account_issuer().as_deref(), &self.address) {
            return resp;
        }
        if path == "/kubelab/status" {
            return full(200, "application/json", self.status_document().to_string());
        }
        let accept = req.headers().get("accept").and_then(|h| h.to_str().ok()).unwrap_or("").to_string();
        let catalogue = self.api.catalogue();
        if let Some(doc) = discovery::serve_at(&path, &accept, &catalogue, &self.address) {
            return match doc {
                Ok(d) => full(200, &d.content_type, d.body),
                Err(e) => error_response(&e),
            };
        }
        let api_path = match route {
            Some(Route::Resource(p)) => p,
            _ => return error_response(&ApiError::page_not_found()),
        };
        let content_type = req.headers().get("content-type").and_then(|h| h.to_str().ok()).map(String::from);
        let user_agent = req.headers().get("user-agent").and_then(|h| h.to_str().ok()).map(String::from);
        let method = req.method().clone();
        let body = match read_body(req.into_body()).await {
            Ok(b) => b,
            Err(e) => return error_response(&e),
        };
        let http = HttpRequest { method, path: api_path, query, content_type, accept: Some(accept), user_agent, body };
        if http.is_watch() && http.path.name.is_none() {
            return self.watch(http);
        }
        reply_to_response(self.api.handle(http).await)
    }

    fn watch(&self, req: HttpRequest) -> Response<Body> {
        let watch = match self.api.watch(req) {
            Ok(w) => w,
            Err(e) => return error_response(&e),
        };
        let content_type = watch.content_type();
        let rx = watch.start();
        let stream =
            futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx)) });
        Response::builder()
            .status(200)
            .header("Content-Type", content_type)
            .header("Cache-Control", "no-cache, private")
            .header("Transfer-Encoding", "chunked")
            .body(BodyExt::boxed(StreamBody::new(stream)))
            .expect("a valid response")
    }

    /// Ready while the store takes writes; after a failed commit, the failing check as
    /// kube-apiserver lists its own (`[-]etcd failed`).
    fn readyz(&self) -> Response<Body> {
        match self.api.storage.failure() {
            None => full(200, "text/plain; charset=utf-8", "ok"),
            Some(why) => full(500, "text/plain; charset=utf-8", format!("[-]etcd failed: {why}\nreadyz check failed\n")),
        }
    }

    fn status_document(&self) -> serde_json::Value {
        json!({
            "storageFailure": self.api.storage.failure(),
            "revision": self.api.storage.revision(),
            "objects": self.api.storage.count(),
            "dataDir": self.data_dir.display().to_string(),
            "version": KUBERNETES_VERSION,
            "pid": std::process::id(),
        })
    }
}

/// `/version`, as kube-apiserver v1.34 reports itself.
pub fn version_document() -> serde_json::Value {
    json!({
        "major": "1",
        "minor": "34",
        "emulationMajor": "1",
        "emulationMinor": "34",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "33",
        "gitVersion": KUBERNETES_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-11-25T00:00:00Z",
        "goVersion": "go1.25.5",
        "compiler": "gc",
        "platform": format!("linux/{}", match std::env::consts::ARCH { "x86_64" => "amd64", "aarch64" => "arm64", a => a }),
    })
}

/// Reads a request body up to the apiserver's 3 MiB limit. A larger body is read to its
/// end (up to a hard cap) and discarded, so the client sees the 413 rather than a reset
/// connection.
async fn read_body(mut body: Incoming) -> Result<Bytes, ApiError> {
    const DRAIN_CAP: usize = 64 * 1024 * 1024;
    let mut buf = bytes::BytesMut::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?;
        if let Some(data) = frame.data_ref() {
            total += data.len();
            if total <= MAX_BODY_BYTES {
                buf.extend_from_slice(data);
            } else if total > DRAIN_CAP {
                break;
            }
        }
    }
    if total > MAX_BODY_BYTES {
        return Err(ApiError::too_large(format!("Request entity too large: limit is {MAX_BODY_BYTES}")));
    }
    Ok(buf.freeze())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Accepts TLS connections until `shutdown` turns true.
pub async fn run(listener: TcpListener, tls: Arc<rustls::ServerConfig>, server: Arc<Server>, mut shutdown: watch::Receiver<bool>) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (tcp, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(_) => continue,
            },
            _ = shutdown.changed() => return,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let server = server.clone();
        tokio::spawn(async move {
            let Ok(tls_stream) = acceptor.accept(tcp).await else { return };
            let service = hyper::service::service_fn(move |req| server.clone().serve(req));
            let builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            let _ = builder.serve_connection(hyper_util::rt::TokioIo::new(tls_stream), service).await;
        });
    }
}
