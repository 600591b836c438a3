//! Status conditions, in the Gateway API's terms, for every object translation looked at.

use crate::ids::{GatewayId, RouteId};
use serde::Serialize;

/// One condition, as in `metav1.Condition`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Condition {
    /// Condition type: `Accepted`, `Programmed`, `ResolvedRefs`, `Conflicted`, …
    #[serde(rename = "type")]
    pub type_: &'static str,
    /// `"True"` or `"False"`.
    pub status: ConditionStatus,
    /// A CamelCase reason from the spec.
    pub reason: &'static str,
    /// A human-readable message.
    pub message: String,
    /// The object's `metadata.generation` this condition was computed for.
    #[serde(rename = "observedGeneration", skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

impl Condition {
    /// A condition with status `True`.
    pub fn ok(type_: &'static str, reason: &'static str, message: impl Into<String>) -> Self {
        Condition {
            type_,
            status: ConditionStatus::True,
            reason,
            message: message.into(),
            observed_generation: None,
        }
    }

    /// A condition with status `False`.
    pub fn not(type_: &'static str, reason: &'static str, message: impl Into<String>) -> Self {
        Condition {
            type_,
            status: ConditionStatus::False,
            reason,
            message: message.into(),
            observed_generation: None,
        }
    }

    /// Whether the status is `True`.
    pub fn is_true(&self) -> bool {
        self.status == ConditionStatus::True
    }
}

/// A condition's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// Not known.
    Unknown,
}

/// Status of every object translation considered.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatusReport {
    /// GatewayClasses this controller owns.
    #[serde(rename = "gatewayClasses")]
    pub gateway_classes: Vec<GatewayClassStatus>,
    /// Gateways of those classes.
    pub gateways: Vec<GatewayStatus>,
    /// Routes with at least one parent that is one of those Gateways.
    pub routes: Vec<RouteStatus>,
    /// torii's own kinds (`HealthMonitor`, `OriginPool`, `LoadBalancer`).
    #[serde(rename = "loadBalancing", skip_serializing_if = "Vec::is_empty")]
    pub load_balancing: Vec<ObjectStatus>,
    /// torii's migration kinds (`Comparison`, `Rollout`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub migrations: Vec<ObjectStatus>,
    /// Objects that were ignored, with why (unknown kinds, other controllers' classes, …).
    pub notes: Vec<String>,
}

/// Status of a GatewayClass.
#[derive(Debug, Clone, Serialize)]
pub struct GatewayClassStatus {
    /// The class name.
    pub name: String,
    /// Conditions (`Accepted`).
    pub conditions: Vec<Condition>,
}

/// Status of a Gateway and its listeners.
#[derive(Debug, Clone, Serialize)]
pub struct GatewayStatus {
    /// Which Gateway.
    pub gateway: GatewayId,
    /// Addresses it is bound on.
    pub addresses: Vec<String>,
    /// Conditions (`Accepted`, `Programmed`).
    pub conditions: Vec<Condition>,
    /// One entry per listener, in spec order.
    pub listeners: Vec<ListenerStatus>,
}

/// Status of one listener.
#[derive(Debug, Clone, Serialize)]
pub struct ListenerStatus {
    /// The listener's name.
    pub name: String,
    /// How many routes attached to it.
    #[serde(rename = "attachedRoutes")]
    pub attached_routes: u32,
    /// Route kinds it accepts.
    #[serde(rename = "supportedKinds")]
    pub supported_kinds: Vec<String>,
    /// Conditions (`Accepted`, `Programmed`, `ResolvedRefs`, `Conflicted`).
    pub conditions: Vec<Condition>,
}

/// Status of one object of torii's own kinds.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectStatus {
    /// The kind, e.g. `OriginPool`.
    pub kind: &'static str,
    /// The object's namespace.
    pub namespace: String,
    /// The object's name.
    pub name: String,
    /// `Accepted` and `ResolvedRefs`.
    pub conditions: Vec<Condition>,
}

/// Status of one route: one entry per parentRef that names a Gateway of ours.
#[derive(Debug, Clone, Serialize)]
pub struct RouteStatus {
    /// Which route.
    pub route: RouteId,
    /// Per-parent status.
    pub parents: Vec<RouteParentStatus>,
}

/// Status of a route for one of its parents.
#[derive(Debug, Clone, Serialize)]
pub struct RouteParentStatus {
    /// The parentRef as written (`namespace/name[/section][:port]`).
    #[serde(rename = "parentRef")]
    pub parent_ref: String,
    /// The parentRef's position in the route's `spec.parentRefs` (a status writer copies it
    /// from there).
    #[serde(skip)]
    pub index: usize,
    /// Conditions (`Accepted`, `ResolvedRefs`).
    pub conditions: Vec<Condition>,
}
