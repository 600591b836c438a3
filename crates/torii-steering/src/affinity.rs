//! Session affinity storage: the stateless cookie torii sets, and the bounded table for
//! header and client-address sessions.
//!
//! A *pin* names an origin by stable hashes (its pool's `namespace/name` and its own name), not
//! by position, so pins survive reloads that reorder, add or remove other origins.
//!
//! **Cookie format** (version 1): 21 bytes in unpadded base64url (28 characters):
//! `version (1) | pool hash (4) | origin-name hash (4) | expiry, UNIX seconds (4) | MAC (8)`,
//! integers big-endian, the MAC being SipHash-2-4 keyed with the [`AffinitySecret`] over the
//! load balancer's id hash and the first 13 bytes. A cookie that does not decode, does not
//! verify or has expired is ignored (the request gets a new session).

use crate::hash::siphash24;
use http::HeaderValue;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, OnceLock};

/// The 128-bit key that authenticates affinity cookies and keys the affinity table.
///
/// [`AffinitySecret::process`] (the default) is random per process: cookies are recognised by
/// the process that set them, across reloads. Instances behind one name that must honour each
/// other's cookies share a secret through [`AffinitySecret::from_bytes`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AffinitySecret {
    k0: u64,
    k1: u64,
}

impl fmt::Debug for AffinitySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AffinitySecret(..)")
    }
}

impl AffinitySecret {
    /// A secret from 16 bytes (shared by instances that must honour each other's cookies).
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        let mut k0 = [0u8; 8];
        let mut k1 = [0u8; 8];
        k0.copy_from_slice(&bytes[..8]);
        k1.copy_from_slice(&bytes[8..]);
        Self {
            k0: u64::from_le_bytes(k0),
            k1: u64::from_le_bytes(k1),
        }
    }

    /// A fresh random secret (from the standard library's randomly keyed hasher).
    pub fn random() -> Self {
        let state = RandomState::new();
        Self {
            k0: state.hash_one(0x746f_7269_695f_6b30_u64),
            k1: state.hash_one(0x746f_7269_695f_6b31_u64),
        }
    }

    /// This process's secret: random, drawn once.
    pub fn process() -> Self {
        static SECRET: OnceLock<AffinitySecret> = OnceLock::new();
        *SECRET.get_or_init(Self::random)
    }

    /// The keyed hash of `bytes` in the domain `domain`.
    pub(crate) fn hash(&self, domain: u64, bytes: &[u8]) -> u64 {
        siphash24(self.k0 ^ domain, self.k1, bytes)
    }
}

/// An origin a session is pinned to, by stable hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pin {
    /// The pool's id hash.
    pub(crate) pool: u32,
    /// The origin's name hash.
    pub(crate) origin: u32,
}

const COOKIE_VERSION: u8 = 1;
const COOKIE_BYTES: usize = 21;
/// Length of an encoded cookie value.
pub(crate) const COOKIE_LEN: usize = 28;
const COOKIE_MAC_DOMAIN: u64 = 0x636f_6f6b_6965_6d61; // "cookiema"

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64url_value(c: u8) -> Option<u32> {
    Some(u32::from(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => return None,
    }))
}

fn cookie_mac(secret: &AffinitySecret, lb: u64, body: &[u8]) -> u64 {
    let mut message = [0u8; 8 + COOKIE_BYTES - 8];
    message[..8].copy_from_slice(&lb.to_be_bytes());
    message[8..].copy_from_slice(body);
    secret.hash(COOKIE_MAC_DOMAIN, &message)
}

/// Encodes a pin valid until `expires` (UNIX seconds) as a cookie value.
pub(crate) fn encode_cookie(
    secret: &AffinitySecret,
    lb: u64,
    pin: Pin,
    expires: u64,
) -> [u8; COOKIE_LEN] {
    let mut raw = [0u8; COOKIE_BYTES];
    raw[0] = COOKIE_VERSION;
    raw[1..5].copy_from_slice(&pin.pool.to_be_bytes());
    raw[5..9].copy_from_slice(&pin.origin.to_be_bytes());
    raw[9..13].copy_from_slice(&u32::try_from(expires).unwrap_or(u32::MAX).to_be_bytes());
    let mac = cookie_mac(secret, lb, &raw[..13]);
    raw[13..].copy_from_slice(&mac.to_be_bytes());
    let mut out = [0u8; COOKIE_LEN];
    for (group, chars) in raw.chunks_exact(3).zip(out.chunks_exact_mut(4)) {
        let n = u32::from(group[0]) << 16 | u32::from(group[1]) << 8 | u32::from(group[2]);
        for (i, c) in chars.iter_mut().enumerate() {
            *c = BASE64URL[(n >> (18 - 6 * i) & 63) as usize];
        }
    }
    out
}

/// Decodes and verifies a cookie value: the pin and its expiry, if it is torii's, untampered
/// and not expired at `now`.
pub(crate) fn decode_cookie(
    secret: &AffinitySecret,
    lb: u64,
    value: &[u8],
    now: u64,
) -> Option<(Pin, u64)> {
    if value.len() != COOKIE_LEN {
        return None;
    }
    let mut raw = [0u8; COOKIE_BYTES];
    for (chars, group) in value.chunks_exact(4).zip(raw.chunks_exact_mut(3)) {
        let mut n = 0u32;
        for &c in chars {
            n = n << 6 | base64url_value(c)?;
        }
        group.copy_from_slice(&n.to_be_bytes()[1..]);
    }
    if raw[0] != COOKIE_VERSION {
        return None;
    }
    let mut mac = [0u8; 8];
    mac.copy_from_slice(&raw[13..]);
    // Not constant time: a forged pin only chooses among the load balancer's own origins.
    if u64::from_be_bytes(mac) != cookie_mac(secret, lb, &raw[..13]) {
        return None;
    }
    let word = |at: usize| u32::from_be_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]]);
    let expires = u64::from(word(9));
    (expires > now).then_some((
        Pin {
            pool: word(1),
            origin: word(5),
        },
        expires,
    ))
}

/// An affinity cookie to set on the response (`Set-Cookie`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AffinityCookie {
    name: Arc<str>,
    value: [u8; COOKIE_LEN],
    max_age: u64,
}

impl AffinityCookie {
    pub(crate) fn new(name: Arc<str>, value: [u8; COOKIE_LEN], max_age: u64) -> Self {
        Self {
            name,
            value,
            max_age,
        }
    }

    /// The cookie's name (the load balancer's `sessionAffinity` cookie).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cookie's value: 28 base64url characters.
    pub fn value(&self) -> &str {
        // Only base64url characters are ever written.
        std::str::from_utf8(&self.value).unwrap_or_default()
    }

    /// Seconds the browser keeps the cookie (the affinity TTL).
    pub fn max_age(&self) -> u64 {
        self.max_age
    }

    /// The `Set-Cookie` header value: `name=value; Max-Age=ttl; Path=/; HttpOnly;
    /// SameSite=Lax`, plus `Secure` when asked (HTTPS listeners). Allocates: call it on the
    /// response path, not per pick.
    pub fn set_cookie_header(&self, secure: bool) -> HeaderValue {
        let text = format!(
            "{}={}; Max-Age={}; Path=/; HttpOnly; SameSite=Lax{}",
            self.name,
            self.value(),
            self.max_age,
            if secure { "; Secure" } else { "" }
        );
        // Names are validated as tokens by translation; a name that is not one yields a
        // value-less header rather than a panic.
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// Ways per bucket of the affinity table.
const WAYS: usize = 8;

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    key: u64,
    /// UNIX seconds; the slot is free when `expires <= now` (0 = never used).
    expires: u64,
    pin: Pin,
}

/// Sessions keyed by a header value or the client address: a bounded, sharded,
/// set-associative table.
///
/// The memory is allocated once (24 bytes per entry); a full bucket evicts the entry closest to
/// expiry, so the table never grows and the oldest sessions go first. Entries expire `ttl` after
/// the session was last seen. The table outlives a configuration: hand it to the next
/// [`crate::LoadBalancerRuntime`] (see [`crate::LbOptions::table`]) so sessions survive reloads.
pub struct AffinityTable {
    shards: Box<[Mutex<Box<[Slot]>>]>,
    /// Buckets per shard.
    buckets: usize,
}

impl fmt::Debug for AffinityTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AffinityTable")
            .field("capacity", &self.capacity())
            .finish()
    }
}

impl AffinityTable {
    /// A table for about `capacity` sessions (rounded up to whole buckets; at least 8).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(WAYS);
        let shards = (capacity / 1024).next_power_of_two().clamp(1, 64);
        let buckets = capacity.div_ceil(shards * WAYS);
        Self {
            shards: (0..shards)
                .map(|_| Mutex::new(vec![Slot::default(); buckets * WAYS].into_boxed_slice()))
                .collect(),
            buckets,
        }
    }

    /// How many sessions fit.
    pub fn capacity(&self) -> usize {
        self.shards.len() * self.buckets * WAYS
    }

    /// Sessions not expired at `now` (walks the whole table: for metrics and tests).
    pub fn live_sessions(&self, now: u64) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                let slots = shard
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                slots.iter().filter(|slot| slot.expires > now).count()
            })
            .sum()
    }

    /// The shard and the bucket's first slot for `key`.
    fn locate(&self, key: u64) -> (usize, usize) {
        let shard = (key as usize) & (self.shards.len() - 1);
        let bucket = ((key >> 32) as usize) % self.buckets;
        (shard, bucket * WAYS)
    }

    /// The pin of a live session, whose expiry moves to `expires` (sliding TTL).
    pub(crate) fn get(&self, key: u64, now: u64, expires: u64) -> Option<Pin> {
        let (shard, start) = self.locate(key);
        let mut slots = self.shards[shard]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let slot = slots[start..start + WAYS]
            .iter_mut()
            .find(|slot| slot.key == key && slot.expires > now)?;
        slot.expires = slot.expires.max(expires);
        Some(slot.pin)
    }

    /// Pins a session until `expires`, replacing its pin or evicting the entry closest to
    /// expiry.
    pub(crate) fn insert(&self, key: u64, pin: Pin, expires: u64, now: u64) {
        let (shard, start) = self.locate(key);
        let mut slots = self.shards[shard]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let bucket = &mut slots[start..start + WAYS];
        let at = bucket
            .iter()
            .position(|slot| slot.key == key && slot.expires > now)
            .or_else(|| {
                bucket
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, slot)| slot.expires)
                    .map(|(i, _)| i)
            });
        if let Some(at) = at {
            bucket[at] = Slot { key, expires, pin };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_round_trip_and_reject_tampering() {
        let secret = AffinitySecret::from_bytes(*b"0123456789abcdef");
        let pin = Pin {
            pool: 0xdead_beef,
            origin: 42,
        };
        let value = encode_cookie(&secret, 7, pin, 1_000);
        assert!(value.iter().all(|c| BASE64URL.contains(c)));
        assert_eq!(decode_cookie(&secret, 7, &value, 999), Some((pin, 1_000)));
        assert_eq!(decode_cookie(&secret, 7, &value, 1_000), None, "expired");
        assert_eq!(
            decode_cookie(&secret, 8, &value, 0),
            None,
            "other load balancer"
        );
        let other = AffinitySecret::from_bytes(*b"fedcba9876543210");
        assert_eq!(decode_cookie(&other, 7, &value, 0), None, "other secret");
        for i in 0..COOKIE_LEN {
            let mut forged = value;
            forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
            assert_eq!(decode_cookie(&secret, 7, &forged, 0), None, "byte {i}");
        }
        assert_eq!(decode_cookie(&secret, 7, &value[1..], 0), None);
        assert_eq!(
            decode_cookie(&secret, 7, b"not a cookie at all, really", 0),
            None
        );
    }

    #[test]
    fn cookie_header_has_the_attributes() {
        let secret = AffinitySecret::process();
        let value = encode_cookie(&secret, 1, Pin::default(), 60);
        let cookie = AffinityCookie::new("torii_lb".into(), value, 3600);
        let header = cookie.set_cookie_header(true);
        let text = header.to_str().unwrap();
        assert!(text.starts_with(&format!("torii_lb={}; Max-Age=3600;", cookie.value())));
        assert!(text.ends_with("; Secure"));
        assert!(!cookie
            .set_cookie_header(false)
            .to_str()
            .unwrap()
            .contains("Secure"));
    }

    #[test]
    fn secrets_differ_and_do_not_print() {
        assert_ne!(AffinitySecret::random(), AffinitySecret::random());
        assert_eq!(AffinitySecret::process(), AffinitySecret::process());
        assert_eq!(
            format!("{:?}", AffinitySecret::process()),
            "AffinitySecret(..)"
        );
    }

    #[test]
    fn table_expires_slides_and_stays_bounded() {
        let table = AffinityTable::new(100);
        let pin = |origin| Pin { pool: 1, origin };
        table.insert(1, pin(1), 110, 100);
        assert_eq!(table.get(1, 105, 115), Some(pin(1)));
        assert_eq!(table.get(1, 112, 122), Some(pin(1)), "slid to 115");
        assert_eq!(table.get(1, 122, 132), None, "expired");
        table.insert(1, pin(2), 200, 150);
        table.insert(1, pin(3), 200, 150);
        assert_eq!(table.get(1, 150, 0), Some(pin(3)));
        assert_eq!(table.live_sessions(150), 1);
        let capacity = table.capacity();
        assert!(capacity >= 100);
        for key in 0..10 * capacity as u64 {
            table.insert(key.wrapping_mul(0x9e37_79b9_7f4a_7c15), pin(0), 1_000, 150);
        }
        assert_eq!(table.live_sessions(150), capacity, "full, never more");
        assert_eq!(table.capacity(), capacity);
    }
}
