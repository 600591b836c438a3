//! The admin server: /readyz, /healthz, /metrics after traffic, /api/v1/status and
//! /api/v1/config.

use crate::support::client::{Conn, Proto};
use crate::support::{free_port, loopback, yaml, Backend, Torii};
use http::StatusCode;
use serde_json::Value;
use std::net::SocketAddr;

/// The status of condition `type_` in a list of conditions.
fn condition<'a>(conditions: &'a Value, type_: &str) -> Option<&'a str> {
    conditions.as_array()?.iter().find(|c| c["type"] == type_)?["status"].as_str()
}

/// The value of the metric line starting with `prefix` (name and labels).
fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(prefix))
        .and_then(|rest| rest.trim().parse().ok())
}

#[tokio::test]
async fn admin_endpoints_report_health_metrics_and_status() {
    let ip = loopback();
    let echo = Backend::start("echo", ip).await;
    let port = free_port(ip);
    let yaml = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", port)]),
        yaml::service("echo", &[echo.addr]),
        yaml::http_route("app", "gw", &["app.test"], &yaml::prefix_rule("/", "echo")),
    ]);
    let torii = Torii::start(ip, &yaml).await;

    assert_eq!(torii.admin_get("/readyz").await.expect("readyz").0, 200);
    let (code, body) = torii.admin_get("/healthz").await.expect("healthz");
    assert_eq!((code, body.as_str()), (200, "ok\n"));

    let mut conn = Conn::connect(SocketAddr::new(ip, port), Proto::H1)
        .await
        .expect("connect");
    for _ in 0..3 {
        assert_eq!(conn.get("app.test", "/ok").await.status, StatusCode::OK);
    }
    assert_eq!(
        conn.get("app.test", "/status/503").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        conn.get("other.test", "/").await.status,
        StatusCode::NOT_FOUND
    );

    let metrics = torii.metrics().await;
    let labels = r#"gateway="default/gw",route="default/app",backend="default/echo:80""#;
    assert_eq!(
        metric(
            &metrics,
            &format!("torii_requests_total{{{labels},class=\"2xx\"}}")
        ),
        Some(3.0),
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            &format!("torii_requests_total{{{labels},class=\"5xx\"}}")
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            r#"torii_requests_total{gateway="none",route="none",backend="none",class="4xx"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    assert!(
        metrics.contains("torii_request_duration_seconds_bucket{"),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "torii_snapshot_generation "),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "torii_open_connections "),
        Some(1.0),
        "{metrics}"
    );

    let status = torii.status().await;
    assert_eq!(status["generation"], 1);
    let gateway = &status["gateways"][0];
    assert_eq!(gateway["gateway"]["name"], "gw", "{status:#}");
    assert_eq!(
        condition(&gateway["conditions"], "Accepted"),
        Some("True"),
        "{status:#}"
    );
    assert_eq!(
        condition(&gateway["conditions"], "Programmed"),
        Some("True"),
        "{status:#}"
    );
    let listener = &gateway["listeners"][0];
    assert_eq!(listener["attachedRoutes"], 1, "{status:#}");
    assert_eq!(
        condition(&listener["conditions"], "Programmed"),
        Some("True"),
        "{status:#}"
    );
    let route = &status["routes"][0];
    assert_eq!(route["route"]["name"], "app", "{status:#}");
    let parent = &route["parents"][0]["conditions"];
    assert_eq!(condition(parent, "Accepted"), Some("True"), "{status:#}");
    assert_eq!(
        condition(parent, "ResolvedRefs"),
        Some("True"),
        "{status:#}"
    );

    let (code, body) = torii.admin_get("/api/v1/config").await.expect("config");
    assert_eq!(code, 200);
    let config: Value = serde_json::from_str(&body).expect("config is JSON");
    assert_eq!(config["generation"], 1);
    assert_eq!(
        config["ports"][0]["address"],
        format!("{ip}:{port}"),
        "{config:#}"
    );
    assert_eq!(
        config["backends"][0]["endpoints"][0],
        echo.addr.to_string(),
        "{config:#}"
    );
}
