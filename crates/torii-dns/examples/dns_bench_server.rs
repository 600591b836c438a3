//! Benchmark server for `bench/dns.sh`: serves zone `glb.example` whose names `h0`..`h{N-1}`
//! each have two A records (`10.0.X.Y` and `10.1.X.Y`, TTL 30) from a static answer source, on
//! a single-threaded runtime (the script pins it to one core).
//!
//! Usage: `dns_bench_server ADDR [NAMES] [inline|hickory]`

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::Arc,
};

use torii_dns::{
    Addresses, Answer, AnswerSource, CancellationToken, DnsOptions, DnsServer, QueryType, Question,
    Soa, UdpEngine, Zone, ZoneSet,
};

/// Precomputed answers by name.
struct StaticSource {
    names: HashMap<String, Addresses>,
}

impl StaticSource {
    fn new(count: u32) -> Self {
        let names = (0..count)
            .map(|i| {
                let (x, y) = ((i / 250) as u8, (i % 250 + 1) as u8);
                let addrs: Addresses = [
                    IpAddr::V4(Ipv4Addr::new(10, 0, x, y)),
                    IpAddr::V4(Ipv4Addr::new(10, 1, x, y)),
                ]
                .into_iter()
                .collect();
                (format!("h{i}.glb.example"), addrs)
            })
            .collect();
        StaticSource { names }
    }
}

impl AnswerSource for StaticSource {
    fn answer(&self, query: &Question<'_>) -> Answer {
        match self.names.get(query.name) {
            Some(addrs) if query.query_type == QueryType::A => Answer::Addresses {
                addrs: addrs.clone(),
                ttl: 30,
                ecs_scope: None,
            },
            Some(_) => Answer::NoData,
            None => Answer::NameNotFound,
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.78:5354".into())
        .parse()
        .expect("ADDR");
    let count: u32 = args.next().map_or(1000, |n| n.parse().expect("NAMES"));
    let engine = match args.next().as_deref() {
        None | Some("inline") => UdpEngine::Inline,
        Some("hickory") => UdpEngine::Hickory,
        Some(other) => panic!("unknown engine {other:?}"),
    };

    let mut zone = Zone::new(
        "glb.example",
        Soa::new("ns1.glb.example", "hostmaster.glb.example"),
        vec!["ns1.glb.example".into()],
    );
    zone.soa.minimum = 60;
    let zones = ZoneSet::new([zone]).expect("zone");
    let options = DnsOptions {
        udp_sockets: 1,
        udp_engine: engine,
        ..DnsOptions::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let server = DnsServer::bind(addr, zones, Arc::new(StaticSource::new(count)), options)
            .expect("bind");
        eprintln!(
            "dns_bench_server: serving {count} names on {} ({engine:?})",
            server.local_addr()
        );
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            stop.cancel();
        });
        let handle = server.handle();
        server.run(shutdown).await.expect("server");
        eprintln!("dns_bench_server: {:?}", handle.metrics_snapshot());
    });
}
