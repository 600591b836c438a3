//! What file mode makes of the same object: the loader, then translation's conditions.

use std::path::Path;
use torii_config::status::ConditionStatus;
use torii_resources::{parse_yaml, LoadReport};
use torii_translate::{translate, TranslateOptions};

/// How file mode treats an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    /// Loaded and `Accepted: True` (`ResolvedRefs` aside).
    Accepted,
    /// Loaded with an `unknown field, ignored` warning, and accepted.
    Warned,
    /// An error of the file: the whole configuration is refused.
    LoadError,
    /// `Accepted: False`: left out of the configuration.
    Invalid,
    /// `Accepted: True` but `ResolvedRefs: False`: a migration object then does not apply.
    Unresolved,
}

/// Loads `text` (one object of `kind` named `name`) and translates it alone.
pub fn judge(kind: &str, name: &str, text: &str) -> (FileMode, String) {
    let mut report = LoadReport::default();
    parse_yaml(Path::new("case.yaml"), text, &mut report);
    if let Some(error) = report.errors.first() {
        return (FileMode::LoadError, error.to_string());
    }
    let warned = report
        .warnings
        .iter()
        .find(|w| w.message.contains("unknown field"));
    let translation = translate(&report.set, &TranslateOptions::default());
    let status = translation
        .status
        .load_balancing
        .iter()
        .chain(&translation.status.migrations)
        .find(|s| s.kind == kind && s.name == name);
    let Some(status) = status else {
        return (FileMode::LoadError, "no status for the object".into());
    };
    let condition = |type_: &str| status.conditions.iter().find(|c| c.type_ == type_);
    let accepted = condition("Accepted").expect("every torii object has Accepted");
    if accepted.status != ConditionStatus::True {
        return (FileMode::Invalid, accepted.message.clone());
    }
    if let Some(warning) = warned {
        return (FileMode::Warned, warning.to_string());
    }
    match condition("ResolvedRefs") {
        Some(c) if c.status != ConditionStatus::True => (FileMode::Unresolved, c.message.clone()),
        _ => (FileMode::Accepted, String::new()),
    }
}
