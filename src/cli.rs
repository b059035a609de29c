//! Every flag of every command, in one place (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "kubelab", version, about = "How a Kubernetes client really works, run layer by layer", propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command understands.
#[derive(Debug, Args, Clone)]
pub struct Global {
    /// Use this kubeconfig instead of the sandbox (also KUBECONFIG).
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// Use this context of the kubeconfig.
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// Namespace to work in.
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
    /// Output format of the result.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Print only the result, no narration.
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,
    /// How much of the client stack to narrate on stderr: 0 = result only, 1 = one line per
    /// layer, 2 = every layer with its details.
    #[arg(long, global = true, value_name = "LEVEL", default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub explain: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run and manage the embedded API server every lesson uses.
    Sandbox {
        #[command(subcommand)]
        action: SandboxAction,
    },
    /// The work queue of "Understanding Kubernetes controllers" I, its state after every step.
    QueueDemo(crate::commands::queue_demo::Args),
    /// The books store of post II: key function, indexer, an index by author, listers.
    StoreDemo(crate::commands::store_demo::Args),
    /// A shared informer on the cluster, each hand-off printed: reflector, DeltaFIFO, indexer, handlers.
    InformerDemo(crate::commands::informer_demo::Args),
    /// The blog's books CustomResourceDefinition, step by step: no validation, a schema, a status subresource.
    BookCrd(crate::commands::book_crd::Args),
    /// sample-controller in Rust: a Foo owns a Deployment; every enqueue, sync and write narrated.
    FooController(crate::commands::foo_controller::Args),
    /// List the cluster's nodes (NAME ARCH OS), narrating every layer of the client.
    ListNodes,
    /// Build a Pod from typed structs, POST it, and show what the server filled in.
    CreatePod {
        /// metadata.name of the pod.
        #[arg(long, default_value = "kubelab-demo")]
        name: String,
        /// The container's image.
        #[arg(long, default_value = "nginx:1.27")]
        image: String,
    },
    /// Get any resource, built-in or custom, and narrate the life of the request.
    Get(GetArgs),
    /// The scheme: every kind the server serves, and its k8s-openapi Rust type.
    Kinds {
        /// Only this API group (`core` or `""` for the core group).
        #[arg(long)]
        group: Option<String>,
    },
    /// LIST pods, then WATCH from the list's resourceVersion, as a reflector does.
    WatchPods(WatchArgs),
    /// Walk through the lessons, running each step on the sandbox.
    ///
    /// At each step one key, no Enter: Enter runs it, s skips, b goes back, r runs the last
    /// step again, ? lists the keys, q (or Ctrl-C) quits. Ctrl-C while a step runs stops the
    /// step. Progress is kept in $KUBELAB_HOME/tutorial.json; `kubelab tutorial` resumes.
    Tutorial(TutorialArgs),
    /// Every lesson with a one-line summary, and how far you got.
    Lessons(LessonsArgs),
}

/// `kubelab tutorial`: the course, one step at a time.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("lesson_given").args(["at", "lesson"])))]
pub struct TutorialArgs {
    /// Jump to this lesson (as `--lesson`); your saved place is kept unless you go on from there.
    #[arg(value_name = "LESSON", conflicts_with = "lesson")]
    pub at: Option<u32>,
    /// Run every step of every lesson and compare with its expected output.
    #[arg(long)]
    pub check: bool,
    /// Do not wait for a key between steps (scripts, CI).
    #[arg(long)]
    pub yes: bool,
    /// Jump to this lesson (its number, e.g. `2`); with --check, only this lesson.
    #[arg(long)]
    pub lesson: Option<u32>,
    /// With a lesson: start at this step of it (1-based).
    #[arg(long, requires = "lesson_given")]
    pub step: Option<usize>,
    /// Forget the remembered progress and start from the first step.
    #[arg(long)]
    pub restart: bool,
    /// Directory holding the lessons (default: the ones built into kubelab).
    #[arg(long, value_name = "DIR")]
    pub lessons_dir: Option<PathBuf>,
}

impl TutorialArgs {
    /// The lesson asked for, by position or by flag.
    pub fn lesson(&self) -> Option<u32> {
        self.at.or(self.lesson)
    }
}

/// `kubelab lessons`: the table of contents.
#[derive(Debug, Args)]
pub struct LessonsArgs {
    /// Directory holding the lessons (default: the ones built into kubelab).
    #[arg(long, value_name = "DIR")]
    pub lessons_dir: Option<PathBuf>,
}

/// `kubelab get`: the life of one request.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// Resource as kubectl spells it: plural, singular, kind or short name, optionally
    /// qualified by its group (`deployments.apps`) or group/version (`deployments.v1.apps`).
    pub resource: String,
    /// One object by name; without it, the list.
    pub name: Option<String>,
    /// Narrate the request on the wire: path, query, headers, raw response, decoder.
    #[arg(long)]
    pub trace: bool,
    /// Print the response body exactly as received instead of a table.
    #[arg(long)]
    pub raw: bool,
    /// Every namespace (namespaced resources only).
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Label selector, as ListParams::labels (e.g. `app=web`).
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Field selector, as ListParams::fields (e.g. `metadata.name=web`).
    #[arg(long)]
    pub field_selector: Option<String>,
    /// Page size, as ListParams::limit.
    #[arg(long)]
    pub limit: Option<u32>,
}

/// `kubelab watch-pods`: list, then watch from the list's resourceVersion.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Watch from this resourceVersion instead of listing first (an old one gets 410 Gone).
    #[arg(long, value_name = "RV")]
    pub from_version: Option<String>,
    /// Print every watch event line exactly as received.
    #[arg(long)]
    pub raw: bool,
    /// Stop after this long (e.g. `500ms`, `5s`, `2m`); otherwise on Ctrl-C.
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Label selector for the pods watched.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
}

/// `500ms`, `5s`, `2m`, `1h`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("{text:?} is not a duration (try 500ms, 5s, 2m)"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("unknown unit {other:?} in {text:?} (use ms, s, m or h)")),
    };
    Ok(std::time::Duration::from_secs_f64(seconds))
}

/// What the sandbox runs besides the API server.
#[derive(Debug, Clone, Args)]
pub struct ClusterFlags {
    /// Loops to run, as kube-controller-manager's flag: `*` all, `name` one, `-name` not
    /// that one (e.g. `*,-garbagecollector`); empty for the API server alone.
    #[arg(long, default_value = "*", value_parser = parse_controllers)]
    pub controllers: String,
    /// The Node manifests a new sandbox starts with (YAML, several documents or a List);
    /// default: two workers, one amd64 and one arm64.
    #[arg(long, value_name = "FILE")]
    pub nodes: Option<std::path::PathBuf>,
}

fn parse_controllers(list: &str) -> Result<String, String> {
    crate::sandbox::controllers::Selection::parse(list).map(|_| list.to_string()).map_err(|e| e.to_string())
}

impl ClusterFlags {
    /// The daemon's options for these flags and `limits`.
    pub fn serve(&self, port: Option<u16>, log_requests: bool, limits: &ServeLimits) -> crate::sandbox::daemon::Serve {
        crate::sandbox::daemon::Serve {
            port,
            timeouts: limits.timeouts(),
            log_requests,
            controllers: self.controllers.clone(),
            nodes: self.nodes.clone(),
        }
    }
}

/// The server's timeouts, named as kube-apiserver names its flags.
#[derive(Debug, Clone, Args)]
pub struct ServeLimits {
    /// Answer a request that is not a watch 504 if it takes longer (kube-apiserver's flag).
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    pub request_timeout: std::time::Duration,
    /// Seconds: a watch without timeoutSeconds ends after a random time in [N, 2N).
    #[arg(long, default_value_t = 1800)]
    pub min_request_timeout: u64,
    /// For tests: time to read a request head (default 32s).
    #[arg(long, value_parser = parse_duration, hide = true)]
    pub header_read_timeout: Option<std::time::Duration>,
    /// For tests: close keep-alive connections idle this long (default 90s).
    #[arg(long, value_parser = parse_duration, hide = true)]
    pub idle_timeout: Option<std::time::Duration>,
    /// For tests: close a watcher whose buffer stays full this long (default 10s).
    #[arg(long, value_parser = parse_duration, hide = true)]
    pub watcher_grace: Option<std::time::Duration>,
}

impl ServeLimits {
    pub fn timeouts(&self) -> crate::sandbox::connection::Timeouts {
        let d = crate::sandbox::connection::Timeouts::default();
        crate::sandbox::connection::Timeouts {
            header_read: self.header_read_timeout.unwrap_or(d.header_read),
            idle: self.idle_timeout.unwrap_or(d.idle),
            request: self.request_timeout,
            min_request: std::time::Duration::from_secs(self.min_request_timeout),
            watcher_grace: self.watcher_grace.unwrap_or(d.watcher_grace),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum SandboxAction {
    /// Start the sandbox in the background (no-op when it already runs).
    Start {
        /// Stay attached and print each controller's decisions on stderr.
        #[arg(long)]
        foreground: bool,
        /// Port on 127.0.0.1 (default: the last one used, else a free one).
        #[arg(long)]
        port: Option<u16>,
        /// Also log one line per request on stderr (with --foreground, or into the log).
        #[arg(long)]
        log_requests: bool,
        #[command(flatten)]
        limits: ServeLimits,
        #[command(flatten)]
        cluster: ClusterFlags,
    },
    /// Print the background sandbox's log (requests, each controller's decisions).
    Log {
        /// Keep printing what it logs from now on.
        #[arg(short, long)]
        follow: bool,
        /// The last N lines only.
        #[arg(long, value_name = "N")]
        tail: Option<usize>,
        /// With --follow: stop after this long (e.g. `5s`); otherwise on Ctrl-C.
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
        duration: Option<std::time::Duration>,
    },
    /// Stop the background sandbox.
    Stop,
    /// Is it up? Address, data directory, object count, current resourceVersion.
    Status,
    /// Print `export KUBECONFIG=...` for `eval "$(kubelab sandbox env)"`.
    Env,
    /// Stop the sandbox and delete all of its data.
    Reset {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Give every LoadBalancer Service its ClusterIP as external IP while it runs, as
    /// `minikube tunnel`; the addresses are taken back when it stops.
    Tunnel {
        /// Stop after this long (e.g. `30s`); otherwise on Ctrl-C.
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
        duration: Option<std::time::Duration>,
    },
}
