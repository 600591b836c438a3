//! Kubernetes mode: the resources torii serves, read from a cluster's API server instead of
//! YAML files, into the same [`LoadReport`]s file mode produces.
//!
//! [`KubeSource::new`] loads the client configuration (a kubeconfig, or in-cluster); then
//! [`KubeSource::start`] discovers the served versions, checks that torii may `list` and
//! `watch` every kind it needs (a missing permission is a [`KubeError::Forbidden`] naming it),
//! and starts one kube-rs watcher per kind (and per namespace when scoped) with bookmarks,
//! relisting on `410 Gone` and backing off on errors. Objects are read through
//! torii-resources' own wire types ([`torii_resources::decode_json`], the loader's checks and
//! defaulting), so file mode and Kubernetes mode share one wire model.
//!
//! - **No partial view.** The first report is sent only once every watch has delivered its
//!   initial list. A watch's objects are replaced only when a (re)list completes, so a watch
//!   error or a relist never empties anything the API server still has.
//! - **Coalesced.** Events mark the store dirty; a report is built once they pause for
//!   [`QUIET`] (at most [`MAX_DELAY`] after the first), and only when the receiver has room,
//!   so 10,000 creates cause a handful of translations, each of the newest state.
//! - **One bad object never blocks the others.** An object torii cannot read is reported as a
//!   warning naming `Kind namespace/name` and the field; its last readable version (if any)
//!   keeps being served.
//! - **Cache.** Each set is written atomically to the cache directory; a torii that cannot
//!   complete its initial lists within [`KubeOptions::startup_timeout`] (API server down or
//!   unreachable) serves the cached set, and switches to live data once the lists complete.
//!
//! [`Stores`] gives a status writer the objects as the API server last sent them, with their
//! `resourceVersion` and `generation`, and the client to write with.

mod access;
mod cache;
mod client;
mod kinds;
mod store;
mod watch;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;
use torii_resources::{Kind, LoadError, Object, ObjectKey};

pub use access::{MissingPermissions, Permission};
pub use torii_resources::LoadReport;
pub use watch::{MAX_DELAY, QUIET};

/// How Kubernetes mode connects and what it watches.
#[derive(Debug, Clone)]
pub struct KubeOptions {
    /// A kubeconfig file; `None`: `KUBECONFIG` or `~/.kube/config`, else the in-cluster
    /// configuration (the service account's token and CA).
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use instead of its current one.
    pub context: Option<String>,
    /// Watch only these namespaces (namespaced kinds, and these Namespace objects); empty:
    /// every namespace.
    pub namespaces: Vec<String>,
    /// Where the last set is kept for a start without the API server; `None`: no cache.
    pub cache_dir: Option<PathBuf>,
    /// How long a start waits for the initial lists before it serves the cached set.
    pub startup_timeout: Duration,
    /// A label selector limiting the Secrets watched (they are always limited to type
    /// `kubernetes.io/tls`).
    pub secret_selector: Option<String>,
    /// Watch Secrets only in these namespaces (for RBAC that grants Secrets per namespace);
    /// empty: wherever the other kinds are watched.
    pub secret_namespaces: Vec<String>,
}

impl Default for KubeOptions {
    fn default() -> Self {
        KubeOptions {
            kubeconfig: None,
            context: None,
            namespaces: Vec::new(),
            cache_dir: None,
            startup_timeout: Duration::from_secs(10),
            secret_selector: None,
            secret_namespaces: Vec::new(),
        }
    }
}

/// Why Kubernetes mode could not start.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// The client configuration could not be loaded (kubeconfig, context, in-cluster files).
    #[error("cannot load the Kubernetes client configuration from {from}")]
    Config {
        /// Where it was looked for.
        from: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The client could not be built from the configuration.
    #[error("cannot create the Kubernetes client")]
    Client(#[source] kube::Error),
    /// The API server refused the credentials.
    #[error("the API server at {cluster} refused torii's credentials")]
    Unauthorized {
        /// The API server.
        cluster: String,
        /// Its answer.
        #[source]
        source: kube::Error,
    },
    /// Torii lacks permissions it needs.
    #[error(transparent)]
    Forbidden(#[from] MissingPermissions),
    /// The watch task stopped before it produced a set.
    #[error("the Kubernetes watch task stopped")]
    Stopped,
}

/// A connection to one cluster's API server, ready to start watching.
pub struct KubeSource {
    client: kube::Client,
    cluster: String,
    options: KubeOptions,
    stores: Stores,
}

/// A started source: the first set, and every later one.
pub struct Started {
    /// The first report: the live set, or the cached one when `from_cache`.
    pub first: LoadReport,
    /// Whether `first` came from the cache directory (the API server did not answer in time).
    pub from_cache: bool,
    /// Later reports (the first live set after a cached start, then every change).
    pub reports: mpsc::Receiver<LoadReport>,
    /// The objects as watched, for a status writer.
    pub stores: Stores,
}

impl KubeSource {
    /// Loads the client configuration (see [`KubeOptions::kubeconfig`]) and builds a client;
    /// nothing is sent to the API server yet.
    pub async fn new(options: KubeOptions) -> Result<KubeSource, KubeError> {
        let config = client::config(&options).await?;
        let cluster = config.cluster_url.to_string();
        let client = kube::Client::try_from(config).map_err(KubeError::Client)?;
        let stores = Stores {
            store: Arc::new(RwLock::new(store::Store::default())),
            client: client.clone(),
        };
        Ok(KubeSource {
            client,
            cluster,
            options,
            stores,
        })
    }

    /// The API server's URL.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// The objects as watched (empty until the watches list them).
    pub fn stores(&self) -> Stores {
        self.stores.clone()
    }

    /// Starts watching; returns once every watch has listed (the live set), or after
    /// [`KubeOptions::startup_timeout`] with the cached set if there is one (without one it
    /// keeps waiting for the API server, logging every timeout). Fails when permissions are
    /// missing or the credentials are refused before any set is served; after that such
    /// problems are logged and retried while the served set stays.
    pub async fn start(self) -> Result<Started, KubeError> {
        let (sender, mut reports) = mpsc::channel(1);
        let serving = Arc::new(AtomicBool::new(false));
        let cache = self
            .options
            .cache_dir
            .as_ref()
            .map(|dir| cache::Cache::new(dir, &self.cluster, &self.options.namespaces));
        let task = tokio::spawn(watch::run(watch::Task {
            client: self.client.clone(),
            cluster: self.cluster.clone(),
            options: self.options.clone(),
            store: self.stores.store.clone(),
            reports: sender,
            cache: cache.clone(),
            serving: serving.clone(),
        }));
        let stopped = |task: tokio::task::JoinHandle<Result<(), KubeError>>| async move {
            match task.await {
                Ok(Err(error)) => error,
                _ => KubeError::Stopped,
            }
        };
        let started = |first, from_cache, reports| Started {
            first,
            from_cache,
            reports,
            stores: self.stores.clone(),
        };
        let timeout = self.options.startup_timeout;
        match tokio::time::timeout(timeout, reports.recv()).await {
            Ok(Some(first)) => {
                serving.store(true, Ordering::Release);
                return Ok(started(first, false, reports));
            }
            Ok(None) => return Err(stopped(task).await),
            Err(_) => {}
        }
        if let Some(cache) = &cache {
            match cache.load() {
                Ok(Some(first)) => {
                    serving.store(true, Ordering::Release);
                    tracing::warn!(
                        objects = first.set.len(),
                        path = %cache.path().display(),
                        ?timeout,
                        "the API server's lists are not complete; serving the cached set until they are"
                    );
                    return Ok(started(first, true, reports));
                }
                Ok(None) => {
                    tracing::warn!(path = %cache.path().display(), "no cached set to serve")
                }
                Err(error) => tracing::warn!(
                    error = %format!("{:#}", error_chain(&error)),
                    "the cached set cannot be used"
                ),
            }
        }
        loop {
            tracing::warn!(cluster = %self.cluster, "waiting for the API server's initial lists");
            match tokio::time::timeout(timeout, reports.recv()).await {
                Ok(Some(first)) => {
                    serving.store(true, Ordering::Release);
                    return Ok(started(first, false, reports));
                }
                Ok(None) => return Err(stopped(task).await),
                Err(_) => continue,
            }
        }
    }
}

/// `error` and its sources, joined by `: ` (for one log field); a source whose message the
/// text already holds (kube's errors repeat their causes) is left out.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.contains(message.trim()) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}

/// The watched objects, shared with the watch task: what a status writer reads.
#[derive(Clone)]
pub struct Stores {
    store: Arc<RwLock<store::Store>>,
    client: kube::Client,
}

/// One watched object as the API server last sent it.
#[derive(Debug, Clone)]
pub struct StoredObject {
    /// The last version torii could read (`None` when no version could be read).
    pub object: Option<Object>,
    /// The `resourceVersion` last seen (of `object`, or of a newer version that could not
    /// be read).
    pub resource_version: String,
    /// The `metadata.generation` last seen.
    pub generation: Option<i64>,
    /// Why the last version seen could not be read, if it could not.
    pub problem: Option<LoadError>,
    /// `status` of the last version seen, as compact JSON (kinds with a status only).
    pub status: Option<Arc<str>>,
    /// `metadata.uid` of the last version seen.
    pub uid: Option<String>,
}

impl Stores {
    /// The client, for writes (status) with the same identity.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// True once every watch has delivered its initial list.
    pub fn is_complete(&self) -> bool {
        self.read().is_complete()
    }

    /// Changes each time a watched object changes only in its status (someone else's status
    /// write, or torii's own): a status writer looks again, nothing is translated.
    pub fn status_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.read().status_changes()
    }

    /// The object with this key, if watched.
    pub fn get(&self, key: &ObjectKey) -> Option<StoredObject> {
        self.read().get(key)
    }

    /// Every watched object of `kind`, sorted by namespace and name.
    pub fn list(&self, kind: Kind) -> Vec<(ObjectKey, StoredObject)> {
        self.read().list(kind)
    }

    /// `kind` at the version the API server serves it (or the one torii watches when
    /// discovery has not found it), for requests of a status writer.
    pub fn api_resource(&self, kind: Kind) -> kube::core::ApiResource {
        let version = self.read().version(kind);
        kinds::api_resource(
            kind,
            version
                .as_deref()
                .unwrap_or_else(|| kinds::fallback_version(kind)),
        )
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, store::Store> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }
}
