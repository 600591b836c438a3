//! Every manifest of the upstream Gateway API conformance suite loads without errors, so the
//! wire types accept upstream's YAML.
//!
//! The manifests come from `cases.json` (extracted from the upstream repository, see
//! `/work/shared/conformance/README.md`); set `TORII_CONFORMANCE_CASES` to its path, or keep
//! the default location beside the repository. The test is skipped when the file is absent.

use serde_json::Value;
use std::path::{Path, PathBuf};
use torii_resources::{parse_yaml, LoadReport};

fn cases_path() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("TORII_CONFORMANCE_CASES").map(PathBuf::from),
        Some(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/conformance/data/cases.json"),
        ),
        Some(PathBuf::from("/work/shared/conformance/data/cases.json")),
    ];
    candidates.into_iter().flatten().find(|p| p.is_file())
}

/// The manifests as one multi-document YAML text.
fn to_yaml(manifests: &[Value]) -> String {
    manifests
        .iter()
        .map(|m| serde_yaml_ng::to_string(m).expect("JSON values serialize to YAML"))
        .collect::<Vec<_>>()
        .join("---\n")
}

fn array<'v>(value: &'v Value, what: &str) -> &'v [Value] {
    value
        .as_array()
        .map_or_else(|| panic!("{what} is not an array"), Vec::as_slice)
}

#[test]
fn upstream_conformance_manifests_load_without_errors() {
    let Some(path) = cases_path() else {
        eprintln!("skipped: conformance cases.json not found");
        return;
    };
    let text = std::fs::read_to_string(&path).expect("cases.json is readable");
    let cases: Value = serde_json::from_str(&text).expect("cases.json is JSON");
    let base = array(&cases["base_manifests"], "base_manifests");
    let tests = array(&cases["tests"], "tests");
    assert!(!base.is_empty() && !tests.is_empty());

    let mut loaded = 0;
    for test in tests {
        let name = test["name"].as_str().unwrap_or("?");
        let mut report = LoadReport::default();
        parse_yaml(Path::new("base.yaml"), &to_yaml(base), &mut report);
        let manifests = test["manifests"]
            .as_object()
            .expect("manifests is an object");
        let mut expected = 0;
        for (file, docs) in manifests {
            let docs = array(docs, file);
            expected += docs.len();
            parse_yaml(Path::new(file), &to_yaml(docs), &mut report);
        }
        let errors: Vec<_> = report.errors.iter().map(ToString::to_string).collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        // Every object of the test's own manifests is a kind the loader reads.
        let warned = report
            .warnings
            .iter()
            .filter(|w| w.origin.file.as_path() != Path::new("base.yaml"))
            .count();
        assert_eq!(warned, 0, "{name}: {:#?}", report.warnings);
        let base_objects = base
            .iter()
            .filter(|m| !matches!(m["kind"].as_str(), Some("Deployment" | "ConfigMap")))
            .count();
        assert_eq!(report.set.len(), base_objects + expected, "{name}");
        loaded += expected;
    }
    assert!(loaded > 100, "only {loaded} manifests");
}
