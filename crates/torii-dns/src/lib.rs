//! Authoritative DNS responder for DNS-based global load-balancer steering.
//!
//! torii answers A/AAAA queries for load-balancer hostnames with the healthy origins chosen by
//! the steering engine, which implements [`AnswerSource`]. This crate owns everything else: the
//! served zones ([`ZoneSet`]: apex, SOA, NS), negative answers, EDNS and Client Subnet, UDP
//! truncation and TCP. It knows nothing of torii's config; the integrator adapts.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use torii_dns::*;
//! # async fn demo(source: Arc<dyn AnswerSource>) -> Result<(), DnsError> {
//! let zone = Zone::new(
//!     "glb.example.com",
//!     Soa::new("ns1.example.com", "hostmaster.example.com"),
//!     vec!["ns1.example.com".into()],
//! );
//! let server = DnsServer::bind(
//!     "127.0.0.1:5353".parse().unwrap(),
//!     ZoneSet::new([zone])?,
//!     source,
//!     DnsOptions::default(),
//! )?;
//! let handle = server.handle(); // handle.update_zones(..) on reload
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! server.run(shutdown).await
//! # }
//! ```
//!
//! # Semantics
//!
//! - A name under no served zone (longest apex match, case-insensitive): REFUSED, no AA.
//! - Apex: SOA and NS answered from the zone (AA); A/AAAA from the source (NODATA when it has
//!   none); any other type NODATA.
//! - Below the apex: A/AAAA from the source: addresses (AA, the source's TTL), NODATA or
//!   NXDOMAIN. Other types: NODATA if [`AnswerSource::name_exists`], else NXDOMAIN.
//! - NXDOMAIN and NODATA carry the zone SOA in the authority section, with TTL
//!   `min(soa_ttl, minimum)` (RFC 2308).
//! - ANY (RFC 8482): one RRset: the SOA at the apex, the A (else AAAA) set below it.
//! - AXFR/IXFR and classes other than IN: REFUSED. TSIG/TKEY/MAILA/MAILB: NOTIMP. Opcodes
//!   other than QUERY: NOTIMP. Malformed queries: FORMERR; messages shorter than a header and
//!   responses: dropped.
//! - EDNS: OPT echoed with our payload size ([`DnsOptions::max_udp_payload`]); version other
//!   than 0: BADVERS. Client Subnet (RFC 7871) is validated (FORMERR if invalid), handed to the
//!   source and echoed with the source's scope (0 for answers not tailored to the subnet).
//! - UDP responses fit `max(512, min(client payload, our payload))` (512 without EDNS); an
//!   answer that does not fit is sent empty with TC set, so the client retries over TCP.
//! - Minimal responses: no NS in the authority section and no additional glue.
//!
//! # Transports
//!
//! UDP is served by an inline loop per `SO_REUSEPORT` socket (no task or allocation per
//! query); TCP by hickory-server's [`Server`](hickory_server::Server) with a request handler
//! over the same responder ([`UdpEngine::Hickory`] serves UDP that way too, for comparison).
//! hickory-server logs every TCP request at INFO under the `hickory_server` target: filter it
//! (`hickory_server=warn`) in the binary's subscriber.

mod error;
mod metrics;
mod responder;
mod server;
mod source;
mod wire;
mod zone;

pub use error::DnsError;
pub use metrics::{DnsMetrics, MetricsSnapshot};
pub use server::{DnsHandle, DnsOptions, DnsServer, UdpEngine};
pub use source::{
    Addresses, Answer, AnswerSource, ClientSubnet, EmptySource, QueryType, Question, Transport,
};
pub use zone::{Soa, Zone, ZoneSet};

/// Re-exported so that integrators need not depend on tokio-util for the shutdown token.
pub use tokio_util::sync::CancellationToken;
