//! Picking allocates nothing: every steering policy and balancing method, sessions followed
//! and started (cookie and table), retries, and DNS selection. One test only: the allocation
//! counters are global to the process.

mod common;

use common::*;
use http::{HeaderMap, HeaderName, HeaderValue};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use torii_config::{AffinityFailover, AffinityKey, HashKey, OriginBalancing, PoolId, Steering};
use torii_steering::{AttemptState, ClientLocation, LoadBalancerRuntime, PoolRuntime};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn pools(balancing: &OriginBalancing) -> Vec<Arc<PoolRuntime>> {
    ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut config = pool(name, balancing.clone(), origins(name, 10));
            config.load_shedding_percent = 10;
            runtime(located(config, 10.0 * i as f64, 20.0 * i as f64))
        })
        .collect()
}

#[test]
fn picking_allocates_nothing() {
    let balancings = [
        OriginBalancing::WeightedRandom,
        OriginBalancing::RoundRobin,
        OriginBalancing::LeastOutstandingRequests,
        OriginBalancing::LeastConnections,
        OriginBalancing::ConsistentHash(HashKey::Header(HeaderName::from_static("x-user"))),
        OriginBalancing::ConsistentHash(HashKey::Cookie("sid".into())),
        OriginBalancing::ConsistentHash(HashKey::ClientIp),
    ];
    let ids = |names: &[&str]| {
        names
            .iter()
            .map(|n| PoolId::new("ns", n))
            .collect::<Vec<_>>()
    };
    let steerings = [
        Steering::Failover,
        weights(&[("a", 1), ("b", 2), ("c", 3)]),
        Steering::Geo {
            countries: BTreeMap::from([("FR".into(), ids(&["b"]))]),
            regions: BTreeMap::from([("WEU".into(), ids(&["c"]))]),
        },
        Steering::Proximity,
        Steering::LeastOutstandingRequests,
        Steering::Latency,
    ];
    let affinities = [
        None,
        Some(AffinityKey::Cookie("torii_lb".into())),
        Some(AffinityKey::Header(HeaderName::from_static("x-user"))),
        Some(AffinityKey::ClientIp),
    ];
    let mut balancers: Vec<(LoadBalancerRuntime, Vec<Arc<PoolRuntime>>)> = Vec::new();
    for balancing in &balancings {
        for steering in &steerings {
            for key in &affinities {
                let pools = pools(balancing);
                pools[0].states()[3].set_healthy(false);
                let mut config = lb_config(&["a", "b", "c"], Some("c"), steering.clone());
                config.session_affinity = key
                    .clone()
                    .map(|key| affinity(key, AffinityFailover::Sticky, 600, 60));
                balancers.push((lb_runtime(config, &pools), pools));
            }
        }
    }
    let mut headers = HeaderMap::new();
    headers.insert("x-user", HeaderValue::from_static("alice"));
    headers.insert("cookie", HeaderValue::from_static("sid=42; other=1"));
    let location = ClientLocation {
        country: Some("FR"),
        region: Some("WEU"),
        coordinates: Some((48.8, 2.3)),
    };
    let ctx = ctx(&headers).with_location(location);
    let mut rng = rng();
    // Warm up: the pools' health caches, the affinity tables.
    for (lb, _) in &balancers {
        let _ = sequence(lb, &ctx, &mut rng);
    }
    let region = Region::new(GLOBAL);
    for _ in 0..20 {
        for (lb, _) in &balancers {
            let mut state = AttemptState::new();
            while let Some(pick) = lb.pick(black_box(&ctx), &mut rng, &mut state) {
                black_box(&pick);
            }
            black_box(lb.select_pool(&ctx, &mut rng).map(|c| c.origins().count()));
        }
    }
    let stats = region.change();
    assert_eq!(
        (stats.allocations, stats.reallocations),
        (0, 0),
        "picking allocated: {stats:?}"
    );
}
