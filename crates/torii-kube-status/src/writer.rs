//! The status writer: a task of its own, fed the latest desired state through `watch`
//! channels (so a burst of changes is one round, of the newest state), writing only on the
//! leader and only what differs from what the object has.
//!
//! A round compares, for every object torii reports on, the status it wants (built on the
//! object's current status: other controllers' entries and transition times kept) with the
//! current one, and writes the objects that differ with `replace_status` carrying the
//! `resourceVersion` read (a `409` re-reads the object and merges again). The current status
//! is the watch's, or the one torii wrote itself while the watch has not caught up yet.
//! Writes run a few at a time, each bounded; failures are retried with back-off; a `403` is
//! reported once per kind.

use crate::desired::{self, Desired};
use futures_util::stream::{self, StreamExt};
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, TypeMeta};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use torii_config::status::StatusReport;
use torii_config::RouteKind;
use torii_resources::{Kind, Object, ObjectKey};
use torii_source_kube::Stores;

/// What the running proxy knows of torii's own objects, as status fields (`healthy`,
/// `activePool`, `compared`, `phase` …), by object.
pub type RuntimeStatus = BTreeMap<ObjectKey, Map<String, Value>>;

/// How the writer writes.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// torii's `controllerName` (its route parent entries carry it).
    pub controller_name: String,
    /// A Service (`namespace`, `name`) whose load-balancer ingress Gateways report as
    /// `status.addresses`; without one (or while it has none) the addresses they bind.
    pub publish_service: Option<(String, String)>,
    /// Writes in flight at once.
    pub concurrency: usize,
    /// How long one request may take.
    pub request_timeout: Duration,
    /// The shortest time between two writes of one Comparison (its counts move with traffic).
    pub comparison_interval: Duration,
}

impl WriterOptions {
    /// The defaults for `controller_name`: 4 writes at once, 10 s each, a Comparison at most
    /// every 10 s.
    pub fn new(controller_name: &str) -> WriterOptions {
        WriterOptions {
            controller_name: controller_name.to_owned(),
            publish_service: None,
            concurrency: 4,
            request_timeout: Duration::from_secs(10),
            comparison_interval: Duration::from_secs(10),
        }
    }
}

/// The handle that feeds the writer task.
pub struct StatusWriter {
    report: watch::Sender<Option<Arc<StatusReport>>>,
    runtime: watch::Sender<Arc<RuntimeStatus>>,
    writes: Arc<AtomicU64>,
}

impl StatusWriter {
    /// Starts the writer task over `stores` (the watched objects and the client); it writes
    /// while `leader` is `true`.
    pub fn spawn(
        stores: Stores,
        leader: watch::Receiver<bool>,
        options: WriterOptions,
    ) -> StatusWriter {
        let (report, report_rx) = watch::channel(None);
        let (runtime, runtime_rx) = watch::channel(Arc::new(RuntimeStatus::new()));
        let writes = Arc::new(AtomicU64::new(0));
        let status_changes = stores.status_changes();
        let task = Task {
            status_changes,
            stores,
            options,
            leader,
            report: report_rx,
            runtime: runtime_rx,
            written: HashMap::new(),
            last_write: HashMap::new(),
            forbidden: HashSet::new(),
            backoff: BACKOFF_MIN,
            writes: writes.clone(),
        };
        tokio::spawn(task.run());
        StatusWriter {
            report,
            runtime,
            writes,
        }
    }

    /// The status of the translation just applied.
    pub fn set_report(&self, report: Arc<StatusReport>) {
        self.report.send_replace(Some(report));
    }

    /// What the runtime knows now; a round follows only when it differs from the last.
    pub fn set_runtime(&self, runtime: RuntimeStatus) {
        self.runtime.send_if_modified(|current| {
            if **current == runtime {
                return false;
            }
            *current = Arc::new(runtime);
            true
        });
    }

    /// Status writes that succeeded so far.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }
}

const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Attempts of one write that meets `409 Conflict` (each re-reads the object).
const CONFLICT_ATTEMPTS: usize = 4;

/// A status torii wrote, standing in for the watch's copy until the watch catches up.
struct Written {
    uid: Option<String>,
    /// The version written over.
    based_on: String,
    /// The version the write made.
    resource_version: String,
    status: Value,
}

struct Task {
    stores: Stores,
    options: WriterOptions,
    leader: watch::Receiver<bool>,
    report: watch::Receiver<Option<Arc<StatusReport>>>,
    runtime: watch::Receiver<Arc<RuntimeStatus>>,
    /// Bumped when a watched object changed only in status.
    status_changes: watch::Receiver<u64>,
    written: HashMap<ObjectKey, Written>,
    last_write: HashMap<ObjectKey, Instant>,
    forbidden: HashSet<&'static str>,
    backoff: Duration,
    writes: Arc<AtomicU64>,
}

/// One write to make.
struct Job {
    key: ObjectKey,
    kind: Kind,
    desired: Desired,
    resource_version: String,
    uid: Option<String>,
    status: Value,
}

/// How one write ended.
enum Outcome {
    Written(ObjectKey, Written),
    /// Nothing to write after all (a re-read showed the status already there), or the
    /// object is gone, or leadership ended.
    Nothing,
    Forbidden(Kind, String),
    Failed(ObjectKey, String),
}

impl Task {
    async fn run(mut self) {
        let mut retry: Option<Instant> = None;
        loop {
            if !*self.leader.borrow_and_update() {
                retry = None;
                if self.leader.changed().await.is_err() {
                    return;
                }
                continue;
            }
            retry = self
                .round()
                .await
                .or(retry.filter(|at| *at > Instant::now()));
            let sleep = async {
                match retry {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                changed = self.report.changed() => if changed.is_err() { return },
                changed = self.runtime.changed() => if changed.is_err() { return },
                // Someone changed a status (another controller, a person, torii's own write
                // coming back): compare again, restoring torii's entries if they were lost.
                changed = self.status_changes.changed() => if changed.is_err() { return },
                changed = self.leader.changed() => if changed.is_err() { return },
                _ = sleep => {}
            }
        }
    }

    /// One round: every object compared, what differs written. When to look again without a
    /// new input (failures, rate-limited Comparisons).
    async fn round(&mut self) -> Option<Instant> {
        let report = self.report.borrow_and_update().clone()?;
        let runtime = self.runtime.borrow_and_update().clone();
        let now = now_text();
        let mut later: Option<Instant> = None;
        let mut jobs = Vec::new();
        for (key, kind, desired) in self.targets(&report, &runtime) {
            let Some((resource_version, uid, observed)) = self.observed(&key) else {
                continue;
            };
            let status = desired.status(&observed, &self.options.controller_name, &now);
            if desired::same(&observed, &status) {
                continue;
            }
            if kind == Kind::Comparison {
                if let Some(at) = self.last_write.get(&key) {
                    let due = *at + self.options.comparison_interval;
                    if due > Instant::now() {
                        later = Some(later.map_or(due, |l| l.min(due)));
                        continue;
                    }
                }
            }
            jobs.push(Job {
                key,
                kind,
                desired,
                resource_version,
                uid,
                status,
            });
        }
        if jobs.is_empty() {
            return later;
        }
        let count = jobs.len();
        let started = Instant::now();
        let context = Context {
            stores: self.stores.clone(),
            options: self.options.clone(),
            leader: self.leader.clone(),
        };
        let outcomes: Vec<Outcome> = stream::iter(jobs)
            .map(|job| context.write(job))
            .buffer_unordered(self.options.concurrency.max(1))
            .collect()
            .await;
        let mut failed = 0;
        let mut written = 0;
        for outcome in outcomes {
            match outcome {
                Outcome::Written(key, record) => {
                    written += 1;
                    if key.kind == Kind::Comparison.name() {
                        self.last_write.insert(key.clone(), Instant::now());
                    }
                    self.written.insert(key, record);
                }
                Outcome::Nothing => {}
                Outcome::Forbidden(kind, error) => {
                    failed += 1;
                    if self.forbidden.insert(kind.name()) {
                        tracing::error!(
                            kind = kind.name(),
                            %error,
                            "writing status is forbidden (RBAC): torii needs update on {}/status; status of these objects stays unwritten",
                            self.stores.api_resource(kind).plural
                        );
                    }
                }
                Outcome::Failed(key, error) => {
                    failed += 1;
                    tracing::warn!(object = %key, %error, retry_in = ?self.backoff, "status write failed");
                }
            }
        }
        self.writes.fetch_add(written, Ordering::Relaxed);
        tracing::debug!(
            count,
            written,
            failed,
            ms = started.elapsed().as_millis() as u64,
            "status round"
        );
        if failed == 0 {
            self.backoff = BACKOFF_MIN;
            return later;
        }
        let due = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        Some(later.map_or(due, |l| l.min(due)))
    }

    /// The object's current version, uid and status: torii's own write while the watch has
    /// not caught up with it, else the watch's. `None`: not watched (nothing to write to).
    fn observed(&mut self, key: &ObjectKey) -> Option<(String, Option<String>, Value)> {
        let stored = self.stores.get(key)?;
        if let Some(written) = self.written.get(key) {
            let same_object = written.uid == stored.uid;
            if same_object && stored.resource_version == written.based_on {
                return Some((
                    written.resource_version.clone(),
                    stored.uid,
                    written.status.clone(),
                ));
            }
            // The watch has caught up (or someone else wrote since): its copy is the truth.
            self.written.remove(key);
        }
        let status = stored
            .status
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or(Value::Null);
        Some((stored.resource_version, stored.uid, status))
    }

    /// Every object torii reports on, with what it wants there.
    fn targets(
        &self,
        report: &StatusReport,
        runtime: &RuntimeStatus,
    ) -> Vec<(ObjectKey, Kind, Desired)> {
        let mut targets = Vec::new();
        for class in &report.gateway_classes {
            let key = key(Kind::GatewayClass, "", &class.name);
            targets.push((key, Kind::GatewayClass, Desired::Class(class.clone())));
        }
        let published = self.published_addresses();
        for gateway in &report.gateways {
            let key = key(
                Kind::Gateway,
                &gateway.gateway.namespace,
                &gateway.gateway.name,
            );
            let addresses = match &published {
                Some(addresses) if !addresses.is_empty() => addresses.clone(),
                _ => gateway.addresses.iter().map(|a| address(a)).collect(),
            };
            targets.push((
                key,
                Kind::Gateway,
                Desired::Gateway(gateway.clone(), addresses),
            ));
        }
        let mut reported = HashSet::new();
        for route in &report.routes {
            let kind = route_kind(route.route.kind);
            let key = key(kind, &route.route.namespace, &route.route.name);
            reported.insert(key.clone());
            let Some(stored) = self.stores.get(&key) else {
                continue;
            };
            let Some(object) = &stored.object else {
                continue;
            };
            // The parentRefs are copied from the spec the translation saw: a newer spec
            // waits for its own translation.
            let generation = route
                .parents
                .iter()
                .flat_map(|p| p.conditions.first())
                .find_map(|c| c.observed_generation);
            if generation.is_some() && generation != stored.generation {
                continue;
            }
            let parents = route
                .parents
                .iter()
                .filter_map(|p| Some((parent_ref(object, p.index)?, p.conditions.clone())))
                .collect();
            targets.push((key, kind, Desired::Route(parents)));
        }
        // Routes that no longer name a Gateway of torii's: its entries go.
        for kind in [
            Kind::HttpRoute,
            Kind::GrpcRoute,
            Kind::TlsRoute,
            Kind::TcpRoute,
        ] {
            for (key, stored) in self.stores.list(kind) {
                if reported.contains(&key) {
                    continue;
                }
                let mentions = |text: &str| text.contains(&self.options.controller_name);
                let written = self.written.get(&key).is_some_and(|w| {
                    desired::has_parents_of(&w.status, &self.options.controller_name)
                });
                if written || stored.status.as_deref().is_some_and(mentions) {
                    targets.push((key, kind, Desired::Route(Vec::new())));
                }
            }
        }
        for object in report.load_balancing.iter().chain(&report.migrations) {
            let Some(kind) = Kind::ALL.into_iter().find(|k| k.name() == object.kind) else {
                continue;
            };
            let key = key(kind, &object.namespace, &object.name);
            let generation = object
                .conditions
                .first()
                .and_then(|c| c.observed_generation);
            let fields = runtime.get(&key).cloned().unwrap_or_default();
            targets.push((
                key,
                kind,
                Desired::Torii {
                    generation,
                    conditions: object.conditions.clone(),
                    fields,
                },
            ));
        }
        targets
    }

    /// The published Service's load-balancer addresses (`None`: no `--publish-service`).
    fn published_addresses(&self) -> Option<Vec<Value>> {
        let (namespace, name) = self.options.publish_service.as_ref()?;
        let stored = self.stores.get(&key(Kind::Service, namespace, name));
        let status: Value = stored
            .and_then(|s| s.status)
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or(Value::Null);
        let ingress = status
            .pointer("/loadBalancer/ingress")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Some(
            ingress
                .iter()
                .filter_map(|i| {
                    let ip = i.get("ip").and_then(Value::as_str);
                    let host = i.get("hostname").and_then(Value::as_str);
                    ip.map(address).or_else(|| {
                        host.map(|h| serde_json::json!({"type": "Hostname", "value": h}))
                    })
                })
                .collect(),
        )
    }
}

/// A Gateway status address for `text` (an IP address, else a hostname).
fn address(text: &str) -> Value {
    let kind = if text.parse::<std::net::IpAddr>().is_ok() {
        "IPAddress"
    } else {
        "Hostname"
    };
    serde_json::json!({"type": kind, "value": text})
}

fn key(kind: Kind, namespace: &str, name: &str) -> ObjectKey {
    ObjectKey {
        kind: kind.name().to_owned(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    }
}

fn route_kind(kind: RouteKind) -> Kind {
    match kind {
        RouteKind::Http => Kind::HttpRoute,
        RouteKind::Grpc => Kind::GrpcRoute,
        RouteKind::Tls => Kind::TlsRoute,
        RouteKind::Tcp => Kind::TcpRoute,
    }
}

/// `spec.parentRefs[index]` of a route, as JSON.
fn parent_ref(object: &Object, index: usize) -> Option<Value> {
    let value = match object {
        Object::HttpRoute(r) => serde_json::to_value(r.spec.parent_refs.as_ref()?.get(index)?),
        Object::GrpcRoute(r) => serde_json::to_value(r.spec.parent_refs.as_ref()?.get(index)?),
        Object::TlsRoute(r) => serde_json::to_value(r.spec.parent_refs.as_ref()?.get(index)?),
        Object::TcpRoute(r) => serde_json::to_value(r.spec.parent_refs.as_ref()?.get(index)?),
        _ => return None,
    };
    value.ok()
}

/// Now, as a condition's `lastTransitionTime` (RFC 3339, seconds).
fn now_text() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// What a write needs, shared by the writes of a round.
struct Context {
    stores: Stores,
    options: WriterOptions,
    leader: watch::Receiver<bool>,
}

impl Context {
    async fn write(&self, job: Job) -> Outcome {
        let Job {
            key,
            kind,
            desired,
            mut resource_version,
            mut uid,
            mut status,
        } = job;
        let resource = self.stores.api_resource(kind);
        let api: Api<DynamicObject> = if kind.namespaced() {
            Api::namespaced_with(self.stores.client().clone(), &key.namespace, &resource)
        } else {
            Api::all_with(self.stores.client().clone(), &resource)
        };
        let timeout = self.options.request_timeout;
        for _ in 0..CONFLICT_ATTEMPTS {
            if !*self.leader.borrow() {
                return Outcome::Nothing;
            }
            if status.get("updatedAt").is_some() || kind == Kind::Comparison {
                if let Value::Object(map) = &mut status {
                    map.insert("updatedAt".into(), Value::from(now_text()));
                }
            }
            let body = body(&resource, &key, &resource_version, &status);
            let sent = tokio::time::timeout(
                timeout,
                api.replace_status(&key.name, &PostParams::default(), &body),
            )
            .await;
            let error = match sent {
                Ok(Ok(object)) => {
                    let status = object.data.get("status").cloned().unwrap_or(Value::Null);
                    return Outcome::Written(
                        key,
                        Written {
                            uid: object.metadata.uid.or(uid),
                            based_on: resource_version,
                            resource_version: object.metadata.resource_version.unwrap_or_default(),
                            status,
                        },
                    );
                }
                Ok(Err(error)) => error,
                Err(_) => return Outcome::Failed(key, format!("no answer within {timeout:?}")),
            };
            match &error {
                kube::Error::Api(s) if s.code == 409 => {}
                kube::Error::Api(s) if s.code == 404 => return Outcome::Nothing,
                kube::Error::Api(s) if s.code == 403 => {
                    return Outcome::Forbidden(kind, error.to_string())
                }
                _ => return Outcome::Failed(key, error.to_string()),
            }
            // Someone wrote first: read the object again and merge into its status.
            let fresh = match tokio::time::timeout(timeout, api.get_opt(&key.name)).await {
                Ok(Ok(Some(fresh))) => fresh,
                Ok(Ok(None)) => return Outcome::Nothing,
                Ok(Err(error)) => return Outcome::Failed(key, error.to_string()),
                Err(_) => return Outcome::Failed(key, format!("no answer within {timeout:?}")),
            };
            if fresh.metadata.uid != uid && uid.is_some() {
                // Deleted and created again: its own translation follows.
                return Outcome::Nothing;
            }
            uid = fresh.metadata.uid.clone();
            resource_version = fresh.metadata.resource_version.clone().unwrap_or_default();
            let observed = fresh.data.get("status").cloned().unwrap_or(Value::Null);
            status = desired.status(&observed, &self.options.controller_name, &now_text());
            if desired::same(&observed, &status) {
                return Outcome::Nothing;
            }
        }
        Outcome::Failed(key, "conflicting writes kept winning".to_owned())
    }
}

/// The object sent to the status subresource: identity, the version read, the status.
fn body(
    resource: &ApiResource,
    key: &ObjectKey,
    resource_version: &str,
    status: &Value,
) -> DynamicObject {
    let mut object = DynamicObject::new(&key.name, resource);
    object.types = Some(TypeMeta {
        api_version: resource.api_version.clone(),
        kind: resource.kind.clone(),
    });
    if !key.namespace.is_empty() {
        object.metadata.namespace = Some(key.namespace.clone());
    }
    object.metadata.resource_version = Some(resource_version.to_owned());
    object.data = serde_json::json!({ "status": status });
    object
}
