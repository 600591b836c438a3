//! Service endpoints named by DNS names (EndpointSlices of `addressType: FQDN`): looked up
//! when the snapshot is built, `*.localhost` as the loopback address (RFC 6761 §6.3), the
//! way Kubernetes-mode tests reach backends on 127.0.0.1.

use crate::support::client::{Conn, Proto};
use crate::support::{free_port, loopback, yaml, Backend, Torii};
use http::StatusCode;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

const HOST: &str = "fqdn.test";

fn config(ip: IpAddr, port: u16, services: &[String]) -> String {
    let rules = yaml::prefix_rule("/a", "a") + &yaml::prefix_rule("/gone", "gone");
    let mut parts = vec![
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", port)]),
        yaml::http_route("fqdn", "gw", &[], &rules),
    ];
    parts.extend(services.iter().cloned());
    yaml::docs(&parts)
}

#[tokio::test]
async fn fqdn_endpoints_under_localhost_reach_loopback_backends() {
    let ip = loopback();
    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let (a1, a2) = (
        Backend::start("a1", localhost).await,
        Backend::start("a2", localhost).await,
    );
    let port = free_port(ip);
    let services = [
        yaml::service_fqdn(
            "a",
            &[
                ("backend-a1.localhost", a1.addr.port()),
                ("Backend-A2.LOCALHOST.", a2.addr.port()),
            ],
        ),
        // A name no resolver knows: no endpoint, so 503 (and the rest still applies).
        yaml::service_fqdn("gone", &[("nothing-here.invalid", 9)]),
    ];
    let torii = Torii::start(ip, &config(ip, port, &services)).await;
    let mut conn = Conn::connect(SocketAddr::new(ip, port), Proto::H1)
        .await
        .expect("connect");
    let mut seen = Vec::new();
    for _ in 0..4 {
        let reply = conn.get(HOST, "/a").await;
        assert_eq!(reply.status, StatusCode::OK);
        seen.push(reply.backend());
    }
    seen.sort();
    assert_eq!(
        seen,
        ["a1", "a1", "a2", "a2"],
        "round robin over both names"
    );
    assert_eq!(
        conn.get(HOST, "/gone").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(a1.wait_for("/a", Duration::from_secs(1)).await.is_some());

    let (code, body) = torii
        .admin_get("/api/v1/config")
        .await
        .expect("admin answers");
    assert_eq!(code, 200);
    assert!(
        body.contains("backend-a1.localhost:") && body.contains("backend-a2.localhost:"),
        "the config summary lists the names: {body}"
    );
}
