//! Layer-4 proxying: TCPRoutes and TLSRoutes (passthrough and terminated).

use crate::proxy::Shared;
use crate::snapshot::PortRuntime;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use torii_config::{BackendTarget, ListenerConfig, WeightedTarget};

/// Proxies a TCP connection by the port's TCPRoute.
pub(crate) async fn serve_tcp_route(
    shared: Arc<Shared>,
    port: Arc<PortRuntime>,
    stream: TcpStream,
    peer: SocketAddr,
) {
    let route = port
        .config
        .listeners
        .iter()
        .flat_map(|l| l.tcp_routes.iter())
        .next();
    let Some(route) = route else { return };
    let backends = route.route.backends.clone();
    splice_to(shared, &backends, stream, peer).await
}

/// Proxies a TLS connection (raw or decrypted) by the listener's TLSRoute matching the SNI.
pub(crate) async fn serve_tls_route<S>(
    shared: Arc<Shared>,
    listener: &ListenerConfig,
    sni: Option<&str>,
    stream: S,
    peer: SocketAddr,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let host = sni.unwrap_or("");
    // The most specific hostname wins: exact, then the longest wildcard, then routes
    // without hostnames.
    let mut best: Option<(usize, &Vec<WeightedTarget>)> = None;
    for attachment in &listener.tls_routes {
        let score = if attachment.hostnames.is_empty() {
            Some(0)
        } else {
            attachment
                .hostnames
                .iter()
                .filter(|h| h.matches(host))
                .map(|h| match h {
                    torii_config::HostnameMatch::Exact(name) => 1_000 + name.len(),
                    torii_config::HostnameMatch::Wildcard(suffix) => 1 + suffix.len(),
                })
                .max()
        };
        if let Some(score) = score {
            if best.is_none_or(|(b, _)| score > b) {
                best = Some((score, &attachment.route.backends));
            }
        }
    }
    let Some((_, backends)) = best else { return };
    let backends = backends.clone();
    splice_to(shared, &backends, stream, peer).await
}

async fn splice_to<S>(shared: Arc<Shared>, backends: &[WeightedTarget], stream: S, peer: SocketAddr)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Some(index) = crate::weighted::pick(backends, |t| t.weight) else {
        return;
    };
    let BackendTarget::Resolved(id) = &backends[index].target else {
        return;
    };
    let snapshot = shared.snapshot.load_full();
    let Some(backend) = snapshot.backends.get(id) else {
        return;
    };
    let Some(address) = backend.pick().map(|e| e.address) else {
        return;
    };
    let connect = TcpStream::connect(address);
    let upstream = match tokio::time::timeout(shared.options.connect_timeout, connect).await {
        Ok(Ok(upstream)) => upstream,
        _ => {
            backend.connect_errors.inc();
            tracing::debug!(%address, %peer, "upstream connect failed");
            return;
        }
    };
    let _ = upstream.set_nodelay(true);
    crate::io::splice(stream, upstream, shared.options.tcp_idle_timeout).await;
}
