//! Differential fuzzing of HTTP/1.1 request parsing: the same bytes go to torii's server
//! (`torii_http1::server::serve_connection`) and to hyper's (`hyper::server::conn::http1`),
//! each over an in-memory connection with a service that reads every body and answers `200`.
//! They must agree, request by request, on accept or refuse, and on what was accepted: method,
//! target, version, header fields, the body (data and trailers) and so where each message
//! ends, which the next pipelined request shows.
//!
//! Where the two may legitimately differ, the difference is allowed below, narrowly and with
//! the RFC text that permits it; everything else is a finding.
//!
//! Input: one byte `n`, `n % 8` bytes of read sizes (both servers get the same reads), then
//! the bytes on the wire.

#![no_main]

use libfuzzer_sys::fuzz_target;
use torii_fuzz::rules::{chunk_lines, raw_requests, target_form_ok, trailer_section, RawRequest};
use torii_fuzz::{
    forbidden_trailer, hyper_server, known, splits_from, torii_server, BodySeen, End, Fields, Seen,
};

/// Header fields to compare: all but `Content-Length`, whose repeated equal values the two
/// keep differently (hyper keeps the first line; RFC 9110 §8.6 allows either); the length
/// itself is compared through the body.
/// Sorted by name (stable: lines of one name keep their order), since the order of fields
/// of different names is not significant (RFC 9110 §5.3) and a `HeaderMap` that had a field
/// removed iterates in another order.
fn comparable(headers: &Fields) -> Fields {
    let mut fields: Fields = headers
        .iter()
        .filter(|(name, _)| name != "content-length")
        .cloned()
        .collect();
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    fields
}

/// Trailers to compare, sorted like [`comparable`]: an empty section is the same as none, and
/// fields that must not be trailers are left out (RFC 9110 §6.5.1 lets a recipient drop them; hyper passes them).
fn trailers(t: &Option<Fields>) -> Fields {
    let mut fields = t.clone().unwrap_or_default();
    fields.retain(|(name, _)| !forbidden_trailer(name));
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    fields
}

/// The connection options of a request (RFC 9110 §7.6.1), lower case; with `as_hyper`, only
/// those of `Connection` lines hyper can read: it takes them through `HeaderValue::to_str`,
/// which fails on obs-text (allowed in field values, RFC 9110 §5.5), and skips such a line.
fn connection_options(seen: &Seen, as_hyper: bool) -> Vec<Vec<u8>> {
    seen.headers
        .iter()
        .filter(|(n, v)| n == "connection" && (!as_hyper || is_visible_ascii(v)))
        .flat_map(|(_, v)| v.split(|&b| b == b','))
        .map(|t| t.trim_ascii().to_ascii_lowercase())
        .collect()
}

/// Whether the connection ends after this request (RFC 9112 §9.3), as torii should see it or
/// (`as_hyper`) as hyper does.
fn closes(seen: &Seen, as_hyper: bool) -> bool {
    let options = connection_options(seen, as_hyper);
    let has = |o: &[u8]| options.iter().any(|t| t == o);
    has(b"close") || (seen.version == http::Version::HTTP_10 && !has(b"keep-alive"))
}

fn is_visible_ascii(value: &[u8]) -> bool {
    value
        .iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
}

/// Whether every `Connection` value is visible ASCII.
fn connection_is_ascii(seen: &Seen) -> bool {
    seen.headers
        .iter()
        .filter(|(n, _)| n == "connection")
        .all(|(_, v)| is_visible_ascii(v))
}

/// Whether a chunk-size line of the request's body has whitespace between the size and `;`.
fn bws_before_extension(raw: Option<&RawRequest>) -> bool {
    let Some(body) = raw.and_then(|r| r.body.as_deref()) else {
        return false;
    };
    chunk_lines(body).iter().any(|line| {
        let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        let rest = &line[digits..];
        let spaces = rest
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        spaces > 0 && rest.get(spaces) == Some(&b';')
    })
}

/// Why torii may fail a body hyper ends, or `None`: torii's documented limits.
fn torii_body_stricter(raw: Option<&RawRequest>) -> Option<&'static str> {
    let body = raw?.body.as_deref()?;
    let lines = chunk_lines(body);
    // RFC 9112 §7.1: "Recipients MUST anticipate potentially large hexadecimal numerals and
    // prevent parsing errors due to integer conversion overflows"; torii refuses sizes of
    // more than 15 hex digits (2^60 bytes), leading zeros included.
    let digits = |line: &&[u8]| {
        line.iter()
            .skip_while(|b| b.is_ascii_whitespace())
            .take_while(|b| b.is_ascii_hexdigit())
            .count()
    };
    if lines.iter().any(|line| digits(line) > 15) {
        return Some("chunk size of more than 15 digits");
    }
    // RFC 9112 §7.1: `chunk-size [ chunk-ext ] CRLF`, whitespace only before a `;` (BWS);
    // hyper also takes spaces and tabs between the size and the CRLF.
    let trailing_space = |line: &&[u8]| {
        let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        let rest = &line[digits..];
        !rest.is_empty() && rest.iter().all(|&b| b == b' ' || b == b'\t')
    };
    if lines.iter().any(trailing_space) {
        return Some("whitespace after a chunk size");
    }
    // RFC 9112 §7.1.1: an extension is tokens and quoted strings, which hold no control
    // characters but HTAB; torii refuses them, hyper only refuses a bare LF.
    if lines
        .iter()
        .any(|line| line.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f))
    {
        return Some("control character in a chunk extension");
    }
    // torii's limits on a chunk-size line (4 KiB with extensions) and on a trailer section
    // (16 KiB, 32 fields); hyper allows 16 KiB of extensions per body and 100 trailer fields.
    if lines.iter().any(|line| line.len() > 4096) {
        return Some("chunk-size line longer than 4 KiB");
    }
    if let Some(section) = trailer_section(body) {
        let fields = section.iter().filter(|&&b| b == b'\n').count();
        if section.len() > 16 * 1024 || fields > 33 {
            return Some("trailer section over torii's limits");
        }
    }
    None
}

/// Why torii may end a body hyper fails, or `None`.
fn hyper_body_stricter(raw: Option<&RawRequest>) -> Option<&'static str> {
    let section = trailer_section(raw?.body.as_deref()?)?;
    // RFC 9112 §2.2: "a recipient MAY recognize a single LF as a line terminator" of field
    // lines; torii does in trailer sections as in heads, hyper counts trailer fields by CRLF:
    // it fails when a bare LF separates two of them, and waits for more when a bare LF is the
    // blank line that ends the section.
    let bare_lf = section
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || section[i - 1] != b'\r'));
    bare_lf.then_some("bare LF in the trailer section")
}

/// Why torii may refuse a request hyper accepts (torii is stricter there), or `None`.
fn torii_stricter(raw: Option<&RawRequest>, seen: &Seen) -> Option<&'static str> {
    let hosts = seen.headers.iter().filter(|(n, _)| n == "host").count();
    // RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any
    // HTTP/1.1 request message that lacks a Host header field and to any request message that
    // contains more than one Host header field line". hyper leaves that to the service.
    if hosts > 1 || (hosts == 0 && seen.version == http::Version::HTTP_11) {
        return Some("host count");
    }
    // RFC 9112 §3.2: 400 also for "a Host header field with an invalid field value"
    // (`uri-host [ ":" port ]`, RFC 3986 §3.2.2-3); hyper does not look at the value.
    if seen
        .headers
        .iter()
        .any(|(n, v)| n == "host" && !v.iter().all(|&b| is_host_byte(b)))
    {
        return Some("invalid host");
    }
    // RFC 9112 §3.2 / §3.2.3-4: the target form must suit the method; hyper accepts any URI.
    if !target_form_ok(&seen.method, &seen.target) {
        return Some("target form");
    }
    if let Some(raw) = raw {
        let te = !raw.values("transfer-encoding").is_empty();
        let cl = raw.values("content-length");
        // RFC 9112 §6.1: "A server MAY reject a request that contains both Content-Length and
        // Transfer-Encoding or process such a request in accordance with the
        // Transfer-Encoding alone." torii refuses; hyper drops the Content-Length.
        if te && !cl.is_empty() {
            return Some("transfer-encoding with content-length");
        }
        // RFC 9112 §6.1: "A server that receives a request message with a transfer coding
        // it does not understand SHOULD respond with 501 (Not Implemented)." torii implements
        // only `chunked`, and refuses it listed twice (§7: chunked "MUST NOT" be applied more
        // than once); hyper only checks that `chunked` is last.
        if te && !only_chunked(raw) {
            return Some("transfer coding other than one chunked");
        }
        // RFC 9110 §8.6: recipients must guard against overflow; torii refuses numerals of
        // more than 19 digits (any value it could not represent) even with leading zeros.
        if cl.iter().any(|v| v.trim_ascii().len() > 19) {
            return Some("content-length numeral too long");
        }
    }
    None
}

/// Whether `b` may appear in `uri-host [ ":" port ]` (RFC 3986 §3.2.2: unreserved,
/// pct-encoded, sub-delims, `[ ] :` for IP literals and the port).
fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=:[]".contains(&b)
}

/// Why hyper may refuse (or not parse) a request torii accepts, or `None`.
fn hyper_stricter(raw: Option<&RawRequest>) -> Option<&'static str> {
    // RFC 9110 §8.6: a Content-Length that is a list of one repeated value ("5, 5") "MAY"
    // be accepted as that value; torii does, hyper refuses any list.
    let listed = raw?
        .values("content-length")
        .iter()
        .any(|v| v.contains(&b','));
    if listed {
        return Some("content-length list of one value");
    }
    // RFC 9110 §5.6.1.2: "a recipient MUST parse and ignore a reasonable number of empty list
    // elements"; torii does in Transfer-Encoding (`chunked,`), hyper takes the empty last
    // element for the final coding and refuses.
    let empty_element = raw?
        .values("transfer-encoding")
        .iter()
        .flat_map(|v| v.split(|&b| b == b','))
        .any(|c| c.trim_ascii().is_empty());
    (empty_element && only_chunked(raw?)).then_some("empty list element in transfer-encoding")
}

/// Whether the request's transfer codings are exactly one `chunked`.
fn only_chunked(raw: &RawRequest) -> bool {
    let codings: Vec<&[u8]> = raw
        .values("transfer-encoding")
        .into_iter()
        .flat_map(|v| v.split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|c| !c.is_empty())
        .collect();
    codings.len() == 1 && codings[0].eq_ignore_ascii_case(b"chunked")
}

fn check(wire: &[u8], splits: &[usize]) {
    let torii = torii_server(wire, splits, End::Pending);
    let hyper = hyper_server(wire, splits, End::Pending);
    let raw = raw_requests(wire);
    let context = || {
        format!(
            "\nwire {:?}\nsplits {splits:?}\ntorii {torii:#?}\nhyper {hyper:#?}",
            String::from_utf8_lossy(wire)
        )
    };

    let common = torii.requests.len().min(hyper.requests.len());
    for i in 0..common {
        let (t, h) = (&torii.requests[i], &hyper.requests[i]);
        assert_eq!(
            (&t.method, &t.target, t.version, comparable(&t.headers)),
            (&h.method, &h.target, h.version, comparable(&h.headers)),
            "request {i} heads differ{}",
            context()
        );
        match (&t.body, &h.body) {
            (BodySeen::Complete(td, tt), BodySeen::Complete(hd, ht)) => {
                assert_eq!(td, hd, "request {i} bodies differ{}", context());
                // A bare LF in the trailer section: where it ends may differ (see
                // `hyper_body_stricter`), so its fields and all that follows may too.
                if hyper_body_stricter(raw.get(i)).is_some() {
                    return;
                }
                assert_eq!(
                    trailers(tt),
                    trailers(ht),
                    "request {i} trailers{}",
                    context()
                );
            }
            // Neither finished the body: the connection ends here for both.
            (
                BodySeen::Reading(_) | BodySeen::Failed(_),
                BodySeen::Reading(_) | BodySeen::Failed(_),
            ) => {
                assert_eq!(
                    (torii.requests.len(), hyper.requests.len()),
                    (i + 1, i + 1),
                    "request {i}: a request after an unfinished body{}",
                    context()
                );
                return;
            }
            (BodySeen::Complete(..), BodySeen::Failed(_) | BodySeen::Reading(_))
                if hyper_body_stricter(raw.get(i)).is_some() =>
            {
                return;
            }
            (BodySeen::Failed(_), BodySeen::Complete(..))
                if torii_body_stricter(raw.get(i)).is_some() =>
            {
                return;
            }
            // Reported: torii refuses whitespace between a chunk size and `;`, which RFC 9112
            // §7.1.1 allows (`BWS ";"`) and RFC 9110 §5.6.3 says a recipient MUST parse;
            // hyper accepts it. Allowed only when TORII_FUZZ_KNOWN names `chunk-bws`.
            (BodySeen::Failed(_), BodySeen::Complete(..))
                if known("chunk-bws") && bws_before_extension(raw.get(i)) =>
            {
                return;
            }
            _ => panic!(
                "request {i}: one body ended, the other did not{}",
                context()
            ),
        }
    }

    // RFC 9112 §9.3, §9.6: after a request with the "close" option (or an HTTP/1.0 request
    // without "keep-alive") the server closes; nothing after it is read.
    if let Some(last) = common.checked_sub(1).map(|i| &torii.requests[i]) {
        let (torii_closes, hyper_closes) = (closes(last, false), closes(last, true));
        if torii_closes {
            assert!(
                torii.requests.len() == common && torii.rejected().is_none(),
                "torii read past a close{}",
                context()
            );
        }
        if hyper_closes {
            assert!(
                hyper.requests.len() == common && hyper.rejected().is_none(),
                "hyper read past a close{}",
                context()
            );
        }
        if torii_closes || hyper_closes {
            // They decide alike unless hyper could not read a Connection line (obs-text).
            assert!(
                torii_closes == hyper_closes || !connection_is_ascii(last),
                "only one closed after request {}{}",
                common - 1,
                context()
            );
            return;
        }
    }
    // A bare LF in the last body's trailer section (see `hyper_body_stricter`): torii may end
    // the section there (RFC 9112 §2.2), hyper only at CRLF, so the two may take different
    // bytes for the section and disagree on what follows.
    if common > 0 && hyper_body_stricter(raw.get(common - 1)).is_some() {
        return;
    }
    if torii.requests.len() < hyper.requests.len() {
        let seen = &hyper.requests[common];
        assert!(
            torii.rejected().is_some() && torii_stricter(raw.get(common), seen).is_some(),
            "request {common}: hyper accepted it, torii did not{}",
            context()
        );
        return;
    }
    if hyper.requests.len() < torii.requests.len() {
        assert!(
            hyper.rejected().is_some() && hyper_stricter(raw.get(common)).is_some(),
            "request {common}: torii accepted it, hyper did not{}",
            context()
        );
        return;
    }
    // Same requests; after them, both refuse what follows or neither does.
    match (torii.rejected(), hyper.rejected()) {
        (Some(_), Some(_)) | (None, None) => {}
        // Refusing a head before it is complete is best effort on both sides: torii checks a
        // partial head once, on the read that starts it; hyper parses a partial head again
        // only when a read could have completed it. Whether one refuses early then depends
        // on the reads; with everything in one read both must decide alike.
        (Some(_), None) if !hyper.finished => same_with_one_read(wire, common),
        (None, Some(_)) if !torii.finished => same_with_one_read(wire, common),
        _ => panic!(
            "only one refused what follows request {common}{}",
            context()
        ),
    }
}

/// Both servers, given `wire` in one read, refuse what follows request `common` or neither.
fn same_with_one_read(wire: &[u8], common: usize) {
    let torii = torii_server(wire, &[], End::Pending);
    let hyper = hyper_server(wire, &[], End::Pending);
    assert_eq!(
        (torii.requests.len(), torii.rejected().is_some()),
        (hyper.requests.len(), hyper.rejected().is_some()),
        "in one read, only one refused what follows request {common}\nwire {:?}\ntorii {torii:#?}\nhyper {hyper:#?}",
        String::from_utf8_lossy(wire)
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (split_bytes, wire) = rest.split_at(usize::from(n % 8).min(rest.len()));
    check(wire, &splits_from(split_bytes));
});
