//! Fuzzes session affinity cookies as the load balancer reads them: finding the cookie in the
//! request's `Cookie` header lines (`torii_steering::fuzzing::cookie_value`) and decoding and
//! verifying its value (`decode_affinity_cookie`).
//!
//! - Any header bytes and any value: no panic.
//! - A cookie torii encoded decodes to what was encoded until it expires, and not for
//!   another load balancer or secret.
//! - Any other value, in particular any edit of a valid one, is refused (the MAC).
//! - The cookie found in the header lines is the one a plain model of the documented rules
//!   finds: pairs split at `;`, whitespace trimmed, first name match wins, one pair of
//!   surrounding double quotes removed.
//!
//! Input: 16 bytes of secret, 8 of load balancer id, 4 + 4 of pin, 8 of expiry, 8 of "now",
//! then header bytes (lines split at `\n`) in which `@` stands for a valid cookie value.

#![no_main]

use http::header::{HeaderMap, HeaderValue, COOKIE};
use libfuzzer_sys::fuzz_target;
use torii_steering::fuzzing::{cookie_value, decode_affinity_cookie, encode_affinity_cookie};
use torii_steering::AffinitySecret;

const NAME: &str = "torii-aff";

fn take<const N: usize>(data: &mut &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    let n = N.min(data.len());
    out[..n].copy_from_slice(&data[..n]);
    *data = &data[n..];
    out
}

/// The model of `cookie_value`.
fn model_cookie<'h>(lines: &'h [Vec<u8>], name: &str) -> Option<&'h [u8]> {
    for line in lines {
        for pair in line.split(|&b| b == b';') {
            let pair = pair.trim_ascii();
            let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            if pair[..eq].trim_ascii() != name.as_bytes() {
                continue;
            }
            let value = pair[eq + 1..].trim_ascii();
            let unquoted = match value.len() {
                2.. if value[0] == b'"' && value[value.len() - 1] == b'"' => {
                    &value[1..value.len() - 1]
                }
                _ => value,
            };
            return Some(unquoted);
        }
    }
    None
}

fuzz_target!(|data: &[u8]| {
    let mut data = data;
    let secret = AffinitySecret::from_bytes(take(&mut data));
    let lb = u64::from_le_bytes(take(&mut data));
    let pool = u32::from_le_bytes(take(&mut data));
    let origin = u32::from_le_bytes(take(&mut data));
    let expires = u64::from_le_bytes(take(&mut data));
    let now = u64::from_le_bytes(take(&mut data));

    let value = encode_affinity_cookie(&secret, lb, pool, origin, expires);
    assert!(value
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    // Expiry is stored in 32 bits: later ones saturate.
    let stored = expires.min(u64::from(u32::MAX));
    let decoded = decode_affinity_cookie(&secret, lb, &value, now);
    assert_eq!(decoded, (stored > now).then_some((pool, origin, stored)));
    assert_eq!(
        decode_affinity_cookie(&secret, lb ^ 1, &value, 0),
        None,
        "other lb"
    );
    let other = AffinitySecret::from_bytes([0x5a; 16]);
    if other != secret {
        assert_eq!(
            decode_affinity_cookie(&other, lb, &value, 0),
            None,
            "other secret"
        );
    }

    // Any edit of the valid value is refused.
    if let [at, flip, ..] = data {
        let mut edited = value;
        edited[usize::from(*at) % edited.len()] ^= flip;
        if edited != value {
            assert_eq!(
                decode_affinity_cookie(&secret, lb, &edited, 0),
                None,
                "edited"
            );
        }
    }

    // The rest as header lines, with `@` replaced by the valid value.
    let lines: Vec<Vec<u8>> = data
        .split(|&b| b == b'\n')
        .map(|line| {
            let mut out = Vec::with_capacity(line.len());
            for &b in line {
                if b == b'@' {
                    out.extend_from_slice(&value);
                } else {
                    out.push(b);
                }
            }
            out
        })
        .collect();
    // Only lines a client can send: `http` refuses other header values at parse time.
    let valid: Vec<Vec<u8>> = lines
        .into_iter()
        .filter(|l| HeaderValue::from_bytes(l).is_ok())
        .collect();
    let mut headers = HeaderMap::new();
    for line in &valid {
        headers.append(COOKIE, HeaderValue::from_bytes(line).expect("checked"));
    }
    let found = cookie_value(&headers, NAME);
    assert_eq!(found, model_cookie(&valid, NAME));
    if let Some(found) = found {
        let result = decode_affinity_cookie(&secret, lb, found, 0);
        if found == value.as_slice() {
            assert_eq!(result, (stored > 0).then_some((pool, origin, stored)));
        } else {
            assert_eq!(
                result, None,
                "accepted a value torii did not issue: {found:?}"
            );
        }
    }
    // The raw bytes as a value: refused unless they are the valid value.
    if data != value.as_slice() {
        assert_eq!(decode_affinity_cookie(&secret, lb, data, 0), None);
    }
});
