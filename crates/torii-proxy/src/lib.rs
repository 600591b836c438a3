//! The data plane: binds listeners, accepts connections, terminates TLS, routes HTTP requests
//! through filters to balanced upstream endpoints, proxies TLS passthrough and TCP.
//!
//! The proxy serves an immutable [`snapshot::Snapshot`] swapped atomically by
//! [`Proxy::apply`]; every request loads the current snapshot once and finishes on it.
//! Module order follows a request: [`listener`] → [`downstream`] (TLS/SNI, HTTP server) →
//! [`service`] (the request path as stages: normalise, route, filters, backend, upstream
//! request, shadow, send, response) → [`upstream`] (pooled clients), with [`mirror`],
//! [`tcp`] and [`error`] beside them.

pub mod body;
pub mod downstream;
pub mod error;
pub mod filters;
pub mod io;
pub mod listener;
pub mod load;
pub mod metrics;
pub mod migration;
pub mod mirror;
pub mod pools;
pub mod proxy;
pub mod service;
mod signal;
pub mod snapshot;
pub mod tcp;
pub mod upstream;
pub mod weighted;

pub use metrics::ProxyMetrics;
pub use pools::{ClientLocator, LoadBalancing};
pub use proxy::{ApplyError, ApplyReport, PreparedConfig, Proxy, ProxyOptions};
pub use service::NormalizeOptions;
pub use snapshot::Snapshot;
pub use torii_normalize::EscapedSlashes;
