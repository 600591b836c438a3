//! TLS for torii's listeners, without sockets.
//!
//! - [`server_config`] builds the rustls [`rustls::ServerConfig`] of one TLS port: the
//!   certificates of its terminating listeners, loaded once and chosen per handshake by SNI.
//! - [`peek_client_hello`] reads the SNI from the first bytes of a connection, so the proxy
//!   can choose between passthrough and termination ([`sni_listener_index`]) before any TLS
//!   stack consumes them.
//! - [`check_certificate`] lets configuration checks refuse a Secret that could not serve.

mod certificate;
mod peek;
mod resolver;
mod server_config;
mod sni;

pub use certificate::{check_certificate, InvalidCertificate};
pub use peek::{peek_client_hello, ClientHelloPeek, MAX_CLIENT_HELLO_BYTES};
pub use server_config::{server_config, Alpn, TlsError};
pub use sni::sni_listener_index;

#[cfg(test)]
#[path = "../tests/support/mod.rs"]
mod test_support;
