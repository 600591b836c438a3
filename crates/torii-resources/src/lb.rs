//! Wire types of torii's own global-load-balancing kinds, `torii.dev/v1alpha1`:
//! `HealthMonitor`, `OriginPool` and `LoadBalancer`, written as Kubernetes custom resources
//! (spec and status, camelCase fields). Every field is optional on the wire where the kind has
//! a default; `torii-translate` validates and applies the defaults (documented in
//! `docs/load-balancing.md`).
//!
//! The same structs give the CRDs their OpenAPI schema (`kube`'s `CustomResource`, `schemars`):
//! the `schemars` and `x_kube` attributes only shape that schema (see [`crate::schema`] and
//! [`crate::crd`]); serde's attributes alone decide how YAML is read.

// `#[kube(printcolumn(...))]` repeats `type_ = "string"` per column, which this lint takes
// for a duplicated attribute.
#![allow(clippy::duplicated_attributes)]

use crate::schema::MAX_NOTIFICATIONS;
use crate::schema::{
    duration_above_zero, duration_at_least, durations_ordered, ADDRESS, DURATION, DURATION_MAX,
    HEADER_VALUE, MAX_NAME, MAX_SMALL_LIST, MAX_TEXT, REGIONS_CEL, STATUS_CODES, TOKEN,
};
use crate::status::{HealthMonitorStatus, LoadBalancerStatus, OriginPoolStatus};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `HealthMonitor.spec`: an active health check that pools refer to.
#[derive(CustomResource, KubeSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[kube(
    group = "torii.dev",
    version = "v1alpha1",
    kind = "HealthMonitor",
    namespaced,
    status = "HealthMonitorStatus",
    derive = "Default",
    derive = "PartialEq",
    doc = "`torii.dev/v1alpha1` `HealthMonitor`: an active health check that pools refer to.",
    shortname = "hmon",
    category = "torii",
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.type"),
    printcolumn(name = "Path", type_ = "string", json_path = ".spec.path"),
    printcolumn(name = "Interval", type_ = "string", json_path = ".spec.interval"),
    printcolumn(
        name = "Accepted",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Accepted\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(durations_ordered("timeout", "5s", "interval", "60s")).message("timeout must be at most the interval").field_path(".timeout"))]
pub struct HealthMonitorSpec {
    /// `http` (default), `https` or `tcp`.
    #[serde(rename = "type")]
    #[schemars(extend("enum" = ["http", "https", "tcp"]))]
    pub type_: Option<String>,
    /// HTTP method (default `GET`).
    #[schemars(length(max = 64), pattern(TOKEN))]
    pub method: Option<String>,
    /// Path and query (default `/`).
    #[schemars(length(max = MAX_TEXT))]
    #[x_kube(validation = Rule::new(r"self.startsWith('/') && !self.matches('[\\x00-\\x20\\x7f]')")
        .message("must start with / and hold no spaces or control characters"))]
    pub path: Option<String>,
    /// Port to check instead of each origin's own.
    #[schemars(range(min = 1))]
    pub port: Option<u16>,
    /// Request headers (`Host` included).
    #[schemars(length(max = MAX_SMALL_LIST))]
    pub headers: Option<Vec<HeaderEntry>>,
    /// Status codes that count as healthy, e.g. `"2xx"` (default) or `"200,301-302"`.
    #[schemars(length(max = 1024), pattern(STATUS_CODES))]
    pub expected_codes: Option<String>,
    /// Substring the response body must contain (case-insensitive).
    pub expected_body: Option<String>,
    /// Follow redirects before judging (default false).
    pub follow_redirects: Option<bool>,
    /// Skip TLS certificate validation for `https` (default false: validate).
    pub allow_insecure: Option<bool>,
    /// Time between checks (Gateway API duration, default `60s`).
    #[schemars(length(max = DURATION_MAX), pattern(DURATION))]
    #[x_kube(validation = Rule::new(duration_above_zero()).message("must be above zero"))]
    pub interval: Option<String>,
    /// Time one check may take (default `5s`).
    #[schemars(length(max = DURATION_MAX), pattern(DURATION))]
    #[x_kube(validation = Rule::new(duration_above_zero()).message("must be above zero"))]
    pub timeout: Option<String>,
    /// Immediate retries of a failed check (default 1).
    #[schemars(range(max = 5))]
    pub retries: Option<u32>,
    /// Consecutive successes that turn an origin healthy (default 1).
    #[schemars(range(min = 1, max = 100))]
    pub consecutive_up: Option<u32>,
    /// Consecutive failures that turn an origin unhealthy (default 1).
    #[schemars(range(min = 1, max = 100))]
    pub consecutive_down: Option<u32>,
}

/// One header: name and value.
#[derive(KubeSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct HeaderEntry {
    /// Header name.
    #[schemars(length(max = 256), pattern(TOKEN))]
    pub name: String,
    /// Header value.
    #[schemars(length(max = MAX_TEXT), pattern(HEADER_VALUE))]
    pub value: String,
}

/// `OriginPool.spec`: origins that serve one application in one place.
#[derive(
    CustomResource, schemars::JsonSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize,
)]
#[kube(
    group = "torii.dev",
    version = "v1alpha1",
    kind = "OriginPool",
    namespaced,
    status = "OriginPoolStatus",
    derive = "Default",
    derive = "PartialEq",
    doc = "`torii.dev/v1alpha1` `OriginPool`: origins that serve one application in one place.",
    shortname = "opool",
    category = "torii",
    printcolumn(
        name = "Healthy",
        type_ = "integer",
        json_path = ".status.healthyOrigins"
    ),
    printcolumn(
        name = "Origins",
        type_ = "integer",
        json_path = ".status.totalOrigins"
    ),
    printcolumn(name = "Monitor", type_ = "string", json_path = ".spec.monitor"),
    printcolumn(
        name = "Policy",
        type_ = "string",
        json_path = ".spec.loadBalancing.policy"
    ),
    printcolumn(
        name = "Accepted",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Accepted\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct OriginPoolSpec {
    /// The origins.
    #[schemars(length(min = 1, max = 10000))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub origins: Vec<OriginSpec>,
    /// Name of a `HealthMonitor` in the pool's namespace.
    #[schemars(length(max = MAX_NAME))]
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
    #[schemars(extend("enum" = ["http", "h2c"]))]
    pub app_protocol: Option<String>,
}

/// One origin.
#[derive(KubeSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.address) != has(self.serviceRef)")
    .message("exactly one of address and serviceRef"))]
pub struct OriginSpec {
    /// Unique name in the pool.
    #[schemars(length(min = 1, max = MAX_NAME))]
    pub name: String,
    /// `host:port` (an IP address or a DNS name); exclusive with `serviceRef`.
    #[schemars(length(max = 512), pattern(ADDRESS))]
    pub address: Option<String>,
    /// A Service port whose ready endpoints are the origin.
    pub service_ref: Option<ServiceRefSpec>,
    /// Relative weight (default 1; 0 = no traffic).
    pub weight: Option<u32>,
    /// Disabled origins get no traffic and no checks (default true).
    pub enabled: Option<bool>,
    /// `Host` header to send to this origin.
    #[schemars(length(max = MAX_TEXT), pattern(HEADER_VALUE))]
    pub host: Option<String>,
}

/// A reference to a Service port.
#[derive(schemars::JsonSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct ServiceRefSpec {
    /// Service name.
    #[schemars(length(max = MAX_NAME))]
    pub name: String,
    /// Namespace (the pool's by default; another needs a ReferenceGrant).
    #[schemars(length(max = 63))]
    pub namespace: Option<String>,
    /// Service port.
    pub port: u16,
}

/// `OriginPool.spec.loadBalancing`.
#[derive(KubeSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.policy) || self.policy != 'consistentHash' || has(self.hashOn)")
    .message("consistentHash needs hashOn").field_path(".hashOn"))]
#[x_kube(validation = Rule::new(
    "!has(self.policy) || self.policy != 'consistentHash' || !has(self.hashOn) || self.hashOn.type in ['clientIp', 'header', 'cookie']"
).message("hashOn.type must be clientIp, header or cookie").field_path(".hashOn.type"))]
#[x_kube(validation = Rule::new(
    "!has(self.policy) || self.policy != 'consistentHash' || !has(self.hashOn) || self.hashOn.type != 'header' && self.hashOn.type != 'cookie' || has(self.hashOn.name) && self.hashOn.name != ''"
).message("a header or cookie name is needed").field_path(".hashOn.name"))]
pub struct OriginBalancingSpec {
    /// `weightedRandom` (default), `roundRobin`, `leastOutstandingRequests`,
    /// `leastConnections` or `consistentHash`.
    #[schemars(extend("enum" = ["weightedRandom", "roundRobin", "leastOutstandingRequests", "leastConnections", "consistentHash"]))]
    pub policy: Option<String>,
    /// What a consistent hash is over.
    pub hash_on: Option<HashOnSpec>,
}

/// `hashOn`: `clientIp`, or a header or cookie by name.
#[derive(schemars::JsonSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct HashOnSpec {
    /// `clientIp`, `header` or `cookie`.
    #[serde(rename = "type")]
    #[schemars(length(max = 64))]
    pub type_: String,
    /// Header or cookie name.
    #[schemars(length(max = 256))]
    pub name: Option<String>,
}

/// A location.
#[derive(KubeSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[x_kube(validation = Rule::new("has(self.latitude) == has(self.longitude)")
    .message("latitude and longitude go together"))]
pub struct LocationSpec {
    /// Latitude in degrees (−90 to 90).
    #[schemars(range(min = -90.0, max = 90.0))]
    pub latitude: Option<f64>,
    /// Longitude in degrees (−180 to 180).
    #[schemars(range(min = -180.0, max = 180.0))]
    pub longitude: Option<f64>,
    /// Region code (`WNAM`, `ENAM`, `WEU`, `EEU`, `NSAM`, `SSAM`, `OC`, `ME`, `NAF`, `SAF`,
    /// `SAS`, `SEAS`, `NEAS`; any case).
    #[schemars(length(max = 8))]
    #[x_kube(validation = Rule::new(format!("self.upperAscii() in {REGIONS_CEL}"))
        .message("unknown region (expected WNAM, ENAM, WEU, EEU, NSAM, SSAM, OC, ME, NAF, SAF, SAS, SEAS or NEAS)"))]
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    #[schemars(pattern(r"^[A-Za-z]{2}$"))]
    pub country: Option<String>,
}

/// `OriginPool.spec.loadShedding`.
#[derive(schemars::JsonSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct LoadSheddingSpec {
    /// Share of new requests sent to the next pool instead (0–100).
    #[schemars(range(max = 100))]
    pub percent: u8,
}

/// `OriginPool.spec.outlierDetection`.
#[derive(KubeSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(durations_ordered(
    "baseEjectionTime", "30s", "maxEjectionTime", "300s"
)).message("maxEjectionTime must be at least baseEjectionTime").field_path(".maxEjectionTime"))]
pub struct OutlierDetectionSpec {
    /// Consecutive failed requests that eject an origin (default 5; 0 turns it off).
    pub consecutive_failures: Option<u32>,
    /// First ejection time (default `30s`), doubled on each further ejection.
    #[schemars(length(max = DURATION_MAX), pattern(DURATION))]
    pub base_ejection_time: Option<String>,
    /// Longest ejection time (default `300s`).
    #[schemars(length(max = DURATION_MAX), pattern(DURATION))]
    pub max_ejection_time: Option<String>,
    /// Most of the pool's origins ejected at once, percent (default 50).
    #[schemars(range(max = 100))]
    pub max_ejection_percent: Option<u8>,
}

/// `LoadBalancer.spec`: one application's hostnames, steered over pools.
#[derive(
    CustomResource, schemars::JsonSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize,
)]
#[kube(
    group = "torii.dev",
    version = "v1alpha1",
    kind = "LoadBalancer",
    namespaced,
    status = "LoadBalancerStatus",
    derive = "Default",
    derive = "PartialEq",
    doc = "`torii.dev/v1alpha1` `LoadBalancer`: one application's hostnames, steered over pools.",
    shortname = "tlb",
    category = "torii",
    printcolumn(
        name = "Steering",
        type_ = "string",
        json_path = ".spec.steering.policy"
    ),
    printcolumn(
        name = "Active Pool",
        type_ = "string",
        json_path = ".status.activePool"
    ),
    printcolumn(name = "Pools", type_ = "string", json_path = ".spec.defaultPools"),
    printcolumn(
        name = "Accepted",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Accepted\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerSpec {
    /// Hostnames answered (DNS steering).
    #[serde(default)]
    #[schemars(inner(pattern(
        r"^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*\.*$"
    )))]
    pub hostnames: Vec<String>,
    /// `OriginPool` names (same namespace), in failover order.
    #[schemars(length(min = 1), inner(length(max = MAX_NAME)))]
    pub default_pools: Vec<String>,
    /// Pool of last resort.
    #[schemars(length(max = MAX_NAME))]
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
    #[schemars(length(max = MAX_NOTIFICATIONS))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub notifications: Option<Vec<NotificationSpec>>,
}

/// `LoadBalancer.spec.steering`.
#[derive(KubeSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(
    "!has(self.policy) || self.policy != 'geo' || !has(self.countries) || self.countries.all(c, c.matches('^[A-Za-z]{2}$'))"
).message("country keys are ISO 3166-1 alpha-2 codes (two letters)").field_path(".countries"))]
#[x_kube(validation = Rule::new(format!(
    "!has(self.policy) || self.policy != 'geo' || !has(self.regions) || self.regions.all(r, r.upperAscii() in {REGIONS_CEL})"
)).message("region keys are WNAM, ENAM, WEU, EEU, NSAM, SSAM, OC, ME, NAF, SAF, SAS, SEAS or NEAS").field_path(".regions"))]
pub struct SteeringSpec {
    /// `failover` (default), `weighted`, `geo`, `proximity`, `leastOutstandingRequests` or
    /// `latency`.
    #[schemars(extend("enum" = ["failover", "weighted", "geo", "proximity", "leastOutstandingRequests", "latency"]))]
    pub policy: Option<String>,
    /// Pool name → weight (`weighted`).
    pub weights: Option<BTreeMap<String, u32>>,
    /// Country code → pools (`geo`).
    #[schemars(extend("maxProperties" = 1000))]
    pub countries: Option<BTreeMap<String, Vec<String>>>,
    /// Region code → pools (`geo`).
    #[schemars(extend("maxProperties" = 64))]
    pub regions: Option<BTreeMap<String, Vec<String>>>,
}

/// `LoadBalancer.spec.sessionAffinity`.
#[derive(KubeSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(
    "has(self.type) && self.type != 'cookie' || !has(self.name) || self.name == '' || self.name.matches('^[A-Za-z0-9._-]+$')"
).message("a cookie name is letters, digits, -, _ and .").field_path(".name"))]
#[x_kube(validation = Rule::new(
    "!has(self.type) || self.type != 'header' || has(self.name) && self.name.matches('^[-!#$%&\\'*+.^_`|~0-9A-Za-z]+$')"
).message("a header name (an HTTP token) is needed").field_path(".name"))]
pub struct SessionAffinitySpec {
    /// `cookie` (default), `header` or `clientIp`.
    #[serde(rename = "type")]
    #[schemars(extend("enum" = ["cookie", "header", "clientIp"]))]
    pub type_: Option<String>,
    /// Cookie name (default `torii_affinity`) or header name.
    #[schemars(length(max = 256))]
    pub name: Option<String>,
    /// How long a session stays pinned (default `1h`).
    #[schemars(length(max = DURATION_MAX), pattern(DURATION))]
    #[x_kube(validation = Rule::new(duration_at_least("1s")).message("must be at least 1s"))]
    pub ttl: Option<String>,
    /// `none` (default), `temporary` or `sticky`.
    #[schemars(extend("enum" = ["none", "temporary", "sticky"]))]
    pub failover: Option<String>,
    /// How long sessions keep a disabled origin (default `0s`).
    #[schemars(length(max = DURATION_MAX), pattern(DURATION))]
    pub drain_period: Option<String>,
}

/// `LoadBalancer.spec.failover`.
#[derive(KubeSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailoverSpec {
    /// Retry on connect errors (default true).
    pub connect_error: Option<bool>,
    /// Retry on resets before a response (default true).
    pub reset: Option<bool>,
    /// Status codes retried, e.g. `"502-504"` (default none).
    #[schemars(length(max = 1024), pattern(STATUS_CODES))]
    pub status_codes: Option<String>,
    /// Attempts after the first (default 2).
    #[schemars(range(max = 10))]
    pub retries: Option<u32>,
    /// Whether a retry may go to another pool (default true).
    pub across_pools: Option<bool>,
    /// Retry non-idempotent requests that may have reached an origin (default false).
    pub retry_non_idempotent: Option<bool>,
    /// Longest wait for an origin's response head per attempt (default `15s`).
    #[schemars(length(max = DURATION_MAX), pattern(DURATION))]
    #[x_kube(validation = Rule::new(duration_above_zero()).message("must be above zero"))]
    pub attempt_timeout: Option<String>,
}

/// One notification target.
#[derive(KubeSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.webhook) != has(self.email)")
    .message("exactly one of webhook and email"))]
pub struct NotificationSpec {
    /// Name of the target (for logs and metrics).
    #[schemars(length(max = MAX_NAME))]
    #[x_kube(validation = Rule::new("self.trim() != ''").message("must not be empty"))]
    pub name: String,
    /// A webhook (JSON POST).
    pub webhook: Option<WebhookSpec>,
    /// E-mail over SMTP.
    pub email: Option<EmailSpec>,
    /// Only events of these pools (all when empty).
    #[serde(default)]
    #[schemars(inner(length(max = MAX_NAME)))]
    pub pools: Vec<String>,
}

/// A webhook target.
#[derive(KubeSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSpec {
    /// `http://` or `https://` URL.
    #[schemars(length(max = MAX_TEXT))]
    #[x_kube(validation = Rule::new(
        "self.trim().matches('^[hH][tT][tT][pP][sS]?://[^/?#]+([/?#].*)?$')"
    ).message("must be an absolute http:// or https:// URL with a host"))]
    #[x_kube(validation = Rule::new("!self.trim().matches('^[^:]+://[^/?#]*@')")
        .message("must not carry credentials (user:password@); send them in a header"))]
    pub url: String,
    /// Extra headers (for example a bearer token).
    #[schemars(length(max = MAX_NOTIFICATIONS))]
    #[x_kube(validation = Rule::new(
        "self.all(h, !(h.name.lowerAscii() in ['host', 'content-type', 'content-length', 'user-agent', 'transfer-encoding', 'connection', 'keep-alive', 'te', 'trailer', 'upgrade', 'proxy-connection']))"
    ).message("Host, Content-Type, Content-Length, User-Agent, Transfer-Encoding, Connection, Keep-Alive, TE, Trailer, Upgrade and Proxy-Connection are set by torii and cannot be configured"))]
    #[x_kube(validation = Rule::new(
        "self.all(h, self.exists_one(g, g.name.lowerAscii() == h.name.lowerAscii()))"
    ).message("a header is configured more than once"))]
    pub headers: Option<Vec<HeaderEntry>>,
}

/// An e-mail target.
#[derive(KubeSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailSpec {
    /// SMTP server host.
    #[schemars(length(max = MAX_NAME))]
    #[x_kube(validation = Rule::new("self.trim() != ''").message("must not be empty"))]
    pub smtp_host: String,
    /// SMTP server port (default 25).
    #[schemars(range(min = 1))]
    pub smtp_port: Option<u16>,
    /// `none` (default), `starttls` or `tls`.
    #[schemars(extend("enum" = ["none", "starttls", "tls"]))]
    pub tls: Option<String>,
    /// Sender mailbox.
    #[schemars(length(max = 512))]
    #[x_kube(validation = Rule::new(MAILBOX_RULE).message(MAILBOX_MESSAGE))]
    pub from: String,
    /// Recipient mailboxes.
    #[schemars(length(min = 1, max = MAX_NOTIFICATIONS), inner(length(max = 512)))]
    #[x_kube(validation = Rule::new(format!("self.all(m, {})", MAILBOX_RULE.replace("self", "m")))
        .message(MAILBOX_MESSAGE))]
    pub to: Vec<String>,
}

/// A rough mailbox check, as translation's: `user@domain` or `Name <user@domain>`.
const MAILBOX_RULE: &str = r"self.trim().matches('^(.*<[^\\s<]+@[^\\s@<]+>|\\S+@[^\\s@]+)$')";

/// The message of [`MAILBOX_RULE`].
const MAILBOX_MESSAGE: &str = "must be a mailbox (user@example.com or Name <user@example.com>)";
