//! Response heads and body framing (RFC 9112 §4, §6-7, §9.6): the server picks the framing,
//! adds `date` and `connection` as needed, and encodes body frames into the write buffer.

use crate::codec::{self, Framing};
use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderValue};
use http::{response, StatusCode, Version};
use http_body::SizeHint;

/// What the response writer needs to know about the request it answers.
#[derive(Debug, Clone, Copy)]
pub(super) struct RequestInfo {
    pub head: bool,
    pub connect: bool,
    pub version: Version,
}

/// A response body does not match the length the head announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("response body length does not match its content-length")]
pub struct LengthMismatch;

/// How the body is put on the wire, and how much of it is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoder {
    /// No body may be sent (HEAD, 1xx, 204, 304, CONNECT 2xx, 101): the body is not polled.
    None,
    /// `content-length`: this many bytes still to send.
    Length(u64),
    /// Chunked; `crlf` is owed after the last chunk's data (written separately).
    Chunked { crlf: bool },
    /// Until the connection closes (HTTP/1.0 client, unknown length).
    Close,
    /// The body is complete (after `finish` or trailers).
    Done,
}

/// Frames up to this size are copied into the write buffer; larger ones are written from
/// their own buffer (vectored when the stream supports it).
pub(super) fn copy_limit(vectored: bool) -> usize {
    if vectored {
        4 * 1024
    } else {
        16 * 1024
    }
}

impl Encoder {
    /// Adds a piece of the body; a piece too big to copy is left in `big` for the caller to
    /// write after `out`.
    pub(super) fn data(
        &mut self,
        data: Bytes,
        out: &mut BytesMut,
        big: &mut Option<Bytes>,
        copy_limit: usize,
    ) -> Result<(), LengthMismatch> {
        if data.is_empty() {
            return Ok(());
        }
        match self {
            Encoder::None => return Ok(()),
            Encoder::Done => return Err(LengthMismatch),
            Encoder::Length(left) => {
                *left = left.checked_sub(data.len() as u64).ok_or(LengthMismatch)?;
            }
            Encoder::Chunked { crlf } => {
                if std::mem::take(crlf) {
                    out.extend_from_slice(codec::CHUNK_END);
                }
                codec::write_chunk_header(data.len(), out);
                *crlf = true;
            }
            Encoder::Close => {}
        }
        if data.len() <= copy_limit {
            out.extend_from_slice(&data);
            if let Encoder::Chunked { crlf } = self {
                out.extend_from_slice(codec::CHUNK_END);
                *crlf = false;
            }
        } else {
            *big = Some(data);
        }
        Ok(())
    }

    /// Ends the body with trailers (sent only when chunked).
    pub(super) fn trailers(
        &mut self,
        trailers: &HeaderMap,
        out: &mut BytesMut,
    ) -> Result<(), LengthMismatch> {
        if let Encoder::Chunked { crlf } = self {
            if *crlf {
                out.extend_from_slice(codec::CHUNK_END);
            }
            codec::write_last_chunk(Some(trailers), out);
            *self = Encoder::Done;
            return Ok(());
        }
        self.finish(out)
    }

    /// Ends the body; fails when fewer bytes than announced were sent.
    pub(super) fn finish(&mut self, out: &mut BytesMut) -> Result<(), LengthMismatch> {
        match *self {
            Encoder::Length(0) | Encoder::None | Encoder::Close | Encoder::Done => {}
            Encoder::Length(_) => return Err(LengthMismatch),
            Encoder::Chunked { crlf } => {
                if crlf {
                    out.extend_from_slice(codec::CHUNK_END);
                }
                codec::write_last_chunk(None, out);
            }
        }
        if *self != Encoder::None {
            *self = Encoder::Done;
        }
        Ok(())
    }
}

/// Encodes the response head into `out`: status line, the service's headers, `date` when
/// missing, the framing header the server chose, and `connection` for its keep-alive decision.
/// Returns the body encoder and whether the connection closes after this response.
pub(super) fn encode_head(
    parts: &mut response::Parts,
    request: RequestInfo,
    body_hint: &SizeHint,
    mut close: bool,
    upgrading: bool,
    out: &mut BytesMut,
) -> (Encoder, bool) {
    let status = parts.status;
    let headers = &mut parts.headers;
    let http11 = request.version == Version::HTTP_11;
    if status == StatusCode::OK {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    } else {
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(status.as_str().as_bytes());
        out.extend_from_slice(b" ");
        out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
        out.extend_from_slice(b"\r\n");
    }

    let bodiless = request.head
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || (request.connect && status.is_success());
    let mut length_header = None;
    let encoder = if bodiless {
        if status.is_informational() || status == StatusCode::NO_CONTENT {
            // RFC 9110 §8.6: never a Content-Length on 1xx or 204.
            headers.remove(header::CONTENT_LENGTH);
            headers.remove(header::TRANSFER_ENCODING);
        } else if request.head
            && !headers.contains_key(header::CONTENT_LENGTH)
            && !headers.contains_key(header::TRANSFER_ENCODING)
        {
            // What a GET would have carried, when the body says.
            length_header = body_hint.exact().filter(|&n| n > 0);
        }
        close |= status == StatusCode::SWITCHING_PROTOCOLS && !upgrading;
        Encoder::None
    } else if headers.contains_key(header::TRANSFER_ENCODING) {
        headers.remove(header::CONTENT_LENGTH);
        let chunked =
            codec::response_framing(&http::Method::GET, status, headers) == Ok(Framing::Chunked);
        if chunked && http11 {
            Encoder::Chunked { crlf: false }
        } else {
            if !http11 {
                headers.remove(header::TRANSFER_ENCODING);
            }
            close = true;
            Encoder::Close
        }
    } else {
        // Several equal Content-Length values go out as one field (RFC 9110 §8.6).
        let given = match codec::single_content_length(headers) {
            Ok(length) => length,
            Err(_) => {
                headers.remove(header::CONTENT_LENGTH);
                None
            }
        };
        match given.or_else(|| {
            length_header = body_hint.exact();
            length_header
        }) {
            Some(n) => Encoder::Length(n),
            None if http11 => Encoder::Chunked { crlf: false },
            None => {
                close = true;
                Encoder::Close
            }
        }
    };

    let mut connection = None;
    if !upgrading {
        let listed_close = headers.contains_key(header::CONNECTION)
            && codec::has_token(headers, &header::CONNECTION, "close");
        if close || listed_close {
            close = true;
            if !listed_close {
                headers.remove(header::CONNECTION);
                connection = Some(&b"connection: close\r\n"[..]);
            }
        } else if !http11 {
            headers.remove(header::CONNECTION);
            connection = Some(&b"connection: keep-alive\r\n"[..]);
        }
    }

    codec::write_headers(headers, out);
    if !headers.contains_key(header::DATE) {
        write_header(out, b"date: ", &codec::date_value());
    }
    if let Some(n) = length_header {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        out.extend_from_slice(b"\r\n");
    } else if encoder == (Encoder::Chunked { crlf: false })
        && !headers.contains_key(header::TRANSFER_ENCODING)
    {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    if let Some(line) = connection {
        out.extend_from_slice(line);
    }
    out.extend_from_slice(b"\r\n");
    (encoder, close)
}

fn write_header(out: &mut BytesMut, name: &[u8], value: &HeaderValue) {
    out.extend_from_slice(name);
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// A complete response the server answers with on its own (`400`, `431`), closing after it.
pub(super) fn error_head(status: StatusCode) -> BytesMut {
    let mut out = BytesMut::with_capacity(128);
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.extend_from_slice(b" ");
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\ncontent-length: 0\r\nconnection: close\r\n");
    write_header(&mut out, b"date: ", &codec::date_value());
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Response;

    const GET11: RequestInfo = RequestInfo {
        head: false,
        connect: false,
        version: Version::HTTP_11,
    };

    /// Encodes a head and returns it without the date line.
    fn head(
        status: u16,
        headers: &[(&'static str, &'static str)],
        request: RequestInfo,
        hint: SizeHint,
        close: bool,
    ) -> (String, Encoder, bool) {
        let mut builder = Response::builder().status(status);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let (mut parts, ()) = builder.body(()).unwrap().into_parts();
        let mut out = BytesMut::new();
        let (encoder, close) = encode_head(&mut parts, request, &hint, close, false, &mut out);
        let text = String::from_utf8(out.to_vec()).unwrap();
        let text = text
            .split("\r\n")
            .filter(|line| !line.starts_with("date: "))
            .collect::<Vec<_>>()
            .join("\r\n");
        (text, encoder, close)
    }

    #[test]
    fn framing_table() {
        let http10 = RequestInfo {
            version: Version::HTTP_10,
            ..GET11
        };
        let head_req = RequestInfo {
            head: true,
            ..GET11
        };
        let exact = SizeHint::with_exact;
        let unknown = SizeHint::new;
        type Case = (
            u16,
            &'static [(&'static str, &'static str)],
            RequestInfo,
            SizeHint,
            &'static str,
            Encoder,
            bool,
        );
        let cases: &[Case] = &[
            (200, &[], GET11, exact(5), "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", Encoder::Length(5), false),
            (200, &[("content-length", "7")], GET11, unknown(), "HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n", Encoder::Length(7), false),
            (200, &[], GET11, unknown(), "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", Encoder::Chunked { crlf: false }, false),
            (200, &[("transfer-encoding", "chunked"), ("content-length", "3")], GET11, unknown(), "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", Encoder::Chunked { crlf: false }, false),
            (200, &[], http10, unknown(), "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n", Encoder::Close, true),
            (200, &[], http10, exact(2), "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\n", Encoder::Length(2), false),
            (200, &[], GET11, exact(0), "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", Encoder::Length(0), false),
            (200, &[("content-length", "5")], head_req, unknown(), "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", Encoder::None, false),
            (200, &[], head_req, exact(9), "HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n", Encoder::None, false),
            (200, &[], head_req, unknown(), "HTTP/1.1 200 OK\r\n\r\n", Encoder::None, false),
            (204, &[("content-length", "0")], GET11, exact(0), "HTTP/1.1 204 No Content\r\n\r\n", Encoder::None, false),
            (304, &[("content-length", "10"), ("etag", "\"x\"")], GET11, unknown(), "HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\netag: \"x\"\r\n\r\n", Encoder::None, false),
            (200, &[("connection", "close")], GET11, exact(1), "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 1\r\n\r\n", Encoder::Length(1), true),
            (200, &[], GET11, exact(1), "HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n", Encoder::Length(1), false),
            (599, &[], GET11, exact(0), "HTTP/1.1 599 \r\ncontent-length: 0\r\n\r\n", Encoder::Length(0), false),
            (101, &[("upgrade", "websocket")], GET11, unknown(), "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: close\r\n\r\n", Encoder::None, true),
        ];
        for (status, headers, request, hint, want, encoder, close) in cases {
            let got = head(*status, headers, *request, *hint, false);
            assert_eq!(
                got,
                (want.to_string(), *encoder, *close),
                "{status} {headers:?}"
            );
        }
        // The connection closes on the server's decision too.
        let (text, _, close) = head(200, &[], GET11, exact(0), true);
        assert!(close && text.contains("connection: close\r\n"), "{text}");
    }

    #[test]
    fn head_carries_a_date() {
        let mut parts = Response::new(()).into_parts().0;
        let mut out = BytesMut::new();
        encode_head(
            &mut parts,
            GET11,
            &SizeHint::with_exact(0),
            false,
            false,
            &mut out,
        );
        assert!(out.windows(6).any(|w| w == b"date: "));
    }

    #[test]
    fn encoders_frame_and_check_lengths() {
        let mut out = BytesMut::new();
        let mut big = None;
        let mut chunked = Encoder::Chunked { crlf: false };
        chunked
            .data(Bytes::from_static(b"hello"), &mut out, &mut big, 8)
            .unwrap();
        chunked
            .data(Bytes::from_static(b"0123456789"), &mut out, &mut big, 8)
            .unwrap();
        assert_eq!(&out[..], b"5\r\nhello\r\na\r\n");
        assert_eq!(big.take().unwrap(), "0123456789");
        out.clear();
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        chunked.trailers(&trailers, &mut out).unwrap();
        assert_eq!(&out[..], b"\r\n0\r\ngrpc-status: 0\r\n\r\n");
        assert_eq!(chunked, Encoder::Done);

        let mut length = Encoder::Length(3);
        out.clear();
        assert_eq!(
            length.data(Bytes::from_static(b"abcd"), &mut out, &mut big, 8),
            Err(LengthMismatch)
        );
        let mut length = Encoder::Length(3);
        length
            .data(Bytes::from_static(b"ab"), &mut out, &mut big, 8)
            .unwrap();
        assert_eq!(length.finish(&mut out), Err(LengthMismatch));
        let mut length = Encoder::Length(2);
        length
            .data(Bytes::from_static(b"ab"), &mut out, &mut big, 8)
            .unwrap();
        assert_eq!(length.finish(&mut out), Ok(()));
        // Trailers on a non-chunked body are dropped.
        let mut length = Encoder::Length(0);
        out.clear();
        assert_eq!(length.trailers(&trailers, &mut out), Ok(()));
        assert!(out.is_empty());
    }

    #[test]
    fn error_heads_close() {
        let out = error_head(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        let text = std::str::from_utf8(&out).unwrap();
        assert!(text.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(text.contains("content-length: 0\r\nconnection: close\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }
}
