//! Translation of Gateway API resources into torii's domain [`Config`] and the status
//! conditions of every object it looked at.
//!
//! [`translate`] is pure and never fails as a whole: every problem becomes a condition on the
//! object it belongs to (a listener, a route's parent), as the Gateway API prescribes, and
//! everything else still applies. The phases follow the objects' references:
//!
//! 1. `gateway`: GatewayClasses of this controller, their Gateways, listeners (protocol,
//!    hostname, allowed routes, certificates) and conflicts between listeners;
//! 2. `routes`: each route's parentRefs select listeners, its rules are translated once and
//!    attached where selected; `backends` resolves backendRefs to Services and their
//!    EndpointSlices; `lb` translates torii's load-balancing kinds before, and `migration`
//!    the `Comparison`s and `Rollout`s whose settings the rules they target carry;
//! 3. the programmed listeners are grouped into one socket per address and port.
//!
//! `index` builds the lookup tables once, so the work is linear in the number of objects.

pub mod conditions;

mod backends;
mod duration;
mod gateway;
mod index;
mod lb;
mod migration;
mod notifications;
mod routes;
mod selector;

#[cfg(test)]
mod tests;

use std::net::{IpAddr, Ipv4Addr};
use torii_config::status::StatusReport;
use torii_config::Config;
use torii_resources::ResourceSet;

/// The controller name torii answers to by default.
pub const DEFAULT_CONTROLLER_NAME: &str = "torii.dev/gateway-controller";

/// What translation needs besides the resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslateOptions {
    /// Gateways whose GatewayClass has this `spec.controllerName` are served.
    pub controller_name: String,
    /// Where listeners bind when a Gateway has no `spec.addresses`.
    pub default_address: IpAddr,
}

impl Default for TranslateOptions {
    fn default() -> Self {
        TranslateOptions {
            controller_name: DEFAULT_CONTROLLER_NAME.to_string(),
            default_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        }
    }
}

/// The result of a translation: what to serve and the status of every object.
#[derive(Debug, Clone)]
pub struct Translation {
    /// The sockets, listeners, routes and backends to serve.
    pub config: Config,
    /// Conditions of the GatewayClasses, Gateways and routes, and notes on ignored objects.
    pub status: StatusReport,
}

/// Translates a set of resources into a config and status conditions.
pub fn translate(set: &ResourceSet, options: &TranslateOptions) -> Translation {
    let index = index::Index::new(set);
    let mut status = StatusReport::default();
    let classes = gateway::classes(set, options, &mut status);
    let mut gateways = gateway::gateways(set, &classes, options, &index, &mut status);
    gateway::resolve_conflicts(&mut gateways);

    let load_balancing = lb::translate(set, &index, &mut status);
    let mut routes = routes::Routes::new(&index, &load_balancing, gateways);
    let migrations = migration::translate(set, &mut routes.backends, &mut status);
    routes.attach_all(set, &migrations.attachments);
    routes.used.extend(migrations.backends);
    let ports = gateway::build_ports(&routes.gateways);

    let mut gateway_status: Vec<_> = routes.gateways.iter().map(|g| g.status()).collect();
    gateway_status.sort_by(|a, b| a.gateway.cmp(&b.gateway));
    status.gateways = gateway_status;
    status.routes = std::mem::take(&mut routes.statuses);
    status.notes.append(&mut routes.notes);
    let backends = routes.backends.into_config(&routes.used);
    Translation {
        config: Config {
            ports,
            backends,
            pools: load_balancing.pools.clone(),
            load_balancers: load_balancing.load_balancers.clone(),
            comparisons: migrations.comparisons,
            rollouts: migrations.rollouts,
        },
        status,
    }
}
