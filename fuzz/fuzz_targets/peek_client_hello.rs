//! Fuzzes the ClientHello peek: any first bytes of a connection must give a verdict without
//! panicking, and a verdict other than `NeedMore` must not change when more bytes arrive.
//!
//! Run with `cargo +nightly fuzz run peek_client_hello` from the repository root.

#![no_main]

use libfuzzer_sys::fuzz_target;
use torii_tls::{peek_client_hello, ClientHelloPeek, MAX_CLIENT_HELLO_BYTES};

fuzz_target!(|data: &[u8]| {
    let full = peek_client_hello(data);
    // The first byte picks where to cut, so partial reads of the same input are compared.
    let cut = data.first().map_or(0, |&b| usize::from(b) * data.len() / 256);
    match peek_client_hello(&data[..cut]) {
        ClientHelloPeek::NeedMore => assert!(cut < MAX_CLIENT_HELLO_BYTES),
        verdict => assert_eq!(verdict, full),
    }
    if let ClientHelloPeek::Hello { sni: Some(name) } = &full {
        assert!(!name.is_empty() && !name.bytes().any(|b| b.is_ascii_uppercase()));
    }
});
