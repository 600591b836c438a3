//! Table tests from the Gateway API spec and its conformance tests, for listener choice and
//! route hostnames: a small route set and requests with the expected route, rule and match
//! (`ns/route#rule.match@listener`), `404@N` (listener N, no rule) or `no-listener`.

mod common;

use common::*;
use torii_config::ListenerProtocol;
use torii_routing::PortRouter;

#[test]
fn matching_across_routes() {
    // HTTPRouteMatchingAcrossRoutes.
    let r = one_listener(vec![
        (
            route(
                "ns/matching-part1",
                0,
                vec![vec![prefix("/"), header(prefix("/"), "version", "one")]],
            ),
            vec!["example.com", "example.net"],
        ),
        (
            route(
                "ns/matching-part2",
                0,
                vec![vec![prefix("/v2"), header(prefix("/"), "version", "two")]],
            ),
            vec!["example.com"],
        ),
    ]);
    check(
        &r,
        &[
            (Req::get("example.com", "/"), "ns/matching-part1#0.0@0"),
            (
                Req::get("example.com", "/example"),
                "ns/matching-part1#0.0@0",
            ),
            (
                Req::get("example.net", "/example"),
                "ns/matching-part1#0.0@0",
            ),
            (
                Req::get("example.com", "/example").header("version", "one"),
                "ns/matching-part1#0.1@0",
            ),
            (Req::get("example.com", "/v2"), "ns/matching-part2#0.0@0"),
            (Req::get("example.net", "/v2"), "ns/matching-part1#0.0@0"),
            (
                Req::get("example.com", "/v2/example"),
                "ns/matching-part2#0.0@0",
            ),
            (
                Req::get("example.com", "/").header("version", "two"),
                "ns/matching-part2#0.1@0",
            ),
            (Req::get("example.org", "/"), "404@0"),
        ],
    );
}

#[test]
fn hostname_intersection() {
    // HTTPRouteHostnameIntersection: three listeners on one port, routes attached to the
    // Gateway (every listener they intersect with).
    let routes = || {
        vec![
            (
                route("ns/s1", 0, vec![vec![prefix("/s1")]]),
                vec![
                    "non.matching.com",
                    "*.nonmatchingwildcard.io",
                    "very.specific.com",
                ],
            ),
            (
                route("ns/s2", 0, vec![vec![prefix("/s2")]]),
                vec![
                    "non.matching.com",
                    "wildcard.io",
                    "foo.wildcard.io",
                    "bar.wildcard.io",
                    "foo.bar.wildcard.io",
                ],
            ),
            (
                route("ns/s3", 0, vec![vec![prefix("/s3")]]),
                vec!["non.matching.com", "*.specific.com"],
            ),
            (
                route("ns/s4", 0, vec![vec![prefix("/s4")]]),
                vec!["*.anotherwildcard.io"],
            ),
            (
                route("ns/s5", 0, vec![vec![prefix("/s5")]]),
                vec!["specific.but.wrong.com", "wildcard.io"],
            ),
        ]
    };
    let r = PortRouter::new(&[
        listener("listener-1", "very.specific.com", routes()),
        listener("listener-2", "*.wildcard.io", routes()),
        listener("listener-3", "*.anotherwildcard.io", routes()),
    ]);
    check(
        &r,
        &[
            (Req::get("very.specific.com", "/s1"), "ns/s1#0.0@0"),
            (Req::get("non.matching.com", "/s1"), "no-listener"),
            (Req::get("foo.nonmatchingwildcard.io", "/s1"), "no-listener"),
            (Req::get("foo.wildcard.io", "/s1"), "404@1"),
            (
                Req::get("very.specific.com", "/non-matching-prefix"),
                "404@0",
            ),
            (Req::get("foo.wildcard.io", "/s2"), "ns/s2#0.0@1"),
            (Req::get("bar.wildcard.io", "/s2"), "ns/s2#0.0@1"),
            (Req::get("foo.bar.wildcard.io", "/s2"), "ns/s2#0.0@1"),
            (Req::get("non.matching.com", "/s2"), "no-listener"),
            (Req::get("wildcard.io", "/s2"), "no-listener"),
            (Req::get("very.specific.com", "/s2"), "404@0"),
            (Req::get("foo.wildcard.io", "/non-matching-prefix"), "404@1"),
            (Req::get("very.specific.com", "/s3"), "ns/s3#0.0@0"),
            (Req::get("foo.specific.com", "/s3"), "no-listener"),
            (Req::get("foo.wildcard.io", "/s3"), "404@1"),
            (Req::get("foo.anotherwildcard.io", "/s4"), "ns/s4#0.0@2"),
            (Req::get("bar.anotherwildcard.io", "/s4"), "ns/s4#0.0@2"),
            (Req::get("foo.bar.anotherwildcard.io", "/s4"), "ns/s4#0.0@2"),
            (Req::get("anotherwildcard.io", "/s4"), "no-listener"),
            (Req::get("foo.wildcard.io", "/s4"), "404@1"),
            (Req::get("very.specific.com", "/s4"), "404@0"),
            (Req::get("specific.but.wrong.com", "/s5"), "no-listener"),
            (Req::get("wildcard.io", "/s5"), "no-listener"),
        ],
    );
    // The second Gateway: one listener without hostname, one route with four hostnames.
    let all = PortRouter::new(&[listener(
        "listener-1",
        "",
        vec![(
            route("ns/all", 0, vec![vec![]]),
            vec!["first.com", "sub.first.com", "second.com", "sub.second.com"],
        )],
    )]);
    check(
        &all,
        &[
            (Req::get("first.com", "/"), "ns/all#0.0@0"),
            (Req::get("sub.first.com", "/"), "ns/all#0.0@0"),
            (Req::get("second.com", "/"), "ns/all#0.0@0"),
            (Req::get("sub.second.com", "/"), "ns/all#0.0@0"),
            (Req::get("third.com", "/"), "404@0"),
            (Req::get("sub.third.com", "/"), "404@0"),
        ],
    );
}

#[test]
fn listener_hostname_matching() {
    // HTTPRouteListenerHostnameMatching: routes attached by sectionName.
    let r = PortRouter::new(&[
        listener(
            "listener-1",
            "bar.com",
            vec![(route("ns/backend-v1", 0, vec![vec![]]), vec![])],
        ),
        listener(
            "listener-2",
            "foo.bar.com",
            vec![(route("ns/backend-v2", 0, vec![vec![]]), vec![])],
        ),
        listener(
            "listener-3",
            "*.bar.com",
            vec![(route("ns/backend-v3", 0, vec![vec![]]), vec![])],
        ),
        listener(
            "listener-4",
            "*.foo.com",
            vec![(route("ns/backend-v3", 0, vec![vec![]]), vec![])],
        ),
    ]);
    check(
        &r,
        &[
            (Req::get("bar.com", "/"), "ns/backend-v1#0.0@0"),
            (Req::get("foo.bar.com", "/"), "ns/backend-v2#0.0@1"),
            (Req::get("baz.bar.com", "/"), "ns/backend-v3#0.0@2"),
            (Req::get("boo.bar.com", "/"), "ns/backend-v3#0.0@2"),
            (
                Req::get("multiple.prefixes.bar.com", "/"),
                "ns/backend-v3#0.0@2",
            ),
            (
                Req::get("multiple.prefixes.foo.com", "/"),
                "ns/backend-v3#0.0@3",
            ),
            (Req::get("foo.com", "/"), "no-listener"),
            (Req::get("no.matching.host", "/"), "no-listener"),
        ],
    );
}

#[test]
fn listener_isolation() {
    // GatewayHTTPListenerIsolation: each route attaches to one listener by sectionName; the
    // most specific listener takes the request even when its routes do not match.
    for route_hostnames in [
        vec![],
        vec![
            "bar.com",
            "*.example.com",
            "*.foo.example.com",
            "abc.foo.example.com",
        ],
    ] {
        let one = |name: &str, path: &str| {
            vec![(
                route(name, 0, vec![vec![prefix(path)]]),
                route_hostnames.clone(),
            )]
        };
        let r = PortRouter::new(&[
            listener("empty-hostname", "", one("ns/empty", "/empty-hostname")),
            listener(
                "wildcard-example-com",
                "*.example.com",
                one("ns/wild", "/wildcard-example-com"),
            ),
            listener(
                "wildcard-foo-example-com",
                "*.foo.example.com",
                one("ns/wild-foo", "/wildcard-foo-example-com"),
            ),
            listener(
                "abc-foo-example-com",
                "abc.foo.example.com",
                one("ns/abc", "/abc-foo-example-com"),
            ),
        ]);
        let paths = [
            "/empty-hostname",
            "/wildcard-example-com",
            "/wildcard-foo-example-com",
            "/abc-foo-example-com",
        ];
        let hosts = [
            ("bar.com", "ns/empty#0.0@0", 0),
            ("bar.example.com", "ns/wild#0.0@1", 1),
            ("bar.foo.example.com", "ns/wild-foo#0.0@2", 2),
            ("abc.foo.example.com", "ns/abc#0.0@3", 3),
        ];
        let mut cases = Vec::new();
        for (host, hit, listener) in hosts {
            for (i, path) in paths.iter().enumerate() {
                let want = if i == listener {
                    hit.to_string()
                } else {
                    format!("404@{listener}")
                };
                cases.push((Req::get(host, path), want));
            }
        }
        let cases: Vec<(Req, &str)> = cases.iter().map(|(r, w)| (r.clone(), w.as_str())).collect();
        check(&r, &cases);
    }
}

#[test]
fn more_specific_route_hostnames_take_precedence_and_fall_back() {
    // HTTPRouteSpec.Hostnames: an exact hostname beats a wildcard, a longer wildcard beats a
    // shorter one, and routes without hostnames come last; the order is a precedence, so a
    // request no rule of the specific route matches falls to the less specific routes.
    let r = one_listener(vec![
        (
            route(
                "ns/any",
                0,
                vec![vec![prefix("/")], vec![prefix("/deep/path")]],
            ),
            vec![],
        ),
        (
            route("ns/wild", 0, vec![vec![prefix("/")]]),
            vec!["*.example.com"],
        ),
        (
            route("ns/wild-long", 0, vec![vec![prefix("/")]]),
            vec!["*.foo.example.com"],
        ),
        (
            route("ns/exact", 0, vec![vec![prefix("/api")]]),
            vec!["a.foo.example.com"],
        ),
        (
            route("ns/both", 0, vec![vec![exact("/both")]]),
            vec!["*.example.com", "b.foo.example.com"],
        ),
    ]);
    check(
        &r,
        &[
            (Req::get("a.foo.example.com", "/api/x"), "ns/exact#0.0@0"),
            // A shorter path on the exact route still beats a longer one on a wildcard route.
            (
                Req::get("a.foo.example.com", "/deep/path"),
                "ns/wild-long#0.0@0",
            ),
            (
                Req::get("a.foo.example.com", "/other"),
                "ns/wild-long#0.0@0",
            ),
            (Req::get("z.foo.example.com", "/api"), "ns/wild-long#0.0@0"),
            (Req::get("foo.example.com", "/api"), "ns/wild#0.0@0"),
            (Req::get("a.example.com", "/deep/path"), "ns/wild#0.0@0"),
            (Req::get("other.org", "/deep/path"), "ns/any#1.0@0"),
            (Req::get("other.org", "/"), "ns/any#0.0@0"),
            // A route reached through its exact hostname ranks as exact.
            (Req::get("b.foo.example.com", "/both"), "ns/both#0.0@0"),
            (Req::get("b.foo.example.com", "/x"), "ns/wild-long#0.0@0"),
            (Req::get("c.example.com", "/both"), "ns/both#0.0@0"),
        ],
    );
}

#[test]
fn route_without_hostnames_takes_the_listener_hostname() {
    // On a `*.example.com` listener, a route without hostnames is as specific as one with
    // `*.example.com`, so the older one wins; an exact route hostname beats both.
    let r = PortRouter::new(&[listener(
        "l",
        "*.example.com",
        vec![
            (route("ns/none", 1, vec![vec![prefix("/")]]), vec![]),
            (
                route("ns/wild", 2, vec![vec![prefix("/")]]),
                vec!["*.example.com"],
            ),
            (
                route("ns/exact", 3, vec![vec![prefix("/")]]),
                vec!["a.example.com"],
            ),
        ],
    )]);
    check(
        &r,
        &[
            (Req::get("b.example.com", "/"), "ns/none#0.0@0"),
            (Req::get("a.example.com", "/"), "ns/exact#0.0@0"),
        ],
    );
}

#[test]
fn listener_choice_and_non_http_listeners() {
    let mut tls = listener("tls", "", vec![]);
    tls.protocol = ListenerProtocol::TlsPassthrough;
    let mut https = listener(
        "https",
        "secure.example.com",
        vec![(route("ns/s", 0, vec![vec![]]), vec![])],
    );
    https.protocol = ListenerProtocol::Https;
    let r = PortRouter::new(&[tls, https]);
    assert_eq!(r.listener_for_host("secure.example.com"), Some(1));
    assert_eq!(r.listener_for_host("other.example.com"), None);
    check(
        &r,
        &[
            (Req::get("secure.example.com", "/"), "ns/s#0.0@1"),
            (Req::get("other.example.com", "/"), "no-listener"),
        ],
    );
    // Duplicate hostnames: the first listener wins.
    let dup = PortRouter::new(&[
        listener("a", "x.com", vec![]),
        listener("b", "x.com", vec![]),
        listener("c", "", vec![]),
        listener("d", "", vec![]),
    ]);
    assert_eq!(dup.listener_for_host("x.com"), Some(0));
    assert_eq!(dup.listener_for_host("y.com"), Some(2));
    // No listeners at all.
    let empty = PortRouter::new(&[]);
    assert_eq!(route_to(&empty, &Req::get("x.com", "/")), "no-listener");
}

#[test]
fn the_same_route_on_two_listeners_reports_each_listener() {
    let shared = route("ns/shared", 0, vec![vec![prefix("/")]]);
    let r = PortRouter::new(&[
        listener("a", "a.com", vec![(shared.clone(), vec![])]),
        listener("b", "b.com", vec![(shared, vec![])]),
    ]);
    check(
        &r,
        &[
            (Req::get("a.com", "/"), "ns/shared#0.0@0"),
            (Req::get("b.com", "/"), "ns/shared#0.0@1"),
        ],
    );
}
