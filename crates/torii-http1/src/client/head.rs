//! Heads on the wire: encoding the request head with its body framing, finding and parsing the
//! response head (zero copy), and the keep-alive rules.

use super::error::SendErrorKind;
use super::write::{Encoding, COPY_MAX};
use super::RequestHead;
use crate::codec::{
    find_head_end, has_token, headers_from_parsed, request_framing, write_headers, Framing,
    FramingError,
};
use bytes::BytesMut;
use http::header::{self, HeaderMap};
use http::header::{HeaderName, HeaderValue};
use http::{Method, StatusCode, Version};
use http_body::Body;

/// Longest response head accepted.
pub(super) const MAX_HEAD: usize = 64 * 1024;
/// Most headers accepted in a response head.
pub(super) const MAX_HEADERS: usize = 100;

/// The framing header the connection adds to a request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AddedFraming {
    /// The body is empty, or the caller set the framing headers.
    Nothing,
    /// `content-length: n`.
    Length(u64),
    /// `transfer-encoding: chunked`.
    Chunked,
}

/// How the request body goes on the wire (`None`: no body), and which header says so.
pub(super) fn body_framing<B: Body>(
    headers: &HeaderMap,
    body: &B,
) -> Result<(Option<Encoding>, AddedFraming), FramingError> {
    Ok(match request_framing(headers)? {
        Framing::Chunked => (Some(Encoding::Chunked), AddedFraming::Nothing),
        Framing::Length(n) => (Some(Encoding::Length(n)), AddedFraming::Nothing),
        _ if headers.contains_key(header::CONTENT_LENGTH) => (None, AddedFraming::Nothing),
        _ if body.is_end_stream() => (None, AddedFraming::Nothing),
        _ => match body.size_hint().exact() {
            Some(0) => (None, AddedFraming::Length(0)),
            Some(n) => (Some(Encoding::Length(n)), AddedFraming::Length(n)),
            None => (Some(Encoding::Chunked), AddedFraming::Chunked),
        },
    })
}

/// `{method} {target} HTTP/1.1`, the headers as given, the added framing header and the blank
/// line, in one buffer with room for a small first body frame.
pub(super) fn encode_request_head(
    head: &RequestHead<'_>,
    added: AddedFraming,
    body_room: u64,
) -> BytesMut {
    let uri = head.uri;
    let target = if *head.method == Method::CONNECT {
        uri.authority().map(|a| a.as_str())
    } else {
        uri.path_and_query().map(|p| p.as_str())
    };
    let target = target.filter(|t| !t.is_empty()).unwrap_or("/");
    let method = head.method.as_str();
    let mut len = method.len() + target.len() + 13 + 2 + 40;
    for (name, value) in head.headers {
        len += name.as_str().len() + value.len() + 4;
    }
    if let Some(host) = head.host {
        len += host.len() + 8;
    }
    if body_room > 0 {
        len += body_room.min(COPY_MAX as u64) as usize + 24;
    }
    let mut out = BytesMut::with_capacity(len);
    out.extend_from_slice(method.as_bytes());
    out.extend_from_slice(b" ");
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    match head.host {
        None => write_headers(head.headers, &mut out),
        Some(host) => {
            for (name, value) in head.headers {
                if name != header::HOST {
                    write_header(name, value, &mut out);
                }
            }
            write_header(&header::HOST, host, &mut out);
        }
    }
    match added {
        AddedFraming::Nothing => {}
        AddedFraming::Length(n) => {
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        AddedFraming::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn write_header(name: &HeaderName, value: &HeaderValue, out: &mut BytesMut) {
    out.extend_from_slice(name.as_str().as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// A parsed response head.
#[derive(Debug)]
pub(super) struct ResponseHead {
    pub(super) status: StatusCode,
    pub(super) version: Version,
    pub(super) headers: HeaderMap,
}

/// Takes a complete response head off the front of `buf`, if there is one. `scanned`: how far
/// previous calls searched for the end of the head (reset when a head is taken).
pub(super) fn parse_response_head(
    buf: &mut BytesMut,
    scanned: &mut usize,
) -> Result<Option<ResponseHead>, SendErrorKind> {
    let prefix = buf.len().min(5);
    if buf[..prefix] != b"HTTP/"[..prefix] {
        return Err(SendErrorKind::InvalidResponse);
    }
    let Some(end) = find_head_end(buf, *scanned) else {
        if buf.len() > MAX_HEAD {
            return Err(SendErrorKind::HeadTooLarge);
        }
        *scanned = buf.len();
        return Ok(None);
    };
    if end > MAX_HEAD {
        return Err(SendErrorKind::HeadTooLarge);
    }
    *scanned = 0;
    let head = buf.split_to(end).freeze();
    let mut parsed = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut parsed);
    match response.parse(&head) {
        Ok(httparse::Status::Complete(n)) if n == head.len() => {}
        Err(httparse::Error::TooManyHeaders) => return Err(SendErrorKind::TooManyHeaders),
        _ => return Err(SendErrorKind::InvalidResponse),
    }
    let status = response
        .code
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or(SendErrorKind::InvalidResponse)?;
    let version = match response.version {
        Some(1) => Version::HTTP_11,
        Some(0) => Version::HTTP_10,
        _ => return Err(SendErrorKind::InvalidResponse),
    };
    let headers =
        headers_from_parsed(&head, response.headers).map_err(|_| SendErrorKind::InvalidResponse)?;
    Ok(Some(ResponseHead {
        status,
        version,
        headers,
    }))
}

/// Whether a response lets the connection carry another request (RFC 9112 §9.3).
pub(super) fn keep_alive(version: Version, headers: &HeaderMap) -> bool {
    let close = has_token(headers, &header::CONNECTION, "close");
    if version == Version::HTTP_11 {
        !close
    } else {
        !close && has_token(headers, &header::CONNECTION, "keep-alive")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_end_is_found_at_any_split() {
        let cases: &[(&[u8], Option<usize>)] = &[
            (b"HTTP/1.1 200 OK\r\n\r\n", Some(19)),
            (b"HTTP/1.1 200 OK\n\nbody", Some(17)),
            (b"HTTP/1.1 200 OK\r\na: b\r\n\r\nbody", Some(25)),
            (b"HTTP/1.1 200 OK\r\na: b\r\n", None),
            (b"HTTP/1.1 200 OK\r\na: b\r\n\r", None),
        ];
        for (wire, want) in cases {
            assert_eq!(
                find_head_end(wire, 0),
                *want,
                "{:?}",
                String::from_utf8_lossy(wire)
            );
            // Searching incrementally, as reads arrive, finds the same end.
            let mut scanned = 0;
            let mut found = None;
            for len in 1..=wire.len() {
                if let Some(end) = find_head_end(&wire[..len], scanned) {
                    found = Some(end);
                    break;
                }
                scanned = len;
            }
            assert_eq!(
                found,
                *want,
                "incremental {:?}",
                String::from_utf8_lossy(wire)
            );
        }
    }

    #[test]
    fn keep_alive_rules() {
        let cases: &[(Version, Option<&'static str>, bool)] = &[
            (Version::HTTP_11, None, true),
            (Version::HTTP_11, Some("close"), false),
            (Version::HTTP_11, Some("Keep-Alive, Close"), false),
            (Version::HTTP_10, None, false),
            (Version::HTTP_10, Some("keep-alive"), true),
            (Version::HTTP_10, Some("close"), false),
        ];
        for (version, connection, want) in cases {
            let mut headers = HeaderMap::new();
            if let Some(value) = connection {
                headers.insert(header::CONNECTION, value.parse().unwrap());
            }
            assert_eq!(
                keep_alive(*version, &headers),
                *want,
                "{version:?} {connection:?}"
            );
        }
    }

    #[test]
    fn request_heads_are_origin_form_with_framing() {
        let cases: &[(Method, &str, AddedFraming, &str)] = &[
            (
                Method::GET,
                "/a?b=c",
                AddedFraming::Nothing,
                "GET /a?b=c HTTP/1.1\r\nhost: h\r\n\r\n",
            ),
            (
                Method::GET,
                "http://h:8080/p?q",
                AddedFraming::Nothing,
                "GET /p?q HTTP/1.1\r\nhost: h\r\n\r\n",
            ),
            (
                Method::GET,
                "http://h",
                AddedFraming::Nothing,
                "GET / HTTP/1.1\r\nhost: h\r\n\r\n",
            ),
            (
                Method::POST,
                "/",
                AddedFraming::Length(12),
                "POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 12\r\n\r\n",
            ),
            (
                Method::PUT,
                "/",
                AddedFraming::Chunked,
                "PUT / HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\n\r\n",
            ),
            (
                Method::OPTIONS,
                "*",
                AddedFraming::Nothing,
                "OPTIONS * HTTP/1.1\r\nhost: h\r\n\r\n",
            ),
            (
                Method::CONNECT,
                "h:443",
                AddedFraming::Nothing,
                "CONNECT h:443 HTTP/1.1\r\nhost: h\r\n\r\n",
            ),
        ];
        for (method, uri, added, want) in cases {
            let (parts, ()) = http::Request::builder()
                .method(method.clone())
                .uri(*uri)
                .header("host", "h")
                .body(())
                .unwrap()
                .into_parts();
            let head = RequestHead {
                method: &parts.method,
                uri: &parts.uri,
                headers: &parts.headers,
                host: None,
            };
            let encoded = encode_request_head(&head, *added, 0);
            assert_eq!(std::str::from_utf8(&encoded).unwrap(), *want);
        }
    }

    #[test]
    fn host_override_replaces_the_host_header() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("public.example"));
        headers.insert("accept", HeaderValue::from_static("*/*"));
        let host = HeaderValue::from_static("origin.internal");
        let uri: http::Uri = "/a?b".parse().unwrap();
        let head = RequestHead {
            method: &Method::GET,
            uri: &uri,
            headers: &headers,
            host: Some(&host),
        };
        let encoded = encode_request_head(&head, AddedFraming::Nothing, 0);
        assert_eq!(
            std::str::from_utf8(&encoded).unwrap(),
            "GET /a?b HTTP/1.1\r\naccept: */*\r\nhost: origin.internal\r\n\r\n"
        );
    }

    #[test]
    fn response_heads_parse_or_fail() {
        use SendErrorKind::*;
        let many: String = (0..=MAX_HEADERS).map(|i| format!("x-{i}: v\r\n")).collect();
        let many = format!("HTTP/1.1 200 OK\r\n{many}\r\n");
        let huge = format!("HTTP/1.1 200 OK\r\nx: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        type Want = Result<Option<(u16, Version)>, SendErrorKind>;
        let cases: Vec<(&[u8], Want)> = vec![
            (
                b"HTTP/1.1 200 OK\r\n\r\n",
                Ok(Some((200, Version::HTTP_11))),
            ),
            (
                b"HTTP/1.0 404 Not Found\r\n\r\n",
                Ok(Some((404, Version::HTTP_10))),
            ),
            (b"HTTP/1.1 204 \r\n\r\n", Ok(Some((204, Version::HTTP_11)))),
            (b"HTTP/1.1 200 OK\r\n", Ok(None)),
            (b"HTT", Ok(None)),
            (b"SSH-2.0-OpenSSH\r\n", Err(InvalidResponse)),
            (b"HTTP/2 200\r\n\r\n", Err(InvalidResponse)),
            (b"HTTP/1.1 2000 OK\r\n\r\n", Err(InvalidResponse)),
            (
                b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n",
                Err(InvalidResponse),
            ),
            // obs-fold: a smuggling vector, rejected.
            (
                b"HTTP/1.1 200 OK\r\na: b\r\n c\r\n\r\n",
                Err(InvalidResponse),
            ),
            (b"HTTP/1.1 200 OK\r\na : b\r\n\r\n", Err(InvalidResponse)),
            (many.as_bytes(), Err(TooManyHeaders)),
            (huge.as_bytes(), Err(HeadTooLarge)),
            (&huge.as_bytes()[..MAX_HEAD + 5], Err(HeadTooLarge)),
        ];
        for (wire, want) in cases {
            let mut buf = BytesMut::from(wire);
            let got = parse_response_head(&mut buf, &mut 0)
                .map(|h| h.map(|h| (h.status.as_u16(), h.version)));
            assert_eq!(
                got,
                want,
                "{:?}",
                String::from_utf8_lossy(&wire[..wire.len().min(60)])
            );
        }
    }

    #[test]
    fn response_head_values_share_the_read_buffer() {
        let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a: 2\r\n\r\nbody"[..]);
        let head = parse_response_head(&mut buf, &mut 0).unwrap().unwrap();
        assert_eq!(&buf[..], b"body");
        let values: Vec<_> = head.headers.get_all("x-a").iter().collect();
        assert_eq!(values, ["1", "2"]);
    }
}
