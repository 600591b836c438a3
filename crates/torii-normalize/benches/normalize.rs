//! Cost of normalising request targets: the common case (already normal) and bypass attempts.
// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use torii_normalize::{match_view, normalize_path, parse_authority, EscapedSlashes};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("normalize_path");
    for (name, path) in [
        ("normal_short", "/"),
        ("normal_api", "/api/v1/users/42/orders?page=2"),
        (
            "normal_long",
            "/static/assets/js/vendor/app.3f2a9c1b.chunk.min.js",
        ),
        ("dot_segments", "/public/../admin/./users"),
        ("encoded", "/public/%2e%2e/%61dmin%3a"),
    ] {
        let path = path.split('?').next().unwrap_or(path);
        group.bench_function(name, |b| {
            b.iter(|| normalize_path(black_box(path), EscapedSlashes::Redirect))
        });
    }
    group.finish();
    c.bench_function("match_view/plain", |b| {
        b.iter(|| match_view(black_box("/api/v1/users/42")))
    });
    c.bench_function("parse_authority", |b| {
        b.iter(|| parse_authority(black_box(b"shop.example.com:8443")))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
