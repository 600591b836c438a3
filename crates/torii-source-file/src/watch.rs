//! The watcher thread: file events in, debounced fresh load reports out.
//!
//! `notify` calls back on its own thread for every event; relevant events are coalesced into
//! a "poke" on a channel of one slot. The watcher thread waits for a poke (or a second, the
//! poll), lets the burst settle, reads every file, and sends a report only when the files'
//! fingerprint changed. A plain thread, not a task, so that `watch` needs no runtime and a
//! slow disk never stalls the runtime's workers.

use crate::fingerprint::Fingerprint;
use crate::targets::Targets;
use crate::WatchError;
use notify::{RecursiveMode, Watcher};
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use torii_resources::{parse_texts, read_paths, LoadReport, SourceText};

/// How long events must pause before the files are read.
const QUIET: Duration = Duration::from_millis(100);
/// The longest a steady stream of events can delay reading.
const MAX_DELAY: Duration = Duration::from_millis(500);
/// How often the files are read even without events (and lost watches re-armed).
const POLL: Duration = Duration::from_secs(1);

/// Starts watching `paths`, then reads them: the texts read, and a receiver of the reports of
/// later changes.
pub(crate) fn start(
    paths: Vec<PathBuf>,
) -> Result<(Vec<SourceText>, mpsc::Receiver<LoadReport>), WatchError> {
    let targets = Arc::new(Targets::new(&paths));
    let (poke, pokes) = sync_channel::<()>(1);
    let filter = Arc::clone(&targets);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let relevant = match &event {
            Ok(event) => filter.is_relevant(event),
            Err(error) => {
                tracing::warn!(%error, "file watcher error, reloading");
                true
            }
        };
        if relevant {
            // A full slot already holds a poke that covers this event.
            let _ = poke.try_send(());
        }
    })
    .map_err(WatchError::Notify)?;
    arm(&mut watcher, &targets, true);
    // Read only after the watches are armed, so no change can fall in between.
    let texts = read_paths(&paths);
    let last = Fingerprint::of(&texts);
    let (reports, receiver) = mpsc::channel(1);
    let state = Watch {
        paths,
        targets,
        watcher,
        pokes,
        reports,
        last,
    };
    std::thread::Builder::new()
        .name("torii-file-watch".into())
        .spawn(move || state.run())
        .map_err(WatchError::Spawn)?;
    Ok((texts, receiver))
}

/// (Re-)arms a watch on every directory; one that is missing or gone is left to the poll.
fn arm(watcher: &mut notify::RecommendedWatcher, targets: &Targets, first: bool) {
    for dir in &targets.dirs {
        if let Err(error) = watcher.watch(dir, RecursiveMode::NonRecursive) {
            if first {
                tracing::warn!(%error, dir = %dir.display(), "cannot watch directory, polling it");
            }
        }
    }
}

/// What the watcher thread owns.
struct Watch {
    paths: Vec<PathBuf>,
    targets: Arc<Targets>,
    /// Kept alive for as long as the thread runs; dropping it stops the events.
    watcher: notify::RecommendedWatcher,
    pokes: Receiver<()>,
    reports: mpsc::Sender<LoadReport>,
    /// The fingerprint of the files as last reported.
    last: Fingerprint,
}

impl Watch {
    /// Runs until the receiver of reports is dropped.
    fn run(mut self) {
        loop {
            match self.pokes.recv_timeout(POLL) {
                Ok(()) => self.settle(),
                Err(RecvTimeoutError::Timeout) => arm(&mut self.watcher, &self.targets, false),
                // The watcher holds the sender and lives as long as `self`: cannot happen.
                Err(RecvTimeoutError::Disconnected) => return,
            }
            if self.reports.is_closed() {
                return;
            }
            let texts = read_paths(&self.paths);
            let fingerprint = Fingerprint::of(&texts);
            if fingerprint == self.last {
                continue;
            }
            self.last = fingerprint;
            let report = parse_texts(&texts);
            tracing::debug!(
                objects = report.set.len(),
                errors = report.errors.len(),
                "files changed"
            );
            if self.reports.blocking_send(report).is_err() {
                return;
            }
        }
    }

    /// Waits until events pause for [`QUIET`], or at most [`MAX_DELAY`].
    fn settle(&self) {
        let deadline = Instant::now() + MAX_DELAY;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            match self.pokes.recv_timeout(QUIET.min(left)) {
                Ok(()) => continue,
                Err(_) => return,
            }
        }
    }
}
