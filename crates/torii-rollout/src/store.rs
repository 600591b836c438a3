//! Rollout states on disk: one JSON file per rollout in a state directory, written atomically
//! (temporary file, `fsync`, `rename`, `fsync` of the directory), so a crash leaves either the
//! old or the new state, never half of one.
//!
//! One process owns a state directory: [`StateStore::open`] removes temporary files left by a
//! crash.

use crate::state::{RolloutState, STATE_VERSION};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

/// Prefix of temporary files (no rollout file starts with a dot).
const TEMP_PREFIX: &str = ".tmp-";

/// The rollout a state belongs to: a Kubernetes namespace and name, both DNS-1123 subdomains
/// (lowercase letters, digits, `-` and `.`, starting and ending alphanumeric, ≤ 253), so a
/// name can neither escape the state directory nor collide with another.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RolloutName {
    namespace: String,
    name: String,
}

/// A rollout name that is not `namespace/name` of two DNS-1123 subdomains.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid rollout name {given:?}: {reason}")]
pub struct InvalidName {
    /// The name as given.
    pub given: String,
    /// What is wrong.
    pub reason: &'static str,
}

fn check_part(given: &str, part: &str) -> Result<(), InvalidName> {
    let fail = |reason| {
        Err(InvalidName {
            given: given.to_owned(),
            reason,
        })
    };
    if part.is_empty() {
        return fail("namespace and name must not be empty");
    }
    if part.len() > 253 {
        return fail("namespace and name must be at most 253 characters");
    }
    if !part
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    {
        return fail("only lowercase letters, digits, '-' and '.' are allowed");
    }
    let alnum = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !alnum(part.bytes().next()) || !alnum(part.bytes().last()) {
        return fail("namespace and name must start and end with a letter or digit");
    }
    Ok(())
}

impl RolloutName {
    /// The rollout `name` in `namespace`.
    pub fn new(namespace: &str, name: &str) -> Result<Self, InvalidName> {
        let given = format!("{namespace}/{name}");
        check_part(&given, namespace)?;
        check_part(&given, name)?;
        Ok(Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The state file's name, `<namespace>_<name>.json` (`_` is in neither part).
    fn file_name(&self) -> String {
        format!("{}_{}.json", self.namespace, self.name)
    }

    /// The rollout of a state file name, if it is one.
    fn from_file_name(file: &str) -> Option<Self> {
        let stem = file.strip_suffix(".json")?;
        let (namespace, name) = stem.split_once('_')?;
        Self::new(namespace, name).ok()
    }
}

impl FromStr for RolloutName {
    type Err = InvalidName;

    /// Parses `namespace/name`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((namespace, name)) = s.split_once('/') else {
            return Err(InvalidName {
                given: s.to_owned(),
                reason: "expected namespace/name",
            });
        };
        Self::new(namespace, name)
    }
}

impl fmt::Display for RolloutName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A failed store operation, naming the file or directory.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The state directory could not be created or listed.
    #[error("cannot use state directory {}", path.display())]
    Directory {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A state file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A state file could not be written (the old state, if any, is intact).
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A state file could not be removed.
    #[error("cannot remove {}", path.display())]
    Remove {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A state file is not a valid state (damaged or edited by hand).
    #[error("{} is not a valid rollout state", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// A state file was written by a newer build in a format this one does not know.
    #[error("{} has state version {version}, newer than this build's {STATE_VERSION}", path.display())]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// Its version.
        version: u32,
    },
}

/// The states of all rollouts, as JSON files in one directory.
#[derive(Debug)]
pub struct StateStore {
    dir: PathBuf,
    temp_counter: AtomicU64,
}

impl StateStore {
    /// Opens the state directory, creating it (mode 0700 on Unix) if needed, and removes
    /// temporary files left by an interrupted write.
    pub fn open(dir: &Path) -> Result<StateStore, StoreError> {
        let directory_error = |source| StoreError::Directory {
            path: dir.to_owned(),
            source,
        };
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(directory_error)?;
        for entry in fs::read_dir(dir).map_err(directory_error)? {
            let entry = entry.map_err(directory_error)?;
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                let path = entry.path();
                fs::remove_file(&path).map_err(|source| StoreError::Remove { path, source })?;
            }
        }
        Ok(StateStore {
            dir: dir.to_owned(),
            temp_counter: AtomicU64::new(0),
        })
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of `name`'s state.
    pub fn path(&self, name: &RolloutName) -> PathBuf {
        self.dir.join(name.file_name())
    }

    /// Replaces `name`'s state atomically: JSON to a temporary file in the directory, `fsync`,
    /// `rename` over `<namespace>_<name>.json`, `fsync` of the directory.
    pub fn save(&self, name: &RolloutName, state: &RolloutState) -> Result<(), StoreError> {
        let path = self.path(name);
        let write_error = |source| StoreError::Write {
            path: path.clone(),
            source,
        };
        let json =
            serde_json::to_vec_pretty(state).map_err(|e| write_error(io::Error::other(e)))?;
        let n = self.temp_counter.fetch_add(1, Ordering::Relaxed);
        let temp = self.dir.join(format!(
            "{TEMP_PREFIX}{}-{}-{n}",
            name.file_name(),
            std::process::id()
        ));
        let written = write_synced(&temp, &json).and_then(|()| fs::rename(&temp, &path));
        if let Err(error) = written {
            let _ = fs::remove_file(&temp);
            return Err(write_error(error));
        }
        sync_dir(&self.dir).map_err(write_error)
    }

    /// `name`'s saved state; `None` if there is none. Errors name the file.
    pub fn load(&self, name: &RolloutName) -> Result<Option<RolloutState>, StoreError> {
        let path = self.path(name);
        match fs::read(&path) {
            Ok(bytes) => parse(path, &bytes).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Read { path, source }),
        }
    }

    /// Every saved state, by rollout name (sorted), each loaded on its own: one unreadable
    /// file does not hide the others and comes back as its error (naming the file), never as
    /// a fresh state. The caller should treat such a rollout as rolled back (weight 0, e.g.
    /// [`RolloutState::rolled_back`] with the error as reason) and report it, until a person
    /// restarts it or removes the file. Files not named `<namespace>_<name>.json` after a
    /// valid rollout were not written by the store and are left alone.
    #[allow(clippy::type_complexity)]
    pub fn load_all(
        &self,
    ) -> Result<Vec<(RolloutName, Result<RolloutState, StoreError>)>, StoreError> {
        let directory_error = |source| StoreError::Directory {
            path: self.dir.clone(),
            source,
        };
        let mut states = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(directory_error)? {
            let entry = entry.map_err(directory_error)?;
            let file = entry.file_name();
            let Some(name) = file.to_str().and_then(RolloutName::from_file_name) else {
                continue;
            };
            let path = entry.path();
            let state = fs::read(&path)
                .map_err(|source| StoreError::Read {
                    path: path.clone(),
                    source,
                })
                .and_then(|bytes| parse(path, &bytes));
            states.push((name, state));
        }
        states.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(states)
    }

    /// Deletes `name`'s state; nothing to delete is fine.
    pub fn remove(&self, name: &RolloutName) -> Result<(), StoreError> {
        let path = self.path(name);
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(&self.dir).map_err(|source| StoreError::Remove { path, source }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StoreError::Remove { path, source }),
        }
    }
}

/// A state from its JSON, refusing newer formats.
fn parse(path: PathBuf, bytes: &[u8]) -> Result<RolloutState, StoreError> {
    #[derive(serde::Deserialize)]
    struct Versioned {
        version: u32,
    }
    // Look at the version first: a newer format may not parse as this one.
    if let Ok(Versioned { version }) = serde_json::from_slice(bytes) {
        if version > STATE_VERSION {
            return Err(StoreError::UnsupportedVersion { path, version });
        }
    }
    serde_json::from_slice(bytes).map_err(|source| StoreError::Corrupt { path, source })
}

/// Writes `bytes` to a new file (mode 0600 on Unix) and flushes it to disk.
fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Flushes a directory's entries (a rename) to disk; a no-op where directories cannot be
/// opened (Windows).
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::{mirror, weight};
    use crate::plan::{Analysis, RolloutPlan};
    use crate::state::Baseline;

    fn state(now_ms: u64) -> RolloutState {
        let plan =
            RolloutPlan::new(vec![mirror(), weight(100)], Analysis::default()).expect("valid");
        RolloutState::start(&plan, now_ms, Baseline::default()).0
    }

    fn name(s: &str) -> RolloutName {
        s.parse().expect("valid name")
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn names() {
        let ok = ["default/web", "prod-eu/api.v2", "a/b", "0/9"];
        for s in ok {
            assert_eq!(name(s).to_string(), s);
        }
        let bad = [
            ("web", "expected namespace/name"),
            ("/web", "namespace and name must not be empty"),
            ("default/", "namespace and name must not be empty"),
            (
                "default/a/b",
                "only lowercase letters, digits, '-' and '.' are allowed",
            ),
            (
                "../etc",
                "namespace and name must start and end with a letter or digit",
            ),
            (
                "default/..",
                "namespace and name must start and end with a letter or digit",
            ),
            (
                "default/.hidden",
                "namespace and name must start and end with a letter or digit",
            ),
            (
                "default/a_b",
                "only lowercase letters, digits, '-' and '.' are allowed",
            ),
            (
                "default/Web",
                "only lowercase letters, digits, '-' and '.' are allowed",
            ),
            (
                "default/a\\b",
                "only lowercase letters, digits, '-' and '.' are allowed",
            ),
            (
                "default/a\0b",
                "only lowercase letters, digits, '-' and '.' are allowed",
            ),
        ];
        for (s, reason) in bad {
            let error = s.parse::<RolloutName>().expect_err(s);
            assert_eq!(error.reason, reason, "{s}");
            assert_eq!(
                error.to_string(),
                format!("invalid rollout name {s:?}: {reason}")
            );
        }
        let long = "a".repeat(254);
        assert!(RolloutName::new("default", &long).is_err());
    }

    #[test]
    fn save_load_round_trip_without_temp_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = StateStore::open(&dir.path().join("state")).expect("open");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(store.dir())
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        let web = name("default/web");
        assert!(store.load(&web).expect("load").is_none());
        let first = state(1);
        store.save(&web, &first).expect("save");
        let second = state(2);
        store.save(&web, &second).expect("save over");
        assert_eq!(store.load(&web).expect("load"), Some(second));
        assert_eq!(files(store.dir()), ["default_web.json"]);
        store.remove(&web).expect("remove");
        store.remove(&web).expect("remove again");
        assert!(files(store.dir()).is_empty());
    }

    #[test]
    fn open_removes_leftover_temp_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(".tmp-default_web.json-1-0"), b"{\"half").expect("write");
        fs::write(dir.path().join("notes.txt"), b"mine").expect("write");
        StateStore::open(dir.path()).expect("open");
        assert_eq!(files(dir.path()), ["notes.txt"]);
    }

    #[test]
    fn corrupt_and_newer_files_name_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = StateStore::open(dir.path()).expect("open");
        let web = name("default/web");
        let path = store.path(&web);
        fs::write(&path, b"{\"version\": 1, \"phase\": ").expect("write");
        let error = store.load(&web).expect_err("corrupt");
        assert_eq!(
            error.to_string(),
            format!("{} is not a valid rollout state", path.display())
        );
        assert!(std::error::Error::source(&error).is_some());

        let mut newer = serde_json::to_value(state(1)).expect("to value");
        newer["version"] = 2.into();
        fs::write(&path, newer.to_string()).expect("write");
        let error = store.load(&web).expect_err("newer");
        assert_eq!(
            error.to_string(),
            format!(
                "{} has state version 2, newer than this build's 1",
                path.display()
            )
        );
    }

    #[test]
    fn load_all_reports_each_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = StateStore::open(dir.path()).expect("open");
        store.save(&name("prod/b"), &state(2)).expect("save");
        store.save(&name("default/a"), &state(1)).expect("save");
        fs::write(store.path(&name("prod/broken")), b"not json").expect("write");
        fs::write(dir.path().join("README.json"), b"{}").expect("write");
        fs::write(dir.path().join("x_Y.json"), b"{}").expect("write");
        let all = store.load_all().expect("load all");
        let summary: Vec<(String, bool)> = all
            .iter()
            .map(|(n, s)| (n.to_string(), s.is_ok()))
            .collect();
        assert_eq!(
            summary,
            [
                ("default/a".to_string(), true),
                ("prod/b".to_string(), true),
                ("prod/broken".to_string(), false),
            ]
        );
        let Err(error) = &all[2].1 else {
            panic!("broken file loaded")
        };
        assert!(error.to_string().contains("prod_broken.json"), "{error}");
        assert_eq!(
            all[0].1.as_ref().map(RolloutState::updated_ms).ok(),
            Some(1)
        );
    }

    #[test]
    fn open_fails_on_a_file_in_the_way() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("state");
        fs::write(&file, b"").expect("write");
        let error = StateStore::open(&file).expect_err("not a directory");
        assert_eq!(
            error.to_string(),
            format!("cannot use state directory {}", file.display())
        );
    }
}
