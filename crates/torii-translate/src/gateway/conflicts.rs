//! Listeners that cannot be told apart: within one Gateway (all of them are conflicted, as
//! the spec requires) and across Gateways that share an address and port (the later Gateway's
//! listener is conflicted). Then the sockets: one [`PortConfig`] per address and port.

use super::{GatewayState, ListenerState};
use crate::conditions::{reason, Problem};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use torii_config::{HostnameMatch, ListenerId, PortConfig, PortProtocol};

/// Marks conflicted listeners. `gateways` must be in precedence order (oldest first).
pub(crate) fn resolve_conflicts(gateways: &mut [GatewayState<'_>]) {
    for gateway in gateways.iter_mut() {
        within_gateway(&mut gateway.listeners);
    }
    across_gateways(gateways);
}

/// What tells listeners on one socket apart: the hostname, except for TCP.
fn hostname_key(listener: &ListenerState) -> Option<HostnameMatch> {
    match listener.port_protocol() {
        Some(PortProtocol::Tcp) | None => None,
        Some(_) => listener.hostname.clone(),
    }
}

fn describe(hostname: &Option<HostnameMatch>) -> String {
    hostname
        .as_ref()
        .map_or_else(|| "(any hostname)".to_string(), |h| h.to_string())
}

fn within_gateway(listeners: &mut [ListenerState]) {
    let mut by_port: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
    for (i, listener) in listeners.iter().enumerate() {
        if listener.invalid.is_none() {
            by_port.entry(listener.port).or_default().push(i);
        }
    }
    let mut conflicts = Vec::new();
    for (port, members) in by_port {
        let names = |members: &[usize]| {
            members
                .iter()
                .map(|&i| listeners[i].id.name.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let first = listeners[members[0]].port_protocol();
        if members
            .iter()
            .any(|&i| listeners[i].port_protocol() != first)
        {
            let message = format!(
                "listeners {} share port {port} with protocols that cannot be served together",
                names(&members)
            );
            for &i in &members {
                conflicts.push((i, Problem::new(reason::PROTOCOL_CONFLICT, message.clone())));
            }
            continue;
        }
        let mut by_hostname: HashMap<Option<HostnameMatch>, Vec<usize>> = HashMap::new();
        for &i in &members {
            by_hostname
                .entry(hostname_key(&listeners[i]))
                .or_default()
                .push(i);
        }
        for (hostname, same) in by_hostname {
            if same.len() > 1 {
                let message = format!(
                    "listeners {} share port {port} and hostname {}",
                    names(&same),
                    describe(&hostname)
                );
                for &i in &same {
                    conflicts.push((i, Problem::new(reason::HOSTNAME_CONFLICT, message.clone())));
                }
            }
        }
    }
    for (i, problem) in conflicts {
        listeners[i].conflict = Some(problem);
    }
}

/// One socket claimed by earlier Gateways.
struct Slot {
    protocol: PortProtocol,
    owner: ListenerId,
    hostnames: HashMap<Option<HostnameMatch>, ListenerId>,
}

fn across_gateways(gateways: &mut [GatewayState<'_>]) {
    let mut slots: HashMap<SocketAddr, Slot> = HashMap::new();
    for gateway in gateways.iter_mut().filter(|g| g.problem.is_none()) {
        let addresses = gateway.addresses.clone();
        for listener in gateway.listeners.iter_mut() {
            let Some(protocol) = listener.port_protocol() else {
                continue;
            };
            if !listener.is_programmable() {
                continue;
            }
            let key = hostname_key(listener);
            let conflict = addresses.iter().find_map(|ip| {
                let address = SocketAddr::new(*ip, listener.port);
                let slot = slots.get(&address)?;
                if slot.protocol != protocol {
                    Some(Problem::new(
                        reason::PROTOCOL_CONFLICT,
                        format!(
                            "{address} already serves {:?} for listener {}",
                            slot.protocol, slot.owner
                        ),
                    ))
                } else {
                    slot.hostnames.get(&key).map(|other| {
                        Problem::new(
                            reason::HOSTNAME_CONFLICT,
                            format!(
                                "{address} already serves hostname {} for listener {other}",
                                describe(&key)
                            ),
                        )
                    })
                }
            });
            if let Some(problem) = conflict {
                listener.conflict = Some(problem);
                continue;
            }
            for ip in &addresses {
                slots
                    .entry(SocketAddr::new(*ip, listener.port))
                    .or_insert_with(|| Slot {
                        protocol,
                        owner: listener.id.clone(),
                        hostnames: HashMap::new(),
                    })
                    .hostnames
                    .insert(key.clone(), listener.id.clone());
            }
        }
    }
}

/// One socket per address and port, with the programmed listeners of every served Gateway,
/// in precedence order; sockets sorted by address.
pub(crate) fn build_ports(gateways: &[GatewayState<'_>]) -> Vec<PortConfig> {
    let mut ports: BTreeMap<SocketAddr, PortConfig> = BTreeMap::new();
    for gateway in gateways.iter().filter(|g| g.problem.is_none()) {
        for listener in gateway.listeners.iter().filter(|l| l.is_programmable()) {
            let (Some(protocol), Some(config)) = (listener.port_protocol(), listener.config())
            else {
                continue;
            };
            for ip in &gateway.addresses {
                let address = SocketAddr::new(*ip, listener.port);
                ports
                    .entry(address)
                    .or_insert_with(|| PortConfig {
                        address,
                        protocol,
                        listeners: Vec::new(),
                    })
                    .listeners
                    .push(config.clone());
            }
        }
    }
    ports.into_values().collect()
}
