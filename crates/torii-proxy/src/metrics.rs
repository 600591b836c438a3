//! The proxy's Prometheus metrics, registered on a registry passed in (no globals).

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;

/// Labels of a proxied request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `namespace/name` of the Gateway whose listener took the request (`none` without one).
    pub gateway: Arc<String>,
    /// `namespace/name` of the route (`none` without one).
    pub route: Arc<String>,
    /// The backend (`none` when none was chosen).
    pub backend: Arc<String>,
    /// Status class of the answer.
    pub class: StatusClass,
}

/// An HTTP status class.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum StatusClass {
    /// 1xx.
    Informational,
    /// 2xx.
    Success,
    /// 3xx.
    Redirection,
    /// 4xx.
    ClientError,
    /// 5xx.
    ServerError,
}

impl EncodeLabelValue for StatusClass {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        use std::fmt::Write;
        encoder.write_str(match self {
            StatusClass::Informational => "1xx",
            StatusClass::Success => "2xx",
            StatusClass::Redirection => "3xx",
            StatusClass::ClientError => "4xx",
            StatusClass::ServerError => "5xx",
        })
    }
}

impl StatusClass {
    /// The class of a status code.
    pub fn of(status: http::StatusCode) -> Self {
        match status.as_u16() {
            100..=199 => StatusClass::Informational,
            200..=299 => StatusClass::Success,
            300..=399 => StatusClass::Redirection,
            400..=499 => StatusClass::ClientError,
            _ => StatusClass::ServerError,
        }
    }
}

/// Labels of per-route latency.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// Gateway `namespace/name`.
    pub gateway: Arc<String>,
    /// Route `namespace/name`.
    pub route: Arc<String>,
}

/// Labels naming a backend.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BackendLabels {
    /// The backend id.
    pub backend: Arc<String>,
}

/// Labels of a reload outcome.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    /// `accepted` or `rejected`.
    pub result: &'static str,
}

/// Labels of a mirror outcome.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MirrorLabels {
    /// `sent`, `failed` or `shed`.
    pub result: &'static str,
}

/// Labels of a connection limit.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabels {
    /// `listener` or `process`.
    pub limit: &'static str,
}

/// Labels of a client fault.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FaultLabels {
    /// `malformed_body`, `body_timeout` or `aborted`.
    pub kind: &'static str,
}

/// Builds latency histograms with buckets from 100 µs to ~26 s.
#[derive(Debug, Clone, Copy, Default)]
pub struct LatencyBuckets;

impl MetricConstructor<Histogram> for LatencyBuckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(exponential_buckets(0.0001, 2.0, 19))
    }
}

/// Every metric the proxy records.
#[derive(Debug)]
pub struct ProxyMetrics {
    /// Requests by gateway, route, backend and status class.
    pub requests: Family<RequestLabels, Counter>,
    /// Request latency (headers in to response headers out) by gateway and route.
    pub request_duration: Family<RouteLabels, Histogram, LatencyBuckets>,
    /// Failed connection attempts to upstream endpoints, by backend.
    pub upstream_connect_errors: Family<BackendLabels, Counter>,
    /// Downstream connections open now.
    pub open_connections: Gauge,
    /// Downstream connections accepted.
    pub connections: Counter,
    /// Config reloads by outcome.
    pub reloads: Family<ReloadLabels, Counter>,
    /// Generation of the snapshot being served.
    pub snapshot_generation: Gauge,
    /// Mirrored requests by outcome.
    pub mirrors: Family<MirrorLabels, Counter>,
    /// Times accepting paused because a connection limit was reached, by limit.
    pub accept_paused: Family<LimitLabels, Counter>,
    /// Requests that failed on the client's side (never counted against origins), by kind.
    pub client_faults: Family<FaultLabels, Counter>,
}

impl ProxyMetrics {
    /// Creates the metrics and registers them under the `torii` prefix.
    pub fn register(registry: &mut Registry) -> Arc<Self> {
        let metrics = ProxyMetrics {
            requests: Family::default(),
            request_duration: Family::new_with_constructor(LatencyBuckets),
            upstream_connect_errors: Family::default(),
            open_connections: Gauge::default(),
            connections: Counter::default(),
            reloads: Family::default(),
            snapshot_generation: Gauge::default(),
            mirrors: Family::default(),
            accept_paused: Family::default(),
            client_faults: Family::default(),
        };
        let r = registry.sub_registry_with_prefix("torii");
        r.register(
            "requests",
            "HTTP requests proxied",
            metrics.requests.clone(),
        );
        r.register(
            "request_duration_seconds",
            "Time from request headers to response headers",
            metrics.request_duration.clone(),
        );
        r.register(
            "upstream_connect_errors",
            "Failed connection attempts to upstream endpoints",
            metrics.upstream_connect_errors.clone(),
        );
        r.register(
            "open_connections",
            "Downstream connections open now",
            metrics.open_connections.clone(),
        );
        r.register(
            "connections",
            "Downstream connections accepted",
            metrics.connections.clone(),
        );
        r.register(
            "reloads",
            "Config reloads by result",
            metrics.reloads.clone(),
        );
        r.register(
            "snapshot_generation",
            "Generation of the snapshot being served",
            metrics.snapshot_generation.clone(),
        );
        r.register(
            "mirror_requests",
            "Mirrored requests by result",
            metrics.mirrors.clone(),
        );
        r.register(
            "accept_paused",
            "Times accepting new connections paused at a connection limit",
            metrics.accept_paused.clone(),
        );
        r.register(
            "client_faults",
            "Requests that failed on the client's side (body malformed, stalled or cut off)",
            metrics.client_faults.clone(),
        );
        Arc::new(metrics)
    }

    /// Counts a reload outcome.
    pub fn reload(&self, accepted: bool) {
        let result = if accepted { "accepted" } else { "rejected" };
        self.reloads.get_or_create(&ReloadLabels { result }).inc();
    }
}
