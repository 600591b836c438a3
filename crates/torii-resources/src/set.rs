//! The set of all resources one source currently holds.

use crate::origin::Origin;
use crate::wire::*;
use std::fmt;

/// An object together with where it was read from.
#[derive(Debug, Clone)]
pub struct Located<T> {
    /// The object as read.
    pub object: T,
    /// Where it was read from.
    pub origin: Origin,
}

/// Identifies one object: kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// The object's kind, e.g. `HTTPRoute`.
    pub kind: String,
    /// The namespace (`default` when the object had none; empty for cluster-scoped kinds).
    pub namespace: String,
    /// The object's name.
    pub name: String,
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// Every resource a source holds, by kind. Namespaced objects always carry a namespace
/// (`default` when the YAML gave none). Order within a kind is the order read.
#[derive(Debug, Clone, Default)]
pub struct ResourceSet {
    /// `v1/Namespace`.
    pub namespaces: Vec<Located<Namespace>>,
    /// `v1/Service`.
    pub services: Vec<Located<Service>>,
    /// `discovery.k8s.io/v1/EndpointSlice`.
    pub endpoint_slices: Vec<Located<EndpointSlice>>,
    /// `v1/Secret`.
    pub secrets: Vec<Located<Secret>>,
    /// `GatewayClass`.
    pub gateway_classes: Vec<Located<GatewayClass>>,
    /// `Gateway`.
    pub gateways: Vec<Located<Gateway>>,
    /// `HTTPRoute`.
    pub http_routes: Vec<Located<HttpRoute>>,
    /// `GRPCRoute`.
    pub grpc_routes: Vec<Located<GrpcRoute>>,
    /// `TLSRoute`.
    pub tls_routes: Vec<Located<TlsRoute>>,
    /// `TCPRoute`.
    pub tcp_routes: Vec<Located<TcpRoute>>,
    /// `ReferenceGrant`.
    pub reference_grants: Vec<Located<ReferenceGrant>>,
    /// `torii.dev` `HealthMonitor`.
    pub health_monitors: Vec<Located<HealthMonitor>>,
    /// `torii.dev` `OriginPool`.
    pub origin_pools: Vec<Located<OriginPool>>,
    /// `torii.dev` `LoadBalancer`.
    pub load_balancers: Vec<Located<LoadBalancer>>,
    /// `torii.dev` `Comparison`.
    pub comparisons: Vec<Located<Comparison>>,
    /// `torii.dev` `Rollout`.
    pub rollouts: Vec<Located<Rollout>>,
}

impl ResourceSet {
    /// The number of objects, over all kinds.
    pub fn len(&self) -> usize {
        self.namespaces.len()
            + self.services.len()
            + self.endpoint_slices.len()
            + self.secrets.len()
            + self.gateway_classes.len()
            + self.gateways.len()
            + self.http_routes.len()
            + self.grpc_routes.len()
            + self.tls_routes.len()
            + self.tcp_routes.len()
            + self.reference_grants.len()
            + self.health_monitors.len()
            + self.origin_pools.len()
            + self.load_balancers.len()
            + self.comparisons.len()
            + self.rollouts.len()
    }

    /// True when the set holds no object.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The key of an object of `kind` with this metadata (a missing name or namespace is empty;
/// objects in a [`ResourceSet`] always have a name, and a namespace when namespaced).
pub fn object_key(kind: &str, metadata: &ObjectMeta) -> ObjectKey {
    ObjectKey {
        kind: kind.to_owned(),
        namespace: metadata.namespace.clone().unwrap_or_default(),
        name: metadata.name.clone().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_display_kind_namespace_and_name() {
        let meta = |namespace: Option<&str>| ObjectMeta {
            name: Some("foo".into()),
            namespace: namespace.map(Into::into),
            ..ObjectMeta::default()
        };
        let cases = [
            (
                object_key("HTTPRoute", &meta(Some("default"))),
                "HTTPRoute default/foo",
            ),
            (object_key("GatewayClass", &meta(None)), "GatewayClass foo"),
        ];
        for (key, expected) in cases {
            assert_eq!(key.to_string(), expected);
        }
    }

    #[test]
    fn counts_objects_of_every_kind() {
        let mut set = ResourceSet::default();
        assert!(set.is_empty());
        let origin = Origin::default();
        set.namespaces.push(Located {
            object: Namespace::default(),
            origin: origin.clone(),
        });
        set.secrets.push(Located {
            object: Secret::default(),
            origin: origin.clone(),
        });
        set.secrets.push(Located {
            object: Secret::default(),
            origin,
        });
        assert_eq!(set.len(), 3);
        assert!(!set.is_empty());
    }
}
