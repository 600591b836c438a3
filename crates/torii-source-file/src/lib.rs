//! File-mode source: loads the YAML files and directories named by `torii serve -f PATH`, and
//! watches them so that edits are applied live.
//!
//! [`FileSource::load`] reads everything once. [`FileSource::watch`] starts a thread that
//! listens to the directories holding the files (inotify through `notify`, plus a poll every
//! second for filesystems that drop events) and sends a fresh, complete [`LoadReport`] each
//! time the files' contents change. Changes that leave the contents as they were (a `touch`,
//! an editor's temp file) send nothing. Whether a report with errors is applied is the
//! receiver's choice: file mode keeps serving the previous snapshot.

mod fingerprint;
mod targets;
mod watch;

use std::path::PathBuf;
use tokio::sync::mpsc;
pub use torii_resources::LoadReport;

/// Why watching could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The operating system's file watcher could not be created.
    #[error("cannot create the file watcher")]
    Notify(#[source] notify::Error),
    /// The watcher thread could not be started.
    #[error("cannot start the file watcher thread")]
    Spawn(#[source] std::io::Error),
}

/// The files and directories of file mode, as given by `-f PATH` options.
#[derive(Debug, Clone)]
pub struct FileSource {
    paths: Vec<PathBuf>,
}

impl FileSource {
    /// A source reading these files and directories (`*.yaml`/`*.yml` inside directories).
    pub fn new(paths: Vec<PathBuf>) -> Self {
        FileSource { paths }
    }

    /// The paths this source reads.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Loads everything now.
    pub fn load(&self) -> LoadReport {
        torii_resources::load_paths(&self.paths)
    }

    /// Watches the paths; sends a fresh full [`LoadReport`] after every change that alters file
    /// contents (debounced by ~100 ms). Stops when the receiver is dropped.
    pub fn watch(self) -> Result<mpsc::Receiver<LoadReport>, WatchError> {
        watch::start(self.paths).map(|(_, reports)| reports)
    }

    /// Starts watching, then loads everything: the report, and the reports of every later
    /// change. Unlike [`load`](Self::load) then [`watch`](Self::watch), no change made between
    /// the two can be missed.
    pub fn load_and_watch(self) -> Result<(LoadReport, mpsc::Receiver<LoadReport>), WatchError> {
        let (texts, reports) = watch::start(self.paths)?;
        Ok((torii_resources::parse_texts(&texts), reports))
    }
}
