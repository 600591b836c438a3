//! A listener's `tls.certificateRefs`: Secrets of type `kubernetes.io/tls`, checked to hold a
//! PEM certificate chain and private key.

use crate::conditions::{reason, Problem};
use crate::index::{Index, RefFrom, RefTo, GATEWAY_GROUP};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;
use torii_config::TlsCertificate;
use torii_resources::wire::gateway::gateways::GatewayListenersTlsCertificateRefs;
use torii_resources::wire::Secret;

/// The Secret type that holds a certificate and key.
const TLS_SECRET_TYPE: &str = "kubernetes.io/tls";

/// Resolves every certificateRef of a listener of a Gateway in `namespace`: the certificates
/// that resolved, and a problem per reference that did not.
pub(super) fn resolve(
    refs: &[GatewayListenersTlsCertificateRefs],
    namespace: &str,
    index: &Index<'_>,
) -> (Vec<TlsCertificate>, Vec<Problem>) {
    let mut certificates = Vec::new();
    let mut problems = Vec::new();
    if refs.is_empty() {
        problems.push(Problem::new(
            reason::INVALID_CERTIFICATE_REF,
            "a terminating listener needs tls.certificateRefs",
        ));
    }
    for cert_ref in refs {
        match resolve_one(cert_ref, namespace, index) {
            Ok(certificate) => certificates.push(certificate),
            Err(problem) => problems.push(problem),
        }
    }
    // RefNotPermitted is the more specific reason, so it leads the summary.
    problems.sort_by_key(|p| p.reason != reason::REF_NOT_PERMITTED);
    (certificates, problems)
}

fn resolve_one(
    cert_ref: &GatewayListenersTlsCertificateRefs,
    namespace: &str,
    index: &Index<'_>,
) -> Result<TlsCertificate, Problem> {
    let group = cert_ref.group.as_deref().unwrap_or("");
    let kind = cert_ref.kind.as_deref().unwrap_or("Secret");
    let secret_namespace = cert_ref.namespace.as_deref().unwrap_or(namespace);
    let name = cert_ref.name.as_str();
    let invalid = |message: String| Problem::new(reason::INVALID_CERTIFICATE_REF, message);
    if !group.is_empty() || kind != "Secret" {
        return Err(invalid(format!(
            "certificateRef {group}/{kind} {name}: only core Secrets are supported"
        )));
    }
    let permitted = index.reference_permitted(
        RefFrom {
            group: GATEWAY_GROUP,
            kind: "Gateway",
            namespace,
        },
        RefTo {
            group: "",
            kind: "Secret",
            namespace: secret_namespace,
            name,
        },
    );
    if !permitted {
        return Err(Problem::new(
            reason::REF_NOT_PERMITTED,
            format!(
                "certificateRef to Secret {secret_namespace}/{name} is not permitted by any ReferenceGrant"
            ),
        ));
    }
    let secret = index
        .secret(secret_namespace, name)
        .ok_or_else(|| invalid(format!("Secret {secret_namespace}/{name} does not exist")))?;
    let certificate = certificate_of(secret)
        .map_err(|message| invalid(format!("Secret {secret_namespace}/{name}: {message}")))?;
    Ok(TlsCertificate {
        secret: format!("{secret_namespace}/{name}"),
        ..certificate
    })
}

/// The certificate and key of a `kubernetes.io/tls` Secret, checked to parse.
fn certificate_of(secret: &Secret) -> Result<TlsCertificate, String> {
    if secret.type_.as_deref() != Some(TLS_SECRET_TYPE) {
        return Err(format!(
            "type is {:?}, not {TLS_SECRET_TYPE}",
            secret.type_.as_deref().unwrap_or_default()
        ));
    }
    let chain = secret_value(secret, "tls.crt").ok_or("tls.crt is missing")?;
    let key = secret_value(secret, "tls.key").ok_or("tls.key is missing")?;
    let mut count = 0;
    for certificate in CertificateDer::pem_slice_iter(chain) {
        certificate.map_err(|e| format!("tls.crt is not valid PEM: {e}"))?;
        count += 1;
    }
    if count == 0 {
        return Err("tls.crt holds no PEM certificate".into());
    }
    PrivateKeyDer::from_pem_slice(key)
        .map_err(|e| format!("tls.key holds no valid PEM private key: {e}"))?;
    Ok(TlsCertificate {
        secret: String::new(),
        chain_pem: Arc::from(chain),
        key_pem: Arc::from(key),
    })
}

/// A Secret value: `stringData` wins over `data`, as the API server merges them.
fn secret_value<'s>(secret: &'s Secret, key: &str) -> Option<&'s [u8]> {
    secret
        .string_data
        .as_ref()
        .and_then(|data| data.get(key))
        .map(String::as_bytes)
        .or_else(|| {
            secret
                .data
                .as_ref()
                .and_then(|data| data.get(key))
                .map(|bytes| bytes.0.as_slice())
        })
}
