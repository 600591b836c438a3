//! JSON documents for the admin API: status and the active config, summarised.

use serde_json::{json, Value};
use torii_config::status::StatusReport;
use torii_config::{BackendTarget, Config, ListenerProtocol, PortProtocol};

/// The `/api/v1/status` document: the status report (`gatewayClasses`, `gateways`, `routes`,
/// `loadBalancing` and `migrations` conditions of torii's own kinds, `notes`), the generation,
/// bind errors and load warnings.
pub fn status(
    report: &StatusReport,
    applied: &torii_proxy::ApplyReport,
    warnings: &[torii_resources::LoadError],
) -> Value {
    let mut value = serde_json::to_value(report).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("generation".into(), json!(applied.generation));
        map.insert(
            "bindErrors".into(),
            applied
                .bind_errors
                .iter()
                .map(|(address, error)| json!({"address": address.to_string(), "error": error.to_string()}))
                .collect(),
        );
        map.insert(
            "warnings".into(),
            warnings.iter().map(|w| json!(w.to_string())).collect(),
        );
    }
    value
}

/// Adds the generation to a config summary.
pub fn with_generation(mut summary: Value, generation: u64) -> Value {
    if let Value::Object(map) = &mut summary {
        map.insert("generation".into(), json!(generation));
    }
    summary
}

/// The `/api/v1/config` document: ports, listeners, routes and backends.
pub fn config(config: &Config) -> Value {
    let ports: Vec<Value> = config
        .ports
        .iter()
        .map(|port| {
            let listeners: Vec<Value> = port
                .listeners
                .iter()
                .map(|l| {
                    let http_routes: Vec<Value> = l
                        .http_routes
                        .iter()
                        .map(|a| {
                            json!({
                                "route": a.route.id.to_string(),
                                "hostnames": a.hostnames.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
                                "rules": a.route.rules.len(),
                            })
                        })
                        .collect();
                    json!({
                        "listener": l.id.to_string(),
                        "protocol": protocol_name(l.protocol),
                        "hostname": l.hostname.as_ref().map(|h| h.to_string()),
                        "certificates": l.certificates.iter().map(|c| c.secret.clone()).collect::<Vec<_>>(),
                        "httpRoutes": http_routes,
                        "tlsRoutes": l.tls_routes.iter().map(|a| a.route.id.to_string()).collect::<Vec<_>>(),
                        "tcpRoutes": l.tcp_routes.iter().map(|a| a.route.id.to_string()).collect::<Vec<_>>(),
                    })
                })
                .collect();
            json!({
                "address": port.address.to_string(),
                "protocol": match port.protocol {
                    PortProtocol::Http => "HTTP",
                    PortProtocol::Tls => "TLS",
                    PortProtocol::Tcp => "TCP",
                },
                "listeners": listeners,
            })
        })
        .collect();
    let backends: Vec<Value> = config
        .backends
        .values()
        .map(|b| {
            let mut backend = json!({
                "backend": b.id.to_string(),
                "protocol": format!("{:?}", b.protocol),
                "endpoints": b.endpoints.iter().map(|e| e.address.to_string()).collect::<Vec<_>>(),
            });
            if !b.hosts.is_empty() {
                // FQDN endpoints, looked up by the data plane.
                backend["hosts"] = b.hosts.iter().map(ToString::to_string).collect();
            }
            backend
        })
        .collect();
    let invalid_refs = config
        .ports
        .iter()
        .flat_map(|p| &p.listeners)
        .flat_map(|l| &l.http_routes)
        .flat_map(|a| &a.route.rules)
        .flat_map(|r| &r.backends)
        .filter(|b| b.target.target == BackendTarget::Invalid)
        .count();
    json!({ "ports": ports, "backends": backends, "invalidBackendRefs": invalid_refs })
}

fn protocol_name(protocol: ListenerProtocol) -> &'static str {
    match protocol {
        ListenerProtocol::Http => "HTTP",
        ListenerProtocol::Https => "HTTPS",
        ListenerProtocol::TlsPassthrough => "TLS/Passthrough",
        ListenerProtocol::TlsTerminate => "TLS/Terminate",
        ListenerProtocol::Tcp => "TCP",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use torii_config::status::{Condition, ObjectStatus};

    #[test]
    fn status_lists_load_balancing_and_migration_objects() {
        let object = |kind: &'static str| ObjectStatus {
            kind,
            namespace: "default".into(),
            name: "shop".into(),
            conditions: vec![Condition::not(
                "Accepted",
                "Conflicted",
                "spec.targetRef: taken",
            )],
        };
        let report = StatusReport {
            load_balancing: vec![object("LoadBalancer")],
            migrations: vec![object("Comparison"), object("Rollout")],
            ..StatusReport::default()
        };
        let value = status(&report, &torii_proxy::ApplyReport::default(), &[]);
        assert_eq!(value["loadBalancing"][0]["kind"], "LoadBalancer");
        assert_eq!(value["migrations"][0]["kind"], "Comparison");
        assert_eq!(value["migrations"][1]["kind"], "Rollout");
        let condition = &value["migrations"][1]["conditions"][0];
        assert_eq!(condition["type"], "Accepted");
        assert_eq!(condition["status"], "False");
        assert_eq!(condition["reason"], "Conflicted");
        assert_eq!(condition["message"], "spec.targetRef: taken");
        // Sections without objects are left out.
        let empty = status(
            &StatusReport::default(),
            &torii_proxy::ApplyReport::default(),
            &[],
        );
        assert!(empty.get("migrations").is_none());
        assert!(empty.get("loadBalancing").is_none());
    }
}
