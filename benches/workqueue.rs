//! Work queue throughput: add -> get -> done cycles with 1 and 8 concurrent workers.
//!
//! Each iteration pushes `ITEMS` distinct keys through the queue and waits until every
//! worker has drained it; the numbers show the cost of the dirty/processing bookkeeping
//! and of waking parked workers.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kubelab::machinery::workqueue::WorkQueue;

const ITEMS: u64 = 1_000;

async fn run(workers: usize) {
    let q: WorkQueue<u64> = WorkQueue::new();
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let q = q.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                while let Some(item) = q.get().await {
                    q.done(&item);
                    n += 1;
                }
                n
            })
        })
        .collect();
    for i in 0..ITEMS {
        q.add(i);
    }
    q.shut_down();
    let mut total = 0;
    for h in handles {
        total += h.await.expect("worker panicked");
    }
    assert_eq!(total, ITEMS);
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let mut group = c.benchmark_group("workqueue_add_get_done");
    group.throughput(Throughput::Elements(ITEMS));
    for workers in [1usize, 8] {
        group.bench_with_input(BenchmarkId::from_parameter(workers), &workers, |b, &w| b.to_async(&rt).iter(|| run(w)));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
