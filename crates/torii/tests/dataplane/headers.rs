//! Request headers on the way up: X-Forwarded-For/-Proto/-Host and Via are added, hop-by-hop
//! headers are removed, and heads over the limits (100 headers, 64 KiB) are refused before
//! they reach the backend.

use crate::support::client::{empty, Conn, Proto};
use crate::support::{free_ports, loopback, yaml, Backend, Ca, Torii};
use http::{Method, StatusCode};
use std::net::SocketAddr;

const HOST: &str = "headers.example.test";

struct Setup {
    _torii: Torii,
    echo: Backend,
    http: SocketAddr,
    https: SocketAddr,
    ca: Ca,
}

async fn setup() -> Setup {
    setup_with(&[]).await
}

async fn setup_with(args: &[&str]) -> Setup {
    let ip = loopback();
    let echo = Backend::start("echo", ip).await;
    let ca = Ca::new("headers CA");
    let leaf = ca.leaf(&[HOST]);
    let ports = free_ports(ip, 2);
    let yaml = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway(
            "gw",
            ip,
            &[
                yaml::http_listener("http", ports[0]),
                yaml::https_listener("https", ports[1], Some(HOST), "headers-cert"),
            ],
        ),
        yaml::tls_secret("headers-cert", &leaf),
        yaml::service("echo", &[echo.addr]),
        yaml::http_route("headers", "gw", &[], &yaml::prefix_rule("/", "echo")),
    ]);
    let torii = Torii::start_with(ip, &[("config.yaml", &yaml)], args).await;
    Setup {
        _torii: torii,
        echo,
        http: SocketAddr::new(ip, ports[0]),
        https: SocketAddr::new(ip, ports[1]),
        ca,
    }
}

async fn connect(setup: &Setup, proto: Proto, tls: bool) -> Conn {
    if tls {
        Conn::connect_tls(
            setup.https,
            proto,
            setup.ca.client_config(&[proto.alpn()]),
            HOST,
        )
        .await
        .expect("TLS connect")
    } else {
        Conn::connect(setup.http, proto).await.expect("connect")
    }
}

#[tokio::test]
async fn forwarded_headers_and_via_reach_the_backend() {
    let setup = setup().await;
    for (proto, tls) in [
        (Proto::H1, false),
        (Proto::H2, false),
        (Proto::H1, true),
        (Proto::H2, true),
    ] {
        let what = format!("{proto:?} tls={tls}");
        let mut conn = connect(&setup, proto, tls).await;
        let client = conn.local.ip().to_string();

        let reply = conn.get(HOST, "/first").await;
        assert_eq!(reply.status, StatusCode::OK, "{what}");
        assert_eq!(
            reply.seen_header("x-forwarded-for"),
            std::slice::from_ref(&client),
            "{what}"
        );
        let scheme = if tls { "https" } else { "http" };
        assert_eq!(reply.seen_header("x-forwarded-proto"), [scheme], "{what}");
        assert_eq!(reply.seen_header("x-forwarded-host"), [HOST], "{what}");
        assert_eq!(reply.seen_header("host"), [HOST], "{what}: Host is kept");
        let via = match proto {
            Proto::H1 => "1.1 torii",
            Proto::H2 => "2 torii",
        };
        assert_eq!(reply.seen_header("via"), [via], "{what}");

        // Forwarding headers from a client that is not a trusted proxy are forged: replaced
        // by torii's own or removed.
        let request = conn
            .request(Method::GET, HOST, "/second")
            .header("x-forwarded-for", "203.0.113.7")
            .header("x-forwarded-proto", "gopher")
            .header("x-forwarded-host", "admin.internal")
            .header("forwarded", "for=203.0.113.7;host=admin.internal")
            .header("x-real-ip", "203.0.113.7")
            .header("x-torii-shadow", "1")
            .body(empty())
            .expect("valid request");
        let reply = conn.fetch(request).await.expect("answered");
        assert_eq!(
            reply.seen_header("x-forwarded-for"),
            std::slice::from_ref(&client),
            "{what}"
        );
        assert_eq!(reply.seen_header("x-forwarded-proto"), [scheme], "{what}");
        assert_eq!(reply.seen_header("x-forwarded-host"), [HOST], "{what}");
        for forged in ["forwarded", "x-real-ip", "x-torii-shadow"] {
            assert!(
                reply.seen_header(forged).is_empty(),
                "{what}: {forged} reached the backend"
            );
        }
    }
}

#[tokio::test]
async fn hop_by_hop_headers_do_not_reach_the_backend() {
    let setup = setup().await;
    for tls in [false, true] {
        let mut conn = connect(&setup, Proto::H1, tls).await;
        let request = conn
            .request(Method::GET, HOST, "/request-hop-headers")
            .header("connection", "keep-alive, x-private")
            .header("keep-alive", "timeout=5")
            .header("x-private", "for the proxy only")
            .header("proxy-connection", "keep-alive")
            // `te: trailers` is forwarded (gRPC needs it); other TE values are hop-by-hop.
            .header("te", "gzip")
            .header("trailer", "x-checksum")
            .header("x-end-to-end", "kept")
            .body(empty())
            .expect("valid request");
        let reply = conn.fetch(request).await.expect("answered");
        assert_eq!(reply.status, StatusCode::OK, "tls={tls}");
        for gone in [
            "connection",
            "keep-alive",
            "x-private",
            "proxy-connection",
            "te",
            "trailer",
        ] {
            assert!(
                reply.seen_header(gone).is_empty(),
                "tls={tls}: {gone} reached the backend: {:?}",
                reply.seen_header(gone)
            );
        }
        assert_eq!(reply.seen_header("x-end-to-end"), ["kept"], "tls={tls}");
        assert!(!conn.is_closed(), "tls={tls}: keep-alive kept downstream");
    }
}

/// Sends `request` and checks it was refused: 431, or the connection closed or reset.
async fn expect_refused(
    conn: &mut Conn,
    request: http::Request<crate::support::client::Body>,
    what: &str,
) {
    match conn.fetch(request).await {
        Ok(reply) => assert_eq!(
            reply.status,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "{what}: {:?}",
            reply.body
        ),
        Err(error) => eprintln!("{what}: refused by closing: {error}"),
    }
}

#[tokio::test]
async fn oversized_heads_are_refused_before_the_backend() {
    let setup = setup().await;

    // More than 100 headers (HTTP/1.1; HTTP/2 limits the size of the list only).
    let mut conn = connect(&setup, Proto::H1, false).await;
    let mut request = conn.request(Method::GET, HOST, "/too-many");
    for i in 0..150 {
        request = request.header(format!("x-header-{i}"), "v");
    }
    expect_refused(
        &mut conn,
        request.body(empty()).expect("valid"),
        "150 headers",
    )
    .await;

    // A head over 64 KiB, in one header and in many.
    for proto in [Proto::H1, Proto::H2] {
        for tls in [false, true] {
            let mut conn = connect(&setup, proto, tls).await;
            let request = conn
                .request(Method::GET, HOST, "/too-large")
                .header("x-big", "a".repeat(70 * 1024))
                .body(empty())
                .expect("valid");
            expect_refused(
                &mut conn,
                request,
                &format!("{proto:?} tls={tls}: 70 KiB header"),
            )
            .await;
        }
    }
    let mut conn = connect(&setup, Proto::H2, false).await;
    let mut request = conn.request(Method::GET, HOST, "/too-large-list");
    for i in 0..90 {
        request = request.header(format!("x-header-{i}"), "b".repeat(1000));
    }
    expect_refused(
        &mut conn,
        request.body(empty()).expect("valid"),
        "H2 90 KB list",
    )
    .await;

    let reached: Vec<String> = setup.echo.requests().into_iter().map(|r| r.path).collect();
    assert!(
        reached.is_empty(),
        "oversized requests reached the backend: {reached:?}"
    );
    // The proxy still serves well-formed requests.
    let mut conn = connect(&setup, Proto::H1, false).await;
    assert_eq!(conn.get(HOST, "/fine").await.status, StatusCode::OK);
}

#[tokio::test]
async fn headers_named_in_every_connection_line_are_removed() {
    let setup = setup().await;
    let mut conn = connect(&setup, Proto::H1, false).await;
    // Two `Connection` lines mean the same as one with both tokens (RFC 9110 §5.3).
    let request = conn
        .request(Method::GET, HOST, "/two-connection-lines")
        .header("connection", "keep-alive")
        .header("connection", "x-private")
        .header("x-private", "for the proxy only")
        .body(empty())
        .expect("valid request");
    let reply = conn.fetch(request).await.expect("answered");
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply.seen_header("x-private").is_empty(),
        "x-private was named in the second Connection line but reached the backend: {:?}",
        reply.seen_header("x-private")
    );
}

#[tokio::test]
async fn a_trusted_proxy_s_forwarding_headers_are_extended_line_by_line() {
    let setup = setup_with(&["--trusted-proxy", "127.0.0.0/8"]).await;
    let mut conn = connect(&setup, Proto::H1, false).await;
    let client = conn.local.ip().to_string();
    let request = conn
        .request(Method::GET, HOST, "/two-xff-lines")
        .header("x-forwarded-for", "198.51.100.1")
        .header("x-forwarded-for", "198.51.100.2")
        .body(empty())
        .expect("valid request");
    let reply = conn.fetch(request).await.expect("answered");
    let seen = reply.seen_header("x-forwarded-for").join(", ");
    assert_eq!(seen, format!("198.51.100.1, 198.51.100.2, {client}"));
    let request = conn
        .request(Method::GET, HOST, "/forwarded")
        .header("forwarded", "for=198.51.100.1")
        .header("x-real-ip", "198.51.100.1")
        .body(empty())
        .expect("valid request");
    let reply = conn.fetch(request).await.expect("answered");
    assert_eq!(reply.seen_header("forwarded"), ["for=198.51.100.1"]);
    assert_eq!(reply.seen_header("x-real-ip"), ["198.51.100.1"]);
}

#[tokio::test]
async fn hop_by_hop_response_headers_do_not_reach_the_client() {
    let setup = setup().await;
    for tls in [false, true] {
        let mut conn = connect(&setup, Proto::H1, tls).await;
        let reply = conn.get(HOST, "/hop").await;
        assert_eq!(reply.status, StatusCode::OK, "tls={tls}");
        assert_eq!(&reply.body[..], b"hop");
        for gone in ["x-backend-private", "keep-alive", "proxy-connection"] {
            assert!(
                !reply.headers.contains_key(gone),
                "tls={tls}: {gone} reached the client: {:?}",
                reply.headers
            );
        }
        let connection: Vec<_> = reply.headers.get_all("connection").iter().collect();
        assert!(
            connection
                .iter()
                .all(|v| !v.as_bytes().eq_ignore_ascii_case(b"x-backend-private")),
            "tls={tls}: the backend's Connection header reached the client: {connection:?}"
        );
        assert_eq!(
            reply.headers.get("x-backend-public").map(|v| v.as_bytes()),
            Some(&b"kept"[..]),
            "tls={tls}"
        );
        assert!(!conn.is_closed(), "tls={tls}");
    }
}
