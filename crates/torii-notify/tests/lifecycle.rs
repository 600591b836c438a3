//! Config validation, reloads, shutdown, and what the logs may contain.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{fast_retry, stats, wait_for_outcomes, wait_until, HookServer, Script};
use torii_notify::{
    Event, EventKind, InvalidNotifier, Notifier, NotifierConfig, RetryPolicy, SinkConfig,
    WebhookConfig,
};

fn config(sinks: Vec<SinkConfig>) -> NotifierConfig {
    NotifierConfig { sinks }
}

fn event(n: u32) -> Event {
    Event::new(EventKind::POOL_HEALTH_CHANGED, format!("event {n}")).with_detail("n", n.to_string())
}

fn numbers(server: &HookServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r| r.json()["details"]["n"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn invalid_configurations_are_refused_with_the_sink_named() {
    let hook = |name: &str, url: &str| SinkConfig::webhook(name, WebhookConfig::new(url));
    let cases: Vec<(NotifierConfig, &str)> = vec![
        (
            config(vec![hook("", "http://127.0.0.1/")]),
            "sink #0 has an empty name",
        ),
        (
            config(vec![
                hook("a", "http://127.0.0.1/"),
                hook("a", "http://127.0.0.1/"),
            ]),
            "\"a\" is used more than once",
        ),
        (
            config(vec![hook("ops", "gopher://127.0.0.1/")]),
            "sink \"ops\": the webhook URL scheme must be http or https",
        ),
        (
            config(vec![hook("ops", "http://127.0.0.1/").with_queue_capacity(0)]),
            "queueCapacity must be between 1",
        ),
        (
            config(vec![hook("ops", "http://127.0.0.1/").with_retry(
                RetryPolicy {
                    attempts: 0,
                    ..RetryPolicy::default()
                },
            )]),
            "retry attempts must be between 1",
        ),
        (
            config(vec![hook("ops", "http://127.0.0.1/").with_retry(
                RetryPolicy {
                    initial_backoff: Duration::from_secs(10),
                    max_backoff: Duration::from_secs(1),
                    ..RetryPolicy::default()
                },
            )]),
            "initialBackoff",
        ),
        (
            config(vec![hook("ops", "http://127.0.0.1/").with_pools([""])]),
            "pool names",
        ),
    ];
    for (config, want) in cases {
        let error = Notifier::new(config).expect_err(want);
        assert!(error.to_string().contains(want), "{error} lacks {want:?}");
    }
    assert!(Notifier::new(NotifierConfig::default())
        .unwrap()
        .stats()
        .is_empty());
}

#[tokio::test]
async fn a_rejected_update_changes_nothing() {
    let server = HookServer::start(&[]).await;
    let good = config(vec![SinkConfig::webhook(
        "ops",
        WebhookConfig::new(server.url("/")),
    )]);
    let notifier = Notifier::new(good.clone()).unwrap();
    let mut bad = good.clone();
    bad.sinks.push(bad.sinks[0].clone());
    assert!(matches!(
        notifier.update(bad),
        Err(InvalidNotifier::DuplicateName { name }) if name == "ops"
    ));
    notifier.notify(event(1));
    wait_for_outcomes(&notifier, "ops", 1).await;
    assert_eq!(numbers(&server), ["1"]);
}

#[tokio::test]
async fn a_reload_keeps_unchanged_sinks_and_hands_changed_ones_their_events() {
    let broken = HookServer::start_with(Script {
        then: 503,
        ..Script::default()
    })
    .await;
    let fixed = HookServer::start(&[]).await;
    let steady = HookServer::start(&[]).await;
    let retry = RetryPolicy {
        attempts: 100,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(20),
    };
    let steady_sink = SinkConfig::webhook("steady", WebhookConfig::new(steady.url("/")));
    let notifier = Notifier::new(config(vec![
        SinkConfig::webhook("moving", WebhookConfig::new(broken.url("/"))).with_retry(retry),
        steady_sink.clone(),
    ]))
    .unwrap();

    notifier.notify(event(1));
    notifier.notify(event(2));
    broken.wait_for_requests(2).await; // event 1 is being retried, event 2 waits
    wait_for_outcomes(&notifier, "steady", 2).await;
    let retried_before = stats(&notifier, "moving").retried;
    assert!(retried_before >= 1);

    notifier
        .update(config(vec![
            SinkConfig::webhook("moving", WebhookConfig::new(fixed.url("/"))).with_retry(retry),
            steady_sink,
        ]))
        .unwrap();
    notifier.notify(event(3));

    let s = wait_for_outcomes(&notifier, "moving", 3).await;
    assert_eq!((s.delivered, s.failed, s.dropped), (3, 0, 0));
    assert!(s.retried >= retried_before, "counters survive the reload");
    assert_eq!(
        numbers(&fixed),
        ["1", "2", "3"],
        "pending and queued events follow the sink, in order"
    );
    wait_for_outcomes(&notifier, "steady", 3).await;
    assert_eq!(
        numbers(&steady),
        ["1", "2", "3"],
        "the unchanged sink saw each event once"
    );
    let broken_requests = broken.count();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        broken.count(),
        broken_requests,
        "the old settings are no longer used"
    );
}

#[tokio::test]
async fn a_removed_sink_stops_and_drops_its_queue() {
    let server = HookServer::start_with(Script {
        gated: true,
        ..Script::default()
    })
    .await;
    let notifier = Notifier::new(config(vec![SinkConfig::webhook(
        "gone",
        WebhookConfig::new(server.url("/")),
    )]))
    .unwrap();
    notifier.notify(event(1));
    notifier.notify(event(2));
    server.wait_for_requests(1).await;
    notifier.update(NotifierConfig::default()).unwrap();
    assert!(notifier.stats().is_empty());
    notifier.notify(event(3));
    server.release(10);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(numbers(&server), ["1"], "nothing is sent after removal");
}

#[tokio::test]
async fn shutdown_delivers_what_is_queued() {
    let server = HookServer::start_with(Script {
        delay: Duration::from_millis(30),
        ..Script::default()
    })
    .await;
    let notifier = Notifier::new(config(vec![SinkConfig::webhook(
        "ops",
        WebhookConfig::new(server.url("/")),
    )]))
    .unwrap();
    for n in 1..=5 {
        notifier.notify(event(n));
    }
    let report = notifier.shutdown(Duration::from_secs(10)).await;
    assert!(!report.timed_out);
    assert_eq!(report.abandoned, 0);
    assert_eq!(report.sinks.len(), 1);
    assert_eq!(
        (report.sinks[0].name.as_str(), report.sinks[0].delivered),
        ("ops", 5)
    );
    assert_eq!(numbers(&server), ["1", "2", "3", "4", "5"]);

    notifier.notify(event(6));
    assert!(notifier.stats().is_empty());
    notifier
        .update(config(vec![SinkConfig::webhook(
            "ops",
            WebhookConfig::new(server.url("/")),
        )]))
        .unwrap();
    assert!(
        notifier.stats().is_empty(),
        "updates after shutdown are ignored"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.count(), 5);
}

#[tokio::test]
async fn shutdown_gives_up_at_its_deadline() {
    let server = HookServer::start_with(Script {
        then: 503,
        ..Script::default()
    })
    .await;
    let notifier = Notifier::new(config(vec![SinkConfig::webhook(
        "down",
        WebhookConfig::new(server.url("/")),
    )
    .with_retry(RetryPolicy {
        attempts: 5,
        initial_backoff: Duration::from_secs(5),
        max_backoff: Duration::from_secs(5),
    })]))
    .unwrap();
    for n in 1..=3 {
        notifier.notify(event(n));
    }
    server.wait_for_requests(1).await;
    let started = std::time::Instant::now();
    let report = notifier.shutdown(Duration::from_millis(200)).await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert!(report.timed_out);
    assert_eq!(report.abandoned, 3);
    assert_eq!((report.sinks[0].dropped, report.sinks[0].delivered), (3, 0));
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

// One thread: the subscriber set for this test sees the sinks' tasks too.
#[tokio::test(flavor = "current_thread")]
async fn logs_name_the_sink_but_never_its_secrets() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let flaky = HookServer::start(&[500, 401]).await;
    let slow = HookServer::start_with(Script {
        gated: true,
        ..Script::default()
    })
    .await;
    let secret_url =
        |server: &HookServer| server.url("/services/T0/B0/url-t0ken-123?sig=q-secret-456");
    let notifier = Notifier::new(config(vec![
        SinkConfig::webhook(
            "chat",
            WebhookConfig::new(secret_url(&flaky))
                .with_header("Authorization", "Bearer hdr-secret-789"),
        )
        .with_retry(fast_retry(5)),
        SinkConfig::webhook(
            "slow",
            WebhookConfig::new(secret_url(&slow)).with_header("X-Api-Key", "key-secret-000"),
        )
        .with_queue_capacity(1),
    ]))
    .unwrap();
    for n in 1..=4 {
        notifier.notify(event(n));
    }
    wait_for_outcomes(&notifier, "chat", 4).await;
    wait_until("the slow sink to drop", || {
        stats(&notifier, "slow").dropped > 0
    })
    .await;
    slow.release(100);
    notifier.update(NotifierConfig::default()).unwrap();
    notifier.shutdown(Duration::from_secs(1)).await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for expected in [
        "notification delivery failed, will retry",
        "notification delivery failed, giving up",
        "notification queue full, dropping events",
        "sink=chat",
        "sink=slow",
        "code=500",
        "code=401",
    ] {
        assert!(logs.contains(expected), "{expected:?} not logged:\n{logs}");
    }
    for secret in [
        "url-t0ken-123",
        "q-secret-456",
        "hdr-secret-789",
        "key-secret-000",
        "services/T0",
    ] {
        assert!(!logs.contains(secret), "{secret:?} logged:\n{logs}");
    }
}
