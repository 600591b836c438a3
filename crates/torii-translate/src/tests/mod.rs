//! Translation tests: YAML documents in, config and conditions out, checked against the
//! Gateway API's semantics.

mod backends;
mod conflicts;
mod conformance;
mod docs;
mod gateways;
mod grpc_l4;
mod http_rules;
mod lb;
mod migration;
mod routes;

use crate::{translate, TranslateOptions, Translation};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr};
use torii_config::status::{
    Condition, ConditionStatus, GatewayStatus, ListenerStatus, RouteStatus,
};
use torii_config::{ListenerConfig, PortConfig, RouteKind};
use torii_resources::{Located, Origin, ResourceSet};

/// A PEM certificate for `example.com` and `*.example.com`.
pub(crate) const CERT_PEM: &str = include_str!("fixtures/cert.pem");
/// Its private key.
pub(crate) const KEY_PEM: &str = include_str!("fixtures/key.pem");

/// The class every test Gateway uses.
pub(crate) const CLASS: &str = "
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: torii}
spec: {controllerName: torii.dev/gateway-controller}
";

/// The address tests bind by default.
pub(crate) const DEFAULT_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));

fn push<T: DeserializeOwned>(list: &mut Vec<Located<T>>, doc: serde_yaml_ng::Value) {
    let object = serde_yaml_ng::from_value(doc).expect("test document matches its kind");
    list.push(Located {
        object,
        origin: Origin::default(),
    });
}

/// Parses multi-document YAML into a resource set, defaulting namespaces to `default`.
pub(crate) fn load(yaml: &str) -> ResourceSet {
    let mut set = ResourceSet::default();
    for document in serde_yaml_ng::Deserializer::from_str(yaml) {
        let mut doc = serde_yaml_ng::Value::deserialize(document).expect("test YAML parses");
        if doc.is_null() {
            continue;
        }
        let kind = doc["kind"]
            .as_str()
            .expect("every test document has a kind")
            .to_string();
        let cluster_scoped = matches!(kind.as_str(), "Namespace" | "GatewayClass");
        if !cluster_scoped && doc["metadata"]["namespace"].is_null() {
            doc["metadata"]["namespace"] = "default".into();
        }
        match kind.as_str() {
            "Namespace" => push(&mut set.namespaces, doc),
            "Service" => push(&mut set.services, doc),
            "EndpointSlice" => push(&mut set.endpoint_slices, doc),
            "Secret" => push(&mut set.secrets, doc),
            "GatewayClass" => push(&mut set.gateway_classes, doc),
            "Gateway" => push(&mut set.gateways, doc),
            "HTTPRoute" => push(&mut set.http_routes, doc),
            "GRPCRoute" => push(&mut set.grpc_routes, doc),
            "TLSRoute" => push(&mut set.tls_routes, doc),
            "TCPRoute" => push(&mut set.tcp_routes, doc),
            "ReferenceGrant" => push(&mut set.reference_grants, doc),
            "HealthMonitor" => push(&mut set.health_monitors, doc),
            "OriginPool" => push(&mut set.origin_pools, doc),
            "LoadBalancer" => push(&mut set.load_balancers, doc),
            "Comparison" => push(&mut set.comparisons, doc),
            "Rollout" => push(&mut set.rollouts, doc),
            other => panic!("test documents of kind {other} are not supported"),
        }
    }
    set
}

/// Translates YAML with the test options (default address 127.0.0.1).
pub(crate) fn run(yaml: &str) -> Translation {
    let options = TranslateOptions {
        default_address: DEFAULT_ADDRESS,
        ..TranslateOptions::default()
    };
    translate(&load(yaml), &options)
}

/// A `kubernetes.io/tls` Secret holding the test certificate.
pub(crate) fn tls_secret(namespace: &str, name: &str) -> String {
    let indent = |pem: &str| {
        pem.lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    };
    format!(
        "---\napiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {namespace}}}\ntype: kubernetes.io/tls\nstringData:\n  tls.crt: |\n{}  tls.key: |\n{}",
        indent(CERT_PEM),
        indent(KEY_PEM)
    )
}

/// A Service with one port and a ready endpoint slice.
pub(crate) fn service(namespace: &str, name: &str, port: u16, target: u16) -> String {
    format!(
        "---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  ports: [{{port: {port}, targetPort: {target}}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-1
  namespace: {namespace}
  labels: {{kubernetes.io/service-name: {name}}}
addressType: IPv4
ports: [{{port: {target}}}]
endpoints:
- addresses: [127.0.0.10]
"
    )
}

/// `(status, reason)` of the condition of `type_`.
pub(crate) fn condition<'c>(
    conditions: &'c [Condition],
    type_: &str,
) -> (ConditionStatus, &'c str) {
    let found = conditions
        .iter()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no {type_} condition in {conditions:?}"));
    (found.status, found.reason)
}

/// `True` with `reason`.
pub(crate) fn yes(reason: &str) -> (ConditionStatus, &str) {
    (ConditionStatus::True, reason)
}

/// `False` with `reason`.
pub(crate) fn no(reason: &str) -> (ConditionStatus, &str) {
    (ConditionStatus::False, reason)
}

/// The status of Gateway `namespace/name`.
pub(crate) fn gateway<'t>(t: &'t Translation, id: &str) -> &'t GatewayStatus {
    t.status
        .gateways
        .iter()
        .find(|g| g.gateway.to_string() == id)
        .unwrap_or_else(|| panic!("no status for Gateway {id}: {:#?}", t.status))
}

/// The status of listener `name` of Gateway `namespace/gateway`.
pub(crate) fn listener<'t>(t: &'t Translation, gateway_id: &str, name: &str) -> &'t ListenerStatus {
    gateway(t, gateway_id)
        .listeners
        .iter()
        .find(|l| l.name == name)
        .unwrap_or_else(|| panic!("no listener {name} on {gateway_id}"))
}

/// The status of route `namespace/name` of `kind`.
pub(crate) fn route<'t>(t: &'t Translation, kind: RouteKind, id: &str) -> &'t RouteStatus {
    t.status
        .routes
        .iter()
        .find(|r| r.route.kind == kind && format!("{}/{}", r.route.namespace, r.route.name) == id)
        .unwrap_or_else(|| {
            panic!(
                "no status for {} {id}: {:#?}",
                kind.as_str(),
                t.status.routes
            )
        })
}

/// `(status, reason)` of condition `type_` of the only parent of HTTPRoute `id`.
pub(crate) fn http_parent(t: &Translation, id: &str, type_: &str) -> (ConditionStatus, String) {
    let status = route(t, RouteKind::Http, id);
    assert_eq!(status.parents.len(), 1, "{status:#?}");
    let (s, r) = condition(&status.parents[0].conditions, type_);
    (s, r.to_string())
}

/// The programmed listener `gateway/name` on any socket.
pub(crate) fn programmed<'t>(
    t: &'t Translation,
    gateway_id: &str,
    name: &str,
) -> Option<&'t ListenerConfig> {
    t.config
        .ports
        .iter()
        .flat_map(|p| &p.listeners)
        .find(|l| l.id.gateway.to_string() == gateway_id && &*l.id.name == name)
}

/// The socket bound at `address`.
pub(crate) fn port<'t>(t: &'t Translation, address: &str) -> &'t PortConfig {
    t.config
        .ports
        .iter()
        .find(|p| p.address.to_string() == address)
        .unwrap_or_else(|| {
            panic!(
                "no socket {address}: {:?}",
                t.config.ports.iter().map(|p| p.address).collect::<Vec<_>>()
            )
        })
}

/// A Gateway `default/<name>` of class torii with `listeners` (a YAML flow sequence).
pub(crate) fn gw(name: &str, extra_spec: &str, listeners: &str) -> String {
    format!(
        "---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: {name}}}
spec:
  gatewayClassName: torii
  {extra_spec}
  listeners: {listeners}
"
    )
}
