//! The wire format both sides share: how a body is delimited (RFC 9112 §6), an incremental
//! body decoder (content-length, chunked, close-delimited), chunk and header encoding, and
//! zero-copy conversion of parsed headers into a `HeaderMap`.

use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use std::cell::RefCell;
use std::time::{Duration, SystemTime};

mod trailers;

pub use trailers::is_forbidden_trailer;

/// The error type of bodies crossing this crate (what `http_body::Body::Error` is).
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// How a message body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body at all.
    Empty,
    /// Exactly this many bytes (`Content-Length`).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the connection closes (responses only).
    CloseDelimited,
}

/// A message's framing headers are invalid or ambiguous (a request smuggling risk), or use a
/// transfer coding this crate does not implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// `Content-Length` is not a number, or several values differ (RFC 9110 §8.6).
    #[error("invalid Content-Length")]
    InvalidContentLength,
    /// A request's `Transfer-Encoding` does not end in `chunked` (RFC 9112 §6.3: 400).
    #[error("transfer-encoding does not end in chunked")]
    ChunkedNotFinal,
    /// A request's `Transfer-Encoding` ends in `chunked` but also lists another coding, or
    /// `chunked` more than once (RFC 9112 §6.1: 501 for a coding the server does not understand).
    #[error("unsupported transfer coding")]
    UnsupportedTransferCoding,
    /// Both `Transfer-Encoding` and `Content-Length` (RFC 9112 §6.1: reject).
    #[error("both Transfer-Encoding and Content-Length")]
    LengthAndEncoding,
}

/// How `Content-Length` appears in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LengthField {
    Absent,
    /// One field line with one value.
    Single(u64),
    /// Several field lines or a comma list, all of this value.
    Repeated(u64),
}

impl LengthField {
    fn value(self) -> Option<u64> {
        match self {
            LengthField::Absent => None,
            LengthField::Single(n) | LengthField::Repeated(n) => Some(n),
        }
    }
}

/// Framing of a request body (RFC 9112 §6.3).
pub fn request_framing(headers: &HeaderMap) -> Result<Framing, FramingError> {
    request_framing_of(headers).map(|(framing, _)| framing)
}

/// [`request_framing`] of a request read from the wire: a `Content-Length` repeated with
/// equal values (several fields or a comma list) is replaced by one field, so that exactly one
/// is forwarded (RFC 9110 §8.6, RFC 9112 §6.3 item 5).
pub fn read_request_framing(headers: &mut HeaderMap) -> Result<Framing, FramingError> {
    let (framing, length) = request_framing_of(headers)?;
    collapse_repeated(headers, length);
    Ok(framing)
}

#[inline]
fn request_framing_of(headers: &HeaderMap) -> Result<(Framing, LengthField), FramingError> {
    if headers.contains_key(header::TRANSFER_ENCODING) {
        if headers.contains_key(header::CONTENT_LENGTH) {
            return Err(FramingError::LengthAndEncoding);
        }
        return request_codings(headers).map(|()| (Framing::Chunked, LengthField::Absent));
    }
    let length = length_field(headers)?;
    let framing = match length.value() {
        Some(0) | None => Framing::Empty,
        Some(n) => Framing::Length(n),
    };
    Ok((framing, length))
}

/// Checks a request's transfer codings: `chunked` must be last (else 400), and must be the only
/// one: this crate implements no other coding, and chunked twice is forbidden (else 501).
fn request_codings(headers: &HeaderMap) -> Result<(), FramingError> {
    let codings = Codings::of(headers);
    if !codings.last_is_chunked {
        Err(FramingError::ChunkedNotFinal)
    } else if codings.chunked > 1 || codings.total > codings.chunked {
        Err(FramingError::UnsupportedTransferCoding)
    } else {
        Ok(())
    }
}

/// What a message's `Transfer-Encoding` fields list.
struct Codings {
    total: usize,
    chunked: usize,
    last_is_chunked: bool,
}

impl Codings {
    /// Empty list elements are ignored (RFC 9110 §5.6.1.2); names are case-insensitive.
    fn of(headers: &HeaderMap) -> Self {
        let mut codings = Codings {
            total: 0,
            chunked: 0,
            last_is_chunked: false,
        };
        for value in headers.get_all(header::TRANSFER_ENCODING) {
            for coding in value.as_bytes().split(|&b| b == b',') {
                let coding = trim(coding);
                if coding.is_empty() {
                    continue;
                }
                codings.total += 1;
                codings.last_is_chunked = coding.eq_ignore_ascii_case(b"chunked");
                codings.chunked += usize::from(codings.last_is_chunked);
            }
        }
        codings
    }
}

/// Framing of a response body to a request with `method` (RFC 9112 §6.3).
pub fn response_framing(
    method: &Method,
    status: StatusCode,
    headers: &HeaderMap,
) -> Result<Framing, FramingError> {
    response_framing_of(method, status, headers).map(|(framing, _)| framing)
}

/// [`response_framing`] of a response read from the wire: a `Content-Length` repeated with
/// equal values is replaced by one field (RFC 9110 §8.6), as for requests.
pub fn read_response_framing(
    method: &Method,
    status: StatusCode,
    headers: &mut HeaderMap,
) -> Result<Framing, FramingError> {
    let (framing, length) = response_framing_of(method, status, headers)?;
    collapse_repeated(headers, length);
    Ok(framing)
}

fn response_framing_of(
    method: &Method,
    status: StatusCode,
    headers: &HeaderMap,
) -> Result<(Framing, LengthField), FramingError> {
    if method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || (method == Method::CONNECT && status.is_success())
    {
        return Ok((Framing::Empty, LengthField::Absent));
    }
    if headers.contains_key(header::TRANSFER_ENCODING) {
        let framing = if Codings::of(headers).last_is_chunked {
            Framing::Chunked
        } else {
            Framing::CloseDelimited
        };
        return Ok((framing, LengthField::Absent));
    }
    let length = length_field(headers)?;
    let framing = match length.value() {
        Some(0) => Framing::Empty,
        Some(n) => Framing::Length(n),
        None => Framing::CloseDelimited,
    };
    Ok((framing, length))
}

/// The `Content-Length`, if any; several equal values count as one (RFC 9110 §8.6).
pub fn content_length(headers: &HeaderMap) -> Result<Option<u64>, FramingError> {
    length_field(headers).map(LengthField::value)
}

/// The `Content-Length`, if any, leaving exactly one field in `headers`: several equal values
/// (fields or a comma list) are replaced by one field (RFC 9110 §8.6).
pub fn single_content_length(headers: &mut HeaderMap) -> Result<Option<u64>, FramingError> {
    let length = length_field(headers)?;
    collapse_repeated(headers, length);
    Ok(length.value())
}

fn collapse_repeated(headers: &mut HeaderMap, length: LengthField) {
    if let LengthField::Repeated(n) = length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
}

#[inline]
fn length_field(headers: &HeaderMap) -> Result<LengthField, FramingError> {
    let mut found = None;
    let mut values = 0usize;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        for part in value.as_bytes().split(|&b| b == b',') {
            let n = parse_decimal(trim(part)).ok_or(FramingError::InvalidContentLength)?;
            match found {
                Some(previous) if previous != n => return Err(FramingError::InvalidContentLength),
                _ => found = Some(n),
            }
            values += 1;
        }
    }
    Ok(match (found, values) {
        (None, _) => LengthField::Absent,
        (Some(n), 1) => LengthField::Single(n),
        (Some(n), _) => LengthField::Repeated(n),
    })
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// Strips optional whitespace (`OWS`: spaces and tabs, RFC 9110 §5.6.3) from both ends.
fn trim(bytes: &[u8]) -> &[u8] {
    let ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !ows(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !ows(b)).map_or(start, |i| i + 1);
    &bytes[start..end.max(start)]
}

/// Whether a comma-separated header (`Connection`, `TE`, …) lists `token`.
pub fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.as_bytes()
            .split(|&b| b == b',')
            .any(|t| trim(t).eq_ignore_ascii_case(token.as_bytes()))
    })
}

/// A header from the wire could not be turned into `http` types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid header")]
pub struct InvalidHeader;

/// The length of a message head (up to and including its blank line: `\n\n` or `\n\r\n`),
/// looking for the blank line's final `\n` at or after `from`: pass the buffer's length at the
/// previous unsuccessful search, so bytes are scanned once however the head arrives.
pub fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let start = from.max(1);
    // memchr: SIMD search for each line end (the head is scanned byte by byte otherwise).
    memchr::memchr_iter(b'\n', buf.get(start..)?)
        .map(|offset| start + offset)
        .find(|&i| buf[i - 1] == b'\n' || (i >= 2 && buf[i - 1] == b'\r' && buf[i - 2] == b'\n'))
        .map(|i| i + 1)
}

/// Extra header slots reserved in maps built from the wire.
const HEADROOM: usize = 8;

/// Builds a `HeaderMap` whose values share `head`'s memory (no copy). Every slice in `parsed`
/// must point into `head` (what `httparse` returns when it parsed `head`).
pub fn headers_from_parsed(
    head: &Bytes,
    parsed: &[httparse::Header<'_>],
) -> Result<HeaderMap, InvalidHeader> {
    // Room for the headers a proxy adds (X-Forwarded-*, Via, framing) so that adding them does
    // not grow (rehash and reallocate) the map: that growth was ~1.9k instructions per request.
    let mut headers = HeaderMap::with_capacity(parsed.len() + HEADROOM);
    for h in parsed {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| InvalidHeader)?;
        let value =
            HeaderValue::from_maybe_shared(head.slice_ref(h.value)).map_err(|_| InvalidHeader)?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// Appends `name: value\r\n` for every header.
pub fn write_headers(headers: &HeaderMap, out: &mut BytesMut) {
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends a chunk-size line (`1a\r\n`) for a chunk of `len` bytes (`len > 0`).
pub fn write_chunk_header(len: usize, out: &mut BytesMut) {
    let mut digits = [0u8; 16];
    let mut n = len;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
    out.extend_from_slice(b"\r\n");
}

/// What follows a chunk's data.
pub const CHUNK_END: &[u8] = b"\r\n";

/// Appends the last chunk with optional trailers: `0\r\n[trailers]\r\n`; fields that must not
/// be trailers ([`is_forbidden_trailer`]) are left out.
pub fn write_last_chunk(trailers: Option<&HeaderMap>, out: &mut BytesMut) {
    out.extend_from_slice(b"0\r\n");
    if let Some(trailers) = trailers {
        // RFC 9110 §6.5.1: framing, routing, control and authentication fields never go in
        // trailers, whoever produced them.
        for (name, value) in trailers {
            if !is_forbidden_trailer(name) {
                out.extend_from_slice(name.as_str().as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(value.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(b"\r\n");
}

thread_local! {
    static DATE: RefCell<(u64, HeaderValue)> = const {
        RefCell::new((0, HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT")))
    };
}

/// Today's `Date` header value (RFC 9110 §6.6.1), formatted at most once a second per thread.
pub fn date_value() -> HeaderValue {
    let now = SystemTime::now();
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    DATE.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != secs {
            let text = httpdate::fmt_http_date(now);
            if let Ok(value) = HeaderValue::from_str(&text) {
                *cached = (secs, value);
            }
        }
        cached.1.clone()
    })
}

/// A body on the wire is malformed or cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A chunk-size is not `1*HEXDIG` right at the start of its line, directly followed by the
    /// line end or `;` (RFC 9112 §7.1), or has more than 15 digits.
    #[error("invalid chunk size")]
    InvalidChunkSize,
    /// A chunk extension holds a control character (a bare CR or LF included).
    #[error("invalid chunk extension")]
    InvalidChunkExtension,
    /// A chunk's data is not followed by CRLF.
    #[error("invalid chunk terminator")]
    InvalidChunkEnd,
    /// A chunk-size line (with extensions) or the trailer section is too long.
    #[error("chunk line or trailers too long")]
    TooLong,
    /// The trailer section does not parse.
    #[error("invalid trailers")]
    InvalidTrailers,
    /// The connection closed before the body ended.
    #[error("connection closed before the body ended")]
    Incomplete,
}

/// What a call to [`BodyDecoder::decode`] produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A piece of the body.
    Data(Bytes),
    /// Trailers (chunked bodies only); the body has ended.
    Trailers(HeaderMap),
    /// The body has ended.
    End,
}

/// Longest chunk-size line (with extensions) and trailer section accepted.
const MAX_CHUNK_LINE: usize = 4096;
const MAX_TRAILERS: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// `Length` bytes left (also the state of a `Length` body).
    Length(u64),
    /// Expecting a chunk-size line.
    ChunkSize,
    /// Inside a chunk with this many bytes left.
    ChunkData(u64),
    /// Expecting the CRLF after a chunk's data.
    ChunkEnd,
    /// Expecting trailers or the final CRLF; this much of the buffer was searched for the
    /// end of the trailer section.
    Trailers(usize),
    /// Until EOF.
    Close,
    /// Done.
    Done,
}

/// Decodes a body incrementally from a read buffer; data comes out as slices of that buffer.
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    state: State,
}

impl BodyDecoder {
    /// A decoder for a body with this framing.
    pub fn new(framing: Framing) -> Self {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::ChunkSize,
            Framing::CloseDelimited => State::Close,
        };
        BodyDecoder { state }
    }

    /// Whether the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Bytes of body data still expected, when known (`Length` bodies).
    pub fn remaining(&self) -> Option<u64> {
        match self.state {
            State::Length(n) => Some(n),
            State::Done => Some(0),
            _ => None,
        }
    }

    /// Decodes the next item from `buf`, consuming what it uses. `Ok(None)`: more input needed.
    /// After `End` or `Trailers`, `buf` holds only what follows the body (a pipelined message).
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, DecodeError> {
        loop {
            match self.state {
                State::Done => return Ok(Some(Decoded::End)),
                State::Length(left) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = (buf.len() as u64).min(left) as usize;
                    let data = buf.split_to(n).freeze();
                    self.state = if left == n as u64 {
                        State::Done
                    } else {
                        State::Length(left - n as u64)
                    };
                    return Ok(Some(Decoded::Data(data)));
                }
                State::Close => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    return Ok(Some(Decoded::Data(buf.split().freeze())));
                }
                State::ChunkSize => {
                    // Refuse at once what cannot start a chunk-size line.
                    if buf.first().is_some_and(|b| !b.is_ascii_hexdigit()) {
                        return Err(DecodeError::InvalidChunkSize);
                    }
                    let Some(line_end) = find_crlf(buf, MAX_CHUNK_LINE)? else {
                        return Ok(None);
                    };
                    let size = parse_chunk_size(&buf[..line_end])?;
                    buf.advance(line_end + 2);
                    self.state = if size == 0 {
                        State::Trailers(0)
                    } else {
                        State::ChunkData(size)
                    };
                }
                State::ChunkData(left) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = (buf.len() as u64).min(left) as usize;
                    let data = buf.split_to(n).freeze();
                    self.state = if left == n as u64 {
                        State::ChunkEnd
                    } else {
                        State::ChunkData(left - n as u64)
                    };
                    return Ok(Some(Decoded::Data(data)));
                }
                State::ChunkEnd => {
                    if buf.len() < 2 {
                        return Ok(None);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(DecodeError::InvalidChunkEnd);
                    }
                    buf.advance(2);
                    self.state = State::ChunkSize;
                }
                State::Trailers(scanned) => {
                    // An empty trailer section: the final line end (CRLF, or a bare LF as
                    // field lines may end, RFC 9112 §2.2).
                    let blank = match buf.first() {
                        None => return Ok(None),
                        Some(b'\n') => 1,
                        Some(b'\r') if buf.len() < 2 => return Ok(None),
                        Some(b'\r') if buf[1] == b'\n' => 2,
                        Some(_) => 0,
                    };
                    if blank > 0 {
                        buf.advance(blank);
                        self.state = State::Done;
                        return Ok(Some(Decoded::End));
                    }
                    // The section ends at its first blank line, and nothing after it is taken:
                    // a pipelined request may follow.
                    let Some(end) = find_head_end(buf, scanned) else {
                        if buf.len() > MAX_TRAILERS {
                            return Err(DecodeError::TooLong);
                        }
                        self.state = State::Trailers(buf.len());
                        return Ok(None);
                    };
                    if end > MAX_TRAILERS {
                        return Err(DecodeError::TooLong);
                    }
                    let section = buf.split_to(end).freeze();
                    self.state = State::Done;
                    let trailers = trailers::parse(&section)?;
                    // Nothing left once forbidden fields are dropped: a plain end.
                    return Ok(Some(if trailers.is_empty() {
                        Decoded::End
                    } else {
                        Decoded::Trailers(trailers)
                    }));
                }
            }
        }
    }

    /// The connection reached EOF: ends a close-delimited body, otherwise the body is cut short.
    pub fn eof(&mut self) -> Result<Decoded, DecodeError> {
        match self.state {
            State::Close | State::Done => {
                self.state = State::Done;
                Ok(Decoded::End)
            }
            _ => Err(DecodeError::Incomplete),
        }
    }
}

fn find_crlf(buf: &[u8], limit: usize) -> Result<Option<usize>, DecodeError> {
    match buf.windows(2).position(|w| w == b"\r\n") {
        Some(i) if i <= limit => Ok(Some(i)),
        Some(_) => Err(DecodeError::TooLong),
        None if buf.len() > limit + 2 => Err(DecodeError::TooLong),
        None => Ok(None),
    }
}

/// Most hex digits in a chunk-size (2^60 bytes): more is refused, not wrapped.
const MAX_CHUNK_SIZE_DIGITS: usize = 15;

/// Parses a chunk-size line without its CRLF: `chunk-size [ chunk-ext ]` (RFC 9112 §7.1).
/// Strict: the size starts the line, no whitespace around it, no `0x`, and extensions (which
/// are ignored) follow a `;` at once and hold no control characters.
fn parse_chunk_size(line: &[u8]) -> Result<u64, DecodeError> {
    let digits = line
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .unwrap_or(line.len());
    if digits == 0 || digits > MAX_CHUNK_SIZE_DIGITS {
        return Err(DecodeError::InvalidChunkSize);
    }
    match line.get(digits) {
        None => {}
        Some(b';') => {
            let extension = &line[digits + 1..];
            if extension
                .iter()
                .any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
            {
                return Err(DecodeError::InvalidChunkExtension);
            }
        }
        Some(_) => return Err(DecodeError::InvalidChunkSize),
    }
    Ok(line[..digits].iter().fold(0u64, |n, &b| {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => b - b'A' + 10,
        };
        n << 4 | u64::from(d)
    }))
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_edge;
