//! Stage 6, shadow: copies of the request that never delay or fail it. Mirrors (the rule's
//! `RequestMirror` filters) get a copy each; a rule's `Comparison` (or its rollout's mirror
//! step) sends shadow copies to the candidate and the secondary and compares their answers
//! with the primary's in a task of its own.

use crate::body::CopyFrame;
use crate::migration::{
    ComparisonRuntime, RolloutControl, ShadowTicket, Shed, Side, SHADOW_HEADER,
};
use crate::mirror::{self, MirrorPlan};
use crate::proxy::Shared;
use crate::snapshot::{RuleRuntime, Snapshot};
use http::header::HeaderValue;
use http::uri::PathAndQuery;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;
use torii_compare::{CapturedResponse, EndpointKey, SampleInput, Verdict};
use torii_config::{BackendId, HttpRule, PathMatch};

/// The copies a request feeds as its body streams, and where its answer goes when compared.
pub(crate) struct Shadows {
    /// Body feeds of mirrors and shadow copies.
    pub(crate) copies: Vec<mpsc::Sender<CopyFrame>>,
    /// The comparison waiting for the primary's answer.
    pub(crate) primary: Option<PrimarySink>,
}

/// What a request is, for its copies.
pub(crate) struct Original<'a> {
    /// The request as the upstream gets it (headers prepared by stage 5).
    pub(crate) parts: &'a http::request::Parts,
    /// Its path and query upstream.
    pub(crate) path_and_query: &'a PathAndQuery,
    /// Whether it has a body.
    pub(crate) has_body: bool,
    /// Whether it is a protocol upgrade (never shadowed).
    pub(crate) upgrade: bool,
}

/// Starts the request's mirrors and, when its comparison admits it, its shadow copies.
#[allow(clippy::too_many_arguments)]
pub(crate) fn start(
    shared: &Arc<Shared>,
    snapshot: &Snapshot,
    rule: &HttpRule,
    runtime: &RuleRuntime,
    path_match: &PathMatch,
    served_by: Option<&BackendId>,
    rollout: Option<&(Arc<RolloutControl>, Side)>,
    mirrors: &[MirrorPlan<'_>],
    original: &Original<'_>,
) -> Shadows {
    let mut copies = if mirrors.is_empty() {
        Vec::new()
    } else {
        mirror::start(
            shared,
            snapshot,
            mirrors,
            &original.parts.method,
            original.path_and_query,
            &original.parts.headers,
            original.has_body,
        )
    };
    let primary = comparison(runtime, rollout, original.upgrade)
        .zip(served_by)
        .and_then(|(comparison, served_by)| {
            let endpoint =
                || endpoint_key(&original.parts.method, &runtime.route, rule, path_match);
            let saturated = shared.cpu.saturated();
            match comparison.admit(&original.parts.method, served_by, saturated) {
                Ok(None) => None,
                Err(Shed) => {
                    // Saturated: only the comparison's counter (no per-endpoint work while
                    // the CPU is short).
                    if !saturated {
                        comparison.store.record_shed(&endpoint());
                    }
                    None
                }
                Ok(Some(ticket)) => {
                    let control = rollout.map(|(control, _)| control.clone());
                    Some(start_comparison(
                        shared,
                        snapshot,
                        ticket,
                        endpoint(),
                        original,
                        control,
                        &mut copies,
                    ))
                }
            }
        });
    Shadows { copies, primary }
}

/// The comparison a request may take part in: the rule's own, or its rollout's while the
/// rollout mirrors (requests the stable backend serves). Upgrades are never shadowed.
fn comparison<'r>(
    runtime: &'r RuleRuntime,
    rollout: Option<&(Arc<RolloutControl>, Side)>,
    upgrade: bool,
) -> Option<&'r Arc<ComparisonRuntime>> {
    if upgrade {
        return None;
    }
    match (&runtime.rollout, rollout) {
        (Some(route), Some((control, Side::Stable))) if control.mirroring() => {
            Some(&route.runtime.comparison)
        }
        (Some(_), _) => None,
        (None, _) => runtime.comparison.as_ref(),
    }
}

/// Where the primary's captured answer goes, and how much of its body is kept.
pub(crate) struct PrimarySink {
    pub(crate) primary: tokio::sync::oneshot::Sender<CapturedResponse>,
    pub(crate) limit: usize,
}

/// The endpoint a comparison is reported under: method, route and rule, and the path match.
fn endpoint_key(
    method: &http::Method,
    route: &str,
    rule: &HttpRule,
    path: &PathMatch,
) -> EndpointKey {
    let rule_name = match &rule.name {
        Some(name) => name.to_string(),
        None => rule.index.to_string(),
    };
    let path = match path {
        PathMatch::Exact(path) => path.clone(),
        PathMatch::Prefix(prefix) if prefix == "/" => "/*".to_string(),
        PathMatch::Prefix(prefix) => format!("{prefix}/*"),
        PathMatch::RegularExpression(regex) => format!("~{}", regex.as_str()),
    };
    EndpointKey::new(method.as_str(), format!("{route}#{rule_name} {path}"))
}

/// Starts the shadow copies of a compared request (candidate, and secondary if any) and the
/// task that compares their answers with the primary's once all are in. Shadow copies carry
/// [`SHADOW_HEADER`]; their body feeds are pushed to `feeds`.
fn start_comparison(
    shared: &Arc<Shared>,
    snapshot: &Snapshot,
    ticket: ShadowTicket,
    endpoint: EndpointKey,
    original: &Original<'_>,
    rollout: Option<Arc<RolloutControl>>,
    feeds: &mut Vec<mpsc::Sender<CopyFrame>>,
) -> PrimarySink {
    let Original {
        parts,
        path_and_query,
        has_body,
        ..
    } = *original;
    let runtime = ticket.runtime.clone();
    let settings = &runtime.settings;
    let limit = usize::try_from(settings.max_body_bytes).unwrap_or(usize::MAX);
    let mut headers = parts.headers.clone();
    headers.insert(SHADOW_HEADER, HeaderValue::from_static("1"));
    let copy = mirror::Copy {
        method: &parts.method,
        path_and_query,
        headers: &headers,
        has_body,
    };
    let mut shadow = |id: &torii_config::BackendId| {
        mirror::shadow(shared, snapshot, id, &copy, settings.timeout, limit).map(|(feed, rx)| {
            feeds.extend(feed);
            rx
        })
    };
    let candidate = shadow(&runtime.candidate);
    let secondary = runtime.secondary.as_ref().map(&mut shadow);
    let (primary_tx, primary_rx) = tokio::sync::oneshot::channel();
    let method = parts.method.clone();
    let target = path_and_query.as_str().to_owned();
    headers.remove(SHADOW_HEADER);
    let timeout = settings.timeout;
    tokio::spawn(async move {
        let _ticket = ticket;
        let store = &runtime.store;
        let counters = &runtime.counters;
        let gathered = tokio::time::timeout(timeout, async move {
            let primary = primary_rx.await.ok()?;
            let candidate = candidate?.await.ok()?;
            let secondary = match secondary {
                None => None,
                Some(rx) => Some(rx?.await.ok()?),
            };
            Some((primary, candidate, secondary))
        })
        .await;
        let Ok(Some((primary, candidate, secondary))) = gathered else {
            counters.shed.fetch_add(1, Ordering::Relaxed);
            store.record_shed(&endpoint);
            return;
        };
        if let Some(control) = rollout.filter(|c| c.weight() == 0) {
            // Mirror step: the candidate's only traffic is this shadow traffic.
            control.record(Side::Candidate, candidate.latency, candidate.failed);
        }
        let input = SampleInput {
            method: &method,
            target: &target,
            headers: &headers,
            primary: &primary,
            candidate: &candidate.response,
            secondary: secondary.as_ref().map(|s| &s.response),
        };
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let verdict = store.compare_and_record(&endpoint, input, &runtime.options, now_ms);
        counters.compared.fetch_add(1, Ordering::Relaxed);
        match verdict {
            Verdict::Regression { .. } => {
                counters.regressions.fetch_add(1, Ordering::Relaxed);
            }
            Verdict::NoiseOnly => {
                counters.noise.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    });
    PrimarySink {
        primary: primary_tx,
        limit,
    }
}
