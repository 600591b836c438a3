//! The checks the Kubernetes API server makes at admission from the Gateway API CRDs' schemas
//! (sigs.k8s.io/gateway-api v1.5.1, experimental channel), so file mode refuses what a cluster
//! refuses, whatever the object attaches to.
//!
//! Two halves: [`openapi`] walks a document against the OpenAPI constraints extracted from the
//! CRDs (`schema/crd-constraints.json`, made by `schema/extract.py`): patterns, bounds, lengths,
//! item counts, enums, required fields, unique list entries. [`cel`] is the CRDs'
//! `x-kubernetes-validations` (CEL) rules, written out by hand with the CRDs' own messages.
//! Both read the document as YAML values (after it decoded into its wire type, so the types are
//! right) and report each problem with its field path.

mod cel;
mod openapi;
mod value;

use super::kind::Kind;
use serde_yaml_ng::Mapping;

/// One schema violation: the field path (`spec.rules[0].backendRefs[1].weight`) and what is
/// wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    /// The field path, from the object's root.
    pub field: String,
    /// What is wrong, as the API server would say it.
    pub message: String,
}

/// Checks a document of `kind` in `version` against its CRD's schema; empty for kinds without a
/// Gateway API CRD.
pub(crate) fn check(kind: Kind, version: &str, document: &Mapping) -> Vec<Violation> {
    let Some(crd_kind) = crd_kind(kind) else {
        return Vec::new();
    };
    let Some(spec) = document.get("spec") else {
        return Vec::new();
    };
    let mut violations = Vec::new();
    if let Some(schema) = openapi::spec_schema(crd_kind, version) {
        openapi::check(
            schema,
            spec,
            &value::FieldPath::root("spec"),
            &mut violations,
        );
    }
    cel::check(kind, version, spec, &mut violations);
    violations
}

/// The CRD kind of `kind`, if it is a Gateway API kind.
fn crd_kind(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::GatewayClass
        | Kind::Gateway
        | Kind::HttpRoute
        | Kind::GrpcRoute
        | Kind::TlsRoute
        | Kind::TcpRoute
        | Kind::ReferenceGrant => Some(kind.name()),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
