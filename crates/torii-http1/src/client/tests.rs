//! Client tests against scripted peers: an in-memory stream that replays exact response bytes
//! (split anywhere) and records every write, and raw TCP servers on 127.0.0.1.

use super::*;
use crate::codec::BodyError;
use bytes::Bytes;
use http::{HeaderMap, Version};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Empty, Full};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::mpsc;

/// A peer replaying scripted reads (then pending, or EOF) and recording each write call.
pub(super) struct Mock {
    reads: VecDeque<Vec<u8>>,
    eof: bool,
    writes: Arc<Mutex<Vec<Vec<u8>>>>,
    vectored: bool,
}

impl Mock {
    pub(super) fn new(reads: Vec<Vec<u8>>, eof: bool) -> (Self, Arc<Mutex<Vec<Vec<u8>>>>) {
        let writes = Arc::new(Mutex::new(Vec::new()));
        let mock = Mock {
            reads: reads.into(),
            eof,
            writes: writes.clone(),
            vectored: true,
        };
        (mock, writes)
    }
}

impl AsyncRead for Mock {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.reads.pop_front() {
            Some(mut chunk) => {
                let n = chunk.len().min(buf.remaining());
                buf.put_slice(&chunk[..n]);
                if n < chunk.len() {
                    self.reads.push_front(chunk.split_off(n));
                }
                Poll::Ready(Ok(()))
            }
            None if self.eof => Poll::Ready(Ok(())),
            None => Poll::Pending,
        }
    }
}

impl AsyncWrite for Mock {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.writes.lock().unwrap().push(buf.to_vec());
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
        let n = all.len();
        self.writes.lock().unwrap().push(all);
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.vectored
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A pool stand-in: collects released connections.
pub(super) type Released<I> = Arc<Mutex<Vec<ClientConnection<I>>>>;

pub(super) fn pool<I: Send + 'static>() -> (Release<I>, Released<I>) {
    let released: Released<I> = Arc::new(Mutex::new(Vec::new()));
    let sink = released.clone();
    let release: Release<I> = Arc::new(move |c: ClientConnection<I>| sink.lock().unwrap().push(c));
    (release, released)
}

/// A request body fed from a channel: unknown length, frames arrive when the test sends them.
pub(super) struct ChannelBody(pub(super) mpsc::Receiver<Result<Frame<Bytes>, BodyError>>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.0.poll_recv(cx)
    }
}

pub(super) fn get(uri: &str) -> Request<Empty<Bytes>> {
    Request::get(uri)
        .header("host", "a")
        .body(Empty::new())
        .unwrap()
}

pub(super) async fn within<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("test timed out")
}

struct Collected {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    body: Vec<u8>,
    trailers: Option<HeaderMap>,
    released: usize,
}

async fn exchange(
    method: Method,
    connection: Option<&str>,
    reads: Vec<Vec<u8>>,
    eof: bool,
) -> Collected {
    let (mock, _) = Mock::new(reads, eof);
    let (release, released) = pool();
    let mut request = Request::builder()
        .method(method)
        .uri("/")
        .header("host", "a");
    if let Some(value) = connection {
        request = request.header("connection", value);
    }
    let request = request.body(Empty::<Bytes>::new()).unwrap();
    let response = within(ClientConnection::new(mock).send(request, release))
        .await
        .expect("response");
    let (parts, body) = response.into_parts();
    let collected = within(body.collect()).await.expect("body");
    let trailers = collected.trailers().cloned();
    let n = released.lock().unwrap().len();
    Collected {
        status: parts.status,
        version: parts.version,
        headers: parts.headers,
        body: collected.to_bytes().to_vec(),
        trailers,
        released: n,
    }
}

struct Case {
    name: &'static str,
    method: Method,
    connection: Option<&'static str>,
    wire: &'static [u8],
    eof: bool,
    status: u16,
    body: &'static [u8],
    trailer: Option<(&'static str, &'static str)>,
    released: bool,
}

fn cases() -> Vec<Case> {
    let case = |name, wire, status, body, released| Case {
        name,
        method: Method::GET,
        connection: None,
        wire,
        eof: false,
        status,
        body,
        trailer: None,
        released,
    };
    vec![
        case("content-length", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, b"hello", true),
        case(
            "chunked",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n",
            200,
            b"hello world",
            true,
        ),
        Case {
            trailer: Some(("grpc-status", "0")),
            ..case(
                "chunked with trailers",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\ngrpc-status: 0\r\n\r\n",
                200,
                b"abc",
                true,
            )
        },
        Case {
            eof: true,
            ..case("close-delimited", b"HTTP/1.1 200 OK\r\n\r\nuntil the end", 200, b"until the end", false)
        },
        Case {
            method: Method::HEAD,
            ..case("HEAD with content-length", b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 200, b"", true)
        },
        case("204", b"HTTP/1.1 204 No Content\r\n\r\n", 204, b"", true),
        case("304 with content-length", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n", 304, b"", true),
        case(
            "100-continue skipped",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            200,
            b"ok",
            true,
        ),
        case("connection: close", b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", 200, b"ok", false),
        Case {
            connection: Some("close"),
            ..case("request connection: close", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, b"ok", false)
        },
        case("HTTP/1.0", b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, b"ok", false),
        case(
            "HTTP/1.0 keep-alive",
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
            200,
            b"ok",
            true,
        ),
        case(
            "transfer-encoding beats content-length, then close",
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            200,
            b"ok",
            false,
        ),
    ]
}

async fn check(case: &Case, reads: Vec<Vec<u8>>, how: &str) {
    let got = exchange(case.method.clone(), case.connection, reads, case.eof).await;
    let name = format!("{} ({how})", case.name);
    assert_eq!(got.status.as_u16(), case.status, "{name}");
    assert_eq!(got.body, case.body, "{name}");
    assert_eq!(got.released == 1, case.released, "{name}: released");
    match case.trailer {
        Some((k, v)) => assert_eq!(got.trailers.expect("trailers")[k], v, "{name}"),
        None => assert!(got.trailers.is_none(), "{name}"),
    }
    assert!(
        !got.headers.contains_key("content-length")
            || !got.headers.contains_key("transfer-encoding"),
        "{name}"
    );
}

#[tokio::test]
async fn responses_are_framed_and_released_per_rfc() {
    for case in cases() {
        check(&case, vec![case.wire.to_vec()], "one read").await;
    }
}

#[tokio::test]
async fn responses_parse_when_split_at_every_byte() {
    for case in cases() {
        for at in 1..case.wire.len() {
            let reads = vec![case.wire[..at].to_vec(), case.wire[at..].to_vec()];
            check(&case, reads, &format!("split at {at}")).await;
        }
        let bytes = case.wire.iter().map(|b| vec![*b]).collect();
        check(&case, bytes, "byte by byte").await;
    }
}

#[tokio::test]
async fn bytes_after_the_response_make_the_connection_unusable() {
    let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    // Read together with the body: not released.
    let got = exchange(
        Method::GET,
        None,
        vec![[&wire[..], b"HTTP/1.1 200"].concat()],
        false,
    )
    .await;
    assert_eq!((got.body.as_slice(), got.released), (&b"ok"[..], 0));
    // Arriving later: released, and the pool's check finds them.
    let (mock, _) = Mock::new(vec![wire.to_vec(), b"HTTP/1.1 200".to_vec()], false);
    let (release, released) = pool();
    let response = within(ClientConnection::new(mock).send(get("/"), release))
        .await
        .unwrap();
    within(response.into_body().collect()).await.unwrap();
    let mut conn = released.lock().unwrap().pop().expect("released");
    assert!(!conn.is_reusable());
}

#[tokio::test]
async fn response_version_and_headers_come_from_the_wire() {
    let got = exchange(
        Method::GET,
        None,
        vec![b"HTTP/1.0 201 Created\r\nConnection: keep-alive\r\nX-Id: 7\r\nContent-Length: 0\r\n\r\n".to_vec()],
        false,
    )
    .await;
    assert_eq!(got.status, StatusCode::CREATED);
    assert_eq!(got.version, Version::HTTP_10);
    assert_eq!(got.headers["x-id"], "7");
    assert_eq!(got.released, 1);
}

#[tokio::test]
async fn length_bodies_end_with_their_last_byte() {
    let (mock, _) = Mock::new(
        vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab".to_vec(),
            b"cd".to_vec(),
        ],
        false,
    );
    let (release, released) = pool();
    let response = within(ClientConnection::new(mock).send(get("/"), release))
        .await
        .unwrap();
    let mut body = response.into_body();
    assert_eq!(body.size_hint().exact(), Some(4));
    assert!(!body.is_end_stream());
    let first = within(body.frame())
        .await
        .unwrap()
        .unwrap()
        .into_data()
        .unwrap();
    assert_eq!(&first[..], b"ab");
    assert_eq!(body.size_hint().exact(), Some(2));
    let second = within(body.frame())
        .await
        .unwrap()
        .unwrap()
        .into_data()
        .unwrap();
    assert_eq!(&second[..], b"cd");
    // Released with the last byte, without polling for the end.
    assert!(body.is_end_stream());
    assert_eq!(released.lock().unwrap().len(), 1);
    assert!(within(body.frame()).await.is_none());
}

#[tokio::test]
async fn invalid_responses_fail() {
    use SendErrorKind::*;
    let cases: &[(&[u8], bool, SendErrorKind)] = &[
        (b"HTTP/1.1 200 OK\r\nbad\r\n\r\n", false, InvalidResponse),
        (b"garbage\r\n\r\n", false, InvalidResponse),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            false,
            InvalidResponse,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            false,
            InvalidResponse,
        ),
        (b"HTTP/1.1 200 O", true, InvalidResponse),
        (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
            false,
            InvalidResponse,
        ),
        (b"", true, ClosedBeforeResponse),
    ];
    for (wire, eof, want) in cases {
        let (mock, _) = Mock::new(vec![wire.to_vec()], *eof);
        let (release, released) = pool();
        let mut error = within(ClientConnection::new(mock).send(get("/"), release))
            .await
            .expect_err("must fail");
        assert_eq!(error.kind(), *want, "{:?}", String::from_utf8_lossy(wire));
        // Handed back only when nothing at all was received.
        assert_eq!(
            error.take_request().is_some(),
            wire.is_empty(),
            "{:?}",
            String::from_utf8_lossy(wire)
        );
        assert!(released.lock().unwrap().is_empty());
    }
}

#[tokio::test]
async fn request_heads_and_small_bodies_go_out_in_one_write() {
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec();
    type Build = fn() -> Request<Full<Bytes>>;
    let cases: &[(&str, Build, &[u8])] = &[
        (
            "known length",
            || {
                Request::post("/up")
                    .header("host", "a")
                    .body(Full::new(Bytes::from_static(b"hello")))
                    .unwrap()
            },
            b"POST /up HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\n\r\nhello",
        ),
        (
            "caller's content-length kept",
            || {
                Request::put("http://a/x?y")
                    .header("host", "a")
                    .header("content-length", "5")
                    .body(Full::new(Bytes::from_static(b"hello")))
                    .unwrap()
            },
            b"PUT /x?y HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\n\r\nhello",
        ),
        (
            "empty body",
            || {
                Request::get("/")
                    .header("host", "a")
                    .body(Full::new(Bytes::new()))
                    .unwrap()
            },
            b"GET / HTTP/1.1\r\nhost: a\r\n\r\n",
        ),
    ];
    for (name, build, want) in cases {
        for vectored in [true, false] {
            let (mut mock, writes) = Mock::new(vec![ok.clone()], false);
            mock.vectored = vectored;
            let (release, released) = pool();
            let response = within(ClientConnection::new(mock).send(build(), release))
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let writes = writes.lock().unwrap();
            assert_eq!(writes.len(), 1, "{name}: one write");
            assert_eq!(
                String::from_utf8_lossy(&writes[0]),
                String::from_utf8_lossy(want),
                "{name}"
            );
            assert_eq!(released.lock().unwrap().len(), 1, "{name}");
        }
    }
}

#[tokio::test]
async fn large_frames_are_written_without_copy_and_chunked_when_length_unknown() {
    let (tx, rx) = mpsc::channel(4);
    let big = Bytes::from(vec![b'x'; 20_000]);
    tx.send(Ok(Frame::data(Bytes::from_static(b"hi"))))
        .await
        .unwrap();
    tx.send(Ok(Frame::data(big.clone()))).await.unwrap();
    let mut trailers = HeaderMap::new();
    trailers.insert("x-sum", "1".parse().unwrap());
    tx.send(Ok(Frame::trailers(trailers))).await.unwrap();
    drop(tx);
    let (mock, writes) = Mock::new(
        vec![b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec()],
        false,
    );
    let (release, released) = pool();
    let request = Request::post("/")
        .header("host", "a")
        .body(ChannelBody(rx))
        .unwrap();
    let response = within(ClientConnection::new(mock).send(request, release))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let wire: Vec<u8> = writes.lock().unwrap().concat();
    let mut want =
        b"POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n4e20\r\n"
            .to_vec();
    want.extend_from_slice(&big);
    want.extend_from_slice(b"\r\n0\r\nx-sum: 1\r\n\r\n");
    assert_eq!(wire, want);
    assert_eq!(released.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_request_framing_is_refused_and_handed_back() {
    type Build = fn() -> Request<Full<Bytes>>;
    let cases: &[(&str, Build, bool)] = &[
        (
            "transfer-encoding and content-length",
            || {
                Request::post("/")
                    .header("transfer-encoding", "chunked")
                    .header("content-length", "5")
                    .body(Full::new(Bytes::from_static(b"hello")))
                    .unwrap()
            },
            true,
        ),
        (
            "content-length not a number",
            || {
                Request::post("/")
                    .header("content-length", "five")
                    .body(Full::new(Bytes::new()))
                    .unwrap()
            },
            true,
        ),
        (
            "body shorter than content-length",
            || {
                Request::post("/")
                    .header("content-length", "10")
                    .body(Full::new(Bytes::from_static(b"hello")))
                    .unwrap()
            },
            false,
        ),
        (
            "body longer than content-length",
            || {
                Request::post("/")
                    .header("content-length", "2")
                    .body(Full::new(Bytes::from_static(b"hello")))
                    .unwrap()
            },
            false,
        ),
    ];
    for (name, build, handed_back) in cases {
        let (mock, _) = Mock::new(vec![], false);
        let (release, _) = pool();
        let mut error = within(ClientConnection::new(mock).send(build(), release))
            .await
            .expect_err(name);
        assert_eq!(error.kind(), SendErrorKind::InvalidRequest, "{name}");
        assert_eq!(error.take_request().is_some(), *handed_back, "{name}");
    }
}

#[test]
fn bodies_and_futures_can_cross_threads() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let body: ResponseBody<tokio::net::TcpStream, Full<Bytes>> = ResponseBody::empty();
    send_sync(&body);
    let (mock, _) = Mock::new(vec![], false);
    let (release, _) = pool();
    let future = ClientConnection::new(mock).send(get("/"), release);
    send(&future);
}

#[tokio::test]
async fn request_body_errors_fail_the_request() {
    let (tx, rx) = mpsc::channel(4);
    tx.send(Ok(Frame::data(Bytes::from_static(b"part"))))
        .await
        .unwrap();
    tx.send(Err("client went away".into())).await.unwrap();
    let (mock, _) = Mock::new(vec![], false);
    let (release, released) = pool();
    let request = Request::post("/").body(ChannelBody(rx)).unwrap();
    let mut error = within(ClientConnection::new(mock).send(request, release))
        .await
        .expect_err("body error");
    assert_eq!(error.kind(), SendErrorKind::Body);
    assert!(error.take_request().is_none());
    assert!(std::error::Error::source(&error).is_some());
    assert!(released.lock().unwrap().is_empty());
}

#[test]
fn futures_and_bodies_stay_small() {
    // The proxy holds these per request in flight: no buffers or duplicated requests inline.
    let (mock, _) = Mock::new(vec![], false);
    let (release, _) = pool();
    let future = ClientConnection::new(mock).send(get("/"), release);
    assert!(
        std::mem::size_of_val(&future) <= 512,
        "{}",
        std::mem::size_of_val(&future)
    );
    let body = std::mem::size_of::<ResponseBody<tokio::net::TcpStream, Empty<Bytes>>>();
    assert!(body <= 256, "{body}");
    assert!(std::mem::size_of::<SendError<Empty<Bytes>>>() <= 32);
}
