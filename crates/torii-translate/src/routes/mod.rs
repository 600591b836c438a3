//! Routes of every kind: which listeners each parentRef selects (sectionName, port, allowed
//! namespaces and kinds, hostnames), the route's own translation, and its status per parent.

mod filters;
mod grpc;
mod http;
mod l4;
mod matches;

use crate::backends::{BackendRef, Backends, RefLog};
use crate::conditions::{self, reason, Problem, ACCEPTED, RESOLVED_REFS};
use crate::gateway::{GatewayState, ListenerState};
use crate::index::{name_of, namespace_of, order_of, Index, GATEWAY_GROUP};
use crate::migration::Attachments;
use filters::FilterScope;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use torii_config::status::{RouteParentStatus, RouteStatus};
use torii_config::{
    BackendId, BackendTarget, HostnameMatch, HttpBackend, HttpRouteAttachment, HttpRule, RouteId,
    RouteKind, TcpRouteAttachment, Timeouts, TlsRouteAttachment, WeightedTarget,
};
use torii_resources::wire::gateway::httproutes::HttpRouteRulesFilters;
use torii_resources::wire::gateway::{grpcroutes, httproutes, tcproutes, tlsroutes};
use torii_resources::wire::ObjectMeta;
use torii_resources::ResourceSet;

/// The fields every kind of parentRef shares.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ParentRef<'r> {
    group: Option<&'r str>,
    kind: Option<&'r str>,
    namespace: Option<&'r str>,
    name: &'r str,
    section_name: Option<&'r str>,
    port: Option<i32>,
}

macro_rules! parent_ref_from {
    ($($wire:ty),* $(,)?) => {$(
        impl<'r> From<&'r $wire> for ParentRef<'r> {
            fn from(wire: &'r $wire) -> Self {
                ParentRef {
                    group: wire.group.as_deref(),
                    kind: wire.kind.as_deref(),
                    namespace: wire.namespace.as_deref(),
                    name: &wire.name,
                    section_name: wire.section_name.as_deref(),
                    port: wire.port,
                }
            }
        }
    )*};
}

parent_ref_from!(
    httproutes::HttpRouteParentRefs,
    grpcroutes::GrpcRouteParentRefs,
    tlsroutes::TlsRouteParentRefs,
    tcproutes::TcpRouteParentRefs,
);

/// Which listeners one parentRef selected.
enum Selection {
    /// The parentRef names no Gateway of ours.
    NotOurs,
    /// It names one of ours but the route cannot attach.
    Rejected(Problem),
    /// `(gateway, listener, effective hostnames)` for every listener it attaches to.
    Listeners(Vec<(usize, usize, Vec<HostnameMatch>)>),
}

/// Attaches routes to the Gateways' listeners and records their status.
pub(crate) struct Routes<'a> {
    index: &'a Index<'a>,
    /// The Gateways, in precedence order.
    pub gateways: Vec<GatewayState<'a>>,
    by_name: HashMap<(&'a str, &'a str), usize>,
    /// The backend resolver.
    pub backends: Backends<'a>,
    /// Backends used by attached routes.
    pub used: HashSet<BackendId>,
    /// One status per route with a parent of ours.
    pub statuses: Vec<RouteStatus>,
    /// Routes ignored, with why.
    pub notes: Vec<String>,
}

impl<'a> Routes<'a> {
    /// Prepares to attach routes to `gateways`.
    pub fn new(
        index: &'a Index<'a>,
        load_balancing: &'a crate::lb::LoadBalancing,
        gateways: Vec<GatewayState<'a>>,
    ) -> Self {
        let by_name = gateways
            .iter()
            .enumerate()
            .map(|(i, g)| ((g.namespace, g.name), i))
            .collect();
        Routes {
            index,
            gateways,
            by_name,
            backends: Backends::new(index, load_balancing),
            used: HashSet::new(),
            statuses: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Translates and attaches every route of `set`; HTTPRoute rules carry what
    /// `migrations` attaches to them.
    pub fn attach_all(&mut self, set: &'a ResourceSet, migrations: &Attachments) {
        for route in &set.http_routes {
            let wire = &route.object;
            let id = route_id(RouteKind::Http, &wire.metadata);
            let parents = wire
                .spec
                .parent_refs
                .iter()
                .flatten()
                .map(ParentRef::from)
                .collect();
            let hostnames = Some(wire.spec.hostnames.as_deref().unwrap_or_default());
            let order = order_of(&wire.metadata);
            self.process(
                &id,
                wire.metadata.generation,
                parents,
                hostnames,
                |backends, log| http::translate(wire, &id, order, migrations, backends, log),
                |listener, route, hostnames| {
                    listener.http_routes.push(HttpRouteAttachment {
                        route: route.clone(),
                        hostnames,
                    })
                },
            );
        }
        for route in &set.grpc_routes {
            let wire = &route.object;
            let id = route_id(RouteKind::Grpc, &wire.metadata);
            let parents = wire
                .spec
                .parent_refs
                .iter()
                .flatten()
                .map(ParentRef::from)
                .collect();
            let hostnames = Some(wire.spec.hostnames.as_deref().unwrap_or_default());
            let order = order_of(&wire.metadata);
            self.process(
                &id,
                wire.metadata.generation,
                parents,
                hostnames,
                |backends, log| grpc::translate(wire, &id, order, backends, log),
                |listener, route, hostnames| {
                    listener.http_routes.push(HttpRouteAttachment {
                        route: route.clone(),
                        hostnames,
                    })
                },
            );
        }
        for route in &set.tls_routes {
            let wire = &route.object;
            let id = route_id(RouteKind::Tls, &wire.metadata);
            let parents = wire
                .spec
                .parent_refs
                .iter()
                .flatten()
                .map(ParentRef::from)
                .collect();
            let order = order_of(&wire.metadata);
            self.process(
                &id,
                wire.metadata.generation,
                parents,
                Some(&wire.spec.hostnames),
                |backends, log| l4::tls(wire, &id, backends, log),
                |listener, route, hostnames| {
                    let attachment = TlsRouteAttachment {
                        route: route.clone(),
                        hostnames,
                    };
                    listener.tls_routes.push((order.clone(), attachment))
                },
            );
        }
        for route in &set.tcp_routes {
            let wire = &route.object;
            let id = route_id(RouteKind::Tcp, &wire.metadata);
            let parents = wire
                .spec
                .parent_refs
                .iter()
                .flatten()
                .map(ParentRef::from)
                .collect();
            let order = order_of(&wire.metadata);
            self.process(
                &id,
                wire.metadata.generation,
                parents,
                None,
                |backends, log| l4::tcp(wire, &id, backends, log),
                |listener, route, _| {
                    let attachment = TcpRouteAttachment {
                        route: route.clone(),
                    };
                    listener.tcp_routes.push((order.clone(), attachment))
                },
            );
        }
        self.statuses.sort_by(|a, b| a.route.cmp(&b.route));
    }

    /// Attaches one route of any kind: selects listeners per parentRef, translates the route
    /// once, attaches it where it was selected and records its status.
    fn process<R>(
        &mut self,
        id: &RouteId,
        generation: Option<i64>,
        parents: Vec<ParentRef<'_>>,
        hostnames: Option<&[String]>,
        translate: impl FnOnce(&mut Backends<'a>, &mut RefLog) -> Result<R, Problem>,
        attach: impl Fn(&mut ListenerState, &R, Vec<HostnameMatch>),
    ) {
        let parsed = hostnames.map(parse_hostnames).transpose();
        let selections: Vec<Selection> = {
            // A route with an invalid hostname is rejected below; select as if it had none.
            let hostnames = match &parsed {
                Ok(hostnames) => hostnames.as_deref(),
                Err(_) => Some(&[][..]),
            };
            parents
                .iter()
                .map(|parent| self.select(id, hostnames, parent))
                .collect()
        };
        if selections.iter().all(|s| matches!(s, Selection::NotOurs)) {
            self.notes.push(format!(
                "{id}: no parentRef names a Gateway served by this controller; ignored"
            ));
            return;
        }
        let mut log = RefLog::default();
        let route = parsed.and_then(|_| translate(&mut self.backends, &mut log));
        let resolved = conditions::summary(
            RESOLVED_REFS,
            reason::RESOLVED_REFS,
            "all references are resolved",
            &log.unresolved,
            generation,
        );
        let mut attached = HashSet::new();
        let mut statuses = Vec::new();
        for (index, (parent, selection)) in parents.iter().zip(selections).enumerate() {
            let accepted = match (selection, &route) {
                (Selection::NotOurs, _) => continue,
                (Selection::Rejected(problem), _) => problem.condition(ACCEPTED, generation),
                (Selection::Listeners(_), Err(problem)) => problem.condition(ACCEPTED, generation),
                (Selection::Listeners(listeners), Ok(route)) => {
                    for (g, l, hostnames) in listeners {
                        if attached.insert((g, l)) {
                            let listener = &mut self.gateways[g].listeners[l];
                            listener.attached_routes += 1;
                            attach(listener, route, hostnames);
                        }
                    }
                    conditions::ok(ACCEPTED, reason::ACCEPTED, "route is attached", generation)
                }
            };
            statuses.push(RouteParentStatus {
                parent_ref: describe_parent(parent, &id.namespace),
                index,
                conditions: vec![accepted, resolved.clone()],
            });
        }
        if !attached.is_empty() {
            self.used.extend(log.backends);
        }
        self.statuses.push(RouteStatus {
            route: id.clone(),
            parents: statuses,
        });
    }

    /// The listeners one parentRef of a route selects, or why it selects none.
    fn select(
        &self,
        id: &RouteId,
        hostnames: Option<&[HostnameMatch]>,
        parent: &ParentRef<'_>,
    ) -> Selection {
        if parent.group.unwrap_or(GATEWAY_GROUP) != GATEWAY_GROUP
            || parent.kind.unwrap_or("Gateway") != "Gateway"
        {
            return Selection::NotOurs;
        }
        let namespace = parent.namespace.unwrap_or(&id.namespace);
        let Some(&g) = self.by_name.get(&(namespace, parent.name)) else {
            return Selection::NotOurs;
        };
        let gateway = &self.gateways[g];
        let rejected = |reason, message: String| Selection::Rejected(Problem::new(reason, message));
        if let Some(problem) = &gateway.problem {
            return rejected(
                reason::NO_MATCHING_PARENT,
                format!("Gateway {} is not accepted: {problem}", gateway.id),
            );
        }
        let selected: Vec<usize> = (0..gateway.listeners.len())
            .filter(|&l| {
                let listener = &gateway.listeners[l];
                parent
                    .section_name
                    .is_none_or(|name| *listener.id.name == *name)
                    && parent
                        .port
                        .is_none_or(|port| i32::from(listener.port) == port)
            })
            .collect();
        if selected.is_empty() {
            return rejected(
                reason::NO_MATCHING_PARENT,
                format!(
                    "no listener of Gateway {} matches {}",
                    gateway.id,
                    describe_parent(parent, &id.namespace)
                ),
            );
        }
        let allowed: Vec<usize> = selected
            .into_iter()
            .filter(|&l| {
                let listener = &gateway.listeners[l];
                listener.kinds.contains(&id.kind)
                    && listener.allows_namespace(&id.namespace, gateway.namespace, self.index)
            })
            .collect();
        if allowed.is_empty() {
            return rejected(
                reason::NOT_ALLOWED_BY_LISTENERS,
                format!(
                    "no listener of Gateway {} allows {} from namespace {}",
                    gateway.id,
                    id.kind.as_str(),
                    id.namespace
                ),
            );
        }
        let listeners: Vec<_> = allowed
            .into_iter()
            .filter_map(|l| {
                let effective = match hostnames {
                    None => Vec::new(),
                    Some(hostnames) => {
                        intersect(gateway.listeners[l].hostname.as_ref(), hostnames)?
                    }
                };
                Some((g, l, effective))
            })
            .collect();
        if listeners.is_empty() {
            return rejected(
                reason::NO_MATCHING_LISTENER_HOSTNAME,
                format!(
                    "no listener hostname of Gateway {} intersects the route's hostnames",
                    gateway.id
                ),
            );
        }
        Selection::Listeners(listeners)
    }
}

/// A route's id from its metadata.
fn route_id(kind: RouteKind, meta: &ObjectMeta) -> RouteId {
    RouteId {
        kind,
        namespace: Arc::from(namespace_of(meta)),
        name: Arc::from(name_of(meta)),
    }
}

/// A route's `spec.hostnames`, validated.
fn parse_hostnames(hostnames: &[String]) -> Result<Vec<HostnameMatch>, Problem> {
    hostnames
        .iter()
        .map(|h| {
            HostnameMatch::parse(h).map_err(|e| {
                Problem::new(reason::UNSUPPORTED_VALUE, format!("spec.hostnames: {e}"))
            })
        })
        .collect()
}

/// The hostnames a route serves on a listener: the route's hostnames that intersect the
/// listener's (the more specific of each pair), `None` when none do. A route without
/// hostnames takes the listener's; empty means any.
fn intersect(
    listener: Option<&HostnameMatch>,
    route: &[HostnameMatch],
) -> Option<Vec<HostnameMatch>> {
    match (listener, route) {
        (None, route) => Some(route.to_vec()),
        (Some(listener), []) => Some(vec![listener.clone()]),
        (Some(listener), route) => {
            let mut effective: Vec<HostnameMatch> = Vec::new();
            for hostname in route {
                if let Some(common) = listener.intersect(hostname) {
                    if !effective.contains(&common) {
                        effective.push(common);
                    }
                }
            }
            (!effective.is_empty()).then_some(effective)
        }
    }
}

/// A parentRef as `namespace/name[/section][:port]`.
fn describe_parent(parent: &ParentRef<'_>, route_namespace: &str) -> String {
    let mut text = format!(
        "{}/{}",
        parent.namespace.unwrap_or(route_namespace),
        parent.name
    );
    if let Some(section) = parent.section_name {
        text.push('/');
        text.push_str(section);
    }
    if let Some(port) = parent.port {
        text.push_str(&format!(":{port}"));
    }
    text
}

/// A weight from a backendRef (1 when unset).
fn weight_of(weight: Option<i32>) -> Result<u32, Problem> {
    let weight = weight.unwrap_or(1);
    u32::try_from(weight).map_err(|_| {
        Problem::new(
            reason::UNSUPPORTED_VALUE,
            format!("weight {weight} is negative"),
        )
    })
}

/// The backends of an HTTP or gRPC rule, each with its own filters (already converted to the
/// rule filter type). A backend whose filters cannot be resolved gets a 500.
fn rule_backends<'r>(
    refs: impl Iterator<
        Item = (
            Option<i32>,
            BackendRef<'r>,
            Result<Vec<HttpRouteRulesFilters>, Problem>,
        ),
    >,
    scope: &mut FilterScope<'_, '_>,
) -> Result<Vec<HttpBackend>, Problem> {
    let mut backends = Vec::new();
    for (i, (weight, backend, wire_filters)) in refs.enumerate() {
        let context = |p: Problem| p.context(format!("backendRefs[{i}]"));
        let weight = weight_of(weight).map_err(context)?;
        let mark = scope.log.mark();
        let mut target = scope.backends.resolve(scope.route, backend, scope.log);
        let filters = filters::translate(&wire_filters.map_err(context)?, scope);
        scope
            .log
            .context_since(mark, format_args!("backendRefs[{i}]"));
        let filters = filters.map_err(context)?;
        if filters.unresolvable {
            target = BackendTarget::Invalid;
        }
        backends.push(HttpBackend {
            target: WeightedTarget { weight, target },
            filters: filters.filters,
        });
    }
    Ok(backends)
}

/// The rule a route without rules gets (the CRD's default): every request, no backends, so
/// a 500.
fn default_rule(grpc: bool) -> Arc<HttpRule> {
    Arc::new(HttpRule {
        index: 0,
        name: None,
        matches: vec![matches::match_all()],
        filters: Vec::new(),
        backends: Vec::new(),
        timeouts: Timeouts::default(),
        retry: None,
        grpc,
        migration: Default::default(),
    })
}
