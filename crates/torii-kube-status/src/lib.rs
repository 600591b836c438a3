//! Kubernetes mode's writes: leader election with a `coordination.k8s.io/v1` Lease
//! ([`Leadership`]) and the status writer ([`StatusWriter`]) that reports on the API server's
//! objects what torii serves — GatewayClass and Gateway conditions and addresses, route
//! `status.parents` entries of torii's controller, and the status of torii's own kinds.
//!
//! Every replica serves; only the leader writes. The writer runs in a task of its own fed by
//! `watch` channels of the latest desired state, so it never holds the apply loop or the data
//! plane, and writes only what changed (an unchanged status is never rewritten).

mod desired;
mod lease;
mod writer;

pub use lease::{identity, Leadership, LeaseOptions};
pub use writer::{RuntimeStatus, StatusWriter, WriterOptions};
