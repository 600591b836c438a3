//! The gates: judging a step's window of live data, and [`RolloutState::evaluate`].

use crate::plan::{Analysis, RolloutPlan, Step};
use crate::state::{Baseline, Phase, RolloutState, Sample, Transition, TransitionKind, WaitReason};
use crate::stats::{DiffCounts, DiffWindow, StatsSnapshot, StatsWindow};
use std::time::Duration;

/// What one gate says about a window.
#[derive(Debug)]
enum Gate {
    Pass,
    /// Too little data; the step waits.
    Inconclusive(WaitReason),
    /// Failed, with the numbers.
    Fail(String),
}

/// What the gates say about a step.
#[derive(Debug)]
enum Verdict {
    /// A gate failed: roll back, with why.
    Fail(String),
    /// Stay on the step.
    Wait(WaitReason),
    /// Every gate passed and the step's time is up; a summary of the numbers.
    Pass(String),
}

/// The windows of one step.
struct Windows {
    stable: StatsWindow,
    candidate: StatsWindow,
    diffs: DiffWindow,
}

/// `12.0%` (or `0.050%` for small rates).
fn pct(rate: f64) -> String {
    let p = rate * 100.0;
    if p == 0.0 || p >= 1.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.3}%")
    }
}

/// `850µs`, `412ms`, `1.25s`, `4m30s`.
pub(crate) fn format_duration(d: Duration) -> String {
    let us = d.as_micros();
    if us < 1_000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{}ms", us / 1_000)
    } else if us < 60_000_000 {
        format!("{:.2}s", d.as_secs_f64())
    } else {
        format!("{}m{}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

fn inconclusive(sample: Sample, have: u64, need: u64) -> Gate {
    Gate::Inconclusive(WaitReason::Inconclusive { sample, have, need })
}

/// Absolute candidate error rate. Fails early, before the minimum sample, once the errors
/// alone exceed what the minimum sample allows (`errors > max × min_requests`).
fn error_rate_gate(a: &Analysis, c: &StatsWindow) -> Gate {
    let (n, e, min) = (c.requests, c.errors, a.min_requests);
    if n >= min {
        if c.error_rate() > a.max_error_rate {
            return Gate::Fail(format!(
                "error rate {} > {} (candidate {e}/{n} requests)",
                pct(c.error_rate()),
                pct(a.max_error_rate)
            ));
        }
        return Gate::Pass;
    }
    if e as f64 > a.max_error_rate * min as f64 {
        return Gate::Fail(format!(
            "error rate: {e} errors in {n} candidate requests already exceed {} of the minimum sample of {min}",
            pct(a.max_error_rate)
        ));
    }
    inconclusive(Sample::CandidateRequests, n, min)
}

/// Both windows need the minimum sample for a comparison.
fn comparable(a: &Analysis, w: &Windows) -> Option<Gate> {
    if w.candidate.requests < a.min_requests {
        return Some(inconclusive(
            Sample::CandidateRequests,
            w.candidate.requests,
            a.min_requests,
        ));
    }
    if w.stable.requests < a.min_requests {
        return Some(inconclusive(
            Sample::StableRequests,
            w.stable.requests,
            a.min_requests,
        ));
    }
    None
}

/// Candidate error rate minus stable error rate.
fn error_increase_gate(a: &Analysis, max: f64, w: &Windows) -> Gate {
    if let Some(gate) = comparable(a, w) {
        return gate;
    }
    let (c, s) = (&w.candidate, &w.stable);
    let increase = c.error_rate() - s.error_rate();
    if increase > max {
        return Gate::Fail(format!(
            "error rate increase {} > {} (candidate {} of {} requests, stable {} of {})",
            pct(increase),
            pct(max),
            pct(c.error_rate()),
            c.requests,
            pct(s.error_rate()),
            s.requests
        ));
    }
    Gate::Pass
}

/// Candidate p99 against `ratio` × stable p99 + slack.
fn latency_gate(a: &Analysis, ratio: f64, w: &Windows) -> Gate {
    if let Some(gate) = comparable(a, w) {
        return gate;
    }
    let (Some(cp), Some(sp)) = (w.candidate.quantile(0.99), w.stable.quantile(0.99)) else {
        return Gate::Pass; // unreachable: both have at least min_requests ≥ 1 requests
    };
    let bound = sp.mul_f64(ratio) + a.latency_slack;
    if cp > bound {
        return Gate::Fail(format!(
            "latency p99 {} > {ratio}× stable p99 {} + {} slack (candidate {}, stable {} requests)",
            format_duration(cp),
            format_duration(sp),
            format_duration(a.latency_slack),
            w.candidate.requests,
            w.stable.requests
        ));
    }
    Gate::Pass
}

/// Share of compared responses that regressed. Fails early like the error rate gate.
fn diff_gate(max: f64, min: u64, d: &DiffWindow) -> Gate {
    let (n, r) = (d.compared, d.regressions);
    if n >= min {
        if d.rate() > max {
            return Gate::Fail(format!(
                "diff rate {} > {} ({r}/{n} compared responses regressed)",
                pct(d.rate()),
                pct(max)
            ));
        }
        return Gate::Pass;
    }
    if r as f64 > max * min as f64 {
        return Gate::Fail(format!(
            "diff rate: {r} regressions in {n} compared responses already exceed {} of the minimum sample of {min}",
            pct(max)
        ));
    }
    inconclusive(Sample::Comparisons, n, min)
}

/// Judges step `step` on its windows: any failing gate fails the step (even a gate that only
/// guards, see below); otherwise the first inconclusive required gate or the step's remaining
/// time makes it wait; otherwise it passes.
///
/// Weight steps require the error rate gate and every comparative gate the analysis sets
/// (error increase, p99 ratio, diff rate). Mirror steps require their own diff gate only; the
/// candidate's error and latency gates guard them (fail with enough data, never make them
/// wait), since the candidate's counters see mirrored traffic only if the proxy records it.
///
/// A weight step of 100% leaves the stable backend no traffic and nothing to mirror: there the
/// comparative and diff gates only guard, and the candidate's error rate decides.
fn judge(plan: &RolloutPlan, step: &Step, elapsed_ms: u64, w: &Windows) -> Verdict {
    let a = plan.analysis();
    let mut health = vec![error_rate_gate(a, &w.candidate)];
    let mut comparative = Vec::new();
    if let Some(max) = a.max_error_rate_increase {
        comparative.push(error_increase_gate(a, max, w));
    }
    if let Some(ratio) = a.max_latency_p99_ratio {
        comparative.push(latency_gate(a, ratio, w));
    }
    if let Step::Weight { percent: 100, .. } = step {
        if let Some(max) = a.max_diff_rate {
            comparative.push(diff_gate(max, a.min_compared, &w.diffs));
        }
        return decide(step, elapsed_ms, w, health, comparative);
    }
    health.append(&mut comparative);
    let (required, guards) = match step {
        Step::Mirror {
            max_diff_rate,
            min_compared,
            ..
        } => (
            vec![diff_gate(*max_diff_rate, *min_compared, &w.diffs)],
            health,
        ),
        Step::Weight { .. } => {
            if let Some(max) = a.max_diff_rate {
                health.push(diff_gate(max, a.min_compared, &w.diffs));
            }
            (health, Vec::new())
        }
    };
    decide(step, elapsed_ms, w, required, guards)
}

/// Any failing gate fails; else the first inconclusive required gate or the step's remaining
/// time waits; else the step passes.
fn decide(
    step: &Step,
    elapsed_ms: u64,
    w: &Windows,
    required: Vec<Gate>,
    guards: Vec<Gate>,
) -> Verdict {
    if let Some(reason) = required.iter().chain(&guards).find_map(|g| match g {
        Gate::Fail(reason) => Some(reason.clone()),
        _ => None,
    }) {
        return Verdict::Fail(reason);
    }
    if let Some(wait) = required.into_iter().find_map(|g| match g {
        Gate::Inconclusive(wait) => Some(wait),
        _ => None,
    }) {
        return Verdict::Wait(wait);
    }
    let min_ms = u64::try_from(step.min_time().as_millis()).unwrap_or(u64::MAX);
    if elapsed_ms < min_ms {
        return Verdict::Wait(WaitReason::Pausing {
            remaining_ms: min_ms - elapsed_ms,
        });
    }
    Verdict::Pass(summary(step, w))
}

/// The numbers of a passed step, for its transition.
fn summary(step: &Step, w: &Windows) -> String {
    let diffs = format!(
        "diff rate {} of {} compared",
        pct(w.diffs.rate()),
        w.diffs.compared
    );
    if let Step::Mirror { .. } = step {
        return diffs;
    }
    let mut text = format!(
        "candidate {} requests, error rate {}",
        w.candidate.requests,
        pct(w.candidate.error_rate())
    );
    if let Some(p99) = w.candidate.quantile(0.99) {
        text.push_str(&format!(", p99 {}", format_duration(p99)));
    }
    if w.diffs.compared > 0 {
        text.push_str(", ");
        text.push_str(&diffs);
    }
    text
}

impl RolloutState {
    /// The gate, called every `analysis.interval` with the cumulative counters now.
    ///
    /// Follows a changed plan first ([`Self::reconcile_plan`]). Then, on the current step's
    /// window (counters since the step's baseline): a failing gate rolls back at once
    /// (progressing or paused) with the gate and its numbers in the reason; too small a sample
    /// or a pause still running keeps the step and sets [`Self::waiting`]; passing gates after
    /// the pause move to the next step (window from the counters now) or complete after the
    /// last. Finished rollouts do nothing. `None` when nothing changed.
    pub fn evaluate(
        &mut self,
        plan: &RolloutPlan,
        stable: &StatsSnapshot,
        candidate: &StatsSnapshot,
        diffs: &DiffCounts,
        now_ms: u64,
    ) -> Option<Transition> {
        let now = || Baseline::new(stable.clone(), candidate.clone(), *diffs);
        if let Some(changed) = self.reconcile_plan(plan, now_ms, now()) {
            return Some(changed);
        }
        let (active, paused) = match &self.phase {
            Phase::Progressing { step } => (step, false),
            Phase::Paused { step, .. } => (step, true),
            _ => return None,
        };
        let Some(step) = plan.steps().get(active.index) else {
            let reason = format!(
                "step {} is not in the plan ({} steps)",
                active.index,
                plan.steps().len()
            );
            return Some(self.roll_back(active.index, now_ms, reason));
        };
        let b = &active.baseline;
        let windows = Windows {
            stable: stable.since(&b.stable),
            candidate: candidate.since(&b.candidate),
            diffs: diffs.since(&b.diffs),
        };
        let verdict = judge(
            plan,
            step,
            now_ms.saturating_sub(active.started_ms),
            &windows,
        );
        let here = active.to_string();
        let index = active.index;
        match verdict {
            Verdict::Fail(reason) => {
                Some(self.roll_back(index, now_ms, format!("{reason} at {here}")))
            }
            Verdict::Wait(_) | Verdict::Pass(_) if paused => {
                self.waiting = None;
                None
            }
            Verdict::Wait(wait) => {
                self.waiting = Some(wait);
                None
            }
            Verdict::Pass(numbers) => {
                let next = index + 1;
                if next >= plan.steps().len() {
                    let reason = format!("{here} passed ({numbers}); rollout completed");
                    let phase = Phase::Completed { at_ms: now_ms };
                    return Some(self.transition(phase, now_ms, TransitionKind::Completed, reason));
                }
                let step = crate::state::ActiveStep::new(plan, next, now_ms, now());
                let reason = format!("{here} passed ({numbers}); now {step}");
                Some(self.transition(
                    Phase::Progressing { step },
                    now_ms,
                    TransitionKind::Advanced,
                    reason,
                ))
            }
        }
    }

    fn roll_back(&mut self, step: usize, now_ms: u64, reason: String) -> Transition {
        let phase = Phase::RolledBack {
            step,
            at_ms: now_ms,
            reason: reason.clone(),
        };
        self.transition(phase, now_ms, TransitionKind::RolledBack, reason)
    }
}

#[cfg(test)]
mod tests;
