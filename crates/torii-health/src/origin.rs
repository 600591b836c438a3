//! The shared cell of one origin: atomics read and written on the request path, and the
//! rest of its state behind a mutex only the checker takes.

use crate::active::{ActiveState, ActiveTracker};
use crate::outlier::{FailureKind, Outcome};
use crate::status::{CheckResult, OriginHealthStatus};
use crate::target::OriginKey;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;
use torii_config::lb::OutlierDetection;
use torii_config::PoolId;

/// The origins of one pool, for the ejection limit and pool counts.
#[derive(Debug)]
pub(crate) struct PoolShared {
    pub id: PoolId,
    pub members: Mutex<Vec<Arc<OriginCell>>>,
}

impl PoolShared {
    pub fn members(&self) -> MutexGuard<'_, Vec<Arc<OriginCell>>> {
        self.members.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The current ejection of an origin.
#[derive(Debug, Clone)]
pub(crate) struct Ejection {
    pub id: u64,
    pub until_wall: SystemTime,
    pub length: Duration,
    pub reason: Arc<str>,
}

/// What the checker keeps about an origin.
#[derive(Debug)]
pub(crate) struct CellState {
    /// Bumped when the origin's monitor task is replaced or the origin removed; a task whose
    /// generation is not the current one applies nothing.
    pub generation: u64,
    pub removed: bool,
    pub active: ActiveTracker,
    pub last_check: Option<SystemTime>,
    pub last_result: Option<CheckResult>,
    /// The reason of the last change (`check passed`, `ejection ended`, …).
    pub reason: Option<Arc<str>>,
    /// The reason of the last failed check.
    pub last_error: Option<Arc<str>>,
    pub rtt: Option<Duration>,
    pub smoothed_rtt: Option<Duration>,
    pub checks_passed: u64,
    pub checks_failed: u64,
    pub outlier: OutlierDetection,
    pub ejection: Option<Ejection>,
    pub streak: u32,
    pub last_ejection_end: Option<Instant>,
    pub last_ejection_length: Duration,
    pub ejections_total: u64,
}

impl CellState {
    /// Effective health: active state up and not ejected.
    pub fn healthy(&self) -> bool {
        self.active.state.is_up() && self.ejection.is_none()
    }
}

/// One origin, shared by the checker's tasks, the outlier task and every [`OriginHandle`].
#[derive(Debug)]
pub(crate) struct OriginCell {
    pub key: OriginKey,
    pub address: SocketAddr,
    pub pool: Arc<PoolShared>,
    healthy: AtomicBool,
    ejected: AtomicBool,
    passive_failures: AtomicU32,
    passive_threshold: AtomicU32,
    last_failure: AtomicU32,
    smoothed_rtt_nanos: AtomicU64,
    outlier_tx: UnboundedSender<Arc<OriginCell>>,
    state: Mutex<CellState>,
}

impl OriginCell {
    pub fn new(
        key: OriginKey,
        address: SocketAddr,
        pool: Arc<PoolShared>,
        monitored: bool,
        outlier: OutlierDetection,
        outlier_tx: UnboundedSender<Arc<OriginCell>>,
    ) -> Self {
        Self {
            key,
            address,
            pool,
            healthy: AtomicBool::new(true),
            ejected: AtomicBool::new(false),
            passive_failures: AtomicU32::new(0),
            passive_threshold: AtomicU32::new(outlier.consecutive_failures),
            last_failure: AtomicU32::new(0),
            smoothed_rtt_nanos: AtomicU64::new(0),
            outlier_tx,
            state: Mutex::new(CellState {
                generation: 0,
                removed: false,
                active: ActiveTracker::new(monitored),
                last_check: None,
                last_result: None,
                reason: None,
                last_error: None,
                rtt: None,
                smoothed_rtt: None,
                checks_passed: 0,
                checks_failed: 0,
                outlier,
                ejection: None,
                streak: 0,
                last_ejection_end: None,
                last_ejection_length: Duration::ZERO,
                ejections_total: 0,
            }),
        }
    }

    pub fn state(&self) -> MutexGuard<'_, CellState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publishes what the request path reads; call with the state locked.
    pub fn publish(&self, state: &CellState) {
        self.ejected
            .store(state.ejection.is_some(), Ordering::Relaxed);
        self.healthy.store(state.healthy(), Ordering::Release);
        let nanos = state.smoothed_rtt.map_or(0, |rtt| {
            u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX).max(1)
        });
        self.smoothed_rtt_nanos.store(nanos, Ordering::Relaxed);
    }

    pub fn set_outlier(&self, outlier: OutlierDetection) {
        self.passive_threshold
            .store(outlier.consecutive_failures, Ordering::Relaxed);
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    pub fn is_ejected(&self) -> bool {
        self.ejected.load(Ordering::Relaxed)
    }

    pub fn passive_failures(&self) -> u32 {
        self.passive_failures.load(Ordering::Relaxed)
    }

    pub fn reset_passive_failures(&self) {
        self.passive_failures.store(0, Ordering::Relaxed);
    }

    pub fn last_failure(&self) -> Option<FailureKind> {
        FailureKind::from_code(self.last_failure.load(Ordering::Relaxed))
    }

    /// The request path's report: atomics only; crossing the threshold wakes the outlier task.
    pub fn report(self: &Arc<Self>, outcome: Outcome) {
        match outcome {
            Outcome::Success => {
                // Read first: a healthy origin's counter stays 0 and its line stays shared.
                if self.passive_failures.load(Ordering::Relaxed) != 0 {
                    self.passive_failures.store(0, Ordering::Relaxed);
                }
            }
            Outcome::Failure(kind) => {
                let threshold = self.passive_threshold.load(Ordering::Relaxed);
                if threshold == 0 || self.ejected.load(Ordering::Relaxed) {
                    return;
                }
                self.last_failure.store(kind.to_code(), Ordering::Relaxed);
                let failures = self
                    .passive_failures
                    .fetch_add(1, Ordering::Relaxed)
                    .wrapping_add(1);
                if failures == threshold {
                    // Rare (once per threshold crossing); a closed channel means the checker
                    // is gone.
                    let _ = self.outlier_tx.send(Arc::clone(self));
                }
            }
        }
    }

    pub fn status(&self) -> OriginHealthStatus {
        let state = self.state();
        OriginHealthStatus {
            key: self.key.clone(),
            address: self.address,
            healthy: state.healthy(),
            active_state: state.active.state,
            ejected: state.ejection.is_some(),
            ejected_until: state.ejection.as_ref().map(|ejection| ejection.until_wall),
            ejection_streak: state.streak,
            ejections_total: state.ejections_total,
            passive_failures: self.passive_failures(),
            last_check: state.last_check,
            last_result: state.last_result,
            reason: match (&state.ejection, state.last_result) {
                (Some(ejection), _) => Some(Arc::clone(&ejection.reason)),
                (None, Some(CheckResult::Failure)) => state.last_error.clone(),
                _ => state.reason.clone(),
            },
            rtt: state.rtt,
            smoothed_rtt: state.smoothed_rtt,
            consecutive_successes: state.active.successes,
            consecutive_failures: state.active.failures,
            checks_passed: state.checks_passed,
            checks_failed: state.checks_failed,
        }
    }
}

/// A handle on one origin's health, for the request path and the steering code: reading
/// health and reporting outcomes are atomic operations, with no lock and no allocation.
///
/// A handle belongs to one origin at one address; after an [`update`] that changed the
/// origin's address (or removed it) the handle is detached and stops changing: fetch handles
/// again when a reload builds the new steering snapshot.
///
/// [`update`]: crate::HealthChecker::update
#[derive(Debug, Clone)]
pub struct OriginHandle(pub(crate) Arc<OriginCell>);

impl OriginHandle {
    /// The origin.
    pub fn key(&self) -> &OriginKey {
        &self.0.key
    }

    /// The origin's address.
    pub fn address(&self) -> SocketAddr {
        self.0.address
    }

    /// Effective health: the active state is up and the origin is not ejected.
    pub fn is_healthy(&self) -> bool {
        self.0.is_healthy()
    }

    /// Whether outlier detection has ejected the origin.
    pub fn is_ejected(&self) -> bool {
        self.0.is_ejected()
    }

    /// The smoothed round trip of successful checks, once there is one.
    pub fn smoothed_rtt(&self) -> Option<Duration> {
        match self.0.smoothed_rtt_nanos.load(Ordering::Relaxed) {
            0 => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }

    /// Reports the outcome of one real request (passive outlier detection).
    pub fn report(&self, outcome: Outcome) {
        self.0.report(outcome);
    }

    /// The active state (takes the origin's lock: not for the request path).
    pub fn active_state(&self) -> ActiveState {
        self.0.state().active.state
    }

    /// The full status (takes the origin's lock: not for the request path).
    pub fn status(&self) -> OriginHealthStatus {
        self.0.status()
    }
}
