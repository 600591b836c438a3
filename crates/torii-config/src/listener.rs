//! Sockets, listeners and the non-HTTP routes attached to them.

use crate::backend::WeightedTarget;
use crate::hostname::HostnameMatch;
use crate::http_route::HttpRouteAttachment;
use crate::ids::{ListenerId, RouteId};
use std::net::SocketAddr;
use std::sync::Arc;

/// One socket to bind and the listeners (of one or more Gateways) that share it.
#[derive(Debug, Clone)]
pub struct PortConfig {
    /// Address and port to bind.
    pub address: SocketAddr,
    /// What the socket speaks.
    pub protocol: PortProtocol,
    /// Listeners served on it, distinguished by hostname (Host header or SNI).
    pub listeners: Vec<ListenerConfig>,
}

/// What a socket speaks first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortProtocol {
    /// Cleartext HTTP (HTTP/1.1 and h2c prior knowledge).
    Http,
    /// TLS: listeners are chosen by SNI (HTTPS and TLS listeners may share it).
    Tls,
    /// Raw TCP.
    Tcp,
}

/// The protocol of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListenerProtocol {
    /// `HTTP`.
    Http,
    /// `HTTPS` (TLS terminated, then HTTP/1.1 or HTTP/2 by ALPN).
    Https,
    /// `TLS` with mode `Passthrough`: bytes forwarded by SNI, not decrypted.
    TlsPassthrough,
    /// `TLS` with mode `Terminate`: TLS terminated, the plaintext forwarded as TCP.
    TlsTerminate,
    /// `TCP`.
    Tcp,
}

/// A certificate and key from a `kubernetes.io/tls` Secret, PEM encoded and already checked
/// to parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsCertificate {
    /// `namespace/name` of the Secret.
    pub secret: String,
    /// `tls.crt`: the chain, leaf first.
    pub chain_pem: Arc<[u8]>,
    /// `tls.key`: the private key.
    pub key_pem: Arc<[u8]>,
}

/// One programmed listener with the routes attached to it.
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// Which listener this is.
    pub id: ListenerId,
    /// The listener's hostname; `None` accepts any.
    pub hostname: Option<HostnameMatch>,
    /// The listener's protocol.
    pub protocol: ListenerProtocol,
    /// Certificates for terminating listeners, chosen by SNI.
    pub certificates: Vec<TlsCertificate>,
    /// HTTPRoutes and GRPCRoutes (for HTTP and HTTPS listeners).
    pub http_routes: Vec<HttpRouteAttachment>,
    /// TLSRoutes (for TLS listeners).
    pub tls_routes: Vec<TlsRouteAttachment>,
    /// TCPRoutes (for TCP listeners).
    pub tcp_routes: Vec<TcpRouteAttachment>,
}

/// A TLSRoute: SNI hostnames to weighted backends.
#[derive(Debug, Clone)]
pub struct TlsRoute {
    /// The route object.
    pub id: RouteId,
    /// Weighted backends of its (single) rule.
    pub backends: Vec<WeightedTarget>,
}

/// A TLSRoute attached to a listener.
#[derive(Debug, Clone)]
pub struct TlsRouteAttachment {
    /// The route.
    pub route: Arc<TlsRoute>,
    /// Effective SNI hostnames; empty means any.
    pub hostnames: Vec<HostnameMatch>,
}

/// A TCPRoute: every connection goes to weighted backends.
#[derive(Debug, Clone)]
pub struct TcpRoute {
    /// The route object.
    pub id: RouteId,
    /// Weighted backends of its (single) rule.
    pub backends: Vec<WeightedTarget>,
}

/// A TCPRoute attached to a listener.
#[derive(Debug, Clone)]
pub struct TcpRouteAttachment {
    /// The route.
    pub route: Arc<TcpRoute>,
}
