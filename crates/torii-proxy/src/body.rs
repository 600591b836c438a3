//! Body types: what goes upstream and what goes back downstream.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;
use torii_http1::server::RecvBody;

/// The error type of proxied bodies.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// A response body sent downstream: an upstream body streamed through, or a local answer.
// Not boxed: the upstream variant is what nearly every response is, and boxing it would cost
// an allocation per request; the enum lives in the request's own (already boxed) state.
#[allow(clippy::large_enum_variant)]
pub enum ResponseBody {
    /// Streamed from the upstream response.
    Upstream(crate::upstream::UpstreamBody),
    /// A complete local body (errors, redirects, CORS preflights).
    Full(Option<Bytes>),
    /// Streamed from the upstream response while a bounded copy is captured for a comparison
    /// (boxed: only compared requests pay for it).
    Captured(Box<CaptureBody>),
}

/// An upstream body passed through while it is captured (up to a limit, hashed beyond); the
/// captured response goes to the comparison when the body ends cleanly. A body cut short
/// (client gone, upstream error) sends nothing: that comparison is abandoned.
pub struct CaptureBody {
    inner: crate::upstream::UpstreamBody,
    capture: Option<torii_compare::BodyCapture>,
    head: Option<(u16, http::HeaderMap)>,
    sink: Option<tokio::sync::oneshot::Sender<torii_compare::CapturedResponse>>,
}

impl CaptureBody {
    /// Captures `inner`, the body of a response with `status` and `headers`.
    pub fn new(
        inner: crate::upstream::UpstreamBody,
        status: u16,
        headers: http::HeaderMap,
        limit: usize,
        sink: tokio::sync::oneshot::Sender<torii_compare::CapturedResponse>,
    ) -> Self {
        let mut body = CaptureBody {
            inner,
            capture: Some(torii_compare::BodyCapture::new(limit)),
            head: Some((status, headers)),
            sink: Some(sink),
        };
        // An empty body may never be polled: deliver at once.
        if body.inner.is_end_stream() {
            body.deliver();
        }
        body
    }

    fn deliver(&mut self) {
        if let (Some(capture), Some((status, headers)), Some(sink)) =
            (self.capture.take(), self.head.take(), self.sink.take())
        {
            let _ = sink.send(torii_compare::CapturedResponse {
                status,
                headers,
                body: capture.finish(),
            });
        }
    }
}

impl ResponseBody {
    /// An empty body.
    pub fn empty() -> Self {
        ResponseBody::Full(None)
    }

    /// A body of static text.
    pub fn text(text: &'static str) -> Self {
        ResponseBody::Full(Some(Bytes::from_static(text.as_bytes())))
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            ResponseBody::Upstream(body) => Pin::new(body).poll_frame(cx),
            ResponseBody::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            ResponseBody::Captured(captured) => {
                let polled = Pin::new(&mut captured.inner).poll_frame(cx);
                match &polled {
                    Poll::Ready(Some(Ok(frame))) => {
                        if let (Some(data), Some(capture)) =
                            (frame.data_ref(), captured.capture.as_mut())
                        {
                            capture.update(data);
                        }
                    }
                    Poll::Ready(None) => captured.deliver(),
                    Poll::Ready(Some(Err(_))) => captured.sink = None,
                    Poll::Pending => {}
                }
                polled.map_err(Into::into)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Upstream(body) => body.is_end_stream(),
            ResponseBody::Full(data) => data.is_none(),
            ResponseBody::Captured(captured) => captured.inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Upstream(body) => body.size_hint(),
            ResponseBody::Captured(captured) => captured.inner.size_hint(),
            ResponseBody::Full(Some(data)) => SizeHint::with_exact(data.len() as u64),
            ResponseBody::Full(None) => SizeHint::with_exact(0),
        }
    }
}

/// A request body as it came from the client: from an HTTP/1.1 connection (torii-http1's
/// server, `Left`) or an HTTP/2 stream (hyper's server, `Right`).
pub type DownstreamBody = http_body_util::Either<RecvBody, Incoming>;

/// One message on a mirror's body channel.
pub enum CopyFrame {
    /// A chunk of the body.
    Data(Bytes),
    /// The body ended cleanly.
    End,
}

/// A request body sent upstream.
pub enum RequestBody {
    /// The downstream body streamed through, optionally copied to mirrors.
    Downstream {
        /// The downstream body.
        body: DownstreamBody,
        /// Mirrors receiving a copy of every data frame; a mirror that falls behind is dropped.
        copies: Vec<mpsc::Sender<CopyFrame>>,
    },
    /// A body known in full (retries, mirror copies of empty bodies).
    Full(Option<Bytes>),
    /// A copy fed by the primary request's body (mirrors).
    Copy(mpsc::Receiver<CopyFrame>),
}

impl RequestBody {
    /// An empty body.
    pub fn empty() -> Self {
        RequestBody::Full(None)
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            RequestBody::Downstream { body, copies } => {
                let polled = Pin::new(body).poll_frame(cx);
                if let Poll::Ready(Some(Ok(frame))) = &polled {
                    if let Some(data) = frame.data_ref() {
                        // A full or closed copy channel means that mirror is slow or gone: it
                        // loses its copy (its body ends early) rather than slowing us down.
                        copies.retain(|tx| tx.try_send(CopyFrame::Data(data.clone())).is_ok());
                    }
                }
                if let Poll::Ready(None) = &polled {
                    for tx in copies.drain(..) {
                        let _ = tx.try_send(CopyFrame::End);
                    }
                }
                polled.map_err(Into::into)
            }
            RequestBody::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            RequestBody::Copy(rx) => match rx.poll_recv(cx) {
                Poll::Ready(Some(CopyFrame::Data(data))) => {
                    Poll::Ready(Some(Ok(Frame::data(data))))
                }
                Poll::Ready(Some(CopyFrame::End)) => Poll::Ready(None),
                // The primary stopped feeding this copy before its end (the copy fell behind or
                // the client went away): the mirrored request must fail, not look complete.
                Poll::Ready(None) => Poll::Ready(Some(Err("mirror body cut off".into()))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RequestBody::Downstream { body, .. } => body.is_end_stream(),
            RequestBody::Full(data) => data.is_none(),
            RequestBody::Copy(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RequestBody::Downstream { body, .. } => body.size_hint(),
            RequestBody::Full(Some(data)) => SizeHint::with_exact(data.len() as u64),
            RequestBody::Full(None) => SizeHint::with_exact(0),
            RequestBody::Copy(_) => SizeHint::default(),
        }
    }
}
