//! A tower layer of our own that records every request and response passing through the
//! client: what client-go's `--v=8` round-tripper logging shows, kept as data so commands
//! can narrate it.
//!
//! It sits innermost, just above hyper, so it sees the request exactly as it leaves: the
//! absolute URI the base-URI layer made, and the Authorization header the auth layer added
//! (which it redacts before anyone can print it). Response bodies are wrapped so bytes are
//! counted as they stream — a watch's body never ends, and its events are still counted.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use tower::{Layer, Service};

/// How much of each response body is kept to be shown.
const HEAD_BYTES: usize = 4096;

/// One request/response pair as seen on the wire.
#[derive(Debug, Clone, Default)]
pub struct Exchange {
    pub method: String,
    pub uri: String,
    /// Request headers, Authorization redacted.
    pub request_headers: Vec<(String, String)>,
    pub request_bytes: usize,
    pub status: Option<u16>,
    pub version: Option<String>,
    pub response_headers: Vec<(String, String)>,
    /// Time from sending the request to the response head.
    pub latency: Option<Duration>,
    /// Body bytes received so far.
    pub bytes: usize,
    /// The first [`HEAD_BYTES`] of the body.
    pub head: Vec<u8>,
    /// Time from sending the request to the end of the body, once it ended.
    pub complete: Option<Duration>,
    /// The transport error, when there was no response at all.
    pub error: Option<String>,
}

impl Exchange {
    /// The path and query, without scheme and host.
    /// kube-rs builds queries by appending `&name=value` to `path?`, which leaves a bare
    /// `?` (no parameters) or `?&`; those are dropped so the line reads as a reader would
    /// type the URL.
    pub fn path_and_query(&self) -> String {
        let full = match self.uri.find("://") {
            Some(i) => self.uri[i + 3..].find('/').map_or("/", |j| &self.uri[i + 3 + j..]),
            None => &self.uri,
        };
        let Some((path, query)) = full.split_once('?') else {
            return full.to_string();
        };
        let params: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
        if params.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{}", params.join("&"))
        }
    }
    pub fn response_header(&self, name: &str) -> Option<&str> {
        self.response_headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// The shared record of exchanges, in the order requests were sent.
#[derive(Debug, Clone, Default)]
pub struct Journal(Arc<Mutex<Vec<Exchange>>>);

impl Journal {
    pub fn snapshot(&self) -> Vec<Exchange> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
    /// The exchanges recorded since `from` (an earlier `len()`).
    pub fn since(&self, from: usize) -> Vec<Exchange> {
        self.snapshot().into_iter().skip(from).collect()
    }
    pub fn len(&self) -> usize {
        self.0.lock().map(|v| v.len()).unwrap_or(0)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn push(&self, e: Exchange) -> usize {
        let mut v = self.0.lock().expect("journal lock");
        v.push(e);
        v.len() - 1
    }
    fn update(&self, index: usize, f: impl FnOnce(&mut Exchange)) {
        if let Ok(mut v) = self.0.lock() {
            if let Some(e) = v.get_mut(index) {
                f(e);
            }
        }
    }
}

/// The layer: `ServiceBuilder::new().layer(Record::layer(journal))`.
#[derive(Debug, Clone)]
pub struct RecordLayer {
    journal: Journal,
}

impl RecordLayer {
    pub fn new(journal: Journal) -> Self {
        RecordLayer { journal }
    }
}

impl<S> Layer<S> for RecordLayer {
    type Service = Record<S>;
    fn layer(&self, inner: S) -> Record<S> {
        Record { inner, journal: self.journal.clone() }
    }
}

#[derive(Debug, Clone)]
pub struct Record<S> {
    inner: S,
    journal: Journal,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Record<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: std::fmt::Display,
    ReqBody: Body,
{
    type Response = Response<Counted<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let request_headers = req
            .headers()
            .iter()
            .map(|(k, v)| {
                let value = if k == http::header::AUTHORIZATION {
                    redact(v.to_str().unwrap_or(""))
                } else {
                    String::from_utf8_lossy(v.as_bytes()).into_owned()
                };
                (k.as_str().to_string(), value)
            })
            .collect();
        let exchange = Exchange {
            method: req.method().to_string(),
            uri: req.uri().to_string(),
            request_headers,
            request_bytes: req.body().size_hint().exact().unwrap_or(0) as usize,
            ..Default::default()
        };
        let journal = self.journal.clone();
        let index = journal.push(exchange);
        let started = Instant::now();
        let future = self.inner.call(req);
        Box::pin(async move {
            match future.await {
                Ok(res) => {
                    let headers = res
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                        .collect();
                    let status = res.status().as_u16();
                    let version = format!("{:?}", res.version());
                    journal.update(index, |e| {
                        e.status = Some(status);
                        e.version = Some(version);
                        e.response_headers = headers;
                        e.latency = Some(started.elapsed());
                    });
                    Ok(res.map(|inner| Counted { inner, journal, index, started }))
                }
                Err(err) => {
                    let text = err.to_string();
                    journal.update(index, |e| e.error = Some(text));
                    Err(err)
                }
            }
        })
    }
}

/// `Bearer abcd…(48 chars)`: enough to recognise the credential, not to reuse it.
fn redact(value: &str) -> String {
    match value.split_once(' ') {
        Some((scheme, secret)) => format!("{scheme} <redacted, {} chars>", secret.len()),
        None => format!("<redacted, {} chars>", value.len()),
    }
}

/// A response body that reports what flows through it to the journal.
pub struct Counted<B> {
    inner: B,
    journal: Journal,
    index: usize,
    started: Instant,
}

impl<B> Body for Counted<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let data = data.clone();
                    self.journal.update(self.index, |e| {
                        e.bytes += data.len();
                        let room = HEAD_BYTES.saturating_sub(e.head.len());
                        e.head.extend_from_slice(&data[..room.min(data.len())]);
                    });
                }
            }
            Poll::Ready(None) => {
                let elapsed = self.started.elapsed();
                self.journal.update(self.index, |e| e.complete = Some(elapsed));
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_the_scheme_only() {
        assert_eq!(redact("Bearer s3cr3t"), "Bearer <redacted, 6 chars>");
        assert_eq!(redact("opaque"), "<redacted, 6 chars>");
    }

    #[test]
    fn path_and_query_drops_scheme_and_authority() {
        let e = Exchange { uri: "https://127.0.0.1:6443/api/v1/nodes?limit=5".into(), ..Default::default() };
        assert_eq!(e.path_and_query(), "/api/v1/nodes?limit=5");
    }

    #[test]
    fn path_and_query_drops_empty_query_parameters() {
        for (uri, shown) in [
            ("https://h:1/api/v1/nodes?", "/api/v1/nodes"),
            ("https://h:1/api/v1/pods?&watch=true", "/api/v1/pods?watch=true"),
            ("https://h:1/api/v1/pods?a=1&&b=2&", "/api/v1/pods?a=1&b=2"),
            ("https://h:1/", "/"),
        ] {
            let e = Exchange { uri: uri.into(), ..Default::default() };
            assert_eq!(e.path_and_query(), shown, "{uri}");
        }
    }
}
