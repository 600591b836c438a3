//! One health model for torii's origins: active health monitors (`tcp`, `http`, `https`)
//! and passive outlier detection decide one health state per origin.
//!
//! The integrator hands a [`HealthChecker`] the [`Target`]s of every pool (again on each
//! reload, through [`HealthChecker::update`]); the checker runs each target's monitor on its
//! interval, counts the request outcomes the proxy reports ([`HealthChecker::report`],
//! [`OriginHandle::report`]: atomics only), ejects outliers with exponential back-off, and
//! publishes the result three ways:
//!
//! - a [`HealthListener`] receives every [`HealthChange`] (log lines are written here too;
//!   metrics and notifications are the listener's job);
//! - an [`OriginHandle`] per origin answers [`OriginHandle::is_healthy`] and
//!   [`OriginHandle::smoothed_rtt`] with one atomic load, for the steering code;
//! - [`HealthChecker::snapshot`] lists every origin's state, last check, reason and RTT for
//!   `/api/v1/status` and the CLI, and [`HealthChecker::collector`] serves the same as
//!   Prometheus metrics, read at scrape time.
//!
//! # Semantics
//!
//! - **Effective health** = the active state is not [`ActiveState::Unhealthy`] **and** the
//!   origin is not ejected. An origin without a monitor is [`ActiveState::Unmonitored`]
//!   (healthy unless ejected).
//! - **Start and reload fail no request**: a new origin is [`ActiveState::Unknown`], which
//!   counts as healthy. Its first check runs at once (the first checks of one update are
//!   spread over up to one interval) and decides alone: one success makes it `Healthy`, one
//!   failed check (after its immediate retries) makes it `Unhealthy`. After that the
//!   thresholds apply: `unhealthy_threshold` consecutive failed checks turn a healthy origin
//!   unhealthy, `healthy_threshold` consecutive successes turn it back.
//! - **A check** is one attempt plus up to `retries` immediate re-attempts, each bounded by
//!   `timeout`; it succeeds when one attempt does. Checks start every `interval`, counted from
//!   the previous start (back to back when a check takes longer than the interval).
//! - **Outlier detection** counts consecutive failed requests per origin; reaching
//!   `consecutive_failures` ejects the origin at once (not at the next check) for
//!   `base_ejection × 2^(k−1)`, capped at `max_ejection`, where `k` counts ejections in a row:
//!   an ejection that starts within the previous ejection's length after it ended continues
//!   the series, a later one starts a new series. The ejection ends by timer only (active
//!   checks keep running meanwhile and keep their own state). At most `max_ejected_percent`
//!   of the pool's origins are ejected at once, rounded down but at least one (so a pool of
//!   one origin can still be taken out and the load balancer fail over); `0` % ejects none.
//!   An ejection the limit refuses is skipped and the failure count starts again.
//!   `consecutive_failures: 0` turns outlier detection off. Reports about an ejected origin
//!   are ignored; its count starts from zero when the ejection ends.
//! - **Reloads** ([`HealthChecker::update`]): an origin whose key, address, monitor and `host`
//!   are unchanged keeps its state and schedule; a changed monitor restarts the active state
//!   (`unknown`) but keeps an ejection; a changed address is a new origin.
//!
//! # Cost
//!
//! Checks start on a 20 ms grid ([`CheckerOptions::check_tick`]) so the checks that fall due
//! together share one wake-up of the runtime, and http(s) checks keep their connection
//! between checks ([`ProbeOptions::reuse_connections`], on by default; at most half the
//! open-files limit of them) on torii-http1's client connection, which holds no buffer while
//! idle. `bench/health.sh` measures 10,000 origins checked every 5 s.

mod active;
mod checker;
mod error;
mod event;
mod http_probe;
mod metrics;
mod origin;
mod outlier;
mod probe;
mod status;
mod target;

pub use active::ActiveState;
pub use checker::{CheckerOptions, HealthChecker};
pub use error::{CheckError, HealthError};
pub use event::{HealthChange, HealthListener};
pub use metrics::HealthCollector;
pub use origin::OriginHandle;
pub use outlier::{FailureKind, Outcome};
pub use probe::{BoxFuture, NetProbe, Probe, ProbeOptions, ProbeTarget};
pub use status::{CheckResult, OriginHealthStatus, PoolHealth};
pub use target::{OriginKey, Target};
