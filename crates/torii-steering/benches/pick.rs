//! One pick per request (a fresh `AttemptState`, the first candidate) for every steering policy
//! and balancing method: 3 pools × 10 origins and 1 pool × 1000 origins. Plus sessions followed
//! (cookie, header table), a retry, and the DNS pool choice.
// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use http::{HeaderMap, HeaderName, HeaderValue};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;
use torii_config::{AffinityFailover, AffinityKey, HashKey, OriginBalancing, PoolId, Steering};
use torii_steering::{
    AttemptState, ClientLocation, LoadBalancerRuntime, PoolRuntime, RequestContext,
};

fn balancings() -> Vec<(&'static str, OriginBalancing)> {
    vec![
        ("weighted-random", OriginBalancing::WeightedRandom),
        ("round-robin", OriginBalancing::RoundRobin),
        (
            "least-outstanding",
            OriginBalancing::LeastOutstandingRequests,
        ),
        ("least-connections", OriginBalancing::LeastConnections),
        (
            "hash-header",
            OriginBalancing::ConsistentHash(HashKey::Header(HeaderName::from_static("x-user"))),
        ),
        (
            "hash-client-ip",
            OriginBalancing::ConsistentHash(HashKey::ClientIp),
        ),
    ]
}

fn steerings() -> Vec<(&'static str, Steering)> {
    let ids = |names: &[&str]| {
        names
            .iter()
            .map(|n| PoolId::new("ns", n))
            .collect::<Vec<_>>()
    };
    vec![
        ("failover", Steering::Failover),
        ("weighted", weights(&[("p0", 1), ("p1", 2), ("p2", 3)])),
        (
            "geo",
            Steering::Geo {
                countries: BTreeMap::from([
                    ("FR".into(), ids(&["p1"])),
                    ("US".into(), ids(&["p0"])),
                ]),
                regions: BTreeMap::from([("WEU".into(), ids(&["p2"]))]),
            },
        ),
        ("proximity", Steering::Proximity),
        ("least-outstanding", Steering::LeastOutstandingRequests),
        ("latency", Steering::Latency),
    ]
}

/// `count` pools of `size` origins, located apart, with some load and RTTs.
fn pools(count: usize, size: usize, balancing: &OriginBalancing) -> Vec<Arc<PoolRuntime>> {
    (0..count)
        .map(|i| {
            let name = format!("p{i}");
            let config = located(
                pool(&name, balancing.clone(), origins(&name, size)),
                40.0 + i as f64,
                -70.0 + 60.0 * i as f64,
            );
            let pool = runtime(config);
            for (j, state) in pool.states().iter().enumerate() {
                state.record_rtt(Duration::from_micros(1_000 * (i + j % 7 + 1) as u64));
                for _ in 0..j % 3 {
                    state.connection_opened();
                }
            }
            pool
        })
        .collect()
}

fn balancer(pools: &[Arc<PoolRuntime>], steering: Steering) -> LoadBalancerRuntime {
    let names: Vec<String> = pools.iter().map(|p| p.id().name.to_string()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    lb_runtime(lb_config(&names, None, steering), pools)
}

fn request_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("x-user", HeaderValue::from_static("user-4711"));
    headers.insert("user-agent", HeaderValue::from_static("bench/1.0"));
    headers.insert("accept", HeaderValue::from_static("*/*"));
    headers
}

fn location() -> ClientLocation<'static> {
    ClientLocation {
        country: Some("DE"),
        region: Some("WEU"),
        coordinates: Some((50.1, 8.7)),
    }
}

fn bench_pick(
    c: &mut Criterion,
    group: &str,
    lb: &LoadBalancerRuntime,
    label: String,
    ctx: &RequestContext<'_>,
) {
    let mut rng = fastrand::Rng::with_seed(1);
    assert!(lb.pick(ctx, &mut rng, &mut AttemptState::new()).is_some());
    c.benchmark_group(group).bench_function(label, |b| {
        b.iter(|| {
            let mut state = AttemptState::new();
            black_box(lb.pick(black_box(ctx), &mut rng, &mut state))
        })
    });
}

fn steering(c: &mut Criterion) {
    let headers = request_headers();
    let ctx = ctx(&headers).with_location(location());
    for (shape, count, size) in [("3x10", 3, 10), ("1x1000", 1, 1000)] {
        for (name, steering) in steerings() {
            let pools = pools(count, size, &OriginBalancing::WeightedRandom);
            let lb = balancer(&pools, steering);
            bench_pick(c, "steering", &lb, format!("{name}/{shape}"), &ctx);
        }
    }
}

fn balancing(c: &mut Criterion) {
    let headers = request_headers();
    let ctx = ctx(&headers).with_location(location());
    for (shape, count, size) in [("3x10", 3, 10), ("1x1000", 1, 1000)] {
        for (name, balancing) in balancings() {
            let pools = pools(count, size, &balancing);
            let lb = balancer(&pools, Steering::Failover);
            bench_pick(c, "balancing", &lb, format!("{name}/{shape}"), &ctx);
        }
    }
}

fn sessions(c: &mut Criterion) {
    for (shape, count, size) in [("3x10", 3, 10), ("1x1000", 1, 1000)] {
        let pools = pools(count, size, &OriginBalancing::WeightedRandom);
        let names: Vec<String> = pools.iter().map(|p| p.id().name.to_string()).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        for (label, key) in [
            ("cookie-follow", AffinityKey::Cookie("torii_lb".into())),
            (
                "header-follow",
                AffinityKey::Header(HeaderName::from_static("x-user")),
            ),
            ("client-ip-follow", AffinityKey::ClientIp),
        ] {
            let mut config = lb_config(&names, None, Steering::Failover);
            config.session_affinity = Some(affinity(key, AffinityFailover::Temporary, 3600, 0));
            let lb = lb_runtime(config, &pools);
            // Start the session, then follow it.
            let mut headers = request_headers();
            let first = lb
                .pick(
                    &ctx(&headers),
                    &mut fastrand::Rng::with_seed(1),
                    &mut AttemptState::new(),
                )
                .expect("a pick");
            if let Some(cookie) = first.set_cookie {
                let value = format!("{}={}", cookie.name(), cookie.value());
                headers.insert("cookie", HeaderValue::from_str(&value).expect("cookie"));
            }
            let ctx = ctx(&headers);
            bench_pick(c, "sessions", &lb, format!("{label}/{shape}"), &ctx);
        }
    }
}

fn retry_and_dns(c: &mut Criterion) {
    let headers = request_headers();
    let ctx = ctx(&headers).with_location(location());
    let pools = pools(3, 10, &OriginBalancing::WeightedRandom);
    let lb = balancer(&pools, Steering::Failover);
    let mut rng = fastrand::Rng::with_seed(1);
    c.benchmark_group("other")
        .bench_function("pick-and-retry/3x10", |b| {
            b.iter(|| {
                let mut state = AttemptState::new();
                black_box(lb.pick(&ctx, &mut rng, &mut state));
                black_box(lb.pick(&ctx, &mut rng, &mut state))
            })
        });
    c.benchmark_group("other")
        .bench_function(BenchmarkId::new("select-pool", "3x10"), |b| {
            b.iter(|| black_box(lb.select_pool(black_box(&ctx), &mut rng).map(|c| c.index)))
        });
}

criterion_group!(benches, steering, balancing, sessions, retry_and_dns);
criterion_main!(benches);
