//! Fuzzes the YAML loader: any text must load into a report, never panic or hang.
//!
//! Run with `cargo +nightly fuzz run load_yaml` from the repository root.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use torii_resources::{parse_yaml, LoadReport};

fuzz_target!(|data: &[u8]| {
    // Files that are not UTF-8 are rejected before parsing (see `read_paths`).
    if let Ok(text) = std::str::from_utf8(data) {
        let mut report = LoadReport::default();
        parse_yaml(Path::new("fuzz.yaml"), text, &mut report);
    }
});
