//! Writing a request: the head, then the body framed with `Content-Length` or chunked, in as
//! few write calls as possible. Polled while waiting for the response head and while the
//! response body is read, so an upstream that answers as it reads (an echo) never deadlocks.

use crate::codec::{write_chunk_header, write_last_chunk, BodyError, CHUNK_END};
use bytes::{Buf, Bytes, BytesMut};
use http_body::{Body, Frame};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::AsyncWrite;

/// Data up to this size is copied next to its chunk line (one buffer, fewer iovecs); larger
/// pieces are written from their own buffer.
pub(super) const COPY_MAX: usize = 8 * 1024;
/// Small frames are coalesced into one write until this much is queued.
const COALESCE_MAX: usize = 64 * 1024;
/// Frames taken from the body in one poll before yielding (fairness with the read side).
const MAX_FRAMES_PER_POLL: usize = 32;

/// How the request body goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoding {
    /// Raw bytes; this many are still to come.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// Writing the request body failed.
#[derive(Debug)]
pub(super) enum WriteError {
    /// The connection failed.
    Io(io::Error),
    /// The body yielded an error.
    Body(BodyError),
    /// The body is longer or shorter than its `Content-Length`.
    Length,
}

/// The request being written: queued bytes and the body still to poll.
pub(super) struct Writer<B> {
    /// Head, chunk lines and small data; written first.
    buf: BytesMut,
    /// A large piece of data, written after `buf`.
    data: Bytes,
    /// What follows `data` (CRLF after a chunk).
    suffix: &'static [u8],
    /// Kept until the exchange ends so an untouched request can be handed back.
    body: Option<B>,
    encoding: Encoding,
    /// The body still has frames to poll.
    streaming: bool,
    /// The body yielded something (the request cannot be sent again).
    polled: bool,
    unflushed: bool,
    /// Everything written and flushed.
    done: bool,
    /// Writing stopped after an error.
    failed: bool,
}

impl<B> Writer<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BodyError>,
{
    /// A writer sending `head`, then `body` encoded as `encoding` (`None`: no body on the wire).
    pub(super) fn new(head: BytesMut, body: B, encoding: Option<Encoding>) -> Self {
        let streaming = matches!(encoding, Some(Encoding::Chunked))
            || matches!(encoding, Some(Encoding::Length(n)) if n > 0);
        Writer {
            buf: head,
            data: Bytes::new(),
            suffix: b"",
            body: Some(body),
            encoding: encoding.unwrap_or(Encoding::Length(0)),
            streaming,
            polled: false,
            unflushed: false,
            done: false,
            failed: false,
        }
    }
}

impl<B> Writer<B> {
    /// The whole request was written and flushed.
    pub(super) fn is_done(&self) -> bool {
        self.done
    }

    /// Still something to write or poll.
    pub(super) fn is_active(&self) -> bool {
        !self.done && !self.failed
    }

    /// Bytes are queued but not written yet.
    pub(super) fn has_pending(&self) -> bool {
        !self.buf.is_empty() || !self.data.is_empty() || !self.suffix.is_empty()
    }

    /// Stops writing (after an error); the connection cannot be reused.
    pub(super) fn abandon(&mut self) {
        self.failed = true;
    }

    /// The body, if it never yielded a frame (so the request can be sent again).
    pub(super) fn take_untouched_body(&mut self) -> Option<B> {
        if self.polled {
            None
        } else {
            self.body.take()
        }
    }
}

impl<B> Writer<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BodyError>,
{
    /// Writes what is queued, polls the body for more, and flushes. `Ready(Ok)`: the whole
    /// request is on the wire.
    pub(super) fn poll<I: AsyncWrite + Unpin>(
        &mut self,
        io: &mut I,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), WriteError>> {
        let vectored = io.is_write_vectored();
        let mut frames = 0;
        let mut body_pending = false;
        loop {
            // Take frames while there is room, so the head and the first frame (or several
            // small frames) leave in one write.
            if self.streaming
                && !body_pending
                && self.data.is_empty()
                && self.buf.len() < COALESCE_MAX
            {
                if frames == MAX_FRAMES_PER_POLL {
                    cx.waker().wake_by_ref();
                    body_pending = true;
                } else if let Some(body) = self.body.as_mut() {
                    match Pin::new(body).poll_frame(cx) {
                        Poll::Ready(Some(Ok(frame))) => {
                            self.polled = true;
                            frames += 1;
                            self.encode(frame, vectored)?;
                            continue;
                        }
                        Poll::Ready(Some(Err(error))) => {
                            self.polled = true;
                            return Poll::Ready(Err(WriteError::Body(error.into())));
                        }
                        Poll::Ready(None) => {
                            self.end(None)?;
                            continue;
                        }
                        Poll::Pending => body_pending = true,
                    }
                }
            }
            if self.has_pending() {
                ready!(self.poll_write_queued(io, cx)).map_err(WriteError::Io)?;
                continue;
            }
            if self.unflushed {
                ready!(Pin::new(&mut *io).poll_flush(cx)).map_err(WriteError::Io)?;
                self.unflushed = false;
            }
            if !self.streaming {
                self.done = true;
                self.buf = BytesMut::new(); // nothing more to write: free the head's memory now
                return Poll::Ready(Ok(()));
            }
            return Poll::Pending;
        }
    }

    fn encode(&mut self, frame: Frame<Bytes>, vectored: bool) -> Result<(), WriteError> {
        let data = match frame.into_data() {
            Ok(data) => data,
            Err(frame) => {
                return match frame.into_trailers() {
                    Ok(trailers) => self.end(Some(&trailers)),
                    Err(_) => Ok(()), // an unknown kind of frame: nothing to send
                };
            }
        };
        if data.is_empty() {
            return Ok(());
        }
        let suffix: &'static [u8] = match &mut self.encoding {
            Encoding::Length(remaining) => {
                let len = data.len() as u64;
                if len > *remaining {
                    return Err(WriteError::Length);
                }
                *remaining -= len;
                if *remaining == 0 {
                    self.streaming = false;
                }
                b""
            }
            Encoding::Chunked => {
                write_chunk_header(data.len(), &mut self.buf);
                CHUNK_END
            }
        };
        if data.len() <= COPY_MAX || (!vectored && data.len() <= COALESCE_MAX) {
            self.buf.extend_from_slice(&data);
            self.buf.extend_from_slice(suffix);
        } else {
            self.data = data;
            self.suffix = suffix;
        }
        Ok(())
    }

    /// The body ended (with trailers, for a chunked body).
    fn end(&mut self, trailers: Option<&http::HeaderMap>) -> Result<(), WriteError> {
        self.streaming = false;
        match self.encoding {
            Encoding::Chunked => write_last_chunk(trailers, &mut self.buf),
            // Trailers cannot follow a body with a Content-Length: they are dropped.
            Encoding::Length(0) => {}
            Encoding::Length(_) => return Err(WriteError::Length),
        }
        Ok(())
    }

    fn poll_write_queued<I: AsyncWrite + Unpin>(
        &mut self,
        io: &mut I,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        while self.has_pending() {
            let mut io = Pin::new(&mut *io);
            let n = if io.is_write_vectored() {
                let slices = [
                    IoSlice::new(&self.buf),
                    IoSlice::new(&self.data),
                    IoSlice::new(self.suffix),
                ];
                ready!(io.as_mut().poll_write_vectored(cx, &slices))?
            } else if !self.buf.is_empty() {
                ready!(io.as_mut().poll_write(cx, &self.buf))?
            } else if !self.data.is_empty() {
                ready!(io.as_mut().poll_write(cx, &self.data))?
            } else {
                ready!(io.as_mut().poll_write(cx, self.suffix))?
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.consume(n);
            self.unflushed = true;
        }
        Poll::Ready(Ok(()))
    }

    fn consume(&mut self, mut n: usize) {
        let from_buf = n.min(self.buf.len());
        self.buf.advance(from_buf);
        n -= from_buf;
        let from_data = n.min(self.data.len());
        self.data.advance(from_data);
        n -= from_data;
        self.suffix = &self.suffix[n.min(self.suffix.len())..];
    }
}
