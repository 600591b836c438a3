use super::*;
use proptest::prelude::*;
use std::sync::Arc;

use crate::test_support::{client_config, client_hello_bytes, Verify};

fn hello(sni: Option<&str>) -> ClientHelloPeek {
    ClientHelloPeek::Hello {
        sni: sni.map(str::to_string),
    }
}

/// The first flight of a real rustls client (TLS 1.3 and 1.2 offered, ALPN, key shares).
fn rustls_hello(server_name: &str) -> Vec<u8> {
    let config = Arc::new(client_config(
        Verify::AnyChain(Vec::new()),
        &["h2", "http/1.1"],
    ));
    client_hello_bytes(&config, server_name)
}

/// The handshake message carried by a single-record first flight.
fn handshake_of(records: &[u8]) -> &[u8] {
    let len = usize::from(u16::from_be_bytes([records[3], records[4]]));
    assert_eq!(records.len(), RECORD_HEADER_LEN + len, "one record");
    &records[RECORD_HEADER_LEN..]
}

/// `message` cut into handshake records of the given fragment lengths (the last takes the rest).
fn records(message: &[u8], fragment_lens: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = message;
    for &len in fragment_lens.iter().chain(std::iter::once(&usize::MAX)) {
        if rest.is_empty() {
            break;
        }
        let (fragment, tail) = rest.split_at(len.min(rest.len()));
        out.extend_from_slice(&[CONTENT_TYPE_HANDSHAKE, 3, 1]);
        out.extend_from_slice(&u16::try_from(fragment.len()).expect("short").to_be_bytes());
        out.extend_from_slice(fragment);
        rest = tail;
    }
    out
}

/// A hand-built ClientHello handshake message with the given extensions block (`None`: the
/// block is absent).
fn handshake(extensions: Option<&[u8]>) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(&[7; 32]); // random
    body.push(0); // session id
    body.extend_from_slice(&[0, 2, 0x13, 0x01]); // one cipher suite
    body.extend_from_slice(&[1, 0]); // null compression
    if let Some(extensions) = extensions {
        body.extend_from_slice(
            &u16::try_from(extensions.len())
                .expect("short")
                .to_be_bytes(),
        );
        body.extend_from_slice(extensions);
    }
    let mut message = vec![HANDSHAKE_TYPE_CLIENT_HELLO];
    message.extend_from_slice(&u32::try_from(body.len()).expect("short").to_be_bytes()[1..]);
    message.extend_from_slice(&body);
    message
}

/// One extension: type, then length-prefixed data.
fn extension(kind: u16, data: &[u8]) -> Vec<u8> {
    let mut out = kind.to_be_bytes().to_vec();
    out.extend_from_slice(&u16::try_from(data.len()).expect("short").to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// A `server_name` extension body from (name_type, name) entries.
fn server_names(entries: &[(u8, &[u8])]) -> Vec<u8> {
    let mut list = Vec::new();
    for (kind, name) in entries {
        list.push(*kind);
        list.extend_from_slice(&u16::try_from(name.len()).expect("short").to_be_bytes());
        list.extend_from_slice(name);
    }
    let mut out = u16::try_from(list.len())
        .expect("short")
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(&list);
    out
}

fn sni_extension(name: &str) -> Vec<u8> {
    extension(
        EXTENSION_SERVER_NAME,
        &server_names(&[(NAME_TYPE_HOST_NAME, name.as_bytes())]),
    )
}

#[test]
fn reads_the_sni_of_a_rustls_client_at_every_partial_read() {
    for (server_name, want) in [
        ("a.example.com", Some("a.example.com")),
        ("A.Example.COM", Some("a.example.com")),
        ("x.wild.org", Some("x.wild.org")),
        // rustls sends no SNI for an IP address.
        ("127.0.0.1", None),
    ] {
        let bytes = rustls_hello(server_name);
        assert_eq!(peek_client_hello(&bytes), hello(want), "{server_name}");
        for end in 0..bytes.len() {
            assert_eq!(
                peek_client_hello(&bytes[..end]),
                ClientHelloPeek::NeedMore,
                "{server_name}: first {end} bytes"
            );
        }
        // Bytes after the ClientHello (an early application record) change nothing.
        let mut more = bytes.clone();
        more.extend_from_slice(&[23, 3, 3, 0, 1, 0]);
        assert_eq!(
            peek_client_hello(&more),
            hello(want),
            "{server_name} with more"
        );
    }
}

#[test]
fn reads_the_sni_of_an_openssl_client() {
    let bytes = include_bytes!("../../tests/data/openssl-client-hello.bin");
    assert_eq!(peek_client_hello(bytes), hello(Some("a.example.com")));
    for end in 0..bytes.len() {
        assert_eq!(
            peek_client_hello(&bytes[..end]),
            ClientHelloPeek::NeedMore,
            "first {end} bytes"
        );
    }
}

#[test]
fn a_client_without_sni_sends_none() {
    let mut config = client_config(Verify::AnyChain(Vec::new()), &[]);
    config.enable_sni = false;
    let bytes = client_hello_bytes(&Arc::new(config), "a.example.com");
    assert_eq!(peek_client_hello(&bytes), hello(None));
}

#[test]
fn reassembles_a_hello_split_across_two_records_at_every_offset() {
    let original = rustls_hello("a.example.com");
    let message = handshake_of(&original);
    for split in 1..message.len() {
        let bytes = records(message, &[split]);
        assert_eq!(
            peek_client_hello(&bytes),
            hello(Some("a.example.com")),
            "split at {split}"
        );
        // Every partial read of the two records still asks for more.
        for end in (0..bytes.len()).step_by(7) {
            assert_eq!(
                peek_client_hello(&bytes[..end]),
                ClientHelloPeek::NeedMore,
                "split at {split}, first {end} bytes"
            );
        }
    }
}

#[test]
fn reassembles_one_byte_records() {
    let original = rustls_hello("a.example.com");
    let message = handshake_of(&original);
    let bytes = records(message, &vec![1; message.len()]);
    assert!(bytes.len() < MAX_CLIENT_HELLO_BYTES);
    assert_eq!(peek_client_hello(&bytes), hello(Some("a.example.com")));
}

#[test]
fn a_hello_that_does_not_end_within_the_cap_is_refused() {
    // About 3 KiB of padding, sent one byte per record: six bytes on the wire per byte.
    let padding = extension(21, &[0; 3000]);
    let message = handshake(Some(&[sni_extension("a.example.com"), padding].concat()));
    assert_eq!(
        peek_client_hello(&records(&message, &[])),
        hello(Some("a.example.com")),
        "fits in one record"
    );
    let bytes = records(&message, &vec![1; message.len()]);
    assert!(bytes.len() > MAX_CLIENT_HELLO_BYTES);
    assert_eq!(
        peek_client_hello(&bytes[..MAX_CLIENT_HELLO_BYTES - 1]),
        ClientHelloPeek::NeedMore
    );
    assert_eq!(
        peek_client_hello(&bytes[..MAX_CLIENT_HELLO_BYTES]),
        ClientHelloPeek::NotTls
    );
    assert_eq!(peek_client_hello(&bytes), ClientHelloPeek::NotTls);
}

#[test]
fn the_start_of_a_record_is_judged_as_soon_as_it_is_visible() {
    let cases: &[(&[u8], ClientHelloPeek)] = &[
        (b"", ClientHelloPeek::NeedMore),
        (&[22], ClientHelloPeek::NeedMore),
        (&[22, 3], ClientHelloPeek::NeedMore),
        (&[22, 3, 1, 0, 200], ClientHelloPeek::NeedMore),
        (&[22, 3, 1, 0, 200, 1], ClientHelloPeek::NeedMore),
        (&[22, 3, 1, 0, 200, 1, 0, 0, 196], ClientHelloPeek::NeedMore),
        (b"G", ClientHelloPeek::NotTls),
        (
            b"GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n",
            ClientHelloPeek::NotTls,
        ),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", ClientHelloPeek::NotTls),
        (&[22, 2], ClientHelloPeek::NotTls),
        // SSL 2.0 compatible hello.
        (&[0x80, 0x2e, 1, 3, 1], ClientHelloPeek::NotTls),
        // Application data, alert and change_cipher_spec records first.
        (&[23, 3, 3, 0, 1, 0], ClientHelloPeek::NotTls),
        (&[21, 3, 3, 0, 2, 2, 40], ClientHelloPeek::NotTls),
        (&[20, 3, 3, 0, 1, 1], ClientHelloPeek::NotTls),
        // Empty and oversized records.
        (&[22, 3, 1, 0, 0], ClientHelloPeek::NotTls),
        (&[22, 3, 1, 0x40, 1], ClientHelloPeek::NotTls),
        // A ServerHello, and a ClientHello too long to ever fit.
        (&[22, 3, 3, 0, 4, 2, 0, 0, 0], ClientHelloPeek::NotTls),
        (&[22, 3, 1, 0x40, 0, 1, 0, 0x40, 0], ClientHelloPeek::NotTls),
    ];
    for (bytes, want) in cases {
        assert_eq!(&peek_client_hello(bytes), want, "{bytes:?}");
    }
}

#[test]
fn another_record_type_inside_the_hello_is_refused() {
    let original = rustls_hello("a.example.com");
    let message = handshake_of(&original);
    let mut bytes = records(&message[..40], &[]);
    bytes.extend_from_slice(&[21, 3, 3, 0, 2, 2, 40]);
    bytes.extend_from_slice(&records(&message[40..], &[]));
    assert_eq!(peek_client_hello(&bytes), ClientHelloPeek::NotTls);
}

#[test]
fn reads_server_name_extensions_as_rustls_does() {
    let ip = server_names(&[(NAME_TYPE_HOST_NAME, b"127.0.0.1")]);
    let two = server_names(&[(0, b"a.example.com"), (0, b"b.example.com")]);
    let unknown_after = server_names(&[(0, b"a.example.com"), (9, b"opaque")]);
    let unknown_only = server_names(&[(9, b"a.example.com")]);
    let empty_name = server_names(&[(0, b"")]);
    let bad_name = server_names(&[(0, b"a b.example.com")]);
    let dot_only = server_names(&[(0, b".")]);
    let ext = |data: &[u8]| extension(EXTENSION_SERVER_NAME, data);
    let other = extension(10, &[0, 2, 0, 29]); // supported_groups
    let cases: Vec<(&str, Option<Vec<u8>>, ClientHelloPeek)> = vec![
        ("no extensions block", None, hello(None)),
        ("empty extensions", Some(Vec::new()), hello(None)),
        ("no server_name", Some(other.clone()), hello(None)),
        (
            "server_name among others",
            Some([other.clone(), sni_extension("a.example.com"), other.clone()].concat()),
            hello(Some("a.example.com")),
        ),
        (
            "trailing dot",
            Some(sni_extension("A.Example.com.")),
            hello(Some("a.example.com")),
        ),
        ("IP address", Some(ext(&ip)), hello(None)),
        (
            "unknown type after host_name",
            Some(ext(&unknown_after)),
            hello(Some("a.example.com")),
        ),
        ("two host_names", Some(ext(&two)), ClientHelloPeek::NotTls),
        (
            "only an unknown type",
            Some(ext(&unknown_only)),
            ClientHelloPeek::NotTls,
        ),
        (
            "empty host_name",
            Some(ext(&empty_name)),
            ClientHelloPeek::NotTls,
        ),
        (
            "not a DNS name",
            Some(ext(&bad_name)),
            ClientHelloPeek::NotTls,
        ),
        ("only a dot", Some(ext(&dot_only)), ClientHelloPeek::NotTls),
        (
            "empty name list",
            Some(ext(&[0, 0])),
            ClientHelloPeek::NotTls,
        ),
        ("empty extension", Some(ext(&[])), ClientHelloPeek::NotTls),
        (
            "name list longer than the extension",
            Some(ext(&[0, 9, 0, 0, 1, b'a'])),
            ClientHelloPeek::NotTls,
        ),
        (
            "bytes after the name list",
            Some(ext(
                &[server_names(&[(0, b"a.example.com")]), vec![0]].concat()
            )),
            ClientHelloPeek::NotTls,
        ),
        (
            "server_name twice",
            Some(
                [
                    sni_extension("a.example.com"),
                    sni_extension("b.example.com"),
                ]
                .concat(),
            ),
            ClientHelloPeek::NotTls,
        ),
        (
            "extension longer than the block",
            Some(vec![0, 10, 0, 9, 1]),
            ClientHelloPeek::NotTls,
        ),
        (
            "half an extension header",
            Some(vec![0, 10, 0]),
            ClientHelloPeek::NotTls,
        ),
    ];
    for (name, extensions, want) in cases {
        let message = handshake(extensions.as_deref());
        assert_eq!(peek_client_hello(&records(&message, &[])), want, "{name}");
    }
}

#[test]
fn malformed_hello_bodies_are_refused() {
    let good = handshake(Some(&sni_extension("a.example.com")));
    let with_body = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut body = good[HANDSHAKE_HEADER_LEN..].to_vec();
        edit(&mut body);
        let mut message = vec![HANDSHAKE_TYPE_CLIENT_HELLO];
        message.extend_from_slice(&u32::try_from(body.len()).expect("short").to_be_bytes()[1..]);
        message.extend_from_slice(&body);
        records(&message, &[])
    };
    type Edit<'a> = &'a dyn Fn(&mut Vec<u8>);
    let cases: [(&str, Edit); 7] = [
        ("cut in the random", &|b| b.truncate(20)),
        ("session id of 33 bytes", &|b| {
            b[34] = 33;
            b.splice(35..35, [0; 33]);
        }),
        ("no cipher suites", &|b| {
            b.splice(35..39, [0, 0]);
        }),
        ("odd cipher suites length", &|b| {
            b.splice(35..39, [0, 1, 0x13]);
        }),
        ("no compression methods", &|b| {
            b.splice(39..41, [0]);
        }),
        ("bytes after the extensions", &|b| b.push(0)),
        ("extensions length beyond the body", &|b| b[41] = 0xff),
    ];
    assert_eq!(
        peek_client_hello(&with_body(&|_| {})),
        hello(Some("a.example.com"))
    );
    for (name, edit) in cases {
        assert_eq!(
            peek_client_hello(&with_body(edit)),
            ClientHelloPeek::NotTls,
            "{name}"
        );
    }
}

/// Arbitrary bytes behind a plausible record header, so the search reaches the hello parser.
fn plausible_records() -> impl Strategy<Value = Vec<u8>> {
    (proptest::collection::vec(any::<u8>(), 0..600), any::<u16>()).prop_map(|(body, len)| {
        let mut bytes = vec![22, 3, 1];
        bytes.extend_from_slice(&(len % 700).to_be_bytes());
        bytes.push(1);
        bytes.extend_from_slice(&body);
        bytes
    })
}

/// A real hello with some bytes changed and cut into records of arbitrary sizes.
fn mutated_hellos() -> impl Strategy<Value = Vec<u8>> {
    let original = rustls_hello("a.example.com");
    let message = handshake_of(&original).to_vec();
    (
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        proptest::collection::vec(1usize..300, 0..5),
    )
        .prop_map(move |(edits, fragments)| {
            let mut message = message.clone();
            for (index, byte) in edits {
                let at = index.index(message.len());
                message[at] = byte;
            }
            records(&message, &fragments)
        })
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        peek_client_hello(&bytes);
    }

    #[test]
    fn never_panics_behind_a_record_header(bytes in plausible_records()) {
        peek_client_hello(&bytes);
    }

    /// A verdict other than NeedMore never changes when more bytes arrive, and NeedMore is
    /// only given while under the cap.
    #[test]
    fn verdicts_are_final(bytes in prop_oneof![mutated_hellos(), plausible_records()], cut in any::<prop::sample::Index>()) {
        let end = cut.index(bytes.len() + 1);
        let full = peek_client_hello(&bytes);
        match peek_client_hello(&bytes[..end]) {
            ClientHelloPeek::NeedMore => prop_assert!(end < MAX_CLIENT_HELLO_BYTES),
            verdict => prop_assert_eq!(verdict, full),
        }
    }

    /// Cutting an unchanged hello into records never changes its SNI.
    #[test]
    fn record_boundaries_do_not_matter(fragments in proptest::collection::vec(1usize..400, 0..8)) {
        let original = rustls_hello("x.wild.org");
        let message = handshake_of(&original);
        prop_assert_eq!(peek_client_hello(&records(message, &fragments)), hello(Some("x.wild.org")));
    }
}
