//! YAML builders for the resources the tests serve.

use super::pki::Leaf;
use std::fmt::Write;
use std::net::{IpAddr, SocketAddr};

/// Joins documents into one multi-document file.
pub fn docs<S: AsRef<str>>(parts: &[S]) -> String {
    parts
        .iter()
        .map(|p| p.as_ref().trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n---\n")
        + "\n"
}

/// The GatewayClass `torii`, owned by torii's controller.
pub fn gateway_class() -> String {
    "apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: torii}
spec: {controllerName: torii.dev/gateway-controller}
"
    .to_string()
}

/// Gateway `default/<name>` on `ip` with `listeners`, each a YAML flow mapping such as
/// `{name: http, protocol: HTTP, port: 8080}`.
pub fn gateway(name: &str, ip: IpAddr, listeners: &[String]) -> String {
    let mut text = format!(
        "apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: {name}, namespace: default}}
spec:
  gatewayClassName: torii
  addresses: [{{type: IPAddress, value: \"{ip}\"}}]
  listeners:
"
    );
    for listener in listeners {
        let _ = writeln!(text, "  - {listener}");
    }
    text
}

/// An HTTP listener.
pub fn http_listener(name: &str, port: u16) -> String {
    format!("{{name: {name}, protocol: HTTP, port: {port}}}")
}

/// An HTTPS listener terminating with Secret `secret`, for `hostname` when given.
pub fn https_listener(name: &str, port: u16, hostname: Option<&str>, secret: &str) -> String {
    let hostname = hostname.map_or(String::new(), |h| format!("hostname: \"{h}\", "));
    format!(
        "{{name: {name}, protocol: HTTPS, port: {port}, {hostname}tls: {{mode: Terminate, certificateRefs: [{{name: {secret}}}]}}}}"
    )
}

/// Service `default/<name>` (port 80, named `http`) whose EndpointSlices list `endpoints`,
/// all ready.
pub fn service(name: &str, endpoints: &[SocketAddr]) -> String {
    let endpoints: Vec<(SocketAddr, bool)> = endpoints.iter().map(|e| (*e, true)).collect();
    service_with(name, 80, None, &endpoints)
}

/// Service `default/<name>` on `port` (named `http`, with `app_protocol` when given), one
/// EndpointSlice per endpoint with its readiness.
pub fn service_with(
    name: &str,
    port: u16,
    app_protocol: Option<&str>,
    endpoints: &[(SocketAddr, bool)],
) -> String {
    let app_protocol = app_protocol.map_or(String::new(), |p| format!(", appProtocol: {p}"));
    let mut parts = vec![format!(
        "apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: default}}
spec: {{ports: [{{name: http, port: {port}{app_protocol}}}]}}
"
    )];
    for (i, (address, ready)) in endpoints.iter().enumerate() {
        parts.push(format!(
            "apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-{i}
  namespace: default
  labels: {{kubernetes.io/service-name: {name}}}
addressType: IPv4
ports: [{{name: http, port: {port}}}]
endpoints: [{{addresses: [\"{ip}\"], conditions: {{ready: {ready}}}}}]
",
            port = address.port(),
            ip = address.ip(),
        ));
    }
    docs(&parts)
}

/// Service `default/<name>` (port 80, named `http`) with one EndpointSlice of `addressType:
/// FQDN` listing `hosts` (name and port each), all ready. Names under `localhost.` are the
/// loopback address (RFC 6761 §6.3), so backends on 127.0.0.1 can be named `<x>.localhost`:
/// a real API server refuses loopback IP addresses in EndpointSlices.
pub fn service_fqdn(name: &str, hosts: &[(&str, u16)]) -> String {
    let mut parts = vec![format!(
        "apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: default}}
spec: {{ports: [{{name: http, port: 80}}]}}
"
    )];
    for (i, (host, port)) in hosts.iter().enumerate() {
        parts.push(format!(
            "apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-{i}
  namespace: default
  labels: {{kubernetes.io/service-name: {name}}}
addressType: FQDN
ports: [{{name: http, port: {port}}}]
endpoints: [{{addresses: [\"{host}\"], conditions: {{ready: true}}}}]
"
        ));
    }
    docs(&parts)
}

/// A `kubernetes.io/tls` Secret `default/<name>` holding `leaf` in `stringData`.
pub fn tls_secret(name: &str, leaf: &Leaf) -> String {
    let indent = |pem: &str| {
        pem.lines()
            .map(|line| format!("    {line}\n"))
            .collect::<String>()
    };
    format!(
        "apiVersion: v1
kind: Secret
metadata: {{name: {name}, namespace: default}}
type: kubernetes.io/tls
stringData:
  tls.crt: |
{crt}  tls.key: |
{key}",
        crt = indent(&leaf.chain_pem),
        key = indent(&leaf.key_pem),
    )
}

/// HTTPRoute `default/<name>` attached to Gateway `gateway` with `rules`: YAML list items
/// starting with `  - `, as [`prefix_rule`] writes them.
pub fn http_route(name: &str, gateway: &str, hostnames: &[&str], rules: &str) -> String {
    let hostnames = if hostnames.is_empty() {
        String::new()
    } else {
        format!(
            "  hostnames: [{}]\n",
            hostnames
                .iter()
                .map(|h| format!("\"{h}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    format!(
        "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: {name}, namespace: default}}
spec:
  parentRefs: [{{name: {gateway}}}]
{hostnames}  rules:
{rules}"
    )
}

/// An HTTPRoute rule sending `prefix` to `backend` (port 80).
pub fn prefix_rule(prefix: &str, backend: &str) -> String {
    format!(
        "  - matches: [{{path: {{type: PathPrefix, value: \"{prefix}\"}}}}]
    backendRefs: [{{name: {backend}, port: 80}}]
"
    )
}
