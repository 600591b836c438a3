//! Fuzzes the end of a chunked body followed by a pipelined request in the same bytes. The
//! input describes a valid chunked body (RFC 9112 §7.1): chunk sizes in either case with
//! leading zeros, chunk extensions with optional whitespace and quoted values (§7.1.1),
//! trailer fields (§7.1.2); then comes a second request and arbitrary bytes.
//!
//! - torii's `BodyDecoder` returns exactly the chunk data and trailers, and stops exactly at
//!   the body's end whatever the reads: the bytes left over are the pipelined request, byte
//!   for byte.
//! - torii's server hands the service the body, then the pipelined request; hyper's server
//!   agrees on the body.
//!
//! Input: bytes read as a plan (see `Plan::read`); missing bytes count as zero.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use torii_fuzz::{hyper_server, known, splits_from, torii_server, BodySeen, End, Fields};
use torii_http1::codec::{BodyDecoder, DecodeError, Decoded, Framing};

/// Reads the plan from the fuzz input.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.0.len());
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        taken.to_vec()
    }
}

/// Chunk extensions (RFC 9112 §7.1.1: `*( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )`,
/// `ext-val = token / quoted-string`), all valid.
const EXTENSIONS: [&str; 8] = [
    "",
    ";a",
    ";name=value",
    ";q=\"quoted value\"",
    " ;a=b",
    "; a = b",
    ";a=b;c;d=\"e;f\"",
    ";x=\"\\\"escaped\\\\\"",
];

struct Plan {
    /// The body on the wire.
    wire: Vec<u8>,
    /// What it decodes to.
    data: Vec<u8>,
    trailers: Fields,
    /// What follows the body.
    next: Vec<u8>,
    splits: Vec<usize>,
    /// Some chunk-size line has whitespace between the size and `;`.
    bws: bool,
}

impl Plan {
    fn read(input: &[u8]) -> Plan {
        let mut r = Reader(input);
        let mut wire = Vec::new();
        let mut data = Vec::new();
        let mut bws = false;
        let mut size_line = |wire: &mut Vec<u8>, size: usize, style: u8| {
            let digits = if style & 1 == 0 {
                format!("{size:x}")
            } else {
                format!("{size:X}")
            };
            // Leading zeros, keeping within 15 digits (the longest size torii accepts).
            let zeros = usize::from((style >> 1) & 3).min(15 - digits.len());
            wire.extend(std::iter::repeat_n(b'0', zeros));
            wire.extend_from_slice(digits.as_bytes());
            let extension = EXTENSIONS[usize::from(style >> 3) % 8];
            bws |= extension.starts_with(' ');
            wire.extend_from_slice(extension.as_bytes());
            wire.extend_from_slice(b"\r\n");
        };
        for _ in 0..r.byte() % 6 {
            let len = usize::from(r.byte()) % 200 + 1;
            let style = r.byte();
            let mut chunk = r.bytes(len);
            chunk.resize(len, b'x');
            size_line(&mut wire, len, style);
            wire.extend_from_slice(&chunk);
            wire.extend_from_slice(b"\r\n");
            data.extend_from_slice(&chunk);
        }
        size_line(&mut wire, 0, r.byte());
        let mut trailers = Vec::new();
        for i in 0..r.byte() % 4 {
            let name = format!("x-trailer-{i}");
            // Field values: visible ASCII with inner spaces (RFC 9110 §5.5), never empty.
            let len = usize::from(r.byte() % 16);
            let raw = r.bytes(len);
            let mut value: Vec<u8> = raw
                .iter()
                .map(|&b| if (0x21..0x7f).contains(&b) { b } else { b'v' })
                .collect();
            if value.is_empty() {
                value.push(b'0');
            }
            wire.extend_from_slice(name.as_bytes());
            wire.extend_from_slice(b": ");
            wire.extend_from_slice(&value);
            wire.extend_from_slice(b"\r\n");
            trailers.push((name, value));
        }
        wire.extend_from_slice(b"\r\n");
        let splits = splits_from(&r.bytes(4));
        let mut next = b"GET /next HTTP/1.1\r\nHost: pipelined\r\n\r\n".to_vec();
        next.extend_from_slice(r.0);
        Plan {
            wire,
            data,
            trailers,
            next,
            splits,
            bws,
        }
    }
}

/// Decodes a chunked body from `input` fed in reads of `splits`: data, trailers, and every
/// byte not consumed (left in the buffer or never fed).
fn decode(input: &[u8], splits: &[usize]) -> Result<(Vec<u8>, Fields, Vec<u8>), DecodeError> {
    let mut decoder = BodyDecoder::new(Framing::Chunked);
    let mut buf = BytesMut::new();
    let mut data = Vec::new();
    let mut fed = 0;
    let mut read = 0;
    let trailers = loop {
        match decoder.decode(&mut buf) {
            Ok(Some(Decoded::Data(bytes))) => data.extend_from_slice(&bytes),
            Ok(Some(Decoded::Trailers(map))) => break torii_fuzz::fields(&map),
            Ok(Some(Decoded::End)) => break Vec::new(),
            Ok(None) => {
                assert!(
                    fed < input.len(),
                    "the decoder wants more than the whole body"
                );
                let step = match splits.len() {
                    0 => input.len(),
                    n => splits[read % n],
                };
                read += 1;
                let n = step.min(input.len() - fed);
                buf.extend_from_slice(&input[fed..fed + n]);
                fed += n;
            }
            Err(error) => return Err(error),
        }
    };
    let mut rest = buf.to_vec();
    rest.extend_from_slice(&input[fed..]);
    Ok((data, trailers, rest))
}

fuzz_target!(|input: &[u8]| {
    let plan = Plan::read(input);
    let mut bytes = plan.wire.clone();
    bytes.extend_from_slice(&plan.next);
    let runs: [&[usize]; 3] = [&plan.splits, &[], &[1]];
    // Reported: torii refuses whitespace between a chunk size and `;`, which RFC 9112 §7.1.1
    // allows (`BWS ";"`) and RFC 9110 §5.6.3 says a recipient MUST parse and remove. Named
    // in TORII_FUZZ_KNOWN (`chunk-bws`), such a body must be refused whatever the reads.
    if plan.bws && known("chunk-bws") {
        for splits in runs {
            assert!(decode(&bytes, splits).is_err(), "splits {splits:?}");
        }
        return;
    }
    for splits in runs {
        let (data, trailers, rest) = match decode(&bytes, splits) {
            Ok(decoded) => decoded,
            Err(error) => panic!("a valid chunked body failed ({error}), splits {splits:?}"),
        };
        assert_eq!(data, plan.data, "splits {splits:?}");
        assert_eq!(trailers, plan.trailers, "splits {splits:?}");
        assert_eq!(rest, plan.next, "splits {splits:?}");
    }

    let mut request =
        b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    request.extend_from_slice(&bytes);
    let want = BodySeen::Complete(
        plan.data.clone(),
        (!plan.trailers.is_empty()).then(|| plan.trailers.clone()),
    );
    let torii = torii_server(&request, &plan.splits, End::Pending);
    assert!(torii.requests.len() >= 2, "{torii:#?}");
    assert_eq!(torii.requests[0].body, want);
    assert_eq!(
        (
            torii.requests[1].method.as_str(),
            torii.requests[1].target.as_str()
        ),
        ("GET", "/next")
    );
    let hyper = hyper_server(&request, &plan.splits, End::Pending);
    assert!(!hyper.requests.is_empty(), "{hyper:#?}");
    assert_eq!(hyper.requests[0].body, want, "hyper");
});
