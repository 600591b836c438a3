//! Where an object came from, so errors and status can point at it.

use crate::set::ObjectKey;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// The source location of one object: a file and the line its document starts on, or (in
/// Kubernetes mode) the API server object it was read from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Origin {
    /// The file the object was read from (empty when it came from an API server).
    pub file: Arc<PathBuf>,
    /// 1-based line of the first line of the object's YAML document (0 when unknown).
    pub line: usize,
    /// The API server object it was read from (Kubernetes mode); `file` is then empty.
    pub object: Option<Arc<ObjectKey>>,
}

impl Origin {
    /// The origin of an object read from an API server.
    pub fn api(key: ObjectKey) -> Self {
        Origin {
            object: Some(Arc::new(key)),
            ..Origin::default()
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.object, self.line) {
            (Some(object), _) => write!(f, "{object}"),
            (None, 0) => write!(f, "{}", self.file.display()),
            (None, line) => write!(f, "{}:{line}", self.file.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_file_and_line_or_the_api_object() {
        let key = ObjectKey {
            kind: "HTTPRoute".into(),
            namespace: "shop".into(),
            name: "web".into(),
        };
        let cases = [
            (
                Origin {
                    file: Arc::new("routes.yaml".into()),
                    line: 7,
                    object: None,
                },
                "routes.yaml:7",
            ),
            (
                Origin {
                    file: Arc::new("routes.yaml".into()),
                    line: 0,
                    object: None,
                },
                "routes.yaml",
            ),
            (Origin::api(key), "HTTPRoute shop/web"),
        ];
        for (origin, expected) in cases {
            assert_eq!(origin.to_string(), expected);
        }
    }
}
