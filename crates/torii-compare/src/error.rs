//! What can be wrong in the text given to this crate.

/// A JSON path of [`crate::CompareOptions::ignored_json_paths`] that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON path {path:?} at byte {position}: {reason}")]
pub struct InvalidJsonPath {
    /// The path as given.
    pub path: String,
    /// The byte offset where parsing stopped.
    pub position: usize,
    /// What was expected there.
    pub reason: &'static str,
}

/// A rendered [`crate::FieldPath`] (as found in a serialized report) that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid field path {path:?}")]
pub struct InvalidFieldPath {
    /// The text as given.
    pub path: String,
}
