//! Which kinds are watched, where the API server serves them, and the watches that cover
//! them (one per kind, or one per kind and namespace when scoped).

use crate::KubeOptions;
use kube::core::ApiResource;
use std::fmt;
use torii_resources::{Kind, ObjectKey};

/// The Secrets Gateways reference: only TLS certificates are read.
pub(crate) const TLS_SECRET_FIELDS: &str = "type=kubernetes.io/tls";

/// The resource (plural) name of each kind.
pub(crate) fn plural(kind: Kind) -> &'static str {
    match kind {
        Kind::Namespace => "namespaces",
        Kind::Service => "services",
        Kind::Secret => "secrets",
        Kind::EndpointSlice => "endpointslices",
        Kind::GatewayClass => "gatewayclasses",
        Kind::Gateway => "gateways",
        Kind::HttpRoute => "httproutes",
        Kind::GrpcRoute => "grpcroutes",
        Kind::TlsRoute => "tlsroutes",
        Kind::TcpRoute => "tcproutes",
        Kind::ReferenceGrant => "referencegrants",
        Kind::HealthMonitor => "healthmonitors",
        Kind::OriginPool => "originpools",
        Kind::LoadBalancer => "loadbalancers",
        Kind::Comparison => "comparisons",
        Kind::Rollout => "rollouts",
    }
}

/// The version watched when discovery does not find the kind (its CRD not installed yet):
/// the oldest version still widely served, so a later install is picked up by the retries.
pub(crate) fn fallback_version(kind: Kind) -> &'static str {
    match kind {
        Kind::TlsRoute | Kind::TcpRoute => "v1alpha2",
        Kind::ReferenceGrant => "v1beta1",
        _ => kind.versions().first().copied().unwrap_or("v1"),
    }
}

/// `kind` at `version`.
pub(crate) fn api_resource(kind: Kind, version: &str) -> ApiResource {
    let group = kind.group();
    ApiResource {
        group: group.to_owned(),
        version: version.to_owned(),
        api_version: if group.is_empty() {
            version.to_owned()
        } else {
            format!("{group}/{version}")
        },
        kind: kind.name().to_owned(),
        plural: plural(kind).to_owned(),
    }
}

/// What one watch covers: a kind, everywhere or in one namespace (for the cluster-scoped
/// Namespace kind: the one Namespace of that name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scope {
    pub kind: Kind,
    pub namespace: Option<String>,
}

impl Scope {
    /// Whether an object with this key is this watch's.
    pub fn contains(&self, key: &ObjectKey) -> bool {
        if key.kind != self.kind.name() {
            return false;
        }
        match (&self.namespace, self.kind) {
            (None, _) => true,
            (Some(namespace), Kind::Namespace) => key.name == *namespace,
            (Some(namespace), _) => key.namespace == *namespace,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.namespace, self.kind) {
            (None, kind) if kind.namespaced() => write!(f, "{} (all namespaces)", self.kind.name()),
            (None, _) => write!(f, "{}", self.kind.name()),
            (Some(namespace), Kind::Namespace) => write!(f, "Namespace {namespace}"),
            (Some(namespace), _) => write!(f, "{} (namespace {namespace})", self.kind.name()),
        }
    }
}

/// One watch: its scope, the resource at the version served, and its selectors.
#[derive(Debug, Clone)]
pub(crate) struct WatchSpec {
    pub scope: Scope,
    pub resource: ApiResource,
    pub fields: Option<String>,
    pub labels: Option<String>,
}

/// Every watch `options` ask for; `version_of` gives the version each kind is served at
/// (`None`: not served now).
pub(crate) fn watches(
    options: &KubeOptions,
    version_of: impl Fn(Kind) -> Option<String>,
) -> Vec<WatchSpec> {
    let mut specs = Vec::new();
    for kind in Kind::ALL {
        let version = version_of(kind).unwrap_or_else(|| fallback_version(kind).to_owned());
        let resource = api_resource(kind, &version);
        let (fields, labels) = match kind {
            Kind::Secret => (
                Some(TLS_SECRET_FIELDS.to_owned()),
                options.secret_selector.clone(),
            ),
            _ => (None, None),
        };
        let namespaces = scopes(options, kind);
        for namespace in namespaces {
            let fields = match (kind, &namespace) {
                (Kind::Namespace, Some(name)) => Some(format!("metadata.name={name}")),
                _ => fields.clone(),
            };
            specs.push(WatchSpec {
                scope: Scope { kind, namespace },
                resource: resource.clone(),
                fields,
                labels: labels.clone(),
            });
        }
    }
    specs
}

/// The namespaces a kind is watched in (`None`: all): `--namespace`s for namespaced kinds
/// and Namespace objects; for Secrets the `--secret-namespace`s (those also in `--namespace`
/// when both are given: possibly none at all).
fn scopes(options: &KubeOptions, kind: Kind) -> Vec<Option<String>> {
    let scoped = |namespaces: &[String]| namespaces.iter().cloned().map(Some).collect();
    match kind {
        Kind::Secret if !options.secret_namespaces.is_empty() => {
            let allowed =
                |ns: &String| options.namespaces.is_empty() || options.namespaces.contains(ns);
            let namespaces: Vec<String> = options
                .secret_namespaces
                .iter()
                .filter(|ns| allowed(ns))
                .cloned()
                .collect();
            scoped(&namespaces)
        }
        kind if (kind.namespaced() || kind == Kind::Namespace)
            && !options.namespaces.is_empty() =>
        {
            scoped(&options.namespaces)
        }
        _ => vec![None],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: &str, namespace: &str, name: &str) -> ObjectKey {
        ObjectKey {
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    #[test]
    fn scopes_contain_their_kind_in_their_namespace() {
        let all = Scope {
            kind: Kind::HttpRoute,
            namespace: None,
        };
        let apps = Scope {
            kind: Kind::HttpRoute,
            namespace: Some("apps".into()),
        };
        let apps_namespace = Scope {
            kind: Kind::Namespace,
            namespace: Some("apps".into()),
        };
        let cases = [
            (&all, key("HTTPRoute", "x", "r"), true),
            (&all, key("GRPCRoute", "x", "r"), false),
            (&apps, key("HTTPRoute", "apps", "r"), true),
            (&apps, key("HTTPRoute", "other", "r"), false),
            (&apps_namespace, key("Namespace", "", "apps"), true),
            (&apps_namespace, key("Namespace", "", "other"), false),
        ];
        for (scope, key, expected) in cases {
            assert_eq!(scope.contains(&key), expected, "{scope} {key}");
        }
    }

    #[test]
    fn watches_cover_every_kind_once_or_per_namespace() {
        let served = |kind: Kind| (kind == Kind::TlsRoute).then(|| "v1".to_owned());
        let all = watches(&KubeOptions::default(), served);
        assert_eq!(all.len(), Kind::ALL.len());
        let tls = all
            .iter()
            .find(|w| w.scope.kind == Kind::TlsRoute)
            .expect("watched");
        assert_eq!(tls.resource.api_version, "gateway.networking.k8s.io/v1");
        let tcp = all
            .iter()
            .find(|w| w.scope.kind == Kind::TcpRoute)
            .expect("watched");
        assert_eq!(
            tcp.resource.api_version,
            "gateway.networking.k8s.io/v1alpha2"
        );
        let secrets = all
            .iter()
            .find(|w| w.scope.kind == Kind::Secret)
            .expect("watched");
        assert_eq!(secrets.fields.as_deref(), Some(TLS_SECRET_FIELDS));
        assert_eq!(secrets.resource.plural, "secrets");

        let scoped = KubeOptions {
            namespaces: vec!["a".into(), "b".into()],
            secret_selector: Some("torii.dev/certificate=true".into()),
            ..KubeOptions::default()
        };
        let scoped = watches(&scoped, |_| None);
        // GatewayClass stays cluster-wide; the 14 namespaced kinds and Namespace are per namespace.
        assert_eq!(scoped.len(), 1 + 15 * 2);
        let namespace_b = scoped
            .iter()
            .find(|w| w.scope.kind == Kind::Namespace && w.scope.namespace.as_deref() == Some("b"))
            .expect("watched");
        assert_eq!(namespace_b.fields.as_deref(), Some("metadata.name=b"));
        let secrets_a = scoped
            .iter()
            .find(|w| w.scope.kind == Kind::Secret && w.scope.namespace.as_deref() == Some("a"))
            .expect("watched");
        assert_eq!(
            secrets_a.labels.as_deref(),
            Some("torii.dev/certificate=true")
        );
        assert_eq!(secrets_a.scope.to_string(), "Secret (namespace a)");
    }

    #[test]
    fn secrets_can_be_watched_in_fewer_namespaces() {
        let secret_scopes = |namespaces: &[&str], secret_namespaces: &[&str]| {
            let options = KubeOptions {
                namespaces: namespaces.iter().map(|n| n.to_string()).collect(),
                secret_namespaces: secret_namespaces.iter().map(|n| n.to_string()).collect(),
                ..KubeOptions::default()
            };
            watches(&options, |_| None)
                .into_iter()
                .filter(|w| w.scope.kind == Kind::Secret)
                .map(|w| w.scope.namespace)
                .collect::<Vec<_>>()
        };
        let some = |names: &[&str]| {
            names
                .iter()
                .map(|n| Some(n.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(secret_scopes(&[], &[]), [None]);
        assert_eq!(
            secret_scopes(&[], &["edge", "apps"]),
            some(&["edge", "apps"])
        );
        assert_eq!(
            secret_scopes(&["apps", "web"], &["edge", "apps"]),
            some(&["apps"])
        );
        assert_eq!(
            secret_scopes(&["web"], &["edge"]),
            some(&[]),
            "no Secret at all"
        );
        assert_eq!(secret_scopes(&["a"], &[]), some(&["a"]));
    }
}
