//! Test support: a throwaway CA, listeners, and in-memory rustls clients and handshakes.
#![allow(dead_code)]

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    PKCS_RSA_SHA256,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, Tls12Resumption};
use rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, HandshakeKind, ProtocolVersion,
    RootCertStore, ServerConfig, ServerConnection, SignatureScheme,
};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::sync::Arc;
use torii_config::{
    GatewayId, HostnameMatch, ListenerConfig, ListenerId, ListenerProtocol, TlsCertificate,
};

/// The test RSA key (rcgen cannot generate RSA keys with ring), PKCS#8 and PKCS#1.
pub const RSA_PKCS8: &str = include_str!("../data/rsa2048.pkcs8.pem");
pub const RSA_PKCS1: &str = include_str!("../data/rsa2048.pkcs1.pem");

/// A certificate authority issuing leaf certificates.
pub struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::new()).expect("empty SANs are valid");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().expect("CA key");
        Self {
            ca: CertifiedIssuer::self_signed(params, key).expect("CA certificate"),
        }
    }

    /// Trust anchors for a verifying client.
    pub fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots
            .add(self.ca.der().clone())
            .expect("CA is a valid anchor");
        roots
    }

    /// An ECDSA P-256 leaf for `names`, stored as Secret `default/<secret>`.
    pub fn leaf(&self, secret: &str, names: &[&str]) -> TlsCertificate {
        let key = KeyPair::generate().expect("leaf key");
        self.issue(secret, names, &key, &key.serialize_pem())
    }

    /// An RSA leaf for `names` with its key in PKCS#1 (`RSA PRIVATE KEY`).
    pub fn leaf_rsa(&self, secret: &str, names: &[&str]) -> TlsCertificate {
        let key = KeyPair::from_pem_and_sign_algo(RSA_PKCS8, &PKCS_RSA_SHA256).expect("RSA key");
        self.issue(secret, names, &key, RSA_PKCS1)
    }

    /// A leaf certified for `certified_key` but served with `served_key_pem`.
    pub fn issue(
        &self,
        secret: &str,
        names: &[&str],
        certified_key: &KeyPair,
        served_key_pem: &str,
    ) -> TlsCertificate {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("valid SANs");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf = params.signed_by(certified_key, &self.ca).expect("CA signs");
        let chain = format!("{}{}", leaf.pem(), self.ca.pem());
        TlsCertificate {
            secret: format!("default/{secret}"),
            chain_pem: chain.into_bytes().into(),
            key_pem: served_key_pem.as_bytes().into(),
        }
    }
}

/// The leaf certificate of a Secret, to compare with what a client received.
pub fn leaf_der(certificate: &TlsCertificate) -> CertificateDer<'static> {
    use rustls_pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(&certificate.chain_pem)
        .next()
        .expect("a certificate")
        .expect("valid PEM")
}

/// A listener of Gateway `default/gw`.
pub fn listener(
    name: &str,
    hostname: Option<&str>,
    protocol: ListenerProtocol,
    certificates: Vec<TlsCertificate>,
) -> ListenerConfig {
    ListenerConfig {
        id: ListenerId {
            gateway: GatewayId {
                namespace: "default".into(),
                name: "gw".into(),
            },
            name: name.into(),
        },
        hostname: hostname.map(|h| HostnameMatch::parse(h).expect("valid hostname")),
        protocol,
        certificates,
        http_routes: Vec::new(),
        tls_routes: Vec::new(),
        tcp_routes: Vec::new(),
    }
}

/// How a test client checks the server.
pub enum Verify<'a> {
    /// Full WebPKI verification against the test CA.
    Pki(&'a Pki),
    /// Any chain is accepted, but the server must prove it holds the key, with one of
    /// these signature schemes (all the provider's when empty).
    AnyChain(Vec<SignatureScheme>),
}

/// A rustls client configuration.
pub fn client_config(verify: Verify<'_>, alpn: &[&str]) -> ClientConfig {
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the defaults");
    let mut config = match verify {
        Verify::Pki(pki) => builder
            .with_root_certificates(pki.roots())
            .with_no_client_auth(),
        Verify::AnyChain(schemes) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyChain { provider, schemes }))
            .with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    config
}

/// A client that resumes TLS 1.2 sessions by session id only (no tickets).
pub fn tls12_session_id_only(mut config: ClientConfig) -> ClientConfig {
    config.resumption =
        Resumption::in_memory_sessions(32).tls12_resumption(Tls12Resumption::SessionIdOnly);
    config
}

/// A client limited to one protocol version.
pub fn only_version(
    verify: Verify<'_>,
    version: &'static rustls::SupportedProtocolVersion,
) -> ClientConfig {
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[version])
        .expect("ring supports both versions");
    match verify {
        Verify::Pki(pki) => builder
            .with_root_certificates(pki.roots())
            .with_no_client_auth(),
        Verify::AnyChain(schemes) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyChain { provider, schemes }))
            .with_no_client_auth(),
    }
}

#[derive(Debug)]
struct AnyChain {
    provider: Arc<CryptoProvider>,
    schemes: Vec<SignatureScheme>,
}

impl ServerCertVerifier for AnyChain {
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
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
            .into_iter()
            .filter(|s| self.schemes.is_empty() || self.schemes.contains(s))
            .collect()
    }
}

/// What a completed handshake negotiated, seen from the client.
#[derive(Debug)]
pub struct Negotiated {
    pub leaf: CertificateDer<'static>,
    pub alpn: Option<Vec<u8>>,
    pub version: Option<ProtocolVersion>,
    pub kind: Option<HandshakeKind>,
}

/// Runs a full handshake in memory; `server_name` `None` sends no SNI.
pub fn handshake(
    server: &Arc<ServerConfig>,
    client: &Arc<ClientConfig>,
    server_name: Option<&str>,
) -> Result<Negotiated, rustls::Error> {
    let client = match server_name {
        Some(name) => ClientConnection::new(
            client.clone(),
            ServerName::try_from(name.to_string()).expect("valid name"),
        )?,
        None => {
            let mut config = (**client).clone();
            config.enable_sni = false;
            ClientConnection::new(
                Arc::new(config),
                ServerName::try_from("no-sni.test").expect("valid name"),
            )?
        }
    };
    let mut client = client;
    let mut server = ServerConnection::new(server.clone())?;
    exchange(&mut client, &mut server)?;
    if client.is_handshaking() || server.is_handshaking() {
        return Err(rustls::Error::General("handshake did not finish".into()));
    }
    Ok(Negotiated {
        leaf: client
            .peer_certificates()
            .and_then(|c| c.first())
            .expect("server sent a certificate")
            .clone(),
        alpn: client.alpn_protocol().map(<[u8]>::to_vec),
        version: client.protocol_version(),
        kind: client.handshake_kind(),
    })
}

/// Moves TLS bytes both ways until neither side has anything to send.
fn exchange(
    client: &mut ClientConnection,
    server: &mut ServerConnection,
) -> Result<(), rustls::Error> {
    loop {
        let mut moved = false;
        while client.wants_write() {
            let mut bytes = Vec::new();
            client.write_tls(&mut bytes).expect("writing to a Vec");
            server
                .read_tls(&mut bytes.as_slice())
                .expect("reading from a slice");
            server.process_new_packets()?;
            moved = true;
        }
        while server.wants_write() {
            let mut bytes = Vec::new();
            server.write_tls(&mut bytes).expect("writing to a Vec");
            client
                .read_tls(&mut bytes.as_slice())
                .expect("reading from a slice");
            client.process_new_packets()?;
            moved = true;
        }
        if !moved {
            return Ok(());
        }
    }
}

/// The first flight of a rustls client: its ClientHello, as records.
pub fn client_hello_bytes(client: &Arc<ClientConfig>, server_name: &str) -> Vec<u8> {
    let name = ServerName::try_from(server_name.to_string()).expect("valid name");
    let mut client = ClientConnection::new(client.clone(), name).expect("client starts");
    let mut bytes = Vec::new();
    while client.wants_write() {
        client.write_tls(&mut bytes).expect("writing to a Vec");
    }
    bytes
}
