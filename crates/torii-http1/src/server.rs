//! HTTP/1.1 server connections (the downstream side of the proxy).
//!
//! [`serve_connection`] drives one connection in the task that awaits it: it reads a request
//! head, calls the service, streams the request body to it while the service runs and while
//! the response is written (full duplex), writes the response, and loops. Between requests
//! it holds no buffer: reads land in a per-thread scratch buffer and only the bytes received
//! are kept, and everything a request needs lives in a box that is freed when it is done.
//!
//! Module map: `head` parses request heads, `exchange` runs one request/response, `response`
//! encodes response heads and bodies, `conn` holds the byte plumbing, `body` the request body.

mod body;
mod conn;
mod exchange;
mod head;
mod response;
#[cfg(test)]
mod tests;

pub use body::{RecvBody, RecvBodyError};

use crate::codec::{BodyError, DecodeError};
use crate::upgrade::Upgraded;
use bytes::{Bytes, BytesMut};
use conn::{Conn, Reader};
use exchange::Next;
use head::HeadError;
use http::{Request, Response, StatusCode};
use http_body::Body;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, Sleep};

/// Limits and timeouts of server connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// Longest request head (request line and headers); longer gets `431` and a close.
    pub max_head_bytes: usize,
    /// Most headers in a request; more gets `431` and a close.
    pub max_headers: usize,
    /// Time from the first byte of a request head to its end (slowloris: answered with `408`
    /// and a close), and how long a new connection may stay silent before its first request
    /// (then closed quietly).
    pub header_read_timeout: Duration,
    /// Idle time between requests before a keep-alive connection is closed quietly.
    pub keep_alive_timeout: Duration,
    /// Unread request body read and discarded after a response to keep the connection; with
    /// more left, the connection closes instead.
    pub max_drain_bytes: u64,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            max_head_bytes: 64 * 1024,
            max_headers: 100,
            header_read_timeout: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(60),
            max_drain_bytes: 256 * 1024,
        }
    }
}

/// Why a connection ended other than cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Reading from or writing to the connection failed.
    #[error("connection i/o failed")]
    Io(#[from] io::Error),
    /// A request head was malformed or ambiguous (answered with `400`).
    #[error("invalid request")]
    InvalidRequest,
    /// A request used a transfer coding other than `chunked` once and last (answered with
    /// `501`, RFC 9112 §6.1).
    #[error("unsupported transfer coding")]
    UnsupportedTransferCoding,
    /// A request body's framing was malformed (answered with `400` when no response had
    /// started; the connection closed either way).
    #[error("malformed request body")]
    InvalidBody(#[source] DecodeError),
    /// A request head exceeded the size or header count limits (answered with `431`).
    #[error("request head too large")]
    HeadTooLarge,
    /// A request head did not arrive in time (answered with `408` when part of it had
    /// arrived; a connection that sent nothing is closed quietly).
    #[error("timed out reading a request head")]
    HeaderTimeout,
    /// The client closed the connection in the middle of a request.
    #[error("connection closed before the exchange completed")]
    Incomplete,
    /// The response body failed; the connection was closed so the client sees it cut short.
    #[error("response body failed")]
    ResponseBody(#[source] BodyError),
    /// The response body did not match its `content-length`; the connection was closed.
    #[error("response body length does not match its content-length")]
    BodyLength,
}

/// How long a closing connection keeps reading (and discarding) so that closing with unread
/// bytes does not reset the connection under the response.
const LINGER: Duration = Duration::from_secs(2);

/// Serves requests on `io` until the client closes, an error, or `shutdown` resolves (then an
/// idle connection closes at once; a request in progress completes with `connection: close`).
/// Requests are served one at a time; pipelined requests are read from the buffer in order.
pub async fn serve_connection<I, S, F, B, D>(
    io: I,
    options: &ServerOptions,
    mut service: S,
    shutdown: D,
) -> Result<(), ServerError>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: FnMut(Request<RecvBody>) -> F,
    F: Future<Output = Response<B>>,
    B: Body<Data = Bytes>,
    B::Error: Into<BodyError>,
    D: Future<Output = ()>,
{
    let mut shutdown = pin!(shutdown);
    let mut timer = pin!(tokio::time::sleep(options.header_read_timeout));
    let mut conn = Conn {
        io,
        options,
        rbuf: BytesMut::new(),
        reader: Reader::Idle,
        draining: false,
        peer_closed: false,
    };
    // Whether `timer` runs the keep-alive timeout (else the header read timeout).
    let mut idle = false;
    let rejected = loop {
        // The head moves into the boxed exchange: the idle future keeps none of it.
        let mut scanned = 0;
        let read = poll_fn(|cx| {
            poll_read_head(
                &mut conn,
                cx,
                timer.as_mut(),
                shutdown.as_mut(),
                &mut idle,
                &mut scanned,
            )
        });
        let exchange = match read.await {
            HeadEvent::Head(head) => Box::pin(exchange::serve(
                &mut conn,
                head,
                &mut service,
                shutdown.as_mut(),
            )),
            HeadEvent::Closed => return Ok(()),
            // RFC 9110 §15.5.9: a client that began a request and stalled hears 408; one
            // that sent nothing at all is closed quietly.
            HeadEvent::TimedOut if conn.rbuf.is_empty() => return Err(ServerError::HeaderTimeout),
            HeadEvent::TimedOut => break Refusal::TimedOut,
            HeadEvent::Eof => return Err(ServerError::Incomplete),
            HeadEvent::Io(error) => return Err(error.into()),
            // Answered after the loop: nothing of the head is kept across that await.
            HeadEvent::Reject(error) => break Refusal::Head(error),
        };
        match exchange.await? {
            Next::KeepAlive => {}
            Next::Close => {
                Box::pin(close(&mut conn, timer.as_mut())).await;
                return Ok(());
            }
            Next::Upgrade(pending) => {
                let prefix = conn.rbuf.freeze();
                pending.fulfill(Upgraded::new(Box::new(conn.io), prefix));
                return Ok(());
            }
            Next::MalformedBody { error, interim } => {
                break Refusal::MalformedBody { error, interim };
            }
        }
        if !matches!(conn.reader, Reader::Idle) && !drain(&mut conn, timer.as_mut()).await {
            Box::pin(close(&mut conn, timer.as_mut())).await;
            return Ok(());
        }
        conn.release_empty_buffer();
        idle = conn.rbuf.is_empty();
        let wait = if idle {
            options.keep_alive_timeout
        } else {
            options.header_read_timeout
        };
        timer.as_mut().reset(Instant::now() + wait);
    };
    // Boxed: a rare path that should not grow every connection's future.
    Box::pin(reject(&mut conn, timer.as_mut(), rejected)).await
}

/// What reading a request head ended with.
// The head is moved straight into the boxed exchange; boxing it here would cost an allocation
// per request.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum HeadEvent {
    Head(head::RequestHead),
    /// The client closed, the keep-alive time passed, or shutdown came, between requests.
    Closed,
    TimedOut,
    /// The client closed in the middle of a head.
    Eof,
    Io(io::Error),
    Reject(HeadError),
}

/// Reads a request head, watching the shutdown signal and the header / keep-alive deadline.
fn poll_read_head<I, D>(
    conn: &mut Conn<'_, I>,
    cx: &mut Context<'_>,
    mut timer: Pin<&mut Sleep>,
    shutdown: Pin<&mut D>,
    idle: &mut bool,
    scanned: &mut usize,
) -> Poll<HeadEvent>
where
    I: AsyncRead + AsyncWrite + Unpin,
    D: Future<Output = ()>,
{
    if let Poll::Ready(event) = conn.poll_head(cx, scanned) {
        return Poll::Ready(event);
    }
    conn.poll_signal(cx, shutdown);
    if conn.rbuf.is_empty() && conn.draining {
        return Poll::Ready(HeadEvent::Closed);
    }
    if *idle && !conn.rbuf.is_empty() {
        // The first bytes of a head that did not arrive whole: the head has a deadline.
        *idle = false;
        timer
            .as_mut()
            .reset(Instant::now() + conn.options.header_read_timeout);
    }
    if timer.poll(cx).is_ready() {
        return Poll::Ready(if *idle {
            HeadEvent::Closed
        } else {
            HeadEvent::TimedOut
        });
    }
    Poll::Pending
}

/// Why the server answers on its own and closes.
#[derive(Debug)]
enum Refusal {
    /// A refused head: `400`, `431` or `501`.
    Head(HeadError),
    /// Part of a head arrived, then nothing until the header read timeout: `408`.
    TimedOut,
    /// A malformed request body before any response: `400`, after the unwritten rest of a
    /// `100 Continue`.
    MalformedBody {
        error: DecodeError,
        interim: &'static [u8],
    },
}

impl Refusal {
    /// The status answered, and the error the connection ends with.
    fn outcome(self) -> (StatusCode, ServerError) {
        match self {
            Refusal::Head(HeadError::Invalid(reason)) => {
                tracing::debug!(reason, "invalid request head");
                (StatusCode::BAD_REQUEST, ServerError::InvalidRequest)
            }
            Refusal::Head(HeadError::TooLarge) => {
                tracing::debug!("request head too large");
                (
                    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    ServerError::HeadTooLarge,
                )
            }
            Refusal::Head(HeadError::UnsupportedCoding) => {
                tracing::debug!("unsupported transfer coding");
                (
                    StatusCode::NOT_IMPLEMENTED,
                    ServerError::UnsupportedTransferCoding,
                )
            }
            Refusal::TimedOut => (StatusCode::REQUEST_TIMEOUT, ServerError::HeaderTimeout),
            Refusal::MalformedBody { error, .. } => {
                (StatusCode::BAD_REQUEST, ServerError::InvalidBody(error))
            }
        }
    }
}

/// Answers with an error status (`connection: close`) and closes.
async fn reject<I: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<'_, I>,
    mut timer: Pin<&mut Sleep>,
    refusal: Refusal,
) -> Result<(), ServerError> {
    let interim = match &refusal {
        Refusal::MalformedBody { interim, .. } => *interim,
        _ => &[],
    };
    let (status, result) = refusal.outcome();
    let mut out = BytesMut::from(interim);
    out.extend_from_slice(&response::error_head(status));
    let mut none = None;
    timer.as_mut().reset(Instant::now() + LINGER);
    let written = poll_fn(|cx| {
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::ErrorKind::TimedOut.into()));
        }
        match conn.poll_write_all(cx, &mut out, &mut none) {
            Poll::Ready(Ok(())) => conn.poll_flush(cx),
            other => other,
        }
    })
    .await;
    if written.is_ok() {
        conn.reader = Reader::Broken;
        close(conn, timer).await;
    }
    Err(result)
}

/// Reads and discards the rest of a request body the service did not read. `true`: the
/// connection can carry the next request.
async fn drain<I: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<'_, I>,
    mut timer: Pin<&mut Sleep>,
) -> bool {
    timer
        .as_mut()
        .reset(Instant::now() + conn.options.header_read_timeout);
    let mut budget = conn.options.max_drain_bytes;
    poll_fn(|cx| match conn.poll_drain(cx, &mut budget) {
        Poll::Ready(reusable) => Poll::Ready(reusable),
        Poll::Pending => timer.as_mut().poll(cx).map(|()| false),
    })
    .await
}

/// Closes the connection: sends our FIN (or TLS close_notify), then, if the client may still
/// be sending, reads and discards for a while before dropping the socket.
async fn close<I: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<'_, I>,
    mut timer: Pin<&mut Sleep>,
) {
    let linger = !conn.rbuf.is_empty() || !matches!(conn.reader, Reader::Idle);
    timer.as_mut().reset(Instant::now() + LINGER);
    let shut = poll_fn(|cx| match Pin::new(&mut conn.io).poll_shutdown(cx) {
        Poll::Ready(result) => Poll::Ready(result.is_ok()),
        Poll::Pending => timer.as_mut().poll(cx).map(|()| false),
    })
    .await;
    if shut && linger {
        let mut budget = conn.options.max_drain_bytes;
        poll_fn(|cx| match conn.poll_discard(cx, &mut budget) {
            Poll::Ready(()) => Poll::Ready(()),
            Poll::Pending => timer.as_mut().poll(cx),
        })
        .await;
    }
}
