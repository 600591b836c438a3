//! GRPCRoute rules → [`HttpRule`]s with `grpc: true`: a method match becomes a path match on
//! `/service/method`; headers, filters and backends work as for HTTPRoute.

use super::filters::{self, FilterScope};
use super::matches::{grpc_match, match_all};
use super::{default_rule, rule_backends};
use crate::backends::{BackendRef, Backends, RefLog};
use crate::conditions::{reason, Problem};
use std::collections::HashSet;
use std::sync::Arc;
use torii_config::{HttpRoute, HttpRule, RouteId, RouteOrder, Timeouts};
use torii_resources::wire::gateway::grpcroutes::GrpcRouteRules;
use torii_resources::wire::GrpcRoute;

/// Translates a GRPCRoute's rules; any invalid rule makes the whole route invalid.
pub(super) fn translate(
    wire: &GrpcRoute,
    id: &RouteId,
    order: RouteOrder,
    backends: &mut Backends<'_>,
    log: &mut RefLog,
) -> Result<Arc<HttpRoute>, Problem> {
    let wire_rules = wire.spec.rules.as_deref().unwrap_or_default();
    let mut rules = Vec::with_capacity(wire_rules.len().max(1));
    let mut names = HashSet::new();
    for (index, rule) in wire_rules.iter().enumerate() {
        if let Some(name) = &rule.name {
            if !names.insert(name.as_str()) {
                return Err(Problem::new(
                    reason::UNSUPPORTED_VALUE,
                    format!("rule name {name:?} is used twice"),
                ));
            }
        }
        let mark = log.mark();
        let rule = translate_rule(index, rule, id, backends, log);
        log.context_since(mark, format_args!("spec.rules[{index}]"));
        let rule = rule.map_err(|problem| problem.context(format!("spec.rules[{index}]")))?;
        rules.push(Arc::new(rule));
    }
    if rules.is_empty() {
        rules.push(default_rule(true));
    }
    Ok(Arc::new(HttpRoute {
        id: id.clone(),
        order,
        rules,
    }))
}

fn translate_rule(
    index: usize,
    rule: &GrpcRouteRules,
    id: &RouteId,
    backends: &mut Backends<'_>,
    log: &mut RefLog,
) -> Result<HttpRule, Problem> {
    let wire_matches = rule.matches.as_deref().unwrap_or_default();
    let matches = if wire_matches.is_empty() {
        vec![match_all()]
    } else {
        wire_matches
            .iter()
            .enumerate()
            .map(|(i, m)| grpc_match(m).map_err(|p| p.context(format!("matches[{i}]"))))
            .collect::<Result<_, _>>()?
    };
    let mut scope = FilterScope {
        route: id,
        single_prefix: false,
        backends,
        log,
    };
    let wire_filters = filters::convert(rule.filters.as_deref().unwrap_or_default())?;
    let rule_filters = filters::translate(&wire_filters, &mut scope)?;
    let refs = rule.backend_refs.iter().flatten().map(|backend| {
        let filters = filters::convert(backend.filters.as_deref().unwrap_or_default());
        (backend.weight, BackendRef::from(backend), filters)
    });
    let http_backends = rule_backends(refs, &mut scope)?;
    let (mut filters, mut backends) = (rule_filters.filters, http_backends);
    if rule_filters.unresolvable {
        filters.clear();
        backends.clear();
    }
    Ok(HttpRule {
        index,
        name: rule.name.as_deref().map(Arc::from),
        matches,
        filters,
        backends,
        timeouts: Timeouts::default(),
        retry: None,
        grpc: true,
        migration: Default::default(),
    })
}
