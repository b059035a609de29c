//! `kubelab queue-demo`: the work queue of blog post I, with its three containers printed
//! after every operation.
//!
//! The scenes follow the post: two tasks (one fills, one reads after a pause), then the
//! properties a controller relies on: a key added twice while waiting is queued once; a
//! key re-added while a worker holds it waits in `dirty` until `done`; parallel workers
//! never hold the same key; shutdown lets workers drain what was queued; and a failing key
//! is retried on the rate limiter's exponential timeline. Each scene ends with a note on
//! where kube-rs keeps the same guarantee (`kube::runtime::Controller`'s scheduler and
//! runner), because kube-rs has no queue object to print.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use super::live::screen::{Frame, Panel, Row, Screen};
use super::live::{format_duration, parse_duration, Out, RunArgs, StopReason, Stopper};
use super::CommandError;
use crate::cli::Global;
use crate::machinery::rate_limiter::BucketRateLimiter;
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::workqueue::{QueueSnapshot, WorkQueue};

/// `kubelab queue-demo` flags.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Workers in the parallel scene.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub workers: u16,
    /// Keys the producers add (each scene that fills the queue).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=200))]
    pub items: u16,
    /// How long the reading task waits before its first `get` (scene 1).
    #[arg(long, default_value = "300ms", value_parser = parse_duration)]
    pub pause: Duration,
    /// Time between two `add`s of a producer.
    #[arg(long, default_value = "20ms", value_parser = parse_duration)]
    pub add_every: Duration,
    /// How long a worker "reconciles" one key before `done`.
    #[arg(long, default_value = "50ms", value_parser = parse_duration)]
    pub work: Duration,
    #[command(flatten)]
    pub run: RunArgs,
}

/// The queue holds string keys, as a controller's queue holds `namespace/name`.
type Key = String;

/// How many scenes there are, for the summary.
const SCENES: usize = 6;

/// Everything one run counts, for the summary.
#[derive(Default)]
struct Tally {
    steps: AtomicUsize,
    processed: AtomicUsize,
    scenes: AtomicUsize,
    max_parallel: AtomicUsize,
    shared: AtomicUsize,
}

/// Where steps go: lines, or the live screen (with its model of who did what).
struct Show {
    out: Out,
    live: Mutex<Option<LiveModel>>,
    /// How long a live frame stays up before the next step, so an eye can follow.
    frame_delay: Duration,
    tally: Tally,
    started: Instant,
}

struct LiveModel {
    screen: Screen,
    scene: String,
    actors: BTreeMap<String, String>,
    log: Vec<String>,
}

impl Show {
    fn scene(&self, n: usize, title: &str, kube_rs: &str) {
        match self.live.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            // On the live screen the title goes into the frame, not between its lines.
            Some(m) => {
                m.scene = format!("scene {n}/{SCENES}: {title}");
                m.actors.clear();
                m.log.push(format!("── {}", m.scene));
                m.log.push(format!("   kube-rs: {kube_rs}"));
            }
            None => {
                self.out.title(title);
                self.out.note(&format!("kube-rs: {kube_rs}"));
            }
        }
    }

    /// A line that is not a queue operation (a computed timeline).
    async fn fact(&self, text: &str) {
        let drawn = match self.live.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            Some(m) => {
                m.log.push(text.to_string());
                true
            }
            None => false,
        };
        if drawn {
            tokio::time::sleep(self.frame_delay).await;
        } else {
            self.out.step(text, || json!({ "fact": text }));
        }
    }

    /// One state change, with the queue's containers right after it.
    async fn step(&self, actor: &str, action: &str, snap: QueueSnapshot<Key>) {
        self.tally.steps.fetch_add(1, Ordering::Relaxed);
        let (queue, dirty, processing) = containers(&snap);
        let line = format!(
            "{actor:<10} {action:<44} queue [{}]  dirty {{{}}}  processing {{{}}}",
            queue.join(" "),
            dirty.join(" "),
            processing.join(" ")
        );
        let drawn = {
            let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
            match live.as_mut() {
                Some(m) => {
                    m.actors.insert(actor.to_string(), action.to_string());
                    m.log.push(format!("{actor}: {action}"));
                    let frame = queue_frame(m, &queue, &dirty, &processing, snap.shutting_down, self.started.elapsed());
                    let _ = m.screen.draw(&frame);
                    true
                }
                None => false,
            }
        };
        if drawn {
            tokio::time::sleep(self.frame_delay).await;
            return;
        }
        self.out.step(&line, || {
            json!({ "actor": actor, "action": action, "queue": queue, "dirty": dirty, "processing": processing, "shutting_down": snap.shutting_down })
        });
    }
}

/// The three containers, `dirty` and `processing` sorted (they are sets).
fn containers(snap: &QueueSnapshot<Key>) -> (Vec<Key>, Vec<Key>, Vec<Key>) {
    let mut dirty = snap.dirty.clone();
    dirty.sort();
    let mut processing = snap.processing.clone();
    processing.sort();
    (snap.queue.clone(), dirty, processing)
}

fn queue_frame(m: &LiveModel, queue: &[Key], dirty: &[Key], processing: &[Key], shutting_down: bool, elapsed: Duration) -> Frame {
    let actors = m.actors.iter().map(|(a, act)| format!("{a}: {act}")).collect();
    let queue_title = if shutting_down { "queue (shutting down)" } else { "queue (FIFO)" };
    Frame {
        title: format!("kubelab queue-demo — {}   [{}]", m.scene, format_duration(elapsed)),
        rows: vec![
            Row { panels: vec![Panel::new("who did what", actors), Panel::new(queue_title, queue.to_vec())], arrows: true },
            Row {
                panels: vec![
                    Panel::new("dirty (needs processing)", dirty.to_vec()),
                    Panel::new("processing (held by a worker)", processing.to_vec()),
                ],
                arrows: false,
            },
        ],
        log: m.log.clone(),
        footer: "Ctrl-C stops: the queue shuts down and the workers drain it".into(),
    }
}

fn keys(prefix: &str, n: u16) -> Vec<Key> {
    (1..=n).map(|i| format!("{prefix}-{i}")).collect()
}

/// Runs the scenes in order until they are done or the stopper fires.
pub async fn run(global: &Global, args: Args) -> Result<(), CommandError> {
    let out = Out::new(global);
    let live = if out.live_possible(args.run.live) {
        let screen = Screen::enter(out.colour()).map_err(|e| CommandError::new(format!("cannot draw the live view: {e}")))?;
        Some(LiveModel { screen, scene: String::new(), actors: BTreeMap::new(), log: Vec::new() })
    } else {
        None
    };
    let frame_delay = if live.is_some() { Duration::from_millis(350) } else { Duration::ZERO };
    let show = Arc::new(Show { out, live: Mutex::new(live), frame_delay, tally: Tally::default(), started: Instant::now() });
    let stopper = Stopper::arm(args.run.run_for);

    for n in 1..=SCENES {
        if stopper.is_stopped() {
            break;
        }
        let (s, st) = (show.clone(), stopper.clone());
        match n {
            1 => two_tasks(s, &args, st).await,
            2 => dedup_while_waiting(s, &args, st).await,
            3 => re_add_while_processing(s, &args, st).await,
            4 => parallel_workers(s, &args, st).await,
            5 => shutdown_drains(s, &args, st).await,
            _ => rate_limited_retries(s, &args, st).await,
        }
        if !stopper.is_stopped() {
            show.tally.scenes.fetch_add(1, Ordering::Relaxed);
        }
    }
    if stopper.is_stopped() {
        // Ended early: the live view stays up until here, so the reader saw the last state.
    } else if show.live.lock().unwrap_or_else(|e| e.into_inner()).is_some() && args.run.run_for.is_some() {
        // Live with a deadline: keep the final frame on screen until it passes.
        stopper.signal.stopped().await;
    }
    let reason = if stopper.is_stopped() { stopper.reason() } else { StopReason::Finished };
    stopper.stop(StopReason::Finished);
    // Leave the alternate screen before the summary, so it stays in the scrollback.
    show.live.lock().unwrap_or_else(|e| e.into_inner()).take();
    summary(&show, reason, args.run.run_for);
    Ok(())
}

fn summary(show: &Show, reason: StopReason, run_for: Option<Duration>) {
    let t = &show.tally;
    let (steps, processed, scenes) =
        (t.steps.load(Ordering::Relaxed), t.processed.load(Ordering::Relaxed), t.scenes.load(Ordering::Relaxed));
    let (max_parallel, shared) = (t.max_parallel.load(Ordering::Relaxed), t.shared.load(Ordering::Relaxed));
    let lines = vec![
        format!("stopped: {}", reason.describe(run_for)),
        format!("scenes completed: {scenes}/{SCENES}"),
        format!("queue operations shown: {steps}"),
        format!("keys processed (get .. done): {processed}"),
        format!("most keys processing at once: {max_parallel}"),
        if shared == 0 {
            "a key held by two workers at once: never".to_string()
        } else {
            format!("a key held by two workers at once: {shared} times (bug!)")
        },
    ];
    show.out.summary(
        &lines,
        json!({ "stopped": reason.describe(run_for), "scenes_completed": scenes, "steps": steps, "processed": processed, "max_parallel": max_parallel, "shared": shared, "elapsed_ms": show.out.elapsed().as_millis() as u64 }),
    );
}

/// Scene 1, the post's example: a task fills the queue while the other sleeps, then reads.
async fn two_tasks(show: Arc<Show>, args: &Args, stopper: Stopper) {
    show.scene(
        1,
        "one task fills the queue, the other reads after a pause",
        "Controller::run feeds a scheduler stream; the runner pulls from it",
    );
    let q: WorkQueue<Key> = WorkQueue::new();
    let filler = {
        let (q, show, stopper, items, every) = (q.clone(), show.clone(), stopper.clone(), keys("item", args.items), args.add_every);
        tokio::spawn(async move {
            for item in items {
                if stopper.is_stopped() {
                    break;
                }
                q.add(item.clone());
                show.step("filler", &format!("add {item}"), q.snapshot()).await;
                tokio::time::sleep(every).await;
            }
            q.shut_down();
            show.step("filler", "shut_down (no more adds)", q.snapshot()).await;
        })
    };
    let reader = {
        let (q, show, stopper, pause, work) = (q.clone(), show.clone(), stopper.clone(), args.pause, args.work);
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stopper.signal.stopped() => {}
            }
            show.step("reader", &format!("wakes up after {}", format_duration(pause)), q.snapshot()).await;
            while let Some(item) = q.get().await {
                track_start(&show, &q);
                show.step("reader", &format!("get -> {item}"), q.snapshot()).await;
                tokio::time::sleep(work).await;
                q.done(&item);
                show.tally.processed.fetch_add(1, Ordering::Relaxed);
                show.step("reader", &format!("done {item}"), q.snapshot()).await;
            }
            show.step("reader", "get -> None: shut down and drained", q.snapshot()).await;
        })
    };
    let _ = tokio::join!(filler, reader);
}

/// Scene 2: `dirty` absorbs a second add of a key that is still waiting.
async fn dedup_while_waiting(show: Arc<Show>, _args: &Args, stopper: Stopper) {
    show.scene(
        2,
        "a key added twice while waiting is queued once",
        "the scheduler merges requests for the same ObjectRef, keeping the earliest run time",
    );
    let q: WorkQueue<Key> = WorkQueue::new();
    for key in ["default/web", "default/db", "default/web", "default/web"] {
        if stopper.is_stopped() {
            return;
        }
        let before = q.len();
        q.add(key.to_string());
        let what = if q.len() == before { format!("add {key} (already dirty: no-op)") } else { format!("add {key}") };
        show.step("handler", &what, q.snapshot()).await;
    }
}

/// Scene 3: a key re-added while a worker holds it is parked in `dirty` until `done`.
async fn re_add_while_processing(show: Arc<Show>, _args: &Args, stopper: Stopper) {
    show.scene(
        3,
        "a key re-added while processing waits for done",
        "the runner holds back a request for an object that is being reconciled",
    );
    let q: WorkQueue<Key> = WorkQueue::new();
    let key = "default/web".to_string();
    q.add(key.clone());
    show.step("handler", &format!("add {key}"), q.snapshot()).await;
    let Some(item) = q.get().await else { return };
    track_start(&show, &q);
    show.step("worker 1", &format!("get -> {item}"), q.snapshot()).await;
    if stopper.is_stopped() {
        q.done(&item);
        return;
    }
    q.add(key.clone());
    show.step("handler", &format!("add {key} (processing: only dirty)"), q.snapshot()).await;
    let other = match q.try_get() {
        Some(Some(k)) => format!("get -> {k} (unexpected!)"),
        _ => "get would wait: nothing queued".to_string(),
    };
    show.step("worker 2", &other, q.snapshot()).await;
    q.done(&item);
    show.tally.processed.fetch_add(1, Ordering::Relaxed);
    show.step("worker 1", &format!("done {item} -> back in the queue"), q.snapshot()).await;
    if let Some(again) = q.get().await {
        show.step("worker 2", &format!("get -> {again}"), q.snapshot()).await;
        q.done(&again);
        show.tally.processed.fetch_add(1, Ordering::Relaxed);
        show.step("worker 2", &format!("done {again}"), q.snapshot()).await;
    }
}

/// Notes how many keys are processing right now, for the summary's "at once".
fn track_start(show: &Show, q: &WorkQueue<Key>) {
    show.tally.max_parallel.fetch_max(q.snapshot().processing.len(), Ordering::Relaxed);
}

/// Scene 4: `--workers` tasks drain a queue that a producer keeps feeding, twice per key.
async fn parallel_workers(show: Arc<Show>, args: &Args, stopper: Stopper) {
    show.scene(
        4,
        &format!("{} workers, {} keys added twice: never the same key in two workers", args.workers, args.items),
        "Controller::run(reconcile, error_policy, ctx) runs reconciles concurrently, one per object at a time",
    );
    let q: WorkQueue<Key> = WorkQueue::new();
    let held: Arc<Mutex<HashSet<Key>>> = Arc::default();
    let workers: Vec<_> = (1..=args.workers)
        .map(|w| {
            let (q, show, held, work) = (q.clone(), show.clone(), held.clone(), args.work);
            tokio::spawn(async move {
                let me = format!("worker {w}");
                while let Some(item) = q.get().await {
                    if !held.lock().unwrap_or_else(|e| e.into_inner()).insert(item.clone()) {
                        show.tally.shared.fetch_add(1, Ordering::Relaxed);
                    }
                    track_start(&show, &q);
                    show.step(&me, &format!("get -> {item}"), q.snapshot()).await;
                    tokio::time::sleep(work).await;
                    held.lock().unwrap_or_else(|e| e.into_inner()).remove(&item);
                    q.done(&item);
                    show.tally.processed.fetch_add(1, Ordering::Relaxed);
                    show.step(&me, &format!("done {item}"), q.snapshot()).await;
                }
            })
        })
        .collect();
    'rounds: for round in 1..=2 {
        for key in keys("default/pod", args.items) {
            if stopper.is_stopped() {
                break 'rounds;
            }
            q.add(key.clone());
            show.step("producer", &format!("add {key} (round {round})"), q.snapshot()).await;
            tokio::time::sleep(args.add_every).await;
        }
    }
    q.shut_down();
    show.step("producer", "shut_down", q.snapshot()).await;
    for w in workers {
        let _ = w.await;
    }
}

/// Scene 5: after `shut_down`, adds are ignored but everything queued is still handed out.
async fn shutdown_drains(show: Arc<Show>, args: &Args, _stopper: Stopper) {
    show.scene(
        5,
        "shutdown: no new keys, but the queued ones are drained",
        "Controller::graceful_shutdown_on(signal) lets running reconciles finish",
    );
    let q: WorkQueue<Key> = WorkQueue::new();
    for key in keys("default/job", 3) {
        q.add(key.clone());
        show.step("handler", &format!("add {key}"), q.snapshot()).await;
    }
    q.shut_down();
    show.step("main", "shut_down", q.snapshot()).await;
    q.add("default/late".into());
    show.step("handler", "add default/late (ignored: shutting down)", q.snapshot()).await;
    while let Some(item) = q.get().await {
        show.step("worker 1", &format!("get -> {item}"), q.snapshot()).await;
        tokio::time::sleep(args.work).await;
        q.done(&item);
        show.tally.processed.fetch_add(1, Ordering::Relaxed);
        show.step("worker 1", &format!("done {item}"), q.snapshot()).await;
    }
    show.step("worker 1", "get -> None: exits its loop", q.snapshot()).await;
}

/// Scene 6: a key that keeps failing is retried after 5ms, 10ms, 20ms... (per-key
/// exponential), and the whole queue is held to 10 retries/s after a burst of 100.
async fn rate_limited_retries(show: Arc<Show>, _args: &Args, stopper: Stopper) {
    show.scene(
        6,
        "the rate limiter's backoff: a failing key comes back later and later",
        "error_policy returns Action::requeue(delay): the backoff policy is the application's",
    );
    let q: RateLimitingQueue<Key> = RateLimitingQueue::with_default_rate_limiter();
    let key = "default/broken".to_string();
    q.add(key.clone());
    show.step("handler", &format!("add {key}"), q.snapshot()).await;
    for attempt in 1..=7 {
        let asked = Instant::now();
        let Some(item) = q.get().await else { return };
        let back = if attempt > 1 { format!(", back after {}", format_duration(asked.elapsed())) } else { String::new() };
        show.step("worker 1", &format!("get -> {item} (attempt {attempt}{back})"), q.snapshot()).await;
        if attempt == 7 || stopper.is_stopped() {
            q.forget(&item);
            q.done(&item);
            show.tally.processed.fetch_add(1, Ordering::Relaxed);
            show.step("worker 1", &format!("succeeds: forget -> {} requeues", q.num_requeues(&item)), q.snapshot()).await;
            break;
        }
        let delay = q.add_rate_limited(item.clone());
        q.done(&item);
        show.tally.processed.fetch_add(1, Ordering::Relaxed);
        show.step("worker 1", &format!("fails: add_rate_limited -> retry in {}", format_duration(delay)), q.snapshot()).await;
    }
    q.shut_down();

    // The overall bucket, on a simulated clock: the default controller limiter also keeps
    // all keys together to 10 qps after a burst of 100.
    let bucket = BucketRateLimiter::new(10.0, 100);
    let t0 = std::time::Instant::now();
    let waits: Vec<Duration> = (1..=150).map(|_| bucket.reserve_at(t0)).collect();
    let line = format!(
        "bucket (10 qps, burst 100), 150 failures of distinct keys at once: #1-#100 wait {}, #101 waits {}, #150 waits {}",
        format_duration(waits[99]),
        format_duration(waits[100]),
        format_duration(waits[149])
    );
    show.fact(&line).await;
}
