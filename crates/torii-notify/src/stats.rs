//! Delivery counters per sink, for the integrator to export (no global registry).

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters of one sink. They outlive config reloads that keep the sink's name.
#[derive(Debug, Default)]
pub(crate) struct SinkCounters {
    pub(crate) delivered: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) failed: AtomicU64,
}

impl SinkCounters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) -> u64 {
        counter.fetch_add(n, Ordering::Relaxed) + n
    }
}

/// A snapshot of one sink's counters (monotonic while the sink exists) and queue length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkStats {
    /// The sink's name.
    pub name: String,
    /// `"webhook"` or `"email"`.
    pub kind: &'static str,
    /// Events delivered (a 2xx answer; the SMTP server accepted the message).
    pub delivered: u64,
    /// Retry attempts made (attempts after an event's first).
    pub retried: u64,
    /// Events discarded without a final outcome: the queue was full, the sink was removed by a
    /// reload, or shutdown's deadline passed.
    pub dropped: u64,
    /// Events given up: a permanent error (4xx other than 408/429, SMTP 5xx) or no attempts left.
    pub failed: u64,
    /// Events waiting in the sink's queue now.
    pub queued: u64,
}
