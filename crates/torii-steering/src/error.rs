//! What can be wrong when building runtimes.

use torii_config::{LoadBalancerId, PoolId};

/// A problem found while building a runtime. Building never panics: a
/// [`crate::LoadBalancerRuntime`] with problems still serves with what it has and lists them
/// in [`crate::LoadBalancerRuntime::problems`], for status conditions and logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SteeringError {
    /// [`crate::PoolRuntime::new`] got a number of states different from the number of origins.
    #[error("pool {pool}: {states} origin states given for {origins} origins")]
    StateCount {
        /// The pool.
        pool: PoolId,
        /// Its origins.
        origins: usize,
        /// The states given.
        states: usize,
    },
    /// A load balancer names a pool the lookup does not know; the pool is left out.
    #[error("load balancer {lb}: pool {pool} is not defined")]
    MissingPool {
        /// The load balancer.
        lb: LoadBalancerId,
        /// The unknown pool.
        pool: PoolId,
    },
    /// A load balancer has no pool at all: every pick fails.
    #[error("load balancer {lb} has no pool")]
    NoPools {
        /// The load balancer.
        lb: LoadBalancerId,
    },
    /// A load balancer names more pools than a runtime indexes (65,535); the rest are left out.
    #[error("load balancer {lb} names more than 65535 pools")]
    TooManyPools {
        /// The load balancer.
        lb: LoadBalancerId,
    },
}
