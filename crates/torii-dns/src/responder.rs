//! The responder: query bytes in, response bytes out. Transport-independent and synchronous;
//! the UDP loop and the TCP handler both call [`Responder::respond`].

use std::{net::SocketAddr, sync::Arc};

use arc_swap::ArcSwap;

use crate::{
    metrics::DnsMetrics,
    source::{Addresses, Answer, AnswerSource, QueryType, Question, Transport},
    wire::{self, rcode, rtype, AnswerRecords, ParseError, Query, Reply},
    zone::{CompiledZone, ZoneSet},
};

/// What queries are answered from. Zones and source are swapped together so that a reload
/// never pairs new zones with an old source.
pub(crate) struct Catalog {
    pub(crate) zones: Arc<ZoneSet>,
    pub(crate) source: Arc<dyn AnswerSource>,
}

/// Shared state of a running server.
pub(crate) struct Responder {
    pub(crate) catalog: ArcSwap<Catalog>,
    pub(crate) metrics: DnsMetrics,
    /// The UDP payload size we advertise and cap UDP responses at.
    pub(crate) server_payload: u16,
}

/// The data part of an authoritative answer.
enum Data {
    Addresses {
        rtype: u16,
        ttl: u32,
        addrs: Addresses,
        scope: u8,
    },
    Soa,
    Ns,
}

/// The decision for one query.
enum Outcome<'z> {
    /// A non-authoritative error (REFUSED, NOTIMP, FORMERR, BADVERS).
    Error(u16),
    /// Positive authoritative answer.
    Answer {
        zone: &'z CompiledZone,
        apex_offset: usize,
        data: Data,
    },
    /// NXDOMAIN or NODATA with the zone's SOA in the authority section.
    Negative {
        zone: &'z CompiledZone,
        apex_offset: usize,
        nxdomain: bool,
    },
}

impl Responder {
    pub(crate) fn new(zones: ZoneSet, source: Arc<dyn AnswerSource>, server_payload: u16) -> Self {
        Responder {
            catalog: ArcSwap::from_pointee(Catalog {
                zones: Arc::new(zones),
                source,
            }),
            metrics: DnsMetrics::default(),
            server_payload,
        }
    }

    /// Answers one DNS message from `client`. Writes the response into `out` and returns true, or returns
    /// false when the message is to be dropped. Never panics on any input.
    pub(crate) fn respond(
        &self,
        msg: &[u8],
        client: SocketAddr,
        transport: Transport,
        out: &mut Vec<u8>,
    ) -> bool {
        self.metrics.query(transport);
        // A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d; steer on the IPv4 address.
        let client = SocketAddr::new(client.ip().to_canonical(), client.port());
        let query = match wire::parse(msg) {
            Ok(query) => query,
            Err(ParseError::Drop) => {
                self.metrics.dropped();
                return false;
            }
            Err(ParseError::NotImp { question_len }) => {
                wire::write_error(msg, rcode::NOTIMP, question_len, out);
                self.metrics.response(rcode::NOTIMP, false, false);
                return true;
            }
            Err(ParseError::FormErr { question_len }) => {
                wire::write_error(msg, rcode::FORMERR, question_len, out);
                self.metrics.response(rcode::FORMERR, false, false);
                return true;
            }
        };
        if query.edns.as_ref().is_some_and(|e| e.ecs.is_some()) {
            self.metrics.ecs();
        }

        let catalog = self.catalog.load();
        let outcome = decide(&catalog, &query, client, transport);
        let reply = match &outcome {
            Outcome::Error(code) => Reply {
                rcode: *code,
                authoritative: false,
                answers: AnswerRecords::None,
                negative_soa: None,
                apex_offset: 0,
                ecs_scope: 0,
            },
            Outcome::Answer {
                zone,
                apex_offset,
                data,
            } => {
                let (answers, scope) = match data {
                    Data::Addresses {
                        rtype,
                        ttl,
                        addrs,
                        scope,
                    } => (
                        AnswerRecords::Addresses {
                            rtype: *rtype,
                            ttl: *ttl,
                            addrs,
                        },
                        *scope,
                    ),
                    Data::Soa => (AnswerRecords::Soa(zone), 0),
                    Data::Ns => (AnswerRecords::Ns(zone), 0),
                };
                Reply {
                    rcode: rcode::NOERROR,
                    authoritative: true,
                    answers,
                    negative_soa: None,
                    apex_offset: *apex_offset,
                    ecs_scope: scope,
                }
            }
            Outcome::Negative {
                zone,
                apex_offset,
                nxdomain,
            } => Reply {
                rcode: if *nxdomain {
                    rcode::NXDOMAIN
                } else {
                    rcode::NOERROR
                },
                authoritative: true,
                answers: AnswerRecords::None,
                negative_soa: Some(zone),
                apex_offset: *apex_offset,
                ecs_scope: 0,
            },
        };

        let limit = match (transport, &query.edns) {
            (Transport::Tcp, _) => wire::MAX_MESSAGE,
            (Transport::Udp, Some(edns)) => {
                usize::from(edns.payload.min(self.server_payload)).max(512)
            }
            (Transport::Udp, None) => 512,
        };
        let truncated = wire::write_response(&query, &reply, limit, self.server_payload, out);
        let nodata = matches!(
            outcome,
            Outcome::Negative {
                nxdomain: false,
                ..
            }
        );
        self.metrics.response(reply.rcode, nodata, truncated);
        true
    }
}

/// The semantics: which zone, which answer.
fn decide<'z>(
    catalog: &'z Catalog,
    query: &Query<'_>,
    client: SocketAddr,
    transport: Transport,
) -> Outcome<'z> {
    if query.edns.as_ref().is_some_and(|e| e.version != 0) {
        return Outcome::Error(rcode::BADVERS);
    }
    if query.qclass != rtype::CLASS_IN {
        return Outcome::Error(rcode::REFUSED);
    }
    match query.qtype {
        rtype::OPT => return Outcome::Error(rcode::FORMERR),
        rtype::AXFR | rtype::IXFR => return Outcome::Error(rcode::REFUSED),
        rtype::TKEY | rtype::TSIG | rtype::MAILA | rtype::MAILB => {
            return Outcome::Error(rcode::NOTIMP)
        }
        _ => {}
    }
    let Some((zone, apex_offset)) = catalog
        .zones
        .find(query.name.bytes(), query.name.apex_candidates())
    else {
        return Outcome::Error(rcode::REFUSED);
    };
    let negative = |nxdomain| Outcome::Negative {
        zone,
        apex_offset,
        nxdomain,
    };
    let answer = |data| Outcome::Answer {
        zone,
        apex_offset,
        data,
    };
    let at_apex = apex_offset == 0;
    // Below the apex, a name that is not plain ASCII cannot be a load-balancer hostname.
    let Some(name) = query.name.as_str() else {
        return negative(true);
    };
    let ask = |query_type| {
        catalog.source.answer(&Question {
            name,
            zone: &zone.apex,
            query_type,
            client,
            client_subnet: query
                .edns
                .as_ref()
                .and_then(|e| e.ecs)
                .map(|ecs| ecs.client_subnet()),
            transport,
        })
    };
    // Turns a source answer into an outcome; `None` when it has no address of the family.
    let addresses = |reply: Answer, query_type| match reply {
        Answer::Addresses {
            addrs,
            ttl,
            ecs_scope,
        } => {
            let (rtype, v4) = match query_type {
                QueryType::A => (rtype::A, true),
                QueryType::Aaaa => (rtype::AAAA, false),
            };
            if addrs.iter().any(|a| a.is_ipv4() == v4) {
                Some(answer(Data::Addresses {
                    rtype,
                    ttl,
                    addrs,
                    scope: ecs_scope.unwrap_or(0),
                }))
            } else {
                None
            }
        }
        _ => None,
    };

    match query.qtype {
        rtype::A | rtype::AAAA => {
            let query_type = if query.qtype == rtype::A {
                QueryType::A
            } else {
                QueryType::Aaaa
            };
            let reply = ask(query_type);
            let not_found = matches!(reply, Answer::NameNotFound);
            addresses(reply, query_type).unwrap_or_else(|| negative(not_found && !at_apex))
        }
        rtype::SOA if at_apex => answer(Data::Soa),
        rtype::NS if at_apex => answer(Data::Ns),
        // RFC 8482: answer ANY with one RRset: the SOA at the apex, the A (else AAAA) set below.
        rtype::ANY if at_apex => answer(Data::Soa),
        rtype::ANY => {
            let reply = ask(QueryType::A);
            if matches!(reply, Answer::NameNotFound) {
                return negative(true);
            }
            addresses(reply, QueryType::A)
                .or_else(|| addresses(ask(QueryType::Aaaa), QueryType::Aaaa))
                .unwrap_or_else(|| negative(false))
        }
        _ if at_apex => negative(false),
        _ => {
            let exists = catalog.source.name_exists(&Question {
                name,
                zone: &zone.apex,
                query_type: QueryType::A,
                client,
                client_subnet: query
                    .edns
                    .as_ref()
                    .and_then(|e| e.ecs)
                    .map(|ecs| ecs.client_subnet()),
                transport,
            });
            negative(!exists)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{
        net::{IpAddr, Ipv4Addr, Ipv6Addr},
        str::FromStr,
        sync::Mutex,
    };

    use hickory_proto::{
        op::{Edns, Message, OpCode, Query as HQuery, ResponseCode},
        rr::{
            rdata::opt::{ClientSubnet as HSubnet, EdnsOption},
            DNSClass, Name, RData, RecordType,
        },
    };
    use smallvec::smallvec;

    use super::*;
    use crate::{
        source::ClientSubnet,
        zone::{Soa, Zone},
    };

    const CLIENT: &str = "127.0.0.9:5300";

    /// Name, type, peer and subnet of a question.
    type Seen = (String, QueryType, SocketAddr, Option<ClientSubnet>);

    /// A fake steering engine; remembers the last question.
    #[derive(Default)]
    struct Fake {
        last: Mutex<Option<Seen>>,
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    impl AnswerSource for Fake {
        fn answer(&self, q: &Question<'_>) -> Answer {
            *self.last.lock().unwrap() =
                Some((q.name.to_owned(), q.query_type, q.client, q.client_subnet));
            match q.name {
                "www.glb.example" => Answer::Addresses {
                    addrs: smallvec![
                        v4(192, 0, 2, 1),
                        IpAddr::V6(Ipv6Addr::from_str("2001:db8::1").unwrap()),
                        v4(192, 0, 2, 2),
                    ],
                    ttl: 30,
                    ecs_scope: None,
                },
                "v4only.glb.example" => Answer::Addresses {
                    addrs: smallvec![v4(192, 0, 2, 7)],
                    ttl: 20,
                    ecs_scope: None,
                },
                "geo.glb.example" => {
                    let european =
                        matches!(q.steering_addr(), IpAddr::V4(a) if a.octets()[0] == 10);
                    Answer::Addresses {
                        addrs: smallvec![if european {
                            v4(192, 0, 2, 10)
                        } else {
                            v4(192, 0, 2, 20)
                        }],
                        ttl: 15,
                        ecs_scope: Some(8),
                    }
                }
                "big.glb.example" => Answer::Addresses {
                    addrs: (0..100).map(|i| v4(198, 51, 100, i)).collect(),
                    ttl: 5,
                    ecs_scope: None,
                },
                "empty.glb.example" => Answer::NoData,
                _ => Answer::NameNotFound,
            }
        }
    }

    fn zones() -> ZoneSet {
        let mut zone = Zone::new(
            "glb.example",
            Soa::new("ns1.glb.example", "hostmaster.glb.example"),
            vec!["ns1.glb.example".into(), "ns2.other.example".into()],
        );
        zone.soa.serial = 42;
        zone.soa.minimum = 60;
        zone.soa_ttl = 600;
        zone.ns_ttl = 900;
        ZoneSet::new([zone]).unwrap()
    }

    fn responder() -> (Responder, Arc<Fake>) {
        let fake = Arc::new(Fake::default());
        (Responder::new(zones(), fake.clone(), 1232), fake)
    }

    fn query_msg(name: &str, rtype: RecordType, edns: Option<Edns>) -> Message {
        let mut m = Message::query();
        m.metadata.id = 0xBEEF;
        m.metadata.recursion_desired = true;
        m.add_query(HQuery::query(Name::from_ascii(name).unwrap(), rtype));
        if let Some(e) = edns {
            m.set_edns(e);
        }
        m
    }

    fn query(name: &str, rtype: RecordType) -> Vec<u8> {
        query_msg(name, rtype, None).to_vec().unwrap()
    }

    fn edns(payload: u16, subnet: Option<HSubnet>) -> Edns {
        let mut e = Edns::new();
        e.set_max_payload(payload);
        if let Some(s) = subnet {
            e.options_mut().insert(EdnsOption::Subnet(s));
        }
        e
    }

    fn ask(r: &Responder, msg: &[u8], transport: Transport) -> (Message, usize) {
        let mut out = Vec::new();
        assert!(r.respond(msg, CLIENT.parse().unwrap(), transport, &mut out));
        (
            Message::from_vec(&out).expect("response decodes"),
            out.len(),
        )
    }

    fn udp(r: &Responder, msg: &[u8]) -> Message {
        ask(r, msg, Transport::Udp).0
    }

    fn addrs(m: &Message) -> Vec<String> {
        m.answers
            .iter()
            .map(|r| match &r.data {
                RData::A(a) => a.to_string(),
                RData::AAAA(a) => a.to_string(),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    fn assert_negative(m: &Message, code: ResponseCode) {
        assert_eq!(m.metadata.response_code, code);
        assert!(m.metadata.authoritative);
        assert!(m.answers.is_empty());
        assert_eq!(m.authorities.len(), 1);
        let soa = &m.authorities[0];
        assert_eq!(soa.record_type(), RecordType::SOA);
        assert_eq!(soa.name, Name::from_ascii("glb.example.").unwrap());
        assert_eq!(soa.ttl, 60, "negative TTL is min(SOA TTL, minimum)");
        let RData::SOA(soa) = &soa.data else { panic!() };
        assert_eq!(soa.serial, 42);
        assert_eq!(soa.mname, Name::from_ascii("ns1.glb.example.").unwrap());
    }

    #[test]
    fn a_answer_is_authoritative_with_source_ttl_and_only_v4() {
        let (r, fake) = responder();
        let m = udp(&r, &query("www.glb.example.", RecordType::A));
        assert_eq!(m.metadata.id, 0xBEEF);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.metadata.authoritative);
        assert!(m.metadata.recursion_desired, "RD is copied");
        assert!(!m.metadata.recursion_available);
        assert!(!m.metadata.truncation);
        assert_eq!(addrs(&m), ["192.0.2.1", "192.0.2.2"]);
        assert!(m.answers.iter().all(|a| a.ttl == 30));
        assert_eq!(
            m.answers[0].name,
            Name::from_ascii("www.glb.example.").unwrap()
        );
        assert!(m.authorities.is_empty() && m.additionals.is_empty() && m.edns.is_none());
        let last = fake.last.lock().unwrap().clone().unwrap();
        assert_eq!(last.0, "www.glb.example");
        assert_eq!(last.1, QueryType::A);
        assert_eq!(last.2, CLIENT.parse::<SocketAddr>().unwrap());
        assert_eq!(last.3, None);
    }

    #[test]
    fn v4_mapped_peers_are_given_as_v4() {
        let (r, fake) = responder();
        let mut out = Vec::new();
        let peer: SocketAddr = "[::ffff:10.0.0.1]:5300".parse().unwrap();
        assert!(r.respond(
            &query("www.glb.example.", RecordType::A),
            peer,
            Transport::Udp,
            &mut out
        ));
        let last = fake.last.lock().unwrap().clone().unwrap();
        assert_eq!(last.2, "10.0.0.1:5300".parse::<SocketAddr>().unwrap());
    }

    #[test]
    fn aaaa_answer_and_nodata() {
        let (r, _) = responder();
        let m = udp(&r, &query("www.glb.example.", RecordType::AAAA));
        assert_eq!(addrs(&m), ["2001:db8::1"]);
        // Only v4 origins: NODATA with the SOA.
        assert_negative(
            &udp(&r, &query("v4only.glb.example.", RecordType::AAAA)),
            ResponseCode::NoError,
        );
        assert_negative(
            &udp(&r, &query("empty.glb.example.", RecordType::A)),
            ResponseCode::NoError,
        );
        let snap = r.metrics.snapshot();
        assert_eq!((snap.noerror, snap.nodata), (3, 2));
    }

    #[test]
    fn nxdomain_and_other_types() {
        let (r, _) = responder();
        assert_negative(
            &udp(&r, &query("nope.glb.example.", RecordType::A)),
            ResponseCode::NXDomain,
        );
        // Existing name, type without data.
        assert_negative(
            &udp(&r, &query("www.glb.example.", RecordType::MX)),
            ResponseCode::NoError,
        );
        assert_negative(
            &udp(&r, &query("www.glb.example.", RecordType::TXT)),
            ResponseCode::NoError,
        );
        assert_negative(
            &udp(&r, &query("nope.glb.example.", RecordType::TXT)),
            ResponseCode::NXDomain,
        );
        // SOA/NS below the apex are ordinary types there.
        assert_negative(
            &udp(&r, &query("www.glb.example.", RecordType::SOA)),
            ResponseCode::NoError,
        );
        assert_eq!(r.metrics.snapshot().nxdomain, 2);
    }

    #[test]
    fn refused_outside_zones() {
        let (r, _) = responder();
        for name in ["example.", "other.example.", "xglb.example.", "."] {
            let m = udp(&r, &query(name, RecordType::A));
            assert_eq!(m.metadata.response_code, ResponseCode::Refused, "{name}");
            assert!(!m.metadata.authoritative);
            assert!(m.answers.is_empty() && m.authorities.is_empty());
        }
        assert_eq!(r.metrics.snapshot().refused, 4);
    }

    #[test]
    fn apex_soa_ns_and_address_types() {
        let (r, _) = responder();
        let m = udp(&r, &query("glb.example.", RecordType::SOA));
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.metadata.authoritative);
        assert_eq!(m.answers.len(), 1);
        assert_eq!(m.answers[0].ttl, 600);
        let RData::SOA(soa) = &m.answers[0].data else {
            panic!()
        };
        assert_eq!(
            soa.rname,
            Name::from_ascii("hostmaster.glb.example.").unwrap()
        );
        assert_eq!(
            (soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum),
            (42, 7200, 3600, 1_209_600, 60)
        );

        let m = udp(&r, &query("glb.example.", RecordType::NS));
        assert!(m.metadata.authoritative);
        let ns: Vec<String> = m
            .answers
            .iter()
            .map(|r| {
                assert_eq!(r.ttl, 900);
                assert_eq!(r.name, Name::from_ascii("glb.example.").unwrap());
                r.data.to_string()
            })
            .collect();
        assert_eq!(ns, ["ns1.glb.example.", "ns2.other.example."]);

        // The apex exists even if the source does not know it: NODATA, never NXDOMAIN.
        assert_negative(
            &udp(&r, &query("glb.example.", RecordType::A)),
            ResponseCode::NoError,
        );
        assert_negative(
            &udp(&r, &query("glb.example.", RecordType::MX)),
            ResponseCode::NoError,
        );
    }

    #[test]
    fn names_are_case_insensitive_and_question_case_is_kept() {
        let (r, _) = responder();
        let m = udp(&r, &query("WwW.GLB.Example.", RecordType::A));
        assert_eq!(addrs(&m), ["192.0.2.1", "192.0.2.2"]);
        assert_eq!(m.queries[0].name().to_ascii(), "WwW.GLB.Example.");
        let m = udp(&r, &query("GLB.EXAMPLE.", RecordType::SOA));
        assert_eq!(m.answers.len(), 1);
    }

    #[test]
    fn any_is_minimal() {
        let (r, _) = responder();
        let m = udp(&r, &query("glb.example.", RecordType::ANY));
        assert_eq!(m.answers.len(), 1);
        assert_eq!(m.answers[0].record_type(), RecordType::SOA);
        let m = udp(&r, &query("www.glb.example.", RecordType::ANY));
        assert_eq!(addrs(&m), ["192.0.2.1", "192.0.2.2"]);
        assert_negative(
            &udp(&r, &query("empty.glb.example.", RecordType::ANY)),
            ResponseCode::NoError,
        );
        assert_negative(
            &udp(&r, &query("nope.glb.example.", RecordType::ANY)),
            ResponseCode::NXDomain,
        );
    }

    #[test]
    fn ecs_reaches_the_source_and_is_echoed_with_scope() {
        let (r, fake) = responder();
        let subnet = HSubnet::new(v4(10, 1, 2, 0), 24, 0);
        let msg = query_msg(
            "geo.glb.example.",
            RecordType::A,
            Some(edns(1232, Some(subnet))),
        );
        let m = udp(&r, &msg.to_vec().unwrap());
        assert_eq!(addrs(&m), ["192.0.2.10"]);
        let last = fake.last.lock().unwrap().clone().unwrap();
        assert_eq!(
            last.3,
            Some(ClientSubnet {
                addr: v4(10, 1, 2, 0),
                source_prefix: 24
            })
        );
        let echoed = m
            .edns
            .as_ref()
            .unwrap()
            .options()
            .get(hickory_proto::rr::rdata::opt::EdnsCode::Subnet);
        let Some(EdnsOption::Subnet(echoed)) = echoed else {
            panic!("no ECS echoed: {m:?}")
        };
        assert_eq!(
            (echoed.addr(), echoed.source_prefix(), echoed.scope_prefix()),
            (v4(10, 1, 2, 0), 24, 8)
        );
        assert_eq!(m.edns.as_ref().unwrap().max_payload(), 1232);

        // Another subnet steers elsewhere; no ECS steers by the peer address.
        let subnet = HSubnet::new(v4(172, 16, 0, 0), 16, 0);
        let msg = query_msg(
            "geo.glb.example.",
            RecordType::A,
            Some(edns(1232, Some(subnet))),
        );
        assert_eq!(addrs(&udp(&r, &msg.to_vec().unwrap())), ["192.0.2.20"]);
        // Source prefix 0 (client opted out): scope must be 0.
        let subnet = HSubnet::new(v4(0, 0, 0, 0), 0, 0);
        let msg = query_msg(
            "geo.glb.example.",
            RecordType::A,
            Some(edns(1232, Some(subnet))),
        );
        let m = udp(&r, &msg.to_vec().unwrap());
        let Some(EdnsOption::Subnet(echoed)) = m
            .edns
            .as_ref()
            .unwrap()
            .options()
            .get(hickory_proto::rr::rdata::opt::EdnsCode::Subnet)
        else {
            panic!()
        };
        assert_eq!((echoed.source_prefix(), echoed.scope_prefix()), (0, 0));
        // Negative answers echo scope 0.
        let subnet = HSubnet::new(v4(10, 1, 2, 0), 24, 0);
        let msg = query_msg(
            "nope.glb.example.",
            RecordType::A,
            Some(edns(1232, Some(subnet))),
        );
        let m = udp(&r, &msg.to_vec().unwrap());
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        let Some(EdnsOption::Subnet(echoed)) = m
            .edns
            .as_ref()
            .unwrap()
            .options()
            .get(hickory_proto::rr::rdata::opt::EdnsCode::Subnet)
        else {
            panic!()
        };
        assert_eq!(echoed.scope_prefix(), 0);
        assert_eq!(r.metrics.snapshot().ecs, 4);
    }

    /// A query for `www.glb.example A` with an OPT record holding `options` raw.
    fn raw_with_opt(version: u8, options: &[u8]) -> Vec<u8> {
        let mut msg = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
        msg.extend_from_slice(b"\x03www\x03glb\x07example\x00\x00\x01\x00\x01");
        msg.extend_from_slice(&[0, 0, 41, 0x04, 0xD0, 0, version, 0, 0]);
        msg.extend_from_slice(&(options.len() as u16).to_be_bytes());
        msg.extend_from_slice(options);
        msg
    }

    #[test]
    fn invalid_ecs_is_formerr() {
        let (r, _) = responder();
        let mut out = Vec::new();
        let client = CLIENT.parse().unwrap();
        // Valid: family 1, /20, 3 address bytes with the low 4 bits of the last zero.
        let valid = raw_with_opt(0, &[0, 8, 0, 7, 0, 1, 20, 0, 10, 1, 0x10]);
        assert!(r.respond(&valid, client, Transport::Udp, &mut out));
        assert_eq!(out[3] & 0xF, 0, "valid ECS accepted");
        let bad = [
            vec![0, 8, 0, 7, 0, 1, 20, 0, 10, 1, 0x11], // bits past the prefix
            vec![0, 8, 0, 7, 0, 1, 20, 4, 10, 1, 0x10], // non-zero scope in a query
            vec![0, 8, 0, 6, 0, 1, 20, 0, 10, 1],       // too few address bytes
            vec![0, 8, 0, 8, 0, 1, 33, 0, 1, 2, 3, 4],  // prefix longer than the family
            vec![0, 8, 0, 4, 0, 3, 0, 0],               // unknown family
            vec![0, 8, 0, 9, 0, 1, 20],                 // option longer than the RDATA
        ];
        for options in bad {
            let msg = raw_with_opt(0, &options);
            assert!(r.respond(&msg, client, Transport::Udp, &mut out));
            assert_eq!(out[3] & 0xF, 1, "FORMERR for {options:?}");
            assert_eq!(&out[..2], &[0x12, 0x34]);
        }
        // Unknown options (a cookie) are ignored.
        let msg = raw_with_opt(0, &[0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
        let m = udp(&r, &msg);
        assert_eq!(addrs(&m), ["192.0.2.1", "192.0.2.2"]);
    }

    #[test]
    fn edns_version_1_is_badvers() {
        let (r, _) = responder();
        let m = udp(&r, &raw_with_opt(1, &[]));
        // 16 is BADVERS in an OPT context (hickory names it BADSIG).
        assert_eq!(u16::from(m.metadata.response_code), 16);
        assert!(m.answers.is_empty());
        assert_eq!(m.edns.as_ref().unwrap().version(), 0);
        assert_eq!(r.metrics.snapshot().badvers, 1);
    }

    #[test]
    fn truncation_follows_payload_size() {
        let (r, _) = responder();
        // 100 A records = 1600 bytes of answers.
        let plain = query("big.glb.example.", RecordType::A);
        let (m, len) = ask(&r, &plain, Transport::Udp);
        assert!(m.metadata.truncation);
        assert!(m.answers.is_empty());
        assert!(len <= 512);
        assert_eq!(m.queries.len(), 1);

        let (m, len) = ask(&r, &plain, Transport::Tcp);
        assert!(!m.metadata.truncation);
        assert_eq!(m.answers.len(), 100);
        assert!(len > 1600);

        // EDNS 4096 from the client is capped at our 1232.
        let big = query_msg("big.glb.example.", RecordType::A, Some(edns(4096, None)));
        let (m, len) = ask(&r, &big.to_vec().unwrap(), Transport::Udp);
        assert!(m.metadata.truncation && m.answers.is_empty() && len <= 1232);
        assert!(m.edns.is_some(), "OPT kept in a truncated response");

        // With a 4096 server payload the whole answer fits.
        let r2 = Responder::new(zones(), Arc::new(Fake::default()), 4096);
        let (m, _) = ask(&r2, &big.to_vec().unwrap(), Transport::Udp);
        assert!(!m.metadata.truncation);
        assert_eq!(m.answers.len(), 100);
        assert_eq!(r.metrics.snapshot().truncated, 2);
    }

    #[test]
    fn unsupported_queries() {
        let (r, _) = responder();
        let mut msg = query_msg("www.glb.example.", RecordType::A, None);
        msg.queries[0].set_query_class(DNSClass::CH);
        assert_eq!(
            udp(&r, &msg.to_vec().unwrap()).metadata.response_code,
            ResponseCode::Refused
        );
        assert_eq!(
            udp(&r, &query("glb.example.", RecordType::AXFR))
                .metadata
                .response_code,
            ResponseCode::Refused
        );
        assert_eq!(
            udp(&r, &query("glb.example.", RecordType::IXFR))
                .metadata
                .response_code,
            ResponseCode::Refused
        );
        assert_eq!(
            udp(&r, &query("glb.example.", RecordType::TSIG))
                .metadata
                .response_code,
            ResponseCode::NotImp
        );
        let mut msg = query_msg("www.glb.example.", RecordType::A, None);
        msg.metadata.op_code = OpCode::Notify;
        let m = udp(&r, &msg.to_vec().unwrap());
        assert_eq!(m.metadata.response_code, ResponseCode::NotImp);
        assert_eq!(m.metadata.op_code, OpCode::Notify);
    }

    #[test]
    fn odd_labels() {
        let (r, _) = responder();
        // A label with a dot inside or a space cannot be a hostname: NXDOMAIN in the zone...
        let mut msg = vec![0x12, 0x34, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        msg.extend_from_slice(b"\x03a.b\x03glb\x07example\x00\x00\x01\x00\x01");
        assert_negative(&udp(&r, &msg), ResponseCode::NXDomain);
        // ...and REFUSED when the odd label is what would make it match a zone.
        let mut msg = vec![0x12, 0x34, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        msg.extend_from_slice(b"\x0bglb.example\x00\x00\x01\x00\x01");
        assert_eq!(udp(&r, &msg).metadata.response_code, ResponseCode::Refused);
    }

    #[test]
    fn malformed_messages() {
        let (r, _) = responder();
        let client = CLIENT.parse().unwrap();
        let mut out = Vec::new();
        // Too short, or a response: dropped.
        assert!(!r.respond(&[0; 11], client, Transport::Udp, &mut out));
        let mut response = query("www.glb.example.", RecordType::A);
        response[2] |= 0x80;
        assert!(!r.respond(&response, client, Transport::Udp, &mut out));
        // Two questions, none, a compression pointer in the question: FORMERR.
        let mut two = query("www.glb.example.", RecordType::A);
        two[5] = 2;
        let mut none = query("www.glb.example.", RecordType::A);
        none[5] = 0;
        let mut pointer = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        pointer.extend_from_slice(b"\x03www\xC0\x0C\x00\x01\x00\x01");
        for msg in [two, none, pointer] {
            assert!(r.respond(&msg, client, Transport::Udp, &mut out));
            assert_eq!(out[3] & 0xF, 1);
            assert_eq!(out[2] & 0x80, 0x80);
        }
        // Every prefix of a valid EDNS+ECS query: no panic, FORMERR or dropped.
        let subnet = HSubnet::new(v4(10, 1, 2, 0), 24, 0);
        let full = query_msg(
            "geo.glb.example.",
            RecordType::A,
            Some(edns(1232, Some(subnet))),
        )
        .to_vec()
        .unwrap();
        for len in 0..full.len() {
            if r.respond(&full[..len], client, Transport::Udp, &mut out) {
                assert_eq!(out[3] & 0xF, 1, "prefix of {len} bytes");
            }
        }
        assert_eq!(r.metrics.snapshot().dropped, 2 + 12);
    }

    #[test]
    fn random_bytes_never_panic() {
        let (r, _) = responder();
        let client = CLIENT.parse().unwrap();
        let mut out = Vec::new();
        let base = query_msg(
            "www.glb.example.",
            RecordType::A,
            Some(edns(1232, Some(HSubnet::new(v4(10, 1, 2, 0), 24, 0)))),
        )
        .to_vec()
        .unwrap();
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..50_000 {
            let mut msg = base.clone();
            for _ in 0..(next() % 6 + 1) {
                let at = (next() % msg.len() as u64) as usize;
                msg[at] = next() as u8;
            }
            msg.truncate((next() % (msg.len() as u64 + 1)) as usize);
            if r.respond(&msg, client, Transport::Udp, &mut out) {
                assert!((12..=1232).contains(&out.len()));
                if out[3] & 0xF == 0 && out[2] & 0x02 == 0 {
                    // A successful answer must be a well-formed message.
                    Message::from_vec(&out).expect("well-formed response");
                }
            }
        }
    }
}
