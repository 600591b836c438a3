//! HTTPRoute rules → [`HttpRule`]s: matches, filters, backendRefs, timeouts and retries.

use super::filters::{self, FilterScope};
use super::matches::{http_match, match_all};
use super::{default_rule, rule_backends};
use crate::backends::{BackendRef, Backends, RefLog};
use crate::conditions::{reason, Problem};
use crate::duration;
use crate::migration::Attachments;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use torii_config::{HttpRoute, HttpRule, Retry, RouteId, RouteOrder, Timeouts};
use torii_resources::wire::gateway::httproutes::{
    HttpRouteRules, HttpRouteRulesMatchesPathType, HttpRouteRulesRetry, HttpRouteRulesTimeouts,
};
use torii_resources::wire::HttpRoute as WireHttpRoute;

fn unsupported(message: impl Into<String>) -> Problem {
    Problem::new(reason::UNSUPPORTED_VALUE, message)
}

/// Translates an HTTPRoute's rules; any invalid rule makes the whole route invalid.
pub(super) fn translate(
    wire: &WireHttpRoute,
    id: &RouteId,
    order: RouteOrder,
    migrations: &Attachments,
    backends: &mut Backends<'_>,
    log: &mut RefLog,
) -> Result<Arc<HttpRoute>, Problem> {
    let wire_rules = wire.spec.rules.as_deref().unwrap_or_default();
    let mut rules = Vec::with_capacity(wire_rules.len().max(1));
    let mut names = HashSet::new();
    for (index, rule) in wire_rules.iter().enumerate() {
        if let Some(name) = &rule.name {
            if !names.insert(name.as_str()) {
                return Err(unsupported(format!("rule name {name:?} is used twice")));
            }
        }
        let mark = log.mark();
        let rule = translate_rule(index, rule, id, backends, log);
        log.context_since(mark, format_args!("spec.rules[{index}]"));
        let mut rule = rule.map_err(|problem| problem.context(format!("spec.rules[{index}]")))?;
        rule.migration = migrations.rule(id, index);
        rules.push(Arc::new(rule));
    }
    if rules.is_empty() {
        rules.push(default_rule(false));
    }
    Ok(Arc::new(HttpRoute {
        id: id.clone(),
        order,
        rules,
    }))
}

fn translate_rule(
    index: usize,
    rule: &HttpRouteRules,
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
            .map(|(i, m)| http_match(m).map_err(|p| p.context(format!("matches[{i}]"))))
            .collect::<Result<_, _>>()?
    };
    let single_prefix = match wire_matches {
        [] => true,
        [only] => only.path.as_ref().is_none_or(|path| {
            matches!(
                path.r#type,
                None | Some(HttpRouteRulesMatchesPathType::PathPrefix)
            )
        }),
        _ => false,
    };
    let wire_backends = rule.backend_refs.as_deref().unwrap_or_default();
    let wire_filters = rule.filters.as_deref().unwrap_or_default();
    if !wire_backends.is_empty() && wire_filters.iter().any(|f| f.request_redirect.is_some()) {
        return Err(Problem::new(
            reason::INCOMPATIBLE_FILTERS,
            "a RequestRedirect filter cannot be used together with backendRefs",
        ));
    }
    let mut scope = FilterScope {
        route: id,
        single_prefix,
        backends,
        log,
    };
    let rule_filters = filters::translate(wire_filters, &mut scope)?;
    let refs = wire_backends.iter().map(|backend| {
        let filters = filters::convert(backend.filters.as_deref().unwrap_or_default());
        (backend.weight, BackendRef::from(backend), filters)
    });
    let http_backends = rule_backends(refs, &mut scope)?;
    let (mut filters, mut backends) = (rule_filters.filters, http_backends);
    if rule_filters.unresolvable {
        // Every request of the rule would pass the unknown filter: answer 500 instead.
        filters.clear();
        backends.clear();
    }
    Ok(HttpRule {
        index,
        name: rule.name.as_deref().map(Arc::from),
        matches,
        filters,
        backends,
        timeouts: timeouts(rule.timeouts.as_ref())?,
        retry: rule.retry.as_ref().map(retry).transpose()?,
        grpc: false,
        migration: Default::default(),
    })
}

/// `timeouts`: zero disables a timeout; the backend timeout may not exceed the request's.
fn timeouts(wire: Option<&HttpRouteRulesTimeouts>) -> Result<Timeouts, Problem> {
    let Some(wire) = wire else {
        return Ok(Timeouts::default());
    };
    let parse = |field: &str, value: &Option<String>| -> Result<Option<Duration>, Problem> {
        value
            .as_deref()
            .map(|text| {
                duration::parse(text).map_err(|e| unsupported(format!("timeouts.{field}: {e}")))
            })
            .transpose()
            .map(|d| d.filter(|d| !d.is_zero()))
    };
    let request = parse("request", &wire.request)?;
    let backend_request = parse("backendRequest", &wire.backend_request)?;
    if let (Some(request), Some(backend)) = (request, backend_request) {
        if backend > request {
            return Err(unsupported(
                "timeouts.backendRequest cannot be longer than timeouts.request",
            ));
        }
    }
    Ok(Timeouts {
        request,
        backend_request,
    })
}

/// `retry`: codes 400 to 599; attempts default to 1.
fn retry(wire: &HttpRouteRulesRetry) -> Result<Retry, Problem> {
    let codes = wire
        .codes
        .iter()
        .flatten()
        .map(|&code| {
            u16::try_from(code)
                .ok()
                .filter(|c| (400..=599).contains(c))
                .ok_or_else(|| unsupported(format!("retry code {code} is not between 400 and 599")))
        })
        .collect::<Result<_, _>>()?;
    let attempts = wire.attempts.unwrap_or(1);
    let attempts = u32::try_from(attempts)
        .map_err(|_| unsupported(format!("retry attempts {attempts} is out of range")))?;
    let backoff = wire
        .backoff
        .as_deref()
        .map(|text| duration::parse(text).map_err(|e| unsupported(format!("retry.backoff: {e}"))))
        .transpose()?;
    Ok(Retry {
        codes,
        attempts,
        backoff,
    })
}
