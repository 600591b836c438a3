use super::*;
use crate::plan::tests::{mirror, weight};
use crate::stats::TrafficStats;

const MIN: u64 = 60_000;

/// A route's live counters and a rollout over them.
struct Sim {
    plan: RolloutPlan,
    stable: TrafficStats,
    candidate: TrafficStats,
    diffs: DiffCounts,
    state: RolloutState,
}

impl Sim {
    fn new(steps: Vec<Step>, analysis: Analysis) -> Self {
        let plan = RolloutPlan::new(steps, analysis).expect("valid plan");
        let (state, _) = RolloutState::start(&plan, 0, Baseline::default());
        Self {
            plan,
            stable: TrafficStats::new(),
            candidate: TrafficStats::new(),
            diffs: DiffCounts::default(),
            state,
        }
    }

    /// The plan: mirror, 1%, 5%, 25%, 50%, 100%.
    fn standard(analysis: Analysis) -> Self {
        let steps = vec![
            mirror(),
            weight(1),
            weight(5),
            weight(25),
            weight(50),
            weight(100),
        ];
        Self::new(steps, analysis)
    }

    fn traffic(&mut self, requests: u64, errors: u64, latency_ms: u64, stable_latency_ms: u64) {
        for i in 0..requests {
            self.candidate
                .record(Duration::from_millis(latency_ms), i < errors);
        }
        for _ in 0..1000 {
            self.stable
                .record(Duration::from_millis(stable_latency_ms), false);
        }
    }

    fn compare(&mut self, compared: u64, regressions: u64) {
        self.diffs.compared += compared;
        self.diffs.regressions += regressions;
    }

    fn eval(&mut self, now_ms: u64) -> Option<Transition> {
        let (s, c) = (self.stable.snapshot(), self.candidate.snapshot());
        self.state.evaluate(&self.plan, &s, &c, &self.diffs, now_ms)
    }

    fn step(&self) -> Option<usize> {
        self.state.active_step().map(|s| s.index)
    }
}

#[test]
fn a_good_candidate_goes_all_the_way() {
    let analysis = Analysis {
        max_error_rate_increase: Some(0.01),
        max_latency_p99_ratio: Some(1.5),
        ..Analysis::default()
    };
    let mut sim = Sim::standard(analysis);
    let mut now = 0;
    let mut weights = vec![sim.state.current_weight()];
    let mut kinds = Vec::new();
    while !sim.state.is_finished() {
        assert!(
            now < 100 * MIN,
            "stuck at {:?}: {:?}",
            sim.state.phase(),
            sim.state.waiting()
        );
        sim.traffic(50, 0, 20, 20);
        sim.compare(50, 0);
        now += 30_000;
        if let Some(t) = sim.eval(now) {
            kinds.push(t.kind);
            weights.push(sim.state.current_weight());
        }
    }
    assert_eq!(weights, [0, 1, 5, 25, 50, 100, 100]);
    assert_eq!(kinds.last(), Some(&TransitionKind::Completed));
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == TransitionKind::Advanced)
            .count(),
        5
    );
    assert_eq!(sim.state.phase(), &Phase::Completed { at_ms: now });
    let advanced = &sim.state.history()[2];
    assert!(
        advanced.reason.starts_with(
            "step 1 (weight 1%) passed (candidate 100 requests, error rate 0.0%, p99 2"
        ),
        "{}",
        advanced.reason
    );
    assert!(
        advanced.reason.ends_with("; now step 2 (weight 5%)"),
        "{}",
        advanced.reason
    );
}

#[test]
fn failing_gates_roll_back_with_numbers() {
    struct Case {
        name: &'static str,
        analysis: fn(&mut Analysis),
        /// Candidate requests, errors, latency ms; stable latency ms; comparisons, regressions.
        traffic: (u64, u64, u64, u64, u64, u64),
        reason: &'static str,
    }
    let cases = [
        Case {
            name: "error rate",
            analysis: |_| {},
            traffic: (1000, 120, 10, 10, 0, 0),
            reason: "error rate 12.0% > 5.0% (candidate 120/1000 requests) at step 0 (weight 1%)",
        },
        Case {
            name: "error rate, decided before the minimum sample",
            analysis: |_| {},
            traffic: (20, 6, 10, 10, 0, 0),
            reason: "error rate: 6 errors in 20 candidate requests already exceed 5.0% of the minimum sample of 100 at step 0 (weight 1%)",
        },
        Case {
            name: "error increase",
            analysis: |a| a.max_error_rate_increase = Some(0.01),
            traffic: (1000, 30, 10, 10, 0, 0),
            reason: "error rate increase 3.0% > 1.0% (candidate 3.0% of 1000 requests, stable 0.0% of 1000) at step 0 (weight 1%)",
        },
        Case {
            name: "p99 ratio",
            analysis: |a| a.max_latency_p99_ratio = Some(2.0),
            traffic: (1000, 0, 400, 100, 0, 0),
            reason: "latency p99 458ms > 2× stable p99 114ms + 50ms slack (candidate 1000, stable 1000 requests) at step 0 (weight 1%)",
        },
        Case {
            name: "diff rate on a weight step",
            analysis: |a| a.max_diff_rate = Some(0.01),
            traffic: (1000, 0, 10, 10, 500, 50),
            reason: "diff rate 10.0% > 1.0% (50/500 compared responses regressed) at step 0 (weight 1%)",
        },
    ];
    for case in cases {
        let mut analysis = Analysis::default();
        (case.analysis)(&mut analysis);
        let mut sim = Sim::new(vec![weight(1), weight(100)], analysis);
        let (n, e, lat, stable_lat, compared, regressions) = case.traffic;
        sim.traffic(n, e, lat, stable_lat);
        sim.compare(compared, regressions);
        // Failures do not wait for the pause.
        let t = sim
            .eval(1_000)
            .unwrap_or_else(|| panic!("{}: no transition", case.name));
        assert_eq!(t.kind, TransitionKind::RolledBack, "{}", case.name);
        assert_eq!(t.reason, case.reason, "{}", case.name);
        assert_eq!(
            (t.weight, sim.state.current_weight()),
            (0, 0),
            "{}",
            case.name
        );
        assert!(matches!(
            sim.state.phase(),
            Phase::RolledBack {
                step: 0,
                at_ms: 1_000,
                ..
            }
        ));
    }
}

#[test]
fn small_latencies_stay_within_the_slack() {
    let analysis = Analysis {
        max_latency_p99_ratio: Some(1.2),
        ..Analysis::default()
    };
    let mut sim = Sim::new(vec![weight(1), weight(100)], analysis);
    // 3 ms against 1 ms is 3×, but well within 50 ms of slack.
    sim.traffic(200, 0, 3, 1);
    assert_eq!(
        sim.eval(MIN).map(|t| t.kind),
        Some(TransitionKind::Advanced)
    );
}

#[test]
fn mirror_step_fails_on_diff_rate() {
    let mut sim = Sim::standard(Analysis::default());
    sim.compare(200, 5);
    let t = sim.eval(MIN).expect("rolled back");
    assert_eq!(t.kind, TransitionKind::RolledBack);
    assert_eq!(
        t.reason,
        "diff rate 2.5% > 1.0% (5/200 compared responses regressed) at step 0 (mirror)"
    );
}

#[test]
fn mirror_step_waits_for_comparisons_and_its_duration() {
    let mut sim = Sim::standard(Analysis::default());
    assert!(sim.state.mirroring());
    sim.compare(40, 0);
    assert_eq!(sim.eval(10 * MIN), None);
    assert_eq!(
        sim.state.waiting().map(ToString::to_string).as_deref(),
        Some("inconclusive: 40 of 100 compared responses")
    );
    sim.compare(60, 1);
    assert_eq!(sim.eval(30_000), None);
    assert_eq!(
        sim.state.waiting(),
        Some(&WaitReason::Pausing {
            remaining_ms: 30_000
        })
    );
    assert_eq!(
        sim.state.waiting().map(ToString::to_string).as_deref(),
        Some("pausing: 30.00s left")
    );
    let t = sim.eval(MIN).expect("advanced");
    assert_eq!(
        t.reason,
        "step 0 (mirror) passed (diff rate 1.0% of 100 compared); now step 1 (weight 1%)"
    );
    assert_eq!(sim.state.waiting(), None);
    assert!(!sim.state.mirroring(), "no diff gate on weight steps");
}

#[test]
fn candidate_errors_guard_the_mirror_step() {
    let mut sim = Sim::standard(Analysis::default());
    sim.traffic(100, 50, 10, 10);
    let t = sim.eval(1).expect("rolled back");
    assert!(
        t.reason.starts_with("error rate 50.0% > 5.0%"),
        "{}",
        t.reason
    );
    assert!(t.reason.ends_with("at step 0 (mirror)"), "{}", t.reason);
}

#[test]
fn low_traffic_never_passes() {
    let analysis = Analysis {
        max_error_rate_increase: Some(0.01),
        ..Analysis::default()
    };
    let mut sim = Sim::new(vec![weight(5), weight(100)], analysis);
    for hour in 1..=1000u64 {
        // One good request every 20 hours: 50 in all, never the 100 a window needs.
        if hour % 20 == 0 {
            sim.traffic(1, 0, 10, 10);
        }
        assert_eq!(sim.eval(hour * 60 * MIN), None, "hour {hour}");
    }
    assert_eq!(sim.state.current_weight(), 5);
    assert_eq!(
        sim.state.waiting().map(ToString::to_string).as_deref(),
        Some("inconclusive: 50 of 100 candidate requests")
    );
    // Enough stable traffic but a thin candidate sample: still inconclusive, not passed.
    assert!(matches!(
        sim.state.waiting(),
        Some(WaitReason::Inconclusive {
            sample: Sample::CandidateRequests,
            have: 50,
            need: 100
        })
    ));
}

#[test]
fn comparative_gates_wait_for_stable_traffic() {
    let analysis = Analysis {
        max_latency_p99_ratio: Some(1.5),
        ..Analysis::default()
    };
    let mut sim = Sim::new(vec![weight(50), weight(100)], analysis);
    for _ in 0..200 {
        sim.candidate.record(Duration::from_millis(5), false);
    }
    assert_eq!(sim.eval(10 * MIN), None);
    assert_eq!(
        sim.state.waiting().map(ToString::to_string).as_deref(),
        Some("inconclusive: 0 of 100 stable requests")
    );
}

#[test]
fn windows_are_per_step() {
    let mut sim = Sim::new(vec![weight(1), weight(5), weight(100)], Analysis::default());
    // Step 0 passes on 1000 good requests.
    sim.traffic(1000, 0, 10, 10);
    assert_eq!(
        sim.eval(MIN).map(|t| t.kind),
        Some(TransitionKind::Advanced)
    );
    // Step 1 starts from zero: 99 new requests are not enough, even after its pause.
    sim.traffic(99, 0, 10, 10);
    assert_eq!(sim.eval(3 * MIN), None);
    assert_eq!(
        sim.state.waiting().map(ToString::to_string).as_deref(),
        Some("inconclusive: 99 of 100 candidate requests")
    );
    // And the old step's good requests do not dilute new errors.
    sim.traffic(100, 10, 10, 10);
    let t = sim.eval(4 * MIN).expect("rolled back");
    assert!(
        t.reason.starts_with("error rate 5.0%") || t.reason.starts_with("error rate 5.03%"),
        "{}",
        t.reason
    );
}

#[test]
fn pauses_hold_but_failures_still_roll_back() {
    let mut sim = Sim::new(vec![weight(1), weight(100)], Analysis::default());
    sim.state.pause(0, "alice", "hold").expect("pause");
    sim.traffic(1000, 0, 10, 10);
    assert_eq!(
        sim.eval(100 * MIN),
        None,
        "paused: good data does not advance"
    );
    assert_eq!(sim.state.waiting(), None);
    let baseline = Baseline::new(sim.stable.snapshot(), sim.candidate.snapshot(), sim.diffs);
    sim.state
        .resume(100 * MIN, "alice", baseline)
        .expect("resume");
    assert_eq!(
        sim.eval(100 * MIN + 1),
        None,
        "the window restarted at the resume"
    );
    sim.state
        .pause(100 * MIN + 2, "alice", "hold")
        .expect("pause");
    sim.traffic(100, 100, 10, 10);
    let t = sim.eval(100 * MIN + 3).expect("rolled back while paused");
    assert_eq!((t.kind, t.weight), (TransitionKind::RolledBack, 0));
}

#[test]
fn finished_rollouts_ignore_evaluation() {
    let mut sim = Sim::new(vec![weight(1), weight(100)], Analysis::default());
    sim.state.abort(0, "bob", "no").expect("abort");
    sim.traffic(1000, 0, 10, 10);
    assert_eq!(sim.eval(MIN), None);
    assert_eq!(sim.state.current_weight(), 0);
}

#[test]
fn evaluate_follows_a_changed_plan() {
    let mut sim = Sim::new(vec![weight(1), weight(5), weight(100)], Analysis::default());
    sim.traffic(1000, 0, 10, 10);
    sim.eval(MIN).expect("advanced");
    assert_eq!(sim.step(), Some(1));
    sim.plan = RolloutPlan::new(vec![weight(2), weight(100)], Analysis::default()).expect("valid");
    let t = sim.eval(2 * MIN).expect("plan changed");
    assert_eq!(t.kind, TransitionKind::PlanChanged);
    assert_eq!((sim.step(), sim.state.current_weight()), (Some(0), 2));
}

#[test]
fn a_restarted_process_continues_at_its_step() {
    let mut sim = Sim::new(vec![weight(1), weight(5), weight(100)], Analysis::default());
    sim.traffic(1000, 0, 10, 10);
    sim.eval(MIN).expect("advanced");
    let json = serde_json::to_string(&sim.state).expect("serialize");
    // A new process: fresh counters, the state from disk.
    let mut state: RolloutState = serde_json::from_str(&json).expect("deserialize");
    state.on_restart(10 * MIN);
    sim.state = state;
    sim.stable = TrafficStats::new();
    sim.candidate = TrafficStats::new();
    assert_eq!((sim.step(), sim.state.current_weight()), (Some(1), 5));
    sim.traffic(100, 0, 10, 10);
    assert_eq!(sim.eval(10 * MIN + 1), None, "the pause restarted");
    assert_eq!(
        sim.eval(11 * MIN).map(|t| t.kind),
        Some(TransitionKind::Advanced)
    );
}

#[test]
fn state_serde_round_trip() {
    let analysis = Analysis {
        max_diff_rate: Some(0.05),
        ..Analysis::default()
    };
    let mut sim = Sim::standard(analysis);
    sim.compare(100, 0);
    sim.traffic(100, 1, 10, 10);
    sim.eval(MIN).expect("advanced");
    sim.state.pause(MIN, "alice", "look").expect("pause");
    let json = serde_json::to_string_pretty(&sim.state).expect("serialize");
    for key in [
        "\"version\": 1",
        "\"planFingerprint\"",
        "\"state\": \"paused\"",
        "\"startedMs\"",
        "\"person\"",
        "\"kind\": \"advanced\"",
        "\"updatedMs\"",
    ] {
        assert!(json.contains(key), "{key} in {json}");
    }
    let back: RolloutState = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, sim.state);
    assert!(
        back.mirroring(),
        "diff gate on weight steps keeps mirroring"
    );
}

#[test]
fn formats() {
    let cases = [
        (Duration::from_micros(850), "850µs"),
        (Duration::from_millis(412), "412ms"),
        (Duration::from_millis(1250), "1.25s"),
        (Duration::from_secs(270), "4m30s"),
    ];
    for (d, text) in cases {
        assert_eq!(format_duration(d), text);
    }
    assert_eq!(pct(0.12), "12.0%");
    assert_eq!(pct(0.0005), "0.050%");
    assert_eq!(pct(0.0), "0.0%");
}

#[test]
fn the_last_step_passes_on_the_candidate_alone_when_stable_has_no_traffic_left() {
    let analysis = Analysis {
        max_error_rate_increase: Some(0.01),
        max_latency_p99_ratio: Some(1.5),
        max_diff_rate: Some(0.01),
        min_compared: 10,
        ..Analysis::default()
    };
    let mut sim = Sim::new(vec![weight(50), weight(100)], analysis);
    sim.traffic(200, 0, 2, 2);
    sim.compare(20, 0);
    let advanced = sim.eval(MIN).expect("step 0 passes");
    assert_eq!(advanced.kind, TransitionKind::Advanced);
    // On 100% the stable backend gets nothing and nothing is mirrored any more.
    for _ in 0..200 {
        sim.candidate.record(Duration::from_millis(2), false);
    }
    let done = sim.eval(2 * MIN + 1).expect("the last step passes");
    assert_eq!(done.kind, TransitionKind::Completed, "{done:?}");
}

#[test]
fn the_last_step_still_fails_on_candidate_errors() {
    let mut sim = Sim::new(vec![weight(50), weight(100)], Analysis::default());
    sim.traffic(200, 0, 2, 2);
    sim.eval(MIN).expect("step 0 passes");
    for i in 0..200 {
        sim.candidate.record(Duration::from_millis(2), i < 50);
    }
    let failed = sim.eval(2 * MIN + 1).expect("rolled back");
    assert_eq!(failed.kind, TransitionKind::RolledBack, "{failed:?}");
}
