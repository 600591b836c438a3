//! Hashes: a fast unkeyed 64-bit hash for ring placement and consistent-hash keys (stable
//! across processes and versions, so every torii instance maps a key to the same origin), and
//! keyed SipHash-2-4 for affinity cookies and affinity-table keys (unpredictable without the
//! secret).

const P0: u64 = 0xa076_1d64_78bd_642f;
const P1: u64 = 0xe703_7ed1_a0b4_28db;

/// Multiplies and folds the 128-bit product (wyhash's mixing step).
#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

/// MurmurHash3's 64-bit finaliser: every input bit affects every output bit.
#[inline]
pub(crate) fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// A fast, well-mixed, unkeyed 64-bit hash of `bytes`. Its output is part of torii's
/// behaviour (ring positions, which origin a key maps to): never change it.
#[inline]
pub(crate) fn hash64(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed ^ P0;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = fold(h ^ u64::from_le_bytes(word), P1);
    }
    let mut last = 0u64;
    for (i, byte) in chunks.remainder().iter().enumerate() {
        last |= u64::from(*byte) << (8 * i);
    }
    h = fold(h ^ last, P1 ^ bytes.len() as u64);
    fmix64(h)
}

/// The 32-bit name hash used in affinity pins: a pool's `namespace/name` or an origin's name.
pub(crate) fn name_hash(parts: &[&str]) -> u32 {
    let mut h = 0x746f_7269_6970_696e; // "toriipin"
    for part in parts {
        h = hash64(h, part.as_bytes());
    }
    (h >> 32) as u32
}

#[inline]
fn sip_round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13);
    v[1] ^= v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16);
    v[3] ^= v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21);
    v[3] ^= v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17);
    v[1] ^= v[2];
    v[2] = v[2].rotate_left(32);
}

/// SipHash-2-4 of `data` under the key `(k0, k1)` (the reference algorithm).
pub(crate) fn siphash24(k0: u64, k1: u64, data: &[u8]) -> u64 {
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let m = u64::from_le_bytes(word);
        v[3] ^= m;
        sip_round(&mut v);
        sip_round(&mut v);
        v[0] ^= m;
    }
    let mut b = (data.len() as u64) << 56;
    for (i, byte) in chunks.remainder().iter().enumerate() {
        b |= u64::from(*byte) << (8 * i);
    }
    v[3] ^= b;
    sip_round(&mut v);
    sip_round(&mut v);
    v[0] ^= b;
    v[2] ^= 0xff;
    for _ in 0..4 {
        sip_round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siphash_matches_the_reference_vectors() {
        let (k0, k1) = (0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908);
        assert_eq!(siphash24(k0, k1, b""), 0x726f_db47_dd0e_0e31);
        let message: Vec<u8> = (0u8..15).collect();
        assert_eq!(siphash24(k0, k1, &message), 0xa129_ca61_49be_45e5);
        let message: Vec<u8> = (0u8..8).collect();
        assert_eq!(siphash24(k0, k1, &message), 0x93f5_f579_9a93_2462);
    }

    #[test]
    fn hash64_is_stable_and_spreads() {
        // The value is part of torii's behaviour: a change moves every consistent-hash key.
        assert_eq!(hash64(0, b"client-1"), hash64(0, b"client-1"));
        assert_ne!(hash64(0, b"client-1"), hash64(0, b"client-2"));
        assert_ne!(hash64(0, b"a"), hash64(1, b"a"));
        assert_ne!(hash64(0, b""), hash64(0, b"\0"));
        // Top bits of sequential keys land evenly in 16 buckets.
        let mut buckets = [0u32; 16];
        for i in 0..16_000u32 {
            buckets[(hash64(7, &i.to_le_bytes()) >> 60) as usize] += 1;
        }
        for count in buckets {
            assert!((850..1150).contains(&count), "{buckets:?}");
        }
    }
}
