//! Webhook delivery against a real HTTP server on 127.0.0.1.

mod support;

use std::time::Duration;
use support::{closed_port, fast_retry, stats, wait_for_outcomes, HookServer, Script, TestPki};
use torii_notify::{
    Event, EventKind, Notifier, NotifierConfig, SinkConfig, WebhookConfig, USER_AGENT,
};

fn config(sinks: Vec<SinkConfig>) -> NotifierConfig {
    NotifierConfig { sinks }
}

fn origin_down(pool: &str) -> Event {
    Event::new(
        EventKind::ORIGIN_HEALTH_CHANGED,
        format!("origin 10.0.0.7:8080 of pool {pool} is unhealthy"),
    )
    .with_load_balancer("shop")
    .with_pool(pool)
    .with_origin("10.0.0.7:8080")
    .with_change("healthy", "unhealthy")
    .with_reason("3 consecutive failed checks")
}

#[tokio::test]
async fn events_are_posted_as_json_with_the_configured_headers() {
    let server = HookServer::start(&[]).await;
    let notifier = Notifier::new(config(vec![SinkConfig::webhook(
        "ops",
        WebhookConfig::new(server.url("/hooks/torii?team=edge"))
            .with_header("Authorization", "Bearer t0ken")
            .with_header("X-Team", "edge"),
    )]))
    .expect("valid config");

    let event = origin_down("payments").with_detail("checkType", "http");
    notifier.notify(event.clone());
    let s = wait_for_outcomes(&notifier, "ops", 1).await;
    assert_eq!((s.delivered, s.retried, s.failed, s.dropped), (1, 0, 0, 0));

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, http::Method::POST);
    assert_eq!(request.path, "/hooks/torii");
    assert_eq!(request.headers["content-type"], "application/json");
    assert_eq!(request.headers["user-agent"], USER_AGENT);
    assert_eq!(USER_AGENT, concat!("torii/", env!("CARGO_PKG_VERSION")));
    assert_eq!(request.headers["authorization"], "Bearer t0ken");
    assert_eq!(request.headers["x-team"], "edge");
    let body = request.json();
    assert_eq!(body["kind"], "originHealthChanged");
    assert_eq!(body["loadBalancer"], "shop");
    assert_eq!(body["pool"], "payments");
    assert_eq!(body["origin"], "10.0.0.7:8080");
    assert_eq!(body["previous"], "healthy");
    assert_eq!(body["current"], "unhealthy");
    assert_eq!(body["reason"], "3 consecutive failed checks");
    assert_eq!(
        body["message"],
        "origin 10.0.0.7:8080 of pool payments is unhealthy"
    );
    assert_eq!(body["details"]["checkType"], "http");
    let time = body["time"].as_str().expect("time is a string");
    assert!(time.ends_with('Z') && time.contains('T'), "{time}");
    let parsed: Event = serde_json::from_slice(&request.body).expect("the body is an Event");
    assert_eq!(parsed.message, event.message);
}

#[tokio::test]
async fn server_errors_are_retried_until_delivered_once() {
    let server = HookServer::start(&[500, 500]).await;
    let notifier = Notifier::new(config(vec![SinkConfig::webhook(
        "flaky",
        WebhookConfig::new(server.url("/")),
    )
    .with_retry(fast_retry(5))]))
    .unwrap();

    notifier.notify(origin_down("payments"));
    let s = wait_for_outcomes(&notifier, "flaky", 1).await;
    assert_eq!((s.delivered, s.retried, s.failed), (1, 2, 0));
    // No further attempt after the 200.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert!(
        requests.iter().all(|r| r.body == requests[0].body),
        "every attempt sends the same body"
    );
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = HookServer::start(&[400]).await;
    let notifier = Notifier::new(config(vec![SinkConfig::webhook(
        "strict",
        WebhookConfig::new(server.url("/")),
    )
    .with_retry(fast_retry(5))]))
    .unwrap();

    notifier.notify(origin_down("payments"));
    let s = wait_for_outcomes(&notifier, "strict", 1).await;
    assert_eq!((s.delivered, s.retried, s.failed), (0, 0, 1));
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(server.count(), 1, "a 400 is not retried");

    // The sink goes on with the next event.
    notifier.notify(origin_down("search"));
    let s = wait_for_outcomes(&notifier, "strict", 2).await;
    assert_eq!((s.delivered, s.retried, s.failed), (1, 0, 1));
    assert_eq!(server.requests()[1].json()["pool"], "search");
}

#[tokio::test]
async fn request_timeout_and_too_many_requests_are_retried() {
    let server = HookServer::start(&[408, 429]).await;
    let notifier = Notifier::new(config(vec![SinkConfig::webhook(
        "busy",
        WebhookConfig::new(server.url("/")),
    )
    .with_retry(fast_retry(5))]))
    .unwrap();
    notifier.notify(origin_down("payments"));
    let s = wait_for_outcomes(&notifier, "busy", 1).await;
    assert_eq!((s.delivered, s.retried, s.failed), (1, 2, 0));
    assert_eq!(server.count(), 3);
}

#[tokio::test]
async fn attempts_are_capped() {
    let server = HookServer::start_with(Script {
        then: 503,
        ..Script::default()
    })
    .await;
    let notifier = Notifier::new(config(vec![SinkConfig::webhook(
        "down",
        WebhookConfig::new(server.url("/")),
    )
    .with_retry(fast_retry(3))]))
    .unwrap();
    notifier.notify(origin_down("payments"));
    let s = wait_for_outcomes(&notifier, "down", 1).await;
    assert_eq!((s.delivered, s.retried, s.failed), (0, 2, 1));
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(server.count(), 3, "three attempts, no more");
}

#[tokio::test]
async fn connection_errors_and_timeouts_are_retried() {
    let refused = closed_port().await;
    let silent = HookServer::start_with(Script {
        gated: true,
        ..Script::default()
    })
    .await;
    let notifier = Notifier::new(config(vec![
        SinkConfig::webhook("refused", WebhookConfig::new(format!("http://{refused}/")))
            .with_retry(fast_retry(3)),
        SinkConfig::webhook(
            "silent",
            WebhookConfig::new(silent.url("/")).with_timeout(Duration::from_millis(100)),
        )
        .with_retry(fast_retry(2)),
    ]))
    .unwrap();
    notifier.notify(origin_down("payments"));
    let s = wait_for_outcomes(&notifier, "refused", 1).await;
    assert_eq!((s.delivered, s.retried, s.failed), (0, 2, 1));
    let s = wait_for_outcomes(&notifier, "silent", 1).await;
    assert_eq!((s.delivered, s.retried, s.failed), (0, 1, 1));
    assert_eq!(silent.count(), 2, "the timed-out request was made again");
}

#[tokio::test]
async fn pool_filters_select_events_and_pool_less_events_go_everywhere() {
    let all = HookServer::start(&[]).await;
    let payments = HookServer::start(&[]).await;
    let two = HookServer::start(&[]).await;
    let notifier = Notifier::new(config(vec![
        SinkConfig::webhook("all", WebhookConfig::new(all.url("/"))),
        SinkConfig::webhook("payments", WebhookConfig::new(payments.url("/")))
            .with_pools(["payments"]),
        SinkConfig::webhook("two", WebhookConfig::new(two.url("/")))
            .with_pools(["payments", "search"]),
    ]))
    .unwrap();

    notifier.notify(origin_down("payments"));
    notifier.notify(origin_down("search"));
    notifier.notify(origin_down("video"));
    notifier.notify(
        Event::new(
            EventKind::LOAD_BALANCER_FAILOVER,
            "shop failed over from payments-eu to payments-us",
        )
        .with_load_balancer("shop")
        .with_change("payments-eu", "payments-us"),
    );

    let seen = |server: &HookServer| -> Vec<String> {
        server
            .requests()
            .iter()
            .map(|r| {
                let body = r.json();
                body["pool"]
                    .as_str()
                    .unwrap_or(body["kind"].as_str().unwrap())
                    .to_owned()
            })
            .collect()
    };
    wait_for_outcomes(&notifier, "all", 4).await;
    wait_for_outcomes(&notifier, "payments", 2).await;
    wait_for_outcomes(&notifier, "two", 3).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        seen(&all),
        ["payments", "search", "video", "loadBalancerFailover"]
    );
    assert_eq!(seen(&payments), ["payments", "loadBalancerFailover"]);
    assert_eq!(seen(&two), ["payments", "search", "loadBalancerFailover"]);
    assert!(notifier
        .stats()
        .iter()
        .all(|s| s.dropped == 0 && s.failed == 0));
}

#[tokio::test]
async fn a_full_queue_drops_and_counts_without_blocking() {
    let server = HookServer::start_with(Script {
        gated: true,
        ..Script::default()
    })
    .await;
    let notifier = Notifier::new(config(vec![SinkConfig::webhook(
        "slow",
        WebhookConfig::new(server.url("/")),
    )
    .with_queue_capacity(2)]))
    .unwrap();

    notifier.notify(origin_down("p0"));
    server.wait_for_requests(1).await; // p0 is in delivery, the queue is empty
    let started = std::time::Instant::now();
    for pool in ["p1", "p2", "p3", "p4", "p5"] {
        notifier.notify(origin_down(pool));
    }
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "notify does not wait"
    );
    let s = stats(&notifier, "slow");
    assert_eq!((s.queued, s.dropped, s.delivered), (2, 3, 0));

    server.release(100);
    let s = wait_for_outcomes(&notifier, "slow", 3).await;
    assert_eq!((s.delivered, s.dropped, s.queued), (3, 3, 0));
    let pools: Vec<_> = server
        .requests()
        .iter()
        .map(|r| r.json()["pool"].clone())
        .collect();
    assert_eq!(
        pools,
        ["p0", "p1", "p2"],
        "the oldest events are kept, in order"
    );

    // Once there is room again, events are queued again.
    notifier.notify(origin_down("p6"));
    let s = wait_for_outcomes(&notifier, "slow", 4).await;
    assert_eq!((s.delivered, s.dropped), (4, 3));
}

#[tokio::test]
async fn https_webhooks_verify_the_receiver_with_configured_cas() {
    let pki = TestPki::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config.clone());
    let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::<bytes::Bytes>::new()));
    let server = {
        let bodies = bodies.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let acceptor = acceptor.clone();
                let bodies = bodies.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(
                        move |request: hyper::Request<hyper::body::Incoming>| {
                            let bodies = bodies.clone();
                            async move {
                                use http_body_util::BodyExt;
                                let body = request.into_body().collect().await?.to_bytes();
                                bodies.lock().unwrap().push(body);
                                Ok::<_, hyper::Error>(hyper::Response::new(
                                    http_body_util::Full::new(bytes::Bytes::new()),
                                ))
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        })
    };

    let url = format!("https://127.0.0.1:{}/hook", addr.port());
    let notifier = Notifier::new(config(vec![
        SinkConfig::webhook(
            "trusted",
            WebhookConfig::new(&url).with_ca_certificates(&pki.ca_pem),
        ),
        SinkConfig::webhook("untrusted", WebhookConfig::new(&url)).with_retry(fast_retry(2)),
    ]))
    .unwrap();
    notifier.notify(origin_down("payments"));
    let s = wait_for_outcomes(&notifier, "trusted", 1).await;
    assert_eq!((s.delivered, s.failed), (1, 0));
    let s = wait_for_outcomes(&notifier, "untrusted", 1).await;
    assert_eq!(
        (s.delivered, s.failed),
        (0, 1),
        "an unknown CA is not trusted"
    );
    assert_eq!(bodies.lock().unwrap().len(), 1);
    server.abort();
}
