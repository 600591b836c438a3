//! Properties of any sequence of evaluations and commands: after a rollback or an abort the
//! candidate's weight stays 0 until a restart, and every weight change comes with a
//! transition that says so.

use proptest::prelude::*;
use std::time::Duration;
use torii_rollout::{
    Analysis, Baseline, DiffCounts, Phase, RolloutPlan, RolloutState, Step, TrafficStats,
};

#[derive(Debug, Clone)]
enum Op {
    /// Traffic, then an evaluation `advance_ms` later.
    Evaluate {
        requests: u64,
        errors_pct: u64,
        latency_ms: u64,
        compared: u64,
        regressions_pct: u64,
        advance_ms: u64,
    },
    Pause,
    Resume,
    Promote,
    PromoteFull,
    Abort,
    Restart,
    /// The other plan for one evaluation.
    ChangePlan,
    /// A new process: the state through JSON, fresh counters.
    ProcessRestart,
}

fn op(with_restart: bool) -> impl Strategy<Value = Op> {
    let evaluate = (
        0..300u64,
        0..=100u64,
        1..500u64,
        0..300u64,
        0..=100u64,
        0..200_000u64,
    )
        .prop_map(
            |(requests, errors_pct, latency_ms, compared, regressions_pct, advance_ms)| {
                Op::Evaluate {
                    requests,
                    errors_pct,
                    latency_ms,
                    compared,
                    regressions_pct,
                    advance_ms,
                }
            },
        );
    let restart = if with_restart { 1 } else { 0 };
    prop_oneof![
        8 => evaluate,
        1 => Just(Op::Pause),
        1 => Just(Op::Resume),
        1 => Just(Op::Promote),
        1 => Just(Op::PromoteFull),
        1 => Just(Op::Abort),
        restart => Just(Op::Restart),
        1 => Just(Op::ChangePlan),
        1 => Just(Op::ProcessRestart),
    ]
}

struct World {
    plans: [RolloutPlan; 2],
    stable: TrafficStats,
    candidate: TrafficStats,
    diffs: DiffCounts,
    state: RolloutState,
    now: u64,
}

impl World {
    fn new() -> Self {
        let analysis = Analysis {
            min_requests: 50,
            max_error_rate_increase: Some(0.02),
            max_latency_p99_ratio: Some(1.5),
            ..Analysis::default()
        };
        let steps = vec![
            Step::Mirror {
                min_duration: Duration::from_secs(30),
                max_diff_rate: 0.05,
                min_compared: 50,
            },
            Step::Weight {
                percent: 1,
                pause: Duration::from_secs(30),
            },
            Step::Weight {
                percent: 20,
                pause: Duration::from_secs(30),
            },
            Step::Weight {
                percent: 100,
                pause: Duration::from_secs(30),
            },
        ];
        let a = RolloutPlan::new(steps, analysis.clone()).expect("valid");
        let b = RolloutPlan::new(
            vec![
                Step::Weight {
                    percent: 10,
                    pause: Duration::ZERO,
                },
                Step::Weight {
                    percent: 100,
                    pause: Duration::ZERO,
                },
            ],
            analysis,
        )
        .expect("valid");
        let (state, _) = RolloutState::start(&a, 0, Baseline::default());
        Self {
            plans: [a, b],
            stable: TrafficStats::new(),
            candidate: TrafficStats::new(),
            diffs: DiffCounts::default(),
            state,
            now: 0,
        }
    }

    fn baseline(&self) -> Baseline {
        Baseline::new(
            self.stable.snapshot(),
            self.candidate.snapshot(),
            self.diffs,
        )
    }

    /// Applies `op`; returns the weight the transition announced, if any.
    fn apply(&mut self, op: &Op) -> Option<u8> {
        self.now += 1;
        let now = self.now;
        let plan = &self.plans[0];
        let transition = match op {
            Op::Evaluate {
                requests,
                errors_pct,
                latency_ms,
                compared,
                regressions_pct,
                advance_ms,
            } => {
                for i in 0..*requests {
                    let error = i * 100 < requests * errors_pct;
                    self.candidate
                        .record(Duration::from_millis(*latency_ms), error);
                    self.stable.record(Duration::from_millis(20), false);
                }
                self.diffs.compared += compared;
                self.diffs.regressions += compared * regressions_pct / 100;
                self.now += advance_ms;
                let (s, c) = (self.stable.snapshot(), self.candidate.snapshot());
                self.state.evaluate(plan, &s, &c, &self.diffs, self.now)
            }
            Op::Pause => self.state.pause(now, "p", "r").ok(),
            Op::Resume => self.state.resume(now, "p", self.baseline()).ok(),
            Op::Promote => self.state.promote(plan, now, "p", self.baseline()).ok(),
            Op::PromoteFull => self.state.promote_full(now, "p").ok(),
            Op::Abort => self.state.abort(now, "p", "r").ok(),
            Op::Restart => self.state.restart(plan, now, "p", self.baseline()).ok(),
            Op::ChangePlan => {
                let (s, c) = (self.stable.snapshot(), self.candidate.snapshot());
                self.state
                    .evaluate(&self.plans[1], &s, &c, &self.diffs, now)
            }
            Op::ProcessRestart => {
                let json = serde_json::to_string(&self.state).expect("serialize");
                self.state = serde_json::from_str(&json).expect("deserialize");
                self.state.on_restart(now);
                self.stable = TrafficStats::new();
                self.candidate = TrafficStats::new();
                self.diffs = DiffCounts::default();
                None
            }
        };
        transition.map(|t| t.weight)
    }
}

fn is_stopped(state: &RolloutState) -> bool {
    matches!(
        state.phase(),
        Phase::RolledBack { .. } | Phase::Aborted { .. }
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn weight_stays_zero_after_rollback_or_abort(
        before in prop::collection::vec(op(true), 0..30),
        fail_by_gate in any::<bool>(),
        after in prop::collection::vec(op(false), 0..60),
    ) {
        let mut world = World::new();
        for op in &before {
            world.apply(op);
        }
        if world.state.is_finished() && !is_stopped(&world.state) {
            return Ok(()); // completed: nothing to roll back
        }
        // Twice: an evaluation right after a plan change only follows the plan.
        for _ in 0..2 {
            if is_stopped(&world.state) {
                break;
            }
            let stop = if fail_by_gate {
                Op::Evaluate { requests: 200, errors_pct: 100, latency_ms: 10, compared: 0, regressions_pct: 0, advance_ms: 0 }
            } else {
                Op::Abort
            };
            world.apply(&stop);
        }
        prop_assert!(is_stopped(&world.state), "{:?}", world.state.phase());
        for op in &after {
            let announced = world.apply(op);
            prop_assert_eq!(world.state.current_weight(), 0, "after {:?}", op);
            prop_assert!(!world.state.mirroring());
            prop_assert!(is_stopped(&world.state));
            prop_assert!(announced.is_none() || announced == Some(0));
        }
    }

    #[test]
    fn every_weight_change_is_announced(ops in prop::collection::vec(op(true), 0..80)) {
        let mut world = World::new();
        for op in &ops {
            let before = world.state.current_weight();
            let announced = world.apply(op);
            let after = world.state.current_weight();
            if before != after {
                prop_assert_eq!(announced, Some(after), "after {:?}", op);
            }
        }
    }
}
