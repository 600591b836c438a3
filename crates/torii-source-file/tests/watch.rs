//! The watcher on real directories: every change to file contents sends a report, no-op
//! events send nothing.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;
use torii_source_file::{FileSource, LoadReport};

/// How long a report may take to arrive (generous: the test machine is shared).
const ARRIVES: Duration = Duration::from_secs(5);
/// How long to wait to be sure nothing arrives (beyond the debounce, below the 1 s poll).
const NOTHING: Duration = Duration::from_millis(400);

fn namespace(name: &str) -> String {
    format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n")
}

/// The names of the namespaces a report holds, sorted.
fn names(report: &LoadReport) -> Vec<String> {
    let mut names: Vec<_> = report
        .set
        .namespaces
        .iter()
        .filter_map(|n| n.object.metadata.name.clone())
        .collect();
    names.sort();
    names
}

async fn next(reports: &mut Receiver<LoadReport>) -> LoadReport {
    match timeout(ARRIVES, reports.recv()).await {
        Ok(Some(report)) => report,
        Ok(None) => panic!("the watcher stopped"),
        Err(_) => panic!("no report within {ARRIVES:?}"),
    }
}

async fn nothing(reports: &mut Receiver<LoadReport>) {
    if let Ok(report) = timeout(NOTHING, reports.recv()).await {
        panic!("unexpected report: {:?}", report.map(|r| names(&r)));
    }
}

/// A directory holding `a.yaml` (namespace `a`), watched.
async fn watched_dir() -> io::Result<(tempfile::TempDir, Receiver<LoadReport>)> {
    let dir = tempfile::tempdir()?;
    fs::write(dir.path().join("a.yaml"), namespace("a"))?;
    let (first, reports) = FileSource::new(vec![dir.path().to_path_buf()])
        .load_and_watch()
        .map_err(io::Error::other)?;
    assert_eq!(names(&first), ["a"]);
    Ok((dir, reports))
}

fn path(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

#[tokio::test]
async fn edit_in_place_sends_the_new_object() -> io::Result<()> {
    let (dir, mut reports) = watched_dir().await?;
    fs::write(path(&dir, "a.yaml"), namespace("a2"))?;
    assert_eq!(names(&next(&mut reports).await), ["a2"]);
    Ok(())
}

#[tokio::test]
async fn edits_arrive_well_within_the_poll_interval() -> io::Result<()> {
    // File events, not the 1 s poll, bring the change: three edits in a row are each seen
    // in under 600 ms (the poll alone would miss that bound most of the time).
    let (dir, mut reports) = watched_dir().await?;
    for name in ["x", "y", "z"] {
        let start = std::time::Instant::now();
        fs::write(path(&dir, "a.yaml"), namespace(name))?;
        assert_eq!(names(&next(&mut reports).await), [name]);
        let took = start.elapsed();
        assert!(took < Duration::from_millis(600), "{name} took {took:?}");
    }
    Ok(())
}

#[tokio::test]
async fn rename_over_sends_once_the_file_is_replaced() -> io::Result<()> {
    let (dir, mut reports) = watched_dir().await?;
    // An editor's temp file is not read...
    fs::write(path(&dir, "a.yaml.tmp"), namespace("renamed"))?;
    fs::write(path(&dir, ".a.yaml.swp"), "swap")?;
    nothing(&mut reports).await;
    // ...until it replaces the file.
    fs::rename(path(&dir, "a.yaml.tmp"), path(&dir, "a.yaml"))?;
    assert_eq!(names(&next(&mut reports).await), ["renamed"]);
    Ok(())
}

#[tokio::test]
async fn files_added_and_removed() -> io::Result<()> {
    let (dir, mut reports) = watched_dir().await?;
    fs::write(path(&dir, "b.yml"), namespace("b"))?;
    assert_eq!(names(&next(&mut reports).await), ["a", "b"]);
    fs::remove_file(path(&dir, "a.yaml"))?;
    assert_eq!(names(&next(&mut reports).await), ["b"]);
    Ok(())
}

#[tokio::test]
async fn no_op_events_send_nothing() -> io::Result<()> {
    let (dir, mut reports) = watched_dir().await?;
    let file = path(&dir, "a.yaml");
    // Touch, rewrite the same bytes, read, and write a file that is not YAML.
    fs::File::options()
        .write(true)
        .open(&file)?
        .set_modified(std::time::SystemTime::now())?;
    fs::write(&file, namespace("a"))?;
    fs::read(&file)?;
    fs::write(path(&dir, "notes.txt"), "notes")?;
    nothing(&mut reports).await;
    // The watcher still works afterwards.
    fs::write(&file, namespace("after"))?;
    assert_eq!(names(&next(&mut reports).await), ["after"]);
    Ok(())
}

#[tokio::test]
async fn a_watched_file_deleted_and_recreated() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let file = path(&dir, "config.yaml");
    fs::write(&file, namespace("one"))?;
    fs::write(path(&dir, "other.yaml"), namespace("other"))?;
    let mut reports = FileSource::new(vec![file.clone()])
        .watch()
        .map_err(io::Error::other)?;
    // A YAML file beside the watched one is not part of the source.
    fs::write(path(&dir, "other.yaml"), namespace("other2"))?;
    nothing(&mut reports).await;

    fs::remove_file(&file)?;
    let gone = next(&mut reports).await;
    assert!(names(&gone).is_empty());
    assert_eq!(gone.errors.len(), 1);
    assert_eq!(*gone.errors[0].origin.file, file);

    fs::write(&file, namespace("two"))?;
    let back = next(&mut reports).await;
    assert!(back.is_ok(), "{:?}", back.errors);
    assert_eq!(names(&back), ["two"]);
    Ok(())
}

#[tokio::test]
async fn an_invalid_edit_reports_the_error() -> io::Result<()> {
    let (dir, mut reports) = watched_dir().await?;
    fs::write(
        path(&dir, "a.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata: [\n",
    )?;
    let report = next(&mut reports).await;
    assert!(!report.is_ok());
    let shown = report.errors[0].to_string();
    let expected = format!("{}:", path(&dir, "a.yaml").display());
    assert!(shown.starts_with(&expected), "{shown}");
    Ok(())
}

#[test]
fn load_reads_everything_now() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    fs::write(dir.path().join("a.yaml"), namespace("a"))?;
    let missing = Path::new("/nonexistent/torii.yaml").to_path_buf();
    let source = FileSource::new(vec![dir.path().to_path_buf(), missing]);
    let report = source.load();
    assert_eq!(names(&report), ["a"]);
    assert_eq!(report.errors.len(), 1);
    Ok(())
}
