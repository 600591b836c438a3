//! The client's address behind trusted proxies: [`TrustedProxies`] and [`client_address`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// At most this many `X-Forwarded-For` entries are examined per request. Walking stops there
/// and the last trusted hop is the answer (as for a malformed entry), which bounds the cost of
/// a header stuffed with addresses from trusted ranges.
pub const MAX_FORWARDED_HOPS: usize = 32;

/// A set of trusted proxy networks, from CIDRs (`"10.0.0.0/8"`, `"2001:db8::/32"`) or single
/// addresses (`"127.0.0.1"`, `"::1"`).
///
/// Stored as sorted, merged address ranges per family, so [`TrustedProxies::contains`] is a
/// binary search without allocation. IPv4-mapped IPv6 addresses (`::ffff:10.1.2.3`, as a
/// dual-stack socket reports IPv4 peers) are treated as the IPv4 address.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

/// A trusted-proxy entry that is not an address or CIDR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// Neither `address` nor `address/prefix-length`.
    #[error(
        "{0:?} is not an IP address or CIDR (expected e.g. \"10.0.0.0/8\", \"127.0.0.1\" or \
         \"2001:db8::/32\")"
    )]
    Syntax(String),
    /// The prefix length is longer than the address (32 for IPv4, 128 for IPv6).
    #[error("prefix length of {0:?} is longer than the address")]
    PrefixLength(String),
    /// Bits are set after the prefix, which usually means a typo.
    #[error("{input:?} has bits set after the prefix length; did you mean \"{network}\"?")]
    HostBits {
        /// The rejected entry.
        input: String,
        /// The network the entry lies in.
        network: String,
    },
}

impl TrustedProxies {
    /// No trusted proxies: [`client_address`] always answers the peer.
    pub fn none() -> TrustedProxies {
        TrustedProxies::default()
    }

    /// Parses every entry (surrounding whitespace ignored); the first bad one is the error.
    pub fn new<I, S>(entries: I) -> Result<TrustedProxies, CidrError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for entry in entries {
            match parse_cidr(entry.as_ref().trim())? {
                Net::V4(start, end) => v4.push((start, end)),
                Net::V6(start, end) => v6.push((start, end)),
            }
        }
        Ok(TrustedProxies {
            v4: merge(v4),
            v6: merge(v6),
        })
    }

    /// Whether `ip` is in one of the networks.
    #[inline]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip.to_canonical() {
            IpAddr::V4(a) => in_ranges(&self.v4, u32::from(a)),
            IpAddr::V6(a) => in_ranges(&self.v6, u128::from(a)),
        }
    }

    /// Whether no network is trusted.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }
}

/// A comma- or whitespace-separated list, e.g. `"10.0.0.0/8, 127.0.0.1 ::1"` (for a flag).
impl FromStr for TrustedProxies {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TrustedProxies::new(
            s.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|e| !e.is_empty()),
        )
    }
}

/// Lists the merged ranges as CIDR-like `start-end` pairs.
impl fmt::Debug for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v4 = self
            .v4
            .iter()
            .map(|&(s, e)| format!("{}-{}", Ipv4Addr::from(s), Ipv4Addr::from(e)));
        let v6 = self
            .v6
            .iter()
            .map(|&(s, e)| format!("{}-{}", Ipv6Addr::from(s), Ipv6Addr::from(e)));
        f.debug_set().entries(v4.chain(v6)).finish()
    }
}

enum Net {
    V4(u32, u32),
    V6(u128, u128),
}

fn parse_cidr(s: &str) -> Result<Net, CidrError> {
    let syntax = || CidrError::Syntax(s.to_owned());
    let (addr, len) = match s.split_once('/') {
        Some((addr, len)) => {
            if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
                return Err(syntax());
            }
            (addr, Some(len.parse::<u32>().map_err(|_| syntax())?))
        }
        None => (s, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| syntax())?;
    match addr {
        IpAddr::V4(a) => {
            let len = len.unwrap_or(32);
            let (start, end) = range(u32::from(a), len, 32).ok_or_else(|| too_long(s))?;
            if start != u32::from(a) {
                return Err(host_bits(s, Ipv4Addr::from(start).into(), len));
            }
            Ok(Net::V4(start, end))
        }
        IpAddr::V6(a) => {
            let len = len.unwrap_or(128);
            let (start, end) = range(u128::from(a), len, 128).ok_or_else(|| too_long(s))?;
            if start != u128::from(a) {
                return Err(host_bits(s, Ipv6Addr::from(start).into(), len));
            }
            // An IPv4-mapped network (::ffff:0:0/96 and longer) is the IPv4 network.
            if let (Some(v4), true) = (Ipv6Addr::from(start).to_ipv4_mapped(), len >= 96) {
                let (s4, e4) = range(u32::from(v4), len - 96, 32).ok_or_else(|| too_long(s))?;
                return Ok(Net::V4(s4, e4));
            }
            Ok(Net::V6(start, end))
        }
    }
}

fn too_long(s: &str) -> CidrError {
    CidrError::PrefixLength(s.to_owned())
}

fn host_bits(s: &str, network: IpAddr, len: u32) -> CidrError {
    CidrError::HostBits {
        input: s.to_owned(),
        network: format!("{network}/{len}"),
    }
}

/// The first and last address of `addr/len` in a `bits`-wide family (u32 or u128).
fn range<T>(addr: T, len: u32, bits: u32) -> Option<(T, T)>
where
    T: Copy
        + std::ops::Not<Output = T>
        + std::ops::BitAnd<Output = T>
        + std::ops::BitOr<Output = T>
        + std::ops::Shr<u32, Output = T>
        + From<u8>,
{
    if len > bits {
        return None;
    }
    let all = !T::from(0u8);
    // Host mask: the low (bits - len) bits set (no shift by the full width).
    let host = match len {
        0 => all,
        l if l == bits => T::from(0u8),
        l => all >> l,
    };
    Some((addr & !host, addr | host))
}

/// Sorts and merges overlapping or adjacent ranges.
fn merge<T: Ord + Copy + Successor>(mut ranges: Vec<(T, T)>) -> Vec<(T, T)> {
    ranges.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match out.last_mut() {
            Some(last) if last.1.successor().is_none_or(|next| start <= next) => {
                last.1 = last.1.max(end);
            }
            _ => out.push((start, end)),
        }
    }
    out.shrink_to_fit();
    out
}

trait Successor: Sized {
    fn successor(self) -> Option<Self>;
}
impl Successor for u32 {
    fn successor(self) -> Option<Self> {
        self.checked_add(1)
    }
}
impl Successor for u128 {
    fn successor(self) -> Option<Self> {
        self.checked_add(1)
    }
}

#[inline]
fn in_ranges<T: Ord + Copy>(ranges: &[(T, T)], x: T) -> bool {
    // Index of the first range starting after x; the one before it is the candidate.
    let i = ranges.partition_point(|&(start, _)| start <= x);
    i > 0 && ranges[i - 1].1 >= x
}

/// The client's address for a request that arrived from `peer`.
///
/// - If `peer` is not a trusted proxy, `peer` (a client cannot choose its own
///   `X-Forwarded-For` then).
/// - Otherwise `X-Forwarded-For` is walked from the right (the entry the nearest proxy added)
///   to the left, skipping trusted addresses; the first untrusted address is the client.
/// - A malformed entry (not an address, e.g. `unknown` or an obfuscated identifier), or more
///   than [`MAX_FORWARDED_HOPS`] entries, stops the walk: the answer is then the last trusted
///   hop seen (the leftmost trusted entry walked, or the peer), never anything to the left of
///   the bad entry, since whoever wrote that part is not known to be honest.
/// - No header, or only trusted addresses: the last trusted hop (the leftmost entry, or the
///   peer).
///
/// `x_forwarded_for` is the header value; several header lines must be joined with `,` in
/// order (or use [`client_address_from_lines`]). Entries may carry spaces, ports
/// (`1.2.3.4:567`, `[2001:db8::1]:80`) and brackets (`[2001:db8::1]`); empty entries are
/// skipped. A bare IPv6 address is never split at a colon (`2001:db8::1:80` is an address).
/// IPv4-mapped IPv6 addresses are returned as IPv4. No allocation.
pub fn client_address(
    peer: IpAddr,
    x_forwarded_for: Option<&[u8]>,
    trusted: &TrustedProxies,
) -> IpAddr {
    client_address_from_lines(peer, x_forwarded_for, trusted)
}

/// [`client_address`] over several `X-Forwarded-For` header lines, in the order they appear
/// in the request (as `HeaderMap::get_all` yields them), without joining them.
pub fn client_address_from_lines<'a, I>(peer: IpAddr, lines: I, trusted: &TrustedProxies) -> IpAddr
where
    I: IntoIterator<Item = &'a [u8]>,
    I::IntoIter: DoubleEndedIterator,
{
    let peer = peer.to_canonical();
    if !trusted.contains(peer) {
        return peer;
    }
    let mut last_trusted = peer;
    let mut hops = 0;
    for line in lines.into_iter().rev() {
        for entry in line.rsplit(|&b| b == b',') {
            let entry = entry.trim_ascii();
            if entry.is_empty() {
                continue;
            }
            hops += 1;
            if hops > MAX_FORWARDED_HOPS {
                return last_trusted;
            }
            let Some(ip) = parse_forwarded_ip(entry) else {
                return last_trusted;
            };
            let ip = ip.to_canonical();
            if !trusted.contains(ip) {
                return ip;
            }
            last_trusted = ip;
        }
    }
    last_trusted
}

/// One `X-Forwarded-For` entry: `1.2.3.4`, `1.2.3.4:567`, `2001:db8::1`, `[2001:db8::1]`,
/// `[2001:db8::1]:80`.
fn parse_forwarded_ip(entry: &[u8]) -> Option<IpAddr> {
    // The longest valid form: "[ffff:…:255.255.255.255]:65535" is under 64 bytes.
    if entry.len() > 64 {
        return None;
    }
    // The common case, without going through `str` parsing.
    if let Some((v4, rest)) = parse_ipv4_prefix(entry) {
        return match rest {
            [] => Some(IpAddr::V4(v4)),
            [b':', port @ ..] if is_port(port) => Some(IpAddr::V4(v4)),
            _ => None,
        };
    }
    let s = std::str::from_utf8(entry).ok()?;
    if let Some(rest) = s.strip_prefix('[') {
        let (addr, after) = rest.split_once(']')?;
        if !(after.is_empty()
            || after
                .strip_prefix(':')
                .is_some_and(|p| is_port(p.as_bytes())))
        {
            return None;
        }
        return addr.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    s.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

/// A dotted-quad IPv4 address at the start of `s` (as strict as `Ipv4Addr::from_str`: four
/// decimal octets up to 255, no leading zeros), and what follows it.
fn parse_ipv4_prefix(s: &[u8]) -> Option<(Ipv4Addr, &[u8])> {
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (n, octet) in octets.iter_mut().enumerate() {
        if n > 0 {
            if s.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut value: u16 = 0;
        while let Some(d) = s.get(i).filter(|b| b.is_ascii_digit()) {
            value = value * 10 + u16::from(d - b'0');
            i += 1;
            if i - start > 3 {
                return None;
            }
        }
        let digits = i - start;
        if digits == 0 || value > 255 || (digits > 1 && s[start] == b'0') {
            return None;
        }
        *octet = value as u8;
    }
    Some((Ipv4Addr::from(octets), &s[i..]))
}

fn is_port(s: &[u8]) -> bool {
    !s.is_empty()
        && s.len() <= 5
        && s.iter().all(u8::is_ascii_digit)
        && s.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')) <= 65535
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn trusted_proxies_contains() {
        let t: TrustedProxies = "10.0.0.0/8, 192.0.2.1 127.0.0.0/8,2001:db8::/32,::1,fd00::/8"
            .parse()
            .unwrap();
        let cases = [
            ("10.0.0.0", true),
            ("10.255.255.255", true),
            ("11.0.0.0", false),
            ("9.255.255.255", false),
            ("192.0.2.1", true),
            ("192.0.2.0", false),
            ("192.0.2.2", false),
            ("127.0.0.1", true),
            ("::ffff:10.1.2.3", true),
            ("::ffff:11.1.2.3", false),
            ("2001:db8::1", true),
            ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true),
            ("2001:db9::", false),
            ("::1", true),
            ("::2", false),
            ("fd12:3456::1", true),
            ("fe80::1", false),
        ];
        for (addr, want) in cases {
            assert_eq!(t.contains(ip(addr)), want, "{addr}");
        }
        assert!(!TrustedProxies::none().contains(ip("127.0.0.1")));
        assert!(TrustedProxies::none().is_empty());
        assert!(!t.is_empty());
    }

    #[test]
    fn trusted_proxies_edges() {
        let all: TrustedProxies = "0.0.0.0/0 ::/0".parse().unwrap();
        for a in ["0.0.0.0", "255.255.255.255", "::", "ffff::1"] {
            assert!(all.contains(ip(a)), "{a}");
        }
        // IPv4-mapped CIDR becomes IPv4.
        let mapped: TrustedProxies = "::ffff:10.0.0.0/104".parse().unwrap();
        assert!(mapped.contains(ip("10.9.9.9")));
        assert!(!mapped.contains(ip("11.0.0.0")));
        // Overlapping and adjacent ranges merge.
        let merged = TrustedProxies::new(["10.0.0.0/9", "10.128.0.0/9", "10.1.0.0/16"]).unwrap();
        assert_eq!(merged.v4, vec![(0x0a00_0000, 0x0aff_ffff)]);
        assert_eq!(format!("{merged:?}"), "{\"10.0.0.0-10.255.255.255\"}");
        let two = TrustedProxies::new(["255.255.255.255", "0.0.0.0"]).unwrap();
        assert_eq!(two.v4.len(), 2);
    }

    #[test]
    fn cidr_errors() {
        let cases: [(&str, CidrError); 9] = [
            ("", CidrError::Syntax("".into())),
            ("10.0.0.0/", CidrError::Syntax("10.0.0.0/".into())),
            ("10.0.0.0/x", CidrError::Syntax("10.0.0.0/x".into())),
            ("10.0.0.0/+8", CidrError::Syntax("10.0.0.0/+8".into())),
            ("10.0.0/8", CidrError::Syntax("10.0.0/8".into())),
            ("localhost", CidrError::Syntax("localhost".into())),
            ("10.0.0.0/33", CidrError::PrefixLength("10.0.0.0/33".into())),
            ("::/129", CidrError::PrefixLength("::/129".into())),
            (
                "10.1.2.3/8",
                CidrError::HostBits {
                    input: "10.1.2.3/8".into(),
                    network: "10.0.0.0/8".into(),
                },
            ),
        ];
        for (input, want) in cases {
            assert_eq!(TrustedProxies::new([input]), Err(want), "{input:?}");
        }
        assert!(matches!(
            "2001:db8::1/32".parse::<TrustedProxies>(),
            Err(CidrError::HostBits { network, .. }) if network == "2001:db8::/32"
        ));
    }

    #[test]
    fn forwarded_entry_forms() {
        let cases = [
            ("1.2.3.4", Some("1.2.3.4")),
            ("1.2.3.4:567", Some("1.2.3.4")),
            ("2001:db8::1", Some("2001:db8::1")),
            ("2001:db8::1:80", Some("2001:db8::1:80")),
            ("[2001:db8::1]", Some("2001:db8::1")),
            ("[2001:db8::1]:80", Some("2001:db8::1")),
            ("::ffff:1.2.3.4", Some("::ffff:1.2.3.4")),
            ("1.2.3.4:", None),
            ("1.2.3.4:123456", None),
            ("1.2.3.4:65536", None),
            ("1.2.3.4:65535", Some("1.2.3.4")),
            ("1.2.3.4:+80", None),
            ("1.2.3.4:http", None),
            ("[2001:db8::1]x", None),
            ("[1.2.3.4]", None),
            ("[2001:db8::1", None),
            ("unknown", None),
            ("_hidden", None),
            ("1.2.3", None),
            ("1.2.3.4.5", None),
            ("01.2.3.4", None),
            ("1.2.3.256", None),
            ("1.2.3.0400", None),
            ("0.0.0.0", Some("0.0.0.0")),
            ("255.255.255.255:0", Some("255.255.255.255")),
            ("1.2.3.4x", None),
            ("1.2.3.4::1", None),
            ("1..3.4", None),
            ("::", Some("::")),
            ("\u{ff}", None),
        ];
        for (entry, want) in cases {
            assert_eq!(
                parse_forwarded_ip(entry.as_bytes()),
                want.map(ip),
                "{entry:?}"
            );
        }
        assert_eq!(parse_forwarded_ip(&[b'1'; 65]), None);
        assert_eq!(parse_forwarded_ip(b"\xff\xfe"), None);
    }

    #[test]
    fn client_address_walks_from_the_right() {
        let trusted =
            TrustedProxies::new(["10.0.0.0/8", "127.0.0.1", "2001:db8:ffff::/48"]).unwrap();
        let peer_proxy = "10.0.0.1";
        // (peer, X-Forwarded-For, expected)
        let cases: &[(&str, Option<&str>, &str)] = &[
            // Untrusted peer: its header is ignored.
            ("198.51.100.7", Some("1.2.3.4"), "198.51.100.7"),
            ("198.51.100.7", None, "198.51.100.7"),
            // Trusted peer without header: the peer.
            (peer_proxy, None, peer_proxy),
            (peer_proxy, Some(""), peer_proxy),
            (peer_proxy, Some(" , ,"), peer_proxy),
            // The nearest untrusted entry wins; spoofed entries to its left are ignored.
            (peer_proxy, Some("1.2.3.4"), "1.2.3.4"),
            (peer_proxy, Some("6.6.6.6, 1.2.3.4"), "1.2.3.4"),
            (peer_proxy, Some("6.6.6.6, 1.2.3.4, 10.1.1.1"), "1.2.3.4"),
            (
                peer_proxy,
                Some("6.6.6.6,1.2.3.4,10.1.1.1,127.0.0.1"),
                "1.2.3.4",
            ),
            // Spaces, tabs, empty entries.
            (peer_proxy, Some(" \t1.2.3.4 , , 10.1.1.1\t"), "1.2.3.4"),
            // Ports and brackets.
            (peer_proxy, Some("1.2.3.4:567"), "1.2.3.4"),
            (
                peer_proxy,
                Some("[2001:db8::7]:443, 10.1.1.1"),
                "2001:db8::7",
            ),
            (peer_proxy, Some("[2001:db8::7]"), "2001:db8::7"),
            (peer_proxy, Some("2001:db8::7"), "2001:db8::7"),
            // IPv6 trusted hops.
            (
                peer_proxy,
                Some("203.0.113.9, 2001:db8:ffff::1"),
                "203.0.113.9",
            ),
            ("2001:db8:ffff::2", Some("203.0.113.9"), "203.0.113.9"),
            // IPv4-mapped peers and entries are IPv4.
            ("::ffff:10.0.0.1", Some("1.2.3.4"), "1.2.3.4"),
            (peer_proxy, Some("::ffff:1.2.3.4"), "1.2.3.4"),
            ("::ffff:198.51.100.7", Some("1.2.3.4"), "198.51.100.7"),
            // Only trusted entries: the leftmost one.
            (peer_proxy, Some("10.9.9.9, 10.1.1.1"), "10.9.9.9"),
            // Malformed entries stop the walk at the last trusted hop.
            (peer_proxy, Some("1.2.3.4, unknown"), peer_proxy),
            (peer_proxy, Some("1.2.3.4, garbage, 10.1.1.1"), "10.1.1.1"),
            (
                peer_proxy,
                Some("1.2.3.4, 10.2.2.2, 1.2.3.4:99999"),
                peer_proxy,
            ),
            (peer_proxy, Some("unknown, 1.2.3.4"), "1.2.3.4"),
        ];
        for &(peer, xff, want) in cases {
            assert_eq!(
                client_address(ip(peer), xff.map(str::as_bytes), &trusted),
                ip(want),
                "peer {peer}, XFF {xff:?}"
            );
        }
    }

    #[test]
    fn client_address_over_several_lines() {
        let trusted = TrustedProxies::new(["10.0.0.0/8"]).unwrap();
        let peer = ip("10.0.0.1");
        let lines: [&[u8]; 3] = [b"6.6.6.6", b"1.2.3.4, 10.1.1.1", b"10.2.2.2"];
        assert_eq!(
            client_address_from_lines(peer, lines, &trusted),
            ip("1.2.3.4")
        );
        let lines: [&[u8]; 2] = [b"5.5.5.5", b"10.1.1.1,"];
        assert_eq!(
            client_address_from_lines(peer, lines, &trusted),
            ip("5.5.5.5")
        );
        let joined = b"6.6.6.6,1.2.3.4, 10.1.1.1,10.2.2.2";
        assert_eq!(client_address(peer, Some(joined), &trusted), ip("1.2.3.4"));
    }

    #[test]
    fn client_address_bounds_the_walk() {
        let trusted = TrustedProxies::new(["10.0.0.0/8"]).unwrap();
        let peer = ip("10.0.0.1");
        let hops = |n: usize| {
            let mut v: Vec<String> = vec!["1.2.3.4".into()];
            v.extend((0..n).map(|i| format!("10.0.{}.{}", i / 256, i % 256)));
            v.join(",")
        };
        // Just within the limit: the client is found.
        let ok = hops(MAX_FORWARDED_HOPS - 1);
        assert_eq!(
            client_address(peer, Some(ok.as_bytes()), &trusted),
            ip("1.2.3.4")
        );
        // Past it: the last trusted hop examined.
        let long = hops(MAX_FORWARDED_HOPS);
        let got = client_address(peer, Some(long.as_bytes()), &trusted);
        assert!(trusted.contains(got), "{got}");
        assert_eq!(
            got,
            ip("10.0.0.0"),
            "entry {MAX_FORWARDED_HOPS} counted from the right"
        );
    }
}
