//! Migration: torii's `Comparison` and `Rollout` kinds (`torii.dev/v1alpha1`) as validated
//! domain values.
//!
//! A [`Comparison`] sends a sampled share of a rule's requests to a candidate (and optionally
//! a secondary) besides the primary that serves the user, and compares the answers off the
//! user's path. A [`Rollout`] moves a rule's traffic from a stable backend to a candidate in
//! steps gated by live analysis. Translation attaches both to the [`crate::HttpRule`]s they
//! target; `torii-compare` and `torii-rollout` hold the runtime logic.

use crate::lb::NotificationTarget;
use crate::BackendId;
use http::{HeaderName, Method};
use serde::Serialize;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A `Comparison` or a `Rollout`, by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct MigrationId {
    /// The object's namespace.
    pub namespace: Arc<str>,
    /// The object's name.
    pub name: Arc<str>,
}

impl MigrationId {
    /// Builds the id from a namespace and a name.
    pub fn new(namespace: &str, name: &str) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for MigrationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// How answers are compared (shared by `Comparison` and a `Rollout`'s mirror steps).
#[derive(Debug, Clone, PartialEq)]
pub struct CompareSettings {
    /// Share of eligible requests compared, 0–100 percent.
    pub percent: f64,
    /// Methods mirrored and compared (default: GET, HEAD, OPTIONS).
    pub methods: Vec<Method>,
    /// Response headers ignored besides the defaults (Date, Server, request ids …).
    pub ignore_headers: Vec<HeaderName>,
    /// JSON paths ignored in bodies (`$.meta.generatedAt`, `$.items[*].id`), already checked
    /// to parse.
    pub ignore_json_paths: Vec<Arc<str>>,
    /// Headers whose values are redacted in stored samples besides the defaults
    /// (Authorization, Cookie, Set-Cookie, X-Api-Key …).
    pub redact_headers: Vec<HeaderName>,
    /// Compare `text/*` bodies with whitespace and line endings normalised.
    pub normalize_text: bool,
    /// Bodies longer than this are compared by hash.
    pub max_body_bytes: u64,
    /// Comparisons in flight at most; more are shed (and counted).
    pub max_concurrent: u32,
    /// How long the candidate and secondary may take before the comparison is given up.
    pub timeout: Duration,
}

impl Default for CompareSettings {
    fn default() -> Self {
        CompareSettings {
            percent: 100.0,
            methods: vec![Method::GET, Method::HEAD, Method::OPTIONS],
            ignore_headers: Vec::new(),
            ignore_json_paths: Vec::new(),
            redact_headers: Vec::new(),
            normalize_text: true,
            max_body_bytes: 1 << 20,
            max_concurrent: 256,
            timeout: Duration::from_secs(10),
        }
    }
}

/// A `Comparison`: shadow traffic to a candidate, answers compared with the primary's.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Which object this is.
    pub id: MigrationId,
    /// The backend whose answers users get and that the others are compared with; only
    /// requests this backend served are compared. `None`: whichever backend served it.
    pub primary: Option<BackendId>,
    /// The new version.
    pub candidate: BackendId,
    /// A second instance of the primary's version, to learn noise from.
    pub secondary: Option<BackendId>,
    /// How and how much.
    pub settings: CompareSettings,
}

/// One step of a rollout.
#[derive(Debug, Clone, PartialEq)]
pub enum RolloutStep {
    /// Candidate gets mirrored copies only; answers compared.
    Mirror {
        /// The step lasts at least this long.
        duration: Duration,
        /// Highest share of compared requests with a regression that passes.
        max_diff_rate: f64,
        /// Comparisons needed before the step can pass.
        min_compared: u64,
    },
    /// Candidate gets this share of the rule's traffic.
    Weight {
        /// Percent, 1–100.
        percent: u8,
        /// The step lasts at least this long.
        pause: Duration,
    },
}

/// The gates every step is checked against.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutAnalysis {
    /// Candidate requests needed per step before its gates can pass.
    pub min_requests: u64,
    /// Highest candidate error rate (5xx and failed requests), 0–1.
    pub max_error_rate: f64,
    /// Highest candidate error rate above the stable one, 0–1.
    pub max_error_rate_increase: Option<f64>,
    /// Highest candidate p99 latency as a multiple of the stable p99.
    pub max_latency_p99_ratio: Option<f64>,
    /// Latency allowed above the ratio (so microsecond noise does not fail the gate).
    pub latency_slack: Duration,
    /// Highest diff rate during weight steps (when comparison runs then too).
    pub max_diff_rate: Option<f64>,
    /// Comparisons `max_diff_rate` needs per weight step before it can pass.
    pub min_compared: u64,
    /// How often the gates are evaluated.
    pub interval: Duration,
}

impl Default for RolloutAnalysis {
    fn default() -> Self {
        RolloutAnalysis {
            min_requests: 100,
            max_error_rate: 0.01,
            max_error_rate_increase: None,
            max_latency_p99_ratio: Some(1.5),
            latency_slack: Duration::from_millis(5),
            max_diff_rate: None,
            min_compared: 100,
            interval: Duration::from_secs(5),
        }
    }
}

/// Sticky assignment of users to the stable or candidate version while a step holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutAffinity {
    /// The cookie that carries the assignment.
    pub cookie: Arc<str>,
    /// The cookie's lifetime.
    pub ttl: Duration,
}

/// A `Rollout`: one route's traffic moved from `stable` to `candidate` in gated steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    /// Which object this is.
    pub id: MigrationId,
    /// The backend traffic moves away from.
    pub stable: BackendId,
    /// The backend traffic moves to.
    pub candidate: BackendId,
    /// The steps, in order (mirror steps first; weights increasing; the last is 100).
    pub steps: Vec<RolloutStep>,
    /// The gates.
    pub analysis: RolloutAnalysis,
    /// How mirror steps compare answers.
    pub compare: CompareSettings,
    /// Sticky users, when configured.
    pub affinity: Option<RolloutAffinity>,
    /// Where rollout events are sent.
    pub notifications: Vec<NotificationTarget>,
}

/// What a rule carries of the migration kinds that target it.
#[derive(Debug, Clone, Default)]
pub struct RuleMigration {
    /// The comparison attached to the rule.
    pub comparison: Option<Arc<Comparison>>,
    /// The rollout that drives the rule's weights between its stable and candidate backends.
    pub rollout: Option<Arc<Rollout>>,
}
