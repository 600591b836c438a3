//! HTTPRoute rules: matches, filters, mirrors, timeouts, retries, and the values that make a
//! route invalid.

use super::*;
use crate::conditions::{reason, ACCEPTED, RESOLVED_REFS};
use http::{Method, StatusCode};
use std::time::Duration;
use torii_config::{
    BackendTarget, HttpFilter, HttpRouteMatch, HttpRule, PathMatch, PathModifier, StringMatch,
};

const BASE: &str = "---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: torii
  listeners: [{name: http, port: 80, protocol: HTTP}]
";

/// Translates an HTTPRoute `infra/r` whose `spec.rules` is `rules`.
fn with_rules(rules: &str) -> Translation {
    let yaml = format!(
        "{CLASS}{BASE}{}{}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: r, namespace: infra}}
spec:
  parentRefs: [{{name: gw}}]
  rules: {rules}
",
        service("infra", "svc", 80, 8080),
        service("infra", "mirror", 80, 8080),
    );
    run(&yaml)
}

/// The rules of the attached route.
fn rules(t: &Translation) -> &[std::sync::Arc<HttpRule>] {
    let listener = programmed(t, "infra/gw", "http").expect("listener is programmed");
    assert_eq!(listener.http_routes.len(), 1, "route is attached");
    &listener.http_routes[0].route.rules
}

fn describe_path(m: &HttpRouteMatch) -> String {
    match &m.path {
        PathMatch::Exact(p) => format!("= {p}"),
        PathMatch::Prefix(p) => format!("^ {p}"),
        PathMatch::RegularExpression(re) => format!("~ {}", re.as_str()),
    }
}

#[test]
fn path_matches_are_normalised() {
    let cases = [
        ("[{}]", "^ /"),
        ("[{matches: [{}]}]", "^ /"),
        ("[{matches: [{path: {value: /foo/}}]}]", "^ /foo"),
        ("[{matches: [{path: {type: PathPrefix, value: /}}]}]", "^ /"),
        (
            "[{matches: [{path: {type: PathPrefix, value: /a/b}}]}]",
            "^ /a/b",
        ),
        (
            "[{matches: [{path: {type: Exact, value: /foo/}}]}]",
            "= /foo/",
        ),
        (
            "[{matches: [{path: {type: RegularExpression, value: '/v[0-9]+/.*'}}]}]",
            "~ ^(?:/v[0-9]+/.*)$",
        ),
    ];
    for (rules_yaml, expected) in cases {
        let t = with_rules(rules_yaml);
        assert_eq!(
            describe_path(&rules(&t)[0].matches[0]),
            expected,
            "{rules_yaml}"
        );
    }
}

#[test]
fn a_route_without_rules_answers_every_request_with_500() {
    let yaml = format!(
        "{CLASS}{BASE}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: r, namespace: infra}}
spec: {{parentRefs: [{{name: gw}}]}}
"
    );
    let t = run(&yaml);
    let rules = rules(&t);
    assert_eq!(rules.len(), 1);
    assert_eq!(describe_path(&rules[0].matches[0]), "^ /");
    assert!(rules[0].backends.is_empty() && rules[0].filters.is_empty());
}

#[test]
fn header_query_and_method_matches() {
    let t = with_rules(
        "[{matches: [{
            path: {type: Exact, value: /x},
            method: PATCH,
            headers: [{name: X-Version, value: v2}, {name: x-version, value: ignored},
                      {name: x-re, type: RegularExpression, value: 'a+'}],
            queryParams: [{name: q, value: '1'}, {name: q, value: '2'}, {name: Q, type: RegularExpression, value: 'b|c'}]
          }]}]",
    );
    let m = &rules(&t)[0].matches[0];
    assert_eq!(m.method, Some(Method::PATCH));
    let headers: Vec<_> = m
        .headers
        .iter()
        .map(|h| match &h.value {
            StringMatch::Exact(v) => format!("{}={v}", h.name),
            StringMatch::RegularExpression(re) => format!("{}~{}", h.name, re.as_str()),
        })
        .collect();
    assert_eq!(headers, ["x-version=v2", "x-re~^(?:a+)$"]);
    let params: Vec<_> = m
        .query_params
        .iter()
        .map(|q| (q.name.as_str(), q.value.matches("1"), q.value.matches("c")))
        .collect();
    assert_eq!(params, [("q", true, false), ("Q", false, true)]);
}

#[test]
fn invalid_values_reject_the_route() {
    let cases = [
        ("[{matches: [{path: {type: PathPrefix, value: foo}}]}]", reason::UNSUPPORTED_VALUE),
        ("[{matches: [{path: {type: Exact, value: '/a//b'}}]}]", reason::UNSUPPORTED_VALUE),
        ("[{matches: [{path: {type: RegularExpression, value: '(unclosed'}}]}]", reason::UNSUPPORTED_VALUE),
        ("[{matches: [{headers: [{name: 'bad header', value: x}]}]}]", reason::UNSUPPORTED_VALUE),
        ("[{matches: [{headers: [{name: x, type: RegularExpression, value: '*'}]}]}]", reason::UNSUPPORTED_VALUE),
        ("[{matches: [{queryParams: [{name: q, type: RegularExpression, value: '['}]}]}]", reason::UNSUPPORTED_VALUE),
        ("[{filters: [{type: RequestHeaderModifier}]}]", reason::UNSUPPORTED_VALUE),
        ("[{filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: 'a b', value: x}]}}]}]", reason::UNSUPPORTED_VALUE),
        ("[{filters: [{type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: a, value: x}, {name: A, value: y}]}}]}]", reason::UNSUPPORTED_VALUE),
        ("[{filters: [{type: RequestRedirect, requestRedirect: {statusCode: 304}}]}]", reason::UNSUPPORTED_VALUE),
        ("[{filters: [{type: RequestRedirect, requestRedirect: {hostname: '*.example.com'}}]}]", reason::UNSUPPORTED_VALUE),
        ("[{filters: [{type: RequestRedirect, requestRedirect: {port: 0}}]}]", reason::UNSUPPORTED_VALUE),
        ("[{filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplaceFullPath}}}]}]", reason::UNSUPPORTED_VALUE),
        (
            "[{matches: [{path: {type: Exact, value: /a}}], filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}}]}]",
            reason::UNSUPPORTED_VALUE,
        ),
        (
            "[{matches: [{path: {value: /a}}, {path: {value: /c}}], filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}}]}]",
            reason::UNSUPPORTED_VALUE,
        ),
        (
            "[{matches: [{path: {type: Exact, value: /a}}], backendRefs: [{name: svc, port: 80, filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}}]}]}]",
            reason::UNSUPPORTED_VALUE,
        ),
        ("[{filters: [{type: RequestMirror, requestMirror: {backendRef: {name: mirror, port: 80}, percent: 10, fraction: {numerator: 1}}}]}]", reason::UNSUPPORTED_VALUE),
        ("[{filters: [{type: RequestMirror, requestMirror: {backendRef: {name: mirror, port: 80}, fraction: {numerator: 3, denominator: 2}}}]}]", reason::UNSUPPORTED_VALUE),
        ("[{filters: [{type: RequestMirror, requestMirror: {backendRef: {name: mirror, port: 80}, fraction: {numerator: 0, denominator: 0}}}]}]", reason::UNSUPPORTED_VALUE),
        ("[{filters: [{type: RequestMirror, requestMirror: {backendRef: {name: mirror, port: 80}, percent: 101}}]}]", reason::UNSUPPORTED_VALUE),
        ("[{filters: [{type: CORS, cors: {allowMethods: ['*', GET]}}]}]", reason::UNSUPPORTED_VALUE),
        ("[{filters: [{type: CORS, cors: {allowOrigins: [example.com]}}]}]", reason::UNSUPPORTED_VALUE),
        (
            "[{filters: [{type: ExternalAuth, externalAuth: {protocol: HTTP, backendRef: {name: svc, port: 80}}}]}]",
            reason::UNSUPPORTED_VALUE,
        ),
        (
            "[{filters: [{type: RequestRedirect, requestRedirect: {}}], backendRefs: [{name: svc, port: 80}]}]",
            reason::INCOMPATIBLE_FILTERS,
        ),
        (
            "[{filters: [{type: RequestRedirect, requestRedirect: {}}, {type: URLRewrite, urlRewrite: {}}]}]",
            reason::INCOMPATIBLE_FILTERS,
        ),
        (
            "[{filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {}}, {type: ResponseHeaderModifier, responseHeaderModifier: {}}]}]",
            reason::INCOMPATIBLE_FILTERS,
        ),
        (
            "[{backendRefs: [{name: svc, port: 80, filters: [{type: URLRewrite, urlRewrite: {}}, {type: URLRewrite, urlRewrite: {}}]}]}]",
            reason::INCOMPATIBLE_FILTERS,
        ),
        ("[{name: a}, {name: a}]", reason::UNSUPPORTED_VALUE),
        ("[{timeouts: {request: 10x}}]", reason::UNSUPPORTED_VALUE),
        ("[{timeouts: {request: 1s, backendRequest: 2s}}]", reason::UNSUPPORTED_VALUE),
        ("[{retry: {codes: [302]}}]", reason::UNSUPPORTED_VALUE),
        ("[{retry: {attempts: -1}}]", reason::UNSUPPORTED_VALUE),
        ("[{retry: {backoff: soon}}]", reason::UNSUPPORTED_VALUE),
    ];
    for (rules_yaml, expected) in cases {
        let t = with_rules(rules_yaml);
        assert_eq!(
            http_parent(&t, "infra/r", ACCEPTED),
            (ConditionStatus::False, expected.to_string()),
            "{rules_yaml}"
        );
        assert!(
            programmed(&t, "infra/gw", "http")
                .expect("served")
                .http_routes
                .is_empty(),
            "{rules_yaml}"
        );
        assert_eq!(
            listener(&t, "infra/gw", "http").attached_routes,
            0,
            "{rules_yaml}"
        );
    }
}

#[test]
fn header_modifiers_are_translated_in_order() {
    let t = with_rules(
        "[{filters: [
            {type: RequestHeaderModifier, requestHeaderModifier: {
               set: [{name: X-Set, value: s}], add: [{name: X-Add, value: a}], remove: [X-Remove]}},
            {type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: X-Resp, value: r}]}}],
          backendRefs: [{name: svc, port: 80}]}]",
    );
    let filters = &rules(&t)[0].filters;
    let [HttpFilter::RequestHeaderModifier(request), HttpFilter::ResponseHeaderModifier(response)] =
        filters.as_slice()
    else {
        panic!("unexpected filters {filters:?}");
    };
    assert_eq!(
        request.set,
        [("x-set".parse().expect("name"), "s".parse().expect("value"))]
    );
    assert_eq!(
        request.add,
        [("x-add".parse().expect("name"), "a".parse().expect("value"))]
    );
    assert_eq!(request.remove, ["x-remove"]);
    assert_eq!(
        response.add,
        [("x-resp".parse().expect("name"), "r".parse().expect("value"))]
    );
    assert!(response.set.is_empty() && response.remove.is_empty());
}

#[test]
fn redirects_default_to_302_and_keep_what_is_unset() {
    let cases = [
        ("{}", None, None, None, None, 302),
        (
            "{statusCode: 301, scheme: https, hostname: Example.COM, port: 8443}",
            Some("https"),
            Some("example.com"),
            Some(8443),
            None,
            301,
        ),
        (
            "{path: {type: ReplaceFullPath, replaceFullPath: /new}}",
            None,
            None,
            None,
            Some(PathModifier::ReplaceFullPath("/new".into())),
            302,
        ),
        (
            "{statusCode: 308, path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2}}",
            None,
            None,
            None,
            Some(PathModifier::ReplacePrefixMatch("/v2".into())),
            308,
        ),
    ];
    for (redirect, scheme, hostname, port, path, status) in cases {
        let t = with_rules(&format!(
            "[{{matches: [{{path: {{value: /old}}}}], filters: [{{type: RequestRedirect, requestRedirect: {redirect}}}]}}]"
        ));
        let rule = &rules(&t)[0];
        let [HttpFilter::RequestRedirect(r)] = rule.filters.as_slice() else {
            panic!("{redirect}: {:?}", rule.filters);
        };
        assert_eq!(r.scheme.as_deref(), scheme, "{redirect}");
        assert_eq!(r.hostname.as_deref(), hostname, "{redirect}");
        assert_eq!(r.port, port, "{redirect}");
        assert_eq!(r.path, path, "{redirect}");
        assert_eq!(
            r.status,
            StatusCode::from_u16(status).expect("valid code"),
            "{redirect}"
        );
        assert!(rule.backends.is_empty());
    }
}

#[test]
fn rewrites_at_rule_and_backend_level() {
    let t = with_rules(
        "[{matches: [{path: {value: /prefix}}],
           filters: [{type: URLRewrite, urlRewrite: {hostname: rewritten.example.com,
                      path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}],
           backendRefs: [{name: svc, port: 80}]},
          {matches: [{path: {value: /full}}],
           backendRefs: [{name: svc, port: 80, filters: [
             {type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /rewritten}}},
             {type: RequestHeaderModifier, requestHeaderModifier: {remove: [x-internal]}}]}]}]",
    );
    let rules = rules(&t);
    let [HttpFilter::UrlRewrite(rewrite)] = rules[0].filters.as_slice() else {
        panic!("{:?}", rules[0].filters);
    };
    assert_eq!(rewrite.hostname.as_deref(), Some("rewritten.example.com"));
    assert_eq!(
        rewrite.path,
        Some(PathModifier::ReplacePrefixMatch("/".into()))
    );
    assert!(rules[1].filters.is_empty());
    let backend_filters = &rules[1].backends[0].filters;
    let [HttpFilter::UrlRewrite(rewrite), HttpFilter::RequestHeaderModifier(headers)] =
        backend_filters.as_slice()
    else {
        panic!("{backend_filters:?}");
    };
    assert_eq!(
        rewrite.path,
        Some(PathModifier::ReplaceFullPath("/rewritten".into()))
    );
    assert_eq!(headers.remove, ["x-internal"]);
}

#[test]
fn mirrors_take_a_share_and_drop_when_unresolved() {
    let cases: [(&str, Option<(u32, u32)>); 5] = [
        ("{backendRef: {name: mirror, port: 80}}", Some((1, 1))),
        (
            "{backendRef: {name: mirror, port: 80}, percent: 20}",
            Some((20, 100)),
        ),
        (
            "{backendRef: {name: mirror, port: 80}, fraction: {numerator: 25, denominator: 50}}",
            Some((25, 50)),
        ),
        (
            "{backendRef: {name: mirror, port: 80}, fraction: {numerator: 5}}",
            Some((5, 100)),
        ),
        ("{backendRef: {name: missing, port: 80}, percent: 20}", None),
    ];
    for (mirror, share) in cases {
        let t = with_rules(&format!(
            "[{{filters: [{{type: RequestMirror, requestMirror: {mirror}}}], backendRefs: [{{name: svc, port: 80}}]}}]"
        ));
        assert_eq!(
            http_parent(&t, "infra/r", ACCEPTED).0,
            ConditionStatus::True,
            "{mirror}"
        );
        let filters = &rules(&t)[0].filters;
        match share {
            Some((numerator, denominator)) => {
                let [HttpFilter::RequestMirror(m)] = filters.as_slice() else {
                    panic!("{mirror}: {filters:?}");
                };
                assert_eq!(
                    (m.numerator, m.denominator),
                    (numerator, denominator),
                    "{mirror}"
                );
                let BackendTarget::Resolved(id) = &m.target else {
                    panic!("{mirror}: {:?}", m.target);
                };
                assert_eq!(id.to_string(), "infra/mirror:80");
                assert!(
                    t.config.backends.contains_key(id),
                    "mirror backends are configured"
                );
                assert_eq!(
                    http_parent(&t, "infra/r", RESOLVED_REFS).0,
                    ConditionStatus::True
                );
            }
            None => {
                assert!(filters.is_empty(), "{mirror}: {filters:?}");
                assert_eq!(
                    http_parent(&t, "infra/r", RESOLVED_REFS),
                    (
                        ConditionStatus::False,
                        reason::BACKEND_NOT_FOUND.to_string()
                    )
                );
            }
        }
    }
}

#[test]
fn cors_defaults_max_age_to_five_seconds() {
    let t = with_rules(
        "[{filters: [{type: CORS, cors: {allowOrigins: ['https://*.example.com', 'https://a.org'],
            allowMethods: [GET, OPTIONS], allowHeaders: [x-a], exposeHeaders: [x-b], allowCredentials: true}}],
          backendRefs: [{name: svc, port: 80}]},
         {filters: [{type: CORS, cors: {allowOrigins: ['*'], allowMethods: ['*'], maxAge: 3600}}]}]",
    );
    let rules = rules(&t);
    let [HttpFilter::Cors(first)] = rules[0].filters.as_slice() else {
        panic!("{:?}", rules[0].filters);
    };
    assert_eq!(
        first.allow_origins,
        ["https://*.example.com", "https://a.org"]
    );
    assert_eq!(first.allow_methods, ["GET", "OPTIONS"]);
    assert_eq!(
        (
            first.allow_headers.as_slice(),
            first.expose_headers.as_slice()
        ),
        (&["x-a".to_string()][..], &["x-b".to_string()][..])
    );
    assert!(first.allow_credentials);
    assert_eq!(first.max_age, Some(5));
    let [HttpFilter::Cors(second)] = rules[1].filters.as_slice() else {
        panic!("{:?}", rules[1].filters);
    };
    assert_eq!(second.max_age, Some(3600));
    assert!(!second.allow_credentials);
}

#[test]
fn unknown_extension_filters_make_their_part_answer_500() {
    let t = with_rules(
        "[{filters: [{type: ExtensionRef, extensionRef: {group: example.com, kind: Magic, name: m}}],
           backendRefs: [{name: svc, port: 80}]},
          {backendRefs: [{name: svc, port: 80, weight: 3, filters: [{type: ExtensionRef, extensionRef: {group: example.com, kind: Magic, name: m}}]},
                         {name: svc, port: 80}]}]",
    );
    assert_eq!(
        http_parent(&t, "infra/r", ACCEPTED).0,
        ConditionStatus::True
    );
    assert_eq!(
        http_parent(&t, "infra/r", RESOLVED_REFS),
        (ConditionStatus::False, reason::INVALID_KIND.to_string())
    );
    let rules = rules(&t);
    assert!(
        rules[0].backends.is_empty() && rules[0].filters.is_empty(),
        "rule 0 answers 500"
    );
    let targets: Vec<_> = rules[1]
        .backends
        .iter()
        .map(|b| (b.target.weight, b.target.target.clone()))
        .collect();
    assert_eq!(targets[0], (3, BackendTarget::Invalid));
    assert!(matches!(targets[1].1, BackendTarget::Resolved(_)));
}

#[test]
fn timeouts_retries_and_names() {
    let t = with_rules(
        "[{name: first, timeouts: {request: 10s, backendRequest: 500ms},
           retry: {codes: [500, 503], attempts: 3, backoff: 100ms}, backendRefs: [{name: svc, port: 80}]},
          {timeouts: {request: 0s, backendRequest: 1m}, retry: {}}]",
    );
    let rules = rules(&t);
    assert_eq!(
        (rules[0].index, rules[0].name.as_deref()),
        (0, Some("first"))
    );
    assert_eq!(rules[0].timeouts.request, Some(Duration::from_secs(10)));
    assert_eq!(
        rules[0].timeouts.backend_request,
        Some(Duration::from_millis(500))
    );
    let retry = rules[0].retry.as_ref().expect("retry is set");
    assert_eq!(
        (retry.codes.as_slice(), retry.attempts, retry.backoff),
        (&[500, 503][..], 3, Some(Duration::from_millis(100)))
    );
    assert_eq!((rules[1].index, rules[1].name.as_deref()), (1, None));
    // A zero timeout disables it.
    assert_eq!(rules[1].timeouts.request, None);
    assert_eq!(
        rules[1].timeouts.backend_request,
        Some(Duration::from_secs(60))
    );
    let retry = rules[1].retry.as_ref().expect("retry is set");
    assert_eq!(
        (retry.codes.len(), retry.attempts, retry.backoff),
        (0, 1, None)
    );
    assert!(rules.iter().all(|r| !r.grpc));
}
