//! Loading multi-document YAML files into a [`ResourceSet`], the way `torii serve -f PATH`
//! and `torii validate -f PATH` read them.
//!
//! Loading never stops at the first problem: every document is read on its own, a bad one
//! becomes a [`LoadError`] naming file, line, object and field, and the rest still load. The
//! caller decides what a report with errors means (file mode keeps the previous snapshot).
//!
//! The pipeline is [`read_paths`] (files and directories to texts, with size and encoding
//! checks) then [`parse_texts`] / [`parse_yaml`] (texts to objects). [`load_paths`] does both;
//! a watcher can fingerprint the texts between the two steps.

mod document;
mod files;
mod json;
mod kind;
mod locate;
mod message;
mod schema;
mod split;
#[cfg(test)]
mod tests;
mod without_status;

use crate::origin::Origin;
use crate::set::{ObjectKey, ResourceSet};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) use document::WireObject;
pub use files::{is_yaml_file_name, read_paths, SourceText, MAX_FILE_BYTES};
pub use json::{decode_json, parse_json_objects, Decoded};
pub use kind::Kind;
pub use locate::locate_field;

/// The most documents one [`LoadReport`] reads, over all its files.
pub const MAX_DOCUMENTS: usize = 100_000;

/// One problem found while loading: names file, line, object and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file and line the problem is on (the document's first line when nothing finer is known).
    pub origin: Origin,
    /// The object, e.g. `HTTPRoute default/foo`, when its kind and name could be read.
    pub object: Option<String>,
    /// The field path inside the object, e.g. `spec.rules[0].matches[0].path.type`.
    pub field: Option<String>,
    /// What is wrong, lowercase, without the location.
    pub message: String,
}

impl LoadError {
    /// A problem with a whole file or document: no object, no field.
    pub(crate) fn new(origin: Origin, message: impl Into<String>) -> Self {
        LoadError {
            origin,
            object: None,
            field: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.origin)?;
        if let Some(object) = &self.object {
            write!(f, "{object}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for LoadError {}

/// Everything one load produced: the objects that were read, and the problems found.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// The objects read without error (an object with an error is left out).
    pub set: ResourceSet,
    /// Problems that make the input invalid (`torii validate` exits 1).
    pub errors: Vec<LoadError>,
    /// Problems that were reported and skipped: unknown kinds and fields.
    pub warnings: Vec<LoadError>,
    /// Where each object in `set` was read from, to report duplicates.
    seen: HashMap<ObjectKey, Origin>,
    /// Non-empty documents read so far, for [`MAX_DOCUMENTS`].
    documents: usize,
}

impl LoadReport {
    /// True when there are no errors (warnings are allowed).
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// Where the object with this key was read from, if it was loaded.
    pub fn origin_of(&self, key: &ObjectKey) -> Option<&Origin> {
        self.seen.get(key)
    }
}

/// Parses one multi-document YAML text (the file name is only for messages) into `report`.
pub fn parse_yaml(file: &Path, text: &str, report: &mut LoadReport) {
    let file = Arc::new(file.to_path_buf());
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for chunk in split::documents(text) {
        if report.documents >= MAX_DOCUMENTS {
            report.errors.push(LoadError::new(
                Origin {
                    file,
                    line: chunk.content_line,
                    object: None,
                },
                format!("too many documents (the limit is {MAX_DOCUMENTS}), the rest is ignored"),
            ));
            return;
        }
        report.documents += 1;
        document::parse(&file, &chunk, report);
    }
}

/// Parses texts read by [`read_paths`] into one report; a text that could not be read is an error.
pub fn parse_texts(texts: &[SourceText]) -> LoadReport {
    let mut report = LoadReport::default();
    for source in texts {
        match &source.text {
            Ok(text) => parse_yaml(&source.path, text, &mut report),
            Err(error) => report.errors.push(error.clone()),
        }
    }
    report
}

/// Loads files and directories (`*.yaml`/`*.yml`, not recursive, sorted by name) like
/// `torii serve -f PATH -f PATH`.
pub fn load_paths(paths: &[PathBuf]) -> LoadReport {
    parse_texts(&read_paths(paths))
}
