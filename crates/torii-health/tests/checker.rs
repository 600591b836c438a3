//! The scheduler and the state machines under paused time, with a scripted probe.

use http::Method;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::{sleep, sleep_until, Instant};
use torii_config::lb::{HealthMonitor, MonitorProtocol, OutlierDetection, StatusCodes};
use torii_config::{MonitorId, PoolId};
use torii_health::{
    ActiveState, BoxFuture, CheckError, CheckerOptions, FailureKind, HealthChange, HealthChecker,
    OriginKey, Outcome, Probe, ProbeTarget, Target,
};

/// What the scripted probe does for an address.
#[derive(Debug, Clone)]
enum Behaviour {
    Pass,
    Fail(&'static str),
    /// Never answers (the checker's timeout must end the attempt).
    Hang,
    /// Answers after a while.
    Slow(Duration),
    /// Fails this many attempts, then passes.
    FailTimes(u32),
}

#[derive(Default)]
struct FakeProbe {
    behaviour: Mutex<HashMap<SocketAddr, Behaviour>>,
    attempts: Mutex<Vec<(SocketAddr, Instant)>>,
}

impl FakeProbe {
    fn set(&self, address: SocketAddr, behaviour: Behaviour) {
        self.behaviour.lock().unwrap().insert(address, behaviour);
    }

    fn attempts(&self, address: SocketAddr) -> Vec<Instant> {
        let attempts = self.attempts.lock().unwrap();
        attempts
            .iter()
            .filter(|(a, _)| *a == address)
            .map(|(_, at)| *at)
            .collect()
    }
}

impl Probe for FakeProbe {
    fn check<'a>(&'a self, target: &'a ProbeTarget) -> BoxFuture<'a, Result<(), CheckError>> {
        self.attempts
            .lock()
            .unwrap()
            .push((target.address(), Instant::now()));
        let behaviour = {
            let mut map = self.behaviour.lock().unwrap();
            let entry = map.entry(target.address()).or_insert(Behaviour::Pass);
            let now = entry.clone();
            if let Behaviour::FailTimes(n) = entry {
                *entry = if *n <= 1 {
                    Behaviour::Pass
                } else {
                    Behaviour::FailTimes(*n - 1)
                };
            }
            now
        };
        Box::pin(async move {
            match behaviour {
                Behaviour::Pass => Ok(()),
                Behaviour::Fail(reason) => Err(CheckError::Other(reason.into())),
                Behaviour::FailTimes(_) => Err(CheckError::Other("not yet".into())),
                Behaviour::Hang => std::future::pending().await,
                Behaviour::Slow(delay) => {
                    sleep(delay).await;
                    Ok(())
                }
            }
        })
    }
}

type Events = Arc<Mutex<Vec<HealthChange>>>;

fn checker(probe: &Arc<FakeProbe>) -> (HealthChecker, Events) {
    let events: Events = Arc::default();
    let sink = Arc::clone(&events);
    let options = CheckerOptions {
        first_check_spread: Duration::ZERO,
        ..CheckerOptions::default()
    };
    let checker = HealthChecker::with_probe(
        options,
        Arc::clone(probe) as Arc<dyn Probe>,
        Arc::new(move |change: &HealthChange| sink.lock().unwrap().push(change.clone())),
    )
    .unwrap();
    (checker, events)
}

fn monitor(
    interval: u64,
    timeout: u64,
    retries: u32,
    healthy: u32,
    unhealthy: u32,
) -> HealthMonitor {
    HealthMonitor {
        id: MonitorId::new("ns", "monitor"),
        protocol: MonitorProtocol::Tcp,
        method: Method::GET,
        path: "/".into(),
        port: None,
        headers: Vec::new(),
        expected_codes: StatusCodes::parse("2xx").unwrap(),
        expected_body: None,
        follow_redirects: false,
        verify_tls: true,
        interval: Duration::from_secs(interval),
        timeout: Duration::from_secs(timeout),
        retries,
        healthy_threshold: healthy,
        unhealthy_threshold: unhealthy,
    }
}

fn key(pool: &str, origin: &str) -> OriginKey {
    OriginKey::new(PoolId::new("ns", pool), origin)
}

fn addr(last: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, last], 80))
}

fn target(pool: &str, origin: &str, last: u8, monitor: Option<HealthMonitor>) -> Target {
    Target {
        monitor: monitor.map(Arc::new),
        ..Target::new(key(pool, origin), addr(last))
    }
}

fn outlier(failures: u32, base: u64, max: u64, percent: u8) -> OutlierDetection {
    OutlierDetection {
        consecutive_failures: failures,
        base_ejection: Duration::from_secs(base),
        max_ejection: Duration::from_secs(max),
        max_ejected_percent: percent,
    }
}

/// Lets the checker's tasks run at the current (paused) instant.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

fn active(checker: &HealthChecker, key: &OriginKey) -> ActiveState {
    checker.status(key).unwrap().active_state
}

#[tokio::test(start_paused = true)]
async fn first_check_decides_then_thresholds_turn_the_state() {
    let probe = Arc::new(FakeProbe::default());
    let (checker, events) = checker(&probe);
    let start = Instant::now();
    let a = key("p", "a");
    checker.update(vec![target("p", "a", 1, Some(monitor(10, 2, 0, 2, 3)))]);
    assert_eq!(active(&checker, &a), ActiveState::Unknown);
    assert_eq!(
        checker.is_healthy(&a),
        Some(true),
        "unknown counts as healthy"
    );

    settle().await;
    assert_eq!(
        active(&checker, &a),
        ActiveState::Healthy,
        "first check at once"
    );
    {
        let events = events.lock().unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].previous_active, ActiveState::Unknown);
        assert!(!events[0].flipped());
    }

    probe.set(addr(1), Behaviour::Fail("boom"));
    sleep_until(start + Duration::from_secs(21)).await; // checks at 10 and 20 fail
    assert_eq!(
        active(&checker, &a),
        ActiveState::Healthy,
        "2 of 3 failures"
    );
    assert_eq!(checker.status(&a).unwrap().consecutive_failures, 2);
    sleep_until(start + Duration::from_secs(31)).await; // the third
    assert_eq!(active(&checker, &a), ActiveState::Unhealthy);
    assert_eq!(checker.is_healthy(&a), Some(false));
    {
        let events = events.lock().unwrap();
        let last = events.last().unwrap();
        assert!(last.flipped() && !last.healthy);
        assert_eq!(&*last.reason, "boom");
        assert_eq!((last.pool_healthy, last.pool_origins), (0, 1));
    }
    let status = checker.status(&a).unwrap();
    assert_eq!(status.reason.as_deref(), Some("boom"));
    assert!(status.last_check.is_some());

    probe.set(addr(1), Behaviour::Pass);
    sleep_until(start + Duration::from_secs(41)).await;
    assert_eq!(
        active(&checker, &a),
        ActiveState::Unhealthy,
        "1 of 2 successes"
    );
    sleep_until(start + Duration::from_secs(51)).await;
    assert_eq!(active(&checker, &a), ActiveState::Healthy);
    let last = events.lock().unwrap().last().unwrap().clone();
    assert!(last.flipped() && last.healthy);
    assert_eq!(&*last.reason, "2 consecutive checks passed");
    assert_eq!(events.lock().unwrap().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_failed_first_check_makes_the_origin_unhealthy_at_once() {
    let probe = Arc::new(FakeProbe::default());
    probe.set(addr(1), Behaviour::Fail("connect refused"));
    let (checker, events) = checker(&probe);
    let a = key("p", "a");
    checker.update(vec![target("p", "a", 1, Some(monitor(10, 2, 0, 2, 3)))]);
    settle().await;
    assert_eq!(active(&checker, &a), ActiveState::Unhealthy);
    let events = events.lock().unwrap();
    assert_eq!(events.len(), 1);
    assert!(events[0].flipped());
}

#[tokio::test(start_paused = true)]
async fn retries_are_immediate_and_one_pass_is_enough() {
    let probe = Arc::new(FakeProbe::default());
    probe.set(addr(1), Behaviour::FailTimes(2));
    probe.set(addr(2), Behaviour::Fail("down"));
    let (checker, _events) = checker(&probe);
    let start = Instant::now();
    checker.update(vec![
        target("p", "a", 1, Some(monitor(10, 2, 2, 1, 1))),
        target("p", "b", 2, Some(monitor(10, 2, 2, 1, 1))),
    ]);
    settle().await;
    assert_eq!(
        probe.attempts(addr(1)),
        vec![start; 3],
        "three attempts, no pause"
    );
    assert_eq!(active(&checker, &key("p", "a")), ActiveState::Healthy);
    assert_eq!(probe.attempts(addr(2)), vec![start; 3], "1 + 2 retries");
    assert_eq!(active(&checker, &key("p", "b")), ActiveState::Unhealthy);
    assert_eq!(checker.status(&key("p", "b")).unwrap().checks_failed, 1);
}

#[tokio::test(start_paused = true)]
async fn checks_start_every_interval_counted_from_the_previous_start() {
    let probe = Arc::new(FakeProbe::default());
    probe.set(addr(1), Behaviour::Slow(Duration::from_secs(3)));
    let (checker, _events) = checker(&probe);
    let start = Instant::now();
    checker.update(vec![target("p", "a", 1, Some(monitor(10, 5, 0, 1, 1)))]);
    sleep_until(start + Duration::from_secs(45)).await;
    let attempts: Vec<u64> = probe
        .attempts(addr(1))
        .iter()
        .map(|at| at.duration_since(start).as_secs())
        .collect();
    assert_eq!(attempts, [0, 10, 20, 30, 40]);
    let status = checker.status(&key("p", "a")).unwrap();
    assert_eq!(status.rtt, Some(Duration::from_secs(3)));
    assert_eq!(status.smoothed_rtt, Some(Duration::from_secs(3)));
    assert_eq!(status.checks_passed, 5);
}

#[tokio::test(start_paused = true)]
async fn the_timeout_ends_an_attempt_and_names_the_reason() {
    let probe = Arc::new(FakeProbe::default());
    probe.set(addr(1), Behaviour::Hang);
    let (checker, events) = checker(&probe);
    let start = Instant::now();
    let a = key("p", "a");
    checker.update(vec![target("p", "a", 1, Some(monitor(10, 2, 1, 1, 1)))]);
    sleep_until(start + Duration::from_millis(3_900)).await;
    assert_eq!(
        active(&checker, &a),
        ActiveState::Unknown,
        "two attempts of 2 s"
    );
    sleep_until(start + Duration::from_millis(4_100)).await;
    assert_eq!(active(&checker, &a), ActiveState::Unhealthy);
    let attempts: Vec<u64> = probe
        .attempts(addr(1))
        .iter()
        .map(|at| at.duration_since(start).as_secs())
        .collect();
    assert_eq!(attempts, [0, 2], "the retry follows the timed-out attempt");
    assert_eq!(&*events.lock().unwrap()[0].reason, "timeout after 2s");

    // A check slower than the interval runs back to back, never in parallel.
    probe.set(addr(2), Behaviour::Hang);
    checker.update(vec![target("p", "b", 2, Some(monitor(1, 3, 0, 1, 1)))]);
    let restart = Instant::now();
    sleep_until(restart + Duration::from_millis(9_500)).await;
    let attempts: Vec<u64> = probe
        .attempts(addr(2))
        .iter()
        .map(|at| at.duration_since(restart).as_secs())
        .collect();
    assert_eq!(attempts, [0, 3, 6, 9]);
}

#[tokio::test(start_paused = true)]
async fn consecutive_failures_eject_at_once_with_exponential_back_off() {
    let probe = Arc::new(FakeProbe::default());
    let (checker, events) = checker(&probe);
    let a = key("p", "a");
    let mut t = target("p", "a", 1, None);
    t.outlier = outlier(3, 10, 30, 100);
    checker.update(vec![t]);
    let handle = checker.handle(&a).unwrap();
    assert_eq!(active(&checker, &a), ActiveState::Unmonitored);

    let fail = |times: u32| {
        for _ in 0..times {
            handle.report(Outcome::Failure(FailureKind::Status(503)));
        }
    };
    let mut lengths = Vec::new();
    for round in 0..4 {
        fail(3);
        settle().await;
        assert!(handle.is_ejected(), "round {round}");
        assert!(!handle.is_healthy());
        let ejected_at = Instant::now();
        while handle.is_ejected() {
            sleep(Duration::from_millis(500)).await;
        }
        lengths.push(ejected_at.elapsed().as_secs());
        assert!(handle.is_healthy());
        // The next ejection comes soon after: the series goes on.
        sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(lengths, [10, 20, 30, 30], "doubling, capped at max");
    let status = checker.status(&a).unwrap();
    assert_eq!(status.ejection_streak, 4);
    assert_eq!(status.ejections_total, 4);

    // A quiet spell longer than the last ejection starts a new series.
    sleep(Duration::from_secs(31)).await;
    fail(3);
    settle().await;
    assert!(handle.is_ejected());
    assert_eq!(checker.status(&a).unwrap().ejection_streak, 1);

    let events = events.lock().unwrap();
    let first = &events[0];
    assert!(first.flipped() && first.ejected);
    assert_eq!(
        &*first.reason,
        "ejected for 10s: 3 consecutive failures (last: status 503)"
    );
    assert_eq!(&*events[1].reason, "ejection ended");
    assert!(events[1].healthy && !events[1].ejected);
}

#[tokio::test(start_paused = true)]
async fn successes_reset_the_failure_count_and_ejected_origins_ignore_reports() {
    let probe = Arc::new(FakeProbe::default());
    let (checker, _events) = checker(&probe);
    let a = key("p", "a");
    let mut t = target("p", "a", 1, None);
    t.outlier = outlier(3, 10, 30, 100);
    checker.update(vec![t]);
    let fail = || checker.report(&a, Outcome::Failure(FailureKind::Connect));
    fail();
    fail();
    assert!(checker.report(&a, Outcome::Success));
    fail();
    fail();
    settle().await;
    assert!(!checker.handle(&a).unwrap().is_ejected());
    assert_eq!(checker.status(&a).unwrap().passive_failures, 2);
    fail();
    settle().await;
    assert!(checker.handle(&a).unwrap().is_ejected());
    assert_eq!(checker.status(&a).unwrap().passive_failures, 0);
    for _ in 0..10 {
        fail();
    }
    assert_eq!(checker.status(&a).unwrap().passive_failures, 0);
    assert!(!checker.report(&key("p", "nobody"), Outcome::Success));
}

#[tokio::test(start_paused = true)]
async fn never_more_than_the_share_of_a_pool_is_ejected() {
    let probe = Arc::new(FakeProbe::default());
    let (checker, _events) = checker(&probe);
    let mut targets = Vec::new();
    for (i, name) in ["a", "b", "c", "d", "e"].iter().enumerate() {
        let mut t = target("big", name, 10 + i as u8, None);
        t.outlier = outlier(2, 10, 30, 50);
        targets.push(t);
    }
    let mut single = target("single", "only", 20, None);
    single.outlier = outlier(2, 10, 30, 10);
    targets.push(single);
    let mut never = target("never", "x", 21, None);
    never.outlier = outlier(2, 10, 30, 0);
    targets.push(never);
    checker.update(targets);

    let fail = |pool: &str, name: &str| {
        for _ in 0..2 {
            checker.report(&key(pool, name), Outcome::Failure(FailureKind::Reset));
        }
    };
    for name in ["a", "b", "c", "d", "e"] {
        fail("big", name);
        settle().await;
    }
    let big = checker.pool_health(&PoolId::new("ns", "big")).unwrap();
    assert_eq!(
        (big.origins, big.ejected, big.healthy),
        (5, 2, 3),
        "50% of 5 = 2"
    );
    assert!(checker.handle(&key("big", "a")).unwrap().is_ejected());
    assert!(checker.handle(&key("big", "b")).unwrap().is_ejected());
    assert!(!checker.handle(&key("big", "c")).unwrap().is_ejected());
    assert_eq!(
        checker.status(&key("big", "c")).unwrap().passive_failures,
        0,
        "skipped"
    );

    fail("single", "only");
    fail("never", "x");
    settle().await;
    assert!(
        checker.handle(&key("single", "only")).unwrap().is_ejected(),
        "at least one"
    );
    assert!(
        !checker.handle(&key("never", "x")).unwrap().is_ejected(),
        "0% ejects none"
    );

    // Once an ejection ends, there is room for another.
    sleep(Duration::from_secs(11)).await;
    fail("big", "c");
    settle().await;
    assert!(checker.handle(&key("big", "c")).unwrap().is_ejected());
}

#[tokio::test(start_paused = true)]
async fn active_and_passive_states_combine() {
    let probe = Arc::new(FakeProbe::default());
    let (checker, events) = checker(&probe);
    let start = Instant::now();
    let a = key("p", "a");
    let mut t = target("p", "a", 1, Some(monitor(5, 1, 0, 1, 1)));
    t.outlier = outlier(1, 20, 60, 100);
    checker.update(vec![t]);
    settle().await;
    let handle = checker.handle(&a).unwrap();
    assert!(handle.is_healthy());

    handle.report(Outcome::Failure(FailureKind::Timeout));
    settle().await;
    assert!(handle.is_ejected() && !handle.is_healthy());
    // The monitor keeps running while the origin is ejected, and the origin fails it.
    probe.set(addr(1), Behaviour::Fail("status 503 not in 2xx"));
    sleep_until(start + Duration::from_millis(5_100)).await;
    assert_eq!(handle.active_state(), ActiveState::Unhealthy);
    let status = handle.status();
    assert!(
        status.reason.unwrap().starts_with("ejected for 20s"),
        "ejection explains first"
    );
    // The ejection ends, the monitor still says no.
    sleep_until(start + Duration::from_millis(20_100)).await;
    assert!(!handle.is_ejected());
    assert!(!handle.is_healthy());
    assert_eq!(
        handle.status().reason.as_deref(),
        Some("status 503 not in 2xx")
    );
    probe.set(addr(1), Behaviour::Pass);
    sleep_until(start + Duration::from_millis(25_100)).await;
    assert!(handle.is_healthy());
    let flips = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.flipped())
        .count();
    assert_eq!(flips, 2, "one down (ejection), one up (monitor)");
}

#[tokio::test(start_paused = true)]
async fn a_reload_keeps_unchanged_origins_and_restarts_changed_ones() {
    let probe = Arc::new(FakeProbe::default());
    let (checker, events) = checker(&probe);
    let start = Instant::now();
    let a = key("p", "a");
    let targets = || {
        vec![
            target("p", "a", 1, Some(monitor(10, 2, 0, 2, 2))),
            target("p", "b", 2, Some(monitor(10, 2, 0, 2, 2))),
            target("p", "c", 3, None),
        ]
    };
    checker.update(targets());
    let handle_a = checker.handle(&a).unwrap();
    let handle_c = checker.handle(&key("p", "c")).unwrap();
    sleep_until(start + Duration::from_secs(15)).await;
    assert_eq!(handle_a.status().checks_passed, 2);

    // Equal content, fresh allocations: nothing restarts.
    checker.update(targets());
    sleep_until(start + Duration::from_secs(19)).await;
    let secs = |address| -> Vec<u64> {
        probe
            .attempts(address)
            .iter()
            .map(|at: &Instant| at.duration_since(start).as_secs())
            .collect()
    };
    assert_eq!(secs(addr(1)), [0, 10], "no check at the reload");
    assert_eq!(handle_a.status().checks_passed, 2, "state kept");
    sleep_until(start + Duration::from_secs(21)).await;
    assert_eq!(secs(addr(1)), [0, 10, 20], "schedule kept");

    // b's monitor changes (restarts at once); c moves to another address (a new origin).
    let mut changed = targets();
    changed[1].monitor = Some(Arc::new(monitor(7, 2, 0, 2, 2)));
    changed[2].address = addr(9);
    let before = events.lock().unwrap().len();
    checker.update(changed);
    settle().await;
    assert_eq!(secs(addr(2)), [0, 10, 20, 21], "restarted at once");
    assert_eq!(active(&checker, &key("p", "b")), ActiveState::Healthy);
    let restart_events: Vec<String> = events.lock().unwrap()[before..]
        .iter()
        .map(|e| format!("{} {:?}->{:?}", e.key, e.previous_active, e.active))
        .collect();
    assert_eq!(
        restart_events,
        ["ns/p/b Healthy->Unknown", "ns/p/b Unknown->Healthy",]
    );
    assert_eq!(checker.handle(&key("p", "c")).unwrap().address(), addr(9));
    assert_eq!(handle_c.address(), addr(3), "the old handle is detached");
    sleep_until(start + Duration::from_secs(29)).await;
    assert_eq!(secs(addr(2)), [0, 10, 20, 21, 28]);
}

#[tokio::test(start_paused = true)]
async fn removed_origins_stop() {
    let probe = Arc::new(FakeProbe::default());
    let (checker, _events) = checker(&probe);
    let start = Instant::now();
    checker.update(vec![
        target("p", "a", 1, Some(monitor(10, 2, 0, 1, 1))),
        target("q", "b", 2, Some(monitor(10, 2, 0, 1, 1))),
    ]);
    sleep_until(start + Duration::from_secs(11)).await;
    checker.update(vec![target("q", "b", 2, Some(monitor(10, 2, 0, 1, 1)))]);
    sleep_until(start + Duration::from_secs(60)).await;
    assert_eq!(probe.attempts(addr(1)).len(), 2);
    assert_eq!(probe.attempts(addr(2)).len(), 6);
    assert!(checker.status(&key("p", "a")).is_none());
    assert!(checker.pool_health(&PoolId::new("ns", "p")).is_none());
    assert_eq!(checker.len(), 1);
    checker.update(Vec::new());
    sleep_until(start + Duration::from_secs(100)).await;
    assert_eq!(probe.attempts(addr(2)).len(), 6);
    assert!(checker.is_empty());
    assert!(checker.snapshot().is_empty());
}

#[tokio::test(start_paused = true)]
async fn dropping_the_checker_stops_its_tasks() {
    let probe = Arc::new(FakeProbe::default());
    let (checker, _events) = checker(&probe);
    let start = Instant::now();
    checker.update(vec![target("p", "a", 1, Some(monitor(10, 2, 0, 1, 1)))]);
    sleep_until(start + Duration::from_secs(11)).await;
    drop(checker);
    sleep_until(start + Duration::from_secs(60)).await;
    assert_eq!(probe.attempts(addr(1)).len(), 2);
}

#[tokio::test(start_paused = true)]
async fn first_checks_of_an_update_are_spread() {
    let probe = Arc::new(FakeProbe::default());
    // 1 ms per added origin, on a grid of 20 ms.
    let checker = HealthChecker::with_probe(
        CheckerOptions::default(),
        Arc::clone(&probe) as Arc<dyn Probe>,
        Arc::new(()),
    )
    .unwrap();
    let start = Instant::now();
    let targets: Vec<Target> = (0..200u8)
        .map(|i| Target {
            monitor: Some(Arc::new(monitor(5, 1, 0, 1, 1))),
            ..Target::new(
                key("p", &i.to_string()),
                SocketAddr::from(([127, 0, 1, i], 80)),
            )
        })
        .collect();
    checker.update(targets);
    sleep_until(start + Duration::from_millis(200)).await;
    settle().await;
    let attempts = probe.attempts.lock().unwrap().clone();
    assert_eq!(attempts.len(), 200, "all first checks within 200 × 1 ms");
    let mut offsets: Vec<u128> = attempts
        .iter()
        .map(|(_, at)| at.duration_since(start).as_millis())
        .collect();
    offsets.sort_unstable();
    offsets.dedup();
    assert!(
        offsets.iter().all(|ms| ms % 20 == 0),
        "on the grid: {offsets:?}"
    );
    assert!(offsets.len() >= 8, "spread over the window: {offsets:?}");
}

#[tokio::test(start_paused = true)]
async fn the_snapshot_serializes_in_camel_case() {
    let probe = Arc::new(FakeProbe::default());
    probe.set(addr(1), Behaviour::Slow(Duration::from_millis(20)));
    let (checker, events) = checker(&probe);
    let mut t = target("p", "a", 1, Some(monitor(10, 2, 0, 1, 1)));
    t.outlier = outlier(1, 10, 30, 100);
    checker.update(vec![t, target("p", "b", 2, None)]);
    sleep(Duration::from_millis(30)).await;
    checker.report(&key("p", "a"), Outcome::Failure(FailureKind::Connect));
    settle().await;
    let json = serde_json::to_value(checker.snapshot()).unwrap();
    let a = &json[0];
    assert_eq!(a["key"], "ns/p/a");
    assert_eq!(a["address"], "127.0.0.1:80");
    assert_eq!(a["healthy"], false);
    assert_eq!(a["activeState"], "healthy");
    assert_eq!(a["ejected"], true);
    assert!(a["ejectedUntil"].as_str().unwrap().ends_with('Z'));
    assert!(a["lastCheck"].as_str().unwrap().ends_with('Z'));
    assert_eq!(a["lastResult"], "success");
    assert_eq!(a["rttMs"], 20.0);
    assert_eq!(a["consecutiveSuccesses"], 1);
    assert_eq!(a["consecutiveFailures"], 0);
    assert_eq!(
        a["reason"],
        "ejected for 10s: 1 consecutive failures (last: connect error)"
    );
    assert_eq!(json[1]["activeState"], "unmonitored");
    assert_eq!(json[1]["lastCheck"], serde_json::Value::Null);
    let event = serde_json::to_value(events.lock().unwrap().last().unwrap()).unwrap();
    assert_eq!(event["key"], "ns/p/a");
    assert_eq!(event["previousActive"], "healthy");
    assert_eq!(event["poolOrigins"], 2);
    assert_eq!(event["poolHealthy"], 1);
}

#[tokio::test(start_paused = true)]
async fn metrics_carry_the_same_state() {
    let probe = Arc::new(FakeProbe::default());
    probe.set(addr(2), Behaviour::Fail("down"));
    let (checker, _events) = checker(&probe);
    checker.update(vec![
        target("p", "a", 1, Some(monitor(10, 2, 0, 1, 1))),
        target("p", "b", 2, Some(monitor(10, 2, 0, 1, 1))),
    ]);
    settle().await;
    let mut registry = prometheus_client::registry::Registry::default();
    registry.register_collector(Box::new(checker.collector()));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    for line in [
        "torii_origin_healthy{pool=\"ns/p\",origin=\"a\"} 1",
        "torii_origin_healthy{pool=\"ns/p\",origin=\"b\"} 0",
        "torii_origin_active_state{pool=\"ns/p\",origin=\"b\",state=\"unhealthy\"} 1",
        "torii_origin_ejected{pool=\"ns/p\",origin=\"a\"} 0",
        "torii_origin_checks_total{pool=\"ns/p\",origin=\"b\",result=\"failure\"} 1",
        "torii_origin_ejections_total{pool=\"ns/p\",origin=\"a\"} 0",
        "torii_origin_check_rtt_seconds{pool=\"ns/p\",origin=\"a\"} 0.0",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
}
