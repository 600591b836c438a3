//! Route attachment: parentRefs, sectionName and port, allowedRoutes namespaces and kinds,
//! hostname intersection, and the route's status per parent.

use super::*;
use crate::conditions::{reason, ACCEPTED, RESOLVED_REFS};
use torii_config::HostnameMatch;

fn http_route(namespace: &str, name: &str, parent_refs: &str, hostnames: &str) -> String {
    format!(
        "---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  parentRefs: {parent_refs}
  hostnames: {hostnames}
  rules: [{{backendRefs: [{{name: svc, namespace: infra, port: 80}}]}}]
"
    )
}

/// Names of the routes attached to programmed listener `gateway/listener`.
fn attached(t: &Translation, gateway: &str, listener: &str) -> Vec<String> {
    programmed(t, gateway, listener)
        .map(|l| {
            l.http_routes
                .iter()
                .map(|a| a.route.id.to_string())
                .collect()
        })
        .unwrap_or_default()
}

const NAMESPACES: &str = "
---
apiVersion: v1
kind: Namespace
metadata: {name: infra}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-a, labels: {team: a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-b}
";

#[test]
fn allowed_routes_namespaces_same_all_and_selector() {
    let gateway = "---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: torii
  listeners:
  - {name: same, port: 80, protocol: HTTP}
  - {name: all, port: 81, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}
  - name: selector
    port: 82
    protocol: HTTP
    allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {team: a}}}}
  - name: by-name
    port: 83
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: Selector
        selector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [team-c]}]}
";
    struct Case {
        namespace: &'static str,
        section: Option<&'static str>,
        accepted: (ConditionStatus, &'static str),
        listeners: &'static [&'static str],
    }
    let cases = [
        Case {
            namespace: "infra",
            section: None,
            accepted: yes(reason::ACCEPTED),
            listeners: &["same", "all"],
        },
        Case {
            namespace: "team-a",
            section: None,
            accepted: yes(reason::ACCEPTED),
            listeners: &["all", "selector"],
        },
        Case {
            namespace: "team-b",
            section: None,
            accepted: yes(reason::ACCEPTED),
            listeners: &["all"],
        },
        // team-c has no Namespace object, but still its name label.
        Case {
            namespace: "team-c",
            section: None,
            accepted: yes(reason::ACCEPTED),
            listeners: &["all", "by-name"],
        },
        Case {
            namespace: "team-b",
            section: Some("same"),
            accepted: no(reason::NOT_ALLOWED_BY_LISTENERS),
            listeners: &[],
        },
        Case {
            namespace: "team-b",
            section: Some("selector"),
            accepted: no(reason::NOT_ALLOWED_BY_LISTENERS),
            listeners: &[],
        },
        Case {
            namespace: "team-a",
            section: Some("selector"),
            accepted: yes(reason::ACCEPTED),
            listeners: &["selector"],
        },
    ];
    for case in cases {
        let parent = match case.section {
            None => "[{name: gw, namespace: infra}]".to_string(),
            Some(section) => format!("[{{name: gw, namespace: infra, sectionName: {section}}}]"),
        };
        let yaml = format!(
            "{CLASS}{NAMESPACES}{gateway}{}{}",
            service("infra", "svc", 80, 8080),
            http_route(case.namespace, "r", &parent, "[]")
        );
        let t = run(&yaml);
        let id = format!("{}/r", case.namespace);
        let what = format!("{id} {:?}", case.section);
        assert_eq!(
            http_parent(&t, &id, ACCEPTED),
            (case.accepted.0, case.accepted.1.to_string()),
            "{what}"
        );
        for name in ["same", "all", "selector", "by-name"] {
            let expected = case.listeners.contains(&name);
            let routes = attached(&t, "infra/gw", name);
            assert_eq!(routes.len(), usize::from(expected), "{what} on {name}");
            assert_eq!(
                listener(&t, "infra/gw", name).attached_routes,
                u32::from(expected),
                "{what} on {name}"
            );
        }
    }
}

#[test]
fn section_name_and_port_select_listeners() {
    let gateway = "---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: torii
  listeners:
  - {name: http, port: 80, protocol: HTTP}
  - {name: alt, port: 8080, protocol: HTTP}
";
    let cases: [(&str, Result<&[&str], &str>); 7] = [
        ("{name: gw}", Ok(&["http", "alt"])),
        ("{name: gw, sectionName: http}", Ok(&["http"])),
        ("{name: gw, port: 8080}", Ok(&["alt"])),
        ("{name: gw, sectionName: alt, port: 8080}", Ok(&["alt"])),
        (
            "{name: gw, sectionName: http, port: 8080}",
            Err(reason::NO_MATCHING_PARENT),
        ),
        ("{name: gw, port: 81}", Err(reason::NO_MATCHING_PARENT)),
        (
            "{name: gw, sectionName: nope}",
            Err(reason::NO_MATCHING_PARENT),
        ),
    ];
    for (parent, expected) in cases {
        let yaml = format!(
            "{CLASS}{gateway}{}{}",
            service("infra", "svc", 80, 8080),
            http_route("infra", "r", &format!("[{parent}]"), "[]")
        );
        let t = run(&yaml);
        let accepted = http_parent(&t, "infra/r", ACCEPTED);
        match expected {
            Ok(listeners) => {
                assert_eq!(
                    accepted,
                    (ConditionStatus::True, reason::ACCEPTED.to_string()),
                    "{parent}"
                );
                for name in ["http", "alt"] {
                    let count = attached(&t, "infra/gw", name).len();
                    assert_eq!(
                        count,
                        usize::from(listeners.contains(&name)),
                        "{parent} {name}"
                    );
                }
            }
            Err(reason) => {
                assert_eq!(
                    accepted,
                    (ConditionStatus::False, reason.to_string()),
                    "{parent}"
                );
                // A rejected route uses no backend.
                assert!(t.config.backends.is_empty(), "{parent}");
            }
        }
        // ResolvedRefs is reported whatever the attachment.
        assert_eq!(
            http_parent(&t, "infra/r", RESOLVED_REFS).0,
            ConditionStatus::True,
            "{parent}"
        );
    }
}

#[test]
fn hostnames_intersect_with_listener_hostnames() {
    let gateway = "---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: torii
  listeners:
  - {name: exact, port: 80, protocol: HTTP, hostname: a.example.com}
  - {name: wildcard, port: 80, protocol: HTTP, hostname: '*.example.com'}
  - {name: any, port: 80, protocol: HTTP}
";
    type Effective = Option<&'static [&'static str]>;
    let cases: [(&str, [Effective; 3]); 6] = [
        (
            "[]",
            [
                Some(&["a.example.com"]),
                Some(&["*.example.com"]),
                Some(&[]),
            ],
        ),
        (
            "[a.example.com]",
            [
                Some(&["a.example.com"]),
                Some(&["a.example.com"]),
                Some(&["a.example.com"]),
            ],
        ),
        (
            "['*.example.com']",
            [
                Some(&["a.example.com"]),
                Some(&["*.example.com"]),
                Some(&["*.example.com"]),
            ],
        ),
        (
            "[x.y.example.com, other.org]",
            [
                None,
                Some(&["x.y.example.com"]),
                Some(&["x.y.example.com", "other.org"]),
            ],
        ),
        ("[example.com]", [None, None, Some(&["example.com"])]),
        (
            "['*.a.example.com', a.example.com]",
            [
                Some(&["a.example.com"]),
                Some(&["*.a.example.com", "a.example.com"]),
                Some(&["*.a.example.com", "a.example.com"]),
            ],
        ),
    ];
    for (hostnames, expected) in cases {
        let yaml = format!(
            "{CLASS}{gateway}{}{}",
            service("infra", "svc", 80, 8080),
            http_route("infra", "r", "[{name: gw}]", hostnames)
        );
        let t = run(&yaml);
        for (name, expected) in ["exact", "wildcard", "any"].into_iter().zip(expected) {
            let listener = programmed(&t, "infra/gw", name).expect("listener is programmed");
            let effective = listener.http_routes.first().map(|a| {
                a.hostnames
                    .iter()
                    .map(HostnameMatch::to_string)
                    .collect::<Vec<_>>()
            });
            let expected = expected.map(|hs| hs.iter().map(|h| h.to_string()).collect::<Vec<_>>());
            assert_eq!(effective, expected, "{hostnames} on {name}");
        }
    }
}

#[test]
fn no_intersecting_hostname_rejects_the_route() {
    let yaml = format!(
        "{CLASS}---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: infra}}
spec:
  gatewayClassName: torii
  listeners: [{{name: http, port: 80, protocol: HTTP, hostname: '*.example.com'}}]
{}{}{}",
        service("infra", "svc", 80, 8080),
        http_route("infra", "no-match", "[{name: gw}]", "[example.net]"),
        http_route("infra", "invalid-hostname", "[{name: gw}]", "['bad..name']"),
    );
    let t = run(&yaml);
    assert_eq!(
        http_parent(&t, "infra/no-match", ACCEPTED),
        (
            ConditionStatus::False,
            reason::NO_MATCHING_LISTENER_HOSTNAME.to_string()
        )
    );
    assert_eq!(
        http_parent(&t, "infra/invalid-hostname", ACCEPTED),
        (
            ConditionStatus::False,
            reason::UNSUPPORTED_VALUE.to_string()
        )
    );
    assert_eq!(listener(&t, "infra/gw", "http").attached_routes, 0);
}

#[test]
fn listener_kinds_and_namespaces_decide_attachment() {
    let yaml = format!(
        "{CLASS}{NAMESPACES}---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: grpc-only, namespace: infra}}
spec:
  gatewayClassName: torii
  listeners: [{{name: http, port: 80, protocol: HTTP, allowedRoutes: {{kinds: [{{kind: GRPCRoute}}]}}}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: tls-only, namespace: infra}}
spec:
  gatewayClassName: torii
  listeners: [{{name: tls, port: 443, protocol: TLS, tls: {{mode: Passthrough}}}}]
{}{}{}",
        service("infra", "svc", 80, 8080),
        http_route("infra", "to-grpc-only", "[{name: grpc-only}]", "[]"),
        http_route("infra", "to-tls-only", "[{name: tls-only}]", "[]"),
    );
    let t = run(&yaml);
    for id in ["infra/to-grpc-only", "infra/to-tls-only"] {
        assert_eq!(
            http_parent(&t, id, ACCEPTED),
            (
                ConditionStatus::False,
                reason::NOT_ALLOWED_BY_LISTENERS.to_string()
            ),
            "{id}"
        );
        assert_eq!(
            http_parent(&t, id, RESOLVED_REFS).0,
            ConditionStatus::True,
            "{id}"
        );
    }
}

#[test]
fn parents_of_other_controllers_are_ignored() {
    let yaml = format!(
        "{CLASS}---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: other}}
spec: {{controllerName: example.com/other}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: theirs, namespace: infra}}
spec:
  gatewayClassName: other
  listeners: [{{name: http, port: 80, protocol: HTTP}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: ours, namespace: infra}}
spec:
  gatewayClassName: torii
  listeners: [{{name: http, port: 80, protocol: HTTP}}]
{}{}{}",
        service("infra", "svc", 80, 8080),
        http_route(
            "infra",
            "only-theirs",
            "[{name: theirs}, {name: missing}, {name: svc, kind: Service, group: ''}]",
            "[]"
        ),
        http_route("infra", "both", "[{name: theirs}, {name: ours}]", "[]"),
    );
    let t = run(&yaml);
    assert!(t
        .status
        .routes
        .iter()
        .all(|r| &*r.route.name != "only-theirs"));
    assert!(t
        .status
        .notes
        .iter()
        .any(|n| n.contains("HTTPRoute infra/only-theirs")));
    let both = route(&t, RouteKind::Http, "infra/both");
    let parents: Vec<_> = both.parents.iter().map(|p| p.parent_ref.as_str()).collect();
    assert_eq!(parents, ["infra/ours"]);
    assert_eq!(
        condition(&both.parents[0].conditions, ACCEPTED),
        yes(reason::ACCEPTED)
    );
}

#[test]
fn routes_attach_in_creation_then_name_order() {
    let route = |name: &str, created: &str| {
        format!(
            "---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: {name}, namespace: infra, creationTimestamp: '{created}'}}
spec:
  parentRefs: [{{name: gw}}]
"
        )
    };
    let yaml = format!(
        "{CLASS}---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: infra}}
spec:
  gatewayClassName: torii
  listeners: [{{name: http, port: 80, protocol: HTTP}}]
{}{}{}{}",
        route("b", "2024-01-01T00:00:00Z"),
        route("c", "2023-01-01T00:00:00Z"),
        route("a", "2024-01-01T00:00:00Z"),
        route("d", "2025-01-01T00:00:00Z"),
    );
    let t = run(&yaml);
    assert_eq!(
        attached(&t, "infra/gw", "http"),
        [
            "HTTPRoute infra/c",
            "HTTPRoute infra/a",
            "HTTPRoute infra/b",
            "HTTPRoute infra/d"
        ]
    );
    let order = &programmed(&t, "infra/gw", "http")
        .expect("programmed")
        .http_routes[0]
        .route
        .order;
    assert_eq!(
        (order.created, order.name.as_str()),
        (1_672_531_200, "infra/c")
    );
    // Status is sorted by route too, whatever the input order.
    let names: Vec<_> = t.status.routes.iter().map(|r| &*r.route.name).collect();
    assert_eq!(names, ["a", "b", "c", "d"]);
}

#[test]
fn an_invalid_route_is_rejected_and_its_sibling_served() {
    let yaml = format!(
        "{CLASS}---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: infra}}
spec:
  gatewayClassName: torii
  listeners: [{{name: http, port: 80, protocol: HTTP}}]
{}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: bad-regex, namespace: infra}}
spec:
  parentRefs: [{{name: gw}}]
  rules:
  - matches: [{{path: {{type: RegularExpression, value: '/foo/(['}}}}]
    backendRefs: [{{name: svc, port: 80}}]
{}",
        service("infra", "svc", 80, 8080),
        http_route("infra", "good", "[{name: gw}]", "[]"),
    );
    let t = run(&yaml);
    let (status, reason_) = http_parent(&t, "infra/bad-regex", ACCEPTED);
    assert_eq!((status, reason_.as_str()), no(reason::UNSUPPORTED_VALUE));
    let bad = route(&t, RouteKind::Http, "infra/bad-regex");
    let message = &bad.parents[0].conditions[0].message;
    assert!(message.contains("spec.rules[0]: matches[0]"), "{message}");
    assert_eq!(
        http_parent(&t, "infra/good", ACCEPTED).0,
        ConditionStatus::True
    );
    assert_eq!(attached(&t, "infra/gw", "http"), ["HTTPRoute infra/good"]);
    assert_eq!(listener(&t, "infra/gw", "http").attached_routes, 1);
}

#[test]
fn a_gateway_that_is_not_accepted_takes_no_routes() {
    let yaml = format!(
        "{CLASS}---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: infra}}
spec:
  gatewayClassName: torii
  addresses: [{{type: NamedAddress, value: lb}}]
  listeners: [{{name: http, port: 80, protocol: HTTP}}]
{}{}",
        service("infra", "svc", 80, 8080),
        http_route("infra", "r", "[{name: gw}]", "[]"),
    );
    let t = run(&yaml);
    assert_eq!(
        http_parent(&t, "infra/r", ACCEPTED),
        (
            ConditionStatus::False,
            reason::NO_MATCHING_PARENT.to_string()
        )
    );
    assert!(t.config.ports.is_empty());
}

#[test]
fn routes_count_on_listeners_that_are_not_served() {
    // Both listeners conflict, so neither is served, but attachment still counts.
    let yaml = format!(
        "{CLASS}---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: infra}}
spec:
  gatewayClassName: torii
  listeners: [{{name: a, port: 80, protocol: HTTP}}, {{name: b, port: 80, protocol: HTTP}}]
{}{}",
        service("infra", "svc", 80, 8080),
        http_route("infra", "r", "[{name: gw, sectionName: a}]", "[]"),
    );
    let t = run(&yaml);
    assert_eq!(
        http_parent(&t, "infra/r", ACCEPTED).0,
        ConditionStatus::True
    );
    assert_eq!(listener(&t, "infra/gw", "a").attached_routes, 1);
    assert_eq!(listener(&t, "infra/gw", "b").attached_routes, 0);
    assert!(t.config.ports.is_empty());
}

#[test]
fn a_route_attaches_once_per_listener_across_parent_refs() {
    let yaml = format!(
        "{CLASS}---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: infra}}
spec:
  gatewayClassName: torii
  listeners: [{{name: http, port: 80, protocol: HTTP}}]
{}{}",
        service("infra", "svc", 80, 8080),
        http_route(
            "infra",
            "r",
            "[{name: gw}, {name: gw, sectionName: http}, {name: gw, port: 80}]",
            "[]"
        ),
    );
    let t = run(&yaml);
    let status = route(&t, RouteKind::Http, "infra/r");
    let parents: Vec<_> = status
        .parents
        .iter()
        .map(|p| p.parent_ref.as_str())
        .collect();
    assert_eq!(parents, ["infra/gw", "infra/gw/http", "infra/gw:80"]);
    assert_eq!(attached(&t, "infra/gw", "http").len(), 1);
    assert_eq!(listener(&t, "infra/gw", "http").attached_routes, 1);
}
