//! What `/api/v1/status` and the CLI show: one [`OriginHealthStatus`] per origin.

use crate::active::ActiveState;
use crate::target::OriginKey;
use serde::{Serialize, Serializer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use torii_config::PoolId;

/// The result of an origin's last active check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckResult {
    /// The check passed.
    Success,
    /// The check failed (after its retries).
    Failure,
}

/// The health of one origin, as shown by the status API and the CLI (serialized camelCase;
/// times as RFC 3339, durations in milliseconds).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OriginHealthStatus {
    /// The origin (`namespace/pool/origin`).
    pub key: OriginKey,
    /// Where it is checked.
    pub address: SocketAddr,
    /// Effective health: the active state is up and the origin is not ejected.
    pub healthy: bool,
    /// What the active monitor says.
    pub active_state: ActiveState,
    /// Whether outlier detection has ejected the origin.
    pub ejected: bool,
    /// When the current ejection ends.
    #[serde(serialize_with = "serialize_opt_time")]
    pub ejected_until: Option<SystemTime>,
    /// Ejections in the current series (the back-off exponent + 1).
    pub ejection_streak: u32,
    /// Ejections since the origin was added.
    pub ejections_total: u64,
    /// Consecutive failed requests reported by the proxy since the last success.
    pub passive_failures: u32,
    /// When the last active check finished.
    #[serde(serialize_with = "serialize_opt_time")]
    pub last_check: Option<SystemTime>,
    /// The last active check's result.
    pub last_result: Option<CheckResult>,
    /// Why the origin is in its state: the last failed check's reason, the ejection's, or the
    /// last change's.
    pub reason: Option<Arc<str>>,
    /// Round trip of the last successful check.
    #[serde(rename = "rttMs", serialize_with = "serialize_opt_ms")]
    pub rtt: Option<Duration>,
    /// Smoothed (EWMA) round trip of successful checks.
    #[serde(rename = "smoothedRttMs", serialize_with = "serialize_opt_ms")]
    pub smoothed_rtt: Option<Duration>,
    /// Consecutive successful checks.
    pub consecutive_successes: u32,
    /// Consecutive failed checks.
    pub consecutive_failures: u32,
    /// Checks that passed since the origin was added.
    pub checks_passed: u64,
    /// Checks that failed since the origin was added.
    pub checks_failed: u64,
}

/// Origin counts of one pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolHealth {
    /// The pool.
    pub pool: PoolId,
    /// Its origins (targets handed to the checker).
    pub origins: usize,
    /// Those effectively healthy.
    pub healthy: usize,
    /// Those ejected by outlier detection.
    pub ejected: usize,
}

impl PoolHealth {
    /// Whether the pool has at least `minimum_origins` healthy origins (the pool's own rule;
    /// a minimum of 0 is taken as 1).
    pub fn is_healthy(&self, minimum_origins: u32) -> bool {
        self.healthy >= usize::try_from(minimum_origins.max(1)).unwrap_or(usize::MAX)
    }
}

pub(crate) fn serialize_opt_ms<S: Serializer>(
    value: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(duration) => serializer.serialize_f64(duration.as_secs_f64() * 1000.0),
        None => serializer.serialize_none(),
    }
}

pub(crate) fn serialize_time<S: Serializer>(
    value: &SystemTime,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&Rfc3339(*value))
}

pub(crate) fn serialize_opt_time<S: Serializer>(
    value: &Option<SystemTime>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(time) => serialize_time(time, serializer),
        None => serializer.serialize_none(),
    }
}

/// Formats a time as RFC 3339 in UTC with milliseconds (`2025-01-31T12:00:00.250Z`).
pub(crate) struct Rfc3339(pub SystemTime);

impl std::fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", humantime::format_rfc3339_millis(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn rfc3339_formats_utc_with_millis() {
        let at = |secs: u64, millis: u64| {
            Rfc3339(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis))
                .to_string()
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(at(1_735_689_599, 999), "2024-12-31T23:59:59.999Z");
        assert_eq!(at(1_740_787_200, 0), "2025-03-01T00:00:00.000Z");
    }

    #[test]
    fn pool_health_compares_with_minimum() {
        let pool = PoolHealth {
            pool: PoolId::new("ns", "p"),
            origins: 3,
            healthy: 2,
            ejected: 1,
        };
        assert!(pool.is_healthy(2));
        assert!(!pool.is_healthy(3));
        assert!(pool.is_healthy(0));
    }
}
