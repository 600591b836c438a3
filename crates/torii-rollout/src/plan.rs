//! The rollout plan: steps and analysis, validated once ([`RolloutPlan::new`]).

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One step of a rollout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Step {
    /// The candidate gets a copy of the traffic (weight 0) and its responses are compared with
    /// the stable backend's.
    Mirror {
        /// Shortest time on the step, even when the comparisons pass earlier.
        min_duration: Duration,
        /// Highest share of compared responses that may be regressions (0..=1).
        max_diff_rate: f64,
        /// Comparisons needed before the step can pass (at least 1).
        min_compared: u64,
    },
    /// The candidate gets `percent` of the route's traffic.
    Weight {
        /// The candidate's share, 1..=100, greater than the previous weight step's.
        percent: u8,
        /// Shortest time on the step, even when the gates pass earlier.
        pause: Duration,
    },
}

impl Step {
    /// The candidate's traffic percent on this step (0 for a mirror step).
    pub fn weight(&self) -> u8 {
        match self {
            Step::Mirror { .. } => 0,
            Step::Weight { percent, .. } => *percent,
        }
    }

    /// The shortest time on this step.
    pub fn min_time(&self) -> Duration {
        match self {
            Step::Mirror { min_duration, .. } => *min_duration,
            Step::Weight { pause, .. } => *pause,
        }
    }
}

/// How every step's live data is judged (see the crate docs for the gates).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Analysis {
    /// Candidate requests needed in a step's window before it can pass (at least 1); also the
    /// stable sample needed by the comparative gates.
    pub min_requests: u64,
    /// Highest candidate error rate (0..=1).
    pub max_error_rate: f64,
    /// Highest candidate error rate minus stable error rate, absolute (0..=1).
    pub max_error_rate_increase: Option<f64>,
    /// Highest candidate p99 over stable p99 (at least 1), beyond `latency_slack`.
    pub max_latency_p99_ratio: Option<f64>,
    /// Absolute allowance added to the p99 bound, so tiny latencies do not trip the ratio.
    pub latency_slack: Duration,
    /// Highest regression share of compared responses on weight steps too (0..=1); mirroring
    /// continues through the weight steps when set.
    pub max_diff_rate: Option<f64>,
    /// Comparisons needed by `max_diff_rate` on weight steps (at least 1 when it is set).
    pub min_compared: u64,
    /// How often the caller should call [`crate::RolloutState::evaluate`].
    pub interval: Duration,
}

impl Default for Analysis {
    /// 100 requests, 5% errors at most, no comparative gates, 50 ms latency slack, every 30 s.
    fn default() -> Self {
        Self {
            min_requests: 100,
            max_error_rate: 0.05,
            max_error_rate_increase: None,
            max_latency_p99_ratio: None,
            latency_slack: Duration::from_millis(50),
            max_diff_rate: None,
            min_compared: 100,
            interval: Duration::from_secs(30),
        }
    }
}

/// A plan failed validation: which field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidPlan {
    /// The field, as `steps[2].weight` or `analysis.minRequests`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> InvalidPlan {
    InvalidPlan {
        field: field.into(),
        message: message.into(),
    }
}

/// Checks that `value` is a rate in 0..=1.
fn check_rate(field: impl FnOnce() -> String, value: f64) -> Result<(), InvalidPlan> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(invalid(
            field(),
            format!("must be between 0 and 1, got {value}"),
        ))
    }
}

/// A validated rollout plan: the steps in order and the analysis that gates them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutPlan {
    steps: Vec<Step>,
    analysis: Analysis,
    #[serde(skip)]
    fingerprint: String,
}

impl RolloutPlan {
    /// Validates a plan: at least one step; mirror steps first, with rates in 0..=1 and at
    /// least one comparison; weights in 1..=100, strictly increasing, the last one 100; an
    /// analysis with rates in 0..=1, a p99 ratio of at least 1, samples of at least 1 and a
    /// non-zero interval.
    pub fn new(steps: Vec<Step>, analysis: Analysis) -> Result<Self, InvalidPlan> {
        if steps.is_empty() {
            return Err(invalid("steps", "at least one step is required"));
        }
        let mut previous_weight: Option<(usize, u8)> = None;
        for (i, step) in steps.iter().enumerate() {
            match step {
                Step::Mirror {
                    max_diff_rate,
                    min_compared,
                    ..
                } => {
                    if let Some((w, _)) = previous_weight {
                        return Err(invalid(
                            format!("steps[{i}]"),
                            format!("a mirror step must come before the weight steps (steps[{w}] is one)"),
                        ));
                    }
                    check_rate(|| format!("steps[{i}].maxDiffRate"), *max_diff_rate)?;
                    if *min_compared == 0 {
                        return Err(invalid(
                            format!("steps[{i}].minCompared"),
                            "must be at least 1",
                        ));
                    }
                }
                Step::Weight { percent, .. } => {
                    if !(1..=100).contains(percent) {
                        return Err(invalid(
                            format!("steps[{i}].weight"),
                            format!("must be between 1 and 100, got {percent}"),
                        ));
                    }
                    if let Some((p, previous)) = previous_weight {
                        if percent <= &previous {
                            return Err(invalid(
                                format!("steps[{i}].weight"),
                                format!("must be greater than steps[{p}]'s {previous}"),
                            ));
                        }
                    }
                    previous_weight = Some((i, *percent));
                }
            }
        }
        let last = steps.len() - 1;
        if steps[last].weight() != 100 {
            return Err(invalid(
                format!("steps[{last}]"),
                format!(
                    "the last step must be a weight step of 100, got {}",
                    describe_step(&steps[last])
                ),
            ));
        }
        let a = &analysis;
        if a.min_requests == 0 {
            return Err(invalid("analysis.minRequests", "must be at least 1"));
        }
        check_rate(|| "analysis.maxErrorRate".into(), a.max_error_rate)?;
        if let Some(v) = a.max_error_rate_increase {
            check_rate(|| "analysis.maxErrorRateIncrease".into(), v)?;
        }
        if let Some(v) = a.max_latency_p99_ratio {
            if !(v.is_finite() && v >= 1.0) {
                return Err(invalid(
                    "analysis.maxLatencyP99Ratio",
                    format!("must be a number of at least 1, got {v}"),
                ));
            }
        }
        if let Some(v) = a.max_diff_rate {
            check_rate(|| "analysis.maxDiffRate".into(), v)?;
            if a.min_compared == 0 {
                return Err(invalid(
                    "analysis.minCompared",
                    "must be at least 1 when maxDiffRate is set",
                ));
            }
        }
        if a.interval.is_zero() {
            return Err(invalid("analysis.interval", "must be more than 0"));
        }
        let mut plan = Self {
            steps,
            analysis,
            fingerprint: String::new(),
        };
        plan.fingerprint = fingerprint(&plan);
        Ok(plan)
    }

    /// The steps in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The analysis.
    pub fn analysis(&self) -> &Analysis {
        &self.analysis
    }

    /// A stable hash of the plan (FNV-1a 64 of its JSON, hex), stored in the state so that a
    /// changed plan is noticed on reload.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

/// FNV-1a 64 over the plan's JSON: stable across builds and platforms (unlike `std`'s hasher).
fn fingerprint(plan: &RolloutPlan) -> String {
    // Serializing plain structs of numbers cannot fail.
    let json = serde_json::to_vec(plan).unwrap_or_default();
    let hash = json.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// `mirror` or `weight 5%`, for messages.
pub(crate) fn describe_step(step: &Step) -> String {
    match step {
        Step::Mirror { .. } => "mirror".into(),
        Step::Weight { percent, .. } => format!("weight {percent}%"),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn mirror() -> Step {
        Step::Mirror {
            min_duration: Duration::from_secs(60),
            max_diff_rate: 0.01,
            min_compared: 100,
        }
    }

    pub(crate) fn weight(percent: u8) -> Step {
        Step::Weight {
            percent,
            pause: Duration::from_secs(60),
        }
    }

    #[test]
    fn valid_plans() {
        for steps in [
            vec![weight(100)],
            vec![mirror(), weight(100)],
            vec![
                mirror(),
                mirror(),
                weight(1),
                weight(5),
                weight(25),
                weight(50),
                weight(100),
            ],
        ] {
            let plan = RolloutPlan::new(steps.clone(), Analysis::default()).expect("valid");
            assert_eq!(plan.steps(), steps.as_slice());
            assert_eq!(plan.fingerprint().len(), 16);
        }
    }

    #[test]
    fn invalid_plans_name_the_field() {
        let analysis = Analysis::default();
        let with = |f: fn(&mut Analysis)| {
            let mut a = Analysis::default();
            f(&mut a);
            a
        };
        let cases: Vec<(Vec<Step>, Analysis, &str)> = vec![
            (
                vec![],
                analysis.clone(),
                "steps: at least one step is required",
            ),
            (
                vec![weight(1), weight(5), weight(5), weight(100)],
                analysis.clone(),
                "steps[2].weight: must be greater than steps[1]'s 5",
            ),
            (
                vec![weight(0), weight(100)],
                analysis.clone(),
                "steps[0].weight: must be between 1 and 100, got 0",
            ),
            (
                vec![weight(101)],
                analysis.clone(),
                "steps[0].weight: must be between 1 and 100, got 101",
            ),
            (
                vec![weight(1), weight(50)],
                analysis.clone(),
                "steps[1]: the last step must be a weight step of 100, got weight 50%",
            ),
            (
                vec![mirror()],
                analysis.clone(),
                "steps[0]: the last step must be a weight step of 100, got mirror",
            ),
            (
                vec![weight(1), mirror(), weight(100)],
                analysis.clone(),
                "steps[1]: a mirror step must come before the weight steps (steps[0] is one)",
            ),
            (
                vec![
                    Step::Mirror {
                        min_duration: Duration::ZERO,
                        max_diff_rate: 1.5,
                        min_compared: 1,
                    },
                    weight(100),
                ],
                analysis.clone(),
                "steps[0].maxDiffRate: must be between 0 and 1, got 1.5",
            ),
            (
                vec![
                    Step::Mirror {
                        min_duration: Duration::ZERO,
                        max_diff_rate: f64::NAN,
                        min_compared: 1,
                    },
                    weight(100),
                ],
                analysis.clone(),
                "steps[0].maxDiffRate: must be between 0 and 1, got NaN",
            ),
            (
                vec![
                    Step::Mirror {
                        min_duration: Duration::ZERO,
                        max_diff_rate: 0.1,
                        min_compared: 0,
                    },
                    weight(100),
                ],
                analysis.clone(),
                "steps[0].minCompared: must be at least 1",
            ),
            (
                vec![weight(100)],
                with(|a| a.min_requests = 0),
                "analysis.minRequests: must be at least 1",
            ),
            (
                vec![weight(100)],
                with(|a| a.max_error_rate = -0.1),
                "analysis.maxErrorRate: must be between 0 and 1, got -0.1",
            ),
            (
                vec![weight(100)],
                with(|a| a.max_error_rate_increase = Some(2.0)),
                "analysis.maxErrorRateIncrease: must be between 0 and 1, got 2",
            ),
            (
                vec![weight(100)],
                with(|a| a.max_latency_p99_ratio = Some(0.5)),
                "analysis.maxLatencyP99Ratio: must be a number of at least 1, got 0.5",
            ),
            (
                vec![weight(100)],
                with(|a| a.max_latency_p99_ratio = Some(f64::INFINITY)),
                "analysis.maxLatencyP99Ratio: must be a number of at least 1, got inf",
            ),
            (
                vec![weight(100)],
                with(|a| {
                    a.max_diff_rate = Some(0.1);
                    a.min_compared = 0;
                }),
                "analysis.minCompared: must be at least 1 when maxDiffRate is set",
            ),
            (
                vec![weight(100)],
                with(|a| a.interval = Duration::ZERO),
                "analysis.interval: must be more than 0",
            ),
        ];
        for (steps, analysis, expected) in cases {
            let error = RolloutPlan::new(steps, analysis).expect_err(expected);
            assert_eq!(error.to_string(), expected);
        }
    }

    #[test]
    fn fingerprint_changes_with_the_plan() {
        let a = RolloutPlan::new(vec![weight(5), weight(100)], Analysis::default()).expect("valid");
        let b = RolloutPlan::new(vec![weight(5), weight(100)], Analysis::default()).expect("valid");
        let c =
            RolloutPlan::new(vec![weight(10), weight(100)], Analysis::default()).expect("valid");
        let analysis = Analysis {
            max_error_rate: 0.02,
            ..Analysis::default()
        };
        let d = RolloutPlan::new(vec![weight(5), weight(100)], analysis).expect("valid");
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert_ne!(a.fingerprint(), d.fingerprint());
    }
}
