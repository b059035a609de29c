//! Our own bad-input suite: malformed and hostile requests, each with the exact answer
//! kube-apiserver gives (a `Status` with its code and reason, or the documented success),
//! and a live `/readyz` after every one of them.
//!
//! Requests are sent byte for byte over TLS by `raw_http`, so they can be wrong in ways no
//! client library allows. Two kinds of answer are not `Status` objects, as in Go's server:
//! what hyper refuses while parsing (a request line or header it cannot parse: a bare 400
//! or 431, no body), and what is not TLS at all (plain HTTP gets Go's one-line 400; other
//! garbage gets rustls's alert).

mod common;
mod raw_http;

use raw_http::Raw;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What a case must get.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// A `Status` with this code and reason.
    Status(u16, &'static str),
    /// Success with this code (valid input, listed to pin where the line is).
    Ok(u16),
    /// Go's plain-text `404 page not found`, kube-apiserver's answer off its API paths.
    PageNotFound,
    /// An empty answer with this code: hyper refused the request before any handler.
    Bare(u16),
    /// Plain text starting with this, not over TLS (Go's answer to HTTP on a TLS port).
    PlainText(u16, &'static str),
    /// A TLS alert record, then the close: rustls refusing what is not a ClientHello.
    TlsAlert,
}

struct Case {
    name: String,
    bytes: Vec<u8>,
    expect: Expect,
    /// Send over plain TCP instead of TLS.
    plain_tcp: bool,
}

const CM: &str = "/api/v1/namespaces/default/configmaps";
const JSON: (&str, &str) = ("Content-Type", "application/json");

fn cm(name: &str) -> String {
    format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}"}},"data":{{"k":"v"}}}}"#)
}

/// Bodies that are not a JSON object at all: 400 BadRequest wherever an object is decoded.
const NOT_JSON: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"nul",
    b"tru",
    b"{\"a\"}",
    b"{\"a\":}",
    b"{,}",
    b"{\"metadata\":{\"name\":\"x\"},}",
    b"{\"metadata\":",
    b"\x00\x01\x02",
    b"\xff\xfe\xfd",
    b"<xml/>",
    b"{'single':'quotes'}",
    b"{\"a\":1}}",
    b"NaN",
];

/// Well-formed JSON of the wrong shape for a ConfigMap: 400 BadRequest.
const WRONG_SHAPE: &[&str] = &[
    r#""a string""#,
    "123",
    "[]",
    r#"[{"metadata":{"name":"x"}}]"#,
    r#"{"metadata":{"name":5}}"#,
    r#"{"metadata":"x"}"#,
    r#"{"metadata":{"name":"x"},"data":{"k":5}}"#,
    r#"{"metadata":{"name":"x","labels":[]}}"#,
    r#"{"metadata":{"name":"x"},"data":[]}"#,
    r#"{"metadata":{"name":"x"},"data":{"k":{}}}"#,
];

/// Content types that do not parse as a media type: 415 on create and update.
const UNPARSABLE_CONTENT_TYPES: &[&str] = &[
    ";;;",
    "application/json;;;",
    "application/json;;",
    "/json",
    "application/",
    "application/json/x",
    "application json",
    "application/json; charset",
    "application/json; =utf-8",
    "application/json; charset=\"utf-8",
    "application/json; a=1; a=2",
    "application/json; a=1 b",
];

/// Media types that parse but are not served: 415 on create and update.
const UNSERVED_CONTENT_TYPES: &[&str] = &[
    "text/plain",
    "application/xml",
    "text/html",
    "multipart/form-data",
    "application/x-www-form-urlencoded",
    "application/merge-patch+json",
];

fn cases(raw: &Raw) -> Vec<Case> {
    let mut cases = vec![];
    let mut add = |name: String, bytes: Vec<u8>, expect: Expect| cases.push(Case { name, bytes, expect, plain_tcp: false });
    let req = |m: &str, p: &str, h: &[(&str, &str)], b: &[u8]| raw.request(m, p, h, b);

    // Bodies: create (POST) and update (PUT).
    for (i, body) in NOT_JSON.iter().enumerate() {
        add(format!("create, not JSON #{i}"), req("POST", CM, &[JSON], body), Expect::Status(400, "BadRequest"));
        add(format!("update, not JSON #{i}"), req("PUT", &format!("{CM}/existing"), &[JSON], body), Expect::Status(400, "BadRequest"));
    }
    for (i, body) in WRONG_SHAPE.iter().enumerate() {
        add(format!("create, wrong shape #{i}: {body}"), req("POST", CM, &[JSON], body.as_bytes()), Expect::Status(400, "BadRequest"));
        add(
            format!("update, wrong shape #{i}: {body}"),
            req("PUT", &format!("{CM}/existing"), &[JSON], body.as_bytes()),
            Expect::Status(400, "BadRequest"),
        );
    }
    for (i, body) in ["a: [", "a: {b", "- a\nb: c", "\"unterminated", "{a: 1"].iter().enumerate() {
        add(
            format!("create, bad YAML #{i}"),
            req("POST", CM, &[("Content-Type", "application/yaml")], body.as_bytes()),
            Expect::Status(400, "BadRequest"),
        );
    }
    for (i, body) in [&b"\x0a\x05hello"[..], b"k8s\x00\xff\xff\xff", b"garbage"].iter().enumerate() {
        add(
            format!("create, bad protobuf #{i}"),
            req("POST", CM, &[("Content-Type", "application/vnd.kubernetes.protobuf")], body),
            Expect::Status(400, "BadRequest"),
        );
    }
    add("create, empty body".into(), req("POST", CM, &[JSON], b""), Expect::Status(400, "BadRequest"));
    add("create, no name".into(), req("POST", CM, &[JSON], br#"{"metadata":{}}"#), Expect::Status(422, "Invalid"));
    add("create, invalid name".into(), req("POST", CM, &[JSON], cm("Not_A_Name").as_bytes()), Expect::Status(422, "Invalid"));
    add("create, name too long".into(), req("POST", CM, &[JSON], cm(&"a".repeat(300)).as_bytes()), Expect::Status(422, "Invalid"));
    add(
        "create, another kind".into(),
        req("POST", CM, &[JSON], br#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"}}"#),
        Expect::Status(400, "BadRequest"),
    );
    add(
        "create, another namespace in the body".into(),
        req("POST", CM, &[JSON], br#"{"metadata":{"name":"x","namespace":"kube-system"}}"#),
        Expect::Status(400, "BadRequest"),
    );
    add("create, already exists".into(), req("POST", CM, &[JSON], cm("existing").as_bytes()), Expect::Status(409, "AlreadyExists"));
    add(
        "update, another name in the body".into(),
        req("PUT", &format!("{CM}/existing"), &[JSON], cm("other").as_bytes()),
        Expect::Status(400, "BadRequest"),
    );
    add(
        "update, stale resourceVersion".into(),
        req("PUT", &format!("{CM}/existing"), &[JSON], br#"{"metadata":{"name":"existing","resourceVersion":"1"}}"#),
        Expect::Status(409, "Conflict"),
    );
    let big = format!(r#"{{"metadata":{{"name":"big"}},"data":{{"k":"{}"}}}}"#, "x".repeat(3 * 1024 * 1024 + 16));
    add("create, body over 3 MiB".into(), req("POST", CM, &[JSON], big.as_bytes()), Expect::Status(413, "RequestEntityTooLarge"));

    // Content types.
    for ct in UNPARSABLE_CONTENT_TYPES.iter().chain(UNSERVED_CONTENT_TYPES) {
        add(
            format!("create, Content-Type {ct:?}"),
            req("POST", CM, &[("Content-Type", ct)], cm("ct").as_bytes()),
            Expect::Status(415, "UnsupportedMediaType"),
        );
        add(
            format!("update, Content-Type {ct:?}"),
            req("PUT", &format!("{CM}/existing"), &[("Content-Type", ct)], cm("existing").as_bytes()),
            Expect::Status(415, "UnsupportedMediaType"),
        );
    }
    for (i, ct) in ["application/json; charset=utf-8", "application/json;", "application/json ; charset=\"utf-8\""].iter().enumerate() {
        add(
            format!("create, valid Content-Type {ct:?}"),
            req("POST", CM, &[("Content-Type", ct)], cm(&format!("ct-ok-{i}")).as_bytes()),
            Expect::Ok(201),
        );
    }
    add(
        "create, unknown resource wins over a bad Content-Type".into(),
        req("POST", "/api/v1/namespaces/default/nothings", &[("Content-Type", ";;;")], b"{}"),
        Expect::Status(404, "NotFound"),
    );

    // Paths.
    for p in [
        "/api/v1/namespaces/default/nothings",
        "/api/v1/namespaces/default/configmaps/missing",
        "/api/v1/namespaces/default/configmaps/existing/nosuchsubresource",
        "/api/v1/namespaces/default/configmaps/existing/status",
        "/apis/apps/v1/namespaces/default/deployments/missing/scale",
    ] {
        add(format!("GET {p}"), req("GET", p, &[], b""), Expect::Status(404, "NotFound"));
    }
    for p in [
        "/apis/nope.example.com/v1/things",
        "/api/v9/pods",
        "/apis/apps/v9/deployments",
        "/foo",
        "/api/v1/namespaces/default/configmaps/a/b/c/d",
    ] {
        add(format!("GET {p}"), req("GET", p, &[], b""), Expect::PageNotFound);
    }
    for p in ["/api", "/apis", "/api/v1", "/version", "/api/v1/namespaces/default/configmaps?limit=1"] {
        add(format!("GET {p} (valid)"), req("GET", p, &[], b""), Expect::Ok(200));
    }

    // Methods a resource does not have.
    for (m, p) in [("PUT", CM), ("PATCH", CM), ("POST", "/api/v1/namespaces/default/configmaps/existing"), ("FOO", CM), ("TRACE", CM)] {
        add(format!("{m} {p}"), req(m, p, &[JSON], b"{}"), Expect::Status(405, "MethodNotAllowed"));
    }

    // Patches.
    let patch = |ct: &str, body: &str| req("PATCH", &format!("{CM}/existing"), &[("Content-Type", ct)], body.as_bytes());
    for ct in ["", ";;;", "text/plain", "application/json"] {
        add(format!("patch, Content-Type {ct:?}"), patch(ct, "{}"), Expect::Status(415, "UnsupportedMediaType"));
    }
    for body in ["{", "[", "nul"] {
        add(format!("merge patch {body:?}"), patch("application/merge-patch+json", body), Expect::Status(400, "BadRequest"));
        add(
            format!("strategic merge patch {body:?}"),
            patch("application/strategic-merge-patch+json", body),
            Expect::Status(400, "BadRequest"),
        );
        add(format!("JSON patch {body:?}"), patch("application/json-patch+json", body), Expect::Status(400, "BadRequest"));
    }
    add("JSON patch, not an array".into(), patch("application/json-patch+json", "{}"), Expect::Status(400, "BadRequest"));
    add(
        "JSON patch, failing test".into(),
        patch("application/json-patch+json", r#"[{"op":"test","path":"/data/k","value":"wrong"}]"#),
        Expect::Status(422, "Invalid"),
    );
    add(
        "JSON patch, missing path".into(),
        patch("application/json-patch+json", r#"[{"op":"remove","path":"/nope/x"}]"#),
        Expect::Status(422, "Invalid"),
    );
    add(
        "merge patch, missing object".into(),
        req("PATCH", &format!("{CM}/missing"), &[("Content-Type", "application/merge-patch+json")], b"{}"),
        Expect::Status(404, "NotFound"),
    );
    add("apply patch without fieldManager".into(), patch("application/apply-patch+yaml", "{}"), Expect::Status(422, "Invalid"));
    add(
        "apply patch, bad YAML".into(),
        req("PATCH", &format!("{CM}/existing?fieldManager=t"), &[("Content-Type", "application/apply-patch+yaml")], b"a: ["),
        Expect::Status(400, "BadRequest"),
    );

    // Selectors.
    for sel in ["!!!", "a%20in%20(", "a==b==c", "=x", "a%20b", "a,,b", "x%3Db%3Dc", "a%20notin%20", "!"] {
        add(format!("labelSelector {sel}"), req("GET", &format!("{CM}?labelSelector={sel}"), &[], b""), Expect::Status(400, "BadRequest"));
    }
    for sel in ["nope=1", "metadata.name", "spec.x%3D%3D1", "metadata.namespace!", "data.k=v"] {
        add(format!("fieldSelector {sel}"), req("GET", &format!("{CM}?fieldSelector={sel}"), &[], b""), Expect::Status(400, "BadRequest"));
    }
    add(
        "labelSelector a!= (valid: a has no empty value)".into(),
        req("GET", &format!("{CM}?labelSelector=a!%3D"), &[], b""),
        Expect::Ok(200),
    );
    add(
        "watch with a bad labelSelector".into(),
        req("GET", &format!("{CM}?watch=true&labelSelector=!!!"), &[], b""),
        Expect::Status(400, "BadRequest"),
    );

    // Headers.
    let dup_host =
        format!("GET /version HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\nAuthorization: Bearer {}\r\n\r\n", raw.token);
    add("two Host headers".into(), dup_host.into_bytes(), Expect::Status(400, "BadRequest"));
    add("HTTP/1.1 without Host".into(), b"GET /version HTTP/1.1\r\nConnection: close\r\n\r\n".to_vec(), Expect::Status(400, "BadRequest"));
    for host in ["a b", "a\"b", "<x>", "a/b", "a@b", "a{b}"] {
        let bytes = format!("GET /version HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").into_bytes();
        add(format!("Host {host:?}"), bytes, Expect::Status(400, "BadRequest"));
    }
    for host in ["localhost:6443", "[::1]:443", "127.0.0.1", "my-host_1.example"] {
        let bytes = format!("GET /version HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").into_bytes();
        add(format!("Host {host:?} (valid)"), bytes, Expect::Ok(200));
    }
    add("HTTP/1.0 without Host (valid)".into(), b"GET /version HTTP/1.0\r\n\r\n".to_vec(), Expect::Ok(200));
    let long_url = format!("/api/v1/namespaces/default/configmaps?labelSelector={}", "a".repeat(1536 * 1024));
    add("a 1.5 MiB URL (hyper's parser refuses URLs over 64 KiB)".into(), req("GET", &long_url, &[], b""), Expect::Bare(414));
    let big_header = "x".repeat(2 << 20);
    add(
        "a 2 MiB header".into(),
        req("GET", "/version", &[("X-Big", &big_header)], b""),
        Expect::Status(431, "RequestHeaderFieldsTooLarge"),
    );
    let many: Vec<(String, String)> = (0..120).map(|i| (format!("X-H{i}"), "v".into())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    add("120 headers".into(), req("GET", "/version", &many, b""), Expect::Bare(431));
    for accept in ["application/xml", "text/html", "image/png", "application/json;as=Nope;v=v1;g=meta.k8s.io"] {
        add(format!("Accept {accept}"), req("GET", CM, &[("Accept", accept)], b""), Expect::Status(406, "NotAcceptable"));
    }
    for (name, bytes) in [
        ("a header line without a colon", &b"GET /version HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n"[..]),
        ("a header name with a space", b"GET /version HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n"),
        ("a non-numeric Content-Length", b"POST /version HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
        ("two different Content-Lengths", b"POST /version HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
        ("a NUL in a header value", b"GET /version HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n"),
        ("a bare LF request", b"GET /version HTTP/1.1\nHost: x\n\x01\n\n"),
    ] {
        add(name.into(), bytes.to_vec(), Expect::Bare(400));
    }
    let bad_chunks = format!(
        "POST {CM} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n",
        raw.token
    );
    add("a bad chunk size".into(), bad_chunks.into_bytes(), Expect::Status(400, "BadRequest"));

    // HTTP versions and request lines.
    for (name, bytes) in [
        ("HTTP/1.2", &b"GET /version HTTP/1.2\r\nHost: x\r\n\r\n"[..]),
        ("HTTP/2.0 in text", b"GET /version HTTP/2.0\r\nHost: x\r\n\r\n"),
        ("HTTP/3.0 in text", b"GET /version HTTP/3.0\r\nHost: x\r\n\r\n"),
        ("an HTTP/0.9 request", b"GET /version\r\n\r\n"),
        ("a lowercase protocol", b"GET /version http/1.1\r\nHost: x\r\n\r\n"),
        ("no version", b"GET /version \r\nHost: x\r\n\r\n"),
        ("a URL with a space", b"GET /ver sion HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("a request line of garbage", b"\x01\x02\x03\x04\r\n\r\n"),
        ("a method with a slash", b"GE/T /version HTTP/1.1\r\nHost: x\r\n\r\n"),
    ] {
        add(name.into(), bytes.to_vec(), Expect::Bare(400));
    }

    // Authentication, as bearertoken.go reads the header. Anonymous may read /version and
    // the health checks only.
    let t = raw.token.clone();
    let anonymous_headers = [
        "Bearer ".to_string(),
        "Bearer".to_string(),
        t.clone(),
        "Basic dXNlcjpwYXNz".to_string(),
        format!("Bearer  {t}"),
        format!("Bearer\t{t}"),
        format!("Token {t}"),
        "".to_string(),
    ];
    for (i, h) in anonymous_headers.iter().enumerate() {
        add(format!("anonymous #{i}: list"), req("GET", CM, &[("Authorization", h)], b""), Expect::Status(403, "Forbidden"));
        add(format!("anonymous #{i}: /version"), req("GET", "/version", &[("Authorization", h)], b""), Expect::Ok(200));
        add(format!("anonymous #{i}: /apis"), req("GET", "/apis", &[("Authorization", h)], b""), Expect::Status(403, "Forbidden"));
    }
    for (i, h) in
        [format!("bearer {t}"), format!("BEARER {t}"), format!("Bearer {t} trailing"), format!("  Bearer {t}  ")].iter().enumerate()
    {
        add(format!("admin #{i}"), req("GET", CM, &[("Authorization", h)], b""), Expect::Ok(200));
    }
    let short = &t[..t.len() - 1];
    for (i, h) in [format!("Bearer {t}x"), format!("Bearer x{t}"), format!("Bearer {short}"), "Bearer wrong".to_string()].iter().enumerate()
    {
        add(format!("wrong token #{i}: list"), req("GET", CM, &[("Authorization", h)], b""), Expect::Status(401, "Unauthorized"));
        add(
            format!("wrong token #{i}: /version"),
            req("GET", "/version", &[("Authorization", h)], b""),
            Expect::Status(401, "Unauthorized"),
        );
    }
    add(
        "wrong token: /healthz".into(),
        req("GET", "/healthz", &[("Authorization", "Bearer wrong")], b""),
        Expect::Status(401, "Unauthorized"),
    );
    let two_auth = |first: &str, second: &str| {
        format!("GET {CM} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: {first}\r\nAuthorization: {second}\r\n\r\n")
            .into_bytes()
    };
    add(
        "two Authorization headers, the first wrong".into(),
        two_auth("Bearer wrong", &format!("Bearer {t}")),
        Expect::Status(401, "Unauthorized"),
    );
    add("two Authorization headers, the first right".into(), two_auth(&format!("Bearer {t}"), "Bearer wrong"), Expect::Ok(200));

    // Not TLS.
    let mut plain =
        |name: &str, bytes: &[u8], expect: Expect| cases.push(Case { name: name.into(), bytes: bytes.to_vec(), expect, plain_tcp: true });
    let go_says = "Client sent an HTTP request to an HTTPS server.";
    plain("plain HTTP GET on the TLS port", b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n", Expect::PlainText(400, go_says));
    plain("plain HTTP POST on the TLS port", b"POST /api HTTP/1.1\r\nHost: x\r\n\r\n", Expect::PlainText(400, go_says));
    plain("plain HTTP HEAD on the TLS port", b"HEAD / HTTP/1.0\r\n\r\n", Expect::PlainText(400, go_says));
    plain("random bytes instead of a ClientHello", &[0x42; 512], Expect::TlsAlert);
    plain(
        "a handshake record of garbage",
        &[0x16, 0x03, 0x01, 0x00, 0x08, 0x01, 0x00, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef],
        Expect::TlsAlert,
    );
    plain("an SSLv2 ClientHello", &[0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10], Expect::TlsAlert);
    plain("an application-data record first", &[0x17, 0x03, 0x03, 0x00, 0x02, 0x01, 0x02], Expect::TlsAlert);
    plain("an h2 preface without TLS", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Expect::TlsAlert);
    cases
}

/// Sends a case and says what was wrong with the answer, if anything.
async fn check(raw: &Raw, case: &Case) -> Result<(), String> {
    let answer = if case.plain_tcp {
        let mut tcp = tokio::net::TcpStream::connect(raw.addr).await.map_err(|e| e.to_string())?;
        let _ = tcp.write_all(&case.bytes).await;
        let mut got = vec![];
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), tcp.read_to_end(&mut got))
            .await
            .map_err(|_| "still open after 10 s")?;
        return match case.expect {
            Expect::PlainText(code, text) => {
                let s = String::from_utf8_lossy(&got);
                (s.starts_with(&format!("HTTP/1.0 {code} ")) && s.contains(text)).then_some(()).ok_or(format!("got {s:?}"))
            }
            Expect::TlsAlert => {
                (got.first() == Some(&0x15) && got.len() == 7).then_some(()).ok_or(format!("got {} bytes: {got:02x?}", got.len()))
            }
            e => Err(format!("bad case: {e:?} over plain TCP")),
        };
    } else {
        raw.send(&case.bytes).await
    };
    let Some(a) = answer else {
        return Err("closed without an answer".into());
    };
    let summary = || format!("got {} {:?}", a.status, String::from_utf8_lossy(&a.body[..a.body.len().min(300)]));
    match case.expect {
        Expect::Status(code, reason) => {
            let s = a.json().ok_or_else(|| format!("not JSON: {}", summary()))?;
            let ok = a.status == code
                && s["kind"] == "Status"
                && s["apiVersion"] == "v1"
                && s["status"] == "Failure"
                && s["code"] == code
                && s["reason"] == reason
                && s["message"].as_str().is_some_and(|m| !m.is_empty())
                && a.header("content-type") == Some("application/json");
            ok.then_some(()).ok_or_else(summary)
        }
        Expect::Ok(code) => (a.status == code).then_some(()).ok_or_else(summary),
        Expect::PageNotFound => (a.status == 404 && a.body == b"404 page not found\n").then_some(()).ok_or_else(summary),
        Expect::Bare(code) => (a.status == code && a.body.is_empty()).then_some(()).ok_or_else(summary),
        Expect::PlainText(..) | Expect::TlsAlert => Err(summary()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_hostile_requests_get_the_apiservers_answers_and_the_server_stays_up() {
    let ts = common::TestSandbox::start().await;
    let raw = Raw::new(ts.sandbox.address(), ts.sandbox.ca_pem(), ts.sandbox.token());
    let created = raw.call("POST", CM, &[JSON], cm("existing").as_bytes()).await;
    assert_eq!(created.status, 201, "{}", created.text());

    let cases = cases(&raw);
    assert!(cases.len() >= 150, "the suite has {} cases", cases.len());
    let mut failures = vec![];
    for case in &cases {
        if let Err(why) = check(&raw, case).await {
            failures.push(format!("{}: expected {:?}, {why}", case.name, case.expect));
        }
        assert!(raw.ready().await, "/readyz stopped answering after {:?}", case.name);
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extra_space_before_the_token_is_anonymous_with_the_apiservers_warning() {
    let ts = common::TestSandbox::start().await;
    let raw = Raw::new(ts.sandbox.address(), ts.sandbox.ca_pem(), ts.sandbox.token());
    let a = raw.call("GET", "/version", &[("Authorization", &format!("Bearer  {}", raw.token))], b"").await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.header("warning"),
        Some("299 - \"the provided Authorization header contains extra space before the bearer token, and is ignored\"")
    );
    let a = raw.call("GET", "/version", &[("Authorization", "Bearer ")], b"").await;
    assert_eq!((a.status, a.header("warning")), (200, None), "an empty token alone warns of nothing");
}
