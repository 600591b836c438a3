//! Downstream connections: protocol dispatch by port, TLS (SNI peek, passthrough or
//! terminate) and the HTTP/1.1 + HTTP/2 server.

use crate::body::DownstreamBody;
use crate::io::Rewind;
use crate::proxy::Shared;
use crate::signal::Closing;
use crate::snapshot::PortRuntime;
use bytes::BytesMut;
use http::Request;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpStream;
use torii_config::{ListenerProtocol, PortProtocol};
use torii_http1::server::RecvBody;
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
    /// The peer is a trusted proxy (`--trusted-proxy`): its forwarding headers are believed.
    pub trusted: bool,
}

impl ConnInfo {
    pub(crate) fn new(
        peer: SocketAddr,
        bind: SocketAddr,
        tls: bool,
        sni_listener: Option<usize>,
    ) -> Self {
        let peer_ip = http::HeaderValue::from_str(&peer.ip().to_string())
            .unwrap_or_else(|_| http::HeaderValue::from_static("unknown"));
        ConnInfo {
            peer,
            bind,
            tls,
            sni_listener,
            peer_ip,
            trusted: false,
        }
    }
}

/// Serves one accepted connection to its end.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    bind: SocketAddr,
    closing: Closing,
) {
    let _guard = shared.connection();
    let port = match shared.snapshot.load().ports.get(&bind) {
        Some(port) => port.clone(),
        None => return,
    };
    match port.config.protocol {
        PortProtocol::Http => {
            let mut conn = ConnInfo::new(peer, bind, false, None);
            conn.trusted = shared.load_balancing.locator.trusted.contains(peer.ip());
            let read_timeout = shared.options.header_read_timeout;
            let version = match tokio::time::timeout(read_timeout, sniff_version(&stream)).await {
                Ok(Some(version)) => version,
                // Closed, failed, or silent past the header read timeout.
                _ => return,
            };
            serve_http(shared, stream, conn, closing, version).await
        }
        // Boxed: the TLS and TCP paths' futures are large, and every connection's task is as
        // large as the largest branch; plain HTTP connections should not pay for them.
        PortProtocol::Tls => Box::pin(serve_tls(shared, port, stream, peer, bind, closing)).await,
        PortProtocol::Tcp => {
            Box::pin(crate::tcp::serve_tcp_route(shared, port, stream, peer)).await
        }
    }
}

/// Which HTTP server a connection gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HttpVersion {
    /// HTTP/1.1 (with upgrades).
    Http1,
    /// HTTP/2.
    Http2,
    /// Not known yet: the first bytes are a prefix of the HTTP/2 preface.
    Detect,
}

/// The HTTP/2 connection preface a prior-knowledge client starts with.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Looks at the first bytes without consuming them; `None` when the client closed.
async fn sniff_version(stream: &TcpStream) -> Option<HttpVersion> {
    let mut buf = [0u8; 24];
    let n = stream.peek(&mut buf).await.ok()?;
    classify(&buf[..n])
}

fn classify(seen: &[u8]) -> Option<HttpVersion> {
    Some(if seen.is_empty() {
        return None;
    } else if !H2_PREFACE.starts_with(seen) {
        HttpVersion::Http1
    } else if seen.len() == H2_PREFACE.len() {
        HttpVersion::Http2
    } else {
        HttpVersion::Detect
    })
}

/// Serves HTTP/1.1 (with upgrades) or HTTP/2 on a stream.
pub(crate) async fn serve_http<S>(
    shared: Arc<Shared>,
    stream: S,
    conn: ConnInfo,
    closing: Closing,
    version: HttpVersion,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = Arc::new(conn);
    match version {
        HttpVersion::Http1 => serve_http1(shared, stream, conn, closing).await,
        HttpVersion::Http2 => Box::pin(serve_http2(shared, stream, conn, closing)).await,
        HttpVersion::Detect => Box::pin(detect(shared, stream, conn, closing)).await,
    }
}

/// Serves HTTP/1.1 with torii-http1's server.
async fn serve_http1<S>(shared: Arc<Shared>, stream: S, conn: Arc<ConnInfo>, closing: Closing)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service_shared = shared.clone();
    let service = move |request: Request<RecvBody>| {
        crate::service::handle(
            service_shared.clone(),
            conn.clone(),
            request.map(DownstreamBody::Left),
        )
    };
    let shutdown = closing.closed();
    let result =
        torii_http1::server::serve_connection(stream, &shared.http1, service, shutdown).await;
    if let Err(error) = result {
        tracing::debug!(%error, "downstream connection ended with an error");
    }
}

/// Reads until the first bytes tell HTTP/1.1 from the HTTP/2 preface (a client that sends the
/// preface in pieces), then serves the connection with those bytes put back.
async fn detect<S>(shared: Arc<Shared>, mut stream: S, conn: Arc<ConnInfo>, closing: Closing)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut seen = BytesMut::with_capacity(H2_PREFACE.len());
    let read = async {
        loop {
            match classify(&seen) {
                Some(HttpVersion::Detect) | None => {}
                decided => return decided,
            }
            let mut byte = [0u8; 24];
            let want = H2_PREFACE.len() - seen.len();
            match stream.read(&mut byte[..want]).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => seen.extend_from_slice(&byte[..n]),
            }
        }
    };
    let version = match tokio::time::timeout(shared.options.header_read_timeout, read).await {
        Ok(Some(version)) => version,
        _ => return,
    };
    let stream = Rewind::new(seen.freeze(), stream);
    match version {
        HttpVersion::Http2 => serve_http2(shared, stream, conn, closing).await,
        _ => serve_http1(shared, stream, conn, closing).await,
    }
}

/// Serves HTTP/2 with hyper, shutting down gracefully when the proxy drains or the listener goes.
async fn serve_http2<S>(shared: Arc<Shared>, stream: S, conn: Arc<ConnInfo>, closing: Closing)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service_shared = shared.clone();
    let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
        // Boxed: hyper spawns a task per stream and tokio moves the task's future a few times
        // (spawn, completion); moving a pointer instead of the whole exchange's state machine
        // (several KiB) saves far more instructions than the allocation costs (measured with
        // callgrind: ~30k instructions per h2c request).
        let response = Box::pin(crate::service::handle(
            service_shared.clone(),
            conn.clone(),
            request.map(DownstreamBody::Right),
        ));
        async move { Ok::<_, std::convert::Infallible>(response.await) }
    });
    let connection = shared.http2.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    if closing.is_fired() {
        connection.as_mut().graceful_shutdown();
    }
    tokio::select! {
        result = connection.as_mut() => { log_conn_end(result); return; }
        () = closing.closed() => connection.as_mut().graceful_shutdown(),
    }
    log_conn_end(connection.await);
}

fn log_conn_end(result: Result<(), hyper::Error>) {
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
    closing: Closing,
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
                let mut conn = ConnInfo::new(peer, bind, true, sni_listener);
                conn.trusted = shared.load_balancing.locator.trusted.contains(peer.ip());
                let version = if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                    HttpVersion::Http2
                } else {
                    HttpVersion::Http1
                };
                serve_http(shared, tls, conn, closing, version).await
            }
        }
        ListenerProtocol::Http | ListenerProtocol::Tcp => {}
    }
}
