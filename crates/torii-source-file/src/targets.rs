//! Which directories to watch for a list of `-f` paths, and which file events matter.

use notify::event::{AccessKind, AccessMode, EventKind};
use notify::Event;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use torii_resources::is_yaml_file_name;

/// The directories watched for a list of paths, and the paths whose events matter.
#[derive(Debug, Clone, Default)]
pub(crate) struct Targets {
    /// Directories to watch (not recursively): each directory given, and the parent of each
    /// file given (watching the parent sees a file replaced by rename, deleted or re-created).
    pub dirs: Vec<PathBuf>,
    /// Files given by path: any event on them matters.
    files: HashSet<PathBuf>,
    /// Directories given by path: events on their YAML files matter.
    yaml_dirs: HashSet<PathBuf>,
}

impl Targets {
    /// The targets for these paths, as they are on disk now (a path that is not a directory
    /// is watched as a file, so one that does not exist yet is picked up when created).
    pub(crate) fn new(paths: &[PathBuf]) -> Targets {
        let mut targets = Targets::default();
        for path in paths {
            let path = std::path::absolute(path).unwrap_or_else(|_| path.clone());
            let dir = if path.is_dir() {
                targets.yaml_dirs.insert(path.clone());
                path
            } else {
                let parent = path.parent().map(Path::to_path_buf);
                targets.files.insert(path);
                match parent {
                    Some(parent) => parent,
                    None => continue,
                }
            };
            if !targets.dirs.contains(&dir) {
                targets.dirs.push(dir);
            }
        }
        targets
    }

    /// True when `event` may have changed what the loader reads. Reads (including the
    /// watcher's own) do not; an event without paths (the kernel's queue overflowed) does.
    pub(crate) fn is_relevant(&self, event: &Event) -> bool {
        if let EventKind::Access(access) = event.kind {
            if access != AccessKind::Close(AccessMode::Write) {
                return false;
            }
        }
        event.paths.is_empty() || event.paths.iter().any(|path| self.matters(path))
    }

    /// True for a path whose change may change what the loader reads.
    fn matters(&self, path: &Path) -> bool {
        if self.files.contains(path) || self.yaml_dirs.contains(path) {
            return true;
        }
        let in_yaml_dir = path
            .parent()
            .is_some_and(|dir| self.yaml_dirs.contains(dir));
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        // Kubernetes volumes (ConfigMap, Secret) swap a `..data` symlink to update files.
        in_yaml_dir && is_yaml_file_name(name) || name.starts_with("..")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange, MetadataKind, ModifyKind, RemoveKind, RenameMode};

    #[test]
    fn watches_given_directories_and_parents_of_files() -> std::io::Result<()> {
        let root = tempfile::tempdir()?;
        let dir = root.path().join("conf.d");
        std::fs::create_dir(&dir)?;
        let file = root.path().join("one.yaml");
        let missing = root.path().join("later").join("x.yaml");
        let targets = Targets::new(&[dir.clone(), file.clone(), dir.clone(), missing]);
        assert_eq!(
            targets.dirs,
            [dir, root.path().to_path_buf(), root.path().join("later")]
        );
        Ok(())
    }

    #[test]
    fn relevant_events() {
        let root = PathBuf::from("/srv");
        let targets = Targets {
            dirs: vec![],
            files: [root.join("single.txt")].into(),
            yaml_dirs: [root.join("conf.d")].into(),
        };
        let data = EventKind::Modify(ModifyKind::Data(DataChange::Any));
        let cases = [
            (data, vec![root.join("conf.d/a.yaml")], true),
            (data, vec![root.join("conf.d/a.yml")], true),
            (data, vec![root.join("single.txt")], true),
            (
                EventKind::Create(CreateKind::File),
                vec![root.join("conf.d/b.yaml")],
                true,
            ),
            (
                EventKind::Remove(RemoveKind::File),
                vec![root.join("single.txt")],
                true,
            ),
            (
                EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
                vec![root.join("conf.d/a.yaml.tmp"), root.join("conf.d/a.yaml")],
                true,
            ),
            (
                EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)),
                vec![root.join("conf.d/a.yaml")],
                true,
            ),
            (
                EventKind::Remove(RemoveKind::Folder),
                vec![root.join("conf.d")],
                true,
            ),
            (
                EventKind::Create(CreateKind::Any),
                vec![root.join("conf.d/..data")],
                true,
            ),
            (EventKind::Any, vec![], true),
            (
                EventKind::Access(AccessKind::Close(AccessMode::Write)),
                vec![root.join("conf.d/a.yaml")],
                true,
            ),
            // Reads, including the watcher's own.
            (
                EventKind::Access(AccessKind::Open(AccessMode::Any)),
                vec![root.join("conf.d/a.yaml")],
                false,
            ),
            (
                EventKind::Access(AccessKind::Close(AccessMode::Read)),
                vec![root.join("single.txt")],
                false,
            ),
            // Editors' temp and swap files, other files beside a single file, subdirectories.
            (data, vec![root.join("conf.d/a.yaml.tmp")], false),
            (data, vec![root.join("conf.d/.a.yaml.swp")], false),
            (data, vec![root.join("conf.d/4913")], false),
            (data, vec![root.join("other.yaml")], false),
            (data, vec![root.join("conf.d/sub/a.yaml")], false),
        ];
        for (kind, paths, expected) in cases {
            let event = paths
                .iter()
                .fold(Event::new(kind), |e, p| e.add_path(p.clone()));
            assert_eq!(targets.is_relevant(&event), expected, "{kind:?} {paths:?}");
        }
    }
}
