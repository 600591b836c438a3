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
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use torii_config::AppProtocol;
use torii_http1::client::{ClientConnection, Recycle, Release, SendError, SendErrorKind};

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
        let sent = async {
            match protocol {
                AppProtocol::H2c => self
                    .h2c
                    .request(request)
                    .await
                    .map(|r| r.map(UpstreamBody::Right))
                    .map_err(|error| {
                        if error.is_connect() {
                            ProxyError::UpstreamConnect(error.into())
                        } else {
                            ProxyError::Upstream(error.into())
                        }
                    }),
                AppProtocol::Http1 | AppProtocol::WebSocket => {
                    self.http1.send(endpoint, request).await
                }
            }
        };
        match timeout {
            Some(timeout) => tokio::time::timeout(timeout, sent)
                .await
                .map_err(|_| ProxyError::Timeout)?,
            None => sent.await,
        }
    }
}

struct IdleConnection {
    connection: ClientConnection<TcpStream>,
    since: Instant,
}

/// Idle keep-alive connections to one endpoint; also where finished responses return theirs.
struct EndpointPool {
    idle: Mutex<Vec<IdleConnection>>,
}

impl Recycle<TcpStream> for EndpointPool {
    fn recycle(&self, connection: ClientConnection<TcpStream>) {
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
    fn take(&self) -> Option<ClientConnection<TcpStream>> {
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
pub type PooledBody = torii_http1::client::ResponseBody<TcpStream, RequestBody>;

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
    ) -> Result<ClientConnection<TcpStream>, ProxyError> {
        let stream = tokio::time::timeout(self.connect_timeout, TcpStream::connect(endpoint))
            .await
            .map_err(|_| ProxyError::UpstreamConnect("connect timed out".into()))?
            .map_err(|e| ProxyError::UpstreamConnect(e.into()))?;
        let _ = stream.set_nodelay(true);
        Ok(ClientConnection::new(stream))
    }

    async fn send(
        &self,
        endpoint: SocketAddr,
        mut request: Request<RequestBody>,
    ) -> Result<Response<UpstreamBody>, ProxyError> {
        let pool = self.endpoint(endpoint);
        // A pooled connection may have been closed by the upstream meanwhile (the keep-alive
        // race: it closed just as we wrote). When it ended cleanly before any response byte,
        // nothing of the body was consumed and the method is idempotent, the request goes on a
        // fresh connection. A reset is an answer of its own (it counts as a failed attempt for
        // the route's retry policy) and is never replayed here.
        let idempotent = is_idempotent(request.method());
        loop {
            let (connection, reused) = match pool.take() {
                Some(connection) => (connection, true),
                None => (self.connect(endpoint).await?, false),
            };
            let release: Release<TcpStream> = pool.clone();
            match connection.send(request, release).await {
                Ok(response) => return Ok(response.map(UpstreamBody::Left)),
                Err(mut error) => {
                    let replay =
                        reused && idempotent && error.kind() == SendErrorKind::ClosedBeforeResponse;
                    match error.take_request() {
                        Some(unsent) if replay => request = unsent,
                        _ => return Err(send_error(error)),
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
