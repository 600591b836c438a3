//! [`Object`]: one object of any kind torii reads, for sources that hold objects one by one
//! (Kubernetes mode keeps a store of them and builds a [`ResourceSet`] from it).

use crate::load::{Kind, WireObject};
use crate::set::{Located, ResourceSet};
use crate::wire::*;

/// Defines [`Object`] and the per-kind code that goes with it, from one list of
/// `Variant(Type) => set_field` (the variant names are [`Kind`]'s).
macro_rules! objects {
    ($($variant:ident($ty:ty) => $field:ident),* $(,)?) => {
        /// One object of any kind torii reads.
        // Objects sit in a store (one per API object) and are rarely moved: unboxed variants
        // of somewhat different sizes (a Rollout's status is the largest) cost nothing here.
        #[allow(clippy::large_enum_variant)]
        #[derive(Debug, Clone, PartialEq)]
        pub enum Object {
            $(
                #[doc = concat!("A `", stringify!($variant), "`.")]
                $variant($ty),
            )*
        }

        impl Object {
            /// The object's kind.
            pub fn kind(&self) -> Kind {
                match self {
                    $(Object::$variant(_) => Kind::$variant,)*
                }
            }

            /// The object's metadata.
            pub fn metadata(&self) -> &ObjectMeta {
                match self {
                    $(Object::$variant(object) => &object.metadata,)*
                }
            }

            /// The object as JSON with its `apiVersion` and `kind`, as an API server serves it.
            pub fn to_json(&self) -> serde_json::Result<serde_json::Value> {
                match self {
                    $(Object::$variant(object) => tagged_json(Kind::$variant, object),)*
                }
            }
        }

        impl ResourceSet {
            /// Adds an object to the list of its kind.
            pub fn push(&mut self, located: Located<Object>) {
                let origin = located.origin;
                match located.object {
                    $(Object::$variant(object) => self.$field.push(Located { object, origin }),)*
                }
            }

            /// Every object as JSON with its `apiVersion` and `kind` (kinds in [`Kind::ALL`]
            /// order, each kind's objects in the set's order).
            pub fn to_json_objects(
                &self,
            ) -> impl Iterator<Item = serde_json::Result<serde_json::Value>> + '_ {
                std::iter::empty()
                    $(.chain(self.$field.iter().map(|l| tagged_json(Kind::$variant, &l.object))))*
            }
        }

        /// Reads an object of `kind` with `decoder`.
        pub(crate) fn decode_object<D: Decoder>(kind: Kind, decoder: D) -> Result<Object, D::Error> {
            match kind {
                $(Kind::$variant => decoder.decode::<$ty>(kind).map(Object::$variant),)*
            }
        }
    };
}

objects!(
    Namespace(Namespace) => namespaces,
    Service(Service) => services,
    Secret(Secret) => secrets,
    EndpointSlice(EndpointSlice) => endpoint_slices,
    GatewayClass(GatewayClass) => gateway_classes,
    Gateway(Gateway) => gateways,
    HttpRoute(HttpRoute) => http_routes,
    GrpcRoute(GrpcRoute) => grpc_routes,
    TlsRoute(TlsRoute) => tls_routes,
    TcpRoute(TcpRoute) => tcp_routes,
    ReferenceGrant(ReferenceGrant) => reference_grants,
    HealthMonitor(HealthMonitor) => health_monitors,
    OriginPool(OriginPool) => origin_pools,
    LoadBalancer(LoadBalancer) => load_balancers,
    Comparison(Comparison) => comparisons,
    Rollout(Rollout) => rollouts,
);

/// `object` as a JSON map with `apiVersion` and `kind` set (some wire types write them,
/// torii's own do not).
fn tagged_json<T: serde::Serialize>(
    kind: Kind,
    object: &T,
) -> serde_json::Result<serde_json::Value> {
    let mut value = serde_json::to_value(object)?;
    if let serde_json::Value::Object(map) = &mut value {
        map.insert("apiVersion".into(), kind.api_version().into());
        map.insert("kind".into(), kind.name().into());
    }
    Ok(value)
}

/// Reads one wire type; [`decode_object`] picks the type from the kind.
pub(crate) trait Decoder {
    /// What goes wrong.
    type Error;

    /// Reads an object of `kind`, whose wire type is `T`.
    fn decode<T: WireObject>(self, kind: Kind) -> Result<T, Self::Error>;
}
