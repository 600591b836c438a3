//! Global load balancing at request time: which pool of a `LoadBalancer` and which origin of
//! an `OriginPool` serve a request, with session affinity and in-request failover.
//!
//! Pure logic over shared atomics (no I/O, no clock, no async): the health checker writes
//! [`OriginState`]s, the proxy counts requests and connections on them, and the pickers read
//! them. Everything on the pick path is allocation-free and takes well under a microsecond
//! (see `benches/pick.rs`).
//!
//! - [`PoolRuntime`] — one `OriginPool`: health (`minimumOrigins`) and balancing (weighted
//!   random, round robin, least outstanding requests, least connections, consistent hash).
//! - [`LoadBalancerRuntime`] — one `LoadBalancer`: steering (failover, weighted, geo,
//!   proximity, least outstanding requests, latency), load shedding, session affinity (cookie,
//!   header, client address; `none`/`temporary`/`sticky`; drain), and failover across attempts
//!   of one request ([`LoadBalancerRuntime::pick`] with an [`AttemptState`],
//!   [`LoadBalancerRuntime::should_retry`]). [`LoadBalancerRuntime::select_pool`] is the same
//!   steering for DNS answers.
//!
//! **Reloads.** Runtimes are immutable and built per configuration snapshot. What must
//! survive a reload lives in shared objects the integrator hands to the next runtime:
//! [`OriginState`]s and [`PoolLoad`] ([`PoolRuntime::reload`] carries them for origins that
//! keep their name and address), and the [`AffinityTable`] ([`LbOptions::table`]). Affinity
//! pins name origins by hashes of their pool id and name, so they survive reloads too.
//!
//! **Time** is a coarse `now` in UNIX seconds passed in by the caller ([`unix_seconds`] reads
//! the clock), so tests need no clock.

mod affinity;
mod error;
mod geo;
mod hash;
mod lb;
mod pool;
mod ring;
mod state;

pub use affinity::{AffinityCookie, AffinitySecret, AffinityTable};
pub use error::SteeringError;
pub use geo::haversine_km;
pub use lb::{
    AffinityOutcome, AttemptState, FailureKind, LbOptions, LoadBalancerRuntime, Pick, PoolChoice,
};
pub use pool::PoolRuntime;
pub use state::{ConnectionGuard, InFlightGuard, OriginState, PoolLoad};

use http::HeaderMap;
use std::net::IpAddr;

/// Where the client is, as far as a geo database (or the edge in front) knows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ClientLocation<'a> {
    /// ISO 3166-1 alpha-2 country (any case).
    pub country: Option<&'a str>,
    /// Region code (Cloudflare's: `WNAM`, `WEU`, …; any case).
    pub region: Option<&'a str>,
    /// `(latitude, longitude)` in degrees.
    pub coordinates: Option<(f64, f64)>,
}

/// What the pickers know of a request.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    /// The client's address (consistent hash and affinity on the client address).
    pub client_ip: IpAddr,
    /// The client's location; all `None` without a geo database (geo and proximity steering
    /// then use the default pools in order).
    pub location: ClientLocation<'a>,
    /// The request headers (consistent hash and affinity on a header or a cookie).
    pub headers: &'a HeaderMap,
    /// Coarse current time, UNIX seconds (affinity expiry, drain, RTT refresh).
    pub now: u64,
}

impl<'a> RequestContext<'a> {
    /// A request from `client_ip` with `headers` at `now` (UNIX seconds), location unknown.
    pub fn new(client_ip: IpAddr, headers: &'a HeaderMap, now: u64) -> Self {
        Self {
            client_ip,
            location: ClientLocation::default(),
            headers,
            now,
        }
    }

    /// The same request with a client location.
    pub fn with_location(self, location: ClientLocation<'a>) -> Self {
        Self { location, ..self }
    }
}

/// The current time in UNIX seconds (the coarse `now` of [`RequestContext`]).
pub fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Entry points for the fuzz targets in `fuzz/`: the affinity cookie as the load balancer
/// reads it. Not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    use crate::affinity::{decode_cookie, encode_cookie, Pin};
    use crate::AffinitySecret;
    use http::HeaderMap;

    /// The value of cookie `name` in `headers`, as session affinity finds it.
    pub fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h [u8]> {
        crate::cookie_value(headers, name)
    }

    /// An affinity cookie value pinning `(pool, origin)` hashes until `expires`.
    pub fn encode_affinity_cookie(
        secret: &AffinitySecret,
        lb: u64,
        pool: u32,
        origin: u32,
        expires: u64,
    ) -> [u8; crate::affinity::COOKIE_LEN] {
        encode_cookie(secret, lb, Pin { pool, origin }, expires)
    }

    /// Decodes and verifies a cookie value: `(pool, origin, expires)` when it is valid at `now`.
    pub fn decode_affinity_cookie(
        secret: &AffinitySecret,
        lb: u64,
        value: &[u8],
        now: u64,
    ) -> Option<(u32, u32, u64)> {
        decode_cookie(secret, lb, value, now).map(|(pin, expires)| (pin.pool, pin.origin, expires))
    }
}

/// The value of cookie `name` in the request's `Cookie` headers (first one wins; surrounding
/// double quotes removed).
pub(crate) fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h [u8]> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b';'))
        .find_map(|pair| {
            let pair = pair.trim_ascii();
            let at = pair.iter().position(|&b| b == b'=')?;
            if pair[..at].trim_ascii() != name.as_bytes() {
                return None;
            }
            let value = pair[at + 1..].trim_ascii();
            Some(match value {
                [b'"', inner @ .., b'"'] => inner,
                _ => value,
            })
        })
}

/// The address's bytes (IPv4-mapped IPv6 as IPv4) and how many of them are used.
pub(crate) fn ip_bytes(ip: IpAddr) -> ([u8; 16], usize) {
    let mut bytes = [0u8; 16];
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            bytes[..4].copy_from_slice(&v4.octets());
            (bytes, 4)
        }
        IpAddr::V6(v6) => (v6.octets(), 16),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn cookie_values_are_found() {
        let mut headers = HeaderMap::new();
        assert_eq!(cookie_value(&headers, "a"), None);
        headers.append("cookie", HeaderValue::from_static("x=1; a_b=2"));
        headers.append("cookie", HeaderValue::from_static(" a = \"3\" ;a=4"));
        assert_eq!(cookie_value(&headers, "x"), Some(&b"1"[..]));
        assert_eq!(cookie_value(&headers, "a_b"), Some(&b"2"[..]));
        assert_eq!(cookie_value(&headers, "a"), Some(&b"3"[..]));
        assert_eq!(cookie_value(&headers, "b"), None);
    }

    #[test]
    fn runtimes_are_shared_across_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<LoadBalancerRuntime>();
        shared::<PoolRuntime>();
        shared::<AffinityTable>();
        shared::<AttemptState>();
        shared::<Pick>();
        shared::<InFlightGuard>();
    }

    #[test]
    fn mapped_addresses_hash_as_ipv4() {
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(ip_bytes(v4), ip_bytes(mapped));
        assert_eq!(ip_bytes("2001:db8::1".parse().unwrap()).1, 16);
    }
}
