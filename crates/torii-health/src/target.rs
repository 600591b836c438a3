//! What is checked: one [`Target`] per origin of a pool.

use http::HeaderValue;
use serde::{Serialize, Serializer};
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use torii_config::lb::{HealthMonitor, Origin, OriginAddress, OriginPool, OutlierDetection};
use torii_config::PoolId;

/// An origin of a pool: the pool's id and the origin's name (unique in its pool).
///
/// Displayed and serialized as `namespace/pool/origin`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OriginKey {
    /// The pool the origin belongs to.
    pub pool: PoolId,
    /// The origin's name in that pool.
    pub origin: Arc<str>,
}

impl OriginKey {
    /// Builds a key from a pool id and an origin name.
    pub fn new(pool: PoolId, origin: impl Into<Arc<str>>) -> Self {
        Self {
            pool,
            origin: origin.into(),
        }
    }
}

impl fmt::Display for OriginKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.pool, self.origin)
    }
}

impl Serialize for OriginKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One origin to watch: where it is, how to check it, when to eject it.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Which origin this is. Its pool is the group the ejection limit applies to.
    pub key: OriginKey,
    /// Where the origin listens (the monitor's `port`, when set, replaces the port).
    pub address: SocketAddr,
    /// The active monitor; `None` leaves the origin to outlier detection alone.
    pub monitor: Option<Arc<HealthMonitor>>,
    /// Passive outlier detection of the origin's pool.
    pub outlier: OutlierDetection,
    /// `Host` sent by http(s) monitors that set none themselves (the origin's host override);
    /// without either, the address is sent.
    pub host: Option<HeaderValue>,
}

impl Target {
    /// A target without a monitor, with default outlier detection.
    pub fn new(key: OriginKey, address: SocketAddr) -> Self {
        Self {
            key,
            address,
            monitor: None,
            outlier: OutlierDetection::default(),
            host: None,
        }
    }

    /// The target of `origin` of `pool` at `address`: the pool's monitor and outlier
    /// detection, the origin's host override.
    pub fn for_origin(pool: &OriginPool, origin: &Origin, address: SocketAddr) -> Self {
        Self {
            key: OriginKey::new(pool.id.clone(), Arc::clone(&origin.name)),
            address,
            monitor: pool.monitor.clone(),
            outlier: pool.outlier_detection,
            host: origin.host_override.clone(),
        }
    }

    /// The targets of a pool's enabled origins that have a fixed socket address, or a
    /// Service with exactly one endpoint. Origins named by DNS (and Services with several
    /// endpoints) need resolving first: build their targets with [`Target::for_origin`].
    pub fn for_pool(pool: &OriginPool) -> Vec<Target> {
        pool.origins
            .iter()
            .filter(|origin| origin.enabled)
            .filter_map(|origin| match &origin.address {
                OriginAddress::Socket(address) => Some(Self::for_origin(pool, origin, *address)),
                OriginAddress::Service { endpoints, .. } if endpoints.len() == 1 => {
                    Some(Self::for_origin(pool, origin, endpoints[0]))
                }
                _ => None,
            })
            .collect()
    }

    /// The address the monitor connects to: the origin's, with the monitor's port if set.
    pub fn check_address(&self) -> SocketAddr {
        match self.monitor.as_ref().and_then(|monitor| monitor.port) {
            Some(port) => SocketAddr::new(self.address.ip(), port),
            None => self.address,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use torii_config::lb::OriginBalancing;
    use torii_config::BackendId;

    fn origin(name: &str, address: OriginAddress, enabled: bool) -> Origin {
        Origin {
            name: name.into(),
            address,
            weight: 1,
            enabled,
            host_override: (name == "a").then(|| HeaderValue::from_static("a.example")),
        }
    }

    #[test]
    fn a_pool_gives_one_target_per_enabled_origin_with_an_address() {
        let socket = |last: u8| SocketAddr::from(([127, 0, 0, last], 80));
        let outlier = OutlierDetection {
            consecutive_failures: 7,
            ..OutlierDetection::default()
        };
        let pool = OriginPool {
            id: PoolId::new("ns", "web"),
            origins: vec![
                origin("a", OriginAddress::Socket(socket(1)), true),
                origin("off", OriginAddress::Socket(socket(2)), false),
                origin(
                    "dns",
                    OriginAddress::Host {
                        host: "origin.example".into(),
                        port: 80,
                    },
                    true,
                ),
                origin(
                    "svc",
                    OriginAddress::Service {
                        backend: BackendId::Service {
                            namespace: "ns".into(),
                            name: "svc".into(),
                            port: 80,
                        },
                        endpoints: vec![socket(3)],
                        hosts: vec![],
                    },
                    true,
                ),
            ],
            monitor: None,
            minimum_origins: 1,
            balancing: OriginBalancing::default(),
            location: Default::default(),
            load_shedding_percent: 0,
            outlier_detection: outlier,
            protocol: Default::default(),
        };
        let targets = Target::for_pool(&pool);
        let summary: Vec<(String, SocketAddr)> = targets
            .iter()
            .map(|target| (target.key.to_string(), target.address))
            .collect();
        assert_eq!(
            summary,
            [
                ("ns/web/a".to_string(), socket(1)),
                ("ns/web/svc".to_string(), socket(3))
            ]
        );
        assert_eq!(targets[0].host, Some(HeaderValue::from_static("a.example")));
        assert_eq!(targets[0].outlier, outlier);
        assert_eq!(targets[0].check_address(), socket(1));
    }
}
