//! `kubelab informer-demo`: a shared informer at work on the target cluster, every
//! hand-off printed as it happens (blog post III).
//!
//! ```text
//! reflector --(list, watch events)--> DeltaFIFO --pop--> controller --> indexer
//!                                                               '--> processor --> handler 1..N
//! ```
//!
//! The machinery reports each hand-off through its [`Tracer`]; this command forwards the
//! traces over a channel (a tracer must never block the pipeline) and prints them, or
//! draws them in the `--live` view. Each handler keeps the last state it was told of per
//! key, so the summary can check what an informer promises: the indexer ends equal to the
//! server, and every handler saw every final state. `--compare-kube-rs` runs kube-rs'
//! `watcher` + `reflector` on the same resource next to it and checks both caches agree.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use serde_json::json;
use tokio::sync::mpsc;

use super::live::screen::{Frame, Panel, Row, Screen};
use super::live::{format_duration, parse_duration, Out, RunArgs, StopReason, Stopper};
use super::{kinds, CommandError, Session};
use crate::cli::Global;
use crate::machinery::delta_fifo::DeltaObject;
use crate::machinery::shared_informer::{InformerOptions, ResourceEventHandlerFuncs, SharedIndexInformer};
use crate::machinery::stop::StopSignal;
use crate::machinery::store::meta_namespace_key_func;
use crate::machinery::trace::{Trace, Tracer};

/// `kubelab informer-demo` flags.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to inform on, as kubectl spells it (`pods`, `configmaps`, `deployments.apps`).
    #[arg(long, default_value = "pods")]
    pub resource: String,
    /// Re-deliver every cached object to the handlers this often (`30s`); 0 = never.
    #[arg(long, value_parser = parse_duration)]
    pub resync: Option<Duration>,
    /// How many event handlers to register (each gets its own processorListener).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub handlers: u16,
    /// Also run kube-rs' watcher + reflector on the same resource and compare the caches.
    #[arg(long)]
    pub compare_kube_rs: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

/// key -> resourceVersion: what a cache holds, in a form two caches can be compared by.
pub type CacheView = BTreeMap<String, String>;

/// What one handler was told: the last state per key, and how often each notification came.
#[derive(Default)]
pub struct HandlerLog {
    pub seen: CacheView,
    pub adds: usize,
    pub updates: usize,
    pub deletes: usize,
}

/// The view of any cache of Kubernetes objects.
pub fn view<'a, K: kube::Resource + 'a>(objects: impl IntoIterator<Item = &'a K>) -> CacheView {
    objects
        .into_iter()
        .filter_map(|o| Some((meta_namespace_key_func(o).ok()?, o.meta().resource_version.clone().unwrap_or_default())))
        .collect()
}

/// Registers a handler that records into `log` (its on_add/on_update/on_delete).
pub fn recording_handler<K: kube::Resource + Send + Sync + 'static>(log: Arc<Mutex<HandlerLog>>) -> ResourceEventHandlerFuncs<K> {
    let (a, u, d) = (log.clone(), log.clone(), log);
    fn record<K: kube::Resource>(log: &Mutex<HandlerLog>, obj: &K, count: fn(&mut HandlerLog)) {
        let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
        if let Ok(key) = meta_namespace_key_func(obj) {
            l.seen.insert(key, obj.meta().resource_version.clone().unwrap_or_default());
        }
        count(&mut l);
    }
    ResourceEventHandlerFuncs::new()
        .on_add(move |obj: &Arc<K>, _initial| record(&a, obj.as_ref(), |l| l.adds += 1))
        .on_update(move |_old: &Arc<K>, new: &Arc<K>| record(&u, new.as_ref(), |l| l.updates += 1))
        .on_delete(move |obj: &DeltaObject<K>| {
            let mut l = d.lock().unwrap_or_else(|e| e.into_inner());
            let key = match obj {
                DeltaObject::DeletedFinalStateUnknown { key, .. } => Some(key.clone()),
                DeltaObject::Object(o) => meta_namespace_key_func(o.as_ref()).ok(),
            };
            if let Some(key) = key {
                l.seen.remove(&key);
            }
            l.deletes += 1;
        })
}

/// Which box of the pipeline a trace belongs to.
fn stage(t: &Trace) -> &'static str {
    match t {
        Trace::DeltaQueued { .. } | Trace::DeltaDeduplicated { .. } | Trace::Popped { .. } => "deltafifo",
        Trace::IndexerUpdated { .. } => "indexer",
        Trace::Notified { .. } => "processor",
        Trace::Handled { .. } => "handler",
        _ => "reflector",
    }
}

/// Counts for the summary.
#[derive(Default)]
struct Tally {
    lists: usize,
    gone: usize,
    watch_events: BTreeMap<&'static str, usize>,
    bookmarks: usize,
    deltas: usize,
    pops: usize,
    resyncs: usize,
    last_rv: String,
    /// The reflector has started its watch: only then is the cache "synced and waiting".
    watching: bool,
}

impl Tally {
    fn count(&mut self, t: &Trace) {
        match t {
            Trace::Listed { resource_version, .. } => {
                self.lists += 1;
                self.last_rv = resource_version.clone();
            }
            Trace::ListGone { .. } | Trace::WatchGone { .. } => self.gone += 1,
            Trace::WatchStarted { .. } => self.watching = true,
            Trace::WatchEvent { event, resource_version, .. } => {
                *self.watch_events.entry(event).or_default() += 1;
                self.last_rv = resource_version.clone();
            }
            Trace::Bookmark { resource_version } => {
                self.bookmarks += 1;
                self.last_rv = resource_version.clone();
            }
            Trace::DeltaQueued { .. } => self.deltas += 1,
            Trace::Popped { .. } => self.pops += 1,
            Trace::ResyncRequested => self.resyncs += 1,
            _ => {}
        }
    }
}

/// The `--live` model: the last few lines of every box.
struct Board {
    screen: Screen,
    title: String,
    boxes: BTreeMap<String, VecDeque<String>>,
    log: Vec<String>,
}

const BOX_LINES: usize = 8;

impl Board {
    fn push(&mut self, name: &str, line: String) {
        let b = self.boxes.entry(name.to_string()).or_default();
        b.push_back(line);
        while b.len() > BOX_LINES {
            b.pop_front();
        }
    }

    fn lines(&self, name: &str) -> Vec<String> {
        self.boxes.get(name).map(|b| b.iter().cloned().collect()).unwrap_or_default()
    }

    fn draw(&mut self, informer: &SharedIndexInformer<DynamicObject>, handlers: &[String], kube_rs: Option<usize>, elapsed: Duration) {
        let fifo: Vec<String> = informer.delta_fifo().snapshot().into_iter().map(|(k, d)| format!("{k} {d:?}")).collect();
        let indexer = informer.indexer();
        let mut index_lines = vec![format!("{} objects, rv {}", indexer.len(), informer.last_sync_resource_version())];
        index_lines.extend(self.lines("indexer"));
        let mut rows = vec![
            Row {
                panels: vec![
                    Panel::new("reflector (list + watch)", self.lines("reflector")),
                    Panel::new(format!("DeltaFIFO ({} keys queued)", fifo.len()), fifo),
                    Panel::new("indexer (the cache)", index_lines),
                ],
                arrows: true,
            },
            Row {
                panels: std::iter::once(Panel::new("processor (notifications)", self.lines("processor")))
                    .chain(handlers.iter().map(|h| Panel::new(format!("handler {h}"), self.lines(&format!("handler {h}")))))
                    .collect(),
                arrows: true,
            },
        ];
        if let Some(n) = kube_rs {
            let mut lines = vec![format!("reflector::Store: {n} objects")];
            lines.extend(self.lines("kube-rs"));
            rows.push(Row { panels: vec![Panel::new("kube-rs watcher + reflector", lines)], arrows: false });
        }
        let frame = Frame {
            title: format!("{}   [{}]", self.title, format_duration(elapsed)),
            rows,
            log: self.log.clone(),
            footer: "create or delete objects in another terminal (kubectl, kubelab create-pod); Ctrl-C stops".into(),
        };
        let _ = self.screen.draw(&frame);
    }
}

/// Runs the informer until Ctrl-C or `--for`.
pub async fn run(global: &Global, args: Args) -> Result<(), CommandError> {
    let mut s = Session::open(global).await?;
    s.n.step(format!("resolve {:?} through discovery", args.resource));
    let served = kinds::discover(&s.client).await.map_err(|e| s.explain(e))?;
    let r = super::get::resolve(&served, &args.resource).ok_or_else(|| {
        CommandError::new(format!("the server doesn't have a resource type {:?}", args.resource))
            .hint("`kubelab kinds` lists what it serves")
    })?;
    let ar = r.api_resource();
    let scope = match (&global.namespace, r.namespaced) {
        (Some(ns), true) => format!("namespace {ns}"),
        (_, true) => "all namespaces".to_string(),
        _ => "cluster-scoped".to_string(),
    };
    s.n.detail("GVR", format!("{}, Resource={} ({scope})", ar.api_version, ar.plural));
    let api: Api<DynamicObject> = match (&global.namespace, r.namespaced) {
        (Some(ns), true) => Api::namespaced_with(s.client.clone(), ns, &ar),
        _ => Api::all_with(s.client.clone(), &ar),
    };

    let Session { n, .. } = s;
    let out = Out::with_narrator(global, n);
    out.title(&format!(
        "informer: {} handler(s), resync {}",
        args.handlers,
        args.resync.filter(|d| !d.is_zero()).map(format_duration).unwrap_or_else(|| "off".into())
    ));
    out.note("each line is one hand-off: reflector -> deltafifo -> informer (indexer, processor) -> handler");

    let (tx, mut traces) = mpsc::unbounded_channel();
    let informer = SharedIndexInformer::new(
        Arc::new(api.clone()),
        InformerOptions {
            name: ar.plural.clone(),
            resync_period: args.resync,
            tracer: Tracer::from_sender(tx),
            ..InformerOptions::default()
        },
    );
    let names: Vec<String> = (1..=args.handlers).map(|i| i.to_string()).collect();
    let logs: Vec<Arc<Mutex<HandlerLog>>> = names
        .iter()
        .map(|name| {
            let log = Arc::new(Mutex::new(HandlerLog::default()));
            informer.add_named_event_handler(name.clone(), recording_handler::<DynamicObject>(log.clone()));
            log
        })
        .collect();

    // kube-rs, on the same resource: watcher (list + watch + re-list on 410) into a reflector Store.
    let (ktx, mut kube_events) = mpsc::unbounded_channel::<String>();
    let kube_store = args.compare_kube_rs.then(|| {
        let writer = reflector::store::Writer::new(ar.clone());
        let store = writer.as_reader();
        let stream = reflector::reflector(writer, watcher(api.clone(), watcher::Config::default()));
        let task = tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream.default_backoff());
            while let Some(ev) = stream.next().await {
                let line = match ev {
                    Ok(watcher::Event::Init) => "watcher: Init (a list begins)".to_string(),
                    Ok(watcher::Event::InitApply(o)) => format!("watcher: InitApply {}", key_of(&o)),
                    Ok(watcher::Event::InitDone) => "watcher: InitDone (store swapped in)".to_string(),
                    Ok(watcher::Event::Apply(o)) => format!("watcher: Apply {}", key_of(&o)),
                    Ok(watcher::Event::Delete(o)) => format!("watcher: Delete {}", key_of(&o)),
                    Err(e) => format!("watcher: error {e}"),
                };
                if ktx.send(line).is_err() {
                    return;
                }
            }
        });
        (store, task)
    });

    let out = Arc::new(out);
    let mut board = if out.live_possible(args.run.live) {
        let screen = Screen::enter(out.colour()).map_err(|e| CommandError::new(format!("cannot draw the live view: {e}")))?;
        Some(Board { screen, title: format!("kubelab informer-demo — {} ({scope})", ar.plural), boxes: BTreeMap::new(), log: Vec::new() })
    } else {
        None
    };

    let stopper = Stopper::arm(args.run.run_for);
    // The informer has its own stop: on Ctrl-C we first let the handlers catch up, then stop it.
    let informer_stop = StopSignal::new();
    let informer_task = informer.start(informer_stop.clone());
    let mut tally = Tally::default();
    let mut synced_said = false;
    let mut agreed: Option<usize> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            Some(t) = traces.recv() => {
                tally.count(&t);
                show_trace(&out, board.as_mut(), &t);
                continue;
            }
            Some(line) = kube_events.recv() => {
                match board.as_mut() {
                    Some(b) => b.push("kube-rs", line),
                    None => out.step(&format!("{:>8}  kube-rs {line}", format_duration(out.elapsed())), || json!({ "stage": "kube-rs", "text": line })),
                }
                continue;
            }
            _ = tick.tick() => {}
            _ = stopper.signal.stopped() => break,
        }
        // Traces arrive from other tasks: say "synced" only after the list and the start of
        // the watch have been told, so the story reads in the order it happened.
        if !synced_said && informer.has_synced() && tally.watching {
            synced_said = true;
            let text = format!(
                "cache synced: {} objects; now waiting for changes (kubectl or `kubelab create-pod` in another terminal)",
                informer.indexer().len()
            );
            note_or_log(&out, board.as_mut(), &text);
        }
        if let (Some((store, _)), true) = (&kube_store, synced_said) {
            let ours = view(informer.indexer().list().iter().map(|o| o.as_ref()));
            let theirs = view(store.state().iter().map(|o| o.as_ref()));
            let now = (ours == theirs).then_some(ours.len());
            if now.is_some() && now != agreed {
                note_or_log(
                    &out,
                    board.as_mut(),
                    &format!("compare: the indexer and kube-rs' Store agree on {} objects (same keys, same resourceVersions)", ours.len()),
                );
            }
            agreed = now;
        }
        if let Some(b) = board.as_mut() {
            b.draw(&informer, &names, kube_store.as_ref().map(|(s, _)| s.state().len()), out.elapsed());
        }
    }

    // Give the handlers (and kube-rs) a moment to see the last events, then stop everything.
    let settle = tokio::time::Instant::now() + Duration::from_secs(3);
    let server = loop {
        let server = api.list(&Default::default()).await.map(|l| view(l.items.iter())).ok();
        let indexer = view(informer.indexer().list().iter().map(|o| o.as_ref()));
        let handlers_caught_up = logs.iter().all(|l| l.lock().unwrap_or_else(|e| e.into_inner()).seen == indexer);
        let kube_caught_up = kube_store.as_ref().is_none_or(|(s, _)| view(s.state().iter().map(|o| o.as_ref())) == indexer);
        if (server.as_ref() == Some(&indexer) && handlers_caught_up && kube_caught_up) || tokio::time::Instant::now() > settle {
            break server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    informer_stop.stop();
    let _ = informer_task.await;
    while let Ok(t) = traces.try_recv() {
        tally.count(&t);
        if board.is_none() {
            show_trace(&out, None, &t);
        }
    }
    drop(board);

    let reason = stopper.reason();
    let indexer = informer.indexer();
    let ours = view(indexer.list().iter().map(|o| o.as_ref()));
    let mut lines = vec![
        format!("stopped: {}", reason.describe(args.run.run_for)),
        format!("resource: {} ({scope})", ar.plural),
        format!(
            "reflector: {} list(s), {} 410 Gone, watch events {}, {} bookmark(s), last resourceVersion {}",
            tally.lists,
            tally.gone,
            tally.watch_events.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ").if_empty("none"),
            tally.bookmarks,
            tally.last_rv
        ),
        format!("deltafifo: {} deltas queued, {} pops, {} resync(s)", tally.deltas, tally.pops, tally.resyncs),
        format!("indexer: {} objects; equal to the server's list: {}", ours.len(), yes_no(server.as_ref().map(|s| *s == ours))),
    ];
    let mut handler_json = Vec::new();
    for (name, log) in names.iter().zip(&logs) {
        let l = log.lock().unwrap_or_else(|e| e.into_inner());
        lines.push(format!(
            "handler {name}: {} add, {} update, {} delete; saw every final state: {}",
            l.adds,
            l.updates,
            l.deletes,
            yes_no(Some(l.seen == ours))
        ));
        handler_json.push(json!({ "name": name, "adds": l.adds, "updates": l.updates, "deletes": l.deletes, "agrees": l.seen == ours }));
    }
    let kube_json = kube_store.map(|(store, task)| {
        task.abort();
        let theirs = view(store.state().iter().map(|o| o.as_ref()));
        lines.push(format!("kube-rs reflector Store: {} objects; same as the indexer: {}", theirs.len(), yes_no(Some(theirs == ours))));
        json!({ "objects": theirs.len(), "agrees": theirs == ours })
    });
    out.summary(
        &lines,
        json!({
            "stopped": reason.describe(args.run.run_for),
            "resource": ar.plural,
            "lists": tally.lists,
            "gone": tally.gone,
            "watch_events": tally.watch_events,
            "deltas": tally.deltas,
            "pops": tally.pops,
            "indexer": { "objects": ours.len(), "agrees_with_server": server.as_ref().map(|s| *s == ours) },
            "handlers": handler_json,
            "kube_rs": kube_json,
        }),
    );
    if reason == StopReason::Finished {
        return Err(CommandError::new("the informer stopped by itself"));
    }
    Ok(())
}

fn key_of(o: &DynamicObject) -> String {
    meta_namespace_key_func(o).unwrap_or_else(|e| e.to_string())
}

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown (the server did not answer)",
    }
}

trait IfEmpty {
    fn if_empty(self, instead: &str) -> String;
}

impl IfEmpty for String {
    fn if_empty(self, instead: &str) -> String {
        if self.is_empty() {
            instead.to_string()
        } else {
            self
        }
    }
}

fn note_or_log(out: &Out, board: Option<&mut Board>, text: &str) {
    match board {
        Some(b) => b.log.push(text.to_string()),
        None => out.step(&format!("{:>8}  {text}", format_duration(out.elapsed())), || json!({ "stage": "demo", "text": text })),
    }
}

fn show_trace(out: &Out, board: Option<&mut Board>, t: &Trace) {
    let text = t.to_string();
    match board {
        Some(b) => {
            let name = match t {
                Trace::Handled { listener, .. } => format!("handler {listener}"),
                _ => stage(t).to_string(),
            };
            let short = text.split_once(": ").map(|(_, rest)| rest.to_string()).unwrap_or(text.clone());
            b.push(&name, short);
            b.log.push(text);
        }
        None => out.step(&format!("{:>8}  {text}", format_duration(out.elapsed())), || json!({ "stage": stage(t), "text": text })),
    }
}
