//! [`DiffStore`]: per-endpoint results, learned noise and a bounded store of sample diffs.

use crate::body::CapturedResponse;
use crate::compare::{compare_all, Differences};
use crate::noise::{self, Verdict};
use crate::options::CompareOptions;
use crate::path::FieldPath;
use crate::redact::Redaction;
use crate::report::{
    DiffReport, EndpointKey, EndpointReport, FieldStat, SampleDiff, SampleSummary, StatusPair,
};
use crate::sample;
use http::{HeaderMap, Method};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The field template that collects templates past [`StoreOptions::max_field_templates`].
pub const OTHER_FIELDS: &str = "<other fields>";

/// Most distinct status pairs tracked per endpoint.
const MAX_STATUS_PAIRS: usize = 64;

/// Bounds and policies of a [`DiffStore`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Endpoints tracked one by one (default 1,000); more share [`EndpointKey::overflow`].
    pub max_endpoints: usize,
    /// Sample diffs kept per endpoint, newest replacing oldest (default 20).
    pub samples_per_endpoint: usize,
    /// Sample diffs kept in all, the oldest going first (default 2,000).
    pub max_samples: usize,
    /// Each body of a sample is cut to this many bytes (default 4 KiB).
    pub max_sample_body_bytes: usize,
    /// Once an endpoint's samples are full, a new one replaces the oldest only this long
    /// after the newest (default 1,000 ms): bounds the cost of building samples (redaction,
    /// pretty-printing; a few hundred µs) when an endpoint regresses on every request.
    pub min_sample_interval_ms: u64,
    /// Keep samples of noise-only comparisons too, not only of regressions (default off:
    /// noise is usually constant and would push the regressions out).
    pub keep_noise_samples: bool,
    /// Pairs with a secondary needed before noise is learned on an endpoint (default 10).
    pub learn_noise_min_pairs: u64,
    /// Share of those pairs a field template must differ in to be learned noise (default 0.2).
    pub learn_noise_rate: f64,
    /// Distinct field templates counted per endpoint (default 256); more count as
    /// [`OTHER_FIELDS`] and are never learned as noise.
    pub max_field_templates: usize,
    /// Field templates listed per endpoint in the report (default 20).
    pub top_fields: usize,
    /// What is secret in samples.
    pub redaction: Redaction,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_endpoints: 1_000,
            samples_per_endpoint: 20,
            max_samples: 2_000,
            max_sample_body_bytes: 4 * 1024,
            min_sample_interval_ms: 1_000,
            keep_noise_samples: false,
            learn_noise_min_pairs: 10,
            learn_noise_rate: 0.2,
            max_field_templates: 256,
            top_fields: 20,
            redaction: Redaction::default(),
        }
    }
}

/// The request and responses of one mirrored exchange, borrowed for [`DiffStore::record`]
/// (only what a kept sample needs is copied, redacted).
#[derive(Debug, Clone, Copy)]
pub struct SampleInput<'a> {
    /// The request method.
    pub method: &'a Method,
    /// The request's path and query.
    pub target: &'a str,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// What the primary answered (what the user got).
    pub primary: &'a CapturedResponse,
    /// What the candidate answered.
    pub candidate: &'a CapturedResponse,
    /// What the secondary answered, when one was asked.
    pub secondary: Option<&'a CapturedResponse>,
}

/// Comparison results of many tasks: counters, field statistics, learned noise and sample
/// diffs per endpoint, all bounded. Thread-safe; each call holds an internal mutex briefly
/// (templates, redaction and sample building happen outside it).
///
/// **Learned noise.** Each comparison with a secondary counts, per endpoint, which field
/// templates differed between primary and secondary. Once an endpoint has
/// [`StoreOptions::learn_noise_min_pairs`] such pairs, a template that differed in at least
/// [`StoreOptions::learn_noise_rate`] of them is noise on that endpoint, for every later
/// comparison, with or without a secondary (its ancestors' templates count too, as in
/// [`crate::classify`]). The proxy can thus ask a secondary for a fraction of the mirrored
/// requests only.
#[derive(Debug, Default)]
pub struct DiffStore {
    options: StoreOptions,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    index: HashMap<EndpointKey, usize>,
    endpoints: Vec<EndpointState>,
    overflow: Option<usize>,
    /// The last sample id given (ids start at 1).
    next_id: u64,
    samples: usize,
}

#[derive(Debug)]
struct EndpointState {
    key: EndpointKey,
    compared: u64,
    identical: u64,
    noise_only: u64,
    regressions: u64,
    shed: u64,
    secondary_pairs: u64,
    capped: u64,
    /// Template → (regressions, noise).
    fields: HashMap<String, (u64, u64)>,
    /// Template → primary/secondary pairs it differed in.
    noise_counts: HashMap<String, u64>,
    status_pairs: HashMap<(u16, u16), u64>,
    samples: VecDeque<SampleDiff>,
}

impl EndpointState {
    fn new(key: EndpointKey) -> Self {
        Self {
            key,
            compared: 0,
            identical: 0,
            noise_only: 0,
            regressions: 0,
            shed: 0,
            secondary_pairs: 0,
            capped: 0,
            fields: HashMap::new(),
            noise_counts: HashMap::new(),
            status_pairs: HashMap::new(),
            samples: VecDeque::new(),
        }
    }

    fn learn(&mut self, templates: &HashSet<String>, options: &StoreOptions) {
        self.secondary_pairs += 1;
        for template in templates {
            if let Some(count) = self.noise_counts.get_mut(template) {
                *count += 1;
            } else if self.noise_counts.len() < options.max_field_templates {
                self.noise_counts.insert(template.clone(), 1);
            }
        }
    }

    fn is_learned_noise(&self, template: &str, options: &StoreOptions) -> bool {
        self.secondary_pairs >= options.learn_noise_min_pairs.max(1)
            && self.noise_counts.get(template).is_some_and(|&count| {
                count as f64 >= options.learn_noise_rate * self.secondary_pairs as f64
            })
    }

    fn count_field(&mut self, template: &str, noise: bool, options: &StoreOptions) {
        let counts = match self.fields.get_mut(template) {
            Some(counts) => counts,
            None => {
                let key = if self.fields.len() < options.max_field_templates {
                    template
                } else {
                    OTHER_FIELDS
                };
                self.fields.entry(key.to_owned()).or_default()
            }
        };
        if noise {
            counts.1 += 1;
        } else {
            counts.0 += 1;
        }
    }

    fn report(&self, options: &StoreOptions) -> EndpointReport {
        let mut status_pairs: Vec<StatusPair> = self
            .status_pairs
            .iter()
            .map(|(&(primary, candidate), &count)| StatusPair {
                primary,
                candidate,
                count,
            })
            .collect();
        status_pairs.sort_by(|a, b| {
            (b.count, a.primary, a.candidate).cmp(&(a.count, b.primary, b.candidate))
        });
        let mut top_fields: Vec<FieldStat> = self
            .fields
            .iter()
            .map(|(field, &(regressions, noise))| FieldStat {
                field: field.clone(),
                regressions,
                noise,
            })
            .collect();
        top_fields.sort_by(|a, b| {
            (b.regressions + b.noise, b.regressions, &a.field).cmp(&(
                a.regressions + a.noise,
                a.regressions,
                &b.field,
            ))
        });
        top_fields.truncate(options.top_fields);
        let mut learned_noise: Vec<String> = self
            .noise_counts
            .keys()
            .filter(|template| self.is_learned_noise(template, options))
            .cloned()
            .collect();
        learned_noise.sort_unstable();
        EndpointReport {
            endpoint: self.key.clone(),
            compared: self.compared,
            identical: self.identical,
            noise_only: self.noise_only,
            regressions: self.regressions,
            shed: self.shed,
            secondary_pairs: self.secondary_pairs,
            capped: self.capped,
            top_fields,
            status_pairs,
            learned_noise,
            samples: self
                .samples
                .iter()
                .map(|sample| SampleSummary {
                    id: sample.id,
                    time_unix_ms: sample.time_unix_ms,
                    target: sample.request.target.clone(),
                    verdict: sample.verdict.clone(),
                })
                .collect(),
        }
    }
}

impl Inner {
    /// The slot of `key`, or of the overflow key past `max_endpoints`.
    fn endpoint(&mut self, key: &EndpointKey, max_endpoints: usize) -> &mut EndpointState {
        let slot = match self.index.get(key) {
            Some(&slot) => slot,
            None if self.index.len() - usize::from(self.overflow.is_some()) < max_endpoints => {
                self.insert(key.clone())
            }
            None => match self.overflow {
                Some(slot) => slot,
                None => {
                    let slot = self.insert(EndpointKey::overflow());
                    self.overflow = Some(slot);
                    slot
                }
            },
        };
        &mut self.endpoints[slot]
    }

    fn insert(&mut self, key: EndpointKey) -> usize {
        let slot = self.endpoints.len();
        self.index.insert(key.clone(), slot);
        self.endpoints.push(EndpointState::new(key));
        slot
    }

    fn keep(&mut self, key: &EndpointKey, mut sample: SampleDiff, options: &StoreOptions) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        sample.id = id;
        let endpoint = self.endpoint(key, options.max_endpoints);
        endpoint.samples.push_back(sample);
        let evicted = endpoint.samples.len() > options.samples_per_endpoint;
        if evicted {
            endpoint.samples.pop_front();
        }
        self.samples += 1 - usize::from(evicted);
        while self.samples > options.max_samples {
            let oldest = self
                .endpoints
                .iter_mut()
                .filter(|e| !e.samples.is_empty())
                .min_by_key(|e| e.samples.front().map(|s| s.id));
            match oldest {
                Some(endpoint) => {
                    endpoint.samples.pop_front();
                    self.samples -= 1;
                }
                None => break,
            }
        }
        id
    }
}

impl DiffStore {
    /// An empty store.
    pub fn new(options: StoreOptions) -> Self {
        Self {
            options,
            inner: Mutex::default(),
        }
    }

    /// The store's options.
    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every critical section leaves the state consistent, so a poisoned lock is usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Compares the responses of `input` with `options`, then [`DiffStore::record`]s them.
    pub fn compare_and_record(
        &self,
        endpoint: &EndpointKey,
        input: SampleInput<'_>,
        options: &CompareOptions,
        now_unix_ms: u64,
    ) -> Verdict {
        let (candidate, secondary) =
            compare_all(input.primary, input.candidate, input.secondary, options);
        self.record(endpoint, input, candidate, secondary, now_unix_ms)
    }

    /// Records one comparison of `endpoint`: learns noise from `primary_vs_secondary`,
    /// classifies `primary_vs_candidate` (noise: what the secondary shows, or learned noise),
    /// counts it, keeps a redacted sample of regressions (see
    /// [`StoreOptions::min_sample_interval_ms`]) and returns the verdict.
    pub fn record(
        &self,
        endpoint: &EndpointKey,
        input: SampleInput<'_>,
        primary_vs_candidate: Differences,
        primary_vs_secondary: Option<Differences>,
        now_unix_ms: u64,
    ) -> Verdict {
        let options = &self.options;
        let secondary_templates = primary_vs_secondary.as_ref().map(noise::templates);
        // Distinct templates: (template, a field with it, noise); and each difference's one.
        let mut templates: Vec<(String, &FieldPath, bool)> = Vec::new();
        let mut template_of = Vec::with_capacity(primary_vs_candidate.len());
        for difference in &primary_vs_candidate {
            let template = difference.field.template();
            let slot = match templates.iter().position(|(t, _, _)| *t == template) {
                Some(slot) => slot,
                None => {
                    let noise = secondary_templates.as_ref().is_some_and(|noisy| {
                        difference.field.any_template_prefix(|t| noisy.contains(t))
                    });
                    templates.push((template, &difference.field, noise));
                    templates.len() - 1
                }
            };
            template_of.push(slot);
        }

        let keep_sample = {
            let mut inner = self.lock();
            let state = inner.endpoint(endpoint, options.max_endpoints);
            if let Some(noisy) = &secondary_templates {
                state.learn(noisy, options);
            }
            for (_, field, noise) in templates.iter_mut().filter(|t| !t.2) {
                *noise = field.any_template_prefix(|t| state.is_learned_noise(t, options));
            }
            for (template, _, noise) in &templates {
                state.count_field(template, *noise, options);
            }
            state.compared += 1;
            state.capped += u64::from(primary_vs_candidate.is_capped());
            let pair = (input.primary.status, input.candidate.status);
            if state.status_pairs.len() < MAX_STATUS_PAIRS || state.status_pairs.contains_key(&pair)
            {
                *state.status_pairs.entry(pair).or_default() += 1;
            }
            let regressions = templates.iter().filter(|t| !t.2).count();
            let wanted = match (primary_vs_candidate.is_empty(), regressions) {
                (true, _) => {
                    state.identical += 1;
                    false
                }
                (false, 0) => {
                    state.noise_only += 1;
                    options.keep_noise_samples
                }
                _ => {
                    state.regressions += 1;
                    true
                }
            };
            wanted
                && options.samples_per_endpoint > 0
                && options.max_samples > 0
                && (state.samples.len() < options.samples_per_endpoint
                    || state.samples.back().is_none_or(|newest| {
                        now_unix_ms.saturating_sub(newest.time_unix_ms)
                            >= options.min_sample_interval_ms
                    }))
        };

        let fields = primary_vs_candidate
            .iter()
            .zip(&template_of)
            .filter(|(_, &slot)| !templates[slot].2)
            .map(|(difference, _)| difference.field.clone())
            .collect();
        let verdict = noise::verdict(&primary_vs_candidate, fields);
        if keep_sample {
            let sample = sample::build(
                options,
                endpoint,
                &input,
                primary_vs_candidate,
                primary_vs_secondary,
                verdict.clone(),
                now_unix_ms,
            );
            self.lock().keep(endpoint, sample, options);
        }
        verdict
    }

    /// Counts a mirrored request of `endpoint` that could not be compared.
    pub fn record_shed(&self, endpoint: &EndpointKey) {
        self.lock()
            .endpoint(endpoint, self.options.max_endpoints)
            .shed += 1;
    }

    /// Everything recorded, per endpoint, most regressions first.
    pub fn report(&self) -> DiffReport {
        let mut endpoints: Vec<EndpointReport> = {
            let inner = self.lock();
            inner
                .endpoints
                .iter()
                .map(|endpoint| endpoint.report(&self.options))
                .collect()
        };
        endpoints.sort_by(|a, b| {
            (b.regressions, b.compared, &a.endpoint).cmp(&(a.regressions, a.compared, &b.endpoint))
        });
        DiffReport { endpoints }
    }

    /// The sample with this id, while it is kept.
    pub fn sample(&self, id: u64) -> Option<SampleDiff> {
        let inner = self.lock();
        inner.endpoints.iter().find_map(|endpoint| {
            let samples = &endpoint.samples;
            let at = samples.binary_search_by_key(&id, |s| s.id).ok()?;
            samples.get(at).cloned()
        })
    }

    /// Forgets everything (sample ids keep increasing).
    pub fn reset(&self) {
        let mut inner = self.lock();
        let next_id = inner.next_id;
        *inner = Inner {
            next_id,
            ..Inner::default()
        };
    }
}

#[cfg(test)]
mod tests;
