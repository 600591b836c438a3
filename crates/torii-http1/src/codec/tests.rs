//! Unit tests of the codec: framing, body decoding at every split, encoding.

use super::*;

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, HeaderValue::from_static(value));
    }
    map
}

#[test]
fn request_framing_table() {
    use Framing::*;
    use FramingError::*;
    type Case<'a> = (&'a [(&'a str, &'a str)], Result<Framing, FramingError>);
    let cases: &[Case] = &[
        (&[], Ok(Empty)),
        (&[("content-length", "0")], Ok(Empty)),
        (&[("content-length", "12")], Ok(Length(12))),
        (
            &[("content-length", "12"), ("content-length", "12")],
            Ok(Length(12)),
        ),
        (&[("content-length", "12, 12")], Ok(Length(12))),
        (
            &[("content-length", "12"), ("content-length", "13")],
            Err(InvalidContentLength),
        ),
        (&[("content-length", "-1")], Err(InvalidContentLength)),
        (&[("content-length", "1e3")], Err(InvalidContentLength)),
        (&[("content-length", "")], Err(InvalidContentLength)),
        (&[("transfer-encoding", "chunked")], Ok(Chunked)),
        (&[("transfer-encoding", "Chunked")], Ok(Chunked)),
        (
            &[("transfer-encoding", "chunked, gzip")],
            Err(ChunkedNotFinal),
        ),
        (
            &[("transfer-encoding", "chunked"), ("content-length", "3")],
            Err(LengthAndEncoding),
        ),
    ];
    for (pairs, want) in cases {
        let map = headers(pairs);
        assert_eq!(request_framing(&map), *want, "{pairs:?}");
    }
}

#[test]
fn response_framing_table() {
    use Framing::*;
    let ok = StatusCode::OK;
    type Case<'a> = (Method, StatusCode, &'a [(&'a str, &'a str)], Framing);
    let cases: &[Case] = &[
        (Method::GET, ok, &[("content-length", "5")], Length(5)),
        (Method::HEAD, ok, &[("content-length", "5")], Empty),
        (Method::GET, StatusCode::NO_CONTENT, &[], Empty),
        (
            Method::GET,
            StatusCode::NOT_MODIFIED,
            &[("content-length", "5")],
            Empty,
        ),
        (Method::GET, StatusCode::SWITCHING_PROTOCOLS, &[], Empty),
        (Method::GET, ok, &[], CloseDelimited),
        (
            Method::GET,
            ok,
            &[("transfer-encoding", "chunked")],
            Chunked,
        ),
        (
            Method::GET,
            ok,
            &[("transfer-encoding", "gzip")],
            CloseDelimited,
        ),
        (Method::GET, ok, &[("content-length", "0")], Empty),
    ];
    for (method, status, pairs, want) in cases {
        let map = headers(pairs);
        assert_eq!(
            response_framing(method, *status, &map),
            Ok(*want),
            "{method} {status} {pairs:?}"
        );
    }
}

fn decode_all(
    framing: Framing,
    wire: &[u8],
    step: usize,
) -> Result<(Vec<u8>, Option<HeaderMap>, BytesMut), DecodeError> {
    decode_fed(framing, wire, |_| step)
}

/// Decodes `wire` fed in pieces: `piece(fed)` is the size of the next piece after `fed` bytes.
/// Returns the body, the trailers and what follows the body (in the buffer or not yet fed).
pub(super) fn decode_fed(
    framing: Framing,
    wire: &[u8],
    mut piece: impl FnMut(usize) -> usize,
) -> Result<(Vec<u8>, Option<HeaderMap>, BytesMut), DecodeError> {
    let mut decoder = BodyDecoder::new(framing);
    let mut buf = BytesMut::new();
    let mut body = Vec::new();
    let mut trailers = None;
    let mut fed = 0;
    loop {
        match decoder.decode(&mut buf)? {
            Some(Decoded::Data(data)) => body.extend_from_slice(&data),
            Some(Decoded::Trailers(t)) => {
                trailers = Some(t);
                break;
            }
            Some(Decoded::End) => break,
            None if fed < wire.len() => {
                let n = piece(fed).clamp(1, wire.len() - fed);
                buf.extend_from_slice(&wire[fed..fed + n]);
                fed += n;
            }
            None => match decoder.eof()? {
                Decoded::End => break,
                other => panic!("unexpected {other:?}"),
            },
        }
    }
    buf.extend_from_slice(&wire[fed..]);
    Ok((body, trailers, buf))
}

#[test]
fn chunked_bodies_decode_at_any_split() {
    let wire = b"5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\nGET /next";
    for step in [1, 2, 3, 7, 64] {
        let (body, trailers, rest) = decode_all(Framing::Chunked, wire, step).unwrap();
        assert_eq!(body, b"helloabcdefghijklmnopqrstuvwxyz", "step {step}");
        assert!(trailers.is_none());
        assert_eq!(&rest[..], b"GET /next", "step {step}");
    }
}

#[test]
fn chunked_trailers_are_returned() {
    let wire = b"3\r\nabc\r\n0\r\ngrpc-status: 0\r\nx-t: y\r\n\r\n";
    for step in [1, 5, 100] {
        let (body, trailers, rest) = decode_all(Framing::Chunked, wire, step).unwrap();
        assert_eq!(body, b"abc");
        let trailers = trailers.expect("trailers");
        assert_eq!(trailers["grpc-status"], "0");
        assert_eq!(trailers["x-t"], "y");
        assert!(rest.is_empty());
    }
}

#[test]
fn malformed_chunked_bodies_fail() {
    let cases: &[(&[u8], DecodeError)] = &[
        (b"zz\r\n", DecodeError::InvalidChunkSize),
        (b"\r\n", DecodeError::InvalidChunkSize),
        (b"3\r\nabcX\r\n", DecodeError::InvalidChunkEnd),
        (b"fffffffffffffffff\r\n", DecodeError::InvalidChunkSize),
        (b"3\r\nab", DecodeError::Incomplete),
    ];
    for (wire, want) in cases {
        assert_eq!(
            decode_all(Framing::Chunked, wire, 2).map(|_| ()),
            Err(*want),
            "{:?}",
            String::from_utf8_lossy(wire)
        );
    }
    let long = vec![b'1'; MAX_CHUNK_LINE + 10];
    assert_eq!(
        decode_all(Framing::Chunked, &long, 4096).map(|_| ()),
        Err(DecodeError::TooLong)
    );
}

#[test]
fn length_and_close_bodies() {
    let (body, _, rest) = decode_all(Framing::Length(4), b"abcdGET", 3).unwrap();
    assert_eq!(body, b"abcd");
    assert_eq!(&rest[..], b"GET");
    assert_eq!(
        decode_all(Framing::Length(10), b"abc", 3).map(|_| ()),
        Err(DecodeError::Incomplete)
    );
    let (body, _, _) = decode_all(Framing::CloseDelimited, b"all of it", 4).unwrap();
    assert_eq!(body, b"all of it");
    let (body, _, _) = decode_all(Framing::Empty, b"", 4).unwrap();
    assert!(body.is_empty());
}

#[test]
fn chunk_headers_are_hex() {
    for (len, want) in [(1, "1\r\n"), (26, "1a\r\n"), (4096, "1000\r\n")] {
        let mut out = BytesMut::new();
        write_chunk_header(len, &mut out);
        assert_eq!(&out[..], want.as_bytes());
    }
    let mut out = BytesMut::new();
    write_last_chunk(Some(&headers(&[("grpc-status", "0")])), &mut out);
    assert_eq!(&out[..], b"0\r\ngrpc-status: 0\r\n\r\n");
}

#[test]
fn parsed_headers_share_the_buffer() {
    let head = Bytes::from_static(b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a: 2\r\n\r\n");
    let mut parsed = [httparse::EMPTY_HEADER; 8];
    let mut request = httparse::Request::new(&mut parsed);
    assert!(request.parse(&head).unwrap().is_complete());
    let map = headers_from_parsed(&head, request.headers).unwrap();
    assert_eq!(map["host"], "a");
    assert_eq!(map.get_all("x-a").iter().count(), 2);
    assert!(has_token(
        &headers(&[("connection", "keep-alive, Upgrade")]),
        &header::CONNECTION,
        "upgrade"
    ));
    assert!(!has_token(
        &headers(&[("connection", "close")]),
        &header::CONNECTION,
        "upgrade"
    ));
}

#[test]
fn date_is_an_http_date() {
    let value = date_value();
    assert!(httpdate::parse_http_date(value.to_str().unwrap()).is_ok());
}
