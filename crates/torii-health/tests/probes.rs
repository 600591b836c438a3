//! The network probe against real origins on 127.0.0.x.

mod support;

use http::{HeaderName, HeaderValue, Method};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use support::{Ca, TestOrigin};
use torii_config::lb::{HealthMonitor, MonitorProtocol, StatusCodes};
use torii_config::MonitorId;
use torii_health::{CheckError, NetProbe, Probe, ProbeOptions, ProbeTarget};

fn monitor(protocol: MonitorProtocol) -> HealthMonitor {
    HealthMonitor {
        id: MonitorId::new("ns", "monitor"),
        protocol,
        method: Method::GET,
        path: "/health".into(),
        port: None,
        headers: Vec::new(),
        expected_codes: StatusCodes::parse("2xx").unwrap(),
        expected_body: None,
        follow_redirects: false,
        verify_tls: true,
        interval: Duration::from_secs(5),
        timeout: Duration::from_secs(2),
        retries: 0,
        healthy_threshold: 1,
        unhealthy_threshold: 1,
    }
}

fn probe() -> NetProbe {
    NetProbe::new(ProbeOptions::default()).unwrap()
}

async fn check(
    probe: &NetProbe,
    address: SocketAddr,
    monitor: HealthMonitor,
) -> Result<(), CheckError> {
    check_host(probe, address, monitor, None).await
}

async fn check_host(
    probe: &NetProbe,
    address: SocketAddr,
    monitor: HealthMonitor,
    host: Option<&'static str>,
) -> Result<(), CheckError> {
    let target = ProbeTarget::new(
        address,
        Arc::new(monitor),
        host.map(HeaderValue::from_static),
    );
    check_target(probe, &target).await
}

async fn check_target(probe: &NetProbe, target: &ProbeTarget) -> Result<(), CheckError> {
    tokio::time::timeout(Duration::from_secs(10), probe.check(target))
        .await
        .expect("the probe answers")
}

#[tokio::test]
async fn status_codes_are_judged_against_the_expected_set() {
    let origin = TestOrigin::start([127, 0, 0, 11]).await;
    let probe = probe();
    let http = || monitor(MonitorProtocol::Http);
    assert_eq!(check(&probe, origin.address, http()).await, Ok(()));

    origin.set_status(503);
    assert_eq!(
        check(&probe, origin.address, http()).await,
        Err(CheckError::Status {
            status: 503,
            expected: "2xx".into()
        })
    );
    assert_eq!(
        check(&probe, origin.address, http())
            .await
            .unwrap_err()
            .to_string(),
        "status 503 not in 2xx"
    );

    let listed = || HealthMonitor {
        expected_codes: StatusCodes::parse("200,301-302").unwrap(),
        ..http()
    };
    origin.set_status(302);
    assert_eq!(check(&probe, origin.address, listed()).await, Ok(()));
    origin.set_status(204);
    assert_eq!(
        check(&probe, origin.address, listed())
            .await
            .unwrap_err()
            .to_string(),
        "status 204 not in 200,301-302"
    );
}

#[tokio::test]
async fn the_body_must_contain_the_expected_text_in_any_case() {
    let origin = TestOrigin::start([127, 0, 0, 12]).await;
    let probe = probe();
    let expecting = |text: &str| HealthMonitor {
        expected_body: Some(text.to_string()),
        ..monitor(MonitorProtocol::Http)
    };
    origin.set_body("{\"status\": \"Service is UP and OK\"}");
    assert_eq!(
        check(&probe, origin.address, expecting("up and ok")).await,
        Ok(())
    );
    assert_eq!(
        check(&probe, origin.address, expecting("ready"))
            .await
            .unwrap_err()
            .to_string(),
        "body does not contain \"ready\""
    );

    // Only the first 64 KiB are searched.
    origin.set_body(&format!("{}marker", "x".repeat(10 * 1024)));
    assert_eq!(
        check(&probe, origin.address, expecting("marker")).await,
        Ok(())
    );
    origin.set_body(&format!("{}marker", "x".repeat(100 * 1024)));
    assert_eq!(
        check(&probe, origin.address, expecting("marker")).await,
        Err(CheckError::Body("marker".into()))
    );

    // A body that is fine does not save a bad status.
    origin.set_body("ok");
    origin.set_status(500);
    assert!(matches!(
        check(&probe, origin.address, expecting("ok")).await,
        Err(CheckError::Status { status: 500, .. })
    ));
}

#[tokio::test]
async fn the_request_carries_method_path_headers_and_host() {
    let origin = TestOrigin::start([127, 0, 0, 13]).await;
    let probe = probe();
    let with_headers = HealthMonitor {
        method: Method::HEAD,
        path: "/status?full=1".into(),
        headers: vec![
            (
                http::header::HOST,
                HeaderValue::from_static("health.example"),
            ),
            (
                HeaderName::from_static("x-probe"),
                HeaderValue::from_static("torii"),
            ),
        ],
        ..monitor(MonitorProtocol::Http)
    };
    assert_eq!(
        check_host(
            &probe,
            origin.address,
            with_headers,
            Some("override.example")
        )
        .await,
        Ok(())
    );
    let seen = origin.seen();
    assert_eq!(seen[0].method, "HEAD");
    assert_eq!(seen[0].path, "/status?full=1");
    assert_eq!(
        seen[0].host.as_deref(),
        Some("health.example"),
        "the monitor's Host wins"
    );
    assert!(seen[0]
        .headers
        .contains(&("x-probe".into(), "torii".into())));
    assert!(seen[0]
        .headers
        .contains(&("user-agent".into(), "torii-health".into())));

    origin.clear_seen();
    let plain = || monitor(MonitorProtocol::Http);
    check_host(&probe, origin.address, plain(), Some("override.example"))
        .await
        .unwrap();
    check(&probe, origin.address, plain()).await.unwrap();
    let seen = origin.seen();
    assert_eq!(
        seen[0].host.as_deref(),
        Some("override.example"),
        "then the origin's"
    );
    assert_eq!(
        seen[1].host,
        Some(origin.address.to_string()),
        "then the address"
    );
}

#[tokio::test]
async fn redirects_are_followed_to_the_same_origin() {
    let origin = TestOrigin::start([127, 0, 0, 14]).await;
    let probe = probe();
    origin.redirect("/health", "/moved");
    origin.redirect("/moved", "http://other.example/final");
    let following = || HealthMonitor {
        follow_redirects: true,
        expected_body: Some("ok".into()),
        ..monitor(MonitorProtocol::Http)
    };
    assert_eq!(check(&probe, origin.address, following()).await, Ok(()));
    let hops: Vec<(String, Option<String>)> = origin
        .seen()
        .into_iter()
        .map(|seen| (seen.path, seen.host))
        .collect();
    let address = origin.address.to_string();
    assert_eq!(
        hops,
        [
            ("/health".to_string(), Some(address.clone())),
            ("/moved".to_string(), Some(address)),
            ("/final".to_string(), Some("other.example".to_string())),
        ]
    );

    // Not following: the 302 itself is judged.
    assert_eq!(
        check(&probe, origin.address, monitor(MonitorProtocol::Http))
            .await
            .unwrap_err()
            .to_string(),
        "status 302 not in 2xx"
    );

    // A loop ends after the limit.
    origin.redirect("/final", "/health");
    assert_eq!(
        check(&probe, origin.address, following())
            .await
            .unwrap_err()
            .to_string(),
        "redirect not followed: more than 5 redirects"
    );
}

#[tokio::test]
async fn a_stopped_origin_refuses_and_a_restarted_one_passes() {
    let mut origin = TestOrigin::start([127, 0, 0, 15]).await;
    let probe = probe();
    for protocol in [MonitorProtocol::Tcp, MonitorProtocol::Http] {
        assert_eq!(
            check(&probe, origin.address, monitor(protocol)).await,
            Ok(())
        );
    }
    origin.stop().await;
    for protocol in [MonitorProtocol::Tcp, MonitorProtocol::Http] {
        let error = check(&probe, origin.address, monitor(protocol))
            .await
            .unwrap_err();
        assert_eq!(error, CheckError::ConnectRefused);
        assert_eq!(error.to_string(), "connect refused");
    }
    origin.restart().await;
    assert_eq!(
        check(&probe, origin.address, monitor(MonitorProtocol::Http)).await,
        Ok(())
    );
}

#[tokio::test]
async fn the_monitor_port_replaces_the_origin_port() {
    let origin = TestOrigin::start([127, 0, 0, 16]).await;
    let checker_target = torii_health::Target {
        monitor: Some(Arc::new(HealthMonitor {
            port: Some(origin.address.port()),
            ..monitor(MonitorProtocol::Tcp)
        })),
        ..torii_health::Target::new(
            torii_health::OriginKey::new(torii_config::PoolId::new("ns", "p"), "a"),
            SocketAddr::from(([127, 0, 0, 16], 1)),
        )
    };
    assert_eq!(checker_target.check_address(), origin.address);
}

#[tokio::test]
async fn https_validates_certificates_unless_told_not_to() {
    let self_signed =
        TestOrigin::start_tls([127, 0, 0, 17], support::self_signed(&["origin.test"])).await;
    let probe = probe();
    let https = || HealthMonitor {
        headers: vec![(http::header::HOST, HeaderValue::from_static("origin.test"))],
        expected_body: Some("OK".into()),
        ..monitor(MonitorProtocol::Https)
    };
    let error = check(&probe, self_signed.address, https())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CheckError::Tls(reason) if reason.contains("UnknownIssuer")),
        "{error}"
    );
    assert!(error
        .to_string()
        .starts_with("tls handshake failed: invalid peer certificate"));
    let lenient = HealthMonitor {
        verify_tls: false,
        ..https()
    };
    assert_eq!(check(&probe, self_signed.address, lenient).await, Ok(()));

    // A private CA, trusted through the probe's options: validation on, and it passes.
    let ca = Ca::new();
    let private = TestOrigin::start_tls([127, 0, 0, 18], ca.server(&["origin.test"])).await;
    let trusting = NetProbe::new(ProbeOptions {
        extra_roots: vec![ca.root()],
        ..ProbeOptions::default()
    })
    .unwrap();
    assert_eq!(check(&trusting, private.address, https()).await, Ok(()));
    let seen = private.seen();
    assert_eq!(seen[0].host.as_deref(), Some("origin.test"));
    // The default probe does not know the CA.
    assert!(matches!(
        check(&probe, private.address, https()).await,
        Err(CheckError::Tls(_))
    ));
    // The name is checked too: SNI and validation follow the Host.
    let wrong_name = HealthMonitor {
        headers: vec![(http::header::HOST, HeaderValue::from_static("other.test"))],
        ..https()
    };
    let error = check(&trusting, private.address, wrong_name)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CheckError::Tls(reason) if reason.contains("not valid for name")),
        "{error}"
    );
    // The origin's host override is the name when the monitor sets no Host.
    let no_host = HealthMonitor {
        headers: Vec::new(),
        ..https()
    };
    assert_eq!(
        check_host(&trusting, private.address, no_host, Some("origin.test:443")).await,
        Ok(())
    );
}

#[tokio::test]
async fn connections_are_kept_between_checks_and_replaced_when_closed() {
    let mut origin = TestOrigin::start([127, 0, 0, 19]).await;
    let probe = probe();
    let target = ProbeTarget::new(
        origin.address,
        Arc::new(HealthMonitor {
            expected_body: Some("ok".into()),
            ..monitor(MonitorProtocol::Http)
        }),
        None,
    );
    for _ in 0..3 {
        assert_eq!(check_target(&probe, &target).await, Ok(()));
    }
    assert_eq!(origin.accepted(), 1, "one connection for three checks");
    assert_eq!(probe.kept_connections(), 1);
    assert_eq!(origin.seen().len(), 3);
    assert!(origin.seen()[0]
        .headers
        .iter()
        .all(|(name, _)| name != "connection"));

    // The origin restarts: the kept connection is gone, the next check opens another and
    // passes.
    origin.restart().await;
    assert_eq!(check_target(&probe, &target).await, Ok(()));
    assert_eq!(origin.accepted(), 2);
    // A failed status keeps the connection too (the exchange completed).
    origin.set_status(503);
    assert!(check_target(&probe, &target).await.is_err());
    origin.set_status(200);
    assert_eq!(check_target(&probe, &target).await, Ok(()));
    assert_eq!(origin.accepted(), 2);

    // Stopped: the kept connection dies (its end arrives while it is idle) and a new one is
    // refused.
    origin.stop().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        check_target(&probe, &target).await,
        Err(CheckError::ConnectRefused)
    );
    assert_eq!(probe.kept_connections(), 0);

    // Without reuse, every check has its own connection and says so.
    let fresh = TestOrigin::start([127, 0, 0, 19]).await;
    let no_reuse = NetProbe::new(ProbeOptions {
        reuse_connections: false,
        ..ProbeOptions::default()
    })
    .unwrap();
    let target = ProbeTarget::new(
        fresh.address,
        Arc::new(monitor(MonitorProtocol::Http)),
        None,
    );
    for _ in 0..2 {
        assert_eq!(check_target(&no_reuse, &target).await, Ok(()));
    }
    assert_eq!(fresh.accepted(), 2);
    assert!(fresh.seen()[0]
        .headers
        .contains(&("connection".into(), "close".into())));

    // Past the limit of kept connections, checks open their own.
    let limited = NetProbe::new(ProbeOptions {
        max_kept_connections: Some(1),
        ..ProbeOptions::default()
    })
    .unwrap();
    let first = ProbeTarget::new(
        fresh.address,
        Arc::new(monitor(MonitorProtocol::Http)),
        None,
    );
    let second = ProbeTarget::new(
        fresh.address,
        Arc::new(monitor(MonitorProtocol::Http)),
        None,
    );
    for _ in 0..2 {
        assert_eq!(check_target(&limited, &first).await, Ok(()));
        assert_eq!(check_target(&limited, &second).await, Ok(()));
    }
    assert_eq!(
        fresh.accepted(),
        2 + 3,
        "first keeps its connection, second cannot"
    );
    assert_eq!(limited.kept_connections(), 1);
    drop(first);
    assert_eq!(
        limited.kept_connections(),
        0,
        "a dropped target closes its connection"
    );
}

#[tokio::test]
async fn https_connections_are_kept_for_the_same_name() {
    let ca = Ca::new();
    let origin = TestOrigin::start_tls([127, 0, 0, 20], ca.server(&["a.test", "b.test"])).await;
    let probe = NetProbe::new(ProbeOptions {
        extra_roots: vec![ca.root()],
        ..ProbeOptions::default()
    })
    .unwrap();
    let target = |host: &'static str| {
        ProbeTarget::new(
            origin.address,
            Arc::new(monitor(MonitorProtocol::Https)),
            Some(HeaderValue::from_static(host)),
        )
    };
    let a = target("a.test");
    for _ in 0..3 {
        assert_eq!(check_target(&probe, &a).await, Ok(()));
    }
    assert_eq!(origin.accepted(), 1);
    // A redirect to another name needs a connection with that name.
    origin.redirect("/health", "https://b.test/health-b");
    let following = ProbeTarget::new(
        origin.address,
        Arc::new(HealthMonitor {
            follow_redirects: true,
            ..monitor(MonitorProtocol::Https)
        }),
        Some(HeaderValue::from_static("a.test")),
    );
    assert_eq!(check_target(&probe, &following).await, Ok(()));
    assert_eq!(origin.accepted(), 3, "one per name");
    let hosts: Vec<Option<String>> = origin.seen().into_iter().map(|seen| seen.host).collect();
    assert_eq!(hosts.last().unwrap().as_deref(), Some("b.test"));
}
