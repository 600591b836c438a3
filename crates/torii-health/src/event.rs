//! Health changes as events, and who receives them.

use crate::active::ActiveState;
use crate::status::{serialize_opt_ms, serialize_time};
use crate::target::OriginKey;
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// One change of an origin's health: its effective health flipped, its active state moved
/// (`unknown` → `healthy` included), or an ejection started or ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthChange {
    /// The origin.
    pub key: OriginKey,
    /// Its address.
    pub address: SocketAddr,
    /// Effective health after the change (active state up and not ejected).
    pub healthy: bool,
    /// Effective health before the change.
    pub previous: bool,
    /// The active state after the change.
    pub active: ActiveState,
    /// The active state before the change.
    pub previous_active: ActiveState,
    /// Whether the origin is ejected after the change.
    pub ejected: bool,
    /// Why: the failed check's reason (`status 503 not in 2xx`), `ejected for 30s: 5
    /// consecutive failures (last: connection reset)`, `ejection ended`, …
    pub reason: Arc<str>,
    /// The round trip of the check that caused the change, if it succeeded.
    #[serde(rename = "rttMs", serialize_with = "serialize_opt_ms")]
    pub rtt: Option<Duration>,
    /// When the change happened.
    #[serde(serialize_with = "serialize_time")]
    pub at: SystemTime,
    /// Origins of the pool that are healthy after the change (for pool-level health: compare
    /// with the pool's `minimum_origins`; before the change it was one more or one less when
    /// `healthy != previous`).
    pub pool_healthy: usize,
    /// Origins of the pool.
    pub pool_origins: usize,
}

impl HealthChange {
    /// Whether the effective health flipped (as opposed to an active-state move that did not
    /// change it, such as `unknown` → `healthy`).
    pub fn flipped(&self) -> bool {
        self.healthy != self.previous
    }
}

/// Receives every [`HealthChange`]. Called on the checker's tasks, so it must be quick: hand
/// the event to a channel, set a flag, bump a counter.
pub trait HealthListener: Send + Sync + 'static {
    /// One origin's health changed.
    fn health_changed(&self, change: &HealthChange);
}

impl<F> HealthListener for F
where
    F: Fn(&HealthChange) + Send + Sync + 'static,
{
    fn health_changed(&self, change: &HealthChange) {
        self(change)
    }
}

impl HealthListener for tokio::sync::mpsc::UnboundedSender<HealthChange> {
    fn health_changed(&self, change: &HealthChange) {
        // A closed receiver means nobody listens any more; that is not the checker's problem.
        let _ = self.send(change.clone());
    }
}

impl HealthListener for () {
    fn health_changed(&self, _change: &HealthChange) {}
}
