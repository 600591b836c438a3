//! Request heads: where a head ends in the read buffer, and parsing it into `http` types
//! (RFC 9112 §2-3, §6, §9; header values stay slices of the head buffer).

use crate::codec::{self, Framing, FramingError};
use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderMap};
use http::{Method, Uri, Version};
use std::mem::MaybeUninit;

/// A parsed request head and what the connection needs to know about it.
#[derive(Debug)]
pub(super) struct RequestHead {
    pub method: Method,
    pub uri: Uri,
    pub version: Version,
    pub headers: HeaderMap,
    pub framing: Framing,
    /// The client allows the connection to stay open after this request.
    pub keep_alive: bool,
    /// `Expect: 100-continue` on an HTTP/1.1 request with a body.
    pub expect_continue: bool,
    /// `Connection: upgrade` with an `Upgrade` header, or `CONNECT`.
    pub upgrade: bool,
}

/// Why a head was refused (the status the connection answers with before closing).
/// Not `Copy`: matching on it moves it, which keeps borrow scopes in the connection loop tight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum HeadError {
    /// 400: malformed, ambiguous framing, bad target, missing or repeated Host.
    Invalid(&'static str),
    /// 431: the head or its header count exceeds the limits.
    TooLarge,
    /// 501: a transfer coding other than one final `chunked` (RFC 9112 §6.1).
    UnsupportedCoding,
}

/// Heads with at most this many headers are parsed with a header array on the stack.
const STACK_HEADERS: usize = 128;

/// Drops empty lines before a request line (RFC 9112 §2.2).
pub(super) fn skip_empty_lines(buf: &mut BytesMut) {
    let n = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    buf.advance(n);
}

/// Rejects an incomplete head early when what is there is already invalid.
pub(super) fn check_partial(buf: &[u8], max_headers: usize) -> Result<(), HeadError> {
    with_header_slots(max_headers, |slots| {
        let mut request = httparse::Request::new(&mut []);
        httparse::ParserConfig::default()
            .parse_request_with_uninit_headers(&mut request, buf, slots)
            .map(|_| ())
            .map_err(parse_error)
    })
}

fn parse_error(error: httparse::Error) -> HeadError {
    match error {
        httparse::Error::TooManyHeaders => HeadError::TooLarge,
        _ => HeadError::Invalid("malformed request head"),
    }
}

fn with_header_slots<'b, T>(
    max_headers: usize,
    f: impl FnOnce(&mut [MaybeUninit<httparse::Header<'b>>]) -> T,
) -> T {
    if max_headers <= STACK_HEADERS {
        let mut slots = [const { MaybeUninit::uninit() }; STACK_HEADERS];
        f(&mut slots[..max_headers])
    } else {
        let mut slots = Vec::with_capacity(max_headers);
        slots.resize_with(max_headers, MaybeUninit::uninit);
        f(&mut slots)
    }
}

/// Parses a complete head (`head` ends with its blank line, as found by [`find_head_end`](crate::codec::find_head_end)).
pub(super) fn parse(head: &Bytes, max_headers: usize) -> Result<RequestHead, HeadError> {
    with_header_slots(max_headers, |slots| {
        let mut request = httparse::Request::new(&mut []);
        match httparse::ParserConfig::default().parse_request_with_uninit_headers(
            &mut request,
            head,
            slots,
        ) {
            Ok(httparse::Status::Complete(n)) if n == head.len() => {}
            Ok(_) => return Err(HeadError::Invalid("malformed request head")),
            Err(error) => return Err(parse_error(error)),
        }
        let (Some(method), Some(target), Some(minor)) =
            (request.method, request.path, request.version)
        else {
            return Err(HeadError::Invalid("incomplete request line"));
        };
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|_| HeadError::Invalid("invalid method"))?;
        let version = if minor == 1 {
            Version::HTTP_11
        } else {
            Version::HTTP_10
        };
        let uri = request_target(&method, head.slice_ref(target.as_bytes()))?;
        let headers = codec::headers_from_parsed(head, request.headers)
            .map_err(|_| HeadError::Invalid("invalid header"))?;
        finish(method, uri, version, headers)
    })
}

/// The request target in the form the method allows (RFC 9112 §3.2).
fn request_target(method: &Method, target: Bytes) -> Result<Uri, HeadError> {
    let asterisk = &target[..] == b"*";
    let origin_form = target.first() == Some(&b'/');
    let uri = Uri::from_maybe_shared(target).map_err(|_| HeadError::Invalid("invalid target"))?;
    let valid = if method == Method::CONNECT {
        // authority-form only
        uri.scheme().is_none() && uri.authority().is_some() && uri.path_and_query().is_none()
    } else if asterisk {
        method == Method::OPTIONS
    } else {
        origin_form || (uri.scheme().is_some() && uri.authority().is_some())
    };
    if valid {
        Ok(uri)
    } else {
        Err(HeadError::Invalid("target form not allowed for the method"))
    }
}

fn finish(
    method: Method,
    uri: Uri,
    version: Version,
    mut headers: HeaderMap,
) -> Result<RequestHead, HeadError> {
    let http11 = version == Version::HTTP_11;
    // RFC 9112 §3.2: 400 for an HTTP/1.1 request without Host, and for any request with
    // several Host fields or one whose value is not `uri-host [ ":" port ]`.
    let mut hosts = headers.get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (None, _) if http11 => return Err(HeadError::Invalid("missing host")),
        (Some(_), Some(_)) => return Err(HeadError::Invalid("several host headers")),
        (Some(host), None) if !is_host_value(host.as_bytes()) => {
            return Err(HeadError::Invalid("invalid host"))
        }
        _ => {}
    }
    if !http11 && headers.contains_key(header::TRANSFER_ENCODING) {
        // RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
        return Err(HeadError::Invalid(
            "transfer-encoding in an HTTP/1.0 request",
        ));
    }
    // A repeated Content-Length (equal values) leaves as one field.
    let framing = codec::read_request_framing(&mut headers).map_err(|error| match error {
        FramingError::UnsupportedTransferCoding => HeadError::UnsupportedCoding,
        _ => HeadError::Invalid("invalid body framing"),
    })?;
    let has_connection = headers.contains_key(header::CONNECTION);
    let keep_alive = if http11 {
        !(has_connection && codec::has_token(&headers, &header::CONNECTION, "close"))
    } else {
        has_connection && codec::has_token(&headers, &header::CONNECTION, "keep-alive")
    };
    let expect_continue = http11
        && framing != Framing::Empty
        && headers
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let upgrade = http11
        && (method == Method::CONNECT
            || (has_connection
                && headers.contains_key(header::UPGRADE)
                && codec::has_token(&headers, &header::CONNECTION, "upgrade")));
    Ok(RequestHead {
        method,
        uri,
        version,
        headers,
        framing,
        keep_alive,
        expect_continue,
        upgrade,
    })
}

/// Whether every byte may appear in `uri-host [ ":" port ]` (RFC 3986 §3.2.2: unreserved,
/// pct-encoded, sub-delims, and `[ ] :` for IP literals and the port). Empty is allowed
/// (RFC 9110 §7.2).
fn is_host_value(value: &[u8]) -> bool {
    // No early exit: a branch-free pass over a few bytes is cheaper than a branch per byte.
    value
        .iter()
        .fold(true, |valid, &b| valid & HOST_BYTES[usize::from(b)])
}

static HOST_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let allowed =
        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()*+,;=:[]";
    let mut i = 0;
    while i < allowed.len() {
        table[allowed[i] as usize] = true;
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::find_head_end;

    fn parse_str(text: &str) -> Result<RequestHead, HeadError> {
        let head = Bytes::copy_from_slice(text.as_bytes());
        assert_eq!(find_head_end(&head, 0), Some(head.len()), "{text:?}");
        parse(&head, 100)
    }

    #[test]
    fn heads_end_at_the_first_blank_line() {
        let cases: &[(&[u8], Option<usize>)] = &[
            (b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest", Some(27)),
            (b"GET / HTTP/1.1\nHost: a\n\nrest", Some(24)),
            (b"GET / HTTP/1.1\r\nHost: a\n\r\n", Some(26)),
            (b"GET / HTTP/1.1\r\nHost: a\r\n", None),
            (b"GET / HTTP/1.1\r\nHost: a\r\n\r", None),
            (b"", None),
        ];
        for (buf, want) in cases {
            assert_eq!(
                find_head_end(buf, 0),
                *want,
                "{:?}",
                String::from_utf8_lossy(buf)
            );
            // Searching in pieces finds the same end.
            let mut found = None;
            for len in 0..=buf.len() {
                if let Some(end) = find_head_end(&buf[..len], len.saturating_sub(1)) {
                    found = Some(end);
                    break;
                }
            }
            assert_eq!(found, *want, "{:?}", String::from_utf8_lossy(buf));
        }
    }

    #[test]
    fn leading_empty_lines_are_skipped() {
        let mut buf = BytesMut::from(&b"\r\n\nGET / HTTP/1.1\r\n"[..]);
        skip_empty_lines(&mut buf);
        assert_eq!(&buf[..], b"GET / HTTP/1.1\r\n");
    }

    #[test]
    fn valid_heads() {
        let head = parse_str("GET /a?b=c HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\r\n").unwrap();
        assert_eq!(head.method, Method::GET);
        assert_eq!(head.uri, "/a?b=c");
        assert_eq!(head.version, Version::HTTP_11);
        assert_eq!(head.headers["x-a"], "1");
        assert_eq!(head.framing, Framing::Empty);
        assert!(head.keep_alive && !head.expect_continue && !head.upgrade);

        let head = parse_str("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(head.uri, "*");
        let head = parse_str("CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(head.uri.authority().unwrap(), "example.com:443");
        assert!(head.upgrade);
        let head = parse_str("GET http://example.com/p HTTP/1.1\r\nHost: y\r\n\r\n").unwrap();
        assert_eq!(head.uri.host(), Some("example.com"));
        let head = parse_str("PURGE /x HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(head.method.as_str(), "PURGE");
        assert_eq!(head.version, Version::HTTP_10);
        assert!(!head.keep_alive);
    }

    #[test]
    fn connection_semantics_table() {
        // (head, keep_alive, expect_continue, upgrade, framing)
        let cases: &[(&str, bool, bool, bool, Framing)] = &[
            (
                "GET / HTTP/1.1\r\nHost: a\r\n",
                true,
                false,
                false,
                Framing::Empty,
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n",
                false,
                false,
                false,
                Framing::Empty,
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, Close\r\n",
                false,
                false,
                false,
                Framing::Empty,
            ),
            ("GET / HTTP/1.0\r\n", false, false, false, Framing::Empty),
            (
                "GET / HTTP/1.0\r\nConnection: keep-alive\r\n",
                true,
                false,
                false,
                Framing::Empty,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-Continue\r\n",
                true,
                true,
                false,
                Framing::Length(3),
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n",
                true,
                false,
                false,
                Framing::Empty,
            ),
            (
                "POST / HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n",
                false,
                false,
                false,
                Framing::Length(3),
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n",
                true,
                false,
                false,
                Framing::Chunked,
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n",
                true,
                false,
                true,
                Framing::Empty,
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n",
                true,
                false,
                false,
                Framing::Empty,
            ),
            (
                "GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n",
                false,
                false,
                false,
                Framing::Empty,
            ),
        ];
        for (text, keep_alive, expect, upgrade, framing) in cases {
            let head = parse_str(&format!("{text}\r\n")).unwrap();
            assert_eq!(
                (
                    head.keep_alive,
                    head.expect_continue,
                    head.upgrade,
                    head.framing
                ),
                (*keep_alive, *expect, *upgrade, *framing),
                "{text:?}"
            );
        }
    }

    #[test]
    fn invalid_heads_table() {
        use HeadError::*;
        let cases: &[(&str, HeadError)] = &[
            ("GET / HTTP/1.1\r\n", Invalid("missing host")),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n",
                Invalid("several host headers"),
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n",
                Invalid("invalid body framing"),
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n",
                Invalid("invalid body framing"),
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n",
                Invalid("invalid body framing"),
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n",
                Invalid("invalid body framing"),
            ),
            (
                "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n",
                Invalid("transfer-encoding in an HTTP/1.0 request"),
            ),
            // RFC 9112 §6.1: codings this server does not implement are 501.
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n",
                UnsupportedCoding,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                UnsupportedCoding,
            ),
            // RFC 9112 §3.2: several Host fields (any version) or an invalid value.
            (
                "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n",
                Invalid("several host headers"),
            ),
            ("GET / HTTP/1.1\r\nHost: a b\r\n", Invalid("invalid host")),
            ("GET / HTTP/1.1\r\nHost: a/b\r\n", Invalid("invalid host")),
            ("GET / HTTP/1.1\r\nHost: u@a\r\n", Invalid("invalid host")),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n  folded\r\n",
                Invalid("malformed request head"),
            ),
            (
                "GET / HTTP/1.1\r\nHost : a\r\n",
                Invalid("malformed request head"),
            ),
            (
                "GET / HTTP/2.0\r\nHost: a\r\n",
                Invalid("malformed request head"),
            ),
            ("GET\r\n", Invalid("malformed request head")),
            (
                "GET example.com:80 HTTP/1.1\r\nHost: a\r\n",
                Invalid("target form not allowed for the method"),
            ),
            (
                "GET * HTTP/1.1\r\nHost: a\r\n",
                Invalid("target form not allowed for the method"),
            ),
            (
                "CONNECT /path HTTP/1.1\r\nHost: a\r\n",
                Invalid("target form not allowed for the method"),
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n",
                Invalid("malformed request head"),
            ),
        ];
        for (text, want) in cases {
            let result = parse_str(&format!("{text}\r\n"));
            assert_eq!(&result.map(|_| ()).unwrap_err(), want, "{text:?}");
        }
    }

    /// RFC 3986 §3.2.2 (`uri-host`), §3.2.3 (`port`), as RFC 9112 §3.2 requires of Host.
    #[test]
    fn host_values_table() {
        let cases: &[(&[u8], bool)] = &[
            (b"example.com", true),
            (b"Example.COM:8080", true),
            (b"127.0.0.1:80", true),
            (b"[::1]:443", true),
            (b"[v1.fe80::a+en1]", true),
            (b"under_score.example", true),
            (b"xn--bcher-kva.example", true),
            (b"%65xample.com", true),
            (b"", true),
            (b"a b", false),
            (b"a\tb", false),
            (b"a/b", false),
            (b"a?b", false),
            (b"a#b", false),
            (b"user@a", false),
            (b"a\\b", false),
            (b"a\"b", false),
            (b"a<b>", false),
            (b"a{b}", false),
            (b"a|b", false),
            (b"a^b", false),
            (b"a`b", false),
            (b"caf\xc3\xa9", false),
        ];
        for (value, want) in cases {
            assert_eq!(
                is_host_value(value),
                *want,
                "{:?}",
                String::from_utf8_lossy(value)
            );
        }
    }

    /// RFC 9110 §8.6: equal Content-Length values leave the parser as one field.
    #[test]
    fn repeated_content_length_is_one_field() {
        let head = parse_str(
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\ncontent-length: 3, 3\r\n\r\n",
        )
        .unwrap();
        assert_eq!(head.framing, Framing::Length(3));
        let values: Vec<_> = head
            .headers
            .get_all(header::CONTENT_LENGTH)
            .iter()
            .collect();
        assert_eq!(values, ["3"]);
    }

    #[test]
    fn header_count_limit() {
        let mut text = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
        for i in 0..5 {
            text.push_str(&format!("x-{i}: v\r\n"));
        }
        text.push_str("\r\n");
        let head = Bytes::from(text);
        assert!(parse(&head, 6).is_ok());
        assert_eq!(parse(&head, 5).map(|_| ()), Err(HeadError::TooLarge));
        assert_eq!(
            check_partial(&head[..head.len() - 2], 5),
            Err(HeadError::TooLarge)
        );
        assert_eq!(check_partial(&head[..head.len() - 2], 200), Ok(()));
        assert!(
            parse(&head, 300).is_ok(),
            "more headers than the stack array"
        );
        assert_eq!(
            check_partial(b"\x16\x03\x01\x02\x00\x01", 100),
            Err(HeadError::Invalid("malformed request head")),
            "a TLS hello on a plain port"
        );
    }
}
