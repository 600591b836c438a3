//! RequestMirror: the copy goes off the request path, so a mirror that takes 5 s to answer
//! does not delay the primary; the mirror does receive the request. A mirror too slow to
//! take the body is cut off, which must never look like a complete, shorter body.

use crate::support::backend::Generated;
use crate::support::client::{BoxError, Conn, Proto};
use crate::support::{free_port, loopback, within, yaml, Backend, Torii};
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const RULES: &str = r#"  - matches: [{path: {type: PathPrefix, value: /}}]
    filters:
    - type: RequestMirror
      requestMirror: {backendRef: {name: mirror, port: 80}}
    backendRefs: [{name: primary, port: 80}]
"#;

#[tokio::test]
async fn slow_mirror_does_not_delay_primary() {
    let ip = loopback();
    let primary = Backend::start("primary", ip).await;
    let mirror = Backend::start_with_delay("mirror", ip, Duration::from_secs(5)).await;
    let port = free_port(ip);
    let yaml = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", port)]),
        yaml::service("primary", &[primary.addr]),
        yaml::service("mirror", &[mirror.addr]),
        yaml::http_route("mirrored", "gw", &[], RULES),
    ]);
    let _torii = Torii::start(ip, &yaml).await;
    for proto in [Proto::H1, Proto::H2] {
        let mut conn = Conn::connect(SocketAddr::new(ip, port), proto)
            .await
            .expect("connect");
        for i in 0..3 {
            let path = format!("/mirrored/{proto:?}/{i}?q=1");
            let started = Instant::now();
            let reply = conn.get("mirror.test", &path).await;
            let elapsed = started.elapsed();
            assert_eq!(reply.status, StatusCode::OK);
            assert_eq!(reply.backend(), "primary");
            assert!(
                elapsed < Duration::from_millis(500),
                "{path}: the primary answered after {elapsed:?}, the mirror must not delay it"
            );
            let seen = mirror
                .wait_for(&path, Duration::from_secs(2))
                .await
                .unwrap_or_else(|| panic!("the mirror never received {path}"));
            assert_eq!(seen.method, "GET");
            assert_eq!(
                seen.headers.get("host").map(|h| h.as_bytes()),
                Some(&b"mirror.test"[..]),
                "the mirror gets the request's headers"
            );
        }
    }
    assert_eq!(primary.count(), 6, "each request reached the primary once");
}

/// A primary, and a mirror that waits `mirror_delay` before reading anything.
async fn setup(mirror_delay: Duration) -> (Torii, Backend, Backend, SocketAddr) {
    let ip = loopback();
    let primary = Backend::start("primary", ip).await;
    let mirror = Backend::start_with_delay("mirror", ip, mirror_delay).await;
    let port = free_port(ip);
    let yaml = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", port)]),
        yaml::service("primary", &[primary.addr]),
        yaml::service("mirror", &[mirror.addr]),
        yaml::http_route("mirrored", "gw", &[], RULES),
    ]);
    let torii = Torii::start(ip, &yaml).await;
    (torii, primary, mirror, SocketAddr::new(ip, port))
}

/// Posts `SIZE` bytes (with or without Content-Length) through a mirrored route whose mirror
/// is too slow to keep up; the primary gets it all, the mirror all of it or an error.
async fn slow_mirror_gets_whole_body_or_error(sized: bool) {
    const SIZE: u64 = 32 * 1024 * 1024;
    let (_torii, primary, mirror, addr) = setup(Duration::from_millis(1500)).await;
    let mut conn = Conn::connect(addr, Proto::H1).await.expect("connect");
    let body = if sized {
        Generated::new(SIZE)
    } else {
        Generated::without_length(SIZE)
    };
    let request = conn
        .request(Method::POST, "mirror.test", "/mirror-body")
        .body(body.map_err(|never| -> BoxError { match never {} }).boxed())
        .expect("valid request");
    let reply = within(Duration::from_secs(20), "upload", conn.fetch(request))
        .await
        .expect("answered");
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json()["body_len"],
        SIZE,
        "the primary gets the whole body"
    );
    assert_eq!(primary.count(), 1);
    let read = mirror
        .wait_for_body("/mirror-body", Duration::from_secs(10))
        .await
        .expect("the mirror's request body ended");
    match read.result {
        Ok(length) => assert_eq!(
            length, SIZE,
            "sized={sized}: the mirror received a body that looks complete but holds {length} of {SIZE} bytes"
        ),
        Err(error) => eprintln!("sized={sized}: the cut-off mirror saw an error, as it should: {error}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_off_mirror_with_content_length_sees_an_error() {
    slow_mirror_gets_whole_body_or_error(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_off_mirror_with_chunked_body_sees_an_error() {
    slow_mirror_gets_whole_body_or_error(false).await;
}
