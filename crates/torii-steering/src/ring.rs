//! The consistent-hash ring (ketama style, with virtual nodes and a bucket index).
//!
//! Each origin with weight puts `160 × weight / max weight` points (at least 1) on a 64-bit
//! ring; a point's position depends only on the origin's *name* and the point's number. A key
//! goes to the origin of the first point at or after the key's hash, skipping points of origins
//! that may not take it (unhealthy, disabled, already tried). Hence:
//! - ejecting an origin moves exactly its keys (each to the next origin on the ring), and
//!   nothing else moves; it comes back, its keys come back;
//! - removing an origin from the configuration (or disabling it) moves the same keys to the
//!   same places, as long as the largest weight stays the same;
//! - reordering origins in the configuration moves nothing.
//!
//! Lookup is O(1) on average: a bucket index by the hash's top bits points at the first point
//! of the bucket, so a lookup reads one index entry and about one point.
//!
//! Pools of more than 1024 origins use fewer points per origin (at least 16), to keep the ring
//! under ~2.6 MB.

use crate::hash::{fmix64, hash64};
use torii_config::OriginPool;

/// Ring seed for point positions.
const RING_SEED: u64 = 0x7269_6e67_2d76_3031; // "ring-v01"
/// Points of an origin with the largest weight.
const POINTS: u64 = 160;

#[derive(Debug)]
pub(crate) struct HashRing {
    /// Point positions, sorted.
    hashes: Box<[u64]>,
    /// The origin of each point.
    origins: Box<[u32]>,
    /// `index[b]`: the first point whose position's top bits are ≥ `b`.
    index: Box<[u32]>,
    /// `64 - index bits`.
    shift: u32,
}

impl HashRing {
    /// Builds the ring of the enabled origins with weight (the largest weight is taken over
    /// all origins, disabled ones included, so disabling one does not rescale the others).
    pub(crate) fn new(pool: &OriginPool) -> Self {
        let weighted = pool.origins.iter().filter(|o| o.weight > 0).count() as u64;
        let max_weight = pool.origins.iter().map(|o| o.weight).max().unwrap_or(0);
        let base = if weighted <= 1024 {
            POINTS
        } else {
            (POINTS * 1024 / weighted).max(16)
        };
        let mut points: Vec<(u64, u32)> = Vec::new();
        for (i, origin) in pool.origins.iter().enumerate() {
            if origin.weight == 0 || !origin.enabled {
                continue;
            }
            let count = ((base * u64::from(origin.weight) + u64::from(max_weight) / 2)
                / u64::from(max_weight))
            .max(1);
            let name = hash64(RING_SEED, origin.name.as_bytes());
            for point in 0..count {
                points.push((fmix64(name ^ fmix64(point + 1)), i as u32));
            }
        }
        points.sort_unstable();
        let bits = (usize::BITS - points.len().leading_zeros()).clamp(1, 20);
        let shift = 64 - bits;
        let hashes: Box<[u64]> = points.iter().map(|p| p.0).collect();
        let index = (0..1u64 << bits)
            .map(|bucket| hashes.partition_point(|&h| (h >> shift) < bucket) as u32)
            .collect();
        Self {
            origins: points.iter().map(|p| p.1).collect(),
            hashes,
            index,
            shift,
        }
    }

    /// The first origin at or after `key` on the ring that `accept` takes.
    #[inline]
    pub(crate) fn lookup(&self, key: u64, mut accept: impl FnMut(usize) -> bool) -> Option<usize> {
        let len = self.hashes.len();
        if len == 0 {
            return None;
        }
        let mut pos = self.index[(key >> self.shift) as usize] as usize;
        while pos < len && self.hashes[pos] < key {
            pos += 1;
        }
        if pos == len {
            pos = 0;
        }
        let mut rejected = u32::MAX;
        for _ in 0..len {
            let origin = self.origins[pos];
            if origin != rejected {
                if accept(origin as usize) {
                    return Some(origin as usize);
                }
                rejected = origin;
            }
            pos += 1;
            if pos == len {
                pos = 0;
            }
        }
        None
    }
}
