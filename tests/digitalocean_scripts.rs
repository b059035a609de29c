//! `scripts/digitalocean/do.sh` against the local stand-in of DigitalOcean's API
//! (`scripts/digitalocean/standin/standin.py`): the requests the script sends (paths, bodies,
//! headers, as the stand-in recorded them), its dry-run output, each one-line error, and a
//! Kubernetes cluster that is a real second sandbox `kubelab list-nodes` can list.
//! Needs bash, curl, jq and python3 (`.ci/run` installs them).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

const TOKEN: &str = "dop_v1_5f4dcc3b5aa765d61d8327deb882cf99a1b2c3d4e5f60718293a4b5c6d7e8f90";

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/digitalocean")
}

/// One stand-in, in a temporary directory of its own, stopped (with its sandboxes) on drop.
struct StandIn {
    dir: tempfile::TempDir,
    api: String,
}

impl StandIn {
    fn start(provision_seconds: &str) -> StandIn {
        StandIn::start_with(provision_seconds, &common::kubelab_bin())
    }

    /// With `kubelab` the binary its clusters' sandboxes are started with.
    fn start_with(provision_seconds: &str, kubelab: &Path) -> StandIn {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("python3")
            .arg(scripts().join("standin/standin.py"))
            .args(["start", "--for", "3m", "--token", TOKEN, "--provision-seconds", provision_seconds, "--dir"])
            .arg(dir.path())
            .arg("--kubelab")
            .arg(kubelab)
            .output()
            .expect("python3 runs (the stand-in needs it)");
        assert!(out.status.success(), "the stand-in starts: {}", String::from_utf8_lossy(&out.stderr));
        let api = std::fs::read_to_string(dir.path().join("api")).unwrap().trim().to_string();
        assert!(api.starts_with("http://127.0.0.1:"), "{api}");
        StandIn { dir, api }
    }

    /// `do.sh ARGS` with the stand-in's URL and token.
    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[("DIGITALOCEAN_TOKEN", Some(TOKEN))])
    }

    fn run_with(&self, args: &[&str], env: &[(&str, Option<&str>)]) -> Run {
        let mut cmd = Command::new("bash");
        cmd.arg(scripts().join("do.sh")).args(args).env("DIGITALOCEAN_API", &self.api).env_remove("DIGITALOCEAN_TOKEN");
        for (k, v) in env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        Run(cmd.output().expect("bash runs"))
    }

    /// Every request the stand-in received, in order.
    fn requests(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.dir.path().join("requests.jsonl")).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = Command::new("python3").arg(scripts().join("standin/standin.py")).args(["stop", "--dir"]).arg(self.dir.path()).output();
    }
}

struct Run(Output);

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    fn ok(self) -> Run {
        assert!(self.0.status.success(), "do.sh failed:\n{}{}", self.stdout(), self.stderr());
        self
    }
}

/// The method and path of each request.
fn lines(requests: &[Value]) -> Vec<String> {
    requests.iter().map(|r| format!("{} {}", r["method"].as_str().unwrap(), r["path"].as_str().unwrap())).collect()
}

#[test]
fn every_request_carries_the_bearer_token_and_json_headers() {
    let s = StandIn::start("0");
    s.run(&["token-check"]).ok();
    let key = s.run(&["ssh-key", "laptop"]).ok().stdout();
    assert_eq!(key.trim(), "512189", "the id of the stand-in's key called laptop");
    let reqs = s.requests();
    assert_eq!(lines(&reqs), ["GET /v2/droplets", "GET /v2/account/keys"]);
    assert_eq!(reqs[0]["query"], "per_page=1");
    for r in &reqs {
        assert_eq!(r["headers"]["authorization"], format!("Bearer {TOKEN}"));
        assert_eq!(r["headers"]["accept"], "application/json");
        assert!(r["headers"]["user-agent"].as_str().unwrap().starts_with("kubelab-do.sh/"), "{r}");
        assert_eq!(r["body"], "", "a GET has no body");
    }
}

#[test]
fn droplets_are_created_with_the_ssh_key_id_listed_and_deleted() {
    let s = StandIn::start("0");
    let created = s.run(&["droplet", "create", "web-1", "--ssh-key", "ci", "--region", "ams3"]).ok();
    let id = created.stdout().trim().to_string();
    assert!(created.stderr().contains(&format!("droplet web-1 created: id {id}")), "{}", created.stderr());
    let listed = s.run(&["droplet", "list"]).ok().stdout();
    let row: Vec<&str> = listed.lines().nth(1).unwrap_or("").split_whitespace().collect();
    assert_eq!(row[..4], [id.as_str(), "web-1", "ams3", "s-1vcpu-1gb"], "{listed}");
    s.run(&["droplet", "delete", "web-1"]).ok();
    let listed = s.run(&["droplet", "list"]).ok().stdout();
    assert_eq!(listed.lines().count(), 1, "only the header is left: {listed}");

    let reqs = s.requests();
    assert_eq!(
        lines(&reqs),
        [
            "GET /v2/account/keys",
            "POST /v2/droplets",
            "GET /v2/droplets",
            "GET /v2/droplets",
            &format!("DELETE /v2/droplets/{id}"),
            "GET /v2/droplets"
        ]
    );
    let post = &reqs[1];
    assert_eq!(post["headers"]["content-type"], "application/json");
    assert_eq!(
        post["json"],
        json!({"name": "web-1", "region": "ams3", "size": "s-1vcpu-1gb", "image": "ubuntu-24-04-x64", "ssh_keys": [512190]})
    );
    assert_eq!(reqs[4]["body"], "", "DELETE sends no body");
}

#[test]
fn a_cluster_is_a_second_sandbox_with_pool_named_nodes_until_it_is_deleted() {
    let s = StandIn::start("1");
    let created = s.run(&["cluster", "create", "lab", "--pool", "pool-web", "--count", "3"]).ok();
    let id = created.stdout().trim().to_string();
    let reqs = s.requests();
    assert_eq!(lines(&reqs), ["GET /v2/kubernetes/options", "POST /v2/kubernetes/clusters"]);
    // The latest version the options offer, and the default size among the offered ones.
    assert_eq!(
        reqs[1]["json"],
        json!({"name": "lab", "region": "nyc1", "version": "1.34.1-do.0", "node_pools": [{"size": "s-2vcpu-4gb", "count": 3, "name": "pool-web"}]})
    );

    let wait = s.run(&["cluster", "wait", "lab", "--interval", "0.2s", "--timeout", "30s"]).ok();
    assert_eq!(wait.stdout().trim(), "cluster lab is running");
    let progress: Vec<String> = wait.stderr().lines().map(String::from).collect();
    assert!(progress.first().is_some_and(|l| l.starts_with("cluster lab: provisioning (")), "{progress:?}");
    assert!(progress.last().is_some_and(|l| l.starts_with("cluster lab: running (")), "{progress:?}");

    let kubeconfig = s.dir.path().join("lab.yaml");
    s.run(&["cluster", "kubeconfig", "lab", "-o", kubeconfig.to_str().unwrap()]).ok();
    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(text.contains("current-context: do-nyc1-lab"), "{text}");
    let nodes = Command::new(common::kubelab_bin())
        .args(["list-nodes", "-q", "--kubeconfig"])
        .arg(&kubeconfig)
        .env("KUBELAB_HOME", s.dir.path().join("unused-home"))
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    assert!(nodes.status.success(), "{}", String::from_utf8_lossy(&nodes.stderr));
    let names: Vec<String> =
        String::from_utf8_lossy(&nodes.stdout).lines().skip(1).filter_map(|l| l.split_whitespace().next().map(String::from)).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    for name in &names {
        let suffix = name.strip_prefix("pool-web-").unwrap_or_else(|| panic!("{name} is named after its pool"));
        assert!(suffix.len() == 5 && suffix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()), "{name}");
    }

    let listed = s.run(&["cluster", "list"]).ok().stdout();
    assert!(
        listed.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == [&id, "lab", "nyc1", "1.34.1-do.0", "running", "3"]),
        "{listed}"
    );

    let home = s.dir.path().join("clusters").join(&id);
    let pid: i32 = std::fs::read_to_string(home.join("sandbox.pid")).unwrap().trim().parse().unwrap();
    s.run(&["cluster", "delete", &id]).ok();
    // SAFETY: signal 0 only asks whether the process exists.
    assert_ne!(unsafe { libc::kill(pid, 0) }, 0, "the cluster's sandbox (pid {pid}) is stopped");
    assert!(!home.exists(), "its home is removed");
    let reqs = s.requests();
    assert_eq!(lines(&reqs).last().unwrap(), &format!("DELETE /v2/kubernetes/clusters/{id}"));
    assert!(lines(&reqs).contains(&format!("GET /v2/kubernetes/clusters/{id}/kubeconfig")));
}

#[test]
fn dry_run_prints_each_request_with_the_token_masked_and_sends_nothing() {
    let s = StandIn::start("0");
    let api = &s.api;
    // (command, the request lines it prints, in order)
    let cases: &[(&[&str], &[&str])] = &[
        (&["--dry-run", "token-check"], &["GET /v2/droplets?per_page=1"]),
        (&["droplet", "create", "web-1", "--ssh-key", "laptop", "--dry-run"], &["GET /v2/account/keys?per_page=200", "POST /v2/droplets"]),
        (&["--dry-run", "droplet", "delete", "3164495"], &["DELETE /v2/droplets/3164495"]),
        (&["--dry-run", "cluster", "create", "lab", "--pool", "pool-web"], &["GET /v2/kubernetes/options", "POST /v2/kubernetes/clusters"]),
        (
            &["--dry-run", "cluster", "create", "lab", "--version", "1.33.5-do.0", "--size", "s-1vcpu-2gb"],
            &["POST /v2/kubernetes/clusters"],
        ),
        (
            &["--dry-run", "cluster", "wait", "lab"],
            &["GET /v2/kubernetes/clusters?per_page=200", "GET /v2/kubernetes/clusters/<id of cluster lab>"],
        ),
        (
            &["--dry-run", "cluster", "kubeconfig", "lab"],
            &["GET /v2/kubernetes/clusters?per_page=200", "GET /v2/kubernetes/clusters/<id of cluster lab>/kubeconfig"],
        ),
        (
            &["--dry-run", "cluster", "delete", "lab"],
            &["GET /v2/kubernetes/clusters?per_page=200", "DELETE /v2/kubernetes/clusters/<id of cluster lab>"],
        ),
    ];
    for (args, want) in cases {
        let run = s.run(args).ok();
        let out = run.stdout();
        let requests: Vec<String> = out
            .lines()
            .filter_map(|l| l.split_once(' ').filter(|(m, _)| ["GET", "POST", "DELETE"].contains(m)))
            .map(|(m, url)| format!("{m} {}", url.strip_prefix(api.as_str()).unwrap_or_else(|| panic!("{url} is on {api}"))))
            .collect();
        assert_eq!(requests, *want, "{args:?}:\n{out}");
        assert_eq!(out.matches("Authorization: Bearer dop_v1_****8f90").count(), want.len(), "{args:?}:\n{out}");
        assert!(!out.contains(TOKEN) && !run.stderr().contains(TOKEN), "the token never shows");
    }
    assert!(s.requests().is_empty(), "a dry run sends nothing: {:?}", lines(&s.requests()));

    // The bodies are printed as the JSON that would be sent.
    let out = s
        .run(&["--dry-run", "cluster", "create", "lab", "--version", "1.33.5-do.0", "--size", "s-1vcpu-2gb", "--count", "1"])
        .ok()
        .stdout();
    let body: Value = serde_json::from_str(&out[out.find('{').unwrap()..]).unwrap();
    assert_eq!(
        body,
        json!({"name": "lab", "region": "nyc1", "version": "1.33.5-do.0", "node_pools": [{"size": "s-1vcpu-2gb", "count": 1, "name": "lab-default-pool"}]})
    );
    assert!(out.contains("Content-Type: application/json"), "{out}");
    let out = s.run(&["--dry-run", "droplet", "create", "web-1", "--ssh-key", "laptop"]).ok().stdout();
    let body: Value = serde_json::from_str(&out[out.find('{').unwrap()..]).unwrap();
    assert_eq!(body["ssh_keys"], json!(["<id of SSH key laptop>"]), "a lookup a dry run cannot make shows as a placeholder");
}

#[test]
fn each_error_is_one_line_and_a_failure() {
    let s = StandIn::start("0");
    let stuck = StandIn::start("3600");
    let created = stuck.run(&["cluster", "create", "slow"]).ok();
    assert!(!created.stdout().trim().is_empty());
    // A cluster whose sandbox cannot start ends "errored".
    let broken = StandIn::start_with("0", Path::new("/bin/false"));
    broken.run(&["cluster", "create", "broken"]).ok();
    let no_token: &[(&str, Option<&str>)] = &[("DIGITALOCEAN_TOKEN", None)];
    let bad_token: &[(&str, Option<&str>)] = &[("DIGITALOCEAN_TOKEN", Some("dop_v1_not-the-right-one"))];
    let closed: &[(&str, Option<&str>)] = &[("DIGITALOCEAN_TOKEN", Some(TOKEN)), ("DIGITALOCEAN_API", Some("http://127.0.0.1:9"))];
    let good: &[(&str, Option<&str>)] = &[("DIGITALOCEAN_TOKEN", Some(TOKEN))];
    // (stand-in, command, environment, the error line)
    let cases: &[(&StandIn, &[&str], &[(&str, Option<&str>)], &str)] = &[
        (&s, &["token-check"], no_token, "do.sh: error: DIGITALOCEAN_TOKEN is not set (create a token at https://cloud.digitalocean.com/account/api/tokens)"),
        (&s, &["--dry-run", "token-check"], no_token, "do.sh: error: DIGITALOCEAN_TOKEN is not set (create a token at https://cloud.digitalocean.com/account/api/tokens)"),
        (&s, &["token-check"], bad_token, "do.sh: error: GET /v2/droplets?per_page=1: HTTP 401 unauthorized: Unable to authenticate you"),
        (&s, &["ssh-key", "desktop"], good, "do.sh: error: no SSH key named \"desktop\" in the account (it has: laptop, ci)"),
        (&s, &["droplet", "create", "web-1", "--ssh-key", "desktop"], good, "do.sh: error: no SSH key named \"desktop\" in the account (it has: laptop, ci)"),
        (&s, &["droplet", "create", "web-1", "--size", "s-64vcpu-1tb"], good, "do.sh: error: POST /v2/droplets: HTTP 422 unprocessable_entity: You specified an invalid size for Droplet creation."),
        (&s, &["droplet", "delete", "42"], good, "do.sh: error: DELETE /v2/droplets/42: HTTP 404 not_found: The resource you were accessing could not be found."),
        (&s, &["cluster", "create", "lab", "--version", "1.20.0-do.0"], good, "do.sh: error: POST /v2/kubernetes/clusters: HTTP 422 unprocessable_entity: validation error: invalid version slug '1.20.0-do.0'"),
        (&s, &["cluster", "wait", "nowhere"], good, "do.sh: error: no Kubernetes cluster named \"nowhere\""),
        (&stuck, &["cluster", "wait", "slow", "--timeout", "2s", "--interval", "0.5s"], good, "do.sh: error: cluster slow did not become running within 2s (still provisioning)"),
        (&s, &["token-check"], closed, "do.sh: error: GET http://127.0.0.1:9/v2/droplets?per_page=1: Failed to connect to 127.0.0.1 port 9 <…>"),
        (&broken, &["cluster", "wait", "broken", "--interval", "0.2s"], good, "do.sh: error: cluster broken is errored: kubelab sandbox start failed<…>"),
        (&s, &["cluster", "wait", "lab", "--timeout"], good, "do.sh: error: --timeout needs a value"),
        (&s, &["cluster", "frobnicate"], good, "do.sh: error: unknown command: cluster frobnicate (do.sh --help lists them)"),
    ];
    for (standin, args, env, want) in cases {
        let run = standin.run_with(args, env);
        let err = run.stderr();
        assert_eq!(run.0.status.code(), Some(1), "{args:?} fails: {err}");
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("do.sh: error:")).collect();
        assert_eq!(errors.len(), 1, "{args:?}: one error line: {err}");
        assert!(kubelab::tutorial::expect::line_matches(want, errors[0]), "{args:?}:\n want {want}\n  got {}", errors[0]);
        assert!(!err.contains(TOKEN), "the token never shows");
    }
    // A cluster deleted while it still provisions leaves no sandbox behind.
    stuck.run(&["cluster", "delete", "slow"]).ok();
    let left = std::fs::read_dir(stuck.dir.path().join("clusters")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "no cluster sandbox is left");
    let listed = stuck.run(&["cluster", "list"]).ok().stdout();
    assert_eq!(listed.lines().count(), 1, "only the header is left: {listed}");
}
