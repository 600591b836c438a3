//! TLS client settings shared by the sinks: ring, web PKI roots plus configured CAs.

use crate::error::SinkProblem;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use std::sync::Arc;

/// The certificates of a PEM bundle; at least one, each a usable trust anchor.
pub(crate) fn parse_ca_certificates(
    pem: &str,
) -> Result<Vec<CertificateDer<'static>>, SinkProblem> {
    let certificates = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SinkProblem::InvalidCaCertificates(format!("invalid PEM: {e}")))?;
    if certificates.is_empty() {
        return Err(SinkProblem::InvalidCaCertificates(
            "no CERTIFICATE block found".to_owned(),
        ));
    }
    let mut roots = RootCertStore::empty();
    for certificate in &certificates {
        roots
            .add(certificate.clone())
            .map_err(|e| SinkProblem::InvalidCaCertificates(e.to_string()))?;
    }
    Ok(certificates)
}

/// A rustls client config (ring; TLS 1.2 and 1.3) trusting the web PKI and `extra_pem`.
pub(crate) fn client_config(extra_pem: Option<&str>) -> Result<ClientConfig, SinkProblem> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(pem) = extra_pem {
        for certificate in parse_ca_certificates(pem)? {
            roots
                .add(certificate)
                .map_err(|e| SinkProblem::InvalidCaCertificates(e.to_string()))?;
        }
    }
    Ok(
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| SinkProblem::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// An error and its sources, `outer: inner: innermost`.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.ends_with(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    text
}
