//! Fuzzes torii's HTTP/1.1 server (`torii_http1::server::serve_connection`) on raw bytes
//! from a client: request lines, header sections, bodies and pipelined requests, through the
//! real connection code (head search, early refusal, parsing, framing, body decoding,
//! keep-alive) over an in-memory connection.
//!
//! - No panic, no livelock.
//! - What the service sees does not depend on how the bytes are split into reads.
//! - Every request the service sees obeys the RFC 9112 rules a proxy relies on.
//! - A client that closes after sending has a prefix of the requests of a client that waits
//!   handed to the service, and the bodies that complete are the same.
//!
//! Input: one byte `n`, `n % 8` bytes of read sizes, then the bytes on the wire.

#![no_main]

use libfuzzer_sys::fuzz_target;
use torii_fuzz::rules::target_form_ok;
use torii_fuzz::{splits_from, torii_server, BodySeen, End, Seen, Transcript};

/// The RFC 9112 rules every request handed to the service must satisfy.
fn check_request(seen: &Seen) {
    let values = |name: &str| {
        seen.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
            .collect::<Vec<_>>()
    };
    let http11 = seen.version == http::Version::HTTP_11;
    // RFC 9112 §3.2: one Host in HTTP/1.1; never more than one.
    let hosts = values("host").len();
    assert!(
        hosts <= 1 && (!http11 || hosts == 1),
        "host count {hosts}: {seen:?}"
    );
    // RFC 9112 §3.2.3-4: authority-form only with CONNECT, asterisk-form only with OPTIONS.
    assert!(
        target_form_ok(&seen.method, &seen.target),
        "target form: {seen:?}"
    );
    let te = values("transfer-encoding");
    let cl = values("content-length");
    // RFC 9112 §6.1: Transfer-Encoding and Content-Length together are refused by torii
    // (the RFC lets a server refuse them), Transfer-Encoding needs HTTP/1.1 and chunked last.
    assert!(te.is_empty() || cl.is_empty(), "TE and CL: {seen:?}");
    if let Some(last) = te.last() {
        assert!(http11, "TE in HTTP/1.0: {seen:?}");
        let coding = last.rsplit(|&b| b == b',').next().unwrap_or_default();
        assert!(
            coding.trim_ascii().eq_ignore_ascii_case(b"chunked"),
            "TE: {seen:?}"
        );
    }
    // RFC 9110 §8.6: a body delimited by Content-Length has exactly that many bytes.
    if let (Some(length), BodySeen::Complete(data, _)) = (cl.first(), &seen.body) {
        let first = length.split(|&b| b == b',').next().unwrap_or_default();
        let n: u64 = std::str::from_utf8(first.trim_ascii())
            .ok()
            .and_then(|s| s.parse().ok())
            .expect("an accepted Content-Length is a number");
        assert_eq!(data.len() as u64, n, "{seen:?}");
    }
}

/// Whether `a` and `b` differ only by early refusal of an incomplete head: the server checks
/// a partial head once, on the first read of it, so a run that got the invalid bytes in that
/// first read answers `400` (or `431` for too many headers) before the head is complete,
/// while the other keeps waiting.
fn early_refusal_only(a: &Transcript, b: &Transcript) -> bool {
    let (longer, shorter) = if a.statuses.len() > b.statuses.len() {
        (a, b)
    } else {
        (b, a)
    };
    !shorter.finished
        && longer.statuses.len() == shorter.statuses.len() + 1
        && longer.statuses.starts_with(&shorter.statuses)
        && matches!(longer.statuses.last(), Some(400 | 431))
}

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (split_bytes, wire) = rest.split_at(usize::from(n % 8).min(rest.len()));
    let splits = splits_from(split_bytes);

    let whole = torii_server(wire, &[], End::Pending);
    for seen in &whole.requests {
        check_request(seen);
    }
    let mut runs = vec![torii_server(wire, &splits, End::Pending)];
    if wire.len() <= 512 {
        runs.push(torii_server(wire, &[1], End::Pending));
    }
    for split in &runs {
        assert_eq!(whole.requests, split.requests, "splits {splits:?}");
        assert!(
            whole.statuses == split.statuses || early_refusal_only(&whole, split),
            "statuses {:?} vs {:?} (splits {splits:?})",
            whole.statuses,
            split.statuses
        );
    }

    let closed = torii_server(wire, &splits, End::Eof);
    assert!(closed.requests.len() <= whole.requests.len());
    for (c, w) in closed.requests.iter().zip(&whole.requests) {
        let head = |s: &Seen| {
            (
                s.method.clone(),
                s.target.clone(),
                s.version,
                s.headers.clone(),
            )
        };
        assert_eq!(head(c), head(w));
        if let BodySeen::Complete(..) = c.body {
            assert_eq!(c.body, w.body);
        }
    }
});
