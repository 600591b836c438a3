//! The cache directory: the last complete set read from the API server, so that a torii that
//! starts while the API server is unreachable serves what it served before.
//!
//! One file, `resources.json`, written atomically (temporary file, `fsync`, `rename`, `fsync`
//! of the directory) with mode 0600 in a directory of mode 0700: it holds the TLS Secrets'
//! private keys. It names the API server and namespaces it was read with; a cache of another
//! cluster or scope is not used.

use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use torii_resources::{LoadReport, ResourceSet};

/// The cache file's name in the directory.
const FILE: &str = "resources.json";
/// The format's version; a file of another version is not read.
const VERSION: u32 = 1;

/// A cache file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CacheError {
    /// Reading or writing failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file is not a cache of this format.
    #[error("{} is not a cache torii can read", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The file was written for another API server or namespaces.
    #[error("{} holds the resources of {cluster} (namespaces {namespaces:?}), not of this source", path.display())]
    Other {
        /// The file.
        path: PathBuf,
        /// Its API server.
        cluster: String,
        /// Its namespaces.
        namespaces: Vec<String>,
    },
}

/// The header every cache file starts with.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    version: u32,
    cluster: String,
    namespaces: Vec<String>,
}

/// A whole cache file, as read.
#[derive(Debug, Deserialize)]
struct CacheFile {
    #[serde(flatten)]
    header: Header,
    objects: Vec<serde_json::Value>,
}

/// The cache of one source (API server and namespaces).
#[derive(Debug, Clone)]
pub(crate) struct Cache {
    dir: PathBuf,
    cluster: String,
    namespaces: Vec<String>,
}

impl Cache {
    /// The cache in `dir` for the API server `cluster` watched in `namespaces`.
    pub fn new(dir: &Path, cluster: &str, namespaces: &[String]) -> Cache {
        let mut namespaces = namespaces.to_vec();
        namespaces.sort();
        Cache {
            dir: dir.to_owned(),
            cluster: cluster.to_owned(),
            namespaces,
        }
    }

    /// The cache file.
    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// The cached set as a report (objects that cannot be read are warnings, never errors:
    /// the rest is still served); `None` when there is no cache file.
    pub fn load(&self) -> Result<Option<LoadReport>, CacheError> {
        let path = self.path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(CacheError::Io {
                    action: "read",
                    path,
                    source,
                })
            }
        };
        let file: CacheFile =
            serde_json::from_slice(&bytes).map_err(|source| CacheError::Format {
                path: path.clone(),
                source,
            })?;
        let header = file.header;
        if header.version != VERSION
            || header.cluster != self.cluster
            || header.namespaces != self.namespaces
        {
            return Err(CacheError::Other {
                path,
                cluster: header.cluster,
                namespaces: header.namespaces,
            });
        }
        let mut report = torii_resources::parse_json_objects(&file.objects);
        let errors = std::mem::take(&mut report.errors);
        report.warnings.extend(errors);
        Ok(Some(report))
    }

    /// Replaces the cached set with `set`, atomically.
    pub fn save(&self, set: &ResourceSet) -> Result<(), CacheError> {
        let io_error = |action, path: &Path| {
            let path = path.to_owned();
            move |source| CacheError::Io {
                action,
                path,
                source,
            }
        };
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&self.dir)
            .map_err(io_error("create", &self.dir))?;
        let path = self.path();
        let temp = self.dir.join(format!(".{FILE}.tmp-{}", std::process::id()));
        let written = self
            .write(&temp, set)
            .and_then(|()| fs::rename(&temp, &path));
        if let Err(error) = written {
            let _ = fs::remove_file(&temp);
            return Err(io_error("write", &path)(error));
        }
        File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(io_error("sync", &self.dir))
    }

    /// Writes the file `temp` (mode 0600) and flushes it to disk.
    fn write(&self, temp: &Path, set: &ResourceSet) -> io::Result<()> {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(temp)?;
        let mut out = BufWriter::new(&file);
        let header = serde_json::to_string(&Header {
            version: VERSION,
            cluster: self.cluster.clone(),
            namespaces: self.namespaces.clone(),
        })?;
        // The header's fields, then the objects one by one (never the whole set in memory).
        let header = header.strip_suffix('}').unwrap_or(&header);
        out.write_all(header.as_bytes())?;
        out.write_all(b",\"objects\":[")?;
        for (i, object) in set.to_json_objects().enumerate() {
            if i > 0 {
                out.write_all(b",\n")?;
            }
            serde_json::to_writer(&mut out, &object?)?;
        }
        out.write_all(b"]}\n")?;
        out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> ResourceSet {
        let yaml = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: apps}\n---\n\
                    apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\n\
                    metadata: {name: torii}\nspec: {controllerName: torii.dev/gateway-controller}\n";
        let mut report = LoadReport::default();
        torii_resources::parse_yaml(Path::new("x.yaml"), yaml, &mut report);
        assert!(report.is_ok(), "{:?}", report.errors);
        report.set
    }

    #[test]
    fn a_saved_set_loads_back_for_the_same_source_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache_dir = dir.path().join("cache");
        let cache = Cache::new(
            &cache_dir,
            "https://127.0.0.1:6443/",
            &["b".into(), "a".into()],
        );
        assert!(cache.load().expect("no file is no error").is_none());
        cache.save(&set()).expect("saved");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).expect("exists").permissions().mode() & 0o777;
            assert_eq!(mode(&cache_dir), 0o700);
            assert_eq!(mode(&cache.path()), 0o600);
        }
        let report = cache.load().expect("readable").expect("present");
        assert!(
            report.is_ok() && report.warnings.is_empty(),
            "{:?}",
            report.warnings
        );
        assert_eq!(report.set.len(), 2);
        assert_eq!(
            report.set.services[0].origin.to_string(),
            "Service apps/web"
        );
        let leftovers: Vec<_> = fs::read_dir(&cache_dir)
            .expect("listable")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(leftovers, [FILE], "no temporary file is left");

        let cases = [
            Cache::new(
                &cache_dir,
                "https://127.0.0.2:6443/",
                &["a".into(), "b".into()],
            ),
            Cache::new(&cache_dir, "https://127.0.0.1:6443/", &["a".into()]),
        ];
        for other in cases {
            assert!(
                matches!(other.load(), Err(CacheError::Other { .. })),
                "{other:?}"
            );
        }
        fs::write(cache.path(), "{\"version\": 1").expect("write");
        assert!(matches!(cache.load(), Err(CacheError::Format { .. })));
    }
}
