//! Loading a PEM certificate chain and private key into a rustls [`CertifiedKey`].

use rustls::crypto::ring::sign::any_supported_type;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;

/// A certificate chain and private key that cannot serve TLS.
#[derive(Debug, thiserror::Error)]
pub enum InvalidCertificate {
    /// `tls.crt` is not valid PEM.
    #[error("the certificate chain is not valid PEM")]
    ChainPem(#[source] pem::Error),
    /// `tls.crt` holds no `CERTIFICATE` section.
    #[error("the certificate chain holds no certificate")]
    NoCertificate,
    /// The first certificate of the chain is not a valid X.509 certificate.
    #[error("the leaf certificate is not a valid X.509 certificate")]
    Leaf(#[source] webpki::Error),
    /// `tls.key` holds no PKCS#1, PKCS#8 or SEC1 private key.
    #[error("the private key file holds no private key")]
    NoPrivateKey,
    /// `tls.key` is not valid PEM.
    #[error("the private key is not valid PEM")]
    KeyPem(#[source] pem::Error),
    /// The key is not an RSA, ECDSA (P-256, P-384) or Ed25519 key.
    #[error("the private key type is not supported")]
    UnsupportedKey(#[source] rustls::Error),
    /// The private key does not belong to the leaf certificate.
    #[error("the private key does not match the certificate")]
    KeyMismatch,
}

/// Checks that a PEM chain (leaf first) and a PEM private key parse and belong together.
pub fn check_certificate(chain_pem: &[u8], key_pem: &[u8]) -> Result<(), InvalidCertificate> {
    load_certified_key(chain_pem, key_pem).map(drop)
}

/// Parses a PEM chain and key into the signing key rustls serves, checking they match.
pub(crate) fn load_certified_key(
    chain_pem: &[u8],
    key_pem: &[u8],
) -> Result<Arc<CertifiedKey>, InvalidCertificate> {
    let chain = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(InvalidCertificate::ChainPem)?;
    let leaf = chain.first().ok_or(InvalidCertificate::NoCertificate)?;
    webpki::EndEntityCert::try_from(leaf).map_err(InvalidCertificate::Leaf)?;

    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|error| match error {
        pem::Error::NoItemsFound => InvalidCertificate::NoPrivateKey,
        error => InvalidCertificate::KeyPem(error),
    })?;
    let signing_key = any_supported_type(&key).map_err(InvalidCertificate::UnsupportedKey)?;

    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        // ring's keys all expose their public key; an unknown answer is not a mismatch.
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
            Ok(Arc::new(certified))
        }
        Err(_) => Err(InvalidCertificate::KeyMismatch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair, PKCS_RSA_SHA256};

    const RSA_PKCS8: &str = include_str!("../tests/data/rsa2048.pkcs8.pem");
    const RSA_PKCS1: &str = include_str!("../tests/data/rsa2048.pkcs1.pem");
    const P256_PKCS8: &str = include_str!("../tests/data/p256.pkcs8.pem");
    const P256_SEC1: &str = include_str!("../tests/data/p256.sec1.pem");

    /// A self-signed certificate for `key` (PKCS#8 PEM).
    fn certificate_for(key_pem: &str) -> String {
        let key = KeyPair::from_pem(key_pem)
            .or_else(|_| KeyPair::from_pem_and_sign_algo(key_pem, &PKCS_RSA_SHA256))
            .expect("test key loads in rcgen");
        CertificateParams::new(vec!["a.example.com".to_string()])
            .expect("valid params")
            .self_signed(&key)
            .expect("self-signing works")
            .pem()
    }

    #[test]
    fn every_key_encoding_loads() {
        let rsa = certificate_for(RSA_PKCS8);
        let p256 = certificate_for(P256_PKCS8);
        let ed25519_key = KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519 key");
        let ed25519 = CertificateParams::new(vec!["a.example.com".to_string()])
            .expect("valid params")
            .self_signed(&ed25519_key)
            .expect("self-signing works")
            .pem();
        let cases = [
            ("RSA PKCS#1", &rsa, RSA_PKCS1.to_string()),
            ("RSA PKCS#8", &rsa, RSA_PKCS8.to_string()),
            ("P-256 SEC1", &p256, P256_SEC1.to_string()),
            ("P-256 PKCS#8", &p256, P256_PKCS8.to_string()),
            ("Ed25519 PKCS#8", &ed25519, ed25519_key.serialize_pem()),
        ];
        for (name, chain, key) in cases {
            let loaded = load_certified_key(chain.as_bytes(), key.as_bytes());
            assert!(loaded.is_ok(), "{name}: {loaded:?}");
        }
    }

    #[test]
    fn broken_pairs_are_reported() {
        let rsa = certificate_for(RSA_PKCS8);
        let p256 = certificate_for(P256_PKCS8);
        let leaf_body = rsa
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>();
        let truncated_leaf = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            &leaf_body[..leaf_body.len() / 2]
        );
        type Check = fn(&InvalidCertificate) -> bool;
        let cases: [(&str, &str, &str, Check); 7] = [
            ("RSA key for an ECDSA certificate", &p256, RSA_PKCS1, |e| {
                matches!(e, InvalidCertificate::KeyMismatch)
            }),
            ("ECDSA key for an RSA certificate", &rsa, P256_SEC1, |e| {
                matches!(e, InvalidCertificate::KeyMismatch)
            }),
            ("no certificate in the chain", "", RSA_PKCS1, |e| {
                matches!(e, InvalidCertificate::NoCertificate)
            }),
            (
                "a key where the chain should be",
                RSA_PKCS8,
                RSA_PKCS8,
                |e| matches!(e, InvalidCertificate::NoCertificate),
            ),
            ("a truncated leaf", &truncated_leaf, RSA_PKCS8, |e| {
                matches!(e, InvalidCertificate::Leaf(_))
            }),
            ("no key", &rsa, &rsa, |e| {
                matches!(e, InvalidCertificate::NoPrivateKey)
            }),
            (
                "an unterminated key section",
                &rsa,
                "-----BEGIN PRIVATE KEY-----\nAAAA\n",
                |e| matches!(e, InvalidCertificate::KeyPem(_)),
            ),
        ];
        for (name, chain, key, expected) in cases {
            match check_certificate(chain.as_bytes(), key.as_bytes()) {
                Err(error) => assert!(expected(&error), "{name}: got {error:?}"),
                Ok(()) => panic!("{name}: accepted"),
            }
        }
    }

    #[test]
    fn a_key_that_is_no_key_is_unsupported() {
        let rsa = certificate_for(RSA_PKCS8);
        let garbage = "-----BEGIN PRIVATE KEY-----\nAAECAwQF\n-----END PRIVATE KEY-----\n";
        assert!(matches!(
            check_certificate(rsa.as_bytes(), garbage.as_bytes()),
            Err(InvalidCertificate::UnsupportedKey(_))
        ));
    }
}
