//! GRPCRoute (method matches become paths), TLSRoute and TCPRoute.

use super::*;
use crate::conditions::{reason, ACCEPTED, RESOLVED_REFS};
use torii_config::{BackendTarget, HttpFilter, PathMatch};

const GATEWAY: &str = "---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: torii
  listeners:
  - {name: http, port: 80, protocol: HTTP}
  - {name: tls, port: 443, protocol: TLS, hostname: '*.example.com', tls: {mode: Passthrough}}
  - {name: tcp, port: 9000, protocol: TCP}
";

fn grpc_route(rules: &str) -> Translation {
    let yaml = format!(
        "{CLASS}{GATEWAY}{}---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {{name: g, namespace: infra}}
spec:
  parentRefs: [{{name: gw}}]
  rules: {rules}
",
        service("infra", "svc", 80, 8080)
    );
    run(&yaml)
}

fn parent(t: &Translation, kind: RouteKind, id: &str, type_: &str) -> (ConditionStatus, String) {
    let status = route(t, kind, id);
    let (s, r) = condition(&status.parents[0].conditions, type_);
    (s, r.to_string())
}

#[test]
fn grpc_methods_become_path_matches() {
    let cases = [
        ("{}", Ok("^ /")),
        (
            "{method: {service: pkg.Echo, method: Say}}",
            Ok("= /pkg.Echo/Say"),
        ),
        (
            "{method: {type: Exact, service: pkg.Echo}}",
            Ok(r"~ ^(?:/pkg\.Echo/[^/]+)$"),
        ),
        ("{method: {method: Say}}", Ok("~ ^(?:/[^/]+/Say)$")),
        (
            "{method: {type: RegularExpression, service: 'pkg\\..*', method: 'S.*'}}",
            Ok(r"~ ^(?:/(?:pkg\..*)/(?:S.*))$"),
        ),
        (
            "{method: {type: RegularExpression, method: 'S.*'}}",
            Ok("~ ^(?:/(?:[^/]+)/(?:S.*))$"),
        ),
        ("{method: {}}", Err(reason::UNSUPPORTED_VALUE)),
        (
            "{method: {service: 'bad/name'}}",
            Err(reason::UNSUPPORTED_VALUE),
        ),
        (
            "{method: {type: RegularExpression, service: ')|('}}",
            Err(reason::UNSUPPORTED_VALUE),
        ),
    ];
    for (grpc_match, expected) in cases {
        let t = grpc_route(&format!(
            "[{{matches: [{grpc_match}], backendRefs: [{{name: svc, port: 80}}]}}]"
        ));
        match expected {
            Ok(path) => {
                assert_eq!(
                    parent(&t, RouteKind::Grpc, "infra/g", ACCEPTED).0,
                    ConditionStatus::True,
                    "{grpc_match}"
                );
                let listener = programmed(&t, "infra/gw", "http").expect("served");
                let rule = &listener.http_routes[0].route.rules[0];
                assert!(rule.grpc);
                assert_eq!(rule.matches[0].method, None);
                let got = match &rule.matches[0].path {
                    PathMatch::Exact(p) => format!("= {p}"),
                    PathMatch::Prefix(p) => format!("^ {p}"),
                    PathMatch::RegularExpression(re) => format!("~ {}", re.as_str()),
                };
                assert_eq!(got, path, "{grpc_match}");
                if let PathMatch::RegularExpression(re) = &rule.matches[0].path {
                    assert!(
                        !re.is_match("/a/b/c"),
                        "{grpc_match}: method paths have two segments"
                    );
                }
            }
            Err(reason) => {
                assert_eq!(
                    parent(&t, RouteKind::Grpc, "infra/g", ACCEPTED),
                    (ConditionStatus::False, reason.to_string()),
                    "{grpc_match}"
                );
            }
        }
    }
}

#[test]
fn grpc_headers_filters_and_backends_work_as_for_http() {
    let t = grpc_route(
        "[{matches: [{headers: [{name: X-Tenant, value: a}]}],
           filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-grpc, value: '1'}]}}],
           backendRefs: [{name: svc, port: 80, weight: 2}, {name: nope, port: 80}]}]",
    );
    assert_eq!(
        parent(&t, RouteKind::Grpc, "infra/g", ACCEPTED).0,
        ConditionStatus::True
    );
    assert_eq!(
        parent(&t, RouteKind::Grpc, "infra/g", RESOLVED_REFS),
        (
            ConditionStatus::False,
            reason::BACKEND_NOT_FOUND.to_string()
        )
    );
    let listener = programmed(&t, "infra/gw", "http").expect("served");
    let rule = &listener.http_routes[0].route.rules[0];
    assert_eq!(rule.matches[0].headers[0].name, "x-tenant");
    assert!(matches!(
        rule.filters.as_slice(),
        [HttpFilter::RequestHeaderModifier(_)]
    ));
    assert_eq!(rule.backends[0].target.weight, 2);
    assert_eq!(rule.backends[1].target.target, BackendTarget::Invalid);
    // GRPCRoutes only go to HTTP listeners.
    assert!(programmed(&t, "infra/gw", "tls")
        .expect("served")
        .http_routes
        .is_empty());
    assert_eq!(listener.http_routes[0].route.id.kind, RouteKind::Grpc);
}

#[test]
fn tls_routes_attach_to_tls_listeners_by_sni() {
    let yaml = format!(
        "{CLASS}{GATEWAY}{}---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {{name: t, namespace: infra}}
spec:
  parentRefs: [{{name: gw}}]
  hostnames: [a.example.com, other.org]
  rules: [{{backendRefs: [{{name: svc, port: 80}}]}}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {{name: miss, namespace: infra}}
spec:
  parentRefs: [{{name: gw, sectionName: tls}}]
  hostnames: [other.org]
  rules: [{{backendRefs: [{{name: svc, port: 80}}]}}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {{name: to-http, namespace: infra}}
spec:
  parentRefs: [{{name: gw, sectionName: http}}]
  hostnames: [a.example.com]
  rules: [{{backendRefs: [{{name: svc, port: 80}}]}}]
",
        service("infra", "svc", 80, 8080)
    );
    let t = run(&yaml);
    assert_eq!(
        parent(&t, RouteKind::Tls, "infra/t", ACCEPTED).0,
        ConditionStatus::True
    );
    assert_eq!(
        parent(&t, RouteKind::Tls, "infra/miss", ACCEPTED),
        (
            ConditionStatus::False,
            reason::NO_MATCHING_LISTENER_HOSTNAME.to_string()
        )
    );
    assert_eq!(
        parent(&t, RouteKind::Tls, "infra/to-http", ACCEPTED),
        (
            ConditionStatus::False,
            reason::NOT_ALLOWED_BY_LISTENERS.to_string()
        )
    );
    let tls = programmed(&t, "infra/gw", "tls").expect("served");
    assert_eq!(tls.tls_routes.len(), 1);
    let attachment = &tls.tls_routes[0];
    let hostnames: Vec<_> = attachment
        .hostnames
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(hostnames, ["a.example.com"]);
    assert_eq!(
        attachment.route.backends[0].target.to_owned(),
        BackendTarget::Resolved(torii_config::BackendId::Service {
            namespace: "infra".into(),
            name: "svc".into(),
            port: 80
        })
    );
    assert_eq!(listener(&t, "infra/gw", "tls").attached_routes, 1);
}

#[test]
fn tcp_routes_take_one_rule_and_need_grants_across_namespaces() {
    let tcp_route = |name: &str, rules: &str| {
        format!(
            "---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {{name: {name}, namespace: infra}}
spec:
  parentRefs: [{{name: gw}}]
  rules: {rules}
"
        )
    };
    let yaml = format!(
        "{CLASS}{GATEWAY}{}{}---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {{name: tcp, namespace: granted}}
spec:
  from: [{{group: gateway.networking.k8s.io, kind: TCPRoute, namespace: infra}}]
  to: [{{group: '', kind: Service}}]
{}{}{}{}",
        service("granted", "svc", 80, 8080),
        service("other", "svc", 80, 8080),
        tcp_route(
            "ok",
            "[{backendRefs: [{name: svc, namespace: granted, port: 80, weight: 2}]}]"
        ),
        tcp_route(
            "denied",
            "[{backendRefs: [{name: svc, namespace: other, port: 80}]}]"
        ),
        tcp_route("two-rules", "[{backendRefs: []}, {backendRefs: []}]"),
        tcp_route("no-rules", "[]"),
    );
    let t = run(&yaml);
    let cases = [
        (
            "infra/ok",
            (ConditionStatus::True, reason::ACCEPTED),
            (ConditionStatus::True, reason::RESOLVED_REFS),
        ),
        (
            "infra/denied",
            (ConditionStatus::True, reason::ACCEPTED),
            (ConditionStatus::False, reason::REF_NOT_PERMITTED),
        ),
        (
            "infra/two-rules",
            (ConditionStatus::False, reason::UNSUPPORTED_VALUE),
            (ConditionStatus::True, reason::RESOLVED_REFS),
        ),
        (
            "infra/no-rules",
            (ConditionStatus::False, reason::UNSUPPORTED_VALUE),
            (ConditionStatus::True, reason::RESOLVED_REFS),
        ),
    ];
    for (id, accepted, resolved) in cases {
        let got_accepted = parent(&t, RouteKind::Tcp, id, ACCEPTED);
        assert_eq!((got_accepted.0, got_accepted.1.as_str()), accepted, "{id}");
        let got_resolved = parent(&t, RouteKind::Tcp, id, RESOLVED_REFS);
        assert_eq!((got_resolved.0, got_resolved.1.as_str()), resolved, "{id}");
    }
    let tcp = programmed(&t, "infra/gw", "tcp").expect("served");
    let routes: Vec<_> = tcp
        .tcp_routes
        .iter()
        .map(|a| a.route.id.name.to_string())
        .collect();
    // Same creation time: ordered by namespace/name.
    assert_eq!(routes, ["denied", "ok"]);
    assert_eq!(tcp.tcp_routes[1].route.backends[0].weight, 2);
    assert_eq!(
        tcp.tcp_routes[0].route.backends[0].target,
        BackendTarget::Invalid
    );
    assert!(programmed(&t, "infra/gw", "http")
        .expect("served")
        .http_routes
        .is_empty());
}
