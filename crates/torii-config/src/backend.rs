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

/// A ready endpoint named by a DNS name (an EndpointSlice of `addressType: FQDN`). Translation
/// is pure, so the data plane looks the name up when it builds a snapshot (names under
/// `localhost.` are the loopback address without a lookup, RFC 6761 §6.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct HostEndpoint {
    /// The name, lowercase, without a trailing dot.
    pub host: Arc<str>,
    /// The port to connect to.
    pub port: u16,
}

impl fmt::Display for HostEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// A resolved backend: its protocol and the endpoints that may receive traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backend {
    /// Which backend this is.
    pub id: BackendId,
    /// The protocol to speak upstream.
    pub protocol: AppProtocol,
    /// Ready endpoints; empty (with no `hosts`) means requests to it fail with 503.
    pub endpoints: Vec<Endpoint>,
    /// Ready endpoints named by DNS names; their addresses join `endpoints` in the data plane.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostEndpoint>,
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
