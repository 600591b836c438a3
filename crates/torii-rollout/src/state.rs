//! The persisted state of one rollout: where it is ([`Phase`]), why it waits ([`WaitReason`])
//! and what happened ([`Transition`]s). Commands live in `commands.rs`, the gates in
//! `evaluate.rs`.

use crate::plan::{RolloutPlan, Step};
use crate::stats::{DiffCounts, StatsSnapshot};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The state format this build writes and reads; files with a newer version are refused.
pub const STATE_VERSION: u32 = 1;

/// How many transitions a state keeps (the newest).
pub const HISTORY_LIMIT: usize = 50;

/// The cumulative counters at the start of a step; the step's window is "now since baseline".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Baseline {
    /// The stable backend's counters.
    pub stable: StatsSnapshot,
    /// The candidate's counters.
    pub candidate: StatsSnapshot,
    /// The response comparison counters.
    pub diffs: DiffCounts,
}

impl Baseline {
    /// The counters now, as the start of a window.
    pub fn new(stable: StatsSnapshot, candidate: StatsSnapshot, diffs: DiffCounts) -> Self {
        Self {
            stable,
            candidate,
            diffs,
        }
    }
}

/// The step a progressing or paused rollout is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveStep {
    /// Index into the plan's steps.
    pub index: usize,
    /// The candidate's traffic percent on this step (0 on a mirror step).
    pub weight: u8,
    /// Whether traffic is mirrored to the candidate and compared on this step.
    pub mirroring: bool,
    /// When the step (or its window, after a resume or a restart) started, UNIX ms.
    pub started_ms: u64,
    /// The counters when it started.
    pub baseline: Baseline,
}

impl ActiveStep {
    /// Step `index` of `plan`, starting at `now_ms` with `baseline`.
    pub(crate) fn new(plan: &RolloutPlan, index: usize, now_ms: u64, baseline: Baseline) -> Self {
        let step = &plan.steps()[index];
        Self {
            index,
            weight: step.weight(),
            mirroring: matches!(step, Step::Mirror { .. })
                || plan.analysis().max_diff_rate.is_some(),
            started_ms: now_ms,
            baseline,
        }
    }
}

impl fmt::Display for ActiveStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.weight == 0 {
            write!(f, "step {} (mirror)", self.index)
        } else {
            write!(f, "step {} (weight {}%)", self.index, self.weight)
        }
    }
}

/// Who paused a rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
#[non_exhaustive]
pub enum PauseCause {
    /// A person, by the name the caller authenticated.
    Person {
        /// Their name.
        name: String,
    },
}

/// Where a rollout is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "state",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Phase {
    /// On a step, evaluated by the gates.
    Progressing {
        /// The step.
        step: ActiveStep,
    },
    /// Held on a step: traffic stays at its weight, failing gates still roll back, passing
    /// gates do not advance.
    Paused {
        /// The step.
        step: ActiveStep,
        /// When, UNIX ms.
        at_ms: u64,
        /// Who.
        by: PauseCause,
        /// Why, as given.
        reason: String,
    },
    /// All steps passed (or a person promoted it fully): the candidate takes all traffic.
    Completed {
        /// When, UNIX ms.
        at_ms: u64,
    },
    /// A gate failed: the stable backend takes all traffic.
    RolledBack {
        /// The step it failed on.
        step: usize,
        /// When, UNIX ms.
        at_ms: u64,
        /// The failed gate with its numbers.
        reason: String,
    },
    /// A person aborted it: the stable backend takes all traffic.
    Aborted {
        /// The step it was on.
        step: usize,
        /// When, UNIX ms.
        at_ms: u64,
        /// Who.
        by: String,
        /// Why, as given.
        reason: String,
    },
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Phase::Progressing { step } => write!(f, "progressing at {step}"),
            Phase::Paused { step, .. } => write!(f, "paused at {step}"),
            Phase::Completed { .. } => f.write_str("completed"),
            Phase::RolledBack { step, .. } => write!(f, "rolled back at step {step}"),
            Phase::Aborted { step, .. } => write!(f, "aborted at step {step}"),
        }
    }
}

/// Which sample a step waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Sample {
    /// Requests to the candidate in the step's window.
    CandidateRequests,
    /// Requests to the stable backend (for the comparative gates).
    StableRequests,
    /// Compared mirrored responses.
    Comparisons,
}

impl fmt::Display for Sample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sample::CandidateRequests => "candidate requests",
            Sample::StableRequests => "stable requests",
            Sample::Comparisons => "compared responses",
        })
    }
}

/// Why a progressing rollout stays on its step after an evaluation (for status).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum WaitReason {
    /// Too little data to judge: the step neither passes nor fails.
    Inconclusive {
        /// The sample lacking.
        sample: Sample,
        /// What the window has.
        have: u64,
        /// What the gate needs.
        need: u64,
    },
    /// The gates pass but the step's pause (or a mirror step's minimum duration) runs.
    Pausing {
        /// Time left, ms.
        remaining_ms: u64,
    },
}

impl fmt::Display for WaitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitReason::Inconclusive { sample, have, need } => {
                write!(f, "inconclusive: {have} of {need} {sample}")
            }
            WaitReason::Pausing { remaining_ms } => write!(
                f,
                "pausing: {} left",
                crate::evaluate::format_duration(std::time::Duration::from_millis(*remaining_ms))
            ),
        }
    }
}

/// What kind of change a [`Transition`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TransitionKind {
    /// The rollout began at step 0.
    Started,
    /// The gates passed: on to the next step.
    Advanced,
    /// The gates of the last step passed.
    Completed,
    /// A gate failed: back to the stable backend.
    RolledBack,
    /// A person paused it.
    Paused,
    /// A person resumed it.
    Resumed,
    /// A person skipped the gates: to the next step, or to completion.
    Promoted,
    /// A person aborted it: back to the stable backend.
    Aborted,
    /// A person restarted a rolled-back or aborted rollout at step 0.
    Restarted,
    /// The plan changed under it (see [`RolloutState::reconcile_plan`]).
    PlanChanged,
}

/// One change of a rollout, for history and notifications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transition {
    /// When, UNIX ms.
    pub at_ms: u64,
    /// What happened.
    pub kind: TransitionKind,
    /// The step before (`None` when the rollout started).
    pub from_step: Option<usize>,
    /// The step after, when progressing or paused afterwards.
    pub to_step: Option<usize>,
    /// The candidate's traffic percent afterwards.
    pub weight: u8,
    /// Why, with numbers (gate results) or the person's words.
    pub reason: String,
}

/// The state of one rollout: what to apply now, and where to continue after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutState {
    pub(crate) version: u32,
    pub(crate) plan_fingerprint: String,
    pub(crate) phase: Phase,
    #[serde(default)]
    pub(crate) waiting: Option<WaitReason>,
    #[serde(default)]
    pub(crate) history: Vec<Transition>,
    pub(crate) updated_ms: u64,
}

impl RolloutState {
    /// The format version of this state ([`STATE_VERSION`] when written by this build).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The fingerprint of the plan the state follows.
    pub fn plan_fingerprint(&self) -> &str {
        &self.plan_fingerprint
    }

    /// Where the rollout is.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// Why the last evaluation kept a progressing rollout on its step, if it did.
    pub fn waiting(&self) -> Option<&WaitReason> {
        self.waiting.as_ref()
    }

    /// The last [`HISTORY_LIMIT`] transitions, oldest first.
    pub fn history(&self) -> &[Transition] {
        &self.history
    }

    /// When the state last changed (a transition or a restart), UNIX ms.
    pub fn updated_ms(&self) -> u64 {
        self.updated_ms
    }

    /// The step a progressing or paused rollout is on.
    pub fn active_step(&self) -> Option<&ActiveStep> {
        match &self.phase {
            Phase::Progressing { step } | Phase::Paused { step, .. } => Some(step),
            _ => None,
        }
    }

    /// The candidate's traffic percent to apply now: the step's weight (0 on a mirror step,
    /// paused or not), 100 when completed, 0 when rolled back or aborted.
    pub fn current_weight(&self) -> u8 {
        match &self.phase {
            Phase::Progressing { step } | Phase::Paused { step, .. } => step.weight,
            Phase::Completed { .. } => 100,
            Phase::RolledBack { .. } | Phase::Aborted { .. } => 0,
        }
    }

    /// Whether to mirror traffic to the candidate and compare responses now: on mirror steps,
    /// and on weight steps when the analysis has a `max_diff_rate`.
    pub fn mirroring(&self) -> bool {
        self.active_step().is_some_and(|s| s.mirroring)
    }

    /// Whether the rollout is over (completed, rolled back or aborted).
    pub fn is_finished(&self) -> bool {
        self.active_step().is_none()
    }

    /// After loading a saved state in a new process: a progressing or paused rollout stays on
    /// its step with its step timer restarted at `now_ms` and a zero baseline (the counters
    /// restarted with the process, so the window counts from here); finished rollouts keep
    /// their weight (0 after a rollback or an abort). The plan is checked separately by
    /// [`Self::reconcile_plan`] (and by every [`Self::evaluate`]).
    pub fn on_restart(&mut self, now_ms: u64) {
        if let Phase::Progressing { step } | Phase::Paused { step, .. } = &mut self.phase {
            step.started_ms = now_ms;
            step.baseline = Baseline::default();
            self.updated_ms = now_ms;
        }
        self.waiting = None;
    }

    /// Records a change: moves to `phase`, appends the transition to the bounded history.
    pub(crate) fn transition(
        &mut self,
        phase: Phase,
        now_ms: u64,
        kind: TransitionKind,
        reason: String,
    ) -> Transition {
        let from_step = match &self.phase {
            Phase::Progressing { step } | Phase::Paused { step, .. } => Some(step.index),
            Phase::RolledBack { step, .. } | Phase::Aborted { step, .. } => Some(*step),
            Phase::Completed { .. } => None,
        };
        self.phase = phase;
        let transition = Transition {
            at_ms: now_ms,
            kind,
            from_step,
            to_step: self.active_step().map(|s| s.index),
            weight: self.current_weight(),
            reason,
        };
        self.waiting = None;
        self.updated_ms = now_ms;
        self.history.push(transition.clone());
        if self.history.len() > HISTORY_LIMIT {
            let excess = self.history.len() - HISTORY_LIMIT;
            self.history.drain(..excess);
        }
        transition
    }
}
