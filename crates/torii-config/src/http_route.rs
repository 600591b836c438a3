//! HTTP routing: routes, rules, matches and filters (HTTPRoute and GRPCRoute).

use crate::backend::WeightedTarget;
use crate::hostname::HostnameMatch;
use crate::ids::RouteId;
use http::{HeaderName, HeaderValue, Method, StatusCode};
use regex::Regex;
use std::sync::Arc;
use std::time::Duration;

/// An HTTPRoute (or a GRPCRoute translated to HTTP terms) attached to one listener.
#[derive(Debug, Clone)]
pub struct HttpRouteAttachment {
    /// The route.
    pub route: Arc<HttpRoute>,
    /// The route's hostnames intersected with the listener's; empty means every host the
    /// listener accepts.
    pub hostnames: Vec<HostnameMatch>,
}

/// An accepted HTTP route: its rules, in order.
#[derive(Debug, Clone)]
pub struct HttpRoute {
    /// The route object.
    pub id: RouteId,
    /// Tie-break order between routes: older first, then by namespace/name (the spec's rule).
    pub order: RouteOrder,
    /// The route's rules.
    pub rules: Vec<Arc<HttpRule>>,
}

/// The key that orders routes with equal match precedence: creation time, then namespace
/// and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct RouteOrder {
    /// `metadata.creationTimestamp` as seconds since the epoch (files without one sort as 0).
    pub created: i64,
    /// `namespace/name`.
    pub name: String,
}

/// One rule of a route.
#[derive(Debug, Clone)]
pub struct HttpRule {
    /// The rule's index in the route.
    pub index: usize,
    /// The rule's `name`, when it has one.
    pub name: Option<Arc<str>>,
    /// Matches; a request matching any of them selects the rule. Never empty: a rule without
    /// matches gets the default `PathPrefix /`.
    pub matches: Vec<HttpRouteMatch>,
    /// Filters applied to every request the rule selects, in order.
    pub filters: Vec<HttpFilter>,
    /// Weighted backends. Empty with no redirect filter means a 500 answer.
    pub backends: Vec<HttpBackend>,
    /// Request and backend timeouts.
    pub timeouts: Timeouts,
    /// Retry policy, if any.
    pub retry: Option<Retry>,
    /// Whether the rule came from a GRPCRoute (upstream then always speaks HTTP/2).
    pub grpc: bool,
    /// The `Comparison` and `Rollout` that target this rule.
    pub migration: crate::migration::RuleMigration,
}

/// One way a request can match a rule; every present condition must hold.
#[derive(Debug, Clone)]
pub struct HttpRouteMatch {
    /// The path condition.
    pub path: PathMatch,
    /// Header conditions (all must hold).
    pub headers: Vec<HeaderMatch>,
    /// Query parameter conditions (all must hold).
    pub query_params: Vec<QueryParamMatch>,
    /// The method condition.
    pub method: Option<Method>,
}

/// A path condition.
#[derive(Debug, Clone)]
pub enum PathMatch {
    /// The path equals this string.
    Exact(String),
    /// The path starts with this prefix on a segment boundary (`/foo` matches `/foo` and
    /// `/foo/bar`, not `/foobar`). Stored without a trailing slash, except for `/`.
    Prefix(String),
    /// The path matches this regular expression in full.
    RegularExpression(Regex),
}

/// How a string value is compared.
#[derive(Debug, Clone)]
pub enum StringMatch {
    /// Equal to this value.
    Exact(String),
    /// Matches this regular expression in full.
    RegularExpression(Regex),
}

impl StringMatch {
    /// Whether the value satisfies the condition.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            StringMatch::Exact(expected) => expected == value,
            StringMatch::RegularExpression(re) => re.is_match(value),
        }
    }
}

/// A header condition (header names compare case-insensitively).
#[derive(Debug, Clone)]
pub struct HeaderMatch {
    /// The header name.
    pub name: HeaderName,
    /// The condition on its value.
    pub value: StringMatch,
}

/// A query parameter condition (names compare exactly).
#[derive(Debug, Clone)]
pub struct QueryParamMatch {
    /// The parameter name.
    pub name: String,
    /// The condition on its value.
    pub value: StringMatch,
}

/// A filter that changes a request or its response.
#[derive(Debug, Clone)]
pub enum HttpFilter {
    /// Changes request headers.
    RequestHeaderModifier(HeaderModifier),
    /// Changes response headers.
    ResponseHeaderModifier(HeaderModifier),
    /// Answers with a redirect instead of forwarding.
    RequestRedirect(RequestRedirect),
    /// Rewrites the host and/or path before forwarding.
    UrlRewrite(UrlRewrite),
    /// Sends a copy of the request elsewhere and discards the answer.
    RequestMirror(RequestMirror),
    /// Answers CORS preflights and decorates responses.
    Cors(Cors),
}

/// Header edits: set replaces, add appends, remove deletes.
#[derive(Debug, Clone, Default)]
pub struct HeaderModifier {
    /// Headers to set (replacing any present).
    pub set: Vec<(HeaderName, HeaderValue)>,
    /// Headers to append.
    pub add: Vec<(HeaderName, HeaderValue)>,
    /// Headers to remove.
    pub remove: Vec<HeaderName>,
}

/// How a path is modified by a redirect or rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathModifier {
    /// Replace the whole path.
    ReplaceFullPath(String),
    /// Replace the part the rule's `PathPrefix` matched.
    ReplacePrefixMatch(String),
}

/// A `RequestRedirect` filter.
#[derive(Debug, Clone)]
pub struct RequestRedirect {
    /// `http` or `https`; `None` keeps the request's.
    pub scheme: Option<String>,
    /// New host; `None` keeps the request's.
    pub hostname: Option<String>,
    /// New port; `None` derives it as the spec says.
    pub port: Option<u16>,
    /// Path change.
    pub path: Option<PathModifier>,
    /// 301, 302, 303, 307 or 308.
    pub status: StatusCode,
}

/// A `URLRewrite` filter.
#[derive(Debug, Clone, Default)]
pub struct UrlRewrite {
    /// New Host header.
    pub hostname: Option<String>,
    /// Path change.
    pub path: Option<PathModifier>,
}

/// A `RequestMirror` filter.
#[derive(Debug, Clone)]
pub struct RequestMirror {
    /// Where copies go.
    pub target: crate::backend::BackendTarget,
    /// The share of requests mirrored, as numerator/denominator (1/1 mirrors all).
    pub numerator: u32,
    /// Denominator of the share; never 0.
    pub denominator: u32,
}

/// A `CORS` filter.
#[derive(Debug, Clone, Default)]
pub struct Cors {
    /// Allowed origins (`*` or patterns with a `*` wildcard host label).
    pub allow_origins: Vec<String>,
    /// Allowed methods (`*` allowed).
    pub allow_methods: Vec<String>,
    /// Allowed request headers (`*` allowed).
    pub allow_headers: Vec<String>,
    /// Response headers exposed to scripts.
    pub expose_headers: Vec<String>,
    /// Whether credentials are allowed.
    pub allow_credentials: bool,
    /// Preflight cache lifetime in seconds.
    pub max_age: Option<u32>,
}

/// A backend of a rule, with its own filters.
#[derive(Debug, Clone)]
pub struct HttpBackend {
    /// The weighted target.
    pub target: WeightedTarget,
    /// Filters applied only when this backend is chosen.
    pub filters: Vec<HttpFilter>,
}

/// `timeouts` of a rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeouts {
    /// Whole-request timeout (client sees 504 after it).
    pub request: Option<Duration>,
    /// Timeout of each request to a backend.
    pub backend_request: Option<Duration>,
}

/// `retry` of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    /// Status codes that trigger a retry.
    pub codes: Vec<u16>,
    /// Retries after the first attempt.
    pub attempts: u32,
    /// Wait between attempts.
    pub backoff: Option<Duration>,
}
