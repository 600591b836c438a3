//! What a comparison ignores and how far it goes.

use crate::error::InvalidJsonPath;
use crate::path::JsonPath;
use crate::redact::Redaction;
use http::HeaderName;

/// Response headers ignored by default: they differ between any two instances (dates, trace
/// ids, timings, caching validators, hop-by-hop framing) without saying anything about the
/// application. `content-length` is among them because the body is compared anyway.
pub const DEFAULT_IGNORED_HEADERS: &[&str] = &[
    "date",
    "server",
    "x-request-id",
    "x-correlation-id",
    "x-amzn-trace-id",
    "traceparent",
    "tracestate",
    "request-id",
    "age",
    "expires",
    "last-modified",
    "etag",
    "via",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "x-envoy-upstream-service-time",
    "x-runtime",
    "x-response-time",
];

/// How [`crate::compare`] compares two responses.
///
/// `set-cookie` is special: its values (session ids, expiry dates) always differ between
/// instances, so only the *names* of the cookies set are compared, as a sorted list; a cookie
/// set on one side only is a difference. Add `set-cookie` to
/// [`CompareOptions::ignored_headers`] to ignore it entirely.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// Response headers not compared (default: [`DEFAULT_IGNORED_HEADERS`]).
    pub ignored_headers: Vec<HeaderName>,
    /// JSON fields not compared, with everything below them (default: none).
    pub ignored_json_paths: Vec<JsonPath>,
    /// Compare `text/*` bodies after normalization: CRLF as LF, runs of spaces and tabs as
    /// one space, each line trimmed, leading and trailing blank lines dropped (default: on).
    pub normalize_text: bool,
    /// Bodies larger than this are compared as bytes only, never parsed (default: 1 MiB).
    pub max_body_bytes: usize,
    /// At most this many differences are reported per comparison (default: 100); the rest
    /// are not looked for and [`crate::Differences::is_capped`] says so.
    pub max_differences: usize,
    /// Values in differences are cut to this many bytes (default: 200).
    pub max_value_len: usize,
    /// Header values and JSON fields shown as `<redacted>` in differences.
    pub redaction: Redaction,
}

impl Default for CompareOptions {
    fn default() -> Self {
        Self {
            ignored_headers: DEFAULT_IGNORED_HEADERS
                .iter()
                .map(|name| HeaderName::from_static(name))
                .collect(),
            ignored_json_paths: Vec::new(),
            normalize_text: true,
            max_body_bytes: 1 << 20,
            max_differences: 100,
            max_value_len: 200,
            redaction: Redaction::default(),
        }
    }
}

impl CompareOptions {
    /// These options with one more ignored header.
    pub fn ignore_header(mut self, name: HeaderName) -> Self {
        if !self.ignored_headers.contains(&name) {
            self.ignored_headers.push(name);
        }
        self
    }

    /// These options with one more ignored JSON path (see [`JsonPath`] for the syntax).
    pub fn ignore_json_path(mut self, path: &str) -> Result<Self, InvalidJsonPath> {
        self.ignored_json_paths.push(JsonPath::parse(path)?);
        Ok(self)
    }

    pub(crate) fn is_ignored_header(&self, name: &HeaderName) -> bool {
        self.ignored_headers.contains(name)
    }
}
