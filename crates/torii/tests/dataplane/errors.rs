//! Failures become the right answers (crates/torii-proxy/src/error.rs): no ready endpoint and
//! refused connections → 503, a backendRef to a missing Service → 500 while the route's other
//! rules work, `timeouts.request` → 504 on time.

use crate::support::client::{Conn, Proto};
use crate::support::{free_port, loopback, refused_address, yaml, Backend, Torii};
use http::StatusCode;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const RULES: &str = r#"  - matches: [{path: {type: PathPrefix, value: /unready}}]
    backendRefs: [{name: unready, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /refused}}]
    backendRefs: [{name: refused, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /missing}}]
    backendRefs: [{name: does-not-exist, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /slow}}]
    timeouts: {request: 200ms}
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: echo, port: 80}]
"#;

struct Setup {
    torii: Torii,
    echo: Backend,
    addr: SocketAddr,
}

async fn setup() -> Setup {
    let ip = loopback();
    let echo = Backend::start("echo", ip).await;
    let port = free_port(ip);
    let yaml = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", port)]),
        yaml::service("echo", &[echo.addr]),
        // An endpoint that exists but is not ready.
        yaml::service_with("unready", 80, None, &[(echo.addr, false)]),
        // A ready endpoint nothing listens on.
        yaml::service("refused", &[refused_address(ip)]),
        yaml::http_route("errors", "gw", &[], RULES),
    ]);
    let torii = Torii::start(ip, &yaml).await;
    Setup {
        torii,
        echo,
        addr: SocketAddr::new(ip, port),
    }
}

#[tokio::test]
async fn failures_map_to_status_codes() {
    let setup = setup().await;
    for proto in [Proto::H1, Proto::H2] {
        let mut conn = Conn::connect(setup.addr, proto).await.expect("connect");
        for (path, want) in [
            ("/unready", StatusCode::SERVICE_UNAVAILABLE),
            ("/refused", StatusCode::SERVICE_UNAVAILABLE),
            ("/missing", StatusCode::INTERNAL_SERVER_ERROR),
            ("/works", StatusCode::OK),
            ("/status/503", StatusCode::SERVICE_UNAVAILABLE),
            ("/status/418", StatusCode::IM_A_TEAPOT),
        ] {
            let reply = conn.get("errors.test", path).await;
            assert_eq!(reply.status, want, "{proto:?} {path}: {:?}", reply.body);
        }
        // The backend's own error answers come from the backend; torii's are its own.
        let reply = conn.get("errors.test", "/status/503").await;
        assert_eq!(reply.backend(), "echo");
        let reply = conn.get("errors.test", "/unready").await;
        assert_eq!(&reply.body[..], b"no healthy upstream\n");
        assert!(!conn.is_closed(), "{proto:?}: errors keep the connection");
    }
    assert!(
        setup
            .echo
            .requests()
            .iter()
            .all(|r| !r.path.starts_with("/unready")),
        "an endpoint that is not ready gets no request"
    );
    let metrics = setup.torii.metrics().await;
    assert!(
        metrics.contains("torii_upstream_connect_errors_total{backend=\"default/refused:80\"}"),
        "refused connections are counted: {metrics}"
    );
}

#[tokio::test]
async fn request_timeout_answers_504_on_time() {
    let setup = setup().await;
    for proto in [Proto::H1, Proto::H2] {
        let mut conn = Conn::connect(setup.addr, proto).await.expect("connect");
        let started = Instant::now();
        let reply = conn.get("errors.test", "/slow/delay/3000").await;
        let elapsed = started.elapsed();
        assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT, "{proto:?}");
        assert!(
            elapsed >= Duration::from_millis(190) && elapsed < Duration::from_millis(900),
            "{proto:?}: 504 after {elapsed:?}, want ~200 ms"
        );
        // A fast request on the same rule is unaffected.
        let reply = conn.get("errors.test", "/slow/fast").await;
        assert_eq!(reply.status, StatusCode::OK, "{proto:?}");
    }
}
