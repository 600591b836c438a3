//! Lookup tables over a [`ResourceSet`], built once per translation so that resolving a
//! reference never scans a whole kind.

use std::collections::{BTreeMap, HashMap};
use torii_config::RouteOrder;
use torii_resources::wire::{EndpointSlice, ObjectMeta, ReferenceGrant, Secret, Service};
use torii_resources::ResourceSet;

/// The label that joins an EndpointSlice to its Service.
pub(crate) const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The label Kubernetes sets on every Namespace to its own name.
pub(crate) const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// The Gateway API's group.
pub(crate) const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

/// A namespace and a name, the key of every namespaced lookup.
pub(crate) type NsName<'a> = (&'a str, &'a str);

/// Indexes over the objects that references point at.
#[derive(Debug, Default)]
pub(crate) struct Index<'a> {
    namespaces: HashMap<&'a str, &'a BTreeMap<String, String>>,
    services: HashMap<NsName<'a>, &'a Service>,
    slices: HashMap<NsName<'a>, Vec<&'a EndpointSlice>>,
    secrets: HashMap<NsName<'a>, &'a Secret>,
    grants: HashMap<&'a str, Vec<&'a ReferenceGrant>>,
}

/// The side a reference starts from, as a ReferenceGrant's `from` names it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefFrom<'s> {
    /// API group of the referring object.
    pub group: &'s str,
    /// Kind of the referring object.
    pub kind: &'s str,
    /// Namespace of the referring object.
    pub namespace: &'s str,
}

/// The side a reference points at, as a ReferenceGrant's `to` names it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefTo<'s> {
    /// API group of the referent (`""` for core).
    pub group: &'s str,
    /// Kind of the referent.
    pub kind: &'s str,
    /// Namespace of the referent.
    pub namespace: &'s str,
    /// Name of the referent.
    pub name: &'s str,
}

impl<'a> Index<'a> {
    /// Builds every index in one pass per kind.
    pub fn new(set: &'a ResourceSet) -> Self {
        let mut index = Index::default();
        for ns in &set.namespaces {
            if let (Some(name), Some(labels)) = (
                ns.object.metadata.name.as_deref(),
                ns.object.metadata.labels.as_ref(),
            ) {
                index.namespaces.insert(name, labels);
            }
        }
        for svc in &set.services {
            let meta = &svc.object.metadata;
            index
                .services
                .insert((namespace_of(meta), name_of(meta)), &svc.object);
        }
        for slice in &set.endpoint_slices {
            let meta = &slice.object.metadata;
            let service = meta
                .labels
                .as_ref()
                .and_then(|labels| labels.get(SERVICE_NAME_LABEL));
            if let Some(service) = service {
                index
                    .slices
                    .entry((namespace_of(meta), service.as_str()))
                    .or_default()
                    .push(&slice.object);
            }
        }
        for secret in &set.secrets {
            let meta = &secret.object.metadata;
            index
                .secrets
                .insert((namespace_of(meta), name_of(meta)), &secret.object);
        }
        for grant in &set.reference_grants {
            index
                .grants
                .entry(namespace_of(&grant.object.metadata))
                .or_default()
                .push(&grant.object);
        }
        index
    }

    /// The Service `namespace/name`.
    pub fn service(&self, namespace: &str, name: &str) -> Option<&'a Service> {
        self.services.get(&(namespace, name)).copied()
    }

    /// Every EndpointSlice labelled as belonging to Service `namespace/name`.
    pub fn slices<'s>(&'s self, namespace: &'s str, service: &'s str) -> &'s [&'a EndpointSlice] {
        self.slices
            .get(&(namespace, service))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The Secret `namespace/name`.
    pub fn secret(&self, namespace: &str, name: &str) -> Option<&'a Secret> {
        self.secrets.get(&(namespace, name)).copied()
    }

    /// The value of label `key` on Namespace `namespace`; every namespace carries
    /// `kubernetes.io/metadata.name`, even without a Namespace object.
    pub fn namespace_label<'s>(&'s self, namespace: &'s str, key: &str) -> Option<&'s str> {
        if key == NAMESPACE_NAME_LABEL {
            return Some(namespace);
        }
        self.namespaces
            .get(namespace)
            .and_then(|labels| labels.get(key))
            .map(String::as_str)
    }

    /// Whether a reference may cross namespaces: same namespace, or a ReferenceGrant in the
    /// referent's namespace allows it.
    pub fn reference_permitted(&self, from: RefFrom<'_>, to: RefTo<'_>) -> bool {
        if from.namespace == to.namespace {
            return true;
        }
        let Some(grants) = self.grants.get(to.namespace) else {
            return false;
        };
        grants.iter().any(|grant| {
            grant.spec.from.iter().any(|f| {
                f.group == from.group && f.kind == from.kind && f.namespace == from.namespace
            }) && grant.spec.to.iter().any(|t| {
                t.group == to.group
                    && t.kind == to.kind
                    && t.name.as_deref().is_none_or(|name| name == to.name)
            })
        })
    }
}

/// An object's namespace (`default` when unset).
pub(crate) fn namespace_of(meta: &ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or("default")
}

/// An object's name (empty when unset).
pub(crate) fn name_of(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

/// The spec's tie-break order of an object: creation time, then `namespace/name`.
pub(crate) fn order_of(meta: &ObjectMeta) -> RouteOrder {
    RouteOrder {
        created: meta
            .creation_timestamp
            .as_ref()
            .map_or(0, |time| time.0.as_second()),
        name: format!("{}/{}", namespace_of(meta), name_of(meta)),
    }
}
