//! [`compare`]: the differences between two captured responses.

use crate::body::{CapturedBody, CapturedResponse};
use crate::json;
use crate::node::Node;
use crate::options::CompareOptions;
use crate::path::FieldPath;
use crate::redact::REDACTED;
use http::header::{CONTENT_TYPE, SET_COOKIE};
use http::{HeaderMap, HeaderName};
use serde::{Deserialize, Serialize};
use std::cell::OnceCell;

/// How a field differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DifferenceKind {
    /// Both sides have the field, with different values.
    Changed,
    /// Only the primary has the field.
    Missing,
    /// Only the other side has the field.
    Added,
    /// Both sides have the JSON field, with values of different types.
    TypeChanged,
}

impl DifferenceKind {
    /// `changed`, `missing`, `added` or `type changed`.
    pub fn label(self) -> &'static str {
        match self {
            DifferenceKind::Changed => "changed",
            DifferenceKind::Missing => "missing",
            DifferenceKind::Added => "added",
            DifferenceKind::TypeChanged => "type changed",
        }
    }
}

/// One difference between the primary's response and another's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Difference {
    /// Where.
    pub field: FieldPath,
    /// How.
    pub kind: DifferenceKind,
    /// The primary's value, shortened and redacted; `None` when it has none.
    pub primary: Option<String>,
    /// The other side's value, shortened and redacted; `None` when it has none.
    pub other: Option<String>,
}

/// The differences found by one comparison, at most
/// [`CompareOptions::max_differences`] of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Differences {
    items: Vec<Difference>,
    capped: bool,
}

impl Differences {
    /// Differences from a list (`capped`: whether more were left out).
    pub fn new(items: Vec<Difference>, capped: bool) -> Self {
        Self { items, capped }
    }

    /// Whether the responses are equivalent.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// How many differences are listed.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The differences, in the order status, headers (by name), body.
    pub fn as_slice(&self) -> &[Difference] {
        &self.items
    }

    pub(crate) fn items_mut(&mut self) -> &mut [Difference] {
        &mut self.items
    }

    /// Iterates over the differences.
    pub fn iter(&self) -> std::slice::Iter<'_, Difference> {
        self.items.iter()
    }

    /// Whether the comparison stopped at the cap, leaving further differences out.
    pub fn is_capped(&self) -> bool {
        self.capped
    }
}

impl<'a> IntoIterator for &'a Differences {
    type Item = &'a Difference;
    type IntoIter = std::slice::Iter<'a, Difference>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

/// Gathers differences up to the cap.
pub(crate) struct Collector {
    items: Vec<Difference>,
    capped: bool,
    max: usize,
}

impl Collector {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            items: Vec::new(),
            capped: false,
            max: max.max(1),
        }
    }

    /// Whether one more difference fits; when not, marks the result capped.
    pub(crate) fn accept(&mut self) -> bool {
        if self.items.len() >= self.max {
            self.capped = true;
        }
        !self.capped
    }

    /// Whether the cap was hit (nothing more needs looking at).
    pub(crate) fn is_stopped(&self) -> bool {
        self.capped
    }

    pub(crate) fn push(
        &mut self,
        field: FieldPath,
        kind: DifferenceKind,
        primary: Option<String>,
        other: Option<String>,
    ) {
        self.items.push(Difference {
            field,
            kind,
            primary,
            other,
        });
    }

    fn finish(self) -> Differences {
        Differences {
            items: self.items,
            capped: self.capped,
        }
    }
}

/// The differences between the primary's response and `other` (the candidate's or the
/// secondary's): status, headers (minus ignored ones, multi-value in order) and body.
///
/// Bodies equal byte for byte are equal without further work. Otherwise, when both
/// `Content-Type`s are JSON (`application/json`, `application/*+json`) and both bodies parse,
/// they are compared structurally: objects by key whatever the order, arrays by index, numbers
/// by value (`1` equals `1.0`), type changes reported as such. When both are text (`text/*`,
/// XML, JavaScript) and UTF-8, they are compared as (optionally normalized) text and the first
/// differing line is reported. Anything else, invalid JSON, bodies larger than
/// [`CompareOptions::max_body_bytes`] and hashed bodies are compared as bytes (or hashes).
pub fn compare(
    primary: &CapturedResponse,
    other: &CapturedResponse,
    opts: &CompareOptions,
) -> Differences {
    compare_cached(primary, other, opts, &OnceCell::new())
}

/// [`compare`] of the primary with the candidate and with the secondary, parsing the
/// primary's body once.
pub fn compare_all(
    primary: &CapturedResponse,
    candidate: &CapturedResponse,
    secondary: Option<&CapturedResponse>,
    opts: &CompareOptions,
) -> (Differences, Option<Differences>) {
    let parsed = OnceCell::new();
    let candidate = compare_cached(primary, candidate, opts, &parsed);
    let secondary = secondary.map(|secondary| compare_cached(primary, secondary, opts, &parsed));
    (candidate, secondary)
}

/// [`compare`] with the primary's JSON body parsed at most once into `parsed`.
fn compare_cached<'p>(
    primary: &'p CapturedResponse,
    other: &CapturedResponse,
    opts: &CompareOptions,
    parsed: &OnceCell<Option<Node<'p>>>,
) -> Differences {
    let mut out = Collector::new(opts.max_differences);
    if primary.status != other.status && out.accept() {
        out.push(
            FieldPath::Status,
            DifferenceKind::Changed,
            Some(primary.status.to_string()),
            Some(other.status.to_string()),
        );
    }
    compare_headers(&primary.headers, &other.headers, opts, &mut out);
    compare_bodies(primary, other, opts, parsed, &mut out);
    out.finish()
}

fn compare_headers(
    primary: &HeaderMap,
    other: &HeaderMap,
    opts: &CompareOptions,
    out: &mut Collector,
) {
    let mut names: Vec<&HeaderName> = primary
        .keys()
        .chain(other.keys().filter(|name| !primary.contains_key(*name)))
        .filter(|name| !opts.is_ignored_header(name))
        .collect();
    names.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
    for name in names {
        let equal = if name == SET_COOKIE {
            cookie_names(primary) == cookie_names(other)
        } else {
            primary.get_all(name).iter().eq(other.get_all(name).iter())
        };
        if equal {
            continue;
        }
        if !out.accept() {
            return;
        }
        let render = |headers: &HeaderMap| -> Option<String> {
            if !headers.contains_key(name) {
                None
            } else if name == SET_COOKIE {
                Some(cookie_names(headers).join(", "))
            } else if opts.redaction.is_secret_header(name) {
                Some(REDACTED.to_owned())
            } else {
                Some(json::shorten(
                    &joined_values(headers, name),
                    opts.max_value_len,
                ))
            }
        };
        let (left, right) = (render(primary), render(other));
        let kind = match (&left, &right) {
            (Some(_), None) => DifferenceKind::Missing,
            (None, Some(_)) => DifferenceKind::Added,
            _ => DifferenceKind::Changed,
        };
        out.push(FieldPath::Header(name.clone()), kind, left, right);
    }
}

/// All values of `name`, joined with `, ` (non-UTF-8 bytes replaced).
pub(crate) fn joined_values(headers: &HeaderMap, name: &HeaderName) -> String {
    let mut out = String::new();
    for (i, value) in headers.get_all(name).iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&String::from_utf8_lossy(value.as_bytes()));
    }
    out
}

/// The names of the cookies a response sets, sorted.
fn cookie_names(headers: &HeaderMap) -> Vec<String> {
    let mut names: Vec<String> = headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|value| {
            let bytes = value.as_bytes();
            let name = bytes.split(|b| *b == b'=').next().unwrap_or(bytes);
            String::from_utf8_lossy(name).trim().to_owned()
        })
        .collect();
    names.sort_unstable();
    names
}

/// What a `Content-Type` says about how to compare a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    Json,
    Text,
    Other,
}

pub(crate) fn body_kind(headers: &HeaderMap) -> BodyKind {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return BodyKind::Other;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let (kind, subtype) = essence.split_once('/').unwrap_or((&essence, ""));
    match (kind, subtype) {
        ("application", "json") => BodyKind::Json,
        ("application", sub) if sub.ends_with("+json") => BodyKind::Json,
        ("text", _) => BodyKind::Text,
        ("application", "xml" | "javascript" | "x-www-form-urlencoded") => BodyKind::Text,
        ("application", sub) if sub.ends_with("+xml") => BodyKind::Text,
        _ => BodyKind::Other,
    }
}

fn compare_bodies<'p>(
    primary: &'p CapturedResponse,
    other: &CapturedResponse,
    opts: &CompareOptions,
    parsed: &OnceCell<Option<Node<'p>>>,
    out: &mut Collector,
) {
    let (a, b) = match (&primary.body, &other.body) {
        (CapturedBody::Full(a), CapturedBody::Full(b)) => (a, b),
        (left, right) => return compare_hashes(left, right, out),
    };
    if a == b || out.is_stopped() {
        return;
    }
    if a.len() <= opts.max_body_bytes && b.len() <= opts.max_body_bytes {
        match (body_kind(&primary.headers), body_kind(&other.headers)) {
            (BodyKind::Json, BodyKind::Json) => {
                if let Some(a) = parsed.get_or_init(|| Node::parse(a)) {
                    if let Some(b) = Node::parse(b) {
                        return json::compare_values(a, &b, opts, out);
                    }
                }
            }
            (BodyKind::Text, BodyKind::Text) => {
                if let (Ok(a), Ok(b)) = (std::str::from_utf8(a), std::str::from_utf8(b)) {
                    return compare_text(a, b, opts, out);
                }
            }
            _ => {}
        }
    }
    let at = a.iter().zip(b.iter()).take_while(|(x, y)| x == y).count();
    if out.accept() {
        out.push(
            FieldPath::Body,
            DifferenceKind::Changed,
            Some(describe_bytes(a, at, opts.max_value_len)),
            Some(describe_bytes(b, at, opts.max_value_len)),
        );
    }
}

fn compare_hashes(a: &CapturedBody, b: &CapturedBody, out: &mut Collector) {
    if a.len() == b.len() && a.fingerprint() == b.fingerprint() {
        return;
    }
    if out.accept() {
        let describe = |body: &CapturedBody| {
            let (len, hash) = body.fingerprint();
            format!("<hashed {len} bytes, xxh3 {:016x}>", (hash >> 64) as u64)
        };
        out.push(
            FieldPath::Body,
            DifferenceKind::Changed,
            Some(describe(a)),
            Some(describe(b)),
        );
    }
}

/// A body around its first differing byte `at`.
fn describe_bytes(body: &[u8], at: usize, max: usize) -> String {
    match std::str::from_utf8(body) {
        Ok(text) => {
            let start = json::floor_char_boundary(text, at.saturating_sub(20));
            format!("byte {at}: {}", json::shorten(&text[start..], max))
        }
        Err(_) => format!("<binary {} bytes, differs from byte {at}>", body.len()),
    }
}

/// Lines of `text` with their 1-based numbers, normalized or not.
fn lines(text: &str, normalize: bool) -> Vec<(usize, &str)> {
    let mut lines: Vec<(usize, &str)> = text
        .split('\n')
        .enumerate()
        .map(|(i, line)| (i + 1, if normalize { line.trim() } else { line }))
        .collect();
    if normalize {
        let first = lines
            .iter()
            .position(|(_, l)| !l.is_empty())
            .unwrap_or(lines.len());
        let last = lines
            .iter()
            .rposition(|(_, l)| !l.is_empty())
            .map_or(first, |i| i + 1);
        lines.truncate(last);
        lines.drain(..first);
    }
    lines
}

fn compare_text(a: &str, b: &str, opts: &CompareOptions, out: &mut Collector) {
    let normalize = opts.normalize_text;
    let (left, right) = (lines(a, normalize), lines(b, normalize));
    let same = |x: &str, y: &str| {
        if normalize {
            x.split_whitespace().eq(y.split_whitespace())
        } else {
            x == y
        }
    };
    let first = (0..left.len().max(right.len())).find(|&i| match (left.get(i), right.get(i)) {
        (Some((_, x)), Some((_, y))) => !same(x, y),
        _ => true,
    });
    let Some(i) = first else {
        return;
    };
    if !out.accept() {
        return;
    }
    let describe = |line: Option<&(usize, &str)>| match line {
        Some((number, text)) => {
            format!("line {number}: {}", json::shorten(text, opts.max_value_len))
        }
        None => "<end of text>".to_owned(),
    };
    out.push(
        FieldPath::Body,
        DifferenceKind::Changed,
        Some(describe(left.get(i))),
        Some(describe(right.get(i))),
    );
}

#[cfg(test)]
mod tests;
