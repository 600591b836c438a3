//! A rollout's state as a JSON value for a store other than the state directory: in
//! Kubernetes mode the `Rollout`'s `status.state`, where the API server is the durable store.
//!
//! The durable form is the state file's JSON without what only the running process can use:
//! no wait reason (it changes with every evaluation and would cost a status write each time)
//! and zero baselines (counters are per process; whoever loads the state restarts the step's
//! window with [`RolloutState::on_restart`] or [`RolloutState::take_over`]).

use crate::state::{Baseline, Phase, RolloutState, STATE_VERSION};
use serde_json::Value;

/// A durable state that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DurableError {
    /// Written by a newer build in a format this one does not know.
    #[error("rollout state version {0} is newer than this build's {STATE_VERSION}")]
    UnsupportedVersion(u32),
    /// Not a rollout state (damaged or edited by hand).
    #[error("not a valid rollout state")]
    Invalid(#[source] serde_json::Error),
}

impl RolloutState {
    /// The state to persist outside the state directory (see the module docs).
    pub fn to_durable(&self) -> Value {
        let mut durable = self.clone();
        durable.waiting = None;
        if let Phase::Progressing { step } | Phase::Paused { step, .. } = &mut durable.phase {
            step.baseline = Baseline::default();
        }
        // A state is plain data: serializing it cannot fail.
        serde_json::to_value(&durable).unwrap_or(Value::Null)
    }

    /// A state from its durable form, refusing newer formats.
    pub fn from_durable(value: &Value) -> Result<RolloutState, DurableError> {
        // Look at the version first: a newer format may not parse as this one.
        if let Some(version) = value.get("version").and_then(Value::as_u64) {
            if version > u64::from(STATE_VERSION) {
                return Err(DurableError::UnsupportedVersion(
                    u32::try_from(version).unwrap_or(u32::MAX),
                ));
            }
        }
        serde::Deserialize::deserialize(value).map_err(DurableError::Invalid)
    }

    /// When this process starts driving a state another process drove (it became the
    /// leader): a progressing or paused rollout stays on its step with the step's window
    /// restarted at `now_ms` from `baseline` (this process's counters now). Unlike
    /// [`Self::on_restart`], the counters did not restart: they hold the traffic seen before.
    pub fn take_over(&mut self, now_ms: u64, baseline: Baseline) {
        self.on_restart(now_ms);
        if let Phase::Progressing { step } | Phase::Paused { step, .. } = &mut self.phase {
            step.baseline = baseline;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::{mirror, weight};
    use crate::plan::{Analysis, RolloutPlan};
    use crate::state::{Sample, WaitReason};
    use crate::stats::{DiffCounts, StatsSnapshot};

    fn plan() -> RolloutPlan {
        RolloutPlan::new(
            vec![mirror(), weight(1), weight(5), weight(100)],
            Analysis::default(),
        )
        .expect("valid")
    }

    fn counters(n: u64) -> Baseline {
        let snapshot = StatsSnapshot {
            requests: n,
            errors: 1,
            buckets: vec![n, 0, 3],
        };
        Baseline::new(
            snapshot.clone(),
            snapshot,
            DiffCounts {
                compared: n,
                regressions: 0,
            },
        )
    }

    /// A state in each phase, with history, a baseline and a wait reason.
    fn in_phase(name: &str) -> RolloutState {
        let plan = plan();
        let (mut s, _) = RolloutState::start(&plan, 1_000, counters(5));
        s.promote(&plan, 2_000, "p", counters(9)).expect("promote");
        match name {
            "progressing" => {}
            "paused" => {
                s.pause(3_000, "alice", "look").expect("pause");
            }
            "completed" => {
                s.promote_full(3_000, "alice").expect("promote_full");
            }
            "rolledBack" => s = RolloutState::rolled_back(&plan, 3_000, "bad".into()),
            "aborted" => {
                s.abort(3_000, "alice", "no").expect("abort");
            }
            other => panic!("unknown phase {other}"),
        }
        s.waiting = Some(WaitReason::Inconclusive {
            sample: Sample::CandidateRequests,
            have: 3,
            need: 100,
        });
        s
    }

    #[test]
    fn round_trip_keeps_everything_a_restart_needs() {
        for name in [
            "progressing",
            "paused",
            "completed",
            "rolledBack",
            "aborted",
        ] {
            let state = in_phase(name);
            let durable = state.to_durable();
            assert!(durable.get("waiting").is_none_or(Value::is_null), "{name}");
            let back = RolloutState::from_durable(&durable).expect(name);
            // What a restart needs survives: phase (step, times, who, why), plan, history.
            assert_eq!(back.plan_fingerprint(), state.plan_fingerprint(), "{name}");
            assert_eq!(back.history(), state.history(), "{name}");
            assert_eq!(back.updated_ms(), state.updated_ms(), "{name}");
            assert_eq!(back.current_weight(), state.current_weight(), "{name}");
            assert_eq!(back.waiting(), None, "{name}");
            let mut expected = state.clone();
            expected.waiting = None;
            if let Phase::Progressing { step } | Phase::Paused { step, .. } = &mut expected.phase {
                step.baseline = Baseline::default();
            }
            assert_eq!(back, expected, "{name}");
            // The form is stable: writing it again gives the same value (no status churn).
            assert_eq!(back.to_durable(), durable, "{name}");
        }
    }

    #[test]
    fn durable_form_does_not_change_between_evaluations() {
        let mut state = in_phase("progressing");
        let before = state.to_durable();
        state.waiting = Some(WaitReason::Pausing { remaining_ms: 7 });
        if let Phase::Progressing { step } = &mut state.phase {
            step.baseline = counters(1_000);
        }
        assert_eq!(state.to_durable(), before);
    }

    #[test]
    fn refuses_newer_versions_and_garbage() {
        let mut durable = in_phase("paused").to_durable();
        durable["version"] = serde_json::json!(STATE_VERSION + 1);
        assert!(matches!(
            RolloutState::from_durable(&durable),
            Err(DurableError::UnsupportedVersion(v)) if v == STATE_VERSION + 1
        ));
        for bad in [
            serde_json::json!(null),
            serde_json::json!({"version": 1}),
            serde_json::json!({"version": 1, "planFingerprint": "x", "phase": {"state": "nowhere"}, "updatedMs": 1}),
        ] {
            assert!(
                matches!(
                    RolloutState::from_durable(&bad),
                    Err(DurableError::Invalid(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn take_over_restarts_the_window_from_the_counters_now() {
        let mut state =
            RolloutState::from_durable(&in_phase("progressing").to_durable()).expect("valid");
        state.take_over(9_000, counters(42));
        let step = state.active_step().expect("active");
        assert_eq!((step.index, step.started_ms), (1, 9_000));
        assert_eq!(step.baseline, counters(42));
        let mut done = in_phase("completed");
        let before = done.clone();
        done.take_over(9_000, counters(42));
        assert_eq!(done.phase(), before.phase());
    }
}
