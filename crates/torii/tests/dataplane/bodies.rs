//! Bodies stream through the proxy: 64 MiB up and down while the proxy's resident memory
//! stays far below 64 MiB, and chunked request bodies arrive whole.

use crate::support::backend::Generated;
use crate::support::client::{channel_body, Body, BoxError, Conn, Proto};
use crate::support::{free_port, loopback, within, yaml, Backend, Torii};
use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const SIZE: u64 = 64 * 1024 * 1024;
/// The most resident memory the proxy may reach while moving [`SIZE`] bytes.
/// How much the proxy's memory may grow while a body of [`SIZE`] passes (a third of it): the
/// growth, not the total, so the binary's own size does not count.
const MAX_GROWTH_KIB: u64 = 24 * 1024;
const LIMIT: Duration = Duration::from_secs(30);

struct Setup {
    torii: Torii,
    _echo: Backend,
    addr: SocketAddr,
    /// VmRSS and VmHWM once ready, before any body.
    baseline: (u64, u64),
}

async fn setup() -> Setup {
    let ip = loopback();
    let echo = Backend::start("echo", ip).await;
    let port = free_port(ip);
    let yaml = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", port)]),
        yaml::service("echo", &[echo.addr]),
        yaml::http_route("bodies", "gw", &[], &yaml::prefix_rule("/", "echo")),
    ]);
    let torii = Torii::start(ip, &yaml).await;
    let baseline = (torii.memory_kib("VmRSS"), torii.memory_kib("VmHWM"));
    Setup {
        torii,
        _echo: echo,
        addr: SocketAddr::new(ip, port),
        baseline,
    }
}

/// Samples the proxy's VmRSS every 10 ms while `work` runs; returns the work's output and the
/// highest sample in KiB.
async fn with_rss_sampling<F: std::future::Future>(torii: &Torii, work: F) -> (F::Output, u64) {
    let pid = torii.pid();
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (done, peak) = (done.clone(), peak.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Acquire) {
                if let Some(kib) = vm_rss_kib(pid) {
                    peak.fetch_max(kib, Ordering::AcqRel);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let output = work.await;
    done.store(true, Ordering::Release);
    let _ = sampler.await;
    (output, peak.load(Ordering::Acquire))
}

fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn check_memory(setup: &Setup, sampled_peak: u64, what: &str) {
    let high_water = setup.torii.memory_kib("VmHWM");
    let (rss0, hwm0) = setup.baseline;
    let growth = sampled_peak.saturating_sub(rss0);
    let hwm_growth = high_water.saturating_sub(hwm0);
    eprintln!(
        "{what}: proxy VmRSS {rss0} -> peak {sampled_peak} KiB, VmHWM {hwm0} -> {high_water} KiB"
    );
    assert!(
        growth < MAX_GROWTH_KIB && hwm_growth < MAX_GROWTH_KIB,
        "{what}: the proxy buffered the body (VmRSS grew {growth} KiB, VmHWM grew {hwm_growth} KiB, limit {MAX_GROWTH_KIB} KiB)"
    );
}

async fn upload(proto: Proto, body: Body) {
    let setup = setup().await;
    let mut conn = Conn::connect(setup.addr, proto).await.expect("connect");
    let request = conn
        .request(Method::POST, "bodies.test", "/upload")
        .body(body)
        .expect("valid request");
    let (reply, peak) = with_rss_sampling(&setup.torii, async {
        within(LIMIT, "64 MiB upload", conn.fetch(request)).await
    })
    .await;
    let reply = reply.expect("upload answered");
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json()["body_len"],
        SIZE,
        "every byte reached the backend"
    );
    check_memory(&setup, peak, &format!("{proto:?} upload"));
}

async fn download(proto: Proto) {
    let setup = setup().await;
    let mut conn = Conn::connect(setup.addr, proto).await.expect("connect");
    let path = format!("/download/{SIZE}");
    let request = conn
        .request(Method::GET, "bodies.test", &path)
        .body(crate::support::client::empty())
        .expect("valid request");
    let (received, peak) = with_rss_sampling(&setup.torii, async {
        within(LIMIT, "64 MiB download", async {
            let response = conn.send(request).await?;
            assert_eq!(response.status(), StatusCode::OK);
            let mut body = response.into_body();
            let mut received = 0u64;
            while let Some(frame) = body.frame().await {
                received += frame?.data_ref().map_or(0, |d| d.len() as u64);
            }
            Ok::<_, BoxError>(received)
        })
        .await
    })
    .await;
    assert_eq!(received.expect("download completes"), SIZE);
    check_memory(&setup, peak, &format!("{proto:?} download"));
}

fn generated(total: u64, sized: bool) -> Body {
    let body = if sized {
        Generated::new(total)
    } else {
        Generated::without_length(total)
    };
    body.map_err(|never| -> BoxError { match never {} }).boxed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_64_mib_http1_chunked_streams() {
    upload(Proto::H1, generated(SIZE, false)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_64_mib_http2_streams() {
    upload(Proto::H2, generated(SIZE, true)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_64_mib_http1_streams() {
    download(Proto::H1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_64_mib_http2_streams() {
    download(Proto::H2).await;
}

#[tokio::test]
async fn chunked_request_body_arrives_whole() {
    let setup = setup().await;
    let mut conn = Conn::connect(setup.addr, Proto::H1).await.expect("connect");
    for round in 0..3 {
        let (tx, body) = channel_body();
        let request = conn
            .request(Method::PUT, "bodies.test", "/chunked")
            .body(body)
            .expect("valid request");
        let feed = async move {
            for chunk in ["first chunk, ", "second, ", "and the last one"] {
                tx.send(Bytes::from(chunk)).await.expect("body is read");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        let (reply, ()) = within(LIMIT, "chunked upload", async {
            tokio::join!(conn.fetch(request), feed)
        })
        .await;
        let reply = reply.expect("answered");
        assert_eq!(reply.status, StatusCode::OK, "round {round}");
        assert_eq!(reply.json()["body_len"], 37, "round {round}");
        assert_eq!(
            reply.seen_header("transfer-encoding"),
            ["chunked"],
            "round {round}: the body stays chunked upstream"
        );
        assert!(reply.seen_header("content-length").is_empty());
    }
}

#[tokio::test]
async fn expect_100_continue_is_answered() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let setup = setup().await;
    let mut stream = tokio::net::TcpStream::connect(setup.addr)
        .await
        .expect("connect");
    stream
        .write_all(
            b"POST /expect HTTP/1.1\r\nHost: bodies.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
        )
        .await
        .expect("write head");
    // The client waits for 100 Continue before sending the body (curl waits 1 s).
    let mut head = Vec::new();
    within(Duration::from_millis(900), "100 Continue", async {
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).await.expect("read");
            head.push(byte[0]);
        }
    })
    .await;
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 100 Continue"), "{head}");
    stream.write_all(b"hello").await.expect("write body");
    let mut answer = vec![0u8; 4096];
    let n = within(Duration::from_secs(2), "response", stream.read(&mut answer))
        .await
        .expect("read response");
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.contains("\"body_len\":5"), "{answer}");
}
