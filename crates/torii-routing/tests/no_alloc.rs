//! Routing a request allocates nothing: hits and misses, on exact, prefix and regular
//! expression paths, with header and (percent-encoded) query parameter conditions.
//! One test only: the allocation counters are global to the process.

mod common;

use common::*;
use http::Method;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::hint::black_box;
use torii_config::{HttpRouteMatch, StringMatch};
use torii_routing::PortRouter;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn regex_query(mut m: HttpRouteMatch, name: &str, re: &str) -> HttpRouteMatch {
    m.query_params.push(torii_config::QueryParamMatch {
        name: name.into(),
        value: StringMatch::RegularExpression(regex::Regex::new(re).expect("test regex")),
    });
    m
}

#[test]
fn routing_allocates_nothing() {
    let listeners = [
        listener(
            "a",
            "*.example.com",
            vec![
                (
                    route("ns/exact", 0, vec![vec![exact("/exact")]]),
                    vec!["a.example.com"],
                ),
                (
                    route(
                        "ns/mixed",
                        0,
                        vec![
                            vec![regex("/re/[0-9]+")],
                            vec![header(prefix("/h"), "x", "1")],
                            vec![regex_query(prefix("/q"), "q", "blue .*")],
                            vec![method(query(prefix("/m"), "a", "b c"), Method::POST)],
                        ],
                    ),
                    vec![],
                ),
            ],
        ),
        listener(
            "b",
            "",
            vec![(route("ns/any", 0, vec![vec![prefix("/any")]]), vec![])],
        ),
    ];
    let router = PortRouter::new(&listeners);
    let requests = [
        (Req::get("a.example.com", "/exact"), "ns/exact#0.0@0"),
        (Req::get("b.example.com", "/re/42"), "ns/mixed#0.0@0"),
        (
            Req::get("b.example.com", "/h/x")
                .header("x", "1")
                .header("x", "2"),
            "404@0",
        ),
        (
            Req::get("b.example.com", "/h/x").header("x", "1"),
            "ns/mixed#1.0@0",
        ),
        (
            Req::get("b.example.com", "/q?q=blue%20whale"),
            "ns/mixed#2.0@0",
        ),
        (
            Req::get("b.example.com", "/m?a=b%20c").method(Method::POST),
            "ns/mixed#3.0@0",
        ),
        (Req::get("b.example.com", "/nothing/here"), "404@0"),
        (Req::get("other.org", "/any/thing"), "ns/any#0.0@1"),
        (Req::get("other.org", "/none"), "404@1"),
    ];
    for (req, want) in &requests {
        assert_eq!(route_to(&router, req), *want);
    }
    let infos: Vec<_> = requests.iter().map(|(r, _)| r.info()).collect();
    let region = Region::new(GLOBAL);
    for _ in 0..100 {
        for info in &infos {
            black_box(router.route(black_box(info)));
        }
    }
    let stats = region.change();
    assert_eq!(
        (stats.allocations, stats.reallocations),
        (0, 0),
        "routing allocated: {stats:?}"
    );
}
