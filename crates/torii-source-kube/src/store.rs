//! The store of watched objects, decoded once as they arrive, and the report built from it.
//!
//! Like a kube-rs reflector store, a watch's objects are replaced only when its (re)list
//! completes (`InitDone`): a relist in progress, or one cut short by an error, changes nothing.
//! Unlike one, it keeps the decoded wire types (not the raw JSON), without `managedFields` and
//! kubectl's last-applied annotation, and for each object the last version torii could read.

use crate::kinds::Scope;
use crate::StoredObject;
use kube::api::DynamicObject;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use torii_resources::{
    decode_json, object_key, Kind, LoadError, LoadReport, Located, Object, ObjectKey, Origin,
};

/// kubectl's copy of the whole object (client-side apply); large and never read.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// One object as stored.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The last version that could be read.
    object: Option<Located<Object>>,
    /// `resourceVersion` of the last version seen.
    resource_version: String,
    /// `metadata.generation` of the last version seen.
    generation: Option<i64>,
    /// Why the last version seen could not be read.
    problem: Option<LoadError>,
    /// Unknown fields of the last version seen.
    warnings: Vec<LoadError>,
    /// `status` of the last version seen, as compact JSON (for a status writer; kept as text,
    /// a tenth of the memory of a parsed value).
    status: Option<Arc<str>>,
    /// `metadata.uid` of the last version seen.
    uid: Option<String>,
}

/// What a new version of an object changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// Nothing: the version already stored.
    None,
    /// Only its status (or resourceVersion): nothing to translate again.
    Status,
    /// What translation reads (or the object is new).
    Spec,
}

impl Entry {
    /// Whether `other` reads the same as this entry (the same object, problem and warnings).
    fn same_spec(&self, other: &Entry) -> bool {
        self.problem.is_none()
            && other.problem.is_none()
            && self.warnings == other.warnings
            && self.object.as_ref().map(|l| &l.object) == other.object.as_ref().map(|l| &l.object)
    }

    /// The entry for a new version, keeping `previous`'s object if this one cannot be read.
    fn succeeding(mut self, previous: Option<&Entry>) -> Entry {
        if self.object.is_none() {
            self.object = previous.and_then(|p| p.object.clone());
        }
        self
    }

    fn stored(&self) -> StoredObject {
        StoredObject {
            object: self.object.as_ref().map(|l| l.object.clone()),
            resource_version: self.resource_version.clone(),
            generation: self.generation,
            problem: self.problem.clone(),
            status: self.status.clone(),
            uid: self.uid.clone(),
        }
    }
}

/// Whether a status writer reads `kind`'s status: the kinds torii writes status for, and
/// Services (a published Service's load-balancer address).
fn keeps_status(kind: Kind) -> bool {
    !matches!(
        kind,
        Kind::Namespace | Kind::Secret | Kind::EndpointSlice | Kind::ReferenceGrant
    )
}

/// Decodes an object a watch of `kind` received: its key and entry.
pub(crate) fn decode(kind: Kind, object: DynamicObject) -> (ObjectKey, Entry) {
    let DynamicObject {
        mut metadata, data, ..
    } = object;
    metadata.managed_fields = None;
    if let Some(annotations) = &mut metadata.annotations {
        annotations.remove(LAST_APPLIED);
        if annotations.is_empty() {
            metadata.annotations = None;
        }
    }
    let key = object_key(kind.name(), &metadata);
    let origin = Origin::api(key.clone());
    let resource_version = metadata.resource_version.clone().unwrap_or_default();
    let generation = metadata.generation;
    let uid = metadata.uid.clone();
    let mut value = match data {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    let status = value
        .get("status")
        .filter(|_| keeps_status(kind))
        .map(|status| Arc::from(status.to_string()));
    // What translation reads leaves out what every status write changes (the status itself
    // and the resourceVersion), so a status write (torii's own included) is not taken for a
    // change to translate again; a status writer learns of it from `status_changes` (a
    // published Service's load-balancer address, for one).
    value.remove("status");
    metadata.resource_version = None;
    let decoded = match serde_json::to_value(&metadata) {
        Ok(metadata) => {
            value.insert("metadata".into(), metadata);
            decode_json(kind, &serde_json::Value::Object(value), &origin)
        }
        Err(error) => torii_resources::Decoded {
            object: Err(LoadError {
                origin: origin.clone(),
                object: None,
                field: Some("metadata".into()),
                message: error.to_string(),
            }),
            warnings: Vec::new(),
        },
    };
    let (object, problem) = match decoded.object {
        Ok(object) => (Some(Located { object, origin }), None),
        Err(error) => (None, Some(error)),
    };
    let entry = Entry {
        object,
        resource_version,
        generation,
        problem,
        warnings: decoded.warnings,
        status,
        uid,
    };
    (key, entry)
}

/// Per watch: whether it has listed, and the list in progress.
#[derive(Debug, Default)]
struct WatchState {
    listed: bool,
    relist: Option<BTreeMap<ObjectKey, Entry>>,
}

/// Every watched object, by key (kind, namespace, name).
#[derive(Debug, Default)]
pub(crate) struct Store {
    entries: BTreeMap<ObjectKey, Entry>,
    watches: HashMap<usize, WatchState>,
    /// How many watches there are (each must list before the store is complete).
    expected: usize,
    /// The version each kind is served at (discovery); absent: not served when last looked.
    versions: HashMap<Kind, String>,
    /// Bumped for each version that changed only in status.
    status_changes: tokio::sync::watch::Sender<u64>,
}

impl Store {
    /// Starts over with `watches` watches, none listed yet (objects stay until relisted).
    pub fn expect(&mut self, watches: usize) {
        self.expected = watches;
        self.watches.clear();
    }

    /// Records the versions the API server serves.
    pub fn set_versions(&mut self, versions: &HashMap<Kind, String>) {
        self.versions
            .extend(versions.iter().map(|(k, v)| (*k, v.clone())));
    }

    /// The version `kind` is served at, if discovery found it.
    pub fn version(&self, kind: Kind) -> Option<String> {
        self.versions.get(&kind).cloned()
    }

    /// True once every watch has listed.
    pub fn is_complete(&self) -> bool {
        self.watches.values().filter(|w| w.listed).count() >= self.expected
    }

    /// Whether watch `id` has listed.
    pub fn is_listed(&self, id: usize) -> bool {
        self.watches.get(&id).is_some_and(|w| w.listed)
    }

    /// A (re)list of watch `id` starts.
    pub fn begin_list(&mut self, id: usize) {
        self.watches.entry(id).or_default().relist = Some(BTreeMap::new());
    }

    /// An object of the (re)list of watch `id`.
    pub fn listed_object(&mut self, id: usize, key: ObjectKey, entry: Entry) {
        let relist = self
            .watches
            .entry(id)
            .or_default()
            .relist
            .get_or_insert_default();
        relist.insert(key, entry);
    }

    /// The (re)list of watch `id`, covering `scope`, is complete: its objects replace the
    /// scope's. True when anything changed (objects added, removed, or at a new version).
    pub fn end_list(&mut self, id: usize, scope: &Scope) -> bool {
        let state = self.watches.entry(id).or_default();
        state.listed = true;
        let listed = state.relist.take().unwrap_or_default();
        let before = self.entries.len();
        let mut changed = false;
        self.entries
            .retain(|key, _| !scope.contains(key) || listed.contains_key(key));
        changed |= self.entries.len() != before;
        for (key, entry) in listed {
            changed |= self.apply(key, entry) == Change::Spec;
        }
        changed
    }

    /// Watch `id` cannot list because its kind is not served (its CRD is not installed): it
    /// counts as listed with no objects until it lists.
    pub fn absent(&mut self, id: usize) {
        self.watches.entry(id).or_default().listed = true;
    }

    /// An object was added or changed: what changed (a new version whose only difference is
    /// its status is [`Change::Status`]: stored, not translated again).
    pub fn apply(&mut self, key: ObjectKey, entry: Entry) -> Change {
        let previous = self.entries.get(&key);
        let change = match previous {
            None => Change::Spec,
            Some(p) if p.resource_version == entry.resource_version => return Change::None,
            Some(p) if p.same_spec(&entry) => Change::Status,
            Some(_) => Change::Spec,
        };
        let entry = entry.succeeding(previous);
        self.entries.insert(key, entry);
        if change == Change::Status {
            self.status_changes.send_modify(|n| *n += 1);
        }
        change
    }

    /// Counts versions that changed only in status (for a status writer to look again).
    pub fn status_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.status_changes.subscribe()
    }

    /// An object was deleted. True when it was stored.
    pub fn delete(&mut self, key: &ObjectKey) -> bool {
        self.entries.remove(key).is_some()
    }

    /// The report of everything stored: objects that could be read (an object whose newest
    /// version cannot be read at its last readable version) and, as warnings, what could not.
    pub fn report(&self) -> LoadReport {
        let mut report = LoadReport::default();
        for entry in self.entries.values() {
            report.warnings.extend(entry.warnings.iter().cloned());
            if let Some(problem) = &entry.problem {
                let consequence = if entry.object.is_some() {
                    "the last version that could be read is served"
                } else {
                    "the object is ignored"
                };
                report.warnings.push(LoadError {
                    message: format!("{}; {consequence}", problem.message),
                    ..problem.clone()
                });
            }
            if let Some(object) = &entry.object {
                report.set.push(object.clone());
            }
        }
        report
    }

    /// The object with this key.
    pub fn get(&self, key: &ObjectKey) -> Option<StoredObject> {
        self.entries.get(key).map(Entry::stored)
    }

    /// Every object of `kind`.
    pub fn list(&self, kind: Kind) -> Vec<(ObjectKey, StoredObject)> {
        self.entries
            .iter()
            .filter(|(key, _)| key.kind == kind.name())
            .map(|(key, entry)| (key.clone(), entry.stored()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn route(name: &str, resource_version: &str, port: serde_json::Value) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {
                "name": name, "namespace": "apps", "resourceVersion": resource_version,
                "generation": 2,
                "annotations": {LAST_APPLIED: "{\"big\": true}", "keep": "me"},
                "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
            },
            "spec": {"rules": [{"backendRefs": [{"name": "web", "port": port}]}]},
            "status": {"parents": []},
        }))
        .expect("a valid dynamic object")
    }

    fn routes_scope() -> Scope {
        Scope {
            kind: Kind::HttpRoute,
            namespace: None,
        }
    }

    fn names(report: &LoadReport) -> Vec<String> {
        report
            .set
            .http_routes
            .iter()
            .map(|r| r.object.metadata.name.clone().unwrap_or_default())
            .collect()
    }

    #[test]
    fn decoding_drops_what_is_never_read() {
        let (key, entry) = decode(Kind::HttpRoute, route("a", "5", json!(80)));
        assert_eq!(key.to_string(), "HTTPRoute apps/a");
        assert_eq!(entry.resource_version, "5");
        assert_eq!(entry.generation, Some(2));
        let object = entry.object.expect("readable");
        assert_eq!(object.origin.to_string(), "HTTPRoute apps/a");
        let metadata = object.object.metadata();
        assert_eq!(metadata.managed_fields, None);
        let annotations = metadata.annotations.clone().unwrap_or_default();
        assert_eq!(annotations.keys().collect::<Vec<_>>(), ["keep"]);
    }

    #[test]
    fn a_version_that_changes_only_status_is_not_translated_again() {
        let mut store = Store::default();
        let statuses = store.status_changes();
        let versions = |rv: &str, port: serde_json::Value, parents: serde_json::Value| {
            let mut object = route("a", rv, port);
            object.data["status"] = json!({ "parents": parents });
            decode(Kind::HttpRoute, object)
        };
        let (key, entry) = versions("1", json!(80), json!([]));
        assert_eq!(store.apply(key, entry), Change::Spec, "new");
        let (key, entry) = versions("1", json!(80), json!([]));
        assert_eq!(store.apply(key, entry), Change::None, "the same version");
        assert!(!statuses.has_changed().unwrap());
        // A status write (torii's, another controller's): stored for the writer, counted,
        // nothing to translate.
        let parent =
            json!([{"parentRef": {"name": "gw"}, "controllerName": "x/y", "conditions": []}]);
        let (key, entry) = versions("2", json!(80), parent.clone());
        assert_eq!(store.apply(key.clone(), entry), Change::Status);
        assert!(statuses.has_changed().unwrap());
        let stored = store.get(&key).expect("stored");
        assert_eq!(stored.resource_version, "2");
        assert!(stored.status.expect("status kept").contains("x/y"));
        // A spec change is one, whatever the status does.
        let (key, entry) = versions("3", json!(81), parent);
        assert_eq!(store.apply(key, entry), Change::Spec);
    }

    #[test]
    fn a_services_new_address_reaches_the_status_writer() {
        let service = |rv: &str, ip: &str| {
            let object: DynamicObject = serde_json::from_value(json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "lb", "namespace": "edge", "resourceVersion": rv},
                "spec": {"ports": [{"port": 80}]},
                "status": {"loadBalancer": {"ingress": [{"ip": ip}]}},
            }))
            .expect("a valid dynamic object");
            decode(Kind::Service, object)
        };
        let mut store = Store::default();
        let statuses = store.status_changes();
        let (key, entry) = service("1", "192.0.2.1");
        store.apply(key, entry);
        let (key, entry) = service("2", "192.0.2.2");
        assert_eq!(store.apply(key.clone(), entry), Change::Status);
        assert!(statuses.has_changed().unwrap());
        let status = store.get(&key).and_then(|s| s.status).expect("status kept");
        assert!(status.contains("192.0.2.2"), "{status}");
    }

    #[test]
    fn lists_replace_a_scope_only_when_complete() {
        let mut store = Store::default();
        store.expect(1);
        let scope = routes_scope();
        store.begin_list(0);
        for name in ["a", "b"] {
            let (key, entry) = decode(Kind::HttpRoute, route(name, "1", json!(80)));
            store.listed_object(0, key, entry);
        }
        assert!(!store.is_complete());
        assert!(
            store.report().set.is_empty(),
            "nothing before the list is complete"
        );
        assert!(store.end_list(0, &scope));
        assert!(store.is_complete());
        assert_eq!(names(&store.report()), ["a", "b"]);

        // A relist cut short (a new Init before InitDone) changes nothing...
        store.begin_list(0);
        let (key, entry) = decode(Kind::HttpRoute, route("a", "1", json!(80)));
        store.listed_object(0, key, entry);
        assert_eq!(names(&store.report()), ["a", "b"]);
        // ...and a relist of the same objects is no change at all (no report, no blip).
        store.begin_list(0);
        for name in ["a", "b"] {
            let (key, entry) = decode(Kind::HttpRoute, route(name, "1", json!(80)));
            store.listed_object(0, key, entry);
        }
        assert!(!store.end_list(0, &scope));
        // A relist without `b` removes it.
        store.begin_list(0);
        let (key, entry) = decode(Kind::HttpRoute, route("a", "1", json!(80)));
        store.listed_object(0, key, entry);
        assert!(store.end_list(0, &scope));
        assert_eq!(names(&store.report()), ["a"]);
    }

    #[test]
    fn an_unreadable_version_keeps_the_last_readable_one() {
        let mut store = Store::default();
        store.expect(1);
        store.absent(0);
        let (key, entry) = decode(Kind::HttpRoute, route("a", "1", json!(80)));
        assert_eq!(store.apply(key.clone(), entry.clone()), Change::Spec);
        assert_eq!(
            store.apply(key.clone(), entry),
            Change::None,
            "same resourceVersion: no change"
        );
        let (key, bad) = decode(Kind::HttpRoute, route("a", "2", json!("eighty")));
        assert_eq!(store.apply(key.clone(), bad), Change::Spec);
        let report = store.report();
        assert_eq!(names(&report), ["a"]);
        let port = &report.set.http_routes[0]
            .object
            .spec
            .rules
            .as_ref()
            .expect("rules")[0]
            .backend_refs
            .as_ref()
            .expect("refs")[0]
            .port;
        assert_eq!(*port, Some(80), "version 1 is still served");
        let warnings: Vec<String> = report.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            warnings,
            ["HTTPRoute apps/a: spec.rules[0].backendRefs[0].port: invalid type: string \"eighty\", expected i32; the last version that could be read is served"]
        );
        let stored = store.get(&key).expect("stored");
        assert_eq!(stored.resource_version, "2");
        assert!(stored.problem.is_some());

        // A new object that cannot be read is left out, and said so.
        let (key, bad) = decode(Kind::HttpRoute, route("b", "3", json!("x")));
        store.apply(key.clone(), bad);
        let report = store.report();
        assert_eq!(names(&report), ["a"]);
        assert!(report.warnings[1]
            .message
            .ends_with("the object is ignored"));
        assert!(store.delete(&key));
        assert!(!store.delete(&key));
    }
}
