//! One TCP connection's life — TLS, then HTTP/1.1 or HTTP/2 — under the limits kube-apiserver's
//! Go `http.Server` applies, so a client that stalls, or a host that runs out of file
//! descriptors, costs the sandbox little and not for long.
//!
//! hyper has no idle timeout and its header timeout also cuts idle keep-alive connections,
//! so each connection has a watchdog instead: it knows whether a request is in flight (the
//! service counts them, a response body holds its count until it ends) and when bytes of a
//! new request head started arriving.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::server::Server;

/// The timeouts of kube-apiserver, each settable so tests run in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// The TLS handshake, and a request's head from its first byte (a new connection's from
    /// the handshake): Go's `ReadHeaderTimeout`, 32 s.
    pub header_read: Duration,
    /// A keep-alive connection with no request in flight: `IdleTimeout`, 90 s.
    pub idle: Duration,
    /// A non-long-running request, its body included, answered 504 past this:
    /// `--request-timeout`, 60 s.
    pub request: Duration,
    /// A watch without `timeoutSeconds` ends after a random time in [min, 2·min):
    /// `--min-request-timeout`, 1800 s.
    pub min_request: Duration,
    /// A watcher whose buffer stays full this long is closed; its client re-watches.
    pub watcher_grace: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            header_read: Duration::from_secs(32),
            idle: Duration::from_secs(90),
            request: Duration::from_secs(60),
            min_request: Duration::from_secs(1800),
            watcher_grace: Duration::from_secs(10),
        }
    }
}

/// hyper's read buffer for one HTTP/1 request head: above the header limit of
/// [`super::server`] (and hyper's own 64 KiB limit on the URL), so a head over it is read
/// whole and answered 431 with a `Status`. A head over this gets hyper's bare 431.
const HEAD_BUFFER_BYTES: usize = 4 << 20;
/// Go's server answers plain HTTP on its TLS port with this (crypto/tls's RecordHeaderError).
const PLAIN_HTTP_ANSWER: &[u8] = b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";
/// After the server is done with a connection, how long it still reads (and discards) what
/// the client sends, so that closing with unread bytes does not reset the connection before
/// the client has read the answer (Go's `closeWriteAndWait`, 500 ms).
const LINGER: Duration = Duration::from_millis(500);
const ACCEPT_BACKOFF_FIRST: Duration = Duration::from_millis(5);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Accepts TLS connections until `shutdown` turns true. A failing `accept` (EMFILE, ENFILE,
/// ...) is retried after 5 ms, doubling to 1 s, as Go's server does, so running out of
/// descriptors neither spins the CPU nor delays recovery by more than a second.
pub async fn accept_loop(listener: TcpListener, tls: Arc<rustls::ServerConfig>, server: Arc<Server>, mut shutdown: watch::Receiver<bool>) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let mut backoff = Duration::ZERO;
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => return,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => {
                backoff = Duration::ZERO;
                tcp
            }
            Err(e) => {
                backoff = if backoff.is_zero() { ACCEPT_BACKOFF_FIRST } else { (backoff * 2).min(ACCEPT_BACKOFF_MAX) };
                if server.log_requests {
                    eprintln!("accept error: {e}; retrying in {backoff:?}");
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => return,
                }
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(serve(tcp, acceptor.clone(), server.clone()));
    }
}

/// Go's `tlsRecordHeaderLooksLikeHTTP`.
fn looks_like_http(first: &[u8]) -> bool {
    matches!(first, b"GET /" | b"HEAD " | b"POST " | b"PUT /" | b"OPTIO")
}

async fn serve(mut tcp: TcpStream, acceptor: tokio_rustls::TlsAcceptor, server: Arc<Server>) {
    let timeouts = server.timeouts;
    let mut first = [0u8; 5];
    match tokio::time::timeout(timeouts.header_read, tcp.peek(&mut first)).await {
        Ok(Ok(5)) if looks_like_http(&first) => {
            let _ = tcp.write_all(PLAIN_HTTP_ANSWER).await;
            let _ = tcp.shutdown().await;
            return;
        }
        Ok(Ok(n)) if n > 0 => {}
        _ => return,
    }
    let Ok(Ok(tls)) = tokio::time::timeout(timeouts.header_read, acceptor.accept(tcp)).await else { return };
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let activity = Arc::new(Activity::new(h2));
    let io = hyper_util::rt::TokioIo::new(Tracked { inner: Some(tls), activity: activity.clone() });
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |req| {
            let in_flight = activity.begin();
            let server = server.clone();
            async move {
                let resp = server.serve(req).await?;
                Ok::<_, std::convert::Infallible>(resp.map(|body| InFlightBody { body, _in_flight: in_flight }))
            }
        })
    };
    let mut builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    builder.http1().max_buf_size(HEAD_BUFFER_BYTES);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let tick = (timeouts.header_read.min(timeouts.idle) / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    let mut closing: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = tokio::time::sleep(tick) => {}
        }
        match activity.verdict(&timeouts) {
            Verdict::Keep => {}
            // Dropping the connection closes it.
            Verdict::Close => return,
            Verdict::Idle if closing.is_none() => {
                conn.as_mut().graceful_shutdown();
                closing = Some(Instant::now());
            }
            Verdict::Idle => {}
        }
        if closing.is_some_and(|t| t.elapsed() > timeouts.header_read) {
            return;
        }
    }
}

/// What one connection is doing, for its watchdog. Times are milliseconds since `epoch`,
/// plus one (0: not set).
struct Activity {
    epoch: Instant,
    h2: bool,
    in_flight: AtomicUsize,
    head_started: AtomicU64,
    idle_since: AtomicU64,
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Keep,
    /// A request head is late: close now, as Go does (no answer).
    Close,
    /// Nothing in flight for the idle timeout: finish gracefully (HTTP/2 sends GOAWAY).
    Idle,
}

impl Activity {
    fn new(h2: bool) -> Activity {
        // A new HTTP/1 connection owes its first request head at once; an HTTP/2 one is idle
        // until its first stream (pings and settings do not count).
        let (head_started, idle_since) = if h2 { (0, 1) } else { (1, 0) };
        Activity {
            epoch: Instant::now(),
            h2,
            in_flight: AtomicUsize::new(0),
            head_started: AtomicU64::new(head_started),
            idle_since: AtomicU64::new(idle_since),
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    /// Bytes arrived: on an idle HTTP/1 connection they start the next request head.
    fn read(&self) {
        if !self.h2 && self.in_flight.load(Ordering::SeqCst) == 0 {
            let _ = self.head_started.compare_exchange(0, self.now(), Ordering::SeqCst, Ordering::SeqCst);
        }
    }

    /// A request's head is complete: it is in flight until its response body ends.
    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.head_started.store(0, Ordering::SeqCst);
        self.idle_since.store(0, Ordering::SeqCst);
        InFlight(self.clone())
    }

    fn verdict(&self, t: &Timeouts) -> Verdict {
        let now = self.now();
        let head = self.head_started.load(Ordering::SeqCst);
        if head != 0 && Duration::from_millis(now - head) > t.header_read {
            return Verdict::Close;
        }
        let idle = self.idle_since.load(Ordering::SeqCst);
        if self.in_flight.load(Ordering::SeqCst) == 0 && head == 0 && idle != 0 && Duration::from_millis(now - idle) > t.idle {
            return Verdict::Idle;
        }
        Verdict::Keep
    }
}

/// One request in flight; dropped with its response body.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle_since.store(self.0.now(), Ordering::SeqCst);
        }
    }
}

/// A response body that keeps its request counted as in flight until it ends (a watch
/// stream for its whole life).
struct InFlightBody<B> {
    body: B,
    _in_flight: InFlight,
}

impl<B: Body + Unpin> Body for InFlightBody<B> {
    type Data = B::Data;
    type Error = B::Error;
    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }
    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }
    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The TLS stream, telling the watchdog when bytes arrive; closed with a linger.
struct Tracked<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> {
    inner: Option<T>,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Tracked<T> {
    fn io(&mut self) -> std::io::Result<&mut T> {
        self.inner.as_mut().ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotConnected))
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Drop for Tracked<T> {
    fn drop(&mut self) {
        let (Some(mut io), Ok(rt)) = (self.inner.take(), tokio::runtime::Handle::try_current()) else { return };
        rt.spawn(async move {
            let _ = tokio::time::timeout(LINGER, async {
                let _ = io.shutdown().await;
                let mut sink = [0u8; 4096];
                while matches!(tokio::io::AsyncReadExt::read(&mut io, &mut sink).await, Ok(n) if n > 0) {}
            })
            .await;
        });
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncRead for Tracked<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(self.io()?).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        r
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncWrite for Tracked<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(self.io()?).poll_write(cx, buf)
    }
    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[std::io::IoSlice<'_>]) -> Poll<std::io::Result<usize>> {
        Pin::new(self.io()?).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.as_ref().is_some_and(|io| io.is_write_vectored())
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(self.io()?).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(self.io()?).poll_shutdown(cx)
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit, as Go programs do at start, so many
/// watchers and connections do not run the sandbox out of descriptors early.
pub fn raise_descriptor_limit() {
    #[cfg(unix)]
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
    unsafe {
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeouts(ms: u64) -> Timeouts {
        Timeouts { header_read: Duration::from_millis(ms), idle: Duration::from_millis(2 * ms), ..Timeouts::default() }
    }

    #[test]
    fn a_late_head_closes_and_an_idle_connection_winds_down() {
        let t = timeouts(30);
        let a = Arc::new(Activity::new(false));
        assert_eq!(a.verdict(&t), Verdict::Keep);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(a.verdict(&t), Verdict::Close, "a new HTTP/1 connection owes its head");

        let a = Arc::new(Activity::new(false));
        let in_flight = a.begin();
        std::thread::sleep(Duration::from_millis(70));
        a.read(); // body bytes of the request in flight
        assert_eq!(a.verdict(&t), Verdict::Keep, "a request in flight is not idle");
        drop(in_flight);
        assert_eq!(a.verdict(&t), Verdict::Keep);
        std::thread::sleep(Duration::from_millis(70));
        assert_eq!(a.verdict(&t), Verdict::Idle);
        a.read();
        assert_eq!(a.verdict(&t), Verdict::Keep, "a new head started");
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(a.verdict(&t), Verdict::Close);
    }

    #[test]
    fn http2_frames_between_streams_do_not_start_a_head() {
        let t = timeouts(30);
        let a = Arc::new(Activity::new(true));
        a.read();
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(a.verdict(&t), Verdict::Keep);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(a.verdict(&t), Verdict::Idle);
    }
}
