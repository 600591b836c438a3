//! Progressive rollout of one route from a **stable** backend (a VM pool, say) to a
//! **candidate** (a Kubernetes Service): a mirror-only phase whose compared responses must
//! agree, then traffic weights (1%, 5%, 25%, 50%, 100%) with pauses, each step gated by the
//! live data the proxy already has. A failing gate rolls back to the stable backend at once
//! and says why; people can pause, resume, promote, abort and restart; the state survives
//! restarts.
//!
//! Pure logic plus a file store: no async, no network, no clock (time is `now_ms`, UNIX
//! milliseconds, passed in).
//!
//! - [`TrafficStats`] — what the proxy records per backend on the hot path (lock-free, a few
//!   ns); [`StatsSnapshot`]s and their [`StatsWindow`]s; [`DiffCounts`] from response
//!   comparison.
//! - [`RolloutPlan`] — validated steps ([`Step::Mirror`], [`Step::Weight`]) and [`Analysis`].
//! - [`RolloutState`] — where a rollout is ([`Phase`]); [`RolloutState::current_weight`] and
//!   [`RolloutState::mirroring`] say what to apply; [`RolloutState::evaluate`] runs the gates;
//!   commands return a [`Transition`] (for notifications) or a [`CommandError`].
//! - [`StateStore`] — one JSON file per [`RolloutName`], written atomically; or, in
//!   Kubernetes mode, [`RolloutState::to_durable`] in the `Rollout`'s status.
//!
//! **Gates.** Each step has a window: the counters since the step started (its [`Baseline`]).
//! A gate *passes* or *fails* only with its minimum sample (`min_requests` candidate requests,
//! and as many stable ones for the comparative gates; `min_compared` comparisons); below it
//! the step waits as *inconclusive* ([`RolloutState::waiting`]), however long that takes, so
//! low traffic never promotes a candidate. One exception makes failure faster, never passing
//! easier: when the errors (or regressions) alone already exceed what the minimum sample
//! allows (`errors > max_error_rate × min_requests`), the gate fails before the sample is
//! complete. Gates: error rate ≤ `max_error_rate`; error rate − stable error rate ≤
//! `max_error_rate_increase`; p99 ≤ `max_latency_p99_ratio` × stable p99 + `latency_slack`;
//! diff rate ≤ the mirror step's `max_diff_rate` (and the analysis's on weight steps, if set).
//! On mirror steps the error and latency gates only guard: they fail with enough data but do
//! not make the step wait, since the candidate sees only mirrored traffic.
//!
//! **Restarts and plan changes.** Save the state after every transition ([`StateStore::save`]
//! before raising a weight; lowering one can come first). After a restart,
//! [`RolloutState::on_restart`] keeps the step, restarts its timer and window; rolled-back and
//! aborted rollouts stay at weight 0. A plan with a different fingerprint restarts a running
//! rollout at step 0 ([`RolloutState::reconcile_plan`], also done by `evaluate`): its step
//! indexes and gates may mean something else now, and step 0 is the least traffic.

mod commands;
mod config;
mod durable;
mod evaluate;
mod plan;
mod state;
mod stats;
mod store;

pub use commands::{Command, CommandError};
pub use durable::DurableError;
pub use plan::{Analysis, InvalidPlan, RolloutPlan, Step};
pub use state::{
    ActiveStep, Baseline, PauseCause, Phase, RolloutState, Sample, Transition, TransitionKind,
    WaitReason, HISTORY_LIMIT, STATE_VERSION,
};
pub use stats::{
    bucket_bounds_micros, DiffCounts, DiffWindow, StatsSnapshot, StatsWindow, TrafficStats, BUCKETS,
};
pub use store::{InvalidName, RolloutName, StateStore, StoreError};
