//! Upstream side: pooled keep-alive clients (HTTP/1.1 and h2c) and request forwarding with
//! timeouts and retries.

use crate::body::RequestBody;
use crate::error::ProxyError;
use crate::proxy::ProxyOptions;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::time::Duration;
use torii_config::AppProtocol;

/// The upstream clients; their connection pools outlive snapshots.
pub struct Upstreams {
    http1: Client<HttpConnector, RequestBody>,
    h2c: Client<HttpConnector, RequestBody>,
}

impl Upstreams {
    /// Clients with pooled keep-alive connections.
    pub fn new(options: &ProxyOptions) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(options.connect_timeout));
        connector.set_keepalive(Some(Duration::from_secs(60)));
        let http1 = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(1024)
            .build(connector.clone());
        let h2c = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .http2_only(true)
            .build(connector);
        Upstreams { http1, h2c }
    }

    /// Sends one request upstream (its URI is absolute: `http://endpoint/path`).
    pub async fn send(
        &self,
        protocol: AppProtocol,
        request: Request<RequestBody>,
        timeout: Option<Duration>,
    ) -> Result<Response<Incoming>, ProxyError> {
        let client = match protocol {
            AppProtocol::H2c => &self.h2c,
            AppProtocol::Http1 | AppProtocol::WebSocket => &self.http1,
        };
        let sent = client.request(request);
        let result = match timeout {
            Some(timeout) => match tokio::time::timeout(timeout, sent).await {
                Ok(result) => result,
                Err(_) => return Err(ProxyError::Timeout),
            },
            None => sent.await,
        };
        result.map_err(|error| {
            if error.is_connect() {
                ProxyError::UpstreamConnect(error)
            } else {
                ProxyError::Upstream(error)
            }
        })
    }
}
