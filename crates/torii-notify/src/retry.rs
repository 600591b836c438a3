//! The outcome of one delivery attempt and the back-off before the next one.

use crate::config::RetryPolicy;
use std::time::Duration;

/// Why one attempt did not deliver.
#[derive(Debug)]
pub(crate) enum AttemptError {
    /// Worth another attempt (5xx, 408, 429, connection errors, timeouts, SMTP 4xx).
    Retry {
        /// What went wrong, for the log (never a secret).
        reason: String,
        /// The HTTP status or SMTP code, if there was an answer.
        code: Option<u16>,
        /// The receiver's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// Not worth another attempt (4xx other than 408/429, SMTP 5xx, redirects).
    GiveUp {
        /// What went wrong, for the log (never a secret).
        reason: String,
        /// The HTTP status or SMTP code, if there was an answer.
        code: Option<u16>,
    },
}

/// The wait before retry `retry` (1 for the second attempt): uniform in `[b/2, b]`, where
/// `b = min(initial × 2^(retry-1), max)`, then at least `retry_after` (still capped by max).
pub(crate) fn backoff(
    policy: &RetryPolicy,
    retry: u32,
    retry_after: Option<Duration>,
    rng: &mut fastrand::Rng,
) -> Duration {
    let exponent = retry.saturating_sub(1).min(31);
    let base = policy
        .initial_backoff
        .saturating_mul(1u32 << exponent)
        .min(policy.max_backoff);
    let half = base / 2;
    let jitter =
        Duration::from_nanos(rng.u64(0..=(base - half).as_nanos().min(u64::MAX as u128) as u64));
    let wait = half + jitter;
    match retry_after {
        Some(after) => wait.max(after.min(policy.max_backoff)),
        None => wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let policy = RetryPolicy {
            attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
        };
        let mut rng = fastrand::Rng::with_seed(7);
        for (retry, base_ms) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (40, 1000),
        ] {
            let base = Duration::from_millis(base_ms);
            let mut seen = std::collections::HashSet::new();
            for _ in 0..200 {
                let wait = backoff(&policy, retry, None, &mut rng);
                assert!(wait >= base / 2 && wait <= base, "retry {retry}: {wait:?}");
                seen.insert(wait);
            }
            assert!(seen.len() > 100, "retry {retry}: jitter varies");
        }
    }

    #[test]
    fn retry_after_lengthens_the_wait_up_to_the_cap() {
        let policy = RetryPolicy {
            attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        };
        let mut rng = fastrand::Rng::with_seed(1);
        let wait = backoff(&policy, 1, Some(Duration::from_secs(2)), &mut rng);
        assert_eq!(wait, Duration::from_secs(2));
        let wait = backoff(&policy, 1, Some(Duration::from_secs(3600)), &mut rng);
        assert_eq!(wait, Duration::from_secs(5));
        let wait = backoff(&policy, 1, Some(Duration::ZERO), &mut rng);
        assert!(wait >= Duration::from_millis(50));
    }
}
