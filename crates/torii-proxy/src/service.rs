//! The HTTP request path: route, apply filters, pick a backend, forward, answer.

use crate::body::{CaptureBody, DownstreamBody, RequestBody, ResponseBody};
use crate::downstream::ConnInfo;
use crate::error::ProxyError;
use crate::filters::{self, RedirectContext};
use crate::migration::{RolloutControl, ShadowTicket, Shed, Side, SHADOW_HEADER};
use crate::mirror::{self, MirrorPlan};
use crate::pools::SteeredBackend;
use crate::proxy::Shared;
use crate::snapshot::{RuleRuntime, Snapshot};
use crate::upstream::{UpstreamBody, UpstreamHead};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, StatusCode, Uri, Version};
use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use torii_compare::{CapturedResponse, EndpointKey, SampleInput, Verdict};
use torii_config::{
    AppProtocol, BackendTarget, Cors, HeaderModifier, HttpFilter, HttpRule, PathMatch, UrlRewrite,
};
use torii_health::{FailureKind as HealthFailure, Outcome};
use torii_routing::{RequestInfo, RouteOutcome};
use torii_steering::{AttemptState, ClientLocation, FailureKind, RequestContext};

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
    let response = match proxy(&shared, &snapshot, &conn, request, &mut accounting).await {
        Ok(response) => response,
        Err(error) => {
            if error.status().is_server_error() {
                tracing::debug!(%error, peer = %conn.peer, "request failed");
            }
            error.into_response()
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

/// The request's authority as sent (Host header, or the URI for HTTP/2), cheap to clone.
fn request_authority(parts: &http::request::Parts) -> Option<HeaderValue> {
    match parts.headers.get(header::HOST) {
        Some(host) => Some(host.clone()),
        None => parts
            .uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok()),
    }
}

/// A host for matching: lower-case and without port.
fn host_for_matching(authority: Option<&HeaderValue>) -> Cow<'_, str> {
    let raw = authority.and_then(|a| a.to_str().ok()).unwrap_or("");
    let host = strip_port(raw);
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Filters collected from a rule and its chosen backend.
#[derive(Default)]
struct Plan<'a> {
    rewrite: Option<&'a UrlRewrite>,
    mirrors: Vec<MirrorPlan<'a>>,
    response_modifiers: Vec<&'a HeaderModifier>,
    cors: Option<&'a Cors>,
}

async fn proxy(
    shared: &Arc<Shared>,
    snapshot: &Arc<Snapshot>,
    conn: &ConnInfo,
    request: Request<DownstreamBody>,
    accounting: &mut Accounting,
) -> Result<Response<ResponseBody>, ProxyError> {
    let (mut parts, body) = request.into_parts();
    let port = snapshot.ports.get(&conn.bind).ok_or(ProxyError::NoRoute)?;
    accounting.rule = Some(port.unrouted.clone());
    let authority = request_authority(&parts);
    let host = host_for_matching(authority.as_ref());
    // HTTPS: a Host that another listener (or none) serves than the one the TLS server name
    // chose is a misdirected request (RFC 9110 §15.5.20), answered before routing.
    if let Some(sni_listener) = conn.sni_listener {
        if port.router.listener_for_host(&host) != Some(sni_listener) {
            return Err(ProxyError::Misdirected);
        }
    }
    let outcome = port.router.route(&RequestInfo {
        host: &host,
        method: &parts.method,
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &parts.headers,
    });
    let matched = match outcome {
        RouteOutcome::Matched(matched) => matched,
        RouteOutcome::NoListener | RouteOutcome::NoRoute { .. } => return Err(ProxyError::NoRoute),
    };
    let runtime = port.rule(matched.listener, matched.rule);
    accounting.rule = Some(runtime.clone());
    let rule: &HttpRule = matched.rule;
    let matched_prefix = match &matched.matched.path {
        PathMatch::Prefix(prefix) => Some(prefix.as_str()),
        _ => None,
    };
    let redirect_base = RedirectBase {
        scheme: if conn.tls { "https" } else { "http" },
        host: &host,
        listener_port: conn.bind.port(),
        matched_prefix,
    };

    let mut plan = Plan::default();
    if let Some(response) = apply_filters(&rule.filters, &mut parts, &mut plan, &redirect_base) {
        return Ok(response);
    }
    let rollout = rule
        .migration
        .rollout
        .as_ref()
        .and_then(|r| shared.migrations.rollout(&r.id));
    let mut rollout_cookie = None;
    let backend_index = match &rollout {
        // A rollout splits the rule's traffic between its stable and candidate backends.
        Some(rollout) => {
            let (side, cookie) = rollout.choose(&parts.headers, conn.tls);
            rollout_cookie = cookie;
            accounting.rollout = Some((rollout.control.clone(), side));
            let wanted = rollout.backend(side);
            rule.backends
                .iter()
                .position(
                    |b| matches!(&b.target.target, BackendTarget::Resolved(id) if id == wanted),
                )
                .ok_or(ProxyError::InvalidBackend)?
        }
        None => crate::weighted::pick(&rule.backends, |b| b.target.weight)
            .ok_or(ProxyError::InvalidBackend)?,
    };
    let backend = &rule.backends[backend_index];
    if let Some(response) = apply_filters(&backend.filters, &mut parts, &mut plan, &redirect_base) {
        return Ok(response);
    }
    accounting.backend = Some(backend_index);
    let upstream = runtime
        .backends
        .get(backend_index)
        .and_then(Option::as_ref)
        .ok_or(ProxyError::InvalidBackend)?;
    let protocol = if rule.grpc {
        AppProtocol::H2c
    } else {
        upstream.backend.protocol
    };

    // The request as the upstream sees it.
    let path_and_query = upstream_path(&parts, plan.rewrite, matched_prefix)?;
    let origin = plan
        .cors
        .and_then(|_| parts.headers.get(header::ORIGIN).cloned());
    let downstream_upgrade = if is_upgrade(&parts.headers) {
        parts.extensions.remove::<torii_http1::OnUpgrade>()
    } else {
        None
    };
    prepare_upstream_headers(
        &mut parts,
        conn,
        authority,
        plan.rewrite,
        downstream_upgrade.is_some(),
    );

    let has_body = !http_body::Body::is_end_stream(&body);
    // Comparison: the rule's own, or the rollout's while it mirrors (requests the stable
    // backend serves).
    // Protocol upgrades (WebSocket) are never shadowed.
    let comparison = match (&rollout, &accounting.rollout) {
        _ if downstream_upgrade.is_some() => None,
        (Some(rollout), Some((_, Side::Stable))) if rollout.control.mirroring() => {
            Some(rollout.comparison.clone())
        }
        (Some(_), _) => None,
        (None, _) => rule
            .migration
            .comparison
            .as_ref()
            .and_then(|c| shared.migrations.comparison(&c.id)),
    };
    let served_by = match &backend.target.target {
        BackendTarget::Resolved(id) => Some(id),
        BackendTarget::Invalid => None,
    };
    let mut shadow_copies = Vec::new();
    let comparing = match comparison.zip(served_by) {
        None => None,
        Some((comparison, served_by)) => {
            let endpoint =
                || endpoint_key(&parts.method, &runtime.route, rule, &matched.matched.path);
            let saturated = shared.cpu.saturated();
            match comparison.admit(&parts.method, served_by, saturated) {
                Ok(None) => None,
                Err(Shed) => {
                    // Saturated: only the comparison's counter (no per-endpoint work while
                    // the CPU is short).
                    if !saturated {
                        comparison.store.record_shed(&endpoint());
                    }
                    None
                }
                Ok(Some(ticket)) => {
                    let control = match (&rollout, &accounting.rollout) {
                        (Some(_), Some((control, _))) => Some(control.clone()),
                        _ => None,
                    };
                    Some(start_comparison(
                        shared,
                        snapshot,
                        ticket,
                        endpoint(),
                        &parts,
                        &path_and_query,
                        has_body,
                        control,
                        &mut shadow_copies,
                    ))
                }
            }
        }
    };
    let mut copies = if plan.mirrors.is_empty() {
        Vec::new()
    } else {
        mirror::start(
            shared,
            snapshot,
            &plan.mirrors,
            &parts.method,
            &path_and_query,
            &parts.headers,
            has_body,
        )
    };

    if !shadow_copies.is_empty() {
        copies.append(&mut shadow_copies);
    }
    let retry = rule.retry.as_ref();
    let attempts = 1 + retry.map_or(0, |r| r.attempts);
    let mut body = Some(RequestBody::Downstream { body, copies });
    let steered = upstream.steered.as_deref();
    let send_all = async {
        if let Some(steered) = steered {
            let send = SteeredSend {
                shared,
                conn,
                steered,
                path: &path_and_query,
                protocol,
                has_body,
                timeout: rule.timeouts.backend_request,
            };
            return send.run(&mut parts, &mut body).await;
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let endpoint = upstream.pick().ok_or(ProxyError::NoEndpoints)?;
            let uri = upstream_uri(&endpoint.authority, &path_and_query)?;
            let head = UpstreamHead {
                method: &parts.method,
                uri: &uri,
                headers: &mut parts.headers,
                host: None,
                last: attempt >= attempts,
                origin: None,
            };
            let result = shared
                .upstreams
                .send_head(
                    protocol,
                    endpoint.address,
                    head,
                    body.take().unwrap_or_else(RequestBody::empty),
                    rule.timeouts.backend_request,
                )
                .await;
            let result = result.map_err(|failed| {
                body = failed.body;
                failed.error
            });
            if let Err(ProxyError::UpstreamConnect(_)) = &result {
                upstream.connect_errors.inc();
            }
            // A request body goes again only when none of it was consumed.
            let body_ready = !has_body || body.is_some();
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
    };
    let response = match rule.timeouts.request {
        Some(timeout) => tokio::time::timeout(timeout, send_all)
            .await
            .map_err(|_| ProxyError::Timeout)??,
        None => send_all.await?,
    };

    let (response, set_cookie) = response;
    let (mut response_parts, response_body) = response.into_parts();
    // The primary's answer as the upstream gave it, before torii's own header changes.
    let response_body = match comparing {
        Some(sink) => ResponseBody::Captured(Box::new(CaptureBody::new(
            response_body,
            response_parts.status.as_u16(),
            response_parts.headers.clone(),
            sink.limit,
            sink.primary,
        ))),
        None => ResponseBody::Upstream(response_body),
    };
    if let Some(cookie) = set_cookie {
        response_parts.headers.append(header::SET_COOKIE, cookie);
    }
    if let Some(cookie) = rollout_cookie {
        response_parts.headers.append(header::SET_COOKIE, cookie);
    }
    if response_parts.status == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(downstream) = downstream_upgrade {
            let upstream_upgrade = response_parts.extensions.remove::<torii_http1::OnUpgrade>();
            if let Some(upstream_upgrade) = upstream_upgrade {
                tokio::spawn(splice_upgraded(downstream, upstream_upgrade));
            }
        }
    } else {
        strip_hop_by_hop(&mut response_parts.headers);
    }
    for modifier in &plan.response_modifiers {
        filters::modify_headers(&mut response_parts.headers, modifier);
    }
    if let Some(cors) = plan.cors {
        filters::cors_decorate(cors, origin.as_ref(), &mut response_parts.headers);
    }
    Ok(Response::from_parts(response_parts, response_body))
}

/// Where the primary's captured answer goes, and how much of its body is kept.
struct PrimarySink {
    primary: tokio::sync::oneshot::Sender<CapturedResponse>,
    limit: usize,
}

/// The endpoint a comparison is reported under: method, route and rule, and the path match.
fn endpoint_key(
    method: &http::Method,
    route: &str,
    rule: &HttpRule,
    path: &PathMatch,
) -> EndpointKey {
    let rule_name = match &rule.name {
        Some(name) => name.to_string(),
        None => rule.index.to_string(),
    };
    let path = match path {
        PathMatch::Exact(path) => path.clone(),
        PathMatch::Prefix(prefix) if prefix == "/" => "/*".to_string(),
        PathMatch::Prefix(prefix) => format!("{prefix}/*"),
        PathMatch::RegularExpression(regex) => format!("~{}", regex.as_str()),
    };
    EndpointKey::new(method.as_str(), format!("{route}#{rule_name} {path}"))
}

/// Starts the shadow copies of a compared request (candidate, and secondary if any) and the
/// task that compares their answers with the primary's once all are in. Shadow copies carry
/// [`SHADOW_HEADER`]; their body feeds are pushed to `feeds`.
#[allow(clippy::too_many_arguments)]
fn start_comparison(
    shared: &Arc<Shared>,
    snapshot: &Snapshot,
    ticket: ShadowTicket,
    endpoint: EndpointKey,
    parts: &http::request::Parts,
    path_and_query: &PathAndQuery,
    has_body: bool,
    rollout: Option<Arc<RolloutControl>>,
    feeds: &mut Vec<tokio::sync::mpsc::Sender<crate::body::CopyFrame>>,
) -> PrimarySink {
    let runtime = ticket.runtime.clone();
    let settings = &runtime.settings;
    let limit = usize::try_from(settings.max_body_bytes).unwrap_or(usize::MAX);
    let mut headers = parts.headers.clone();
    headers.insert(SHADOW_HEADER, HeaderValue::from_static("1"));
    let copy = mirror::Copy {
        method: &parts.method,
        path_and_query,
        headers: &headers,
        has_body,
    };
    let mut shadow = |id: &torii_config::BackendId| {
        mirror::shadow(shared, snapshot, id, &copy, settings.timeout, limit).map(|(feed, rx)| {
            feeds.extend(feed);
            rx
        })
    };
    let candidate = shadow(&runtime.candidate);
    let secondary = runtime.secondary.as_ref().map(&mut shadow);
    let (primary_tx, primary_rx) = tokio::sync::oneshot::channel();
    let method = parts.method.clone();
    let target = path_and_query.as_str().to_owned();
    headers.remove(SHADOW_HEADER);
    let timeout = settings.timeout;
    tokio::spawn(async move {
        let _ticket = ticket;
        let store = &runtime.store;
        let counters = &runtime.counters;
        let gathered = tokio::time::timeout(timeout, async move {
            let primary = primary_rx.await.ok()?;
            let candidate = candidate?.await.ok()?;
            let secondary = match secondary {
                None => None,
                Some(rx) => Some(rx?.await.ok()?),
            };
            Some((primary, candidate, secondary))
        })
        .await;
        let Ok(Some((primary, candidate, secondary))) = gathered else {
            counters.shed.fetch_add(1, Ordering::Relaxed);
            store.record_shed(&endpoint);
            return;
        };
        if let Some(control) = rollout.filter(|c| c.weight() == 0) {
            // Mirror step: the candidate's only traffic is this shadow traffic.
            control.record(Side::Candidate, candidate.latency, candidate.failed);
        }
        let input = SampleInput {
            method: &method,
            target: &target,
            headers: &headers,
            primary: &primary,
            candidate: &candidate.response,
            secondary: secondary.as_ref().map(|s| &s.response),
        };
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let verdict = store.compare_and_record(&endpoint, input, &runtime.options, now_ms);
        counters.compared.fetch_add(1, Ordering::Relaxed);
        match verdict {
            Verdict::Regression { .. } => {
                counters.regressions.fetch_add(1, Ordering::Relaxed);
            }
            Verdict::NoiseOnly => {
                counters.noise.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    });
    PrimarySink {
        primary: primary_tx,
        limit,
    }
}

/// One request to a pool or load balancer backend: steering picks the origin of each attempt,
/// failures are reported to the origin's health and retried on another origin (or pool) as
/// the load balancer's failover policy allows. Requests with a body are sent once (the body
/// streams and is not kept for a replay).
struct SteeredSend<'a> {
    shared: &'a Shared,
    conn: &'a ConnInfo,
    steered: &'a SteeredBackend,
    path: &'a PathAndQuery,
    protocol: AppProtocol,
    has_body: bool,
    timeout: Option<std::time::Duration>,
}

impl SteeredSend<'_> {
    async fn run(
        &self,
        parts: &mut http::request::Parts,
        body: &mut Option<RequestBody>,
    ) -> Result<(Response<UpstreamBody>, Option<HeaderValue>), ProxyError> {
        let lb = &self.steered.runtime;
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
        let policy_timeout = lb.config().failover.attempt_timeout;
        let attempt_timeout = self
            .timeout
            .map_or(policy_timeout, |route| route.min(policy_timeout));
        loop {
            let ctx = RequestContext::new(client_ip, &parts.headers, now).with_location(location);
            let Some(pick) = lb.pick(&ctx, &mut rng, &mut attempts) else {
                return last
                    .unwrap_or(Err(ProxyError::NoEndpoints))
                    .map(|response| (response, None));
            };
            let target = self
                .steered
                .target(pick.pool, pick.origin)
                .ok_or(ProxyError::NoEndpoints)?;
            let in_flight = lb.start_request(&pick);
            let uri = upstream_uri(&target.authority, self.path)?;
            let head = UpstreamHead {
                method: &parts.method,
                uri: &uri,
                headers: &mut parts.headers,
                host: target.host.as_ref(),
                last: false,
                origin: Some(in_flight.origin()),
            };
            let result = self
                .shared
                .upstreams
                .send_head(
                    self.protocol,
                    target.address,
                    head,
                    body.take().unwrap_or_else(RequestBody::empty),
                    Some(attempt_timeout),
                )
                .await
                .map_err(|failed| {
                    *body = failed.body;
                    failed.error
                });
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

/// What a redirect needs of the request besides its path.
struct RedirectBase<'a> {
    scheme: &'static str,
    host: &'a str,
    listener_port: u16,
    matched_prefix: Option<&'a str>,
}

/// Applies filters in order; returns an answer when a filter ends the request.
fn apply_filters<'a>(
    list: &'a [HttpFilter],
    parts: &mut http::request::Parts,
    plan: &mut Plan<'a>,
    redirect: &RedirectBase<'_>,
) -> Option<Response<ResponseBody>> {
    for filter in list {
        match filter {
            HttpFilter::RequestHeaderModifier(modifier) => {
                filters::modify_headers(&mut parts.headers, modifier)
            }
            HttpFilter::ResponseHeaderModifier(modifier) => plan.response_modifiers.push(modifier),
            HttpFilter::RequestRedirect(filter) => {
                let context = RedirectContext {
                    scheme: redirect.scheme,
                    host: redirect.host,
                    listener_port: redirect.listener_port,
                    path: parts.uri.path(),
                    query: parts.uri.query(),
                    matched_prefix: redirect.matched_prefix,
                };
                return Some(filters::redirect(filter, &context));
            }
            HttpFilter::UrlRewrite(rewrite) => plan.rewrite = Some(rewrite),
            HttpFilter::RequestMirror(mirror) => {
                if let Some(sampled) = MirrorPlan::sample(mirror) {
                    plan.mirrors.push(sampled);
                }
            }
            HttpFilter::Cors(cors) => {
                if let Some(response) = filters::cors_preflight(cors, &parts.method, &parts.headers)
                {
                    return Some(response);
                }
                plan.cors = Some(cors);
            }
        }
    }
    None
}

/// The path and query sent upstream: the request's own unless a rewrite changes the path.
fn upstream_path(
    parts: &http::request::Parts,
    rewrite: Option<&UrlRewrite>,
    matched_prefix: Option<&str>,
) -> Result<PathAndQuery, ProxyError> {
    let Some(modifier) = rewrite.and_then(|r| r.path.as_ref()) else {
        return Ok(parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/")));
    };
    let mut out = filters::rewrite_path(parts.uri.path(), modifier, matched_prefix);
    if let Some(query) = parts.uri.query() {
        out.push('?');
        out.push_str(query);
    }
    PathAndQuery::try_from(out).map_err(|_| ProxyError::BadRequest)
}

/// `http://endpoint/path?query`, from parts that are cheap to clone.
pub(crate) fn upstream_uri(authority: &Authority, path: &PathAndQuery) -> Result<Uri, ProxyError> {
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(Scheme::HTTP);
    parts.authority = Some(authority.clone());
    parts.path_and_query = Some(path.clone());
    Uri::from_parts(parts).map_err(|_| ProxyError::BadRequest)
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

/// Hop-by-hop headers (RFC 9110 §7.6.1), matched on the name's text: one length switch and
/// at most one comparison per header, where comparing against seven `HeaderName`s cost ~2k
/// instructions per request under callgrind.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

/// Removes hop-by-hop headers, including those the `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none (or only Content-Length framing): one pass over the names.
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    if headers.contains_key(header::CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    let present: Vec<HeaderName> = headers
        .keys()
        .filter(|n| is_hop_by_hop(n))
        .cloned()
        .collect();
    for name in present {
        headers.remove(name);
    }
}

/// Whether the client announced it accepts trailers (`TE: trailers`), which gRPC needs
/// end to end.
fn accepts_trailers(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::TE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("trailers"))
}

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

fn prepare_upstream_headers(
    parts: &mut http::request::Parts,
    conn: &ConnInfo,
    authority: Option<HeaderValue>,
    rewrite: Option<&UrlRewrite>,
    upgrade: bool,
) {
    let upgrade_value = upgrade
        .then(|| parts.headers.get(header::UPGRADE).cloned())
        .flatten();
    // HTTP/2 requests carry the host in the URI: give HTTP/1.1 upstreams a Host header.
    if let Some(authority) = &authority {
        if !parts.headers.contains_key(header::HOST) {
            parts.headers.insert(header::HOST, authority.clone());
        }
    }
    let trailers = accepts_trailers(&parts.headers);
    strip_hop_by_hop(&mut parts.headers);
    if trailers {
        parts
            .headers
            .insert(header::TE, HeaderValue::from_static("trailers"));
    }
    if let Some(value) = upgrade_value {
        parts.headers.insert(header::UPGRADE, value);
        parts
            .headers
            .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
    if let Some(hostname) = rewrite.and_then(|r| r.hostname.as_deref()) {
        if let Ok(value) = HeaderValue::from_str(hostname) {
            parts.headers.insert(header::HOST, value);
        }
    }
    if parts.headers.contains_key(&X_FORWARDED_FOR) {
        let mut forwarded_for = String::new();
        for previous in parts
            .headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            forwarded_for.push_str(previous);
            forwarded_for.push_str(", ");
        }
        forwarded_for.push_str(conn.peer_ip.to_str().unwrap_or(""));
        if let Ok(value) = HeaderValue::from_str(&forwarded_for) {
            parts.headers.insert(X_FORWARDED_FOR.clone(), value);
        }
    } else {
        parts
            .headers
            .insert(X_FORWARDED_FOR.clone(), conn.peer_ip.clone());
    }
    parts.headers.insert(
        X_FORWARDED_PROTO.clone(),
        HeaderValue::from_static(if conn.tls { "https" } else { "http" }),
    );
    if let Some(value) = authority {
        parts.headers.insert(X_FORWARDED_HOST.clone(), value);
    }
    let via = match parts.version {
        Version::HTTP_2 => "2 torii",
        Version::HTTP_10 => "1.0 torii",
        _ => "1.1 torii",
    };
    parts
        .headers
        .append(header::VIA, HeaderValue::from_static(via));
}

async fn splice_upgraded(downstream: torii_http1::OnUpgrade, upstream: torii_http1::OnUpgrade) {
    let (Ok(mut downstream), Ok(mut upstream)) = tokio::join!(downstream, upstream) else {
        return;
    };
    let _ = tokio::io::copy_bidirectional(&mut downstream, &mut upstream).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_loses_port_and_case() {
        let req = Request::builder()
            .uri("/x")
            .header("host", "Example.COM:8080")
            .body(())
            .unwrap();
        let (parts, _) = req.into_parts();
        let authority = request_authority(&parts);
        assert_eq!(host_for_matching(authority.as_ref()), "example.com");
        assert_eq!(strip_port("[::1]:80"), "::1");
        assert_eq!(strip_port("a.b"), "a.b");
    }

    #[test]
    fn hop_by_hop_headers_go() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("close, x-secret"),
        );
        headers.insert("x-secret", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key("x-kept"));
    }
}
