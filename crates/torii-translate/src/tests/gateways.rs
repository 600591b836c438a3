//! GatewayClasses, Gateways and listeners: acceptance, addresses, protocols, conflicts,
//! certificates and allowed route kinds.

use super::*;
use crate::conditions::{reason, ACCEPTED, PROGRAMMED, RESOLVED_REFS};
use torii_config::{ListenerProtocol, PortProtocol};

#[test]
fn only_classes_of_this_controller_are_served() {
    let yaml = format!(
        "{CLASS}---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: other}}
spec: {{controllerName: example.com/other}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: with-params}}
spec:
  controllerName: torii.dev/gateway-controller
  parametersRef: {{group: example.com, kind: Config, name: x}}
{}---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: foreign}}
spec:
  gatewayClassName: other
  listeners: [{{name: http, port: 81, protocol: HTTP}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: params}}
spec:
  gatewayClassName: with-params
  listeners: [{{name: http, port: 82, protocol: HTTP}}]
",
        gw("ours", "", "[{name: http, port: 80, protocol: HTTP}]")
    );
    let t = run(&yaml);
    let classes: Vec<_> = t
        .status
        .gateway_classes
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(classes, ["torii", "with-params"]);
    assert_eq!(
        condition(&t.status.gateway_classes[0].conditions, ACCEPTED),
        yes(reason::ACCEPTED)
    );
    assert_eq!(
        condition(&t.status.gateway_classes[1].conditions, ACCEPTED),
        no(reason::INVALID_PARAMETERS)
    );
    assert!(t
        .status
        .gateways
        .iter()
        .all(|g| &*g.gateway.name != "foreign"));
    assert!(t
        .status
        .notes
        .iter()
        .any(|n| n.contains("GatewayClass other")));
    assert!(t
        .status
        .notes
        .iter()
        .any(|n| n.contains("Gateway default/foreign")));
    assert_eq!(
        condition(&gateway(&t, "default/params").conditions, ACCEPTED),
        no(reason::INVALID)
    );
    let bound: Vec<_> = t
        .config
        .ports
        .iter()
        .map(|p| p.address.to_string())
        .collect();
    assert_eq!(bound, ["127.0.0.1:80"]);
}

#[test]
fn addresses_bind_every_listener() {
    struct Case {
        addresses: &'static str,
        bound: &'static [&'static str],
        accepted: (ConditionStatus, &'static str),
    }
    let cases = [
        Case {
            addresses: "",
            bound: &["127.0.0.1:80", "127.0.0.1:8080"],
            accepted: yes(reason::ACCEPTED),
        },
        Case {
            addresses: "addresses: [{type: IPAddress, value: 127.0.1.1}, {value: 127.0.1.2}]",
            bound: &[
                "127.0.1.1:80",
                "127.0.1.1:8080",
                "127.0.1.2:80",
                "127.0.1.2:8080",
            ],
            accepted: yes(reason::ACCEPTED),
        },
        Case {
            addresses: "addresses: [{type: IPAddress, value: '::ffff:127.0.1.9'}]",
            bound: &["[::ffff:127.0.1.9]:80", "[::ffff:127.0.1.9]:8080"],
            accepted: yes(reason::ACCEPTED),
        },
        Case {
            addresses: "addresses: [{type: Hostname, value: example.com}]",
            bound: &[],
            accepted: no(reason::UNSUPPORTED_ADDRESS),
        },
        Case {
            addresses: "addresses: [{type: IPAddress, value: 127.0.0.300}]",
            bound: &[],
            accepted: no(reason::UNSUPPORTED_ADDRESS),
        },
    ];
    for case in cases {
        let yaml = format!(
            "{CLASS}{}",
            gw(
                "gw",
                case.addresses,
                "[{name: a, port: 80, protocol: HTTP}, {name: b, port: 8080, protocol: HTTP}]"
            )
        );
        let t = run(&yaml);
        let bound: Vec<_> = t
            .config
            .ports
            .iter()
            .map(|p| p.address.to_string())
            .collect();
        assert_eq!(bound, case.bound, "{}", case.addresses);
        let status = gateway(&t, "default/gw");
        assert_eq!(
            condition(&status.conditions, ACCEPTED),
            case.accepted,
            "{}",
            case.addresses
        );
        let programmed = condition(&status.conditions, PROGRAMMED).0;
        assert_eq!(programmed == ConditionStatus::True, !case.bound.is_empty());
    }
}

#[test]
fn listener_protocols_and_supported_kinds() {
    let yaml = format!(
        "{CLASS}{}{}",
        tls_secret("default", "cert"),
        gw(
            "gw",
            "",
            "[{name: http, port: 80, protocol: HTTP},
              {name: https, port: 443, protocol: HTTPS, hostname: a.example.com, tls: {certificateRefs: [{name: cert}]}},
              {name: passthrough, port: 443, protocol: TLS, hostname: b.example.com, tls: {mode: Passthrough}},
              {name: terminate, port: 443, protocol: TLS, hostname: c.example.com, tls: {certificateRefs: [{name: cert}]}},
              {name: tcp, port: 9000, protocol: TCP},
              {name: udp, port: 53, protocol: UDP}]"
        )
    );
    let t = run(&yaml);
    let cases: [(&str, Option<ListenerProtocol>, &[&str]); 6] = [
        (
            "http",
            Some(ListenerProtocol::Http),
            &["HTTPRoute", "GRPCRoute"],
        ),
        (
            "https",
            Some(ListenerProtocol::Https),
            &["HTTPRoute", "GRPCRoute"],
        ),
        (
            "passthrough",
            Some(ListenerProtocol::TlsPassthrough),
            &["TLSRoute"],
        ),
        (
            "terminate",
            Some(ListenerProtocol::TlsTerminate),
            &["TLSRoute"],
        ),
        ("tcp", Some(ListenerProtocol::Tcp), &["TCPRoute"]),
        ("udp", None, &[]),
    ];
    for (name, protocol, kinds) in cases {
        let status = listener(&t, "default/gw", name);
        assert_eq!(status.supported_kinds, kinds, "{name}");
        assert_eq!(
            programmed(&t, "default/gw", name).map(|l| l.protocol),
            protocol,
            "{name}"
        );
    }
    let udp = listener(&t, "default/gw", "udp");
    assert_eq!(
        condition(&udp.conditions, ACCEPTED),
        no(reason::UNSUPPORTED_PROTOCOL)
    );
    assert_eq!(condition(&udp.conditions, PROGRAMMED), no(reason::INVALID));
    // One gateway with a bad listener is still accepted, with the reason saying so.
    assert_eq!(
        condition(&gateway(&t, "default/gw").conditions, ACCEPTED),
        yes(reason::LISTENERS_NOT_VALID)
    );
    // HTTPS and both TLS listeners share port 443, chosen by SNI.
    let tls = port(&t, "127.0.0.1:443");
    assert_eq!(tls.protocol, PortProtocol::Tls);
    let names: Vec<_> = tls.listeners.iter().map(|l| &*l.id.name).collect();
    assert_eq!(names, ["https", "passthrough", "terminate"]);
    assert_eq!(port(&t, "127.0.0.1:80").protocol, PortProtocol::Http);
    assert_eq!(port(&t, "127.0.0.1:9000").protocol, PortProtocol::Tcp);
    let https = programmed(&t, "default/gw", "https").expect("https is programmed");
    assert_eq!(https.certificates.len(), 1);
    assert_eq!(https.certificates[0].secret, "default/cert");
    assert_eq!(
        https.hostname,
        Some(torii_config::HostnameMatch::parse("a.example.com").expect("valid"))
    );
}

#[test]
fn invalid_listener_values_are_not_accepted() {
    let cases = [
        ("{name: l, port: 80, protocol: HTTP, hostname: '*'}", reason::UNSUPPORTED_VALUE),
        ("{name: l, port: 80, protocol: HTTP, hostname: 127.0.0.1}", reason::UNSUPPORTED_VALUE),
        ("{name: l, port: 0, protocol: HTTP}", reason::PORT_UNAVAILABLE),
        ("{name: l, port: 70000, protocol: HTTP}", reason::PORT_UNAVAILABLE),
        ("{name: l, port: 443, protocol: HTTPS, tls: {mode: Passthrough}}", reason::UNSUPPORTED_VALUE),
        ("{name: l, port: 80, protocol: HTTP, tls: {mode: Terminate}}", reason::UNSUPPORTED_VALUE),
        (
            "{name: l, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Selector}}}",
            reason::UNSUPPORTED_VALUE,
        ),
        (
            "{name: l, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Selector, selector: {matchExpressions: [{key: a, operator: Is}]}}}}",
            reason::UNSUPPORTED_VALUE,
        ),
    ];
    for (spec, expected) in cases {
        let yaml = format!("{CLASS}{}", gw("gw", "", &format!("[{spec}]")));
        let t = run(&yaml);
        let status = listener(&t, "default/gw", "l");
        assert_eq!(
            condition(&status.conditions, ACCEPTED),
            no(expected),
            "{spec}"
        );
        assert!(programmed(&t, "default/gw", "l").is_none(), "{spec}");
        assert_eq!(
            condition(&gateway(&t, "default/gw").conditions, ACCEPTED),
            no(reason::LISTENERS_NOT_VALID),
            "{spec}"
        );
    }
}

#[test]
fn certificate_refs_need_a_valid_permitted_secret() {
    let grant = |name: &str| {
        format!(
            "---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {{name: g-{name}, namespace: certs}}
spec:
  from: [{{group: gateway.networking.k8s.io, kind: Gateway, namespace: default}}]
  to: [{{group: '', kind: Secret, name: {name}}}]
"
        )
    };
    let wrong_type = "---
apiVersion: v1
kind: Secret
metadata: {name: opaque}
type: Opaque
stringData: {tls.crt: x, tls.key: y}
";
    let bad_pem = "---
apiVersion: v1
kind: Secret
metadata: {name: bad-pem}
type: kubernetes.io/tls
stringData: {tls.crt: not a certificate, tls.key: not a key}
";
    let cases = [
        ("{name: cert}", yes(reason::RESOLVED_REFS)),
        (
            "{name: cert, group: '', kind: Secret, namespace: default}",
            yes(reason::RESOLVED_REFS),
        ),
        ("{name: missing}", no(reason::INVALID_CERTIFICATE_REF)),
        ("{name: opaque}", no(reason::INVALID_CERTIFICATE_REF)),
        ("{name: bad-pem}", no(reason::INVALID_CERTIFICATE_REF)),
        (
            "{name: cert, kind: ConfigMap}",
            no(reason::INVALID_CERTIFICATE_REF),
        ),
        (
            "{name: cert, group: example.com}",
            no(reason::INVALID_CERTIFICATE_REF),
        ),
        (
            "{name: granted, namespace: certs}",
            yes(reason::RESOLVED_REFS),
        ),
        (
            "{name: not-granted, namespace: certs}",
            no(reason::REF_NOT_PERMITTED),
        ),
        (
            "{name: granted-missing, namespace: certs}",
            no(reason::INVALID_CERTIFICATE_REF),
        ),
    ];
    for (cert_ref, expected) in cases {
        let yaml = format!(
            "{CLASS}---\n{}---\n{}---\n{}{wrong_type}{bad_pem}{}{}{}",
            tls_secret("default", "cert"),
            tls_secret("certs", "granted"),
            tls_secret("certs", "not-granted"),
            grant("granted"),
            grant("granted-missing"),
            gw(
                "gw",
                "",
                &format!(
                    "[{{name: https, port: 443, protocol: HTTPS, tls: {{certificateRefs: [{cert_ref}]}}}},
                      {{name: http, port: 80, protocol: HTTP}}]"
                )
            )
        );
        let t = run(&yaml);
        let status = listener(&t, "default/gw", "https");
        assert_eq!(
            condition(&status.conditions, RESOLVED_REFS),
            expected,
            "{cert_ref}"
        );
        let served = expected.0 == ConditionStatus::True;
        assert_eq!(
            programmed(&t, "default/gw", "https").is_some(),
            served,
            "{cert_ref}"
        );
        let programmed_condition = if served {
            yes(reason::PROGRAMMED)
        } else {
            no(reason::INVALID)
        };
        assert_eq!(
            condition(&status.conditions, PROGRAMMED),
            programmed_condition,
            "{cert_ref}"
        );
        // The other listener is unaffected.
        assert!(programmed(&t, "default/gw", "http").is_some(), "{cert_ref}");
    }
}

#[test]
fn terminating_listeners_need_certificates() {
    let yaml = format!(
        "{CLASS}{}",
        gw(
            "gw",
            "",
            "[{name: https, port: 443, protocol: HTTPS}, {name: tls, port: 8443, protocol: TLS}]"
        )
    );
    let t = run(&yaml);
    for name in ["https", "tls"] {
        let status = listener(&t, "default/gw", name);
        assert_eq!(
            condition(&status.conditions, RESOLVED_REFS),
            no(reason::INVALID_CERTIFICATE_REF),
            "{name}"
        );
        assert!(programmed(&t, "default/gw", name).is_none(), "{name}");
    }
    assert_eq!(
        condition(&gateway(&t, "default/gw").conditions, PROGRAMMED),
        no(reason::INVALID)
    );
}

#[test]
fn client_certificate_validation_is_refused() {
    let yaml = format!(
        "{CLASS}{}{}",
        tls_secret("default", "cert"),
        gw(
            "gw",
            "tls: {frontend: {default: {validation: {caCertificateRefs: [{group: '', kind: ConfigMap, name: ca}]}}}}",
            "[{name: https, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: cert}]}},
              {name: http, port: 80, protocol: HTTP}]"
        )
    );
    let t = run(&yaml);
    let https = listener(&t, "default/gw", "https");
    assert_eq!(
        condition(&https.conditions, ACCEPTED),
        no(reason::NO_VALID_CA_CERTIFICATE)
    );
    assert!(programmed(&t, "default/gw", "https").is_none());
    assert!(programmed(&t, "default/gw", "http").is_some());
}

#[test]
fn allowed_route_kinds_keep_only_kinds_the_protocol_serves() {
    struct Case {
        kinds: &'static str,
        supported: &'static [&'static str],
        resolved: (ConditionStatus, &'static str),
        served: bool,
    }
    let cases = [
        Case {
            kinds: "[]",
            supported: &["HTTPRoute", "GRPCRoute"],
            resolved: yes(reason::RESOLVED_REFS),
            served: true,
        },
        Case {
            kinds: "[{kind: HTTPRoute}]",
            supported: &["HTTPRoute"],
            resolved: yes(reason::RESOLVED_REFS),
            served: true,
        },
        Case {
            kinds: "[{kind: InvalidRoute}, {kind: HTTPRoute}]",
            supported: &["HTTPRoute"],
            resolved: no(reason::INVALID_ROUTE_KINDS),
            served: true,
        },
        Case {
            kinds: "[{kind: TCPRoute}, {group: example.com, kind: HTTPRoute}]",
            supported: &[],
            resolved: no(reason::INVALID_ROUTE_KINDS),
            served: false,
        },
    ];
    for case in cases {
        let yaml = format!(
            "{CLASS}{}",
            gw(
                "gw",
                "",
                &format!(
                    "[{{name: http, port: 80, protocol: HTTP, allowedRoutes: {{kinds: {}}}}}]",
                    case.kinds
                )
            )
        );
        let t = run(&yaml);
        let status = listener(&t, "default/gw", "http");
        assert_eq!(status.supported_kinds, case.supported, "{}", case.kinds);
        assert_eq!(
            condition(&status.conditions, RESOLVED_REFS),
            case.resolved,
            "{}",
            case.kinds
        );
        assert_eq!(
            programmed(&t, "default/gw", "http").is_some(),
            case.served,
            "{}",
            case.kinds
        );
    }
}

#[test]
fn conditions_carry_the_observed_generation() {
    let yaml = format!(
        "{CLASS}---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, generation: 7}}
spec:
  gatewayClassName: torii
  listeners: [{{name: http, port: 80, protocol: HTTP}}]
"
    );
    let t = run(&yaml);
    let status = gateway(&t, "default/gw");
    assert_eq!(status.addresses, ["127.0.0.1"]);
    let all = status
        .conditions
        .iter()
        .chain(&status.listeners[0].conditions);
    for c in all {
        assert_eq!(c.observed_generation, Some(7), "{c:?}");
    }
}
