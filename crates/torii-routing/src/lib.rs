//! Compiled HTTP route tables: which listener, route, rule and match serve a request.
//!
//! [`PortRouter::new`] compiles the listeners of one port (their HTTPRoutes and GRPCRoutes)
//! once per configuration; [`PortRouter::route`] answers every request without allocating.
//!
//! The semantics are the Gateway API's:
//! - **Listener**: the Host picks the listener with exactly that hostname, else the longest
//!   matching wildcard, else the listener without hostname.
//! - **Hostname**: a route is a candidate when one of its (intersected) hostnames matches the
//!   Host; a route without hostnames takes the listener's. Routes reached through a more
//!   specific hostname take precedence (exact, then longer wildcards, then any host). This is
//!   a precedence, not a partition: when no rule of the most specific routes matches, the
//!   best match of the less specific ones serves the request.
//! - **Rules**: [`precedence`] defines the order; paths are case-sensitive, `PathPrefix` is
//!   segment-wise, see [`conditions`] for headers and query parameters.
//!
//! Requests that reach no listener get [`RouteOutcome::NoListener`]; requests that reach a
//! listener but no rule get [`RouteOutcome::NoRoute`] (both a 404 for the proxy).

pub mod conditions;
mod host;
mod path;
pub mod precedence;
mod router;
mod table;

pub use router::PortRouter;

use std::sync::Arc;
use torii_config::{HttpRoute, HttpRouteMatch, HttpRule};

/// The parts of a request that routing looks at.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    /// The host from `Host` or `:authority`: lower-case, without port.
    pub host: &'a str,
    /// The request method.
    pub method: &'a http::Method,
    /// The path, without query.
    pub path: &'a str,
    /// The query, without the `?`; `None` when the target has none.
    pub query: Option<&'a str>,
    /// The request headers.
    pub headers: &'a http::HeaderMap,
}

/// What routing decided for a request.
#[derive(Debug, Clone, Copy)]
pub enum RouteOutcome<'r> {
    /// No listener of the port serves the request's host.
    NoListener,
    /// The listener at this index serves the host but no rule matches.
    NoRoute {
        /// The listener's index in the slice given to [`PortRouter::new`].
        listener: usize,
    },
    /// A rule matches.
    Matched(RouteMatch<'r>),
}

/// The rule chosen for a request.
#[derive(Debug, Clone, Copy)]
pub struct RouteMatch<'r> {
    /// The listener's index in the slice given to [`PortRouter::new`].
    pub listener: usize,
    /// The route.
    pub route: &'r Arc<HttpRoute>,
    /// The rule.
    pub rule: &'r Arc<HttpRule>,
    /// The rule's match the request satisfied (for `ReplacePrefixMatch`, among others).
    pub matched: &'r HttpRouteMatch,
}
