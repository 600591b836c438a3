//! The Gateway API's condition types and reasons, and [`Problem`], one reason a condition is
//! `False`.

use torii_config::status::Condition;

/// Condition type `Accepted`.
pub const ACCEPTED: &str = "Accepted";
/// Condition type `Programmed`.
pub const PROGRAMMED: &str = "Programmed";
/// Condition type `ResolvedRefs`.
pub const RESOLVED_REFS: &str = "ResolvedRefs";
/// Condition type `Conflicted` (listeners).
pub const CONFLICTED: &str = "Conflicted";

/// The CamelCase reasons the spec defines, by name.
pub mod reason {
    /// `Accepted` is `True`.
    pub const ACCEPTED: &str = "Accepted";
    /// `Programmed` is `True`.
    pub const PROGRAMMED: &str = "Programmed";
    /// `ResolvedRefs` is `True`.
    pub const RESOLVED_REFS: &str = "ResolvedRefs";
    /// `Conflicted` is `False`.
    pub const NO_CONFLICTS: &str = "NoConflicts";
    /// The object is invalid (`Programmed` of Gateways and listeners, `Accepted` of Gateways).
    pub const INVALID: &str = "Invalid";
    /// A GatewayClass or Gateway refers to parameters torii does not support.
    pub const INVALID_PARAMETERS: &str = "InvalidParameters";
    /// A Gateway address is of a type or value torii cannot bind.
    pub const UNSUPPORTED_ADDRESS: &str = "UnsupportedAddress";
    /// Some of a Gateway's listeners are invalid.
    pub const LISTENERS_NOT_VALID: &str = "ListenersNotValid";
    /// A listener's protocol, or a backend's, is not supported.
    pub const UNSUPPORTED_PROTOCOL: &str = "UnsupportedProtocol";
    /// A listener asks for client certificate validation torii cannot do.
    pub const NO_VALID_CA_CERTIFICATE: &str = "NoValidCACertificate";
    /// A listener's port cannot be used.
    pub const PORT_UNAVAILABLE: &str = "PortUnavailable";
    /// A field holds a value torii does not support (listeners and routes).
    pub const UNSUPPORTED_VALUE: &str = "UnsupportedValue";
    /// Listeners share port, protocol and hostname.
    pub const HOSTNAME_CONFLICT: &str = "HostnameConflict";
    /// Listeners share a port with protocols that cannot be served together.
    pub const PROTOCOL_CONFLICT: &str = "ProtocolConflict";
    /// A listener's certificateRef is missing or malformed.
    pub const INVALID_CERTIFICATE_REF: &str = "InvalidCertificateRef";
    /// A listener's allowedRoutes.kinds names kinds it cannot serve.
    pub const INVALID_ROUTE_KINDS: &str = "InvalidRouteKinds";
    /// A cross-namespace reference has no ReferenceGrant.
    pub const REF_NOT_PERMITTED: &str = "RefNotPermitted";
    /// A route is not allowed by any listener it selects (namespace or kind).
    pub const NOT_ALLOWED_BY_LISTENERS: &str = "NotAllowedByListeners";
    /// No listener hostname intersects the route's hostnames.
    pub const NO_MATCHING_LISTENER_HOSTNAME: &str = "NoMatchingListenerHostname";
    /// The parentRef's sectionName or port selects no listener.
    pub const NO_MATCHING_PARENT: &str = "NoMatchingParent";
    /// A route's filters cannot be combined.
    pub const INCOMPATIBLE_FILTERS: &str = "IncompatibleFilters";
    /// A reference names an unknown group or kind.
    pub const INVALID_KIND: &str = "InvalidKind";
    /// A referenced backend does not exist.
    pub const BACKEND_NOT_FOUND: &str = "BackendNotFound";
    /// A policy-like object's `targetRef` names no route or no rule of it (GEP-713).
    pub const TARGET_NOT_FOUND: &str = "TargetNotFound";
    /// Another object already targets what this one targets (GEP-713).
    pub const CONFLICTED: &str = "Conflicted";
}

/// One reason why a condition is `False`: a spec reason and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct Problem {
    /// A reason from [`reason`].
    pub reason: &'static str,
    /// What is wrong, lower-case, naming the field.
    pub message: String,
}

impl Problem {
    /// A problem with `reason`.
    pub fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Problem {
            reason,
            message: message.into(),
        }
    }

    /// The same problem, its message prefixed with where it was found.
    pub fn context(self, place: impl std::fmt::Display) -> Self {
        Problem {
            reason: self.reason,
            message: format!("{place}: {}", self.message),
        }
    }

    /// A `False` condition of `type_` carrying this problem.
    pub fn condition(&self, type_: &'static str, generation: Option<i64>) -> Condition {
        with_generation(
            Condition::not(type_, self.reason, self.message.clone()),
            generation,
        )
    }
}

/// Sets a condition's `observedGeneration`.
pub(crate) fn with_generation(mut condition: Condition, generation: Option<i64>) -> Condition {
    condition.observed_generation = generation;
    condition
}

/// A `True` condition with the given reason and message.
pub(crate) fn ok(
    type_: &'static str,
    reason: &'static str,
    message: impl Into<String>,
    generation: Option<i64>,
) -> Condition {
    with_generation(Condition::ok(type_, reason, message), generation)
}

/// One condition summarising several problems: `True` when there are none, else `False` with
/// the first problem's reason and every message.
pub(crate) fn summary(
    type_: &'static str,
    ok_reason: &'static str,
    ok_message: &str,
    problems: &[Problem],
    generation: Option<i64>,
) -> Condition {
    match problems.first() {
        None => ok(type_, ok_reason, ok_message, generation),
        Some(first) => {
            let message = problems
                .iter()
                .map(|p| p.message.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            with_generation(Condition::not(type_, first.reason, message), generation)
        }
    }
}
