//! One request/response exchange: runs the service while the request body streams in, then
//! writes the response (still reading the request body: full duplex). The connection boxes
//! this future per request, so an idle connection holds none of it.

use super::body::RecvBody;
use super::conn::{BodyReader, Conn, Reader};
use super::head::RequestHead;
use super::response::{self, Encoder, RequestInfo};
use super::ServerError;
use crate::codec::{BodyDecoder, BodyError, DecodeError, Framing};
use crate::upgrade::{self, PendingUpgrade};
use bytes::{Bytes, BytesMut};
use http::{Method, Request, Response, StatusCode};
use http_body::Body;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite};

/// What the connection does after an exchange.
#[derive(Debug)]
pub(super) enum Next {
    /// Read the next request.
    KeepAlive,
    /// Close the connection (after the response was written).
    Close,
    /// `101` (or `2xx` to `CONNECT`) was written: hand the connection over.
    Upgrade(PendingUpgrade),
    /// The request body is malformed and no response was written: answer `400` and close,
    /// after `interim` (the unwritten rest of a `100 Continue`).
    MalformedBody {
        error: DecodeError,
        interim: &'static [u8],
    },
}

const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Progress of `Expect: 100-continue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Continue {
    /// Not expected, or already sent.
    No,
    /// Expected; sent when the service first polls the body.
    Awaiting,
    /// This many bytes of it are written.
    Writing(usize),
    /// Written, not yet flushed.
    Flushing,
}

/// Serves one request whose head was just read.
pub(super) async fn serve<I, S, F, B, D>(
    conn: &mut Conn<'_, I>,
    head: RequestHead,
    service: &mut S,
    mut shutdown: Pin<&mut D>,
) -> Result<Next, ServerError>
where
    I: AsyncRead + AsyncWrite + Unpin,
    S: FnMut(Request<RecvBody>) -> F,
    F: Future<Output = Response<B>>,
    B: Body<Data = Bytes>,
    B::Error: Into<BodyError>,
    D: Future<Output = ()>,
{
    let info = RequestInfo {
        head: head.method == Method::HEAD,
        connect: head.method == Method::CONNECT,
        version: head.version,
    };
    let body = match head.framing {
        Framing::Empty => {
            conn.reader = Reader::Idle;
            RecvBody::empty()
        }
        framing => {
            let length = match framing {
                Framing::Length(n) => Some(n),
                _ => None,
            };
            let (tx, body) = RecvBody::channel(length);
            conn.reader = Reader::Body(BodyReader::new(BodyDecoder::new(framing), tx));
            body
        }
    };
    let mut request = Request::new(body);
    *request.method_mut() = head.method;
    *request.uri_mut() = head.uri;
    *request.version_mut() = head.version;
    *request.headers_mut() = head.headers;
    let pending_upgrade = head.upgrade.then(|| {
        let (pending, on_upgrade) = upgrade::pending();
        request.extensions_mut().insert(on_upgrade);
        pending
    });
    let mut expect = if head.expect_continue {
        Continue::Awaiting
    } else {
        Continue::No
    };

    // Scoped: the service future's memory is reused for writing the response.
    let response = {
        let mut future = pin!(service(request));
        poll_fn(|cx| {
            conn.poll_signal(cx, shutdown.as_mut());
            conn.pump(cx);
            if conn.peer_closed {
                return Poll::Ready(Err(ServerError::Incomplete));
            }
            if let Err(error) = poll_continue(conn, cx, &mut expect) {
                return Poll::Ready(Err(error.into()));
            }
            future.as_mut().poll(cx).map(Ok)
        })
        .await?
    };

    // The body turned out malformed before the response started: the service answered a
    // request it could not read, so the server answers it (RFC 9112 §6.3, §7.1) instead.
    if let Reader::Malformed(error) = conn.reader {
        drop(response);
        let interim = match expect {
            Continue::Writing(written) => &CONTINUE[written..],
            _ => &[],
        };
        return Ok(Next::MalformedBody { error, interim });
    }

    let mut close = !head.keep_alive || conn.draining;
    let interim = match expect {
        Continue::Writing(written) => &CONTINUE[written..],
        // The client may or may not send the body it was waiting to send: do not reuse.
        Continue::Awaiting => {
            close |= !matches!(conn.reader, Reader::Idle);
            &[]
        }
        Continue::No | Continue::Flushing => &[],
    };
    close |= match &conn.reader {
        Reader::Idle => false,
        Reader::Broken | Reader::Malformed(_) => true,
        Reader::Body(body) => body.remaining().is_some_and(|left| {
            left.saturating_sub(conn.rbuf.len() as u64) > conn.options.max_drain_bytes
        }),
    };
    write_response(
        conn,
        info,
        response,
        pending_upgrade,
        close,
        interim,
        shutdown,
    )
    .await
}

/// Writes `100 Continue` once the service wants the body (never after the response began).
fn poll_continue<I: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<'_, I>,
    cx: &mut Context<'_>,
    expect: &mut Continue,
) -> io::Result<()> {
    loop {
        match *expect {
            Continue::No => return Ok(()),
            Continue::Awaiting => match &conn.reader {
                Reader::Body(body) if body.is_wanted(cx) => *expect = Continue::Writing(0),
                _ => return Ok(()),
            },
            Continue::Writing(written) => {
                match Pin::new(&mut conn.io).poll_write(cx, &CONTINUE[written..]) {
                    Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                    Poll::Ready(Ok(n)) if written + n == CONTINUE.len() => {
                        *expect = Continue::Flushing;
                    }
                    Poll::Ready(Ok(n)) => *expect = Continue::Writing(written + n),
                    Poll::Ready(Err(error)) => return Err(error),
                    Poll::Pending => return Ok(()),
                }
            }
            Continue::Flushing => match conn.poll_flush(cx) {
                Poll::Ready(Ok(())) => *expect = Continue::No,
                Poll::Ready(Err(error)) => return Err(error),
                Poll::Pending => return Ok(()),
            },
        }
    }
}

/// Writes head and body, reading the request body meanwhile.
async fn write_response<I, B, D>(
    conn: &mut Conn<'_, I>,
    info: RequestInfo,
    response: Response<B>,
    pending_upgrade: Option<PendingUpgrade>,
    close: bool,
    interim: &[u8],
    mut shutdown: Pin<&mut D>,
) -> Result<Next, ServerError>
where
    I: AsyncRead + AsyncWrite + Unpin,
    B: Body<Data = Bytes>,
    B::Error: Into<BodyError>,
    D: Future<Output = ()>,
{
    let (mut parts, body) = response.into_parts();
    let upgrading = pending_upgrade.is_some()
        && matches!(conn.reader, Reader::Idle)
        && (parts.status == StatusCode::SWITCHING_PROTOCOLS
            || (info.connect && parts.status.is_success()));
    let mut body = pin!(body);
    // Room for the head and, when small and known, the whole body: one buffer, one write.
    let small_body = body.size_hint().exact().filter(|&n| n <= WRITE_AT as u64);
    let capacity =
        interim.len() + 128 + 40 * parts.headers.len() + small_body.unwrap_or(0) as usize;
    let mut out = BytesMut::with_capacity(capacity);
    out.extend_from_slice(interim);
    let (mut encoder, close) = response::encode_head(
        &mut parts,
        info,
        &body.size_hint(),
        close,
        upgrading,
        &mut out,
    );
    drop(parts);
    let mut big: Option<Bytes> = None;
    let copy_limit = response::copy_limit(conn.io.is_write_vectored());

    // A failure of the body is reported after writing what came before it.
    let mut failed = None;
    if encoder != Encoder::None {
        // Fast path: take what the body has ready, so a small response goes out in one write.
        failed = poll_fn(|cx| {
            let result = if body.is_end_stream() {
                encoder
                    .finish(&mut out)
                    .map_err(|_| ServerError::BodyLength)
            } else {
                take_ready(
                    body.as_mut(),
                    cx,
                    &mut encoder,
                    &mut out,
                    &mut big,
                    copy_limit,
                )
            };
            Poll::Ready(result.err())
        })
        .await;
    }
    loop {
        poll_fn(|cx| {
            conn.poll_signal(cx, shutdown.as_mut());
            conn.pump(cx);
            conn.poll_write_all(cx, &mut out, &mut big)
        })
        .await?;
        if let Some(error) = failed {
            let _ = poll_fn(|cx| conn.poll_flush(cx)).await;
            return Err(error);
        }
        if matches!(encoder, Encoder::None | Encoder::Done) {
            break;
        }
        poll_fn(|cx| {
            conn.pump(cx);
            conn.poll_flush(cx)
        })
        .await?;
        // Wait for the next frame, then take everything else that is ready.
        failed = poll_fn(|cx| {
            conn.poll_signal(cx, shutdown.as_mut());
            conn.pump(cx);
            if conn.peer_closed {
                return Poll::Ready(Some(ServerError::Incomplete));
            }
            let frame = std::task::ready!(body.as_mut().poll_frame(cx));
            let result =
                encode(&mut encoder, frame, &mut out, &mut big, copy_limit).and_then(|()| {
                    take_ready(
                        body.as_mut(),
                        cx,
                        &mut encoder,
                        &mut out,
                        &mut big,
                        copy_limit,
                    )
                });
            Poll::Ready(result.err())
        })
        .await;
    }
    poll_fn(|cx| conn.poll_flush(cx)).await?;

    if let (true, Some(pending)) = (upgrading, pending_upgrade) {
        return Ok(Next::Upgrade(pending));
    }
    let reusable =
        !matches!(conn.reader, Reader::Broken | Reader::Malformed(_)) && !conn.peer_closed;
    Ok(if close || conn.draining || !reusable {
        Next::Close
    } else {
        Next::KeepAlive
    })
}

/// Write buffers this large go out before more of the body is taken.
const WRITE_AT: usize = 16 * 1024;

/// Encodes the body frames that are ready, until the write buffer is worth writing.
fn take_ready<B>(
    mut body: Pin<&mut B>,
    cx: &mut Context<'_>,
    encoder: &mut Encoder,
    out: &mut BytesMut,
    big: &mut Option<Bytes>,
    copy_limit: usize,
) -> Result<(), ServerError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BodyError>,
{
    while *encoder != Encoder::Done && big.is_none() && out.len() < WRITE_AT {
        match body.as_mut().poll_frame(cx) {
            Poll::Ready(frame) => encode(encoder, frame, out, big, copy_limit)?,
            Poll::Pending => break,
        }
    }
    Ok(())
}

/// Encodes one polled body frame (or the end of the body) into the write buffer.
fn encode<E: Into<BodyError>>(
    encoder: &mut Encoder,
    frame: Option<Result<http_body::Frame<Bytes>, E>>,
    out: &mut BytesMut,
    big: &mut Option<Bytes>,
    copy_limit: usize,
) -> Result<(), ServerError> {
    let result = match frame {
        None => encoder.finish(out),
        Some(Ok(frame)) => match frame.into_data() {
            Ok(data) => encoder.data(data, out, big, copy_limit),
            Err(frame) => match frame.into_trailers() {
                Ok(trailers) => encoder.trailers(&trailers, out),
                Err(_) => Ok(()),
            },
        },
        Some(Err(error)) => return Err(ServerError::ResponseBody(error.into())),
    };
    result.map_err(|_| ServerError::BodyLength)
}

impl<I: AsyncRead + AsyncWrite + Unpin> Conn<'_, I> {
    /// Notes the shutdown signal (once): the connection closes after the current exchange.
    pub(super) fn poll_signal<D: Future<Output = ()>>(
        &mut self,
        cx: &mut Context<'_>,
        shutdown: Pin<&mut D>,
    ) {
        if !self.draining && shutdown.poll(cx).is_ready() {
            self.draining = true;
        }
    }
}
