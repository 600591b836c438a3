//! Stage 7, send: the upstream exchange. A Service backend's endpoints round robin with the
//! rule's retry policy; a pool or load balancer through steering, with in-request failover
//! and passive health. Every wait is bounded: the route's timeouts, else
//! `upstream_response_timeout` (which a request body still arriving pushes back, so a slow
//! client is never taken for a slow origin). A failure caused by the client's side (its body
//! broke off, was malformed or stalled) is the client's: answered 400/408/499, never retried,
//! never reported to an origin's health.

use crate::body::{BodyProgress, ClientFault, RequestBody};
use crate::downstream::ConnInfo;
use crate::error::ProxyError;
use crate::pools::SteeredBackend;
use crate::proxy::Shared;
use crate::snapshot::BackendRuntime;
use crate::upstream::{FailedAttempt, UpstreamBody, UpstreamHead};
use http::header::HeaderValue;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Response, Uri};

use std::time::Duration;
use torii_config::{AppProtocol, Retry, Timeouts};
use torii_health::{FailureKind as HealthFailure, Outcome};
use torii_steering::{AttemptState, ClientLocation, FailureKind, RequestContext};

/// An answer from upstream, with the affinity cookie a load balancer set.
pub(crate) type Sent = (Response<UpstreamBody>, Option<HeaderValue>);

/// What every attempt of one request shares.
pub(crate) struct Exchange<'a> {
    /// The proxy.
    pub(crate) shared: &'a Shared,
    /// The downstream connection.
    pub(crate) conn: &'a ConnInfo,
    /// The upstream path and query.
    pub(crate) path: &'a PathAndQuery,
    /// HTTP/1.1 or h2c upstream.
    pub(crate) protocol: AppProtocol,
    /// The rule's timeouts.
    pub(crate) timeouts: Timeouts,
    /// Whether the request has a body.
    pub(crate) has_body: bool,
    /// How far the request body has come (requests with a body only).
    pub(crate) progress: Option<&'a BodyProgress>,
    /// The request has no authority (HTTP/1.0 without Host): the upstream gets the
    /// endpoint's address as Host.
    pub(crate) needs_host: bool,
    /// The request's maximum duration ends here.
    pub(crate) deadline: tokio::time::Instant,
}

impl Exchange<'_> {
    /// Sends the request to a Service backend (round robin, the rule's retries) or a steered
    /// one, all within the rule's request timeout.
    pub(crate) async fn send(
        &self,
        upstream: &BackendRuntime,
        retry: Option<&Retry>,
        parts: &mut http::request::Parts,
        body: RequestBody,
    ) -> Result<Sent, ProxyError> {
        let mut body = Some(body);
        let all = async {
            match upstream.steered.as_deref() {
                Some(steered) => self.steered(steered, parts, &mut body).await,
                None => self.service(upstream, retry, parts, &mut body).await,
            }
        };
        match self.timeouts.request {
            Some(timeout) => tokio::time::timeout(timeout, all)
                .await
                .map_err(|_| ProxyError::Timeout)?,
            None => all.await,
        }
    }

    /// Runs one attempt within its wait.
    async fn attempt(
        &self,
        address: std::net::SocketAddr,
        head: UpstreamHead<'_>,
        body: RequestBody,
        wait: Wait,
    ) -> Result<Response<UpstreamBody>, FailedAttempt> {
        let attempt = self
            .shared
            .upstreams
            .send_head(self.protocol, address, head, body, None);
        let limit = match wait {
            Wait::Unbounded => return attempt.await,
            Wait::Fixed(limit) => {
                return tokio::time::timeout(limit, attempt)
                    .await
                    .map_err(|_| FailedAttempt::lost(ProxyError::Timeout))?
            }
            Wait::Progressive(limit) => limit,
        };
        let mut attempt = std::pin::pin!(attempt);
        let mut deadline = (tokio::time::Instant::now() + limit).min(self.deadline);
        loop {
            match tokio::time::timeout_at(deadline, attempt.as_mut()).await {
                Ok(result) => return result,
                Err(_) if deadline >= self.deadline => {
                    return Err(FailedAttempt::lost(ProxyError::Timeout))
                }
                Err(_) => {
                    let now = tokio::time::Instant::now();
                    let restart = match self.progress {
                        // The body is still arriving: the upstream is not late (the body's
                        // own idle timeout watches the client).
                        Some(progress) if !progress.is_done() => now,
                        Some(progress) => progress.last().unwrap_or(now),
                        None => return Err(FailedAttempt::lost(ProxyError::Timeout)),
                    };
                    if restart + limit <= now {
                        return Err(FailedAttempt::lost(ProxyError::Timeout));
                    }
                    deadline = (restart + limit).min(self.deadline);
                }
            }
        }
    }

    /// A Service backend: endpoints round robin, retried as the rule says.
    async fn service(
        &self,
        upstream: &BackendRuntime,
        retry: Option<&Retry>,
        parts: &mut http::request::Parts,
        body: &mut Option<RequestBody>,
    ) -> Result<Sent, ProxyError> {
        let attempts = 1 + retry.map_or(0, |r| r.attempts);
        // The route's timeouts as written; without any, the proxy's default.
        let wait = match (self.timeouts.backend_request, self.timeouts.request) {
            (Some(limit), _) => Wait::Fixed(limit),
            (None, Some(_)) => Wait::Unbounded,
            (None, None) => Wait::Progressive(self.shared.options.upstream_response_timeout),
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let endpoint = upstream.pick().ok_or(ProxyError::NoEndpoints)?;
            let uri = upstream_uri(&endpoint.authority, self.path)?;
            let host = self
                .needs_host
                .then(|| authority_value(&endpoint.authority));
            let head = UpstreamHead {
                method: &parts.method,
                uri: &uri,
                headers: &mut parts.headers,
                host: host.as_ref(),
                last: attempt >= attempts,
                origin: None,
            };
            let taken = body.take().unwrap_or_else(RequestBody::empty);
            let result = self
                .attempt(endpoint.address, head, taken, wait)
                .await
                .map_err(|failed| {
                    *body = failed.body;
                    failed.error
                });
            if let Err(error) = &result {
                if let Some(fault) = client_fault(error) {
                    return Err(ProxyError::Client(fault));
                }
            }
            if let Err(ProxyError::UpstreamConnect(_)) = &result {
                upstream.connect_errors.inc();
            }
            // A request body goes again only when none of it was consumed.
            let body_ready = !self.has_body || body.is_some();
            let retryable = match (&result, retry) {
                (_, None) => false,
                _ if !body_ready => false,
                (Ok(response), Some(retry)) => retry.codes.contains(&response.status().as_u16()),
                (Err(error), Some(_)) => matches!(
                    error,
                    ProxyError::UpstreamConnect(_)
                        | ProxyError::Upstream(_)
                        | ProxyError::UpstreamProtocol(_)
                        | ProxyError::Timeout
                ),
            };
            if !retryable || attempt >= attempts {
                return result.map(|response| (response, None));
            }
            if let Some(backoff) = retry.and_then(|r| r.backoff) {
                tokio::time::sleep(backoff).await;
            }
        }
    }

    /// A pool or load balancer: steering picks the origin of each attempt, failures are
    /// reported to the origin's health and retried on another origin (or pool) as the load
    /// balancer's failover policy allows.
    async fn steered(
        &self,
        steered: &SteeredBackend,
        parts: &mut http::request::Parts,
        body: &mut Option<RequestBody>,
    ) -> Result<Sent, ProxyError> {
        let lb = &steered.runtime;
        let load_balancing = &self.shared.load_balancing;
        let client_ip = load_balancing.client_ip(self.conn.peer.ip(), &parts.headers);
        let located = load_balancing
            .locator
            .geo
            .as_ref()
            .and_then(|geo| geo.lookup(client_ip));
        let location = located
            .as_ref()
            .map_or_else(ClientLocation::default, |l| ClientLocation {
                country: Some(l.country.as_str()),
                region: Some(l.region.code()),
                coordinates: l.lat_lon,
            });
        let now = torii_steering::unix_seconds();
        let mut rng = fastrand::Rng::new();
        let mut attempts = AttemptState::default();
        let idempotent = crate::upstream::is_idempotent(&parts.method);
        let mut last: Option<Result<Response<UpstreamBody>, ProxyError>> = None;
        // Each attempt waits at most the load balancer's `failover.attemptTimeout`, or the
        // route's shorter backend timeout, so a hung origin fails over too.
        let policy = lb.config().failover.attempt_timeout;
        let wait = match self.timeouts.backend_request {
            Some(limit) if limit < policy => Wait::Fixed(limit),
            _ => Wait::Progressive(policy),
        };
        loop {
            let ctx = RequestContext::new(client_ip, &parts.headers, now).with_location(location);
            let Some(pick) = lb.pick(&ctx, &mut rng, &mut attempts) else {
                return last
                    .unwrap_or(Err(ProxyError::NoEndpoints))
                    .map(|response| (response, None));
            };
            let target = steered
                .target(pick.pool, pick.origin)
                .ok_or(ProxyError::NoEndpoints)?;
            let in_flight = lb.start_request(&pick);
            let uri = upstream_uri(&target.authority, self.path)?;
            let fallback_host = match (&target.host, self.needs_host) {
                (None, true) => Some(authority_value(&target.authority)),
                _ => None,
            };
            let head = UpstreamHead {
                method: &parts.method,
                uri: &uri,
                headers: &mut parts.headers,
                host: target.host.as_ref().or(fallback_host.as_ref()),
                last: false,
                origin: Some(in_flight.origin()),
            };
            let taken = body.take().unwrap_or_else(RequestBody::empty);
            let result = self
                .attempt(target.address, head, taken, wait)
                .await
                .map_err(|failed| {
                    *body = failed.body;
                    failed.error
                });
            if let Err(error) = &result {
                if let Some(fault) = client_fault(error) {
                    return Err(ProxyError::Client(fault));
                }
            }
            let failure = match &result {
                Ok(response) if response.status().is_server_error() => {
                    Some(FailureKind::Status(response.status().as_u16()))
                }
                Ok(_) => None,
                Err(ProxyError::UpstreamConnect(_)) => Some(FailureKind::ConnectError),
                Err(ProxyError::Upstream(_) | ProxyError::UpstreamProtocol(_)) => {
                    Some(FailureKind::Reset)
                }
                Err(ProxyError::Timeout) => Some(FailureKind::Timeout),
                Err(_) => None,
            };
            if let Some(health) = &target.health {
                health.report(match failure {
                    None => Outcome::Success,
                    Some(FailureKind::ConnectError) => Outcome::Failure(HealthFailure::Connect),
                    Some(FailureKind::Reset) => Outcome::Failure(HealthFailure::Reset),
                    Some(FailureKind::Timeout) => Outcome::Failure(HealthFailure::Timeout),
                    Some(FailureKind::Status(code)) => {
                        Outcome::Failure(HealthFailure::Status(code))
                    }
                });
            }
            let Some(kind) = failure else {
                let cookie = pick
                    .set_cookie
                    .as_ref()
                    .map(|c| c.set_cookie_header(self.conn.tls));
                return result.map(|response| (response, cookie));
            };
            let reached = !matches!(kind, FailureKind::ConnectError);
            // A request body goes again only when none of it was consumed.
            let body_ready = !self.has_body || body.is_some();
            if !body_ready || !lb.should_retry(kind, idempotent, reached) {
                return result.map(|response| (response, None));
            }
            last = Some(result);
        }
    }
}

/// How long one attempt may wait for its answer.
#[derive(Debug, Clone, Copy)]
enum Wait {
    /// The route's own timeout.
    Fixed(Duration),
    /// A limit counted from the end of the request body: while the client still sends, the
    /// upstream is not late (the body's idle timeout watches the client), so a slow upload is
    /// not a slow origin. Never past the request's maximum duration.
    Progressive(Duration),
    /// The route's request timeout bounds the whole exchange.
    Unbounded,
}

/// The client's part in a failed exchange: the request body broke off, was malformed or
/// stalled (found in the error's chain of causes).
pub(crate) fn client_fault(error: &ProxyError) -> Option<ClientFault> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = match error {
        ProxyError::Upstream(source)
        | ProxyError::UpstreamConnect(source)
        | ProxyError::UpstreamProtocol(source) => Some(source.as_ref()),
        _ => None,
    };
    while let Some(error) = cause {
        if let Some(fault) = error.downcast_ref::<crate::body::DownstreamBodyError>() {
            return Some(fault.fault);
        }
        cause = error.source();
    }
    None
}

/// `http://endpoint/path?query`, from parts that are cheap to clone.
pub(crate) fn upstream_uri(authority: &Authority, path: &PathAndQuery) -> Result<Uri, ProxyError> {
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(Scheme::HTTP);
    parts.authority = Some(authority.clone());
    parts.path_and_query = Some(path.clone());
    Uri::from_parts(parts).map_err(|_| ProxyError::BadRequest)
}

/// An endpoint's `ip:port` as a Host value (for requests that named no host).
fn authority_value(authority: &Authority) -> HeaderValue {
    HeaderValue::from_str(authority.as_str())
        .unwrap_or_else(|_| HeaderValue::from_static("localhost"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::DownstreamBodyError;

    #[test]
    fn client_faults_are_found_in_the_cause_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("wrapper")]
        struct Wrapper(#[source] DownstreamBodyError);
        let cases: Vec<(ProxyError, Option<ClientFault>)> = vec![
            (
                ProxyError::Upstream(Box::new(DownstreamBodyError::new(ClientFault::Aborted))),
                Some(ClientFault::Aborted),
            ),
            (
                ProxyError::Upstream(Box::new(Wrapper(DownstreamBodyError::new(
                    ClientFault::Malformed,
                )))),
                Some(ClientFault::Malformed),
            ),
            (
                ProxyError::UpstreamProtocol(Box::new(DownstreamBodyError::new(
                    ClientFault::TimedOut,
                ))),
                Some(ClientFault::TimedOut),
            ),
            (ProxyError::Upstream("connection reset".into()), None),
            (ProxyError::Timeout, None),
        ];
        for (error, want) in cases {
            assert_eq!(client_fault(&error), want, "{error:?}");
        }
    }
}
