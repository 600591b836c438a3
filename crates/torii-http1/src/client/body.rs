//! The response body: decoded straight from the connection inside `poll_frame`, zero copy,
//! while the rest of the request body is written; the connection goes back to the pool at the
//! end.

use super::error::ResponseBodyError;
use super::write::{WriteError, Writer};
use super::{poll_read_buf, ClientConnection, Release};
use crate::codec::{BodyDecoder, BodyError, Decoded, Framing};
use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite};

/// The body of an upstream response. Reading it also finishes writing the request body; when
/// it ends cleanly on a keep-alive connection, the connection is handed to the [`Release`].
/// Dropping it before the end closes the connection.
pub struct ResponseBody<I, B> {
    /// Boxed: the connection, writer and decoder are a few hundred bytes that would otherwise
    /// be copied each time a response moves through the proxy's stages (measured: one
    /// allocation costs fewer instructions than those copies).
    streaming: Option<Box<Streaming<I, B>>>,
}

struct Streaming<I, B> {
    conn: ClientConnection<I>,
    writer: Writer<B>,
    decoder: BodyDecoder,
    /// The connection may carry another request once both messages are complete.
    reusable: bool,
    release: Release<I>,
}

impl<I, B> std::fmt::Debug for ResponseBody<I, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("streaming", &self.streaming.is_some())
            .finish()
    }
}

impl<I, B> ResponseBody<I, B> {
    /// A body with nothing in it (HEAD, 204, 304, 101).
    pub(super) fn empty() -> Self {
        ResponseBody { streaming: None }
    }

    pub(super) fn streaming(
        conn: ClientConnection<I>,
        writer: Writer<B>,
        framing: Framing,
        reusable: bool,
        release: Release<I>,
    ) -> Self {
        ResponseBody {
            streaming: Some(Box::new(Streaming {
                conn,
                writer,
                decoder: BodyDecoder::new(framing),
                reusable,
                release,
            })),
        }
    }

    /// The response ended: the connection goes back to the pool if it can carry another
    /// request, else it is closed.
    fn finish(&mut self) {
        let Some(streaming) = self.streaming.take() else {
            return;
        };
        let Streaming {
            mut conn,
            writer,
            reusable,
            release,
            ..
        } = *streaming;
        if reusable && writer.is_done() && conn.read_buf.is_empty() {
            drop(writer);
            conn.read_buf = BytesMut::new(); // hold no memory while idle
            release.recycle(conn);
        }
    }
}

impl<I, B> Streaming<I, B>
where
    I: AsyncRead + AsyncWrite + Unpin,
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BodyError>,
{
    fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ResponseBodyError>>> {
        if self.writer.is_active() {
            match self.writer.poll(&mut self.conn.io, cx) {
                Poll::Ready(Ok(())) | Poll::Pending => {}
                // The upstream may stop reading once it has answered: keep reading.
                Poll::Ready(Err(WriteError::Io(_))) => {
                    self.writer.abandon();
                    self.reusable = false;
                }
                Poll::Ready(Err(WriteError::Body(error))) => {
                    return Poll::Ready(Some(Err(ResponseBodyError::RequestBody(error))))
                }
                Poll::Ready(Err(WriteError::Length)) => {
                    return Poll::Ready(Some(Err(ResponseBodyError::RequestLength)))
                }
            }
        }
        loop {
            match self.decoder.decode(&mut self.conn.read_buf) {
                Ok(Some(Decoded::Data(data))) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                Ok(Some(Decoded::Trailers(trailers))) => {
                    return Poll::Ready(Some(Ok(Frame::trailers(trailers))))
                }
                Ok(Some(Decoded::End)) => return Poll::Ready(None),
                Ok(None) => {}
                Err(error) => return Poll::Ready(Some(Err(ResponseBodyError::Decode(error)))),
            }
            match ready!(poll_read_buf(
                &mut self.conn.io,
                cx,
                &mut self.conn.read_buf
            )) {
                Ok(0) => {
                    self.reusable = false;
                    return Poll::Ready(match self.decoder.eof() {
                        Ok(_) => None,
                        Err(error) => Some(Err(ResponseBodyError::Decode(error))),
                    });
                }
                Ok(_) => {}
                Err(error) => return Poll::Ready(Some(Err(ResponseBodyError::Io(error)))),
            }
        }
    }
}

impl<I, B> Body for ResponseBody<I, B>
where
    I: AsyncRead + AsyncWrite + Unpin,
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BodyError>,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        let Some(streaming) = this.streaming.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = ready!(streaming.poll_frame(cx));
        match &polled {
            // A length-delimited body is complete with its last byte: release at once, so
            // `is_end_stream` turns true without another poll.
            Some(Ok(_)) if streaming.decoder.is_done() => this.finish(),
            Some(Ok(_)) => {}
            None => this.finish(),
            Some(Err(_)) => this.streaming = None,
        }
        Poll::Ready(polled.map(|frame| frame.map_err(Into::into)))
    }

    fn is_end_stream(&self) -> bool {
        self.streaming.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match &self.streaming {
            None => SizeHint::with_exact(0),
            Some(streaming) => match streaming.decoder.remaining() {
                Some(remaining) => SizeHint::with_exact(remaining),
                None => SizeHint::default(),
            },
        }
    }
}
