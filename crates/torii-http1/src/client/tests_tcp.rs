//! Client tests against raw TCP servers on 127.0.0.1 that read and write exact bytes.

use super::tests::{get, pool, within, ChannelBody};
use super::*;
use bytes::Bytes;
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Empty, Full};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Serves every accepted connection with `serve`; counts connections.
async fn tcp_server<F, Fut>(serve: F) -> (std::net::SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(stream));
        }
    });
    (addr, accepted)
}

/// Reads one request head (up to the blank line); `None` at EOF.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(String::from_utf8(head).unwrap())
}

async fn connect(addr: std::net::SocketAddr) -> ClientConnection<TcpStream> {
    ClientConnection::new(TcpStream::connect(addr).await.unwrap())
}

#[tokio::test]
async fn get_keep_alive_reuses_one_connection() {
    let (addr, accepted) = tcp_server(|mut stream| async move {
        let mut n = 0;
        while let Some(head) = read_head(&mut stream).await {
            assert_eq!(head, format!("GET /n?{n} HTTP/1.1\r\nhost: a\r\n\r\n"));
            let body = format!("response {n}");
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(response.as_bytes()).await.unwrap();
            n += 1;
        }
    })
    .await;
    let (release, released) = pool();
    let mut conn = connect(addr).await;
    for n in 0..5 {
        assert!(conn.is_reusable());
        let response = within(conn.send(get(&format!("/n?{n}")), release.clone()))
            .await
            .unwrap();
        let body = within(response.into_body().collect())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(body, format!("response {n}"));
        conn = released.lock().unwrap().pop().expect("released");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn pooled_connection_closed_by_upstream_is_not_reusable() {
    let (addr, _) = tcp_server(|mut stream| async move {
        read_head(&mut stream).await;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        // The upstream's idle timeout fires: it closes the connection.
    })
    .await;
    let (release, released) = pool();
    let response = within(connect(addr).await.send(get("/"), release))
        .await
        .unwrap();
    assert!(response.body().is_end_stream());
    let mut conn = released.lock().unwrap().pop().expect("released");
    within(async {
        while conn.is_reusable() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(!conn.is_reusable());
}

#[tokio::test]
async fn unexpected_bytes_on_an_idle_connection_make_it_unusable() {
    let (addr, _) = tcp_server(|mut stream| async move {
        stream
            .write_all(b"HTTP/1.1 408 Request Timeout\r\n\r\n")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let mut conn = connect(addr).await;
    within(async {
        while conn.is_reusable() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn stale_connection_hands_the_request_back() {
    let (addr, _) = tcp_server(|stream| async move { drop(stream) }).await;
    type Build = fn() -> Request<Full<Bytes>>;
    let cases: &[(&str, Build, bool)] = &[
        (
            "GET",
            || {
                Request::get("/x")
                    .header("x-a", "1")
                    .body(Full::new(Bytes::new()))
                    .unwrap()
            },
            true,
        ),
        // The body's data was taken to go out with the head: it cannot be sent again.
        (
            "POST",
            || {
                Request::post("/x")
                    .header("x-a", "1")
                    .body(Full::new(Bytes::from_static(b"d")))
                    .unwrap()
            },
            false,
        ),
    ];
    for (name, build, handed_back) in cases {
        let mut conn = connect(addr).await;
        within(async {
            while conn.is_reusable() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        let (release, _) = pool();
        let mut error = within(conn.send(build(), release)).await.expect_err(name);
        assert!(
            matches!(
                error.kind(),
                SendErrorKind::ClosedBeforeResponse | SendErrorKind::Io
            ),
            "{name}: {:?}",
            error.kind()
        );
        let request = error.take_request();
        assert_eq!(request.is_some(), *handed_back, "{name}");
        if let Some(request) = request {
            assert_eq!(request.uri(), "/x");
            assert_eq!(request.headers()["x-a"], "1");
        }
    }
}

#[tokio::test]
async fn early_response_before_the_body_is_sent() {
    for close in [false, true] {
        let (addr, _) = tcp_server(move |mut stream| async move {
            read_head(&mut stream).await;
            let connection = if close { "Connection: close\r\n" } else { "" };
            let response = format!(
                "HTTP/1.1 413 Content Too Large\r\n{connection}Content-Length: 3\r\n\r\nbig"
            );
            stream.write_all(response.as_bytes()).await.unwrap();
            if !close {
                let mut sink = [0u8; 1024];
                while stream.read(&mut sink).await.unwrap_or(0) > 0 {}
            }
        })
        .await;
        let (tx, rx) = mpsc::channel(1);
        tx.send(Ok(Frame::data(Bytes::from_static(b"first"))))
            .await
            .unwrap();
        let (release, released) = pool();
        let request = Request::post("/")
            .header("host", "a")
            .body(ChannelBody(rx))
            .unwrap();
        let response = within(connect(addr).await.send(request, release))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body = within(response.into_body().collect())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(body, "big");
        // The request body never ended: the connection cannot carry another request.
        assert!(released.lock().unwrap().is_empty(), "close: {close}");
        drop(tx);
    }
}

#[tokio::test]
async fn streamed_body_goes_chunked_while_the_response_streams() {
    // The upstream answers at once, then echoes each chunk line it reads.
    let (addr, _) = tcp_server(|mut stream| async move {
        let head = read_head(&mut stream).await.unwrap();
        assert!(head.contains("transfer-encoding: chunked\r\n"), "{head}");
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            .await
            .unwrap();
        let mut wire = Vec::new();
        let mut buf = [0u8; 1024];
        while !wire.ends_with(b"0\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0);
            wire.extend_from_slice(&buf[..n]);
            let chunk = format!("{:x}\r\n", n);
            stream.write_all(chunk.as_bytes()).await.unwrap();
            stream.write_all(&buf[..n]).await.unwrap();
            stream.write_all(b"\r\n").await.unwrap();
        }
        stream.write_all(b"0\r\n\r\n").await.unwrap();
    })
    .await;
    let (tx, rx) = mpsc::channel(1);
    let (release, released) = pool();
    let request = Request::post("/")
        .header("host", "a")
        .body(ChannelBody(rx))
        .unwrap();
    let response = within(connect(addr).await.send(request, release))
        .await
        .unwrap();
    let mut body = response.into_body();
    let mut echoed = Vec::new();
    for part in ["one", "two", "three"] {
        tx.send(Ok(Frame::data(Bytes::from(part)))).await.unwrap();
        // The echo of this part arrives only if the part was written while reading.
        while !echoed.ends_with(format!("{}\r\n{part}\r\n", part.len()).as_bytes()) {
            let frame = within(body.frame()).await.unwrap().unwrap();
            echoed.extend_from_slice(&frame.into_data().unwrap());
        }
    }
    drop(tx);
    while let Some(frame) = within(body.frame()).await {
        echoed.extend_from_slice(&frame.unwrap().into_data().unwrap());
    }
    assert_eq!(
        String::from_utf8(echoed).unwrap(),
        "3\r\none\r\n3\r\ntwo\r\n5\r\nthree\r\n0\r\n\r\n"
    );
    assert_eq!(released.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn upgrade_hands_over_the_connection_with_leftover_bytes() {
    let (addr, _) = tcp_server(|mut stream| async move {
        let head = read_head(&mut stream).await.unwrap();
        assert!(head.contains("connection: upgrade\r\n"), "{head}");
        stream
            .write_all(b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\nhello")
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            stream.write_all(&buf[..n]).await.unwrap();
        }
    })
    .await;
    let (release, released) = pool();
    let request = Request::get("/ws")
        .header("host", "a")
        .header("connection", "upgrade")
        .header("upgrade", "echo")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let mut response = within(connect(addr).await.send(request, release))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert!(response.body().is_end_stream());
    let on_upgrade = response
        .extensions_mut()
        .remove::<crate::OnUpgrade>()
        .expect("OnUpgrade");
    drop(response);
    let mut upgraded = within(on_upgrade).await.expect("upgraded");
    let mut got = [0u8; 5];
    within(upgraded.read_exact(&mut got)).await.unwrap();
    assert_eq!(&got, b"hello");
    upgraded.write_all(b"ping").await.unwrap();
    let mut got = [0u8; 4];
    within(upgraded.read_exact(&mut got)).await.unwrap();
    assert_eq!(&got, b"ping");
    assert!(released.lock().unwrap().is_empty());
}

#[tokio::test]
async fn dropping_the_body_early_closes_the_connection() {
    let (addr, _) = tcp_server(|mut stream| async move {
        read_head(&mut stream).await;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
            .await
            .unwrap();
        // The client must close: reading returns EOF.
        let mut buf = [0u8; 16];
        assert_eq!(stream.read(&mut buf).await.unwrap(), 0);
    })
    .await;
    let (release, released) = pool();
    let response = within(connect(addr).await.send(get("/"), release))
        .await
        .unwrap();
    let mut body = response.into_body();
    let first = within(body.frame()).await.unwrap().unwrap();
    assert_eq!(first.into_data().unwrap(), "hello");
    drop(body);
    assert!(released.lock().unwrap().is_empty());
}

#[tokio::test]
async fn body_cut_short_is_an_error() {
    let (addr, _) = tcp_server(|mut stream| async move {
        read_head(&mut stream).await;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
            .await
            .unwrap();
    })
    .await;
    let (release, released) = pool();
    let response = within(connect(addr).await.send(get("/"), release))
        .await
        .unwrap();
    let error = within(response.into_body().collect())
        .await
        .expect_err("cut short");
    assert!(
        error.to_string().contains("invalid upstream response body"),
        "{error}"
    );
    assert!(released.lock().unwrap().is_empty());
}

/// Counts the reads and writes that completed (each one a syscall on a TCP stream).
struct Counting {
    io: TcpStream,
    reads: Arc<AtomicUsize>,
    writes: Arc<AtomicUsize>,
}

impl AsyncRead for Counting {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if polled.is_ready() {
            self.reads.fetch_add(1, Ordering::SeqCst);
        }
        polled
    }
}

impl AsyncWrite for Counting {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn get_fast_path_is_one_write_and_one_read() {
    let (addr, _) = tcp_server(|mut stream| async move {
        while read_head(&mut stream).await.is_some() {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
                .await
                .unwrap();
        }
    })
    .await;
    let reads = Arc::new(AtomicUsize::new(0));
    let writes = Arc::new(AtomicUsize::new(0));
    let io = Counting {
        io: TcpStream::connect(addr).await.unwrap(),
        reads: reads.clone(),
        writes: writes.clone(),
    };
    let (release, released) = pool();
    let mut conn = ClientConnection::new(io);
    for _ in 0..3 {
        reads.store(0, Ordering::SeqCst);
        writes.store(0, Ordering::SeqCst);
        let response = within(conn.send(get("/"), release.clone())).await.unwrap();
        let mut body = response.into_body();
        let data = within(body.frame()).await.unwrap().unwrap();
        assert_eq!(data.into_data().unwrap(), "hello");
        assert!(body.is_end_stream());
        assert_eq!(writes.load(Ordering::SeqCst), 1, "writes");
        assert_eq!(reads.load(Ordering::SeqCst), 1, "reads");
        conn = released.lock().unwrap().pop().expect("released");
    }
}
