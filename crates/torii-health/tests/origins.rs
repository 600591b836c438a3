//! The whole checker (real probe, real time) against origins on 127.0.0.x that are started,
//! stopped, slowed and made to fail.

mod support;

use http::Method;
use std::sync::Arc;
use std::time::Duration;
use support::TestOrigin;
use tokio::sync::mpsc;
use tokio::time::Instant;
use torii_config::lb::{HealthMonitor, MonitorProtocol, OutlierDetection, StatusCodes};
use torii_config::{MonitorId, PoolId};
use torii_health::{
    ActiveState, CheckerOptions, FailureKind, HealthChange, HealthChecker, OriginKey, Outcome,
    Target,
};

fn monitor(interval_ms: u64, timeout_ms: u64, healthy: u32, unhealthy: u32) -> Arc<HealthMonitor> {
    Arc::new(HealthMonitor {
        id: MonitorId::new("ns", "web"),
        protocol: MonitorProtocol::Http,
        method: Method::GET,
        path: "/health".into(),
        port: None,
        headers: Vec::new(),
        expected_codes: StatusCodes::parse("2xx").unwrap(),
        expected_body: Some("ok".into()),
        follow_redirects: false,
        verify_tls: true,
        interval: Duration::from_millis(interval_ms),
        timeout: Duration::from_millis(timeout_ms),
        retries: 0,
        healthy_threshold: healthy,
        unhealthy_threshold: unhealthy,
    })
}

fn key(origin: &str) -> OriginKey {
    OriginKey::new(PoolId::new("ns", "web"), origin)
}

fn checker() -> (HealthChecker, mpsc::UnboundedReceiver<HealthChange>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let checker = HealthChecker::new(CheckerOptions::default(), Arc::new(tx)).unwrap();
    (checker, rx)
}

/// The next event of `origin` (others are skipped), within `within`.
async fn next_change(
    rx: &mut mpsc::UnboundedReceiver<HealthChange>,
    origin: &str,
    within: Duration,
) -> HealthChange {
    let deadline = Instant::now() + within;
    loop {
        let change = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no change of {origin} within {within:?}"))
            .expect("the checker is alive");
        if &*change.key.origin == origin {
            return change;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origins_that_fail_slow_down_stop_and_come_back() {
    let mut a = TestOrigin::start([127, 0, 0, 21]).await;
    let b = TestOrigin::start([127, 0, 0, 22]).await;
    let (checker, mut rx) = checker();
    let web = monitor(100, 80, 2, 2);
    let target = |name: &str, origin: &TestOrigin| Target {
        monitor: Some(Arc::clone(&web)),
        ..Target::new(key(name), origin.address)
    };
    checker.update(vec![target("a", &a), target("b", &b)]);
    let second = Duration::from_secs(2);

    let change = next_change(&mut rx, "a", second).await;
    assert_eq!(
        (change.previous_active, change.active),
        (ActiveState::Unknown, ActiveState::Healthy)
    );
    assert_eq!(&*change.reason, "check passed");
    assert!(change.rtt.is_some());

    // Made to fail.
    a.set_status(503);
    let change = next_change(&mut rx, "a", second).await;
    assert!(change.flipped() && !change.healthy);
    assert_eq!(&*change.reason, "status 503 not in 2xx");
    assert_eq!((change.pool_healthy, change.pool_origins), (1, 2));
    a.set_status(200);
    let change = next_change(&mut rx, "a", second).await;
    assert!(change.flipped() && change.healthy);
    assert_eq!(&*change.reason, "2 consecutive checks passed");

    // Slowed beyond the timeout.
    a.set_delay(Duration::from_millis(300));
    let change = next_change(&mut rx, "a", second).await;
    assert!(!change.healthy);
    assert_eq!(&*change.reason, "timeout after 80ms");
    a.set_delay(Duration::ZERO);
    assert!(next_change(&mut rx, "a", second).await.healthy);

    // Body no longer matching.
    a.set_body("maintenance");
    let change = next_change(&mut rx, "a", second).await;
    assert_eq!(&*change.reason, "body does not contain \"ok\"");
    a.set_body("OK");
    assert!(next_change(&mut rx, "a", second).await.healthy);

    // Stopped, then started again.
    a.stop().await;
    let change = next_change(&mut rx, "a", second).await;
    assert!(!change.healthy);
    assert_eq!(&*change.reason, "connect refused");
    let status = checker.status(&key("a")).unwrap();
    assert_eq!(status.active_state, ActiveState::Unhealthy);
    assert_eq!(status.reason.as_deref(), Some("connect refused"));
    assert!(status.consecutive_failures >= 2);
    a.restart().await;
    assert!(next_change(&mut rx, "a", second).await.healthy);

    // b never moved.
    let b_status = checker.status(&key("b")).unwrap();
    assert!(b_status.healthy);
    assert_eq!(b_status.checks_failed, 0);
    assert!(b_status.rtt.is_some() && b_status.smoothed_rtt.is_some());
    assert!(b_status.checks_passed > 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_origin_is_taken_out_within_one_interval() {
    let mut origin = TestOrigin::start([127, 0, 0, 23]).await;
    let (checker, mut rx) = checker();
    let interval = Duration::from_millis(300);
    checker.update(vec![Target {
        monitor: Some(monitor(300, 200, 1, 1)),
        ..Target::new(key("a"), origin.address)
    }]);
    assert!(
        next_change(&mut rx, "a", Duration::from_secs(2))
            .await
            .healthy
    );
    origin.stop().await;
    let stopped = Instant::now();
    let change = next_change(&mut rx, "a", Duration::from_secs(2)).await;
    let took = stopped.elapsed();
    assert!(!change.healthy);
    assert!(
        took <= interval + Duration::from_millis(150),
        "took {took:?}"
    );
    assert_eq!(checker.is_healthy(&key("a")), Some(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_requests_eject_an_origin_until_its_time_is_up() {
    let origin = TestOrigin::start([127, 0, 0, 24]).await;
    let other = TestOrigin::start([127, 0, 0, 25]).await;
    let (checker, mut rx) = checker();
    let outlier = OutlierDetection {
        consecutive_failures: 5,
        base_ejection: Duration::from_millis(300),
        max_ejection: Duration::from_secs(5),
        max_ejected_percent: 50,
    };
    checker.update(vec![
        Target {
            monitor: Some(monitor(100, 80, 1, 1)),
            outlier,
            ..Target::new(key("a"), origin.address)
        },
        Target {
            outlier,
            ..Target::new(key("b"), other.address)
        },
    ]);
    next_change(&mut rx, "a", Duration::from_secs(2)).await;
    let handle = checker.handle(&key("a")).unwrap();
    let started = Instant::now();
    for _ in 0..5 {
        handle.report(Outcome::Failure(FailureKind::Reset));
    }
    let change = next_change(&mut rx, "a", Duration::from_secs(1)).await;
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "ejected at once"
    );
    assert!(change.ejected && !change.healthy);
    assert!(!handle.is_healthy());
    assert_eq!(
        &*change.reason,
        "ejected for 300ms: 5 consecutive failures (last: connection reset)"
    );
    // b is the pool's other half: 50% of 2 is 1, so it stays in.
    let b = checker.handle(&key("b")).unwrap();
    for _ in 0..5 {
        b.report(Outcome::Failure(FailureKind::Connect));
    }
    let change = next_change(&mut rx, "a", Duration::from_secs(2)).await;
    assert_eq!(&*change.reason, "ejection ended");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(handle.is_healthy());
    assert!(!b.is_ejected());
}
