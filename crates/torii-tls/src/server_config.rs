//! The rustls server configuration of one TLS port.

use crate::certificate::{load_certified_key, InvalidCertificate};
use crate::resolver::{CertificateResolver, ListenerKeys};
use rustls::crypto::ring;
use rustls::server::ServerSessionMemoryCache;
use rustls::ServerConfig;
use std::sync::Arc;
use torii_config::{ListenerConfig, ListenerId, ListenerProtocol};

/// Sessions remembered for TLS 1.2 session-id resumption (TLS 1.3 uses tickets).
const SESSION_CACHE_ENTRIES: usize = 4096;

/// Which application protocols a port offers by ALPN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alpn {
    /// HTTPS ports: `h2`, then `http/1.1`.
    Http,
    /// No ALPN (TLS-terminated TCP).
    None,
}

impl Alpn {
    /// The protocol names, in server preference order.
    fn protocols(self) -> Vec<Vec<u8>> {
        match self {
            Alpn::Http => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            Alpn::None => Vec::new(),
        }
    }
}

/// Why a port's TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// One of a listener's certificates cannot be served.
    #[error("certificate {secret} of listener {listener} cannot be used")]
    Certificate {
        /// The listener.
        listener: ListenerId,
        /// `namespace/name` of the Secret.
        secret: String,
        /// What is wrong with it.
        #[source]
        source: Box<InvalidCertificate>,
    },
    /// No terminating listener of the port has a certificate.
    #[error("no terminating listener has a certificate")]
    NoCertificate,
    /// rustls refused the configuration.
    #[error("the TLS configuration is invalid")]
    Config(#[source] rustls::Error),
}

/// Builds the rustls server config for one TLS port: terminating listeners
/// (`ListenerProtocol::Https` and `TlsTerminate`) with their certificates, chosen by SNI.
///
/// Other listeners are ignored. TLS 1.2 and 1.3 with the ring provider's default cipher
/// suites, no client authentication, resumption by tickets and by a session cache. A client
/// whose SNI no listener serves gets a handshake failure; a client without SNI gets the first
/// listener without hostname, else the first certificate of the first listener with one.
pub fn server_config(
    listeners: &[&ListenerConfig],
    alpn: Alpn,
) -> Result<Arc<ServerConfig>, TlsError> {
    let listeners = listeners
        .iter()
        .filter(|l| terminates(l.protocol))
        .map(|listener| load_listener(listener))
        .collect::<Result<Vec<_>, _>>()?;
    if listeners.iter().all(|l| l.keys.is_empty()) {
        return Err(TlsError::NoCertificate);
    }

    let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(CertificateResolver::new(listeners)));
    config.alpn_protocols = alpn.protocols();
    config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE_ENTRIES);
    config.ticketer = ring::Ticketer::new().map_err(TlsError::Config)?;
    Ok(Arc::new(config))
}

/// Whether TLS ends at torii for this listener.
fn terminates(protocol: ListenerProtocol) -> bool {
    matches!(
        protocol,
        ListenerProtocol::Https | ListenerProtocol::TlsTerminate
    )
}

fn load_listener(listener: &ListenerConfig) -> Result<ListenerKeys, TlsError> {
    let keys = listener
        .certificates
        .iter()
        .map(|certificate| {
            load_certified_key(&certificate.chain_pem, &certificate.key_pem).map_err(|source| {
                TlsError::Certificate {
                    listener: listener.id.clone(),
                    secret: certificate.secret.clone(),
                    source: Box::new(source),
                }
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(ListenerKeys {
        hostname: listener.hostname.clone(),
        keys,
    })
}
