//! [`PoolRuntime`]: one `OriginPool` at request time — its health and its balancing.

use crate::geo;
use crate::hash::{hash64, name_hash};
use crate::ring::HashRing;
use crate::state::{health_epoch, InFlightGuard, OriginState, PoolLoad};
use crate::{cookie_value, ip_bytes, RequestContext, SteeringError};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::*};
use std::sync::Arc;
use torii_config::{HashKey, Origin, OriginAddress, OriginBalancing, OriginPool, PoolId};

/// Seed of consistent-hash keys (stable: part of the key → origin mapping).
const KEY_SEED: u64 = 0x6b65_792d_7630_3031; // "key-v001"
/// Longest round-robin schedule; larger weight sums are scaled down.
const MAX_SCHEDULE: u64 = 1 << 16;
/// Weighted draws tried before the exact (linear) pass when drawn origins are unhealthy or
/// excluded.
const DRAWS: usize = 4;
/// Bits of the cached healthy weight (the count takes the rest of a `u64`).
const WEIGHT_BITS: u32 = 40;

/// One `OriginPool` at request time: which origins are healthy and which one a request goes to.
///
/// Built once per configuration snapshot (off the request path); every method on the request
/// path is allocation-free. Origins are addressed by their index in the pool's `origins`.
/// Disabled origins and origins of weight 0 never get a new request (pinned sessions may still
/// reach them, see [`crate::LoadBalancerRuntime`]).
#[derive(Debug)]
pub struct PoolRuntime {
    pool: Arc<OriginPool>,
    states: Vec<Arc<OriginState>>,
    load: Arc<PoolLoad>,
    /// Origins that may get new requests (enabled, weight > 0), in order.
    members: Box<[u32]>,
    /// Their weights.
    member_weights: Box<[u32]>,
    /// Running sums of `member_weights`.
    cumulative: Box<[u64]>,
    /// Sum of `member_weights`.
    total_weight: u64,
    /// Weighted round-robin schedule (origin indices), for `RoundRobin`.
    schedule: Box<[u32]>,
    cursor: AtomicUsize,
    /// The ring, for `ConsistentHash`.
    ring: Option<HashRing>,
    /// Healthy members needed for the pool to be healthy: `max(1, minimumOrigins)`.
    required: u32,
    /// Health epoch of `health_value`.
    health_tag: AtomicU64,
    /// Healthy member count (high bits) and weight (low [`WEIGHT_BITS`]).
    health_value: AtomicU64,
    /// `now + 1` of `rtt_value`.
    rtt_tag: AtomicU64,
    /// Mean smoothed RTT of healthy members, µs (0 = unknown).
    rtt_value: AtomicU64,
    /// The pool's position as a unit vector, when its location has coordinates.
    position: Option<[f64; 3]>,
    /// Hash of the pool's id (affinity pins).
    id_hash: u32,
    /// `(name hash, origin index)`, sorted (affinity pins).
    by_name_hash: Box<[(u32, u32)]>,
    /// Name hash of each origin.
    name_hashes: Box<[u32]>,
}

impl PoolRuntime {
    /// Builds the runtime of `pool` over one state per origin (same order). `now` (UNIX
    /// seconds) starts the drain of origins this configuration disables.
    pub fn new(
        pool: Arc<OriginPool>,
        states: Vec<Arc<OriginState>>,
        now: u64,
    ) -> Result<Self, SteeringError> {
        Self::with_load(pool, states, Arc::default(), now)
    }

    /// Builds the runtime with fresh states (every origin healthy, no traffic).
    pub fn fresh(pool: Arc<OriginPool>, now: u64) -> Self {
        let states = pool.origins.iter().map(|_| Arc::default()).collect();
        Self::build(pool, states, Arc::default(), now)
    }

    /// Builds the runtime of a new configuration of a pool, carrying over from `previous` the
    /// state of each origin that stays (same name and same address) and the pool's load
    /// counter; other origins get fresh states.
    pub fn reload(pool: Arc<OriginPool>, previous: Option<&PoolRuntime>, now: u64) -> Self {
        let states = pool
            .origins
            .iter()
            .map(|origin| {
                previous
                    .and_then(|previous| {
                        previous
                            .pool
                            .origins
                            .iter()
                            .position(|old| {
                                old.name == origin.name && same_place(&old.address, &origin.address)
                            })
                            .map(|i| Arc::clone(&previous.states[i]))
                    })
                    .unwrap_or_default()
            })
            .collect();
        let load = previous.map(|p| Arc::clone(&p.load)).unwrap_or_default();
        Self::build(pool, states, load, now)
    }

    /// Like [`Self::new`], sharing a pool load counter (carried over from a previous runtime).
    pub fn with_load(
        pool: Arc<OriginPool>,
        states: Vec<Arc<OriginState>>,
        load: Arc<PoolLoad>,
        now: u64,
    ) -> Result<Self, SteeringError> {
        if states.len() != pool.origins.len() {
            return Err(SteeringError::StateCount {
                pool: pool.id.clone(),
                origins: pool.origins.len(),
                states: states.len(),
            });
        }
        Ok(Self::build(pool, states, load, now))
    }

    fn build(
        pool: Arc<OriginPool>,
        states: Vec<Arc<OriginState>>,
        load: Arc<PoolLoad>,
        now: u64,
    ) -> Self {
        for (origin, state) in pool.origins.iter().zip(&states) {
            state.sync_enabled(origin.enabled, now);
        }
        let (members, member_weights): (Vec<u32>, Vec<u32>) = pool
            .origins
            .iter()
            .enumerate()
            .filter(|(_, o)| o.enabled && o.weight > 0)
            .map(|(i, o)| (i as u32, o.weight))
            .unzip();
        let cumulative: Box<[u64]> = member_weights
            .iter()
            .scan(0u64, |sum, &w| {
                *sum += u64::from(w);
                Some(*sum)
            })
            .collect();
        let total_weight = cumulative.last().copied().unwrap_or(0);
        let schedule = match pool.balancing {
            OriginBalancing::RoundRobin => round_robin_schedule(&members, &member_weights),
            _ => Box::default(),
        };
        let ring = matches!(pool.balancing, OriginBalancing::ConsistentHash(_))
            .then(|| HashRing::new(&pool));
        let position = match (pool.location.latitude, pool.location.longitude) {
            (Some(lat), Some(lon)) if geo::valid((lat, lon)) => Some(geo::unit_vector((lat, lon))),
            _ => None,
        };
        let name_hashes: Box<[u32]> = pool.origins.iter().map(|o| name_hash(&[&o.name])).collect();
        let mut by_name_hash: Vec<(u32, u32)> = name_hashes
            .iter()
            .enumerate()
            .map(|(i, &h)| (h, i as u32))
            .collect();
        by_name_hash.sort_unstable();
        Self {
            id_hash: name_hash(&[&pool.id.namespace, "/", &pool.id.name]),
            required: pool.minimum_origins.max(1),
            states,
            load,
            members: members.into(),
            member_weights: member_weights.into(),
            cumulative,
            total_weight,
            schedule,
            cursor: AtomicUsize::new(0),
            ring,
            health_tag: AtomicU64::new(0),
            health_value: AtomicU64::new(0),
            rtt_tag: AtomicU64::new(0),
            rtt_value: AtomicU64::new(0),
            position,
            by_name_hash: by_name_hash.into(),
            name_hashes,
            pool,
        }
    }

    /// The pool's configuration.
    pub fn config(&self) -> &Arc<OriginPool> {
        &self.pool
    }

    /// The pool's id.
    pub fn id(&self) -> &PoolId {
        &self.pool.id
    }

    /// The pool's origins.
    pub fn origins(&self) -> &[Origin] {
        &self.pool.origins
    }

    /// The origins' shared states (same order as the origins), for the health checker and the
    /// next configuration.
    pub fn states(&self) -> &[Arc<OriginState>] {
        &self.states
    }

    /// The pool's load counter (carried over to the next configuration).
    pub fn load(&self) -> &Arc<PoolLoad> {
        &self.load
    }

    /// Counts a request in flight to `origin` (and to the pool) until the guard drops.
    ///
    /// # Panics
    /// When `origin` is not an index of the pool's origins.
    pub fn start_request(&self, origin: usize) -> InFlightGuard {
        InFlightGuard::new(&self.states[origin], &self.load)
    }

    /// Healthy origins that may get new requests (enabled, weight > 0), and their weight.
    fn health(&self) -> (u32, u64) {
        let epoch = health_epoch();
        let unpack = |v: u64| ((v >> WEIGHT_BITS) as u32, v & ((1 << WEIGHT_BITS) - 1));
        if self.health_tag.load(Acquire) == epoch {
            return unpack(self.health_value.load(Relaxed));
        }
        let (mut count, mut weight) = (0u64, 0u64);
        for (&o, &w) in self.members.iter().zip(self.member_weights.iter()) {
            if self.states[o as usize].is_healthy() {
                count += 1;
                weight += u64::from(w);
            }
        }
        let value = count.min((1 << (64 - WEIGHT_BITS)) - 1) << WEIGHT_BITS
            | weight.min((1 << WEIGHT_BITS) - 1);
        self.health_value.store(value, Relaxed);
        self.health_tag.store(epoch, Release);
        unpack(value)
    }

    /// Healthy origins that may get new requests (enabled, weight > 0).
    pub fn healthy_origins(&self) -> u32 {
        self.health().0
    }

    /// Total weight of the healthy origins that may get new requests.
    pub fn healthy_weight(&self) -> u64 {
        self.health().1
    }

    /// Whether the pool is healthy: at least `max(1, minimumOrigins)` of its enabled origins
    /// with weight are healthy.
    pub fn is_healthy(&self) -> bool {
        self.health().0 >= self.required
    }

    /// The mean smoothed health-check round trip of the healthy origins, in µs (`None` when no
    /// healthy origin has a sample). Recomputed at most once per second of `now`.
    pub fn rtt_micros(&self, now: u64) -> Option<u32> {
        let tag = now.wrapping_add(1);
        if self.rtt_tag.load(Acquire) != tag {
            let (mut sum, mut count) = (0u64, 0u64);
            for &o in self.members.iter() {
                let state = &self.states[o as usize];
                let rtt = state.rtt_micros();
                if rtt > 0 && state.is_healthy() {
                    sum += u64::from(rtt);
                    count += 1;
                }
            }
            let mean = sum.checked_div(count).map_or(0, |mean| mean.max(1));
            self.rtt_value.store(mean, Relaxed);
            self.rtt_tag.store(tag, Release);
            return (mean > 0).then_some(mean as u32);
        }
        match self.rtt_value.load(Relaxed) {
            0 => None,
            mean => Some(mean as u32),
        }
    }

    /// Share of new requests (percent) this pool turns away to the next pool.
    pub fn load_shedding_percent(&self) -> u8 {
        self.pool.load_shedding_percent
    }

    /// Draws whether a new request is shed.
    pub(crate) fn sheds(&self, rng: &mut fastrand::Rng) -> bool {
        let percent = self.pool.load_shedding_percent;
        percent > 0 && rng.u8(0..100) < percent
    }

    /// The pool's position as a unit vector (proximity steering).
    pub(crate) fn position(&self) -> Option<&[f64; 3]> {
        self.position.as_ref()
    }

    /// Hash of the pool's id (affinity pins).
    pub(crate) fn id_hash(&self) -> u32 {
        self.id_hash
    }

    /// Name hash of an origin (affinity pins).
    pub(crate) fn name_hash(&self, origin: usize) -> u32 {
        self.name_hashes[origin]
    }

    /// The origin with this name hash.
    pub(crate) fn origin_by_hash(&self, hash: u32) -> Option<usize> {
        let at = self.by_name_hash.partition_point(|&(h, _)| h < hash);
        match self.by_name_hash.get(at) {
            Some(&(h, i)) if h == hash => Some(i as usize),
            _ => None,
        }
    }

    /// Whether a session pinned to `origin` may go on using it at `now`: it is healthy, and
    /// enabled (weight 0 included: no new sessions, existing ones stay) or disabled less than
    /// `drain` seconds ago.
    pub(crate) fn pinnable(&self, origin: usize, now: u64, drain: u64) -> bool {
        let state = &self.states[origin];
        state.is_healthy()
            && (self.pool.origins[origin].enabled
                || state
                    .disabled_since()
                    .is_some_and(|since| now < since.saturating_add(drain)))
    }

    /// The origins a DNS answer lists: the healthy ones that may get new requests, or, when
    /// `healthy_only` is false (the last resort of [`crate::LoadBalancerRuntime::select_pool`]),
    /// every one that may get new requests.
    pub fn answer_origins(&self, healthy_only: bool) -> impl Iterator<Item = (usize, &Origin)> {
        self.members.iter().filter_map(move |&o| {
            let o = o as usize;
            (!healthy_only || self.states[o].is_healthy()).then(|| (o, &self.pool.origins[o]))
        })
    }

    /// Picks a healthy origin for a request per the pool's balancing, never one in `exclude`.
    /// `None` when no healthy origin is left.
    pub fn pick_origin(
        &self,
        ctx: &RequestContext<'_>,
        rng: &mut fastrand::Rng,
        exclude: &[usize],
    ) -> Option<usize> {
        self.pick_where(ctx, rng, |o| exclude.contains(&o), true)
    }

    /// Picks an origin per the pool's balancing among those `excluded` rejects not, healthy
    /// ones only when `healthy_only`.
    pub(crate) fn pick_where(
        &self,
        ctx: &RequestContext<'_>,
        rng: &mut fastrand::Rng,
        excluded: impl Fn(usize) -> bool,
        healthy_only: bool,
    ) -> Option<usize> {
        let accept = |o: usize| !excluded(o) && (!healthy_only || self.states[o].is_healthy());
        match &self.pool.balancing {
            OriginBalancing::WeightedRandom => self.sample(rng, &accept),
            OriginBalancing::RoundRobin => {
                if !self.schedule.is_empty() {
                    let turn = self.cursor.fetch_add(1, Relaxed) % self.schedule.len();
                    let o = self.schedule[turn] as usize;
                    if accept(o) {
                        return Some(o);
                    }
                }
                // Its turn belongs to an unusable origin: spread it by weight rather than
                // doubling the next origin's share.
                self.sample(rng, &accept)
            }
            OriginBalancing::LeastOutstandingRequests => {
                self.two_choices(rng, &accept, OriginState::in_flight)
            }
            OriginBalancing::LeastConnections => {
                self.two_choices(rng, &accept, OriginState::connections)
            }
            OriginBalancing::ConsistentHash(key) => match (&self.ring, request_hash(key, ctx)) {
                (Some(ring), Some(hash)) => ring.lookup(hash, accept),
                // No key (header or cookie absent): any origin will do.
                _ => self.sample(rng, &accept),
            },
        }
    }

    /// A weighted random member that `accept` takes: a few draws over all members (exact when
    /// one is accepted: rejection sampling), then one linear pass over the accepted ones.
    fn sample(&self, rng: &mut fastrand::Rng, accept: &impl Fn(usize) -> bool) -> Option<usize> {
        match self.members.len() {
            0 => return None,
            1 => return Some(self.members[0] as usize).filter(|&o| accept(o)),
            _ => {}
        }
        for _ in 0..DRAWS {
            let r = rng.u64(0..self.total_weight);
            let o = self.members[self.cumulative.partition_point(|&c| c <= r)] as usize;
            if accept(o) {
                return Some(o);
            }
        }
        let accepted = || {
            self.members
                .iter()
                .zip(self.member_weights.iter())
                .map(|(&o, &w)| (o as usize, u64::from(w)))
                .filter(|&(o, _)| accept(o))
        };
        let total: u64 = accepted().map(|(_, w)| w).sum();
        if total == 0 {
            return None;
        }
        let mut r = rng.u64(0..total);
        let mut last = None;
        for (o, w) in accepted() {
            if r < w {
                return Some(o);
            }
            r -= w;
            last = Some(o);
        }
        // Health changed between the passes.
        last
    }

    /// The less loaded (by `load` per weight) of two weighted random members.
    fn two_choices(
        &self,
        rng: &mut fastrand::Rng,
        accept: &impl Fn(usize) -> bool,
        load: fn(&OriginState) -> u32,
    ) -> Option<usize> {
        let a = self.sample(rng, accept)?;
        let mut b = a;
        for _ in 0..3 {
            match self.sample(rng, accept) {
                Some(other) if other != a => {
                    b = other;
                    break;
                }
                Some(_) => {}
                None => return Some(a),
            }
        }
        if b == a {
            return Some(a);
        }
        let weight = |o: usize| u64::from(self.pool.origins[o].weight);
        let cost = |o: usize, other: usize| (u64::from(load(&self.states[o])) + 1) * weight(other);
        Some(if cost(b, a) < cost(a, b) { b } else { a })
    }
}

/// Whether two addresses name the same place (a Service's endpoint list may change).
fn same_place(a: &OriginAddress, b: &OriginAddress) -> bool {
    match (a, b) {
        (OriginAddress::Service { backend: a, .. }, OriginAddress::Service { backend: b, .. }) => {
            a == b
        }
        _ => a == b,
    }
}

/// The consistent-hash key of a request, if it has one.
fn request_hash(key: &HashKey, ctx: &RequestContext<'_>) -> Option<u64> {
    match key {
        HashKey::ClientIp => {
            let (bytes, len) = ip_bytes(ctx.client_ip);
            Some(hash64(KEY_SEED, &bytes[..len]))
        }
        HashKey::Header(name) => ctx
            .headers
            .get(name)
            .map(|v| hash64(KEY_SEED, v.as_bytes())),
        HashKey::Cookie(name) => cookie_value(ctx.headers, name).map(|v| hash64(KEY_SEED, v)),
    }
}

/// The weighted round-robin schedule: each member `weight / gcd` times (scaled down to at
/// most [`MAX_SCHEDULE`] turns), ordered by the deadline `(2k + 1) / weight` of its k-th turn,
/// which interleaves heavy and light origins smoothly (3:1 gives A A B A).
fn round_robin_schedule(members: &[u32], weights: &[u32]) -> Box<[u32]> {
    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    let divisor = weights.iter().fold(0, |g, &w| gcd(g, u64::from(w))).max(1);
    let mut turns: Vec<u64> = weights.iter().map(|&w| u64::from(w) / divisor).collect();
    let total: u64 = turns.iter().sum();
    if total > MAX_SCHEDULE {
        for t in &mut turns {
            *t = (*t * MAX_SCHEDULE / total).max(1);
        }
    }
    let mut entries: Vec<(u64, u64, u32)> = Vec::new();
    for (&origin, &count) in members.iter().zip(&turns) {
        entries.extend((0..count).map(|k| (k, count, origin)));
    }
    entries.sort_unstable_by(|&(ka, wa, oa), &(kb, wb, ob)| {
        (u128::from(2 * ka + 1) * u128::from(wb))
            .cmp(&(u128::from(2 * kb + 1) * u128::from(wa)))
            .then(oa.cmp(&ob))
    });
    entries.into_iter().map(|(_, _, origin)| origin).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_interleaves_by_weight() {
        assert_eq!(&*round_robin_schedule(&[0, 1], &[3, 1]), &[0, 0, 1, 0]);
        assert_eq!(&*round_robin_schedule(&[0, 1, 2], &[2, 2, 2]), &[0, 1, 2]);
        assert_eq!(
            &*round_robin_schedule(&[4, 7], &[2, 1]),
            &[4, 7, 4],
            "origin indices, reduced by the gcd"
        );
        let big = round_robin_schedule(&[0, 1], &[u32::MAX, 1]);
        assert!(big.len() as u64 <= MAX_SCHEDULE + 1);
        assert!(big.contains(&1), "a light origin keeps a turn");
    }
}
