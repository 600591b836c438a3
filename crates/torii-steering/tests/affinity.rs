//! Session affinity: cookie, header and client-address sessions; `none`, `temporary` and
//! `sticky` failover; TTL; drain; reloads.

mod common;

use common::*;
use http::{HeaderMap, HeaderName, HeaderValue};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use torii_config::{AffinityFailover, AffinityKey, OriginPool, SessionAffinity, Steering};
use torii_steering::{
    AffinityOutcome, AttemptState, LbOptions, LoadBalancerRuntime, Pick, PoolRuntime,
    RequestContext,
};

const TTL: u64 = 600;

fn cookie_lb(pools: &[Arc<PoolRuntime>], failover: AffinityFailover) -> LoadBalancerRuntime {
    with_affinity(
        pools,
        affinity(AffinityKey::Cookie("torii_lb".into()), failover, TTL, 0),
    )
}

fn with_affinity(pools: &[Arc<PoolRuntime>], affinity: SessionAffinity) -> LoadBalancerRuntime {
    let mut config = lb_config(&["a", "b"], None, Steering::Failover);
    config.session_affinity = Some(affinity);
    lb_runtime(config, pools)
}

/// A client holding the cookies it was given.
struct Browser {
    cookie: Option<String>,
}

impl Browser {
    fn new() -> Self {
        Self { cookie: None }
    }

    fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(cookie) = &self.cookie {
            headers.insert(
                "cookie",
                HeaderValue::from_str(&format!("other=1; {cookie}")).unwrap(),
            );
        }
        headers
    }

    /// One request at `now` whose first attempt succeeds.
    fn visit(
        &mut self,
        lb: &LoadBalancerRuntime,
        now: u64,
        rng: &mut fastrand::Rng,
    ) -> (String, AffinityOutcome, bool) {
        let headers = self.headers();
        let mut ctx = ctx(&headers);
        ctx.now = now;
        let pick = lb.pick(&ctx, rng, &mut AttemptState::new()).unwrap();
        self.answer(lb, &pick)
    }

    fn answer(&mut self, lb: &LoadBalancerRuntime, pick: &Pick) -> (String, AffinityOutcome, bool) {
        if let Some(cookie) = &pick.set_cookie {
            assert_eq!(cookie.max_age(), TTL);
            self.cookie = Some(format!("{}={}", cookie.name(), cookie.value()));
        }
        (name(lb, pick), pick.affinity, pick.set_cookie.is_some())
    }
}

fn origin_state<'a>(pools: &'a [Arc<PoolRuntime>], name: &str) -> &'a torii_steering::OriginState {
    let (pool, origin) = name.split_once('/').unwrap();
    let pool = pools.iter().find(|p| p.id().name.as_ref() == pool).unwrap();
    let at = pool
        .origins()
        .iter()
        .position(|o| o.name.as_ref() == origin)
        .unwrap();
    &pool.states()[at]
}

#[test]
fn a_cookie_session_sticks_refreshes_and_expires() {
    let pools = vec![simple("a", 5), simple("b", 5)];
    let lb = cookie_lb(&pools, AffinityFailover::None);
    let mut rng = rng();
    let mut browser = Browser::new();
    let (first, outcome, set) = browser.visit(&lb, NOW, &mut rng);
    assert_eq!((outcome, set), (AffinityOutcome::Pinned, true));
    for t in 0..50 {
        assert_eq!(
            browser.visit(&lb, NOW + t, &mut rng),
            (first.clone(), AffinityOutcome::Followed, false)
        );
    }
    // Past half the TTL the cookie is set again (sliding), to the same origin.
    assert_eq!(
        browser.visit(&lb, NOW + TTL / 2 + 1, &mut rng),
        (first.clone(), AffinityOutcome::Followed, true)
    );
    assert_eq!(
        browser.visit(&lb, NOW + TTL, &mut rng),
        (first.clone(), AffinityOutcome::Followed, false)
    );
    // Unseen for a whole TTL: the session is over, a new one starts.
    let (_, outcome, set) = browser.visit(&lb, NOW + TTL / 2 + 1 + TTL, &mut rng);
    assert_eq!((outcome, set), (AffinityOutcome::Pinned, true));
}

#[test]
fn a_forged_or_foreign_cookie_starts_a_new_session() {
    let pools = vec![simple("a", 5), simple("b", 5)];
    let lb = cookie_lb(&pools, AffinityFailover::None);
    let mut rng = rng();
    let mut browser = Browser::new();
    browser.visit(&lb, NOW, &mut rng);
    let good = browser.cookie.clone().unwrap();
    let mut forged = good.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    browser.cookie = Some(String::from_utf8(forged).unwrap());
    assert_eq!(browser.visit(&lb, NOW, &mut rng).1, AffinityOutcome::Pinned);
    // Another process's secret: not ours.
    let mut config = lb_config(&["a", "b"], None, Steering::Failover);
    config.session_affinity = Some(affinity(
        AffinityKey::Cookie("torii_lb".into()),
        AffinityFailover::None,
        TTL,
        0,
    ));
    let map: std::collections::BTreeMap<_, _> = pools
        .iter()
        .map(|p| (p.id().clone(), Arc::clone(p)))
        .collect();
    let other = LoadBalancerRuntime::with_options(
        Arc::new(config),
        |id| map.get(id).cloned(),
        LbOptions {
            secret: torii_steering::AffinitySecret::random(),
            ..LbOptions::default()
        },
    );
    browser.cookie = Some(good);
    assert_eq!(
        browser.visit(&other, NOW, &mut rng).1,
        AffinityOutcome::Pinned
    );
}

/// The pinned origin goes down, then recovers: where do the next requests go?
#[test]
fn failover_modes_when_the_pinned_origin_goes_down_and_recovers() {
    // (mode, outcome while down, pin moves while down, back on the original after recovery)
    let table = [
        (AffinityFailover::None, AffinityOutcome::Pinned, true, false),
        (
            AffinityFailover::Temporary,
            AffinityOutcome::Bypassed,
            false,
            true,
        ),
        (
            AffinityFailover::Sticky,
            AffinityOutcome::Pinned,
            true,
            false,
        ),
    ];
    for (mode, while_down, repins, returns) in table {
        let pools = vec![simple("a", 5), simple("b", 5)];
        let lb = cookie_lb(&pools, mode);
        let mut rng = rng();
        let mut browser = Browser::new();
        let (original, ..) = browser.visit(&lb, NOW, &mut rng);
        origin_state(&pools, &original).set_healthy(false);
        let (moved, outcome, set) = browser.visit(&lb, NOW + 1, &mut rng);
        assert_ne!(moved, original, "{mode:?}");
        assert_eq!((outcome, set), (while_down, repins), "{mode:?}");
        // Still down: the session stays on the new origin when re-pinned.
        let (again, outcome, _) = browser.visit(&lb, NOW + 2, &mut rng);
        if repins {
            assert_eq!(
                (again.as_str(), outcome),
                (moved.as_str(), AffinityOutcome::Followed),
                "{mode:?}"
            );
        } else {
            assert_eq!(outcome, AffinityOutcome::Bypassed, "{mode:?}");
        }
        origin_state(&pools, &original).set_healthy(true);
        let (after, outcome, _) = browser.visit(&lb, NOW + 3, &mut rng);
        assert_eq!(outcome, AffinityOutcome::Followed, "{mode:?}");
        assert_eq!(
            after == original,
            returns,
            "{mode:?}: {after} vs {original}"
        );
        if !returns {
            assert_eq!(after, moved, "{mode:?}");
        }
    }
}

/// An attempt on the pinned (healthy) origin fails and the request is retried elsewhere.
#[test]
fn failover_modes_on_a_failed_attempt() {
    // (mode, outcome of the retry, pin moves)
    let table = [
        (AffinityFailover::None, AffinityOutcome::Bypassed, false),
        (
            AffinityFailover::Temporary,
            AffinityOutcome::Bypassed,
            false,
        ),
        (AffinityFailover::Sticky, AffinityOutcome::Pinned, true),
    ];
    for (mode, retry_outcome, moves) in table {
        let pools = vec![simple("a", 5), simple("b", 5)];
        let lb = cookie_lb(&pools, mode);
        let mut rng = rng();
        let mut browser = Browser::new();
        let (original, ..) = browser.visit(&lb, NOW, &mut rng);
        let headers = browser.headers();
        let mut state = AttemptState::new();
        let first = lb.pick(&ctx(&headers), &mut rng, &mut state).unwrap();
        assert_eq!(name(&lb, &first), original);
        let retry = lb.pick(&ctx(&headers), &mut rng, &mut state).unwrap();
        let (elsewhere, outcome, set) = browser.answer(&lb, &retry);
        assert_ne!(elsewhere, original);
        assert_eq!((outcome, set), (retry_outcome, moves), "{mode:?}");
        let (next, ..) = browser.visit(&lb, NOW + 1, &mut rng);
        assert_eq!(next, if moves { elsewhere } else { original }, "{mode:?}");
    }
    // A new session whose first attempt fails is pinned where the retry lands.
    let pools = vec![simple("a", 5), simple("b", 5)];
    let lb = cookie_lb(&pools, AffinityFailover::None);
    let mut rng = rng();
    let mut browser = Browser::new();
    let headers = browser.headers();
    let mut state = AttemptState::new();
    let first = lb.pick(&ctx(&headers), &mut rng, &mut state).unwrap();
    let retry = lb.pick(&ctx(&headers), &mut rng, &mut state).unwrap();
    assert_eq!(first.affinity, AffinityOutcome::Pinned);
    let (landed, outcome, _) = browser.answer(&lb, &retry);
    assert_eq!(outcome, AffinityOutcome::Pinned);
    assert_eq!(browser.visit(&lb, NOW + 1, &mut rng).0, landed);
}

fn header_request(value: Option<&str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(value) = value {
        headers.insert("x-session", HeaderValue::from_str(value).unwrap());
    }
    headers
}

#[test]
fn header_sessions_live_in_the_table_with_a_sliding_ttl() {
    let pools = vec![simple("a", 8), simple("b", 8)];
    let key = AffinityKey::Header(HeaderName::from_static("x-session"));
    let lb = with_affinity(&pools, affinity(key, AffinityFailover::None, TTL, 0));
    let mut rng = rng();
    let at = |headers: &HeaderMap, now, rng: &mut fastrand::Rng| {
        let mut ctx = ctx(headers);
        ctx.now = now;
        let pick = lb.pick(&ctx, rng, &mut AttemptState::new()).unwrap();
        assert!(pick.set_cookie.is_none());
        (name(&lb, &pick), pick.affinity)
    };
    let alice = header_request(Some("alice"));
    let (first, outcome) = at(&alice, NOW, &mut rng);
    assert_eq!(outcome, AffinityOutcome::Pinned);
    for step in 1..=10 {
        // Seen every TTL - 1 seconds: the session never expires.
        assert_eq!(
            at(&alice, NOW + step * (TTL - 1), &mut rng),
            (first.clone(), AffinityOutcome::Followed)
        );
    }
    let last_seen = NOW + 10 * (TTL - 1);
    assert_eq!(
        at(&alice, last_seen + TTL, &mut rng).1,
        AffinityOutcome::Pinned,
        "expired"
    );
    // Sessions are per value; no header, no session.
    let sessions: std::collections::BTreeSet<String> = (0..200)
        .map(|i| at(&header_request(Some(&format!("user-{i}"))), NOW, &mut rng).0)
        .collect();
    assert!(sessions.len() > 5, "sessions spread: {sessions:?}");
    assert_eq!(
        at(&header_request(None), NOW, &mut rng).1,
        AffinityOutcome::Off
    );
    assert!(lb.affinity_table().unwrap().live_sessions(NOW) >= 200);
}

#[test]
fn client_address_sessions_and_their_failover() {
    let pools = vec![simple("a", 8), simple("b", 8)];
    let lb = with_affinity(
        &pools,
        affinity(AffinityKey::ClientIp, AffinityFailover::Temporary, TTL, 0),
    );
    let mut rng = rng();
    let headers = HeaderMap::new();
    let from = |ip: [u8; 4]| RequestContext::new(IpAddr::V4(Ipv4Addr::from(ip)), &headers, NOW);
    let one = |ctx: &RequestContext<'_>, rng: &mut fastrand::Rng| {
        let pick = lb.pick(ctx, rng, &mut AttemptState::new()).unwrap();
        (name(&lb, &pick), pick.affinity)
    };
    let (pinned, outcome) = one(&from([198, 51, 100, 7]), &mut rng);
    assert_eq!(outcome, AffinityOutcome::Pinned);
    for _ in 0..20 {
        assert_eq!(
            one(&from([198, 51, 100, 7]), &mut rng),
            (pinned.clone(), AffinityOutcome::Followed)
        );
    }
    origin_state(&pools, &pinned).set_healthy(false);
    let (elsewhere, outcome) = one(&from([198, 51, 100, 7]), &mut rng);
    assert_ne!(elsewhere, pinned);
    assert_eq!(outcome, AffinityOutcome::Bypassed);
    origin_state(&pools, &pinned).set_healthy(true);
    assert_eq!(
        one(&from([198, 51, 100, 7]), &mut rng),
        (pinned, AffinityOutcome::Followed)
    );
}

#[test]
fn sessions_survive_reloads_that_reorder_origins() {
    let config_a = pool(
        "a",
        torii_config::OriginBalancing::WeightedRandom,
        origins("a", 6),
    );
    let pools = vec![runtime(config_a.clone()), simple("b", 2)];
    let key = AffinityKey::Header(HeaderName::from_static("x-session"));
    let lb = with_affinity(
        &pools,
        affinity(key.clone(), AffinityFailover::None, TTL, 0),
    );
    let cookie = cookie_lb(&pools, AffinityFailover::None);
    let mut rng = rng();
    let alice = header_request(Some("alice"));
    let before = name(
        &lb,
        &lb.pick(&ctx(&alice), &mut rng, &mut AttemptState::new())
            .unwrap(),
    );
    let mut browser = Browser::new();
    let (cookie_before, ..) = browser.visit(&cookie, NOW, &mut rng);

    // Next configuration: a's origins reversed, one added.
    let mut reordered: OriginPool = config_a.clone();
    reordered.origins.reverse();
    reordered.origins.push(origin("a-new", 1));
    let old_a = &pools[0];
    let new_pools = vec![
        Arc::new(PoolRuntime::reload(Arc::new(reordered), Some(old_a), NOW)),
        Arc::clone(&pools[1]),
    ];
    let map: std::collections::BTreeMap<_, _> = new_pools
        .iter()
        .map(|p| (p.id().clone(), Arc::clone(p)))
        .collect();
    let mut config = lb_config(&["a", "b"], None, Steering::Failover);
    config.session_affinity = Some(affinity(key, AffinityFailover::None, TTL, 0));
    let reloaded = LoadBalancerRuntime::with_options(
        Arc::new(config),
        |id| map.get(id).cloned(),
        LbOptions {
            table: lb.affinity_table().cloned(),
            ..LbOptions::default()
        },
    );
    let after = reloaded
        .pick(&ctx(&alice), &mut rng, &mut AttemptState::new())
        .unwrap();
    assert_eq!(
        (name(&reloaded, &after), after.affinity),
        (before, AffinityOutcome::Followed)
    );
    let cookie_reloaded = cookie_lb(&new_pools, AffinityFailover::None);
    assert_eq!(
        browser.visit(&cookie_reloaded, NOW + 1, &mut rng),
        (cookie_before, AffinityOutcome::Followed, false)
    );
}

#[test]
fn a_disabled_origin_drains_its_sessions_then_lets_them_go() {
    const DRAIN: u64 = 60;
    let config_a = pool(
        "a",
        torii_config::OriginBalancing::WeightedRandom,
        origins("a", 4),
    );
    let pools = vec![runtime(config_a.clone())];
    let mut lb_conf = lb_config(&["a"], None, Steering::Failover);
    lb_conf.session_affinity = Some(affinity(
        AffinityKey::Cookie("torii_lb".into()),
        AffinityFailover::None,
        TTL,
        DRAIN,
    ));
    let lb = lb_runtime(lb_conf.clone(), &pools);
    let mut rng = rng();
    let mut browser = Browser::new();
    let (pinned, ..) = browser.visit(&lb, NOW, &mut rng);
    let pinned_origin = pinned.split('/').nth(1).unwrap().to_string();

    // The next configuration disables the pinned origin at NOW + 100.
    let mut disabled = config_a.clone();
    for o in &mut disabled.origins {
        if o.name.as_ref() == pinned_origin {
            o.enabled = false;
        }
    }
    let new_pool = Arc::new(PoolRuntime::reload(
        Arc::new(disabled.clone()),
        Some(&pools[0]),
        NOW + 100,
    ));
    let new_pools = vec![Arc::clone(&new_pool)];
    let lb = lb_runtime(lb_conf.clone(), &new_pools);
    assert_eq!(
        origin_state(&new_pools, &pinned).disabled_since(),
        Some(NOW + 100)
    );
    // Within the drain period the session stays; new sessions never go there.
    assert_eq!(
        browser.visit(&lb, NOW + 100 + DRAIN - 1, &mut rng).1,
        AffinityOutcome::Followed
    );
    let mut stranger = Browser::new();
    for t in 0..200 {
        stranger.cookie = None;
        assert_ne!(stranger.visit(&lb, NOW + 101 + t % 10, &mut rng).0, pinned);
    }
    // Another reload while draining keeps the original start of the drain.
    let again = Arc::new(PoolRuntime::reload(
        Arc::new(disabled),
        Some(&new_pool),
        NOW + 130,
    ));
    let lb = lb_runtime(lb_conf, &[Arc::clone(&again)]);
    assert_eq!(
        again.states()[again
            .origins()
            .iter()
            .position(|o| o.name.as_ref() == pinned_origin)
            .unwrap()]
        .disabled_since(),
        Some(NOW + 100)
    );
    // After it, the session moves on and is re-pinned.
    let (moved, outcome, set) = browser.visit(&lb, NOW + 100 + DRAIN, &mut rng);
    assert_ne!(moved, pinned);
    assert_eq!((outcome, set), (AffinityOutcome::Pinned, true));
}
