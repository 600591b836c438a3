//! Torii's domain model: what translation produces from resources and what the proxy runs.
//!
//! Every value here is valid once built (parse, don't validate). Nothing here does I/O and
//! nothing here knows the wire formats; `torii-translate` builds a [`Config`] and a
//! [`status::StatusReport`] from resources, `torii-routing` compiles the routes for lookup and
//! `torii-proxy` turns the whole into runtime objects.

pub mod backend;
pub mod hostname;
pub mod http_route;
pub mod ids;
pub mod lb;
pub mod listener;
pub mod migration;
pub mod status;

pub use backend::{
    AppProtocol, Backend, BackendId, BackendTarget, Endpoint, HostEndpoint, WeightedTarget,
};
pub use hostname::{HostnameMatch, InvalidHostname};
pub use http_route::*;
pub use ids::{GatewayId, ListenerId, RouteId, RouteKind};
pub use lb::{
    AffinityFailover, AffinityKey, FailoverPolicy, HashKey, HealthMonitor, InvalidStatusCodes,
    LoadBalancer, LoadBalancerId, Location, MonitorId, MonitorProtocol, NotificationSink,
    NotificationTarget, Origin, OriginAddress, OriginBalancing, OriginPool, OutlierDetection,
    PoolId, SessionAffinity, SmtpTls, StatusCodes, Steering,
};
pub use listener::{
    ListenerConfig, ListenerProtocol, PortConfig, PortProtocol, TcpRoute, TcpRouteAttachment,
    TlsCertificate, TlsRoute, TlsRouteAttachment,
};
pub use migration::{
    CompareSettings, Comparison, MigrationId, Rollout, RolloutAffinity, RolloutAnalysis,
    RolloutStep, RuleMigration,
};

use std::collections::BTreeMap;
use std::sync::Arc;

/// One complete, consistent configuration: everything the data plane serves.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// One entry per socket to bind (address and port), with the listeners that share it.
    pub ports: Vec<PortConfig>,
    /// Every backend referenced by a route, by id.
    pub backends: BTreeMap<BackendId, Arc<Backend>>,
    /// Every `OriginPool`, by id (referenced by routes or load balancers, or not).
    pub pools: BTreeMap<PoolId, Arc<OriginPool>>,
    /// Every `LoadBalancer`, by id.
    pub load_balancers: BTreeMap<LoadBalancerId, Arc<LoadBalancer>>,
    /// Every accepted `Comparison`, by id (also attached to the rules it targets).
    pub comparisons: BTreeMap<MigrationId, Arc<Comparison>>,
    /// Every accepted `Rollout`, by id (also attached to the rules it targets).
    pub rollouts: BTreeMap<MigrationId, Arc<Rollout>>,
}
