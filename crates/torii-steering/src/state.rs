//! Shared per-origin and per-pool state: written by the health checker and the proxy, read by
//! the pickers. Only relaxed atomics (one cache line per origin), so reading costs a load.
//!
//! The states outlive configurations: the integrator carries an origin's [`OriginState`] (and a
//! pool's [`PoolLoad`]) into the runtime built from the next snapshot when the origin stays
//! (see [`crate::PoolRuntime::reload`]), so health, counters and drains survive reloads.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::*};
use std::sync::Arc;
use std::time::Duration;

/// Bumped whenever any origin's health flips. Pools cache their healthy count and weight
/// tagged with this epoch, so `is_healthy` is two loads while health is stable, and a flip
/// costs each pool one recount on its next pick.
static HEALTH_EPOCH: AtomicU64 = AtomicU64::new(1);

/// The current health epoch (see [`HEALTH_EPOCH`]).
#[inline]
pub(crate) fn health_epoch() -> u64 {
    HEALTH_EPOCH.load(Acquire)
}

/// Runtime state of one origin, shared by the health checker (which writes the effective
/// health and the round trip) and the proxy (which counts requests and connections).
///
/// A new state counts as healthy: an origin takes traffic until a check says otherwise (pools
/// without monitor and without ejection are always healthy).
#[derive(Debug)]
#[repr(align(64))]
pub struct OriginState {
    healthy: AtomicBool,
    in_flight: AtomicU32,
    connections: AtomicU32,
    rtt_micros: AtomicU32,
    /// UNIX seconds at which the configuration disabled the origin; 0 while enabled.
    disabled_since: AtomicU64,
}

impl Default for OriginState {
    fn default() -> Self {
        Self::new()
    }
}

impl OriginState {
    /// A healthy origin with no traffic and no round-trip sample.
    pub fn new() -> Self {
        Self {
            healthy: AtomicBool::new(true),
            in_flight: AtomicU32::new(0),
            connections: AtomicU32::new(0),
            rtt_micros: AtomicU32::new(0),
            disabled_since: AtomicU64::new(0),
        }
    }

    /// The effective health: active monitors and passive ejection combined by the health
    /// checker.
    #[inline]
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Relaxed)
    }

    /// Sets the effective health; returns whether it changed.
    pub fn set_healthy(&self, healthy: bool) -> bool {
        let changed = self.healthy.swap(healthy, Relaxed) != healthy;
        if changed {
            HEALTH_EPOCH.fetch_add(1, Release);
        }
        changed
    }

    /// Requests in flight to this origin.
    #[inline]
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Relaxed)
    }

    /// Open upstream connections to this origin.
    #[inline]
    pub fn connections(&self) -> u32 {
        self.connections.load(Relaxed)
    }

    /// Counts a request in flight until the guard drops (origin only; prefer
    /// [`crate::PoolRuntime::start_request`], which also counts for the pool).
    pub fn start_request(self: &Arc<Self>) -> InFlightGuard {
        self.in_flight.fetch_add(1, Relaxed);
        InFlightGuard {
            origin: Arc::clone(self),
            pool: None,
        }
    }

    /// Counts an open connection until the guard drops.
    pub fn open_connection(self: &Arc<Self>) -> ConnectionGuard {
        self.connection_opened();
        ConnectionGuard {
            origin: Arc::clone(self),
        }
    }

    /// Counts an open connection (pair with [`Self::connection_closed`]).
    pub fn connection_opened(&self) {
        self.connections.fetch_add(1, Relaxed);
    }

    /// Counts a closed connection (saturates at zero).
    pub fn connection_closed(&self) {
        let _ = self
            .connections
            .fetch_update(Relaxed, Relaxed, |n| Some(n.saturating_sub(1)));
    }

    /// The smoothed health-check round trip, if any check measured one.
    pub fn rtt(&self) -> Option<Duration> {
        match self.rtt_micros() {
            0 => None,
            micros => Some(Duration::from_micros(u64::from(micros))),
        }
    }

    /// The smoothed round trip in microseconds; 0 when unknown.
    #[inline]
    pub fn rtt_micros(&self) -> u32 {
        self.rtt_micros.load(Relaxed)
    }

    /// Folds a round-trip sample into the smoothed value (exponentially weighted, the new
    /// sample counting for a quarter; the first sample is taken as is).
    pub fn record_rtt(&self, sample: Duration) {
        let sample = u32::try_from(sample.as_micros()).unwrap_or(u32::MAX).max(1);
        let _ = self.rtt_micros.fetch_update(Relaxed, Relaxed, |old| {
            Some(if old == 0 {
                sample
            } else {
                ((u64::from(old) * 3 + u64::from(sample)) / 4).max(1) as u32
            })
        });
    }

    /// Sets the smoothed round trip directly (microseconds, 0 = unknown), for a health
    /// checker that smooths on its own.
    pub fn set_rtt_micros(&self, micros: u32) {
        self.rtt_micros.store(micros, Relaxed);
    }

    /// When the configuration disabled the origin (UNIX seconds), if it is disabled.
    pub fn disabled_since(&self) -> Option<u64> {
        match self.disabled_since.load(Relaxed) {
            0 => None,
            since => Some(since),
        }
    }

    /// Records the configured `enabled` flag: the first configuration that disables the
    /// origin starts its drain at `now`; enabling it again clears the mark.
    pub(crate) fn sync_enabled(&self, enabled: bool, now: u64) {
        if enabled {
            self.disabled_since.store(0, Relaxed);
        } else {
            let _ = self
                .disabled_since
                .compare_exchange(0, now.max(1), Relaxed, Relaxed);
        }
    }
}

/// Requests in flight to a whole pool (for `leastOutstandingRequests` steering), shared by the
/// runtimes of successive configurations.
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct PoolLoad {
    in_flight: AtomicU64,
}

impl PoolLoad {
    /// Requests in flight to the pool's origins.
    #[inline]
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Relaxed)
    }
}

/// A request in flight: counted on its origin (and pool) until dropped.
#[derive(Debug)]
#[must_use = "the request counts as in flight only while the guard lives"]
pub struct InFlightGuard {
    origin: Arc<OriginState>,
    pool: Option<Arc<PoolLoad>>,
}

impl InFlightGuard {
    pub(crate) fn new(origin: &Arc<OriginState>, pool: &Arc<PoolLoad>) -> Self {
        origin.in_flight.fetch_add(1, Relaxed);
        pool.in_flight.fetch_add(1, Relaxed);
        Self {
            origin: Arc::clone(origin),
            pool: Some(Arc::clone(pool)),
        }
    }

    /// The origin the request went to.
    pub fn origin(&self) -> &Arc<OriginState> {
        &self.origin
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.origin.in_flight.fetch_sub(1, Relaxed);
        if let Some(pool) = &self.pool {
            pool.in_flight.fetch_sub(1, Relaxed);
        }
    }
}

/// An open connection, counted on its origin until dropped.
#[derive(Debug)]
#[must_use = "the connection counts as open only while the guard lives"]
pub struct ConnectionGuard {
    origin: Arc<OriginState>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.origin.connection_closed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_state_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<OriginState>(), 64);
        assert_eq!(std::mem::align_of::<OriginState>(), 64);
    }

    #[test]
    fn guards_count_and_uncount() {
        let origin = Arc::new(OriginState::new());
        let pool = Arc::new(PoolLoad::default());
        {
            let _a = InFlightGuard::new(&origin, &pool);
            let _b = origin.start_request();
            let _c = origin.open_connection();
            assert_eq!((origin.in_flight(), pool.in_flight()), (2, 1));
            assert_eq!(origin.connections(), 1);
        }
        assert_eq!((origin.in_flight(), pool.in_flight()), (0, 0));
        assert_eq!(origin.connections(), 0);
        origin.connection_closed();
        assert_eq!(origin.connections(), 0, "saturates");
    }

    #[test]
    fn health_flips_bump_the_epoch() {
        let origin = OriginState::new();
        let before = health_epoch();
        assert!(!origin.set_healthy(true));
        assert!(origin.set_healthy(false));
        assert!(health_epoch() > before);
        assert!(!origin.is_healthy());
    }

    #[test]
    fn rtt_is_smoothed() {
        let origin = OriginState::new();
        assert_eq!(origin.rtt(), None);
        origin.record_rtt(Duration::from_micros(1000));
        assert_eq!(origin.rtt_micros(), 1000);
        origin.record_rtt(Duration::from_micros(2000));
        assert_eq!(origin.rtt_micros(), 1250);
    }

    #[test]
    fn disabling_marks_the_first_time_only() {
        let origin = OriginState::new();
        origin.sync_enabled(false, 100);
        origin.sync_enabled(false, 200);
        assert_eq!(origin.disabled_since(), Some(100));
        origin.sync_enabled(true, 300);
        assert_eq!(origin.disabled_since(), None);
    }
}
