//! Framing edge cases of upstream responses, scripted bytes split every way: repeated
//! Content-Length, strict chunk-size lines, where trailers end, forbidden trailer fields.

use super::tests::{get, pool, within, Mock};
use super::*;
use crate::codec::DecodeError;
use http_body_util::BodyExt;

/// What the client made of one scripted response.
#[derive(Debug)]
struct Seen {
    headers: HeaderMap,
    body: Result<(Vec<u8>, Option<HeaderMap>), ResponseBodyError>,
    released: usize,
    /// The released connection passes the pool's check (nothing unread behind it).
    reusable: Option<bool>,
}

async fn receive(reads: Vec<Vec<u8>>) -> Seen {
    let (mock, _) = Mock::new(reads, false);
    let (release, released) = pool();
    let response = within(ClientConnection::new(mock).send(get("/"), release))
        .await
        .expect("response head");
    let (parts, mut body) = response.into_parts();
    let mut data = Vec::new();
    let mut trailers = None;
    let body = loop {
        match within(body.frame()).await {
            None => break Ok((data, trailers)),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(bytes) => data.extend_from_slice(&bytes),
                Err(frame) => trailers = frame.into_trailers().ok(),
            },
            Some(Err(error)) => {
                let error = error
                    .downcast::<ResponseBodyError>()
                    .expect("a ResponseBodyError");
                break Err(*error);
            }
        }
    };
    let mut released = released.lock().unwrap();
    let reusable = released.last_mut().map(|conn| conn.is_reusable());
    Seen {
        headers: parts.headers,
        body,
        released: released.len(),
        reusable,
    }
}

/// Every way of reading `wire`: at once, split at each byte, byte by byte.
fn splits(wire: &[u8]) -> Vec<(String, Vec<Vec<u8>>)> {
    let mut out = vec![("one read".to_string(), vec![wire.to_vec()])];
    for at in 1..wire.len() {
        out.push((
            format!("split at {at}"),
            vec![wire[..at].to_vec(), wire[at..].to_vec()],
        ));
    }
    out.push((
        "byte by byte".to_string(),
        wire.iter().map(|b| vec![*b]).collect(),
    ));
    out
}

/// RFC 9110 §8.6: a response with equal Content-Length values is read with that length and
/// passed on with exactly one field.
#[tokio::test]
async fn repeated_content_length_is_passed_on_as_one_field() {
    for fields in [
        "Content-Length: 2\r\nContent-Length: 2\r\n",
        "Content-Length: 2, 2\r\n",
    ] {
        let wire = format!("HTTP/1.1 200 OK\r\n{fields}\r\nok");
        let seen = receive(vec![wire.into_bytes()]).await;
        let lengths: Vec<_> = seen.headers.get_all("content-length").iter().collect();
        assert_eq!(lengths, ["2"], "{fields:?}");
        assert_eq!(seen.body.unwrap().0, b"ok", "{fields:?}");
        assert_eq!(seen.released, 1, "{fields:?}");
    }
}

/// RFC 9112 §7.1: the response decoder is as strict about chunk-size lines as the request
/// decoder; a malformed line fails the body (never reusing the connection).
#[tokio::test]
async fn malformed_chunked_responses_fail_the_body() {
    use DecodeError::*;
    let cases: &[(&[u8], DecodeError)] = &[
        (b"5 \r\nhello\r\n0\r\n\r\n", InvalidChunkSize),
        (b" 5\r\nhello\r\n0\r\n\r\n", InvalidChunkSize),
        (b"5 ;x\r\nhello\r\n0\r\n\r\n", InvalidChunkSize),
        (b"0x5\r\nhello\r\n0\r\n\r\n", InvalidChunkSize),
        (b"\r\nhello\r\n0\r\n\r\n", InvalidChunkSize),
        (b"+5\r\nhello\r\n0\r\n\r\n", InvalidChunkSize),
        (b"10000000000000000\r\nx\r\n", InvalidChunkSize),
        (b"5;a\rb\r\nhello\r\n0\r\n\r\n", InvalidChunkExtension),
        (b"3\r\nabcX\r\n", InvalidChunkEnd),
        (b"3\r\nabc\r\n0\r\nbad\r\n\r\n", InvalidTrailers),
    ];
    for (body, want) in cases {
        let wire = [
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            body,
        ]
        .concat();
        for (how, reads) in splits(&wire) {
            let seen = receive(reads).await;
            let shown = String::from_utf8_lossy(body);
            assert!(
                matches!(&seen.body, Err(ResponseBodyError::Decode(e)) if e == want),
                "{shown:?} {how}: {:?}",
                seen.body
            );
            assert_eq!(seen.released, 0, "{shown:?} {how}");
        }
    }
}

/// RFC 9112 §7.1.2, §2.2: response trailers end at their first blank line (CRLF or bare LF)
/// and the decoder takes nothing after it: bytes that follow stay in the buffer, so the
/// connection is not handed back with them swallowed (a desync). Fields that must not be
/// trailers (RFC 9110 §6.5.1) are dropped; the others arrive.
#[tokio::test]
async fn response_trailers_end_at_their_blank_line() {
    let sections: &[&[u8]] = &[
        b"grpc-status: 0\r\nset-cookie: a=b\r\ncontent-length: 9\r\nx-t: 1\r\n\r\n",
        b"grpc-status: 0\nset-cookie: a=b\ncontent-length: 9\nx-t: 1\n\n",
        b"grpc-status: 0\r\nset-cookie: a=b\ncontent-length: 9\r\nx-t: 1\n\r\n",
    ];
    for section in sections {
        let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n";
        let shown = String::from_utf8_lossy(section);
        for extra in [&b""[..], b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"] {
            let wire = [&head[..], section, extra].concat();
            for (how, reads) in splits(&wire) {
                let seen = receive(reads).await;
                let (data, trailers) = seen.body.expect("body");
                assert_eq!(data, b"abc", "{shown:?} {how}");
                let trailers = trailers.expect("trailers");
                let names: Vec<_> = trailers.keys().map(|k| k.as_str()).collect();
                assert_eq!(names, ["grpc-status", "x-t"], "{shown:?} {how}");
                // Nothing after the trailers was taken: with nothing more, the connection
                // goes back to the pool; with bytes after the response, it is kept out, or
                // (when they arrive in a later read) the pool's check finds them.
                if extra.is_empty() {
                    assert_eq!(seen.reusable, Some(true), "{shown:?} {how}");
                } else {
                    assert_ne!(seen.reusable, Some(true), "{shown:?} {how}");
                }
            }
        }
    }
}
