//! torii's own kinds: `HealthMonitor`, `OriginPool` and `LoadBalancer` → validated
//! [`torii_config::lb`] values, with `Accepted` and `ResolvedRefs` conditions per object.
//!
//! An invalid object is left out of the config with `Accepted: False` naming the field; an
//! object whose references partly resolve keeps what resolved (`ResolvedRefs: False`), so one
//! bad pool never takes a load balancer's other pools down.

use crate::backends::{service_backend, ServiceBackendError};
use crate::conditions::{self, reason, Problem};
use crate::duration;
use crate::index::{Index, RefFrom, RefTo};
use crate::notifications;
use http::{HeaderName, HeaderValue, Method};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use torii_config::status::{Condition, ObjectStatus, StatusReport};
use torii_config::{
    AffinityFailover, AffinityKey, AppProtocol, FailoverPolicy, HashKey, HealthMonitor,
    LoadBalancer, LoadBalancerId, Location, MonitorId, MonitorProtocol, Origin, OriginAddress,
    OriginBalancing, OriginPool, OutlierDetection, PoolId, SessionAffinity, StatusCodes, Steering,
};
use torii_resources::lb as wire;
use torii_resources::ResourceSet;

/// The API group of torii's kinds.
pub(crate) const TORII_GROUP: &str = "torii.dev";

/// Region codes geo steering and pool locations accept (Cloudflare's).
const REGIONS: &[&str] = &[
    "WNAM", "ENAM", "WEU", "EEU", "NSAM", "SSAM", "OC", "ME", "NAF", "SAF", "SAS", "SEAS", "NEAS",
];

/// The pools and load balancers of a resource set.
#[derive(Debug, Default)]
pub(crate) struct LoadBalancing {
    /// Valid pools.
    pub pools: BTreeMap<PoolId, Arc<OriginPool>>,
    /// Valid load balancers.
    pub load_balancers: BTreeMap<LoadBalancerId, Arc<LoadBalancer>>,
}

/// Translates every torii kind of `set`, recording one [`ObjectStatus`] per object.
pub(crate) fn translate(
    set: &ResourceSet,
    index: &Index<'_>,
    status: &mut StatusReport,
) -> LoadBalancing {
    let mut monitors = BTreeMap::new();
    for located in &set.health_monitors {
        let object = &located.object;
        let (namespace, name) = names(&object.metadata);
        let id = MonitorId::new(namespace, name);
        let result = monitor(id.clone(), &object.spec);
        status.load_balancing.push(accepted(
            "HealthMonitor",
            namespace,
            name,
            &object.metadata,
            result.as_ref().err(),
            None,
        ));
        if let Ok(monitor) = result {
            monitors.insert(id, Arc::new(monitor));
        }
    }
    let mut out = LoadBalancing::default();
    for located in &set.origin_pools {
        let object = &located.object;
        let (namespace, name) = names(&object.metadata);
        let id = PoolId::new(namespace, name);
        let mut unresolved = Vec::new();
        let result = pool(id.clone(), &object.spec, &monitors, index, &mut unresolved);
        status.load_balancing.push(accepted(
            "OriginPool",
            namespace,
            name,
            &object.metadata,
            result.as_ref().err(),
            Some(&unresolved),
        ));
        if let Ok(pool) = result {
            out.pools.insert(id, Arc::new(pool));
        }
    }
    // In namespace/name order, so which of two load balancers claiming one hostname wins
    // does not depend on file order: the first keeps it, the other is not accepted.
    let mut ordered: Vec<_> = set.load_balancers.iter().collect();
    ordered.sort_by(|a, b| names(&a.object.metadata).cmp(&names(&b.object.metadata)));
    let mut claimed: BTreeMap<Arc<str>, LoadBalancerId> = BTreeMap::new();
    for located in ordered {
        let object = &located.object;
        let (namespace, name) = names(&object.metadata);
        let id = LoadBalancerId::new(namespace, name);
        let mut unresolved = Vec::new();
        let result = load_balancer(id.clone(), &object.spec, &out.pools, &mut unresolved)
            .and_then(|lb| {
                for (i, hostname) in lb.hostnames.iter().enumerate() {
                    if let Some(owner) = claimed.get(hostname) {
                        return Err(Problem::new(
                            reason::HOSTNAME_CONFLICT,
                            format!(
                                "spec.hostnames[{i}]: {hostname} is already served by LoadBalancer {owner}"
                            ),
                        ));
                    }
                }
                for hostname in &lb.hostnames {
                    claimed.insert(hostname.clone(), id.clone());
                }
                Ok(lb)
            });
        status.load_balancing.push(accepted(
            "LoadBalancer",
            namespace,
            name,
            &object.metadata,
            result.as_ref().err(),
            Some(&unresolved),
        ));
        if let Ok(lb) = result {
            out.load_balancers.insert(id, Arc::new(lb));
        }
    }
    out
}

/// An object's namespace (`default` when unset) and name.
pub(crate) fn names(meta: &torii_resources::wire::ObjectMeta) -> (&str, &str) {
    (
        meta.namespace.as_deref().unwrap_or("default"),
        meta.name.as_deref().unwrap_or(""),
    )
}

/// The object's conditions: `Accepted` from `invalid`, `ResolvedRefs` from `unresolved`
/// (when the kind has references).
pub(crate) fn accepted(
    kind: &'static str,
    namespace: &str,
    name: &str,
    meta: &torii_resources::wire::ObjectMeta,
    invalid: Option<&Problem>,
    unresolved: Option<&[Problem]>,
) -> ObjectStatus {
    let generation = meta.generation;
    let mut conditions = vec![match invalid {
        None => conditions::with_generation(
            Condition::ok(
                conditions::ACCEPTED,
                reason::ACCEPTED,
                format!("{kind} is valid"),
            ),
            generation,
        ),
        Some(problem) => problem.condition(conditions::ACCEPTED, generation),
    }];
    if let Some(unresolved) = unresolved {
        conditions.push(match unresolved.first() {
            None => conditions::with_generation(
                Condition::ok(
                    conditions::RESOLVED_REFS,
                    reason::RESOLVED_REFS,
                    "all references resolved",
                ),
                generation,
            ),
            Some(first) => {
                let message = unresolved
                    .iter()
                    .map(|p| p.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ");
                Problem::new(first.reason, message).condition(conditions::RESOLVED_REFS, generation)
            }
        });
    }
    ObjectStatus {
        kind,
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        conditions,
    }
}

/// An invalid field: `spec.field: message`.
pub(crate) fn invalid(field: &str, message: impl std::fmt::Display) -> Problem {
    Problem::new(reason::INVALID, format!("{field}: {message}"))
}

/// A duration field, `default` when unset.
pub(crate) fn parse_duration(
    field: &str,
    text: Option<&str>,
    default: Duration,
) -> Result<Duration, Problem> {
    match text {
        None => Ok(default),
        Some(text) => duration::parse(text).map_err(|message| invalid(field, message)),
    }
}

/// A list of `{name, value}` headers.
pub(crate) fn headers(
    field: &str,
    entries: Option<&[wire::HeaderEntry]>,
) -> Result<Vec<(HeaderName, HeaderValue)>, Problem> {
    let mut out = Vec::new();
    for (i, entry) in entries.unwrap_or_default().iter().enumerate() {
        let name = HeaderName::from_bytes(entry.name.as_bytes()).map_err(|_| {
            invalid(
                &format!("{field}[{i}].name"),
                format!("invalid header name {:?}", entry.name),
            )
        })?;
        let value = HeaderValue::from_str(&entry.value)
            .map_err(|_| invalid(&format!("{field}[{i}].value"), "invalid header value"))?;
        out.push((name, value));
    }
    Ok(out)
}

/// `HealthMonitor` → [`HealthMonitor`].
fn monitor(id: MonitorId, spec: &wire::HealthMonitorSpec) -> Result<HealthMonitor, Problem> {
    let protocol = match spec.type_.as_deref().unwrap_or("http") {
        "http" => MonitorProtocol::Http,
        "https" => MonitorProtocol::Https,
        "tcp" => MonitorProtocol::Tcp,
        other => {
            return Err(invalid(
                "spec.type",
                format!("unknown type {other:?} (expected http, https or tcp)"),
            ))
        }
    };
    let method = match spec.method.as_deref() {
        None => Method::GET,
        Some(text) => Method::from_bytes(text.as_bytes())
            .map_err(|_| invalid("spec.method", format!("invalid method {text:?}")))?,
    };
    let path = spec.path.clone().unwrap_or_else(|| "/".to_owned());
    if !path.starts_with('/') || path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(invalid(
            "spec.path",
            format!("{path:?} must start with / and hold no spaces or control characters"),
        ));
    }
    if spec.port == Some(0) {
        return Err(invalid("spec.port", "must be 1 to 65535"));
    }
    let expected_codes = StatusCodes::parse(spec.expected_codes.as_deref().unwrap_or("2xx"))
        .map_err(|error| invalid("spec.expectedCodes", error))?;
    let interval = parse_duration(
        "spec.interval",
        spec.interval.as_deref(),
        Duration::from_secs(60),
    )?;
    let timeout = parse_duration(
        "spec.timeout",
        spec.timeout.as_deref(),
        Duration::from_secs(5),
    )?;
    if interval.is_zero() {
        return Err(invalid("spec.interval", "must be above zero"));
    }
    if timeout.is_zero() || timeout > interval {
        return Err(invalid(
            "spec.timeout",
            "must be above zero and at most the interval",
        ));
    }
    let retries = spec.retries.unwrap_or(1);
    if retries > 5 {
        return Err(invalid("spec.retries", "at most 5"));
    }
    let threshold = |field: &str, value: Option<u32>| match value.unwrap_or(1) {
        0 => Err(invalid(field, "must be at least 1")),
        n if n > 100 => Err(invalid(field, "at most 100")),
        n => Ok(n),
    };
    Ok(HealthMonitor {
        id,
        protocol,
        method,
        path,
        port: spec.port,
        headers: headers("spec.headers", spec.headers.as_deref())?,
        expected_codes,
        expected_body: spec
            .expected_body
            .as_ref()
            .filter(|b| !b.is_empty())
            .map(|b| b.to_lowercase()),
        follow_redirects: spec.follow_redirects.unwrap_or(false),
        verify_tls: !spec.allow_insecure.unwrap_or(false),
        interval,
        timeout,
        retries,
        healthy_threshold: threshold("spec.consecutiveUp", spec.consecutive_up)?,
        unhealthy_threshold: threshold("spec.consecutiveDown", spec.consecutive_down)?,
    })
}

/// `OriginPool` → [`OriginPool`]. References that do not resolve (a missing monitor, a
/// Service that does not exist) go to `unresolved`; the pool keeps its other origins.
fn pool(
    id: PoolId,
    spec: &wire::OriginPoolSpec,
    monitors: &BTreeMap<MonitorId, Arc<HealthMonitor>>,
    index: &Index<'_>,
    unresolved: &mut Vec<Problem>,
) -> Result<OriginPool, Problem> {
    if spec.origins.is_empty() {
        return Err(invalid("spec.origins", "a pool needs at least one origin"));
    }
    if spec.origins.len() > 10_000 {
        return Err(invalid("spec.origins", "at most 10000 origins"));
    }
    let mut origins: Vec<Origin> = Vec::with_capacity(spec.origins.len());
    for (i, origin) in spec.origins.iter().enumerate() {
        let field = format!("spec.origins[{i}]");
        if origin.name.is_empty() {
            return Err(invalid(&format!("{field}.name"), "must not be empty"));
        }
        if origins.iter().any(|o| *o.name == *origin.name) {
            return Err(invalid(
                &format!("{field}.name"),
                format!("duplicate origin name {:?}", origin.name),
            ));
        }
        let address = match (&origin.address, &origin.service_ref) {
            (Some(address), None) => {
                parse_address(address).map_err(|m| invalid(&format!("{field}.address"), m))?
            }
            (None, Some(service)) => {
                let namespace = service.namespace.as_deref().unwrap_or(&id.namespace);
                let permitted = namespace == &*id.namespace
                    || index.reference_permitted(
                        RefFrom {
                            group: TORII_GROUP,
                            kind: "OriginPool",
                            namespace: &id.namespace,
                        },
                        RefTo {
                            group: "",
                            kind: "Service",
                            namespace,
                            name: &service.name,
                        },
                    );
                if !permitted {
                    unresolved.push(Problem::new(
                        reason::REF_NOT_PERMITTED,
                        format!("{field}.serviceRef: Service {namespace}/{} is not permitted by any ReferenceGrant", service.name),
                    ));
                    OriginAddress::Service {
                        backend: service_id(namespace, &service.name, service.port),
                        endpoints: Vec::new(),
                        hosts: Vec::new(),
                    }
                } else {
                    match service_backend(index, namespace, &service.name, service.port) {
                        Ok(backend) => OriginAddress::Service {
                            endpoints: backend.endpoints.iter().map(|e| e.address).collect(),
                            hosts: backend.hosts,
                            backend: backend.id,
                        },
                        Err(ServiceBackendError(problem)) => {
                            unresolved.push(problem.context(format!("{field}.serviceRef")));
                            OriginAddress::Service {
                                backend: service_id(namespace, &service.name, service.port),
                                endpoints: Vec::new(),
                                hosts: Vec::new(),
                            }
                        }
                    }
                }
            }
            _ => return Err(invalid(&field, "exactly one of address and serviceRef")),
        };
        let host_override = match &origin.host {
            None => None,
            Some(host) => Some(
                HeaderValue::from_str(host)
                    .map_err(|_| invalid(&format!("{field}.host"), "invalid Host value"))?,
            ),
        };
        origins.push(Origin {
            name: origin.name.as_str().into(),
            address,
            weight: origin.weight.unwrap_or(1),
            enabled: origin.enabled.unwrap_or(true),
            host_override,
        });
    }
    let monitor = match &spec.monitor {
        None => None,
        Some(name) => {
            let found = monitors.get(&MonitorId::new(&id.namespace, name)).cloned();
            if found.is_none() {
                unresolved.push(Problem::new(
                    reason::BACKEND_NOT_FOUND,
                    format!(
                        "spec.monitor: HealthMonitor {}/{name} does not exist or is invalid",
                        id.namespace
                    ),
                ));
            }
            found
        }
    };
    let balancing = match &spec.load_balancing {
        None => OriginBalancing::default(),
        Some(balancing) => origin_balancing(balancing)?,
    };
    let location = match &spec.location {
        None => Location::default(),
        Some(location) => parse_location("spec.location", location)?,
    };
    let load_shedding_percent = spec.load_shedding.as_ref().map_or(0, |s| s.percent);
    if load_shedding_percent > 100 {
        return Err(invalid("spec.loadShedding.percent", "at most 100"));
    }
    let outlier_detection = match &spec.outlier_detection {
        None => OutlierDetection::default(),
        Some(o) => {
            let defaults = OutlierDetection::default();
            let detection = OutlierDetection {
                consecutive_failures: o
                    .consecutive_failures
                    .unwrap_or(defaults.consecutive_failures),
                base_ejection: parse_duration(
                    "spec.outlierDetection.baseEjectionTime",
                    o.base_ejection_time.as_deref(),
                    defaults.base_ejection,
                )?,
                max_ejection: parse_duration(
                    "spec.outlierDetection.maxEjectionTime",
                    o.max_ejection_time.as_deref(),
                    defaults.max_ejection,
                )?,
                max_ejected_percent: o
                    .max_ejection_percent
                    .unwrap_or(defaults.max_ejected_percent),
            };
            if detection.max_ejected_percent > 100 {
                return Err(invalid(
                    "spec.outlierDetection.maxEjectionPercent",
                    "at most 100",
                ));
            }
            if detection.max_ejection < detection.base_ejection {
                return Err(invalid(
                    "spec.outlierDetection.maxEjectionTime",
                    "must be at least baseEjectionTime",
                ));
            }
            detection
        }
    };
    let protocol = match spec.app_protocol.as_deref() {
        None | Some("http") => AppProtocol::Http1,
        Some("h2c") => AppProtocol::H2c,
        Some(other) => {
            return Err(invalid(
                "spec.appProtocol",
                format!("unknown protocol {other:?} (expected http or h2c)"),
            ))
        }
    };
    let minimum_origins = spec.minimum_origins.unwrap_or(1);
    // Services and DNS names may stand for several addresses; fixed addresses are counted.
    let fixed = origins
        .iter()
        .all(|o| matches!(o.address, OriginAddress::Socket(_)));
    if fixed && minimum_origins as usize > origins.len() {
        return Err(invalid(
            "spec.minimumOrigins",
            format!(
                "{minimum_origins} is more than the pool's {} origins: the pool could never be healthy",
                origins.len()
            ),
        ));
    }
    Ok(OriginPool {
        id,
        origins,
        monitor,
        minimum_origins,
        balancing,
        location,
        load_shedding_percent,
        outlier_detection,
        protocol,
    })
}

fn service_id(namespace: &str, name: &str, port: u16) -> torii_config::BackendId {
    torii_config::BackendId::Service {
        namespace: namespace.into(),
        name: name.into(),
        port,
    }
}

/// `host:port` → an address: an IP literal becomes a socket address, a name is resolved later.
fn parse_address(text: &str) -> Result<OriginAddress, String> {
    if let Ok(address) = text.parse::<SocketAddr>() {
        if address.port() == 0 {
            return Err("port must be 1 to 65535".into());
        }
        return Ok(OriginAddress::Socket(address));
    }
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("{text:?} is not host:port"))?;
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("{text:?}: port must be 1 to 65535"))?;
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    torii_config::HostnameMatch::parse(&host)
        .ok()
        .filter(|h| matches!(h, torii_config::HostnameMatch::Exact(_)))
        .ok_or_else(|| format!("{text:?}: {host:?} is not an IP address or a DNS name"))?;
    Ok(OriginAddress::Host {
        host: host.into(),
        port,
    })
}

fn origin_balancing(spec: &wire::OriginBalancingSpec) -> Result<OriginBalancing, Problem> {
    let field = "spec.loadBalancing.policy";
    Ok(match spec.policy.as_deref().unwrap_or("weightedRandom") {
        "weightedRandom" => OriginBalancing::WeightedRandom,
        "roundRobin" => OriginBalancing::RoundRobin,
        "leastOutstandingRequests" => OriginBalancing::LeastOutstandingRequests,
        "leastConnections" => OriginBalancing::LeastConnections,
        "consistentHash" => {
            let hash_on = spec.hash_on.as_ref().ok_or_else(|| invalid("spec.loadBalancing.hashOn", "consistentHash needs hashOn"))?;
            let name = || {
                hash_on.name.as_deref().filter(|n| !n.is_empty()).ok_or_else(|| invalid("spec.loadBalancing.hashOn.name", "a header or cookie name is needed"))
            };
            OriginBalancing::ConsistentHash(match hash_on.type_.as_str() {
                "clientIp" => HashKey::ClientIp,
                "header" => HashKey::Header(HeaderName::from_bytes(name()?.as_bytes()).map_err(|_| invalid("spec.loadBalancing.hashOn.name", "invalid header name"))?),
                "cookie" => HashKey::Cookie(name()?.into()),
                other => return Err(invalid("spec.loadBalancing.hashOn.type", format!("unknown type {other:?} (expected clientIp, header or cookie)"))),
            })
        }
        other => return Err(invalid(field, format!("unknown policy {other:?} (expected weightedRandom, roundRobin, leastOutstandingRequests, leastConnections or consistentHash)"))),
    })
}

fn region(field: &str, text: &str) -> Result<Arc<str>, Problem> {
    let upper = text.to_ascii_uppercase();
    if REGIONS.contains(&upper.as_str()) {
        Ok(upper.into())
    } else {
        Err(invalid(
            field,
            format!(
                "unknown region {text:?} (expected one of {})",
                REGIONS.join(", ")
            ),
        ))
    }
}

fn country(field: &str, text: &str) -> Result<Arc<str>, Problem> {
    if text.len() == 2 && text.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(text.to_ascii_uppercase().into())
    } else {
        Err(invalid(
            field,
            format!("{text:?} is not an ISO 3166-1 alpha-2 country code"),
        ))
    }
}

fn parse_location(field: &str, spec: &wire::LocationSpec) -> Result<Location, Problem> {
    if let Some(lat) = spec.latitude {
        if !(-90.0..=90.0).contains(&lat) {
            return Err(invalid(&format!("{field}.latitude"), "must be -90 to 90"));
        }
    }
    if let Some(lon) = spec.longitude {
        if !(-180.0..=180.0).contains(&lon) {
            return Err(invalid(
                &format!("{field}.longitude"),
                "must be -180 to 180",
            ));
        }
    }
    if spec.latitude.is_some() != spec.longitude.is_some() {
        return Err(invalid(field, "latitude and longitude go together"));
    }
    Ok(Location {
        latitude: spec.latitude,
        longitude: spec.longitude,
        region: spec
            .region
            .as_deref()
            .map(|r| region(&format!("{field}.region"), r))
            .transpose()?,
        country: spec
            .country
            .as_deref()
            .map(|c| country(&format!("{field}.country"), c))
            .transpose()?,
    })
}

/// `LoadBalancer` → [`LoadBalancer`]. Pools that are missing or invalid are left out (and
/// reported); with none left the load balancer is not accepted.
fn load_balancer(
    id: LoadBalancerId,
    spec: &wire::LoadBalancerSpec,
    pools: &BTreeMap<PoolId, Arc<OriginPool>>,
    unresolved: &mut Vec<Problem>,
) -> Result<LoadBalancer, Problem> {
    let mut resolve = |field: String, name: &str| -> Option<PoolId> {
        let pool = PoolId::new(&id.namespace, name);
        if pools.contains_key(&pool) {
            Some(pool)
        } else {
            unresolved.push(Problem::new(
                reason::BACKEND_NOT_FOUND,
                format!(
                    "{field}: OriginPool {}/{name} does not exist or is invalid",
                    id.namespace
                ),
            ));
            None
        }
    };
    let mut hostnames = Vec::new();
    for (i, hostname) in spec.hostnames.iter().enumerate() {
        let parsed = torii_config::HostnameMatch::parse(hostname.trim_end_matches('.'))
            .map_err(|error| invalid(&format!("spec.hostnames[{i}]"), error))?;
        match parsed {
            torii_config::HostnameMatch::Exact(name) => hostnames.push(Arc::from(name)),
            torii_config::HostnameMatch::Wildcard(_) => {
                return Err(invalid(
                    &format!("spec.hostnames[{i}]"),
                    "wildcards are not supported",
                ))
            }
        }
    }
    if spec.default_pools.is_empty() {
        return Err(invalid("spec.defaultPools", "at least one pool is needed"));
    }
    let default_pools: Vec<PoolId> = spec
        .default_pools
        .iter()
        .enumerate()
        .filter_map(|(i, name)| resolve(format!("spec.defaultPools[{i}]"), name))
        .collect();
    let fallback_pool = spec
        .fallback_pool
        .as_deref()
        .and_then(|name| resolve("spec.fallbackPool".into(), name));
    if default_pools.is_empty() && fallback_pool.is_none() {
        return Err(Problem::new(
            reason::BACKEND_NOT_FOUND,
            "spec.defaultPools: no pool resolved",
        ));
    }
    let steering = match &spec.steering {
        None => Steering::Failover,
        Some(steering) => match steering.policy.as_deref().unwrap_or("failover") {
            "failover" => Steering::Failover,
            "weighted" => {
                let mut weights = BTreeMap::new();
                for (name, weight) in steering.weights.iter().flatten() {
                    if let Some(pool) = resolve(format!("spec.steering.weights.{name}"), name) {
                        weights.insert(pool, *weight);
                    }
                }
                Steering::Weighted(weights)
            }
            "geo" => {
                let mut countries = BTreeMap::new();
                for (code, names) in steering.countries.iter().flatten() {
                    let field = format!("spec.steering.countries.{code}");
                    let code = country(&field, code)?;
                    let list: Vec<PoolId> = names.iter().filter_map(|n| resolve(field.clone(), n)).collect();
                    countries.insert(code, list);
                }
                let mut regions = BTreeMap::new();
                for (code, names) in steering.regions.iter().flatten() {
                    let field = format!("spec.steering.regions.{code}");
                    let code = region(&field, code)?;
                    let list: Vec<PoolId> = names.iter().filter_map(|n| resolve(field.clone(), n)).collect();
                    regions.insert(code, list);
                }
                Steering::Geo { countries, regions }
            }
            "proximity" => Steering::Proximity,
            "leastOutstandingRequests" => Steering::LeastOutstandingRequests,
            "latency" => Steering::Latency,
            other => return Err(invalid("spec.steering.policy", format!("unknown policy {other:?} (expected failover, weighted, geo, proximity, leastOutstandingRequests or latency)"))),
        },
    };
    let session_affinity = match &spec.session_affinity {
        None => None,
        Some(affinity) => {
            let name = affinity.name.clone().filter(|n| !n.is_empty());
            let key =
                match affinity.type_.as_deref().unwrap_or("cookie") {
                    "cookie" => {
                        let name = name.unwrap_or_else(|| "torii_affinity".to_owned());
                        if !name
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                        {
                            return Err(invalid(
                                "spec.sessionAffinity.name",
                                "a cookie name is letters, digits, -, _ and .",
                            ));
                        }
                        AffinityKey::Cookie(name.into())
                    }
                    "header" => {
                        let name = name.ok_or_else(|| {
                            invalid("spec.sessionAffinity.name", "a header name is needed")
                        })?;
                        AffinityKey::Header(HeaderName::from_bytes(name.as_bytes()).map_err(
                            |_| invalid("spec.sessionAffinity.name", "invalid header name"),
                        )?)
                    }
                    "clientIp" => AffinityKey::ClientIp,
                    other => {
                        return Err(invalid(
                            "spec.sessionAffinity.type",
                            format!("unknown type {other:?} (expected cookie, header or clientIp)"),
                        ))
                    }
                };
            let failover = match affinity.failover.as_deref().unwrap_or("none") {
                "none" => AffinityFailover::None,
                "temporary" => AffinityFailover::Temporary,
                "sticky" => AffinityFailover::Sticky,
                other => {
                    return Err(invalid(
                        "spec.sessionAffinity.failover",
                        format!("unknown value {other:?} (expected none, temporary or sticky)"),
                    ))
                }
            };
            let ttl = parse_duration(
                "spec.sessionAffinity.ttl",
                affinity.ttl.as_deref(),
                Duration::from_secs(3600),
            )?;
            // Sessions and cookies are kept in whole seconds: less than one never pins.
            if ttl < Duration::from_secs(1) {
                return Err(invalid("spec.sessionAffinity.ttl", "must be at least 1s"));
            }
            Some(SessionAffinity {
                key,
                ttl,
                failover,
                drain: parse_duration(
                    "spec.sessionAffinity.drainPeriod",
                    affinity.drain_period.as_deref(),
                    Duration::ZERO,
                )?,
            })
        }
    };
    let failover = match &spec.failover {
        None => FailoverPolicy::default(),
        Some(f) => {
            let defaults = FailoverPolicy::default();
            let retries = f.retries.unwrap_or(defaults.retries);
            if retries > 10 {
                return Err(invalid("spec.failover.retries", "at most 10"));
            }
            FailoverPolicy {
                on_connect_error: f.connect_error.unwrap_or(defaults.on_connect_error),
                on_reset: f.reset.unwrap_or(defaults.on_reset),
                on_status: match &f.status_codes {
                    None => StatusCodes::default(),
                    Some(text) => StatusCodes::parse(text)
                        .map_err(|error| invalid("spec.failover.statusCodes", error))?,
                },
                retries,
                across_pools: f.across_pools.unwrap_or(defaults.across_pools),
                retry_non_idempotent: f
                    .retry_non_idempotent
                    .unwrap_or(defaults.retry_non_idempotent),
                attempt_timeout: {
                    let timeout = parse_duration(
                        "spec.failover.attemptTimeout",
                        f.attempt_timeout.as_deref(),
                        defaults.attempt_timeout,
                    )?;
                    if timeout.is_zero() {
                        return Err(invalid(
                            "spec.failover.attemptTimeout",
                            "must be above zero",
                        ));
                    }
                    timeout
                },
            }
        }
    };
    let notifications = notifications::targets(
        spec.notifications.as_deref().unwrap_or_default(),
        |field, name| {
            // A pool of the filter that does not resolve is reported but stays in the
            // filter: dropping it would leave an empty filter, which means every pool.
            resolve(field, name);
            PoolId::new(&id.namespace, name)
        },
    )?;
    Ok(LoadBalancer {
        id,
        hostnames,
        default_pools,
        fallback_pool,
        steering,
        session_affinity,
        failover,
        dns_ttl: spec.ttl.unwrap_or(30),
        notifications,
    })
}
