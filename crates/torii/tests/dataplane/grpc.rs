//! GRPCRoute over HTTP/2: the upstream speaks h2c, `te: trailers` reaches it (gRPC servers
//! such as grpc-java refuse requests without it), and response trailers (`grpc-status`) reach
//! the client.

use crate::support::client::{full, Conn, Proto};
use crate::support::{free_port, loopback, within, yaml, Backend, Torii};
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use std::net::SocketAddr;
use std::time::Duration;

const HOST: &str = "grpc.test";

async fn setup() -> (Torii, Backend, SocketAddr) {
    let ip = loopback();
    let backend = Backend::start("grpc", ip).await;
    let port = free_port(ip);
    let yaml = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", port)]),
        yaml::service_with(
            "grpc",
            50051,
            Some("kubernetes.io/h2c"),
            &[(backend.addr, true)],
        ),
        "apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: grpc, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches: [{method: {service: echo.Echo}}]
    backendRefs: [{name: grpc, port: 50051}]
"
        .to_string(),
    ]);
    let torii = Torii::start(ip, &yaml).await;
    (torii, backend, SocketAddr::new(ip, port))
}

fn grpc_request(conn: &Conn, path: &str) -> http::Request<crate::support::client::Body> {
    conn.request(Method::POST, HOST, path)
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        // A gRPC message frame: uncompressed, 5 bytes.
        .body(full(&b"\x00\x00\x00\x00\x05hello"[..]))
        .expect("valid request")
}

#[tokio::test]
async fn grpc_goes_upstream_over_h2c_with_trailers() {
    let (_torii, backend, addr) = setup().await;
    let mut conn = Conn::connect(addr, Proto::H2).await.expect("connect");
    let reply = conn
        .fetch(grpc_request(&conn, "/echo.Echo/Say"))
        .await
        .expect("answered");
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json()["version"],
        "HTTP/2.0",
        "the upstream speaks h2c"
    );
    assert_eq!(reply.json()["body_len"], 10);

    let request = grpc_request(&conn, "/echo.Echo/trailers");
    let response = within(Duration::from_secs(5), "trailers", conn.send(request))
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    let collected = within(
        Duration::from_secs(5),
        "body",
        response.into_body().collect(),
    )
    .await
    .expect("body");
    let trailers = collected.trailers().cloned().unwrap_or_default();
    assert_eq!(
        trailers.get("grpc-status").map(|v| v.as_bytes()),
        Some(&b"0"[..]),
        "response trailers reach the client: {trailers:?}"
    );
    assert_eq!(&collected.to_bytes()[..], b"body before trailers");

    let other = conn
        .fetch(grpc_request(&conn, "/other.Service/Say"))
        .await
        .expect("answered");
    assert_eq!(
        other.status,
        StatusCode::NOT_FOUND,
        "the method match routes by service"
    );
    assert_eq!(backend.count(), 2);
}

#[tokio::test]
async fn te_trailers_reaches_the_grpc_backend() {
    let (_torii, _backend, addr) = setup().await;
    let mut conn = Conn::connect(addr, Proto::H2).await.expect("connect");
    let reply = conn
        .fetch(grpc_request(&conn, "/echo.Echo/Say"))
        .await
        .expect("answered");
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.seen_header("te"), ["trailers"]);
}
