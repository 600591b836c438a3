//! GatewayClasses and Gateways: which ones torii serves, the addresses they bind and their
//! listeners.

mod certificates;
mod conflicts;
mod listener;

pub(crate) use conflicts::{build_ports, resolve_conflicts};
pub(crate) use listener::ListenerState;

use crate::conditions::{self, reason, Problem, ACCEPTED, PROGRAMMED};
use crate::index::{name_of, namespace_of, order_of, Index};
use crate::TranslateOptions;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use torii_config::status::{Condition, GatewayClassStatus, GatewayStatus, StatusReport};
use torii_config::{GatewayId, ListenerProtocol, RouteOrder};
use torii_resources::wire::gateway::gateways::{GatewayAddresses, GatewaySpec};
use torii_resources::ResourceSet;

/// A Gateway of one of our classes, as translation sees it.
#[derive(Debug)]
pub(crate) struct GatewayState<'a> {
    /// Which Gateway.
    pub id: GatewayId,
    /// Its namespace.
    pub namespace: &'a str,
    /// Its name.
    pub name: &'a str,
    /// `metadata.generation`.
    pub generation: Option<i64>,
    /// Precedence between Gateways that share a socket (older first).
    pub order: RouteOrder,
    /// The addresses its listeners bind on.
    pub addresses: Vec<IpAddr>,
    /// Why the Gateway as a whole is not accepted (then nothing of it is served).
    pub problem: Option<Problem>,
    /// Its listeners, in spec order.
    pub listeners: Vec<ListenerState>,
}

/// The GatewayClasses this controller owns, by name, each with the problem that keeps it from
/// being accepted, if any. Records their status, and a note for every other class.
pub(crate) fn classes<'a>(
    set: &'a ResourceSet,
    options: &TranslateOptions,
    report: &mut StatusReport,
) -> HashMap<&'a str, Option<Problem>> {
    let mut ours = HashMap::new();
    for class in &set.gateway_classes {
        let name = name_of(&class.object.metadata);
        let generation = class.object.metadata.generation;
        if class.object.spec.controller_name != options.controller_name {
            report.notes.push(format!(
                "GatewayClass {name}: controller {} is not {}; ignored",
                class.object.spec.controller_name, options.controller_name
            ));
            continue;
        }
        let problem = class.object.spec.parameters_ref.as_ref().map(|p| {
            Problem::new(
                reason::INVALID_PARAMETERS,
                format!(
                    "parametersRef {}/{} {} is not supported",
                    p.group, p.kind, p.name
                ),
            )
        });
        let condition = match &problem {
            Some(problem) => problem.condition(ACCEPTED, generation),
            None => conditions::ok(
                ACCEPTED,
                reason::ACCEPTED,
                "class is served by torii",
                generation,
            ),
        };
        report.gateway_classes.push(GatewayClassStatus {
            name: name.to_string(),
            conditions: vec![condition],
        });
        ours.insert(name, problem);
    }
    report.gateway_classes.sort_by(|a, b| a.name.cmp(&b.name));
    ours
}

/// Every Gateway of our classes, in precedence order (oldest first, then namespace/name).
/// Gateways of other classes are noted and skipped.
pub(crate) fn gateways<'a>(
    set: &'a ResourceSet,
    classes: &HashMap<&str, Option<Problem>>,
    options: &TranslateOptions,
    index: &Index<'_>,
    report: &mut StatusReport,
) -> Vec<GatewayState<'a>> {
    let mut gateways = Vec::new();
    for gateway in &set.gateways {
        let meta = &gateway.object.metadata;
        let spec = &gateway.object.spec;
        let id = GatewayId {
            namespace: Arc::from(namespace_of(meta)),
            name: Arc::from(name_of(meta)),
        };
        let Some(class_problem) = classes.get(spec.gateway_class_name.as_str()) else {
            report.notes.push(format!(
                "Gateway {id}: GatewayClass {:?} is not served by {}; ignored",
                spec.gateway_class_name, options.controller_name
            ));
            continue;
        };
        let namespace = namespace_of(meta);
        let (addresses, address_problem) =
            match addresses(spec.addresses.as_deref(), options.default_address) {
                Ok(addresses) => (addresses, None),
                Err(problem) => (Vec::new(), Some(problem)),
            };
        let problem = class_problem
            .as_ref()
            .map(|p| {
                Problem::new(
                    reason::INVALID,
                    format!(
                        "GatewayClass {} is not accepted: {p}",
                        spec.gateway_class_name
                    ),
                )
            })
            .or(address_problem)
            .or_else(|| infrastructure_problem(spec));
        let listeners = listeners(&id, spec, namespace, index);
        gateways.push(GatewayState {
            order: order_of(meta),
            id,
            namespace,
            name: name_of(meta),
            generation: meta.generation,
            addresses,
            problem,
            listeners,
        });
    }
    gateways.sort_by(|a, b| a.order.cmp(&b.order));
    gateways
}

/// The listeners of one Gateway, validated one by one.
fn listeners(
    id: &GatewayId,
    spec: &GatewaySpec,
    namespace: &str,
    index: &Index<'_>,
) -> Vec<ListenerState> {
    let mut seen = HashMap::new();
    let frontend = spec.tls.as_ref().and_then(|tls| tls.frontend.as_ref());
    spec.listeners
        .iter()
        .map(|wire| {
            let mut state = ListenerState::new(
                listener::listener_id(id, &wire.name),
                wire,
                namespace,
                index,
            );
            if seen.insert(wire.name.as_str(), ()).is_some() && state.invalid.is_none() {
                state.invalid = Some(Problem::new(
                    reason::UNSUPPORTED_VALUE,
                    format!("listener name {:?} is used twice", wire.name),
                ));
            }
            let terminates = matches!(
                state.protocol,
                Some(ListenerProtocol::Https | ListenerProtocol::TlsTerminate)
            );
            let validates_clients = frontend.is_some_and(|frontend| {
                frontend.default.validation.is_some()
                    || frontend
                        .per_port
                        .iter()
                        .flatten()
                        .any(|p| p.port == wire.port && p.tls.validation.is_some())
            });
            if terminates && validates_clients && state.invalid.is_none() {
                state.invalid = Some(Problem::new(
                    reason::NO_VALID_CA_CERTIFICATE,
                    "client certificate validation (spec.tls.frontend) is not supported",
                ));
            }
            state
        })
        .collect()
}

/// The addresses to bind: `spec.addresses` of type `IPAddress`, or the default address.
fn addresses(spec: Option<&[GatewayAddresses]>, default: IpAddr) -> Result<Vec<IpAddr>, Problem> {
    let mut addresses: Vec<IpAddr> = Vec::new();
    for address in spec.unwrap_or_default() {
        let unsupported = |message: String| Problem::new(reason::UNSUPPORTED_ADDRESS, message);
        match address.r#type.as_deref() {
            None | Some("IPAddress") => {}
            Some(other) => {
                return Err(unsupported(format!(
                    "address type {other:?} is not supported (only IPAddress is)"
                )))
            }
        }
        let ip = match address.value.as_deref() {
            None | Some("") => default,
            Some(value) => value
                .parse()
                .map_err(|_| unsupported(format!("address {value:?} is not an IP address")))?,
        };
        if !addresses.contains(&ip) {
            addresses.push(ip);
        }
    }
    if addresses.is_empty() {
        addresses.push(default);
    }
    Ok(addresses)
}

/// `spec.infrastructure.parametersRef` names parameters torii does not have.
fn infrastructure_problem(spec: &GatewaySpec) -> Option<Problem> {
    let parameters = spec.infrastructure.as_ref()?.parameters_ref.as_ref()?;
    Some(Problem::new(
        reason::INVALID_PARAMETERS,
        format!(
            "infrastructure.parametersRef {}/{} {} is not supported",
            parameters.group, parameters.kind, parameters.name
        ),
    ))
}

impl GatewayState<'_> {
    /// The Gateway's status, with its listeners'.
    pub fn status(&self) -> GatewayStatus {
        let generation = self.generation;
        let listeners: Vec<_> = self
            .listeners
            .iter()
            .map(|l| l.status(self.problem.as_ref(), generation))
            .collect();
        let not_valid: Vec<&str> = self
            .listeners
            .iter()
            .filter(|l| l.invalid.is_some() || l.conflict.is_some())
            .map(|l| &*l.id.name)
            .collect();
        let accepted = if let Some(problem) = &self.problem {
            problem.condition(ACCEPTED, generation)
        } else if not_valid.is_empty() {
            conditions::ok(ACCEPTED, reason::ACCEPTED, "gateway is valid", generation)
        } else if not_valid.len() == self.listeners.len() {
            Problem::new(reason::LISTENERS_NOT_VALID, "no listener is valid")
                .condition(ACCEPTED, generation)
        } else {
            conditions::ok(
                ACCEPTED,
                reason::LISTENERS_NOT_VALID,
                format!("listeners {} are not valid", not_valid.join(", ")),
                generation,
            )
        };
        let served = self
            .listeners
            .iter()
            .filter(|l| l.is_programmable())
            .count();
        let programmed = match (&self.problem, served) {
            (Some(_), _) => Condition::not(PROGRAMMED, reason::INVALID, "gateway is not accepted"),
            (None, 0) => Condition::not(PROGRAMMED, reason::INVALID, "no listener is served"),
            (None, n) => Condition::ok(
                PROGRAMMED,
                reason::PROGRAMMED,
                format!("{n} of {} listeners are served", self.listeners.len()),
            ),
        };
        GatewayStatus {
            gateway: self.id.clone(),
            addresses: self.addresses.iter().map(IpAddr::to_string).collect(),
            conditions: vec![
                accepted,
                conditions::with_generation(programmed, generation),
            ],
            listeners,
        }
    }
}
