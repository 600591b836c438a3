//! SIGTERM drains: requests in flight finish with 200, new connections are refused, readyz
//! turns 503, and the process exits with code 0.

use crate::support::client::{Conn, Proto};
use crate::support::{eventually, free_port, loopback, within, yaml, Backend, Torii};
use http::StatusCode;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_requests_in_flight_then_exits_zero() {
    let ip = loopback();
    let echo = Backend::start("echo", ip).await;
    let port = free_port(ip);
    let addr = SocketAddr::new(ip, port);
    let yaml = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", port)]),
        yaml::service("echo", &[echo.addr]),
        yaml::http_route("drain", "gw", &[], &yaml::prefix_rule("/", "echo")),
    ]);
    let torii = Torii::start(ip, &yaml).await;

    // Idle keep-alive connections must not hold the drain open.
    let mut idle_h1 = Conn::connect(addr, Proto::H1).await.expect("connect");
    let mut idle_h2 = Conn::connect(addr, Proto::H2).await.expect("connect");
    assert_eq!(
        idle_h1.get("drain.test", "/idle").await.status,
        StatusCode::OK
    );
    assert_eq!(
        idle_h2.get("drain.test", "/idle").await.status,
        StatusCode::OK
    );

    let started = Instant::now();
    let mut slow = Vec::new();
    for proto in [Proto::H1, Proto::H2] {
        let mut conn = Conn::connect(addr, proto).await.expect("connect");
        slow.push(tokio::spawn(async move {
            let reply = conn
                .get("drain.test", &format!("/{proto:?}/delay/3000"))
                .await;
            (reply.status, Instant::now())
        }));
    }
    for proto in ["/H1/", "/H2/"] {
        echo.wait_for(proto, Duration::from_secs(2))
            .await
            .expect("the slow requests reached the backend");
    }

    torii.sigterm();
    let signalled = Instant::now();
    let refused = eventually(Duration::from_millis(2000), || async {
        tokio::net::TcpStream::connect(addr)
            .await
            .is_err()
            .then_some(())
    })
    .await;
    assert!(
        refused.is_some(),
        "new connections are refused after SIGTERM; stderr:\n{}",
        torii.stderr()
    );
    let readyz = torii.admin_get("/readyz").await;
    if let Ok((code, _)) = readyz {
        assert_eq!(code, 503, "not ready while draining");
    }
    assert!(
        signalled.elapsed() < Duration::from_millis(2500),
        "checked while the slow requests are still in flight"
    );

    for task in slow {
        let (status, done) = within(Duration::from_secs(8), "slow request", task)
            .await
            .expect("task");
        assert_eq!(status, StatusCode::OK, "the request in flight completes");
        assert!(done >= signalled, "it completed after SIGTERM");
        assert!(done.duration_since(started) >= Duration::from_millis(3000));
    }
    // Well before the 10 s drain timeout: the idle connections were closed, not waited for.
    let status = torii
        .wait_exit(Duration::from_secs(5))
        .await
        .unwrap_or_else(|| {
            panic!(
                "torii did not exit after draining; stderr:\n{}",
                torii.stderr()
            )
        });
    assert_eq!(status.code(), Some(0), "stderr:\n{}", torii.stderr());
    assert!(torii.stderr().contains("draining"));
    assert!(idle_h1.is_closed() && idle_h2.is_closed());
    assert!(
        !torii.stderr().contains("drain timeout passed"),
        "every connection closed before the drain timeout:\n{}",
        torii.stderr()
    );
}
