//! The watch task: discovery and the permission check (retried while the API server is
//! unreachable), then every watcher's events into the store, and coalesced reports out.

use crate::access::{self, CheckError};
use crate::cache::Cache;
use crate::kinds::{self, WatchSpec};
use crate::store::{self, Store};
use crate::{KubeError, KubeOptions};
use futures_util::stream::{self, BoxStream};
use futures_util::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use torii_resources::{Kind, ResourceSet};

/// How long events must pause before a report is built.
pub const QUIET: Duration = Duration::from_millis(50);
/// The longest a steady stream of events can delay a report.
pub const MAX_DELAY: Duration = Duration::from_millis(250);
/// The first wait before the start (discovery, permission check) is tried again.
const RETRY_MIN: Duration = Duration::from_millis(500);
/// The longest wait between start attempts.
const RETRY_MAX: Duration = Duration::from_secs(30);
/// The least time between two writes of the cache file.
const CACHE_INTERVAL: Duration = Duration::from_secs(1);

/// Everything the watch task owns.
pub(crate) struct Task {
    pub client: kube::Client,
    pub cluster: String,
    pub options: KubeOptions,
    pub store: Arc<RwLock<Store>>,
    pub reports: mpsc::Sender<torii_resources::LoadReport>,
    pub cache: Option<Cache>,
    /// Set once a set (live or cached) is served: from then on nothing is fatal.
    pub serving: Arc<AtomicBool>,
}

/// Runs until the receiver of reports is dropped; fails only on a problem found before any
/// set is served (missing permissions, refused credentials).
pub(crate) async fn run(task: Task) -> Result<(), KubeError> {
    let (mut specs, versions) = prepare(&task).await?;
    tracing::info!(cluster = %task.cluster, watches = specs.len(), "watching the API server");
    let cache = task.cache.clone().map(spawn_cache_writer);
    {
        let mut store = lock(&task.store);
        store.expect(specs.len());
        store.set_versions(&versions);
    }
    let mut events = stream::select_all(Vec::<WatchEvents>::new());
    // Kinds not served (their CRDs not installed) count as listed with no objects; discovery
    // runs again every REDISCOVER and starts their watches once they are served.
    let mut absent = Vec::new();
    for (id, spec) in specs.iter().enumerate() {
        if served(spec.scope.kind, &versions) {
            events.push(watch_stream(&task.client, id, spec));
        } else {
            lock(&task.store).absent(id);
            absent.push(id);
        }
    }
    log_absent(&specs, &absent);
    let mut rediscover = tokio::time::interval_at(Instant::now() + REDISCOVER, REDISCOVER);
    let mut state = Coalesce::default();
    let mut sent_first = false;
    let started = Instant::now();
    loop {
        let due = state.due;
        tokio::select! {
            event = events.next(), if !events.is_empty() => {
                let Some((id, event)) = event else { continue };
                if handle(&task.store, &specs[id], id, event) {
                    state.changed(Instant::now());
                }
            }
            _ = rediscover.tick(), if !absent.is_empty() => {
                let Ok(versions) = discover(&task.client).await else { continue };
                lock(&task.store).set_versions(&versions);
                absent.retain(|&id| {
                    let kind = specs[id].scope.kind;
                    let Some(version) = versions.get(&kind) else { return true };
                    specs[id].resource = kinds::api_resource(kind, version);
                    tracing::info!(watch = %specs[id].scope, version = %version, "now served; watching");
                    events.push(watch_stream(&task.client, id, &specs[id]));
                    false
                });
            }
            _ = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() && !state.ready => {
                state.ready = lock(&task.store).is_complete();
                if !state.ready {
                    state.due = None;
                }
            }
            permit = task.reports.reserve(), if state.ready => {
                let Ok(permit) = permit else { return Ok(()) };
                let report = lock(&task.store).report();
                if !sent_first {
                    sent_first = true;
                    tracing::info!(
                        objects = report.set.len(),
                        warnings = report.warnings.len(),
                        ms = started.elapsed().as_millis() as u64,
                        "initial lists complete"
                    );
                } else {
                    tracing::debug!(objects = report.set.len(), "resources changed");
                }
                if let Some(cache) = &cache {
                    cache.send_replace(Some(Arc::new(report.set.clone())));
                }
                permit.send(report);
                state = Coalesce::default();
            }
        }
        if !sent_first && state.due.is_none() && lock(&task.store).is_complete() {
            // Every watch has listed: the first set goes out at once.
            state.due = Some(Instant::now());
        }
        if task.reports.is_closed() {
            return Ok(());
        }
    }
}

/// One watch's events, tagged with its index.
type WatchEvents = BoxStream<'static, (usize, watcher::Result<Event<DynamicObject>>)>;

/// How often kinds that are not served are looked for again.
const REDISCOVER: Duration = Duration::from_secs(30);

/// Whether `kind` is served now (core kinds always are).
fn served(kind: Kind, versions: &HashMap<Kind, String>) -> bool {
    kind.group().is_empty() || kind.group() == "discovery.k8s.io" || versions.contains_key(&kind)
}

/// Says which kinds are not served, once.
fn log_absent(specs: &[WatchSpec], absent: &[usize]) {
    let mut kinds: Vec<&str> = absent
        .iter()
        .map(|&id| specs[id].scope.kind.name())
        .collect();
    kinds.dedup();
    if !kinds.is_empty() {
        tracing::warn!(
            ?kinds,
            "kinds not served by the API server (CRDs not installed?): none of them until they are"
        );
    }
}

/// Locks the store (a panic elsewhere never leaves it half-updated: each update is one call).
fn lock(store: &RwLock<Store>) -> std::sync::RwLockWriteGuard<'_, Store> {
    store.write().unwrap_or_else(|e| e.into_inner())
}

/// When the next report is due.
#[derive(Debug, Default)]
struct Coalesce {
    /// The first change not yet reported.
    first: Option<Instant>,
    /// When the report is due (events pushed it back, up to [`MAX_DELAY`] after `first`).
    due: Option<Instant>,
    /// Due and complete: build it as soon as the receiver has room.
    ready: bool,
}

impl Coalesce {
    fn changed(&mut self, now: Instant) {
        let first = *self.first.get_or_insert(now);
        self.due = Some((now + QUIET).min(first + MAX_DELAY));
    }
}

/// Applies one watcher event to the store; true when the set changed.
fn handle(
    store: &RwLock<Store>,
    spec: &WatchSpec,
    id: usize,
    event: watcher::Result<Event<DynamicObject>>,
) -> bool {
    let kind = spec.scope.kind;
    match event {
        Ok(Event::Init) => {
            lock(store).begin_list(id);
            false
        }
        Ok(Event::InitApply(object)) => {
            let (key, entry) = store::decode(kind, object);
            lock(store).listed_object(id, key, entry);
            false
        }
        Ok(Event::InitDone) => {
            let mut store = lock(store);
            let first = !store.is_listed(id);
            let changed = store.end_list(id, &spec.scope);
            if first {
                tracing::debug!(watch = %spec.scope, "listed");
            } else {
                tracing::info!(watch = %spec.scope, changed, "relisted");
            }
            changed
        }
        Ok(Event::Apply(object)) => {
            let (key, entry) = store::decode(kind, object);
            lock(store).apply(key, entry) == store::Change::Spec
        }
        Ok(Event::Delete(object)) => {
            let key = torii_resources::object_key(kind.name(), &object.metadata);
            lock(store).delete(&key)
        }
        Err(error) => {
            watch_error(store, spec, id, &error);
            false
        }
    }
}

/// Logs a watch error (the watcher retries with back-off); a kind that is not served before
/// its first list counts as listed with no objects (its CRD is not installed).
fn watch_error(store: &RwLock<Store>, spec: &WatchSpec, id: usize, error: &watcher::Error) {
    let status = match error {
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status))
        | watcher::Error::WatchFailed(kube::Error::Api(status)) => Some(&**status),
        watcher::Error::WatchError(status) => Some(&**status),
        _ => None,
    };
    match status {
        Some(status) if status.code == 404 => {
            let mut store = lock(store);
            if !store.is_listed(id) {
                store.absent(id);
                tracing::warn!(
                    watch = %spec.scope,
                    api_version = %spec.resource.api_version,
                    "not served by the API server (CRD not installed?); none until it is"
                );
            }
        }
        Some(status) if status.code == 410 => tracing::info!(
            watch = %spec.scope,
            message = %status.message,
            "resourceVersion expired (410 Gone); relisting, the objects last read are kept"
        ),
        Some(status) if status.code == 403 => tracing::error!(
            watch = %spec.scope,
            message = %status.message,
            "permission denied; the objects last read are kept, retrying"
        ),
        _ => tracing::warn!(
            watch = %spec.scope,
            error = %crate::error_chain(error),
            "watch failed; the objects last read are kept, retrying"
        ),
    }
}

/// A watcher of `spec` with kube-rs's back-off (bookmarks on; relists on 410 Gone), its
/// events tagged with `id`.
fn watch_stream(client: &kube::Client, id: usize, spec: &WatchSpec) -> WatchEvents {
    let api: Api<DynamicObject> = match (&spec.scope.namespace, spec.scope.kind) {
        (Some(namespace), kind) if kind != Kind::Namespace => {
            Api::namespaced_with(client.clone(), namespace, &spec.resource)
        }
        _ => Api::all_with(client.clone(), &spec.resource),
    };
    // Bookmarks keep resourceVersions fresh, so a reconnect rarely needs a relist.
    let mut config = watcher::Config {
        bookmarks: true,
        ..watcher::Config::default()
    };
    if let Some(fields) = &spec.fields {
        config = config.fields(fields);
    }
    if let Some(labels) = &spec.labels {
        config = config.labels(labels);
    }
    watcher::watcher(api, config)
        .default_backoff()
        .map(move |event| (id, event))
        .boxed()
}

/// Discovers the served versions and checks permissions, retrying (with back-off) while the
/// API server cannot be reached; the watches to start, and the versions served.
async fn prepare(task: &Task) -> Result<(Vec<WatchSpec>, HashMap<Kind, String>), KubeError> {
    let mut wait = RETRY_MIN;
    loop {
        let problem = match discover(&task.client).await {
            Err(error) => CheckError::Unreachable(error),
            Ok(versions) => {
                let specs = kinds::watches(&task.options, |kind| versions.get(&kind).cloned());
                match access::check(&task.client, &specs).await {
                    Ok(()) => return Ok((specs, versions)),
                    Err(problem) => problem,
                }
            }
        };
        let serving = task.serving.load(Ordering::Acquire);
        match problem {
            CheckError::Unreachable(error) => tracing::warn!(
                cluster = %task.cluster,
                error = %crate::error_chain(&error),
                retry_in = ?wait,
                "cannot reach the API server"
            ),
            CheckError::Unauthorized(source) if !serving => {
                return Err(KubeError::Unauthorized {
                    cluster: task.cluster.clone(),
                    source,
                })
            }
            CheckError::Missing(missing) if !serving => return Err(missing.into()),
            CheckError::Unauthorized(error) => tracing::error!(
                cluster = %task.cluster,
                error = %crate::error_chain(&error),
                "the API server refuses torii's credentials; serving the cached set, retrying"
            ),
            CheckError::Missing(missing) => tracing::error!(
                problem = %missing,
                "permissions missing; serving the cached set, retrying"
            ),
        }
        if task.reports.is_closed() {
            return Err(KubeError::Stopped);
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(RETRY_MAX);
    }
}

/// The version each Gateway API and torii.dev kind is served at now, its most stable one
/// (absent: not served).
async fn discover(client: &kube::Client) -> Result<HashMap<Kind, String>, kube::Error> {
    let mut versions = HashMap::new();
    let groups = ["gateway.networking.k8s.io", "torii.dev"];
    for group in groups {
        let found = match kube::discovery::oneshot::group(client, group).await {
            Ok(found) => found,
            // Not served (its CRDs are not installed): watched at a fallback version anyway.
            Err(kube::Error::Discovery(_)) => continue,
            Err(kube::Error::Api(status)) if status.code == 404 => continue,
            Err(error) => return Err(error),
        };
        // Each kind at its most stable version (TCPRoute is only in v1alpha2, beside v1 kinds).
        for (resource, _) in found.resources_by_stability() {
            let kind = Kind::ALL
                .into_iter()
                .find(|k| k.group() == group && k.name() == resource.kind);
            if let Some(kind) = kind {
                versions.insert(kind, resource.version);
            }
        }
    }
    Ok(versions)
}

/// Starts the task that writes each new set to the cache (the newest one, at most once per
/// [`CACHE_INTERVAL`], off the runtime's workers); returns where to hand sets to it.
fn spawn_cache_writer(cache: Cache) -> tokio::sync::watch::Sender<Option<Arc<ResourceSet>>> {
    let (sender, mut receiver) = tokio::sync::watch::channel(None::<Arc<ResourceSet>>);
    tokio::spawn(async move {
        while receiver.changed().await.is_ok() {
            let Some(set) = receiver.borrow_and_update().clone() else {
                continue;
            };
            let cache = cache.clone();
            let written = tokio::task::spawn_blocking(move || cache.save(&set)).await;
            match written {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::warn!(
                    error = %crate::error_chain(&error),
                    "cannot write the cache"
                ),
                Err(_) => return,
            }
            tokio::time::sleep(CACHE_INTERVAL).await;
        }
    });
    sender
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_wait_for_a_pause_but_not_forever() {
        let start = Instant::now();
        let mut state = Coalesce::default();
        state.changed(start);
        assert_eq!(state.due, Some(start + QUIET));
        // Events every 10 ms push the report back, but never beyond MAX_DELAY.
        let mut now = start;
        for _ in 0..100 {
            now += Duration::from_millis(10);
            state.changed(now);
        }
        assert_eq!(state.due, Some(start + MAX_DELAY));
    }
}
