//! Where an object came from, so errors and status can point at it.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// The source location of one object: a file and the line its document starts on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Origin {
    /// The file the object was read from (empty when it came from elsewhere, e.g. an API server).
    pub file: Arc<PathBuf>,
    /// 1-based line of the first line of the object's YAML document (0 when unknown).
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}", self.file.display(), self.line)
        }
    }
}
