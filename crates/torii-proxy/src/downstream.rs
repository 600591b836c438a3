//! Downstream connections: protocol dispatch by port, TLS (SNI peek, passthrough or
//! terminate) and the HTTP/1.1 + HTTP/2 server.

use crate::io::Rewind;
use crate::proxy::Shared;
use crate::snapshot::PortRuntime;
use bytes::BytesMut;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;
use torii_config::{ListenerProtocol, PortProtocol};
use torii_tls::ClientHelloPeek;

/// What the request path knows of the connection a request came on.
#[derive(Debug)]
pub struct ConnInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// The bound address the connection came in on (the key of its port).
    pub bind: SocketAddr,
    /// Whether TLS was terminated.
    pub tls: bool,
    /// For TLS: index of the listener the SNI selected.
    pub sni_listener: Option<usize>,
    /// The client's IP, ready for `X-Forwarded-For`.
    pub peer_ip: http::HeaderValue,
}

impl ConnInfo {
    fn new(peer: SocketAddr, bind: SocketAddr, tls: bool, sni_listener: Option<usize>) -> Self {
        let peer_ip = http::HeaderValue::from_str(&peer.ip().to_string())
            .unwrap_or_else(|_| http::HeaderValue::from_static("unknown"));
        ConnInfo {
            peer,
            bind,
            tls,
            sni_listener,
            peer_ip,
        }
    }
}

/// Serves one accepted connection to its end.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    bind: SocketAddr,
    closing: watch::Receiver<bool>,
) {
    let _guard = shared.connection();
    let port = match shared.snapshot.load().ports.get(&bind) {
        Some(port) => port.clone(),
        None => return,
    };
    match port.config.protocol {
        PortProtocol::Http => {
            let conn = ConnInfo::new(peer, bind, false, None);
            serve_http(shared, stream, conn, closing).await
        }
        // Boxed: the TLS and TCP paths' futures are large, and every connection's task is as
        // large as the largest branch; plain HTTP connections should not pay for them.
        PortProtocol::Tls => Box::pin(serve_tls(shared, port, stream, peer, bind, closing)).await,
        PortProtocol::Tcp => {
            Box::pin(crate::tcp::serve_tcp_route(shared, port, stream, peer)).await
        }
    }
}

/// Serves HTTP/1.1 (with upgrades) and HTTP/2 (prior knowledge or ALPN) on a stream.
pub(crate) async fn serve_http<S>(
    shared: Arc<Shared>,
    stream: S,
    conn: ConnInfo,
    mut closing: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = Arc::new(conn);
    let service_shared = shared.clone();
    let service = hyper::service::service_fn(move |request| {
        crate::service::handle(service_shared.clone(), conn.clone(), request)
    });
    let connection = shared
        .http
        .serve_connection_with_upgrades(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let mut draining = shared.draining.clone();
    if *draining.borrow() || *closing.borrow() {
        connection.as_mut().graceful_shutdown();
    }
    // The whole proxy drains, or just this connection's listener was removed.
    tokio::select! {
        result = connection.as_mut() => { log_conn_end(result); return; }
        Ok(_) = draining.wait_for(|d| *d) => connection.as_mut().graceful_shutdown(),
        Ok(_) = closing.wait_for(|c| *c) => connection.as_mut().graceful_shutdown(),
    }
    log_conn_end(connection.await);
}

fn log_conn_end(result: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    if let Err(error) = result {
        tracing::debug!(%error, "downstream connection ended with an error");
    }
}

async fn serve_tls(
    shared: Arc<Shared>,
    port: Arc<PortRuntime>,
    mut stream: TcpStream,
    peer: SocketAddr,
    bind: SocketAddr,
    closing: watch::Receiver<bool>,
) {
    let mut buf = BytesMut::with_capacity(2048);
    let read_hello = async {
        loop {
            match torii_tls::peek_client_hello(&buf) {
                ClientHelloPeek::NeedMore => {}
                ClientHelloPeek::NotTls => return None,
                ClientHelloPeek::Hello { sni } => return Some(sni),
            }
            match stream.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    };
    let sni = match tokio::time::timeout(shared.options.handshake_timeout, read_hello).await {
        Ok(Some(sni)) => sni,
        _ => return,
    };
    let listeners: Vec<_> = port.config.listeners.iter().collect();
    let Some(index) = torii_tls::sni_listener_index(&listeners, sni.as_deref()) else {
        return;
    };
    let listener = &port.config.listeners[index];
    let stream = Rewind::new(buf.freeze(), stream);
    match listener.protocol {
        ListenerProtocol::TlsPassthrough => {
            crate::tcp::serve_tls_route(shared, listener, sni.as_deref(), stream, peer).await
        }
        ListenerProtocol::Https | ListenerProtocol::TlsTerminate => {
            let Some(config) = port.tls.clone() else {
                return;
            };
            let accept = tokio_rustls::TlsAcceptor::from(config).accept(stream);
            let tls = match tokio::time::timeout(shared.options.handshake_timeout, accept).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(error)) => {
                    tracing::debug!(%error, %peer, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            if listener.protocol == ListenerProtocol::TlsTerminate {
                crate::tcp::serve_tls_route(shared, listener, sni.as_deref(), tls, peer).await
            } else {
                let sni_listener = sni.is_some().then_some(index);
                let conn = ConnInfo::new(peer, bind, true, sni_listener);
                serve_http(shared, tls, conn, closing).await
            }
        }
        ListenerProtocol::Http | ListenerProtocol::Tcp => {}
    }
}
