//! One Gateway listener: its protocol, hostname, allowed routes and certificates, validated
//! on their own (conflicts between listeners are found in `conflicts`).

use super::certificates;
use crate::conditions::{self, reason, Problem, ACCEPTED, CONFLICTED, PROGRAMMED, RESOLVED_REFS};
use crate::index::{Index, GATEWAY_GROUP};
use crate::selector::LabelSelector;
use std::sync::Arc;
use torii_config::status::{Condition, ListenerStatus};
use torii_config::{
    HostnameMatch, HttpRouteAttachment, ListenerConfig, ListenerId, ListenerProtocol, PortProtocol,
    RouteKind, RouteOrder, TcpRouteAttachment, TlsCertificate, TlsRouteAttachment,
};
use torii_resources::wire::gateway::gateways::{
    GatewayListeners, GatewayListenersAllowedRoutesNamespacesFrom as From, GatewayListenersTlsMode,
};

/// Which namespaces may attach routes to a listener (`allowedRoutes.namespaces`).
#[derive(Debug, Clone)]
pub(crate) enum NamespacePolicy {
    /// Only the Gateway's own namespace (the default).
    Same,
    /// Every namespace.
    All,
    /// Namespaces whose labels match.
    Selector(LabelSelector),
}

/// A listener as translation sees it: validated spec, problems, and attached routes.
#[derive(Debug)]
pub(crate) struct ListenerState {
    /// Which listener.
    pub id: ListenerId,
    /// The port (0 when the spec's value was out of range).
    pub port: u16,
    /// The protocol; `None` when unsupported.
    pub protocol: Option<ListenerProtocol>,
    /// The hostname, for protocols that use one.
    pub hostname: Option<HostnameMatch>,
    /// Route kinds it accepts (its `supportedKinds`).
    pub kinds: Vec<RouteKind>,
    /// Namespaces it accepts routes from.
    pub namespaces: NamespacePolicy,
    /// Certificates of terminating listeners.
    pub certificates: Vec<TlsCertificate>,
    /// Why the listener is not accepted.
    pub invalid: Option<Problem>,
    /// Unresolved references (certificates, route kinds).
    pub unresolved: Vec<Problem>,
    /// Whether the unresolved references keep the listener from being programmed.
    pub unresolved_blocks: bool,
    /// Why the listener conflicts with another.
    pub conflict: Option<Problem>,
    /// Routes attached (counted even when the listener is not programmed).
    pub attached_routes: u32,
    /// Attached HTTPRoutes and GRPCRoutes.
    pub http_routes: Vec<HttpRouteAttachment>,
    /// Attached TLSRoutes, with their precedence.
    pub tls_routes: Vec<(RouteOrder, TlsRouteAttachment)>,
    /// Attached TCPRoutes, with their precedence.
    pub tcp_routes: Vec<(RouteOrder, TcpRouteAttachment)>,
}

impl ListenerState {
    /// Validates one listener of a Gateway in `namespace`.
    pub fn new(
        id: ListenerId,
        wire: &GatewayListeners,
        namespace: &str,
        index: &Index<'_>,
    ) -> Self {
        let mut state = ListenerState {
            id,
            port: 0,
            protocol: None,
            hostname: None,
            kinds: Vec::new(),
            namespaces: NamespacePolicy::Same,
            certificates: Vec::new(),
            invalid: None,
            unresolved: Vec::new(),
            unresolved_blocks: false,
            conflict: None,
            attached_routes: 0,
            http_routes: Vec::new(),
            tls_routes: Vec::new(),
            tcp_routes: Vec::new(),
        };
        let problem = match state.validate(wire, namespace, index) {
            Ok(()) => return state,
            Err(problem) => problem,
        };
        state.invalid = Some(problem);
        state
    }

    fn validate(
        &mut self,
        wire: &GatewayListeners,
        namespace: &str,
        index: &Index<'_>,
    ) -> Result<(), Problem> {
        let unsupported = |message: String| Problem::new(reason::UNSUPPORTED_VALUE, message);
        let protocol = protocol_of(wire)?;
        self.protocol = Some(protocol);
        self.kinds = self.route_kinds(wire, protocol);
        self.port = u16::try_from(wire.port)
            .ok()
            .filter(|port| *port != 0)
            .ok_or_else(|| {
                Problem::new(
                    reason::PORT_UNAVAILABLE,
                    format!("port {} is out of range", wire.port),
                )
            })?;
        if protocol != ListenerProtocol::Tcp {
            if let Some(hostname) = &wire.hostname {
                let parsed =
                    HostnameMatch::parse(hostname).map_err(|e| unsupported(e.to_string()))?;
                self.hostname = Some(parsed);
            }
        }
        self.namespaces = namespace_policy(wire)?;
        if matches!(
            protocol,
            ListenerProtocol::Https | ListenerProtocol::TlsTerminate
        ) {
            let refs = wire
                .tls
                .as_ref()
                .and_then(|tls| tls.certificate_refs.as_deref())
                .unwrap_or_default();
            let (certificates, problems) = certificates::resolve(refs, namespace, index);
            self.certificates = certificates;
            if !problems.is_empty() {
                self.unresolved_blocks = true;
            }
            // Certificate problems come first: they decide the ResolvedRefs reason.
            self.unresolved.splice(0..0, problems);
        }
        Ok(())
    }

    /// The listener's `supportedKinds`, recording kinds it cannot serve.
    fn route_kinds(
        &mut self,
        wire: &GatewayListeners,
        protocol: ListenerProtocol,
    ) -> Vec<RouteKind> {
        let valid: &[RouteKind] = match protocol {
            ListenerProtocol::Http | ListenerProtocol::Https => &[RouteKind::Http, RouteKind::Grpc],
            ListenerProtocol::TlsPassthrough | ListenerProtocol::TlsTerminate => &[RouteKind::Tls],
            ListenerProtocol::Tcp => &[RouteKind::Tcp],
        };
        let listed = wire
            .allowed_routes
            .as_ref()
            .and_then(|allowed| allowed.kinds.as_deref())
            .unwrap_or_default();
        if listed.is_empty() {
            return valid.to_vec();
        }
        let mut kinds = Vec::new();
        let mut invalid = Vec::new();
        for entry in listed {
            let group = entry.group.as_deref().unwrap_or(GATEWAY_GROUP);
            let kind = valid
                .iter()
                .copied()
                .find(|kind| group == GATEWAY_GROUP && kind.as_str() == entry.kind);
            match kind {
                Some(kind) if !kinds.contains(&kind) => kinds.push(kind),
                Some(_) => {}
                None => invalid.push(format!("{group}/{}", entry.kind)),
            }
        }
        if !invalid.is_empty() {
            self.unresolved.push(Problem::new(
                reason::INVALID_ROUTE_KINDS,
                format!(
                    "route kinds {} are not supported on a {:?} listener",
                    invalid.join(", "),
                    protocol
                ),
            ));
            self.unresolved_blocks |= kinds.is_empty();
        }
        kinds
    }

    /// Whether this listener can be served (before looking at its Gateway).
    pub fn is_programmable(&self) -> bool {
        self.invalid.is_none() && self.conflict.is_none() && !self.unresolved_blocks
    }

    /// What its socket speaks, for valid protocols.
    pub fn port_protocol(&self) -> Option<PortProtocol> {
        self.protocol.map(|protocol| match protocol {
            ListenerProtocol::Http => PortProtocol::Http,
            ListenerProtocol::Https
            | ListenerProtocol::TlsPassthrough
            | ListenerProtocol::TlsTerminate => PortProtocol::Tls,
            ListenerProtocol::Tcp => PortProtocol::Tcp,
        })
    }

    /// The domain config of a programmed listener.
    pub fn config(&self) -> Option<ListenerConfig> {
        let protocol = self.protocol?;
        let mut http_routes = self.http_routes.clone();
        http_routes.sort_by(|a, b| a.route.order.cmp(&b.route.order));
        let mut tls_routes = self.tls_routes.clone();
        tls_routes.sort_by(|a, b| a.0.cmp(&b.0));
        let mut tcp_routes = self.tcp_routes.clone();
        tcp_routes.sort_by(|a, b| a.0.cmp(&b.0));
        Some(ListenerConfig {
            id: self.id.clone(),
            hostname: self.hostname.clone(),
            protocol,
            certificates: self.certificates.clone(),
            http_routes,
            tls_routes: tls_routes.into_iter().map(|(_, a)| a).collect(),
            tcp_routes: tcp_routes.into_iter().map(|(_, a)| a).collect(),
        })
    }

    /// The listener's status; `gateway_problem` says why its Gateway is not served, if so.
    pub fn status(
        &self,
        gateway_problem: Option<&Problem>,
        generation: Option<i64>,
    ) -> ListenerStatus {
        let accepted = match (&self.invalid, &self.conflict) {
            (Some(problem), _) | (None, Some(problem)) => problem.condition(ACCEPTED, generation),
            (None, None) => {
                conditions::ok(ACCEPTED, reason::ACCEPTED, "listener is valid", generation)
            }
        };
        let programmed = if let Some(problem) = gateway_problem {
            Condition::not(
                PROGRAMMED,
                reason::INVALID,
                format!("gateway is not accepted: {problem}"),
            )
        } else if self.is_programmable() {
            Condition::ok(PROGRAMMED, reason::PROGRAMMED, "listener is served")
        } else {
            Condition::not(
                PROGRAMMED,
                reason::INVALID,
                "listener is not served: see the other conditions",
            )
        };
        let resolved = conditions::summary(
            RESOLVED_REFS,
            reason::RESOLVED_REFS,
            "all references are resolved",
            &self.unresolved,
            generation,
        );
        let conflicted = match &self.conflict {
            Some(problem) => conditions::ok(
                CONFLICTED,
                problem.reason,
                problem.message.clone(),
                generation,
            ),
            None => conditions::with_generation(
                Condition::not(CONFLICTED, reason::NO_CONFLICTS, "no conflicts"),
                generation,
            ),
        };
        ListenerStatus {
            name: self.id.name.to_string(),
            attached_routes: self.attached_routes,
            supported_kinds: self.kinds.iter().map(|k| k.as_str().to_string()).collect(),
            conditions: vec![
                accepted,
                conditions::with_generation(programmed, generation),
                resolved,
                conflicted,
            ],
        }
    }

    /// Whether a route in `namespace` may attach, given the Gateway's namespace.
    pub fn allows_namespace(
        &self,
        namespace: &str,
        gateway_namespace: &str,
        index: &Index<'_>,
    ) -> bool {
        match &self.namespaces {
            NamespacePolicy::Same => namespace == gateway_namespace,
            NamespacePolicy::All => true,
            NamespacePolicy::Selector(selector) => {
                selector.matches(|key| index.namespace_label(namespace, key))
            }
        }
    }
}

/// The listener protocol from `protocol` and `tls.mode`.
fn protocol_of(wire: &GatewayListeners) -> Result<ListenerProtocol, Problem> {
    let mode = wire.tls.as_ref().and_then(|tls| tls.mode.as_ref());
    let passthrough = matches!(mode, Some(GatewayListenersTlsMode::Passthrough));
    let unsupported = |message: &str| Problem::new(reason::UNSUPPORTED_VALUE, message);
    match wire.protocol.as_str() {
        "HTTP" | "TCP" if wire.tls.is_some() => {
            Err(unsupported("tls must not be set on HTTP and TCP listeners"))
        }
        "HTTP" => Ok(ListenerProtocol::Http),
        "TCP" => Ok(ListenerProtocol::Tcp),
        "HTTPS" if passthrough => Err(unsupported(
            "HTTPS listeners terminate TLS: tls.mode Passthrough is not allowed",
        )),
        "HTTPS" => Ok(ListenerProtocol::Https),
        "TLS" if passthrough => Ok(ListenerProtocol::TlsPassthrough),
        "TLS" => Ok(ListenerProtocol::TlsTerminate),
        other => Err(Problem::new(
            reason::UNSUPPORTED_PROTOCOL,
            format!("protocol {other:?} is not supported (HTTP, HTTPS, TLS and TCP are)"),
        )),
    }
}

/// `allowedRoutes.namespaces`, validated.
fn namespace_policy(wire: &GatewayListeners) -> Result<NamespacePolicy, Problem> {
    let namespaces = wire
        .allowed_routes
        .as_ref()
        .and_then(|a| a.namespaces.as_ref());
    let Some(namespaces) = namespaces else {
        return Ok(NamespacePolicy::Same);
    };
    Ok(match namespaces.from {
        None | Some(From::Same) => NamespacePolicy::Same,
        Some(From::All) => NamespacePolicy::All,
        Some(From::Selector) => {
            let selector = namespaces.selector.as_ref().ok_or_else(|| {
                Problem::new(
                    reason::UNSUPPORTED_VALUE,
                    "allowedRoutes.namespaces.from is Selector but no selector is given",
                )
            })?;
            let selector = LabelSelector::parse(selector).map_err(|message| {
                Problem::new(
                    reason::UNSUPPORTED_VALUE,
                    format!("allowedRoutes.namespaces.selector: {message}"),
                )
            })?;
            NamespacePolicy::Selector(selector)
        }
    })
}

/// Shares one listener id cheaply.
pub(crate) fn listener_id(gateway: &torii_config::GatewayId, name: &str) -> ListenerId {
    ListenerId {
        gateway: gateway.clone(),
        name: Arc::from(name),
    }
}
