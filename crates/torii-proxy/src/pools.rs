//! Global load balancing in the data plane: the runtime of `OriginPool` and `LoadBalancer`
//! backends (torii-steering), their health (torii-health) and client location (torii-geo).
//!
//! [`LoadBalancing`] lives as long as the proxy; each config builds an [`LbSnapshot`] from it
//! (carrying origin state, health and affinity sessions over from the previous one) that the
//! [`crate::snapshot::Snapshot`] hands to the backends that name a pool or a load balancer.
//! Origins are flattened to one address each before steering sees them: a Service origin
//! becomes one origin per ready endpoint (`name/ip:port`), a DNS name one per address it
//! resolves to (looked up at the first apply, then again by [`LoadBalancing::reresolve`]).
//! Service endpoints named by DNS names (EndpointSlices of `addressType: FQDN`, in route
//! backends and pool origins alike) are looked up the same way, into [`LbSnapshot::names`].

use http::uri::Authority;
use http::HeaderValue;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};
use torii_config::{
    Config, FailoverPolicy, HostEndpoint, LoadBalancer, LoadBalancerId, Origin, OriginAddress,
    OriginPool, PoolId, Steering,
};
use torii_geo::{GeoDb, TrustedProxies};
use torii_health::{
    CheckerOptions, HealthChange, HealthChecker, HealthError, HealthListener, OriginHandle,
    OriginKey, Target,
};
use torii_steering::{
    AffinitySecret, AffinityTable, LbOptions, LoadBalancerRuntime, OriginState, PoolRuntime,
};

/// Where the client is, for geo and proximity steering.
#[derive(Default)]
pub struct ClientLocator {
    /// The MaxMind-format database, if one was given.
    pub geo: Option<GeoDb>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted: TrustedProxies,
}

/// One origin address as the proxy sends to it.
pub struct OriginTarget {
    /// The health key (`pool/origin`).
    pub key: OriginKey,
    /// The address.
    pub address: SocketAddr,
    /// `ip:port` as a URI authority.
    pub authority: Authority,
    /// `Host` to send instead of the client's.
    pub host: Option<HeaderValue>,
    /// The origin's health cell (passive outcomes are reported to it).
    pub health: Option<OriginHandle>,
}

/// An origin's weight shared among `parts` addresses, in units of 1/[`WEIGHT_SCALE`] (at least
/// 1 when the origin has any weight).
fn scaled_weight(weight: u32, parts: usize) -> u32 {
    if weight == 0 {
        return 0;
    }
    let share = u64::from(weight) * WEIGHT_SCALE / parts.max(1) as u64;
    u32::try_from(share.max(1)).unwrap_or(u32::MAX)
}

/// A backend steered over pools: a `LoadBalancer`, or an `OriginPool` named directly (then a
/// one-pool failover load balancer).
pub struct SteeredBackend {
    /// The steering runtime.
    pub runtime: Arc<LoadBalancerRuntime>,
    /// The origins of each pool of [`LoadBalancerRuntime::pools`], same order.
    pub pools: Vec<Arc<Vec<OriginTarget>>>,
}

impl SteeredBackend {
    /// The target of a pick.
    pub fn target(&self, pool: usize, origin: usize) -> Option<&OriginTarget> {
        self.pools.get(pool)?.get(origin)
    }
}

/// The pools and load balancers of one config.
#[derive(Default)]
pub struct LbSnapshot {
    /// `OriginPool` backends.
    pub pools: HashMap<PoolId, Arc<SteeredBackend>>,
    /// `LoadBalancer` backends.
    pub load_balancers: HashMap<LoadBalancerId, Arc<SteeredBackend>>,
    /// The addresses every DNS name of the config (origins and FQDN endpoints) resolved to.
    pub names: HashMap<NameKey, Vec<SocketAddr>>,
}

impl LbSnapshot {
    /// The addresses an FQDN endpoint resolved to (none when it did not resolve).
    pub fn addresses_of(&self, host: &HostEndpoint) -> &[SocketAddr] {
        self.names.get(&host_key(host)).map_or(&[], Vec::as_slice)
    }
}

/// State that outlives snapshots: origin states, the health checker, affinity tables.
pub struct LoadBalancing {
    checker: HealthChecker,
    states: Arc<RwLock<HashMap<OriginKey, Arc<OriginState>>>>,
    previous: Mutex<Previous>,
    secret: AffinitySecret,
    current: RwLock<Arc<LbSnapshot>>,
    /// The addresses each origin DNS name resolved to, as the current snapshot uses them.
    names: Mutex<HashMap<NameKey, Vec<SocketAddr>>>,
    /// Client location.
    pub locator: ClientLocator,
}

/// A config's pools, flattened and resolved, not yet in force ([`LoadBalancing::prepare`]).
pub struct PreparedLb {
    names: HashMap<NameKey, Vec<SocketAddr>>,
    pools: HashMap<PoolId, Arc<OriginPool>>,
    load_balancers: std::collections::BTreeMap<LoadBalancerId, Arc<LoadBalancer>>,
}

#[derive(Default)]
struct Previous {
    pools: HashMap<PoolId, Arc<PoolRuntime>>,
    tables: HashMap<LoadBalancerId, Arc<AffinityTable>>,
}

/// Copies every health change into the steering state, then passes it on.
struct Relay {
    states: Arc<RwLock<HashMap<OriginKey, Arc<OriginState>>>>,
    next: Option<Arc<dyn HealthListener>>,
}

impl HealthListener for Relay {
    fn health_changed(&self, change: &HealthChange) {
        if let Some(state) = self
            .states
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&change.key)
        {
            state.set_healthy(change.healthy);
            if let Some(rtt) = change.rtt {
                state.record_rtt(rtt);
            }
        }
        if let Some(next) = &self.next {
            next.health_changed(change);
        }
    }
}

impl LoadBalancing {
    /// Starts the health checker (inside a tokio runtime). `listener` also gets every health
    /// change (for logs, metrics and notifications).
    pub fn new(
        locator: ClientLocator,
        listener: Option<Arc<dyn HealthListener>>,
    ) -> Result<Self, HealthError> {
        let states = Arc::new(RwLock::new(HashMap::new()));
        let relay = Arc::new(Relay {
            states: states.clone(),
            next: listener,
        });
        let checker = HealthChecker::new(CheckerOptions::default(), relay)?;
        tokio::spawn(copy_round_trips(Arc::downgrade(&states), checker.clone()));
        Ok(LoadBalancing {
            checker,
            states,
            previous: Mutex::new(Previous::default()),
            secret: AffinitySecret::random(),
            current: RwLock::new(Arc::new(LbSnapshot::default())),
            names: Mutex::new(HashMap::new()),
            locator,
        })
    }

    /// Keys affinity cookies with `secret` instead of a random per-process one, so that a
    /// restarted instance, or another instance sharing the secret, honours them.
    pub fn with_affinity_secret(mut self, secret: AffinitySecret) -> Self {
        self.secret = secret;
        self
    }

    /// Looks every origin DNS name of the current config up again; true when any resolves to
    /// other addresses than the snapshot uses (then the caller re-applies the config). A name
    /// that fails to resolve keeps its addresses.
    pub async fn reresolve(&self) -> bool {
        let names: Vec<(NameKey, Vec<SocketAddr>)> = self
            .names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let lookups = names
            .iter()
            .map(|((host, port), last)| resolve(host, *port, Some(last)));
        let found = futures_util::future::join_all(lookups).await;
        let mut fresh = HashMap::new();
        let mut changed = false;
        for (((host, port), last), now) in names.into_iter().zip(found) {
            if now != last {
                tracing::info!(%host, port, before = ?last, after = ?now, "origin name resolves to new addresses");
                changed = true;
            }
            fresh.insert((host, port), now);
        }
        if changed {
            *self.names.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
        }
        changed
    }

    /// The health checker (status, metrics).
    pub fn checker(&self) -> &HealthChecker {
        &self.checker
    }

    /// Prepares `config`'s pools: DNS names (of origins and FQDN endpoints) not looked up yet
    /// are resolved (at most
    /// [`RESOLVE_TIMEOUT`] each, all at once; a name that fails keeps no address) and every
    /// origin is flattened to one address. Touches nothing shared: the result takes effect
    /// with [`LoadBalancing::commit`], or is dropped.
    pub async fn prepare(&self, config: &Config) -> PreparedLb {
        let known = self.names.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut names = HashMap::new();
        let mut missing = Vec::new();
        for key in names_of(config) {
            if names.contains_key(&key) {
                continue;
            }
            match known.get(&key) {
                Some(addresses) => {
                    names.insert(key, addresses.clone());
                }
                None => missing.push(key),
            }
        }
        missing.sort();
        missing.dedup();
        let lookups = missing
            .iter()
            .map(|(host, port)| resolve(host, *port, None));
        let found = futures_util::future::join_all(lookups).await;
        names.extend(missing.into_iter().zip(found));
        let pools = config
            .pools
            .iter()
            .map(|(id, pool)| (id.clone(), Arc::new(flatten(pool, &names))))
            .collect();
        PreparedLb {
            names,
            pools,
            load_balancers: config.load_balancers.clone(),
        }
    }

    /// Makes prepared pools and load balancers the current ones: origin state, health and
    /// affinity sessions carry over from the previous ones for origins that stay, and the
    /// health checker is pointed at the new set of origins. Never fails.
    pub fn commit(&self, prepared: PreparedLb) -> Arc<LbSnapshot> {
        let PreparedLb {
            names,
            pools: flattened,
            load_balancers,
        } = prepared;
        let now = torii_steering::unix_seconds();
        *self.names.lock().unwrap_or_else(|e| e.into_inner()) = names.clone();
        let mut previous = self.previous.lock().unwrap_or_else(|e| e.into_inner());
        let mut runtimes: HashMap<PoolId, Arc<PoolRuntime>> = HashMap::new();
        for (id, pool) in &flattened {
            let runtime =
                PoolRuntime::reload(pool.clone(), previous.pools.get(id).map(|p| &**p), now);
            runtimes.insert(id.clone(), Arc::new(runtime));
        }
        // Health: one target per flattened origin; steering reads the state the relay writes.
        let mut targets = Vec::new();
        let mut states = HashMap::new();
        for (id, pool) in &flattened {
            let runtime = &runtimes[id];
            for (origin, state) in pool.origins.iter().zip(runtime.states()) {
                let key = OriginKey::new(id.clone(), origin.name.clone());
                states.insert(key, state.clone());
            }
            for target in Target::for_pool(pool) {
                targets.push(target);
            }
        }
        *self.states.write().unwrap_or_else(|e| e.into_inner()) = states;
        self.checker.update(targets);

        let targets_of = |id: &PoolId| -> Arc<Vec<OriginTarget>> {
            let Some(pool) = flattened.get(id) else {
                return Arc::new(Vec::new());
            };
            Arc::new(
                pool.origins
                    .iter()
                    .filter_map(|origin| {
                        let OriginAddress::Socket(address) = origin.address else {
                            return None;
                        };
                        let key = OriginKey::new(id.clone(), origin.name.clone());
                        Some(OriginTarget {
                            health: self.checker.handle(&key),
                            key,
                            address,
                            authority: Authority::try_from(address.to_string()).ok()?,
                            host: origin.host_override.clone(),
                        })
                    })
                    .collect(),
            )
        };
        let mut pool_targets: HashMap<PoolId, Arc<Vec<OriginTarget>>> = HashMap::new();
        for id in flattened.keys() {
            pool_targets.insert(id.clone(), targets_of(id));
        }
        let steered = |lb: Arc<LoadBalancer>, table: Option<Arc<AffinityTable>>| {
            let runtime = LoadBalancerRuntime::with_options(
                lb,
                |id| runtimes.get(id).cloned(),
                LbOptions {
                    secret: self.secret,
                    table,
                    ..LbOptions::default()
                },
            );
            let pools = runtime
                .pools()
                .iter()
                .map(|p| pool_targets.get(p.id()).cloned().unwrap_or_default())
                .collect();
            Arc::new(SteeredBackend {
                runtime: Arc::new(runtime),
                pools,
            })
        };
        let mut snapshot = LbSnapshot {
            names,
            ..LbSnapshot::default()
        };
        let mut tables = HashMap::new();
        for (id, lb) in &load_balancers {
            let backend = steered(lb.clone(), previous.tables.get(id).cloned());
            if let Some(table) = backend.runtime.affinity_table() {
                tables.insert(id.clone(), table.clone());
            }
            snapshot.load_balancers.insert(id.clone(), backend);
        }
        for id in flattened.keys() {
            snapshot.pools.insert(
                id.clone(),
                steered(Arc::new(pool_as_load_balancer(id)), None),
            );
        }
        *previous = Previous {
            pools: runtimes,
            tables,
        };
        let snapshot = Arc::new(snapshot);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = snapshot.clone();
        snapshot
    }

    /// The pools and load balancers of the config applied last.
    pub fn current(&self) -> Arc<LbSnapshot> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The client's location, if a database is loaded and knows the address.
    pub fn locate(&self, client: IpAddr) -> Option<torii_geo::ClientLocation> {
        self.locator.geo.as_ref()?.lookup(client)
    }

    /// The client's address (from `X-Forwarded-For` when the peer is a trusted proxy).
    pub fn client_ip(&self, peer: IpAddr, headers: &http::HeaderMap) -> IpAddr {
        if self.locator.trusted.is_empty() {
            return peer;
        }
        let lines = headers
            .get_all("x-forwarded-for")
            .iter()
            .map(HeaderValue::as_bytes);
        torii_geo::client_address_from_lines(peer, lines, &self.locator.trusted)
    }
}

/// Copies each origin's smoothed health-check round trip into its steering state once a
/// second (latency steering reads it there). Runs for the life of the process (the checker
/// it holds keeps its own tasks alive), like the proxy that owns it.
async fn copy_round_trips(
    states: std::sync::Weak<RwLock<HashMap<OriginKey, Arc<OriginState>>>>,
    checker: HealthChecker,
) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(states) = states.upgrade() else {
            return;
        };
        let states = states.read().unwrap_or_else(|e| e.into_inner());
        for (key, state) in states.iter() {
            if let Some(rtt) = checker.handle(key).and_then(|h| h.smoothed_rtt()) {
                state.set_rtt_micros(u32::try_from(rtt.as_micros()).unwrap_or(u32::MAX));
            }
        }
    }
}

/// A one-pool failover load balancer, for routes that name an `OriginPool` directly.
fn pool_as_load_balancer(id: &PoolId) -> LoadBalancer {
    LoadBalancer {
        id: LoadBalancerId {
            namespace: id.namespace.clone(),
            name: id.name.clone(),
        },
        hostnames: Vec::new(),
        default_pools: vec![id.clone()],
        fallback_pool: None,
        steering: Steering::Failover,
        session_affinity: None,
        failover: FailoverPolicy::default(),
        dns_ttl: 30,
        notifications: Vec::new(),
    }
}

/// Origin weights are multiplied by this when flattened, so that an origin with several
/// addresses can share its weight among them in whole numbers.
const WEIGHT_SCALE: u64 = 1000;

/// A DNS name and port of an origin or an FQDN endpoint, as resolved.
pub type NameKey = (Arc<str>, u16);

/// Every DNS name (and port) `config` needs resolved: origin names, and the FQDN endpoints of
/// Service origins and route backends.
fn names_of(config: &Config) -> impl Iterator<Item = NameKey> + '_ {
    let origins = config.pools.values().flat_map(|pool| &pool.origins);
    let origin_names = origins.flat_map(|origin| match &origin.address {
        OriginAddress::Host { host, port } => vec![(host.clone(), *port)],
        OriginAddress::Service { hosts, .. } => hosts.iter().map(host_key).collect(),
        OriginAddress::Socket(_) => Vec::new(),
    });
    let endpoint_names = config
        .backends
        .values()
        .flat_map(|backend| backend.hosts.iter().map(host_key));
    origin_names.chain(endpoint_names)
}

/// The [`NameKey`] of an FQDN endpoint.
fn host_key(host: &HostEndpoint) -> NameKey {
    (host.host.clone(), host.port)
}

/// Whether `host` is `localhost` or a name under it (RFC 6761 §6.3), any case, with or
/// without the trailing dot.
fn is_localhost_name(host: &str) -> bool {
    const SUFFIX: &[u8] = b".localhost";
    let name = host.strip_suffix('.').unwrap_or(host).as_bytes();
    name.eq_ignore_ascii_case(&SUFFIX[1..])
        || (name.len() > SUFFIX.len()
            && name[name.len() - SUFFIX.len()..].eq_ignore_ascii_case(SUFFIX))
}

/// How long one lookup of an origin's DNS name may take (a slow resolver must not stall
/// config changes or shutdown).
pub const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Resolves an origin's DNS name within [`RESOLVE_TIMEOUT`]; on failure keeps the addresses
/// of the last good lookup (a transient resolver failure must not empty a pool).
/// Names under `localhost.` are the IPv4 loopback address, answered here without asking a
/// resolver (RFC 6761 §6.3 lets resolvers do so; only 127.0.0.1, not `::1` too, because a
/// loopback backend is usually bound to one address and a second would get half its
/// connections).
async fn resolve(host: &Arc<str>, port: u16, last: Option<&Vec<SocketAddr>>) -> Vec<SocketAddr> {
    if is_localhost_name(host) {
        return vec![SocketAddr::from(([127, 0, 0, 1], port))];
    }
    let lookup = tokio::net::lookup_host((&**host, port));
    match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
        Ok(Ok(found)) => {
            let mut found: Vec<SocketAddr> = found.collect();
            found.sort();
            found.dedup();
            found
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, %host, port, "origin name did not resolve; keeping its last addresses");
            last.cloned().unwrap_or_default()
        }
        Err(_) => {
            tracing::warn!(%host, port, timeout = ?RESOLVE_TIMEOUT, "origin name lookup timed out; keeping its last addresses");
            last.cloned().unwrap_or_default()
        }
    }
}

/// The pool with one socket address per origin: Service origins become one origin per ready
/// endpoint, DNS names one per resolved address, each named `name/ip:port` (a name that does
/// not change with the number of addresses, so health and sessions stay with the address) and
/// given an equal share of the origin's weight. Names' addresses come from `names`
/// (resolved beforehand; the periodic re-resolution refreshes them).
fn flatten(pool: &OriginPool, names: &HashMap<NameKey, Vec<SocketAddr>>) -> OriginPool {
    let mut origins = Vec::with_capacity(pool.origins.len());
    for origin in &pool.origins {
        let addresses: Vec<SocketAddr> = match &origin.address {
            OriginAddress::Socket(_) => {
                origins.push(Origin {
                    weight: scaled_weight(origin.weight, 1),
                    ..origin.clone()
                });
                continue;
            }
            OriginAddress::Service {
                endpoints, hosts, ..
            } => {
                let mut addresses = endpoints.clone();
                for host in hosts {
                    if let Some(found) = names.get(&host_key(host)) {
                        addresses.extend_from_slice(found);
                    }
                }
                addresses.sort();
                addresses.dedup();
                addresses
            }
            OriginAddress::Host { host, port } => names
                .get(&(host.clone(), *port))
                .cloned()
                .unwrap_or_default(),
        };
        let weight = scaled_weight(origin.weight, addresses.len());
        for address in addresses {
            origins.push(Origin {
                name: format!("{}/{address}", origin.name).into(),
                address: OriginAddress::Socket(address),
                weight,
                ..origin.clone()
            });
        }
    }
    OriginPool {
        origins,
        ..pool.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use torii_config::{BackendId, Location, OriginBalancing, OutlierDetection};

    fn origin(name: &str, address: OriginAddress, weight: u32) -> Origin {
        Origin {
            name: name.into(),
            address,
            weight,
            enabled: true,
            host_override: None,
        }
    }

    fn service(endpoints: &[&str]) -> OriginAddress {
        OriginAddress::Service {
            backend: BackendId::Service {
                namespace: "default".into(),
                name: "web".into(),
                port: 80,
            },
            endpoints: endpoints.iter().map(|e| e.parse().unwrap()).collect(),
            hosts: vec![],
        }
    }

    fn pool(origins: Vec<Origin>) -> OriginPool {
        OriginPool {
            id: PoolId {
                namespace: "default".into(),
                name: "p".into(),
            },
            origins,
            monitor: None,
            minimum_origins: 1,
            balancing: OriginBalancing::WeightedRandom,
            location: Location::default(),
            load_shedding_percent: 0,
            outlier_detection: OutlierDetection::default(),
            protocol: torii_config::AppProtocol::Http1,
        }
    }

    fn flattened(pool: &OriginPool) -> Vec<(String, u32)> {
        let flat = flatten(pool, &HashMap::new());
        flat.origins
            .iter()
            .map(|o| (o.name.to_string(), o.weight))
            .collect()
    }

    #[test]
    fn addresses_of_one_origin_share_its_weight_and_keep_their_names() {
        let vm = origin(
            "vm",
            OriginAddress::Socket("127.0.0.9:80".parse().unwrap()),
            2,
        );
        let one = pool(vec![
            vm.clone(),
            origin("k8s", service(&["10.0.0.1:8080"]), 3),
        ]);
        assert_eq!(
            flattened(&one),
            [("vm".into(), 2000), ("k8s/10.0.0.1:8080".into(), 3000)]
        );
        let three = pool(vec![
            vm,
            origin(
                "k8s",
                service(&["10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080"]),
                3,
            ),
        ]);
        assert_eq!(
            flattened(&three),
            [
                ("vm".into(), 2000),
                ("k8s/10.0.0.1:8080".into(), 1000),
                ("k8s/10.0.0.2:8080".into(), 1000),
                ("k8s/10.0.0.3:8080".into(), 1000),
            ],
            "the Service keeps its weight of 3 in all, and the endpoint named alike with one endpoint"
        );
        assert_eq!(scaled_weight(0, 3), 0);
        assert_eq!(
            scaled_weight(1, 5000),
            1,
            "never rounded down to no traffic"
        );
    }

    #[tokio::test]
    async fn a_name_that_stops_resolving_keeps_its_last_addresses() {
        let last = vec!["127.0.0.7:80".parse().unwrap()];
        let kept = resolve(&Arc::from("no-such-origin.invalid"), 80, Some(&last)).await;
        assert_eq!(kept, last);
        let fresh = resolve(&Arc::from("localhost"), 80, None).await;
        assert!(fresh.iter().all(|a| a.ip().is_loopback()) && !fresh.is_empty());
    }

    /// RFC 6761 §6.3: `localhost` and every name under `localhost.` are the loopback
    /// address, answered without a resolver (a last answer is never needed).
    #[tokio::test]
    async fn localhost_names_are_loopback_without_a_lookup() {
        let loopback = vec![SocketAddr::from(([127, 0, 0, 1], 8080))];
        let cases = [
            ("localhost", true),
            ("localhost.", true),
            ("backend-a.localhost", true),
            ("Backend-A.LocalHost.", true),
            ("a.b.localhost", true),
            ("notlocalhost", false),
            ("localhost.example", false),
            ("xlocalhost", false),
            (".localhost", false),
            ("", false),
        ];
        for (name, special) in cases {
            assert_eq!(is_localhost_name(name), special, "{name:?}");
            if special {
                let last = vec!["10.9.9.9:1".parse().unwrap()];
                let got = resolve(&Arc::from(name), 8080, Some(&last)).await;
                assert_eq!(got, loopback, "{name:?}");
            }
        }
    }

    /// FQDN endpoints of a Service origin are flattened like its IP endpoints, one origin per
    /// address the name resolved to; a name that resolved to nothing adds none.
    #[test]
    fn service_origins_with_fqdn_endpoints_flatten_their_resolved_addresses() {
        let host = |name: &str| HostEndpoint {
            host: name.into(),
            port: 3000,
        };
        let mut address = service(&["10.0.0.1:3000"]);
        if let OriginAddress::Service { hosts, .. } = &mut address {
            *hosts = vec![host("a.localhost"), host("gone.example")];
        }
        let names = HashMap::from([
            (
                host_key(&host("a.localhost")),
                vec!["127.0.0.1:3000".parse().unwrap()],
            ),
            (host_key(&host("gone.example")), vec![]),
        ]);
        let flat = flatten(&pool(vec![origin("k8s", address, 2)]), &names);
        let got: Vec<(String, u32)> = flat
            .origins
            .iter()
            .map(|o| (o.name.to_string(), o.weight))
            .collect();
        assert_eq!(
            got,
            [
                ("k8s/10.0.0.1:3000".into(), 1000),
                ("k8s/127.0.0.1:3000".into(), 1000)
            ]
        );
    }
}
