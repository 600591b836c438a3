//! The framing edge cases an attacker tries, one table per class: repeated Content-Length,
//! transfer codings, chunk-size lines, where a trailer section ends, and trailer fields that
//! must not travel.

use super::tests::decode_fed;
use super::*;

fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, HeaderValue::from_static(value));
    }
    map
}

fn lengths(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all(header::CONTENT_LENGTH)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

/// RFC 9110 §8.6, RFC 9112 §6.3 item 5: Content-Length given several times with one value is
/// that value, and exactly one field goes on; differing values are refused.
#[test]
fn repeated_content_length_becomes_one_field() {
    use Framing::*;
    type Case = (
        &'static [&'static str],
        Result<(Framing, &'static [&'static str]), FramingError>,
    );
    let invalid = Err(FramingError::InvalidContentLength);
    let cases: &[Case] = &[
        (&["5"], Ok((Length(5), &["5"]))),
        (&["5", "5"], Ok((Length(5), &["5"]))),
        (&["5, 5"], Ok((Length(5), &["5"]))),
        (&["5,5", "5"], Ok((Length(5), &["5"]))),
        (&["5 ,\t5"], Ok((Length(5), &["5"]))),
        (&["0", "0"], Ok((Empty, &["0"]))),
        (&["0, 0"], Ok((Empty, &["0"]))),
        (&["5", "6"], invalid),
        (&["5, 6"], invalid),
        (&["5, 5", "6"], invalid),
        (&["5,"], invalid),
        (&[","], invalid),
        (&["5 5"], invalid),
        (&["0x5"], invalid),
    ];
    for (values, want) in cases {
        let mut headers = HeaderMap::new();
        for value in *values {
            headers.append(header::CONTENT_LENGTH, HeaderValue::from_static(value));
        }
        // Requests read by the server, responses read by the client, responses written.
        let mut request = headers.clone();
        let got = read_request_framing(&mut request).map(|f| (f, lengths(&request)));
        assert_eq!(
            got,
            want.map(|(f, l)| (f, l.to_vec())),
            "request {values:?}"
        );
        let mut response = headers.clone();
        let got = read_response_framing(&Method::GET, StatusCode::OK, &mut response)
            .map(|f| (f, lengths(&response)));
        assert_eq!(
            got,
            want.map(|(f, l)| (f, l.to_vec())),
            "response {values:?}"
        );
        let mut written = headers.clone();
        let got = single_content_length(&mut written).map(|n| (n, lengths(&written)));
        let expected = want.map(|(f, l)| {
            let n = match f {
                Length(n) => n,
                _ => 0,
            };
            (Some(n), l.to_vec())
        });
        assert_eq!(got, expected, "written {values:?}");
    }
    // Nothing is rewritten for the plain case: the field is the one from the wire.
    let mut headers = map(&[("content-length", "12")]);
    let before = headers["content-length"].as_bytes().as_ptr();
    read_request_framing(&mut headers).unwrap();
    assert_eq!(headers["content-length"].as_bytes().as_ptr(), before);
}

/// RFC 9112 §6.1: a server that receives a request with a transfer coding it does not
/// understand SHOULD answer 501, and chunked must not be applied twice; §6.3: chunked not
/// final is 400. Coding names are case-insensitive, empty list elements are ignored
/// (RFC 9110 §5.6.1.2).
#[test]
fn request_transfer_codings_table() {
    use FramingError::*;
    type Case = (&'static [&'static str], Result<Framing, FramingError>);
    let cases: &[Case] = &[
        (&["chunked"], Ok(Framing::Chunked)),
        (&["CHUNKED"], Ok(Framing::Chunked)),
        (&[", chunked"], Ok(Framing::Chunked)),
        (&["chunked ,"], Ok(Framing::Chunked)),
        (&["", "chunked"], Ok(Framing::Chunked)),
        // chunked more than once: 501
        (&["chunked, chunked"], Err(UnsupportedTransferCoding)),
        (&["chunked", "chunked"], Err(UnsupportedTransferCoding)),
        (&["chunked,chunked"], Err(UnsupportedTransferCoding)),
        // another coding before chunked: 501
        (&["gzip, chunked"], Err(UnsupportedTransferCoding)),
        (&["gzip", "chunked"], Err(UnsupportedTransferCoding)),
        (&["identity, chunked"], Err(UnsupportedTransferCoding)),
        (&["x-unknown, chunked"], Err(UnsupportedTransferCoding)),
        (&["deflate,Chunked"], Err(UnsupportedTransferCoding)),
        // chunked not final (or absent): 400
        (&["gzip"], Err(ChunkedNotFinal)),
        (&["identity"], Err(ChunkedNotFinal)),
        (&["x-unknown"], Err(ChunkedNotFinal)),
        (&["chunked, gzip"], Err(ChunkedNotFinal)),
        (&["chunked", "identity"], Err(ChunkedNotFinal)),
        (&[""], Err(ChunkedNotFinal)),
        (&["chunked;q=1"], Err(ChunkedNotFinal)),
        (&["\"chunked\""], Err(ChunkedNotFinal)),
    ];
    for (values, want) in cases {
        let mut headers = HeaderMap::new();
        for value in *values {
            headers.append(header::TRANSFER_ENCODING, HeaderValue::from_static(value));
        }
        assert_eq!(request_framing(&headers), *want, "{values:?}");
        headers.append(header::CONTENT_LENGTH, HeaderValue::from_static("3"));
        assert_eq!(
            request_framing(&headers),
            Err(LengthAndEncoding),
            "{values:?} with content-length"
        );
    }
}

/// RFC 9112 §7.1: `chunk-size = 1*HEXDIG` starts the line; strictly no whitespace around it
/// (the errata's BWS before `;` is refused too), no `0x`, no sign, at most 15 digits;
/// extensions follow `;` and hold no control characters.
#[test]
fn chunk_size_lines_are_strict() {
    use DecodeError::*;
    let cases: &[(&[u8], Result<u64, DecodeError>)] = &[
        (b"0", Ok(0)),
        (b"5", Ok(5)),
        (b"1A", Ok(26)),
        (b"1a", Ok(26)),
        (b"0005", Ok(5)),
        (b"1a;name=value", Ok(26)),
        (b"5;a=\"x y\";b", Ok(5)),
        (b"5;", Ok(5)),
        (b"5;\ta", Ok(5)),
        (b"fffffffffffffff", Ok((1 << 60) - 1)),
        (b"", Err(InvalidChunkSize)),
        (b";ext", Err(InvalidChunkSize)),
        (b" 5", Err(InvalidChunkSize)),
        (b"5 ", Err(InvalidChunkSize)),
        (b"\t5", Err(InvalidChunkSize)),
        (b"5\t", Err(InvalidChunkSize)),
        (b"5 ;ext", Err(InvalidChunkSize)),
        (b"5\t;ext", Err(InvalidChunkSize)),
        (b"0x5", Err(InvalidChunkSize)),
        (b"+5", Err(InvalidChunkSize)),
        (b"-5", Err(InvalidChunkSize)),
        (b"5g", Err(InvalidChunkSize)),
        (b"1000000000000000", Err(InvalidChunkSize)),
        (b"ffffffffffffffffffff", Err(InvalidChunkSize)),
        (b"5;a\nb", Err(InvalidChunkExtension)),
        (b"5;a\rb", Err(InvalidChunkExtension)),
        (b"5;a\x00", Err(InvalidChunkExtension)),
        (b"5;a\x7f", Err(InvalidChunkExtension)),
    ];
    for (line, want) in cases {
        let shown = String::from_utf8_lossy(line);
        assert_eq!(parse_chunk_size(line), *want, "{shown:?}");
        // The same through the decoder, byte by byte and at once (requests and responses
        // share it).
        let mut wire = line.to_vec();
        wire.extend_from_slice(b"\r\n");
        if *want == Ok(5) {
            wire.extend_from_slice(b"hello\r\n0\r\n\r\n");
        } else if *want == Ok(0) {
            wire.extend_from_slice(b"\r\n");
        }
        for step in [1, 1000] {
            let got = decode_fed(Framing::Chunked, &wire, |_| step);
            match want {
                Ok(0) | Ok(5) => assert!(got.is_ok(), "{shown:?}: {got:?}"),
                Ok(_) => assert!(matches!(got, Err(Incomplete)), "{shown:?}: {got:?}"),
                Err(error) => assert_eq!(got.map(|_| ()), Err(*error), "{shown:?} step {step}"),
            }
        }
    }
    // A line that cannot start a chunk-size is refused before its end arrives.
    let mut decoder = BodyDecoder::new(Framing::Chunked);
    let mut buf = BytesMut::from(&b" "[..]);
    assert_eq!(decoder.decode(&mut buf), Err(InvalidChunkSize));
}

/// How bytes are fed to a decoder: `n` at a time, or the first `n` then all the rest.
#[derive(Debug, Clone, Copy)]
enum Feed {
    Step(usize),
    Split(usize),
}

impl Feed {
    fn piece(self, fed: usize) -> usize {
        match self {
            Feed::Step(n) => n,
            Feed::Split(n) if fed == 0 => n,
            Feed::Split(_) => usize::MAX,
        }
    }
}

/// RFC 9112 §7.1.2 and §2.2: the trailer section ends at its first blank line, whether lines
/// end in CRLF or a bare LF, and the decoder takes exactly that much: what follows is the next
/// pipelined request, whatever the reads look like.
#[test]
fn trailer_sections_end_exactly_at_their_blank_line() {
    const NEXT: &[u8] = b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
    type Case = (&'static [u8], &'static [(&'static str, &'static str)]);
    let cases: &[Case] = &[
        (b"3\r\nabc\r\n0\r\n\r\n", &[]),
        (b"3\r\nabc\r\n0\r\n\n", &[]),
        (b"3\r\nabc\r\n0\r\nx-t: 1\r\n\r\n", &[("x-t", "1")]),
        (b"3\r\nabc\r\n0\r\nx-t: 1\n\n", &[("x-t", "1")]),
        (b"3\r\nabc\r\n0\r\nx-t: 1\r\n\n", &[("x-t", "1")]),
        (b"3\r\nabc\r\n0\r\nx-t: 1\n\r\n", &[("x-t", "1")]),
        (
            b"3\r\nabc\r\n0\r\nx-t: 1\nx-u: 2\r\nx-t: 3\n\n",
            &[("x-t", "1"), ("x-t", "3"), ("x-u", "2")],
        ),
    ];
    for (body, want) in cases {
        let wire = [*body, NEXT].concat();
        let shown = String::from_utf8_lossy(&wire);
        let steps = [1, 2, 3, 7, 64].map(Feed::Step);
        let feeds = steps.into_iter().chain((1..wire.len()).map(Feed::Split));
        for feed in feeds {
            let how = format!("{feed:?}");
            let (data, trailers, rest) = decode_fed(Framing::Chunked, &wire, |fed| feed.piece(fed))
                .unwrap_or_else(|e| panic!("{shown:?} {how}: {e}"));
            assert_eq!(data, b"abc", "{shown:?} {how}");
            assert_eq!(
                &rest[..],
                NEXT,
                "{shown:?} {how}: the next request is intact"
            );
            let mut got: Vec<(String, String)> = trailers
                .iter()
                .flatten()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
                .collect();
            got.sort();
            let want: Vec<(String, String)> = want
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(got, want, "{shown:?} {how}");
        }
    }
}

/// RFC 9112 §7.1.2 (field syntax as in the header section, RFC 9112 §5): trailers that do not
/// parse, or too many or too long, fail the body.
#[test]
fn malformed_trailer_sections_fail() {
    use DecodeError::*;
    let many: String = (0..40).map(|i| format!("x-{i}: v\r\n")).collect();
    let long = format!("x: {}\r\n\r\n", "a".repeat(MAX_TRAILERS));
    let cases: Vec<(Vec<u8>, DecodeError)> = vec![
        (b"no colon\r\n\r\n".to_vec(), InvalidTrailers),
        (b"x-a: 1\r\n folded\r\n\r\n".to_vec(), InvalidTrailers),
        (b"x-a : 1\r\n\r\n".to_vec(), InvalidTrailers),
        (b"x-a: \x01\r\n\r\n".to_vec(), InvalidTrailers),
        (b"\rx\r\n\r\n".to_vec(), InvalidTrailers),
        (format!("{many}\r\n").into_bytes(), InvalidTrailers),
        (long.into_bytes(), TooLong),
    ];
    for (section, want) in cases {
        let wire = [&b"0\r\n"[..], &section].concat();
        for step in [1, 4096] {
            assert_eq!(
                decode_fed(Framing::Chunked, &wire, |_| step).map(|_| ()),
                Err(want),
                "{:?} step {step}",
                String::from_utf8_lossy(&section[..section.len().min(40)])
            );
        }
    }
}

/// RFC 9110 §6.5.1: fields needed for framing, routing, request modifiers, authentication,
/// response control or content processing must not be trailers. They are dropped when a
/// trailer section is read (server and client alike) and when one is written.
#[test]
fn forbidden_trailer_fields_are_dropped() {
    let forbidden = [
        "content-length",
        "transfer-encoding",
        "trailer",
        "te",
        "connection",
        "keep-alive",
        "proxy-connection",
        "upgrade",
        "host",
        "cache-control",
        "expect",
        "max-forwards",
        "pragma",
        "range",
        "if-match",
        "if-none-match",
        "if-modified-since",
        "if-unmodified-since",
        "if-range",
        "authorization",
        "proxy-authorization",
        "www-authenticate",
        "proxy-authenticate",
        "cookie",
        "set-cookie",
        "age",
        "date",
        "expires",
        "location",
        "retry-after",
        "vary",
        "warning",
        "content-encoding",
        "content-type",
        "content-range",
    ];
    let allowed = [
        "grpc-status",
        "grpc-message",
        "grpc-status-details-bin",
        "x-checksum",
        "x-content-length",
        "server-timing",
        "digest",
    ];
    let table = forbidden
        .iter()
        .map(|n| (*n, true))
        .chain(allowed.iter().map(|n| (*n, false)));
    for (name, want) in table {
        let header = HeaderName::from_static(name);
        assert_eq!(is_forbidden_trailer(&header), want, "{name}");
        // Read: in mixed case, between allowed fields.
        let wire = format!(
            "0\r\nx-a: 1\r\n{}: v\r\nx-z: 0\r\n\r\n",
            name.to_uppercase()
        );
        let (_, trailers, rest) =
            decode_fed(Framing::Chunked, wire.as_bytes(), |_| usize::MAX).unwrap();
        let trailers = trailers.expect("allowed trailers remain");
        assert_eq!(trailers.contains_key(name), !want, "read {name}");
        assert_eq!(trailers["x-a"], "1");
        assert_eq!(trailers["x-z"], "0");
        assert!(rest.is_empty());
        // Written.
        let mut out = BytesMut::new();
        write_last_chunk(Some(&map(&[("x-a", "1"), (name, "v")])), &mut out);
        let written = format!("0\r\nx-a: 1\r\n{name}: v\r\n\r\n");
        let want_out = if want {
            "0\r\nx-a: 1\r\n\r\n"
        } else {
            &written
        };
        assert_eq!(std::str::from_utf8(&out).unwrap(), want_out, "write {name}");
    }
    // A section of nothing but forbidden fields is a plain end.
    let (_, trailers, _) = decode_fed(
        Framing::Chunked,
        b"0\r\ncontent-length: 5\r\nhost: evil\r\nhost: twice\r\n\r\n",
        |_| 3,
    )
    .unwrap();
    assert!(trailers.is_none());
}
