//! Body types: what goes upstream and what goes back downstream.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};
use torii_http1::server::RecvBody;

/// The error type of proxied bodies.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// How a body waits: at most `idle` for each next frame, and never past `deadline` (the
/// request's maximum duration). The timer is armed only when the body has to wait, so a body
/// whose bytes are already there (most) costs no timer.
pub struct Watch {
    idle: Duration,
    deadline: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
    armed: bool,
}

impl Watch {
    /// A watch with these limits.
    pub fn new(idle: Duration, deadline: Instant) -> Self {
        Watch {
            idle,
            deadline,
            sleep: None,
            armed: false,
        }
    }

    /// The body produced a frame: the next wait starts afresh.
    fn progressed(&mut self) {
        self.armed = false;
    }

    /// Called when the body is pending: `Ready` once the wait is over its limit.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.armed {
            let at = (Instant::now() + self.idle).min(self.deadline);
            match &mut self.sleep {
                Some(sleep) => sleep.as_mut().reset(at),
                None => self.sleep = Some(Box::pin(tokio::time::sleep_until(at))),
            }
            self.armed = true;
        }
        match &mut self.sleep {
            Some(sleep) => sleep.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }
}

/// Why a client's request body did not arrive whole: the client's fault, never an origin's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientFault {
    /// The body's framing is invalid (bad chunk, bad trailers, cut short): 400.
    Malformed,
    /// The client stopped sending within the body timeout (or the request's maximum
    /// duration): 408.
    TimedOut,
    /// The client closed or reset its connection or stream mid-body: 499 (logged; nobody is
    /// left to read it).
    Aborted,
}

/// A request body failed on the client's side (carried inside upstream errors so the
/// request path can tell it from an origin's failure).
#[derive(Debug, thiserror::Error)]
#[error("client request body failed ({fault:?})")]
pub struct DownstreamBodyError {
    /// What the client did.
    pub fault: ClientFault,
    #[source]
    source: Option<BodyError>,
}

impl DownstreamBodyError {
    /// A fault with no further cause.
    pub fn new(fault: ClientFault) -> Self {
        DownstreamBodyError {
            fault,
            source: None,
        }
    }

    /// Classifies an error of the downstream body: framing problems are malformed bodies,
    /// anything else (closed, reset) an abort.
    fn classify(error: BodyError) -> Self {
        let mut malformed = false;
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error.as_ref());
        while let Some(current) = cause {
            if current.is::<torii_http1::codec::DecodeError>() {
                malformed = true;
                break;
            }
            cause = current.source();
        }
        DownstreamBodyError {
            fault: if malformed {
                ClientFault::Malformed
            } else {
                ClientFault::Aborted
            },
            source: Some(error),
        }
    }
}

/// When a request body last made progress: an upstream wait counts from there, so a client
/// still uploading is not taken for an origin that does not answer.
#[derive(Debug)]
pub struct BodyProgress {
    base: Instant,
    /// Milliseconds after `base` of the last frame, plus one (0: none yet).
    last: AtomicU64,
    /// The body has ended.
    done: std::sync::atomic::AtomicBool,
}

impl BodyProgress {
    /// No progress yet.
    pub fn new() -> Self {
        BodyProgress {
            base: Instant::now(),
            last: AtomicU64::new(0),
            done: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn finish(&self) {
        self.mark();
        self.done.store(true, Ordering::Relaxed);
    }

    /// Whether the whole body has been read from the client.
    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Relaxed)
    }

    fn mark(&self) {
        let ms = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        self.last.store(ms + 1, Ordering::Relaxed);
    }

    /// When the body last produced a frame, if it did.
    pub fn last(&self) -> Option<Instant> {
        match self.last.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(self.base + Duration::from_millis(ms - 1)),
        }
    }
}

impl Default for BodyProgress {
    fn default() -> Self {
        Self::new()
    }
}

/// An upstream response body went quiet past its idle limit or the request's deadline.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("upstream response body stalled")]
pub struct UpstreamStalled;

/// An upstream response body with its [`Watch`].
pub struct WatchedUpstream {
    body: crate::upstream::UpstreamBody,
    watch: Watch,
}

impl WatchedUpstream {
    /// Watches `body`.
    pub fn new(body: crate::upstream::UpstreamBody, watch: Watch) -> Self {
        WatchedUpstream { body, watch }
    }

    fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match Pin::new(&mut self.body).poll_frame(cx) {
            Poll::Ready(frame) => {
                self.watch.progressed();
                Poll::Ready(frame)
            }
            Poll::Pending => match self.watch.poll_expired(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(UpstreamStalled)))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A response body sent downstream: an upstream body streamed through, or a local answer.
// Not boxed: the upstream variant is what nearly every response is, and boxing it would cost
// an allocation per request; the enum lives in the request's own (already boxed) state.
#[allow(clippy::large_enum_variant)]
pub enum ResponseBody {
    /// Streamed from the upstream response.
    Upstream(WatchedUpstream),
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
    inner: WatchedUpstream,
    capture: Option<torii_compare::BodyCapture>,
    head: Option<(u16, http::HeaderMap)>,
    sink: Option<tokio::sync::oneshot::Sender<torii_compare::CapturedResponse>>,
}

impl CaptureBody {
    /// Captures `inner`, the body of a response with `status` and `headers`.
    pub fn new(
        inner: WatchedUpstream,
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
            ResponseBody::Upstream(body) => body.poll_frame(cx),
            ResponseBody::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            ResponseBody::Captured(captured) => {
                let polled = captured.inner.poll_frame(cx);
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
                polled
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
        /// The body's idle limit and the request's deadline.
        watch: Watch,
        /// Where progress is recorded for the upstream wait.
        progress: Option<Arc<BodyProgress>>,
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
            RequestBody::Downstream {
                body,
                copies,
                watch,
                progress,
            } => {
                let polled = match Pin::new(body).poll_frame(cx) {
                    Poll::Pending => {
                        return match watch.poll_expired(cx) {
                            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(
                                DownstreamBodyError::new(ClientFault::TimedOut),
                            )))),
                            Poll::Pending => Poll::Pending,
                        }
                    }
                    Poll::Ready(polled) => polled,
                };
                watch.progressed();
                match &polled {
                    Some(Ok(frame)) => {
                        if let Some(progress) = progress {
                            progress.mark();
                        }
                        if let Some(data) = frame.data_ref() {
                            // A full or closed copy channel means that mirror is slow or gone:
                            // it loses its copy (its body ends early) rather than slowing us.
                            copies.retain(|tx| tx.try_send(CopyFrame::Data(data.clone())).is_ok());
                        }
                    }
                    None => {
                        if let Some(progress) = progress {
                            progress.finish();
                        }
                        for tx in copies.drain(..) {
                            let _ = tx.try_send(CopyFrame::End);
                        }
                    }
                    Some(Err(_)) => {}
                }
                Poll::Ready(polled.map(|frame| {
                    frame.map_err(|error| {
                        Box::new(DownstreamBodyError::classify(error)) as BodyError
                    })
                }))
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
