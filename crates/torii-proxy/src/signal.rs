//! A close signal that is cheap to poll: every HTTP/1.1 connection polls it each time it is
//! woken, so a poll is one atomic load and a waker comparison (a `watch` channel took a lock
//! and a `Notify` registration per poll, ~2k instructions per request under callgrind).

use rustc_hash::FxHashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

#[derive(Default)]
struct Inner {
    fired: AtomicBool,
    waiters: Mutex<Waiters>,
}

#[derive(Default)]
struct Waiters {
    next: u64,
    wakers: FxHashMap<u64, Waker>,
}

/// Fired once when a listener closes (reload removed it, or the proxy drains); every
/// connection accepted on it then finishes its request and closes.
#[derive(Clone, Default)]
pub(crate) struct Closing(Arc<Inner>);

impl Closing {
    /// A signal not fired yet.
    pub(crate) fn new() -> Self {
        Closing::default()
    }

    /// Fires the signal and wakes every waiter.
    pub(crate) fn fire(&self) {
        self.0.fired.store(true, Ordering::Release);
        let wakers: Vec<Waker> = {
            let mut waiters = self.0.waiters.lock().unwrap_or_else(|e| e.into_inner());
            waiters.wakers.drain().map(|(_, w)| w).collect()
        };
        for waker in wakers {
            waker.wake();
        }
    }

    /// Whether the signal fired.
    pub(crate) fn is_fired(&self) -> bool {
        self.0.fired.load(Ordering::Acquire)
    }

    /// A future that resolves once the signal fires.
    pub(crate) fn closed(&self) -> Closed {
        Closed {
            closing: self.clone(),
            registered: None,
        }
    }
}

/// Resolves when its [`Closing`] fires.
pub(crate) struct Closed {
    closing: Closing,
    registered: Option<(u64, Waker)>,
}

impl Future for Closed {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.closing.is_fired() {
            return Poll::Ready(());
        }
        if let Some((_, waker)) = &this.registered {
            if waker.will_wake(cx.waker()) {
                return Poll::Pending;
            }
        }
        let inner = &this.closing.0;
        let mut waiters = inner.waiters.lock().unwrap_or_else(|e| e.into_inner());
        // Checked again under the lock: `fire` sets the flag before it drains the waiters.
        if inner.fired.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        let key = match &this.registered {
            Some((key, _)) => *key,
            None => {
                waiters.next += 1;
                waiters.next
            }
        };
        waiters.wakers.insert(key, cx.waker().clone());
        this.registered = Some((key, cx.waker().clone()));
        Poll::Pending
    }
}

impl Drop for Closed {
    fn drop(&mut self) {
        if let Some((key, _)) = self.registered.take() {
            let mut waiters = self
                .closing
                .0
                .waiters
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            waiters.wakers.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_wake_when_fired_and_late_ones_resolve_at_once() {
        let closing = Closing::new();
        let waiting: Vec<_> = (0..3)
            .map(|_| tokio::spawn(closing.clone().closed()))
            .collect();
        tokio::task::yield_now().await;
        assert!(!closing.is_fired());
        closing.fire();
        for task in waiting {
            tokio::time::timeout(std::time::Duration::from_secs(5), task)
                .await
                .expect("woken")
                .expect("joined");
        }
        closing.closed().await;
    }

    #[tokio::test]
    async fn dropped_waiters_unregister() {
        let closing = Closing::new();
        let mut closed = closing.closed();
        let polled = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut closed).poll(cx))).await;
        assert!(polled.is_pending());
        assert_eq!(closing.0.waiters.lock().unwrap().wakers.len(), 1);
        drop(closed);
        assert!(closing.0.waiters.lock().unwrap().wakers.is_empty());
    }
}
