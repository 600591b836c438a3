//! Backends: where routes send traffic.

use serde::Serialize;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

/// A backend a route refers to. Today a Service port; torii's own pools and multi-cluster
/// imports become further variants.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum BackendId {
    /// A Kubernetes Service, at one of its ports.
    Service {
        /// The Service's namespace.
        namespace: Arc<str>,
        /// The Service's name.
        name: Arc<str>,
        /// The Service port (`spec.ports[].port`).
        port: u16,
    },
    /// A torii `OriginPool`.
    Pool(crate::PoolId),
    /// A torii `LoadBalancer`.
    LoadBalancer(crate::LoadBalancerId),
}

impl fmt::Display for BackendId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendId::Service {
                namespace,
                name,
                port,
            } => write!(f, "{namespace}/{name}:{port}"),
            BackendId::Pool(id) => write!(f, "pool {id}"),
            BackendId::LoadBalancer(id) => write!(f, "loadbalancer {id}"),
        }
    }
}

/// The protocol spoken to a backend's endpoints, from the Service port's `appProtocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub enum AppProtocol {
    /// HTTP/1.1 (the default).
    #[default]
    Http1,
    /// HTTP/2 with prior knowledge over cleartext (`kubernetes.io/h2c`).
    H2c,
    /// WebSocket over HTTP/1.1 (`kubernetes.io/ws`).
    WebSocket,
}

/// One address of a backend that may receive traffic (ready endpoints only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Endpoint {
    /// The socket address to connect to.
    pub address: SocketAddr,
}

/// A resolved backend: its protocol and the endpoints that may receive traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backend {
    /// Which backend this is.
    pub id: BackendId,
    /// The protocol to speak upstream.
    pub protocol: AppProtocol,
    /// Ready endpoints; empty means requests to it fail with 503.
    pub endpoints: Vec<Endpoint>,
}

/// What a `backendRef` resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BackendTarget {
    /// A backend present in [`crate::Config::backends`].
    Resolved(BackendId),
    /// A reference that could not be resolved (unknown kind, missing object, not permitted);
    /// traffic for it gets a 500, per the Gateway API.
    Invalid,
}

/// A weighted share of traffic to one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightedTarget {
    /// The relative weight; 0 means no traffic.
    pub weight: u32,
    /// Where the share goes.
    pub target: BackendTarget,
}
