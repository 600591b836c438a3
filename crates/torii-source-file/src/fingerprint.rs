//! A fingerprint of what the loader read, to tell real changes from no-op file events.

use std::hash::{DefaultHasher, Hash, Hasher};
use torii_resources::SourceText;

/// A hash of the list of files read and of each one's contents (or read error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fingerprint(u64);

impl Fingerprint {
    /// The fingerprint of texts read by [`torii_resources::read_paths`].
    pub(crate) fn of(texts: &[SourceText]) -> Fingerprint {
        let mut hasher = DefaultHasher::new();
        texts.len().hash(&mut hasher);
        for source in texts {
            source.path.hash(&mut hasher);
            match &source.text {
                Ok(text) => {
                    0u8.hash(&mut hasher);
                    text.hash(&mut hasher);
                }
                Err(error) => {
                    1u8.hash(&mut hasher);
                    error.message.hash(&mut hasher);
                }
            }
        }
        Fingerprint(hasher.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::Arc;
    use torii_resources::{LoadError, Origin};

    fn text(path: &str, text: &str) -> SourceText {
        SourceText {
            path: PathBuf::from(path),
            text: Ok(text.to_owned()),
        }
    }

    fn failed(path: &str, message: &str) -> SourceText {
        let origin = Origin {
            file: Arc::new(PathBuf::from(path)),
            line: 0,
            object: None,
        };
        SourceText {
            path: PathBuf::from(path),
            text: Err(LoadError {
                origin,
                object: None,
                field: None,
                message: message.to_owned(),
            }),
        }
    }

    #[test]
    fn changes_with_files_and_contents() {
        let base = vec![text("a.yaml", "a"), text("b.yaml", "b")];
        let cases = [
            (base.clone(), true),
            (vec![text("a.yaml", "a"), text("b.yaml", "B")], false),
            (vec![text("a.yaml", "a"), text("c.yaml", "b")], false),
            (vec![text("a.yaml", "a")], false),
            (vec![text("b.yaml", "b"), text("a.yaml", "a")], false),
            // Contents moving between files is a change.
            (vec![text("a.yaml", "ab"), text("b.yaml", "")], false),
            (vec![text("a.yaml", "a"), failed("b.yaml", "b")], false),
        ];
        for (texts, same) in cases {
            let equal = Fingerprint::of(&texts) == Fingerprint::of(&base);
            assert_eq!(equal, same, "{texts:?}");
        }
        let error = vec![failed("a.yaml", "cannot read: gone")];
        assert_eq!(Fingerprint::of(&error), Fingerprint::of(&error.clone()));
        assert_ne!(
            Fingerprint::of(&error),
            Fingerprint::of(&[failed("a.yaml", "cannot read: denied")])
        );
    }
}
