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
use torii_config::{AppProtocol, BackendTarget, RequestMirror};

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
        let Some(backend) = snapshot.backends.get(id) else {
            continue;
        };
        let picked = match &backend.steered {
            None => backend.pick().map(|e| (e.address, e.authority.clone())),
            // A pool or load balancer: one steering pick (no retries; the copy is best effort).
            Some(steered) => {
                let ctx = torii_steering::RequestContext::new(
                    std::net::Ipv4Addr::UNSPECIFIED.into(),
                    headers,
                    torii_steering::unix_seconds(),
                );
                let mut attempts = torii_steering::AttemptState::default();
                steered
                    .runtime
                    .pick(&ctx, &mut fastrand::Rng::new(), &mut attempts)
                    .and_then(|pick| steered.target(pick.pool, pick.origin))
                    .map(|t| (t.address, t.authority.clone()))
            }
        };
        let Some((address, authority)) = picked else {
            count(shared, "failed");
            continue;
        };
        let Ok(permit) = shared.mirror_permits.clone().try_acquire_owned() else {
            count(shared, "shed");
            continue;
        };
        let Ok(uri) = crate::service::upstream_uri(&authority, path_and_query) else {
            continue;
        };
        let body = if has_body {
            let (tx, rx) = mpsc::channel(MIRROR_BODY_FRAMES);
            feeds.push(tx);
            RequestBody::Copy(rx)
        } else {
            RequestBody::empty()
        };
        let protocol = backend.backend.protocol;
        let mut request = Request::new(body);
        *request.method_mut() = method.clone();
        *request.uri_mut() = uri;
        *request.headers_mut() = headers.clone();
        *request.version_mut() = match protocol {
            AppProtocol::H2c => Version::HTTP_2,
            _ => Version::HTTP_11,
        };
        let shared = shared.clone();
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

fn count(shared: &Shared, result: &'static str) {
    shared
        .metrics
        .mirrors
        .get_or_create(&MirrorLabels { result })
        .inc();
}
