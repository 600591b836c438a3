//! Wire types of torii's own global-load-balancing kinds, `torii.dev/v1alpha1`:
//! `HealthMonitor`, `OriginPool` and `LoadBalancer`, written as Kubernetes custom resources
//! (spec and status, camelCase fields). Every field is optional on the wire where the kind has
//! a default; `torii-translate` validates and applies the defaults (documented in
//! `docs/load-balancing.md`).

use crate::wire::ObjectMeta;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `torii.dev/v1alpha1` `HealthMonitor`: an active health check that pools refer to.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct HealthMonitor {
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// The check.
    pub spec: HealthMonitorSpec,
}

/// `HealthMonitor.spec`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthMonitorSpec {
    /// `http` (default), `https` or `tcp`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// HTTP method (default `GET`).
    pub method: Option<String>,
    /// Path and query (default `/`).
    pub path: Option<String>,
    /// Port to check instead of each origin's own.
    pub port: Option<u16>,
    /// Request headers (`Host` included).
    pub headers: Option<Vec<HeaderEntry>>,
    /// Status codes that count as healthy, e.g. `"2xx"` (default) or `"200,301-302"`.
    pub expected_codes: Option<String>,
    /// Substring the response body must contain (case-insensitive).
    pub expected_body: Option<String>,
    /// Follow redirects before judging (default false).
    pub follow_redirects: Option<bool>,
    /// Skip TLS certificate validation for `https` (default false: validate).
    pub allow_insecure: Option<bool>,
    /// Time between checks (Gateway API duration, default `60s`).
    pub interval: Option<String>,
    /// Time one check may take (default `5s`).
    pub timeout: Option<String>,
    /// Immediate retries of a failed check (default 1).
    pub retries: Option<u32>,
    /// Consecutive successes that turn an origin healthy (default 1).
    pub consecutive_up: Option<u32>,
    /// Consecutive failures that turn an origin unhealthy (default 1).
    pub consecutive_down: Option<u32>,
}

/// One header: name and value.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct HeaderEntry {
    /// Header name.
    pub name: String,
    /// Header value.
    pub value: String,
}

/// `torii.dev/v1alpha1` `OriginPool`: origins that serve one application in one place.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct OriginPool {
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// The pool.
    pub spec: OriginPoolSpec,
}

/// `OriginPool.spec`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OriginPoolSpec {
    /// The origins.
    pub origins: Vec<OriginSpec>,
    /// Name of a `HealthMonitor` in the pool's namespace.
    pub monitor: Option<String>,
    /// Healthy origins below which the pool counts as unhealthy (default 1).
    pub minimum_origins: Option<u32>,
    /// How requests spread over the origins.
    pub load_balancing: Option<OriginBalancingSpec>,
    /// Where the pool is.
    pub location: Option<LocationSpec>,
    /// Load shedding.
    pub load_shedding: Option<LoadSheddingSpec>,
    /// Passive outlier detection.
    pub outlier_detection: Option<OutlierDetectionSpec>,
    /// Protocol spoken to the origins: `http` (HTTP/1.1, default) or `h2c`.
    pub app_protocol: Option<String>,
}

/// One origin.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OriginSpec {
    /// Unique name in the pool.
    pub name: String,
    /// `host:port` (an IP address or a DNS name); exclusive with `serviceRef`.
    pub address: Option<String>,
    /// A Service port whose ready endpoints are the origin.
    pub service_ref: Option<ServiceRefSpec>,
    /// Relative weight (default 1; 0 = no traffic).
    pub weight: Option<u32>,
    /// Disabled origins get no traffic and no checks (default true).
    pub enabled: Option<bool>,
    /// `Host` header to send to this origin.
    pub host: Option<String>,
}

/// A reference to a Service port.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct ServiceRefSpec {
    /// Service name.
    pub name: String,
    /// Namespace (the pool's by default; another needs a ReferenceGrant).
    pub namespace: Option<String>,
    /// Service port.
    pub port: u16,
}

/// `OriginPool.spec.loadBalancing`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OriginBalancingSpec {
    /// `weightedRandom` (default), `roundRobin`, `leastOutstandingRequests`,
    /// `leastConnections` or `consistentHash`.
    pub policy: Option<String>,
    /// What a consistent hash is over.
    pub hash_on: Option<HashOnSpec>,
}

/// `hashOn`: `clientIp`, or a header or cookie by name.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct HashOnSpec {
    /// `clientIp`, `header` or `cookie`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Header or cookie name.
    pub name: Option<String>,
}

/// A location.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct LocationSpec {
    /// Latitude in degrees (−90 to 90).
    pub latitude: Option<f64>,
    /// Longitude in degrees (−180 to 180).
    pub longitude: Option<f64>,
    /// Region code (`WNAM`, `ENAM`, `WEU`, `EEU`, `NSAM`, `SSAM`, `OC`, `ME`, `NAF`, `SAF`,
    /// `SAS`, `SEAS`, `NEAS`).
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
}

/// `OriginPool.spec.loadShedding`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct LoadSheddingSpec {
    /// Share of new requests sent to the next pool instead (0–100).
    pub percent: u8,
}

/// `OriginPool.spec.outlierDetection`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutlierDetectionSpec {
    /// Consecutive failed requests that eject an origin (default 5; 0 turns it off).
    pub consecutive_failures: Option<u32>,
    /// First ejection time (default `30s`), doubled on each further ejection.
    pub base_ejection_time: Option<String>,
    /// Longest ejection time (default `300s`).
    pub max_ejection_time: Option<String>,
    /// Most of the pool's origins ejected at once, percent (default 50).
    pub max_ejection_percent: Option<u8>,
}

/// `torii.dev/v1alpha1` `LoadBalancer`: one application's hostnames, steered over pools.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct LoadBalancer {
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// The load balancer.
    pub spec: LoadBalancerSpec,
}

/// `LoadBalancer.spec`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerSpec {
    /// Hostnames answered (DNS steering).
    #[serde(default)]
    pub hostnames: Vec<String>,
    /// `OriginPool` names (same namespace), in failover order.
    pub default_pools: Vec<String>,
    /// Pool of last resort.
    pub fallback_pool: Option<String>,
    /// How a pool is chosen.
    pub steering: Option<SteeringSpec>,
    /// Session affinity.
    pub session_affinity: Option<SessionAffinitySpec>,
    /// In-request failover.
    pub failover: Option<FailoverSpec>,
    /// TTL of DNS answers in seconds (default 30).
    pub ttl: Option<u32>,
    /// Where health and failover events go.
    pub notifications: Option<Vec<NotificationSpec>>,
}

/// `LoadBalancer.spec.steering`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SteeringSpec {
    /// `failover` (default), `weighted`, `geo`, `proximity`, `leastOutstandingRequests` or
    /// `latency`.
    pub policy: Option<String>,
    /// Pool name → weight (`weighted`).
    pub weights: Option<BTreeMap<String, u32>>,
    /// Country code → pools (`geo`).
    pub countries: Option<BTreeMap<String, Vec<String>>>,
    /// Region code → pools (`geo`).
    pub regions: Option<BTreeMap<String, Vec<String>>>,
}

/// `LoadBalancer.spec.sessionAffinity`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionAffinitySpec {
    /// `cookie` (default), `header` or `clientIp`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// Cookie name (default `torii_affinity`) or header name.
    pub name: Option<String>,
    /// How long a session stays pinned (default `1h`).
    pub ttl: Option<String>,
    /// `none` (default), `temporary` or `sticky`.
    pub failover: Option<String>,
    /// How long sessions keep a disabled origin (default `0s`).
    pub drain_period: Option<String>,
}

/// `LoadBalancer.spec.failover`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailoverSpec {
    /// Retry on connect errors (default true).
    pub connect_error: Option<bool>,
    /// Retry on resets before a response (default true).
    pub reset: Option<bool>,
    /// Status codes retried, e.g. `"502-504"` (default none).
    pub status_codes: Option<String>,
    /// Attempts after the first (default 2).
    pub retries: Option<u32>,
    /// Whether a retry may go to another pool (default true).
    pub across_pools: Option<bool>,
    /// Retry non-idempotent requests that may have reached an origin (default false).
    pub retry_non_idempotent: Option<bool>,
    /// Longest wait for an origin's response head per attempt (default `15s`).
    pub attempt_timeout: Option<String>,
}

/// One notification target.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationSpec {
    /// Name of the target (for logs and metrics).
    pub name: String,
    /// A webhook (JSON POST).
    pub webhook: Option<WebhookSpec>,
    /// E-mail over SMTP.
    pub email: Option<EmailSpec>,
    /// Only events of these pools (all when empty).
    #[serde(default)]
    pub pools: Vec<String>,
}

/// A webhook target.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSpec {
    /// `http://` or `https://` URL.
    pub url: String,
    /// Extra headers (for example a bearer token).
    pub headers: Option<Vec<HeaderEntry>>,
}

/// An e-mail target.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailSpec {
    /// SMTP server host.
    pub smtp_host: String,
    /// SMTP server port (default 25).
    pub smtp_port: Option<u16>,
    /// `none` (default), `starttls` or `tls`.
    pub tls: Option<String>,
    /// Sender mailbox.
    pub from: String,
    /// Recipient mailboxes.
    pub to: Vec<String>,
}
