//! Probes: one check attempt against one origin. [`NetProbe`] is the real one (TCP connect,
//! HTTP and HTTPS); tests drive the checker with fakes.

use crate::error::{CheckError, HealthError};
use crate::http_probe::{self, IdleSlot};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpStream;
use torii_config::lb::{HealthMonitor, MonitorProtocol};

/// A boxed, sendable future (what [`Probe::check`] returns).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What one check attempt needs: where, how, and the origin's kept connection.
pub struct ProbeTarget {
    address: SocketAddr,
    monitor: Arc<HealthMonitor>,
    host: Option<http::HeaderValue>,
    idle: IdleSlot,
}

impl ProbeTarget {
    /// The target at `address` (the monitor's port already applied), checked by `monitor`,
    /// sending `host` when the monitor sets no `Host`.
    pub fn new(
        address: SocketAddr,
        monitor: Arc<HealthMonitor>,
        host: Option<http::HeaderValue>,
    ) -> Self {
        Self {
            address,
            monitor,
            host,
            idle: Arc::new(Mutex::new(None)),
        }
    }

    /// The address to connect to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The monitor.
    pub fn monitor(&self) -> &Arc<HealthMonitor> {
        &self.monitor
    }

    /// `Host` to send when the monitor sets none.
    pub fn host(&self) -> Option<&http::HeaderValue> {
        self.host.as_ref()
    }

    pub(crate) fn idle_slot(&self) -> &IdleSlot {
        &self.idle
    }
}

impl std::fmt::Debug for ProbeTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeTarget")
            .field("address", &self.address)
            .field("monitor", &self.monitor.id)
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

/// One check attempt. The checker applies the monitor's timeout (by dropping the future) and
/// retries, and measures the round trip; a probe only says whether the origin passed.
pub trait Probe: Send + Sync + 'static {
    /// Checks `target` once.
    fn check<'a>(&'a self, target: &'a ProbeTarget) -> BoxFuture<'a, Result<(), CheckError>>;
}

/// Options of the network probe.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// Trust Mozilla's roots (the `webpki-roots` crate) for https monitors. On by default.
    pub webpki_roots: bool,
    /// More roots to trust (a private CA), beside or instead of the defaults.
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// At most this many body bytes are searched for the expected text (64 KiB).
    pub body_limit: usize,
    /// Redirects followed before judging, when the monitor follows redirects (5).
    pub max_redirects: u8,
    /// Keep each origin's http(s) connection for its next check (on by default, as Envoy
    /// does): a check then costs one request instead of a TCP (and TLS) handshake, for the
    /// checker and for the origin. A kept connection that turns out closed is replaced at once
    /// within the same attempt, so an origin that restarted or closed an idle connection does
    /// not fail a check for it. Off: a fresh connection per check (`Connection: close`), which
    /// also tests that the origin accepts new connections each time.
    pub reuse_connections: bool,
    /// At most this many connections are kept at once, each an open file: `None` (the
    /// default) takes half the process's soft limit of open files (512 when it cannot be
    /// read), leaving the rest to the proxy. Origins past the limit get a fresh connection
    /// per check.
    pub max_kept_connections: Option<usize>,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        Self {
            webpki_roots: true,
            extra_roots: Vec::new(),
            body_limit: 64 * 1024,
            max_redirects: 5,
            reuse_connections: true,
            max_kept_connections: None,
        }
    }
}

/// The real probe: a TCP connect for `tcp` monitors, an HTTP/1.1 request (torii-http1's
/// client connection) for `http`, the same over TLS (rustls, ring) for `https`.
///
/// http(s) checks keep their connection for the next check unless
/// [`ProbeOptions::reuse_connections`] is off. Sockets close with a reset (zero linger) so
/// thousands of checks a second leave no `TIME_WAIT` behind on the checker's host.
#[derive(Debug, Clone)]
pub struct NetProbe {
    pub(crate) verified: Arc<ClientConfig>,
    pub(crate) unverified: Arc<ClientConfig>,
    pub(crate) body_limit: usize,
    pub(crate) max_redirects: u8,
    pub(crate) reuse_connections: bool,
    /// Connections kept now.
    pub(crate) kept: Arc<AtomicUsize>,
    pub(crate) max_kept: usize,
}

impl NetProbe {
    /// Builds the probe and its two TLS client configurations (validating and not).
    pub fn new(options: ProbeOptions) -> Result<Self, HealthError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        if options.webpki_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        for root in options.extra_roots {
            roots
                .add(root)
                .map_err(|error| HealthError::InvalidRoot(error.to_string()))?;
        }
        let mut verified = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        verified.alpn_protocols = vec![b"http/1.1".to_vec()];
        let mut unverified = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth();
        unverified.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            verified: Arc::new(verified),
            unverified: Arc::new(unverified),
            body_limit: options.body_limit,
            max_redirects: options.max_redirects,
            reuse_connections: options.reuse_connections,
            kept: Arc::new(AtomicUsize::new(0)),
            max_kept: options
                .max_kept_connections
                .unwrap_or_else(|| open_files_limit().map_or(512, |limit| limit / 2)),
        })
    }
}

impl NetProbe {
    /// How many http(s) connections the probe keeps open between checks now.
    pub fn kept_connections(&self) -> usize {
        self.kept.load(Ordering::Relaxed)
    }
}

/// The soft limit of open files of this process, from `/proc/self/limits`.
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    match line.split_whitespace().nth(3)? {
        "unlimited" => Some(usize::MAX),
        soft => soft.parse().ok(),
    }
}

impl Probe for NetProbe {
    fn check<'a>(&'a self, target: &'a ProbeTarget) -> BoxFuture<'a, Result<(), CheckError>> {
        Box::pin(async move {
            match target.monitor.protocol {
                MonitorProtocol::Tcp => {
                    connect(target.address).await?;
                    Ok(())
                }
                MonitorProtocol::Http => http_probe::check(self, target, false).await,
                MonitorProtocol::Https => http_probe::check(self, target, true).await,
            }
        })
    }
}

/// Opens a connection that closes with a reset (no `TIME_WAIT` on our side).
pub(crate) async fn connect(address: SocketAddr) -> Result<TcpStream, CheckError> {
    let stream = TcpStream::connect(address)
        .await
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::ConnectionRefused => CheckError::ConnectRefused,
            _ => CheckError::Connect(error.to_string()),
        })?;
    // Best effort: a socket that keeps its linger only costs a TIME_WAIT entry.
    let _ = stream.set_zero_linger();
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// The certificate "verifier" of `verify_tls: false`: any certificate is accepted, but the
/// handshake signatures are still checked (the peer must hold the key it presents).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
