//! Stage 2, route: the listener by Host (421 when TLS chose another), the rule by the Gateway
//! API's precedence, on the normalised path with `;parameters` set aside.

use crate::downstream::ConnInfo;
use crate::error::ProxyError;
use crate::snapshot::{PortRuntime, RuleRuntime};
use std::sync::Arc;
use torii_routing::{RequestInfo, RouteMatch, RouteOutcome};

/// The rule a request takes, and its runtime.
pub(crate) struct Routed<'s> {
    /// What matched.
    pub(crate) matched: RouteMatch<'s>,
    /// The rule's resolved backends, metric handles and migration runtimes.
    pub(crate) runtime: &'s Arc<RuleRuntime>,
}

/// Picks the rule for a normalised request; `host` is lower-case without port.
pub(crate) fn route<'s>(
    port: &'s PortRuntime,
    parts: &http::request::Parts,
    host: &str,
    conn: &ConnInfo,
) -> Result<Routed<'s>, ProxyError> {
    // HTTPS: a Host that another listener (or none) serves than the one the TLS server name
    // chose is a misdirected request (RFC 9110 §15.5.20), answered before routing.
    if let Some(sni_listener) = conn.sni_listener {
        if port.router.listener_for_host(host) != Some(sni_listener) {
            return Err(ProxyError::Misdirected);
        }
    }
    let path = torii_normalize::match_view(parts.uri.path());
    let outcome = port.router.route(&RequestInfo {
        host,
        method: &parts.method,
        path: &path,
        query: parts.uri.query(),
        headers: &parts.headers,
    });
    match outcome {
        RouteOutcome::Matched(matched) => Ok(Routed {
            runtime: port.rule(matched.listener, matched.rule),
            matched,
        }),
        RouteOutcome::NoListener | RouteOutcome::NoRoute { .. } => Err(ProxyError::NoRoute),
    }
}
