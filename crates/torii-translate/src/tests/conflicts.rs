//! Listener conflicts: within one Gateway every indistinct listener is excluded; across
//! Gateways on one socket the later Gateway's listener is.

use super::*;
use crate::conditions::{reason, CONFLICTED};
use torii_config::PortProtocol;

#[test]
fn conflicts_within_a_gateway_exclude_every_conflicted_listener() {
    struct Case {
        listeners: &'static str,
        conflicted: &'static [(&'static str, &'static str)],
        served: &'static [&'static str],
    }
    let cases = [
        Case {
            listeners: "[{name: a, port: 80, protocol: HTTP, hostname: x.example.com},
                         {name: b, port: 80, protocol: HTTP, hostname: X.example.com},
                         {name: c, port: 80, protocol: HTTP}]",
            conflicted: &[("a", reason::HOSTNAME_CONFLICT), ("b", reason::HOSTNAME_CONFLICT)],
            served: &["c"],
        },
        Case {
            listeners: "[{name: a, port: 80, protocol: HTTP}, {name: b, port: 80, protocol: TCP},
                         {name: c, port: 81, protocol: HTTP}]",
            conflicted: &[("a", reason::PROTOCOL_CONFLICT), ("b", reason::PROTOCOL_CONFLICT)],
            served: &["c"],
        },
        Case {
            listeners: "[{name: a, port: 80, protocol: HTTP},
                         {name: b, port: 80, protocol: TLS, tls: {mode: Passthrough}}]",
            conflicted: &[("a", reason::PROTOCOL_CONFLICT), ("b", reason::PROTOCOL_CONFLICT)],
            served: &[],
        },
        Case {
            listeners: "[{name: a, port: 9000, protocol: TCP, hostname: a.example.com},
                         {name: b, port: 9000, protocol: TCP, hostname: b.example.com}]",
            conflicted: &[("a", reason::HOSTNAME_CONFLICT), ("b", reason::HOSTNAME_CONFLICT)],
            served: &[],
        },
        Case {
            listeners: "[{name: a, port: 443, protocol: TLS, hostname: a.example.com, tls: {mode: Passthrough}},
                         {name: b, port: 443, protocol: TLS, hostname: '*.example.com', tls: {mode: Passthrough}},
                         {name: c, port: 443, protocol: TLS, tls: {mode: Passthrough}}]",
            conflicted: &[],
            served: &["a", "b", "c"],
        },
    ];
    for case in cases {
        let yaml = format!("{CLASS}{}", gw("gw", "", case.listeners));
        let t = run(&yaml);
        for status in &gateway(&t, "default/gw").listeners {
            let expected = case
                .conflicted
                .iter()
                .find(|(name, _)| *name == status.name)
                .map_or(no(reason::NO_CONFLICTS), |(_, r)| yes(r));
            assert_eq!(
                condition(&status.conditions, CONFLICTED),
                expected,
                "{}",
                status.name
            );
        }
        let served: Vec<_> = t
            .config
            .ports
            .iter()
            .flat_map(|p| &p.listeners)
            .map(|l| &*l.id.name)
            .collect();
        assert_eq!(served, case.served, "{}", case.listeners);
    }
}

#[test]
fn gateways_sharing_a_socket_merge_or_the_later_one_conflicts() {
    // `old` is older than `new`, so `new` loses every conflict.
    let gateway = |name: &str, created: &str, listeners: &str| {
        format!(
            "---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: {name}, creationTimestamp: '{created}'}}
spec:
  gatewayClassName: torii
  listeners: {listeners}
"
        )
    };
    let yaml = format!(
        "{CLASS}{}{}",
        gateway(
            "new",
            "2024-01-02T00:00:00Z",
            "[{name: same-host, port: 80, protocol: HTTP, hostname: a.example.com},
              {name: other-host, port: 80, protocol: HTTP, hostname: b.example.com},
              {name: tcp, port: 443, protocol: TCP}]"
        ),
        gateway(
            "old",
            "2024-01-01T00:00:00Z",
            "[{name: http, port: 80, protocol: HTTP, hostname: a.example.com},
              {name: tls, port: 443, protocol: TLS, tls: {mode: Passthrough}}]"
        ),
    );
    let t = run(&yaml);
    let cases = [
        ("default/old", "http", no(reason::NO_CONFLICTS)),
        ("default/old", "tls", no(reason::NO_CONFLICTS)),
        ("default/new", "same-host", yes(reason::HOSTNAME_CONFLICT)),
        ("default/new", "other-host", no(reason::NO_CONFLICTS)),
        ("default/new", "tcp", yes(reason::PROTOCOL_CONFLICT)),
    ];
    for (gw, name, expected) in cases {
        assert_eq!(
            condition(&listener(&t, gw, name).conditions, CONFLICTED),
            expected,
            "{gw} {name}"
        );
    }
    let http = port(&t, "127.0.0.1:80");
    let ids: Vec<_> = http.listeners.iter().map(|l| l.id.to_string()).collect();
    assert_eq!(ids, ["default/old/http", "default/new/other-host"]);
    assert_eq!(port(&t, "127.0.0.1:443").protocol, PortProtocol::Tls);
    assert_eq!(t.config.ports.len(), 2);
}
