//! Failover across the attempts of one request: order, no repeats, pools, budget, and the
//! retry policy.

mod common;

use common::*;
use http::HeaderMap;
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::sync::Arc;
use torii_config::{FailoverPolicy, StatusCodes, Steering};
use torii_steering::{AttemptState, FailureKind, LoadBalancerRuntime, PoolRuntime};

fn balancer(pools: &[Arc<PoolRuntime>], retries: u32, across_pools: bool) -> LoadBalancerRuntime {
    let mut config = lb_config(&["a", "b"], Some("f"), Steering::Failover);
    config.failover.retries = retries;
    config.failover.across_pools = across_pools;
    lb_runtime(config, pools)
}

fn pools() -> Vec<Arc<PoolRuntime>> {
    vec![simple("a", 3), simple("b", 2), simple("f", 1)]
}

fn assert_distinct(picks: &[String]) {
    let set: BTreeSet<&String> = picks.iter().collect();
    assert_eq!(set.len(), picks.len(), "repeated origin in {picks:?}");
}

#[test]
fn retries_try_the_same_pool_first_then_the_next_pools() {
    let headers = HeaderMap::new();
    // (retries, acrossPools, pools of the picks in order)
    let table: &[(u32, bool, &[&str])] = &[
        (0, true, &["a"]),
        (2, true, &["a", "a", "a"]),
        (4, true, &["a", "a", "a", "b", "b"]),
        (10, true, &["a", "a", "a", "b", "b", "f"]),
        (10, false, &["a", "a", "a"]),
    ];
    for &(retries, across, expected) in table {
        let pools = pools();
        let lb = balancer(&pools, retries, across);
        let picks = sequence(&lb, &ctx(&headers), &mut rng());
        assert_distinct(&picks);
        let got: Vec<&str> = picks.iter().map(|p| p.split('/').next().unwrap()).collect();
        assert_eq!(got, expected, "retries {retries}, across {across}");
    }
}

#[test]
fn retries_skip_unhealthy_origins_and_end_in_the_last_resort() {
    let headers = HeaderMap::new();
    let pools = pools();
    set_health(&pools[0], &[true, false, true]);
    all_down(&pools[1]);
    all_down(&pools[2]);
    let lb = balancer(&pools, 10, true);
    let mut state = AttemptState::new();
    let mut picks = Vec::new();
    let mut rng = rng();
    while let Some(pick) = lb.pick(&ctx(&headers), &mut rng, &mut state) {
        picks.push((name(&lb, &pick), pick.last_resort));
    }
    // a's two healthy origins, then the fallback's (unhealthy) origin as the last resort.
    assert_eq!(picks.len(), 3, "{picks:?}");
    assert_eq!(picks[2], ("f/f0".to_string(), true));
    assert!(picks[..2]
        .iter()
        .all(|(n, last)| n.starts_with("a/") && !last && n != "a/a1"));
    assert_eq!(state.attempts(), 3);
    assert_eq!(state.tried().count(), 3);

    // Everything down, no fallback: the first pool's origins, all of them, once each.
    let pools = vec![simple("a", 3), simple("b", 2)];
    all_down(&pools[0]);
    all_down(&pools[1]);
    let mut config = lb_config(&["a", "b"], None, Steering::Failover);
    config.failover.retries = 10;
    let lb = lb_runtime(config, &pools);
    let picks = sequence(&lb, &ctx(&headers), &mut common::rng());
    assert_distinct(&picks);
    assert_eq!(picks.len(), 3, "{picks:?}");
    assert!(picks.iter().all(|p| p.starts_with("a/")));
}

#[test]
fn an_origin_dying_mid_load_is_retried_around() {
    // Origin a/a0 dies after the request was steered: the retry goes to a healthy one.
    let headers = HeaderMap::new();
    let pools = pools();
    let lb = balancer(&pools, 2, true);
    let mut rng = rng();
    for _ in 0..200 {
        let mut state = AttemptState::new();
        let first = lb.pick(&ctx(&headers), &mut rng, &mut state).unwrap();
        lb.pools()[first.pool].states()[first.origin].set_healthy(false);
        assert!(lb.should_retry(FailureKind::ConnectError, false, false));
        let second = lb.pick(&ctx(&headers), &mut rng, &mut state).unwrap();
        assert!(lb.pools()[second.pool].states()[second.origin].is_healthy());
        assert_ne!((second.pool, second.origin), (first.pool, first.origin));
        lb.pools()[first.pool].states()[first.origin].set_healthy(true);
    }
}

#[test]
fn the_retry_policy_decides_which_failures_retry() {
    let mut policy = FailoverPolicy {
        on_status: StatusCodes::parse("502-503").unwrap(),
        ..FailoverPolicy::default()
    };
    let check = |policy: &FailoverPolicy| {
        let mut config = lb_config(&["a"], None, Steering::Failover);
        config.failover = policy.clone();
        lb_runtime(config, &[simple("a", 1)])
    };
    use FailureKind::*;
    // (failure, idempotent, reached the origin, retried by default, retried with
    //  retryNonIdempotent, retried with everything off)
    let table: &[(FailureKind, bool, bool, bool, bool, bool)] = &[
        (ConnectError, false, false, true, true, false),
        (ConnectError, true, true, true, true, false),
        (Reset, true, true, true, true, false),
        (Reset, false, true, false, true, false),
        (Reset, false, false, true, true, false),
        (Timeout, true, true, true, true, false),
        (Timeout, false, true, false, true, false),
        (Status(503), true, true, true, true, false),
        (Status(503), false, true, false, true, false),
        (Status(500), true, true, false, false, false),
        (Status(504), true, true, false, false, false),
    ];
    let default = check(&policy);
    policy.retry_non_idempotent = true;
    let non_idempotent = check(&policy);
    let off = check(&FailoverPolicy {
        on_connect_error: false,
        on_reset: false,
        on_status: StatusCodes::default(),
        ..FailoverPolicy::default()
    });
    for &(failure, idempotent, reached, by_default, with_non_idempotent, with_off) in table {
        let row = format!("{failure:?} idempotent {idempotent} reached {reached}");
        assert_eq!(
            default.should_retry(failure, idempotent, reached),
            by_default,
            "{row}"
        );
        assert_eq!(
            non_idempotent.should_retry(failure, idempotent, reached),
            with_non_idempotent,
            "{row}"
        );
        assert_eq!(
            off.should_retry(failure, idempotent, reached),
            with_off,
            "{row}"
        );
    }
}

proptest! {
    /// With a budget as large as the origins, a request's attempts reach every origin that
    /// is healthy at the start, never repeat one, and stay within the budget: no request
    /// fails while a healthy origin exists.
    #[test]
    fn attempts_reach_every_healthy_origin(
        sizes in prop::collection::vec(1usize..5, 1..4),
        health in prop::collection::vec(any::<bool>(), 16),
        fallback in any::<bool>(),
        budget_cut in 0u32..3,
        seed in any::<u64>(),
    ) {
        let names = ["p0", "p1", "p2", "p3"];
        let pools: Vec<Arc<PoolRuntime>> = sizes.iter().enumerate().map(|(i, &n)| simple(names[i], n)).collect();
        let mut healthy = BTreeSet::new();
        let mut k = 0;
        for pool in &pools {
            for (o, state) in pool.states().iter().enumerate() {
                state.set_healthy(health[k % 16]);
                if health[k % 16] {
                    healthy.insert(format!("{}/{}", pool.id().name, pool.origins()[o].name));
                }
                k += 1;
            }
        }
        let total: usize = sizes.iter().sum();
        let defaults: Vec<&str> = names[..pools.len() - usize::from(fallback && pools.len() > 1)].to_vec();
        let fallback_name = (fallback && pools.len() > 1).then(|| names[pools.len() - 1]);
        let mut config = lb_config(&defaults, fallback_name, Steering::Failover);
        config.failover.retries = (total as u32).saturating_sub(budget_cut);
        let lb = lb_runtime(config, &pools);
        let headers = HeaderMap::new();
        let picks = sequence(&lb, &ctx(&headers), &mut fastrand::Rng::with_seed(seed));
        let set: BTreeSet<String> = picks.iter().cloned().collect();
        prop_assert_eq!(set.len(), picks.len(), "repeated: {:?}", picks);
        prop_assert!(picks.len() as u32 <= lb.config().failover.retries + 1);
        prop_assert!(!picks.is_empty(), "an origin exists");
        if budget_cut == 0 {
            prop_assert!(healthy.is_subset(&set), "healthy {:?} not all in {:?}", healthy, picks);
        }
        // Healthy origins come before any unhealthy one.
        let first_unhealthy = picks.iter().position(|p| !healthy.contains(p)).unwrap_or(picks.len());
        prop_assert!(picks[first_unhealthy..].iter().all(|p| !healthy.contains(p)), "{:?}", picks);
    }
}
