//! What a long-running server owes its host: connections that stall are closed on
//! kube-apiserver's timeouts (shortened here by test flags), watchers that stop reading
//! pin bounded memory and are closed, running out of descriptors neither spins nor wedges
//! the server, and its state is private whatever the umask.

mod common;
mod raw_http;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kubelab::sandbox::connection::Timeouts;
use kubelab::sandbox::{Options, Sandbox};
use raw_http::{read_answer, time_to_close, Raw};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CM: &str = "/api/v1/namespaces/default/configmaps";

fn short() -> Timeouts {
    Timeouts {
        header_read: Duration::from_millis(600),
        idle: Duration::from_millis(1200),
        request: Duration::from_millis(1000),
        min_request: Duration::from_secs(1),
        watcher_grace: Duration::from_secs(1),
    }
}

async fn sandbox(timeouts: Timeouts) -> (Sandbox, Raw, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    // No controllers: the counts below are of the test's own writes (the root-CA publisher's
    // ConfigMap in default would race the watch's starting resourceVersion).
    let controllers = kubelab::sandbox::controllers::Selection::none();
    let sb = Sandbox::start_with(home.path(), Options { timeouts, controllers, ..Default::default() }).await.unwrap();
    let raw = Raw::new(sb.address(), sb.ca_pem(), sb.token());
    (sb, raw, home)
}

/// The current resourceVersion of ConfigMaps (a watch from it sees only what comes next).
async fn current_rv(raw: &Raw) -> String {
    let list = raw.call("GET", &format!("{CM}?limit=1"), &[], b"").await;
    list.json().unwrap()["metadata"]["resourceVersion"].as_str().unwrap().to_string()
}

fn within(d: Duration, lo: f64, hi: f64) -> bool {
    (lo..hi).contains(&d.as_secs_f64())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_connections_are_closed_on_the_apiservers_timeouts() {
    let (_sb, raw, _home) = sandbox(short()).await;

    // A body that never arrives whole: 504 with the apiserver's Status at the request timeout.
    let started = Instant::now();
    let mut tls = raw.connect().await;
    let head = format!(
        "POST {CM} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n",
        raw.token
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(br#"{"metadata":{"name":"truncated"},"data""#).await.unwrap(); // 38 bytes
    let a = tokio::time::timeout(Duration::from_secs(10), read_answer(&mut tls)).await.unwrap().expect("an answer");
    let s = a.json().unwrap();
    assert_eq!((a.status, s["reason"].as_str(), s["code"].as_u64()), (504, Some("Timeout"), Some(504)), "{s}");
    assert_eq!(s["message"], "Timeout: request did not complete within the allotted timeout");
    assert!(within(started.elapsed(), 0.9, 4.0), "answered after {:?}", started.elapsed());

    // Unfinished headers: closed, without an answer, at the header read timeout.
    let mut tls = raw.connect().await;
    tls.write_all(b"GET /version HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let closed = time_to_close(&mut tls, Duration::from_secs(10)).await.expect("closed");
    assert!(within(closed, 0.5, 3.0), "closed after {closed:?}");

    // A new connection that never sends a request at all.
    let mut tls = raw.connect().await;
    let closed = time_to_close(&mut tls, Duration::from_secs(10)).await.expect("closed");
    assert!(within(closed, 0.5, 3.0), "closed after {closed:?}");

    // TLS that never finishes its ClientHello, or never starts it.
    for hello in [&b""[..], &[0x16, 0x03, 0x01, 0x40, 0x00][..]] {
        let mut tcp = tokio::net::TcpStream::connect(raw.addr).await.unwrap();
        tcp.write_all(hello).await.unwrap();
        let closed = time_to_close(&mut tcp, Duration::from_secs(10)).await.expect("closed");
        assert!(within(closed, 0.5, 3.0), "{hello:?}: closed after {closed:?}");
    }

    // An idle keep-alive connection: open after its answer, closed at the idle timeout.
    let mut tls = raw.connect().await;
    tls.write_all(format!("GET /version HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n", raw.token).as_bytes()).await.unwrap();
    assert_eq!(read_answer(&mut tls).await.unwrap().status, 200);
    let closed = time_to_close(&mut tls, Duration::from_secs(10)).await.expect("closed");
    assert!(within(closed, 1.1, 4.0), "idle connection closed after {closed:?}");

    // ...and one that keeps asking is not.
    let mut tls = raw.connect().await;
    for _ in 0..4 {
        tls.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        assert_eq!(read_answer(&mut tls).await.expect("still open").status, 200);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    assert!(raw.ready().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_end_on_their_own_timeout_not_the_request_or_idle_timeout() {
    let (_sb, raw, _home) = sandbox(short()).await;
    let watch = |q: &str| raw.request("GET", &format!("{CM}?watch=true{q}"), &[], b"");

    // timeoutSeconds=3 outlives the 1 s request timeout and the 1.2 s idle timeout.
    let started = Instant::now();
    let a = raw.send(&watch("&timeoutSeconds=3")).await.expect("a watch stream");
    assert_eq!(a.status, 200);
    assert!(within(started.elapsed(), 2.9, 5.0), "timeoutSeconds=3 ended after {:?}", started.elapsed());

    // Without timeoutSeconds (or with 0): the server's default, in [min, 2·min) of
    // --min-request-timeout (1 s here).
    for q in ["", "&timeoutSeconds=0"] {
        let started = Instant::now();
        let a = raw.send(&watch(q)).await.expect("a watch stream");
        assert_eq!(a.status, 200);
        assert!(within(started.elapsed(), 0.95, 2.6), "{q:?}: ended after {:?}", started.elapsed());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_that_stops_reading_is_closed_after_the_grace_period() {
    let (_sb, raw, _home) = sandbox(Timeouts { watcher_grace: Duration::from_secs(1), ..Timeouts::default() }).await;
    // Never read, until we check: its buffers (ours, the kernel's) fill within 200 events of 64 KiB.
    let rv = current_rv(&raw).await;
    let mut stuck = raw.connect().await;
    stuck.write_all(&raw.request("GET", &format!("{CM}?watch=true&resourceVersion={rv}"), &[], b"")).await.unwrap();
    let mut reader = raw.connect().await;
    reader.write_all(&raw.request("GET", &format!("{CM}?watch=true&resourceVersion={rv}&timeoutSeconds=30"), &[], b"")).await.unwrap();
    let counting = tokio::spawn(async move {
        let mut all = vec![];
        let _ = reader.read_to_end(&mut all).await;
        String::from_utf8_lossy(&all).matches("\"type\":\"ADDED\"").count()
    });

    let value = "x".repeat(64 * 1024);
    let total = 200;
    for i in 0..total {
        let body = format!(r#"{{"metadata":{{"name":"big-{i}"}},"data":{{"v":"{value}"}}}}"#);
        let a = raw.call("POST", CM, &[("Content-Type", "application/json")], body.as_bytes()).await;
        assert_eq!(a.status, 201, "{}", a.text());
    }
    // The stuck watcher's stream ends (closed by the server) instead of lasting its 30+ min;
    // it saw only part of the events.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut got = vec![];
    tokio::time::timeout(Duration::from_secs(20), stuck.read_to_end(&mut got)).await.expect("the stuck watcher was closed").ok();
    let seen = String::from_utf8_lossy(&got).matches("\"type\":\"ADDED\"").count();
    assert!(seen < total, "the stuck watcher saw {seen} of {total} events");
    // A watcher that reads got every one.
    assert_eq!(counting.await.unwrap(), total);
    assert!(raw.ready().await);
}

// ---- child processes: RSS, descriptors, file modes ----

/// The server binary: cargo's, or `KUBELAB_BIN` (a release build, or an older one, to
/// measure it for benches/RESULTS.md).
fn server_bin() -> std::path::PathBuf {
    std::env::var_os("KUBELAB_BIN").map(Into::into).unwrap_or_else(common::kubelab_bin)
}

/// Whether the server binary knows a `sandbox start` flag (older builds lack the test flags).
fn knows_flag(flag: &str) -> bool {
    Command::new(server_bin()).args(["sandbox", "start", flag, "1s", "--help"]).output().is_ok_and(|o| o.status.success())
}

/// `kubelab sandbox start --foreground` in `home`, through `sh` for umask and ulimit.
fn spawn(home: &Path, shell_prefix: &str, flags: &[&str], stderr: Stdio) -> Child {
    let script = format!("{shell_prefix} exec \"$0\" sandbox start --foreground -q \"$@\"");
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(server_bin())
        .args(flags)
        .env("KUBELAB_HOME", home)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("the sandbox process starts")
}

async fn wait_ready(home: &Path, child: &mut Child) -> Raw {
    let pid = child.id().to_string();
    for _ in 0..800 {
        if let Some(code) = child.try_wait().unwrap() {
            panic!("the sandbox exited: {code}");
        }
        if std::fs::read_to_string(home.join("sandbox.pid")).is_ok_and(|p| p.trim() == pid) {
            let raw = Raw::from_home(home);
            if raw.ready().await {
                return raw;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the sandbox did not become ready");
}

fn stop(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok()).unwrap()
}

/// CPU seconds (user + system) the process has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_comm.split(' ').collect();
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name.
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// Creates `n` ConfigMaps (a `value_bytes` value each) over `conns` keep-alive connections;
/// returns creates per second.
async fn create_many(raw: &Raw, prefix: &str, n: usize, conns: usize, value_bytes: usize) -> f64 {
    let started = Instant::now();
    let mut tasks = vec![];
    for c in 0..conns {
        let raw = raw.clone();
        let prefix = prefix.to_string();
        let value = "v".repeat(value_bytes);
        tasks.push(tokio::spawn(async move {
            let mut tls = raw.connect().await;
            for i in (c..n).step_by(conns) {
                let body = format!(r#"{{"metadata":{{"name":"{prefix}-{i}","labels":{{"app":"load"}}}},"data":{{"n":"{i}","v":"{value}"}}}}"#);
                let head = format!(
                    "POST {CM} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    raw.token,
                    body.len()
                );
                tls.write_all(format!("{head}{body}").as_bytes()).await.unwrap();
                let a = read_answer(&mut tls).await.expect("an answer");
                assert_eq!(a.status, 201, "{}", a.text());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// Opens `n` watchers on ConfigMaps that never read a byte.
async fn slow_watchers(raw: &Raw, n: usize) -> Vec<raw_http::Tls> {
    let rv = current_rv(raw).await;
    let mut out = vec![];
    for _ in 0..n {
        let mut tls = raw.connect().await;
        tls.write_all(&raw.request("GET", &format!("{CM}?watch=true&resourceVersion={rv}"), &[], b"")).await.unwrap();
        out.push(tls);
    }
    out
}

/// What one load run measured.
#[derive(Debug)]
struct Load {
    rss_before_kib: u64,
    rss_after_kib: u64,
    creates_per_second: f64,
    seen_by_reader: usize,
}

/// A fresh sandbox process, `slow` watchers that never read, one that does, and `events`
/// creates of `value_bytes` values.
async fn load(slow: usize, events: usize, value_bytes: usize) -> Load {
    let home = tempfile::tempdir().unwrap();
    // A long grace: the slow watchers stay open for the whole run, holding what they can.
    let flags: &[&str] = if knows_flag("--watcher-grace") { &["--watcher-grace", "10m"] } else { &[] };
    let mut child = spawn(home.path(), "", flags, Stdio::null());
    let raw = wait_ready(home.path(), &mut child).await;
    let pid = child.id();
    let stuck = slow_watchers(&raw, slow).await;
    let rv = current_rv(&raw).await;
    let mut reader = raw.connect().await;
    reader.write_all(&raw.request("GET", &format!("{CM}?watch=true&resourceVersion={rv}&timeoutSeconds=600"), &[], b"")).await.unwrap();
    let counting = tokio::spawn(async move {
        let (mut seen, mut tail, mut chunk) = (0, String::new(), vec![0u8; 65536]);
        while seen < events {
            match tokio::time::timeout(Duration::from_secs(60), reader.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => {
                    tail.push_str(&String::from_utf8_lossy(&chunk[..n]));
                    let complete = tail.rfind('\n').map_or(0, |i| i + 1);
                    seen += tail[..complete].matches("\"type\":\"ADDED\"").count();
                    tail.drain(..complete);
                }
                _ => break,
            }
        }
        seen
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_before_kib = rss_kib(pid);
    let creates_per_second = create_many(&raw, "load", events, 8, value_bytes).await;
    let seen_by_reader = counting.await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_after_kib = rss_kib(pid);
    assert!(raw.ready().await);
    drop(stuck);
    stop(child);
    Load { rss_before_kib, rss_after_kib, creates_per_second, seen_by_reader }
}

const EVENTS: usize = 20_000;
const SLOW_WATCHERS: usize = 50;

/// Runs the same writes without and with slow watchers and checks what the watchers cost.
async fn slow_watchers_cost(events: usize, value_bytes: usize) {
    // The same writes without them first: the history (the watch cache) and the objects
    // grow the same either way.
    let alone = load(0, events, value_bytes).await;
    let with = load(SLOW_WATCHERS, events, value_bytes).await;
    eprintln!("{events} creates of {value_bytes} B values without slow watchers: {alone:?}\nwith {SLOW_WATCHERS}: {with:?}");
    assert_eq!((alone.seen_by_reader, with.seen_by_reader), (events, events), "a watcher that reads sees every event");
    let grown_alone = alone.rss_after_kib.saturating_sub(alone.rss_before_kib);
    let grown_with = with.rss_after_kib.saturating_sub(with.rss_before_kib);
    // Each slow watcher may pin its buffer plus what its connection holds (about 400 KiB);
    // allow 1 MiB each beyond what the same writes cost without them.
    let bound = grown_alone + SLOW_WATCHERS as u64 * 1024;
    assert!(grown_with <= bound, "RSS grew {grown_with} KiB with slow watchers, bound {bound} KiB");
    // They cost CPU while their buffers fill (the server encrypts what the kernel will hold
    // for them), never a wait.
    assert!(
        with.creates_per_second > alone.creates_per_second * 0.3,
        "writers were slowed by slow watchers: {:.0}/s against {:.0}/s",
        with.creates_per_second,
        alone.creates_per_second
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_watchers_that_never_read_pin_bounded_memory_and_slow_no_one() {
    slow_watchers_cost(EVENTS, 16).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_watchers_that_never_read_pin_bounded_memory_with_large_events_too() {
    // 64 events of 64 KiB would be 4 MiB per watcher if the buffer counted events.
    slow_watchers_cost(300, 64 * 1024).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_descriptors_the_server_idles_and_recovers_within_a_second() {
    let home = tempfile::tempdir().unwrap();
    // Soft limit 48, hard 128: the server raises its soft limit to the hard one.
    let mut child = spawn(home.path(), "ulimit -Sn 48 && ulimit -Hn 128 &&", &["--header-read-timeout", "60s"], Stdio::null());
    let raw = wait_ready(home.path(), &mut child).await;
    let pid = child.id();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let open_files: Vec<&str> = limits.lines().find(|l| l.starts_with("Max open files")).unwrap().split_whitespace().collect();
    assert_eq!((open_files[3], open_files[4]), ("128", "128"), "soft RLIMIT_NOFILE raised to the hard limit");

    // Hold more connections than it has descriptors (each waits for a ClientHello).
    let mut held = vec![];
    for _ in 0..200 {
        held.push(tokio::net::TcpStream::connect(raw.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count();
    assert!(fds >= 120, "the server holds {fds} descriptors: it should be out of them");
    let cpu = cpu_seconds(pid);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let used = cpu_seconds(pid) - cpu;
    assert!(used < 0.3, "out of descriptors the server used {used:.2} s of CPU in 2 s");

    drop(held);
    let freed = Instant::now();
    while !raw.ready().await {
        assert!(freed.elapsed() < Duration::from_secs(10), "/readyz did not recover");
    }
    assert!(freed.elapsed() < Duration::from_millis(2500), "/readyz answered {:?} after descriptors freed", freed.elapsed());
    stop(child);
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_is_private_under_umask_022_and_a_loose_home_is_tightened() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let mut child = spawn(&home, "umask 022 &&", &[], Stdio::null());
    let raw = wait_ready(&home, &mut child).await;
    assert_eq!(raw.call("POST", CM, &[("Content-Type", "application/json")], br#"{"metadata":{"name":"x"}}"#).await.status, 201);
    let dirs = [home.clone(), home.join("data")];
    let files: Vec<_> = ["token", "kubeconfig", "ca.crt", "server.crt", "server.key", "sandbox.pid", "sandbox.port"]
        .iter()
        .map(|f| home.join(f))
        .chain(["state.db", "state.db-wal", "state.db-shm"].iter().map(|f| home.join("data").join(f)))
        .collect();
    for d in &dirs {
        assert_eq!(mode(d), 0o700, "{}", d.display());
    }
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    stop(child);

    // A home made by an older kubelab, readable by everyone, is tightened at start.
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(home.join("kubeconfig"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(home.join("data/state.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let log = tmp.path().join("stderr");
    let mut child = spawn(&home, "umask 022 &&", &[], Stdio::from(std::fs::File::create(&log).unwrap()));
    wait_ready(&home, &mut child).await;
    for d in &dirs {
        assert_eq!(mode(d), 0o700, "{}", d.display());
    }
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    let said = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = said.lines().filter(|l| l.contains("private")).collect();
    assert_eq!(lines.len(), 1, "one line says what was tightened: {said:?}");
    assert!(lines[0].contains(&home.display().to_string()) && lines[0].contains("3 item(s)"), "{}", lines[0]);
    stop(child);
}
