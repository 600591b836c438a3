//! Wire types for every resource torii reads, and the loader that turns YAML documents into a
//! [`ResourceSet`].
//!
//! This is the only crate that knows serde's attributes for the resources. Gateway API objects
//! are the `gateway-api` crate's types (experimental channel, a superset of standard), core
//! objects are `k8s-openapi`'s, so file mode and a Kubernetes source share one model. torii's
//! own kinds are `kube` custom resources whose CRDs ([`crd`]) are generated from the same
//! structs.

pub mod crd;
pub mod lb;
pub mod load;
pub mod migration;
pub mod object;
pub mod origin;
mod schema;
pub mod set;
pub mod status;

pub use load::{
    decode_json, is_yaml_file_name, load_paths, locate_field, parse_json_objects, parse_texts,
    parse_yaml, read_paths, Decoded, Kind, LoadError, LoadReport, SourceText, MAX_DOCUMENTS,
    MAX_FILE_BYTES,
};
pub use object::Object;
pub use origin::Origin;
pub use set::{object_key, Located, ObjectKey, ResourceSet};

/// Re-exported wire types, so downstream crates name one path.
pub mod wire {
    pub use gateway_api::experimental::gatewayclasses::GatewayClass;
    pub use gateway_api::experimental::gateways::Gateway;
    pub use gateway_api::experimental::grpcroutes::GrpcRoute;
    pub use gateway_api::experimental::httproutes::HttpRoute;
    pub use gateway_api::experimental::referencegrants::ReferenceGrant;
    pub use gateway_api::experimental::tcproutes::TcpRoute;
    pub use gateway_api::experimental::tlsroutes::TlsRoute;
    pub use k8s_openapi::api::core::v1::{Namespace, Secret, Service};
    pub use k8s_openapi::api::discovery::v1::EndpointSlice;
    pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    pub use crate::lb::{HealthMonitor, LoadBalancer, OriginPool};
    pub use crate::migration::{Comparison, Rollout};
    pub use crate::status::{
        ComparisonStatus, HealthMonitorStatus, LoadBalancerStatus, OriginPoolStatus, RolloutStatus,
    };

    /// The `gateway-api` crate's modules, for the nested spec types.
    pub use gateway_api::experimental as gateway;
}
