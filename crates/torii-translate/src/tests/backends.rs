//! backendRefs: kinds, ReferenceGrants, missing Services and ports; and Backends built from
//! EndpointSlices (readiness, port names, app protocols).

use super::*;
use crate::conditions::{reason, ACCEPTED, RESOLVED_REFS};
use torii_config::{AppProtocol, BackendId, BackendTarget, HttpRule};

/// A Gateway `infra/gw` with one HTTP listener that admits routes from every namespace.
pub(super) const GATEWAY: &str = "---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: torii
  listeners: [{name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}]
";

/// An HTTPRoute `infra/r` with one rule whose backendRefs are `backend_refs`.
pub(super) fn route_to(backend_refs: &str) -> String {
    format!(
        "---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: r, namespace: infra}}
spec:
  parentRefs: [{{name: gw}}]
  rules: [{{backendRefs: {backend_refs}}}]
"
    )
}

/// The only rule of the route attached to the Gateway's listener.
pub(super) fn rule(t: &Translation) -> &HttpRule {
    let listener = programmed(t, "infra/gw", "http").expect("listener is programmed");
    &listener.http_routes[0].route.rules[0]
}

pub(super) fn service_id(namespace: &str, name: &str, port: u16) -> BackendId {
    BackendId::Service {
        namespace: namespace.into(),
        name: name.into(),
        port,
    }
}

fn grant(namespace: &str, from_kind: &str, from_namespace: &str, to_name: &str) -> String {
    format!(
        "---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {{name: grant, namespace: {namespace}}}
spec:
  from: [{{group: gateway.networking.k8s.io, kind: {from_kind}, namespace: {from_namespace}}}]
  to: [{{group: '', kind: Service{to_name}}}]
"
    )
}

#[test]
fn backend_refs_resolve_or_explain_why_not() {
    let cases: [(&str, String, Option<&str>); 12] = [
        ("{name: svc, port: 80}", String::new(), None),
        (
            "{name: svc, port: 80, group: '', kind: Service}",
            String::new(),
            None,
        ),
        (
            "{name: svc, port: 80, kind: Foo}",
            String::new(),
            Some(reason::INVALID_KIND),
        ),
        (
            "{name: svc, port: 80, group: example.com, kind: Service}",
            String::new(),
            Some(reason::INVALID_KIND),
        ),
        (
            "{name: nope, port: 80}",
            String::new(),
            Some(reason::BACKEND_NOT_FOUND),
        ),
        (
            "{name: svc}",
            String::new(),
            Some(reason::BACKEND_NOT_FOUND),
        ),
        (
            "{name: svc, port: 81}",
            String::new(),
            Some(reason::BACKEND_NOT_FOUND),
        ),
        (
            "{name: svc, namespace: apps, port: 80}",
            String::new(),
            Some(reason::REF_NOT_PERMITTED),
        ),
        (
            "{name: svc, namespace: apps, port: 80}",
            grant("apps", "HTTPRoute", "infra", ""),
            None,
        ),
        (
            "{name: svc, namespace: apps, port: 80}",
            grant("apps", "HTTPRoute", "infra", ", name: svc"),
            None,
        ),
        (
            "{name: svc, namespace: apps, port: 80}",
            grant("apps", "HTTPRoute", "infra", ", name: other"),
            Some(reason::REF_NOT_PERMITTED),
        ),
        (
            "{name: svc, namespace: apps, port: 80}",
            grant("apps", "GRPCRoute", "infra", ""),
            Some(reason::REF_NOT_PERMITTED),
        ),
    ];
    for (backend_ref, grants, problem) in cases {
        let yaml = format!(
            "{CLASS}{GATEWAY}{}{}{grants}{}",
            service("infra", "svc", 80, 8080),
            service("apps", "svc", 80, 8080),
            route_to(&format!("[{backend_ref}]"))
        );
        let t = run(&yaml);
        let what = format!("{backend_ref} {grants}");
        // An unresolved backend never rejects the route: its share of traffic gets a 500.
        assert_eq!(
            http_parent(&t, "infra/r", ACCEPTED).0,
            ConditionStatus::True,
            "{what}"
        );
        let target = &rule(&t).backends[0].target.target;
        match problem {
            None => {
                assert_eq!(
                    http_parent(&t, "infra/r", RESOLVED_REFS).0,
                    ConditionStatus::True,
                    "{what}"
                );
                let BackendTarget::Resolved(id) = target else {
                    panic!("{what}: {target:?}");
                };
                assert!(t.config.backends.contains_key(id), "{what}");
            }
            Some(reason) => {
                assert_eq!(
                    http_parent(&t, "infra/r", RESOLVED_REFS),
                    (ConditionStatus::False, reason.to_string()),
                    "{what}"
                );
                assert_eq!(*target, BackendTarget::Invalid, "{what}");
                assert!(t.config.backends.is_empty(), "{what}");
            }
        }
    }
}

#[test]
fn a_grant_only_covers_its_own_namespace_and_route_namespace() {
    // The grant lives in `apps` but allows routes from `other`, not `infra`.
    let yaml = format!(
        "{CLASS}{GATEWAY}{}{}{}",
        service("apps", "svc", 80, 8080),
        grant("apps", "HTTPRoute", "other", ""),
        route_to("[{name: svc, namespace: apps, port: 80}]")
    );
    let t = run(&yaml);
    assert_eq!(
        http_parent(&t, "infra/r", RESOLVED_REFS),
        (
            ConditionStatus::False,
            reason::REF_NOT_PERMITTED.to_string()
        )
    );
}

#[test]
fn weights_default_to_one_and_partial_failures_keep_their_share() {
    let yaml = format!(
        "{CLASS}{GATEWAY}{}{}",
        service("infra", "svc", 80, 8080),
        route_to("[{name: svc, port: 80}, {name: svc, port: 80, weight: 0}, {name: gone, port: 80, weight: 3}]")
    );
    let t = run(&yaml);
    let shares: Vec<_> = rule(&t)
        .backends
        .iter()
        .map(|b| (b.target.weight, b.target.target.clone()))
        .collect();
    let svc = BackendTarget::Resolved(service_id("infra", "svc", 80));
    assert_eq!(
        shares,
        [(1, svc.clone()), (0, svc), (3, BackendTarget::Invalid)]
    );
    assert_eq!(
        http_parent(&t, "infra/r", RESOLVED_REFS),
        (
            ConditionStatus::False,
            reason::BACKEND_NOT_FOUND.to_string()
        )
    );

    let negative = format!(
        "{CLASS}{GATEWAY}{}{}",
        service("infra", "svc", 80, 8080),
        route_to("[{name: svc, port: 80, weight: -1}]")
    );
    let t = run(&negative);
    assert_eq!(
        http_parent(&t, "infra/r", ACCEPTED),
        (
            ConditionStatus::False,
            reason::UNSUPPORTED_VALUE.to_string()
        )
    );
}

const NAMED_PORTS: &str = "---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: infra}
spec:
  ports:
  - {name: http, port: 80, targetPort: 3000}
  - {name: admin, port: 81, targetPort: 3001, appProtocol: kubernetes.io/h2c}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-pod1, namespace: infra, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: admin, port: 3001}, {name: http, port: 3000}]
endpoints:
- addresses: [127.0.0.11]
  conditions: {ready: true, serving: true}
- addresses: [127.0.0.12]
- addresses: [127.0.0.13]
  conditions: {ready: false, serving: true, terminating: true}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-pod2, namespace: infra, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 3100}]
endpoints:
- addresses: [127.0.0.14]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-v6, namespace: infra, labels: {kubernetes.io/service-name: web}}
addressType: IPv6
ports: [{name: http, port: 3100}]
endpoints:
- addresses: ['::ffff:127.0.0.15']
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-elsewhere, namespace: apps, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 3000}]
endpoints:
- addresses: [127.0.0.99]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: unlabelled, namespace: infra}
addressType: IPv4
ports: [{name: http, port: 3000}]
endpoints:
- addresses: [127.0.0.98]
";

#[test]
fn backends_merge_ready_endpoints_of_every_slice_at_the_named_port() {
    let yaml = format!(
        "{CLASS}{GATEWAY}{NAMED_PORTS}{}",
        route_to("[{name: web, port: 80}, {name: web, port: 81}]")
    );
    let t = run(&yaml);
    let cases: [(u16, &[&str], AppProtocol); 2] = [
        (
            80,
            &[
                "127.0.0.11:3000",
                "127.0.0.12:3000",
                "127.0.0.14:3100",
                "[::ffff:127.0.0.15]:3100",
            ],
            AppProtocol::Http1,
        ),
        (
            81,
            &["127.0.0.11:3001", "127.0.0.12:3001"],
            AppProtocol::H2c,
        ),
    ];
    for (port, endpoints, protocol) in cases {
        let backend = &t.config.backends[&service_id("infra", "web", port)];
        let got: Vec<_> = backend
            .endpoints
            .iter()
            .map(|e| e.address.to_string())
            .collect();
        assert_eq!(got, endpoints, "port {port}");
        assert_eq!(backend.protocol, protocol, "port {port}");
    }
}

/// EndpointSlices of `addressType: FQDN` name their endpoints by DNS name: translation keeps
/// the names (lowercase, without a trailing dot) for the data plane to look up, skips
/// addresses that are not DNS names (RFC 1123 §2.1 labels; an all-numeric last label, RFC 3696
/// §2, so no IP address), and never reads an IP address from an FQDN slice or a name from an
/// IP slice.
#[test]
fn fqdn_slices_give_host_endpoints() {
    let yaml = format!(
        "{CLASS}{GATEWAY}---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: infra}}
spec:
  ports: [{{name: http, port: 80}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: web-names, namespace: infra, labels: {{kubernetes.io/service-name: web}}}}
addressType: FQDN
ports: [{{name: http, port: 3000}}]
endpoints:
- addresses: [backend-a.localhost, Backend-B.Localhost., a.localhost]
- addresses: [not-ready.localhost]
  conditions: {{ready: false}}
- addresses: [127.0.0.1, 10.1.2.3., -bad.localhost, 'under_score.example', 'a..b', '']
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: web-ips, namespace: infra, labels: {{kubernetes.io/service-name: web}}}}
addressType: IPv4
ports: [{{name: http, port: 3100}}]
endpoints:
- addresses: [127.0.0.14, name.localhost]
{}",
        route_to("[{name: web, port: 80}]")
    );
    let t = run(&yaml);
    let backend = &t.config.backends[&service_id("infra", "web", 80)];
    let hosts: Vec<String> = backend.hosts.iter().map(ToString::to_string).collect();
    assert_eq!(
        hosts,
        [
            "a.localhost:3000",
            "backend-a.localhost:3000",
            "backend-b.localhost:3000"
        ]
    );
    let endpoints: Vec<String> = backend
        .endpoints
        .iter()
        .map(|e| e.address.to_string())
        .collect();
    assert_eq!(endpoints, ["127.0.0.14:3100"]);
    assert_eq!(
        http_parent(&t, "infra/r", RESOLVED_REFS),
        (ConditionStatus::True, reason::RESOLVED_REFS.to_string())
    );
}

#[test]
fn app_protocol_comes_from_the_service_port_then_the_slice() {
    let cases = [
        ("appProtocol: kubernetes.io/h2c", "", AppProtocol::H2c),
        ("appProtocol: kubernetes.io/ws", "", AppProtocol::WebSocket),
        ("", "appProtocol: kubernetes.io/h2c", AppProtocol::H2c),
        (
            "appProtocol: http",
            "appProtocol: kubernetes.io/h2c",
            AppProtocol::Http1,
        ),
        ("", "", AppProtocol::Http1),
    ];
    for (service_protocol, slice_protocol, expected) in cases {
        let yaml = format!(
            "{CLASS}{GATEWAY}---
apiVersion: v1
kind: Service
metadata: {{name: svc, namespace: infra}}
spec:
  ports: [{{port: 80, targetPort: 3000, {service_protocol}}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: svc-1, namespace: infra, labels: {{kubernetes.io/service-name: svc}}}}
addressType: IPv4
ports: [{{port: 3000, {slice_protocol}}}]
endpoints: [{{addresses: [127.0.0.10]}}]
{}",
            route_to("[{name: svc, port: 80}]")
        );
        let t = run(&yaml);
        let backend = &t.config.backends[&service_id("infra", "svc", 80)];
        assert_eq!(
            backend.protocol, expected,
            "{service_protocol} / {slice_protocol}"
        );
        // The unnamed Service port matches the unnamed slice port.
        assert_eq!(backend.endpoints.len(), 1);
    }
}

#[test]
fn backends_must_speak_tcp_without_tls() {
    let yaml = format!(
        "{CLASS}{GATEWAY}---
apiVersion: v1
kind: Service
metadata: {{name: svc, namespace: infra}}
spec:
  ports:
  - {{name: dns, port: 53, protocol: UDP}}
  - {{name: tls, port: 443, appProtocol: https}}
  - {{name: plain, port: 80, protocol: TCP, appProtocol: http}}
{}",
        route_to("[{name: svc, port: 53}, {name: svc, port: 443}, {name: svc, port: 80}]")
    );
    let t = run(&yaml);
    assert_eq!(
        http_parent(&t, "infra/r", RESOLVED_REFS),
        (
            ConditionStatus::False,
            reason::UNSUPPORTED_PROTOCOL.to_string()
        )
    );
    let targets: Vec<_> = rule(&t)
        .backends
        .iter()
        .map(|b| b.target.target.clone())
        .collect();
    assert_eq!(
        targets,
        [
            BackendTarget::Invalid,
            BackendTarget::Invalid,
            BackendTarget::Resolved(service_id("infra", "svc", 80))
        ]
    );
}

#[test]
fn a_service_without_slices_is_a_backend_without_endpoints() {
    let yaml = format!(
        "{CLASS}{GATEWAY}---
apiVersion: v1
kind: Service
metadata: {{name: empty, namespace: infra}}
spec: {{ports: [{{name: http, port: 80}}]}}
{}",
        route_to("[{name: empty, port: 80}]")
    );
    let t = run(&yaml);
    assert_eq!(
        http_parent(&t, "infra/r", RESOLVED_REFS).0,
        ConditionStatus::True
    );
    let backend = &t.config.backends[&service_id("infra", "empty", 80)];
    assert!(backend.endpoints.is_empty());
}

#[test]
fn only_backends_of_attached_routes_are_configured() {
    let yaml = format!(
        "{CLASS}{GATEWAY}{}{}{}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: detached, namespace: infra}}
spec:
  parentRefs: [{{name: gw, sectionName: nope}}]
  rules: [{{backendRefs: [{{name: b, port: 80}}]}}]
",
        service("infra", "a", 80, 8080),
        service("infra", "b", 80, 8080),
        route_to("[{name: a, port: 80}]")
    );
    let t = run(&yaml);
    let ids: Vec<_> = t.config.backends.keys().map(ToString::to_string).collect();
    assert_eq!(ids, ["infra/a:80"]);
}
