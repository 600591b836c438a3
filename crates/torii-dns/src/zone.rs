//! Served zones: configuration ([`Zone`], [`Soa`]) and the compiled, immutable [`ZoneSet`]
//! that the responder looks names up in.

use hickory_proto::rr::Name;
use rustc_hash::FxHashMap;

use crate::error::DnsError;

/// The SOA fields of a zone (RFC 1035 §3.3.13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soa {
    /// The primary name server (MNAME).
    pub mname: String,
    /// The responsible mailbox as a domain name (RNAME), e.g. `hostmaster.example.com`.
    pub rname: String,
    /// The zone serial.
    pub serial: u32,
    /// Secondary refresh interval, seconds.
    pub refresh: u32,
    /// Secondary retry interval, seconds.
    pub retry: u32,
    /// Secondary expiry, seconds.
    pub expire: u32,
    /// The negative-caching TTL (RFC 2308), seconds.
    pub minimum: u32,
}

impl Soa {
    /// An SOA with the given names, `serial` 1 and common timer values (refresh 7200, retry
    /// 3600, expire 1209600, minimum 60).
    pub fn new(mname: impl Into<String>, rname: impl Into<String>) -> Self {
        Soa {
            mname: mname.into(),
            rname: rname.into(),
            serial: 1,
            refresh: 7200,
            retry: 3600,
            expire: 1_209_600,
            minimum: 60,
        }
    }
}

/// One served zone: the apex and its SOA and NS records. Names below the apex are answered
/// by the [`AnswerSource`](crate::AnswerSource).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// The zone apex, e.g. `glb.example.com` (a trailing dot is accepted; case is ignored).
    pub apex: String,
    /// The SOA record.
    pub soa: Soa,
    /// The NS record targets (at least one).
    pub ns: Vec<String>,
    /// TTL of the SOA record, seconds. Negative answers use `min(soa_ttl, soa.minimum)`.
    pub soa_ttl: u32,
    /// TTL of the NS records, seconds.
    pub ns_ttl: u32,
}

impl Zone {
    /// A zone with SOA and NS TTLs of 3600 seconds.
    pub fn new(apex: impl Into<String>, soa: Soa, ns: Vec<String>) -> Self {
        Zone {
            apex: apex.into(),
            soa,
            ns,
            soa_ttl: 3600,
            ns_ttl: 3600,
        }
    }
}

/// A zone compiled to wire-format pieces, so that answering never encodes a name.
#[derive(Debug)]
pub(crate) struct CompiledZone {
    /// Lowercase apex without trailing dot.
    pub(crate) apex: Box<str>,
    /// SOA RDATA (uncompressed names).
    pub(crate) soa_rdata: Box<[u8]>,
    pub(crate) soa_ttl: u32,
    /// TTL of the SOA in negative answers: `min(soa_ttl, minimum)`.
    pub(crate) negative_ttl: u32,
    /// NS RDATAs (uncompressed names).
    pub(crate) ns_rdata: Box<[Box<[u8]>]>,
    pub(crate) ns_ttl: u32,
}

/// The set of served zones, validated and compiled. Cheap to look names up in; build a new
/// one and hand it to [`DnsHandle::update_zones`](crate::DnsHandle::update_zones) to change it.
#[derive(Debug, Default)]
pub struct ZoneSet {
    zones: Vec<CompiledZone>,
    by_apex: FxHashMap<Box<[u8]>, usize>,
}

impl ZoneSet {
    /// Validates and compiles `zones`. Fails on an invalid name, a duplicate apex or a zone
    /// without NS records.
    pub fn new(zones: impl IntoIterator<Item = Zone>) -> Result<Self, DnsError> {
        let mut set = ZoneSet::default();
        for zone in zones {
            let compiled = compile(&zone)?;
            let key: Box<[u8]> = compiled.apex.as_bytes().into();
            if set.by_apex.contains_key(&key) {
                return Err(DnsError::DuplicateZone(compiled.apex.into()));
            }
            set.by_apex.insert(key, set.zones.len());
            set.zones.push(compiled);
        }
        Ok(set)
    }

    /// A set serving no zone (every query is REFUSED).
    pub fn empty() -> Self {
        ZoneSet::default()
    }

    /// Number of zones.
    pub fn len(&self) -> usize {
        self.zones.len()
    }

    /// Whether no zone is served.
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    /// The apexes served (lowercase, no trailing dot).
    pub fn apexes(&self) -> impl Iterator<Item = &str> + '_ {
        self.zones.iter().map(|z| &*z.apex)
    }

    /// The zone containing `name`: the longest apex that is `name` or a suffix of it at a label
    /// boundary. `name` is lowercase and dotted; `label_starts` are the offsets of the labels
    /// that may start an apex, left to right. Returns the zone and the apex offset in `name`.
    pub(crate) fn find(&self, name: &[u8], label_starts: &[u8]) -> Option<(&CompiledZone, usize)> {
        if self.zones.is_empty() {
            return None;
        }
        for &start in label_starts {
            let start = usize::from(start);
            if let Some(&index) = self.by_apex.get(&name[start..]) {
                return Some((&self.zones[index], start));
            }
        }
        None
    }
}

/// Parses and validates a configured name: hickory's parser (escapes, label and name lengths).
fn parse_name(name: &str) -> Result<Name, DnsError> {
    let invalid = |reason: String| DnsError::InvalidName {
        name: name.to_owned(),
        reason,
    };
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() {
        return Err(invalid("empty name (the root) is not allowed".into()));
    }
    let parsed = Name::from_ascii(format!("{trimmed}.")).map_err(|e| invalid(e.to_string()))?;
    if parsed.is_root() {
        return Err(invalid("the root is not allowed".into()));
    }
    Ok(parsed)
}

/// Uncompressed wire form of a name.
fn wire_name(name: &Name, out: &mut Vec<u8>) {
    for label in name.iter() {
        // Labels are at most 63 bytes (checked by hickory's parser).
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    out.push(0);
}

/// The lookup key of an apex: lowercase labels joined by dots. Every byte must be printable
/// ASCII other than the dot, so that the key is also a valid `&str` and matches queried names
/// byte for byte.
fn apex_key(configured: &str, name: &Name) -> Result<Box<str>, DnsError> {
    let mut key = String::with_capacity(name.len());
    for (i, label) in name.iter().enumerate() {
        if i > 0 {
            key.push('.');
        }
        for &b in label {
            if !b.is_ascii_graphic() || b == b'.' {
                return Err(DnsError::InvalidName {
                    name: configured.to_owned(),
                    reason: "an apex may hold only printable ASCII characters".into(),
                });
            }
            key.push(b.to_ascii_lowercase() as char);
        }
    }
    Ok(key.into())
}

fn compile(zone: &Zone) -> Result<CompiledZone, DnsError> {
    let apex_name = parse_name(&zone.apex)?;
    let apex = apex_key(&zone.apex, &apex_name)?;
    if zone.ns.is_empty() {
        return Err(DnsError::NoNameServers(apex.into()));
    }

    let mut soa_rdata = Vec::with_capacity(64);
    wire_name(&parse_name(&zone.soa.mname)?, &mut soa_rdata);
    wire_name(&parse_name(&zone.soa.rname)?, &mut soa_rdata);
    for value in [
        zone.soa.serial,
        zone.soa.refresh,
        zone.soa.retry,
        zone.soa.expire,
        zone.soa.minimum,
    ] {
        soa_rdata.extend_from_slice(&value.to_be_bytes());
    }

    let ns_rdata = zone
        .ns
        .iter()
        .map(|ns| {
            let mut rdata = Vec::with_capacity(32);
            wire_name(&parse_name(ns)?, &mut rdata);
            Ok(rdata.into_boxed_slice())
        })
        .collect::<Result<Vec<_>, DnsError>>()?;

    Ok(CompiledZone {
        apex,
        soa_rdata: soa_rdata.into_boxed_slice(),
        soa_ttl: zone.soa_ttl,
        negative_ttl: zone.soa_ttl.min(zone.soa.minimum),
        ns_rdata: ns_rdata.into_boxed_slice(),
        ns_ttl: zone.ns_ttl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(apex: &str) -> Zone {
        Zone::new(
            apex,
            Soa::new("ns1.example.com", "hostmaster.example.com"),
            vec!["ns1.example.com".into()],
        )
    }

    fn starts(name: &str) -> Vec<u8> {
        let mut v = vec![0u8];
        for (i, b) in name.bytes().enumerate() {
            if b == b'.' {
                v.push(i as u8 + 1);
            }
        }
        v
    }

    #[test]
    fn apex_is_normalized() {
        let set = ZoneSet::new([zone("GLB.Example.COM.")]).unwrap();
        assert_eq!(set.apexes().collect::<Vec<_>>(), ["glb.example.com"]);
    }

    #[test]
    fn longest_apex_wins_at_label_boundaries() {
        let set = ZoneSet::new([zone("example.com"), zone("glb.example.com")]).unwrap();
        let find = |n: &str| {
            set.find(n.as_bytes(), &starts(n))
                .map(|(z, at)| (&*z.apex, at))
        };
        assert_eq!(find("a.glb.example.com"), Some(("glb.example.com", 2)));
        assert_eq!(find("glb.example.com"), Some(("glb.example.com", 0)));
        assert_eq!(find("xglb.example.com"), Some(("example.com", 5)));
        assert_eq!(find("example.org"), None);
        assert_eq!(find("com"), None);
    }

    #[test]
    fn rejects_bad_config() {
        assert!(matches!(
            ZoneSet::new([zone("a.com"), zone("A.com.")]),
            Err(DnsError::DuplicateZone(_))
        ));
        let mut no_ns = zone("a.com");
        no_ns.ns.clear();
        assert!(matches!(
            ZoneSet::new([no_ns]),
            Err(DnsError::NoNameServers(_))
        ));
        assert!(matches!(
            ZoneSet::new([zone(".")]),
            Err(DnsError::InvalidName { .. })
        ));
        let long_label = format!("{}.com", "a".repeat(64));
        assert!(matches!(
            ZoneSet::new([zone(&long_label)]),
            Err(DnsError::InvalidName { .. })
        ));
        assert!(matches!(
            ZoneSet::new([zone("a\\032b.com")]),
            Err(DnsError::InvalidName { .. })
        ));
    }

    #[test]
    fn soa_rdata_and_negative_ttl() {
        let mut z = zone("glb.example.com");
        z.soa.minimum = 30;
        z.soa_ttl = 600;
        let set = ZoneSet::new([z]).unwrap();
        let c = &set.zones[0];
        assert_eq!(c.negative_ttl, 30);
        let mut expected =
            b"\x03ns1\x07example\x03com\x00\x0ahostmaster\x07example\x03com\x00".to_vec();
        for v in [1u32, 7200, 3600, 1_209_600, 30] {
            expected.extend_from_slice(&v.to_be_bytes());
        }
        assert_eq!(&*c.soa_rdata, &expected[..]);
        assert_eq!(&*c.ns_rdata[0], b"\x03ns1\x07example\x03com\x00");
    }
}
