//! Route lookup with 10 and 10,000 routes (hits and misses), and building a 10,000-route
//! table. Each route has one hostname and one rule with one `PathPrefix` match.
// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use common::{listener, prefix, route, Req};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use torii_config::ListenerConfig;
use torii_routing::{PortRouter, RouteOutcome};

/// One listener without hostname; `hosts × paths` routes, route (h, p) serving
/// `host{h}.example.com` under `/svc{p}`.
fn listeners(hosts: usize, paths: usize) -> Vec<ListenerConfig> {
    let mut routes = Vec::with_capacity(hosts * paths);
    for h in 0..hosts {
        for p in 0..paths {
            let r = route(
                &format!("ns/h{h}-p{p}"),
                0,
                vec![vec![prefix(&format!("/svc{p}"))]],
            );
            routes.push((r, format!("host{h}.example.com")));
        }
    }
    let routes = routes
        .iter()
        .map(|(r, h)| (r.clone(), vec![h.as_str()]))
        .collect();
    vec![listener("http", "", routes)]
}

fn lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("lookup");
    // (label, hosts, paths, host of the requests)
    let tables = [
        ("10", 1, 10, "host0.example.com"),
        ("10000", 100, 100, "host57.example.com"),
    ];
    for (label, hosts, paths, host) in tables {
        let router = PortRouter::new(&listeners(hosts, paths));
        let requests = [
            ("hit", Req::get(host, "/svc7/api/items/42?page=2")),
            ("miss-path", Req::get(host, "/unknown/api/items/42?page=2")),
            (
                "miss-host",
                Req::get("nowhere.example.org", "/svc7/api/items/42?page=2"),
            ),
        ];
        for (kind, req) in &requests {
            let matched = matches!(router.route(&req.info()), RouteOutcome::Matched(_));
            assert_eq!(matched, *kind == "hit", "{label} {kind}");
            group.bench_with_input(BenchmarkId::new(*kind, label), req, |b, req| {
                let info = req.info();
                b.iter(|| black_box(router.route(black_box(&info))).is_matched())
            });
        }
    }
    group.finish();
}

fn build(c: &mut Criterion) {
    let mut group = c.benchmark_group("build");
    group.sample_size(20);
    let config = listeners(100, 100);
    group.bench_function("10000", |b| b.iter(|| PortRouter::new(black_box(&config))));
    group.finish();
}

trait IsMatched {
    fn is_matched(&self) -> bool;
}

impl IsMatched for RouteOutcome<'_> {
    fn is_matched(&self) -> bool {
        matches!(self, RouteOutcome::Matched(_))
    }
}

criterion_group!(benches, lookup, build);
criterion_main!(benches);
