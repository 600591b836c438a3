//! HTTP/1.1 client connections to upstreams, driven inside the task that sends the request:
//! no connection task, no dispatch channel.
//!
//! [`ClientConnection::send`] writes the request and reads the response head; the request body
//! keeps streaming while the [`ResponseBody`] is polled (full duplex), and when the response
//! ends cleanly the connection goes back through [`Recycle`] to the pool. An idle connection
//! holds no buffer.

mod body;
mod error;
mod head;
mod write;

pub use body::ResponseBody;
pub use error::{ResponseBodyError, SendError, SendErrorKind};

use crate::codec::{read_response_framing, BodyError, Framing, FramingError};
use crate::upgrade::{self, Upgraded};
use bytes::{Bytes, BytesMut};
use head::ResponseHead;
use http::header::{self, HeaderMap, HeaderValue};
use http::request::Parts;
use http::{Method, Request, Response, StatusCode};
use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use write::{WriteError, Writer};

/// Takes back a connection whose exchange ended cleanly (implemented by the pool).
pub trait Recycle<I>: Send + Sync {
    /// Called once with the connection, ready for another request.
    fn recycle(&self, connection: ClientConnection<I>);
}

impl<I, F> Recycle<I> for F
where
    F: Fn(ClientConnection<I>) + Send + Sync,
{
    fn recycle(&self, connection: ClientConnection<I>) {
        self(connection)
    }
}

/// Where a connection goes when its response ended cleanly (a clone of the pool's handle).
pub type Release<I> = Arc<dyn Recycle<I>>;

/// One keep-alive connection to an upstream; owned by the pool while idle, by a request while
/// busy.
pub struct ClientConnection<I> {
    io: I,
    /// Bytes read but not consumed; empty (no allocation) while idle.
    read_buf: BytesMut,
}

impl<I> std::fmt::Debug for ClientConnection<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConnection")
            .field("buffered", &self.read_buf.len())
            .finish_non_exhaustive()
    }
}

impl<I> ClientConnection<I>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    /// A connection over an established stream (TCP, TLS).
    pub fn new(io: I) -> Self {
        ClientConnection {
            io,
            read_buf: BytesMut::new(),
        }
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &I {
        &self.io
    }

    /// Nonblocking check for an idle pooled connection: false if the peer closed it (EOF or
    /// error) or sent bytes nobody asked for.
    pub fn is_reusable(&mut self) -> bool {
        if !self.read_buf.is_empty() {
            return false;
        }
        let mut cx = Context::from_waker(Waker::noop());
        let mut byte = [0u8; 1];
        let mut buf = ReadBuf::new(&mut byte);
        Pin::new(&mut self.io)
            .poll_read(&mut cx, &mut buf)
            .is_pending()
    }

    /// Writes the request and reads the response head. The request URI is origin-form (or
    /// absolute: then only its path and query go on the wire); headers go out as given (the
    /// caller supplies `Host` and removes hop-by-hop headers) plus the body framing: nothing
    /// for an empty body, `content-length` for a body of known size (unless the caller set
    /// it), else `transfer-encoding: chunked`. The body is written while the response head is
    /// awaited and keeps going while the response body is read.
    pub fn send<B>(self, request: Request<B>, release: Release<I>) -> SendFuture<I, B>
    where
        B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: Into<BodyError>,
    {
        let (parts, body) = request.into_parts();
        let head = RequestHead {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
            host: None,
        };
        let prepared = Prepared::new(head, &body);
        self.start(prepared, Some(parts), body, release)
    }

    /// [`send`](Self::send) with a head the caller keeps: it is encoded at once and not held,
    /// so a request that may be retried elsewhere needs no copy of its headers. On a failure
    /// before anything of the response arrived, [`SendError::take_body`] hands back an
    /// untouched body.
    pub fn send_head<B>(
        self,
        head: RequestHead<'_>,
        body: B,
        release: Release<I>,
    ) -> SendFuture<I, B>
    where
        B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: Into<BodyError>,
    {
        let prepared = Prepared::new(head, &body);
        self.start(prepared, None, body, release)
    }

    fn start<B>(
        self,
        prepared: Result<Prepared, FramingError>,
        kept: Option<Parts>,
        body: B,
        release: Release<I>,
    ) -> SendFuture<I, B>
    where
        B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: Into<BodyError>,
    {
        let prepared = match prepared {
            Ok(prepared) => prepared,
            Err(error) => {
                let request = match kept {
                    Some(parts) => Request::from_parts(parts, body),
                    None => Request::new(body),
                };
                let error = SendError::new(SendErrorKind::InvalidRequest, Some(error.into()))
                    .with_request(Some(request));
                return SendFuture {
                    state: SendState::Refused(error),
                };
            }
        };
        let exchange = Exchange {
            writer: Writer::new(prepared.head, body, prepared.encoding),
            conn: self,
            method: prepared.method,
            asked_upgrade: prepared.asked_upgrade,
            asked_close: prepared.asked_close,
            kept,
            received: false,
            write_error: None,
            scanned: 0,
        };
        SendFuture {
            state: SendState::Exchange(exchange, release),
        }
    }
}

/// A request head borrowed for [`ClientConnection::send_head`]: encoded at once, not kept.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    /// The method.
    pub method: &'a Method,
    /// The target: origin-form, or absolute (then only its path and query go on the wire).
    pub uri: &'a http::Uri,
    /// The headers as they go out (the caller removed hop-by-hop headers).
    pub headers: &'a HeaderMap,
    /// When set, sent as `Host` instead of the `Host` in `headers`.
    pub host: Option<&'a HeaderValue>,
}

/// A request head encoded for the wire, and what the exchange must remember of it.
struct Prepared {
    head: BytesMut,
    encoding: Option<write::Encoding>,
    method: Method,
    asked_upgrade: bool,
    asked_close: bool,
}

impl Prepared {
    fn new<B: http_body::Body>(head: RequestHead<'_>, body: &B) -> Result<Self, FramingError> {
        let (encoding, added) = head::body_framing(head.headers, body)?;
        // Room after the head for a first frame that may go out in the same write.
        let body_room = match encoding {
            Some(_) => body.size_hint().lower().max(512),
            None => 0,
        };
        Ok(Prepared {
            head: head::encode_request_head(&head, added, body_room),
            encoding,
            method: head.method.clone(),
            asked_upgrade: crate::codec::has_token(head.headers, &header::CONNECTION, "upgrade"),
            asked_close: crate::codec::has_token(head.headers, &header::CONNECTION, "close"),
        })
    }
}

/// The future of [`ClientConnection::send`]: resolves to the response once its head arrived.
#[must_use = "futures do nothing unless polled"]
pub struct SendFuture<I, B> {
    state: SendState<I, B>,
}

// The large variant is the one every request uses; boxing it would allocate per request.
#[allow(clippy::large_enum_variant)]
enum SendState<I, B> {
    Exchange(Exchange<I, B>, Release<I>),
    Refused(SendError<B>),
    Done,
}

impl<I, B> std::fmt::Debug for SendFuture<I, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendFuture").finish_non_exhaustive()
    }
}

impl<I, B> Future for SendFuture<I, B>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BodyError>,
{
    type Output = Result<Response<ResponseBody<I, B>>, SendError<B>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let result = match &mut this.state {
            SendState::Exchange(exchange, _) => ready!(exchange.poll_head(cx)),
            SendState::Refused(_) => Err((SendErrorKind::InvalidRequest, None)),
            // Polled after completion.
            SendState::Done => return Poll::Pending,
        };
        Poll::Ready(
            match (std::mem::replace(&mut this.state, SendState::Done), result) {
                (SendState::Exchange(exchange, release), Ok(head)) => {
                    exchange.into_response(head, release)
                }
                (SendState::Exchange(exchange, _), Err((kind, source))) => {
                    Err(exchange.fail(kind, source))
                }
                (SendState::Refused(error), _) => Err(error),
                (SendState::Done, _) => return Poll::Pending,
            },
        )
    }
}

/// A request in flight, until its response head arrives.
struct Exchange<I, B> {
    conn: ClientConnection<I>,
    writer: Writer<B>,
    method: Method,
    /// The request asked for a protocol upgrade (`Connection: upgrade`).
    asked_upgrade: bool,
    /// The request asked to close the connection afterwards (`Connection: close`).
    asked_close: bool,
    /// The head of a request given by value ([`ClientConnection::send`]), handed back on failure.
    kept: Option<Parts>,
    /// Some response byte arrived.
    received: bool,
    /// Writing failed; the response may still arrive (an early answer, then close).
    write_error: Option<io::Error>,
    /// How far the read buffer was searched for the end of the head.
    scanned: usize,
}

type Failure = (SendErrorKind, Option<BodyError>);

impl<I, B> Exchange<I, B>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BodyError>,
{
    fn poll_head(&mut self, cx: &mut Context<'_>) -> Poll<Result<ResponseHead, Failure>> {
        loop {
            if self.writer.is_active() {
                match self.writer.poll(&mut self.conn.io, cx) {
                    Poll::Ready(Ok(())) | Poll::Pending => {}
                    Poll::Ready(Err(WriteError::Io(error))) => {
                        self.writer.abandon();
                        self.write_error = Some(error);
                    }
                    Poll::Ready(Err(WriteError::Body(error))) => {
                        return Poll::Ready(Err((SendErrorKind::Body, Some(error))))
                    }
                    Poll::Ready(Err(WriteError::Length)) => {
                        return Poll::Ready(Err((SendErrorKind::InvalidRequest, None)))
                    }
                }
            }
            if !self.conn.read_buf.is_empty() {
                match head::parse_response_head(&mut self.conn.read_buf, &mut self.scanned) {
                    Ok(Some(head)) if is_skipped_informational(head.status) => continue,
                    Ok(Some(head)) => return Poll::Ready(Ok(head)),
                    Ok(None) => {}
                    Err(kind) => return Poll::Ready(Err((kind, None))),
                }
            }
            match ready!(poll_read_buf(
                &mut self.conn.io,
                cx,
                &mut self.conn.read_buf
            )) {
                Ok(0) if self.received => {
                    return Poll::Ready(Err((SendErrorKind::InvalidResponse, None)))
                }
                Ok(0) => {
                    return Poll::Ready(Err(match self.write_error.take() {
                        Some(error) => (SendErrorKind::Io, Some(error.into())),
                        None => (SendErrorKind::ClosedBeforeResponse, None),
                    }))
                }
                Ok(_) => self.received = true,
                Err(error) => return Poll::Ready(Err((SendErrorKind::Io, Some(error.into())))),
            }
        }
    }

    /// The error, with the request when it can be sent again elsewhere.
    fn fail(mut self, kind: SendErrorKind, source: Option<BodyError>) -> SendError<B> {
        let request = if self.received {
            None
        } else {
            self.writer
                .take_untouched_body()
                .map(|body| match self.kept {
                    Some(parts) => Request::from_parts(parts, body),
                    None => Request::new(body),
                })
        };
        SendError::new(kind, source).with_request(request)
    }

    fn into_response(
        self,
        head: ResponseHead,
        release: Release<I>,
    ) -> Result<Response<ResponseBody<I, B>>, SendError<B>> {
        let ResponseHead {
            status,
            version,
            mut headers,
        } = head;
        let method = &self.method;
        let upgrade = if status == StatusCode::SWITCHING_PROTOCOLS {
            if !self.asked_upgrade {
                return Err(self.fail(SendErrorKind::InvalidResponse, None));
            }
            true
        } else {
            method == Method::CONNECT && status.is_success()
        };
        // A repeated Content-Length (equal values) is passed on as one field.
        let framing = match read_response_framing(method, status, &mut headers) {
            Ok(framing) => framing,
            Err(error) => return Err(self.fail(SendErrorKind::InvalidResponse, Some(error.into()))),
        };
        // Both framings: Transfer-Encoding wins, and the connection is not trusted afterwards
        // (RFC 9112 §6.3); the stale length must not travel on.
        let ambiguous = headers.contains_key(header::TRANSFER_ENCODING)
            && headers.remove(header::CONTENT_LENGTH).is_some();
        let reusable = !ambiguous
            && framing != Framing::CloseDelimited
            && head::keep_alive(version, &headers)
            && !self.asked_close;
        let Exchange {
            mut conn, writer, ..
        } = self;
        let mut response = Response::new(ResponseBody::empty());
        *response.status_mut() = status;
        *response.version_mut() = version;
        if upgrade {
            if writer.has_pending() {
                return Err(SendError::new(SendErrorKind::InvalidResponse, None));
            }
            let (pending, on_upgrade) = upgrade::pending();
            let leftover = conn.read_buf.split().freeze();
            pending.fulfill(Upgraded::new(Box::new(conn.io), leftover));
            response.extensions_mut().insert(on_upgrade);
        } else if framing == Framing::Empty {
            if reusable && writer.is_done() && conn.read_buf.is_empty() {
                conn.read_buf = BytesMut::new();
                release.recycle(conn);
            }
        } else {
            *response.body_mut() =
                ResponseBody::streaming(conn, writer, framing, reusable, release);
        }
        *response.headers_mut() = headers;
        Ok(response)
    }
}

/// `1xx` responses other than `101` are dropped: the final response follows.
fn is_skipped_informational(status: StatusCode) -> bool {
    status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS
}

/// Bytes read from the connection in one call, at most.
const SCRATCH_LEN: usize = 32 * 1024;

thread_local! {
    /// Reads land here, then only the bytes received are copied into the connection's buffer
    /// (no per-connection read buffer sized for the worst case).
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; SCRATCH_LEN].into_boxed_slice());
}

/// Reads once from `io` and appends what arrived to `buf`; `Ok(0)` is end of stream.
fn poll_read_buf<I: AsyncRead + Unpin>(
    io: &mut I,
    cx: &mut Context<'_>,
    buf: &mut BytesMut,
) -> Poll<io::Result<usize>> {
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut scratch) => read_into(io, cx, &mut scratch, buf),
        // Only if a stream's read re-enters this module: fall back to a small stack buffer.
        Err(_) => read_into(io, cx, &mut [0u8; 4096], buf),
    })
}

fn read_into<I: AsyncRead + Unpin>(
    io: &mut I,
    cx: &mut Context<'_>,
    scratch: &mut [u8],
    buf: &mut BytesMut,
) -> Poll<io::Result<usize>> {
    let mut read = ReadBuf::new(scratch);
    ready!(Pin::new(io).poll_read(cx, &mut read))?;
    buf.extend_from_slice(read.filled());
    Poll::Ready(Ok(read.filled().len()))
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_framing;
#[cfg(test)]
mod tests_hyper;
#[cfg(test)]
mod tests_tcp;
