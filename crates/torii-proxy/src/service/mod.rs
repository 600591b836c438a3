//! The HTTP request path as a short sequence of named stages (in the spirit of pingora's
//! phases), each a function of its own module with its own table tests:
//!
//! 1. [`normalize`]: one reading of the request (path, authority, hop-by-hop and forged
//!    headers, upgrades);
//! 2. [`route`]: listener and rule;
//! 3. [`request_filters`]: the rule's filters (answers redirects and preflights);
//! 4. [`backend`]: weights or the rollout's side, then the backend's own filters;
//! 5. [`upstream_request`]: path rewrite and the headers torii sets;
//! 6. [`shadow`]: mirrors and comparison copies;
//! 7. [`send`]: the exchange, with timeouts, retries or steered failover, and client faults
//!    kept apart from origin failures;
//! 8. [`response`]: the answer as the client gets it.
//!
//! Per-rule runtime (backends, metrics, rollout, comparison) was resolved into the snapshot
//! when it was built: the path takes no lock.

mod backend;
pub(crate) mod headers;
pub(crate) mod normalize;
mod request_filters;
mod response;
mod route;
mod send;
mod shadow;
mod upstream_request;

pub use normalize::NormalizeOptions;
pub(crate) use send::upstream_uri;

use crate::body::{BodyProgress, ClientFault, DownstreamBody, RequestBody, ResponseBody, Watch};
use crate::downstream::ConnInfo;
use crate::error::ProxyError;
use crate::metrics::FaultLabels;
use crate::migration::{RolloutControl, Side};
use crate::proxy::Shared;
use crate::snapshot::{RuleRuntime, Snapshot};
use http::header;
use http::{Request, Response, StatusCode, Uri};
use request_filters::{Plan, RedirectBase};
use std::sync::Arc;
use std::time::Instant;
use torii_config::{AppProtocol, BackendTarget, PathMatch};

/// Which counters a request is accounted under, found while it is handled.
#[derive(Default)]
struct Accounting {
    rule: Option<Arc<RuleRuntime>>,
    backend: Option<usize>,
    /// The rollout of the rule and the side that served the request (for its gates).
    rollout: Option<(Arc<RolloutControl>, Side)>,
}

/// Handles one downstream request; never fails (errors become responses).
pub(crate) async fn handle(
    shared: Arc<Shared>,
    conn: Arc<ConnInfo>,
    request: Request<DownstreamBody>,
) -> Response<ResponseBody> {
    let started = Instant::now();
    let snapshot = shared.snapshot.load_full();
    let mut accounting = Accounting::default();
    let logged = shared
        .options
        .access_log
        .then(|| (request.method().clone(), request.uri().clone()));
    let http1 = request.version() <= http::Version::HTTP_11;
    let response = match proxy(&shared, &snapshot, &conn, request, &mut accounting, started).await {
        Ok(response) => response,
        Err(error) => {
            if let ProxyError::Client(fault) = &error {
                let kind = match fault {
                    ClientFault::Malformed => "malformed_body",
                    ClientFault::TimedOut => "body_timeout",
                    ClientFault::Aborted => "aborted",
                };
                shared
                    .metrics
                    .client_faults
                    .get_or_create(&FaultLabels { kind })
                    .inc();
            } else if error.status().is_server_error() {
                tracing::debug!(%error, peer = %conn.peer, "request failed");
            }
            let close = http1 && error.closes_connection();
            let mut response = error.into_response();
            if close {
                // The rest of a broken or stalled body is not worth waiting for.
                response
                    .headers_mut()
                    .insert(header::CONNECTION, http::HeaderValue::from_static("close"));
            }
            response
        }
    };
    let status = response.status();
    if let Some(rule) = &accounting.rule {
        match accounting.backend.and_then(|i| rule.counters.get(i)) {
            Some(counters) => counters.count(&shared.metrics, status),
            None => rule.no_backend.count(&shared.metrics, status),
        }
        rule.observe(&shared.metrics, started.elapsed().as_secs_f64());
    }
    if let Some((control, side)) = &accounting.rollout {
        control.record(*side, started.elapsed(), status.is_server_error());
    }
    if let Some((method, uri)) = logged {
        access_log(&conn, &method, &uri, status, started.elapsed(), &accounting);
    }
    response
}

fn access_log(
    conn: &ConnInfo,
    method: &http::Method,
    uri: &Uri,
    status: StatusCode,
    elapsed: std::time::Duration,
    accounting: &Accounting,
) {
    let (gateway, route) = accounting
        .rule
        .as_ref()
        .map_or(("none", "none"), |r| (r.gateway.as_str(), r.route.as_str()));
    let backend = accounting
        .rule
        .as_ref()
        .zip(accounting.backend)
        .and_then(|(r, i)| r.backends.get(i)?.as_ref())
        .map_or("none", |b| b.label.as_str());
    // Only the path is logged, never the query (it may carry tokens) nor any header.
    let line = serde_json::json!({
        "ts": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0),
        "client": conn.peer.ip().to_string(),
        "method": method.as_str(),
        "path": uri.path(),
        "status": status.as_u16(),
        "duration_ms": elapsed.as_secs_f64() * 1000.0,
        "gateway": gateway,
        "route": route,
        "backend": backend,
        "tls": conn.tls,
    });
    println!("{line}");
}

/// The stages, in order.
async fn proxy(
    shared: &Arc<Shared>,
    snapshot: &Arc<Snapshot>,
    conn: &ConnInfo,
    request: Request<DownstreamBody>,
    accounting: &mut Accounting,
    started: Instant,
) -> Result<Response<ResponseBody>, ProxyError> {
    let (mut parts, body) = request.into_parts();
    let port = snapshot.ports.get(&conn.bind).ok_or(ProxyError::NoRoute)?;
    accounting.rule = Some(port.unrouted.clone());
    let deadline = tokio::time::Instant::from_std(started) + shared.options.max_request_duration;

    // 1. Normalise.
    let mut canonical = normalize::normalize(&mut parts, conn, &shared.options.normalize)?;
    let host = canonical.host();

    // 2. Route.
    let routed = route::route(port, &parts, &host, conn)?;
    accounting.rule = Some(routed.runtime.clone());
    let (rule, runtime) = (routed.matched.rule, routed.runtime);
    let matched_prefix = match &routed.matched.matched.path {
        PathMatch::Prefix(prefix) => Some(prefix.as_str()),
        _ => None,
    };
    let redirect_base = RedirectBase {
        scheme: if conn.tls { "https" } else { "http" },
        host: &host,
        listener_port: conn.bind.port(),
        matched_prefix,
    };

    // 3. Request filters.
    let mut plan = Plan::default();
    if let Some(answer) =
        request_filters::apply(&rule.filters, &mut parts, &mut plan, &redirect_base)
    {
        return Ok(answer);
    }

    // 4. Backend.
    let chosen = backend::choose(
        &rule.backends,
        runtime.rollout.as_ref(),
        &parts.headers,
        conn.tls,
    )?;
    accounting.rollout = chosen.rollout.clone();
    let backend = &rule.backends[chosen.index];
    if let Some(answer) =
        request_filters::apply(&backend.filters, &mut parts, &mut plan, &redirect_base)
    {
        return Ok(answer);
    }
    accounting.backend = Some(chosen.index);
    let upstream = runtime
        .backends
        .get(chosen.index)
        .and_then(Option::as_ref)
        .ok_or(ProxyError::InvalidBackend)?;
    let protocol = if rule.grpc {
        AppProtocol::H2c
    } else {
        upstream.backend.protocol
    };

    // 5. The upstream request.
    let path_and_query =
        upstream_request::prepare(&mut parts, conn, &canonical, plan.rewrite, matched_prefix)?;
    let origin = plan
        .cors
        .and_then(|_| parts.headers.get(header::ORIGIN).cloned());

    // 6. Shadow copies.
    let has_body = !http_body::Body::is_end_stream(&body);
    let served_by = match &backend.target.target {
        BackendTarget::Resolved(id) => Some(id),
        BackendTarget::Invalid => None,
    };
    let shadows = shadow::start(
        shared,
        snapshot,
        rule,
        runtime,
        &routed.matched.matched.path,
        served_by,
        chosen.rollout.as_ref(),
        &plan.mirrors,
        &shadow::Original {
            parts: &parts,
            path_and_query: &path_and_query,
            has_body,
            upgrade: canonical.upgrade.is_some(),
        },
    );

    // 7. Send.
    let progress = has_body.then(|| Arc::new(BodyProgress::new()));
    let body = if has_body {
        RequestBody::Downstream {
            body,
            copies: shadows.copies,
            watch: Watch::new(shared.options.request_body_timeout, deadline),
            progress: progress.clone(),
        }
    } else {
        RequestBody::empty()
    };
    let exchange = send::Exchange {
        shared,
        conn,
        path: &path_and_query,
        protocol,
        timeouts: rule.timeouts,
        has_body,
        progress: progress.as_deref(),
        needs_host: canonical.authority.is_none(),
        deadline,
    };
    let (response, affinity_cookie) = exchange
        .send(upstream, rule.retry.as_ref(), &mut parts, body)
        .await?;

    // 8. Response.
    response::finish(
        response,
        response::Finish {
            plan: &plan,
            origin,
            cookies: [affinity_cookie, chosen.cookie],
            upgrade: canonical.upgrade.take().map(|(_, on_upgrade)| on_upgrade),
            primary: shadows.primary,
            watch: Watch::new(shared.options.stream_idle_timeout, deadline),
            upgrade_idle: shared.options.tcp_idle_timeout,
        },
    )
}
