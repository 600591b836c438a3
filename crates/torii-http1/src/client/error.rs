//! Errors of an upstream exchange: sending the request and reading the response body.

use crate::codec::{BodyError, DecodeError};
use http::Request;
use std::fmt;

/// Why [`send`](super::ClientConnection::send) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendErrorKind {
    /// Reading from or writing to the connection failed.
    #[error("upstream connection failed")]
    Io,
    /// The upstream closed the connection before sending any response byte.
    #[error("upstream closed the connection before responding")]
    ClosedBeforeResponse,
    /// The response head is malformed, cut short or has ambiguous framing.
    #[error("invalid upstream response")]
    InvalidResponse,
    /// The response head is larger than the limit.
    #[error("upstream response head too large")]
    HeadTooLarge,
    /// The response head has more headers than the limit.
    #[error("too many headers in upstream response")]
    TooManyHeaders,
    /// The request cannot be written (invalid framing headers, body length mismatch).
    #[error("invalid request to upstream")]
    InvalidRequest,
    /// The request body yielded an error.
    #[error("request body failed")]
    Body,
}

/// [`send`](super::ClientConnection::send) failed; the request may be handed back for a retry.
pub struct SendError<B> {
    /// What went wrong.
    pub kind: SendErrorKind,
    /// Boxed: it is large, and only here on the rare retryable failure.
    request: Option<Box<Request<B>>>,
    source: Option<BodyError>,
}

impl<B> SendError<B> {
    pub(super) fn new(kind: SendErrorKind, source: Option<BodyError>) -> Self {
        SendError {
            kind,
            request: None,
            source,
        }
    }

    pub(super) fn with_request(mut self, request: Option<Request<B>>) -> Self {
        self.request = request.map(Box::new);
        self
    }

    /// The request, when nothing of the response was received and no body data was consumed:
    /// it can be sent again on another connection (the pooled one was stale).
    pub fn take_request(&mut self) -> Option<Request<B>> {
        self.request.take().map(|request| *request)
    }

    /// The request body, when nothing of the response was received and no body data was
    /// consumed (the head went out, or not): what [`send_head`](super::ClientConnection::send_head)
    /// callers take back to send elsewhere.
    pub fn take_body(&mut self) -> Option<B> {
        self.request.take().map(|request| request.into_body())
    }

    /// What went wrong.
    pub fn kind(&self) -> SendErrorKind {
        self.kind
    }

    /// The underlying cause (an I/O error, the request body's error), if any.
    pub fn into_source(self) -> Option<BodyError> {
        self.source
    }
}

impl<B> fmt::Debug for SendError<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendError")
            .field("kind", &self.kind)
            .field("request", &self.request.is_some())
            .field("source", &self.source)
            .finish()
    }
}

impl<B> fmt::Display for SendError<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.kind, f)
    }
}

impl<B> std::error::Error for SendError<B> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Reading a response body (or writing the rest of the request body meanwhile) failed.
#[derive(Debug, thiserror::Error)]
pub enum ResponseBodyError {
    /// The connection failed.
    #[error("upstream connection failed")]
    Io(#[source] std::io::Error),
    /// The body on the wire is malformed or cut short.
    #[error("invalid upstream response body")]
    Decode(#[source] DecodeError),
    /// The request body, still being sent, yielded an error.
    #[error("request body failed")]
    RequestBody(#[source] BodyError),
    /// The request body does not match its declared length.
    #[error("request body length mismatch")]
    RequestLength,
}
