//! The connection's byte plumbing: reads through a thread-local scratch buffer (no read buffer
//! exists while no bytes are pending), the request body pump that runs beside the service and
//! the response, and buffered writes.

use super::body::{BodySender, Ready, RecvBodyError};
use super::head::{self, HeadError};
use super::{HeadEvent, ServerOptions};
use crate::codec::{BodyDecoder, DecodeError, Decoded};
use bytes::{Buf, Bytes, BytesMut};
use http::HeaderMap;
use http_body::Frame;
use std::cell::RefCell;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Size of the per-thread buffer reads land in before their bytes are copied out.
const SCRATCH_LEN: usize = 16 * 1024;

thread_local! {
    static SCRATCH: RefCell<[u8; SCRATCH_LEN]> = const { RefCell::new([0; SCRATCH_LEN]) };
}

/// Reads once from `io` and appends what arrived to `buf`. An empty `buf` is replaced by a
/// fresh one of exactly the bytes received, so an idle connection holds no buffer.
pub(super) fn poll_read_some<I: AsyncRead + Unpin>(
    io: &mut I,
    buf: &mut BytesMut,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut scratch) => read_via(io, &mut scratch[..], buf, cx),
        // Re-entered from inside a read (an `io` that is itself served by this crate).
        Err(_) => read_via(io, &mut vec![0; SCRATCH_LEN], buf, cx),
    })
}

fn read_via<I: AsyncRead + Unpin>(
    io: &mut I,
    scratch: &mut [u8],
    buf: &mut BytesMut,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    let mut read = ReadBuf::new(scratch);
    ready!(Pin::new(io).poll_read(cx, &mut read))?;
    let got = read.filled();
    if buf.is_empty() {
        *buf = BytesMut::from(got);
    } else {
        buf.extend_from_slice(got);
    }
    Poll::Ready(Ok(got.len()))
}

/// What the connection reads, beside writing, while a request is in progress.
#[derive(Debug)]
pub(super) enum Reader {
    /// No body to read (none, or all of it read): only watch for the peer closing.
    Idle,
    /// A request body is being read and handed to the service.
    Body(BodyReader),
    /// Reading failed (I/O, EOF in a body, a refused head): the connection cannot be reused.
    Broken,
    /// The request body is malformed: `400` unless a response has started, then close.
    Malformed(DecodeError),
}

/// A request body in progress.
#[derive(Debug)]
pub(super) struct BodyReader {
    decoder: BodyDecoder,
    /// `None` once the service dropped the body: the rest is drained after the response.
    tx: Option<BodySender>,
    /// A frame decoded ahead, waiting for room in the body's slot.
    held: Held,
}

impl BodyReader {
    /// A reader decoding with `decoder` into the body behind `tx`.
    pub(super) fn new(decoder: BodyDecoder, tx: BodySender) -> Self {
        BodyReader {
            decoder,
            tx: Some(tx),
            held: Held::Nothing,
        }
    }

    /// Body bytes still expected, when known (`Content-Length` bodies).
    pub(super) fn remaining(&self) -> Option<u64> {
        self.decoder.remaining()
    }

    /// Whether the service has started reading (time to send `100 Continue`).
    pub(super) fn is_wanted(&self, cx: &Context<'_>) -> bool {
        self.tx.as_ref().is_some_and(|tx| tx.is_wanted(cx))
    }
}

/// A decoded frame not yet handed over (trailers boxed: they are rare and large).
#[derive(Debug)]
enum Held {
    Nothing,
    Data(Bytes),
    Trailers(Box<HeaderMap>),
}

impl Held {
    fn take(&mut self) -> Option<Frame<Bytes>> {
        match std::mem::replace(self, Held::Nothing) {
            Held::Nothing => None,
            Held::Data(data) => Some(Frame::data(data)),
            Held::Trailers(trailers) => Some(Frame::trailers(*trailers)),
        }
    }
}

/// One downstream connection's I/O state.
pub(super) struct Conn<'o, I> {
    pub io: I,
    pub options: &'o ServerOptions,
    /// Bytes read and not consumed yet; holds no allocation while empty.
    pub rbuf: BytesMut,
    pub reader: Reader,
    /// The shutdown signal fired: finish what is in progress, then close.
    pub draining: bool,
    /// The peer closed its side while a request was in progress.
    pub peer_closed: bool,
}

impl<I: AsyncRead + AsyncWrite + Unpin> Conn<'_, I> {
    /// Drops the read buffer's allocation when no bytes are pending.
    pub(super) fn release_empty_buffer(&mut self) {
        if self.rbuf.is_empty() {
            self.rbuf = BytesMut::new();
        }
    }

    /// Reads until a complete request head is buffered and parses it. `scanned`: how much of
    /// the buffer was already searched for the head's end (0 for a new head).
    pub(super) fn poll_head(
        &mut self,
        cx: &mut Context<'_>,
        scanned: &mut usize,
    ) -> Poll<HeadEvent> {
        let (max_bytes, max_headers) = (self.options.max_head_bytes, self.options.max_headers);
        loop {
            if *scanned == 0 {
                head::skip_empty_lines(&mut self.rbuf);
            }
            if !self.rbuf.is_empty() {
                if let Some(end) = crate::codec::find_head_end(&self.rbuf, *scanned) {
                    if end > max_bytes {
                        return Poll::Ready(HeadEvent::Reject(HeadError::TooLarge));
                    }
                    let bytes = self.rbuf.split_to(end).freeze();
                    self.release_empty_buffer();
                    return Poll::Ready(match head::parse(&bytes, max_headers) {
                        Ok(head) => HeadEvent::Head(head),
                        Err(error) => HeadEvent::Reject(error),
                    });
                }
                if self.rbuf.len() > max_bytes {
                    return Poll::Ready(HeadEvent::Reject(HeadError::TooLarge));
                }
                if *scanned == 0 {
                    // Refuse what is already invalid (a TLS hello, garbage) without waiting.
                    if let Err(error) = head::check_partial(&self.rbuf, max_headers) {
                        return Poll::Ready(HeadEvent::Reject(error));
                    }
                }
                *scanned = self.rbuf.len();
            }
            match ready!(poll_read_some(&mut self.io, &mut self.rbuf, cx)) {
                Ok(0) if self.rbuf.is_empty() => return Poll::Ready(HeadEvent::Closed),
                Ok(0) => return Poll::Ready(HeadEvent::Eof),
                Ok(_) => {}
                Err(error)
                    if self.rbuf.is_empty() && error.kind() == io::ErrorKind::ConnectionReset =>
                {
                    return Poll::Ready(HeadEvent::Closed)
                }
                Err(error) => return Poll::Ready(HeadEvent::Io(error)),
            }
        }
    }

    /// Moves the request body along: hands decoded frames to the service's body (one in its
    /// slot, one held here), reading more only when there is room. Without a body, watches for
    /// the peer closing (and buffers what a pipelining client sends next).
    pub(super) fn pump(&mut self, cx: &mut Context<'_>) {
        let Reader::Body(body) = &mut self.reader else {
            return self.watch(cx);
        };
        loop {
            let Some(tx) = body.tx.as_ref() else { return };
            let ready = tx.poll_ready(cx);
            if ready == Ready::Gone {
                body.tx = None;
                body.held = Held::Nothing;
                return;
            }
            if ready == Ready::Full && !matches!(body.held, Held::Nothing) {
                return;
            }
            if let Some(frame) = body.held.take() {
                tx.send(Ok(frame));
                continue;
            }
            let failure = match body.decoder.decode(&mut self.rbuf) {
                Ok(Some(Decoded::Data(data))) => {
                    body.held = Held::Data(data);
                    continue;
                }
                Ok(Some(Decoded::Trailers(trailers))) => {
                    body.held = Held::Trailers(Box::new(trailers));
                    continue;
                }
                Ok(Some(Decoded::End)) => {
                    if let Some(tx) = body.tx.take() {
                        tx.finish();
                    }
                    self.reader = Reader::Idle;
                    self.release_empty_buffer();
                    return self.watch(cx);
                }
                // Backpressure: read more only once the body took what it was given.
                Ok(None) if ready == Ready::Full => return,
                Ok(None) => match poll_read_some(&mut self.io, &mut self.rbuf, cx) {
                    Poll::Pending => return,
                    Poll::Ready(Ok(0)) => match body.decoder.eof() {
                        Ok(_) => continue,
                        // The client closed (or half-closed) before the body ended.
                        Err(_) => RecvBodyError::Closed(None),
                    },
                    Poll::Ready(Ok(_)) => continue,
                    Poll::Ready(Err(error)) => RecvBodyError::Closed(Some(error)),
                },
                Err(error) => RecvBodyError::Malformed(error),
            };
            tracing::debug!(error = %failure, "request body failed");
            let tx = body.tx.take();
            self.reader = match failure {
                RecvBodyError::Malformed(error) => Reader::Malformed(error),
                _ => Reader::Broken,
            };
            if let Some(tx) = tx {
                tx.fail(failure);
            }
            return;
        }
    }

    /// Between the end of the request body and the end of the response: notice a peer that
    /// goes away (its request is then abandoned, as hyper does without half-close support).
    fn watch(&mut self, cx: &mut Context<'_>) {
        if !matches!(self.reader, Reader::Idle) || self.peer_closed || !self.rbuf.is_empty() {
            return;
        }
        match poll_read_some(&mut self.io, &mut self.rbuf, cx) {
            Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => self.peer_closed = true,
            Poll::Ready(Ok(_)) | Poll::Pending => {}
        }
    }

    /// Writes all of `head` then all of `data` (one vectored write when the stream supports it).
    pub(super) fn poll_write_all(
        &mut self,
        cx: &mut Context<'_>,
        head: &mut BytesMut,
        data: &mut Option<Bytes>,
    ) -> Poll<io::Result<()>> {
        loop {
            let data_len = data.as_ref().map_or(0, Bytes::len);
            let io = Pin::new(&mut self.io);
            let n = match data.as_ref() {
                _ if head.is_empty() && data_len == 0 => {
                    *data = None;
                    return Poll::Ready(Ok(()));
                }
                Some(bytes) if !head.is_empty() && data_len > 0 && io.is_write_vectored() => {
                    let slices = [IoSlice::new(head), IoSlice::new(bytes)];
                    ready!(io.poll_write_vectored(cx, &slices))?
                }
                Some(bytes) if head.is_empty() => ready!(io.poll_write(cx, bytes))?,
                _ => ready!(io.poll_write(cx, head))?,
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            let from_head = n.min(head.len());
            head.advance(from_head);
            if let Some(bytes) = data.as_mut() {
                bytes.advance(n - from_head);
            }
        }
    }

    /// Flushes the stream (TLS keeps records until flushed).
    pub(super) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Reads and discards what remains of the request body, up to `budget` bytes. `Ready(true)`:
    /// the body ended and the connection can carry another request.
    pub(super) fn poll_drain(&mut self, cx: &mut Context<'_>, budget: &mut u64) -> Poll<bool> {
        let Reader::Body(body) = &mut self.reader else {
            return Poll::Ready(matches!(self.reader, Reader::Idle));
        };
        // Nobody reads the rest: the body (if still held somewhere) ends with an error.
        body.tx = None;
        body.held = Held::Nothing;
        loop {
            match body.decoder.decode(&mut self.rbuf) {
                Ok(Some(Decoded::Data(data))) => match budget.checked_sub(data.len() as u64) {
                    Some(left) => *budget = left,
                    None => return Poll::Ready(false),
                },
                Ok(Some(Decoded::Trailers(_) | Decoded::End)) => {
                    self.reader = Reader::Idle;
                    self.release_empty_buffer();
                    return Poll::Ready(true);
                }
                Ok(None) => match ready!(poll_read_some(&mut self.io, &mut self.rbuf, cx)) {
                    Ok(n) if n > 0 => {}
                    _ => return Poll::Ready(false),
                },
                Err(_) => return Poll::Ready(false),
            }
        }
    }

    /// Reads and discards until the peer closes or `budget` bytes went by (a lingering close:
    /// closing with unread bytes would reset the connection and could destroy the response).
    pub(super) fn poll_discard(&mut self, cx: &mut Context<'_>, budget: &mut u64) -> Poll<()> {
        loop {
            let pending = self.rbuf.len() as u64;
            self.rbuf = BytesMut::new();
            match budget.checked_sub(pending) {
                Some(left) => *budget = left,
                None => return Poll::Ready(()),
            }
            match ready!(poll_read_some(&mut self.io, &mut self.rbuf, cx)) {
                Ok(n) if n > 0 => {}
                _ => return Poll::Ready(()),
            }
        }
    }
}
