//! The immutable runtime view of one config: per-port routers and TLS configs, per-rule
//! resolved backends and metric handles, per-backend balancers. Built off the request path,
//! swapped in atomically, never mutated. Everything a request needs is resolved here so the
//! request path does one hash lookup (the rule's runtime) and no formatting.

use crate::metrics::{BackendLabels, ProxyMetrics, RequestLabels, RouteLabels, StatusClass};
use http::uri::Authority;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use rustc_hash::FxHashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};
use torii_config::{
    Backend, BackendId, BackendTarget, Config, HttpRule, ListenerProtocol, PortConfig, PortProtocol,
};
use torii_routing::PortRouter;

/// The label of "nothing" (no route, no backend).
pub static NONE: LazyLock<Arc<String>> = LazyLock::new(|| Arc::new(String::from("none")));

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
    pub ports: FxHashMap<SocketAddr, Arc<PortRuntime>>,
    /// Runtime per backend.
    pub backends: FxHashMap<BackendId, Arc<BackendRuntime>>,
}

/// One port's runtime: its listeners compiled for lookup.
pub struct PortRuntime {
    /// The port's config.
    pub config: PortConfig,
    /// HTTP route lookup.
    pub router: PortRouter,
    /// TLS server config for terminating listeners (TLS ports only).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Runtime of every rule, by (listener index, rule address).
    rules: FxHashMap<(usize, usize), Arc<RuleRuntime>>,
    /// Accounting for requests no rule took.
    pub unrouted: Arc<RuleRuntime>,
}

impl PortRuntime {
    /// The runtime of a rule matched on a listener of this port.
    pub fn rule(&self, listener: usize, rule: &Arc<HttpRule>) -> &Arc<RuleRuntime> {
        self.rules
            .get(&(listener, Arc::as_ptr(rule) as usize))
            .unwrap_or(&self.unrouted)
    }
}

/// Request counters by status class for one (gateway, route, backend). Each counter joins the
/// registry on its first use, so /metrics shows only what was seen (10,000 routes would
/// otherwise export 100,000 zero series) and building a snapshot creates no series.
pub struct StatusCounters {
    gateway: Arc<String>,
    route: Arc<String>,
    backend: Arc<String>,
    counters: [OnceLock<Counter>; 5],
}

impl StatusCounters {
    fn new(gateway: &Arc<String>, route: &Arc<String>, backend: &Arc<String>) -> Self {
        StatusCounters {
            gateway: gateway.clone(),
            route: route.clone(),
            backend: backend.clone(),
            counters: Default::default(),
        }
    }

    /// Counts one answer.
    pub fn count(&self, metrics: &ProxyMetrics, status: http::StatusCode) {
        let (i, class) = match status.as_u16() {
            100..=199 => (0, StatusClass::Informational),
            200..=299 => (1, StatusClass::Success),
            300..=399 => (2, StatusClass::Redirection),
            400..=499 => (3, StatusClass::ClientError),
            _ => (4, StatusClass::ServerError),
        };
        self.counters[i]
            .get_or_init(|| {
                metrics
                    .requests
                    .get_or_create(&RequestLabels {
                        gateway: self.gateway.clone(),
                        route: self.route.clone(),
                        backend: self.backend.clone(),
                        class,
                    })
                    .clone()
            })
            .inc();
    }
}

/// What a request on one rule needs at run time: resolved backends and metric handles.
pub struct RuleRuntime {
    /// Gateway label.
    pub gateway: Arc<String>,
    /// Route label.
    pub route: Arc<String>,
    /// Latency of requests on this rule (registered on first use).
    duration: OnceLock<Histogram>,
    /// Resolved backend per `HttpRule::backends` entry (`None` for invalid references).
    pub backends: Vec<Option<Arc<BackendRuntime>>>,
    /// Counters per `HttpRule::backends` entry.
    pub counters: Vec<StatusCounters>,
    /// Counters for answers given without a backend (redirects, 500s, CORS preflights).
    pub no_backend: StatusCounters,
    /// The rollout that splits this rule's traffic, if any.
    pub rollout: Option<RolloutRoute>,
    /// The comparison attached to this rule, if any.
    pub comparison: Option<Arc<crate::migration::ComparisonRuntime>>,
}

/// A rollout on a rule, resolved when the snapshot is built: its runtime and where its two
/// backends are among the rule's (`None`: not there, an invalid backend).
pub struct RolloutRoute {
    /// The rollout's runtime (its control cell outlives snapshots).
    pub runtime: Arc<crate::migration::RolloutRuntime>,
    /// Index of the stable backend.
    pub stable: Option<usize>,
    /// Index of the candidate backend.
    pub candidate: Option<usize>,
}

impl RuleRuntime {
    /// Records a request's latency.
    pub fn observe(&self, metrics: &ProxyMetrics, seconds: f64) {
        self.duration
            .get_or_init(|| {
                metrics
                    .request_duration
                    .get_or_create(&RouteLabels {
                        gateway: self.gateway.clone(),
                        route: self.route.clone(),
                    })
                    .clone()
            })
            .observe(seconds);
    }
}

/// One upstream endpoint, with its URI authority prepared.
pub struct EndpointRuntime {
    /// The socket address.
    pub address: SocketAddr,
    /// `ip:port` as a URI authority.
    pub authority: Authority,
}

/// One backend's runtime: its endpoints and balancing state.
pub struct BackendRuntime {
    /// The backend.
    pub backend: Arc<Backend>,
    /// Metric label.
    pub label: Arc<String>,
    /// Ready endpoints.
    pub endpoints: Vec<EndpointRuntime>,
    /// Failed connection attempts.
    pub connect_errors: Counter,
    /// For `OriginPool` and `LoadBalancer` backends: the steering runtime.
    pub steered: Option<Arc<crate::pools::SteeredBackend>>,
    next: AtomicUsize,
}

impl BackendRuntime {
    /// Picks the next endpoint, round robin; `None` without endpoints.
    pub fn pick(&self) -> Option<&EndpointRuntime> {
        match self.endpoints.len() {
            0 => None,
            1 => self.endpoints.first(),
            n => {
                let i = self.next.fetch_add(1, Ordering::Relaxed) % n;
                self.endpoints.get(i)
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
            ports: FxHashMap::default(),
            backends: FxHashMap::default(),
        }
    }

    /// Compiles a config into runtime objects.
    pub fn build(
        config: Arc<Config>,
        generation: u64,
        metrics: &ProxyMetrics,
        load_balancing: &crate::pools::LbSnapshot,
        migrations: &crate::migration::MigrationSet,
        mut tls: TlsConfigs,
    ) -> Self {
        let backends: FxHashMap<BackendId, Arc<BackendRuntime>> = config
            .backends
            .iter()
            .map(|(id, backend)| {
                let mut runtime = backend_runtime(id, backend, metrics, load_balancing);
                runtime.steered = match id {
                    BackendId::Service { .. } => None,
                    BackendId::Pool(pool) => load_balancing.pools.get(pool).cloned(),
                    BackendId::LoadBalancer(lb) => load_balancing.load_balancers.get(lb).cloned(),
                };
                (id.clone(), Arc::new(runtime))
            })
            .collect();
        let mut ports = FxHashMap::default();
        let mut route_labels: FxHashMap<usize, Arc<String>> = FxHashMap::default();
        for port in &config.ports {
            let tls = tls.0.remove(&port.address);
            let mut rules = FxHashMap::default();
            for (index, listener) in port.listeners.iter().enumerate() {
                let gateway = Arc::new(listener.id.gateway.to_string());
                for attachment in &listener.http_routes {
                    let route = route_labels
                        .entry(Arc::as_ptr(&attachment.route) as usize)
                        .or_insert_with(|| {
                            let id = &attachment.route.id;
                            Arc::new(format!("{}/{}", id.namespace, id.name))
                        })
                        .clone();
                    for rule in &attachment.route.rules {
                        let key = (index, Arc::as_ptr(rule) as usize);
                        rules.entry(key).or_insert_with(|| {
                            Arc::new(rule_runtime(rule, &gateway, &route, &backends, migrations))
                        });
                    }
                }
            }
            let unrouted = Arc::new(RuleRuntime {
                gateway: NONE.clone(),
                route: NONE.clone(),
                duration: OnceLock::new(),
                backends: Vec::new(),
                counters: Vec::new(),
                no_backend: StatusCounters::new(&NONE, &NONE, &NONE),
                rollout: None,
                comparison: None,
            });
            ports.insert(
                port.address,
                Arc::new(PortRuntime {
                    router: PortRouter::new(&port.listeners),
                    config: port.clone(),
                    tls,
                    rules,
                    unrouted,
                }),
            );
        }
        Snapshot {
            generation,
            config,
            ports,
            backends,
        }
    }
}

/// The rustls server configs of a config's TLS ports, built before anything is applied (the
/// only part of a snapshot that can fail).
#[derive(Default)]
pub struct TlsConfigs(FxHashMap<SocketAddr, Arc<rustls::ServerConfig>>);

/// Builds the TLS configs of `config`'s ports.
pub fn prepare_tls(config: &Config) -> Result<TlsConfigs, SnapshotError> {
    let mut configs = FxHashMap::default();
    for port in &config.ports {
        if let Some(tls) = tls_config(port)? {
            configs.insert(port.address, tls);
        }
    }
    Ok(TlsConfigs(configs))
}

fn tls_config(port: &PortConfig) -> Result<Option<Arc<rustls::ServerConfig>>, SnapshotError> {
    if port.protocol != PortProtocol::Tls {
        return Ok(None);
    }
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
        return Ok(None);
    }
    torii_tls::server_config(&terminating, torii_tls::Alpn::Http)
        .map(Some)
        .map_err(|source| SnapshotError {
            address: port.address,
            source,
        })
}

/// One backend's runtime: its endpoints, those named by DNS names (FQDN EndpointSlices)
/// replaced by the addresses they resolved to when the build started.
fn backend_runtime(
    id: &BackendId,
    backend: &Arc<Backend>,
    metrics: &ProxyMetrics,
    load_balancing: &crate::pools::LbSnapshot,
) -> BackendRuntime {
    let label = Arc::new(id.to_string());
    let mut addresses: Vec<SocketAddr> = backend.endpoints.iter().map(|e| e.address).collect();
    if !backend.hosts.is_empty() {
        for host in &backend.hosts {
            addresses.extend_from_slice(load_balancing.addresses_of(host));
        }
        addresses.sort();
        addresses.dedup();
    }
    let endpoints = addresses
        .into_iter()
        .filter_map(|address| {
            Authority::try_from(address.to_string())
                .ok()
                .map(|authority| EndpointRuntime { address, authority })
        })
        .collect();
    BackendRuntime {
        backend: backend.clone(),
        connect_errors: metrics
            .upstream_connect_errors
            .get_or_create(&BackendLabels {
                backend: label.clone(),
            })
            .clone(),
        label,
        endpoints,
        steered: None,
        next: AtomicUsize::new(0),
    }
}

fn rule_runtime(
    rule: &HttpRule,
    gateway: &Arc<String>,
    route: &Arc<String>,
    backends: &FxHashMap<BackendId, Arc<BackendRuntime>>,
    migrations: &crate::migration::MigrationSet,
) -> RuleRuntime {
    let position = |wanted: &BackendId| {
        rule.backends
            .iter()
            .position(|b| matches!(&b.target.target, BackendTarget::Resolved(id) if id == wanted))
    };
    let rollout = rule
        .migration
        .rollout
        .as_ref()
        .and_then(|r| migrations.rollout(&r.id))
        .map(|runtime| RolloutRoute {
            stable: position(&runtime.config.stable),
            candidate: position(&runtime.config.candidate),
            runtime: runtime.clone(),
        });
    let comparison = rule
        .migration
        .comparison
        .as_ref()
        .and_then(|c| migrations.comparison(&c.id))
        .cloned();
    let resolved: Vec<Option<Arc<BackendRuntime>>> = rule
        .backends
        .iter()
        .map(|b| match &b.target.target {
            BackendTarget::Resolved(id) => backends.get(id).cloned(),
            BackendTarget::Invalid => None,
        })
        .collect();
    let counters = resolved
        .iter()
        .map(|b| {
            let label = b.as_ref().map_or_else(|| NONE.clone(), |b| b.label.clone());
            StatusCounters::new(gateway, route, &label)
        })
        .collect();
    RuleRuntime {
        gateway: gateway.clone(),
        route: route.clone(),
        duration: OnceLock::new(),
        backends: resolved,
        counters,
        no_backend: StatusCounters::new(gateway, route, &NONE),
        rollout,
        comparison,
    }
}
