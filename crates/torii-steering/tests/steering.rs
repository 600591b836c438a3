//! Steering between pools: every policy × pool health × client inputs.

mod common;

use common::*;
use http::HeaderMap;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use torii_config::{OriginBalancing, PoolId, Steering};
use torii_steering::{ClientLocation, PoolRuntime, SteeringError};

/// Pools `a`, `b`, `c` of two origins each and a fallback `f` of one.
fn abcf() -> Vec<Arc<PoolRuntime>> {
    vec![
        simple("a", 2),
        simple("b", 2),
        simple("c", 2),
        simple("f", 1),
    ]
}

/// Pool part of a pick name.
fn pool_of(name: &str) -> &str {
    name.split('/').next().unwrap_or_default()
}

/// Pools picked over `n` fresh requests.
fn pool_spread(
    lb: &torii_steering::LoadBalancerRuntime,
    ctx: &torii_steering::RequestContext<'_>,
    n: usize,
) -> BTreeMap<String, usize> {
    let mut rng = rng();
    distribution(n, || {
        pick_one(lb, ctx, &mut rng).map(|p| pool_of(&p).to_string())
    })
}

#[test]
fn failover_takes_the_first_healthy_pool_then_the_fallback() {
    // (pools down: a, b, c, f; expected pool; whether it is the last resort)
    let table: &[(&[bool], &str, bool)] = &[
        (&[false, false, false, false], "a", false),
        (&[true, false, false, false], "b", false),
        (&[true, true, false, false], "c", false),
        (&[false, true, false, false], "a", false),
        (&[true, true, true, false], "f", false),
        (&[true, true, true, true], "f", true),
    ];
    for &(down, expected, last_resort) in table {
        let pools = abcf();
        for (pool, &d) in pools.iter().zip(down) {
            if d {
                all_down(pool);
            }
        }
        let lb = lb_runtime(
            lb_config(&["a", "b", "c"], Some("f"), Steering::Failover),
            &pools,
        );
        let headers = HeaderMap::new();
        let mut rng = rng();
        let pick = lb
            .pick(&ctx(&headers), &mut rng, &mut Default::default())
            .unwrap();
        assert_eq!(
            lb.pools()[pick.pool].id().name.as_ref(),
            expected,
            "down {down:?}"
        );
        assert_eq!(pick.last_resort, last_resort, "down {down:?}");
    }
}

#[test]
fn every_pool_down_without_fallback_falls_open_on_the_first() {
    let pools = abcf();
    for pool in &pools {
        all_down(pool);
    }
    let lb = lb_runtime(
        lb_config(&["a", "b", "c"], None, Steering::Failover),
        &pools,
    );
    let headers = HeaderMap::new();
    let pick = lb
        .pick(&ctx(&headers), &mut rng(), &mut Default::default())
        .unwrap();
    assert_eq!(name(&lb, &pick).split('/').next(), Some("a"));
    assert!(pick.last_resort);
}

#[test]
fn an_unhealthy_pool_with_a_healthy_origin_beats_the_last_resort() {
    // `a` needs 2 healthy origins and has 1: unhealthy; everything else is down.
    let mut config = pool("a", OriginBalancing::WeightedRandom, origins("a", 2));
    config.minimum_origins = 2;
    let a = runtime(config);
    set_health(&a, &[false, true]);
    let pools = vec![a, simple("b", 2), simple("f", 1)];
    all_down(&pools[1]);
    all_down(&pools[2]);
    let lb = lb_runtime(
        lb_config(&["a", "b"], Some("f"), Steering::Failover),
        &pools,
    );
    let headers = HeaderMap::new();
    assert_eq!(
        sequence(&lb, &ctx(&headers), &mut rng())[0],
        "a/a1",
        "a healthy origin first"
    );
    // With the fallback healthy, Cloudflare's rule: every pool unhealthy → the fallback.
    pools[2].states()[0].set_healthy(true);
    assert_eq!(pick_one(&lb, &ctx(&headers), &mut rng()).unwrap(), "f/f0");
}

#[test]
fn weighted_steering_follows_pool_weights_among_healthy_pools() {
    let table: &[(&[bool], Shares)] = &[
        (&[false, false, false], &[("a", 0.25), ("b", 0.75)]),
        (&[false, true, false], &[("a", 1.0)]),
        // Only `c` (weight 0) is healthy: never chosen by weight, but the walk reaches it.
        (&[true, true, false], &[("c", 1.0)]),
    ];
    for &(down, expected) in table {
        let pools = abcf();
        for (pool, &d) in pools.iter().zip(down) {
            if d {
                all_down(pool);
            }
        }
        let lb = lb_runtime(
            lb_config(
                &["a", "b", "c"],
                Some("f"),
                weights(&[("a", 1), ("b", 3), ("c", 0)]),
            ),
            &pools,
        );
        let headers = HeaderMap::new();
        assert_shares(
            &pool_spread(&lb, &ctx(&headers), 20_000),
            20_000,
            expected,
            0.015,
        );
    }
    // A pool missing from the weights counts 1.
    let pools = abcf();
    let lb = lb_runtime(lb_config(&["a", "b"], None, weights(&[("b", 3)])), &pools);
    let headers = HeaderMap::new();
    assert_shares(
        &pool_spread(&lb, &ctx(&headers), 20_000),
        20_000,
        &[("a", 0.25), ("b", 0.75)],
        0.015,
    );
}

fn geo_steering() -> Steering {
    let ids = |names: &[&str]| {
        names
            .iter()
            .map(|n| PoolId::new("ns", n))
            .collect::<Vec<_>>()
    };
    Steering::Geo {
        countries: BTreeMap::from([("FR".into(), ids(&["b"])), ("JP".into(), ids(&["c", "b"]))]),
        regions: BTreeMap::from([
            ("WEU".into(), ids(&["b", "a"])),
            ("EAS".into(), ids(&["c"])),
        ]),
    }
}

#[test]
fn geo_steering_by_country_then_region_then_default() {
    let loc = |country: Option<&'static str>, region: Option<&'static str>| ClientLocation {
        country,
        region,
        coordinates: None,
    };
    // (location, pools down, expected pool)
    let table: &[(ClientLocation<'static>, &[&str], &str)] = &[
        (loc(Some("FR"), Some("WEU")), &[], "b"),
        (loc(Some("fr"), None), &[], "b"),
        (loc(Some("JP"), Some("EAS")), &[], "c"),
        (loc(Some("JP"), None), &["c"], "b"),
        (loc(Some("DE"), Some("WEU")), &[], "b"),
        (loc(Some("DE"), Some("weu")), &["b"], "a"),
        (loc(None, Some("EAS")), &[], "c"),
        (loc(Some("US"), Some("WNAM")), &[], "a"),
        // Without a geo database: the default pools.
        (ClientLocation::default(), &[], "a"),
        (ClientLocation::default(), &["a"], "b"),
        // The country's pools are down: the default pools, in order.
        (loc(Some("FR"), None), &["b"], "a"),
        (loc(Some("FR"), None), &["a", "b", "c"], "f"),
    ];
    for (location, down, expected) in table {
        let pools = abcf();
        for pool in &pools {
            if down.contains(&pool.id().name.as_ref()) {
                all_down(pool);
            }
        }
        let lb = lb_runtime(
            lb_config(&["a", "b", "c"], Some("f"), geo_steering()),
            &pools,
        );
        let headers = HeaderMap::new();
        let ctx = ctx(&headers).with_location(*location);
        let got = pick_one(&lb, &ctx, &mut rng()).unwrap();
        assert_eq!(pool_of(&got), *expected, "{location:?}, down {down:?}");
    }
}

type Coordinates = Option<(f64, f64)>;

const PARIS: (f64, f64) = (48.86, 2.35);
const NEW_YORK: (f64, f64) = (40.71, -74.01);
const TOKYO: (f64, f64) = (35.68, 139.69);
const LONDON: (f64, f64) = (51.51, -0.13);
const BOSTON: (f64, f64) = (42.36, -71.06);
const SEOUL: (f64, f64) = (37.57, 126.98);

#[test]
fn proximity_steering_takes_the_nearest_healthy_pool() {
    let build = || {
        vec![
            runtime(located(
                pool("ny", OriginBalancing::WeightedRandom, origins("ny", 1)),
                NEW_YORK.0,
                NEW_YORK.1,
            )),
            runtime(pool(
                "nowhere",
                OriginBalancing::WeightedRandom,
                origins("x", 1),
            )),
            runtime(located(
                pool("paris", OriginBalancing::WeightedRandom, origins("p", 1)),
                PARIS.0,
                PARIS.1,
            )),
            runtime(located(
                pool("tokyo", OriginBalancing::WeightedRandom, origins("t", 1)),
                TOKYO.0,
                TOKYO.1,
            )),
        ]
    };
    // (client, pools down, expected)
    let table: &[(Coordinates, &[&str], &str)] = &[
        (Some(LONDON), &[], "paris"),
        (Some(BOSTON), &[], "ny"),
        (Some(SEOUL), &[], "tokyo"),
        (Some(LONDON), &["paris"], "ny"),
        (Some(SEOUL), &["tokyo"], "paris"),
        (Some(SEOUL), &["tokyo", "paris", "ny"], "nowhere"),
        (None, &[], "ny"),
        (Some((f64::NAN, 0.0)), &[], "ny"),
    ];
    for &(client, down, expected) in table {
        let pools = build();
        for pool in &pools {
            if down.contains(&pool.id().name.as_ref()) {
                all_down(pool);
            }
        }
        let lb = lb_runtime(
            lb_config(
                &["ny", "nowhere", "paris", "tokyo"],
                None,
                Steering::Proximity,
            ),
            &pools,
        );
        let headers = HeaderMap::new();
        let ctx = ctx(&headers).with_location(ClientLocation {
            coordinates: client,
            ..Default::default()
        });
        let got = pick_one(&lb, &ctx, &mut rng()).unwrap();
        assert_eq!(pool_of(&got), expected, "{client:?}, down {down:?}");
    }
    // Failover order follows distance: Seoul → tokyo, paris, ny, nowhere.
    let pools = build();
    let mut config = lb_config(
        &["ny", "nowhere", "paris", "tokyo"],
        None,
        Steering::Proximity,
    );
    config.failover.retries = 10;
    let lb = lb_runtime(config, &pools);
    let headers = HeaderMap::new();
    let ctx = ctx(&headers).with_location(ClientLocation {
        coordinates: Some(SEOUL),
        ..Default::default()
    });
    assert_eq!(
        sequence(&lb, &ctx, &mut rng()),
        ["tokyo/t0", "paris/p0", "ny/ny0", "nowhere/x0"]
    );
}

#[test]
fn least_outstanding_steering_takes_the_least_loaded_pool_per_weight() {
    let pools = vec![simple("a", 10), simple("b", 1), simple("c", 2)];
    let lb = lb_runtime(
        lb_config(&["a", "b", "c"], None, Steering::LeastOutstandingRequests),
        &pools,
    );
    let headers = HeaderMap::new();
    let ctx = ctx(&headers);
    // Nothing in flight: ties go in default order.
    assert_eq!(pool_of(&pick_one(&lb, &ctx, &mut rng()).unwrap()), "a");
    // a: 5 in flight over weight 10 (0.5); b: 1 over 1 (1.0); c: 0 over 2 (0).
    let _a: Vec<_> = (0..5).map(|i| pools[0].start_request(i)).collect();
    let _b = pools[1].start_request(0);
    assert_eq!(pool_of(&pick_one(&lb, &ctx, &mut rng()).unwrap()), "c");
    let _c: Vec<_> = (0..2).map(|_| pools[2].start_request(0)).collect();
    assert_eq!(
        pool_of(&pick_one(&lb, &ctx, &mut rng()).unwrap()),
        "a",
        "c now 1.0"
    );
    // Half of a goes down: 5 over 5 ties with b and c; a first by order. Then b.
    set_health(
        &pools[0],
        &[
            false, false, false, false, false, true, true, true, true, true,
        ],
    );
    assert_eq!(pool_of(&pick_one(&lb, &ctx, &mut rng()).unwrap()), "a");
    all_down(&pools[0]);
    assert_eq!(pool_of(&pick_one(&lb, &ctx, &mut rng()).unwrap()), "b");
    // Guards dropping release the load: a request through the runtime counts too.
    drop(_c);
    let pick = lb.pick(&ctx, &mut rng(), &mut Default::default()).unwrap();
    assert_eq!(lb.pools()[pick.pool].id().name.as_ref(), "c");
    let guard = lb.start_request(&pick);
    assert_eq!(pools[2].load().in_flight(), 1);
    drop(guard);
    assert_eq!(pools[2].load().in_flight(), 0);
}

#[test]
fn latency_steering_takes_the_lowest_smoothed_rtt() {
    let pools = vec![simple("a", 2), simple("b", 2), simple("c", 2)];
    let lb = lb_runtime(lb_config(&["a", "b", "c"], None, Steering::Latency), &pools);
    let headers = HeaderMap::new();
    let at = |now| {
        let mut c = ctx(&headers);
        c.now = now;
        c
    };
    // No samples: default order.
    assert_eq!(pool_of(&pick_one(&lb, &at(NOW), &mut rng()).unwrap()), "a");
    let ms = |pool: &PoolRuntime, values: &[u64]| {
        for (state, &v) in pool.states().iter().zip(values) {
            state.record_rtt(Duration::from_millis(v));
        }
    };
    ms(&pools[0], &[50, 70]); // mean 60
    ms(&pools[1], &[10, 30]); // mean 20
                              // (pools[2] has no sample: last.)
                              // Cached for the current second: the change shows from the next one.
    assert_eq!(pool_of(&pick_one(&lb, &at(NOW), &mut rng()).unwrap()), "a");
    assert_eq!(
        pool_of(&pick_one(&lb, &at(NOW + 1), &mut rng()).unwrap()),
        "b"
    );
    // An unhealthy origin's RTT does not count: b's healthy one is at 30.
    pools[1].states()[0].set_healthy(false);
    assert_eq!(pools[1].rtt_micros(NOW + 2), Some(30_000));
    all_down(&pools[1]);
    assert_eq!(
        pool_of(&pick_one(&lb, &at(NOW + 3), &mut rng()).unwrap()),
        "a"
    );
    let mut config = lb_config(&["a", "b", "c"], None, Steering::Latency);
    config.failover.retries = 10;
    set_health(&pools[1], &[true, true]);
    let lb = lb_runtime(config, &pools);
    let got: Vec<String> = sequence(&lb, &at(NOW + 4), &mut rng())
        .iter()
        .map(|n| pool_of(n).to_string())
        .collect();
    assert_eq!(got, ["b", "b", "a", "a", "c", "c"]);
}

#[test]
fn load_shedding_moves_a_share_of_new_requests_to_the_next_pool() {
    let mut shedding = pool("a", OriginBalancing::WeightedRandom, origins("a", 2));
    shedding.load_shedding_percent = 30;
    let pools = vec![runtime(shedding), simple("b", 2)];
    let lb = lb_runtime(lb_config(&["a", "b"], None, Steering::Failover), &pools);
    let headers = HeaderMap::new();
    let ctx = ctx(&headers);
    assert_shares(
        &pool_spread(&lb, &ctx, 20_000),
        20_000,
        &[("a", 0.7), ("b", 0.3)],
        0.015,
    );
    // The last healthy pool never sheds.
    all_down(&pools[1]);
    assert_shares(&pool_spread(&lb, &ctx, 2_000), 2_000, &[("a", 1.0)], 0.0);
    // DNS answers shed the same share.
    set_health(&pools[1], &[true, true]);
    let mut rng = rng();
    let dns = distribution(20_000, || {
        lb.select_pool(&ctx, &mut rng)
            .map(|c| c.pool.id().name.to_string())
    });
    assert_shares(&dns, 20_000, &[("a", 0.7), ("b", 0.3)], 0.015);
    // A shedding of 100 % sends every new request on.
    let mut full = pool("a", OriginBalancing::WeightedRandom, origins("a", 2));
    full.load_shedding_percent = 100;
    let pools = vec![runtime(full), simple("b", 2)];
    let lb = lb_runtime(lb_config(&["a", "b"], None, Steering::Failover), &pools);
    assert_shares(&pool_spread(&lb, &ctx, 1_000), 1_000, &[("b", 1.0)], 0.0);
}

#[test]
fn dns_selection_answers_with_healthy_origins_or_falls_open() {
    let pools = abcf();
    let lb = lb_runtime(
        lb_config(&["a", "b", "c"], Some("f"), Steering::Failover),
        &pools,
    );
    let headers = HeaderMap::new();
    let ctx = ctx(&headers);
    let answer = |lb: &torii_steering::LoadBalancerRuntime| {
        let choice = lb.select_pool(&ctx, &mut rng()).unwrap();
        let names: Vec<String> = choice.origins().map(|(_, o)| o.name.to_string()).collect();
        (
            choice.pool.id().name.to_string(),
            choice.healthy_only,
            names,
        )
    };
    assert_eq!(
        answer(&lb),
        ("a".into(), true, vec!["a0".into(), "a1".into()])
    );
    pools[0].states()[0].set_healthy(false);
    assert_eq!(answer(&lb), ("a".into(), true, vec!["a1".into()]));
    all_down(&pools[0]);
    all_down(&pools[1]);
    assert_eq!(answer(&lb).0, "c");
    all_down(&pools[2]);
    assert_eq!(answer(&lb), ("f".into(), true, vec!["f0".into()]));
    all_down(&pools[3]);
    assert_eq!(
        answer(&lb),
        ("f".into(), false, vec!["f0".into()]),
        "fail open"
    );
}

#[test]
fn missing_pools_are_reported_not_fatal() {
    let pools = vec![simple("b", 1)];
    let lb = lb_runtime(
        lb_config(&["a", "b"], Some("gone"), Steering::Failover),
        &pools,
    );
    assert_eq!(
        lb.problems(),
        [
            SteeringError::MissingPool {
                lb: lb.config().id.clone(),
                pool: PoolId::new("ns", "a")
            },
            SteeringError::MissingPool {
                lb: lb.config().id.clone(),
                pool: PoolId::new("ns", "gone")
            },
        ]
    );
    let headers = HeaderMap::new();
    assert_eq!(pick_one(&lb, &ctx(&headers), &mut rng()).unwrap(), "b/b0");

    let lb = lb_runtime(lb_config(&["a"], None, Steering::Failover), &[]);
    assert!(lb.problems().contains(&SteeringError::NoPools {
        lb: lb.config().id.clone()
    }));
    assert_eq!(pick_one(&lb, &ctx(&headers), &mut rng()), None);
    assert!(lb.select_pool(&ctx(&headers), &mut rng()).is_none());
    assert_eq!(
        lb.problems()[0].to_string(),
        "load balancer ns/lb: pool ns/a is not defined"
    );
}
