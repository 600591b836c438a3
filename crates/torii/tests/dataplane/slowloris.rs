//! Slowloris: clients that send half a request head and stall. Stalled clients must not block
//! others, and are disconnected after `--header-read-timeout` (30 s by default; 1 s here).

use crate::support::client::{Conn, Proto};
use crate::support::{free_port, loopback, within, yaml, Backend, Torii};
use http::StatusCode;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PARTIAL_HEAD: &[u8] = b"GET /stalled HTTP/1.1\r\nHost: slow.test\r\nX-Slow: ";

async fn setup() -> (Torii, Backend, SocketAddr) {
    setup_with(&[]).await
}

async fn setup_with(args: &[&str]) -> (Torii, Backend, SocketAddr) {
    let ip = loopback();
    let echo = Backend::start("echo", ip).await;
    let port = free_port(ip);
    let yaml = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", port)]),
        yaml::service("echo", &[echo.addr]),
        yaml::http_route("slow", "gw", &[], &yaml::prefix_rule("/", "echo")),
    ]);
    let torii = Torii::start_with(ip, &[("config.yaml", &yaml)], args).await;
    (torii, echo, SocketAddr::new(ip, port))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_heads_do_not_block_other_clients() {
    let (_torii, echo, addr) = setup().await;
    let mut stalled = Vec::new();
    for _ in 0..64 {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(PARTIAL_HEAD)
            .await
            .expect("write half a head");
        stalled.push(stream);
    }
    // An HTTP/2 client that sends only the connection preface, and a TLS-less half preface.
    let mut h2_stall = TcpStream::connect(addr).await.expect("connect");
    h2_stall
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .expect("write preface");
    let mut half_preface = TcpStream::connect(addr).await.expect("connect");
    half_preface.write_all(b"PRI * HT").await.expect("write");

    for proto in [Proto::H1, Proto::H2] {
        for i in 0..10 {
            let started = Instant::now();
            let mut conn = within(
                Duration::from_secs(2),
                "connect",
                Conn::connect(addr, proto),
            )
            .await
            .expect("connect while others stall");
            let reply = within(
                Duration::from_secs(2),
                "request",
                conn.get("slow.test", "/ok"),
            )
            .await;
            assert_eq!(reply.status, StatusCode::OK, "{proto:?} #{i}");
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{proto:?} #{i} took {:?} while other clients stall",
                started.elapsed()
            );
        }
    }
    assert!(
        echo.requests().iter().all(|r| r.path == "/ok"),
        "no half request reached the backend"
    );
    // The stalled connections are still open: nothing was answered to them yet.
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_millis(50), stalled[0].read(&mut buf)).await;
    assert!(
        read.is_err(),
        "a stalled head gets no answer before the timeout"
    );
}

#[tokio::test]
async fn stalled_head_is_closed_after_header_read_timeout() {
    let (_torii, echo, addr) = setup_with(&["--header-read-timeout", "1s"]).await;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(PARTIAL_HEAD)
        .await
        .expect("write half a head");
    let started = Instant::now();
    let mut answer = Vec::new();
    let read = within(
        Duration::from_secs(10),
        "the stalled connection is closed",
        stream.read_to_end(&mut answer),
    )
    .await;
    let elapsed = started.elapsed();
    eprintln!(
        "closed after {elapsed:?} ({read:?}): {:?}",
        String::from_utf8_lossy(&answer)
    );
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5),
        "closed after {elapsed:?}, want ~1 s"
    );
    // RFC 9110 §15.5.9: a started head that stalls hears 408 before the close.
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout\r\n")
            && answer.contains("connection: close\r\n"),
        "{answer:?}"
    );
    assert_eq!(echo.count(), 0);
}
