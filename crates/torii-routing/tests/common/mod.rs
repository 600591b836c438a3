//! Builders for listeners, routes and requests shared by the tests and benches.
#![allow(dead_code)]

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use regex::Regex;
use std::sync::Arc;
use torii_config::{
    GatewayId, HeaderMatch, HostnameMatch, HttpRoute, HttpRouteAttachment, HttpRouteMatch,
    HttpRule, ListenerConfig, ListenerId, ListenerProtocol, PathMatch, QueryParamMatch, RouteId,
    RouteKind, RouteOrder, StringMatch, Timeouts,
};
use torii_routing::{PortRouter, RequestInfo, RouteOutcome};

/// A `PathPrefix` match.
pub fn prefix(p: &str) -> HttpRouteMatch {
    HttpRouteMatch {
        path: PathMatch::Prefix(p.into()),
        headers: vec![],
        query_params: vec![],
        method: None,
    }
}

/// An `Exact` path match.
pub fn exact(p: &str) -> HttpRouteMatch {
    HttpRouteMatch {
        path: PathMatch::Exact(p.into()),
        ..prefix("/")
    }
}

/// A `RegularExpression` path match.
pub fn regex(p: &str) -> HttpRouteMatch {
    HttpRouteMatch {
        path: PathMatch::RegularExpression(Regex::new(p).expect("test regex")),
        ..prefix("/")
    }
}

/// Adds a method condition.
pub fn method(mut m: HttpRouteMatch, method: Method) -> HttpRouteMatch {
    m.method = Some(method);
    m
}

/// Adds an exact header condition.
pub fn header(mut m: HttpRouteMatch, name: &str, value: &str) -> HttpRouteMatch {
    m.headers.push(HeaderMatch {
        name: HeaderName::from_bytes(name.as_bytes()).expect("test header name"),
        value: StringMatch::Exact(value.into()),
    });
    m
}

/// Adds an exact query parameter condition.
pub fn query(mut m: HttpRouteMatch, name: &str, value: &str) -> HttpRouteMatch {
    m.query_params.push(QueryParamMatch {
        name: name.into(),
        value: StringMatch::Exact(value.into()),
    });
    m
}

/// A rule with these matches (an empty list gets the default `PathPrefix /`).
pub fn rule(index: usize, matches: Vec<HttpRouteMatch>) -> Arc<HttpRule> {
    let matches = if matches.is_empty() {
        vec![prefix("/")]
    } else {
        matches
    };
    Arc::new(HttpRule {
        index,
        name: None,
        matches,
        filters: vec![],
        backends: vec![],
        timeouts: Timeouts::default(),
        retry: None,
        grpc: false,
        migration: Default::default(),
    })
}

/// A route named `ns/name`, created at `created`, with these rules.
pub fn route(name: &str, created: i64, rules: Vec<Vec<HttpRouteMatch>>) -> Arc<HttpRoute> {
    let (namespace, short) = name.split_once('/').unwrap_or(("default", name));
    Arc::new(HttpRoute {
        id: RouteId {
            kind: RouteKind::Http,
            namespace: namespace.into(),
            name: short.into(),
        },
        order: RouteOrder {
            created,
            name: format!("{namespace}/{short}"),
        },
        rules: rules
            .into_iter()
            .enumerate()
            .map(|(i, m)| rule(i, m))
            .collect(),
    })
}

/// Parses a hostname pattern; `""` means none.
pub fn host_pattern(h: &str) -> Option<HostnameMatch> {
    (!h.is_empty()).then(|| HostnameMatch::parse(h).expect("test hostname"))
}

/// A listener with the given hostname (`""`: none) and routes, each with the route's
/// hostnames; routes whose hostnames do not intersect the listener's are left out, and the
/// others keep the intersections, as translation does.
pub fn listener(
    name: &str,
    hostname: &str,
    routes: Vec<(Arc<HttpRoute>, Vec<&str>)>,
) -> ListenerConfig {
    let listener_host = host_pattern(hostname);
    let http_routes = routes
        .into_iter()
        .filter_map(|(route, hostnames)| {
            let hostnames: Vec<HostnameMatch> =
                hostnames.iter().filter_map(|h| host_pattern(h)).collect();
            let intersected: Vec<HostnameMatch> = match &listener_host {
                None => hostnames.clone(),
                Some(l) => hostnames.iter().filter_map(|h| l.intersect(h)).collect(),
            };
            if !hostnames.is_empty() && intersected.is_empty() {
                return None;
            }
            Some(HttpRouteAttachment {
                route,
                hostnames: intersected,
            })
        })
        .collect();
    ListenerConfig {
        id: ListenerId {
            gateway: GatewayId {
                namespace: "ns".into(),
                name: "gw".into(),
            },
            name: name.into(),
        },
        hostname: listener_host,
        protocol: ListenerProtocol::Http,
        certificates: vec![],
        http_routes,
        tls_routes: vec![],
        tcp_routes: vec![],
    }
}

/// A request to route.
#[derive(Debug, Clone)]
pub struct Req {
    pub host: String,
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
}

impl Req {
    /// `GET host/path?query` (the part after `?` becomes the query).
    pub fn get(host: &str, target: &str) -> Req {
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (target.to_string(), None),
        };
        Req {
            host: host.into(),
            method: Method::GET,
            path,
            query,
            headers: HeaderMap::new(),
        }
    }

    /// With another method.
    pub fn method(mut self, m: Method) -> Req {
        self.method = m;
        self
    }

    /// With another header.
    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.append(
            HeaderName::from_bytes(name.as_bytes()).expect("test header name"),
            HeaderValue::from_str(value).expect("test header value"),
        );
        self
    }

    /// The borrowed form the router takes.
    pub fn info(&self) -> RequestInfo<'_> {
        RequestInfo {
            host: &self.host,
            method: &self.method,
            path: &self.path,
            query: self.query.as_deref(),
            headers: &self.headers,
        }
    }
}

/// A short text for an outcome: `ns/route#rule.match@listener`, `404@listener` or
/// `no-listener`.
pub fn describe(outcome: RouteOutcome<'_>) -> String {
    match outcome {
        RouteOutcome::NoListener => "no-listener".into(),
        RouteOutcome::NoRoute { listener } => format!("404@{listener}"),
        RouteOutcome::Matched(m) => {
            let index = m
                .rule
                .matches
                .iter()
                .position(|x| std::ptr::eq(x, m.matched))
                .expect("the match belongs to the rule");
            let rule = m
                .route
                .rules
                .iter()
                .position(|r| Arc::ptr_eq(r, m.rule))
                .expect("the rule belongs to the route");
            format!("{}#{rule}.{index}@{}", m.route.order.name, m.listener)
        }
    }
}

/// Routes one request and describes the outcome.
pub fn route_to(router: &PortRouter, req: &Req) -> String {
    describe(router.route(&req.info()))
}

/// Routes every request and fails with the list of requests whose outcome differs.
pub fn check(router: &PortRouter, cases: &[(Req, &str)]) {
    let mut failures = Vec::new();
    for (req, want) in cases {
        let got = route_to(router, req);
        if got != *want {
            failures.push(format!(
                "{} {}{}{} {:?}: got {got}, want {want}",
                req.method,
                req.host,
                req.path,
                req.query
                    .as_deref()
                    .map(|q| format!("?{q}"))
                    .unwrap_or_default(),
                req.headers
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// A router with one listener without hostname and these routes (all hostnames kept).
pub fn one_listener(
    routes: Vec<(std::sync::Arc<torii_config::HttpRoute>, Vec<&str>)>,
) -> PortRouter {
    PortRouter::new(&[listener("l", "", routes)])
}
