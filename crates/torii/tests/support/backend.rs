//! Test backends: an echo server (HTTP/1.1 and h2c) that answers JSON describing the request
//! it saw, a raw TCP echo and a TLS-terminating echo.
//!
//! The echo server's paths (each may follow any prefix, e.g. `/api/delay/100`):
//! - `.../delay/<ms>`: answers after `ms` milliseconds;
//! - `.../status/<code>`: answers with that status;
//! - `.../download/<bytes>`: streams a body of that many bytes (generated, never buffered);
//! - `.../trailers`: answers `grpc-status: 0` and `x-trailer: yes` as trailers after the body;
//! - `.../hop`: answers with hop-by-hop headers (`Connection: x-backend-private`,
//!   `X-Backend-Private`, `Keep-Alive`, `Proxy-Connection`) and `X-Backend-Public`;
//! - a request with `Upgrade` is answered `101` and the connection then greets
//!   (`hello from <name>\n`) and echoes bytes back;
//! - anything else: `200` with JSON `{name, method, path, version, headers, body_len}`; the
//!   request body is read to its end and counted, not kept.

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, Version};
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A request as the backend saw it (recorded when its head arrives).
#[derive(Debug, Clone)]
pub struct Seen {
    /// The method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// HTTP version.
    pub version: Version,
    /// Headers.
    pub headers: HeaderMap,
}

/// How reading a request body ended, recorded when it ends.
#[derive(Debug, Clone)]
pub struct BodyRead {
    /// Path and query.
    pub path: String,
    /// Bytes read, or the error that ended the body.
    pub result: Result<u64, String>,
}

struct State {
    name: String,
    delay: Duration,
    seen: Mutex<Vec<Seen>>,
    bodies: Mutex<Vec<BodyRead>>,
    connections: AtomicUsize,
}

/// A running echo backend; stops accepting when dropped.
pub struct Backend {
    /// Its name, answered in every JSON body.
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type BoxedBody = BoxBody<Bytes, Infallible>;

impl Backend {
    /// Starts an echo backend named `name` on `ip` (OS-picked port).
    pub async fn start(name: &str, ip: IpAddr) -> Backend {
        Backend::start_with_delay(name, ip, Duration::ZERO).await
    }

    /// Starts an echo backend that waits `delay` before answering any request (the request is
    /// recorded at once).
    pub async fn start_with_delay(name: &str, ip: IpAddr, delay: Duration) -> Backend {
        let listener = TcpListener::bind((ip, 0))
            .await
            .expect("bind the echo backend");
        let addr = listener.local_addr().expect("bound address");
        let state = Arc::new(State {
            name: name.to_string(),
            delay,
            seen: Mutex::new(Vec::new()),
            bodies: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
        });
        let task = tokio::spawn(accept(listener, state.clone()));
        Backend {
            name: name.to_string(),
            addr,
            state,
            task,
        }
    }

    /// Every request seen so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.state.seen.lock().expect("not poisoned").clone()
    }

    /// How many requests were seen.
    pub fn count(&self) -> usize {
        self.state.seen.lock().expect("not poisoned").len()
    }

    /// How many connections were accepted.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::Acquire)
    }

    /// Waits up to `limit` for the body of a request whose path starts with `prefix` to end.
    pub async fn wait_for_body(&self, prefix: &str, limit: Duration) -> Option<BodyRead> {
        super::eventually(limit, || async {
            self.state
                .bodies
                .lock()
                .expect("not poisoned")
                .iter()
                .find(|read| read.path.starts_with(prefix))
                .cloned()
        })
        .await
    }

    /// Waits up to `limit` for a request whose path starts with `prefix`.
    pub async fn wait_for(&self, prefix: &str, limit: Duration) -> Option<Seen> {
        super::eventually(limit, || async {
            self.requests()
                .into_iter()
                .find(|seen| seen.path.starts_with(prefix))
        })
        .await
    }
}

async fn accept(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        state.connections.fetch_add(1, Ordering::AcqRel);
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| handle(state.clone(), request));
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    state: Arc<State>,
    mut request: Request<Incoming>,
) -> Result<Response<BoxedBody>, Infallible> {
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    state.seen.lock().expect("not poisoned").push(Seen {
        method: request.method().to_string(),
        path: path.clone(),
        version: request.version(),
        headers: request.headers().clone(),
    });
    if !state.delay.is_zero() {
        tokio::time::sleep(state.delay).await;
    }
    let route = request.uri().path().to_string();
    let mut status = StatusCode::OK;
    if let Some((_, ms)) = route.rsplit_once("/delay/") {
        let ms: u64 = ms.parse().unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    } else if let Some((_, code)) = route.rsplit_once("/status/") {
        status = code
            .parse::<u16>()
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or(StatusCode::BAD_REQUEST);
    } else if let Some((_, bytes)) = route.rsplit_once("/download/") {
        let total: u64 = bytes.parse().unwrap_or(0);
        return Ok(Response::new(Generated::new(total).boxed()));
    }
    if route.ends_with("/trailers") {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        trailers.insert("x-trailer", http::HeaderValue::from_static("yes"));
        let body = WithTrailers {
            data: Some(Bytes::from_static(b"body before trailers")),
            trailers: Some(trailers),
        };
        let response = Response::builder()
            .header(http::header::CONTENT_TYPE, "application/grpc")
            .body(body.boxed())
            .expect("valid response");
        return Ok(response);
    }
    if route.ends_with("/hop") {
        let response = Response::builder()
            .header(http::header::CONNECTION, "x-backend-private")
            .header("x-backend-private", "secret")
            .header("keep-alive", "timeout=99")
            .header("proxy-connection", "keep-alive")
            .header("x-backend-public", "kept")
            .body(Full::new(Bytes::from_static(b"hop")).boxed())
            .expect("valid response");
        return Ok(response);
    }
    if let Some(protocol) = request.headers().get(http::header::UPGRADE).cloned() {
        let upgrade = hyper::upgrade::on(&mut request);
        let name = state.name.clone();
        tokio::spawn(async move {
            if let Ok(upgraded) = upgrade.await {
                let _ = greet_and_echo(TokioIo::new(upgraded), &name).await;
            }
        });
        let response = Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(http::header::UPGRADE, protocol)
            .header(http::header::CONNECTION, "upgrade")
            .body(Full::new(Bytes::new()).boxed())
            .expect("valid response");
        return Ok(response);
    }
    let method = request.method().to_string();
    let version = format!("{:?}", request.version());
    let headers = headers_json(request.headers());
    let mut body = request.into_body();
    let mut body_len: u64 = 0;
    let mut read = Ok(());
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => body_len += frame.data_ref().map_or(0, |d| d.len() as u64),
            Err(error) => {
                status = StatusCode::BAD_REQUEST;
                read = Err(error.to_string());
                break;
            }
        }
    }
    state.bodies.lock().expect("not poisoned").push(BodyRead {
        path: path.clone(),
        result: read.map(|()| body_len),
    });
    let json = serde_json::json!({
        "name": state.name,
        "method": method,
        "path": path,
        "version": version,
        "headers": headers,
        "body_len": body_len,
    });
    let response = Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(json.to_string())).boxed())
        .expect("valid response");
    Ok(response)
}

/// Headers as `{name: [values]}`.
fn headers_json(headers: &HeaderMap) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for name in headers.keys() {
        let values: Vec<serde_json::Value> = headers
            .get_all(name)
            .iter()
            .map(|v| serde_json::Value::String(String::from_utf8_lossy(v.as_bytes()).into()))
            .collect();
        map.insert(name.as_str().to_string(), serde_json::Value::Array(values));
    }
    serde_json::Value::Object(map)
}

async fn greet_and_echo<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    name: &str,
) -> std::io::Result<()> {
    stream
        .write_all(format!("hello from {name}\n").as_bytes())
        .await?;
    echo(stream).await
}

async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) -> std::io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return stream.shutdown().await;
        }
        stream.write_all(&buf[..n]).await?;
    }
}

/// Chunk size of generated bodies.
pub const CHUNK: usize = 64 * 1024;

/// A body of `left` bytes, handed out in [`CHUNK`]-sized frames of one shared buffer.
pub struct Generated {
    chunk: Bytes,
    left: u64,
    sized: bool,
}

impl Generated {
    /// A body of `total` bytes that announces its length (`Content-Length`).
    pub fn new(total: u64) -> Self {
        Generated {
            chunk: Bytes::from(vec![b'x'; CHUNK]),
            left: total,
            sized: true,
        }
    }

    /// A body of `total` bytes that does not announce its length (chunked in HTTP/1.1).
    pub fn without_length(total: u64) -> Self {
        Generated {
            sized: false,
            ..Generated::new(total)
        }
    }
}

impl Body for Generated {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(CHUNK as u64) as usize;
        self.left -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(self.chunk.slice(..n)))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        if self.sized {
            SizeHint::with_exact(self.left)
        } else {
            SizeHint::default()
        }
    }
}

/// A body of one data frame, then trailers.
struct WithTrailers {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl Body for WithTrailers {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }
}

/// A raw TCP echo server on `ip`; stops when the returned handle is dropped.
pub async fn tcp_echo(ip: IpAddr) -> (SocketAddr, AbortOnDrop) {
    let listener = TcpListener::bind((ip, 0)).await.expect("bind the TCP echo");
    let addr = listener.local_addr().expect("bound address");
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(echo(stream));
        }
    });
    (addr, AbortOnDrop(task))
}

/// A TLS server on `ip` that terminates TLS with `config`, greets (`hello from <name>\n`)
/// and echoes.
pub async fn tls_echo(
    ip: IpAddr,
    name: &str,
    config: Arc<rustls::ServerConfig>,
) -> (SocketAddr, AbortOnDrop) {
    let listener = TcpListener::bind((ip, 0)).await.expect("bind the TLS echo");
    let addr = listener.local_addr().expect("bound address");
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let name = name.to_string();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let name = name.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(stream).await {
                    let _ = greet_and_echo(tls, &name).await;
                }
            });
        }
    });
    (addr, AbortOnDrop(task))
}

/// Aborts a task when dropped.
pub struct AbortOnDrop(pub JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
