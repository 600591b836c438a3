//! End-to-end tests: a real server on 127.0.0.x with a fake answer source, queried with `dig`
//! (Debian package `dnsutils`) over UDP and TCP.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket},
    process::Command,
    sync::Arc,
    time::Duration,
};

use torii_dns::{
    Addresses, Answer, AnswerSource, CancellationToken, DnsError, DnsHandle, DnsOptions, DnsServer,
    QueryType, Question, Soa, UdpEngine, Zone, ZoneSet,
};

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

/// The fake steering engine.
struct Fake {
    /// Answer of `www` (changes in the live-update test).
    www: IpAddr,
}

impl AnswerSource for Fake {
    fn answer(&self, q: &Question<'_>) -> Answer {
        let addrs = |list: &[IpAddr], ttl, scope| Answer::Addresses {
            addrs: list.iter().copied().collect::<Addresses>(),
            ttl,
            ecs_scope: scope,
        };
        match (q.name, q.query_type) {
            ("www.glb.example", _) => addrs(
                &[self.www, v4(192, 0, 2, 2), "2001:db8::1".parse().unwrap()],
                30,
                None,
            ),
            ("v4only.glb.example", _) => addrs(&[v4(192, 0, 2, 7)], 20, None),
            // Steered by the client subnet, or by the peer address without one.
            ("geo.glb.example", QueryType::A) => match q.steering_addr() {
                IpAddr::V4(a) if a.octets()[0] == 10 => addrs(&[v4(192, 0, 2, 10)], 15, Some(16)),
                IpAddr::V4(a) if a.octets() == [127, 0, 0, 21] => {
                    addrs(&[v4(192, 0, 2, 21)], 15, None)
                }
                IpAddr::V6(_) => addrs(&[v4(192, 0, 2, 66)], 15, Some(32)),
                _ => addrs(&[v4(192, 0, 2, 20)], 15, Some(8)),
            },
            ("geo.glb.example", QueryType::Aaaa) => Answer::NoData,
            ("big.glb.example", _) => {
                let list: Vec<IpAddr> = (0..100).map(|i| v4(198, 51, 100, i)).collect();
                addrs(&list, 5, None)
            }
            ("www.other.example", _) => addrs(&[v4(203, 0, 113, 5)], 60, None),
            _ => Answer::NameNotFound,
        }
    }
}

fn zone(apex: &str) -> Zone {
    let mut zone = Zone::new(
        apex,
        Soa::new(format!("ns1.{apex}"), format!("hostmaster.{apex}")),
        vec![format!("ns1.{apex}"), "ns2.dns.example".into()],
    );
    zone.soa.serial = 20_240_101;
    zone.soa.minimum = 45;
    zone.soa_ttl = 300;
    zone.ns_ttl = 600;
    zone
}

struct TestServer {
    runtime: tokio::runtime::Runtime,
    addr: SocketAddr,
    handle: DnsHandle,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<Result<(), DnsError>>>,
}

impl TestServer {
    fn start(ip: Ipv4Addr, engine: UdpEngine) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        // Port 0 picks a free UDP port; retry in the unlikely case TCP has it taken.
        let server = (0..10)
            .find_map(|_| {
                DnsServer::bind(
                    SocketAddr::new(ip.into(), 0),
                    ZoneSet::new([zone("glb.example")]).unwrap(),
                    Arc::new(Fake {
                        www: v4(192, 0, 2, 1),
                    }),
                    DnsOptions {
                        udp_sockets: 2,
                        udp_engine: engine,
                        ..DnsOptions::default()
                    },
                )
                .ok()
            })
            .expect("bind");
        let addr = server.local_addr();
        let handle = server.handle();
        let shutdown = CancellationToken::new();
        let task = runtime.spawn(server.run(shutdown.clone()));
        TestServer {
            runtime,
            addr,
            handle,
            shutdown,
            task: Some(task),
        }
    }

    fn dig(&self, args: &str) -> Dig {
        dig(self.addr, args)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let result = self
                .runtime
                .block_on(async { tokio::time::timeout(Duration::from_secs(5), task).await });
            if !std::thread::panicking() {
                result
                    .expect("server stops on shutdown")
                    .unwrap()
                    .expect("server ends cleanly");
            }
        }
    }
}

/// One resource record as dig prints it.
#[derive(Debug, Clone, PartialEq)]
struct Rr {
    name: String,
    ttl: u32,
    rtype: String,
    data: String,
}

/// What dig printed, parsed.
#[derive(Debug, Default)]
struct Dig {
    status: String,
    flags: Vec<String>,
    answer: Vec<Rr>,
    authority: Vec<Rr>,
    additional: Vec<Rr>,
    client_subnet: Option<String>,
    edns_udp: Option<u32>,
    retried_tcp: bool,
    over_tcp: bool,
    output: String,
}

impl Dig {
    fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    fn data(&self) -> Vec<String> {
        let mut data: Vec<String> = self.answer.iter().map(|r| r.data.clone()).collect();
        data.sort();
        data
    }

    fn assert_negative(&self, status: &str) {
        assert_eq!(self.status, status, "{}", self.output);
        assert!(self.has_flag("aa"), "{}", self.output);
        assert!(self.answer.is_empty(), "{}", self.output);
        assert_eq!(self.authority.len(), 1, "{}", self.output);
        let soa = &self.authority[0];
        assert_eq!(soa.rtype, "SOA");
        assert_eq!(soa.name, "glb.example.");
        assert_eq!(soa.ttl, 45, "negative TTL = min(SOA TTL 300, minimum 45)");
        assert_eq!(
            soa.data,
            "ns1.glb.example. hostmaster.glb.example. 20240101 7200 3600 1209600 45"
        );
    }
}

fn dig(server: SocketAddr, args: &str) -> Dig {
    let port = server.port().to_string();
    let at = format!("@{}", server.ip());
    let output = Command::new("dig")
        .args(["+norec", "+time=3", "+tries=2", "-p", &port, &at])
        .args(args.split_whitespace())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run dig ({e}): install Debian package dnsutils (apt-get install -y dnsutils)")
        });
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "dig {args} failed:\n{text}");
    parse_dig(text)
}

fn parse_dig(text: String) -> Dig {
    let mut dig = Dig::default();
    let mut section = "";
    for line in text.lines() {
        if let Some(rest) = line.split("status: ").nth(1) {
            dig.status = rest.split(',').next().unwrap().to_owned();
        } else if let Some(rest) = line.strip_prefix(";; flags: ") {
            dig.flags = rest
                .split(';')
                .next()
                .unwrap()
                .split_whitespace()
                .map(String::from)
                .collect();
        } else if let Some(rest) = line.strip_prefix("; CLIENT-SUBNET: ") {
            dig.client_subnet = Some(rest.trim().to_owned());
        } else if let Some(rest) = line
            .split("udp: ")
            .nth(1)
            .filter(|_| line.starts_with("; EDNS:"))
        {
            dig.edns_udp = rest.trim().parse().ok();
        } else if line.contains("Truncated, retrying in TCP mode") {
            dig.retried_tcp = true;
        } else if line.starts_with(";; SERVER:") {
            dig.over_tcp = line.ends_with("(TCP)");
        } else if let Some(name) = line
            .strip_prefix(";; ")
            .and_then(|l| l.strip_suffix(" SECTION:"))
        {
            section = match name {
                "ANSWER" => "answer",
                "AUTHORITY" => "authority",
                "ADDITIONAL" => "additional",
                _ => "",
            };
        } else if line.trim().is_empty() {
            section = "";
        } else if !section.is_empty() && !line.starts_with(';') {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let rr = Rr {
                name: fields[0].to_owned(),
                ttl: fields[1].parse().unwrap(),
                rtype: fields[3].to_owned(),
                data: fields[4..].join(" "),
            };
            match section {
                "answer" => dig.answer.push(rr),
                "authority" => dig.authority.push(rr),
                _ => dig.additional.push(rr),
            }
        }
    }
    dig.output = text;
    dig
}

#[test]
fn a_and_aaaa_over_udp_and_tcp() {
    let server = TestServer::start(Ipv4Addr::new(127, 0, 0, 2), UdpEngine::Inline);
    for transport in ["", "+tcp"] {
        let d = server.dig(&format!("www.glb.example A {transport}"));
        assert_eq!(d.status, "NOERROR", "{}", d.output);
        assert!(
            d.has_flag("aa") && d.has_flag("qr") && !d.has_flag("tc"),
            "{}",
            d.output
        );
        assert!(!d.has_flag("ra"));
        assert_eq!(d.data(), ["192.0.2.1", "192.0.2.2"], "{}", d.output);
        assert!(d
            .answer
            .iter()
            .all(|r| r.ttl == 30 && r.rtype == "A" && r.name == "www.glb.example."));
        assert!(
            d.authority.is_empty() && d.additional.is_empty(),
            "minimal responses"
        );
        assert_eq!(d.over_tcp, transport == "+tcp", "{}", d.output);
        assert_eq!(d.edns_udp, Some(1232), "OPT echoed with our payload size");

        let d = server.dig(&format!("www.glb.example AAAA {transport}"));
        assert_eq!(d.data(), ["2001:db8::1"], "{}", d.output);
        assert!(d.has_flag("aa"));
    }
    let m = server.handle.metrics_snapshot();
    assert_eq!((m.udp_queries, m.tcp_queries, m.noerror), (2, 2, 4));
}

#[test]
fn nxdomain_and_nodata_carry_the_soa() {
    let server = TestServer::start(Ipv4Addr::new(127, 0, 0, 3), UdpEngine::Inline);
    for transport in ["", "+tcp"] {
        server
            .dig(&format!("nope.glb.example A {transport}"))
            .assert_negative("NXDOMAIN");
        server
            .dig(&format!("deep.nope.glb.example AAAA {transport}"))
            .assert_negative("NXDOMAIN");
        // Only IPv4 origins: AAAA is NODATA.
        server
            .dig(&format!("v4only.glb.example AAAA {transport}"))
            .assert_negative("NOERROR");
        server
            .dig(&format!("www.glb.example MX {transport}"))
            .assert_negative("NOERROR");
        server
            .dig(&format!("www.glb.example TXT {transport}"))
            .assert_negative("NOERROR");
        server
            .dig(&format!("nope.glb.example TXT {transport}"))
            .assert_negative("NXDOMAIN");
    }
    let m = server.handle.metrics_snapshot();
    assert_eq!((m.nxdomain, m.nodata, m.noerror), (6, 6, 6));
}

#[test]
fn names_outside_the_zones_are_refused() {
    let server = TestServer::start(Ipv4Addr::new(127, 0, 0, 4), UdpEngine::Inline);
    for query in [
        "example.org A",
        "example A",
        "xglb.example A",
        ". NS",
        "www.glb.example.org A +tcp",
    ] {
        let d = server.dig(query);
        assert_eq!(d.status, "REFUSED", "{query}: {}", d.output);
        assert!(!d.has_flag("aa"), "{}", d.output);
        assert!(d.answer.is_empty() && d.authority.is_empty());
    }
    // Other classes and zone transfers too.
    assert_eq!(server.dig("www.glb.example CH TXT").status, "REFUSED");
    assert_eq!(server.handle.metrics_snapshot().refused, 6);
    let d = server.dig("glb.example AXFR");
    assert!(d.output.contains("Transfer failed."), "{}", d.output);
    let m = server.handle.metrics_snapshot();
    // dig may try the transfer more than once; every try is REFUSED over TCP.
    assert!(m.refused > 6 && m.refused - 6 == m.tcp_queries - 1, "{m:?}");
}

#[test]
fn apex_soa_and_ns() {
    let server = TestServer::start(Ipv4Addr::new(127, 0, 0, 5), UdpEngine::Inline);
    for transport in ["", "+tcp"] {
        let d = server.dig(&format!("glb.example SOA {transport}"));
        assert_eq!(d.status, "NOERROR", "{}", d.output);
        assert!(d.has_flag("aa"));
        assert_eq!(
            d.answer,
            [Rr {
                name: "glb.example.".into(),
                ttl: 300,
                rtype: "SOA".into(),
                data: "ns1.glb.example. hostmaster.glb.example. 20240101 7200 3600 1209600 45"
                    .into(),
            }],
            "{}",
            d.output
        );
        let d = server.dig(&format!("GLB.example NS {transport}"));
        assert!(d.has_flag("aa"));
        assert_eq!(
            d.data(),
            ["ns1.glb.example.", "ns2.dns.example."],
            "{}",
            d.output
        );
        assert!(d.answer.iter().all(|r| r.ttl == 600 && r.rtype == "NS"));
        // The apex has no address in the source: NODATA, not NXDOMAIN.
        server
            .dig(&format!("glb.example A {transport}"))
            .assert_negative("NOERROR");
    }
}

#[test]
fn case_insensitive_names_keep_the_query_case() {
    let server = TestServer::start(Ipv4Addr::new(127, 0, 0, 6), UdpEngine::Inline);
    let d = server.dig("WwW.GLB.Example A");
    assert_eq!(d.data(), ["192.0.2.1", "192.0.2.2"], "{}", d.output);
    assert!(
        d.answer.iter().all(|r| r.name == "WwW.GLB.Example."),
        "{}",
        d.output
    );
}

#[test]
fn ecs_steers_and_is_echoed_with_the_scope() {
    let server = TestServer::start(Ipv4Addr::new(127, 0, 0, 7), UdpEngine::Inline);
    for transport in ["", "+tcp"] {
        let d = server.dig(&format!(
            "geo.glb.example A +subnet=10.1.2.0/24 {transport}"
        ));
        assert_eq!(d.data(), ["192.0.2.10"], "{}", d.output);
        assert_eq!(
            d.client_subnet.as_deref(),
            Some("10.1.2.0/24/16"),
            "{}",
            d.output
        );
        assert_eq!(d.answer[0].ttl, 15);

        let d = server.dig(&format!(
            "geo.glb.example A +subnet=172.16.0.0/12 {transport}"
        ));
        assert_eq!(d.data(), ["192.0.2.20"], "{}", d.output);
        assert_eq!(
            d.client_subnet.as_deref(),
            Some("172.16.0.0/12/8"),
            "{}",
            d.output
        );

        let d = server.dig(&format!(
            "geo.glb.example A +subnet=2001:db8:77::/48 {transport}"
        ));
        assert_eq!(d.data(), ["192.0.2.66"], "{}", d.output);
        assert_eq!(
            d.client_subnet.as_deref(),
            Some("2001:db8:77::/48/32"),
            "{}",
            d.output
        );

        // Negative answers echo scope 0.
        let d = server.dig(&format!(
            "nope.glb.example A +subnet=10.1.2.0/24 {transport}"
        ));
        d.assert_negative("NXDOMAIN");
        assert_eq!(
            d.client_subnet.as_deref(),
            Some("10.1.2.0/24/0"),
            "{}",
            d.output
        );
    }
    // No ECS: no option echoed; steered by the peer address.
    let d = server.dig("geo.glb.example A");
    assert_eq!(d.client_subnet, None);
    assert_eq!(d.data(), ["192.0.2.20"], "{}", d.output);
    let d = server.dig("-b 127.0.0.21 geo.glb.example A");
    assert_eq!(
        d.data(),
        ["192.0.2.21"],
        "peer address reaches the source: {}",
        d.output
    );
    assert_eq!(server.handle.metrics_snapshot().ecs, 8);
}

#[test]
fn big_answers_truncate_over_udp_and_work_over_tcp() {
    let server = TestServer::start(Ipv4Addr::new(127, 0, 0, 8), UdpEngine::Inline);
    // No EDNS: 512 bytes; 100 A records do not fit.
    let d = server.dig("big.glb.example A +noedns +ignore");
    assert_eq!(d.status, "NOERROR", "{}", d.output);
    assert!(d.has_flag("tc") && d.has_flag("aa"), "{}", d.output);
    assert!(d.answer.is_empty(), "{}", d.output);
    assert!(!d.over_tcp);
    // dig retries over TCP on TC and gets everything.
    let d = server.dig("big.glb.example A +noedns");
    assert!(d.retried_tcp && d.over_tcp, "{}", d.output);
    assert!(!d.has_flag("tc"));
    assert_eq!(d.answer.len(), 100, "{}", d.output);
    // EDNS 4096 from the client is capped at our 1232: still truncated.
    let d = server.dig("big.glb.example A +bufsize=4096 +ignore");
    assert!(d.has_flag("tc") && d.answer.is_empty(), "{}", d.output);
    assert_eq!(d.edns_udp, Some(1232));
    // Small answers are not truncated without EDNS.
    let d = server.dig("www.glb.example A +noedns +ignore");
    assert!(!d.has_flag("tc") && d.answer.len() == 2, "{}", d.output);
    assert_eq!(d.edns_udp, None);
    assert_eq!(server.handle.metrics_snapshot().truncated, 3);
}

#[test]
fn any_edns_version_and_malformed_queries() {
    let server = TestServer::start(Ipv4Addr::new(127, 0, 0, 9), UdpEngine::Inline);
    // RFC 8482: one RRset.
    let d = server.dig("glb.example ANY");
    assert_eq!(d.answer.len(), 1, "{}", d.output);
    assert_eq!(d.answer[0].rtype, "SOA");
    let d = server.dig("www.glb.example ANY +tcp");
    assert_eq!(d.data(), ["192.0.2.1", "192.0.2.2"], "{}", d.output);

    let d = server.dig("www.glb.example A +edns=1 +noednsneg");
    assert_eq!(d.status, "BADVERS", "{}", d.output);

    // Garbage over UDP: FORMERR or silence, and the server keeps answering.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut two_questions = vec![0xAB, 0xCD, 0x01, 0x00, 0, 2, 0, 0, 0, 0, 0, 0];
    two_questions.extend_from_slice(b"\x03www\x03glb\x07example\x00\x00\x01\x00\x01");
    socket.send_to(&two_questions, server.addr).unwrap();
    let mut buf = [0u8; 512];
    let (len, _) = socket.recv_from(&mut buf).expect("FORMERR response");
    assert_eq!(len, 12);
    assert_eq!(&buf[..4], &[0xAB, 0xCD, 0x81, 0x01], "id, QR|RD, FORMERR");
    socket.send_to(&[1, 2, 3], server.addr).unwrap();
    let d = server.dig("www.glb.example A");
    assert_eq!(d.data(), ["192.0.2.1", "192.0.2.2"]);
    let m = server.handle.metrics_snapshot();
    assert_eq!((m.formerr, m.dropped, m.badvers), (1, 1, 1));
}

#[test]
fn live_zone_and_source_updates() {
    let server = TestServer::start(Ipv4Addr::new(127, 0, 0, 10), UdpEngine::Inline);
    assert_eq!(
        server.dig("www.glb.example A").data(),
        ["192.0.2.1", "192.0.2.2"]
    );
    assert_eq!(server.dig("www.other.example A").status, "REFUSED");

    // New answers, same sockets.
    server.handle.update_source(Arc::new(Fake {
        www: v4(192, 0, 2, 99),
    }));
    assert_eq!(
        server.dig("www.glb.example A").data(),
        ["192.0.2.2", "192.0.2.99"]
    );

    // A new zone set: other.example served, glb.example no longer.
    server
        .handle
        .update_zones(ZoneSet::new([zone("other.example")]).unwrap());
    let d = server.dig("www.other.example A +tcp");
    assert_eq!(d.data(), ["203.0.113.5"], "{}", d.output);
    assert!(d.has_flag("aa"));
    assert_eq!(server.dig("www.glb.example A").status, "REFUSED");
    assert_eq!(
        server.handle.zones().apexes().collect::<Vec<_>>(),
        ["other.example"]
    );

    // Both at once.
    server.handle.update(
        ZoneSet::new([zone("glb.example"), zone("other.example")]).unwrap(),
        Arc::new(Fake {
            www: v4(192, 0, 2, 1),
        }),
    );
    assert_eq!(
        server.dig("www.glb.example A").data(),
        ["192.0.2.1", "192.0.2.2"]
    );
    assert_eq!(server.dig("www.other.example A").data(), ["203.0.113.5"]);
}

#[test]
fn hickory_udp_engine_gives_the_same_answers() {
    let server = TestServer::start(Ipv4Addr::new(127, 0, 0, 11), UdpEngine::Hickory);
    let d = server.dig("geo.glb.example A +subnet=10.1.2.0/24");
    assert_eq!(d.data(), ["192.0.2.10"], "{}", d.output);
    assert_eq!(d.client_subnet.as_deref(), Some("10.1.2.0/24/16"));
    assert!(d.has_flag("aa"));
    server.dig("nope.glb.example A").assert_negative("NXDOMAIN");
    let d = server.dig("big.glb.example A +noedns +ignore");
    assert!(d.has_flag("tc") && d.answer.is_empty(), "{}", d.output);
    assert_eq!(server.dig("example.org A").status, "REFUSED");
    assert_eq!(server.handle.metrics_snapshot().udp_queries, 4);
}

#[test]
fn nodata_with_a_v6_subnet_over_tcp() {
    let server = TestServer::start(Ipv4Addr::new(127, 0, 0, 12), UdpEngine::Inline);
    let d = server.dig("geo.glb.example AAAA +subnet=2001:db8::/32 +tcp");
    d.assert_negative("NOERROR");
    assert_eq!(d.client_subnet.as_deref(), Some("2001:db8::/32/0"));
}
