//! Real TLS handshakes, in memory, between a rustls client and [`server_config`].

mod support;

use rustls::{HandshakeKind, ProtocolVersion, SignatureScheme};
use std::sync::Arc;
use support::{client_config, handshake, leaf_der, listener, only_version, Pki, Verify};
use torii_config::{ListenerConfig, ListenerProtocol, TlsCertificate};
use torii_tls::{server_config, sni_listener_index, Alpn, InvalidCertificate, TlsError};

/// Two named listeners, a passthrough listener and a catch-all, on one port.
struct Port {
    pki: Pki,
    a: TlsCertificate,
    wild: TlsCertificate,
    catch_all: TlsCertificate,
    listeners: Vec<ListenerConfig>,
}

impl Port {
    fn new() -> Self {
        let pki = Pki::new();
        let a = pki.leaf("a", &["a.example.com"]);
        let wild = pki.leaf("wild", &["*.wild.org"]);
        let catch_all = pki.leaf("catch-all", &["catch-all.test"]);
        let listeners = vec![
            listener(
                "a",
                Some("a.example.com"),
                ListenerProtocol::Https,
                vec![a.clone()],
            ),
            listener(
                "passthrough",
                Some("p.example.com"),
                ListenerProtocol::TlsPassthrough,
                Vec::new(),
            ),
            listener(
                "wild",
                Some("*.wild.org"),
                ListenerProtocol::TlsTerminate,
                vec![wild.clone()],
            ),
            listener(
                "catch-all",
                None,
                ListenerProtocol::Https,
                vec![catch_all.clone()],
            ),
        ];
        Self {
            pki,
            a,
            wild,
            catch_all,
            listeners,
        }
    }

    fn refs(&self) -> Vec<&ListenerConfig> {
        self.listeners.iter().collect()
    }
}

#[test]
fn the_client_receives_the_certificate_of_the_listener_for_its_sni() {
    let port = Port::new();
    let server = server_config(&port.refs(), Alpn::Http).expect("valid port");
    let client = Arc::new(client_config(Verify::AnyChain(Vec::new()), &["h2"]));
    let cases = [
        (Some("a.example.com"), &port.a),
        (Some("x.wild.org"), &port.wild),
        // Listener wildcards match several labels.
        (Some("y.x.wild.org"), &port.wild),
        (Some("b.example.com"), &port.catch_all),
        // The passthrough listener is not served by this config.
        (Some("p.example.com"), &port.catch_all),
        (None, &port.catch_all),
    ];
    for (sni, want) in cases {
        let negotiated = handshake(&server, &client, sni).expect("handshake succeeds");
        assert_eq!(
            negotiated.leaf,
            leaf_der(want),
            "sni {sni:?} got the wrong certificate"
        );
    }
}

#[test]
fn a_verifying_client_accepts_the_chain() {
    let port = Port::new();
    let server = server_config(&port.refs(), Alpn::Http).expect("valid port");
    let client = Arc::new(client_config(Verify::Pki(&port.pki), &["h2", "http/1.1"]));
    for name in ["a.example.com", "x.wild.org", "catch-all.test"] {
        let negotiated = handshake(&server, &client, Some(name)).expect("verified handshake");
        assert_eq!(negotiated.version, Some(ProtocolVersion::TLSv1_3), "{name}");
    }
    // `*.wild.org` covers one label: the client refuses it for a deeper name.
    assert!(handshake(&server, &client, Some("y.x.wild.org")).is_err());
}

#[test]
fn unknown_names_abort_the_handshake_without_a_catch_all() {
    let port = Port::new();
    let named: Vec<&ListenerConfig> = port.listeners[..3].iter().collect();
    let server = server_config(&named, Alpn::Http).expect("valid port");
    let client = Arc::new(client_config(Verify::AnyChain(Vec::new()), &[]));
    let error = handshake(&server, &client, Some("b.example.com")).expect_err("no listener");
    assert!(
        matches!(error, rustls::Error::General(_)),
        "unexpected error {error:?}"
    );
    // Without SNI, the first listener's certificate.
    let negotiated = handshake(&server, &client, None).expect("handshake succeeds");
    assert_eq!(negotiated.leaf, leaf_der(&port.a));
}

#[test]
fn alpn_offers_h2_then_http1_on_https_ports() {
    let port = Port::new();
    let cases = [
        (Alpn::Http, &["h2", "http/1.1"][..], Some("h2")),
        (Alpn::Http, &["http/1.1", "h2"], Some("h2")),
        (Alpn::Http, &["http/1.1"], Some("http/1.1")),
        (Alpn::Http, &[], None),
        (Alpn::None, &["h2", "http/1.1"], None),
    ];
    for (alpn, offered, want) in cases {
        let server = server_config(&port.refs(), alpn).expect("valid port");
        let client = Arc::new(client_config(Verify::AnyChain(Vec::new()), offered));
        let negotiated =
            handshake(&server, &client, Some("a.example.com")).expect("handshake succeeds");
        assert_eq!(
            negotiated.alpn.as_deref(),
            want.map(str::as_bytes),
            "{alpn:?} offered {offered:?}"
        );
    }
    // A client that insists on a protocol the server lacks is refused (RFC 7301 §3.2).
    let server = server_config(&port.refs(), Alpn::Http).expect("valid port");
    let client = Arc::new(client_config(Verify::AnyChain(Vec::new()), &["spdy/3"]));
    assert!(handshake(&server, &client, Some("a.example.com")).is_err());
}

#[test]
fn tls12_and_tls13_both_work_and_resume() {
    let port = Port::new();
    let server = server_config(&port.refs(), Alpn::Http).expect("valid port");
    assert!(server.ticketer.enabled(), "stateless tickets");
    assert!(server.session_storage.can_cache(), "a session cache");
    let verify = || Verify::AnyChain(Vec::new());
    let cases = [
        (
            "TLS 1.3 tickets",
            only_version(verify(), &rustls::version::TLS13),
            ProtocolVersion::TLSv1_3,
        ),
        (
            "TLS 1.2 tickets",
            only_version(verify(), &rustls::version::TLS12),
            ProtocolVersion::TLSv1_2,
        ),
        (
            "TLS 1.2 session ids",
            support::tls12_session_id_only(only_version(verify(), &rustls::version::TLS12)),
            ProtocolVersion::TLSv1_2,
        ),
    ];
    for (name, client, version) in cases {
        let client = Arc::new(client);
        let first = handshake(&server, &client, Some("a.example.com")).expect("first handshake");
        assert_eq!(first.version, Some(version), "{name}");
        assert_eq!(first.kind, Some(HandshakeKind::Full), "{name}");
        let second = handshake(&server, &client, Some("a.example.com")).expect("second handshake");
        assert_eq!(second.kind, Some(HandshakeKind::Resumed), "{name}");
        assert_eq!(second.leaf, leaf_der(&port.a), "{name}");
    }
}

#[test]
fn rsa_and_ecdsa_certificates_share_a_listener() {
    let pki = Pki::new();
    let ecdsa = pki.leaf("ecdsa", &["a.example.com"]);
    let rsa = pki.leaf_rsa("rsa", &["a.example.com"]);
    let listeners = [listener(
        "a",
        Some("a.example.com"),
        ListenerProtocol::Https,
        vec![ecdsa.clone(), rsa.clone()],
    )];
    let server =
        server_config(&listeners.iter().collect::<Vec<_>>(), Alpn::Http).expect("valid port");
    let cases = [
        (
            vec![
                SignatureScheme::RSA_PSS_SHA256,
                SignatureScheme::RSA_PKCS1_SHA256,
            ],
            &rsa,
        ),
        (vec![SignatureScheme::ECDSA_NISTP256_SHA256], &ecdsa),
        (Vec::new(), &ecdsa),
    ];
    for (schemes, want) in cases {
        let client = Arc::new(client_config(Verify::AnyChain(schemes.clone()), &[]));
        let negotiated = handshake(&server, &client, Some("a.example.com")).expect("handshake");
        assert_eq!(
            negotiated.leaf,
            leaf_der(want),
            "client schemes {schemes:?}"
        );
    }
}

#[test]
fn a_key_that_does_not_match_is_reported_with_its_listener() {
    let pki = Pki::new();
    let other_key = rcgen::KeyPair::generate().expect("key");
    let good = pki.leaf("good", &["a.example.com"]);
    let mut mismatched = pki.leaf("mismatched", &["b.example.com"]);
    mismatched.key_pem = other_key.serialize_pem().into_bytes().into();
    let listeners = [
        listener(
            "a",
            Some("a.example.com"),
            ListenerProtocol::Https,
            vec![good],
        ),
        listener(
            "b",
            Some("b.example.com"),
            ListenerProtocol::TlsTerminate,
            vec![mismatched],
        ),
    ];
    let refs: Vec<_> = listeners.iter().collect();
    match server_config(&refs, Alpn::Http) {
        Err(TlsError::Certificate {
            listener,
            secret,
            source,
        }) => {
            assert_eq!(&*listener.name, "b");
            assert_eq!(secret, "default/mismatched");
            assert!(
                matches!(*source, InvalidCertificate::KeyMismatch),
                "{source:?}"
            );
        }
        other => panic!("expected a key mismatch, got {other:?}"),
    }
}

#[test]
fn a_port_without_certificates_is_an_error() {
    let cases: [(&str, Vec<ListenerConfig>); 3] = [
        ("no listeners", Vec::new()),
        (
            "only passthrough",
            vec![listener(
                "p",
                Some("p.example.com"),
                ListenerProtocol::TlsPassthrough,
                Vec::new(),
            )],
        ),
        (
            "terminating without certificates",
            vec![listener("a", None, ListenerProtocol::Https, Vec::new())],
        ),
    ];
    for (name, listeners) in cases {
        let refs: Vec<_> = listeners.iter().collect();
        assert!(
            matches!(
                server_config(&refs, Alpn::Http),
                Err(TlsError::NoCertificate)
            ),
            "{name}"
        );
    }
}

#[test]
fn the_proxy_and_the_resolver_agree_on_the_listener() {
    let port = Port::new();
    let refs = port.refs();
    let cases = [
        (Some("a.example.com"), Some(0)),
        (Some("p.example.com"), Some(1)),
        (Some("x.wild.org"), Some(2)),
        (Some("b.example.com"), Some(3)),
        (None, Some(3)),
    ];
    for (sni, want) in cases {
        assert_eq!(sni_listener_index(&refs, sni), want, "sni {sni:?}");
    }
}
