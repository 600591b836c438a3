//! Table tests from the Gateway API spec and its conformance tests, for path, method,
//! header and query matching and their precedence: a small route set and requests with the
//! expected route, rule and match (`ns/route#rule.match@listener`) or `404@N` (listener N
//! serves the host, no rule matches).

mod common;

use common::*;
use http::Method;

const H: &str = "example.com";

#[test]
fn exact_path_matching() {
    // HTTPRouteExactPathMatching.
    let r = one_listener(vec![(
        route(
            "ns/exact",
            0,
            vec![vec![exact("/one")], vec![exact("/two")]],
        ),
        vec![],
    )]);
    check(
        &r,
        &[
            (Req::get(H, "/one"), "ns/exact#0.0@0"),
            (Req::get(H, "/two"), "ns/exact#1.0@0"),
            (Req::get(H, "/"), "404@0"),
            (Req::get(H, "/one/example"), "404@0"),
            (Req::get(H, "/two/"), "404@0"),
            (Req::get(H, "/Two"), "404@0"),
            (Req::get(H, "/one?x=1"), "ns/exact#0.0@0"),
        ],
    );
}

#[test]
fn prefix_matching_is_segment_wise() {
    // HTTPRouteMatching: `/` with a header alternative, `/v2` with a header alternative.
    let r = one_listener(vec![(
        route(
            "ns/matching",
            0,
            vec![
                vec![prefix("/"), header(prefix("/"), "version", "one")],
                vec![prefix("/v2"), header(prefix("/"), "version", "two")],
            ],
        ),
        vec![],
    )]);
    check(
        &r,
        &[
            (Req::get(H, "/"), "ns/matching#0.0@0"),
            (Req::get(H, "/example"), "ns/matching#0.0@0"),
            (
                Req::get(H, "/").header("version", "one"),
                "ns/matching#0.1@0",
            ),
            (Req::get(H, "/v2"), "ns/matching#1.0@0"),
            (Req::get(H, "/v2/example"), "ns/matching#1.0@0"),
            (
                Req::get(H, "/").header("version", "two"),
                "ns/matching#1.1@0",
            ),
            (Req::get(H, "/v2/"), "ns/matching#1.0@0"),
            (Req::get(H, "/v2example"), "ns/matching#0.0@0"),
            (Req::get(H, "/foo/v2/example"), "ns/matching#0.0@0"),
        ],
    );
}

#[test]
fn prefix_with_trailing_slash_also_matches_without() {
    let r = one_listener(vec![(
        route("ns/r", 0, vec![vec![prefix("/foo/")]]),
        vec![],
    )]);
    check(
        &r,
        &[
            (Req::get(H, "/foo"), "ns/r#0.0@0"),
            (Req::get(H, "/foo/"), "ns/r#0.0@0"),
            (Req::get(H, "/foo/bar"), "ns/r#0.0@0"),
            (Req::get(H, "/foobar"), "404@0"),
            (Req::get(H, "/"), "404@0"),
        ],
    );
}

#[test]
fn path_match_order() {
    // HTTPRoutePathMatchOrder.
    let r = one_listener(vec![(
        route(
            "ns/order",
            0,
            vec![
                vec![exact("/match")],
                vec![exact("/match/exact")],
                vec![exact("/match/exact/one")],
                vec![prefix("/match/")],
                vec![prefix("/match/prefix/")],
                vec![prefix("/match/prefix/one")],
            ],
        ),
        vec![],
    )]);
    check(
        &r,
        &[
            (Req::get(H, "/match/exact/one"), "ns/order#2.0@0"),
            (Req::get(H, "/match/exact"), "ns/order#1.0@0"),
            (Req::get(H, "/match"), "ns/order#0.0@0"),
            (Req::get(H, "/match/prefix/one/any"), "ns/order#5.0@0"),
            (Req::get(H, "/match/prefix/any"), "ns/order#4.0@0"),
            (Req::get(H, "/match/any"), "ns/order#3.0@0"),
            (Req::get(H, "/match/exact/two"), "ns/order#3.0@0"),
        ],
    );
}

#[test]
fn regular_expressions_rank_between_exact_and_prefix() {
    let r = one_listener(vec![(
        route(
            "ns/re",
            0,
            vec![
                vec![prefix("/api/v1/users")],
                vec![regex("/api/v[0-9]+/.*")],
                vec![exact("/api/v1/users")],
                vec![regex("/api/.*")],
            ],
        ),
        vec![],
    )]);
    check(
        &r,
        &[
            (Req::get(H, "/api/v1/users"), "ns/re#2.0@0"),
            // The regex beats a longer prefix; the longer pattern beats the shorter one.
            (Req::get(H, "/api/v1/users/7"), "ns/re#1.0@0"),
            (Req::get(H, "/api/x"), "ns/re#3.0@0"),
            // A regex must match the whole path.
            (Req::get(H, "/x/api/v1/users/7"), "404@0"),
        ],
    );
}

#[test]
fn method_matching() {
    // HTTPRouteMethodMatching.
    let get = Method::GET;
    let r = one_listener(vec![(
        route(
            "ns/method",
            0,
            vec![
                vec![method(prefix("/"), Method::POST)],
                vec![method(prefix("/"), get.clone())],
                vec![method(prefix("/path1"), get)],
                vec![method(header(prefix("/"), "version", "one"), Method::PUT)],
                vec![method(
                    header(prefix("/path2"), "version", "two"),
                    Method::POST,
                )],
                vec![
                    method(prefix("/path3"), Method::PATCH),
                    method(header(prefix("/path4"), "version", "three"), Method::DELETE),
                ],
                vec![prefix("/path5")],
                vec![method(prefix("/"), Method::PATCH)],
                vec![header(prefix("/"), "version", "four")],
            ],
        ),
        vec![],
    )]);
    let req = |m: Method, path: &str| Req::get(H, path).method(m);
    check(
        &r,
        &[
            (req(Method::POST, "/"), "ns/method#0.0@0"),
            (req(Method::GET, "/"), "ns/method#1.0@0"),
            (req(Method::HEAD, "/"), "404@0"),
            (req(Method::GET, "/path1"), "ns/method#2.0@0"),
            (
                req(Method::PUT, "/").header("version", "one"),
                "ns/method#3.0@0",
            ),
            (
                req(Method::POST, "/path2").header("version", "two"),
                "ns/method#4.0@0",
            ),
            (req(Method::PATCH, "/path3"), "ns/method#5.0@0"),
            (
                req(Method::DELETE, "/path4").header("version", "three"),
                "ns/method#5.1@0",
            ),
            (req(Method::PUT, "/"), "404@0"),
            (req(Method::DELETE, "/path4"), "404@0"),
            (req(Method::PATCH, "/path5"), "ns/method#6.0@0"),
            // A method match beats a header match.
            (
                req(Method::PATCH, "/").header("version", "four"),
                "ns/method#7.0@0",
            ),
        ],
    );
}

#[test]
fn header_matching() {
    // HTTPRouteHeaderMatching.
    let h = |n: &str, v: &str| header(prefix("/"), n, v);
    let r = one_listener(vec![(
        route(
            "ns/headers",
            0,
            vec![
                vec![h("version", "one")],
                vec![h("version", "two")],
                vec![header(h("version", "two"), "color", "orange")],
                vec![h("color", "blue"), h("color", "green")],
                vec![h("color", "red"), h("color", "yellow")],
            ],
        ),
        vec![],
    )]);
    check(
        &r,
        &[
            (
                Req::get(H, "/").header("Version", "one"),
                "ns/headers#0.0@0",
            ),
            (
                Req::get(H, "/").header("Version", "two"),
                "ns/headers#1.0@0",
            ),
            (
                Req::get(H, "/")
                    .header("Version", "two")
                    .header("Color", "orange"),
                "ns/headers#2.0@0",
            ),
            (
                Req::get(H, "/")
                    .header("Version", "two")
                    .header("Color", "blue"),
                "ns/headers#1.0@0",
            ),
            (Req::get(H, "/").header("Color", "orange"), "404@0"),
            (Req::get(H, "/").header("Some-Other-Header", "one"), "404@0"),
            (Req::get(H, "/").header("Color", "blue"), "ns/headers#3.0@0"),
            (
                Req::get(H, "/").header("Color", "green"),
                "ns/headers#3.1@0",
            ),
            (Req::get(H, "/").header("Color", "red"), "ns/headers#4.0@0"),
            (
                Req::get(H, "/").header("Color", "yellow"),
                "ns/headers#4.1@0",
            ),
            (Req::get(H, "/").header("Color", "purple"), "404@0"),
        ],
    );
}

#[test]
fn query_param_matching() {
    // HTTPRouteQueryParamMatching.
    let q = |n: &str, v: &str| query(prefix("/"), n, v);
    let r = one_listener(vec![(
        route(
            "ns/query",
            0,
            vec![
                vec![q("animal", "whale")],
                vec![q("animal", "dolphin")],
                vec![
                    query(q("animal", "dolphin"), "color", "blue"),
                    q("ANIMAL", "Whale"),
                ],
                vec![query(prefix("/path1"), "animal", "whale")],
                vec![header(q("animal", "whale"), "version", "one")],
                vec![header(
                    query(prefix("/path2"), "animal", "whale"),
                    "version",
                    "two",
                )],
                vec![
                    query(prefix("/path3"), "animal", "shark"),
                    header(
                        query(prefix("/path4"), "animal", "kraken"),
                        "version",
                        "three",
                    ),
                ],
                vec![prefix("/path5")],
                vec![q("animal", "hydra")],
                vec![header(prefix("/"), "version", "four")],
            ],
        ),
        vec![],
    )]);
    check(
        &r,
        &[
            (Req::get(H, "/?animal=whale"), "ns/query#0.0@0"),
            (Req::get(H, "/?animal=dolphin"), "ns/query#1.0@0"),
            (Req::get(H, "/?animal=dolphin&color=blue"), "ns/query#2.0@0"),
            (Req::get(H, "/?ANIMAL=Whale"), "ns/query#2.1@0"),
            (
                Req::get(H, "/?animal=whale&otherparam=irrelevant"),
                "ns/query#0.0@0",
            ),
            (
                Req::get(H, "/?animal=dolphin&color=yellow"),
                "ns/query#1.0@0",
            ),
            (Req::get(H, "/?color=blue"), "404@0"),
            (Req::get(H, "/?animal=dog"), "404@0"),
            (Req::get(H, "/?animal=whaledolphin"), "404@0"),
            (Req::get(H, "/"), "404@0"),
            (Req::get(H, "/path1?animal=whale"), "ns/query#3.0@0"),
            (
                Req::get(H, "/?animal=whale").header("version", "one"),
                "ns/query#4.0@0",
            ),
            (
                Req::get(H, "/path2?animal=whale").header("version", "two"),
                "ns/query#5.0@0",
            ),
            (Req::get(H, "/path3?animal=shark"), "ns/query#6.0@0"),
            (
                Req::get(H, "/path4?animal=kraken").header("version", "three"),
                "ns/query#6.1@0",
            ),
            (Req::get(H, "/?animal=shark"), "404@0"),
            (Req::get(H, "/path4?animal=kraken"), "404@0"),
            (Req::get(H, "/path5?animal=hydra"), "ns/query#7.0@0"),
            // A header match beats a query match.
            (
                Req::get(H, "/?animal=hydra").header("version", "four"),
                "ns/query#9.0@0",
            ),
            // Percent-decoded values.
            (Req::get(H, "/?animal=wh%61le"), "ns/query#0.0@0"),
        ],
    );
}

#[test]
fn more_conditions_win_and_ties_go_to_the_older_route_then_name() {
    let r = one_listener(vec![
        (route("ns/b-old", 1, vec![vec![prefix("/")]]), vec![]),
        (
            route("ns/a-new", 2, vec![vec![prefix("/")], vec![prefix("/x")]]),
            vec![],
        ),
        (route("ns/c-new", 2, vec![vec![prefix("/x")]]), vec![]),
        (
            route("ns/z-newest", 3, vec![vec![header(prefix("/"), "h", "1")]]),
            vec![],
        ),
        (
            route(
                "ns/y-newest",
                3,
                vec![vec![query(header(prefix("/"), "h", "1"), "q", "1")]],
            ),
            vec![],
        ),
    ]);
    check(
        &r,
        &[
            // Equal precedence: the oldest route wins, not the first alphabetically.
            (Req::get(H, "/"), "ns/b-old#0.0@0"),
            // Equal age: alphabetical `namespace/name`.
            (Req::get(H, "/x"), "ns/a-new#1.0@0"),
            // A header condition beats age.
            (Req::get(H, "/").header("h", "1"), "ns/z-newest#0.0@0"),
            // Header and query beat the header alone.
            (Req::get(H, "/?q=1").header("h", "1"), "ns/y-newest#0.0@0"),
        ],
    );
}

#[test]
fn ties_within_a_route_go_to_the_first_rule_then_first_match() {
    let r = one_listener(vec![(
        route(
            "ns/r",
            0,
            vec![
                vec![
                    header(prefix("/a"), "x", "1"),
                    header(prefix("/a"), "y", "1"),
                ],
                vec![header(prefix("/a"), "x", "1")],
                vec![prefix("/")],
            ],
        ),
        vec![],
    )]);
    check(
        &r,
        &[
            (Req::get(H, "/a").header("x", "1"), "ns/r#0.0@0"),
            (
                Req::get(H, "/a").header("y", "1").header("x", "1"),
                "ns/r#0.0@0",
            ),
            (Req::get(H, "/a").header("y", "1"), "ns/r#0.1@0"),
            (Req::get(H, "/a"), "ns/r#2.0@0"),
        ],
    );
}
