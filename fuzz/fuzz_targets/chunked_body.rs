//! Fuzzes torii-http1's body decoder on chunked input: any bytes must decode or fail without
//! panicking, and the outcome (body, trailers, error) must not depend on how the bytes were
//! split into reads.
//!
//! Run with `cargo +nightly fuzz run chunked_body` from the `fuzz/` directory.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use torii_http1::codec::{BodyDecoder, Decoded, Framing};

/// Decodes `wire` fed in reads of `step` bytes: the body and whether it ended cleanly.
fn decode(wire: &[u8], step: usize) -> (Vec<u8>, Result<Option<usize>, ()>) {
    let mut decoder = BodyDecoder::new(Framing::Chunked);
    let mut buf = BytesMut::new();
    let mut body = Vec::new();
    let mut fed = 0;
    loop {
        match decoder.decode(&mut buf) {
            Err(_) => return (body, Err(())),
            Ok(Some(Decoded::Data(data))) => body.extend_from_slice(&data),
            Ok(Some(Decoded::Trailers(trailers))) => return (body, Ok(Some(trailers.len()))),
            Ok(Some(Decoded::End)) => return (body, Ok(None)),
            Ok(None) if fed < wire.len() => {
                let n = step.min(wire.len() - fed);
                buf.extend_from_slice(&wire[fed..fed + n]);
                fed += n;
            }
            Ok(None) => return (body, decoder.eof().map(|_| None).map_err(|_| ())),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, wire)) = data.split_first() else {
        return;
    };
    let whole = decode(wire, wire.len().max(1));
    let split = decode(wire, usize::from(first % 16) + 1);
    assert_eq!(whole, split);
});
