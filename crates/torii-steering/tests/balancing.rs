//! Origin balancing inside one pool: every method × health states × inputs.

mod common;

use common::*;
use http::{HeaderMap, HeaderName, HeaderValue};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use torii_config::{HashKey, OriginBalancing};
use torii_steering::{OriginState, PoolRuntime, RequestContext, SteeringError};

fn names(pool: &PoolRuntime, picks: impl IntoIterator<Item = usize>) -> Vec<String> {
    picks
        .into_iter()
        .map(|i| pool.origins()[i].name.to_string())
        .collect()
}

/// Distribution of `n` picks of `pool` for one context.
fn spread(
    pool: &PoolRuntime,
    n: usize,
    exclude: &[usize],
) -> std::collections::BTreeMap<String, usize> {
    let headers = HeaderMap::new();
    let mut rng = rng();
    distribution(n, || {
        pool.pick_origin(&ctx(&headers), &mut rng, exclude)
            .map(|i| pool.origins()[i].name.to_string())
    })
}

fn weighted_origins() -> Vec<torii_config::Origin> {
    let mut disabled = origin("d", 5);
    disabled.enabled = false;
    vec![
        origin("a", 1),
        origin("b", 2),
        origin("c", 7),
        disabled,
        origin("e", 0),
    ]
}

#[test]
fn weighted_random_follows_weights_and_health() {
    let p = runtime(pool(
        "p",
        OriginBalancing::WeightedRandom,
        weighted_origins(),
    ));
    // (health of a, b, c, d, e; excluded; expected shares)
    let table: &[(&[bool], &[usize], Shares)] = &[
        (&[true; 5], &[], &[("a", 0.1), ("b", 0.2), ("c", 0.7)]),
        (
            &[true, false, true, true, true],
            &[],
            &[("a", 0.125), ("c", 0.875)],
        ),
        (&[true; 5], &[2], &[("a", 1.0 / 3.0), ("b", 2.0 / 3.0)]),
        (&[false, false, true, true, true], &[], &[("c", 1.0)]),
        (&[false, true, false, true, true], &[1], &[]),
    ];
    for (health, exclude, expected) in table {
        set_health(&p, health);
        let counts = spread(&p, 20_000, exclude);
        assert_shares(&counts, 20_000, expected, 0.015);
    }
}

#[test]
fn round_robin_interleaves_by_weight_and_skips_the_unhealthy() {
    let p = runtime(pool(
        "p",
        OriginBalancing::RoundRobin,
        vec![origin("a", 3), origin("b", 1), origin("c", 0)],
    ));
    let headers = HeaderMap::new();
    let mut rng = rng();
    let mut next = || p.pick_origin(&ctx(&headers), &mut rng, &[]).unwrap();
    let first: Vec<usize> = (0..8).map(|_| next()).collect();
    assert_eq!(names(&p, first), ["a", "a", "b", "a", "a", "a", "b", "a"]);
    let counts = spread(&p, 4_000, &[]);
    assert_shares(&counts, 4_000, &[("a", 0.75), ("b", 0.25)], 0.001);
    set_health(&p, &[true, false, true]);
    assert_shares(&spread(&p, 1_000, &[]), 1_000, &[("a", 1.0)], 0.0);
    set_health(&p, &[false, true, true]);
    assert_shares(&spread(&p, 1_000, &[]), 1_000, &[("b", 1.0)], 0.0);

    // Three equal origins, one down: the survivors share evenly (not 2:1).
    let p = runtime(pool("q", OriginBalancing::RoundRobin, origins("o", 3)));
    set_health(&p, &[true, false, true]);
    assert_shares(
        &spread(&p, 30_000, &[]),
        30_000,
        &[("o0", 0.5), ("o2", 0.5)],
        0.01,
    );
}

#[test]
fn least_outstanding_requests_avoids_the_busy() {
    let p = runtime(pool(
        "p",
        OriginBalancing::LeastOutstandingRequests,
        origins("o", 3),
    ));
    let _busy: Vec<_> = (0..5).map(|_| p.start_request(0)).collect();
    assert_eq!(p.states()[0].in_flight(), 5);
    assert_eq!(p.load().in_flight(), 5);
    let counts = spread(&p, 20_000, &[]);
    assert!(
        counts.get("o0").copied().unwrap_or(0) < 20_000 / 20,
        "{counts:?}"
    );
    assert_shares(
        &counts,
        20_000,
        &[("o0", 0.01), ("o1", 0.495), ("o2", 0.495)],
        0.02,
    );
    // Busy origin down, one idle excluded: the other idle one.
    set_health(&p, &[false, true, true]);
    assert_shares(&spread(&p, 1_000, &[1]), 1_000, &[("o2", 1.0)], 0.0);

    // Weighted: 3 in flight on weight 3 costs (3+1)/3, 1 in flight on weight 1 costs 2/1.
    let p = runtime(pool(
        "w",
        OriginBalancing::LeastOutstandingRequests,
        vec![origin("big", 3), origin("small", 1)],
    ));
    let _a: Vec<_> = (0..3).map(|_| p.start_request(0)).collect();
    let _b = p.start_request(1);
    let counts = spread(&p, 10_000, &[]);
    assert!(counts["big"] > 9_000, "{counts:?}");
}

#[test]
fn least_connections_avoids_the_crowded() {
    let p = runtime(pool(
        "p",
        OriginBalancing::LeastConnections,
        origins("o", 4),
    ));
    let _conns: Vec<_> = (0..10).map(|_| p.states()[2].open_connection()).collect();
    p.states()[3].connection_opened();
    let counts = spread(&p, 20_000, &[]);
    assert!(counts.get("o2").copied().unwrap_or(0) < 200, "{counts:?}");
    assert!(counts["o3"] < counts["o0"], "{counts:?}");
    assert!(counts["o3"] < counts["o1"], "{counts:?}");
}

/// Builds request number `i`: its headers and client address.
type Request = Box<dyn Fn(u32) -> (HeaderMap, IpAddr)>;

fn hashed(key: HashKey) -> Arc<PoolRuntime> {
    runtime(pool(
        "p",
        OriginBalancing::ConsistentHash(key),
        origins("o", 10),
    ))
}

#[test]
fn consistent_hash_keeps_keys_and_spreads_them() {
    let header = HeaderName::from_static("x-user");
    let cases: Vec<(HashKey, Request)> = vec![
        (
            HashKey::Header(header.clone()),
            Box::new(move |i| {
                let mut h = HeaderMap::new();
                h.insert(
                    header.clone(),
                    HeaderValue::from_str(&format!("user-{i}")).unwrap(),
                );
                (h, IpAddr::V4(Ipv4Addr::LOCALHOST))
            }),
        ),
        (
            HashKey::Cookie("sid".into()),
            Box::new(|i| {
                let mut h = HeaderMap::new();
                h.insert(
                    "cookie",
                    HeaderValue::from_str(&format!("a=b; sid={i}")).unwrap(),
                );
                (h, IpAddr::V4(Ipv4Addr::LOCALHOST))
            }),
        ),
        (
            HashKey::ClientIp,
            Box::new(|i| {
                (
                    HeaderMap::new(),
                    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)),
                )
            }),
        ),
    ];
    for (key, request) in cases {
        let p = hashed(key.clone());
        let mut rng = rng();
        let mut counts = vec![0usize; 10];
        let mut first = Vec::new();
        for i in 0..20_000 {
            let (headers, ip) = request(i);
            let ctx = RequestContext::new(ip, &headers, NOW);
            let o = p.pick_origin(&ctx, &mut rng, &[]).unwrap();
            for _ in 0..3 {
                assert_eq!(
                    p.pick_origin(&ctx, &mut rng, &[]),
                    Some(o),
                    "{key:?} stable"
                );
            }
            counts[o] += 1;
            first.push(o);
        }
        for c in &counts {
            assert!((1_400..2_600).contains(c), "{key:?}: {counts:?}");
        }
        // Origin 3 goes down: its keys move, nobody else's; it recovers: they come back.
        p.states()[3].set_healthy(false);
        let mut moved = BTreeSet::new();
        for (i, &was) in first.iter().enumerate() {
            let (headers, ip) = request(i as u32);
            let now = p
                .pick_origin(&RequestContext::new(ip, &headers, NOW), &mut rng, &[])
                .unwrap();
            if was == 3 {
                assert_ne!(now, 3);
                moved.insert(now);
            } else {
                assert_eq!(now, was, "{key:?}: key {i} moved");
            }
        }
        assert!(
            moved.len() >= 5,
            "{key:?}: an ejected origin's keys spread: {moved:?}"
        );
        p.states()[3].set_healthy(true);
        for (i, &was) in first.iter().enumerate().take(2_000) {
            let (headers, ip) = request(i as u32);
            assert_eq!(
                p.pick_origin(&RequestContext::new(ip, &headers, NOW), &mut rng, &[]),
                Some(was)
            );
        }
    }
}

#[test]
fn consistent_hash_without_key_still_picks() {
    let p = hashed(HashKey::Header(HeaderName::from_static("x-user")));
    let counts = spread(&p, 10_000, &[]);
    assert_eq!(counts.len(), 10, "random over all: {counts:?}");
    // A retry of a keyed request goes to the key's next origin on the ring.
    let mut headers = HeaderMap::new();
    headers.insert("x-user", HeaderValue::from_static("alice"));
    let ctx = ctx(&headers);
    let mut rng = rng();
    let first = p.pick_origin(&ctx, &mut rng, &[]).unwrap();
    let second = p.pick_origin(&ctx, &mut rng, &[first]).unwrap();
    assert_ne!(first, second);
    assert_eq!(p.pick_origin(&ctx, &mut rng, &[first]), Some(second));
}

#[test]
fn disabled_and_weightless_origins_never_serve() {
    for balancing in [
        OriginBalancing::WeightedRandom,
        OriginBalancing::RoundRobin,
        OriginBalancing::LeastOutstandingRequests,
        OriginBalancing::LeastConnections,
        OriginBalancing::ConsistentHash(HashKey::ClientIp),
    ] {
        let p = runtime(pool("p", balancing.clone(), weighted_origins()));
        let counts = spread(&p, 3_000, &[]);
        let served: BTreeSet<&str> = counts.keys().map(String::as_str).collect();
        assert!(
            served.is_subset(&BTreeSet::from(["a", "b", "c"])),
            "{balancing:?}: {counts:?}"
        );
        set_health(&p, &[false, false, false, true, true]);
        assert!(
            spread(&p, 100, &[]).is_empty(),
            "{balancing:?}: none healthy"
        );
        assert_eq!(p.healthy_origins(), 0);
        let answer: Vec<_> = p
            .answer_origins(false)
            .map(|(_, o)| o.name.to_string())
            .collect();
        assert_eq!(answer, ["a", "b", "c"], "last-resort DNS answer");
    }
}

#[test]
fn minimum_origins_decides_pool_health() {
    // (minimumOrigins, health) → healthy?
    let table: &[(u32, &[bool], bool)] = &[
        (2, &[true, true, false], true),
        (2, &[true, false, false], false),
        (3, &[true, true, true], true),
        (4, &[true, true, true], false),
        (0, &[false, false, false], false),
        (0, &[false, true, false], true),
        (1, &[false, false, true], true),
    ];
    for &(minimum, health, healthy) in table {
        let mut config = pool("p", OriginBalancing::WeightedRandom, origins("o", 3));
        config.minimum_origins = minimum;
        let p = runtime(config);
        set_health(&p, health);
        assert_eq!(p.is_healthy(), healthy, "minimum {minimum}, {health:?}");
        assert_eq!(
            p.healthy_origins() as usize,
            health.iter().filter(|h| **h).count()
        );
    }
    // Disabled and weight-0 origins do not count.
    let mut config = pool("p", OriginBalancing::WeightedRandom, weighted_origins());
    config.minimum_origins = 4;
    assert!(!runtime(config).is_healthy());
}

#[test]
fn states_must_match_origins_and_carry_over_reloads() {
    let config = Arc::new(pool("p", OriginBalancing::WeightedRandom, origins("o", 3)));
    let err =
        PoolRuntime::new(Arc::clone(&config), vec![Arc::new(OriginState::new())], NOW).unwrap_err();
    assert!(
        matches!(
            err,
            SteeringError::StateCount {
                origins: 3,
                states: 1,
                ..
            }
        ),
        "{err}"
    );

    let old = PoolRuntime::fresh(Arc::clone(&config), NOW);
    old.states()[1].set_healthy(false);
    let _in_flight = old.start_request(2);
    // o1 stays, o2 moves to another address, o3 is new; the order changes.
    let mut moved = origin("o2", 1);
    moved.address = torii_config::OriginAddress::Host {
        host: "elsewhere".into(),
        port: 80,
    };
    let next = Arc::new(pool(
        "p",
        OriginBalancing::WeightedRandom,
        vec![origin("o3", 1), moved, origin("o1", 1)],
    ));
    let new = PoolRuntime::reload(next, Some(&old), NOW);
    assert!(
        Arc::ptr_eq(&new.states()[2], &old.states()[1]),
        "o1 carried"
    );
    assert!(!new.states()[2].is_healthy());
    assert!(
        !Arc::ptr_eq(&new.states()[1], &old.states()[2]),
        "o2 moved: fresh"
    );
    assert!(Arc::ptr_eq(new.load(), old.load()), "pool load carried");
    assert_eq!(new.load().in_flight(), 1);
}
