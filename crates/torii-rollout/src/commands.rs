//! Starting a rollout and the people's commands: pause, resume, promote, abort, restart; and
//! following a changed plan.

use crate::plan::RolloutPlan;
use crate::state::{
    ActiveStep, Baseline, PauseCause, Phase, RolloutState, Transition, TransitionKind,
    STATE_VERSION,
};
use std::fmt;

/// A command a person gives a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// [`RolloutState::pause`].
    Pause,
    /// [`RolloutState::resume`].
    Resume,
    /// [`RolloutState::promote`].
    Promote,
    /// [`RolloutState::promote_full`].
    PromoteFull,
    /// [`RolloutState::abort`].
    Abort,
    /// [`RolloutState::restart`].
    Restart,
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Command::Pause => "pause",
            Command::Resume => "resume",
            Command::Promote => "promote",
            Command::PromoteFull => "fully promote",
            Command::Abort => "abort",
            Command::Restart => "restart",
        })
    }
}

/// A command that does not apply to the rollout as it is; the state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The command does not apply in the rollout's phase.
    #[error("cannot {command} a rollout that is {phase}: {allowed}")]
    NotAllowed {
        /// The command.
        command: Command,
        /// The phase, as "rolled back at step 2".
        phase: String,
        /// Where the command applies.
        allowed: &'static str,
    },
    /// The plan given is not the one the state follows: evaluate (or reconcile) first, so the
    /// rollout moves onto the new plan before a person moves it further.
    #[error(
        "cannot {command}: the plan changed since the rollout reached its step; evaluate it first"
    )]
    PlanChanged {
        /// The command.
        command: Command,
    },
}

impl RolloutState {
    /// A new rollout on step 0 of `plan`, its window starting at `baseline`.
    pub fn start(plan: &RolloutPlan, now_ms: u64, baseline: Baseline) -> (Self, Transition) {
        let step = ActiveStep::new(plan, 0, now_ms, baseline);
        let transition = Transition {
            at_ms: now_ms,
            kind: TransitionKind::Started,
            from_step: None,
            to_step: Some(0),
            weight: step.weight,
            reason: format!("started at {step}"),
        };
        let state = Self::new(
            plan,
            Phase::Progressing { step },
            transition.clone(),
            now_ms,
        );
        (state, transition)
    }

    /// A rollout that is rolled back from the start, at step 0: the safe state for a rollout
    /// whose saved state cannot be read (see [`crate::StateStore::load_all`]).
    pub fn rolled_back(plan: &RolloutPlan, now_ms: u64, reason: String) -> Self {
        let transition = Transition {
            at_ms: now_ms,
            kind: TransitionKind::RolledBack,
            from_step: None,
            to_step: None,
            weight: 0,
            reason: reason.clone(),
        };
        let phase = Phase::RolledBack {
            step: 0,
            at_ms: now_ms,
            reason,
        };
        Self::new(plan, phase, transition, now_ms)
    }

    fn new(plan: &RolloutPlan, phase: Phase, first: Transition, now_ms: u64) -> Self {
        Self {
            version: STATE_VERSION,
            plan_fingerprint: plan.fingerprint().to_owned(),
            phase,
            waiting: None,
            history: vec![first],
            updated_ms: now_ms,
        }
    }

    fn not_allowed(&self, command: Command, allowed: &'static str) -> CommandError {
        CommandError::NotAllowed {
            command,
            phase: self.phase.to_string(),
            allowed,
        }
    }

    /// Holds a progressing rollout on its step (traffic stays; failing gates still roll back).
    pub fn pause(
        &mut self,
        now_ms: u64,
        by: &str,
        reason: &str,
    ) -> Result<Transition, CommandError> {
        let Phase::Progressing { step } = &self.phase else {
            return Err(self.not_allowed(Command::Pause, "only a progressing rollout pauses"));
        };
        let text = format!("paused by {by} at {step}: {reason}");
        let phase = Phase::Paused {
            step: step.clone(),
            at_ms: now_ms,
            by: PauseCause::Person {
                name: by.to_owned(),
            },
            reason: reason.to_owned(),
        };
        Ok(self.transition(phase, now_ms, TransitionKind::Paused, text))
    }

    /// Continues a paused rollout on its step, with a new window from `baseline` and the
    /// step's pause counted again from `now_ms`.
    pub fn resume(
        &mut self,
        now_ms: u64,
        by: &str,
        baseline: Baseline,
    ) -> Result<Transition, CommandError> {
        let Phase::Paused { step, .. } = &self.phase else {
            return Err(self.not_allowed(Command::Resume, "only a paused rollout resumes"));
        };
        let mut step = step.clone();
        step.started_ms = now_ms;
        step.baseline = baseline;
        let text = format!("resumed by {by} at {step}");
        Ok(self.transition(
            Phase::Progressing { step },
            now_ms,
            TransitionKind::Resumed,
            text,
        ))
    }

    /// Skips the current step's gates: a progressing or paused rollout moves to the next step
    /// (progressing, window from `baseline`), or completes from the last step.
    pub fn promote(
        &mut self,
        plan: &RolloutPlan,
        now_ms: u64,
        by: &str,
        baseline: Baseline,
    ) -> Result<Transition, CommandError> {
        let Some(current) = self.active_step() else {
            return Err(self.not_allowed(
                Command::Promote,
                "only a progressing or paused rollout is promoted",
            ));
        };
        if plan.fingerprint() != self.plan_fingerprint {
            return Err(CommandError::PlanChanged {
                command: Command::Promote,
            });
        }
        let next = current.index + 1;
        if next >= plan.steps().len() {
            let text = format!("promoted by {by} from {current} to completion");
            return Ok(self.transition(
                Phase::Completed { at_ms: now_ms },
                now_ms,
                TransitionKind::Promoted,
                text,
            ));
        }
        let step = ActiveStep::new(plan, next, now_ms, baseline);
        let text = format!("promoted by {by} from {current} to {step}");
        Ok(self.transition(
            Phase::Progressing { step },
            now_ms,
            TransitionKind::Promoted,
            text,
        ))
    }

    /// Skips all remaining gates: a progressing or paused rollout completes (weight 100).
    pub fn promote_full(&mut self, now_ms: u64, by: &str) -> Result<Transition, CommandError> {
        let Some(current) = self.active_step() else {
            return Err(self.not_allowed(
                Command::PromoteFull,
                "only a progressing or paused rollout is promoted",
            ));
        };
        let text = format!("fully promoted by {by} from {current}");
        Ok(self.transition(
            Phase::Completed { at_ms: now_ms },
            now_ms,
            TransitionKind::Promoted,
            text,
        ))
    }

    /// Sends all traffic back to the stable backend (weight 0) of a progressing or paused
    /// rollout. A completed rollout is not aborted: change the route instead.
    pub fn abort(
        &mut self,
        now_ms: u64,
        by: &str,
        reason: &str,
    ) -> Result<Transition, CommandError> {
        let Some(current) = self.active_step() else {
            return Err(self.not_allowed(
                Command::Abort,
                "only a progressing or paused rollout is aborted",
            ));
        };
        let text = format!("aborted by {by} at {current}: {reason}");
        let phase = Phase::Aborted {
            step: current.index,
            at_ms: now_ms,
            by: by.to_owned(),
            reason: reason.to_owned(),
        };
        Ok(self.transition(phase, now_ms, TransitionKind::Aborted, text))
    }

    /// Starts a rolled-back or aborted rollout again at step 0 of `plan` (which it adopts if
    /// it changed), window from `baseline`.
    pub fn restart(
        &mut self,
        plan: &RolloutPlan,
        now_ms: u64,
        by: &str,
        baseline: Baseline,
    ) -> Result<Transition, CommandError> {
        if !matches!(self.phase, Phase::RolledBack { .. } | Phase::Aborted { .. }) {
            return Err(self.not_allowed(
                Command::Restart,
                "only a rolled-back or aborted rollout restarts",
            ));
        }
        self.plan_fingerprint = plan.fingerprint().to_owned();
        let step = ActiveStep::new(plan, 0, now_ms, baseline);
        let text = format!("restarted by {by} at {step}");
        Ok(self.transition(
            Phase::Progressing { step },
            now_ms,
            TransitionKind::Restarted,
            text,
        ))
    }

    /// Follows a changed plan (a different fingerprint): a progressing or paused rollout
    /// starts over at step 0 of the new plan (still paused if it was), window from
    /// `baseline`, because its step index and gates may mean something else now; a finished
    /// rollout keeps its phase and weight and only adopts the plan (a rolled-back one restarts
    /// on it). `None` when the plan is the same.
    pub fn reconcile_plan(
        &mut self,
        plan: &RolloutPlan,
        now_ms: u64,
        baseline: Baseline,
    ) -> Option<Transition> {
        if plan.fingerprint() == self.plan_fingerprint {
            return None;
        }
        self.plan_fingerprint = plan.fingerprint().to_owned();
        let (phase, text) = match &self.phase {
            Phase::Progressing { step: old } => {
                let step = ActiveStep::new(plan, 0, now_ms, baseline);
                let text = format!("the plan changed: from {old} back to {step}");
                (Phase::Progressing { step }, text)
            }
            Phase::Paused {
                step: old,
                at_ms,
                by,
                reason,
            } => {
                let step = ActiveStep::new(plan, 0, now_ms, baseline);
                let text = format!("the plan changed: from {old} back to {step}, still paused");
                let phase = Phase::Paused {
                    step,
                    at_ms: *at_ms,
                    by: by.clone(),
                    reason: reason.clone(),
                };
                (phase, text)
            }
            finished => (
                finished.clone(),
                format!("the plan changed: the rollout stays {finished}"),
            ),
        };
        Some(self.transition(phase, now_ms, TransitionKind::PlanChanged, text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::{mirror, weight};
    use crate::plan::{Analysis, RolloutPlan};

    fn plan() -> RolloutPlan {
        RolloutPlan::new(
            vec![mirror(), weight(1), weight(5), weight(100)],
            Analysis::default(),
        )
        .expect("valid")
    }

    /// A state in each phase, by name.
    fn in_phase(name: &str) -> RolloutState {
        let plan = plan();
        let (mut s, _) = RolloutState::start(&plan, 0, Baseline::default());
        s.promote(&plan, 1, "p", Baseline::default())
            .expect("promote");
        match name {
            "progressing" => {}
            "paused" => {
                s.pause(2, "alice", "look").expect("pause");
            }
            "completed" => {
                s.promote_full(2, "alice").expect("promote_full");
            }
            "rolledBack" => {
                s = RolloutState::rolled_back(&plan, 2, "bad".into());
            }
            "aborted" => {
                s.abort(2, "alice", "no").expect("abort");
            }
            other => panic!("unknown phase {other}"),
        }
        s
    }

    #[test]
    fn weights_per_phase() {
        let cases = [
            ("progressing", 1, true),
            ("paused", 1, false),
            ("completed", 100, false),
            ("rolledBack", 0, false),
            ("aborted", 0, false),
        ];
        for (name, weight, _) in cases {
            let s = in_phase(name);
            assert_eq!(s.current_weight(), weight, "{name}");
            assert!(!s.mirroring(), "{name}: no max_diff_rate, weight step");
        }
        let plan = plan();
        let (s, t) = RolloutState::start(&plan, 0, Baseline::default());
        assert_eq!((s.current_weight(), s.mirroring()), (0, true));
        assert_eq!(
            (t.kind, t.from_step, t.to_step, t.weight),
            (TransitionKind::Started, None, Some(0), 0)
        );
        let mut s = s;
        s.pause(1, "bob", "lunch").expect("pause");
        assert_eq!(
            (s.current_weight(), s.mirroring()),
            (0, true),
            "paused on the mirror step"
        );
    }

    #[test]
    fn commands_and_their_transitions() {
        let plan = plan();
        let (mut s, _) = RolloutState::start(&plan, 0, Baseline::default());
        let t = s.pause(10, "alice", "checking dashboards").expect("pause");
        assert_eq!(t.kind, TransitionKind::Paused);
        assert_eq!(
            t.reason,
            "paused by alice at step 0 (mirror): checking dashboards"
        );
        let t = s.resume(20, "alice", Baseline::default()).expect("resume");
        assert_eq!((t.kind, t.to_step), (TransitionKind::Resumed, Some(0)));
        assert_eq!(s.active_step().map(|a| a.started_ms), Some(20));
        let t = s
            .promote(&plan, 30, "alice", Baseline::default())
            .expect("promote");
        assert_eq!(
            (t.kind, t.from_step, t.to_step, t.weight),
            (TransitionKind::Promoted, Some(0), Some(1), 1)
        );
        assert_eq!(
            t.reason,
            "promoted by alice from step 0 (mirror) to step 1 (weight 1%)"
        );
        s.promote(&plan, 31, "alice", Baseline::default())
            .expect("promote");
        s.promote(&plan, 32, "alice", Baseline::default())
            .expect("promote");
        assert_eq!(s.current_weight(), 100);
        assert!(!s.is_finished());
        let t = s
            .promote(&plan, 33, "alice", Baseline::default())
            .expect("promote");
        assert_eq!(
            (t.kind, t.to_step, t.weight),
            (TransitionKind::Promoted, None, 100)
        );
        assert_eq!(s.phase(), &Phase::Completed { at_ms: 33 });

        let mut s = in_phase("paused");
        let t = s.promote_full(40, "carol").expect("promote_full");
        assert_eq!(
            (t.weight, t.reason.as_str()),
            (100, "fully promoted by carol from step 1 (weight 1%)")
        );

        let mut s = in_phase("progressing");
        let t = s.abort(50, "dave", "wrong image").expect("abort");
        assert_eq!((t.kind, t.weight), (TransitionKind::Aborted, 0));
        assert_eq!(
            t.reason,
            "aborted by dave at step 1 (weight 1%): wrong image"
        );
        let t = s
            .restart(&plan, 60, "dave", Baseline::default())
            .expect("restart");
        assert_eq!(
            (t.kind, t.from_step, t.to_step, t.weight),
            (TransitionKind::Restarted, Some(1), Some(0), 0)
        );
    }

    #[test]
    fn illegal_commands_say_why() {
        let plan = plan();
        type Run = fn(&mut RolloutState, &RolloutPlan) -> Result<Transition, CommandError>;
        let pause: Run = |s, _| s.pause(9, "x", "y");
        let resume: Run = |s, _| s.resume(9, "x", Baseline::default());
        let promote: Run = |s, p| s.promote(p, 9, "x", Baseline::default());
        let promote_full: Run = |s, _| s.promote_full(9, "x");
        let abort: Run = |s, _| s.abort(9, "x", "y");
        let restart: Run = |s, p| s.restart(p, 9, "x", Baseline::default());
        let cases: [(&str, Run, &str); 9] = [
            ("progressing", resume, "cannot resume a rollout that is progressing at step 1 (weight 1%): only a paused rollout resumes"),
            ("paused", pause, "cannot pause a rollout that is paused at step 1 (weight 1%): only a progressing rollout pauses"),
            ("rolledBack", promote, "cannot promote a rollout that is rolled back at step 0: only a progressing or paused rollout is promoted"),
            ("aborted", promote_full, "cannot fully promote a rollout that is aborted at step 1: only a progressing or paused rollout is promoted"),
            ("completed", abort, "cannot abort a rollout that is completed: only a progressing or paused rollout is aborted"),
            ("rolledBack", abort, "cannot abort a rollout that is rolled back at step 0: only a progressing or paused rollout is aborted"),
            ("progressing", restart, "cannot restart a rollout that is progressing at step 1 (weight 1%): only a rolled-back or aborted rollout restarts"),
            ("completed", restart, "cannot restart a rollout that is completed: only a rolled-back or aborted rollout restarts"),
            ("rolledBack", resume, "cannot resume a rollout that is rolled back at step 0: only a paused rollout resumes"),
        ];
        for (phase, run, expected) in cases {
            let mut s = in_phase(phase);
            let before = s.clone();
            let error = run(&mut s, &plan).expect_err(expected);
            assert_eq!(error.to_string(), expected);
            assert_eq!(s, before, "a refused command changes nothing");
        }
        let other = RolloutPlan::new(vec![weight(100)], Analysis::default()).expect("valid");
        let mut s = in_phase("progressing");
        assert_eq!(
            s.promote(&other, 9, "x", Baseline::default())
                .expect_err("changed plan"),
            CommandError::PlanChanged {
                command: Command::Promote
            }
        );
    }

    #[test]
    fn a_changed_plan_starts_over_unless_finished() {
        let other =
            RolloutPlan::new(vec![weight(10), weight(100)], Analysis::default()).expect("valid");
        let cases = [
            ("progressing", 10, "the plan changed: from step 1 (weight 1%) back to step 0 (weight 10%)"),
            ("paused", 10, "the plan changed: from step 1 (weight 1%) back to step 0 (weight 10%), still paused"),
            ("completed", 100, "the plan changed: the rollout stays completed"),
            ("rolledBack", 0, "the plan changed: the rollout stays rolled back at step 0"),
            ("aborted", 0, "the plan changed: the rollout stays aborted at step 1"),
        ];
        for (phase, weight, reason) in cases {
            let mut s = in_phase(phase);
            assert_eq!(
                s.reconcile_plan(&plan(), 5, Baseline::default()),
                None,
                "same plan"
            );
            let t = s
                .reconcile_plan(&other, 5, Baseline::default())
                .expect("changed");
            assert_eq!(
                (t.kind, t.reason.as_str()),
                (TransitionKind::PlanChanged, reason)
            );
            assert_eq!(s.current_weight(), weight, "{phase}");
            assert_eq!(s.plan_fingerprint(), other.fingerprint());
        }
    }

    #[test]
    fn restart_of_the_process_keeps_the_step() {
        for (phase, weight) in [
            ("progressing", 1),
            ("paused", 1),
            ("rolledBack", 0),
            ("aborted", 0),
            ("completed", 100),
        ] {
            let mut s = in_phase(phase);
            if let Phase::Progressing { step } | Phase::Paused { step, .. } = &mut s.phase {
                step.baseline.diffs.compared = 77;
            }
            s.on_restart(1_000);
            assert_eq!(s.current_weight(), weight, "{phase}");
            if let Some(step) = s.active_step() {
                assert_eq!((step.index, step.started_ms), (1, 1_000));
                assert_eq!(step.baseline, Baseline::default());
            }
        }
    }

    #[test]
    fn history_is_bounded() {
        let plan = plan();
        let (mut s, _) = RolloutState::start(&plan, 0, Baseline::default());
        for i in 0..100 {
            s.pause(i, "a", "b").expect("pause");
            s.resume(i, "a", Baseline::default()).expect("resume");
        }
        assert_eq!(s.history().len(), crate::HISTORY_LIMIT);
        assert_eq!(
            s.history().last().map(|t| t.kind),
            Some(TransitionKind::Resumed)
        );
        assert_eq!(s.history().first().map(|t| t.at_ms), Some(75));
    }
}
