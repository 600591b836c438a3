//! Which kinds the loader reads, recognised by API group, version and kind.

/// The API group of the Gateway API.
const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";
/// The API group of torii's own kinds.
const TORII_GROUP: &str = "torii.dev";
/// The versions of [`TORII_GROUP`] the loader reads.
const TORII_VERSIONS: &[&str] = &["v1alpha1"];

/// A kind the loader reads into the [`ResourceSet`](crate::ResourceSet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `v1` `Namespace`.
    Namespace,
    /// `v1` `Service`.
    Service,
    /// `v1` `Secret`.
    Secret,
    /// `discovery.k8s.io/v1` `EndpointSlice`.
    EndpointSlice,
    /// Gateway API `GatewayClass`.
    GatewayClass,
    /// Gateway API `Gateway`.
    Gateway,
    /// Gateway API `HTTPRoute`.
    HttpRoute,
    /// Gateway API `GRPCRoute`.
    GrpcRoute,
    /// Gateway API `TLSRoute`.
    TlsRoute,
    /// Gateway API `TCPRoute`.
    TcpRoute,
    /// Gateway API `ReferenceGrant`.
    ReferenceGrant,
    /// `torii.dev` `HealthMonitor`.
    HealthMonitor,
    /// `torii.dev` `OriginPool`.
    OriginPool,
    /// `torii.dev` `LoadBalancer`.
    LoadBalancer,
    /// `torii.dev` `Comparison`.
    Comparison,
    /// `torii.dev` `Rollout`.
    Rollout,
}

/// What the loader does with a document of some `apiVersion` and `kind`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// A kind the loader reads.
    Known(Kind),
    /// A kind the loader reads, in a version of its group it does not know.
    UnsupportedVersion {
        /// The versions that are read, for the message.
        supported: String,
    },
    /// A kind of a group torii owns or implements but does not read (yet): warned and skipped.
    Unsupported,
    /// Any other kind: warned and skipped.
    Unknown,
}

impl Kind {
    /// Every known kind, for lookups and tests.
    pub const ALL: [Kind; 16] = [
        Kind::Namespace,
        Kind::Service,
        Kind::Secret,
        Kind::EndpointSlice,
        Kind::GatewayClass,
        Kind::Gateway,
        Kind::HttpRoute,
        Kind::GrpcRoute,
        Kind::TlsRoute,
        Kind::TcpRoute,
        Kind::ReferenceGrant,
        Kind::HealthMonitor,
        Kind::OriginPool,
        Kind::LoadBalancer,
        Kind::Comparison,
        Kind::Rollout,
    ];

    /// The `kind` field's value.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Namespace => "Namespace",
            Kind::Service => "Service",
            Kind::Secret => "Secret",
            Kind::EndpointSlice => "EndpointSlice",
            Kind::GatewayClass => "GatewayClass",
            Kind::Gateway => "Gateway",
            Kind::HttpRoute => "HTTPRoute",
            Kind::GrpcRoute => "GRPCRoute",
            Kind::TlsRoute => "TLSRoute",
            Kind::TcpRoute => "TCPRoute",
            Kind::ReferenceGrant => "ReferenceGrant",
            Kind::HealthMonitor => "HealthMonitor",
            Kind::OriginPool => "OriginPool",
            Kind::LoadBalancer => "LoadBalancer",
            Kind::Comparison => "Comparison",
            Kind::Rollout => "Rollout",
        }
    }

    /// The API group (empty for the core group).
    pub fn group(self) -> &'static str {
        match self {
            Kind::Namespace | Kind::Service | Kind::Secret => "",
            Kind::EndpointSlice => "discovery.k8s.io",
            Kind::HealthMonitor
            | Kind::OriginPool
            | Kind::LoadBalancer
            | Kind::Comparison
            | Kind::Rollout => TORII_GROUP,
            _ => GATEWAY_GROUP,
        }
    }

    /// The versions this kind is read in: for Gateway API kinds, the versions the v1.5.1 CRDs
    /// serve it in (experimental channel, a superset of standard), so file mode accepts the
    /// apiVersions an API server accepts and no others (the wire types ignore the version).
    /// The preferred version comes first.
    pub fn versions(self) -> &'static [&'static str] {
        match self {
            Kind::GatewayClass | Kind::Gateway | Kind::HttpRoute | Kind::ReferenceGrant => {
                &["v1", "v1beta1"]
            }
            Kind::GrpcRoute => &["v1"],
            Kind::TlsRoute => &["v1", "v1alpha3", "v1alpha2"],
            Kind::TcpRoute => &["v1alpha2"],
            _ if self.group() == TORII_GROUP => TORII_VERSIONS,
            _ => &["v1"],
        }
    }

    /// The `apiVersion` objects of this kind are written with (the preferred version).
    pub fn api_version(self) -> String {
        let version = self.versions().first().copied().unwrap_or("v1");
        match self.group() {
            "" => version.to_owned(),
            group => format!("{group}/{version}"),
        }
    }

    /// The known kind of a document with this `apiVersion` and `kind`, if it is read.
    pub fn of(api_version: &str, kind: &str) -> Option<Kind> {
        match lookup(api_version, kind) {
            Lookup::Known(known) => Some(known),
            _ => None,
        }
    }

    /// True for namespaced kinds, false for cluster-scoped ones.
    pub fn namespaced(self) -> bool {
        !matches!(self, Kind::Namespace | Kind::GatewayClass)
    }
}

/// Splits an `apiVersion` into group and version (`v1` is the core group, `""`).
pub(crate) fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

/// Decides what to do with a document of this `apiVersion` and `kind`.
pub(crate) fn lookup(api_version: &str, kind: &str) -> Lookup {
    let (group, version) = split_api_version(api_version);
    let known = Kind::ALL
        .into_iter()
        .find(|k| k.name() == kind && k.group() == group);
    match known {
        Some(known) if known.versions().contains(&version) => Lookup::Known(known),
        Some(known) => Lookup::UnsupportedVersion {
            supported: known
                .versions()
                .iter()
                .map(|v| match known.group() {
                    "" => (*v).to_owned(),
                    g => format!("{g}/{v}"),
                })
                .collect::<Vec<_>>()
                .join(", "),
        },
        None if group == GATEWAY_GROUP || group == TORII_GROUP => Lookup::Unsupported,
        None => Lookup::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_kinds() {
        use Kind::*;
        let cases: &[(&str, &str, Lookup)] = &[
            ("v1", "Namespace", Lookup::Known(Namespace)),
            ("v1", "Service", Lookup::Known(Service)),
            ("v1", "Secret", Lookup::Known(Secret)),
            (
                "discovery.k8s.io/v1",
                "EndpointSlice",
                Lookup::Known(EndpointSlice),
            ),
            (
                "gateway.networking.k8s.io/v1",
                "GatewayClass",
                Lookup::Known(GatewayClass),
            ),
            (
                "gateway.networking.k8s.io/v1beta1",
                "Gateway",
                Lookup::Known(Gateway),
            ),
            (
                "gateway.networking.k8s.io/v1",
                "HTTPRoute",
                Lookup::Known(HttpRoute),
            ),
            (
                "gateway.networking.k8s.io/v1",
                "GRPCRoute",
                Lookup::Known(GrpcRoute),
            ),
            (
                "gateway.networking.k8s.io/v1alpha3",
                "TLSRoute",
                Lookup::Known(TlsRoute),
            ),
            (
                "gateway.networking.k8s.io/v1alpha2",
                "TCPRoute",
                Lookup::Known(TcpRoute),
            ),
            (
                "gateway.networking.k8s.io/v1beta1",
                "ReferenceGrant",
                Lookup::Known(ReferenceGrant),
            ),
            (
                "discovery.k8s.io/v1beta1",
                "EndpointSlice",
                Lookup::UnsupportedVersion {
                    supported: "discovery.k8s.io/v1".into(),
                },
            ),
            (
                "gateway.networking.k8s.io/v2",
                "HTTPRoute",
                Lookup::UnsupportedVersion {
                    supported: "gateway.networking.k8s.io/v1, gateway.networking.k8s.io/v1beta1"
                        .into(),
                },
            ),
            // Each Gateway API kind in exactly the versions the v1.5.1 CRDs serve.
            (
                "gateway.networking.k8s.io/v1",
                "TCPRoute",
                Lookup::UnsupportedVersion {
                    supported: "gateway.networking.k8s.io/v1alpha2".into(),
                },
            ),
            (
                "gateway.networking.k8s.io/v1alpha2",
                "GRPCRoute",
                Lookup::UnsupportedVersion {
                    supported: "gateway.networking.k8s.io/v1".into(),
                },
            ),
            (
                "gateway.networking.k8s.io/v1alpha2",
                "HTTPRoute",
                Lookup::UnsupportedVersion {
                    supported: "gateway.networking.k8s.io/v1, gateway.networking.k8s.io/v1beta1"
                        .into(),
                },
            ),
            (
                "gateway.networking.k8s.io/v1alpha2",
                "ReferenceGrant",
                Lookup::UnsupportedVersion {
                    supported: "gateway.networking.k8s.io/v1, gateway.networking.k8s.io/v1beta1"
                        .into(),
                },
            ),
            (
                "gateway.networking.k8s.io/v1beta1",
                "TLSRoute",
                Lookup::UnsupportedVersion {
                    supported: "gateway.networking.k8s.io/v1, gateway.networking.k8s.io/v1alpha3, \
                                gateway.networking.k8s.io/v1alpha2"
                        .into(),
                },
            ),
            (
                "gateway.networking.k8s.io/v1",
                "TLSRoute",
                Lookup::Known(TlsRoute),
            ),
            (
                "gateway.networking.k8s.io/v1alpha2",
                "TLSRoute",
                Lookup::Known(TlsRoute),
            ),
            (
                "gateway.networking.k8s.io/v1",
                "ReferenceGrant",
                Lookup::Known(ReferenceGrant),
            ),
            (
                "gateway.networking.k8s.io/v1beta1",
                "HTTPRoute",
                Lookup::Known(HttpRoute),
            ),
            (
                "gateway.networking.k8s.io/v1beta1",
                "GatewayClass",
                Lookup::Known(GatewayClass),
            ),
            // Kinds are case-sensitive and bound to their group.
            (
                "gateway.networking.k8s.io/v1",
                "HttpRoute",
                Lookup::Unsupported,
            ),
            ("v1", "HTTPRoute", Lookup::Unknown),
            (
                "gateway.networking.k8s.io/v1",
                "Service",
                Lookup::Unsupported,
            ),
            (
                "gateway.networking.k8s.io/v1",
                "BackendTLSPolicy",
                Lookup::Unsupported,
            ),
            (
                "torii.dev/v1alpha1",
                "OriginPool",
                Lookup::Known(OriginPool),
            ),
            (
                "torii.dev/v1alpha1",
                "LoadBalancer",
                Lookup::Known(LoadBalancer),
            ),
            (
                "torii.dev/v1alpha1",
                "HealthMonitor",
                Lookup::Known(HealthMonitor),
            ),
            (
                "torii.dev/v1alpha1",
                "Comparison",
                Lookup::Known(Comparison),
            ),
            ("torii.dev/v1alpha1", "Rollout", Lookup::Known(Rollout)),
            (
                "torii.dev/v1",
                "Rollout",
                Lookup::UnsupportedVersion {
                    supported: "torii.dev/v1alpha1".into(),
                },
            ),
            ("torii.dev/v1alpha1", "RolloutPolicy", Lookup::Unsupported),
            ("apps/v1", "Deployment", Lookup::Unknown),
            ("v1", "ConfigMap", Lookup::Unknown),
            ("example.com/v1", "Widget", Lookup::Unknown),
        ];
        for (api_version, kind, expected) in cases {
            assert_eq!(&lookup(api_version, kind), expected, "{api_version} {kind}");
        }
    }

    #[test]
    fn cluster_scoped_kinds() {
        let cluster: Vec<_> = Kind::ALL
            .into_iter()
            .filter(|k| !k.namespaced())
            .map(Kind::name)
            .collect();
        assert_eq!(cluster, ["Namespace", "GatewayClass"]);
    }
}
