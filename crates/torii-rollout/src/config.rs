//! The plan of a validated `Rollout` object ([`torii_config::Rollout`]).

use crate::plan::{Analysis, InvalidPlan, RolloutPlan, Step};
use torii_config::{Rollout, RolloutAnalysis, RolloutStep};

impl RolloutPlan {
    /// The plan of `rollout`'s steps and analysis, validated ([`RolloutPlan::new`]).
    pub fn from_config(rollout: &Rollout) -> Result<Self, InvalidPlan> {
        Self::from_parts(&rollout.steps, &rollout.analysis)
    }

    /// The plan of `steps` and `analysis` as the config holds them, validated: the one
    /// conversion both translation (to report problems) and the controller (to run) use.
    pub fn from_parts(
        steps: &[RolloutStep],
        analysis: &RolloutAnalysis,
    ) -> Result<Self, InvalidPlan> {
        let steps = steps
            .iter()
            .map(|step| match *step {
                RolloutStep::Mirror {
                    duration,
                    max_diff_rate,
                    min_compared,
                } => Step::Mirror {
                    min_duration: duration,
                    max_diff_rate,
                    min_compared,
                },
                RolloutStep::Weight { percent, pause } => Step::Weight { percent, pause },
            })
            .collect();
        RolloutPlan::new(
            steps,
            Analysis {
                min_requests: analysis.min_requests,
                max_error_rate: analysis.max_error_rate,
                max_error_rate_increase: analysis.max_error_rate_increase,
                max_latency_p99_ratio: analysis.max_latency_p99_ratio,
                latency_slack: analysis.latency_slack,
                max_diff_rate: analysis.max_diff_rate,
                min_compared: analysis.min_compared,
                interval: analysis.interval,
            },
        )
    }
}
