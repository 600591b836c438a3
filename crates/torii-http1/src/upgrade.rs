//! Connections handed over after `101 Switching Protocols` (WebSocket and other upgrades).
//!
//! The server puts an [`OnUpgrade`] in the extensions of a request that asks for an upgrade;
//! the client puts one in the extensions of a `101` response. Either resolves to the raw
//! connection, with the bytes already read past the HTTP head replayed first.

use bytes::{Buf, Bytes};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;

/// A byte stream that can be upgraded to.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A connection after the upgrade.
pub struct Upgraded {
    io: Box<dyn Io>,
    /// Read past the head before the upgrade; read first.
    prefix: Bytes,
}

impl Upgraded {
    /// Wraps `io`, replaying `prefix` before reading from it.
    pub fn new(io: Box<dyn Io>, prefix: Bytes) -> Self {
        Upgraded { io, prefix }
    }
}

impl std::fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upgraded")
            .field("prefix", &self.prefix.len())
            .finish_non_exhaustive()
    }
}

impl AsyncRead for Upgraded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Upgraded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// The upgrade did not happen (no `101`, or the connection ended first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the connection was not upgraded")]
pub struct UpgradeError;

/// Resolves to the upgraded connection once the `101` has been written (server side) or read
/// (client side). Clones share one connection (`http::Extensions` wants `Clone`): the first to
/// resolve gets it, the others an error.
#[derive(Debug, Clone)]
pub struct OnUpgrade {
    rx: Arc<Mutex<Option<oneshot::Receiver<Upgraded>>>>,
}

impl Future for OnUpgrade {
    type Output = Result<Upgraded, UpgradeError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut rx = self.rx.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(receiver) = rx.as_mut() else {
            return Poll::Ready(Err(UpgradeError));
        };
        let result = ready!(Pin::new(receiver).poll(cx));
        *rx = None;
        Poll::Ready(result.map_err(|_| UpgradeError))
    }
}

/// The side that hands the connection over.
#[derive(Debug)]
pub struct PendingUpgrade {
    tx: oneshot::Sender<Upgraded>,
}

impl PendingUpgrade {
    /// Hands the connection over; dropped silently if nobody waits for it any more.
    pub fn fulfill(self, upgraded: Upgraded) {
        let _ = self.tx.send(upgraded);
    }
}

/// A linked pair: fulfil the first to resolve the second.
pub fn pending() -> (PendingUpgrade, OnUpgrade) {
    let (tx, rx) = oneshot::channel();
    let rx = Arc::new(Mutex::new(Some(rx)));
    (PendingUpgrade { tx }, OnUpgrade { rx })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn prefix_is_read_first_then_the_stream() {
        let (a, mut b) = tokio::io::duplex(64);
        let (pending, on_upgrade) = pending();
        pending.fulfill(Upgraded::new(Box::new(a), Bytes::from_static(b"early ")));
        let mut upgraded = on_upgrade.await.unwrap();
        b.write_all(b"late").await.unwrap();
        drop(b);
        let mut got = String::new();
        upgraded.read_to_string(&mut got).await.unwrap();
        assert_eq!(got, "early late");
    }

    #[tokio::test]
    async fn dropped_sender_is_an_error() {
        let (pending, on_upgrade) = pending();
        drop(pending);
        assert_eq!(on_upgrade.await.unwrap_err(), UpgradeError);
    }
}
