//! Passive outlier detection: what the proxy reports, and the ejection arithmetic.

use std::fmt;
use std::time::Duration;

/// The outcome of one real request to an origin, as the proxy reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The origin answered (any answer that is not a failure).
    Success,
    /// The request failed in a way that counts against the origin.
    Failure(FailureKind),
}

/// How a request to an origin failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The connection could not be made.
    Connect,
    /// The connection was reset or closed before a complete response.
    Reset,
    /// The origin did not answer in time.
    Timeout,
    /// The origin answered with this (5xx) status.
    Status(u16),
}

impl FailureKind {
    /// Packs the kind into a `u32` (0 means none), so it fits an atomic.
    pub(crate) fn to_code(self) -> u32 {
        match self {
            FailureKind::Connect => 1,
            FailureKind::Reset => 2,
            FailureKind::Timeout => 3,
            FailureKind::Status(status) => 1000 + u32::from(status),
        }
    }

    /// The inverse of [`FailureKind::to_code`].
    pub(crate) fn from_code(code: u32) -> Option<Self> {
        match code {
            1 => Some(FailureKind::Connect),
            2 => Some(FailureKind::Reset),
            3 => Some(FailureKind::Timeout),
            1000.. => u16::try_from(code - 1000).ok().map(FailureKind::Status),
            _ => None,
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureKind::Connect => f.write_str("connect error"),
            FailureKind::Reset => f.write_str("connection reset"),
            FailureKind::Timeout => f.write_str("timeout"),
            FailureKind::Status(status) => write!(f, "status {status}"),
        }
    }
}

/// The length of the `streak`-th ejection in a row (1-based): `base × 2^(streak−1)`, capped
/// at `max` (a zero `max` means no cap).
pub(crate) fn ejection_time(base: Duration, max: Duration, streak: u32) -> Duration {
    let doublings = streak.saturating_sub(1).min(31);
    let time = base.saturating_mul(1u32 << doublings);
    if max.is_zero() {
        time
    } else {
        time.min(max)
    }
}

/// How many of a pool's `members` may be ejected at once: `percent` of them rounded down,
/// but at least one; none when `percent` is 0.
pub(crate) fn max_ejected(members: usize, percent: u8) -> usize {
    if percent == 0 || members == 0 {
        return 0;
    }
    (members * usize::from(percent.min(100)) / 100).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ejection_time_doubles_up_to_the_cap() {
        let base = Duration::from_secs(30);
        let max = Duration::from_secs(300);
        let times: Vec<u64> = (1..=6)
            .map(|k| ejection_time(base, max, k).as_secs())
            .collect();
        assert_eq!(times, [30, 60, 120, 240, 300, 300]);
        assert_eq!(ejection_time(base, max, 1000), max);
        assert_eq!(ejection_time(base, Duration::ZERO, 3), base * 4);
    }

    #[test]
    fn ejection_share_rounds_down_with_a_floor_of_one() {
        assert_eq!(max_ejected(10, 50), 5);
        assert_eq!(max_ejected(3, 50), 1);
        assert_eq!(max_ejected(1, 10), 1);
        assert_eq!(max_ejected(4, 100), 4);
        assert_eq!(max_ejected(4, 0), 0);
        assert_eq!(max_ejected(0, 50), 0);
    }

    #[test]
    fn failure_kinds_round_trip_through_codes() {
        for kind in [
            FailureKind::Connect,
            FailureKind::Reset,
            FailureKind::Timeout,
            FailureKind::Status(503),
        ] {
            assert_eq!(FailureKind::from_code(kind.to_code()), Some(kind));
        }
        assert_eq!(FailureKind::from_code(0), None);
    }
}
