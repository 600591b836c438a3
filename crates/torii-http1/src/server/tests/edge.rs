//! Upgrades, shutdown, timeouts, draining unread bodies, and the idle footprint.

use super::echo_target;
use super::support::*;
use crate::server::{serve_connection, RecvBody, ServerError, ServerOptions};
use crate::upgrade::OnUpgrade;
use http::{Request, Response, StatusCode};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Echoes the upgraded stream back; answers `101` when asked to upgrade, else `200`.
async fn upgrade_echo(mut request: Request<RecvBody>) -> Response<Frames> {
    let Some(on_upgrade) = request.extensions_mut().remove::<OnUpgrade>() else {
        return text("plain");
    };
    if request.uri().path() == "/refuse" {
        tokio::spawn(async move {
            assert!(
                on_upgrade.await.is_err(),
                "a refused upgrade never resolves to a stream"
            );
        });
        return text("refused");
    }
    tokio::spawn(async move {
        let mut upgraded = on_upgrade.await.expect("upgraded");
        let mut buf = [0u8; 64];
        loop {
            let n = upgraded.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            upgraded.write_all(&buf[..n]).await.unwrap();
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("connection", "upgrade")
        .header("upgrade", "echo")
        .body(Frames::new(Vec::new()))
        .unwrap()
}

#[tokio::test]
async fn upgrade_hands_over_the_connection_with_early_bytes() {
    let (mut client, task) = serve_duplex(ServerOptions::default(), upgrade_echo);
    // A refused upgrade keeps the connection HTTP.
    client
        .send(b"GET /refuse HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n")
        .await;
    assert_eq!(client.response().await.body, b"refused");
    client
        .send(b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly")
        .await;
    let response = client.response().await;
    assert_eq!(response.status, StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(response.header("upgrade"), Some("echo"));
    assert_eq!(response.header("connection"), Some("upgrade"));
    assert_eq!(response.header("content-length"), None);
    assert!(task.await.unwrap().is_ok(), "the connection is handed over");
    assert_eq!(client.read_exact(5).await, b"early");
    client.send(b"ping").await;
    assert_eq!(client.read_exact(4).await, b"ping");
}

#[tokio::test]
async fn shutdown_closes_an_idle_connection_at_once() {
    let (signal, fired) = oneshot::channel::<()>();
    let shutdown = async {
        let _ = fired.await;
    };
    let (mut client, task) = serve_duplex_until(ServerOptions::default(), echo_target, shutdown);
    client.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(client.response().await.header("connection"), None);
    signal.send(()).unwrap();
    assert!(client.is_closed().await);
    assert!(task.await.unwrap().is_ok());
}

#[tokio::test]
async fn shutdown_lets_a_request_in_flight_complete_with_close() {
    let (signal, fired) = oneshot::channel::<()>();
    let shutdown = async {
        let _ = fired.await;
    };
    let (started_tx, started) = oneshot::channel::<()>();
    let (release, released) = oneshot::channel::<()>();
    let mut hooks = Some((started_tx, released));
    let service = move |_: Request<RecvBody>| {
        let (started_tx, released) = hooks.take().expect("one request");
        async move {
            started_tx.send(()).unwrap();
            released.await.unwrap();
            text("done")
        }
    };
    let (mut client, task) = serve_duplex_until(ServerOptions::default(), service, shutdown);
    client.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    started.await.unwrap();
    signal.send(()).unwrap();
    tokio::task::yield_now().await;
    release.send(()).unwrap();
    let response = client.response().await;
    assert_eq!(response.body, b"done");
    assert_eq!(response.header("connection"), Some("close"));
    assert!(client.is_closed().await);
    assert!(task.await.unwrap().is_ok());
}

fn short_timeouts() -> ServerOptions {
    ServerOptions {
        header_read_timeout: Duration::from_secs(5),
        keep_alive_timeout: Duration::from_secs(10),
        ..ServerOptions::default()
    }
}

#[tokio::test(start_paused = true)]
async fn header_read_timeout_closes_silent_and_slow_connections() {
    // Silent from the start.
    let start = Instant::now();
    let (_client, task) = serve_duplex(short_timeouts(), echo_target);
    assert!(matches!(
        task.await.unwrap(),
        Err(ServerError::HeaderTimeout)
    ));
    assert_eq!(start.elapsed().as_secs(), 5);

    // A head that never ends: 408 and close (RFC 9110 §15.5.9).
    let start = Instant::now();
    let (mut client, task) = serve_duplex(short_timeouts(), echo_target);
    client.send(b"GET / HTTP/1.1\r\nHost: a\r\n").await;
    let response = client.response().await;
    assert_eq!(response.status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(response.header("connection"), Some("close"));
    assert_eq!(start.elapsed().as_secs(), 5);
    assert!(client.is_closed().await);
    assert!(matches!(
        task.await.unwrap(),
        Err(ServerError::HeaderTimeout)
    ));
}

#[tokio::test(start_paused = true)]
async fn keep_alive_timeout_and_slow_heads_after_it() {
    // Idle after a response: closed quietly after the keep-alive timeout.
    let (mut client, task) = serve_duplex(short_timeouts(), echo_target);
    client.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    client.response().await;
    let start = Instant::now();
    assert!(task.await.unwrap().is_ok());
    assert_eq!(start.elapsed().as_secs(), 10);

    // The first bytes of the next head start the (shorter) header deadline.
    let (mut client, task) = serve_duplex(short_timeouts(), echo_target);
    client.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    client.response().await;
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(8)).await;
    client.send(b"GET / HT").await;
    let response = client.response().await;
    assert_eq!(response.status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(start.elapsed().as_secs(), 13);
    drop(client);
    assert!(matches!(
        task.await.unwrap(),
        Err(ServerError::HeaderTimeout)
    ));
}

/// Answers without reading the request body.
async fn ignore_body(request: Request<RecvBody>) -> Response<Frames> {
    drop(request);
    text("ignored")
}

#[tokio::test]
async fn unread_bodies_are_drained_up_to_the_limit() {
    let options = ServerOptions {
        max_drain_bytes: 64 * 1024,
        ..ServerOptions::default()
    };
    // Small unread bodies (both framings) are drained; the connection carries on.
    let (mut client, _task) = serve_duplex(options.clone(), ignore_body);
    let data = pattern(10_000);
    let mut request = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10000\r\n\r\n".to_vec();
    request.extend_from_slice(&data);
    request.extend_from_slice(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    request.extend_from_slice(&chunked(&data, 1000));
    client.send(&request).await;
    for _ in 0..2 {
        let response = client.response().await;
        assert_eq!(response.body, b"ignored");
        assert_eq!(response.header("connection"), None);
    }
    client.send(b"GET /after HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(client.response().await.body, b"ignored");

    // A known length past the limit: the response says close.
    let (mut client, task) = serve_duplex(options.clone(), ignore_body);
    client
        .send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\nabc")
        .await;
    let response = client.response().await;
    assert_eq!(response.header("connection"), Some("close"));
    drop(client);
    assert!(task.await.unwrap().is_ok());

    // An unknown length past the limit: the response is complete, then the connection closes.
    let (client, task) = serve_duplex(options, ignore_body);
    let (read, mut write) = tokio::io::split(client.io);
    let writer = tokio::spawn(async move {
        write
            .write_all(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
            .await
            .unwrap();
        let chunk = chunked(&pattern(4096), 4096);
        let chunk = &chunk[..chunk.len() - 5]; // without the last chunk
        while write.write_all(chunk).await.is_ok() {}
    });
    let mut client = RawClient::new(read);
    let response = client.response().await;
    assert_eq!(response.body, b"ignored");
    assert!(task.await.unwrap().is_ok());
    writer.await.unwrap();
}

#[tokio::test]
async fn a_client_gone_mid_request_cancels_the_service() {
    struct Guard(Option<oneshot::Sender<()>>);
    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = self.0.take().unwrap().send(());
        }
    }
    let (dropped_tx, dropped) = oneshot::channel();
    let mut dropped_tx = Some(dropped_tx);
    let service = move |_: Request<RecvBody>| {
        let guard = Guard(dropped_tx.take());
        async move {
            let _guard = guard;
            std::future::pending::<()>().await;
            text("never")
        }
    };
    let (mut client, task) = serve_duplex(ServerOptions::default(), service);
    client.send(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n").await;
    tokio::task::yield_now().await;
    drop(client);
    assert!(matches!(task.await.unwrap(), Err(ServerError::Incomplete)));
    dropped.await.expect("the service future was dropped");
}

#[tokio::test]
async fn idle_connection_future_is_small() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let _client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (stream, _) = listener.accept().await.unwrap();
    let options = ServerOptions::default();
    let future = serve_connection(stream, &options, echo_target, std::future::pending::<()>());
    let size = std::mem::size_of_val(&future);
    println!("serve_connection future over a TcpStream: {size} bytes");
    assert!(
        size <= 512,
        "the idle connection future grew to {size} bytes"
    );
}

/// A stream that counts the writes made to it.
struct CountingIo {
    inner: tokio::io::DuplexStream,
    writes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl tokio::io::AsyncRead for CountingIo {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for CountingIo {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn a_small_response_is_one_write() {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let writes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let io = CountingIo {
        inner: server,
        writes: writes.clone(),
    };
    let service = |request: Request<RecvBody>| async move {
        match request.uri().path() {
            "/chunked" => Response::new(Frames::data(&["a", "b", "c"])),
            _ => text("hello"),
        }
    };
    tokio::spawn(async move {
        let options = ServerOptions::default();
        serve_connection(io, &options, service, std::future::pending()).await
    });
    let mut client = RawClient::new(client);
    for (path, body) in [("/", "hello"), ("/chunked", "abc")] {
        let before = writes.load(std::sync::atomic::Ordering::Relaxed);
        client
            .send(format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes())
            .await;
        assert_eq!(client.response().await.body, body.as_bytes());
        let after = writes.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(after - before, 1, "head and body of {path} in one write");
    }
}
