//! Test helpers: a server on a duplex pipe or a real socket, a raw client that reads responses
//! straight off the wire, and small response bodies.

use crate::codec::{self, BodyDecoder, BodyError, Decoded, Framing};
use crate::server::{serve_connection, RecvBody, RecvBodyError, ServerError, ServerOptions};
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Serves one connection over an in-memory pipe; returns the client end.
pub fn serve_duplex<S, F, B>(
    options: ServerOptions,
    service: S,
) -> (RawClient<DuplexStream>, JoinHandle<Result<(), ServerError>>)
where
    S: FnMut(Request<RecvBody>) -> F + Send + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BodyError>,
{
    serve_duplex_until(options, service, std::future::pending())
}

/// Like [`serve_duplex`], with a shutdown signal.
pub fn serve_duplex_until<S, F, B, D>(
    options: ServerOptions,
    service: S,
    shutdown: D,
) -> (RawClient<DuplexStream>, JoinHandle<Result<(), ServerError>>)
where
    S: FnMut(Request<RecvBody>) -> F + Send + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BodyError>,
    D: Future<Output = ()> + Send + 'static,
{
    let (client, server) = tokio::io::duplex(64 * 1024);
    let task = tokio::spawn(async move {
        let options = options;
        serve_connection(server, &options, service, shutdown).await
    });
    (RawClient::new(client), task)
}

/// A listener on 127.0.0.1 serving every connection with a fresh copy of `service`.
pub async fn serve_tcp<S, F, B>(service: S) -> std::net::SocketAddr
where
    S: FnMut(Request<RecvBody>) -> F + Clone + Send + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BodyError>,
{
    serve_tcp_with(ServerOptions::default(), service).await
}

/// Like [`serve_tcp`], with these options.
pub async fn serve_tcp_with<S, F, B>(options: ServerOptions, service: S) -> std::net::SocketAddr
where
    S: FnMut(Request<RecvBody>) -> F + Clone + Send + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BodyError>,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = service.clone();
            let options = options.clone();
            tokio::spawn(async move {
                let _ = serve_connection(stream, &options, service, std::future::pending()).await;
            });
        }
    });
    addr
}

/// A response as read off the wire.
#[derive(Debug)]
pub struct Wire {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub trailers: Option<HeaderMap>,
}

impl Wire {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// Writes raw requests and parses responses from the bytes that come back.
pub struct RawClient<T> {
    pub io: T,
    buf: BytesMut,
}

impl<T: AsyncWrite + Unpin> RawClient<T> {
    pub async fn send(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.unwrap();
        self.io.flush().await.unwrap();
    }
}

impl<T: AsyncRead + Unpin> RawClient<T> {
    pub fn new(io: T) -> Self {
        RawClient {
            io,
            buf: BytesMut::new(),
        }
    }

    /// Reads more bytes; false at EOF.
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout(Duration::from_secs(10), self.io.read(&mut chunk))
            .await
            .expect("response timed out")
            .unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    /// Reads one response head (and its body, framed as for a request with `method`).
    pub async fn response_to(&mut self, method: &Method) -> Wire {
        let (status, headers) = loop {
            let mut parsed = [httparse::EMPTY_HEADER; 64];
            let mut response = httparse::Response::new(&mut parsed);
            if let httparse::Status::Complete(n) = response.parse(&self.buf).unwrap() {
                let status = StatusCode::from_u16(response.code.unwrap()).unwrap();
                let mut headers = HeaderMap::new();
                for h in response.headers.iter() {
                    headers.append(
                        HeaderName::from_bytes(h.name.as_bytes()).unwrap(),
                        HeaderValue::from_bytes(h.value).unwrap(),
                    );
                }
                let _ = self.buf.split_to(n);
                break (status, headers);
            }
            assert!(
                self.fill().await,
                "EOF before a response head: {:?}",
                self.buf
            );
        };
        let framing = codec::response_framing(method, status, &headers).unwrap();
        let mut decoder = BodyDecoder::new(framing);
        let mut body = Vec::new();
        let mut trailers = None;
        loop {
            match decoder.decode(&mut self.buf).unwrap() {
                Some(Decoded::Data(data)) => body.extend_from_slice(&data),
                Some(Decoded::Trailers(t)) => {
                    trailers = Some(t);
                    break;
                }
                Some(Decoded::End) => break,
                None => {
                    if !self.fill().await {
                        assert_eq!(framing, Framing::CloseDelimited, "body cut short");
                        break;
                    }
                }
            }
        }
        Wire {
            status,
            headers,
            body,
            trailers,
        }
    }

    pub async fn response(&mut self) -> Wire {
        self.response_to(&Method::GET).await
    }

    /// Reads exactly `n` bytes (after whatever is buffered).
    pub async fn read_exact(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(self.fill().await, "EOF before {n} bytes");
        }
        self.buf.split_to(n).to_vec()
    }

    /// Reads everything until EOF.
    pub async fn rest(&mut self) -> Vec<u8> {
        while self.fill().await {}
        self.buf.split().to_vec()
    }

    /// Whether the server closed the connection (EOF with nothing more sent).
    pub async fn is_closed(&mut self) -> bool {
        self.rest().await.is_empty()
    }
}

/// A response body of prepared frames, with an unknown length unless told.
pub struct Frames {
    items: VecDeque<Result<Frame<Bytes>, BodyError>>,
    exact: Option<u64>,
}

impl Frames {
    pub fn new(items: Vec<Result<Frame<Bytes>, BodyError>>) -> Self {
        Frames {
            items: items.into(),
            exact: None,
        }
    }

    pub fn data(chunks: &[&'static str]) -> Self {
        Frames::new(
            chunks
                .iter()
                .map(|c| Ok(Frame::data(Bytes::from_static(c.as_bytes()))))
                .collect(),
        )
    }

    pub fn with_exact(mut self, n: u64) -> Self {
        self.exact = Some(n);
        self
    }
}

impl Body for Frames {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        Poll::Ready(self.items.pop_front())
    }

    fn size_hint(&self) -> SizeHint {
        self.exact.map_or_else(SizeHint::new, SizeHint::with_exact)
    }
}

/// A response body fed by a channel (frames arrive while the response is being written).
pub struct Channel(pub mpsc::Receiver<Result<Frame<Bytes>, BodyError>>);

impl Body for Channel {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.0.poll_recv(cx)
    }
}

/// What a service saw of a request body.
#[derive(Debug, Default)]
pub struct Collected {
    pub data: Vec<u8>,
    pub frames: usize,
    pub trailers: Option<HeaderMap>,
    pub error: Option<RecvBodyError>,
}

/// Reads a whole request body frame by frame.
pub async fn collect(mut body: RecvBody) -> Collected {
    let mut seen = Collected::default();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        match frame {
            Ok(frame) => match frame.into_data() {
                Ok(data) => {
                    seen.frames += 1;
                    seen.data.extend_from_slice(&data);
                }
                Err(frame) => seen.trailers = frame.into_trailers().ok(),
            },
            Err(error) => {
                seen.error = Some(error);
                break;
            }
        }
    }
    seen
}

/// A body of `len` bytes of a repeating pattern.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Encodes `data` as chunks of `size` bytes, with the last chunk.
pub fn chunked(data: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in data.chunks(size) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// A 200 response with a small text body.
pub fn text(body: &'static str) -> Response<Frames> {
    Response::new(Frames::data(&[body]).with_exact(body.len() as u64))
}
