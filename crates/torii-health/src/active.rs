//! The active state machine of one origin: consecutive check results against thresholds.

use serde::Serialize;

/// What the active monitor says about an origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActiveState {
    /// The origin has no monitor; it counts as healthy (outlier detection still applies).
    Unmonitored,
    /// No check has finished yet; counts as healthy so a start or reload fails no request.
    Unknown,
    /// The monitor passes.
    Healthy,
    /// The monitor fails.
    Unhealthy,
}

impl ActiveState {
    /// Whether this state lets traffic through (everything but `Unhealthy`).
    pub fn is_up(self) -> bool {
        !matches!(self, ActiveState::Unhealthy)
    }

    /// The state's name as serialized (`healthy`, `unknown`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ActiveState::Unmonitored => "unmonitored",
            ActiveState::Unknown => "unknown",
            ActiveState::Healthy => "healthy",
            ActiveState::Unhealthy => "unhealthy",
        }
    }
}

/// Consecutive results and the state they lead to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ActiveTracker {
    pub state: ActiveState,
    pub successes: u32,
    pub failures: u32,
}

impl ActiveTracker {
    pub fn new(monitored: bool) -> Self {
        Self {
            state: if monitored {
                ActiveState::Unknown
            } else {
                ActiveState::Unmonitored
            },
            successes: 0,
            failures: 0,
        }
    }

    /// Records one check result; returns the previous state when the state changed.
    ///
    /// The first result decides alone; after it `healthy_threshold` consecutive successes
    /// turn an unhealthy origin healthy and `unhealthy_threshold` consecutive failures turn a
    /// healthy one unhealthy (a threshold of 0 counts as 1).
    pub fn record(
        &mut self,
        success: bool,
        healthy_threshold: u32,
        unhealthy_threshold: u32,
    ) -> Option<ActiveState> {
        let previous = self.state;
        if success {
            self.successes = self.successes.saturating_add(1);
            self.failures = 0;
            match self.state {
                ActiveState::Unknown | ActiveState::Unmonitored => {
                    self.state = ActiveState::Healthy
                }
                ActiveState::Unhealthy if self.successes >= healthy_threshold.max(1) => {
                    self.state = ActiveState::Healthy
                }
                _ => {}
            }
        } else {
            self.failures = self.failures.saturating_add(1);
            self.successes = 0;
            match self.state {
                ActiveState::Unknown | ActiveState::Unmonitored => {
                    self.state = ActiveState::Unhealthy
                }
                ActiveState::Healthy if self.failures >= unhealthy_threshold.max(1) => {
                    self.state = ActiveState::Unhealthy
                }
                _ => {}
            }
        }
        (self.state != previous).then_some(previous)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_result_decides_then_thresholds_apply() {
        let mut tracker = ActiveTracker::new(true);
        assert_eq!(tracker.state, ActiveState::Unknown);
        assert_eq!(tracker.record(true, 3, 2), Some(ActiveState::Unknown));
        assert_eq!(tracker.state, ActiveState::Healthy);
        assert_eq!(tracker.record(false, 3, 2), None);
        assert_eq!(
            tracker.record(true, 3, 2),
            None,
            "a success resets the failures"
        );
        assert_eq!(tracker.record(false, 3, 2), None);
        assert_eq!(tracker.record(false, 3, 2), Some(ActiveState::Healthy));
        assert_eq!(tracker.state, ActiveState::Unhealthy);
        assert_eq!(tracker.record(true, 3, 2), None);
        assert_eq!(tracker.record(true, 3, 2), None);
        assert_eq!(tracker.record(true, 3, 2), Some(ActiveState::Unhealthy));
        assert_eq!(tracker.state, ActiveState::Healthy);
    }

    #[test]
    fn first_failure_decides_and_zero_threshold_is_one() {
        let mut tracker = ActiveTracker::new(true);
        assert_eq!(tracker.record(false, 0, 0), Some(ActiveState::Unknown));
        assert_eq!(tracker.state, ActiveState::Unhealthy);
        assert_eq!(tracker.record(true, 0, 0), Some(ActiveState::Unhealthy));
        assert_eq!(tracker.record(false, 0, 0), Some(ActiveState::Healthy));
    }
}
