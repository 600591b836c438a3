//! Reading the files named by `-f PATH` options: files, and directories of YAML files.

use super::LoadError;
use crate::origin::Origin;
use std::collections::HashSet;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The largest file the loader reads (32 MiB).
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// One file's text as read by [`read_paths`], or the problem reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceText {
    /// The file (or the path given, when it could not be read or listed).
    pub path: PathBuf,
    /// The file's text, or why it could not be read.
    pub text: Result<String, LoadError>,
}

/// Reads every file `paths` name, in order: a file is read as is; a directory contributes its
/// `*.yaml` and `*.yml` files (not recursively, sorted by name, hidden files skipped). A file
/// named twice is read once.
pub fn read_paths(paths: &[PathBuf]) -> Vec<SourceText> {
    let mut seen = HashSet::new();
    let mut texts = Vec::new();
    for path in paths {
        let files = match fs::metadata(path) {
            Ok(meta) if meta.is_dir() => match list_dir(path) {
                Ok(files) => files,
                Err(error) => {
                    texts.push(failed(path, format!("cannot list directory: {error}")));
                    continue;
                }
            },
            Ok(_) => vec![path.clone()],
            Err(error) => {
                texts.push(failed(path, format!("cannot read: {error}")));
                continue;
            }
        };
        for file in files {
            let identity = fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
            if seen.insert(identity) {
                let text = read_file(&file).map_err(|message| error(&file, message));
                texts.push(SourceText { path: file, text });
            }
        }
    }
    texts
}

/// True for file names a directory load picks up: `*.yaml` or `*.yml`, not hidden (editors'
/// lock and swap files start with a dot).
pub fn is_yaml_file_name(name: &str) -> bool {
    !name.starts_with('.') && (name.ends_with(".yaml") || name.ends_with(".yml"))
}

/// The YAML files directly inside `dir`, sorted by name.
fn list_dir(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if !name.to_str().is_some_and(is_yaml_file_name) {
            continue;
        }
        let path = entry.path();
        // Follow symlinks; a dangling one is kept so that reading it reports the problem.
        if fs::metadata(&path).map_or(true, |meta| !meta.is_dir()) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Reads a file as UTF-8 text of at most [`MAX_FILE_BYTES`].
fn read_file(path: &Path) -> Result<String, String> {
    let file = fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let too_large = || format!("file is larger than {} MiB", MAX_FILE_BYTES >> 20);
    let len = file
        .metadata()
        .map_err(|e| format!("cannot read: {e}"))?
        .len();
    if len > MAX_FILE_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "file is not valid UTF-8 (at byte {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// A [`LoadError`] about a whole file.
fn error(path: &Path, message: String) -> LoadError {
    LoadError::new(
        Origin {
            file: Arc::new(path.to_path_buf()),
            line: 0,
            object: None,
        },
        message,
    )
}

/// A [`SourceText`] for a path that could not be read.
fn failed(path: &Path, message: String) -> SourceText {
    SourceText {
        path: path.to_path_buf(),
        text: Err(error(path, message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_names() {
        let cases = [
            ("a.yaml", true),
            ("a.yml", true),
            ("10-base.yaml", true),
            ("a.yaml~", false),
            ("a.yaml.swp", false),
            (".a.yaml.swp", false),
            (".#a.yaml", false),
            ("a.json", false),
            ("a.YAML", false),
            ("4913", false),
        ];
        for (name, expected) in cases {
            assert_eq!(is_yaml_file_name(name), expected, "{name}");
        }
    }

    #[test]
    fn reads_files_and_directories() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let d = dir.path();
        fs::write(d.join("b.yaml"), "b")?;
        fs::write(d.join("a.yml"), "a")?;
        fs::write(d.join("c.txt"), "c")?;
        fs::write(d.join(".hidden.yaml"), "h")?;
        fs::create_dir(d.join("sub.yaml"))?;
        fs::write(d.join("sub.yaml/x.yaml"), "x")?;
        let single = d.join("c.txt");
        let texts = read_paths(&[d.to_path_buf(), single.clone(), d.join("a.yml")]);
        let got: Vec<_> = texts
            .iter()
            .map(|t| (t.path.clone(), t.text.clone().ok()))
            .collect();
        assert_eq!(
            got,
            [
                (d.join("a.yml"), Some("a".to_owned())),
                (d.join("b.yaml"), Some("b".to_owned())),
                // Named explicitly, so read whatever its extension; a.yml is not read twice.
                (single, Some("c".to_owned())),
            ]
        );
        Ok(())
    }

    #[test]
    fn reports_unreadable_paths() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let d = dir.path();
        fs::write(d.join("latin1.yaml"), b"a: caf\xe9\n")?;
        let big = fs::File::create(d.join("big.yaml"))?;
        big.set_len(MAX_FILE_BYTES + 1)?;
        fs::write(d.join("limit.yaml"), "")?;
        fs::File::options()
            .write(true)
            .open(d.join("limit.yaml"))?
            .set_len(MAX_FILE_BYTES)?;
        let missing = d.join("missing.yaml");
        let cases = [
            (
                d.join("latin1.yaml"),
                Some("file is not valid UTF-8 (at byte 6)"),
            ),
            (d.join("big.yaml"), Some("file is larger than 32 MiB")),
            (d.join("limit.yaml"), None),
            (
                missing.clone(),
                Some("cannot read: No such file or directory"),
            ),
        ];
        for (path, expected) in cases {
            let texts = read_paths(std::slice::from_ref(&path));
            assert_eq!(texts.len(), 1);
            let got = texts[0].text.as_ref().err().map(|e| {
                assert_eq!(*e.origin.file, path);
                e.message.clone()
            });
            match expected {
                None => assert_eq!(got, None, "{}", path.display()),
                Some(prefix) => {
                    let got = got.unwrap_or_default();
                    assert!(got.starts_with(prefix), "{}: {got}", path.display());
                }
            }
        }
        // The error names the path the user gave.
        let error = read_paths(std::slice::from_ref(&missing))[0]
            .text
            .clone()
            .err();
        let shown = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            shown.starts_with(&format!("{}: ", missing.display())),
            "{shown}"
        );
        Ok(())
    }
}
