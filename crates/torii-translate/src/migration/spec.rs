//! The settings of the migration kinds, which need nothing but the object itself: compare
//! settings, rollout steps and analysis (with the plan check of `torii-rollout`), session
//! affinity.

use crate::conditions::Problem;
use crate::lb::{invalid, parse_duration};
use http::{HeaderName, Method};
use std::sync::Arc;
use std::time::Duration;
use torii_config::{CompareSettings, RolloutAffinity, RolloutAnalysis, RolloutStep};
use torii_resources::migration as wire;

/// The largest `maxBodyBytes`: 64 MiB.
const MAX_BODY_BYTES: u64 = 64 << 20;
/// The most comparisons in flight `maxConcurrent` allows.
const MAX_CONCURRENT: u32 = 65_536;
/// A mirror step's `maxDiffRate` when unset.
const DEFAULT_STEP_MAX_DIFF_RATE: f64 = 0.01;
/// A mirror step's `minCompared` when unset.
const DEFAULT_STEP_MIN_COMPARED: u64 = 100;
/// The rollout's affinity cookie when `cookieName` is unset.
const DEFAULT_AFFINITY_COOKIE: &str = "torii-rollout";

/// `spec.steps` → steps (shape and ranges; the order rules are [`plan`]'s).
pub(super) fn steps(specs: &[wire::RolloutStepSpec]) -> Result<Vec<RolloutStep>, Problem> {
    let mut steps = Vec::with_capacity(specs.len());
    for (i, step) in specs.iter().enumerate() {
        let field = format!("spec.steps[{i}]");
        steps.push(match (&step.mirror, step.weight) {
            (Some(mirror), None) => {
                if step.pause.is_some() {
                    return Err(invalid(
                        &format!("{field}.pause"),
                        "only weight steps pause (a mirror step lasts mirror.duration)",
                    ));
                }
                RolloutStep::Mirror {
                    duration: parse_duration(
                        &format!("{field}.mirror.duration"),
                        mirror.duration.as_deref(),
                        Duration::ZERO,
                    )?,
                    max_diff_rate: mirror.max_diff_rate.unwrap_or(DEFAULT_STEP_MAX_DIFF_RATE),
                    min_compared: mirror.min_compared.unwrap_or(DEFAULT_STEP_MIN_COMPARED),
                }
            }
            (None, Some(weight)) => RolloutStep::Weight {
                percent: u8::try_from(weight)
                    .ok()
                    .filter(|p| (1..=100).contains(p))
                    .ok_or_else(|| {
                        invalid(
                            &format!("{field}.weight"),
                            format!("must be between 1 and 100, got {weight}"),
                        )
                    })?,
                pause: parse_duration(
                    &format!("{field}.pause"),
                    step.pause.as_deref(),
                    Duration::ZERO,
                )?,
            },
            _ => return Err(invalid(&field, "exactly one of mirror and weight")),
        });
    }
    Ok(steps)
}

/// `spec.analysis` → the gates, defaults from [`RolloutAnalysis::default`].
pub(super) fn analysis(spec: Option<&wire::AnalysisSpec>) -> Result<RolloutAnalysis, Problem> {
    let defaults = RolloutAnalysis::default();
    let Some(spec) = spec else {
        return Ok(defaults);
    };
    Ok(RolloutAnalysis {
        min_requests: spec.min_requests.unwrap_or(defaults.min_requests),
        max_error_rate: spec.max_error_rate.unwrap_or(defaults.max_error_rate),
        max_error_rate_increase: spec
            .max_error_rate_increase
            .or(defaults.max_error_rate_increase),
        max_latency_p99_ratio: spec
            .max_latency_p99_ratio
            .or(defaults.max_latency_p99_ratio),
        latency_slack: parse_duration(
            "spec.analysis.latencySlack",
            spec.latency_slack.as_deref(),
            defaults.latency_slack,
        )?,
        max_diff_rate: spec.max_diff_rate.or(defaults.max_diff_rate),
        min_compared: spec.min_compared.unwrap_or(defaults.min_compared),
        interval: parse_duration(
            "spec.analysis.interval",
            spec.interval.as_deref(),
            defaults.interval,
        )?,
    })
}

/// Where a field of [`RolloutPlan::new`]'s messages is in a `Rollout`: `steps[0].maxDiffRate`
/// is `spec.steps[0].mirror.maxDiffRate`, `analysis.interval` is `spec.analysis.interval`.
pub(super) fn wire_field(plan_field: &str) -> String {
    for name in ["maxDiffRate", "minCompared"] {
        let step = plan_field
            .strip_suffix(name)
            .and_then(|s| s.strip_suffix('.'))
            .filter(|s| s.starts_with("steps["));
        if let Some(step) = step {
            return format!("spec.{step}.mirror.{name}");
        }
    }
    format!("spec.{plan_field}")
}

/// `spec.sessionAffinity` → the rollout's sticky cookie.
pub(super) fn affinity(
    spec: Option<&wire::RolloutAffinitySpec>,
) -> Result<Option<RolloutAffinity>, Problem> {
    let Some(spec) = spec else {
        return Ok(None);
    };
    let cookie = spec
        .cookie_name
        .as_deref()
        .unwrap_or(DEFAULT_AFFINITY_COOKIE);
    if !is_cookie_name(cookie) {
        return Err(invalid(
            "spec.sessionAffinity.cookieName",
            format!("{cookie:?} is not a cookie name (letters, digits and !#$%&'*+-.^_`|~)"),
        ));
    }
    let ttl = parse_duration(
        "spec.sessionAffinity.ttl",
        spec.ttl.as_deref(),
        Duration::from_secs(3600),
    )?;
    // The cookie's Max-Age is whole seconds: less than one never pins.
    if ttl < Duration::from_secs(1) {
        return Err(invalid("spec.sessionAffinity.ttl", "must be at least 1s"));
    }
    Ok(Some(RolloutAffinity {
        cookie: cookie.into(),
        ttl,
    }))
}

/// A cookie name: an RFC 6265 token (RFC 7230 `tchar`s).
fn is_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Compare settings under `prefix` (`spec` or `spec.compare`), defaults from
/// [`CompareSettings::default`].
pub(super) fn settings(prefix: &str, spec: &wire::CompareSpec) -> Result<CompareSettings, Problem> {
    let defaults = CompareSettings::default();
    let field = |name: &str| format!("{prefix}.{name}");
    let percent = match spec.sampling.as_ref().and_then(|s| s.percent) {
        None => defaults.percent,
        Some(p) if p.is_finite() && p > 0.0 && p <= 100.0 => p,
        Some(p) => {
            return Err(invalid(
                &field("sampling.percent"),
                format!("must be above 0 and at most 100, got {p}"),
            ))
        }
    };
    let methods = match &spec.methods {
        None => defaults.methods,
        Some(list) if list.is_empty() => {
            return Err(invalid(&field("methods"), "at least one method"))
        }
        Some(list) => unique(&field("methods"), list, |text| {
            Method::from_bytes(text.as_bytes()).map_err(|_| format!("invalid method {text:?}"))
        })?,
    };
    let ignore = spec.ignore.clone().unwrap_or_default();
    let json_paths = unique(
        &field("ignore.jsonPaths"),
        ignore.json_paths.as_deref().unwrap_or_default(),
        |text| {
            torii_compare::JsonPath::parse(text)
                .map(|_| Arc::<str>::from(text))
                .map_err(|e| e.to_string())
        },
    )?;
    let max_body_bytes = spec.max_body_bytes.unwrap_or(defaults.max_body_bytes);
    if max_body_bytes > MAX_BODY_BYTES {
        return Err(invalid(
            &field("maxBodyBytes"),
            format!("at most {MAX_BODY_BYTES} (64 MiB)"),
        ));
    }
    let max_concurrent = spec.max_concurrent.unwrap_or(defaults.max_concurrent);
    if !(1..=MAX_CONCURRENT).contains(&max_concurrent) {
        return Err(invalid(
            &field("maxConcurrent"),
            format!("must be 1 to {MAX_CONCURRENT}"),
        ));
    }
    let timeout = parse_duration(&field("timeout"), spec.timeout.as_deref(), defaults.timeout)?;
    if timeout.is_zero() {
        return Err(invalid(&field("timeout"), "must be above zero"));
    }
    Ok(CompareSettings {
        percent,
        methods,
        ignore_headers: header_names(
            &field("ignore.headers"),
            ignore.headers.as_deref().unwrap_or_default(),
        )?,
        ignore_json_paths: json_paths,
        redact_headers: header_names(
            &field("redactHeaders"),
            spec.redact_headers.as_deref().unwrap_or_default(),
        )?,
        normalize_text: spec.normalize_text.unwrap_or(defaults.normalize_text),
        max_body_bytes,
        max_concurrent,
        timeout,
    })
}

/// A list of header names, each once.
fn header_names(field: &str, list: &[String]) -> Result<Vec<HeaderName>, Problem> {
    unique(field, list, |text| {
        HeaderName::from_bytes(text.as_bytes()).map_err(|_| format!("invalid header name {text:?}"))
    })
}

/// Parses every entry of a list with `parse`; an entry that does not parse, or parses to an
/// earlier one's value, is reported as `field[i]`.
fn unique<T: PartialEq>(
    field: &str,
    list: &[String],
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, Problem> {
    let mut out: Vec<T> = Vec::with_capacity(list.len());
    for (i, text) in list.iter().enumerate() {
        let value = parse(text).map_err(|message| invalid(&format!("{field}[{i}]"), message))?;
        if out.contains(&value) {
            return Err(invalid(
                &format!("{field}[{i}]"),
                format!("{text:?} is listed twice"),
            ));
        }
        out.push(value);
    }
    Ok(out)
}
