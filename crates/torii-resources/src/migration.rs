//! Wire types of torii's migration kinds, `torii.dev/v1alpha1`: `Comparison` (mirror a rule's
//! traffic to a candidate and compare the answers) and `Rollout` (move a rule's traffic from a
//! stable backend to a candidate in gated steps), written as Kubernetes custom resources (spec
//! and status, camelCase fields). Every field is optional on the wire where the kind has a
//! default; `torii-translate` validates and applies the defaults (documented in
//! `docs/migration.md`).
//!
//! The same structs give the CRDs their OpenAPI schema, as in [`crate::lb`].

// `#[kube(printcolumn(...))]` repeats `type_ = "string"` per column, which this lint takes
// for a duplicated attribute.
#![allow(clippy::duplicated_attributes)]

use crate::lb::NotificationSpec;
use crate::schema::{
    duration_above_zero, duration_at_least, DURATION, DURATION_MAX, MAX_NAME, MAX_NOTIFICATIONS,
    MAX_SMALL_LIST, MAX_TEXT, TOKEN,
};
use crate::status::{ComparisonStatus, RolloutStatus};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

/// `Comparison.spec`: what is compared, then the same settings as [`CompareSpec`].
#[derive(CustomResource, KubeSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[kube(
    group = "torii.dev",
    version = "v1alpha1",
    kind = "Comparison",
    namespaced,
    status = "ComparisonStatus",
    derive = "Default",
    derive = "PartialEq",
    doc = "`torii.dev/v1alpha1` `Comparison`: shadow traffic to a candidate, answers compared.",
    shortname = "tcmp",
    category = "torii",
    printcolumn(name = "Route", type_ = "string", json_path = ".spec.targetRef.name"),
    printcolumn(
        name = "Rule",
        type_ = "string",
        json_path = ".spec.targetRef.sectionName"
    ),
    printcolumn(name = "Compared", type_ = "integer", json_path = ".status.compared"),
    printcolumn(
        name = "Regressions",
        type_ = "integer",
        json_path = ".status.regressions"
    ),
    printcolumn(
        name = "Accepted",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Accepted\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
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
    #[schemars(length(min = 1, max = MAX_SMALL_LIST), inner(length(max = 64), pattern(TOKEN)))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub methods: Option<Vec<String>>,
    /// What differences are ignored.
    pub ignore: Option<IgnoreSpec>,
    /// Headers redacted in stored samples besides the defaults.
    #[schemars(inner(length(max = 256), pattern(TOKEN)))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub redact_headers: Option<Vec<String>>,
    /// Compare `text/*` bodies with whitespace normalised (default true).
    pub normalize_text: Option<bool>,
    /// Longer bodies are compared by hash (default 1 MiB, at most 64 MiB).
    #[schemars(range(max = 67108864))]
    pub max_body_bytes: Option<u64>,
    /// Comparisons in flight at most (default 256, 1 to 65536).
    #[schemars(range(min = 1, max = 65536))]
    pub max_concurrent: Option<u32>,
    /// How long the candidate and secondary may take (Gateway API duration, default `10s`).
    #[schemars(length(max = DURATION_MAX), pattern(DURATION))]
    #[x_kube(validation = Rule::new(duration_above_zero()).message("must be above zero"))]
    pub timeout: Option<String>,
}

/// `Rollout.spec.compare`: how answers are compared, every field optional.
#[derive(KubeSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CompareSpec {
    /// Share of eligible requests compared.
    pub sampling: Option<SamplingSpec>,
    /// Methods compared (default `GET`, `HEAD`, `OPTIONS`).
    #[schemars(length(min = 1, max = MAX_SMALL_LIST), inner(length(max = 64), pattern(TOKEN)))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub methods: Option<Vec<String>>,
    /// What differences are ignored.
    pub ignore: Option<IgnoreSpec>,
    /// Headers redacted in stored samples besides the defaults.
    #[schemars(inner(length(max = 256), pattern(TOKEN)))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub redact_headers: Option<Vec<String>>,
    /// Compare `text/*` bodies with whitespace normalised (default true).
    pub normalize_text: Option<bool>,
    /// Longer bodies are compared by hash (default 1 MiB, at most 64 MiB).
    #[schemars(range(max = 67108864))]
    pub max_body_bytes: Option<u64>,
    /// Comparisons in flight at most (default 256, 1 to 65536).
    #[schemars(range(min = 1, max = 65536))]
    pub max_concurrent: Option<u32>,
    /// How long the candidate and secondary may take (Gateway API duration, default `10s`).
    #[schemars(length(max = DURATION_MAX), pattern(DURATION))]
    #[x_kube(validation = Rule::new(duration_above_zero()).message("must be above zero"))]
    pub timeout: Option<String>,
}

/// A reference to the HTTPRoute a migration kind targets, in the object's namespace.
#[derive(schemars::JsonSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetRefSpec {
    /// API group (default `gateway.networking.k8s.io`).
    #[schemars(length(max = MAX_NAME))]
    pub group: Option<String>,
    /// Kind (`HTTPRoute`).
    #[schemars(length(min = 1, max = 63))]
    pub kind: String,
    /// The route's name.
    #[schemars(length(min = 1, max = MAX_NAME))]
    pub name: String,
    /// A rule's `name`; unset targets every rule of the route.
    #[schemars(length(max = MAX_NAME))]
    pub section_name: Option<String>,
}

/// A backend, as an HTTPRoute `backendRef` names one (without weight and filters).
#[derive(KubeSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[x_kube(validation = Rule::new(
    "has(self.group) && self.group != '' || has(self.kind) && self.kind != 'Service' || has(self.port)"
).message("a Service needs a port").field_path(".port"))]
pub struct BackendObjectRefSpec {
    /// API group (`""`, the default, for core; `torii.dev` for pools and load balancers).
    #[schemars(length(max = MAX_NAME))]
    pub group: Option<String>,
    /// Kind (`Service` by default; `OriginPool` or `LoadBalancer` with group `torii.dev`).
    #[schemars(length(max = 63))]
    pub kind: Option<String>,
    /// Namespace (the object's by default; another needs a ReferenceGrant).
    #[schemars(length(max = 63))]
    pub namespace: Option<String>,
    /// Name of the referent.
    #[schemars(length(min = 1, max = MAX_NAME))]
    pub name: String,
    /// Service port (required for Services).
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
}

/// `sampling`.
#[derive(KubeSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct SamplingSpec {
    /// Percent of eligible requests, above 0 and at most 100 (default 100).
    #[x_kube(validation = Rule::new("self > 0.0 && self <= 100.0").message("must be above 0 and at most 100"))]
    pub percent: Option<f64>,
}

/// `ignore`: differences that never count.
#[derive(schemars::JsonSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IgnoreSpec {
    /// Response headers ignored besides the defaults.
    #[schemars(inner(length(max = 256), pattern(TOKEN)))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub headers: Option<Vec<String>>,
    /// JSON paths ignored in bodies, e.g. `$.meta.generatedAt`.
    #[schemars(inner(length(max = MAX_TEXT), pattern(r"^\$")))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub json_paths: Option<Vec<String>>,
}

/// `Rollout.spec`: a rule's traffic moved from stable to candidate in steps.
#[derive(CustomResource, KubeSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[kube(
    group = "torii.dev",
    version = "v1alpha1",
    kind = "Rollout",
    namespaced,
    status = "RolloutStatus",
    derive = "Default",
    derive = "PartialEq",
    doc = "`torii.dev/v1alpha1` `Rollout`: a rule's traffic moved from stable to candidate in steps.",
    shortname = "tro",
    category = "torii",
    printcolumn(name = "Route", type_ = "string", json_path = ".spec.targetRef.name"),
    printcolumn(
        name = "Rule",
        type_ = "string",
        json_path = ".spec.targetRef.sectionName"
    ),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Step", type_ = "integer", json_path = ".status.step"),
    printcolumn(name = "Weight", type_ = "integer", json_path = ".status.weight"),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.reason",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.steps.map(s, has(s.weight) ? 1 : 0).isSorted()")
    .message("mirror steps must come before the weight steps").field_path(".steps"))]
#[x_kube(validation = Rule::new(
    "self.steps.filter(s, has(s.weight)).map(s, s.weight).isSorted() && self.steps.filter(s, has(s.weight)).all(s, self.steps.filter(t, has(t.weight) && t.weight == s.weight).size() == 1)"
).message("weights must strictly increase").field_path(".steps"))]
#[x_kube(validation = Rule::new(
    "size(self.steps) == 0 || has(self.steps[size(self.steps) - 1].weight) && self.steps[size(self.steps) - 1].weight == 100"
).message("the last step must be a weight step of 100").field_path(".steps"))]
#[x_kube(validation = Rule::new(
    "!has(self.notifications) || self.notifications.all(n, !has(n.pools) || size(n.pools) == 0)"
).message("a rollout's events belong to no pool; remove the pools filter").field_path(".notifications"))]
pub struct RolloutSpec {
    /// The HTTPRoute (and optionally its rule) whose traffic moves.
    pub target_ref: TargetRefSpec,
    /// The backend traffic moves away from; one of the targeted rule's backendRefs.
    pub stable_ref: BackendObjectRefSpec,
    /// The backend traffic moves to; one of the targeted rule's backendRefs.
    pub candidate_ref: BackendObjectRefSpec,
    /// The steps, in order.
    #[schemars(length(min = 1, max = 128))]
    pub steps: Vec<RolloutStepSpec>,
    /// The gates every step is checked against.
    pub analysis: Option<AnalysisSpec>,
    /// How mirror steps compare answers.
    pub compare: Option<CompareSpec>,
    /// Sticky assignment of users to stable or candidate.
    pub session_affinity: Option<RolloutAffinitySpec>,
    /// Where rollout events go (as `LoadBalancer.spec.notifications`, without `pools`).
    #[schemars(length(max = MAX_NOTIFICATIONS))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub notifications: Option<Vec<NotificationSpec>>,
}

/// One step: exactly one of `mirror` and `weight`.
#[derive(KubeSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[x_kube(validation = Rule::new("has(self.mirror) != has(self.weight)")
    .message("exactly one of mirror and weight"))]
#[x_kube(validation = Rule::new("!has(self.mirror) || !has(self.pause)")
    .message("only weight steps pause (a mirror step lasts mirror.duration)").field_path(".pause"))]
pub struct RolloutStepSpec {
    /// A mirror step.
    pub mirror: Option<MirrorStepSpec>,
    /// A weight step: the candidate's percent of the rule's traffic (1 to 100).
    #[schemars(range(min = 1, max = 100))]
    pub weight: Option<i32>,
    /// A weight step's shortest time (default `0s`).
    #[schemars(length(max = DURATION_MAX), pattern(DURATION))]
    pub pause: Option<String>,
}

/// `steps[].mirror`.
#[derive(schemars::JsonSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MirrorStepSpec {
    /// The step's shortest time (default `0s`).
    #[schemars(length(max = DURATION_MAX), pattern(DURATION))]
    pub duration: Option<String>,
    /// Highest share of compared requests with a regression (default 0.01).
    #[schemars(range(min = 0.0, max = 1.0))]
    pub max_diff_rate: Option<f64>,
    /// Comparisons needed before the step can pass (default 100).
    #[schemars(range(min = 1))]
    pub min_compared: Option<u64>,
}

/// `Rollout.spec.analysis`.
#[derive(KubeSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.maxDiffRate) || !has(self.minCompared) || self.minCompared >= 1")
    .message("must be at least 1 when maxDiffRate is set").field_path(".minCompared"))]
pub struct AnalysisSpec {
    /// Candidate requests needed per step (default 100).
    #[schemars(range(min = 1))]
    pub min_requests: Option<u64>,
    /// Highest candidate error rate, 0 to 1 (default 0.01).
    #[schemars(range(min = 0.0, max = 1.0))]
    pub max_error_rate: Option<f64>,
    /// Highest candidate error rate above the stable one, 0 to 1 (default none).
    #[schemars(range(min = 0.0, max = 1.0))]
    pub max_error_rate_increase: Option<f64>,
    /// Highest candidate p99 over stable p99, at least 1 (default 1.5).
    #[schemars(range(min = 1.0))]
    pub max_latency_p99_ratio: Option<f64>,
    /// Latency allowed above the ratio (default `5ms`).
    #[schemars(length(max = DURATION_MAX), pattern(DURATION))]
    pub latency_slack: Option<String>,
    /// Highest diff rate on weight steps, 0 to 1 (default none).
    #[schemars(range(min = 0.0, max = 1.0))]
    pub max_diff_rate: Option<f64>,
    /// Comparisons `maxDiffRate` needs on weight steps (default 100).
    pub min_compared: Option<u64>,
    /// How often the gates are evaluated (default `5s`).
    #[schemars(length(max = DURATION_MAX), pattern(DURATION))]
    #[x_kube(validation = Rule::new(duration_above_zero()).message("must be above zero"))]
    pub interval: Option<String>,
}

/// `Rollout.spec.sessionAffinity`.
#[derive(KubeSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutAffinitySpec {
    /// The cookie carrying the assignment (default `torii-rollout`).
    #[schemars(length(max = 256), pattern(TOKEN))]
    pub cookie_name: Option<String>,
    /// The cookie's lifetime (default `1h`).
    #[schemars(length(max = DURATION_MAX), pattern(DURATION))]
    #[x_kube(validation = Rule::new(duration_at_least("1s")).message("must be at least 1s"))]
    pub ttl: Option<String>,
}
