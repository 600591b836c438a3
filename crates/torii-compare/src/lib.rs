//! Mirror and compare, for migrations: the proxy sends a sampled share of requests to a
//! **primary** (what users get), a **candidate** (the new deployment) and optionally a
//! **secondary** (a second instance of the primary's version, to learn noise as Twitter's Diffy
//! does); this crate says how their responses differ, which differences are regressions and
//! which are noise, and keeps per-endpoint results and redacted sample diffs.
//!
//! Pure (no I/O, no async, no clock: time is passed in):
//!
//! - [`CapturedResponse`] / [`CapturedBody`] — a response as captured; large bodies as a hash
//!   ([`BodyHasher`], [`BodyCapture`] take a body chunk by chunk).
//! - [`compare`] (and [`compare_all`] for a candidate and a secondary) with
//!   [`CompareOptions`] → [`Differences`]: status, headers, body (JSON
//!   structurally, text normalized, otherwise bytes), each [`Difference`] at a [`FieldPath`]
//!   such as `body.$.items[2].price`, values shortened and redacted, at most a capped number.
//! - [`classify`] → [`Verdict`]: identical, noise only, or regression (what also differs
//!   between primary and secondary is noise).
//! - [`DiffStore`] — thread-safe, bounded aggregation per [`EndpointKey`]: counters, the fields
//!   that differ most, noise learned from secondaries, and [`SampleDiff`]s with secrets
//!   redacted; [`DiffStore::report`] gives a serializable [`DiffReport`] (the admin API's JSON,
//!   and the counters for metrics).
//! - [`render_summary`] and [`render_sample`] — plain text for the CLI, from deserialized
//!   reports.
//!
//! Byte-equal bodies are equal without parsing, so the common case (identical responses)
//! costs a memory comparison; other JSON bodies are parsed into a value that borrows its
//! strings from the body (see `benches/compare.rs`).

mod body;
mod compare;
mod error;
mod json;
mod node;
mod noise;
mod options;
mod path;
mod redact;
mod render;
mod report;
mod sample;
mod store;

pub use body::{BodyCapture, BodyHasher, CapturedBody, CapturedResponse};
pub use compare::{compare, compare_all, Difference, DifferenceKind, Differences};
pub use error::{InvalidFieldPath, InvalidJsonPath};
pub use noise::{classify, Verdict};
pub use options::{CompareOptions, DEFAULT_IGNORED_HEADERS};
pub use path::{FieldPath, JsonPath, JsonSegment};
pub use redact::{Redaction, DEFAULT_REDACTED_HEADERS, DEFAULT_REDACTED_NAMES, REDACTED};
pub use render::{render_sample, render_summary};
pub use report::{
    DiffReport, EndpointKey, EndpointReport, FieldStat, SampleDiff, SampleRequest, SampleResponse,
    SampleSummary, StatusPair,
};
pub use store::{DiffStore, SampleInput, StoreOptions, OTHER_FIELDS};
