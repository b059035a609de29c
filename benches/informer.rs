//! Informer initial sync: kubelab's `SharedIndexInformer` (reflector -> DeltaFIFO ->
//! indexer + processor, one handler) next to kube-rs' `watcher` + `reflector` on the same
//! data, 10,000 pods in an in-process sandbox.
//!
//! One iteration = a fresh informer (or kube-rs stream) from nothing to "synced": the LIST
//! of every pod, decoding, and filling the cache (and, for ours, popping every delta and
//! notifying the handler). Memory is the process's resident set (VmRSS) before and after
//! one sync with the cache kept alive; it is printed, not benchmarked, and recorded by hand
//! in benches/RESULTS.md. The server runs in this process too, so only the difference
//! means anything.
//!
//! The heap the cache holds is counted exactly too (a counting global allocator): live bytes
//! after the sync minus before, per object, with the informer as it comes and with
//! kube-controller-manager's transform that drops managedFields.
//!
//! `cargo bench --profile dev --bench informer` (kept short: 10 samples).
//! `KUBELAB_BENCH_OBJECTS` (default 10000) sets the data size.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use kube::runtime::{reflector, watcher};

use kubelab::machinery::reflector::{strip_managed_fields, Transform};
use kubelab::machinery::shared_informer::{InformerOptions, ResourceEventHandlerFuncs, SharedIndexInformer};
use kubelab::machinery::stop::StopSignal;
use kubelab::sandbox::controllers::{pod_cache, Selection};
use kubelab::sandbox::{Options, Sandbox};

/// The system allocator, counting the bytes currently allocated.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn pod(i: usize) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("pod-{i:05}"), "labels": {"app": "bench", "shard": (i % 16).to_string()}},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}
    }))
    .unwrap()
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Ours: start an informer with one handler, wait for `has_synced` (polled every 1 ms,
/// not WaitForCacheSync's 100 ms), return it still running.
async fn kubelab_sync(
    api: &Api<Pod>,
    expect: usize,
    transform: Option<Transform>,
    trim: Option<fn(&mut Pod)>,
) -> (SharedIndexInformer<Pod>, StopSignal) {
    let informer =
        SharedIndexInformer::new(Arc::new(api.clone()), InformerOptions { name: "pods".into(), transform, ..Default::default() });
    if let Some(trim) = trim {
        informer.set_transform(trim).expect("not started yet");
    }
    let seen = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    let registration = informer.add_event_handler(ResourceEventHandlerFuncs::new().on_add(move |_, _| {
        s.fetch_add(1, Ordering::Relaxed);
    }));
    let stop = StopSignal::new();
    informer.start(stop.clone());
    while !(registration.has_synced() && informer.indexer().len() == expect) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(seen.load(Ordering::Relaxed), expect);
    (informer, stop)
}

/// kube-rs: a reflector over a watcher, until the first `InitDone` (the store is swapped in).
async fn kube_rs_sync(api: &Api<Pod>, expect: usize) -> reflector::Store<Pod> {
    let (reader, writer) = reflector::store();
    let mut stream = reflector::reflector(writer, watcher(api.clone(), watcher::Config::default())).boxed();
    while let Some(ev) = stream.next().await {
        if let watcher::Event::InitDone = ev.expect("watcher") {
            break;
        }
    }
    assert_eq!(reader.state().len(), expect);
    // The watch stream is dropped here; the store stays readable.
    reader
}

fn bench(c: &mut Criterion) {
    let objects: usize = std::env::var("KUBELAB_BENCH_OBJECTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let home = tempfile::tempdir().unwrap();
    let (sandbox, api) = rt.block_on(async {
        // The API server alone: no loop of its own touches the pods while they are measured.
        let opts = Options { controllers: Selection::none(), ..Default::default() };
        let sandbox = Sandbox::start_with(home.path(), opts).await.expect("sandbox");
        let api: Api<Pod> = Api::namespaced(sandbox.client().await.unwrap(), "default");
        let t0 = Instant::now();
        futures::stream::iter(0..objects)
            .for_each_concurrent(32, |i| {
                let api = api.clone();
                async move {
                    api.create(&PostParams::default(), &pod(i)).await.expect("create");
                }
            })
            .await;
        eprintln!("created {objects} pods in {:?}", t0.elapsed());
        (sandbox, api)
    });

    // The cache's own heap, per object: live bytes with the cache minus without.
    rt.block_on(async {
        let strip = Some(strip_managed_fields as Transform);
        let trim = Some(pod_cache::trim as fn(&mut Pod));
        for (what, transform, trim) in
            [("as listed", None, None), ("managedFields stripped", strip, None), ("as the sandbox's loops keep pods", strip, trim)]
        {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let before = LIVE.load(Ordering::Relaxed);
            let (informer, stop) = kubelab_sync(&api, objects, transform, trim).await;
            // Let the list's buffers and the delivered notifications go.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let after = LIVE.load(Ordering::Relaxed);
            eprintln!(
                "kubelab informer cache, {what}: {} objects, live heap +{} KiB, {} bytes per object",
                informer.indexer().len(),
                (after - before) / 1024,
                (after - before) / objects as isize
            );
            stop.stop();
            drop(informer);
        }
    });

    // Memory, once each, cache kept alive while measuring.
    rt.block_on(async {
        let before = rss_kib();
        let t0 = Instant::now();
        let (informer, stop) = kubelab_sync(&api, objects, None, None).await;
        let took = t0.elapsed();
        let after = rss_kib();
        eprintln!(
            "kubelab informer: synced {} objects in {took:?}, VmRSS {before} -> {after} KiB (+{} KiB)",
            informer.indexer().len(),
            after.saturating_sub(before)
        );
        stop.stop();
        drop(informer);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let before = rss_kib();
        let t0 = Instant::now();
        let store = kube_rs_sync(&api, objects).await;
        let took = t0.elapsed();
        let after = rss_kib();
        eprintln!(
            "kube-rs reflector: synced {} objects in {took:?}, VmRSS {before} -> {after} KiB (+{} KiB)",
            store.state().len(),
            after.saturating_sub(before)
        );
    });

    let mut group = c.benchmark_group("informer_initial_sync");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(15));
    group.bench_with_input(BenchmarkId::new("kubelab_shared_informer", objects), &objects, |b, &n| {
        b.to_async(&rt).iter(|| async {
            let (informer, stop) = kubelab_sync(&api, n, None, None).await;
            stop.stop();
            drop(informer);
        })
    });
    group
        .bench_with_input(BenchmarkId::new("kube_rs_reflector", objects), &objects, |b, &n| b.to_async(&rt).iter(|| kube_rs_sync(&api, n)));
    group.finish();
    sandbox.stop();
}

criterion_group!(benches, bench);
criterion_main!(benches);
