//! TLSRoute and TCPRoute: one rule of weighted backends each.

use super::weight_of;
use crate::backends::{BackendRef, Backends, RefLog};
use crate::conditions::{reason, Problem};
use std::sync::Arc;
use torii_config::{RouteId, TcpRoute, TlsRoute, WeightedTarget};
use torii_resources::wire::{TcpRoute as WireTcpRoute, TlsRoute as WireTlsRoute};

/// A TLSRoute (its hostnames are checked by the caller).
pub(super) fn tls(
    wire: &WireTlsRoute,
    id: &RouteId,
    backends: &mut Backends<'_>,
    log: &mut RefLog,
) -> Result<Arc<TlsRoute>, Problem> {
    let [rule] = wire.spec.rules.as_slice() else {
        return Err(one_rule(wire.spec.rules.len()));
    };
    let refs = rule
        .backend_refs
        .iter()
        .map(|b| (b.weight, BackendRef::from(b)));
    Ok(Arc::new(TlsRoute {
        id: id.clone(),
        backends: weighted(refs, id, backends, log)?,
    }))
}

/// A TCPRoute.
pub(super) fn tcp(
    wire: &WireTcpRoute,
    id: &RouteId,
    backends: &mut Backends<'_>,
    log: &mut RefLog,
) -> Result<Arc<TcpRoute>, Problem> {
    let [rule] = wire.spec.rules.as_slice() else {
        return Err(one_rule(wire.spec.rules.len()));
    };
    let refs = rule
        .backend_refs
        .iter()
        .map(|b| (b.weight, BackendRef::from(b)));
    Ok(Arc::new(TcpRoute {
        id: id.clone(),
        backends: weighted(refs, id, backends, log)?,
    }))
}

fn one_rule(count: usize) -> Problem {
    Problem::new(
        reason::UNSUPPORTED_VALUE,
        format!("spec.rules must hold exactly one rule, not {count}"),
    )
}

fn weighted<'r>(
    refs: impl Iterator<Item = (Option<i32>, BackendRef<'r>)>,
    id: &RouteId,
    backends: &mut Backends<'_>,
    log: &mut RefLog,
) -> Result<Vec<WeightedTarget>, Problem> {
    refs.enumerate()
        .map(|(i, (weight, backend))| {
            let field = format!("spec.rules[0].backendRefs[{i}]");
            let weight = weight_of(weight).map_err(|p| p.context(&field))?;
            let mark = log.mark();
            let target = backends.resolve(id, backend, log);
            log.context_since(mark, &field);
            Ok(WeightedTarget { weight, target })
        })
        .collect()
}
