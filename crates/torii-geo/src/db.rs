//! [`GeoDb`]: a MaxMind-format database opened once and looked up per request.

use crate::{CountryCode, Region};
use maxminddb::{Reader, WithinOptions};
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where a client is, as far as the database tells.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ClientLocation {
    /// The country the address is located in.
    pub country: CountryCode,
    /// The region: the country's, or for the US and Canada the state's or province's
    /// ([`Region::of_place`]).
    pub region: Region,
    /// (latitude, longitude) in degrees: the database's when it has coordinates (city-level
    /// databases), otherwise the country's centroid. `None` only if neither is known, which
    /// the built-in table (a centroid for every country) does not allow today.
    pub lat_lon: Option<(f64, f64)>,
    /// Where `lat_lon` came from.
    pub source: LocationSource,
}

/// Where [`ClientLocation::lat_lon`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LocationSource {
    /// The database record's coordinates.
    Database,
    /// The country's centroid from the built-in table.
    CountryCentroid,
}

/// How detailed a database is, as seen in its records when it is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseLevel {
    /// Countries only: coordinates are country centroids, US and Canada get their default
    /// region.
    Country,
    /// Coordinates per network (city-level): proximity uses them, and the US and Canada are
    /// split by state or longitude.
    City,
}

/// What is known about an open database, for status reporting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GeoDbMetadata {
    /// The file the database was read from.
    pub path: PathBuf,
    /// The database's own type name, e.g. `"GeoLite2-Country"` or `"geo-whois-asn-country"`.
    pub database_type: String,
    /// When the database was built, in seconds since the Unix epoch.
    pub build_epoch: u64,
    /// 4 for an IPv4-only database (IPv6 addresses are then never found), 6 otherwise.
    pub ip_version: u16,
    /// The English description, if the database has one.
    pub description: Option<String>,
    /// Country- or city-level.
    pub level: DatabaseLevel,
    /// The file's size in bytes (all of it is held in memory).
    pub size_bytes: u64,
    /// How many networks the database has.
    pub networks: u64,
    /// How many distinct records were decoded at open.
    pub records: usize,
}

impl GeoDbMetadata {
    /// [`GeoDbMetadata::build_epoch`] as a time.
    pub fn build_time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.build_epoch)
    }
}

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum GeoDbError {
    /// The file could not be read.
    #[error("cannot read GeoIP database {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a MaxMind DB (`.mmdb`) file, or is corrupt.
    #[error("{} is not a valid MaxMind DB (.mmdb) file: {source}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What the reader found wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A valid database without country data, e.g. an ASN database.
    #[error(
        "{} ({database_type}) has no country data: expected `country.iso_code` (GeoLite2, \
         DB-IP) or `country_code` (ip-location-db) in its records",
        path.display()
    )]
    NoCountryData {
        /// The file.
        path: PathBuf,
        /// The database's type name.
        database_type: String,
    },
}

/// A MaxMind-format (`.mmdb`) database read into memory, for client locations.
///
/// Immutable once open and `Send + Sync`: share it behind an `Arc` (swap a new one in to
/// reload). See the crate documentation for the layouts it reads.
pub struct GeoDb {
    reader: Reader<Vec<u8>>,
    /// Every distinct data record, decoded once at open, by its data-section offset.
    records: HashMap<u32, Packed, BuildHasherDefault<OffsetHasher>>,
    metadata: GeoDbMetadata,
}

/// At most this many distinct records are decoded at open (about 16 bytes each in memory);
/// records past it are decoded at lookup instead, which is slower (a few hundred ns to a few
/// µs for GeoLite2-City records). Country databases have a few hundred distinct records;
/// city databases up to a few million.
pub const MAX_DECODED_RECORDS: usize = 1 << 22;

impl GeoDb {
    /// Reads the database at `path` into memory, checks that it carries countries, and
    /// decodes each distinct record once (see below).
    ///
    /// The file is read, not memory-mapped: a database replaced on disk (as updaters do)
    /// cannot change under a running lookup, and no `unsafe` is involved. Country databases
    /// are a few MB; city databases can be over 100 MB.
    ///
    /// Opening walks every network of the database and decodes each distinct record into a
    /// compact table (up to [`MAX_DECODED_RECORDS`]), so that a lookup is only the search-tree
    /// walk plus a hash probe. That takes some 30 ms for a country database (a million
    /// networks, a few hundred records) and longer for a city database; do it off the request
    /// path (at startup or in a reload task).
    pub fn open(path: impl AsRef<Path>) -> Result<GeoDb, GeoDbError> {
        GeoDb::open_with_limit(path.as_ref(), MAX_DECODED_RECORDS)
    }

    fn open_with_limit(path: &Path, max_records: usize) -> Result<GeoDb, GeoDbError> {
        let path = path.to_path_buf();
        let bytes = std::fs::read(&path).map_err(|source| GeoDbError::Read {
            path: path.clone(),
            source,
        })?;
        let size_bytes = bytes.len() as u64;
        let reader = Reader::from_source(bytes).map_err(|e| GeoDbError::Invalid {
            path: path.clone(),
            source: Box::new(e),
        })?;
        let meta = reader.metadata();
        let database_type = meta.database_type.clone();
        let scan = scan(&reader, max_records).map_err(|e| GeoDbError::Invalid {
            path: path.clone(),
            source: Box::new(e),
        })?;
        if !scan.has_country {
            return Err(GeoDbError::NoCountryData {
                path,
                database_type,
            });
        }
        let metadata = GeoDbMetadata {
            path,
            database_type,
            build_epoch: meta.build_epoch,
            ip_version: meta.ip_version,
            description: meta.description.get("en").cloned(),
            level: if scan.has_coordinates {
                DatabaseLevel::City
            } else {
                DatabaseLevel::Country
            },
            size_bytes,
            networks: scan.networks,
            records: scan.records.len(),
        };
        Ok(GeoDb {
            reader,
            records: scan.records,
            metadata,
        })
    }

    /// The location of `ip`, or `None` when the database has no country for it (reserved
    /// ranges, unallocated space, anycast ranges without a registrant country, codes outside
    /// ISO 3166-1, IPv6 in an IPv4-only database, unreadable records).
    ///
    /// Private-use addresses (RFC 1918, shared 100.64.0.0/10, link-local, unique-local
    /// `fc00::/7`, multicast, `0.0.0.0/8`, `240.0.0.0/4`, unspecified) are never located,
    /// whatever the database says: they tell nothing about where a client is, and some
    /// databases map them anyway (the npm `geo-whois-asn-country` data puts 192.168.0.0/16 in
    /// Australia). Loopback and documentation ranges are left to the database.
    ///
    /// IPv4-mapped IPv6 addresses are looked up as IPv4. Database coordinates come back
    /// rounded to 10⁻⁶ degrees. Does not allocate.
    #[inline]
    pub fn lookup(&self, ip: IpAddr) -> Option<ClientLocation> {
        let ip = ip.to_canonical();
        if is_private_use(ip) || (ip.is_ipv6() && self.metadata.ip_version == 4) {
            return None;
        }
        let found = self.reader.lookup(ip).ok()?;
        let offset = found.offset()?;
        match u32::try_from(offset)
            .ok()
            .and_then(|o| self.records.get(&o))
        {
            Some(packed) => packed.unpack(),
            // Past MAX_DECODED_RECORDS: decode now.
            None => {
                let location = found.decode::<Record<'_>>().ok()??.location()?;
                Packed::of(Some(&location)).unpack()
            }
        }
    }

    /// What is known about the database.
    pub fn metadata(&self) -> &GeoDbMetadata {
        &self.metadata
    }
}

impl fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeoDb")
            .field("metadata", &self.metadata)
            .finish_non_exhaustive()
    }
}

/// Addresses that never identify a client's location (see [`GeoDb::lookup`]).
fn is_private_use(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let [first, second, ..] = a.octets();
            a.is_private()
                || a.is_link_local()
                || a.is_multicast()
                || first == 0
                || first >= 240
                || (first == 100 && (64..128).contains(&second))
        }
        IpAddr::V6(a) => {
            a.is_unique_local()
                || a.is_unicast_link_local()
                || a.is_multicast()
                || a.is_unspecified()
        }
    }
}

/// What [`scan`] found.
struct Scan {
    records: HashMap<u32, Packed, BuildHasherDefault<OffsetHasher>>,
    networks: u64,
    has_country: bool,
    has_coordinates: bool,
}

/// Walks every network and decodes each distinct record once.
fn scan(reader: &Reader<Vec<u8>>, max_records: usize) -> Result<Scan, maxminddb::MaxMindDbError> {
    let mut scan = Scan {
        records: HashMap::default(),
        networks: 0,
        has_country: false,
        has_coordinates: false,
    };
    for found in reader.networks(WithinOptions::default())? {
        let found = found?;
        scan.networks += 1;
        let Some(offset) = found.offset().and_then(|o| u32::try_from(o).ok()) else {
            continue;
        };
        if scan.records.contains_key(&offset) {
            continue;
        }
        // A record that does not decode is stored as "no location", like lookup would find.
        let location = found
            .decode::<Record<'_>>()
            .ok()
            .flatten()
            .and_then(|r| r.location());
        if let Some(loc) = &location {
            scan.has_country = true;
            scan.has_coordinates |= loc.source == LocationSource::Database;
        }
        if scan.records.len() < max_records {
            scan.records.insert(offset, Packed::of(location.as_ref()));
        }
    }
    Ok(scan)
}

/// A [`ClientLocation`] (or its absence) in 12 bytes: country table row (255: none),
/// region, whether the coordinates are the database's, and coordinates in 10⁻⁶ degrees.
#[derive(Clone, Copy)]
struct Packed {
    country: u8,
    region: Region,
    from_database: bool,
    lat: i32,
    lon: i32,
}

impl Packed {
    const NONE: u8 = u8::MAX;

    fn of(location: Option<&ClientLocation>) -> Packed {
        let micro = |deg: f64| (deg * 1e6).round() as i32;
        match location {
            Some(l) => {
                let (lat, lon) = l.lat_lon.unwrap_or_default();
                Packed {
                    country: l.country.table_index(),
                    region: l.region,
                    from_database: l.source == LocationSource::Database,
                    lat: micro(lat),
                    lon: micro(lon),
                }
            }
            None => Packed {
                country: Packed::NONE,
                region: Region::Wnam,
                from_database: false,
                lat: 0,
                lon: 0,
            },
        }
    }

    #[inline]
    fn unpack(self) -> Option<ClientLocation> {
        let country = CountryCode::from_table_index(self.country)?;
        Some(if self.from_database {
            ClientLocation {
                country,
                region: self.region,
                lat_lon: Some((f64::from(self.lat) / 1e6, f64::from(self.lon) / 1e6)),
                source: LocationSource::Database,
            }
        } else {
            ClientLocation {
                country,
                region: self.region,
                lat_lon: Some(country.centroid()),
                source: LocationSource::CountryCentroid,
            }
        })
    }
}

/// Hashes a data-section offset with one multiplication (the keys are not attacker-chosen:
/// they come from the database).
#[derive(Default)]
struct OffsetHasher(u64);

impl Hasher for OffsetHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u32(u32::from(b) ^ (self.0 as u32).rotate_left(8));
        }
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        let h = u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 32);
    }
}

/// The fields read from a record, in any of the supported layouts; the rest are skipped.
///
/// - GeoLite2 / GeoIP2 / DB-IP: `country.iso_code`, `registered_country.iso_code`,
///   `location.{latitude,longitude}`, `subdivisions[0].{iso_code,names.en}`.
/// - ip-location-db: `country_code`, `latitude`, `longitude`, `state1`.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    country: Option<Country<'a>>,
    #[serde(borrow)]
    registered_country: Option<Country<'a>>,
    #[serde(borrow)]
    country_code: Option<&'a str>,
    location: Option<Location>,
    latitude: Option<Number>,
    longitude: Option<Number>,
    #[serde(borrow)]
    subdivisions: Option<FirstSubdivision<'a>>,
    #[serde(borrow)]
    state1: Option<&'a str>,
}

#[derive(Deserialize)]
struct Country<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct Location {
    latitude: Option<Number>,
    longitude: Option<Number>,
}

#[derive(Deserialize)]
struct Subdivision<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
    #[serde(borrow)]
    names: Option<Names<'a>>,
}

#[derive(Deserialize)]
struct Names<'a> {
    #[serde(borrow)]
    en: Option<&'a str>,
}

impl Record<'_> {
    fn location(&self) -> Option<ClientLocation> {
        // Where the address is, else where its block is registered (GeoLite2 leaves
        // `country` out for some anycast and satellite ranges).
        let code = self
            .country
            .as_ref()
            .and_then(|c| c.iso_code)
            .or(self.country_code)
            .or(self.registered_country.as_ref().and_then(|c| c.iso_code))?;
        let country = CountryCode::from_bytes(code.as_bytes())?;
        let lat_lon = match &self.location {
            Some(l) => coordinates(l.latitude, l.longitude),
            None => coordinates(self.latitude, self.longitude),
        };
        let subdivision = match &self.subdivisions {
            Some(FirstSubdivision(Some(s))) => s.iso_code.or(s.names.as_ref().and_then(|n| n.en)),
            _ => self.state1,
        };
        let region = Region::of_place(country, subdivision, lat_lon.map(|p| p.1));
        Some(match lat_lon {
            Some(p) => ClientLocation {
                country,
                region,
                lat_lon: Some(p),
                source: LocationSource::Database,
            },
            None => ClientLocation {
                country,
                region,
                lat_lon: Some(country.centroid()),
                source: LocationSource::CountryCentroid,
            },
        })
    }
}

/// Coordinates when both are present, in range, and not exactly (0, 0) (which databases use
/// for "unknown"; no country lies there).
fn coordinates(lat: Option<Number>, lon: Option<Number>) -> Option<(f64, f64)> {
    let (lat, lon) = (lat?.0, lon?.0);
    let valid = (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon);
    (valid && (lat, lon) != (0.0, 0.0)).then_some((lat, lon))
}

/// A number stored as double, float, integer or numeric string.
#[derive(Clone, Copy)]
struct Number(f64);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
                Ok(Number(v))
            }
            fn visit_f32<E: de::Error>(self, v: f32) -> Result<Number, E> {
                // Rounded to 1e-5 degrees (about a metre, near f32's own precision here), so
                // 32.7831f32 becomes 32.7831 rather than 32.78310012817383.
                Ok(Number((f64::from(v) * 1e5).round() / 1e5))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Number, E> {
                v.trim()
                    .parse()
                    .map(Number)
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// The first element of a `subdivisions` array (the largest subdivision), without allocating.
struct FirstSubdivision<'a>(Option<Subdivision<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for FirstSubdivision<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = FirstSubdivision<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of subdivisions")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let first = seq.next_element::<Subdivision<'a>>()?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(FirstSubdivision(first))
            }
        }
        d.deserialize_seq(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_use_addresses() {
        let cases = [
            ("10.0.0.1", true),
            ("172.16.0.1", true),
            ("172.31.255.255", true),
            ("172.32.0.1", false),
            ("192.168.1.1", true),
            ("100.64.0.1", true),
            ("100.127.255.255", true),
            ("100.128.0.1", false),
            ("100.63.255.255", false),
            ("169.254.1.1", true),
            ("0.0.0.0", true),
            ("0.1.2.3", true),
            ("224.0.0.1", true),
            ("240.0.0.1", true),
            ("255.255.255.255", true),
            ("127.0.0.1", false),
            ("192.0.2.1", false),
            ("8.8.8.8", false),
            ("fc00::1", true),
            ("fd12::1", true),
            ("fe80::1", true),
            ("ff02::1", true),
            ("::", true),
            ("::1", false),
            ("2001:db8::1", false),
            ("2001:4860:4860::8888", false),
        ];
        for (addr, want) in cases {
            assert_eq!(is_private_use(addr.parse().unwrap()), want, "{addr}");
        }
    }

    #[test]
    fn records_past_the_limit_are_decoded_at_lookup() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
        let addrs = [
            "127.0.0.1",
            "127.0.3.1",
            "127.0.4.1",
            "127.0.9.1",
            "127.0.10.1",
            "127.0.11.1",
            "192.0.2.1",
            "203.0.113.200",
            "2001:db8:1::1",
            "8.8.8.8",
        ];
        for name in [
            "geolite2-city.mmdb",
            "geolite2-country.mmdb",
            "flat-city.mmdb",
        ] {
            let path = PathBuf::from(dir).join(name);
            let full = GeoDb::open(&path).unwrap();
            let none = GeoDb::open_with_limit(&path, 0).unwrap();
            let some = GeoDb::open_with_limit(&path, 3).unwrap();
            assert!(full.records.len() > 3, "{name}");
            assert_eq!(none.records.len(), 0);
            assert_eq!(some.records.len(), 3);
            assert_eq!(none.metadata().level, full.metadata().level);
            assert_eq!(none.metadata().networks, full.metadata().networks);
            for addr in addrs {
                let ip = addr.parse().unwrap();
                assert_eq!(none.lookup(ip), full.lookup(ip), "{name} {addr}");
                assert_eq!(some.lookup(ip), full.lookup(ip), "{name} {addr}");
            }
        }
    }

    #[test]
    fn f32_coordinates_are_rounded() {
        let n = |v: f32| {
            let de = serde::de::value::F32Deserializer::<serde::de::value::Error>::new(v);
            Number::deserialize(de).unwrap().0
        };
        assert_eq!(n(32.7831), 32.7831);
        assert_eq!(n(-96.8067), -96.8067);
        assert_eq!(n(0.0), 0.0);
    }

    #[test]
    fn coordinates_must_be_valid() {
        let c = |lat: f64, lon: f64| coordinates(Some(Number(lat)), Some(Number(lon)));
        assert_eq!(c(1.0, 2.0), Some((1.0, 2.0)));
        assert_eq!(c(0.0, 0.0), None);
        assert_eq!(c(91.0, 0.0), None);
        assert_eq!(c(0.0, -181.0), None);
        assert_eq!(c(f64::NAN, 1.0), None);
        assert_eq!(coordinates(Some(Number(1.0)), None), None);
    }
}
