//! Certificate selection by SNI, for rustls.

use crate::sni::{select_listener, without_trailing_dot};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::SignatureScheme;
use rustls_pki_types::ServerName;
use std::sync::Arc;
use torii_config::HostnameMatch;

/// The certificates of one terminating listener, loaded once.
#[derive(Debug)]
pub(crate) struct ListenerKeys {
    /// The listener's hostname; `None` accepts any server name.
    pub(crate) hostname: Option<HostnameMatch>,
    /// Its certificates in configuration order.
    pub(crate) keys: Vec<Arc<CertifiedKey>>,
}

/// Picks the certificate for a handshake: the listener that serves the SNI (as
/// [`crate::sni_listener_index`] chooses it), then that listener's certificate for the name.
#[derive(Debug)]
pub(crate) struct CertificateResolver {
    listeners: Vec<ListenerKeys>,
    /// The listener that answers clients sending no SNI.
    no_sni: Option<usize>,
}

impl CertificateResolver {
    /// Indexes the listeners of one port (in configuration order).
    pub(crate) fn new(listeners: Vec<ListenerKeys>) -> Self {
        let no_sni = select_listener(listeners.iter().map(|l| l.hostname.as_ref()), None)
            .or_else(|| listeners.iter().position(|l| !l.keys.is_empty()));
        Self { listeners, no_sni }
    }

    /// The certificate for a server name (lower-case) and the client's signature schemes;
    /// `None` when no listener serves the name, which aborts the handshake.
    pub(crate) fn choose(
        &self,
        sni: Option<&str>,
        schemes: &[SignatureScheme],
    ) -> Option<&Arc<CertifiedKey>> {
        let Some(sni) = sni.map(without_trailing_dot) else {
            return self.listeners.get(self.no_sni?)?.keys.first();
        };
        let index = select_listener(
            self.listeners.iter().map(|l| l.hostname.as_ref()),
            Some(sni),
        )?;
        choose_key(&self.listeners[index].keys, sni, schemes)
    }
}

impl ResolvesServerCert for CertificateResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.choose(client_hello.server_name(), client_hello.signature_schemes())
            .cloned()
    }
}

/// Among one listener's certificates: the first valid for `sni` whose key can sign with a
/// scheme the client offers (so an RSA and an ECDSA certificate can share a name), else the
/// first valid for `sni`, else the first.
fn choose_key<'k>(
    keys: &'k [Arc<CertifiedKey>],
    sni: &str,
    schemes: &[SignatureScheme],
) -> Option<&'k Arc<CertifiedKey>> {
    if keys.len() < 2 {
        return keys.first();
    }
    let Ok(name) = ServerName::try_from(sni) else {
        return keys.first();
    };
    let mut first_valid_for_name = None;
    for key in keys.iter().filter(|key| valid_for_name(key, &name)) {
        if key.key.choose_scheme(schemes).is_some() {
            return Some(key);
        }
        first_valid_for_name.get_or_insert(key);
    }
    first_valid_for_name.or(keys.first())
}

/// Whether the leaf certificate's SANs cover `name` (a `*.` SAN covers exactly one label).
fn valid_for_name(key: &CertifiedKey, name: &ServerName<'_>) -> bool {
    key.end_entity_cert()
        .ok()
        .and_then(|der| webpki::EndEntityCert::try_from(der).ok())
        .is_some_and(|cert| cert.verify_is_valid_for_subject_name(name).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certificate::load_certified_key;

    use crate::test_support::Pki;

    /// A listener's hostname and its certificates, as (Secret name, SANs).
    type ListenerSpec<'a> = (Option<&'a str>, &'a [(&'static str, &'a [&'a str])]);

    struct Fixture {
        resolver: CertificateResolver,
        /// Secret names, parallel to the resolver's keys, to name what was chosen.
        names: Vec<(Arc<CertifiedKey>, &'static str)>,
    }

    impl Fixture {
        fn new(pki: &Pki, listeners: &[ListenerSpec<'_>]) -> Self {
            let mut names = Vec::new();
            let listeners = listeners
                .iter()
                .map(|(hostname, certificates)| ListenerKeys {
                    hostname: hostname.map(|h| HostnameMatch::parse(h).expect("valid hostname")),
                    keys: certificates
                        .iter()
                        .map(|(secret, sans)| {
                            let certificate = pki.leaf(secret, sans);
                            let key =
                                load_certified_key(&certificate.chain_pem, &certificate.key_pem)
                                    .expect("generated certificate loads");
                            names.push((key.clone(), *secret));
                            key
                        })
                        .collect(),
                })
                .collect();
            Self {
                resolver: CertificateResolver::new(listeners),
                names,
            }
        }

        fn chosen(&self, sni: Option<&str>) -> Option<&'static str> {
            let schemes = [
                SignatureScheme::ECDSA_NISTP256_SHA256,
                SignatureScheme::RSA_PSS_SHA256,
            ];
            let key = self.resolver.choose(sni, &schemes)?;
            self.names
                .iter()
                .find(|(k, _)| Arc::ptr_eq(k, key))
                .map(|(_, name)| *name)
        }
    }

    #[test]
    fn listener_then_certificate_by_sni() {
        let pki = Pki::new();
        let fixture = Fixture::new(
            &pki,
            &[
                (Some("a.example.com"), &[("a", &["a.example.com"])]),
                (
                    Some("*.wild.org"),
                    &[
                        ("wild-x", &["x.wild.org"]),
                        ("wild-any", &["*.wild.org"]),
                        ("wild-deep", &["*.y.wild.org"]),
                    ],
                ),
                (None, &[("default", &["default.test"])]),
            ],
        );
        let cases = [
            (Some("a.example.com"), Some("a")),
            (Some("A.EXAMPLE.COM."), Some("a")),
            (Some("x.wild.org"), Some("wild-x")),
            (Some("z.wild.org"), Some("wild-any")),
            // `*.wild.org` covers one label only: the listener's first certificate.
            (Some("z.x.wild.org"), Some("wild-x")),
            (Some("z.y.wild.org"), Some("wild-deep")),
            (Some("b.example.com"), Some("default")),
            (Some("wild.org"), Some("default")),
            (None, Some("default")),
        ];
        for (sni, want) in cases {
            assert_eq!(fixture.chosen(sni), want, "sni {sni:?}");
        }
    }

    #[test]
    fn without_a_catch_all() {
        let pki = Pki::new();
        let fixture = Fixture::new(
            &pki,
            &[
                (Some("a.example.com"), &[("a", &["a.example.com"])]),
                (Some("*.wild.org"), &[("wild", &["*.wild.org"])]),
                (Some("empty.example.com"), &[]),
            ],
        );
        let cases = [
            (Some("x.wild.org"), Some("wild")),
            // Nobody serves the name: the handshake is aborted.
            (Some("b.example.com"), None),
            // A listener without certificate cannot serve its name.
            (Some("empty.example.com"), None),
            // No SNI: the first listener's first certificate.
            (None, Some("a")),
        ];
        for (sni, want) in cases {
            assert_eq!(fixture.chosen(sni), want, "sni {sni:?}");
        }
    }

    #[test]
    fn the_first_listener_with_a_certificate_answers_without_sni() {
        let pki = Pki::new();
        let fixture = Fixture::new(
            &pki,
            &[
                (Some("empty.example.com"), &[]),
                (Some("a.example.com"), &[("a", &["a.example.com"])]),
            ],
        );
        assert_eq!(fixture.chosen(None), Some("a"));
    }

    #[test]
    fn certificate_follows_the_clients_signature_schemes() {
        let pki = Pki::new();
        let rsa = pki.leaf_rsa("rsa", &["a.example.com"]);
        let ecdsa = pki.leaf("ecdsa", &["a.example.com"]);
        let keys: Vec<_> = [&ecdsa, &rsa]
            .into_iter()
            .map(|c| load_certified_key(&c.chain_pem, &c.key_pem).expect("loads"))
            .collect();
        let cases = [
            (&[SignatureScheme::RSA_PSS_SHA256][..], 1),
            (&[SignatureScheme::ECDSA_NISTP256_SHA256][..], 0),
            (
                &[
                    SignatureScheme::RSA_PSS_SHA256,
                    SignatureScheme::ECDSA_NISTP256_SHA256,
                ][..],
                0,
            ),
            // Nothing fits: the first certificate valid for the name.
            (&[SignatureScheme::ED25519][..], 0),
        ];
        for (schemes, want) in cases {
            let chosen = choose_key(&keys, "a.example.com", schemes).expect("a key");
            assert!(Arc::ptr_eq(chosen, &keys[want]), "schemes {schemes:?}");
        }
    }
}
