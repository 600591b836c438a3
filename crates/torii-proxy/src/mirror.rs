//! Request mirroring: copies sent off the request path, answers discarded. A slow or failing
//! mirror never delays or fails the primary request: copies of the body are fed through a
//! bounded channel that is dropped when full, mirrors in flight are capped (excess is shed and
//! counted), and each copy has a deadline.

use crate::body::{CopyFrame, RequestBody};
use crate::metrics::MirrorLabels;
use crate::proxy::Shared;
use crate::snapshot::Snapshot;
use http::{HeaderMap, Method, Request, Version};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use torii_config::{AppProtocol, BackendId, BackendTarget, RequestMirror};

/// How long a mirrored request may take before it is abandoned.
const MIRROR_DEADLINE: Duration = Duration::from_secs(30);
/// Body frames buffered per mirror before the mirror is cut off.
const MIRROR_BODY_FRAMES: usize = 64;

/// A mirror chosen for one request, with its sampling decided.
pub(crate) struct MirrorPlan<'a> {
    pub(crate) filter: &'a RequestMirror,
}

impl<'a> MirrorPlan<'a> {
    /// Decides by the filter's fraction whether this request is mirrored.
    pub(crate) fn sample(filter: &'a RequestMirror) -> Option<Self> {
        let take = filter.numerator >= filter.denominator
            || fastrand::u32(0..filter.denominator) < filter.numerator;
        take.then_some(MirrorPlan { filter })
    }
}

/// Starts mirrored copies of a request. Returns the senders that feed their bodies (empty
/// when the request has no body).
pub(crate) fn start(
    shared: &Arc<Shared>,
    snapshot: &Snapshot,
    plans: &[MirrorPlan<'_>],
    method: &Method,
    path_and_query: &http::uri::PathAndQuery,
    headers: &HeaderMap,
    has_body: bool,
) -> Vec<mpsc::Sender<CopyFrame>> {
    let mut feeds = Vec::new();
    for plan in plans {
        let BackendTarget::Resolved(id) = &plan.filter.target else {
            continue;
        };
        let Ok(permit) = shared.mirror_permits.clone().try_acquire_owned() else {
            count(shared, "shed");
            continue;
        };
        let copy = Copy {
            method,
            path_and_query,
            headers,
            has_body,
        };
        let Some(prepared) = copy.prepare(snapshot, id) else {
            count(shared, "failed");
            continue;
        };
        feeds.extend(prepared.feed);
        let shared = shared.clone();
        let (protocol, address, request) = (prepared.protocol, prepared.address, prepared.request);
        tokio::spawn(async move {
            let _permit = permit;
            let result = shared
                .upstreams
                .send(protocol, address, request, Some(MIRROR_DEADLINE))
                .await;
            match result {
                Ok(response) => {
                    // Read the answer to its end so the connection can be reused, then drop it.
                    let mut body = response.into_body();
                    while let Some(frame) = http_body_util::BodyExt::frame(&mut body).await {
                        if frame.is_err() {
                            break;
                        }
                    }
                    count(&shared, "sent");
                }
                Err(error) => {
                    tracing::debug!(%error, "mirrored request failed");
                    count(&shared, "failed");
                }
            }
        });
    }
    feeds
}

/// A copy of a request, as the upstream of the original saw it.
pub(crate) struct Copy<'a> {
    pub(crate) method: &'a Method,
    pub(crate) path_and_query: &'a http::uri::PathAndQuery,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) has_body: bool,
}

/// A copy ready to send: where, and the sender feeding its body.
struct PreparedCopy {
    protocol: AppProtocol,
    address: std::net::SocketAddr,
    request: Request<RequestBody>,
    feed: Option<mpsc::Sender<CopyFrame>>,
}

impl Copy<'_> {
    /// Picks an endpoint of backend `id` and builds the request (`None`: no endpoint).
    fn prepare(&self, snapshot: &Snapshot, id: &BackendId) -> Option<PreparedCopy> {
        let backend = snapshot.backends.get(id)?;
        let (address, authority) = match &backend.steered {
            None => backend.pick().map(|e| (e.address, e.authority.clone()))?,
            // A pool or load balancer: one steering pick (no retries; the copy is best effort).
            Some(steered) => {
                let ctx = torii_steering::RequestContext::new(
                    std::net::Ipv4Addr::UNSPECIFIED.into(),
                    self.headers,
                    torii_steering::unix_seconds(),
                );
                let mut attempts = torii_steering::AttemptState::default();
                steered
                    .runtime
                    .pick(&ctx, &mut fastrand::Rng::new(), &mut attempts)
                    .and_then(|pick| steered.target(pick.pool, pick.origin))
                    .map(|t| (t.address, t.authority.clone()))?
            }
        };
        let uri = crate::service::upstream_uri(&authority, self.path_and_query).ok()?;
        let (body, feed) = if self.has_body {
            let (tx, rx) = mpsc::channel(MIRROR_BODY_FRAMES);
            (RequestBody::Copy(rx), Some(tx))
        } else {
            (RequestBody::empty(), None)
        };
        let protocol = backend.backend.protocol;
        let mut request = Request::new(body);
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = uri;
        *request.headers_mut() = self.headers.clone();
        *request.version_mut() = match protocol {
            AppProtocol::H2c => Version::HTTP_2,
            _ => Version::HTTP_11,
        };
        Some(PreparedCopy {
            protocol,
            address,
            request,
            feed,
        })
    }
}

/// What a shadow copy came back with.
pub(crate) struct ShadowAnswer {
    /// The response as captured (a failed exchange is a synthetic 502 whose body names the
    /// error, so it compares as the regression it is).
    pub(crate) response: torii_compare::CapturedResponse,
    /// Time to the response head.
    pub(crate) latency: Duration,
    /// The exchange failed or answered 5xx.
    pub(crate) failed: bool,
}

/// Sends a shadow copy (for comparison) to backend `id` and captures its whole answer (up to
/// `max_body` bytes, hashed beyond) within `deadline`. Returns the body feed and where the
/// answer arrives (dropped without an answer on timeout); `None` if the backend has no
/// endpoint.
pub(crate) fn shadow(
    shared: &Arc<Shared>,
    snapshot: &Snapshot,
    id: &BackendId,
    copy: &Copy<'_>,
    deadline: Duration,
    max_body: usize,
) -> Option<(
    Option<mpsc::Sender<CopyFrame>>,
    tokio::sync::oneshot::Receiver<ShadowAnswer>,
)> {
    let prepared = copy.prepare(snapshot, id)?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let shared = shared.clone();
    let (protocol, address, request) = (prepared.protocol, prepared.address, prepared.request);
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        let exchange = async {
            let response = shared
                .upstreams
                .send(protocol, address, request, Some(deadline))
                .await;
            let latency = started.elapsed();
            let response = match response {
                Ok(response) => response,
                Err(error) => {
                    return ShadowAnswer {
                        response: torii_compare::CapturedResponse::new(
                            502,
                            HeaderMap::new(),
                            format!("upstream error: {error}"),
                        ),
                        latency,
                        failed: true,
                    }
                }
            };
            let (parts, mut body) = response.into_parts();
            let mut capture = torii_compare::BodyCapture::new(max_body);
            while let Some(frame) = http_body_util::BodyExt::frame(&mut body).await {
                match frame {
                    Ok(frame) => {
                        if let Some(data) = frame.data_ref() {
                            capture.update(data);
                        }
                    }
                    Err(error) => {
                        return ShadowAnswer {
                            response: torii_compare::CapturedResponse::new(
                                502,
                                HeaderMap::new(),
                                format!("upstream body error: {error}"),
                            ),
                            latency,
                            failed: true,
                        }
                    }
                }
            }
            ShadowAnswer {
                failed: parts.status.is_server_error(),
                response: torii_compare::CapturedResponse {
                    status: parts.status.as_u16(),
                    headers: parts.headers,
                    body: capture.finish(),
                },
                latency,
            }
        };
        if let Ok(answer) = tokio::time::timeout(deadline, exchange).await {
            let _ = tx.send(answer);
        }
    });
    Some((prepared.feed, rx))
}

fn count(shared: &Shared, result: &'static str) {
    shared
        .metrics
        .mirrors
        .get_or_create(&MirrorLabels { result })
        .inc();
}
