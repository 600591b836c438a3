//! Building a redacted [`SampleDiff`] from what the proxy captured.

use crate::body::{CapturedBody, CapturedResponse};
use crate::compare::{body_kind, BodyKind, Differences};
use crate::json::shorten;
use crate::noise::Verdict;
use crate::path::{FieldPath, JsonSegment};
use crate::redact::{Redaction, REDACTED};
use crate::report::{EndpointKey, SampleDiff, SampleRequest, SampleResponse};
use crate::store::{SampleInput, StoreOptions};
use http::header::SET_COOKIE;
use http::HeaderMap;
use serde_json::Value;

/// A sample with id 0 (the store numbers it).
pub(crate) fn build(
    options: &StoreOptions,
    endpoint: &EndpointKey,
    input: &SampleInput<'_>,
    mut differences: Differences,
    mut secondary_differences: Option<Differences>,
    verdict: Verdict,
    now_unix_ms: u64,
) -> SampleDiff {
    let redaction = &options.redaction;
    redact_differences(&mut differences, redaction);
    if let Some(differences) = &mut secondary_differences {
        redact_differences(differences, redaction);
    }
    SampleDiff {
        id: 0,
        time_unix_ms: now_unix_ms,
        endpoint: endpoint.clone(),
        request: SampleRequest {
            method: input.method.as_str().to_owned(),
            target: redaction.redact_target(input.target),
            headers: headers(input.headers, redaction),
        },
        primary: response(input.primary, options),
        candidate: response(input.candidate, options),
        secondary: input.secondary.map(|r| response(r, options)),
        differences,
        secondary_differences,
        verdict,
    }
}

/// Headers as (name, value) pairs, secret values redacted.
fn headers(headers: &HeaderMap, redaction: &Redaction) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = if redaction.is_secret_header(name) {
                REDACTED.to_owned()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            (name.as_str().to_owned(), value)
        })
        .collect()
}

fn response(response: &CapturedResponse, options: &StoreOptions) -> SampleResponse {
    let max = options.max_sample_body_bytes;
    let (body, body_truncated) = match &response.body {
        CapturedBody::Hashed { len, .. } => (format!("<hashed {len} bytes>"), false),
        CapturedBody::Full(bytes) => {
            let json = (body_kind(&response.headers) == BodyKind::Json)
                .then(|| serde_json::from_slice::<Value>(bytes).ok())
                .flatten()
                .and_then(|mut value| {
                    redact_value(&mut value, &options.redaction);
                    serde_json::to_string_pretty(&value).ok()
                });
            match json {
                Some(text) => (shorten(&text, max), text.len() > max),
                None => match std::str::from_utf8(bytes) {
                    Ok(text) => (shorten(text, max), text.len() > max),
                    Err(_) => (format!("<binary {} bytes>", bytes.len()), false),
                },
            }
        }
    };
    SampleResponse {
        status: response.status,
        headers: headers(&response.headers, &options.redaction),
        body,
        body_truncated,
    }
}

/// Replaces the values of secret members, at any depth.
fn redact_value(value: &mut Value, redaction: &Redaction) {
    match value {
        Value::Object(members) => {
            for (key, member) in members.iter_mut() {
                if redaction.is_secret_name(key) {
                    *member = Value::String(REDACTED.to_owned());
                } else {
                    redact_value(member, redaction);
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| redact_value(item, redaction)),
        _ => {}
    }
}

/// A second layer over what [`crate::compare`] redacted, with the store's rules.
fn redact_differences(differences: &mut Differences, redaction: &Redaction) {
    for difference in differences.items_mut() {
        let secret = match &difference.field {
            FieldPath::Header(name) => name != SET_COOKIE && redaction.is_secret_header(name),
            FieldPath::Json(segments) => segments
                .iter()
                .any(|s| matches!(s, JsonSegment::Key(key) if redaction.is_secret_name(key))),
            FieldPath::Status | FieldPath::Body => false,
        };
        if secret {
            for value in [&mut difference.primary, &mut difference.other]
                .into_iter()
                .flatten()
            {
                *value = REDACTED.to_owned();
            }
        }
    }
}
