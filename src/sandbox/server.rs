//! HTTPS front door: HTTP strictness, bearer-token authentication, the request timeout,
//! routing of `/api`, `/apis`, `/version` and the health checks, and one log line per
//! request. Connections themselves (TLS, keep-alive, their timeouts) are [`super::connection`]'s.
//!
//! Who can reach what: anyone may read `/version`, `/healthz`, `/livez` and `/readyz`, as
//! kube-apiserver's `system:public-info-viewer` role allows; everything else needs the
//! sandbox's bearer token. A request with no usable bearer token (none, empty, another
//! scheme) is anonymous; one with a wrong token is 401.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response};
use serde_json::json;

use super::connection::Timeouts;
use super::discovery;
use super::request::{parse_path, HttpRequest, Query, Route};
use super::rest::{Apiserver, Reply, MAX_BODY_BYTES};
use super::status::ApiError;

/// The Kubernetes version whose API the sandbox serves (k8s-openapi's `v1_34`).
pub const KUBERNETES_VERSION: &str = "v1.34.2";

pub type Body = BoxBody<Bytes, Infallible>;

/// The largest header block served, as Go's `DefaultMaxHeaderBytes`; larger is 431.
pub const MAX_HEADER_BYTES: usize = 1 << 20;
/// kube-apiserver's warning for `Authorization: Bearer  token` (bearertoken.go).
const SPACE_BEFORE_TOKEN_WARNING: &str = "the provided Authorization header contains extra space before the bearer token, and is ignored";

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum User {
    Admin,
    Anonymous,
}

pub struct Server {
    pub api: Arc<Apiserver>,
    /// Log each request on stderr (`sandbox start --foreground`).
    pub log_requests: bool,
    pub data_dir: std::path::PathBuf,
    /// `host:port` the server listens on, as discovery advertises it.
    pub address: String,
    pub timeouts: Timeouts,
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

/// A streamed subresource's answer (`pods/log?follow=true` goes on until it ends).
/// The stream is pumped by a task of its own, so a client that leaves (dropping the
/// receiving end) ends it.
fn streamed_response(s: super::registry::Streamed) -> Response<Body> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let mut body = s.body;
    tokio::spawn(async move {
        while let Some(b) = futures::StreamExt::next(&mut body).await {
            if tx.send(b).await.is_err() {
                break;
            }
        }
    });
    let received = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
    let stream = futures::StreamExt::map(received, |b| Ok::<_, Infallible>(Frame::data(b)));
    Response::builder()
        .status(200)
        .header("Content-Type", s.content_type)
        .header("Cache-Control", "no-cache, private")
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .expect("a valid response")
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
    /// Bearer tokens as kube-apiserver's `bearertoken.go` reads them: the first
    /// `Authorization` header, trimmed, split on single spaces; anything but `Bearer <token>`
    /// leaves the request anonymous, and so does an empty token (`Bearer  token` has one, with
    /// a warning). A token that does not match is 401.
    fn authenticate(&self, req: &Request<Incoming>) -> Result<(User, Option<&'static str>), ApiError> {
        let Some(header) = req.headers().get(hyper::header::AUTHORIZATION) else { return Ok((User::Anonymous, None)) };
        let auth = header.as_bytes().trim_ascii();
        let mut parts = auth.splitn(3, |b| *b == b' ');
        let (Some(scheme), Some(token)) = (parts.next(), parts.next()) else { return Ok((User::Anonymous, None)) };
        if !scheme.eq_ignore_ascii_case(b"bearer") {
            return Ok((User::Anonymous, None));
        }
        if token.is_empty() {
            let warning = parts.next().map(|_| SPACE_BEFORE_TOKEN_WARNING);
            return Ok((User::Anonymous, warning));
        }
        if self.api.authenticator().and_then(|a| a.authenticate(token)).is_some() {
            Ok((User::Admin, None))
        } else {
            Err(ApiError::unauthorized())
        }
    }

    /// Serves one HTTP request.
    pub async fn serve(self: Arc<Self>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
        let started = Instant::now();
        let method = req.method().clone();
        // Under HTTP/2 the URI is absolute: route on the path alone.
        let path = req.uri().path().to_string();
        let query_str = req.uri().query().map(String::from);
        let resp = match malformed(&req) {
            Some(e) => error_response(&e),
            // kube-apiserver's WithTimeoutForNonLongRunningRequests. A watch's route returns
            // as soon as its stream starts, so only its start is timed here.
            None => match tokio::time::timeout(self.timeouts.request, self.route(req)).await {
                Ok(r) => r,
                Err(_) => error_response(
                    &ApiError::new(504, "Timeout", "Timeout: request did not complete within the allotted timeout").with_details(json!({})),
                ),
            },
        };
        if self.log_requests {
            let q = query_str.map(|q| format!("?{q}")).unwrap_or_default();
            eprintln!("{method} {path}{q} {} {:.1}ms", resp.status().as_u16(), started.elapsed().as_secs_f64() * 1000.0);
        }
        Ok(resp)
    }

    async fn route(&self, req: Request<Incoming>) -> Response<Body> {
        let (user, warning) = match self.authenticate(&req) {
            Ok(u) => u,
            Err(e) => return error_response(&e),
        };
        let mut resp = self.route_as(user, req).await;
        if let Some(w) = warning {
            if let Ok(v) = hyper::header::HeaderValue::from_str(&format!("299 - {w:?}")) {
                resp.headers_mut().append(hyper::header::WARNING, v);
            }
        }
        resp
    }

    async fn route_as(&self, user: User, req: Request<Incoming>) -> Response<Body> {
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
                    // As the apiserver's `forbiddenMessage`: the subresource joins the
                    // resource, and a cluster-scoped request says so.
                    let verb = verb_of(req.method(), p.name.is_some(), is_watch);
                    // RequestInfo takes a namespace's own name as the request's namespace.
                    let namespace = p.namespace.as_ref().or(p.name.as_ref().filter(|_| p.group.is_empty() && p.resource == "namespaces"));
                    let scope = match namespace {
                        Some(ns) => format!("in the namespace \"{ns}\""),
                        None => "at the cluster scope".to_string(),
                    };
                    let resource = match &p.subresource {
                        Some(sub) => format!("{}/{sub}", p.resource),
                        None => p.resource.clone(),
                    };
                    let qualified = if p.group.is_empty() { p.resource.clone() } else { format!("{}.{}", p.resource, p.group) };
                    let e = ApiError::forbidden(
                        &qualified,
                        p.name.as_deref().unwrap_or(""),
                        &format!("User \"system:anonymous\" cannot {verb} resource \"{resource}\" in API group \"{}\" {scope}", p.group),
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
        if matches!(*req.method(), Method::POST | Method::PUT) && self.api.resolve(&api_path).is_ok() {
            if let Some(e) = unparsable_content_type(req.headers().get("content-type")) {
                return error_response(&e);
            }
        }
        let user_agent = req.headers().get("user-agent").and_then(|h| h.to_str().ok()).map(String::from);
        let method = req.method().clone();
        let body = match read_body(req.into_body()).await {
            Ok(b) => b,
            Err(e) => return error_response(&e),
        };
        let http = HttpRequest { method, path: api_path, query, content_type, accept: Some(accept), user_agent, body };
        if let Some(streamed) = self.api.stream(&http, &self.data_dir) {
            return match streamed {
                Ok(s) => streamed_response(s),
                Err(e) => error_response(&e),
            };
        }
        if http.is_watch() && http.path.name.is_none() {
            return self.watch(http);
        }
        reply_to_response(self.api.handle(http).await)
    }

    fn watch(&self, req: HttpRequest) -> Response<Body> {
        let watch = match self.api.watch(req, &self.timeouts) {
            Ok(w) => w,
            Err(e) => return error_response(&e),
        };
        let content_type = watch.content_type();
        let warnings = watch.warnings.clone();
        let stream = futures::StreamExt::map(watch.start(), |b| Ok::<_, Infallible>(Frame::data(b)));
        let mut b = Response::builder();
        for w in &warnings {
            b = b.header("Warning", format!("299 - {w:?}"));
        }
        b.status(200)
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

/// What Go's HTTP server refuses before any handler runs, answered here with a `Status`:
/// HTTP/1.1 without exactly one `Host`, a malformed `Host`, a header block over the limit. (A URL over 64 KiB
/// is refused by hyper's parser itself, with a bare 414.)
fn malformed(req: &Request<Incoming>) -> Option<ApiError> {
    let hosts = req.headers().get_all(hyper::header::HOST).iter().count();
    if req.version() == hyper::Version::HTTP_11 && hosts == 0 {
        return Some(ApiError::bad_request("missing required Host header"));
    }
    if hosts > 1 {
        return Some(ApiError::bad_request("too many Host headers"));
    }
    // Go's httpguts.ValidHostHeader: the bytes a host, an IPv6 literal and a port may use.
    let valid_host_byte = |b: &u8| b.is_ascii_alphanumeric() || b"!$%&'()*+,-.:;=[]_~".contains(b);
    if req.headers().get(hyper::header::HOST).is_some_and(|h| !h.as_bytes().iter().all(valid_host_byte)) {
        return Some(ApiError::bad_request("malformed Host header"));
    }
    // Each header counted as Go's limit counts it: name, ": ", value, CRLF.
    let header_bytes: usize = req.headers().iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Some(ApiError::new(
            431,
            "RequestHeaderFieldsTooLarge",
            format!("the request headers are {header_bytes} bytes long, over the limit of {MAX_HEADER_BYTES}"),
        ));
    }
    None
}

/// A create or update whose `Content-Type` is present but not a media type (Go's
/// `mime.ParseMediaType` fails) is 415, as kube-apiserver's input negotiation answers it.
fn unparsable_content_type(header: Option<&hyper::header::HeaderValue>) -> Option<ApiError> {
    let value = header?.to_str().map_err(|_| ()).and_then(|v| if v.is_empty() { Ok(None) } else { parse_media_type(v).map(Some) });
    match value {
        Ok(_) => None,
        Err(()) => Some(ApiError::unsupported_media_type(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf",
        )),
    }
}

/// Go's `mime.ParseMediaType`, as far as deciding whether it fails: `type[/subtype]` of
/// RFC 2045 tokens, then `; attribute=value` parameters (value a token or a quoted string),
/// one trailing `;` allowed, a repeated parameter only with the same value.
fn parse_media_type(v: &str) -> Result<String, ()> {
    fn is_token_char(c: char) -> bool {
        c.is_ascii() && !c.is_ascii_control() && c != ' ' && !"()<>@,;:\\\"/[]?=".contains(c)
    }
    fn token(s: &str) -> (&str, &str) {
        let end = s.find(|c: char| !is_token_char(c)).unwrap_or(s.len());
        s.split_at(end)
    }
    fn value(s: &str) -> Option<(String, &str)> {
        let Some(quoted) = s.strip_prefix('"') else {
            let (t, rest) = token(s);
            return (!t.is_empty()).then(|| (t.to_string(), rest));
        };
        let mut out = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return Some((out, &quoted[i + 1..])),
                '\\' => out.push(chars.next()?.1),
                c => out.push(c),
            }
        }
        None
    }
    let base = v.split(';').next().unwrap_or("");
    let media_type = base.trim().to_ascii_lowercase();
    let (typ, rest) = token(&media_type);
    if typ.is_empty() {
        return Err(());
    }
    if !rest.is_empty() {
        let subtype = rest.strip_prefix('/').ok_or(())?;
        let (sub, rest) = token(subtype);
        if sub.is_empty() || !rest.is_empty() {
            return Err(());
        }
    }
    let mut params: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut rest = &v[base.len()..];
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let param = rest.strip_prefix(';').map(str::trim_start).map(token).filter(|(k, _)| !k.is_empty()).and_then(|(k, after)| {
            let after = after.trim_start().strip_prefix('=')?.trim_start();
            let (val, after) = value(after)?;
            Some((k.to_ascii_lowercase(), val, after))
        });
        match param {
            Some((k, val, after)) => {
                if params.get(&k).is_some_and(|old| *old != val) {
                    return Err(());
                }
                params.insert(k, val);
                rest = after;
            }
            None if rest.trim() == ";" => break,
            None => return Err(()),
        }
    }
    Ok(media_type)
}

#[cfg(test)]
mod tests {
    use super::parse_media_type;

    #[test]
    fn media_types_parse_as_go_parses_them() {
        for ok in
            ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON;", "text", "a/b; x=\"q;uo\\\"te\"", "a/b;x=1;x=1"]
        {
            assert!(parse_media_type(ok).is_ok(), "{ok:?} parses");
        }
        for bad in [
            ";;;",
            "application/json;;;",
            "application/json;;",
            "/json",
            "application/",
            "a/b/c",
            "a b",
            "a/b; x",
            "a/b; =1",
            "a/b; x=\"open",
            "a/b;x=1;x=2",
            "a/b;x=1 y",
        ] {
            assert!(parse_media_type(bad).is_err(), "{bad:?} does not parse");
        }
    }
}
