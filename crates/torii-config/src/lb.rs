//! Global load balancing: torii's own kinds (`torii.dev/v1alpha1` `HealthMonitor`,
//! `OriginPool`, `LoadBalancer`) as validated domain values.
//!
//! Translation builds these from the wire objects; `torii-health` runs the monitors,
//! `torii-steering` picks pools and origins, and the proxy sends to the result.

use crate::BackendId;
use http::{HeaderName, HeaderValue, Method};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// An object of API group `torii.dev`, by kind-specific type, namespace and name.
macro_rules! object_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        pub struct $name {
            /// The object's namespace.
            pub namespace: Arc<str>,
            /// The object's name.
            pub name: Arc<str>,
        }

        impl $name {
            /// Builds the id from a namespace and a name.
            pub fn new(namespace: &str, name: &str) -> Self {
                Self { namespace: namespace.into(), name: name.into() }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}/{}", self.namespace, self.name)
            }
        }
    };
}

object_id!(
    /// An `OriginPool`.
    PoolId
);
object_id!(
    /// A `LoadBalancer`.
    LoadBalancerId
);
object_id!(
    /// A `HealthMonitor`.
    MonitorId
);

/// A set of HTTP status codes, as written in a monitor or a failover policy:
/// `"2xx"`, `"200,301-302"`, `"5xx,429"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize)]
pub struct StatusCodes {
    /// Inclusive ranges, sorted, non-overlapping.
    ranges: Vec<(u16, u16)>,
}

/// A status-code set that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid status codes {text:?}: {reason}")]
pub struct InvalidStatusCodes {
    /// The offending text.
    pub text: String,
    /// Why it is invalid.
    pub reason: &'static str,
}

impl StatusCodes {
    /// Parses a comma-separated list of codes (`200`), ranges (`301-302`) and classes (`2xx`).
    pub fn parse(text: &str) -> Result<Self, InvalidStatusCodes> {
        let bad = |reason| InvalidStatusCodes {
            text: text.to_string(),
            reason,
        };
        let mut ranges = Vec::new();
        for part in text.split(',').map(str::trim) {
            if part.is_empty() {
                return Err(bad("empty entry"));
            }
            let lower = part.to_ascii_lowercase();
            let range = if let Some(class) = lower.strip_suffix("xx") {
                let digit: u16 = class
                    .parse()
                    .map_err(|_| bad("a class is a digit followed by xx"))?;
                if !(1..=5).contains(&digit) || class.len() != 1 {
                    return Err(bad("a class is 1xx to 5xx"));
                }
                (digit * 100, digit * 100 + 99)
            } else if let Some((from, to)) = lower.split_once('-') {
                let from = parse_code(from.trim()).ok_or_else(|| bad("codes are 100 to 599"))?;
                let to = parse_code(to.trim()).ok_or_else(|| bad("codes are 100 to 599"))?;
                if from > to {
                    return Err(bad("a range must go upwards"));
                }
                (from, to)
            } else {
                let code = parse_code(&lower).ok_or_else(|| bad("codes are 100 to 599"))?;
                (code, code)
            };
            ranges.push(range);
        }
        ranges.sort_unstable();
        let mut merged: Vec<(u16, u16)> = Vec::with_capacity(ranges.len());
        for (from, to) in ranges {
            match merged.last_mut() {
                Some(last) if from <= last.1.saturating_add(1) => last.1 = last.1.max(to),
                _ => merged.push((from, to)),
            }
        }
        Ok(Self { ranges: merged })
    }

    /// The set of the given single codes.
    pub fn from_codes(codes: &[u16]) -> Self {
        let text: Vec<String> = codes.iter().map(u16::to_string).collect();
        if text.is_empty() {
            return Self::default();
        }
        Self::parse(&text.join(",")).unwrap_or_default()
    }

    /// Whether `code` is in the set.
    pub fn contains(&self, code: u16) -> bool {
        self.ranges
            .iter()
            .any(|&(from, to)| from <= code && code <= to)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

fn parse_code(text: &str) -> Option<u16> {
    let code: u16 = text.parse().ok()?;
    (100..=599).contains(&code).then_some(code)
}

/// What a monitor speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MonitorProtocol {
    /// An HTTP request over plain TCP.
    Http,
    /// An HTTP request over TLS.
    Https,
    /// A TCP connect.
    Tcp,
}

/// An active health check (`HealthMonitor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthMonitor {
    /// Which monitor this is.
    pub id: MonitorId,
    /// What the check speaks.
    pub protocol: MonitorProtocol,
    /// HTTP method (http/https).
    pub method: Method,
    /// Request path and query (http/https).
    pub path: String,
    /// Port to check instead of the origin's own.
    pub port: Option<u16>,
    /// Request headers, `Host` included when set.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Status codes that count as healthy.
    pub expected_codes: StatusCodes,
    /// A substring the body must contain, lower-cased (compared case-insensitively).
    pub expected_body: Option<String>,
    /// Whether redirects are followed (up to a small limit) before judging.
    pub follow_redirects: bool,
    /// Whether the TLS certificate is validated (https); on unless explicitly turned off.
    pub verify_tls: bool,
    /// Time between checks.
    pub interval: Duration,
    /// Time a check may take.
    pub timeout: Duration,
    /// Immediate retries of a failed check before it counts as one failure.
    pub retries: u32,
    /// Consecutive successes that turn an unhealthy origin healthy.
    pub healthy_threshold: u32,
    /// Consecutive failures that turn a healthy origin unhealthy.
    pub unhealthy_threshold: u32,
}

/// Passive outlier detection: origins that fail real requests are ejected for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutlierDetection {
    /// Consecutive failed requests (connect errors, resets, 5xx) that eject an origin.
    pub consecutive_failures: u32,
    /// First ejection time; each further ejection doubles it.
    pub base_ejection: Duration,
    /// Upper bound of the ejection time.
    pub max_ejection: Duration,
    /// At most this share of a pool's origins is ejected at once (percent).
    pub max_ejected_percent: u8,
}

impl Default for OutlierDetection {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            base_ejection: Duration::from_secs(30),
            max_ejection: Duration::from_secs(300),
            max_ejected_percent: 50,
        }
    }
}

/// Where an origin lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OriginAddress {
    /// A fixed socket address.
    Socket(SocketAddr),
    /// A DNS name and port, resolved each time a config is applied.
    Host {
        /// The name to resolve.
        host: Arc<str>,
        /// The port to connect to.
        port: u16,
    },
    /// The ready endpoints of a Service port (resolved by translation).
    Service {
        /// The Service backend.
        backend: BackendId,
        /// Its ready endpoints at translation time.
        endpoints: Vec<SocketAddr>,
        /// Its ready endpoints named by DNS names (looked up by the data plane).
        hosts: Vec<crate::HostEndpoint>,
    },
}

impl fmt::Display for OriginAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OriginAddress::Socket(address) => write!(f, "{address}"),
            OriginAddress::Host { host, port } => write!(f, "{host}:{port}"),
            OriginAddress::Service { backend, .. } => write!(f, "service {backend}"),
        }
    }
}

/// One origin of a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The origin's name, unique in its pool.
    pub name: Arc<str>,
    /// Where it lives.
    pub address: OriginAddress,
    /// Relative weight inside the pool (0 = no traffic).
    pub weight: u32,
    /// Disabled origins get no traffic and no checks.
    pub enabled: bool,
    /// `Host` header sent to this origin instead of the client's.
    pub host_override: Option<HeaderValue>,
}

/// What a consistent hash is computed over.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HashKey {
    /// The client's address.
    ClientIp,
    /// A request header's value.
    Header(HeaderName),
    /// A cookie's value.
    Cookie(Arc<str>),
}

/// How a pool spreads requests over its healthy origins.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum OriginBalancing {
    /// Random, proportional to weight.
    #[default]
    WeightedRandom,
    /// Weighted round robin.
    RoundRobin,
    /// Fewest requests in flight (weighted, power of two choices).
    LeastOutstandingRequests,
    /// Fewest open upstream connections.
    LeastConnections,
    /// Consistent hash (a ring), so one key keeps its origin while the set is stable.
    ConsistentHash(HashKey),
}

/// A place on Earth, with the region and country used by geo steering.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Location {
    /// Latitude in degrees.
    pub latitude: Option<f64>,
    /// Longitude in degrees.
    pub longitude: Option<f64>,
    /// Region code (Cloudflare's: `WNAM`, `WEU`, …), upper case.
    pub region: Option<Arc<str>>,
    /// ISO 3166-1 alpha-2 country, upper case.
    pub country: Option<Arc<str>>,
}

/// An `OriginPool`.
#[derive(Debug, Clone, PartialEq)]
pub struct OriginPool {
    /// Which pool this is.
    pub id: PoolId,
    /// Its origins, in the order written.
    pub origins: Vec<Origin>,
    /// The active monitor, if any.
    pub monitor: Option<Arc<HealthMonitor>>,
    /// Below this many healthy origins the pool counts as unhealthy.
    pub minimum_origins: u32,
    /// How requests spread over the origins.
    pub balancing: OriginBalancing,
    /// Where the pool is (proximity and geo steering).
    pub location: Location,
    /// Share of new requests (percent, 0–100) turned away from this pool to the next.
    pub load_shedding_percent: u8,
    /// Passive outlier detection.
    pub outlier_detection: OutlierDetection,
    /// Protocol spoken to the origins.
    pub protocol: crate::AppProtocol,
}

/// How a load balancer chooses among its pools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Steering {
    /// The first healthy pool of `defaultPools`, in order.
    Failover,
    /// Random by pool weight among healthy pools.
    Weighted(BTreeMap<PoolId, u32>),
    /// Pools by the client's country, then region, then the default pools.
    Geo {
        /// Country (upper case ISO code) → pools in failover order.
        countries: BTreeMap<Arc<str>, Vec<PoolId>>,
        /// Region code → pools in failover order.
        regions: BTreeMap<Arc<str>, Vec<PoolId>>,
    },
    /// The healthy pool nearest to the client.
    Proximity,
    /// The healthy pool with the fewest requests in flight (relative to its capacity).
    LeastOutstandingRequests,
    /// The healthy pool with the lowest smoothed health-check round trip.
    Latency,
}

/// What a session is recognised by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AffinityKey {
    /// A cookie torii sets (the name given).
    Cookie(Arc<str>),
    /// A request header's value.
    Header(HeaderName),
    /// The client's address.
    ClientIp,
}

/// Cloudflare's session-affinity failover semantics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AffinityFailover {
    /// When the chosen origin goes unhealthy, the session moves and stays on the new origin.
    None,
    /// The session moves while its origin is unhealthy and comes back when it recovers.
    Temporary,
    /// The session moves to a new origin and is re-pinned there.
    Sticky,
}

/// Session affinity of a load balancer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionAffinity {
    /// What identifies a session.
    pub key: AffinityKey,
    /// How long a session stays pinned without being seen.
    pub ttl: Duration,
    /// What happens when the pinned origin fails.
    pub failover: AffinityFailover,
    /// Sessions pinned to a disabled or removed origin keep it this long.
    pub drain: Duration,
}

/// Which failures of an upstream attempt are retried on another origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailoverPolicy {
    /// Retry when the connection could not be made.
    pub on_connect_error: bool,
    /// Retry when the connection was reset or closed before a response.
    pub on_reset: bool,
    /// Retry on these response codes.
    pub on_status: StatusCodes,
    /// Attempts after the first.
    pub retries: u32,
    /// Whether retries may move to another pool.
    pub across_pools: bool,
    /// Whether non-idempotent requests are retried after they may have reached an origin.
    pub retry_non_idempotent: bool,
    /// Longest wait for an origin's response head per attempt (the route's
    /// `timeouts.backendRequest`, when shorter, wins); a hung origin then counts as a timeout
    /// and the request moves on.
    pub attempt_timeout: Duration,
}

impl Default for FailoverPolicy {
    fn default() -> Self {
        Self {
            on_connect_error: true,
            on_reset: true,
            on_status: StatusCodes::default(),
            retries: 2,
            across_pools: true,
            retry_non_idempotent: false,
            attempt_timeout: Duration::from_secs(15),
        }
    }
}

/// A `LoadBalancer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancer {
    /// Which load balancer this is.
    pub id: LoadBalancerId,
    /// Hostnames it answers for (DNS steering).
    pub hostnames: Vec<Arc<str>>,
    /// Pools in failover order.
    pub default_pools: Vec<PoolId>,
    /// The pool used when every other pool is unhealthy.
    pub fallback_pool: Option<PoolId>,
    /// How a pool is chosen.
    pub steering: Steering,
    /// Session affinity, if any.
    pub session_affinity: Option<SessionAffinity>,
    /// In-request failover.
    pub failover: FailoverPolicy,
    /// TTL of DNS answers, in seconds.
    pub dns_ttl: u32,
    /// Where this load balancer's events go.
    pub notifications: Vec<NotificationTarget>,
}

/// TLS towards an SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP.
    None,
    /// Plain, upgraded with `STARTTLS`.
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

/// How a notification is delivered.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NotificationSink {
    /// A JSON POST to a URL.
    Webhook {
        /// `http://` or `https://` URL.
        url: Arc<str>,
        /// Extra headers (may hold secrets: never logged).
        headers: Vec<(HeaderName, HeaderValue)>,
    },
    /// An e-mail over SMTP.
    Email {
        /// SMTP host.
        smtp_host: Arc<str>,
        /// SMTP port.
        smtp_port: u16,
        /// TLS mode.
        tls: SmtpTls,
        /// Sender.
        from: Arc<str>,
        /// Recipients.
        to: Vec<Arc<str>>,
    },
}

/// One notification target of a load balancer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NotificationTarget {
    /// The target's name.
    pub name: Arc<str>,
    /// Delivery.
    pub sink: NotificationSink,
    /// Only events of these pools (every pool when empty).
    pub pools: Vec<PoolId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_parse_classes_ranges_and_codes() {
        let set = StatusCodes::parse("2xx, 301-302,404").unwrap();
        for code in [200, 250, 299, 301, 302, 404] {
            assert!(set.contains(code), "{code}");
        }
        for code in [199, 300, 303, 403, 500] {
            assert!(!set.contains(code), "{code}");
        }
        assert_eq!(
            StatusCodes::parse("200,201-202").unwrap().ranges,
            [(200, 202)]
        );
    }

    #[test]
    fn status_codes_reject_bad_text() {
        for text in ["", "2x", "6xx", "99", "302-301", "abc", "200,,201", "1000"] {
            assert!(StatusCodes::parse(text).is_err(), "{text:?}");
        }
    }
}
