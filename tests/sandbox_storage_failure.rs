//! A store that cannot persist: once a commit fails, writes are answered with a 5xx
//! `Status` and `/readyz` fails, while the process and reads stay up and nothing that was
//! not made durable is served.
//!
//! The commit is made to fail for real: the process' file size limit (`RLIMIT_FSIZE`) is
//! lowered below what the next write needs, so SQLite's write of its WAL fails with EFBIG.
//! This test has its own binary, so the limit touches no other test.

mod common;

use serde_json::json;

fn configmap(name: &str, bytes: usize) -> String {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"blob": "x".repeat(bytes)}}).to_string()
}

fn set_file_size_limit(limit: libc::rlim_t) {
    let r = libc::rlimit { rlim_cur: limit, rlim_max: libc::RLIM_INFINITY };
    // SAFETY: plain syscalls on this process' own limits and signal disposition.
    unsafe {
        // Past the limit the kernel sends SIGXFSZ, which would end the process.
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &r), 0, "setrlimit");
    }
}

fn largest_file(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).max().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_is_a_503_and_reads_go_on() {
    // No loop writes meanwhile (the root-CA publisher's ConfigMap would be in the list).
    let t = common::TestSandbox::api_server_only().await;
    let client = no_retry_client(&t).await;
    let cms = "/api/v1/namespaces/default/configmaps";
    let (code, _) = common::raw(&client, "POST", cms, Some("application/json"), Some(&configmap("kept", 10))).await;
    assert_eq!(code, 201);

    let data = t.home().join("data");
    set_file_size_limit(largest_file(&data) + 64 * 1024);
    let (code, status) = common::raw(&client, "POST", cms, Some("application/json"), Some(&configmap("too-big", 512 * 1024))).await;
    set_file_size_limit(libc::RLIM_INFINITY);
    assert_eq!(code, 503, "{status}");
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["reason"], "ServiceUnavailable");
    assert!(status["message"].as_str().unwrap_or_default().starts_with("storage: cannot write to the data directory"), "{status}");

    // What was not durable is not served; what was, still is.
    let (code, _) = common::raw(&client, "GET", &format!("{cms}/too-big"), None, None).await;
    assert_eq!(code, 404);
    let (code, kept) = common::raw(&client, "GET", &format!("{cms}/kept"), None, None).await;
    assert_eq!((code, kept["metadata"]["name"].as_str()), (200, Some("kept")));
    let (code, list) = common::raw(&client, "GET", cms, None, None).await;
    assert_eq!(code, 200);
    let names: Vec<&str> = list["items"].as_array().unwrap().iter().filter_map(|i| i["metadata"]["name"].as_str()).collect();
    assert_eq!(names, vec!["kept"]);

    // The store refuses further writes, small ones too, and says it is not ready.
    let (code, status) = common::raw(&client, "POST", cms, Some("application/json"), Some(&configmap("small", 1))).await;
    assert_eq!((code, status["reason"].as_str()), (503, Some("ServiceUnavailable")));
    let (code, status) = common::raw(&client, "DELETE", &format!("{cms}/kept"), None, None).await;
    assert_eq!((code, status["reason"].as_str()), (503, Some("ServiceUnavailable")), "{status}");
    let ready = readyz(&t).await;
    assert_eq!(ready.0, 500);
    assert!(ready.1.starts_with("[-]etcd failed"), "{}", ready.1);
    let (code, _) = common::raw(&client, "GET", &format!("{cms}/kept"), None, None).await;
    assert_eq!(code, 200, "reads go on");
}

/// A client that shows each answer as it is: kube's default one retries a 503 (with
/// backoff, up to 15 times), as it should against a store that is only briefly away.
async fn no_retry_client(t: &common::TestSandbox) -> kube::Client {
    let kc = kube::config::Kubeconfig::from_yaml(&t.sandbox.kubeconfig_yaml()).unwrap();
    let mut config = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default()).await.unwrap();
    config.default_retry = false;
    kube::Client::try_from(config).unwrap()
}

/// `/readyz` through the same TLS client, as plain text.
async fn readyz(t: &common::TestSandbox) -> (u16, String) {
    let client = no_retry_client(t).await;
    let req = http::Request::builder().method("GET").uri("/readyz").body(Vec::new()).unwrap();
    let resp = client.send(req.map(kube::client::Body::from)).await.unwrap();
    let code = resp.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes();
    (code, String::from_utf8_lossy(&bytes).into_owned())
}
