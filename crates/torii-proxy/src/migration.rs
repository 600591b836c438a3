//! Migration in the data plane: the runtime of `Comparison` and `Rollout` objects.
//!
//! [`Migrations`] lives as long as the proxy. Each config rebuilds its runtimes, carrying over
//! what must survive a reload (diff stores and counters of comparisons; the control cell and
//! traffic statistics of rollouts) for objects that keep their id. The request path asks a
//! [`RolloutRuntime`] which side serves a request and a [`ComparisonRuntime`] whether to
//! shadow it; the rollout controller (in the binary) reads the statistics, runs the gates and
//! writes the weight through [`RolloutControl`].

use http::header::{self, HeaderMap, HeaderValue};
use http::Method;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use torii_compare::{CompareOptions, DiffStore, StoreOptions};
use torii_config::{
    BackendId, CompareSettings, Comparison, Config, MigrationId, Rollout, RolloutAffinity,
};
use torii_rollout::TrafficStats;

/// The header that marks shadow (mirrored-for-comparison) requests.
pub const SHADOW_HEADER: &str = "x-torii-shadow";

/// Counters of one comparison (carried across reloads).
#[derive(Debug, Default)]
pub struct ComparisonCounters {
    /// Requests compared.
    pub compared: AtomicU64,
    /// Comparisons with a regression.
    pub regressions: AtomicU64,
    /// Comparisons whose differences were all noise.
    pub noise: AtomicU64,
    /// Requests that were to be compared but were not (concurrency cap, timeouts).
    pub shed: AtomicU64,
}

/// One comparison: what to shadow, how to compare, and where results go.
pub struct ComparisonRuntime {
    /// The object (for a rollout's mirror steps: the rollout's id).
    pub id: MigrationId,
    /// Only requests this backend served are compared (`None`: any).
    pub primary: Option<BackendId>,
    /// The new version.
    pub candidate: BackendId,
    /// A second instance of the primary's version (noise).
    pub secondary: Option<BackendId>,
    /// Sampling, methods, limits.
    pub settings: CompareSettings,
    /// How answers are compared.
    pub options: CompareOptions,
    /// Results per endpoint and sample diffs.
    pub store: Arc<DiffStore>,
    /// Totals.
    pub counters: Arc<ComparisonCounters>,
    permits: Arc<Semaphore>,
}

/// A comparison admitted for one request: holds its concurrency slot until dropped.
pub struct ShadowTicket {
    /// The comparison.
    pub runtime: Arc<ComparisonRuntime>,
    _permit: OwnedSemaphorePermit,
}

impl ComparisonRuntime {
    fn build(
        id: MigrationId,
        primary: Option<BackendId>,
        candidate: BackendId,
        secondary: Option<BackendId>,
        settings: &CompareSettings,
        previous: Option<&ComparisonRuntime>,
    ) -> Self {
        let mut options = CompareOptions {
            normalize_text: settings.normalize_text,
            max_body_bytes: usize::try_from(settings.max_body_bytes).unwrap_or(usize::MAX),
            ..CompareOptions::default()
        };
        for name in &settings.ignore_headers {
            options = options.ignore_header(name.clone());
        }
        for path in &settings.ignore_json_paths {
            // Checked by translation; a path that does not parse is skipped.
            if let Ok(with_path) = options.clone().ignore_json_path(path) {
                options = with_path;
            }
        }
        let mut redaction = options.redaction.clone();
        for name in &settings.redact_headers {
            redaction = redaction.with_header(name.clone());
        }
        options.redaction = redaction.clone();
        let (store, counters) = match previous {
            Some(previous) => (previous.store.clone(), previous.counters.clone()),
            None => (
                Arc::new(DiffStore::new(StoreOptions {
                    redaction,
                    ..StoreOptions::default()
                })),
                Arc::default(),
            ),
        };
        let permits = match previous {
            Some(previous) if previous.settings.max_concurrent == settings.max_concurrent => {
                previous.permits.clone()
            }
            _ => Arc::new(Semaphore::new(settings.max_concurrent as usize)),
        };
        ComparisonRuntime {
            id,
            primary,
            candidate,
            secondary,
            settings: settings.clone(),
            options,
            store,
            counters,
            permits,
        }
    }

    /// Whether this request is compared: its method is allowed, `served_by` is the primary,
    /// it is sampled, the proxy's CPU is not `saturated` (comparisons use spare capacity only)
    /// and a concurrency slot is free (else it is counted as shed).
    pub fn admit(
        self: &Arc<Self>,
        method: &Method,
        served_by: &BackendId,
        saturated: bool,
    ) -> Result<Option<ShadowTicket>, Shed> {
        if !self.settings.methods.contains(method) {
            return Ok(None);
        }
        if self.primary.as_ref().is_some_and(|p| p != served_by) || *served_by == self.candidate {
            return Ok(None);
        }
        let percent = self.settings.percent;
        if percent < 100.0 && fastrand::f64() * 100.0 >= percent {
            return Ok(None);
        }
        let permit = if saturated {
            None
        } else {
            self.permits.clone().try_acquire_owned().ok()
        };
        match permit {
            Some(permit) => Ok(Some(ShadowTicket {
                runtime: self.clone(),
                _permit: permit,
            })),
            None => {
                self.counters.shed.fetch_add(1, Ordering::Relaxed);
                Err(Shed)
            }
        }
    }
}

/// A request that should have been compared was not (no free slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shed;

/// Which version serves a request of a rollout's rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The stable backend.
    Stable,
    /// The candidate backend.
    Candidate,
}

/// What the rollout controller sets and the request path reads, plus the traffic statistics
/// the gates read (carried across reloads).
#[derive(Debug, Default)]
pub struct RolloutControl {
    weight: AtomicU8,
    mirroring: AtomicBool,
    step: AtomicU32,
    /// Responses of the stable backend on the rule (latency to the response head; 5xx and
    /// failures are errors).
    pub stable: TrafficStats,
    /// Responses of the candidate: real traffic on weight steps, shadow traffic on mirror
    /// steps.
    pub candidate: TrafficStats,
}

impl RolloutControl {
    /// Applies what the rollout's state says: the candidate's share, whether to mirror, and
    /// the step (sticky assignments are kept only within one step).
    pub fn set(&self, weight: u8, mirroring: bool, step: u32) {
        self.step.store(step, Ordering::Relaxed);
        self.mirroring.store(mirroring, Ordering::Relaxed);
        self.weight.store(weight.min(100), Ordering::Release);
    }

    /// The candidate's share of traffic, percent.
    pub fn weight(&self) -> u8 {
        self.weight.load(Ordering::Acquire)
    }

    /// Whether requests are shadowed to the candidate and compared.
    pub fn mirroring(&self) -> bool {
        self.mirroring.load(Ordering::Relaxed)
    }

    /// The step applied.
    pub fn step(&self) -> u32 {
        self.step.load(Ordering::Relaxed)
    }

    /// Records one answer of `side`.
    pub fn record(&self, side: Side, latency: Duration, error: bool) {
        match side {
            Side::Stable => self.stable.record(latency, error),
            Side::Candidate => self.candidate.record(latency, error),
        }
    }
}

/// One rollout: its config, its control cell and the comparison of its mirror steps.
pub struct RolloutRuntime {
    /// The object.
    pub config: Arc<Rollout>,
    /// Weight, mirroring and statistics.
    pub control: Arc<RolloutControl>,
    /// Stable (primary) against candidate, with the rollout's compare settings.
    pub comparison: Arc<ComparisonRuntime>,
}

impl RolloutRuntime {
    /// The side that serves a request, and the `Set-Cookie` value that pins it when sticky
    /// sessions are configured. A client keeps the side its cookie names while the step it was
    /// given in holds (and, for the candidate, while the candidate has traffic).
    pub fn choose(&self, headers: &HeaderMap, tls: bool) -> (Side, Option<HeaderValue>) {
        let weight = self.control.weight();
        let step = self.control.step();
        let affinity = self.config.affinity.as_ref();
        if let Some(affinity) = affinity {
            if let Some(side) = pinned_side(headers, &affinity.cookie, step) {
                if side == Side::Stable || weight > 0 {
                    return (side, None);
                }
            }
        }
        let side = if weight >= 100 || (weight > 0 && fastrand::u8(0..100) < weight) {
            Side::Candidate
        } else {
            Side::Stable
        };
        let cookie = affinity.and_then(|affinity| pin_cookie(affinity, side, step, tls));
        (side, cookie)
    }

    /// The backend of `side`.
    pub fn backend(&self, side: Side) -> &BackendId {
        match side {
            Side::Stable => &self.config.stable,
            Side::Candidate => &self.config.candidate,
        }
    }
}

/// The side a request's affinity cookie pins it to, if the cookie is for `step`.
fn pinned_side(headers: &HeaderMap, cookie: &str, step: u32) -> Option<Side> {
    for value in headers.get_all(header::COOKIE) {
        let Ok(value) = value.to_str() else { continue };
        for pair in value.split(';') {
            let Some((name, value)) = pair.trim().split_once('=') else {
                continue;
            };
            if name != cookie {
                continue;
            }
            let (pinned_step, side) = value.split_once('.')?;
            if pinned_step.parse::<u32>().ok()? != step {
                return None;
            }
            return match side {
                "s" => Some(Side::Stable),
                "c" => Some(Side::Candidate),
                _ => None,
            };
        }
    }
    None
}

fn pin_cookie(affinity: &RolloutAffinity, side: Side, step: u32, tls: bool) -> Option<HeaderValue> {
    let side = match side {
        Side::Stable => "s",
        Side::Candidate => "c",
    };
    let secure = if tls { "; Secure" } else { "" };
    HeaderValue::try_from(format!(
        "{}={step}.{side}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        affinity.cookie,
        affinity.ttl.as_secs()
    ))
    .ok()
}

/// Every comparison and rollout runtime of the applied config.
#[derive(Default)]
pub struct Migrations {
    current: RwLock<Arc<MigrationSet>>,
}

/// The comparison and rollout runtimes of one config, built before it is applied (and
/// resolved into the snapshot's rules); dropped untouched when the config is refused.
#[derive(Default)]
pub struct MigrationSet {
    comparisons: HashMap<MigrationId, Arc<ComparisonRuntime>>,
    rollouts: HashMap<MigrationId, Arc<RolloutRuntime>>,
}

impl MigrationSet {
    /// The comparison `id`, if the config has it.
    pub fn comparison(&self, id: &MigrationId) -> Option<&Arc<ComparisonRuntime>> {
        self.comparisons.get(id)
    }

    /// The rollout `id`, if the config has it.
    pub fn rollout(&self, id: &MigrationId) -> Option<&Arc<RolloutRuntime>> {
        self.rollouts.get(id)
    }
}

impl Migrations {
    /// No comparisons, no rollouts.
    pub fn new() -> Self {
        Self::default()
    }

    fn current(&self) -> Arc<MigrationSet> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Builds the runtimes of `config`, carrying stores, counters and rollout control over
    /// from the applied config for objects that keep their id. Changes nothing: the result
    /// takes effect with [`Migrations::commit`].
    pub fn prepare(&self, config: &Config) -> MigrationSet {
        let previous = self.current();
        let comparisons = config
            .comparisons
            .iter()
            .map(|(id, comparison)| {
                let before = previous.comparisons.get(id).map(|p| &**p);
                (id.clone(), Arc::new(comparison_runtime(comparison, before)))
            })
            .collect();
        let rollouts = config
            .rollouts
            .iter()
            .map(|(id, rollout)| {
                let before = previous.rollouts.get(id);
                let comparison = ComparisonRuntime::build(
                    id.clone(),
                    Some(rollout.stable.clone()),
                    rollout.candidate.clone(),
                    None,
                    &rollout.compare,
                    before.map(|b| &*b.comparison),
                );
                let runtime = RolloutRuntime {
                    config: rollout.clone(),
                    control: before.map(|b| b.control.clone()).unwrap_or_default(),
                    comparison: Arc::new(comparison),
                };
                (id.clone(), Arc::new(runtime))
            })
            .collect();
        MigrationSet {
            comparisons,
            rollouts,
        }
    }

    /// Makes a prepared set the applied one.
    pub fn commit(&self, set: Arc<MigrationSet>) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = set;
    }

    /// The comparison `id`, if the applied config has it.
    pub fn comparison(&self, id: &MigrationId) -> Option<Arc<ComparisonRuntime>> {
        self.current().comparisons.get(id).cloned()
    }

    /// The rollout `id`, if the applied config has it.
    pub fn rollout(&self, id: &MigrationId) -> Option<Arc<RolloutRuntime>> {
        self.current().rollouts.get(id).cloned()
    }

    /// Every comparison, by id order.
    pub fn comparisons(&self) -> Vec<Arc<ComparisonRuntime>> {
        let mut all: Vec<_> = self.current().comparisons.values().cloned().collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// Every rollout, by id order.
    pub fn rollouts(&self) -> Vec<Arc<RolloutRuntime>> {
        let mut all: Vec<_> = self.current().rollouts.values().cloned().collect();
        all.sort_by(|a, b| a.config.id.cmp(&b.config.id));
        all
    }
}

/// Prometheus metrics of comparisons and rollouts, read at each scrape:
/// `torii_comparison_{compared,regressions,noise,shed}_total{comparison}` (a rollout's mirror
/// comparisons under its own name) and `torii_rollout_{weight,mirroring}{rollout}`.
#[derive(Clone)]
pub struct MigrationCollector(Arc<Migrations>);

impl MigrationCollector {
    /// A collector over `migrations`.
    pub fn new(migrations: Arc<Migrations>) -> Self {
        MigrationCollector(migrations)
    }
}

impl std::fmt::Debug for MigrationCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrationCollector").finish_non_exhaustive()
    }
}

impl prometheus_client::collector::Collector for MigrationCollector {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::DescriptorEncoder,
    ) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeMetric;
        use prometheus_client::metrics::counter::ConstCounter;
        use prometheus_client::metrics::gauge::ConstGauge;
        use prometheus_client::metrics::MetricType;
        let mut comparisons: Vec<Arc<ComparisonRuntime>> = self.0.comparisons();
        let rollouts = self.0.rollouts();
        comparisons.extend(rollouts.iter().map(|r| r.comparison.clone()));
        type Read = fn(&ComparisonCounters) -> u64;
        let families: [(&str, &str, Read); 4] = [
            (
                "torii_comparison_compared",
                "Mirrored requests compared",
                |c| c.compared.load(Ordering::Relaxed),
            ),
            (
                "torii_comparison_regressions",
                "Compared requests whose answers differ beyond noise",
                |c| c.regressions.load(Ordering::Relaxed),
            ),
            (
                "torii_comparison_noise",
                "Compared requests whose differences were all noise",
                |c| c.noise.load(Ordering::Relaxed),
            ),
            (
                "torii_comparison_shed",
                "Requests not compared (concurrency cap, timeout, candidate unreachable)",
                |c| c.shed.load(Ordering::Relaxed),
            ),
        ];
        for (name, help, read) in families {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for comparison in &comparisons {
                let labels = [("comparison", comparison.id.to_string())];
                ConstCounter::new(read(&comparison.counters))
                    .encode(family.encode_family(&labels)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "torii_rollout_weight",
            "The candidate's share of the rollout's traffic, percent",
            None,
            MetricType::Gauge,
        )?;
        for rollout in &rollouts {
            let labels = [("rollout", rollout.config.id.to_string())];
            ConstGauge::new(i64::from(rollout.control.weight()))
                .encode(family.encode_family(&labels)?)?;
        }
        let mut family = encoder.encode_descriptor(
            "torii_rollout_mirroring",
            "Whether the rollout mirrors and compares traffic now",
            None,
            MetricType::Gauge,
        )?;
        for rollout in &rollouts {
            let labels = [("rollout", rollout.config.id.to_string())];
            ConstGauge::new(i64::from(rollout.control.mirroring()))
                .encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

fn comparison_runtime(
    comparison: &Comparison,
    previous: Option<&ComparisonRuntime>,
) -> ComparisonRuntime {
    ComparisonRuntime::build(
        comparison.id.clone(),
        comparison.primary.clone(),
        comparison.candidate.clone(),
        comparison.secondary.clone(),
        &comparison.settings,
        previous,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookie: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        headers
    }

    #[test]
    fn a_pinned_side_holds_only_within_its_step() {
        assert_eq!(
            pinned_side(&headers("a=1; ro=3.c"), "ro", 3),
            Some(Side::Candidate)
        );
        assert_eq!(pinned_side(&headers("ro=3.s"), "ro", 3), Some(Side::Stable));
        assert_eq!(pinned_side(&headers("ro=2.c"), "ro", 3), None, "older step");
        assert_eq!(pinned_side(&headers("ro=3.x"), "ro", 3), None);
        assert_eq!(pinned_side(&headers("other=3.c"), "ro", 3), None);
    }

    #[test]
    fn pin_cookie_is_http_only_and_secure_over_tls() {
        let affinity = RolloutAffinity {
            cookie: "ro".into(),
            ttl: Duration::from_secs(3600),
        };
        let cookie = pin_cookie(&affinity, Side::Candidate, 2, true).unwrap();
        assert_eq!(
            cookie.to_str().unwrap(),
            "ro=2.c; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax; Secure"
        );
    }
}
