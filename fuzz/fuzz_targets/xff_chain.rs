//! Fuzzes the client address behind trusted proxies (`torii_geo::client_address` and
//! `client_address_from_lines`) on `X-Forwarded-For` header lines, and the trusted-proxy list
//! parser (`TrustedProxies::from_str`), against a plain model of the documented rules:
//!
//! - an untrusted peer is the client, whatever the header says;
//! - otherwise entries are walked from the right, skipping trusted addresses; the first
//!   untrusted one is the client; a malformed entry or more than `MAX_FORWARDED_HOPS` entries
//!   stop the walk at the last trusted hop; entries may carry a port and brackets;
//! - several lines equal the lines joined with `,`;
//! - IPv4-mapped IPv6 counts as IPv4; CIDR lists parse as the model parses them.
//!
//! Input: a byte choosing the peer, then either (high bit of that byte set) a trusted-proxy
//! list and a NUL, then the header lines separated by `\n`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use torii_geo::{client_address, client_address_from_lines, TrustedProxies, MAX_FORWARDED_HOPS};

const PEERS: [&str; 6] = [
    "10.1.2.3",
    "192.0.2.7",
    "127.0.0.1",
    "::1",
    "::ffff:10.9.9.9",
    "2001:db8::5",
];

const DEFAULT_TRUSTED: &str = "10.0.0.0/8, 127.0.0.1 ::1 2001:db8::/32 ::ffff:192.168.0.0/112";

/// A network of the model: family, first address, prefix length.
#[derive(Debug, Clone, Copy)]
enum Net {
    V4(u32, u32),
    V6(u128, u32),
}

/// The model's CIDR parser: `address` or `address/len` (one to three digits), no bits set
/// past the prefix, an IPv4-mapped network of /96 or longer is the IPv4 network.
fn model_cidr(s: &str) -> Option<Net> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) if !l.is_empty() && l.len() <= 3 && l.bytes().all(|b| b.is_ascii_digit()) => {
            (a, Some(l.parse::<u32>().ok()?))
        }
        Some(_) => return None,
        None => (s, None),
    };
    match addr.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => {
            let len = len.unwrap_or(32);
            let a = u32::from(a);
            (len <= 32 && (len == 32 || a & (u32::MAX >> len) == 0)).then_some(Net::V4(a, len))
        }
        IpAddr::V6(a) => {
            let len = len.unwrap_or(128);
            let a128 = u128::from(a);
            if len > 128 || (len < 128 && a128 & (u128::MAX >> len) != 0) {
                return None;
            }
            match (a.to_ipv4_mapped(), len >= 96) {
                (Some(v4), true) => Some(Net::V4(u32::from(v4), len - 96)),
                _ => Some(Net::V6(a128, len)),
            }
        }
    }
}

fn model_contains(nets: &[Net], ip: IpAddr) -> bool {
    nets.iter().any(|net| match (*net, ip.to_canonical()) {
        (Net::V4(start, len), IpAddr::V4(a)) => {
            len == 0 || (u32::from(a) ^ start) >> (32 - len) == 0
        }
        (Net::V6(start, len), IpAddr::V6(a)) => {
            len == 0 || (u128::from(a) ^ start) >> (128 - len) == 0
        }
        _ => false,
    })
}

fn is_port(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 5
        && p.bytes().all(|b| b.is_ascii_digit())
        && p.parse::<u32>().is_ok_and(|n| n <= 65535)
}

/// The model's entry parser, with the standard library's address parsers.
fn model_entry(entry: &[u8]) -> Option<IpAddr> {
    if entry.len() > 64 {
        return None;
    }
    let s = std::str::from_utf8(entry).ok()?;
    if let Ok(v4) = s.parse::<Ipv4Addr>() {
        return Some(IpAddr::V4(v4));
    }
    if let Some((host, port)) = s.split_once(':') {
        if let Ok(v4) = host.parse::<Ipv4Addr>() {
            return is_port(port).then_some(IpAddr::V4(v4));
        }
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (addr, after) = rest.split_once(']')?;
        let port_ok = after.is_empty() || after.strip_prefix(':').is_some_and(is_port);
        return port_ok.then(|| addr.parse::<Ipv6Addr>().ok().map(IpAddr::V6))?;
    }
    s.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

fn model_client(peer: IpAddr, lines: &[&[u8]], nets: &[Net]) -> IpAddr {
    let peer = peer.to_canonical();
    if !model_contains(nets, peer) {
        return peer;
    }
    let entries: Vec<&[u8]> = lines
        .iter()
        .flat_map(|line| line.split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|e| !e.is_empty())
        .collect();
    let mut last = peer;
    for (hop, entry) in entries.iter().rev().enumerate() {
        if hop >= MAX_FORWARDED_HOPS {
            return last;
        }
        let Some(ip) = model_entry(entry) else {
            return last;
        };
        let ip = ip.to_canonical();
        if !model_contains(nets, ip) {
            return ip;
        }
        last = ip;
    }
    last
}

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let peer: IpAddr = PEERS[usize::from(choice & 0x7f) % PEERS.len()]
        .parse()
        .expect("a peer address");
    let (list, header) = match (choice & 0x80 != 0, rest.iter().position(|&b| b == 0)) {
        (true, Some(nul)) => (
            String::from_utf8_lossy(&rest[..nul]).into_owned(),
            &rest[nul + 1..],
        ),
        _ => (DEFAULT_TRUSTED.to_owned(), rest),
    };

    let entries: Vec<&str> = list
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|e| !e.is_empty())
        .collect();
    let model_nets: Option<Vec<Net>> = entries.iter().map(|e| model_cidr(e)).collect();
    let trusted = match (list.parse::<TrustedProxies>(), model_nets) {
        (Ok(trusted), Some(nets)) => (trusted, nets),
        (Err(_), None) => return,
        (torii, model) => panic!("list {list:?}: torii {torii:?}, model {model:?}"),
    };
    let (trusted, nets) = trusted;

    let lines: Vec<&[u8]> = header.split(|&b| b == b'\n').collect();
    let got = client_address_from_lines(peer, lines.iter().copied(), &trusted);
    let want = model_client(peer, &lines, &nets);
    assert_eq!(got, want, "peer {peer}, lines {lines:?}, trusted {list:?}");
    let joined = lines.join(&b","[..]);
    assert_eq!(client_address(peer, Some(&joined), &trusted), got, "joined");
    if lines.len() == 1 {
        assert_eq!(client_address(peer, Some(lines[0]), &trusted), got);
    }

    // Membership agrees with the model on the peer and on every parsable entry.
    for ip in std::iter::once(peer).chain(
        lines
            .iter()
            .flat_map(|l| l.split(|&b| b == b','))
            .filter_map(|e| model_entry(e.trim_ascii())),
    ) {
        assert_eq!(
            trusted.contains(ip),
            model_contains(&nets, ip),
            "{ip} in {list:?}"
        );
    }
});
