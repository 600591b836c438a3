//! Wire types of torii's migration kinds, `torii.dev/v1alpha1`: `Comparison` (mirror a rule's
//! traffic to a candidate and compare the answers) and `Rollout` (move a rule's traffic from a
//! stable backend to a candidate in gated steps), written as Kubernetes custom resources (spec
//! and status, camelCase fields). Every field is optional on the wire where the kind has a
//! default; `torii-translate` validates and applies the defaults (documented in
//! `docs/migration.md`).

use crate::lb::NotificationSpec;
use crate::wire::ObjectMeta;
use serde::{Deserialize, Serialize};

/// `torii.dev/v1alpha1` `Comparison`: shadow traffic to a candidate, answers compared.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Comparison {
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// The comparison.
    pub spec: ComparisonSpec,
}

/// `Comparison.spec`: what is compared, then the same settings as [`CompareSpec`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComparisonSpec {
    /// The HTTPRoute (and optionally its rule) whose requests are compared.
    pub target_ref: TargetRefSpec,
    /// The backend whose answers users get; only requests it served are compared. It must be
    /// one of the targeted rule's backendRefs. Unset: whichever backend served the request.
    pub primary: Option<BackendObjectRefSpec>,
    /// The new version, sent mirrored copies.
    pub candidate: BackendObjectRefSpec,
    /// A second instance of the primary's version, to learn noise from.
    pub secondary: Option<BackendObjectRefSpec>,
    /// Share of eligible requests compared.
    pub sampling: Option<SamplingSpec>,
    /// Methods compared (default `GET`, `HEAD`, `OPTIONS`).
    pub methods: Option<Vec<String>>,
    /// What differences are ignored.
    pub ignore: Option<IgnoreSpec>,
    /// Headers redacted in stored samples besides the defaults.
    pub redact_headers: Option<Vec<String>>,
    /// Compare `text/*` bodies with whitespace normalised (default true).
    pub normalize_text: Option<bool>,
    /// Longer bodies are compared by hash (default 1 MiB, at most 64 MiB).
    pub max_body_bytes: Option<u64>,
    /// Comparisons in flight at most (default 256, 1 to 65536).
    pub max_concurrent: Option<u32>,
    /// How long the candidate and secondary may take (Gateway API duration, default `10s`).
    pub timeout: Option<String>,
}

/// `Rollout.spec.compare`: how answers are compared, every field optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CompareSpec {
    /// Share of eligible requests compared.
    pub sampling: Option<SamplingSpec>,
    /// Methods compared (default `GET`, `HEAD`, `OPTIONS`).
    pub methods: Option<Vec<String>>,
    /// What differences are ignored.
    pub ignore: Option<IgnoreSpec>,
    /// Headers redacted in stored samples besides the defaults.
    pub redact_headers: Option<Vec<String>>,
    /// Compare `text/*` bodies with whitespace normalised (default true).
    pub normalize_text: Option<bool>,
    /// Longer bodies are compared by hash (default 1 MiB, at most 64 MiB).
    pub max_body_bytes: Option<u64>,
    /// Comparisons in flight at most (default 256, 1 to 65536).
    pub max_concurrent: Option<u32>,
    /// How long the candidate and secondary may take (Gateway API duration, default `10s`).
    pub timeout: Option<String>,
}

/// A reference to the HTTPRoute a migration kind targets, in the object's namespace.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetRefSpec {
    /// API group (default `gateway.networking.k8s.io`).
    pub group: Option<String>,
    /// Kind (`HTTPRoute`).
    pub kind: String,
    /// The route's name.
    pub name: String,
    /// A rule's `name`; unset targets every rule of the route.
    pub section_name: Option<String>,
}

/// A backend, as an HTTPRoute `backendRef` names one (without weight and filters).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct BackendObjectRefSpec {
    /// API group (`""`, the default, for core; `torii.dev` for pools and load balancers).
    pub group: Option<String>,
    /// Kind (`Service` by default; `OriginPool` or `LoadBalancer` with group `torii.dev`).
    pub kind: Option<String>,
    /// Namespace (the object's by default; another needs a ReferenceGrant).
    pub namespace: Option<String>,
    /// Name of the referent.
    pub name: String,
    /// Service port (required for Services).
    pub port: Option<i32>,
}

/// `sampling`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct SamplingSpec {
    /// Percent of eligible requests, above 0 and at most 100 (default 100).
    pub percent: Option<f64>,
}

/// `ignore`: differences that never count.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IgnoreSpec {
    /// Response headers ignored besides the defaults.
    pub headers: Option<Vec<String>>,
    /// JSON paths ignored in bodies, e.g. `$.meta.generatedAt`.
    pub json_paths: Option<Vec<String>>,
}

/// `torii.dev/v1alpha1` `Rollout`: a rule's traffic moved from stable to candidate in steps.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Rollout {
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// The rollout.
    pub spec: RolloutSpec,
}

/// `Rollout.spec`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutSpec {
    /// The HTTPRoute (and optionally its rule) whose traffic moves.
    pub target_ref: TargetRefSpec,
    /// The backend traffic moves away from; one of the targeted rule's backendRefs.
    pub stable_ref: BackendObjectRefSpec,
    /// The backend traffic moves to; one of the targeted rule's backendRefs.
    pub candidate_ref: BackendObjectRefSpec,
    /// The steps, in order.
    pub steps: Vec<RolloutStepSpec>,
    /// The gates every step is checked against.
    pub analysis: Option<AnalysisSpec>,
    /// How mirror steps compare answers.
    pub compare: Option<CompareSpec>,
    /// Sticky assignment of users to stable or candidate.
    pub session_affinity: Option<RolloutAffinitySpec>,
    /// Where rollout events go (as `LoadBalancer.spec.notifications`, without `pools`).
    pub notifications: Option<Vec<NotificationSpec>>,
}

/// One step: exactly one of `mirror` and `weight`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct RolloutStepSpec {
    /// A mirror step.
    pub mirror: Option<MirrorStepSpec>,
    /// A weight step: the candidate's percent of the rule's traffic (1 to 100).
    pub weight: Option<i32>,
    /// A weight step's shortest time (default `0s`).
    pub pause: Option<String>,
}

/// `steps[].mirror`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MirrorStepSpec {
    /// The step's shortest time (default `0s`).
    pub duration: Option<String>,
    /// Highest share of compared requests with a regression (default 0.01).
    pub max_diff_rate: Option<f64>,
    /// Comparisons needed before the step can pass (default 100).
    pub min_compared: Option<u64>,
}

/// `Rollout.spec.analysis`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisSpec {
    /// Candidate requests needed per step (default 100).
    pub min_requests: Option<u64>,
    /// Highest candidate error rate, 0 to 1 (default 0.01).
    pub max_error_rate: Option<f64>,
    /// Highest candidate error rate above the stable one, 0 to 1 (default none).
    pub max_error_rate_increase: Option<f64>,
    /// Highest candidate p99 over stable p99, at least 1 (default 1.5).
    pub max_latency_p99_ratio: Option<f64>,
    /// Latency allowed above the ratio (default `5ms`).
    pub latency_slack: Option<String>,
    /// Highest diff rate on weight steps, 0 to 1 (default none).
    pub max_diff_rate: Option<f64>,
    /// Comparisons `maxDiffRate` needs on weight steps (default 100).
    pub min_compared: Option<u64>,
    /// How often the gates are evaluated (default `5s`).
    pub interval: Option<String>,
}

/// `Rollout.spec.sessionAffinity`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutAffinitySpec {
    /// The cookie carrying the assignment (default `torii-rollout`).
    pub cookie_name: Option<String>,
    /// The cookie's lifetime (default `1h`).
    pub ttl: Option<String>,
}
