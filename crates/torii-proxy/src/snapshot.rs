//! The immutable runtime view of one config: per-port routers and TLS configs, per-backend
//! balancers. Built off the request path, swapped in atomically, never mutated.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use torii_config::{
    Backend, BackendId, Config, HttpRoute, ListenerProtocol, PortConfig, PortProtocol,
};
use torii_routing::PortRouter;

/// A TLS config could not be built for a port.
#[derive(Debug, thiserror::Error)]
#[error("cannot build TLS for {address}")]
pub struct SnapshotError {
    /// The port's address.
    pub address: SocketAddr,
    /// The cause.
    #[source]
    pub source: torii_tls::TlsError,
}

/// Everything the data plane serves, at one generation.
pub struct Snapshot {
    /// Increases by one with every applied config.
    pub generation: u64,
    /// The config this snapshot was built from.
    pub config: Arc<Config>,
    /// Runtime per bound address.
    pub ports: HashMap<SocketAddr, Arc<PortRuntime>>,
    /// Runtime per backend.
    pub backends: HashMap<BackendId, Arc<BackendRuntime>>,
    /// Metric label per route, keyed by the route's address.
    route_labels: HashMap<usize, Arc<String>>,
}

/// One port's runtime: its listeners compiled for lookup.
pub struct PortRuntime {
    /// The port's config.
    pub config: PortConfig,
    /// HTTP route lookup.
    pub router: PortRouter,
    /// TLS server config for terminating listeners (TLS ports only).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Metric label (`namespace/name` of the Gateway) per listener.
    pub gateway_labels: Vec<Arc<String>>,
}

/// One backend's runtime: its endpoints and balancing state.
pub struct BackendRuntime {
    /// The backend.
    pub backend: Arc<Backend>,
    /// Metric label.
    pub label: Arc<String>,
    next: AtomicUsize,
}

impl BackendRuntime {
    /// Picks the next endpoint, round robin; `None` without endpoints.
    pub fn pick(&self) -> Option<SocketAddr> {
        let endpoints = &self.backend.endpoints;
        match endpoints.len() {
            0 => None,
            1 => Some(endpoints[0].address),
            n => {
                let i = self.next.fetch_add(1, Ordering::Relaxed) % n;
                Some(endpoints[i].address)
            }
        }
    }
}

impl Snapshot {
    /// An empty snapshot (generation 0): nothing bound, nothing routed.
    pub fn empty() -> Self {
        Snapshot {
            generation: 0,
            config: Arc::new(Config::default()),
            ports: HashMap::new(),
            backends: HashMap::new(),
            route_labels: HashMap::new(),
        }
    }

    /// Compiles a config into runtime objects.
    pub fn build(config: Arc<Config>, generation: u64) -> Result<Self, SnapshotError> {
        let mut ports = HashMap::with_capacity(config.ports.len());
        let mut route_labels = HashMap::new();
        for port in &config.ports {
            let tls = if port.protocol == PortProtocol::Tls {
                let terminating: Vec<_> = port
                    .listeners
                    .iter()
                    .filter(|l| {
                        matches!(
                            l.protocol,
                            ListenerProtocol::Https | ListenerProtocol::TlsTerminate
                        )
                    })
                    .collect();
                if terminating.is_empty() {
                    None
                } else {
                    Some(
                        torii_tls::server_config(&terminating, torii_tls::Alpn::Http).map_err(
                            |source| SnapshotError {
                                address: port.address,
                                source,
                            },
                        )?,
                    )
                }
            } else {
                None
            };
            for listener in &port.listeners {
                for attachment in &listener.http_routes {
                    route_labels
                        .entry(route_key(&attachment.route))
                        .or_insert_with(|| {
                            let id = &attachment.route.id;
                            Arc::new(format!("{}/{}", id.namespace, id.name))
                        });
                }
            }
            let gateway_labels = port
                .listeners
                .iter()
                .map(|l| Arc::new(l.id.gateway.to_string()))
                .collect();
            ports.insert(
                port.address,
                Arc::new(PortRuntime {
                    router: PortRouter::new(&port.listeners),
                    config: port.clone(),
                    tls,
                    gateway_labels,
                }),
            );
        }
        let backends = config
            .backends
            .iter()
            .map(|(id, backend)| {
                (
                    id.clone(),
                    Arc::new(BackendRuntime {
                        backend: backend.clone(),
                        label: Arc::new(id.to_string()),
                        next: AtomicUsize::new(0),
                    }),
                )
            })
            .collect();
        Ok(Snapshot {
            generation,
            config,
            ports,
            backends,
            route_labels,
        })
    }

    /// The metric label of a route of this snapshot.
    pub fn route_label(&self, route: &Arc<HttpRoute>) -> Arc<String> {
        self.route_labels
            .get(&route_key(route))
            .cloned()
            .unwrap_or_else(|| Arc::new(String::from("unknown")))
    }
}

fn route_key(route: &Arc<HttpRoute>) -> usize {
    Arc::as_ptr(route) as usize
}
