//! Answering a query allocates nothing: positive answers (with EDNS and Client Subnet),
//! NODATA, NXDOMAIN, REFUSED, apex SOA/NS, truncation and FORMERR, once the response buffer has
//! grown. One test only: the allocation counters are global to the process.

use std::{
    alloc::System,
    hint::black_box,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::Arc,
};

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use torii_dns::{
    Addresses, Answer, AnswerSource, DnsOptions, DnsServer, QueryType, Question, Soa, Transport,
    Zone, ZoneSet,
};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

struct Source {
    two: Addresses,
    many: Addresses,
}

impl AnswerSource for Source {
    fn answer(&self, q: &Question<'_>) -> Answer {
        match (q.name, q.query_type) {
            ("www.glb.example", QueryType::A) => Answer::Addresses {
                addrs: self.two.clone(),
                ttl: 30,
                ecs_scope: Some(24),
            },
            ("www.glb.example", QueryType::Aaaa) => Answer::NoData,
            ("many.glb.example", _) => Answer::Addresses {
                addrs: self.many.clone(),
                ttl: 30,
                ecs_scope: None,
            },
            _ => Answer::NameNotFound,
        }
    }
}

/// A query in wire format; `opt` appends an OPT record with a /24 IPv4 Client Subnet.
fn query(name: &str, qtype: u16, opt: bool, qdcount: u8) -> Vec<u8> {
    let mut msg = vec![
        0x12,
        0x34,
        0x01,
        0x00,
        0,
        qdcount,
        0,
        0,
        0,
        0,
        0,
        u8::from(opt),
    ];
    for label in name.split('.') {
        msg.push(label.len() as u8);
        msg.extend_from_slice(label.as_bytes());
    }
    msg.push(0);
    msg.extend_from_slice(&qtype.to_be_bytes());
    msg.extend_from_slice(&[0, 1]);
    if opt {
        msg.extend_from_slice(&[0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 11]);
        msg.extend_from_slice(&[0, 8, 0, 7, 0, 1, 24, 0, 10, 1, 2]);
    }
    msg
}

#[test]
fn answering_allocates_nothing() {
    let v4 = |d| IpAddr::V4(Ipv4Addr::new(192, 0, 2, d));
    let source = Source {
        two: [v4(1), v4(2)].into_iter().collect(),
        // Eight: the inline capacity of `Addresses`, so cloning does not allocate.
        many: (0..8).map(v4).collect(),
    };
    let zone = Zone::new(
        "glb.example",
        Soa::new("ns1.glb.example", "hostmaster.glb.example"),
        vec!["ns1.glb.example".into(), "ns2.glb.example".into()],
    );
    let server = DnsServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        ZoneSet::new([zone]).unwrap(),
        Arc::new(source),
        DnsOptions {
            udp_sockets: 1,
            ..DnsOptions::default()
        },
    )
    .unwrap();
    let handle = server.handle();
    let client: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let queries = [
        (query("www.glb.example", 1, true, 1), 0, 2), // A with ECS
        (query("WWW.glb.example", 1, false, 1), 0, 2), // A, mixed case, no EDNS
        (query("www.glb.example", 28, true, 1), 0, 0), // NODATA
        (query("www.glb.example", 15, true, 1), 0, 0), // MX: NODATA
        (query("nope.glb.example", 1, true, 1), 3, 0), // NXDOMAIN
        (query("example.org", 1, true, 1), 5, 0),     // REFUSED
        (query("glb.example", 6, true, 1), 0, 1),     // apex SOA
        (query("glb.example", 2, false, 1), 0, 2),    // apex NS
        (query("many.glb.example", 1, false, 1), 0, 8), // 8 records fit in 512
        (query("www.glb.example", 1, false, 2), 1, 0), // FORMERR
    ];
    let mut out = Vec::with_capacity(65_535);
    for (msg, rcode, answers) in &queries {
        assert!(handle.respond(msg, client, Transport::Udp, &mut out));
        assert_eq!(out[3] & 0xF, *rcode, "{msg:?}");
        assert_eq!(out[7], *answers, "{msg:?}");
    }
    let region = Region::new(GLOBAL);
    for _ in 0..1000 {
        for (msg, _, _) in &queries {
            black_box(handle.respond(black_box(msg), client, Transport::Udp, &mut out));
        }
    }
    let stats = region.change();
    assert_eq!(
        (stats.allocations, stats.reallocations),
        (0, 0),
        "answering allocated: {stats:?}"
    );
}
