//! I/O adapters.

use bytes::{Buf, Bytes};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A stream with bytes already read from it put back in front (after peeking a ClientHello).
pub struct Rewind<S> {
    prefix: Bytes,
    inner: S,
}

impl<S> Rewind<S> {
    /// Wraps `inner`, replaying `prefix` first.
    pub fn new(prefix: Bytes, inner: S) -> Self {
        Rewind { prefix, inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewind<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewind<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Copies bytes both ways between `a` and `b` until either side closes or nothing moves
/// either way for `idle` (spliced upgrades, TCPRoute, TLS passthrough: every wait is bounded).
pub async fn splice<A, B>(a: A, b: B, idle: std::time::Duration)
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    let base = tokio::time::Instant::now();
    let last = Arc::new(AtomicU64::new(0));
    let mut a = Active {
        inner: a,
        base,
        last: last.clone(),
    };
    let mut b = Active {
        inner: b,
        base,
        last: last.clone(),
    };
    let copy = tokio::io::copy_bidirectional(&mut a, &mut b);
    tokio::pin!(copy);
    let mut deadline = base + idle;
    loop {
        tokio::select! {
            _ = &mut copy => return,
            () = tokio::time::sleep_until(deadline) => {
                let moved = base + std::time::Duration::from_millis(last.load(Ordering::Relaxed));
                if moved + idle <= tokio::time::Instant::now() {
                    tracing::debug!(?idle, "spliced connection idle; closed");
                    return;
                }
                deadline = moved + idle;
            }
        }
    }
}

/// A stream that notes when bytes last moved through it.
struct Active<S> {
    inner: S,
    base: tokio::time::Instant,
    last: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<S> Active<S> {
    fn moved(&self) {
        let ms = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, std::sync::atomic::Ordering::Relaxed);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Active<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.moved();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Active<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.moved();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod splice_tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn an_idle_splice_ends_and_a_busy_one_does_not() {
        use std::time::Duration;
        let (client, mut client_peer) = tokio::io::duplex(64);
        let (server, mut server_peer) = tokio::io::duplex(64);
        let idle = Duration::from_millis(400);
        let splice = tokio::spawn(splice(client, server, idle));
        // Traffic every 150 ms keeps it open well past the idle limit.
        for _ in 0..6 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            client_peer.write_all(b"x").await.unwrap();
            let mut byte = [0u8; 1];
            server_peer.read_exact(&mut byte).await.unwrap();
        }
        assert!(!splice.is_finished(), "traffic kept it open");
        let closed = tokio::time::timeout(Duration::from_secs(5), splice).await;
        assert!(closed.is_ok(), "closed once nothing moved for 400 ms");
    }
}
