//! Upstream side: a pool of keep-alive HTTP/1.1 connections (hyper's connection API with a
//! pool of our own) and hyper-util's client for h2c.
//!
//! Why a pool of our own for HTTP/1.1: hyper-util's legacy pool hashes `(scheme, authority)`
//! with SipHash twice per request and moves large futures around; profiling put it at about a
//! sixth of the proxy's user-space instructions per request (docs/benchmarks.md). Ours is keyed
//! by socket address with FxHash, and a connection goes back to the pool when its response body
//! ends.

use crate::body::{BodyError, RequestBody};
use crate::error::ProxyError;
use crate::proxy::ProxyOptions;
use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustc_hash::FxHashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use torii_config::AppProtocol;

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
                idle: Mutex::new(FxHashMap::default()),
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
                    .map(|r| r.map(UpstreamBody::H2))
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
    sender: SendRequest<RequestBody>,
    since: Instant,
}

/// Keep-alive HTTP/1.1 connections by endpoint.
struct Http1Pool {
    idle: Mutex<FxHashMap<SocketAddr, Vec<IdleConnection>>>,
    connect_timeout: Duration,
}

impl Http1Pool {
    fn take(&self, endpoint: SocketAddr) -> Option<SendRequest<RequestBody>> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = idle.get_mut(&endpoint)?;
        while let Some(connection) = list.pop() {
            if !connection.sender.is_closed() && connection.since.elapsed() < MAX_IDLE_AGE {
                return Some(connection.sender);
            }
        }
        None
    }

    fn put(&self, endpoint: SocketAddr, sender: SendRequest<RequestBody>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = idle.entry(endpoint).or_default();
        if list.len() < MAX_IDLE_PER_ENDPOINT {
            list.push(IdleConnection {
                sender,
                since: Instant::now(),
            });
        }
    }

    async fn connect(&self, endpoint: SocketAddr) -> Result<SendRequest<RequestBody>, ProxyError> {
        let stream = tokio::time::timeout(
            self.connect_timeout,
            tokio::net::TcpStream::connect(endpoint),
        )
        .await
        .map_err(|_| ProxyError::UpstreamConnect("connect timed out".into()))?
        .map_err(|e| ProxyError::UpstreamConnect(e.into()))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| ProxyError::UpstreamConnect(e.into()))?;
        tokio::spawn(async move {
            if let Err(error) = connection.with_upgrades().await {
                tracing::debug!(%error, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }

    async fn send(
        self: &Arc<Self>,
        endpoint: SocketAddr,
        mut request: Request<RequestBody>,
    ) -> Result<Response<UpstreamBody>, ProxyError> {
        // Origin-form on the wire: hyper's connection API writes the URI as given.
        if request.uri().scheme().is_some() {
            if let Some(path) = request.uri().path_and_query().cloned() {
                *request.uri_mut() = path.into();
            }
        }
        // A pooled connection may have been closed by the upstream meanwhile: when the request
        // was not written, hyper hands it back and it goes on a fresh connection.
        loop {
            let (mut sender, reused) = match self.take(endpoint) {
                Some(sender) => (sender, true),
                None => (self.connect(endpoint).await?, false),
            };
            if sender.ready().await.is_err() {
                if reused {
                    continue;
                }
                return Err(ProxyError::UpstreamConnect("connection closed".into()));
            }
            match sender.try_send_request(request).await {
                Ok(response) => {
                    let (parts, body) = response.into_parts();
                    let body = PooledBody {
                        body,
                        home: Some((self.clone(), endpoint, sender)),
                    };
                    return Ok(Response::from_parts(parts, UpstreamBody::H1(body)));
                }
                Err(mut error) => match error.take_message() {
                    Some(unsent) if reused => request = unsent,
                    _ => return Err(ProxyError::upstream(error.into_error())),
                },
            }
        }
    }
}

/// A response body from the HTTP/1.1 pool: the connection returns to the pool when it ends.
pub struct PooledBody {
    body: Incoming,
    home: Option<(Arc<Http1Pool>, SocketAddr, SendRequest<RequestBody>)>,
}

impl PooledBody {
    fn release(&mut self) {
        if let Some((pool, endpoint, sender)) = self.home.take() {
            pool.put(endpoint, sender);
        }
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        // Bodies known to be empty (HEAD, 204, 304) may never be polled to their end.
        if self.body.is_end_stream() {
            self.release();
        }
    }
}

/// A response body from an upstream.
pub enum UpstreamBody {
    /// From the HTTP/1.1 pool.
    H1(PooledBody),
    /// From the h2c client.
    H2(Incoming),
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            UpstreamBody::H1(pooled) => {
                let polled = Pin::new(&mut pooled.body).poll_frame(cx);
                match &polled {
                    Poll::Ready(None) => pooled.release(),
                    Poll::Ready(Some(Ok(_))) if pooled.body.is_end_stream() => pooled.release(),
                    Poll::Ready(Some(Err(_))) => pooled.home = None,
                    _ => {}
                }
                polled.map_err(Into::into)
            }
            UpstreamBody::H2(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            UpstreamBody::H1(pooled) => pooled.body.is_end_stream(),
            UpstreamBody::H2(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            UpstreamBody::H1(pooled) => pooled.body.size_hint(),
            UpstreamBody::H2(body) => body.size_hint(),
        }
    }
}
