//! Status of torii's own kinds: what the Kubernetes source's status writer reports on each
//! object (`status` subresource). File mode never reads it (the loader drops `status`).
//!
//! Every status has the translation's conditions (`Accepted`, `ResolvedRefs`, with
//! `observedGeneration`) and, per kind, what the running proxy knows: origin health for an
//! `OriginPool`, the active pool of a `LoadBalancer`, counts of a `Comparison`, and the state
//! of a `Rollout` (which in Kubernetes mode is the durable copy of its state). Fields hold only
//! what changes on a real transition (no per-check timestamps or round trips), so an unchanged
//! status is never rewritten.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use serde::{Deserialize, Serialize};

/// `HealthMonitor.status`.
#[derive(schemars::JsonSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthMonitorStatus {
    /// The `metadata.generation` this status was written for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Accepted`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    #[schemars(length(max = 8))]
    pub conditions: Vec<Condition>,
}

/// `OriginPool.status`.
#[derive(schemars::JsonSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OriginPoolStatus {
    /// The `metadata.generation` this status was written for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Accepted` and `ResolvedRefs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    #[schemars(length(max = 8))]
    pub conditions: Vec<Condition>,
    /// Whether at least `minimumOrigins` of the origins that take traffic are healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthy: Option<bool>,
    /// Origins (after flattening) that are healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthy_origins: Option<u32>,
    /// Origins after flattening (a Service origin counts each ready endpoint).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_origins: Option<u32>,
    /// Each flattened origin's health, as this replica's checks see it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub origins: Vec<OriginHealthStatus>,
}

/// The health of one flattened origin.
#[derive(schemars::JsonSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OriginHealthStatus {
    /// The flattened origin's name: the origin's, or `<origin>/<ip:port>` for a Service
    /// endpoint or a resolved DNS name.
    pub name: String,
    /// The socket address traffic goes to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// `Healthy`, `Unhealthy` or `Unknown` (not checked yet).
    #[schemars(extend("enum" = ["Healthy", "Unhealthy", "Unknown"]))]
    pub state: String,
    /// Whether passive outlier detection has ejected it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ejected: Option<bool>,
    /// Why it is in this state (the failed check's error, the ejection's cause).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When `state` last changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
}

/// `LoadBalancer.status`.
#[derive(schemars::JsonSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerStatus {
    /// The `metadata.generation` this status was written for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Accepted` and `ResolvedRefs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    #[schemars(length(max = 8))]
    pub conditions: Vec<Condition>,
    /// Whether some pool is healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthy: Option<bool>,
    /// The pool steering picks now for a client without location (the name of an
    /// `OriginPool` in the load balancer's namespace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_pool: Option<String>,
    /// The health of each pool the load balancer uses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub pools: Vec<PoolHealthStatus>,
}

/// The health of one pool of a load balancer.
#[derive(schemars::JsonSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolHealthStatus {
    /// The `OriginPool`'s name.
    pub name: String,
    /// Whether at least `minimumOrigins` of its origins that take traffic are healthy.
    pub healthy: bool,
    /// Flattened origins that are healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthy_origins: Option<u32>,
    /// Flattened origins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_origins: Option<u32>,
}

/// `Comparison.status`: the comparison's counters since its runtime began (the status writer
/// refreshes them at an interval, not per request).
#[derive(schemars::JsonSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComparisonStatus {
    /// The `metadata.generation` this status was written for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Accepted` and `ResolvedRefs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    #[schemars(length(max = 8))]
    pub conditions: Vec<Condition>,
    /// Requests compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compared: Option<u64>,
    /// Comparisons with identical answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identical: Option<u64>,
    /// Comparisons whose differences were all noise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise_only: Option<u64>,
    /// Comparisons with a regression.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regressions: Option<u64>,
    /// Eligible requests not compared (sampling aside): no free slot, saturated CPU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shed: Option<u64>,
    /// When the counters were last written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Time>,
}

/// `Rollout.status`: where the rollout is. In Kubernetes mode this is the rollout's durable
/// state (file mode keeps it in `--state-dir`).
#[derive(schemars::JsonSchema, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStatus {
    /// The `metadata.generation` this status was written for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Accepted` and `ResolvedRefs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    #[schemars(length(max = 8))]
    pub conditions: Vec<Condition>,
    /// `Progressing`, `Paused`, `Completed`, `RolledBack` or `Aborted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Progressing", "Paused", "Completed", "RolledBack", "Aborted"]))]
    pub phase: Option<String>,
    /// The step (index into `spec.steps`) it is on, or failed or was aborted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<u32>,
    /// The candidate's percent of the rule's traffic now.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 100))]
    pub weight: Option<u32>,
    /// Whether the candidate gets mirrored copies now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirroring: Option<bool>,
    /// When the current step began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_started_at: Option<Time>,
    /// Why the last transition happened (gate results with numbers, or a person's words).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who paused or aborted it, when a person did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// The fingerprint of the plan (steps and analysis) the state follows: a different one
    /// restarts the rollout from its first step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_fingerprint: Option<String>,
    /// The last transitions, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub history: Vec<RolloutTransitionStatus>,
    /// Kubernetes mode: the rollout's whole durable state as torii keeps it (its state file's
    /// JSON without per-process counters), written by the leader after every transition and
    /// read back after a restart or a change of leader. torii's own format, versioned by its
    /// `version` field: not for editing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "opaque_object")]
    pub state: Option<serde_json::Value>,
}

/// A JSON object the API server stores as given (torii's own versioned format).
fn opaque_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// One transition of a rollout.
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutTransitionStatus {
    /// When.
    pub time: Time,
    /// `Started`, `Advanced`, `Completed`, `RolledBack`, `Paused`, `Resumed`, `Promoted`,
    /// `Aborted`, `Restarted` or `PlanChanged`.
    #[schemars(extend("enum" = ["Started", "Advanced", "Completed", "RolledBack", "Paused", "Resumed", "Promoted", "Aborted", "Restarted", "PlanChanged"]))]
    pub kind: String,
    /// The step before (unset when the rollout started).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_step: Option<u32>,
    /// The step after, when progressing or paused afterwards.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_step: Option<u32>,
    /// The candidate's traffic percent afterwards.
    #[schemars(range(max = 100))]
    pub weight: u32,
    /// Why, with numbers or a person's words.
    pub reason: String,
}
