//! A deliberately dumb HTTP/1.1-over-TLS client for the hardening tests: it sends exactly
//! the bytes it is given, so requests no well-behaved client would send can be tried.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One answer, as read off the wire.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub type Tls = tokio_rustls::client::TlsStream<TcpStream>;

/// Connects to one sandbox, trusting its CA.
#[derive(Clone)]
pub struct Raw {
    pub addr: SocketAddr,
    connector: tokio_rustls::TlsConnector,
    pub token: String,
}

impl Raw {
    pub fn new(addr: SocketAddr, ca_pem: &str, token: &str) -> Raw {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pemfile::certs(&mut ca_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Raw { addr, connector: tokio_rustls::TlsConnector::from(Arc::new(config)), token: token.to_string() }
    }

    pub fn from_home(home: &std::path::Path) -> Raw {
        let port: u16 = std::fs::read_to_string(home.join("sandbox.port")).unwrap().trim().parse().unwrap();
        let ca = std::fs::read_to_string(home.join("ca.crt")).unwrap();
        let token = std::fs::read_to_string(home.join("token")).unwrap();
        Raw::new(SocketAddr::from(([127, 0, 0, 1], port)), &ca, token.trim())
    }

    pub async fn connect(&self) -> Tls {
        let tcp = TcpStream::connect(self.addr).await.expect("connect");
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        self.connector.connect(name, tcp).await.expect("TLS handshake")
    }

    /// Sends `bytes` on a fresh connection and reads one answer (or `None` if the server
    /// closed without one).
    pub async fn send(&self, bytes: &[u8]) -> Option<Answer> {
        let mut tls = self.connect().await;
        // A server may answer (and close) before it has read everything, e.g. a 431.
        let _ = tls.write_all(bytes).await;
        let _ = tls.flush().await;
        tokio::time::timeout(Duration::from_secs(20), read_answer(&mut tls)).await.expect("an answer or a close within 20 s")
    }

    /// A request with `Host`, the admin token unless `headers` sets `Authorization`,
    /// `Content-Length` for a body, and `Connection: close`.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
        let mut r = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("authorization")) {
            r.push_str(&format!("Authorization: Bearer {}\r\n", self.token));
        }
        for (n, v) in headers {
            r.push_str(&format!("{n}: {v}\r\n"));
        }
        if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
            r.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        r.push_str("\r\n");
        let mut bytes = r.into_bytes();
        bytes.extend_from_slice(body);
        bytes
    }

    pub async fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        self.send(&self.request(method, path, headers, body)).await.unwrap_or_else(|| panic!("{method} {path}: no answer"))
    }

    /// `/readyz` answers `ok`.
    pub async fn ready(&self) -> bool {
        matches!(tokio::time::timeout(Duration::from_secs(5), self.send(&self.request("GET", "/readyz", &[], b""))).await,
            Ok(Some(a)) if a.status == 200 && a.body == b"ok")
    }
}

/// Reads one HTTP/1 response: head, then a body by Content-Length, chunked, or to EOF.
pub async fn read_answer<S: AsyncRead + Unpin>(s: &mut S) -> Option<Answer> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0u8; 16384];
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut rest = buf[head_end + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_string(), v.trim().to_string())).collect();
    let get = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let body = if let Some(len) = get("content-length").and_then(|l| l.parse::<usize>().ok()) {
        while rest.len() < len {
            let mut chunk = [0u8; 16384];
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => rest.extend_from_slice(&chunk[..n]),
            }
        }
        rest.truncate(len);
        rest
    } else {
        let _ = s.read_to_end(&mut rest).await;
        if get("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
            dechunk(&rest)
        } else {
            rest
        }
    };
    Some(Answer { status, headers, body })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = find(b, b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..i]).trim(), 16).unwrap_or(0);
        if size == 0 || b.len() < i + 2 + size {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + size]);
        b = &b[(i + 4 + size).min(b.len())..];
    }
    out
}

/// Waits until the peer closes `s` (EOF or error) and says how long it took, or `None`
/// if it stays open past `limit`. Anything the server sends meanwhile is discarded.
pub async fn time_to_close<S: AsyncRead + Unpin>(s: &mut S, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut chunk = [0u8; 4096];
    tokio::time::timeout(limit, async {
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return started.elapsed(),
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
}
