//! Interop: the client against hyper's HTTP/1.1 server on 127.0.0.1.

use super::tests::{get, pool, within, ChannelBody};
use super::*;
use crate::codec::BodyError;
use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

type HyperBody = BoxBody<Bytes, BodyError>;

fn full(data: impl Into<Bytes>) -> HyperBody {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed()
}

/// Runs `handler` in hyper's HTTP/1.1 server (keep-alive unless `keep_alive` is false).
async fn hyper_server<F, Fut>(keep_alive: bool, handler: F) -> (SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<HyperBody>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let handler = handler.clone();
                    async move { Ok::<_, Infallible>(handler(request).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(keep_alive)
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    (addr, accepted)
}

async fn connect(addr: SocketAddr) -> ClientConnection<TcpStream> {
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    ClientConnection::new(stream)
}

/// Describes a request as the server saw it: method, target, framing and body.
async fn describe(request: Request<Incoming>) -> Response<HyperBody> {
    let framing = match (
        request.headers().get("content-length"),
        request.headers().get("transfer-encoding"),
    ) {
        (Some(length), None) => format!("length {}", length.to_str().unwrap()),
        (None, Some(te)) => te.to_str().unwrap().to_owned(),
        (None, None) => "none".to_owned(),
        _ => "both".to_owned(),
    };
    let head = format!("{} {} {framing} ", request.method(), request.uri());
    let collected = request.into_body().collect().await.unwrap();
    let trailer = collected
        .trailers()
        .and_then(|t| t.get("x-t"))
        .map(|v| format!(" trailer {}", v.to_str().unwrap()))
        .unwrap_or_default();
    let body = String::from_utf8(collected.to_bytes().to_vec()).unwrap();
    Response::new(full(format!("{head}{body}{trailer}")))
}

#[tokio::test]
async fn hyper_keep_alive_reuses_one_connection() {
    let (addr, accepted) = hyper_server(true, describe).await;
    let (release, released) = pool();
    let mut conn = connect(addr).await;
    for n in 0..10 {
        let response = within(conn.send(get(&format!("/r/{n}?x")), release.clone()))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body = within(response.into_body().collect())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(body, format!("GET /r/{n}?x none "));
        conn = released
            .lock()
            .unwrap()
            .pop()
            .expect("released after the body");
        assert!(conn.is_reusable());
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn hyper_sees_known_and_unknown_length_bodies() {
    let (addr, _) = hyper_server(true, describe).await;
    let (release, released) = pool();
    // Known length: content-length on the wire.
    let request = Request::post("/known")
        .header("host", "a")
        .body(Full::new(Bytes::from_static(b"payload")))
        .unwrap();
    let response = within(connect(addr).await.send(request, release.clone()))
        .await
        .unwrap();
    let body = within(response.into_body().collect())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(body, "POST /known length 7 payload");
    // Unknown length, streamed with trailers: chunked on the wire.
    let (tx, rx) = mpsc::channel(4);
    let request = Request::put("/streamed")
        .header("host", "a")
        .body(ChannelBody(rx))
        .unwrap();
    let conn = released.lock().unwrap().pop().expect("released");
    let sent = conn.send(request, release.clone());
    let feed = async {
        for part in ["a", "bc", "def"] {
            tx.send(Ok(Frame::data(Bytes::from(part)))).await.unwrap();
            tokio::task::yield_now().await;
        }
        let mut trailers = HeaderMap::new();
        trailers.insert("x-t", "done".parse().unwrap());
        tx.send(Ok(Frame::trailers(trailers))).await.unwrap();
    };
    let (response, ()) = within(async { tokio::join!(sent, feed) }).await;
    let body = within(response.unwrap().into_body().collect())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(body, "PUT /streamed chunked abcdef trailer done");
    assert_eq!(released.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn hyper_trailers_and_chunked_responses_arrive() {
    let (addr, _) = hyper_server(true, |_request| async {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().unwrap());
        let frames = Frames(
            [
                Frame::data(Bytes::from_static(b"one ")),
                Frame::data(Bytes::from_static(b"two")),
                Frame::trailers(trailers),
            ]
            .into(),
        );
        // hyper sends only the trailers announced in `Trailer`, and only to `TE: trailers`.
        let mut response = Response::new(BoxBody::new(frames));
        response
            .headers_mut()
            .insert("trailer", "grpc-status".parse().unwrap());
        response
    })
    .await;
    let (release, released) = pool();
    let request = Request::get("/")
        .header("host", "a")
        .header("te", "trailers")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = within(connect(addr).await.send(request, release))
        .await
        .unwrap();
    assert_eq!(response.headers()["transfer-encoding"], "chunked");
    let collected = within(response.into_body().collect()).await.unwrap();
    assert_eq!(collected.trailers().expect("trailers")["grpc-status"], "0");
    assert_eq!(collected.to_bytes(), "one two");
    assert_eq!(released.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn hyper_connection_close_is_not_released() {
    let (addr, _) = hyper_server(false, describe).await;
    let (release, released) = pool();
    let response = within(connect(addr).await.send(get("/"), release))
        .await
        .unwrap();
    assert_eq!(response.headers()["connection"], "close");
    within(response.into_body().collect()).await.unwrap();
    assert!(released.lock().unwrap().is_empty());
}

/// A request body of `len` bytes following a fixed pattern, in 64 KiB frames.
struct Pattern {
    sent: usize,
    len: usize,
    exact: bool,
}

fn pattern_byte(i: usize) -> u8 {
    (i % 251) as u8
}

impl Body for Pattern {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        if self.sent == self.len {
            return Poll::Ready(None);
        }
        let n = (self.len - self.sent).min(64 * 1024);
        let data: Vec<u8> = (self.sent..self.sent + n).map(pattern_byte).collect();
        self.sent += n;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(data)))))
    }

    fn size_hint(&self) -> SizeHint {
        if self.exact {
            SizeHint::with_exact((self.len - self.sent) as u64)
        } else {
            SizeHint::default()
        }
    }
}

#[tokio::test]
async fn hyper_echo_of_64_mib_does_not_deadlock() {
    const LEN: usize = 64 * 1024 * 1024;
    let (addr, _) = hyper_server(true, |request: Request<Incoming>| async move {
        Response::new(request.into_body().map_err(Into::into).boxed())
    })
    .await;
    let (release, released) = pool();
    let mut conn = connect(addr).await;
    for exact in [true, false] {
        let request = Request::post("/echo")
            .header("host", "a")
            .body(Pattern {
                sent: 0,
                len: LEN,
                exact,
            })
            .unwrap();
        let echoed = async {
            let response = conn.send(request, release.clone()).await.unwrap();
            let mut body = response.into_body();
            let mut received = 0;
            while let Some(frame) = body.frame().await {
                let data = frame.unwrap().into_data().unwrap();
                for (i, b) in data.iter().enumerate() {
                    assert_eq!(*b, pattern_byte(received + i), "byte {}", received + i);
                }
                received += data.len();
            }
            received
        };
        let received = tokio::time::timeout(std::time::Duration::from_secs(120), echoed)
            .await
            .expect("echo deadlocked");
        assert_eq!(received, LEN, "exact length: {exact}");
        conn = released
            .lock()
            .unwrap()
            .pop()
            .expect("released after the echo");
    }
}

#[tokio::test]
async fn hyper_upgrade_carries_bytes_both_ways() {
    let (addr, _) = hyper_server(true, |mut request: Request<Incoming>| async move {
        let on_upgrade = hyper::upgrade::on(&mut request);
        tokio::spawn(async move {
            let upgraded = on_upgrade.await.expect("server upgrade");
            let mut io = TokioIo::new(upgraded);
            let mut buf = [0u8; 4];
            io.read_exact(&mut buf).await.unwrap();
            io.write_all(&buf).await.unwrap();
            io.write_all(b"!").await.unwrap();
        });
        Response::builder()
            .status(101)
            .header("connection", "upgrade")
            .header("upgrade", "test")
            .body(full(""))
            .unwrap()
    })
    .await;
    let (release, released) = pool();
    let request = Request::get("/")
        .header("host", "a")
        .header("connection", "upgrade")
        .header("upgrade", "test")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let mut response = within(connect(addr).await.send(request, release))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    let on_upgrade = response
        .extensions_mut()
        .remove::<crate::OnUpgrade>()
        .unwrap();
    let mut upgraded = within(on_upgrade).await.unwrap();
    upgraded.write_all(b"ping").await.unwrap();
    let mut got = Vec::new();
    within(upgraded.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"ping!");
    assert!(released.lock().unwrap().is_empty());
}

/// A body replaying prepared frames.
struct Frames(std::collections::VecDeque<Frame<Bytes>>);

impl Body for Frames {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        Poll::Ready(self.0.pop_front().map(Ok))
    }
}
