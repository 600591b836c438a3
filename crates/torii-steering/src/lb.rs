//! [`LoadBalancerRuntime`]: steering between pools, session affinity and failover across the
//! attempts of one request.
//!
//! # How a pick goes
//!
//! 1. **Affinity.** A valid session whose origin is still *pinnable* (healthy, and enabled or
//!    disabled less than the drain period ago) goes to that origin, whatever steering says.
//! 2. **Steering** orders the pools: the steering policy's choice first, then the default pools
//!    in order, then the fallback pool (each pool once).
//!    - `failover`: the default pools in order.
//!    - `weighted`: a random healthy default pool by weight (a pool missing from the weights
//!      counts 1), then the others in order.
//!    - `geo`: the pools of the client's country, else of its region, else none; then the
//!      default pools. Without a location (no geo database) this is `failover`.
//!    - `proximity`: the default pools nearest first (great-circle distance); pools without
//!      coordinates last. Without client coordinates this is `failover`.
//!    - `leastOutstandingRequests`: the default pools by requests in flight per unit of healthy
//!      weight, fewest first.
//!    - `latency`: the default pools by the mean smoothed health-check RTT of their healthy
//!      origins, lowest first; pools without a sample last.
//! 3. **Walk** the order: the first *healthy* pool (healthy origins ≥ `max(1, minimumOrigins)`)
//!    that yields a healthy origin serves. A new request (no session) may be **shed** by a pool
//!    (`loadSheddingPercent`) to the next pool, but never by the last healthy pool of the order.
//! 4. **Nothing healthy?** Every pool being unhealthy, the *fallback pool* serves if it has a
//!    healthy origin; else any pool of the order that still has a healthy origin (a pool can be
//!    unhealthy by `minimumOrigins` and still have some); else — the **last resort** — the
//!    fallback pool, or the first pool of the order without a fallback, sends to its origins
//!    regardless of health (fail open: health checks may be what is broken). So a pick never
//!    fails while an enabled origin with weight exists and has not been tried.
//!
//! # Retries
//!
//! After a failed attempt (see [`LoadBalancerRuntime::should_retry`]), `pick` with the same
//! [`AttemptState`] gives the next candidate: another origin of the same pool first, then —
//! when `acrossPools` — the walk goes on with the next pools. An origin is never tried twice,
//! and at most `retries + 1` picks are made.
//!
//! # Session affinity
//!
//! - `cookie`: torii sets a stateless, authenticated cookie (format in the `affinity` module
//!   docs) naming the pool and origin and its expiry; it is re-set when less than half its TTL is
//!   left, so a session lives `ttl` after it was last seen.
//! - `header`, `clientIp`: a bounded [`AffinityTable`] keyed by a keyed hash of the value.
//!
//! When the pinned origin is not pinnable (unhealthy, or disabled and drained):
//! `none` and `sticky` pick anew and re-pin to the new origin; `temporary` picks anew but keeps
//! the pin, so the session comes back when the origin recovers. When an attempt on a pinnable
//! origin *fails* (in-request failover), the retry goes elsewhere; only `sticky` re-pins to where
//! the retry went, `none` and `temporary` keep the pin. A session whose origin is gone from the
//! configuration starts anew.
//!
//! **Drain.** [`PoolRuntime`] records in the origin's [`crate::OriginState`] when a
//! configuration first disabled it; pinned sessions keep going there for the `drain` period
//! (while it stays healthy), new requests never do. An origin *removed* from the configuration
//! cannot be drained (its address is gone): disable it first, remove it after the drain. An
//! origin of weight 0 gets no new sessions but keeps its pinned ones.

use crate::affinity::{
    decode_cookie, encode_cookie, AffinityCookie, AffinitySecret, AffinityTable, Pin,
};
use crate::hash::{hash64, name_hash};
use crate::pool::PoolRuntime;
use crate::state::InFlightGuard;
use crate::{cookie_value, geo, ip_bytes, RequestContext, SteeringError};
use smallvec::SmallVec;
use std::cmp::Ordering;
use std::sync::Arc;
use torii_config::{
    AffinityFailover, AffinityKey, LoadBalancer, Origin, PoolId, SessionAffinity, Steering,
};

/// Domains of the keyed hashes of affinity-table keys.
const HEADER_DOMAIN: u64 = 0x6865_6164_6572_6b79; // "headerky"
const CLIENT_IP_DOMAIN: u64 = 0x636c_6965_6e74_6970; // "clientip"

/// Options of a [`LoadBalancerRuntime`] beyond its configuration.
#[derive(Debug, Clone)]
pub struct LbOptions {
    /// The key of affinity cookies and table keys.
    pub secret: AffinitySecret,
    /// The affinity table of the previous runtime of this load balancer, so header and
    /// client-address sessions survive the reload; `None` makes a new one when needed.
    pub table: Option<Arc<AffinityTable>>,
    /// Capacity of a new affinity table.
    pub table_capacity: usize,
}

impl Default for LbOptions {
    fn default() -> Self {
        Self {
            secret: AffinitySecret::process(),
            table: None,
            table_capacity: 1 << 16,
        }
    }
}

/// Which failure ended an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The connection could not be made (the origin never saw the request).
    ConnectError,
    /// The connection was reset or closed before a response.
    Reset,
    /// The origin answered with this status.
    Status(u16),
    /// No response in time (governed by `onReset`: the policy has no timeout switch).
    Timeout,
}

/// What session affinity did for a pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AffinityOutcome {
    /// No affinity configured, or the request has no session key (header absent).
    Off,
    /// The request went to the origin its session is pinned to.
    Followed,
    /// The session is now pinned to the picked origin (new session or re-pin).
    Pinned,
    /// The request went elsewhere and its pin stays (`temporary`, or a retry under `none`).
    Bypassed,
}

/// One candidate for an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    /// Index of the pool in [`LoadBalancerRuntime::pools`].
    pub pool: usize,
    /// Index of the origin in the pool's origins.
    pub origin: usize,
    /// What session affinity did.
    pub affinity: AffinityOutcome,
    /// The affinity cookie to set on the response when this attempt answers it.
    pub set_cookie: Option<AffinityCookie>,
    /// Whether this is the last resort: no healthy origin was left, this one may be unhealthy.
    pub last_resort: bool,
}

/// The walk's phases (see the module docs, "How a pick goes").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Phase {
    /// Healthy pools of the order, healthy origins.
    #[default]
    Healthy,
    /// The fallback pool, healthy origins.
    Fallback,
    /// Any pool of the order, healthy origins.
    AnyHealthy,
    /// The fallback (or first) pool, any origin.
    LastResort,
    /// Nothing left.
    Done,
}

/// What affinity found for this request.
#[derive(Debug, Clone, Copy, Default)]
struct Session {
    /// Affinity is configured and the request has a key.
    active: bool,
    /// Picks write the pin.
    follow: bool,
    /// A new request (no live session): it may be shed.
    fresh: bool,
    /// The table key (header and client-address sessions).
    key: Option<u64>,
}

/// The attempts of one request: what was tried and where the walk stands. Start each request
/// with a new (default) one and pass it to every [`LoadBalancerRuntime::pick`] of the request.
#[derive(Debug, Clone, Default)]
pub struct AttemptState {
    attempts: u32,
    tried: SmallVec<[(u16, u32); 8]>,
    order: SmallVec<[u16; 8]>,
    order_built: bool,
    phase: Phase,
    pos: usize,
    /// Pool of the last pick and whether it was the last resort.
    current: Option<(u16, bool)>,
    session: Session,
}

impl AttemptState {
    /// A state for a new request.
    pub fn new() -> Self {
        Self::default()
    }

    /// Picks made so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// `(pool, origin)` of every pick so far, in order.
    pub fn tried(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.tried
            .iter()
            .map(|&(p, o)| (usize::from(p), o as usize))
    }

    /// Whether `origin` of pool `slot` was tried.
    fn was_tried(tried: &[(u16, u32)], slot: u16, origin: usize) -> bool {
        tried
            .iter()
            .any(|&(s, o)| s == slot && o as usize == origin)
    }
}

/// The pool [`LoadBalancerRuntime::select_pool`] chose for a DNS answer.
#[derive(Debug, Clone, Copy)]
pub struct PoolChoice<'a> {
    /// Index of the pool in [`LoadBalancerRuntime::pools`].
    pub index: usize,
    /// The pool.
    pub pool: &'a PoolRuntime,
    /// Whether the answer lists healthy origins only (false for the last resort).
    pub healthy_only: bool,
}

impl<'a> PoolChoice<'a> {
    /// The origins to answer with.
    pub fn origins(&self) -> impl Iterator<Item = (usize, &'a Origin)> + 'a {
        self.pool.answer_origins(self.healthy_only)
    }
}

/// Upper-case country or region code → pools in failover order, sorted by code.
type GeoTable = Box<[(Box<str>, Box<[u16]>)]>;

/// Compiled steering.
#[derive(Debug)]
enum SteeringTable {
    Failover,
    /// Weight of each default pool (same order as `defaults`).
    Weighted(Box<[u32]>),
    Geo {
        /// Upper-case country → pools, sorted.
        countries: GeoTable,
        /// Upper-case region → pools, sorted.
        regions: GeoTable,
    },
    Proximity,
    LeastOutstandingRequests,
    Latency,
}

/// Compiled session affinity.
#[derive(Debug)]
struct AffinityRuntime {
    config: SessionAffinity,
    ttl: u64,
    drain: u64,
    secret: AffinitySecret,
    /// The table (header and client-address keys).
    table: Option<Arc<AffinityTable>>,
    /// The cookie name (cookie keys).
    cookie: Option<Arc<str>>,
}

/// One `LoadBalancer` at request time. Built once per configuration snapshot; the request path
/// ([`Self::pick`], [`Self::select_pool`]) allocates nothing.
#[derive(Debug)]
pub struct LoadBalancerRuntime {
    lb: Arc<LoadBalancer>,
    /// Every pool the load balancer names (default pools in order, the fallback, geo pools).
    pools: Vec<Arc<PoolRuntime>>,
    /// Slots of the default pools, in order.
    defaults: Box<[u16]>,
    fallback: Option<u16>,
    steering: SteeringTable,
    affinity: Option<AffinityRuntime>,
    problems: Vec<SteeringError>,
    /// Hash of the load balancer's id (binds cookies to it).
    lb_hash: u64,
}

/// Collects the pools of a load balancer as slots.
struct Slots<'l, F> {
    lb: &'l LoadBalancer,
    lookup: F,
    ids: Vec<PoolId>,
    pools: Vec<Arc<PoolRuntime>>,
    problems: Vec<SteeringError>,
}

impl<F: Fn(&PoolId) -> Option<Arc<PoolRuntime>>> Slots<'_, F> {
    fn slot(&mut self, id: &PoolId) -> Option<u16> {
        if let Some(at) = self.ids.iter().position(|known| known == id) {
            return u16::try_from(at).ok();
        }
        let Some(pool) = (self.lookup)(id) else {
            let problem = SteeringError::MissingPool {
                lb: self.lb.id.clone(),
                pool: id.clone(),
            };
            if !self.problems.contains(&problem) {
                self.problems.push(problem);
            }
            return None;
        };
        let Ok(slot) = u16::try_from(self.pools.len()) else {
            let problem = SteeringError::TooManyPools {
                lb: self.lb.id.clone(),
            };
            if !self.problems.contains(&problem) {
                self.problems.push(problem);
            }
            return None;
        };
        self.ids.push(id.clone());
        self.pools.push(pool);
        Some(slot)
    }

    fn slots(&mut self, ids: &[PoolId]) -> Box<[u16]> {
        let mut slots: Vec<u16> = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(slot) = self.slot(id) {
                if !slots.contains(&slot) {
                    slots.push(slot);
                }
            }
        }
        slots.into()
    }
}

/// Compares ASCII strings ignoring case.
fn cmp_ignore_case(a: &str, b: &str) -> Ordering {
    a.bytes()
        .map(|c| c.to_ascii_uppercase())
        .cmp(b.bytes().map(|c| c.to_ascii_uppercase()))
}

/// The pools of `key` in a sorted geo table.
fn geo_lookup<'t>(table: &'t [(Box<str>, Box<[u16]>)], key: &str) -> Option<&'t [u16]> {
    table
        .binary_search_by(|(k, _)| cmp_ignore_case(k, key))
        .ok()
        .map(|at| &*table[at].1)
}

fn push_unique(order: &mut SmallVec<[u16; 8]>, slot: u16) {
    if !order.contains(&slot) {
        order.push(slot);
    }
}

impl LoadBalancerRuntime {
    /// Builds the runtime of `lb` with default options, finding pools with `lookup`. Pools the
    /// lookup does not know are left out and reported in [`Self::problems`].
    pub fn new(
        lb: Arc<LoadBalancer>,
        lookup: impl Fn(&PoolId) -> Option<Arc<PoolRuntime>>,
    ) -> Self {
        Self::with_options(lb, lookup, LbOptions::default())
    }

    /// Builds the runtime of `lb` (see [`Self::new`]) with `options`.
    pub fn with_options(
        lb: Arc<LoadBalancer>,
        lookup: impl Fn(&PoolId) -> Option<Arc<PoolRuntime>>,
        options: LbOptions,
    ) -> Self {
        let mut slots = Slots {
            lb: &lb,
            lookup,
            ids: Vec::new(),
            pools: Vec::new(),
            problems: Vec::new(),
        };
        let defaults = slots.slots(&lb.default_pools);
        let fallback = lb.fallback_pool.as_ref().and_then(|id| slots.slot(id));
        let steering = match &lb.steering {
            Steering::Failover => SteeringTable::Failover,
            Steering::Weighted(weights) => SteeringTable::Weighted(
                defaults
                    .iter()
                    .map(|&slot| {
                        weights
                            .get(&slots.ids[usize::from(slot)])
                            .copied()
                            .unwrap_or(1)
                    })
                    .collect(),
            ),
            Steering::Geo { countries, regions } => {
                let mut table = |map: &std::collections::BTreeMap<Arc<str>, Vec<PoolId>>| {
                    let mut entries: Vec<(Box<str>, Box<[u16]>)> = map
                        .iter()
                        .map(|(key, ids)| (key.to_ascii_uppercase().into(), slots.slots(ids)))
                        .collect();
                    entries.sort_by(|a, b| a.0.cmp(&b.0));
                    entries.dedup_by(|a, b| a.0 == b.0);
                    entries.into_boxed_slice()
                };
                SteeringTable::Geo {
                    countries: table(countries),
                    regions: table(regions),
                }
            }
            Steering::Proximity => SteeringTable::Proximity,
            Steering::LeastOutstandingRequests => SteeringTable::LeastOutstandingRequests,
            Steering::Latency => SteeringTable::Latency,
        };
        let Slots {
            pools,
            mut problems,
            ..
        } = slots;
        if pools.is_empty() {
            problems.push(SteeringError::NoPools { lb: lb.id.clone() });
        }
        let affinity = lb.session_affinity.as_ref().map(|config| {
            let (table, cookie) =
                match &config.key {
                    AffinityKey::Cookie(name) => (None, Some(Arc::clone(name))),
                    AffinityKey::Header(_) | AffinityKey::ClientIp => (
                        Some(options.table.clone().unwrap_or_else(|| {
                            Arc::new(AffinityTable::new(options.table_capacity))
                        })),
                        None,
                    ),
                };
            AffinityRuntime {
                config: config.clone(),
                ttl: config.ttl.as_secs(),
                drain: config.drain.as_secs(),
                secret: options.secret,
                table,
                cookie,
            }
        });
        Self {
            lb_hash: hash64(
                u64::from(name_hash(&[&lb.id.namespace, "/", &lb.id.name])),
                b"lb",
            ),
            lb,
            pools,
            defaults,
            fallback,
            steering,
            affinity,
            problems,
        }
    }

    /// The load balancer's configuration.
    pub fn config(&self) -> &Arc<LoadBalancer> {
        &self.lb
    }

    /// Every pool the load balancer names that exists: the default pools in order, then the
    /// fallback, then pools only geo steering names. [`Pick::pool`] indexes this.
    pub fn pools(&self) -> &[Arc<PoolRuntime>] {
        &self.pools
    }

    /// What was wrong when building (missing pools, no pool at all).
    pub fn problems(&self) -> &[SteeringError] {
        &self.problems
    }

    /// The affinity table (header and client-address affinity), to hand to the next runtime.
    pub fn affinity_table(&self) -> Option<&Arc<AffinityTable>> {
        self.affinity.as_ref().and_then(|a| a.table.as_ref())
    }

    /// The origin of a pick.
    ///
    /// # Panics
    /// When the pick was not made by this runtime.
    pub fn origin(&self, pick: &Pick) -> &Origin {
        &self.pools[pick.pool].origins()[pick.origin]
    }

    /// Counts the picked request in flight (on its origin and pool) until the guard drops.
    ///
    /// # Panics
    /// When the pick was not made by this runtime.
    pub fn start_request(&self, pick: &Pick) -> InFlightGuard {
        self.pools[pick.pool].start_request(pick.origin)
    }

    /// Whether a failed attempt may be retried (on another origin, by calling [`Self::pick`]
    /// again), per the load balancer's failover policy: the failure kind must be enabled
    /// (`onConnectError`; `onReset` for resets and timeouts; `onStatus`), and the request must
    /// be idempotent, or non-idempotent retries allowed, or the request must never have
    /// reached the origin (a connect error never has). The attempt budget is enforced by
    /// `pick`.
    pub fn should_retry(
        &self,
        failure: FailureKind,
        idempotent: bool,
        reached_origin: bool,
    ) -> bool {
        let policy = &self.lb.failover;
        let (enabled, reached) = match failure {
            FailureKind::ConnectError => (policy.on_connect_error, false),
            FailureKind::Reset | FailureKind::Timeout => (policy.on_reset, reached_origin),
            FailureKind::Status(code) => (policy.on_status.contains(code), true),
        };
        enabled && (idempotent || policy.retry_non_idempotent || !reached)
    }

    /// The next candidate for the request: the first call steers (and follows the session),
    /// later calls fail over (see the module docs). `None` when no candidate is left or the
    /// attempt budget (`retries + 1`) is spent.
    pub fn pick(
        &self,
        ctx: &RequestContext<'_>,
        rng: &mut fastrand::Rng,
        state: &mut AttemptState,
    ) -> Option<Pick> {
        if state.attempts > self.lb.failover.retries || self.pools.is_empty() {
            return None;
        }
        let mut followed = None;
        let chosen = if state.attempts == 0 {
            match self.follow_session(ctx, state) {
                Some((slot, origin, refresh)) => {
                    followed = Some(refresh);
                    Some((slot, origin, false))
                }
                None => {
                    let shed = state.session.fresh;
                    self.walk(ctx, rng, state, shed)
                }
            }
        } else {
            if let Some(affinity) = &self.affinity {
                if affinity.config.failover == AffinityFailover::Sticky && state.session.active {
                    state.session.follow = true;
                }
            }
            self.retry(ctx, rng, state)
        };
        let (slot, origin, last_resort) = chosen?;
        state.attempts += 1;
        state.tried.push((slot, origin as u32));
        state.current = Some((slot, last_resort));
        let (affinity, set_cookie) = match (&self.affinity, followed) {
            (None, _) => (AffinityOutcome::Off, None),
            (Some(affinity), Some(refresh)) => (
                AffinityOutcome::Followed,
                refresh
                    .then(|| self.cookie(affinity, slot, origin, ctx.now))
                    .flatten(),
            ),
            (Some(_), None) if !state.session.active => (AffinityOutcome::Off, None),
            (Some(affinity), None) if state.session.follow => (
                AffinityOutcome::Pinned,
                self.pin(affinity, state, slot, origin, ctx.now),
            ),
            (Some(_), None) => (AffinityOutcome::Bypassed, None),
        };
        Some(Pick {
            pool: usize::from(slot),
            origin,
            affinity,
            set_cookie,
            last_resort,
        })
    }

    /// The pool for a DNS answer: the same steering and walk as [`Self::pick`] (load shedding
    /// included, affinity not), choosing a pool rather than an origin. `None` only when the
    /// load balancer has no pool.
    pub fn select_pool(
        &self,
        ctx: &RequestContext<'_>,
        rng: &mut fastrand::Rng,
    ) -> Option<PoolChoice<'_>> {
        let mut state = AttemptState::default();
        self.build_order(ctx, rng, &mut state);
        let order = &state.order;
        let choice = |slot: u16, healthy_only| PoolChoice {
            index: usize::from(slot),
            pool: &self.pools[usize::from(slot)],
            healthy_only,
        };
        for (at, &slot) in order.iter().enumerate() {
            let pool = &self.pools[usize::from(slot)];
            if pool.is_healthy() && !(self.may_shed(pool, &order[at + 1..]) && pool.sheds(rng)) {
                return Some(choice(slot, true));
            }
        }
        if let Some(fallback) = self.fallback {
            if self.pools[usize::from(fallback)].healthy_origins() > 0 {
                return Some(choice(fallback, true));
            }
        }
        if let Some(&slot) = order
            .iter()
            .find(|&&slot| self.pools[usize::from(slot)].healthy_origins() > 0)
        {
            return Some(choice(slot, true));
        }
        self.fallback
            .or_else(|| order.first().copied())
            .map(|slot| choice(slot, false))
    }

    /// Whether `pool` may shed a new request: it sheds at all and a later pool is healthy.
    fn may_shed(&self, pool: &PoolRuntime, later: &[u16]) -> bool {
        pool.load_shedding_percent() > 0
            && later
                .iter()
                .any(|&slot| self.pools[usize::from(slot)].is_healthy())
    }

    /// Looks the request's session up. Returns the pinned origin when the request should go
    /// there (and whether its cookie needs refreshing); otherwise records in `state` what
    /// picks should do with the pin.
    fn follow_session(
        &self,
        ctx: &RequestContext<'_>,
        state: &mut AttemptState,
    ) -> Option<(u16, usize, bool)> {
        let Some(affinity) = &self.affinity else {
            state.session.fresh = true;
            return None;
        };
        let now = ctx.now;
        let new_session = |state: &mut AttemptState, key| {
            state.session = Session {
                active: true,
                follow: true,
                fresh: true,
                key,
            };
        };
        let (pin, cookie_expires, key) = match &affinity.config.key {
            AffinityKey::Cookie(name) => {
                match cookie_value(ctx.headers, name)
                    .and_then(|value| decode_cookie(&affinity.secret, self.lb_hash, value, now))
                {
                    Some((pin, expires)) => (pin, Some(expires), None),
                    None => {
                        new_session(state, None);
                        return None;
                    }
                }
            }
            AffinityKey::Header(name) => {
                let Some(value) = ctx.headers.get(name) else {
                    // No header: no session to follow or to start.
                    state.session.fresh = true;
                    return None;
                };
                let key = affinity.secret.hash(HEADER_DOMAIN, value.as_bytes());
                match self.table_pin(affinity, key, now) {
                    Some(pin) => (pin, None, Some(key)),
                    None => {
                        new_session(state, Some(key));
                        return None;
                    }
                }
            }
            AffinityKey::ClientIp => {
                let (bytes, len) = ip_bytes(ctx.client_ip);
                let key = affinity.secret.hash(CLIENT_IP_DOMAIN, &bytes[..len]);
                match self.table_pin(affinity, key, now) {
                    Some(pin) => (pin, None, Some(key)),
                    None => {
                        new_session(state, Some(key));
                        return None;
                    }
                }
            }
        };
        let Some((slot, origin)) = self.resolve(pin) else {
            // The origin left the configuration: a new session.
            new_session(state, key);
            return None;
        };
        let pool = &self.pools[usize::from(slot)];
        if pool.pinnable(origin, now, affinity.drain) {
            state.session = Session {
                active: true,
                follow: false,
                fresh: false,
                key,
            };
            let refresh = cookie_expires
                .is_some_and(|expires| expires.saturating_sub(now) < affinity.ttl / 2);
            return Some((slot, origin, refresh));
        }
        state.session = Session {
            active: true,
            follow: affinity.config.failover != AffinityFailover::Temporary,
            fresh: false,
            key,
        };
        None
    }

    /// The live table session of `key`, its expiry pushed to `now + ttl`.
    fn table_pin(&self, affinity: &AffinityRuntime, key: u64, now: u64) -> Option<Pin> {
        affinity
            .table
            .as_ref()?
            .get(key, now, now.saturating_add(affinity.ttl))
    }

    /// The pool slot and origin index a pin names, if they are still here.
    fn resolve(&self, pin: Pin) -> Option<(u16, usize)> {
        let slot = self.pools.iter().position(|p| p.id_hash() == pin.pool)?;
        let origin = self.pools[slot].origin_by_hash(pin.origin)?;
        Some((u16::try_from(slot).ok()?, origin))
    }

    /// The cookie pinning `origin` of `slot` until `now + ttl`.
    fn cookie(
        &self,
        affinity: &AffinityRuntime,
        slot: u16,
        origin: usize,
        now: u64,
    ) -> Option<AffinityCookie> {
        let name = affinity.cookie.as_ref()?;
        let pool = &self.pools[usize::from(slot)];
        let pin = Pin {
            pool: pool.id_hash(),
            origin: pool.name_hash(origin),
        };
        let value = encode_cookie(
            &affinity.secret,
            self.lb_hash,
            pin,
            now.saturating_add(affinity.ttl),
        );
        Some(AffinityCookie::new(Arc::clone(name), value, affinity.ttl))
    }

    /// Pins the session to `origin` of `slot`: a cookie to set, or a table entry.
    fn pin(
        &self,
        affinity: &AffinityRuntime,
        state: &AttemptState,
        slot: u16,
        origin: usize,
        now: u64,
    ) -> Option<AffinityCookie> {
        if let (Some(table), Some(key)) = (&affinity.table, state.session.key) {
            let pool = &self.pools[usize::from(slot)];
            let pin = Pin {
                pool: pool.id_hash(),
                origin: pool.name_hash(origin),
            };
            table.insert(key, pin, now.saturating_add(affinity.ttl), now);
            return None;
        }
        self.cookie(affinity, slot, origin, now)
    }

    /// A retry: the same pool first, then (across pools) the rest of the walk.
    fn retry(
        &self,
        ctx: &RequestContext<'_>,
        rng: &mut fastrand::Rng,
        state: &mut AttemptState,
    ) -> Option<(u16, usize, bool)> {
        if let Some((slot, last_resort)) = state.current {
            let pool = &self.pools[usize::from(slot)];
            let tried = &state.tried;
            let excluded = |o| AttemptState::was_tried(tried, slot, o);
            if let Some(origin) = pool.pick_where(ctx, rng, excluded, true) {
                return Some((slot, origin, false));
            }
            if last_resort {
                if let Some(origin) = pool.pick_where(ctx, rng, excluded, false) {
                    return Some((slot, origin, true));
                }
            }
        }
        if !self.lb.failover.across_pools {
            return None;
        }
        self.walk(ctx, rng, state, false)
    }

    /// Walks the pools from where the state stands (see the module docs).
    fn walk(
        &self,
        ctx: &RequestContext<'_>,
        rng: &mut fastrand::Rng,
        state: &mut AttemptState,
        may_shed: bool,
    ) -> Option<(u16, usize, bool)> {
        self.build_order(ctx, rng, state);
        let tried = &state.tried;
        loop {
            match state.phase {
                Phase::Healthy => {
                    while let Some(&slot) = state.order.get(state.pos) {
                        state.pos += 1;
                        let pool = &self.pools[usize::from(slot)];
                        if !pool.is_healthy() {
                            continue;
                        }
                        if may_shed
                            && self.may_shed(pool, &state.order[state.pos..])
                            && pool.sheds(rng)
                        {
                            continue;
                        }
                        let excluded = |o| AttemptState::was_tried(tried, slot, o);
                        if let Some(origin) = pool.pick_where(ctx, rng, excluded, true) {
                            return Some((slot, origin, false));
                        }
                    }
                    state.phase = Phase::Fallback;
                }
                Phase::Fallback => {
                    state.phase = Phase::AnyHealthy;
                    state.pos = 0;
                    if let Some(slot) = self.fallback {
                        let excluded = |o| AttemptState::was_tried(tried, slot, o);
                        if let Some(origin) =
                            self.pools[usize::from(slot)].pick_where(ctx, rng, excluded, true)
                        {
                            return Some((slot, origin, false));
                        }
                    }
                }
                Phase::AnyHealthy => {
                    while let Some(&slot) = state.order.get(state.pos) {
                        state.pos += 1;
                        let excluded = |o| AttemptState::was_tried(tried, slot, o);
                        if let Some(origin) =
                            self.pools[usize::from(slot)].pick_where(ctx, rng, excluded, true)
                        {
                            return Some((slot, origin, false));
                        }
                    }
                    state.phase = Phase::LastResort;
                }
                Phase::LastResort => {
                    state.phase = Phase::Done;
                    if let Some(slot) = self.fallback.or_else(|| state.order.first().copied()) {
                        let excluded = |o| AttemptState::was_tried(tried, slot, o);
                        if let Some(origin) =
                            self.pools[usize::from(slot)].pick_where(ctx, rng, excluded, false)
                        {
                            return Some((slot, origin, true));
                        }
                    }
                }
                Phase::Done => return None,
            }
        }
    }

    /// Orders the pools per the steering policy, once per request.
    fn build_order(
        &self,
        ctx: &RequestContext<'_>,
        rng: &mut fastrand::Rng,
        state: &mut AttemptState,
    ) {
        if state.order_built {
            return;
        }
        state.order_built = true;
        let order = &mut state.order;
        match &self.steering {
            SteeringTable::Failover => order.extend_from_slice(&self.defaults),
            SteeringTable::Weighted(weights) => {
                let healthy = || {
                    self.defaults
                        .iter()
                        .zip(weights.iter())
                        .filter(|(&slot, _)| self.pools[usize::from(slot)].is_healthy())
                        .map(|(&slot, &w)| (slot, u64::from(w)))
                };
                let total: u64 = healthy().map(|(_, w)| w).sum();
                if total > 0 {
                    let mut r = rng.u64(0..total);
                    if let Some((slot, _)) = healthy().find(|&(_, w)| {
                        let hit = r < w;
                        r = r.saturating_sub(w);
                        hit
                    }) {
                        order.push(slot);
                    }
                }
                for &slot in self.defaults.iter() {
                    push_unique(order, slot);
                }
            }
            SteeringTable::Geo { countries, regions } => {
                let location = &ctx.location;
                let pools = location
                    .country
                    .and_then(|country| geo_lookup(countries, country))
                    .or_else(|| {
                        location
                            .region
                            .and_then(|region| geo_lookup(regions, region))
                    })
                    .unwrap_or_default();
                for &slot in pools.iter().chain(self.defaults.iter()) {
                    push_unique(order, slot);
                }
            }
            SteeringTable::Proximity => match ctx.location.coordinates.filter(|&c| geo::valid(c)) {
                Some(client) => {
                    let client = geo::unit_vector(client);
                    self.sorted_defaults(order, |pool| {
                        // Larger dot product = nearer; no position = farthest.
                        pool.position()
                            .map_or(f64::INFINITY, |p| -geo::dot(&client, p))
                    });
                }
                None => order.extend_from_slice(&self.defaults),
            },
            SteeringTable::LeastOutstandingRequests => {
                self.sorted_defaults(order, |pool| match pool.healthy_weight() {
                    0 => f64::INFINITY,
                    weight => pool.load().in_flight() as f64 / weight as f64,
                })
            }
            SteeringTable::Latency => self.sorted_defaults(order, |pool| {
                pool.rtt_micros(ctx.now).map_or(f64::INFINITY, f64::from)
            }),
        }
        if let Some(fallback) = self.fallback {
            push_unique(order, fallback);
        }
    }

    /// Pushes the default pools sorted by `key` (lowest first; ties in default order).
    fn sorted_defaults(&self, order: &mut SmallVec<[u16; 8]>, key: impl Fn(&PoolRuntime) -> f64) {
        let mut keyed: SmallVec<[(f64, usize, u16); 8]> = self
            .defaults
            .iter()
            .enumerate()
            .map(|(at, &slot)| (key(&self.pools[usize::from(slot)]), at, slot))
            .collect();
        keyed.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        order.extend(keyed.into_iter().map(|(_, _, slot)| slot));
    }
}
