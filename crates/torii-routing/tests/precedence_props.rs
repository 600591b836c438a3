//! Property tests: for random listeners, routes and requests, the router's answer equals a
//! naive reference that checks every match of every rule of every route and takes the
//! maximum by the precedence key.

mod common;

use common::*;
use http::Method;
use proptest::prelude::*;
use regex::Regex;
use std::cmp::Reverse;
use torii_config::{HttpRouteMatch, ListenerConfig, PathMatch};
use torii_routing::precedence::{HostnameSpecificity, MatchPrecedence, Rank};
use torii_routing::PortRouter;

const ROUTE_HOSTS: &[&str] = &[
    "a.example.com",
    "b.example.com",
    "*.example.com",
    "*.a.example.com",
];
const LISTENER_HOSTS: &[&str] = &["", "*.example.com", "a.example.com"];
const REQUEST_HOSTS: &[&str] = &[
    "a.example.com",
    "b.example.com",
    "x.a.example.com",
    "c.example.com",
    "other.org",
];
const SEGMENTS: &[&str] = &["a", "b", "ab"];
const REGEXES: &[&str] = &["/a/.*", "/[ab]+", "/a|/b", "/b/?"];
const CONDS: &[(&str, &str)] = &[("x", "1"), ("x", "2"), ("y", "1")];

fn path_strategy(max_segments: usize) -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop::sample::select(SEGMENTS), 0..=max_segments),
        any::<bool>(),
    )
        .prop_map(|(segments, slash)| {
            let mut p = format!("/{}", segments.join("/"));
            if slash && !p.ends_with('/') {
                p.push('/');
            }
            p
        })
}

fn match_strategy() -> impl Strategy<Value = HttpRouteMatch> {
    let path = prop_oneof![
        path_strategy(3).prop_map(|p| exact(&p)),
        path_strategy(3).prop_map(|p| prefix(&p)),
        path_strategy(3).prop_map(|p| prefix(&p)),
        prop::sample::select(REGEXES).prop_map(regex),
    ];
    let method = prop::option::of(prop::sample::select(vec![Method::GET, Method::POST]));
    let headers = prop::collection::vec(prop::sample::select(CONDS), 0..=2);
    let queries = prop::collection::vec(prop::sample::select(CONDS), 0..=2);
    (path, method, headers, queries).prop_map(|(mut m, method, headers, queries)| {
        m.method = method;
        for (n, v) in headers {
            m = header(m, n, v);
        }
        for (n, v) in queries {
            m = query(m, n, v);
        }
        m
    })
}

/// Few distinct matches that a `GET /a` with `x: 1` mostly satisfies, so that ties are common.
fn tie_prone_match_strategy() -> impl Strategy<Value = HttpRouteMatch> {
    (
        prop::sample::select(vec![prefix("/"), prefix("/a"), exact("/a"), regex("/a?")]),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(mut m, with_method, with_header)| {
            if with_method {
                m.method = Some(Method::GET);
            }
            if with_header {
                m = header(m, "x", "1");
            }
            m
        })
}

type RouteSpec = (i64, Vec<&'static str>, Vec<Vec<HttpRouteMatch>>);

fn routes_strategy() -> impl Strategy<Value = Vec<RouteSpec>> {
    let one = (
        0i64..3,
        prop::collection::vec(prop::sample::select(ROUTE_HOSTS), 0..=2),
        prop::collection::vec(prop::collection::vec(match_strategy(), 1..=3), 1..=3),
    );
    prop::collection::vec(one, 1..=6)
}

fn listeners_strategy() -> impl Strategy<Value = Vec<ListenerConfig>> {
    prop::collection::vec(
        (prop::sample::select(LISTENER_HOSTS), routes_strategy()),
        1..=3,
    )
    .prop_map(|specs| {
        specs
            .into_iter()
            .enumerate()
            .map(|(li, (hostname, routes))| {
                let routes = routes
                    .into_iter()
                    .enumerate()
                    .map(|(ri, (created, hostnames, rules))| {
                        (route(&format!("ns/l{li}r{ri}"), created, rules), hostnames)
                    })
                    .collect();
                listener(&format!("l{li}"), hostname, routes)
            })
            .collect()
    })
}

fn request_strategy() -> impl Strategy<Value = Req> {
    (
        prop::sample::select(REQUEST_HOSTS),
        path_strategy(4),
        prop::sample::select(vec![Method::GET, Method::POST]),
        prop::collection::vec(prop::sample::select(CONDS), 0..=3),
        prop::collection::vec((prop::sample::select(CONDS), any::<bool>()), 0..=3),
    )
        .prop_map(|(host, path, method, headers, queries)| {
            let q: Vec<String> = queries
                .into_iter()
                .map(|((n, v), encode)| {
                    let v = if encode {
                        format!("%{:02X}", v.as_bytes()[0])
                    } else {
                        v.to_string()
                    };
                    format!("{n}={v}")
                })
                .collect();
            let target = if q.is_empty() {
                path
            } else {
                format!("{path}?{}", q.join("&"))
            };
            let mut req = Req::get(host, &target).method(method);
            for (n, v) in headers {
                req = req.header(n, v);
            }
            req
        })
}

/// Percent-decoding, written independently of the crate's.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() && b[i + 1..i + 3].iter().all(u8::is_ascii_hexdigit) {
            let v = u8::from_str_radix(&s[i + 1..i + 3], 16).expect("two hex digits");
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn naive_matches(m: &HttpRouteMatch, req: &Req) -> bool {
    let path = req.path.as_str();
    let path_ok = match &m.path {
        PathMatch::Exact(p) => path == p,
        PathMatch::Prefix(p) => {
            let p = p.trim_end_matches('/');
            if p.is_empty() {
                path.starts_with('/')
            } else {
                path == p || path.starts_with(&format!("{p}/"))
            }
        }
        PathMatch::RegularExpression(re) => Regex::new(&format!("^(?:{})$", re.as_str()))
            .expect("valid")
            .is_match(path),
    };
    let method_ok = m.method.as_ref().is_none_or(|x| *x == req.method);
    let mut seen = Vec::new();
    let headers_ok = m.headers.iter().all(|h| {
        if seen.contains(&h.name) {
            return true;
        }
        seen.push(h.name.clone());
        let values: Vec<&str> = req
            .headers
            .get_all(&h.name)
            .iter()
            .map(|v| v.to_str().expect("ascii"))
            .collect();
        !values.is_empty() && h.value.matches(&values.join(", "))
    });
    let params: Vec<(String, String)> = req
        .query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((n, v)) => (decode(n), decode(v)),
            None => (decode(pair), String::new()),
        })
        .collect();
    let mut seen = Vec::new();
    let query_ok = m.query_params.iter().all(|q| {
        if seen.contains(&q.name) {
            return true;
        }
        seen.push(q.name.clone());
        params
            .iter()
            .find(|(n, _)| *n == q.name)
            .is_some_and(|(_, v)| q.value.matches(v))
    });
    path_ok && method_ok && headers_ok && query_ok
}

fn naive(listeners: &[ListenerConfig], req: &Req) -> String {
    let host = req.host.as_str();
    let Some((li, l)) = listeners
        .iter()
        .enumerate()
        .filter(|(_, l)| l.hostname.as_ref().is_none_or(|h| h.matches(host)))
        .max_by_key(|(i, l)| (HostnameSpecificity::of(l.hostname.as_ref()), Reverse(*i)))
    else {
        return "no-listener".into();
    };
    let mut best: Option<(Rank<'_>, String)> = None;
    for a in &l.http_routes {
        let hostnames: Vec<_> = if a.hostnames.is_empty() {
            vec![l.hostname.as_ref()]
        } else {
            a.hostnames.iter().map(Some).collect()
        };
        for h in hostnames {
            if !h.is_none_or(|h| h.matches(host)) {
                continue;
            }
            for (ri, rule) in a.route.rules.iter().enumerate() {
                for (mi, m) in rule.matches.iter().enumerate() {
                    if !naive_matches(m, req) {
                        continue;
                    }
                    let rank = Rank {
                        hostname: HostnameSpecificity::of(h),
                        matched: MatchPrecedence::of(m),
                        route: &a.route.order,
                        rule: ri,
                        index: mi,
                    };
                    if best.as_ref().is_none_or(|(b, _)| rank > *b) {
                        let name = format!("{}#{ri}.{mi}@{li}", a.route.order.name);
                        best = Some((rank, name));
                    }
                }
            }
        }
    }
    best.map(|(_, name)| name)
        .unwrap_or_else(|| format!("404@{li}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn router_agrees_with_naive_scan(
        listeners in listeners_strategy(),
        requests in prop::collection::vec(request_strategy(), 1..=8),
    ) {
        let router = PortRouter::new(&listeners);
        for req in &requests {
            prop_assert_eq!(route_to(&router, req), naive(&listeners, req), "request {:?}", req);
        }
    }

    #[test]
    fn arbitrary_request_strings_agree_with_naive_scan(
        listeners in listeners_strategy(),
        host in prop_oneof![prop::sample::select(REQUEST_HOSTS).prop_map(String::from), "[a-z.]{0,24}"],
        path in prop_oneof!["[/ab]{0,10}", "\\PC{0,16}"],
        query in prop::option::of(prop_oneof!["[xyqr=&%0-9a-fA-F]{0,16}", "\\PC{0,16}"]),
        method in prop::sample::select(vec![Method::GET, Method::POST]),
    ) {
        let mut req = Req::get(&host, &path).method(method);
        req.path = path;
        req.query = query;
        let router = PortRouter::new(&listeners);
        prop_assert_eq!(route_to(&router, &req), naive(&listeners, &req), "request {:?}", req);
    }

    #[test]
    fn winners_in_turn_follow_the_sorted_precedence_keys(
        matches in prop::collection::vec((0i64..3, tie_prone_match_strategy()), 1..=10),
        with_header in any::<bool>(),
    ) {
        let req = if with_header { Req::get("h.com", "/a").header("x", "1") } else { Req::get("h.com", "/a") };
        // Each match in its own route: routing, removing the winner and routing again must
        // list the matching candidates in descending precedence order.
        let mut remaining: Vec<(String, i64, HttpRouteMatch)> = matches
            .into_iter()
            .enumerate()
            .map(|(i, (created, m))| (format!("ns/r{i:02}"), created, m))
            .collect();
        let build = |remaining: &[(String, i64, HttpRouteMatch)]| {
            let routes = remaining
                .iter()
                .map(|(name, created, m)| (route(name, *created, vec![vec![m.clone()]]), vec![]))
                .collect();
            vec![listener("l", "", routes)]
        };
        let mut expected: Vec<(Rank<'_>, String)> = Vec::new();
        let listeners = build(&remaining);
        for a in &listeners[0].http_routes {
            let m = &a.route.rules[0].matches[0];
            if naive_matches(m, &req) {
                let rank = Rank {
                    hostname: HostnameSpecificity::Any,
                    matched: MatchPrecedence::of(m),
                    route: &a.route.order,
                    rule: 0,
                    index: 0,
                };
                expected.push((rank, format!("{}#0.0@0", a.route.order.name)));
            }
        }
        expected.sort_by(|a, b| b.0.cmp(&a.0));
        let mut winners = Vec::new();
        loop {
            let listeners = build(&remaining);
            let got = route_to(&PortRouter::new(&listeners), &req);
            if got == "404@0" {
                break;
            }
            let name = got.split('#').next().expect("a route name").to_string();
            remaining.retain(|(n, _, _)| *n != name);
            winners.push(got);
        }
        let expected: Vec<String> = expected.into_iter().map(|(_, n)| n).collect();
        prop_assert_eq!(winners, expected);
    }
}
