//! The harness the fuzz targets share: an in-memory connection that hands the input out in
//! reads of chosen sizes, a driver that polls a connection future until it finishes or stops
//! making progress (no runtime thread, no timers firing), and services that record what
//! torii's and hyper's HTTP/1.1 servers hand them, so that two runs can be compared.

use bytes::Bytes;
use http::header::HeaderMap;
use http::{Request, Response, Version};
use http_body::Body;
use http_body_util::Empty;
use std::cell::{Cell, RefCell};
use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What a read returns once the whole input has been handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// End of stream: the peer closed (or half-closed) the connection.
    Eof,
    /// Nothing yet: the peer keeps the connection open.
    Pending,
}

/// The far side of a [`MockIo`]: what was read from the input and what was written.
#[derive(Debug, Default)]
pub struct Wire {
    read: AtomicU64,
    written: Mutex<Vec<u8>>,
}

impl Wire {
    /// Input bytes handed out so far.
    pub fn read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    /// Everything written so far.
    pub fn written(&self) -> Vec<u8> {
        self.written.lock().map(|w| w.clone()).unwrap_or_default()
    }

    fn written_len(&self) -> u64 {
        self.written.lock().map_or(0, |w| w.len() as u64)
    }
}

/// An in-memory stream: reads hand out `input` in pieces of the sizes in `splits` (cycled;
/// empty: as much as the reader asks), then [`End`]; writes are kept in the [`Wire`].
#[derive(Debug)]
pub struct MockIo {
    input: Vec<u8>,
    pos: usize,
    splits: Vec<usize>,
    next: usize,
    end: End,
    wire: Arc<Wire>,
}

impl MockIo {
    /// A stream over `input`, and its far side.
    pub fn new(input: &[u8], splits: &[usize], end: End) -> (MockIo, Arc<Wire>) {
        let wire = Arc::new(Wire::default());
        let io = MockIo {
            input: input.to_vec(),
            pos: 0,
            splits: splits.to_vec(),
            next: 0,
            end,
            wire: wire.clone(),
        };
        (io, wire)
    }
}

impl AsyncRead for MockIo {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.pos == this.input.len() {
            return match this.end {
                End::Eof => Poll::Ready(Ok(())),
                End::Pending => Poll::Pending,
            };
        }
        let split = match this.splits.len() {
            0 => usize::MAX,
            n => this.splits[this.next % n].max(1),
        };
        this.next += 1;
        let n = split.min(this.input.len() - this.pos).min(buf.remaining());
        buf.put_slice(&this.input[this.pos..this.pos + n]);
        this.pos += n;
        this.wire.read.fetch_add(n as u64, Ordering::Relaxed);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for MockIo {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Ok(mut written) = self.wire.written.lock() {
            written.extend_from_slice(buf);
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Read sizes from fuzz bytes: each byte is one read of 1 to 256 bytes.
pub fn splits_from(bytes: &[u8]) -> Vec<usize> {
    bytes.iter().map(|&b| usize::from(b) + 1).collect()
}

/// Polls after which a future that still makes progress counts as hung.
pub const MAX_POLLS: usize = 200_000;

/// Polls `future` with a no-op waker until it completes (`Some`) or stops making progress
/// (`None`: `progress` did not change over a few polls, so it waits for input that will
/// never come). Panics if it keeps making progress for [`MAX_POLLS`] polls (a livelock).
pub fn drive<F: Future>(mut future: Pin<&mut F>, progress: &dyn Fn() -> u64) -> Option<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    let mut last = progress();
    let mut idle = 0;
    for _ in 0..MAX_POLLS {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return Some(output);
        }
        let now = progress();
        if now == last {
            idle += 1;
            if idle >= 4 {
                return None;
            }
        } else {
            idle = 0;
            last = now;
        }
    }
    panic!("still making progress after {MAX_POLLS} polls");
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");
}

/// Runs `f` inside a Tokio runtime context (torii's server arms timers), without running the
/// runtime: timers never fire, which is what a fast peer looks like.
pub fn in_runtime<T>(f: impl FnOnce() -> T) -> T {
    RUNTIME.with(|runtime| {
        let _guard = runtime.enter();
        f()
    })
}

/// Header fields in `HeaderMap` iteration order: lower-case name, value bytes.
pub type Fields = Vec<(String, Vec<u8>)>;

/// The fields of `map`.
pub fn fields(map: &HeaderMap) -> Fields {
    map.iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect()
}

/// How far a request body got.
#[derive(Clone, PartialEq, Eq)]
pub enum BodySeen {
    /// Still expecting more: the data so far.
    Reading(Vec<u8>),
    /// Ended cleanly: the data and the trailers.
    Complete(Vec<u8>, Option<Fields>),
    /// Ended with an error after this data.
    Failed(Vec<u8>),
}

/// A request as the service saw it.
#[derive(Clone, PartialEq, Eq)]
pub struct Seen {
    /// The method.
    pub method: String,
    /// The request target as parsed.
    pub target: String,
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    /// The header fields.
    pub headers: Fields,
    /// The body.
    pub body: BodySeen,
}

/// Bytes as text, for readable failure messages.
pub struct Text<'a>(pub &'a [u8]);

impl std::fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.0))
    }
}

fn fmt_fields(fields: &Fields, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.debug_list()
        .entries(fields.iter().map(|(n, v)| (n, Text(v))))
        .finish()
}

impl std::fmt::Debug for BodySeen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodySeen::Reading(data) => write!(f, "Reading({:?})", Text(data)),
            BodySeen::Failed(data) => write!(f, "Failed({:?})", Text(data)),
            BodySeen::Complete(data, trailers) => {
                write!(f, "Complete({:?}, ", Text(data))?;
                match trailers {
                    Some(t) => fmt_fields(t, f)?,
                    None => f.write_str("no trailers")?,
                }
                f.write_str(")")
            }
        }
    }
}

impl std::fmt::Debug for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {:?} ", self.method, self.target, self.version)?;
        fmt_fields(&self.headers, f)?;
        write!(f, " body {:?}", self.body)
    }
}

/// What a recording service saw; `events` counts every change (progress for [`drive`]).
#[derive(Clone, Default)]
struct Log {
    seen: Rc<RefCell<Vec<Seen>>>,
    events: Rc<Cell<u64>>,
}

impl Log {
    /// Records a request's head; returns its index and its body.
    fn record<B>(&self, request: Request<B>) -> (usize, B) {
        let (parts, body) = request.into_parts();
        let mut seen = self.seen.borrow_mut();
        seen.push(Seen {
            method: parts.method.as_str().to_owned(),
            target: parts.uri.to_string(),
            version: parts.version,
            headers: fields(&parts.headers),
            body: BodySeen::Reading(Vec::new()),
        });
        self.events.set(self.events.get() + 1);
        (seen.len() - 1, body)
    }

    /// Reads the whole body of request `index`, recording each frame as it comes.
    async fn consume<B>(self, index: usize, body: B)
    where
        B: Body<Data = Bytes>,
    {
        let mut body = pin!(body);
        loop {
            let frame = poll_fn(|cx| body.as_mut().poll_frame(cx)).await;
            self.events.set(self.events.get() + 1);
            let mut seen = self.seen.borrow_mut();
            let state = &mut seen[index].body;
            let BodySeen::Reading(data) = state else {
                return;
            };
            match frame {
                None => {
                    *state = BodySeen::Complete(std::mem::take(data), None);
                    return;
                }
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(bytes) => data.extend_from_slice(&bytes),
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            *state =
                                BodySeen::Complete(std::mem::take(data), Some(fields(&trailers)));
                            return;
                        }
                    }
                },
                Some(Err(_)) => {
                    *state = BodySeen::Failed(std::mem::take(data));
                    return;
                }
            }
        }
    }
}

/// What a server did with an input.
#[derive(Debug)]
pub struct Transcript {
    /// The requests the service was called with, in order.
    pub requests: Vec<Seen>,
    /// The final status codes written, in order (our service always answers `200`).
    /// Interim `100 Continue` responses are left out: a server may omit them when the body
    /// has already arrived (RFC 9110 §10.1.1), so whether one is sent depends on the reads.
    pub statuses: Vec<u16>,
    /// The connection future completed (rather than waiting for more input).
    pub finished: bool,
    /// Input bytes the server read.
    pub read: u64,
}

impl Transcript {
    /// The status of a response the server wrote on its own (a refused request head).
    pub fn rejected(&self) -> Option<u16> {
        self.statuses.iter().copied().find(|&s| s >= 400)
    }
}

/// The status codes of the response heads in `out` (every body our services send is empty,
/// and so are the servers' own error responses).
pub fn statuses(mut out: &[u8]) -> Vec<u16> {
    let mut codes = Vec::new();
    while !out.is_empty() {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(out) {
            Ok(httparse::Status::Complete(n)) => {
                codes.push(response.code.unwrap_or(0));
                out = &out[n..];
            }
            _ => {
                // A response head that does not parse: record it as such.
                codes.push(0);
                break;
            }
        }
    }
    codes
}

fn transcript(log: &Log, wire: &Wire, finished: bool) -> Transcript {
    Transcript {
        requests: log.seen.borrow().clone(),
        statuses: statuses(&wire.written())
            .into_iter()
            .filter(|&s| s != 100)
            .collect(),
        finished,
        read: wire.read(),
    }
}

fn progress(log: &Log, wire: &Wire) -> u64 {
    log.events.get() + wire.read() + wire.written_len()
}

/// Serves `input` with torii's HTTP/1.1 server (default options) and a service that reads
/// every request body and answers `200` with an empty body.
pub fn torii_server(input: &[u8], splits: &[usize], end: End) -> Transcript {
    let (io, wire) = MockIo::new(input, splits, end);
    let log = Log::default();
    let options = torii_http1::server::ServerOptions::default();
    let service = |request: Request<torii_http1::server::RecvBody>| {
        let (index, body) = log.record(request);
        let log = log.clone();
        async move {
            log.consume(index, body).await;
            Response::new(Empty::<Bytes>::new())
        }
    };
    let finished = in_runtime(|| {
        let connection = pin!(torii_http1::server::serve_connection(
            io,
            &options,
            service,
            std::future::pending::<()>(),
        ));
        drive(connection, &|| progress(&log, &wire)).is_some()
    });
    transcript(&log, &wire, finished)
}

/// Serves `input` with hyper's HTTP/1.1 server (default options) and the same service as
/// [`torii_server`].
pub fn hyper_server(input: &[u8], splits: &[usize], end: End) -> Transcript {
    let (io, wire) = MockIo::new(input, splits, end);
    let log = Log::default();
    let recorder = log.clone();
    let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
        let (index, body) = recorder.record(request);
        let log = recorder.clone();
        async move {
            log.consume(index, body).await;
            Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new()))
        }
    });
    let connection = pin!(hyper::server::conn::http1::Builder::new()
        .serve_connection(hyper_util::rt::TokioIo::new(io), service));
    let finished = drive(connection, &|| progress(&log, &wire)).is_some();
    transcript(&log, &wire, finished)
}

/// RFC rules and a reference framing of pipelined requests, written independently of
/// torii-http1's head code, to check what it accepts and to explain where it differs from hyper.
pub mod rules {
    use super::Fields;
    use bytes::BytesMut;
    use torii_http1::codec::{BodyDecoder, Decoded, Framing};

    /// Whether `target` has a form `method` allows (RFC 9112 §3.2): origin-form, absolute-form
    /// (with an authority, the only kind a gateway can route), asterisk-form only for OPTIONS
    /// (§3.2.4), authority-form `host:port` only and always for CONNECT (§3.2.3; RFC 9110
    /// §9.3.6: an empty or invalid port is refused).
    pub fn target_form_ok(method: &str, target: &str) -> bool {
        if method == "CONNECT" {
            return match target.rsplit_once(':') {
                Some((host, port)) => {
                    !host.is_empty()
                        && !host.contains(['/', '?', '#', '@'])
                        && port.bytes().all(|b| b.is_ascii_digit())
                        && port.parse::<u16>().is_ok()
                }
                None => false,
            };
        }
        if target == "*" {
            return method == "OPTIONS";
        }
        if target.starts_with('/') {
            return true;
        }
        match target.split_once("://") {
            Some((scheme, rest)) => {
                scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                    && scheme
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
                    && !rest.is_empty()
                    && !rest.starts_with(['/', '?', '#'])
            }
            None => false,
        }
    }

    /// A request head as found by [`raw_requests`].
    #[derive(Debug, Clone)]
    pub struct RawRequest {
        /// The method.
        pub method: String,
        /// The target, as sent.
        pub target: String,
        /// The minor version (0 or 1).
        pub minor: u8,
        /// The header fields as sent: lower-case names, values.
        pub fields: Fields,
        /// The body as sent, when its end was found.
        pub body: Option<Vec<u8>>,
    }

    impl RawRequest {
        /// The values of the fields named `name` (lower case).
        pub fn values(&self, name: &str) -> Vec<&[u8]> {
            self.fields
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.as_slice())
                .collect()
        }
    }

    /// The requests at the start of `wire`, one after the other, as far as they can be
    /// delimited: heads by `httparse` (which skips empty lines before a request line, RFC 9112
    /// §2.2), bodies by RFC 9112 §6.3 (Transfer-Encoding wins over Content-Length; a chunked
    /// body's end as torii's decoder finds it). Only used to explain differences.
    pub fn raw_requests(wire: &[u8]) -> Vec<RawRequest> {
        let mut found = Vec::new();
        let mut pos = 0;
        while pos < wire.len() {
            let mut headers = [httparse::EMPTY_HEADER; 100];
            let mut request = httparse::Request::new(&mut headers);
            let Ok(httparse::Status::Complete(n)) = request.parse(&wire[pos..]) else {
                break;
            };
            let fields: Fields = request
                .headers
                .iter()
                .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
                .collect();
            let raw = RawRequest {
                method: request.method.unwrap_or_default().to_owned(),
                target: request.path.unwrap_or_default().to_owned(),
                minor: request.version.unwrap_or_default(),
                fields,
                body: None,
            };
            pos += n;
            let framing = if !raw.values("transfer-encoding").is_empty() {
                Framing::Chunked
            } else {
                let lengths = raw.values("content-length");
                match lengths
                    .first()
                    .map(|v| std::str::from_utf8(v).map(str::trim))
                {
                    None => Framing::Empty,
                    Some(Ok(v)) => match v.parse::<u64>() {
                        Ok(n) => Framing::Length(n),
                        Err(_) => {
                            found.push(raw);
                            break;
                        }
                    },
                    Some(Err(_)) => {
                        found.push(raw);
                        break;
                    }
                }
            };
            let len = body_len(&wire[pos..], framing);
            // Where torii's decoder fails, the rest of the input stands for the body.
            let body = match (len, framing) {
                (Some(n), _) => Some(wire[pos..pos + n].to_vec()),
                (None, Framing::Chunked) => Some(wire[pos..].to_vec()),
                (None, _) => None,
            };
            found.push(RawRequest { body, ..raw });
            match len {
                Some(len) => pos += len,
                None => break,
            }
        }
        found
    }

    /// The chunk-size lines of a chunked body as sent (without their CRLF).
    pub fn chunk_lines(body: &[u8]) -> Vec<&[u8]> {
        let mut lines = Vec::new();
        let mut pos = 0;
        while let Some(end) = body[pos..].windows(2).position(|w| w == b"\r\n") {
            let line = &body[pos..pos + end];
            lines.push(line);
            let digits = line
                .iter()
                .skip_while(|b| b.is_ascii_whitespace())
                .take_while(|b| b.is_ascii_hexdigit());
            let size = digits.fold(0usize, |n, &b| {
                n.saturating_mul(16)
                    .saturating_add((b as char).to_digit(16).unwrap_or(0) as usize)
            });
            pos += end + 2;
            if size == 0 {
                break;
            }
            pos = pos.saturating_add(size).saturating_add(2);
            if pos >= body.len() {
                break;
            }
        }
        lines
    }

    /// The trailer section of a chunked body as sent: after the last chunk's line, up to and
    /// including the blank line (or to the end of `body` without one), found by walking the
    /// chunk-size lines.
    pub fn trailer_section(body: &[u8]) -> Option<&[u8]> {
        let mut pos = 0;
        loop {
            let line_end = pos + body.get(pos..)?.windows(2).position(|w| w == b"\r\n")?;
            let line = &body[pos..line_end];
            let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
            let size =
                usize::from_str_radix(std::str::from_utf8(&line[..digits]).ok()?, 16).ok()?;
            pos = line_end + 2;
            if size == 0 {
                let rest = &body[pos..];
                if rest.starts_with(b"\r\n") {
                    return Some(&rest[..2]);
                }
                let end = rest.windows(4).position(|w| w == b"\r\n\r\n");
                return Some(end.map_or(rest, |end| &rest[..end + 4]));
            }
            pos = pos.checked_add(size)?.checked_add(2)?;
        }
    }

    /// The wire length of a body with this framing at the start of `wire`.
    fn body_len(wire: &[u8], framing: Framing) -> Option<usize> {
        let mut decoder = BodyDecoder::new(framing);
        let mut buf = BytesMut::from(wire);
        loop {
            match decoder.decode(&mut buf).ok()?? {
                Decoded::Data(_) => {}
                Decoded::Trailers(_) | Decoded::End => return Some(wire.len() - buf.len()),
            }
        }
    }
}

/// Fields that must not travel as trailers (RFC 9110 §6.5.1), by torii-http1's own list: a
/// recipient may drop them from a trailer section, so they are left out when trailers are
/// compared (names that are not field names are kept).
pub fn forbidden_trailer(name: &str) -> bool {
    http::HeaderName::from_bytes(name.as_bytes())
        .is_ok_and(|name| torii_http1::codec::is_forbidden_trailer(&name))
}

/// Whether the `TORII_FUZZ_KNOWN` environment variable (a comma-separated list) names
/// `finding`: a finding that is reported and not fixed yet, which a long run may be told to
/// look past. Unset, every finding fails.
pub fn known(finding: &str) -> bool {
    static KNOWN: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    KNOWN
        .get_or_init(|| {
            std::env::var("TORII_FUZZ_KNOWN")
                .unwrap_or_default()
                .split(',')
                .map(str::to_owned)
                .collect()
        })
        .iter()
        .any(|k| k == finding)
}
