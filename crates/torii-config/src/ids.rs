//! Identifiers of objects, as types rather than strings.

use serde::Serialize;
use std::fmt;
use std::sync::Arc;

/// A Gateway, by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct GatewayId {
    /// The Gateway's namespace.
    pub namespace: Arc<str>,
    /// The Gateway's name.
    pub name: Arc<str>,
}

impl fmt::Display for GatewayId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// One listener of a Gateway, by the Gateway and the listener's name (its `sectionName`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ListenerId {
    /// The Gateway the listener belongs to.
    pub gateway: GatewayId,
    /// The listener's name.
    pub name: Arc<str>,
}

impl fmt::Display for ListenerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.gateway, self.name)
    }
}

/// The route kinds torii serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum RouteKind {
    /// `HTTPRoute`.
    #[serde(rename = "HTTPRoute")]
    Http,
    /// `GRPCRoute`.
    #[serde(rename = "GRPCRoute")]
    Grpc,
    /// `TLSRoute`.
    #[serde(rename = "TLSRoute")]
    Tls,
    /// `TCPRoute`.
    #[serde(rename = "TCPRoute")]
    Tcp,
}

impl RouteKind {
    /// The Kubernetes kind name.
    pub fn as_str(self) -> &'static str {
        match self {
            RouteKind::Http => "HTTPRoute",
            RouteKind::Grpc => "GRPCRoute",
            RouteKind::Tls => "TLSRoute",
            RouteKind::Tcp => "TCPRoute",
        }
    }
}

/// A route object, by kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct RouteId {
    /// The route's kind.
    pub kind: RouteKind,
    /// The route's namespace.
    pub namespace: Arc<str>,
    /// The route's name.
    pub name: Arc<str>,
}

impl fmt::Display for RouteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind.as_str(), self.namespace, self.name)
    }
}
