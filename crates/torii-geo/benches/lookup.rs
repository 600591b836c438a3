//! `GeoDb::lookup` on the database named by `TORII_GEO_BENCH_DB` (default: the committed
//! GeoLite2-City-like fixture), plus the other per-request steps of geo steering:
//! `client_address` and `haversine_km`, and all three together.
//!
//! With a real database the addresses are 4,096 pseudo-random public IPv4 and IPv6
//! addresses (fixed seed), so the search tree is walked to realistic depths and the caches
//! see a realistic spread; with the fixture they cycle over its networks.
// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use torii_geo::{client_address, haversine_km, GeoDb, TrustedProxies};

fn database() -> (GeoDb, bool) {
    match std::env::var_os("TORII_GEO_BENCH_DB") {
        Some(path) => (
            GeoDb::open(PathBuf::from(path)).expect("TORII_GEO_BENCH_DB"),
            true,
        ),
        None => {
            let path =
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/geolite2-city.mmdb");
            (GeoDb::open(path).expect("fixture"), false)
        }
    }
}

/// Deterministic pseudo-random public addresses: IPv4 outside 0/8, 10/8, 127/8, 224/3;
/// IPv6 in 2000::/3.
fn random_addresses(n: usize, v6: bool) -> Vec<IpAddr> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        if v6 {
            let hi = 0x2000_0000_0000_0000 | (next() >> 3) as u128;
            let addr = (hi << 64) | next() as u128;
            // Mostly allocated space: 2001::/16 – 2c0f::/16 and 2a00::/12 are dense.
            let prefix = [0x2001u16, 0x2400, 0x2600, 0x2800, 0x2a00, 0x2c0f][(next() % 6) as usize];
            let addr = (addr & !(0xffffu128 << 112)) | (u128::from(prefix) << 112);
            out.push(IpAddr::V6(Ipv6Addr::from(addr)));
        } else {
            let a = Ipv4Addr::from(next() as u32);
            let first = a.octets()[0];
            if first == 0 || first == 10 || first == 127 || first >= 224 {
                continue;
            }
            out.push(IpAddr::V4(a));
        }
    }
    out
}

fn fixture_addresses() -> Vec<IpAddr> {
    [
        "127.0.0.1",
        "127.0.1.1",
        "127.0.2.1",
        "192.0.2.1",
        "198.51.100.1",
        "203.0.113.1",
        "203.0.113.200",
        "2001:db8::1",
        "2001:db8:1::1",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect()
}

fn lookup(c: &mut Criterion) {
    let (db, real) = database();
    eprintln!("database: {:?}", db.metadata());
    let mut group = c.benchmark_group("lookup");
    group.throughput(Throughput::Elements(1));
    let sets: Vec<(&str, Vec<IpAddr>)> = if real {
        let v4 = random_addresses(4096, false);
        let v6 = random_addresses(4096, true);
        for (name, set) in [("v4", &v4), ("v6", &v6)] {
            let hits = set.iter().filter(|ip| db.lookup(**ip).is_some()).count();
            eprintln!("{name}: {hits} of {} addresses located", set.len());
        }
        vec![("random-v4", v4), ("random-v6", v6)]
    } else {
        vec![("fixture", fixture_addresses())]
    };
    for (name, addrs) in &sets {
        let mut i = 0;
        group.bench_function(*name, |b| {
            b.iter(|| {
                i = (i + 1) % addrs.len();
                black_box(db.lookup(black_box(addrs[i])))
            })
        });
    }
    // The same address over and over: everything in cache, the floor.
    let one = sets[0].1[0];
    group.bench_function("same-address", |b| b.iter(|| db.lookup(black_box(one))));
    // Rejected before the database.
    let private: IpAddr = "192.168.1.1".parse().unwrap();
    group.bench_function("private", |b| b.iter(|| db.lookup(black_box(private))));
    group.finish();

    let trusted =
        TrustedProxies::new(["10.0.0.0/8", "172.16.0.0/12", "2001:db8:ffff::/48"]).unwrap();
    let peer: IpAddr = "10.1.2.3".parse().unwrap();
    let xff: &[u8] = b"203.0.113.7, 198.51.100.23:4711, 10.9.8.7";
    c.bench_function("client_address/3-hops", |b| {
        b.iter(|| client_address(black_box(peer), black_box(Some(xff)), &trusted))
    });

    let pools = [
        (37.3394, -121.895),
        (39.0438, -77.4874),
        (50.1109, 8.6821),
        (51.5074, -0.1278),
        (1.3521, 103.8198),
        (35.6895, 139.6917),
        (-33.8688, 151.2093),
        (-23.5505, -46.6333),
    ];
    let here = (48.8566, 2.3522);
    c.bench_function("haversine_km", |b| {
        b.iter(|| haversine_km(black_box(here), black_box(pools[3])))
    });

    // The whole per-request geo work: client address, lookup, nearest of 8 pools.
    let addrs = &sets[0].1;
    let lines: Vec<String> = addrs.iter().map(|a| format!("{a}, 10.9.8.7")).collect();
    let mut i = 0;
    c.bench_function("pick/xff+lookup+nearest-of-8", |b| {
        b.iter(|| {
            i = (i + 1) % lines.len();
            let client = client_address(peer, Some(lines[i].as_bytes()), &trusted);
            let loc = db.lookup(client)?;
            let at = loc.lat_lon?;
            pools
                .iter()
                .enumerate()
                .map(|(n, p)| (haversine_km(at, *p), n))
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, n)| n)
        })
    });
}

criterion_group!(benches, lookup);
criterion_main!(benches);
