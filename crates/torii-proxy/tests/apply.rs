//! Applying configs: a config that fails while it is prepared changes nothing that is served —
//! listeners, the snapshot, health targets, pools and metrics stay exactly as they were.

use prometheus_client::registry::Registry;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use torii_proxy::{ClientLocator, LoadBalancing, Proxy, ProxyMetrics, ProxyOptions};
use torii_translate::{translate, TranslateOptions};

fn config(yaml: &str) -> torii_config::Config {
    let mut report = torii_resources::LoadReport::default();
    torii_resources::parse_yaml(Path::new("test.yaml"), yaml, &mut report);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let options = TranslateOptions {
        controller_name: "torii.dev/gateway-controller".into(),
        default_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    translate(&report.set, &options).config
}

fn free_port(ip: IpAddr) -> u16 {
    TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn resources(ip: IpAddr, http: u16, https: Option<u16>, origins: &[&str], cert: &str) -> String {
    let https_listener = https.map_or(String::new(), |port| {
        format!(
            "  - {{name: https, protocol: HTTPS, port: {port}, tls: {{certificateRefs: [{{name: cert}}]}}}}\n"
        )
    });
    let origins: String = origins
        .iter()
        .map(|o| format!("  - {{name: {o}, address: \"{ip}:1\"}}\n"))
        .collect();
    format!(
        "apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: torii}}
spec: {{controllerName: torii.dev/gateway-controller}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: default}}
spec:
  gatewayClassName: torii
  addresses: [{{type: IPAddress, value: \"{ip}\"}}]
  listeners:
  - {{name: http, protocol: HTTP, port: {http}}}
{https_listener}---
apiVersion: v1
kind: Secret
metadata: {{name: cert, namespace: default}}
type: kubernetes.io/tls
stringData:
{cert}---
apiVersion: torii.dev/v1alpha1
kind: HealthMonitor
metadata: {{name: check}}
spec: {{type: tcp, interval: 10s, timeout: 1s}}
---
apiVersion: torii.dev/v1alpha1
kind: OriginPool
metadata: {{name: web}}
spec:
  monitor: check
  origins:
{origins}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: web, namespace: default}}
spec:
  parentRefs: [{{name: gw}}]
  rules: [{{backendRefs: [{{group: torii.dev, kind: OriginPool, name: web}}]}}]
"
    )
}

fn certificate() -> String {
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["a.test".to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    let indent = |pem: String| {
        pem.lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    };
    format!(
        "  tls.crt: |\n{}  tls.key: |\n{}",
        indent(cert.pem()),
        indent(key.serialize_pem())
    )
}

/// Everything a config change could touch, as text.
async fn observed(proxy: &Proxy, registry: &Registry) -> String {
    let mut metrics = String::new();
    prometheus_client::encoding::text::encode(&mut metrics, registry).expect("metrics");
    let health: Vec<String> = proxy
        .load_balancing()
        .checker()
        .snapshot()
        .iter()
        .map(|o| o.key.to_string())
        .collect();
    let pools: Vec<String> = proxy
        .load_balancing()
        .current()
        .pools
        .values()
        .flat_map(|p| {
            p.pools
                .iter()
                .flat_map(|t| t.iter().map(|o| o.address.to_string()))
        })
        .collect();
    format!(
        "generation {}\nbound {:?}\nhealth {health:?}\npools {pools:?}\n{metrics}",
        proxy.snapshot().generation,
        proxy.bound_addresses().await,
    )
}

#[tokio::test]
async fn a_config_that_fails_while_prepared_changes_nothing() {
    let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 231));
    let mut registry = Registry::default();
    let metrics = ProxyMetrics::register(&mut registry);
    let load_balancing = LoadBalancing::new(ClientLocator::default(), None).expect("checker");
    let proxy = Proxy::new(ProxyOptions::default(), metrics, Arc::new(load_balancing));
    let cert = certificate();
    let http = free_port(ip);
    let first = config(&resources(ip, http, None, &["a", "b"], &cert));
    proxy.apply(first).await.expect("the first config applies");
    let before = observed(&proxy, &registry).await;
    assert!(
        before.contains("default/web/a") && before.contains("bound ["),
        "{before}"
    );

    // A change with other origins and a new HTTPS listener whose key turns out unusable only
    // when its TLS config is built (translation cannot see it).
    let https = free_port(ip);
    let mut second = config(&resources(ip, http, Some(https), &["c"], &cert));
    for port in &mut second.ports {
        for listener in &mut port.listeners {
            for certificate in &mut listener.certificates {
                certificate.key_pem = Arc::from(
                    &b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"[..],
                );
            }
        }
    }
    assert!(
        proxy.prepare(second).await.is_err(),
        "the broken key is refused"
    );
    let after = observed(&proxy, &registry).await;
    assert_eq!(after, before, "a refused change changed something");
    assert!(
        std::net::TcpStream::connect(SocketAddr::new(ip, https)).is_err(),
        "nothing listens on the refused config's new port"
    );

    // The same change with a good key applies, and moves everything.
    let third = config(&resources(ip, http, Some(https), &["c"], &cert));
    let applied = proxy.apply(third).await.expect("applies");
    assert_eq!(applied.generation, 2);
    let moved = observed(&proxy, &registry).await;
    assert!(
        moved.contains("default/web/c") && !moved.contains("default/web/a"),
        "{moved}"
    );
}
