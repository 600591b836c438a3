//! Fuzzes the authoritative DNS responder (`torii_dns::DnsHandle::respond`, the code both the
//! UDP loop and the TCP handler run) on raw messages: header, question name, extra records,
//! OPT and EDNS Client Subnet, over UDP and TCP.
//!
//! - No panic.
//! - Messages shorter than a header and responses are dropped; everything else is answered.
//! - Every answer is a DNS message hickory-proto parses, with the query's id and opcode, QR
//!   set (RFC 1035 §4.1.1), the question echoed when the query had exactly one that parsed,
//!   and, over UDP, within 512 bytes without EDNS or the advertised payload with it
//!   (RFC 1035 §4.2.1, RFC 6891 §6.2.5); TC only over UDP, and a truncated answer is empty.

#![no_main]

use hickory_proto::op::{Message, MessageType};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use torii_dns::{
    Addresses, Answer, AnswerSource, DnsHandle, QueryType, Question, Soa, Transport, Zone, ZoneSet,
};

/// Answers by the first label: `none` has no address, `many` has enough to need truncation,
/// names starting with `x` do not exist, everything else has two addresses per family.
struct Source;

impl AnswerSource for Source {
    fn answer(&self, query: &Question<'_>) -> Answer {
        let label = query.name.split('.').next().unwrap_or_default();
        let count = match label {
            "none" => return Answer::NoData,
            "many" => 120,
            l if l.starts_with('x') => return Answer::NameNotFound,
            _ => 2,
        };
        let addrs: Addresses = (0..count)
            .map(|i: u32| match query.query_type {
                QueryType::A => IpAddr::from((0xc000_0200 + i).to_be_bytes()),
                QueryType::Aaaa => {
                    IpAddr::from((0x2001_0db8_u128 << 96 | u128::from(i)).to_be_bytes())
                }
            })
            .collect();
        Answer::Addresses {
            addrs,
            ttl: 30,
            ecs_scope: query.client_subnet.map(|s| s.source_prefix.min(24)),
        }
    }
}

/// The payload size the responder advertises.
const SERVER_PAYLOAD: u16 = 1232;

fn handle() -> &'static DnsHandle {
    static HANDLE: OnceLock<DnsHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let zone = |apex: &str| {
            Zone::new(
                apex,
                Soa::new(format!("ns1.{apex}"), format!("hostmaster.{apex}")),
                vec![format!("ns1.{apex}"), format!("ns2.{apex}")],
            )
        };
        let zones = ZoneSet::new([zone("example.com"), zone("glb.example.org"), zone("a.b.c")])
            .expect("valid zones");
        DnsHandle::detached(zones, Arc::new(Source), SERVER_PAYLOAD)
    })
}

fuzz_target!(|data: &[u8]| {
    let client: SocketAddr = "192.0.2.1:5353".parse().expect("an address");
    let query = Message::from_vec(data).ok();
    let mut out = Vec::new();
    for transport in [Transport::Udp, Transport::Tcp] {
        let answered = handle().respond(data, client, transport, &mut out);
        if data.len() < 12 || data[2] & 0x80 != 0 {
            assert!(!answered, "answered a response or a short message");
            continue;
        }
        assert!(answered, "dropped a query");
        let response = match Message::from_vec(&out) {
            Ok(response) => response,
            Err(error) => panic!("{transport:?} answer does not parse ({error}): {out:?}"),
        };
        let meta = &response.metadata;
        assert_eq!(out[..2], data[..2], "id");
        assert_eq!(meta.message_type, MessageType::Response);
        assert_eq!(out[2] & 0x78, data[2] & 0x78, "opcode");
        if transport == Transport::Udp {
            // RFC 6891 §6.2.5: at most the requestor's payload size (512 at least), and
            // at most ours; 512 without EDNS (RFC 1035 §4.2.1).
            let client_payload = query
                .as_ref()
                .and_then(|q| q.edns.as_ref())
                .map(|e| e.max_payload());
            let limit = match (&response.edns, client_payload) {
                (Some(_), Some(payload)) => usize::from(payload.clamp(512, SERVER_PAYLOAD)),
                (Some(_), None) => usize::from(SERVER_PAYLOAD),
                (None, _) => 512,
            };
            assert!(out.len() <= limit, "UDP answer of {} bytes", out.len());
            if meta.truncation {
                assert!(response.answers.is_empty(), "truncated but not empty");
            }
        } else {
            assert!(!meta.truncation, "TC over TCP");
        }
        if let Some(query) = &query {
            if query.queries.len() == 1 && !response.queries.is_empty() {
                assert_eq!(response.queries, query.queries, "question not echoed");
            }
        }
    }
});
