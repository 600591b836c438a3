//! How busy the proxy's CPU is, so that best-effort work (comparisons of mirrored traffic)
//! only uses capacity users do not need.
//!
//! [`CpuLoad::spawn`] samples the process's CPU time (`/proc/self/stat`, user + system) every
//! [`SAMPLE`] and compares it with what the runtime's worker threads could use in that time.
//! Above [`BUSY`] of that capacity the proxy counts as saturated until the share falls below
//! [`CALM`] (hysteresis, so the flag does not flap). Where `/proc` is missing the proxy never
//! counts as saturated.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// How often the CPU time is sampled.
pub const SAMPLE: Duration = Duration::from_millis(250);
/// Share of the workers' capacity above which the proxy is saturated.
pub const BUSY: f64 = 0.85;
/// Share below which a saturated proxy is calm again.
pub const CALM: f64 = 0.70;

/// Whether the proxy's CPU is saturated now (one atomic load to read).
#[derive(Debug, Default)]
pub struct CpuLoad {
    saturated: AtomicBool,
}

impl CpuLoad {
    /// Whether the workers were busier than [`BUSY`] lately.
    pub fn saturated(&self) -> bool {
        self.saturated.load(Ordering::Relaxed)
    }

    /// Samples the CPU time every [`SAMPLE`] while `load` lives (inside a tokio runtime;
    /// `workers` is the runtime's worker thread count).
    pub fn spawn(load: &Arc<CpuLoad>, workers: usize) {
        let load = Arc::downgrade(load);
        tokio::spawn(sample(load, workers.max(1)));
    }

    /// Applies one sample: `share` of the workers' capacity was used.
    fn update(&self, share: f64) {
        let saturated = self.saturated();
        if !saturated && share >= BUSY {
            self.saturated.store(true, Ordering::Relaxed);
        } else if saturated && share < CALM {
            self.saturated.store(false, Ordering::Relaxed);
        }
    }
}

async fn sample(load: Weak<CpuLoad>, workers: usize) {
    let Some(mut last) = cpu_time() else {
        return;
    };
    let mut at = Instant::now();
    let mut tick = tokio::time::interval(SAMPLE);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(load) = load.upgrade() else {
            return;
        };
        let Some(now) = cpu_time() else {
            return;
        };
        let elapsed = at.elapsed();
        at = Instant::now();
        let used = now.saturating_sub(last);
        last = now;
        if elapsed.is_zero() {
            continue;
        }
        load.update(used.as_secs_f64() / (elapsed.as_secs_f64() * workers as f64));
    }
}

/// The process's CPU time (user + system) so far, from `/proc/self/stat`.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_cpu_time(&stat, 100)
}

/// `utime + stime` (fields 14 and 15, in clock ticks of `1/hz` s) of a `/proc/PID/stat` line.
/// The command name (field 2) may hold spaces and parentheses: fields are counted after its
/// last `)`.
fn parse_cpu_time(stat: &str, hz: u64) -> Option<Duration> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After the name: state (3), ppid … cmajflt (4–12), utime (14), stime (15).
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 1000 / hz))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_fields_14_and_15() {
        let stat = "4242 (tor ii) (x) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 50 0 0 20 0 3 0 1";
        assert_eq!(parse_cpu_time(stat, 100), Some(Duration::from_secs(3)));
        assert_eq!(parse_cpu_time("garbage", 100), None);
        assert!(cpu_time().is_some(), "/proc/self/stat readable here");
    }

    #[test]
    fn saturation_has_hysteresis() {
        let load = CpuLoad::default();
        load.update(0.80);
        assert!(!load.saturated());
        load.update(0.90);
        assert!(load.saturated());
        load.update(0.75);
        assert!(load.saturated(), "still above CALM");
        load.update(0.50);
        assert!(!load.saturated());
    }
}
