//! The [`HealthChecker`]: one task per monitored origin, one task for ejections.

use crate::active::{ActiveState, ActiveTracker};
use crate::error::{CheckError, HealthError};
use crate::event::{HealthChange, HealthListener};
use crate::metrics::HealthCollector;
use crate::origin::{CellState, Ejection, OriginCell, OriginHandle, PoolShared};
use crate::outlier::{ejection_time, max_ejected, Outcome};
use crate::probe::{NetProbe, Probe, ProbeOptions, ProbeTarget};
use crate::status::{CheckResult, OriginHealthStatus, PoolHealth};
use crate::target::{OriginKey, Target};
use arc_swap::ArcSwap;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};
use tokio::runtime::Handle;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use torii_config::lb::HealthMonitor;
use torii_config::PoolId;

/// Immediate retries of one check are capped here, whatever the monitor says.
const MAX_RETRIES: u32 = 10;
/// Weight of a new round trip in the smoothed round trip.
const RTT_WEIGHT: f64 = 0.3;
/// Interval and timeout never go below this (a zero would spin).
const MIN_PERIOD: Duration = Duration::from_millis(1);

/// How the checker runs.
#[derive(Debug, Clone)]
pub struct CheckerOptions {
    /// Options of the network probe ([`HealthChecker::new`] builds a [`NetProbe`] with them).
    pub probe: ProbeOptions,
    /// The first checks of the origins one [`HealthChecker::update`] adds are spread at
    /// random over this much time per added origin, at most one interval (default 1 ms: one
    /// new origin is checked at once, 10,000 spread over 10 s or their interval), so a start
    /// does not fire every check in the same instant and checks stay spread afterwards.
    pub first_check_spread: Duration,
    /// Checks start on a grid of this step (default 20 ms), so the checks of many origins
    /// that fall due close together run in one wake-up of the runtime instead of one each: at
    /// 2,000 checks a second, waking the thread for every check cost more than the checks.
    /// A check starts at most one step late. Zero turns the grid off.
    pub check_tick: Duration,
}

impl Default for CheckerOptions {
    fn default() -> Self {
        Self {
            probe: ProbeOptions::default(),
            first_check_spread: Duration::from_millis(1),
            check_tick: Duration::from_millis(20),
        }
    }
}

/// Runs the active monitors and the passive outlier detection of a set of origins and keeps
/// one health state per origin. Cheap to clone (the clones share the checker); the tasks stop
/// when the last clone is dropped.
#[derive(Clone)]
pub struct HealthChecker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for HealthChecker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthChecker")
            .field("origins", &self.len())
            .finish_non_exhaustive()
    }
}

/// What the tasks share.
struct Shared {
    probe: Arc<dyn Probe>,
    listener: Arc<dyn HealthListener>,
    /// The origin of the check grid.
    epoch: Instant,
    tick: Duration,
}

impl Shared {
    /// The first grid point at or after `at`.
    fn on_grid(&self, at: Instant) -> Instant {
        let tick = self.tick.as_nanos();
        if tick == 0 {
            return at;
        }
        let since = at.saturating_duration_since(self.epoch).as_nanos();
        let steps = since.div_ceil(tick);
        let offset = u64::try_from(steps * tick).unwrap_or(u64::MAX);
        self.epoch + Duration::from_nanos(offset)
    }
}

struct Inner {
    shared: Arc<Shared>,
    options: CheckerOptions,
    runtime: Handle,
    entries: Mutex<HashMap<OriginKey, Entry>>,
    index: Arc<ArcSwap<HashMap<OriginKey, Arc<OriginCell>>>>,
    pools: Mutex<HashMap<PoolId, Arc<PoolShared>>>,
    outlier_tx: UnboundedSender<Arc<OriginCell>>,
    outlier_task: JoinHandle<()>,
}

struct Entry {
    target: Target,
    cell: Arc<OriginCell>,
    task: Option<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.outlier_task.abort();
        for entry in lock(&self.entries).values() {
            if let Some(task) = &entry.task {
                task.abort();
            }
        }
        // Cells point at their pool and pools at their cells: break the cycle.
        for pool in lock(&self.pools).values() {
            pool.members().clear();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl HealthChecker {
    /// A checker with the real network probe. Must be called inside a tokio runtime, where
    /// its tasks will run.
    pub fn new(
        options: CheckerOptions,
        listener: Arc<dyn HealthListener>,
    ) -> Result<Self, HealthError> {
        let probe = NetProbe::new(options.probe.clone())?;
        Self::with_probe(options, Arc::new(probe), listener)
    }

    /// A checker with the given probe (tests use fakes). Must be called inside a tokio
    /// runtime, where its tasks will run.
    pub fn with_probe(
        options: CheckerOptions,
        probe: Arc<dyn Probe>,
        listener: Arc<dyn HealthListener>,
    ) -> Result<Self, HealthError> {
        let runtime = Handle::try_current().map_err(|_| HealthError::NoRuntime)?;
        let shared = Arc::new(Shared {
            probe,
            listener,
            epoch: Instant::now(),
            tick: options.check_tick,
        });
        let (outlier_tx, outlier_rx) = mpsc::unbounded_channel();
        let outlier_task = runtime.spawn(outlier_loop(Arc::clone(&shared), outlier_rx));
        Ok(Self {
            inner: Arc::new(Inner {
                shared,
                options,
                runtime,
                entries: Mutex::new(HashMap::new()),
                index: Arc::new(ArcSwap::from_pointee(HashMap::new())),
                pools: Mutex::new(HashMap::new()),
                outlier_tx,
                outlier_task,
            }),
        })
    }

    /// Replaces the set of origins (at start and on every reload).
    ///
    /// An origin whose key, address, monitor and `host` are unchanged keeps its state and its
    /// schedule (a changed outlier configuration applies in place). One whose monitor or
    /// `host` changed keeps its ejection but restarts its active state (`unknown`, checked
    /// at once). One whose address changed, and every new one, starts afresh; removed ones
    /// stop. With two targets of one key, the last wins.
    pub fn update(&self, targets: Vec<Target>) {
        let inner = &*self.inner;
        let mut entries = lock(&inner.entries);
        let mut pools = lock(&inner.pools);
        let mut old = std::mem::take(&mut *entries);
        let wanted: HashMap<OriginKey, Target> = targets
            .into_iter()
            .map(|target| (target.key.clone(), target))
            .collect();
        let mut next: HashMap<OriginKey, Entry> = HashMap::with_capacity(wanted.len());
        let mut starts: Vec<(OriginKey, Arc<HealthMonitor>, u64)> = Vec::new();
        let mut events = Vec::new();
        for (key, target) in wanted {
            let pool = Arc::clone(pools.entry(key.pool.clone()).or_insert_with(|| {
                Arc::new(PoolShared {
                    id: key.pool.clone(),
                    members: Mutex::new(Vec::new()),
                })
            }));
            let entry = match old.remove(&key) {
                Some(mut entry) if entry.target.address == target.address => {
                    if entry.target.outlier != target.outlier {
                        entry.cell.set_outlier(target.outlier);
                        entry.cell.state().outlier = target.outlier;
                    }
                    let same_check =
                        entry.target.monitor == target.monitor && entry.target.host == target.host;
                    if !same_check {
                        if let Some(task) = entry.task.take() {
                            task.abort();
                        }
                        let (generation, event) =
                            restart_active(&entry.cell, target.monitor.is_some());
                        events.extend(event);
                        if let Some(monitor) = &target.monitor {
                            starts.push((key.clone(), Arc::clone(monitor), generation));
                        }
                    }
                    entry.target = target;
                    entry
                }
                previous => {
                    if let Some(previous) = previous {
                        retire(previous);
                    }
                    let cell = Arc::new(OriginCell::new(
                        key.clone(),
                        target.address,
                        pool,
                        target.monitor.is_some(),
                        target.outlier,
                        inner.outlier_tx.clone(),
                    ));
                    if let Some(monitor) = &target.monitor {
                        starts.push((key.clone(), Arc::clone(monitor), 0));
                    }
                    Entry {
                        target,
                        cell,
                        task: None,
                    }
                }
            };
            next.insert(key, entry);
        }
        for (_, entry) in old {
            retire(entry);
        }

        let mut members: HashMap<PoolId, Vec<Arc<OriginCell>>> = HashMap::new();
        for entry in next.values() {
            members
                .entry(entry.cell.key.pool.clone())
                .or_default()
                .push(Arc::clone(&entry.cell));
        }
        pools.retain(|id, pool| match members.remove(id) {
            Some(cells) => {
                *pool.members() = cells;
                true
            }
            None => {
                pool.members().clear();
                false
            }
        });
        inner.index.store(Arc::new(
            next.iter()
                .map(|(key, entry)| (key.clone(), Arc::clone(&entry.cell)))
                .collect(),
        ));

        let added = u32::try_from(starts.len()).unwrap_or(u32::MAX);
        for (key, monitor, generation) in starts {
            let Some(entry) = next.get_mut(&key) else {
                continue;
            };
            let interval = monitor.interval.max(MIN_PERIOD);
            let window = inner
                .options
                .first_check_spread
                .saturating_mul(added)
                .min(interval);
            let delay = random_below(window);
            let target = ProbeTarget::new(
                entry.target.check_address(),
                Arc::clone(&monitor),
                entry.target.host.clone(),
            );
            entry.task = Some(inner.runtime.spawn(monitor_loop(
                Arc::clone(&inner.shared),
                Arc::clone(&entry.cell),
                target,
                generation,
                delay,
            )));
        }
        *entries = next;
        drop(pools);
        drop(entries);
        for event in events {
            emit(&inner.shared, event);
        }
    }

    /// Reports the outcome of one real request to an origin (passive outlier detection):
    /// a lock-free map lookup and atomics. Returns whether the origin is known. Holders of
    /// an [`OriginHandle`] skip the lookup.
    pub fn report(&self, key: &OriginKey, outcome: Outcome) -> bool {
        match self.inner.index.load().get(key) {
            Some(cell) => {
                cell.report(outcome);
                true
            }
            None => false,
        }
    }

    /// The handle of an origin, for the steering code and the request path.
    pub fn handle(&self, key: &OriginKey) -> Option<OriginHandle> {
        self.inner
            .index
            .load()
            .get(key)
            .map(|cell| OriginHandle(Arc::clone(cell)))
    }

    /// Effective health of an origin (`None` when unknown to the checker).
    pub fn is_healthy(&self, key: &OriginKey) -> Option<bool> {
        self.inner
            .index
            .load()
            .get(key)
            .map(|cell| cell.is_healthy())
    }

    /// The status of one origin.
    pub fn status(&self, key: &OriginKey) -> Option<OriginHealthStatus> {
        self.inner.index.load().get(key).map(|cell| cell.status())
    }

    /// The status of every origin, sorted by key (for `/api/v1/status` and the CLI).
    pub fn snapshot(&self) -> Vec<OriginHealthStatus> {
        let mut statuses: Vec<OriginHealthStatus> = self
            .inner
            .index
            .load()
            .values()
            .map(|cell| cell.status())
            .collect();
        statuses.sort_by(|a, b| a.key.cmp(&b.key));
        statuses
    }

    /// Origin counts of one pool.
    pub fn pool_health(&self, pool: &PoolId) -> Option<PoolHealth> {
        lock(&self.inner.pools)
            .get(pool)
            .map(|pool| pool_counts(pool))
    }

    /// Origin counts of every pool, sorted by pool.
    pub fn pools(&self) -> Vec<PoolHealth> {
        let mut pools: Vec<PoolHealth> = lock(&self.inner.pools)
            .values()
            .map(|pool| pool_counts(pool))
            .collect();
        pools.sort_by(|a, b| a.pool.cmp(&b.pool));
        pools
    }

    /// How many origins the checker watches.
    pub fn len(&self) -> usize {
        self.inner.index.load().len()
    }

    /// Whether the checker watches no origin.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A Prometheus collector of every origin's health, read at scrape time (register it with
    /// `Registry::register_collector`).
    pub fn collector(&self) -> HealthCollector {
        HealthCollector::new(Arc::clone(&self.inner.index))
    }
}

fn pool_counts(pool: &PoolShared) -> PoolHealth {
    let members = pool.members();
    PoolHealth {
        pool: pool.id.clone(),
        origins: members.len(),
        healthy: members.iter().filter(|cell| cell.is_healthy()).count(),
        ejected: members.iter().filter(|cell| cell.is_ejected()).count(),
    }
}

fn random_below(window: Duration) -> Duration {
    let nanos = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        Duration::ZERO
    } else {
        Duration::from_nanos(fastrand::u64(0..nanos))
    }
}

/// Stops an origin: its task, and any result still on its way.
fn retire(entry: Entry) {
    if let Some(task) = entry.task {
        task.abort();
    }
    let mut state = entry.cell.state();
    state.removed = true;
    state.generation += 1;
}

/// Starts an origin's active state again (its monitor changed); returns the new generation
/// and the change to announce, if any.
fn restart_active(cell: &OriginCell, monitored: bool) -> (u64, Option<HealthChange>) {
    let members = cell.pool.members();
    let mut state = cell.state();
    let previous = state.healthy();
    let previous_active = state.active.state;
    state.generation += 1;
    state.active = ActiveTracker::new(monitored);
    state.last_check = None;
    state.last_result = None;
    state.last_error = None;
    state.rtt = None;
    state.smoothed_rtt = None;
    let reason: Arc<str> = Arc::from("monitor changed");
    state.reason = Some(Arc::clone(&reason));
    cell.publish(&state);
    let event = (previous_active != state.active.state).then(|| {
        change(
            cell,
            &members,
            &state,
            previous,
            previous_active,
            reason,
            None,
        )
    });
    (state.generation, event)
}

/// Builds the event of a change; `members` is the pool's (locked) member list.
fn change(
    cell: &OriginCell,
    members: &[Arc<OriginCell>],
    state: &CellState,
    previous: bool,
    previous_active: ActiveState,
    reason: Arc<str>,
    rtt: Option<Duration>,
) -> HealthChange {
    HealthChange {
        key: cell.key.clone(),
        address: cell.address,
        healthy: state.healthy(),
        previous,
        active: state.active.state,
        previous_active,
        ejected: state.ejection.is_some(),
        reason,
        rtt,
        at: SystemTime::now(),
        pool_healthy: members.iter().filter(|cell| cell.is_healthy()).count(),
        pool_origins: members.len(),
    }
}

/// Logs a change and hands it to the listener.
fn emit(shared: &Shared, change: HealthChange) {
    let rtt_ms = change.rtt.map(|rtt| rtt.as_secs_f64() * 1000.0);
    if change.flipped() && change.healthy {
        tracing::info!(
            origin = %change.key,
            address = %change.address,
            active = change.active.as_str(),
            reason = %change.reason,
            rtt_ms,
            "origin is healthy"
        );
    } else if change.flipped() {
        tracing::warn!(
            origin = %change.key,
            address = %change.address,
            active = change.active.as_str(),
            ejected = change.ejected,
            reason = %change.reason,
            "origin is unhealthy"
        );
    } else {
        tracing::debug!(
            origin = %change.key,
            address = %change.address,
            active = change.active.as_str(),
            previous_active = change.previous_active.as_str(),
            ejected = change.ejected,
            reason = %change.reason,
            "origin health state changed"
        );
    }
    shared.listener.health_changed(&change);
}

/// The task of one monitored origin: a check every interval, counted from the previous
/// start, until the origin is removed or its monitor replaced.
async fn monitor_loop(
    shared: Arc<Shared>,
    cell: Arc<OriginCell>,
    target: ProbeTarget,
    generation: u64,
    first_delay: Duration,
) {
    let monitor = Arc::clone(target.monitor());
    let interval = monitor.interval.max(MIN_PERIOD);
    let timeout = monitor.timeout.max(MIN_PERIOD);
    let retries = monitor.retries.min(MAX_RETRIES);
    let mut next = shared.on_grid(Instant::now() + first_delay);
    loop {
        tokio::time::sleep_until(next).await;
        let result = run_check(&*shared.probe, &target, timeout, retries).await;
        if !apply_check(&shared, &cell, generation, &monitor, result) {
            return;
        }
        // Counted from the scheduled start (not the wake-up, which may be late), so the
        // origin stays on its place of the grid.
        next = shared.on_grid((next + interval).max(Instant::now()));
    }
}

/// One check: an attempt and up to `retries` immediate re-attempts, each within `timeout`.
/// Returns the round trip of the attempt that passed, or the last attempt's error.
async fn run_check(
    probe: &dyn Probe,
    target: &ProbeTarget,
    timeout: Duration,
    retries: u32,
) -> Result<Duration, CheckError> {
    let mut last = CheckError::Timeout(timeout);
    for _ in 0..=retries {
        let start = Instant::now();
        match tokio::time::timeout(timeout, probe.check(target)).await {
            Ok(Ok(())) => return Ok(start.elapsed()),
            Ok(Err(error)) => last = error,
            Err(_) => last = CheckError::Timeout(timeout),
        }
    }
    Err(last)
}

/// Applies a check's result; returns false when the task is stale (origin removed or its
/// monitor replaced).
fn apply_check(
    shared: &Shared,
    cell: &OriginCell,
    generation: u64,
    monitor: &HealthMonitor,
    result: Result<Duration, CheckError>,
) -> bool {
    let members = cell.pool.members();
    let mut state = cell.state();
    if state.removed || state.generation != generation {
        return false;
    }
    let previous = state.healthy();
    let previous_active = state.active.state;
    state.last_check = Some(SystemTime::now());
    let (success, rtt) = match result {
        Ok(rtt) => {
            state.checks_passed += 1;
            state.last_result = Some(CheckResult::Success);
            state.rtt = Some(rtt);
            state.smoothed_rtt = Some(match state.smoothed_rtt {
                Some(smoothed) => Duration::from_secs_f64(
                    smoothed.as_secs_f64() * (1.0 - RTT_WEIGHT) + rtt.as_secs_f64() * RTT_WEIGHT,
                ),
                None => rtt,
            });
            (true, Some(rtt))
        }
        Err(error) => {
            state.checks_failed += 1;
            state.last_result = Some(CheckResult::Failure);
            state.last_error = Some(Arc::from(error.to_string()));
            (false, None)
        }
    };
    let moved = state.active.record(
        success,
        monitor.healthy_threshold,
        monitor.unhealthy_threshold,
    );
    cell.publish(&state);
    let Some(previous_active) = moved.map(|_| previous_active) else {
        return true;
    };
    let reason: Arc<str> = if success {
        if previous_active == ActiveState::Unhealthy {
            Arc::from(format!(
                "{} consecutive checks passed",
                state.active.successes
            ))
        } else {
            Arc::from("check passed")
        }
    } else {
        state
            .last_error
            .clone()
            .unwrap_or_else(|| Arc::from("check failed"))
    };
    state.reason = Some(Arc::clone(&reason));
    let event = change(
        cell,
        &members,
        &state,
        previous,
        previous_active,
        reason,
        rtt,
    );
    drop(state);
    drop(members);
    emit(shared, event);
    true
}

/// The task of ejections: starts them when an origin crosses its failure threshold, ends them
/// when their time is up.
async fn outlier_loop(shared: Arc<Shared>, mut rx: UnboundedReceiver<Arc<OriginCell>>) {
    let mut ends: BTreeMap<(Instant, u64), Arc<OriginCell>> = BTreeMap::new();
    let mut next_id = 0u64;
    loop {
        let next_end = ends.keys().next().map(|(until, _)| *until);
        tokio::select! {
            received = rx.recv() => match received {
                Some(cell) => {
                    next_id += 1;
                    if let Some(until) = eject(&shared, &cell, next_id) {
                        ends.insert((until, next_id), cell);
                    }
                }
                None => return,
            },
            () = sleep_until(next_end) => {
                let now = Instant::now();
                while let Some(entry) = ends.first_entry() {
                    if entry.key().0 > now {
                        break;
                    }
                    let ((_, id), cell) = entry.remove_entry();
                    end_ejection(&shared, &cell, id);
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Ejects an origin whose consecutive failures reached the threshold, unless its pool is at
/// its ejection limit. Returns when the ejection ends.
fn eject(shared: &Shared, cell: &OriginCell, id: u64) -> Option<Instant> {
    let members = cell.pool.members();
    let mut state = cell.state();
    let failures = cell.passive_failures();
    cell.reset_passive_failures();
    let outlier = state.outlier;
    if state.removed || state.ejection.is_some() || outlier.consecutive_failures == 0 {
        return None;
    }
    let ejected = members.iter().filter(|member| member.is_ejected()).count();
    let limit = max_ejected(members.len(), outlier.max_ejected_percent);
    if ejected >= limit {
        tracing::info!(
            origin = %cell.key,
            failures,
            ejected,
            limit,
            "ejection skipped: the pool is at its ejection limit"
        );
        return None;
    }
    let now = Instant::now();
    state.streak = match state.last_ejection_end {
        Some(end) if now.saturating_duration_since(end) <= state.last_ejection_length => {
            state.streak.saturating_add(1)
        }
        _ => 1,
    };
    let length = ejection_time(outlier.base_ejection, outlier.max_ejection, state.streak);
    let until = now + length;
    let last = cell
        .last_failure()
        .map(|kind| format!(" (last: {kind})"))
        .unwrap_or_default();
    let reason: Arc<str> = Arc::from(format!(
        "ejected for {length:?}: {} consecutive failures{last}",
        outlier.consecutive_failures
    ));
    let previous = state.healthy();
    let previous_active = state.active.state;
    state.ejection = Some(Ejection {
        id,
        until_wall: SystemTime::now() + length,
        length,
        reason: Arc::clone(&reason),
    });
    state.ejections_total += 1;
    state.reason = Some(Arc::clone(&reason));
    cell.publish(&state);
    let event = change(
        cell,
        &members,
        &state,
        previous,
        previous_active,
        reason,
        None,
    );
    drop(state);
    drop(members);
    emit(shared, event);
    Some(until)
}

/// Ends ejection `id` of an origin (if it is still the current one).
fn end_ejection(shared: &Shared, cell: &OriginCell, id: u64) {
    let members = cell.pool.members();
    let mut state = cell.state();
    let Some(ejection) = state.ejection.as_ref().filter(|ejection| ejection.id == id) else {
        return;
    };
    if state.removed {
        return;
    }
    let length = ejection.length;
    let previous = state.healthy();
    state.ejection = None;
    state.last_ejection_end = Some(Instant::now());
    state.last_ejection_length = length;
    cell.reset_passive_failures();
    let reason: Arc<str> = Arc::from("ejection ended");
    state.reason = Some(Arc::clone(&reason));
    cell.publish(&state);
    let active = state.active.state;
    let event = change(cell, &members, &state, previous, active, reason, None);
    drop(state);
    drop(members);
    emit(shared, event);
}
