//! Fuzzes torii's HTTP/1.1 client (`torii_http1::client::ClientConnection::send`) on raw
//! bytes from an upstream: status lines, header sections, interim responses, bodies of every
//! framing, and whether the connection goes back to the pool, over an in-memory connection.
//!
//! - No panic, no livelock.
//! - The outcome does not depend on how the bytes are split into reads.
//! - RFC 9112 §6.3: no body after HEAD, 204 or 304; a Content-Length body has that length;
//!   1xx responses other than 101 are skipped; 101 only answers a request that asked to
//!   upgrade.
//! - A connection is reused only after a complete response that allows it (RFC 9112 §9.3),
//!   with nothing unread.
//! - The request torii wrote is a well-formed HTTP/1.1 request.
//!
//! Input: a byte choosing the request and whether the upstream closes after its bytes, one
//! byte `n`, `n % 8` bytes of read sizes, then the upstream's bytes.

#![no_main]

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use libfuzzer_sys::fuzz_target;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use torii_fuzz::{drive, splits_from, End, Fields, MockIo, Wire};
use torii_http1::client::{ClientConnection, Release};

type Pool = Arc<Mutex<Option<ClientConnection<MockIo>>>>;

/// What the client made of the upstream's bytes.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// `send` failed.
    Failed(String),
    /// `send` is still waiting for the head.
    Waiting,
    /// A response.
    Response {
        status: u16,
        version: http::Version,
        headers: Fields,
        body: Body,
        /// The connection went back to the pool, and could carry another request.
        reused: bool,
    },
}

#[derive(Debug, PartialEq, Eq)]
enum Body {
    Complete(Vec<u8>, Option<Fields>),
    Failed(Vec<u8>),
    Reading(Vec<u8>),
    /// A protocol upgrade took the connection.
    Upgraded,
}

const REQUESTS: [(&str, &str); 5] = [
    ("GET", "/"),
    ("HEAD", "/"),
    ("POST", "/form"),
    ("CONNECT", "example.com:443"),
    ("GET", "/ws"),
];

fn request(choice: u8) -> Request<Full<Bytes>> {
    let (method, target) = REQUESTS[usize::from(choice) % REQUESTS.len()];
    let mut builder = Request::builder()
        .method(method)
        .uri(target)
        .header("host", "upstream");
    if target == "/ws" {
        builder = builder
            .header("connection", "upgrade")
            .header("upgrade", "websocket");
    }
    let body = if method == "POST" { "a=1" } else { "" };
    builder
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .expect("a valid request")
}

fn exchange(choice: u8, upstream: &[u8], splits: &[usize], end: End) -> (Outcome, Vec<u8>) {
    let (io, wire) = MockIo::new(upstream, splits, end);
    let pool: Pool = Arc::default();
    let returned = pool.clone();
    let release: Release<MockIo> = Arc::new(move |conn: ClientConnection<MockIo>| {
        if let Ok(mut slot) = returned.lock() {
            *slot = Some(conn);
        }
    });
    let progress = |wire: &Wire| wire.read() + wire.written().len() as u64;
    let send = pin!(ClientConnection::new(io).send(request(choice), release));
    let outcome = match drive(send, &|| progress(&wire)) {
        None => Outcome::Waiting,
        Some(Err(error)) => Outcome::Failed(format!("{:?}", error.kind)),
        Some(Ok(response)) => {
            let status = response.status().as_u16();
            let version = response.version();
            let headers = torii_fuzz::fields(response.headers());
            let upgraded = response
                .extensions()
                .get::<torii_http1::OnUpgrade>()
                .is_some();
            let mut body = pin!(response.into_body());
            let mut data = Vec::new();
            let body = loop {
                let frame = drive(
                    pin!(std::future::poll_fn(|cx| http_body::Body::poll_frame(
                        body.as_mut(),
                        cx
                    ))),
                    &|| progress(&wire),
                );
                match frame {
                    None => break Body::Reading(data),
                    Some(None) => break Body::Complete(data, None),
                    Some(Some(Ok(frame))) => match frame.into_data() {
                        Ok(bytes) => data.extend_from_slice(&bytes),
                        Err(frame) => {
                            let trailers =
                                frame.into_trailers().ok().map(|t| torii_fuzz::fields(&t));
                            break Body::Complete(data, trailers);
                        }
                    },
                    Some(Some(Err(_))) => break Body::Failed(data),
                }
            };
            let body = if upgraded { Body::Upgraded } else { body };
            let reused = pool
                .lock()
                .ok()
                .and_then(|mut slot| slot.take())
                .is_some_and(|mut conn| conn.is_reusable());
            Outcome::Response {
                status,
                version,
                headers,
                body,
                reused,
            }
        }
    };
    (outcome, wire.written())
}

fn check(choice: u8, outcome: &Outcome) {
    let Outcome::Response {
        status,
        headers,
        body,
        reused,
        version,
    } = outcome
    else {
        return;
    };
    let method = REQUESTS[usize::from(choice) % REQUESTS.len()].0;
    let status = StatusCode::from_u16(*status).expect("a valid status");
    let values = |name: &str| {
        headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
            .collect::<Vec<_>>()
    };
    if status == StatusCode::SWITCHING_PROTOCOLS {
        assert_eq!(
            choice as usize % REQUESTS.len(),
            4,
            "101 to a request that did not ask"
        );
    } else {
        assert!(
            !status.is_informational(),
            "interim {status} returned as the response"
        );
    }
    let bodiless = method == "HEAD"
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || status.is_informational();
    if bodiless && *body != Body::Upgraded {
        assert_eq!(*body, Body::Complete(Vec::new(), None), "{method} {status}");
    }
    let te = values("transfer-encoding");
    if let (false, true, Body::Complete(data, _)) = (bodiless, te.is_empty(), body) {
        if let Some(length) = values("content-length").first() {
            let length: u64 = std::str::from_utf8(length)
                .ok()
                .and_then(|s| s.split(',').next())
                .and_then(|s| s.trim().parse().ok())
                .expect("an accepted Content-Length is a number");
            assert_eq!(data.len() as u64, length);
        }
    }
    if *reused {
        // RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive".
        let tokens: Vec<Vec<u8>> = values("connection")
            .iter()
            .flat_map(|v| v.split(|&b| b == b','))
            .map(|t| t.trim_ascii().to_ascii_lowercase())
            .collect();
        assert!(!tokens.iter().any(|t| t == b"close"), "reused after close");
        if *version == http::Version::HTTP_10 {
            assert!(tokens.iter().any(|t| t == b"keep-alive"), "reused HTTP/1.0");
        }
        assert!(matches!(body, Body::Complete(..)), "reused mid-body");
        // RFC 9112 §6.3: a body delimited by the connection closing cannot be followed.
        assert!(
            bodiless || !te.is_empty() || !values("content-length").is_empty(),
            "reused after a close-delimited body"
        );
        // §6.3: with both Transfer-Encoding and Content-Length, do not reuse.
        assert!(te.is_empty() || values("content-length").is_empty());
    }
}

fuzz_target!(|data: &[u8]| {
    let [choice, n, rest @ ..] = data else {
        return;
    };
    let end = if choice & 0x80 == 0 {
        End::Eof
    } else {
        End::Pending
    };
    let (split_bytes, upstream) = rest.split_at(usize::from(n % 8).min(rest.len()));
    let splits = splits_from(split_bytes);

    let (whole, written) = exchange(*choice, upstream, &[], end);
    check(*choice, &whole);
    let (split, _) = exchange(*choice, upstream, &splits, end);
    assert_eq!(whole, split, "splits {splits:?}");
    if upstream.len() <= 512 {
        let (bytewise, _) = exchange(*choice, upstream, &[1], end);
        assert_eq!(whole, bytewise, "one byte at a time");
    }

    // The request on the wire is one complete, well-formed request.
    let mut parsed = [httparse::EMPTY_HEADER; 16];
    let mut request = httparse::Request::new(&mut parsed);
    match request.parse(&written) {
        Ok(httparse::Status::Complete(_)) => {}
        other => panic!("torii wrote a bad request {other:?}: {written:?}"),
    }
    let method = REQUESTS[usize::from(*choice) % REQUESTS.len()].0;
    assert_eq!(request.method, Some(method));
});
