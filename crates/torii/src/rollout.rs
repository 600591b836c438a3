//! The rollout controller and the migration APIs of the admin server.
//!
//! [`RolloutController`] owns the state of every `Rollout` ([`torii_rollout::RolloutState`]):
//! after each config apply it adopts new rollouts (resuming saved state from the state
//! directory, or in Kubernetes mode from the `Rollout`'s `status.state`, never from the start), every second it runs the gates of the rollouts that are
//! due, and it carries out people's commands. Every transition is saved (atomically) before a
//! weight goes up and after it goes down, applied to the proxy's [`RolloutControl`], logged,
//! and sent to the rollout's notification targets.
//!
//! Admin routes: `GET /api/v1/rollouts`, `POST /api/v1/rollouts/{namespace}/{name}/{action}`
//! (`pause`, `resume`, `promote`, `promote-full`, `abort`, `restart`), `GET /api/v1/diffs`,
//! `GET /api/v1/diffs/{namespace}/{name}/samples/{id}`.

use crate::lb::Notifications;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use torii_config::MigrationId;
use torii_notify::{Event, EventKind};
use torii_proxy::migration::{ComparisonRuntime, Migrations, RolloutRuntime};
use torii_rollout::{
    Baseline, DiffCounts, Phase, RolloutName, RolloutPlan, RolloutState, StateStore, Transition,
    TransitionKind,
};

/// How often due rollouts are evaluated (each at its own `analysis.interval`).
pub const TICK: Duration = Duration::from_secs(1);

/// One rollout the controller runs.
struct Entry {
    runtime: Arc<RolloutRuntime>,
    plan: RolloutPlan,
    state: RolloutState,
    next_evaluation_ms: u64,
}

/// Reads the `status.state` of a `Rollout` as the watch last saw it.
pub type ReadStatusState = Box<dyn Fn(&MigrationId) -> Option<Value> + Send + Sync>;

/// Kubernetes mode: where rollout state lives (each `Rollout`'s `status.state`) and whether
/// this replica drives rollouts (it holds the Lease).
pub struct StatusState {
    /// The `status.state` of a `Rollout` as the watch last saw it, if it has one.
    pub read: ReadStatusState,
    /// `true` while this replica holds the Lease (and its status writer writes).
    pub leader: tokio::sync::watch::Receiver<bool>,
    /// The Lease, `namespace/name`, named when a follower refuses a command.
    pub lease: String,
}

/// Runs the gates and commands of every rollout and keeps their state on disk (file mode) or
/// in each `Rollout`'s status (Kubernetes mode, see [`RolloutController::use_status`]).
pub struct RolloutController {
    migrations: Arc<Migrations>,
    notifications: Arc<Notifications>,
    /// The state directory, opened at the first rollout.
    state_dir: std::path::PathBuf,
    store: std::sync::OnceLock<StateStore>,
    /// Why the state directory cannot be used (rollouts then hold all traffic on stable).
    store_error: Mutex<Option<String>>,
    entries: Mutex<BTreeMap<MigrationId, Entry>>,
    /// Kubernetes mode: state in the status, driven by the Lease holder only.
    kube: std::sync::OnceLock<StatusState>,
    /// Whether this replica led at the last tick (a follower that becomes leader takes over).
    led: std::sync::atomic::AtomicBool,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn rollout_name(id: &MigrationId) -> Option<RolloutName> {
    RolloutName::new(&id.namespace, &id.name).ok()
}

fn baseline(runtime: &RolloutRuntime) -> Baseline {
    Baseline::new(
        runtime.control.stable.snapshot(),
        runtime.control.candidate.snapshot(),
        diff_counts(&runtime.comparison),
    )
}

fn diff_counts(comparison: &ComparisonRuntime) -> DiffCounts {
    use std::sync::atomic::Ordering::Relaxed;
    DiffCounts {
        compared: comparison.counters.compared.load(Relaxed),
        regressions: comparison.counters.regressions.load(Relaxed),
    }
}

impl RolloutController {
    /// A controller persisting to `state_dir`, opened (created 0700 if missing) when the first
    /// rollout appears, so that a torii without rollouts never needs it. Without a usable
    /// directory no rollout runs: every rollout holds all traffic on its stable backend (a
    /// rollout that cannot remember its step must not move traffic), and status says why.
    pub fn new(
        migrations: Arc<Migrations>,
        notifications: Arc<Notifications>,
        state_dir: &std::path::Path,
    ) -> Self {
        RolloutController {
            migrations,
            notifications,
            state_dir: state_dir.to_owned(),
            store: std::sync::OnceLock::new(),
            store_error: Mutex::new(None),
            entries: Mutex::new(BTreeMap::new()),
            kube: std::sync::OnceLock::new(),
            led: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Kubernetes mode, set before the first [`Self::sync`]: each rollout's state is read from
    /// and written to its `Rollout`'s `status.state` (the status writer writes what
    /// [`Self::status_fields`] returns), the state directory is never used, and only the
    /// Lease holder runs gates and commands. A follower applies the phase and weight it reads
    /// from the status at every tick, so every replica splits traffic the same way, and
    /// refuses commands (409, naming the Lease).
    pub fn use_status(&self, state: StatusState) {
        if self.kube.set(state).is_err() {
            tracing::warn!("rollout status store set twice; the first is kept");
        }
    }

    /// Kubernetes mode and not driving rollouts: not the Lease holder, or a holder that has
    /// not taken over from the status yet (its first tick as leader does; call with `entries`
    /// locked, as `tick` sets `led` under that lock).
    fn follower(&self) -> Option<&StatusState> {
        self.kube.get().filter(|kube| {
            !*kube.leader.borrow() || !self.led.load(std::sync::atomic::Ordering::Relaxed)
        })
    }

    /// The state store, opened now if it was not yet; `None` (with the reason kept) when the
    /// directory cannot be used.
    fn store(&self) -> Option<&StateStore> {
        if let Some(store) = self.store.get() {
            return Some(store);
        }
        match StateStore::open(&self.state_dir) {
            Ok(store) => {
                *self.store_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
                Some(self.store.get_or_init(|| store))
            }
            Err(error) => {
                let reason = format!(
                    "cannot use --state-dir {}: {:#}",
                    self.state_dir.display(),
                    anyhow::Error::from(error)
                );
                tracing::error!(%reason, "rollouts hold all traffic on their stable backends");
                *self.store_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason);
                None
            }
        }
    }

    /// Adopts the rollouts of the config just applied: new ones resume their saved state (or
    /// start), removed ones are forgotten (their saved state stays), and every one's control
    /// is set from its state.
    pub fn sync(&self) {
        let now = now_ms();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let runtimes = self.migrations.rollouts();
        entries.retain(|id, _| runtimes.iter().any(|r| &r.config.id == id));
        if !runtimes.is_empty() && self.kube.get().is_none() && self.store().is_none() {
            for runtime in &runtimes {
                runtime.control.set(0, false, 0);
            }
            entries.clear();
            return;
        }
        for runtime in runtimes {
            let id = runtime.config.id.clone();
            let plan = match RolloutPlan::from_config(&runtime.config) {
                Ok(plan) => plan,
                Err(error) => {
                    tracing::error!(rollout = %id, %error, "rollout plan invalid; traffic stays on stable");
                    runtime.control.set(0, false, 0);
                    entries.remove(&id);
                    continue;
                }
            };
            let mut transitions = Vec::new();
            let entry = match entries.remove(&id) {
                Some(mut entry) => {
                    entry.runtime = runtime.clone();
                    if let Some(t) = entry.state.reconcile_plan(&plan, now, baseline(&runtime)) {
                        transitions.push(t);
                    }
                    entry.plan = plan;
                    entry
                }
                None => {
                    let state = match self.load(&id) {
                        Ok(Some(mut state)) => {
                            state.on_restart(now);
                            if let Some(t) = state.reconcile_plan(&plan, now, baseline(&runtime)) {
                                transitions.push(t);
                            }
                            tracing::info!(rollout = %id, phase = %state.phase(), "rollout resumed from saved state");
                            state
                        }
                        Ok(None) => {
                            let (state, started) =
                                RolloutState::start(&plan, now, baseline(&runtime));
                            transitions.push(started);
                            state
                        }
                        Err(error) => {
                            // Unreadable state: the safe reading is "rolled back".
                            let reason = format!(
                                "saved state unreadable ({error:#}); rolled back for safety"
                            );
                            tracing::error!(rollout = %id, %reason, "rollout state");
                            RolloutState::rolled_back(&plan, now, reason)
                        }
                    };
                    Entry {
                        runtime: runtime.clone(),
                        plan,
                        state,
                        next_evaluation_ms: now,
                    }
                }
            };
            let mut entry = entry;
            entry.next_evaluation_ms = entry
                .next_evaluation_ms
                .min(now + entry.plan.analysis().interval.as_millis() as u64);
            self.commit(&id, &mut entry, transitions);
            entries.insert(id, entry);
        }
    }

    fn load(&self, id: &MigrationId) -> anyhow::Result<Option<RolloutState>> {
        if let Some(kube) = self.kube.get() {
            return Ok((kube.read)(id)
                .map(|state| RolloutState::from_durable(&state))
                .transpose()?);
        }
        let (Some(store), Some(name)) = (self.store.get(), rollout_name(id)) else {
            return Ok(None);
        };
        Ok(store.load(&name)?)
    }

    /// Runs the gates of every rollout whose interval has passed. In Kubernetes mode a
    /// follower instead applies the state the status holds, and a replica that just became
    /// the leader takes over from it.
    pub fn tick(&self) {
        let now = now_ms();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(kube) = self.kube.get() {
            let leader = *kube.leader.borrow();
            let led = self.led.swap(leader, std::sync::atomic::Ordering::Relaxed);
            if !leader || !led {
                for (id, entry) in entries.iter_mut() {
                    self.follow(kube, id, entry, now, leader);
                }
            }
            if !leader {
                return;
            }
        }
        for (id, entry) in entries.iter_mut() {
            if now < entry.next_evaluation_ms {
                continue;
            }
            entry.next_evaluation_ms = now + entry.plan.analysis().interval.as_millis() as u64;
            let control = &entry.runtime.control;
            let transition = entry.state.evaluate(
                &entry.plan,
                &control.stable.snapshot(),
                &control.candidate.snapshot(),
                &diff_counts(&entry.runtime.comparison),
                now,
            );
            self.commit(id, entry, transition.into_iter().collect());
        }
    }

    /// Adopts the state `id`'s status holds (a follower, or the new leader taking over with
    /// `take_over`: the step's window restarts from this replica's counters now).
    fn follow(
        &self,
        kube: &StatusState,
        id: &MigrationId,
        entry: &mut Entry,
        now: u64,
        take_over: bool,
    ) {
        match (kube.read)(id).map(|state| RolloutState::from_durable(&state)) {
            Some(Ok(state)) => entry.state = state,
            Some(Err(error)) => {
                tracing::warn!(rollout = %id, %error, "rollout status state unreadable; keeping the last one");
            }
            None => {}
        }
        let mut transitions = Vec::new();
        if take_over {
            entry.state.take_over(now, baseline(&entry.runtime));
            entry.next_evaluation_ms = now + entry.plan.analysis().interval.as_millis() as u64;
            tracing::info!(rollout = %id, phase = %entry.state.phase(), "leader: driving the rollout from its status");
        }
        // The leader restarts a rollout whose plan changed; a follower does the same locally
        // until the leader's status says so.
        if let Some(t) = entry
            .state
            .reconcile_plan(&entry.plan, now, baseline(&entry.runtime))
        {
            transitions.push(t);
        }
        self.commit(id, entry, transitions);
    }

    /// Carries out a person's command on rollout `id`.
    pub fn command(
        &self,
        id: &MigrationId,
        action: &str,
        by: &str,
    ) -> Result<Value, CommandFailure> {
        let now = now_ms();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get_mut(id).ok_or(CommandFailure::NotFound)?;
        // A command taken before the leader's takeover would be overwritten by it.
        if let Some(kube) = self.follower() {
            return Err(CommandFailure::NotLeader(kube.lease.clone()));
        }
        let base = baseline(&entry.runtime);
        let state = &mut entry.state;
        let done = match action {
            "pause" => state.pause(now, by, "paused by a person"),
            "resume" => state.resume(now, by, base),
            "promote" => state.promote(&entry.plan, now, by, base),
            "promote-full" => state.promote_full(now, by),
            "abort" => state.abort(now, by, "aborted by a person"),
            "restart" => state.restart(&entry.plan, now, by, base),
            other => return Err(CommandFailure::UnknownAction(other.to_owned())),
        };
        let transition = done.map_err(|e| CommandFailure::Refused(e.to_string()))?;
        self.commit(id, entry, vec![transition]);
        Ok(describe(id, entry))
    }

    /// Saves, applies, logs and announces `transitions` of rollout `id` (in that order when
    /// the candidate's weight goes up; applied first when it goes down).
    fn commit(&self, id: &MigrationId, entry: &mut Entry, transitions: Vec<Transition>) {
        let control = &entry.runtime.control;
        let weight = entry.state.current_weight();
        let step = entry.state.active_step().map_or(0, |s| s.index as u32);
        let mirroring = entry.state.mirroring();
        let lowering = weight <= control.weight();
        if lowering {
            control.set(weight, mirroring, step);
        }
        if !transitions.is_empty() {
            if let (Some(store), Some(name)) = (self.store.get(), rollout_name(id)) {
                if let Err(error) = store.save(&name, &entry.state) {
                    tracing::error!(rollout = %id, error = %format!("{:#}", anyhow::Error::from(error)), "rollout state not saved");
                }
            }
        }
        if !lowering {
            control.set(weight, mirroring, step);
        }
        if self.follower().is_some() {
            // The leader announces; a follower only mirrors its state.
            return;
        }
        for transition in transitions {
            tracing::info!(
                rollout = %id,
                kind = ?transition.kind,
                weight = transition.weight,
                reason = %transition.reason,
                "rollout transition"
            );
            let kind = match transition.kind {
                TransitionKind::Started => EventKind::ROLLOUT_STARTED,
                TransitionKind::Paused => EventKind::ROLLOUT_PAUSED,
                TransitionKind::Completed => EventKind::ROLLOUT_COMPLETED,
                TransitionKind::RolledBack | TransitionKind::Aborted => {
                    EventKind::ROLLOUT_ROLLED_BACK
                }
                _ => EventKind::ROLLOUT_ADVANCED,
            };
            let mut event = Event::new(kind, format!("rollout {id}: {}", transition.reason))
                .with_rollout(id.to_string())
                .with_reason(transition.reason.clone())
                .with_detail("weight", transition.weight.to_string())
                .with_detail("transition", format!("{:?}", transition.kind));
            if let Some(step) = transition.to_step {
                event = event.with_detail("step", step.to_string());
            }
            self.notifications.notify(event);
        }
    }

    /// Every rollout's state as `Rollout.status` fields for Kubernetes mode's status writer:
    /// phase, step, weight, mirroring, the last transition's reason, and `state`, the durable
    /// state (what `--state-dir` holds in file mode).
    pub fn status_fields(&self) -> Vec<(MigrationId, serde_json::Map<String, Value>)> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .map(|(id, entry)| {
                let state = &entry.state;
                let control = &entry.runtime.control;
                let last = state.history().last();
                let phase = match state.phase() {
                    Phase::Progressing { .. } => "Progressing",
                    Phase::Paused { .. } => "Paused",
                    Phase::Completed { .. } => "Completed",
                    Phase::RolledBack { .. } => "RolledBack",
                    Phase::Aborted { .. } => "Aborted",
                };
                let step = state
                    .active_step()
                    .map(|s| s.index)
                    .or_else(|| last.and_then(|t| t.to_step.or(t.from_step)));
                let mut fields = serde_json::Map::new();
                fields.insert("phase".into(), json!(phase));
                if let Some(step) = step {
                    fields.insert("step".into(), json!(step));
                }
                fields.insert("weight".into(), json!(control.weight()));
                fields.insert("mirroring".into(), json!(control.mirroring()));
                if let Some(last) = last {
                    fields.insert("reason".into(), json!(last.reason));
                }
                // The durable copy: the writer replaces the status with these fields, so it is
                // always there (it changes only on transitions).
                fields.insert("state".into(), state.to_durable());
                (id.clone(), fields)
            })
            .collect()
    }

    /// Every rollout's state, for `/api/v1/rollouts` and `torii rollout status`.
    pub fn status(&self) -> Value {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let rollouts: Vec<Value> = entries.iter().map(|(id, e)| describe(id, e)).collect();
        let error = self
            .store_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match self.kube.get() {
            Some(kube) => json!({
                "rollouts": rollouts,
                "stateStore": "Rollout status",
                "leader": *kube.leader.borrow(),
                "lease": kube.lease,
            }),
            None => json!({
                "rollouts": rollouts,
                "stateDir": self.state_dir.display().to_string(),
                "stateDirError": error,
            }),
        }
    }
}

/// One rollout as the API shows it: phase, what is applied, the current window's figures.
fn describe(id: &MigrationId, entry: &Entry) -> Value {
    let control = &entry.runtime.control;
    let state = &entry.state;
    let window = state.active_step().map(|step| {
        let stable = control.stable.snapshot().since(&step.baseline.stable);
        let candidate = control.candidate.snapshot().since(&step.baseline.candidate);
        let diffs = diff_counts(&entry.runtime.comparison).since(&step.baseline.diffs);
        let ms = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1000.0);
        json!({
            "sinceMs": step.started_ms,
            "stable": {"requests": stable.requests, "errors": stable.errors, "p99Ms": ms(stable.quantile(0.99))},
            "candidate": {"requests": candidate.requests, "errors": candidate.errors, "p99Ms": ms(candidate.quantile(0.99))},
            "compared": diffs.compared,
            "regressions": diffs.regressions,
        })
    });
    let phase = match state.phase() {
        Phase::Progressing { .. } => "Progressing",
        Phase::Paused { .. } => "Paused",
        Phase::Completed { .. } => "Completed",
        Phase::RolledBack { .. } => "RolledBack",
        Phase::Aborted { .. } => "Aborted",
    };
    let history: Vec<&Transition> = state.history().iter().rev().take(10).collect();
    json!({
        "name": id.to_string(),
        "phase": phase,
        "describe": state.phase().to_string(),
        "step": state.active_step().map(|s| s.index),
        "steps": entry.plan.steps().len(),
        "weight": control.weight(),
        "mirroring": control.mirroring(),
        "waiting": state.waiting().map(ToString::to_string),
        "window": window,
        "stable": entry.runtime.config.stable.to_string(),
        "candidate": entry.runtime.config.candidate.to_string(),
        "history": history,
    })
}

/// Why a command was not carried out.
#[derive(Debug)]
pub enum CommandFailure {
    /// No rollout of that name in the applied config.
    NotFound,
    /// Not one of the actions.
    UnknownAction(String),
    /// The rollout's phase does not allow it.
    Refused(String),
    /// Kubernetes mode: this replica does not hold the Lease (`namespace/name`); only the
    /// leader changes rollouts.
    NotLeader(String),
}

#[derive(serde::Deserialize)]
struct By {
    by: Option<String>,
}

/// The migration routes of the admin server.
pub fn admin_routes(controller: Arc<RolloutController>, migrations: Arc<Migrations>) -> Router {
    let rollouts = Router::new()
        .route("/api/v1/rollouts", get(list_rollouts))
        .route(
            "/api/v1/rollouts/{namespace}/{name}/{action}",
            post(rollout_command),
        )
        .with_state(controller);
    let diffs = Router::new()
        .route("/api/v1/diffs", get(list_diffs))
        .route(
            "/api/v1/diffs/{namespace}/{name}/samples/{id}",
            get(diff_sample),
        )
        .with_state(migrations);
    rollouts.merge(diffs)
}

async fn list_rollouts(State(controller): State<Arc<RolloutController>>) -> Json<Value> {
    Json(controller.status())
}

async fn rollout_command(
    State(controller): State<Arc<RolloutController>>,
    Path((namespace, name, action)): Path<(String, String, String)>,
    Query(by): Query<By>,
) -> Response {
    let id = MigrationId::new(&namespace, &name);
    let by: String = by
        .by
        .unwrap_or_else(|| "admin API".to_owned())
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    match controller.command(&id, &action, &by) {
        Ok(state) => Json(state).into_response(),
        Err(CommandFailure::NotFound) => error(StatusCode::NOT_FOUND, format!("no rollout {id}")),
        Err(CommandFailure::UnknownAction(action)) => error(
            StatusCode::BAD_REQUEST,
            format!(
                "unknown action {action:?} (pause, resume, promote, promote-full, abort, restart)"
            ),
        ),
        Err(CommandFailure::Refused(why)) => error(StatusCode::CONFLICT, why),
        Err(CommandFailure::NotLeader(lease)) => error(
            StatusCode::CONFLICT,
            format!("this replica does not hold the Lease {lease}; send rollout commands to the replica that does (its holderIdentity)"),
        ),
    }
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// Every comparison's (and rollout comparison's) results.
async fn list_diffs(State(migrations): State<Arc<Migrations>>) -> Json<Value> {
    let mut all = Vec::new();
    let mut push = |kind: &str, comparison: &ComparisonRuntime| {
        use std::sync::atomic::Ordering::Relaxed;
        let counters = &comparison.counters;
        all.push(json!({
            "name": comparison.id.to_string(),
            "kind": kind,
            "candidate": comparison.candidate.to_string(),
            "compared": counters.compared.load(Relaxed),
            "regressions": counters.regressions.load(Relaxed),
            "noise": counters.noise.load(Relaxed),
            "shed": counters.shed.load(Relaxed),
            "report": comparison.store.report(),
        }));
    };
    for comparison in migrations.comparisons() {
        push("Comparison", &comparison);
    }
    for rollout in migrations.rollouts() {
        push("Rollout", &rollout.comparison);
    }
    Json(json!({ "comparisons": all }))
}

async fn diff_sample(
    State(migrations): State<Arc<Migrations>>,
    Path((namespace, name, id)): Path<(String, String, u64)>,
) -> Response {
    let key = MigrationId::new(&namespace, &name);
    let comparison = migrations
        .comparison(&key)
        .or_else(|| migrations.rollout(&key).map(|r| r.comparison.clone()));
    let Some(comparison) = comparison else {
        return error(StatusCode::NOT_FOUND, format!("no comparison {key}"));
    };
    match comparison.store.sample(id) {
        Some(sample) => Json(sample).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no sample {id} in {key}")),
    }
}
