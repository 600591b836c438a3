//! [`PortRouter`]: the compiled routes of every listener of one port.

use crate::conditions::RegexCache;
use crate::host::HostIndex;
use crate::table::{CompiledMatch, MatchId, RouteTable, TableBuilder};
use crate::{RequestInfo, RouteMatch, RouteOutcome};
use std::sync::Arc;
use torii_config::{HostnameMatch, HttpRoute, ListenerConfig, ListenerProtocol};

/// The HTTP route tables of one port, built once per configuration and queried for every
/// request. Immutable, `Send + Sync`, and lookups allocate nothing.
#[derive(Debug, Clone, Default)]
pub struct PortRouter {
    /// HTTP and HTTPS listeners by hostname, as indexes into the `new` argument.
    listeners: HostIndex<usize>,
    /// One entry per listener given to `new`; empty for listeners that do not speak HTTP.
    tables: Vec<HostIndex<RouteTable>>,
    /// The attached routes, one entry per attachment.
    routes: Vec<Arc<HttpRoute>>,
    /// Every match of every rule of `routes`.
    matches: Vec<CompiledMatch>,
}

fn serves_http(listener: &ListenerConfig) -> bool {
    matches!(
        listener.protocol,
        ListenerProtocol::Http | ListenerProtocol::Https
    )
}

fn index(n: usize) -> u32 {
    u32::try_from(n).expect("a route table holds fewer than 2^32 routes, rules and matches")
}

impl PortRouter {
    /// Compiles the listeners of one port. Only `HTTP` and `HTTPS` listeners and their
    /// `http_routes` take part; the indexes in answers are positions in `listeners`.
    pub fn new(listeners: &[ListenerConfig]) -> PortRouter {
        let mut router = PortRouter::default();
        let mut cache = RegexCache::default();
        for (li, listener) in listeners.iter().enumerate() {
            if !serves_http(listener) {
                router.tables.push(HostIndex::default());
                continue;
            }
            router
                .listeners
                .get_or_insert_with(listener.hostname.as_ref(), || li);
            let mut groups: HostIndex<TableBuilder> = HostIndex::default();
            for attachment in &listener.http_routes {
                let route_index = index(router.routes.len());
                router.routes.push(Arc::clone(&attachment.route));
                let first = router.matches.len();
                for (ri, rule) in attachment.route.rules.iter().enumerate() {
                    for (mi, m) in rule.matches.iter().enumerate() {
                        let id = MatchId {
                            route: route_index,
                            rule: index(ri),
                            index: index(mi),
                        };
                        router
                            .matches
                            .push(CompiledMatch::compile(id, m, &mut cache));
                    }
                }
                let compiled = index(first)..index(router.matches.len());
                for hostname in effective_hostnames(listener, &attachment.hostnames) {
                    let group = groups.get_or_insert_with(hostname, TableBuilder::default);
                    compiled.clone().for_each(|i| group.add(i));
                }
            }
            let (matches, routes) = (&router.matches, &router.routes);
            router
                .tables
                .push(groups.map(|group| group.finish(matches, routes)));
        }
        router
    }

    /// Index of the listener that serves this host (lower-case, without port): the listener
    /// with exactly this hostname, else the one with the longest matching wildcard, else one
    /// without hostname. Among listeners with the same hostname the first wins.
    pub fn listener_for_host(&self, host: &str) -> Option<usize> {
        self.listeners.lookup(host).next().copied()
    }

    /// Routes a request: picks the listener by host, then the best match among the routes
    /// attached to it, by the Gateway API's precedence ([`crate::precedence`]).
    pub fn route<'r>(&'r self, req: &RequestInfo<'_>) -> RouteOutcome<'r> {
        let Some(listener) = self.listener_for_host(req.host) else {
            return RouteOutcome::NoListener;
        };
        // Hostname groups come most specific first, and the hostname dominates the
        // precedence key, so the first group with a match holds the best match.
        let found = self.tables[listener]
            .lookup(req.host)
            .find_map(|table| table.find(&self.matches, req));
        match found {
            Some(i) => RouteOutcome::Matched(self.resolve(listener, i)),
            None => RouteOutcome::NoRoute { listener },
        }
    }

    fn resolve(&self, listener: usize, i: u32) -> RouteMatch<'_> {
        let id = self.matches[i as usize].id;
        let route = &self.routes[id.route as usize];
        let rule = &route.rules[id.rule as usize];
        RouteMatch {
            listener,
            route,
            rule,
            matched: &rule.matches[id.index as usize],
        }
    }
}

/// The hostname patterns through which an attachment is reached, without repeats. An
/// attachment without hostnames takes the listener's (the intersection with "any host").
fn effective_hostnames<'a>(
    listener: &'a ListenerConfig,
    hostnames: &'a [HostnameMatch],
) -> Vec<Option<&'a HostnameMatch>> {
    if hostnames.is_empty() {
        return vec![listener.hostname.as_ref()];
    }
    let mut out: Vec<Option<&HostnameMatch>> = Vec::with_capacity(hostnames.len());
    for h in hostnames {
        if !out.contains(&Some(h)) {
            out.push(Some(h));
        }
    }
    out
}
