//! Traffic statistics the proxy records into on the hot path ([`TrafficStats`]), their plain
//! snapshots ([`StatsSnapshot`]) and per-step windows ([`StatsWindow`]); the same for response
//! comparisons ([`DiffCounts`], [`DiffWindow`]).
//!
//! **Histogram.** Latencies go into fixed log-linear buckets over microseconds: one bucket for
//! `[0, 128 µs)`, then four equal sub-buckets per power of two from 128 µs up to 2^26 µs
//! (≈ 67 s), then one overflow bucket: [`BUCKETS`] in all. A bucket is at most 25% of its
//! lower bound wide (1.25×, 1.2×, 1.17×, 1.14× per sub-bucket), so a quantile estimate is off
//! by at most one bucket: 25% of the value above 128 µs, 128 µs below, and values past 67 s
//! read as 67 s.
//!
//! **Counter resets.** Windows are differences of cumulative counters. When a later snapshot is
//! below an earlier one in any counter (the process restarted and counters began at zero), the
//! window is the whole later snapshot, as Prometheus treats counter resets.

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Power of two (in µs) where the log-linear buckets start: 2^7 = 128 µs.
const FIRST_EXPONENT: u32 = 7;
/// Power of two (in µs) where the overflow bucket starts: 2^26 µs ≈ 67 s.
const END_EXPONENT: u32 = 26;
/// Sub-buckets per power of two (2^2).
const SUB_BITS: u32 = 2;
/// How many latency buckets a histogram has: under 128 µs, 76 log-linear, and ≥ 67 s.
pub const BUCKETS: usize = 2 + ((END_EXPONENT - FIRST_EXPONENT) << SUB_BITS) as usize;

/// The bucket of a latency of `us` microseconds.
#[inline]
fn bucket_index(us: u64) -> usize {
    if us < 1 << FIRST_EXPONENT {
        return 0;
    }
    let exponent = 63 - us.leading_zeros();
    if exponent >= END_EXPONENT {
        return BUCKETS - 1;
    }
    let sub = (us >> (exponent - SUB_BITS)) & ((1 << SUB_BITS) - 1);
    1 + (((exponent - FIRST_EXPONENT) << SUB_BITS) as usize) + sub as usize
}

/// The bounds `[lower, upper)` of bucket `index` in microseconds (`u64::MAX` for the overflow
/// bucket's upper bound).
pub fn bucket_bounds_micros(index: usize) -> (u64, u64) {
    if index == 0 {
        return (0, 1 << FIRST_EXPONENT);
    }
    if index >= BUCKETS - 1 {
        return (1 << END_EXPONENT, u64::MAX);
    }
    let i = (index - 1) as u32;
    let exponent = FIRST_EXPONENT + (i >> SUB_BITS);
    let width = 1u64 << (exponent - SUB_BITS);
    let lower = (1u64 << exponent) + u64::from(i & ((1 << SUB_BITS) - 1)) * width;
    (lower, lower + width)
}

/// Saturating microseconds of a duration, without the `u128` of `Duration::as_micros`.
#[inline]
fn micros(d: Duration) -> u64 {
    d.as_secs()
        .saturating_mul(1_000_000)
        .saturating_add(u64::from(d.subsec_micros()))
}

/// Live counters of one backend (stable or candidate) on one route: requests, errors and a
/// latency histogram, recorded lock-free by the proxy.
#[derive(Debug)]
pub struct TrafficStats {
    buckets: [AtomicU64; BUCKETS],
    errors: AtomicU64,
}

impl Default for TrafficStats {
    fn default() -> Self {
        Self::new()
    }
}

impl TrafficStats {
    /// Counters at zero.
    pub fn new() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            errors: AtomicU64::new(0),
        }
    }

    /// Counts one finished request that took `latency`; `error` is the caller's call (a 5xx,
    /// a failed connection). One relaxed atomic add, two for an error: no lock, no allocation.
    #[inline]
    pub fn record(&self, latency: Duration, error: bool) {
        let us = micros(latency);
        self.buckets[bucket_index(us)].fetch_add(1, Relaxed);
        if error {
            self.errors.fetch_add(1, Relaxed);
        }
    }

    /// The counters now, as plain numbers. Concurrent records may be half-counted (a request
    /// in the histogram whose error is not yet); windows clamp errors to requests.
    pub fn snapshot(&self) -> StatsSnapshot {
        let errors = self.errors.load(Relaxed);
        let buckets: Vec<u64> = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
        StatsSnapshot {
            requests: buckets.iter().sum(),
            errors,
            buckets,
        }
    }
}

/// Cumulative counters of a [`TrafficStats`] at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsSnapshot {
    /// Requests recorded.
    pub requests: u64,
    /// Of which errors.
    pub errors: u64,
    /// Requests per latency bucket (see [`bucket_bounds_micros`]); missing entries count as 0.
    pub buckets: Vec<u64>,
}

impl StatsSnapshot {
    /// What happened between `earlier` and `self` (all of `self` if the counters were reset).
    pub fn since(&self, earlier: &StatsSnapshot) -> StatsWindow {
        let bucket = |s: &StatsSnapshot, i: usize| s.buckets.get(i).copied().unwrap_or(0);
        let reset = self.requests < earlier.requests
            || self.errors < earlier.errors
            || (0..BUCKETS).any(|i| bucket(self, i) < bucket(earlier, i));
        let zero = StatsSnapshot::default();
        let base = if reset { &zero } else { earlier };
        let buckets: Vec<u64> = (0..BUCKETS)
            .map(|i| bucket(self, i) - bucket(base, i))
            .collect();
        let requests = buckets.iter().sum();
        StatsWindow {
            requests,
            errors: (self.errors - base.errors).min(requests),
            buckets,
        }
    }
}

/// The traffic of one backend over a window (one rollout step).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsWindow {
    /// Requests in the window.
    pub requests: u64,
    /// Of which errors (never more than `requests`).
    pub errors: u64,
    /// Requests per latency bucket.
    pub buckets: Vec<u64>,
}

impl StatsWindow {
    /// Errors over requests; 0 without requests (gates check the sample size first).
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.requests as f64
        }
    }

    /// The `q` quantile (0..=1) of latency, interpolated linearly inside its bucket; `None`
    /// without requests. Within one bucket of the true value (see the module docs); the
    /// overflow bucket reads as its lower bound (≈ 67 s).
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let total: u64 = self.buckets.iter().sum();
        if total == 0 {
            return None;
        }
        let q = if q.is_nan() { 1.0 } else { q.clamp(0.0, 1.0) };
        // The rank of the wanted order statistic, 1-based.
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut below = 0u64;
        for (index, &count) in self.buckets.iter().enumerate() {
            if count == 0 || below + count < rank {
                below += count;
                continue;
            }
            let (lower, upper) = bucket_bounds_micros(index);
            if upper == u64::MAX {
                return Some(Duration::from_micros(lower));
            }
            let fraction = (rank - below) as f64 / count as f64;
            let us = lower as f64 + (upper - lower) as f64 * fraction;
            return Some(Duration::from_micros(us as u64));
        }
        None
    }
}

/// Cumulative results of comparing mirrored responses (candidate against stable), counted by
/// whoever compares them and passed in as numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffCounts {
    /// Response pairs compared.
    pub compared: u64,
    /// Of which the candidate's response differed in a way that counts as a regression.
    pub regressions: u64,
}

impl DiffCounts {
    /// What happened between `earlier` and `self` (all of `self` if the counters were reset).
    pub fn since(&self, earlier: &DiffCounts) -> DiffWindow {
        let reset = self.compared < earlier.compared || self.regressions < earlier.regressions;
        let base = if reset {
            DiffCounts::default()
        } else {
            *earlier
        };
        let compared = self.compared - base.compared;
        DiffWindow {
            compared,
            regressions: (self.regressions - base.regressions).min(compared),
        }
    }
}

/// Response comparisons over a window (one rollout step).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffWindow {
    /// Pairs compared in the window.
    pub compared: u64,
    /// Of which regressions (never more than `compared`).
    pub regressions: u64,
}

impl DiffWindow {
    /// Regressions over comparisons; 0 without comparisons.
    pub fn rate(&self) -> f64 {
        if self.compared == 0 {
            0.0
        } else {
            self.regressions as f64 / self.compared as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn buckets_cover_the_range_contiguously() {
        assert_eq!(BUCKETS, 78);
        let mut expected_lower = 0;
        for i in 0..BUCKETS {
            let (lower, upper) = bucket_bounds_micros(i);
            assert_eq!(lower, expected_lower, "bucket {i}");
            assert!(upper > lower);
            if upper != u64::MAX {
                assert!(
                    upper as f64 / lower.max(1) as f64 <= 1.25 || i == 0,
                    "bucket {i}"
                );
                // Both bounds map back to this bucket and the next.
                assert_eq!(bucket_index(lower), i);
                assert_eq!(bucket_index(upper - 1), i);
                assert_eq!(bucket_index(upper), i + 1);
            }
            expected_lower = upper;
        }
        assert_eq!(bucket_index(u64::MAX), BUCKETS - 1);
        // 100 µs .. 60 s are inside the log-linear range.
        assert_eq!(bucket_index(100), 0);
        assert!(bucket_index(60_000_000) < BUCKETS - 1);
    }

    /// True quantile (same rank definition) and the estimate share a bucket.
    fn check_quantiles(latencies_us: &mut [u64]) {
        let stats = TrafficStats::new();
        for &us in latencies_us.iter() {
            stats.record(Duration::from_micros(us), false);
        }
        latencies_us.sort_unstable();
        let window = stats.snapshot().since(&StatsSnapshot::default());
        for q in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
            let n = latencies_us.len();
            let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
            let exact = latencies_us[rank - 1];
            let estimate = micros(window.quantile(q).expect("some requests"));
            let (lower, upper) = bucket_bounds_micros(bucket_index(exact));
            let width = upper.saturating_sub(lower);
            assert!(
                estimate.abs_diff(exact) <= width,
                "q={q}: estimate {estimate} µs, exact {exact} µs, bucket width {width}"
            );
        }
    }

    #[test]
    fn quantiles_of_known_distributions_are_within_one_bucket() {
        let cases: Vec<(&str, Vec<u64>)> = vec![
            ("constant 5 ms", vec![5_000; 1000]),
            (
                "uniform 1..=1000 ms",
                (1..=1000).map(|i| i * 1000).collect(),
            ),
            ("uniform 0..2 ms", (0..2000).collect()),
            (
                "exponential-ish",
                (0..10_000u64)
                    .map(|i| {
                        let u = (i as f64 + 0.5) / 10_000.0;
                        (-(1.0 - u).ln() * 20_000.0) as u64
                    })
                    .collect(),
            ),
            (
                "bimodal 1 ms / 900 ms",
                (0..1000)
                    .map(|i| if i % 100 < 97 { 1_000 } else { 900_000 })
                    .collect(),
            ),
            ("past the top", vec![90_000_000, 1_000, 120_000_000]),
        ];
        for (name, mut latencies) in cases {
            eprintln!("{name}");
            check_quantiles(&mut latencies);
        }
    }

    #[test]
    fn quantile_examples() {
        let stats = TrafficStats::new();
        for i in 1..=100 {
            stats.record(ms(i), i > 95);
        }
        let w = stats.snapshot().since(&StatsSnapshot::default());
        assert_eq!((w.requests, w.errors), (100, 5));
        assert!((w.error_rate() - 0.05).abs() < 1e-12);
        let p50 = w.quantile(0.5).expect("requests");
        assert!(p50 >= ms(45) && p50 <= ms(56), "{p50:?}");
        let p99 = w.quantile(0.99).expect("requests");
        assert!(p99 >= ms(85) && p99 <= ms(113), "{p99:?}");
        assert_eq!(StatsWindow::default().quantile(0.5), None);
        assert_eq!(StatsWindow::default().error_rate(), 0.0);
    }

    #[test]
    fn since_gives_the_window_and_handles_resets() {
        let stats = TrafficStats::new();
        stats.record(ms(1), true);
        let first = stats.snapshot();
        stats.record(ms(100), false);
        stats.record(ms(100), true);
        let second = stats.snapshot();
        let w = second.since(&first);
        assert_eq!((w.requests, w.errors), (2, 1));
        assert!(w.quantile(0.0).expect("requests") >= ms(80));

        // A restarted process: counters below the baseline → the whole new snapshot.
        let restarted = TrafficStats::new();
        restarted.record(ms(5), false);
        let w = restarted.snapshot().since(&second);
        assert_eq!((w.requests, w.errors), (1, 0));

        // A baseline with a shorter bucket list (older format) reads as zeros.
        let w = second.since(&StatsSnapshot::default());
        assert_eq!(w.requests, 3);
    }

    #[test]
    fn diff_windows() {
        let cases = [
            // (earlier, later, compared, regressions, rate)
            ((0, 0), (100, 3), 100, 3, 0.03),
            ((100, 3), (300, 3), 200, 0, 0.0),
            ((100, 3), (50, 1), 50, 1, 0.02), // reset
            ((10, 1), (10, 1), 0, 0, 0.0),
        ];
        for (earlier, later, compared, regressions, rate) in cases {
            let e = DiffCounts {
                compared: earlier.0,
                regressions: earlier.1,
            };
            let l = DiffCounts {
                compared: later.0,
                regressions: later.1,
            };
            let w = l.since(&e);
            assert_eq!((w.compared, w.regressions), (compared, regressions));
            assert!((w.rate() - rate).abs() < 1e-12);
        }
    }

    #[test]
    fn records_from_many_threads() {
        let stats = Arc::new(TrafficStats::new());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let stats = Arc::clone(&stats);
                std::thread::spawn(move || {
                    for i in 0..25_000u64 {
                        stats.record(Duration::from_micros(100 + i % 1000 + t), i % 10 == 0);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("recording thread");
        }
        let s = stats.snapshot();
        assert_eq!((s.requests, s.errors), (100_000, 10_000));
    }

    #[test]
    fn snapshot_serde_round_trip() {
        let stats = TrafficStats::new();
        stats.record(ms(3), true);
        let s = stats.snapshot();
        let json = serde_json::to_string(&s).expect("serialize");
        assert!(
            json.contains("\"requests\":1,\"errors\":1,\"buckets\""),
            "{json}"
        );
        let back: StatsSnapshot = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, s);
    }
}
