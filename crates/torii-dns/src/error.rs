//! Errors of configuration and sockets.

use std::{io, net::SocketAddr};

/// An error building a zone set or running the DNS server.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// A configured name is not a valid DNS name.
    #[error("invalid DNS name {name:?}: {reason}")]
    InvalidName {
        /// The name as configured.
        name: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Two zones have the same apex.
    #[error("zone {0:?} is configured twice")]
    DuplicateZone(String),
    /// A zone has no NS record.
    #[error("zone {0:?} has no NS record")]
    NoNameServers(String),
    /// A server option is out of range.
    #[error("invalid DNS server option: {0}")]
    InvalidOption(String),
    /// A socket could not be created or bound.
    #[error("cannot bind DNS {transport} socket on {addr}: {source}")]
    Bind {
        /// "udp" or "tcp".
        transport: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// A socket failed while serving.
    #[error("DNS {transport} socket failed: {source}")]
    Io {
        /// "udp" or "tcp".
        transport: &'static str,
        /// The OS error.
        source: io::Error,
    },
}
