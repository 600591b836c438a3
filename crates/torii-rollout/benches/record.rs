//! `TrafficStats::record` on the hot path: one thread, latencies spread over the buckets,
//! with and without an error; and a snapshot with its window and p99.
// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::Duration;
use torii_rollout::{StatsSnapshot, TrafficStats};

fn record(c: &mut Criterion) {
    let stats = TrafficStats::new();
    let latencies: Vec<Duration> = (0..1024u64)
        .map(|i| Duration::from_micros(50 + i * i * 37))
        .collect();
    let mut i = 0;
    c.bench_function("record", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            stats.record(black_box(latencies[i]), black_box(false));
        })
    });
    c.bench_function("record_error", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            stats.record(black_box(latencies[i]), black_box(true));
        })
    });
    c.bench_function("snapshot_window_p99", |b| {
        let zero = StatsSnapshot::default();
        b.iter(|| black_box(stats.snapshot().since(&zero).quantile(0.99)))
    });
}

criterion_group!(benches, record);
criterion_main!(benches);
