//! What a [`crate::DiffStore`] reports: serializable (camelCase JSON) and deserializable, so
//! the CLI can render what it fetched from the admin API.

use crate::compare::Differences;
use crate::noise::Verdict;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What results are aggregated by: a method and a route template chosen by the caller (such
/// as the route's name and its path match; never a raw path, to keep cardinality bounded).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointKey {
    /// The request method.
    pub method: String,
    /// The route template.
    pub route: String,
}

impl EndpointKey {
    /// The key of `method` on `route`.
    pub fn new(method: impl Into<String>, route: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            route: route.into(),
        }
    }

    /// The key that collects endpoints beyond [`crate::StoreOptions::max_endpoints`].
    pub fn overflow() -> Self {
        Self::new("*", "<other endpoints>")
    }
}

impl fmt::Display for EndpointKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.route)
    }
}

/// Results for every endpoint seen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffReport {
    /// One report per endpoint, most regressions first.
    pub endpoints: Vec<EndpointReport>,
}

/// Results for one endpoint (counters are totals since start or [`crate::DiffStore::reset`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointReport {
    /// The endpoint.
    pub endpoint: EndpointKey,
    /// Comparisons recorded.
    pub compared: u64,
    /// Comparisons without any difference.
    pub identical: u64,
    /// Comparisons whose differences were all noise.
    pub noise_only: u64,
    /// Comparisons with at least one difference that is not noise.
    pub regressions: u64,
    /// Mirrored requests the proxy could not compare (queue full, body too large, timeout).
    pub shed: u64,
    /// Comparisons that had a secondary response (the pairs noise is learned from).
    pub secondary_pairs: u64,
    /// Comparisons whose differences were capped.
    pub capped: u64,
    /// The field templates that differ most: regressions plus noise, largest first.
    pub top_fields: Vec<FieldStat>,
    /// How often each (primary, candidate) status pair was seen, most frequent first.
    pub status_pairs: Vec<StatusPair>,
    /// Field templates treated as noise on this endpoint from what the secondary showed.
    pub learned_noise: Vec<String>,
    /// The sample diffs kept, oldest first (full content from [`crate::DiffStore::sample`]).
    pub samples: Vec<SampleSummary>,
}

impl EndpointReport {
    /// Regressions per comparison, in percent (0 before any comparison).
    pub fn diff_rate_percent(&self) -> f64 {
        if self.compared == 0 {
            0.0
        } else {
            self.regressions as f64 * 100.0 / self.compared as f64
        }
    }
}

/// How often one field template differed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldStat {
    /// The field template (array indices as `[*]`), or `<other fields>` past the cap.
    pub field: String,
    /// Comparisons in which it was a regression.
    pub regressions: u64,
    /// Comparisons in which it was noise.
    pub noise: u64,
}

/// How often a pair of statuses was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusPair {
    /// The primary's status.
    pub primary: u16,
    /// The candidate's status.
    pub candidate: u16,
    /// Comparisons with this pair.
    pub count: u64,
}

/// A line per kept sample in an [`EndpointReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SampleSummary {
    /// The sample's id.
    pub id: u64,
    /// When it was recorded, UNIX milliseconds.
    pub time_unix_ms: u64,
    /// The request's path and query, redacted.
    pub target: String,
    /// Its verdict.
    pub verdict: Verdict,
}

/// One comparison kept in full for inspection; every secret is already redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SampleDiff {
    /// A unique, increasing id.
    pub id: u64,
    /// When it was recorded, UNIX milliseconds.
    pub time_unix_ms: u64,
    /// The endpoint it counted for.
    pub endpoint: EndpointKey,
    /// The downstream request.
    pub request: SampleRequest,
    /// The primary's response.
    pub primary: SampleResponse,
    /// The candidate's response.
    pub candidate: SampleResponse,
    /// The secondary's response, when there was one.
    pub secondary: Option<SampleResponse>,
    /// Primary vs candidate.
    pub differences: Differences,
    /// Primary vs secondary, when there was a secondary.
    pub secondary_differences: Option<Differences>,
    /// The verdict.
    pub verdict: Verdict,
}

/// The request of a [`SampleDiff`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SampleRequest {
    /// The method.
    pub method: String,
    /// Path and query, secret parameters redacted.
    pub target: String,
    /// Headers as (name, value), secret values redacted.
    pub headers: Vec<(String, String)>,
}

/// One response of a [`SampleDiff`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SampleResponse {
    /// The status code.
    pub status: u16,
    /// Headers as (name, value), secret values redacted.
    pub headers: Vec<(String, String)>,
    /// The body: JSON pretty-printed with secret members redacted, text as is, otherwise
    /// `<binary N bytes>` or `<hashed N bytes>`; cut at
    /// [`crate::StoreOptions::max_sample_body_bytes`].
    pub body: String,
    /// Whether `body` was cut.
    pub body_truncated: bool,
}
