//! Builders shared by the tests and the bench.
#![allow(dead_code)]

use http::HeaderMap;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use torii_config::{
    AffinityFailover, AffinityKey, FailoverPolicy, LoadBalancer, LoadBalancerId, Location, Origin,
    OriginAddress, OriginBalancing, OriginPool, PoolId, SessionAffinity, Steering,
};
use torii_steering::{AttemptState, LoadBalancerRuntime, Pick, PoolRuntime, RequestContext};

/// Expected shares of picks: `(name, share)`.
pub type Shares = &'static [(&'static str, f64)];

/// Time of the tests (UNIX seconds).
pub const NOW: u64 = 1_700_000_000;

/// An enabled origin `name` of `weight`, at 10.0.0.x:80 for a hash of the name.
pub fn origin(name: &str, weight: u32) -> Origin {
    let n = name
        .bytes()
        .fold(0u8, |a, b| a.wrapping_mul(31).wrapping_add(b));
    Origin {
        name: name.into(),
        address: OriginAddress::Socket(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, n)), 80)),
        weight,
        enabled: true,
        host_override: None,
    }
}

/// Origins `{prefix}0` … of weight 1.
pub fn origins(prefix: &str, count: usize) -> Vec<Origin> {
    (0..count)
        .map(|i| origin(&format!("{prefix}{i}"), 1))
        .collect()
}

/// A pool `ns/name`.
pub fn pool(name: &str, balancing: OriginBalancing, origins: Vec<Origin>) -> OriginPool {
    OriginPool {
        id: PoolId::new("ns", name),
        origins,
        monitor: None,
        minimum_origins: 1,
        balancing,
        location: Location::default(),
        load_shedding_percent: 0,
        outlier_detection: Default::default(),
        protocol: Default::default(),
    }
}

/// A pool at `(lat, lon)`.
pub fn located(mut pool: OriginPool, lat: f64, lon: f64) -> OriginPool {
    pool.location.latitude = Some(lat);
    pool.location.longitude = Some(lon);
    pool
}

/// The runtime of a pool, fresh states.
pub fn runtime(pool: OriginPool) -> Arc<PoolRuntime> {
    Arc::new(PoolRuntime::fresh(Arc::new(pool), NOW))
}

/// A weighted-random pool runtime `name` of `count` origins.
pub fn simple(name: &str, count: usize) -> Arc<PoolRuntime> {
    runtime(pool(
        name,
        OriginBalancing::WeightedRandom,
        origins(name, count),
    ))
}

/// A load balancer over `defaults` (pool names) with `steering`.
pub fn lb_config(defaults: &[&str], fallback: Option<&str>, steering: Steering) -> LoadBalancer {
    LoadBalancer {
        id: LoadBalancerId::new("ns", "lb"),
        hostnames: vec!["app.example.com".into()],
        default_pools: defaults.iter().map(|p| PoolId::new("ns", p)).collect(),
        fallback_pool: fallback.map(|p| PoolId::new("ns", p)),
        steering,
        session_affinity: None,
        failover: FailoverPolicy::default(),
        dns_ttl: 30,
        notifications: Vec::new(),
    }
}

/// Session affinity by `key`.
pub fn affinity(
    key: AffinityKey,
    failover: AffinityFailover,
    ttl: u64,
    drain: u64,
) -> SessionAffinity {
    SessionAffinity {
        key,
        ttl: Duration::from_secs(ttl),
        failover,
        drain: Duration::from_secs(drain),
    }
}

/// The runtime of `lb` over `pools`.
pub fn lb_runtime(lb: LoadBalancer, pools: &[Arc<PoolRuntime>]) -> LoadBalancerRuntime {
    let map: BTreeMap<PoolId, Arc<PoolRuntime>> = pools
        .iter()
        .map(|p| (p.id().clone(), Arc::clone(p)))
        .collect();
    LoadBalancerRuntime::new(Arc::new(lb), |id| map.get(id).cloned())
}

/// Weights map for weighted steering.
pub fn weights(pairs: &[(&str, u32)]) -> Steering {
    Steering::Weighted(
        pairs
            .iter()
            .map(|&(p, w)| (PoolId::new("ns", p), w))
            .collect(),
    )
}

/// A request context from 192.0.2.1 at [`NOW`].
pub fn ctx(headers: &HeaderMap) -> RequestContext<'_> {
    RequestContext::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), headers, NOW)
}

/// A seeded random source.
pub fn rng() -> fastrand::Rng {
    fastrand::Rng::with_seed(7)
}

/// `pool/origin` names of a pick.
pub fn name(lb: &LoadBalancerRuntime, pick: &Pick) -> String {
    format!(
        "{}/{}",
        lb.pools()[pick.pool].id().name,
        lb.origin(pick).name
    )
}

/// One pick for a fresh request, as `pool/origin`.
pub fn pick_one(
    lb: &LoadBalancerRuntime,
    ctx: &RequestContext<'_>,
    rng: &mut fastrand::Rng,
) -> Option<String> {
    lb.pick(ctx, rng, &mut AttemptState::new())
        .map(|p| name(lb, &p))
}

/// Every pick of one request (as if every attempt failed), as `pool/origin`.
pub fn sequence(
    lb: &LoadBalancerRuntime,
    ctx: &RequestContext<'_>,
    rng: &mut fastrand::Rng,
) -> Vec<String> {
    let mut state = AttemptState::new();
    let mut names = Vec::new();
    while let Some(pick) = lb.pick(ctx, rng, &mut state) {
        names.push(name(lb, &pick));
        assert!(names.len() < 10_000, "no end");
    }
    names
}

/// Marks origins of a pool healthy or not.
pub fn set_health(pool: &PoolRuntime, healthy: &[bool]) {
    for (state, &h) in pool.states().iter().zip(healthy) {
        state.set_healthy(h);
    }
}

/// Marks every origin of a pool down.
pub fn all_down(pool: &PoolRuntime) {
    for state in pool.states() {
        state.set_healthy(false);
    }
}

/// Counts of each pick name over `n` fresh requests.
pub fn distribution(n: usize, mut one: impl FnMut() -> Option<String>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for _ in 0..n {
        if let Some(name) = one() {
            *counts.entry(name).or_insert(0) += 1;
        }
    }
    counts
}

/// Asserts that `counts[k] / n` is within `tolerance` of `share` for each `(k, share)`.
pub fn assert_shares(
    counts: &BTreeMap<String, usize>,
    n: usize,
    expected: &[(&str, f64)],
    tolerance: f64,
) {
    for &(key, share) in expected {
        let got = *counts.get(key).unwrap_or(&0) as f64 / n as f64;
        assert!(
            (got - share).abs() <= tolerance,
            "{key}: {got:.3} not {share:.3} ± {tolerance} in {counts:?}"
        );
    }
    let listed: usize = expected
        .iter()
        .map(|(k, _)| *counts.get(*k).unwrap_or(&0))
        .sum();
    let total: usize = counts.values().sum();
    assert_eq!(listed, total, "unexpected picks in {counts:?}");
}
