//! `backendRefs`: Services resolved to [`Backend`]s with the ready endpoints of their
//! EndpointSlices, under the Gateway API's rules for kinds, namespaces and ReferenceGrants.

use crate::conditions::{reason, Problem};
use crate::index::{Index, RefFrom, RefTo, GATEWAY_GROUP};
use crate::lb::{LoadBalancing, TORII_GROUP};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use torii_config::{
    AppProtocol, Backend, BackendId, BackendTarget, Endpoint, HostEndpoint, LoadBalancerId, PoolId,
    RouteId, RouteKind,
};
use torii_resources::wire::gateway::{grpcroutes, httproutes, tcproutes, tlsroutes};
use torii_resources::wire::Service;

/// The fields every kind of backendRef shares.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BackendRef<'r> {
    /// API group (`""`, the default, for core).
    pub group: Option<&'r str>,
    /// Kind (`Service` by default).
    pub kind: Option<&'r str>,
    /// Name of the referent.
    pub name: &'r str,
    /// Namespace (the route's by default).
    pub namespace: Option<&'r str>,
    /// Port of the Service.
    pub port: Option<i32>,
}

macro_rules! backend_ref_from {
    ($($wire:ty),* $(,)?) => {$(
        impl<'r> From<&'r $wire> for BackendRef<'r> {
            fn from(wire: &'r $wire) -> Self {
                BackendRef {
                    group: wire.group.as_deref(),
                    kind: wire.kind.as_deref(),
                    name: &wire.name,
                    namespace: wire.namespace.as_deref(),
                    port: wire.port,
                }
            }
        }
    )*};
}

backend_ref_from!(
    httproutes::HttpRouteRulesBackendRefs,
    httproutes::HttpRouteRulesFiltersRequestMirrorBackendRef,
    grpcroutes::GrpcRouteRulesBackendRefs,
    tlsroutes::TlsRouteRulesBackendRefs,
    tcproutes::TcpRouteRulesBackendRefs,
    torii_resources::migration::BackendObjectRefSpec,
);

/// The object a backendRef is written in: a route, or a torii kind that names backends the
/// way routes do (a `Comparison`, a `Rollout`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Referrer<'s> {
    /// API group of the referring object.
    pub group: &'s str,
    /// Kind of the referring object.
    pub kind: &'s str,
    /// Namespace of the referring object (the default of the backendRef's).
    pub namespace: &'s str,
    /// The kind of traffic sent to the backend (what protocols it may speak).
    pub route_kind: RouteKind,
}

impl<'s> Referrer<'s> {
    /// The referring side of a ReferenceGrant check.
    fn from(self) -> RefFrom<'s> {
        RefFrom {
            group: self.group,
            kind: self.kind,
            namespace: self.namespace,
        }
    }
}

/// The backend a backendRef written in `namespace` names when it resolves (no lookup):
/// how the backendRefs of a rule and of a migration kind are compared. `None` for kinds that
/// are not backends and Services without a port.
pub(crate) fn backend_id_of(backend: BackendRef<'_>, namespace: &str) -> Option<BackendId> {
    let namespace = backend.namespace.unwrap_or(namespace);
    match (
        backend.group.unwrap_or(""),
        backend.kind.unwrap_or("Service"),
    ) {
        ("", "Service") => Some(BackendId::Service {
            namespace: Arc::from(namespace),
            name: Arc::from(backend.name),
            port: u16::try_from(backend.port?).ok()?,
        }),
        (TORII_GROUP, "OriginPool") => Some(BackendId::Pool(PoolId::new(namespace, backend.name))),
        (TORII_GROUP, "LoadBalancer") => Some(BackendId::LoadBalancer(LoadBalancerId::new(
            namespace,
            backend.name,
        ))),
        _ => None,
    }
}

/// What resolving a route's references found: problems for its `ResolvedRefs` condition and
/// the backends it uses.
#[derive(Debug, Default)]
pub(crate) struct RefLog {
    /// References that did not resolve.
    pub unresolved: Vec<Problem>,
    /// Backends referenced (with duplicates).
    pub backends: Vec<BackendId>,
}

impl RefLog {
    /// Where the next unresolved reference will go: pass it to [`RefLog::context_since`].
    pub fn mark(&self) -> usize {
        self.unresolved.len()
    }

    /// Prefixes the messages of the references logged since `mark` with the field they were
    /// found in (`backendRefs[1]`, then `spec.rules[0]` around it), so each names its field
    /// path in full.
    pub fn context_since(&mut self, mark: usize, place: impl std::fmt::Display) {
        for problem in self.unresolved.iter_mut().skip(mark) {
            problem.message = format!("{place}: {}", problem.message);
        }
    }
}

/// Resolves backendRefs, building each [`Backend`] once.
#[derive(Debug)]
pub(crate) struct Backends<'a> {
    index: &'a Index<'a>,
    load_balancing: &'a LoadBalancing,
    built: HashMap<BackendId, Arc<Backend>>,
}

/// A Service port that cannot be a backend, with why.
#[derive(Debug)]
pub(crate) struct ServiceBackendError(pub Problem);

/// The backend of port `port` of Service `namespace/name` (no permission check: the caller
/// made it). Used by routes and by `OriginPool` origins that name a Service.
pub(crate) fn service_backend(
    index: &Index<'_>,
    namespace: &str,
    name: &str,
    port: u16,
) -> Result<Backend, ServiceBackendError> {
    let not_found =
        |message: String| ServiceBackendError(Problem::new(reason::BACKEND_NOT_FOUND, message));
    let service = index
        .service(namespace, name)
        .ok_or_else(|| not_found(format!("Service {namespace}/{name} does not exist")))?;
    let service_port = find_port(service, port)
        .ok_or_else(|| not_found(format!("Service {namespace}/{name} has no port {port}")))?;
    check_protocol(
        RouteKind::Http,
        &service_port,
        &format!("{namespace}/{name}"),
    )
    .map_err(ServiceBackendError)?;
    let id = BackendId::Service {
        namespace: Arc::from(namespace),
        name: Arc::from(name),
        port: service_port.port,
    };
    Ok(build(index, id, namespace, name, service_port))
}

impl<'a> Backends<'a> {
    /// A resolver over `index`.
    pub fn new(index: &'a Index<'a>, load_balancing: &'a LoadBalancing) -> Self {
        Backends {
            index,
            load_balancing,
            built: HashMap::new(),
        }
    }

    /// Resolves one backendRef of `route`; a reference that does not resolve is logged and
    /// becomes [`BackendTarget::Invalid`].
    pub fn resolve(
        &mut self,
        route: &RouteId,
        backend: BackendRef<'_>,
        log: &mut RefLog,
    ) -> BackendTarget {
        match self.try_resolve(route, backend) {
            Ok(id) => {
                log.backends.push(id.clone());
                BackendTarget::Resolved(id)
            }
            Err(problem) => {
                log.unresolved.push(problem);
                BackendTarget::Invalid
            }
        }
    }

    fn try_resolve(
        &mut self,
        route: &RouteId,
        backend: BackendRef<'_>,
    ) -> Result<BackendId, Problem> {
        let referrer = Referrer {
            group: GATEWAY_GROUP,
            kind: route.kind.as_str(),
            namespace: &route.namespace,
            route_kind: route.kind,
        };
        self.resolve_for(referrer, backend)
    }

    /// Resolves a backendRef written in `referrer` (a route, or a torii object that names
    /// backends the way routes do), building its [`Backend`] once.
    pub fn resolve_for(
        &mut self,
        referrer: Referrer<'_>,
        backend: BackendRef<'_>,
    ) -> Result<BackendId, Problem> {
        let group = backend.group.unwrap_or("");
        let kind = backend.kind.unwrap_or("Service");
        let name = backend.name;
        let namespace = backend.namespace.unwrap_or(referrer.namespace);
        if group == TORII_GROUP && matches!(kind, "OriginPool" | "LoadBalancer") {
            return self.resolve_torii(referrer, kind, namespace, name);
        }
        if !group.is_empty() || kind != "Service" {
            let shown = if group.is_empty() {
                kind.to_string()
            } else {
                format!("{group}/{kind}")
            };
            return Err(Problem::new(
                reason::INVALID_KIND,
                format!("backendRef {shown} {name}: only core Services and torii.dev OriginPools and LoadBalancers are supported"),
            ));
        }
        let permitted = self.index.reference_permitted(
            referrer.from(),
            RefTo {
                group: "",
                kind: "Service",
                namespace,
                name,
            },
        );
        if !permitted {
            return Err(Problem::new(
                reason::REF_NOT_PERMITTED,
                format!("backendRef to Service {namespace}/{name} is not permitted by any ReferenceGrant"),
            ));
        }
        let not_found = |message: String| Problem::new(reason::BACKEND_NOT_FOUND, message);
        let port = backend.port.ok_or_else(|| {
            not_found(format!(
                "backendRef to Service {namespace}/{name} needs a port"
            ))
        })?;
        let service = self
            .index
            .service(namespace, name)
            .ok_or_else(|| not_found(format!("Service {namespace}/{name} does not exist")))?;
        let service_port = u16::try_from(port)
            .ok()
            .and_then(|port| find_port(service, port))
            .ok_or_else(|| not_found(format!("Service {namespace}/{name} has no port {port}")))?;
        check_protocol(
            referrer.route_kind,
            &service_port,
            &format!("{namespace}/{name}"),
        )?;
        let id = BackendId::Service {
            namespace: Arc::from(namespace),
            name: Arc::from(name),
            port: service_port.port,
        };
        if !self.built.contains_key(&id) {
            let backend = build(self.index, id.clone(), namespace, name, service_port);
            self.built.insert(id.clone(), Arc::new(backend));
        }
        Ok(id)
    }

    /// Resolves a backendRef to a torii.dev `OriginPool` or `LoadBalancer`.
    fn resolve_torii(
        &mut self,
        referrer: Referrer<'_>,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<BackendId, Problem> {
        let permitted = self.index.reference_permitted(
            referrer.from(),
            RefTo {
                group: TORII_GROUP,
                kind,
                namespace,
                name,
            },
        );
        if !permitted {
            return Err(Problem::new(
                reason::REF_NOT_PERMITTED,
                format!("backendRef to {kind} {namespace}/{name} is not permitted by any ReferenceGrant"),
            ));
        }
        if !matches!(referrer.route_kind, RouteKind::Http | RouteKind::Grpc) {
            return Err(Problem::new(
                reason::INVALID_KIND,
                format!("backendRef {kind} {namespace}/{name}: pools and load balancers serve HTTP and gRPC routes only"),
            ));
        }
        let not_found = || {
            Problem::new(
                reason::BACKEND_NOT_FOUND,
                format!("{kind} {namespace}/{name} does not exist or is not accepted"),
            )
        };
        let (id, protocol) = if kind == "OriginPool" {
            let id = PoolId::new(namespace, name);
            let pool = self.load_balancing.pools.get(&id).ok_or_else(not_found)?;
            (BackendId::Pool(id), pool.protocol)
        } else {
            let id = LoadBalancerId::new(namespace, name);
            let lb = self
                .load_balancing
                .load_balancers
                .get(&id)
                .ok_or_else(not_found)?;
            let protocol = lb
                .default_pools
                .iter()
                .chain(&lb.fallback_pool)
                .find_map(|p| self.load_balancing.pools.get(p))
                .map_or(AppProtocol::Http1, |p| p.protocol);
            (BackendId::LoadBalancer(id), protocol)
        };
        self.built.entry(id.clone()).or_insert_with(|| {
            Arc::new(Backend {
                id: id.clone(),
                protocol,
                endpoints: Vec::new(),
                hosts: Vec::new(),
            })
        });
        Ok(id)
    }

    /// The backends in `used`, for [`torii_config::Config::backends`].
    pub fn into_config(self, used: &HashSet<BackendId>) -> BTreeMap<BackendId, Arc<Backend>> {
        self.built
            .into_iter()
            .filter(|(id, _)| used.contains(id))
            .collect()
    }
}

/// A Service port, as a backend needs it.
#[derive(Debug, Clone, Copy)]
struct ServicePort<'s> {
    /// `port`.
    port: u16,
    /// `name` (`""` when unnamed): the name of the matching slice ports.
    name: &'s str,
    /// `appProtocol`.
    app_protocol: Option<&'s str>,
    /// `protocol` (`TCP` when unset).
    transport: &'s str,
}

/// The Service port numbered `port`.
fn find_port(service: &Service, port: u16) -> Option<ServicePort<'_>> {
    let ports = service.spec.as_ref()?.ports.as_ref()?;
    let found = ports.iter().find(|p| p.port == i32::from(port))?;
    Some(ServicePort {
        port,
        name: found.name.as_deref().unwrap_or(""),
        app_protocol: found.app_protocol.as_deref(),
        transport: found.protocol.as_deref().unwrap_or("TCP"),
    })
}

/// Whether torii can speak to a Service port for a route of `kind`: over TCP, and for HTTP
/// routes without TLS to the backend.
fn check_protocol(kind: RouteKind, port: &ServicePort<'_>, service: &str) -> Result<(), Problem> {
    let unsupported = |message: String| Problem::new(reason::UNSUPPORTED_PROTOCOL, message);
    if port.transport != "TCP" {
        return Err(unsupported(format!(
            "Service {service} port {} uses {}; only TCP is supported",
            port.port, port.transport
        )));
    }
    let http = matches!(kind, RouteKind::Http | RouteKind::Grpc);
    if let Some(app_protocol @ ("https" | "kubernetes.io/wss")) = port.app_protocol.filter(|_| http)
    {
        return Err(unsupported(format!(
            "Service {service} port {} has appProtocol {app_protocol}: TLS to backends is not supported",
            port.port
        )));
    }
    Ok(())
}

/// The backend of one Service port: every ready endpoint of the Service's slices, at the
/// slice port whose name is the Service port's. Slices of `addressType: FQDN` give DNS names
/// (looked up by the data plane); an address that is not valid for its slice's type is skipped.
fn build(
    index: &Index<'_>,
    id: BackendId,
    namespace: &str,
    service: &str,
    service_port: ServicePort<'_>,
) -> Backend {
    let port_name = service_port.name;
    let mut endpoints = Vec::new();
    let mut hosts = Vec::new();
    let mut slice_protocol = None;
    for slice in index.slices(namespace, service) {
        let slice_port = slice
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref().unwrap_or("") == port_name);
        let Some(slice_port) = slice_port else {
            continue;
        };
        let Some(port) = slice_port
            .port
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0)
        else {
            continue;
        };
        slice_protocol = slice_protocol.or(slice_port.app_protocol.as_deref());
        let fqdn = slice.address_type == FQDN_ADDRESS_TYPE;
        for endpoint in &slice.endpoints {
            let ready = endpoint.conditions.as_ref().and_then(|c| c.ready);
            if ready == Some(false) {
                continue;
            }
            for address in &endpoint.addresses {
                if fqdn {
                    if let Some(host) = endpoint_host(address) {
                        hosts.push(HostEndpoint { host, port });
                    }
                } else if let Ok(ip) = address.parse::<IpAddr>() {
                    endpoints.push(Endpoint {
                        address: SocketAddr::new(ip, port),
                    });
                }
            }
        }
    }
    endpoints.sort_by_key(|e| e.address);
    endpoints.dedup();
    hosts.sort();
    hosts.dedup();
    Backend {
        id,
        protocol: app_protocol_of(service_port.app_protocol.or(slice_protocol)),
        endpoints,
        hosts,
    }
}

/// The `addressType` of EndpointSlices whose addresses are DNS names.
const FQDN_ADDRESS_TYPE: &str = "FQDN";

/// An FQDN endpoint address as a host to look up: a DNS name (RFC 1123 §2.1 labels of
/// letters, digits and hyphens, at most 63 bytes each and 253 in all, as the API server
/// validates them; not all-numeric at the end, RFC 3696 §2, so an IP address cannot pass as
/// a name), lowercased, without a trailing dot; `None` when it is not one.
fn endpoint_host(address: &str) -> Option<Arc<str>> {
    let name = address.strip_suffix('.').unwrap_or(address);
    let valid_label = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let numeric_end = name
        .rsplit('.')
        .next()
        .is_some_and(|last| last.bytes().all(|b| b.is_ascii_digit()));
    let valid = (1..=253).contains(&name.len()) && name.split('.').all(valid_label) && !numeric_end;
    valid.then(|| Arc::from(name.to_ascii_lowercase()))
}

/// The upstream protocol an `appProtocol` asks for.
fn app_protocol_of(app_protocol: Option<&str>) -> AppProtocol {
    match app_protocol {
        Some("kubernetes.io/h2c") => AppProtocol::H2c,
        Some("kubernetes.io/ws") => AppProtocol::WebSocket,
        _ => AppProtocol::Http1,
    }
}
