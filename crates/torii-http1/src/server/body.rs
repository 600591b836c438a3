//! The request body handed to the service, fed by the connection task.
//!
//! The connection decodes body bytes from the socket while the service runs and passes them
//! through a one-frame slot (plus one frame the connection holds back): it reads more only
//! once the body has taken what was there (backpressure). A body-less request gets
//! [`RecvBody::empty`], which allocates nothing.

use crate::codec::DecodeError;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

/// A request body read from the connection.
#[derive(Debug)]
pub struct RecvBody {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Empty,
    Streaming {
        shared: Arc<Shared>,
        /// Bytes still expected (`Content-Length` bodies).
        remaining: Option<u64>,
        /// `None` was returned (or an error): nothing more comes.
        ended: bool,
    },
}

/// Why a request body ended before its end: the error [`RecvBody`] yields.
///
/// What it means for whoever forwards the body: [`Closed`](Self::Closed) is the client going
/// away (count it as a client abort, 499-style), [`Malformed`](Self::Malformed) is a bad
/// request (the server answers it with `400` itself when no response has started), and
/// neither is the fault of an upstream the body was being sent to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecvBodyError {
    /// The connection ended before the body did: the client closed it (EOF before the last
    /// byte of a `Content-Length` or chunked body), reset it, or reading from it failed (the
    /// I/O error, when there is one, is the source).
    #[error("client closed the connection before the request body ended")]
    Closed(#[source] Option<std::io::Error>),
    /// The body's framing on the wire is malformed: a bad chunk-size line or extension, a
    /// chunk not followed by CRLF, a chunk line or trailer section too long, or trailers that
    /// do not parse. The connection is closed after the response.
    #[error("malformed request body")]
    Malformed(#[source] DecodeError),
    /// The connection stopped reading the body before it ended: the response was already
    /// complete (the rest is drained or the connection closed), or the exchange ended early
    /// (writing the response failed, the server task was dropped).
    #[error("request body abandoned by the connection")]
    Abandoned,
}

#[derive(Debug, Default)]
struct Shared {
    slot: Mutex<Slot>,
}

#[derive(Debug, Default)]
struct Slot {
    item: Option<Result<Frame<Bytes>, RecvBodyError>>,
    end: End,
    /// Why the body failed (with `End::Aborted`).
    error: Option<RecvBodyError>,
    /// The body has been polled once (`Expect: 100-continue` waits for this).
    wanted: bool,
    receiver_gone: bool,
    rx_waker: Option<Waker>,
    tx_waker: Option<Waker>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum End {
    #[default]
    Open,
    /// The sender finished: after `item`, the body ends.
    Clean,
    /// The sender went away early: after `item`, the body fails.
    Aborted,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn store_waker(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(waker) if waker.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

impl RecvBody {
    /// A body with no bytes (no allocation, `is_end_stream()` from the start).
    pub fn empty() -> Self {
        RecvBody {
            inner: Inner::Empty,
        }
    }

    /// A streaming body and the sender the connection feeds it through.
    pub(super) fn channel(length: Option<u64>) -> (BodySender, RecvBody) {
        let shared = Arc::new(Shared::default());
        let body = RecvBody {
            inner: Inner::Streaming {
                shared: shared.clone(),
                remaining: length,
                ended: false,
            },
        };
        (
            BodySender {
                shared,
                finished: false,
            },
            body,
        )
    }
}

impl Default for RecvBody {
    fn default() -> Self {
        RecvBody::empty()
    }
}

impl Body for RecvBody {
    type Data = Bytes;
    type Error = RecvBodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, RecvBodyError>>> {
        let Inner::Streaming {
            shared,
            remaining,
            ended,
        } = &mut self.get_mut().inner
        else {
            return Poll::Ready(None);
        };
        if *ended {
            return Poll::Ready(None);
        }
        let mut slot = shared.lock();
        let first_poll = !slot.wanted;
        slot.wanted = true;
        if let Some(item) = slot.item.take() {
            let waker = slot.tx_waker.take();
            drop(slot);
            if let Some(waker) = waker {
                waker.wake();
            }
            match &item {
                Ok(frame) => match frame.data_ref() {
                    Some(data) => {
                        if let Some(left) = remaining {
                            *left = left.saturating_sub(data.len() as u64);
                        }
                    }
                    None => *ended = true,
                },
                Err(_) => *ended = true,
            }
            return Poll::Ready(Some(item));
        }
        match slot.end {
            End::Clean => {
                *ended = true;
                Poll::Ready(None)
            }
            End::Aborted => {
                *ended = true;
                let error = slot.error.take().unwrap_or(RecvBodyError::Abandoned);
                Poll::Ready(Some(Err(error)))
            }
            End::Open => {
                store_waker(&mut slot.rx_waker, cx);
                let waker = if first_poll {
                    slot.tx_waker.take()
                } else {
                    None
                };
                drop(slot);
                if let Some(waker) = waker {
                    waker.wake();
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Empty => true,
            Inner::Streaming {
                remaining, ended, ..
            } => *ended || *remaining == Some(0),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Empty => SizeHint::with_exact(0),
            Inner::Streaming {
                remaining: Some(n), ..
            } => SizeHint::with_exact(*n),
            Inner::Streaming { .. } => SizeHint::new(),
        }
    }
}

impl Drop for RecvBody {
    fn drop(&mut self) {
        if let Inner::Streaming { shared, .. } = &self.inner {
            let mut slot = shared.lock();
            slot.receiver_gone = true;
            slot.item = None;
            let waker = slot.tx_waker.take();
            drop(slot);
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }
}

/// The connection's end of a [`RecvBody`].
#[derive(Debug)]
pub(super) struct BodySender {
    shared: Arc<Shared>,
    finished: bool,
}

/// What [`BodySender::poll_ready`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ready {
    /// The slot is empty: one frame may be sent.
    Yes,
    /// The body has not taken the previous frame (the waker is registered).
    Full,
    /// The body was dropped: nobody reads any more.
    Gone,
}

impl BodySender {
    /// Whether a frame can be sent now; registers for a wake-up when it cannot.
    pub(super) fn poll_ready(&self, cx: &Context<'_>) -> Ready {
        let mut slot = self.shared.lock();
        if slot.receiver_gone {
            Ready::Gone
        } else if slot.item.is_some() {
            store_waker(&mut slot.tx_waker, cx);
            Ready::Full
        } else {
            Ready::Yes
        }
    }

    /// Puts a frame (or an error) in the slot; call only after `poll_ready` said `Yes`.
    pub(super) fn send(&self, item: Result<Frame<Bytes>, RecvBodyError>) {
        let mut slot = self.shared.lock();
        debug_assert!(slot.item.is_none(), "send without capacity");
        if slot.receiver_gone {
            return;
        }
        slot.item = Some(item);
        let waker = slot.rx_waker.take();
        drop(slot);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Whether the body has been polled (the service wants the body).
    pub(super) fn is_wanted(&self, cx: &Context<'_>) -> bool {
        let mut slot = self.shared.lock();
        if !slot.wanted {
            store_waker(&mut slot.tx_waker, cx);
        }
        slot.wanted
    }

    /// The body ended cleanly: the receiver sees `None` after the frame in the slot.
    pub(super) fn finish(mut self) {
        self.close(End::Clean);
    }

    /// The body failed (malformed, or the connection broke): the receiver sees `error` after
    /// the frame in the slot.
    pub(super) fn fail(mut self, error: RecvBodyError) {
        self.shared.lock().error = Some(error);
        self.close(End::Aborted);
    }

    fn close(&mut self, end: End) {
        if self.finished {
            return;
        }
        self.finished = true;
        let mut slot = self.shared.lock();
        slot.end = end;
        let waker = slot.rx_waker.take();
        drop(slot);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Drop for BodySender {
    fn drop(&mut self) {
        self.close(End::Aborted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;

    fn poll_now(body: &mut RecvBody) -> Poll<Option<Result<Frame<Bytes>, RecvBodyError>>> {
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        Pin::new(body).poll_frame(&mut cx)
    }

    #[test]
    fn empty_body_is_ended_and_exact() {
        let mut body = RecvBody::empty();
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
        assert!(matches!(poll_now(&mut body), Poll::Ready(None)));
    }

    #[test]
    fn frames_pass_one_at_a_time_and_size_hint_counts_down() {
        let (tx, mut body) = RecvBody::channel(Some(5));
        let waker = Waker::noop();
        let cx = Context::from_waker(waker);
        assert_eq!(body.size_hint().exact(), Some(5));
        assert!(!tx.is_wanted(&cx));
        assert!(poll_now(&mut body).is_pending());
        assert!(tx.is_wanted(&cx), "a poll marks the body wanted");
        assert_eq!(tx.poll_ready(&cx), Ready::Yes);
        tx.send(Ok(Frame::data(Bytes::from_static(b"abc"))));
        assert_eq!(tx.poll_ready(&cx), Ready::Full, "one frame at a time");
        let Poll::Ready(Some(Ok(frame))) = poll_now(&mut body) else {
            panic!("frame expected")
        };
        assert_eq!(frame.into_data().unwrap(), "abc");
        assert_eq!(body.size_hint().exact(), Some(2));
        assert_eq!(tx.poll_ready(&cx), Ready::Yes);
        tx.send(Ok(Frame::data(Bytes::from_static(b"de"))));
        tx.finish();
        assert!(matches!(poll_now(&mut body), Poll::Ready(Some(Ok(_)))));
        assert!(body.is_end_stream());
        assert!(matches!(poll_now(&mut body), Poll::Ready(None)));
    }

    #[test]
    fn dropped_sender_is_an_error_then_the_end() {
        let (tx, mut body) = RecvBody::channel(None);
        drop(tx);
        assert!(matches!(poll_now(&mut body), Poll::Ready(Some(Err(_)))));
        assert!(matches!(poll_now(&mut body), Poll::Ready(None)));
    }

    #[test]
    fn dropped_body_is_seen_by_the_sender() {
        let (tx, body) = RecvBody::channel(None);
        drop(body);
        let waker = Waker::noop();
        assert_eq!(tx.poll_ready(&Context::from_waker(waker)), Ready::Gone);
    }

    #[tokio::test]
    async fn trailers_end_the_body() {
        let (tx, mut body) = RecvBody::channel(None);
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        tx.send(Ok(Frame::trailers(trailers)));
        tx.finish();
        let frame = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        let trailers = frame.unwrap().unwrap().into_trailers().unwrap();
        assert_eq!(trailers["grpc-status"], "0");
        assert!(body.is_end_stream());
        assert!(poll_fn(|cx| Pin::new(&mut body).poll_frame(cx))
            .await
            .is_none());
    }
}
