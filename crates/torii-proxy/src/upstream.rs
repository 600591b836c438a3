//! Upstream side: a pool of keep-alive HTTP/1.1 connections (torii-http1's client, driven
//! inline by the request's own task) and hyper-util's client for h2c.
//!
//! The HTTP/1.1 pool is keyed by socket address with FxHash; a connection goes back to its
//! endpoint's idle list when its response body ends cleanly (docs/adr/0002, 0003).

use crate::body::RequestBody;
use crate::error::ProxyError;
use crate::proxy::ProxyOptions;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustc_hash::FxHashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use torii_config::AppProtocol;
use torii_http1::client::{
    ClientConnection, Recycle, Release, RequestHead, SendError, SendErrorKind,
};
use torii_steering::{ConnectionGuard, OriginState};

/// Idle connections kept per endpoint at most.
const MAX_IDLE_PER_ENDPOINT: usize = 1024;
/// Idle connections older than this are not reused (upstreams close idle connections too).
const MAX_IDLE_AGE: Duration = Duration::from_secs(60);

/// The upstream clients; their connection pools outlive snapshots.
pub struct Upstreams {
    http1: Arc<Http1Pool>,
    h2c: Client<HttpConnector, RequestBody>,
}

impl Upstreams {
    /// Clients with pooled keep-alive connections.
    pub fn new(options: &ProxyOptions) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(options.connect_timeout));
        connector.set_keepalive(Some(Duration::from_secs(60)));
        let h2c = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .http2_only(true)
            .build(connector);
        Upstreams {
            http1: Arc::new(Http1Pool {
                endpoints: Mutex::new(FxHashMap::default()),
                connect_timeout: options.connect_timeout,
            }),
            h2c,
        }
    }

    /// Sends one request to `endpoint` (the request's URI carries the path; for h2c it is
    /// absolute). `timeout` bounds the wait for the response head.
    pub async fn send(
        &self,
        protocol: AppProtocol,
        endpoint: SocketAddr,
        request: Request<RequestBody>,
        timeout: Option<Duration>,
    ) -> Result<Response<UpstreamBody>, ProxyError> {
        let (mut parts, body) = request.into_parts();
        let head = UpstreamHead {
            method: &parts.method,
            uri: &parts.uri,
            headers: &mut parts.headers,
            host: None,
            last: true,
            origin: None,
        };
        self.send_head(protocol, endpoint, head, body, timeout)
            .await
            .map_err(|failed| failed.error)
    }

    /// Sends one attempt of a request whose head the caller keeps for further attempts: the
    /// HTTP/1.1 client encodes it without taking it (no copy of the headers per attempt);
    /// h2c needs an owned request and copies the headers unless `head.last`. On failure the
    /// body comes back when none of it was consumed (a connect error, a closed connection),
    /// so the request can go elsewhere.
    pub async fn send_head(
        &self,
        protocol: AppProtocol,
        endpoint: SocketAddr,
        head: UpstreamHead<'_>,
        body: RequestBody,
        timeout: Option<Duration>,
    ) -> Result<Response<UpstreamBody>, FailedAttempt> {
        let UpstreamHead {
            method,
            uri,
            headers,
            host,
            last,
            origin,
        } = head;
        let sent = async {
            match protocol {
                AppProtocol::H2c => {
                    let mut request = Request::new(body);
                    *request.method_mut() = method.clone();
                    *request.uri_mut() = uri.clone();
                    *request.version_mut() = http::Version::HTTP_2;
                    *request.headers_mut() = if last {
                        std::mem::take(headers)
                    } else {
                        headers.clone()
                    };
                    if let Some(host) = host {
                        request
                            .headers_mut()
                            .insert(http::header::HOST, host.clone());
                    }
                    self.h2c
                        .request(request)
                        .await
                        .map(|r| r.map(UpstreamBody::Right))
                        .map_err(|error| {
                            FailedAttempt::lost(if error.is_connect() {
                                ProxyError::UpstreamConnect(error.into())
                            } else {
                                ProxyError::Upstream(error.into())
                            })
                        })
                }
                AppProtocol::Http1 | AppProtocol::WebSocket => {
                    let head = RequestHead {
                        method,
                        uri,
                        headers,
                        host,
                    };
                    self.http1.send(endpoint, head, body, origin).await
                }
            }
        };
        match timeout {
            Some(timeout) => tokio::time::timeout(timeout, sent)
                .await
                .map_err(|_| FailedAttempt::lost(ProxyError::Timeout))?,
            None => sent.await,
        }
    }
}

/// The head of an upstream request, kept by the caller across attempts.
pub struct UpstreamHead<'a> {
    /// The method.
    pub method: &'a http::Method,
    /// The target (absolute for h2c).
    pub uri: &'a http::Uri,
    /// The headers, hop-by-hop headers removed; taken (not copied) by h2c when `last`.
    pub headers: &'a mut http::HeaderMap,
    /// Sent as `Host` instead of the one in `headers` (an origin's Host override).
    pub host: Option<&'a http::HeaderValue>,
    /// No attempt follows this one.
    pub last: bool,
    /// The origin a new HTTP/1.1 connection is counted on while it stays open (for the
    /// `leastConnections` balancing of pools).
    pub origin: Option<&'a Arc<OriginState>>,
}

/// An upstream TCP connection, counted on the origin that opened it until it closes (pooled
/// idle connections and upgraded tunnels included).
pub struct UpstreamStream {
    io: TcpStream,
    _open: Option<ConnectionGuard>,
}

impl AsyncRead for UpstreamStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl AsyncWrite for UpstreamStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// An attempt that failed, with the request body when none of it was consumed.
pub struct FailedAttempt {
    /// Why it failed.
    pub error: ProxyError,
    /// The untouched body, to send elsewhere; `None` when it was consumed or dropped.
    pub body: Option<RequestBody>,
}

impl FailedAttempt {
    pub(crate) fn lost(error: ProxyError) -> Self {
        FailedAttempt { error, body: None }
    }
}

struct IdleConnection {
    connection: ClientConnection<UpstreamStream>,
    since: Instant,
}

/// Idle keep-alive connections to one endpoint; also where finished responses return theirs.
struct EndpointPool {
    idle: Mutex<Vec<IdleConnection>>,
}

impl Recycle<UpstreamStream> for EndpointPool {
    fn recycle(&self, connection: ClientConnection<UpstreamStream>) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE_PER_ENDPOINT {
            idle.push(IdleConnection {
                connection,
                since: Instant::now(),
            });
        }
    }
}

impl EndpointPool {
    fn take(&self) -> Option<ClientConnection<UpstreamStream>> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(mut idle_connection) = idle.pop() {
            if idle_connection.since.elapsed() < MAX_IDLE_AGE
                && idle_connection.connection.is_reusable()
            {
                return Some(idle_connection.connection);
            }
        }
        None
    }
}

/// Keep-alive HTTP/1.1 connections by endpoint, driven inline by the requests that use them
/// (torii-http1's client: no connection task, no dispatch channel).
struct Http1Pool {
    endpoints: Mutex<FxHashMap<SocketAddr, Arc<EndpointPool>>>,
    connect_timeout: Duration,
}

/// A response body read straight from a pooled HTTP/1.1 connection.
pub type PooledBody = torii_http1::client::ResponseBody<UpstreamStream, RequestBody>;

impl Http1Pool {
    fn endpoint(&self, endpoint: SocketAddr) -> Arc<EndpointPool> {
        let mut endpoints = self.endpoints.lock().unwrap_or_else(|e| e.into_inner());
        endpoints
            .entry(endpoint)
            .or_insert_with(|| {
                Arc::new(EndpointPool {
                    idle: Mutex::new(Vec::new()),
                })
            })
            .clone()
    }

    async fn connect(
        &self,
        endpoint: SocketAddr,
        origin: Option<&Arc<OriginState>>,
    ) -> Result<ClientConnection<UpstreamStream>, ProxyError> {
        let stream = tokio::time::timeout(self.connect_timeout, TcpStream::connect(endpoint))
            .await
            .map_err(|_| ProxyError::UpstreamConnect("connect timed out".into()))?
            .map_err(|e| ProxyError::UpstreamConnect(e.into()))?;
        let _ = stream.set_nodelay(true);
        Ok(ClientConnection::new(UpstreamStream {
            io: stream,
            _open: origin.map(OriginState::open_connection),
        }))
    }

    async fn send(
        &self,
        endpoint: SocketAddr,
        head: RequestHead<'_>,
        mut body: RequestBody,
        origin: Option<&Arc<OriginState>>,
    ) -> Result<Response<UpstreamBody>, FailedAttempt> {
        let pool = self.endpoint(endpoint);
        // A pooled connection may have been closed by the upstream meanwhile (the keep-alive
        // race: it closed just as we wrote). When it ended cleanly before any response byte,
        // nothing of the body was consumed and the method is idempotent, the request goes on a
        // fresh connection. A reset is an answer of its own (it counts as a failed attempt for
        // the route's retry policy) and is never replayed here.
        let idempotent = is_idempotent(head.method);
        loop {
            let (connection, reused) = match pool.take() {
                Some(connection) => (connection, true),
                None => match self.connect(endpoint, origin).await {
                    Ok(connection) => (connection, false),
                    Err(error) => {
                        return Err(FailedAttempt {
                            error,
                            body: Some(body),
                        })
                    }
                },
            };
            let release: Release<UpstreamStream> = pool.clone();
            match connection.send_head(head, body, release).await {
                Ok(response) => return Ok(response.map(UpstreamBody::Left)),
                Err(mut error) => {
                    let replay =
                        reused && idempotent && error.kind() == SendErrorKind::ClosedBeforeResponse;
                    match error.take_body() {
                        Some(unsent) if replay => body = unsent,
                        unsent => {
                            return Err(FailedAttempt {
                                error: send_error(error),
                                body: unsent,
                            })
                        }
                    }
                }
            }
        }
    }
}

/// Methods a repeat of which has the same effect (RFC 9110 §9.2.2).
pub(crate) fn is_idempotent(method: &http::Method) -> bool {
    use http::Method;
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

fn send_error(error: SendError<RequestBody>) -> ProxyError {
    let kind = error.kind();
    let source: crate::body::BodyError = match error.into_source() {
        Some(source) => source,
        None => kind.to_string().into(),
    };
    match kind {
        SendErrorKind::InvalidResponse
        | SendErrorKind::HeadTooLarge
        | SendErrorKind::TooManyHeaders => ProxyError::UpstreamProtocol(source),
        _ => ProxyError::Upstream(source),
    }
}

/// A response body from an upstream: from the HTTP/1.1 pool (`Left`) or the h2c client
/// (`Right`).
pub type UpstreamBody = http_body_util::Either<PooledBody, Incoming>;

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Answers every request head on a connection with an empty 200, until the client closes.
    async fn empty_ok_server() -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut seen = Vec::new();
                    loop {
                        let Ok(n) = stream.read(&mut buf).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        seen.extend_from_slice(&buf[..n]);
                        while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                            seen.drain(..end + 4);
                            let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                            if stream.write_all(reply).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        address
    }

    #[tokio::test]
    async fn connections_count_on_the_origin_that_opened_them_while_open() {
        let address = empty_ok_server().await;
        let upstreams = Upstreams::new(&ProxyOptions::default());
        let origin = Arc::new(OriginState::new());
        let uri: http::Uri = "/".parse().unwrap();
        for _ in 0..3 {
            let mut headers = http::HeaderMap::new();
            headers.insert(http::header::HOST, "h".parse().unwrap());
            let head = UpstreamHead {
                method: &http::Method::GET,
                uri: &uri,
                headers: &mut headers,
                host: None,
                last: false,
                origin: Some(&origin),
            };
            let response = upstreams
                .send_head(
                    AppProtocol::Http1,
                    address,
                    head,
                    RequestBody::empty(),
                    None,
                )
                .await
                .map_err(|failed| failed.error)
                .expect("response");
            assert_eq!(response.status(), 200);
            // Its body was empty: the connection went back to the pool, still open.
            assert_eq!(origin.connections(), 1, "one kept-alive connection, reused");
        }
        drop(upstreams);
        assert_eq!(origin.connections(), 0, "closed with the pool");
    }
}
