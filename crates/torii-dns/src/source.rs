//! The contract with the steering engine: [`AnswerSource`] answers A/AAAA questions for names
//! inside the served zones; everything else (SOA, NS, negative answers, other types) is the
//! responder's job.

use std::net::{IpAddr, SocketAddr};

use smallvec::SmallVec;

/// The address family asked for. Only A and AAAA reach an [`AnswerSource`]; the responder
/// handles every other type itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryType {
    /// IPv4 addresses (type A).
    A,
    /// IPv6 addresses (type AAAA).
    Aaaa,
}

/// The transport a query arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP (answers may be truncated to the client's payload size).
    Udp,
    /// TCP (length-prefixed, never truncated).
    Tcp,
}

/// An EDNS Client Subnet (RFC 7871) carried by the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientSubnet {
    /// The client's network: the query's address bytes, zero-padded to a full address.
    pub addr: IpAddr,
    /// How many leading bits of `addr` the client disclosed (SOURCE PREFIX-LENGTH).
    pub source_prefix: u8,
}

/// One A or AAAA question, as handed to an [`AnswerSource`].
#[derive(Debug, Clone, Copy)]
pub struct Question<'a> {
    /// The queried name: lowercase ASCII, labels separated by dots, no trailing dot.
    pub name: &'a str,
    /// The apex of the served zone that contains `name` (same form as `name`).
    pub zone: &'a str,
    /// A or AAAA.
    pub query_type: QueryType,
    /// The UDP or TCP peer the query came from (an IPv4-mapped IPv6 address is given as IPv4).
    pub client: SocketAddr,
    /// The EDNS Client Subnet of the query, if it had a valid one.
    pub client_subnet: Option<ClientSubnet>,
    /// UDP or TCP.
    pub transport: Transport,
}

impl Question<'_> {
    /// The address to steer by: the client subnet's address when the query carried one,
    /// otherwise the peer address.
    pub fn steering_addr(&self) -> IpAddr {
        match self.client_subnet {
            Some(subnet) => subnet.addr,
            None => self.client.ip(),
        }
    }
}

/// The addresses of one answer. Up to eight are stored inline (no allocation).
pub type Addresses = SmallVec<[IpAddr; 8]>;

/// What an [`AnswerSource`] says about a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The name exists and has these addresses. Addresses of the other family than the one
    /// asked for are ignored; if none is left the response is NODATA.
    Addresses {
        /// The chosen (healthy, steered) origins.
        addrs: Addresses,
        /// TTL of the A/AAAA records, in seconds.
        ttl: u32,
        /// The ECS SCOPE PREFIX-LENGTH to echo back (RFC 7871 §7.2.1): how many bits of the
        /// client subnet the choice depended on. `None` is echoed as 0 (valid for every client).
        ecs_scope: Option<u8>,
    },
    /// The name exists but has no address of this family (NOERROR with an empty answer).
    NoData,
    /// The name does not exist in the zone, nor does any name below it (NXDOMAIN).
    NameNotFound,
}

/// The source of A/AAAA answers: the steering engine implements this; tests use a fake.
///
/// Called on the hot path for every A/AAAA query (and, through
/// [`name_exists`](AnswerSource::name_exists), for other types below the apex): it must not
/// block, and should not allocate for answers of up to eight addresses.
pub trait AnswerSource: Send + Sync + 'static {
    /// Answers an A or AAAA question for a name inside a served zone.
    fn answer(&self, query: &Question<'_>) -> Answer;

    /// Whether `query.name` exists at all (used to tell NODATA from NXDOMAIN for types other
    /// than A/AAAA). `query.query_type` is [`QueryType::A`]. The default asks
    /// [`answer`](AnswerSource::answer).
    fn name_exists(&self, query: &Question<'_>) -> bool {
        !matches!(self.answer(query), Answer::NameNotFound)
    }
}

/// A source that knows no name: every name below an apex is NXDOMAIN.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptySource;

impl AnswerSource for EmptySource {
    fn answer(&self, _query: &Question<'_>) -> Answer {
        Answer::NameNotFound
    }
}
