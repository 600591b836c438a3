//! The CustomResourceDefinitions of torii's own kinds, generated from the wire types.
//!
//! The structs that read YAML in file mode ([`crate::lb`], [`crate::migration`]) derive `kube`'s
//! `CustomResource`, which builds each CRD with an OpenAPI v3 schema from the same fields
//! (`schemars`), plus the `x-kubernetes-validations` CEL rules, printer columns, short names
//! and the `torii` category given in their attributes. The checked-in copies under
//! `deploy/crds/` (and the Helm chart's `crds/`) are [`files`]; a test fails when they drift.

use crate::lb::{HealthMonitor, LoadBalancer, OriginPool};
use crate::migration::{Comparison, Rollout};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde_json::Value;

/// The first lines of every generated file.
const HEADER: &str = "\
# Generated from the wire types in crates/torii-resources (do not edit): to regenerate, run
#   TORII_UPDATE_CRDS=1 cargo test -p torii-resources --test crds
";

/// One generated CRD: its file name and its YAML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrdFile {
    /// `<group>_<plural>.yaml`, e.g. `torii.dev_originpools.yaml`.
    pub name: String,
    /// The CRD as YAML, with a header comment.
    pub yaml: String,
}

/// The CRDs of every torii kind, in a fixed order.
pub fn definitions() -> Vec<CustomResourceDefinition> {
    [
        HealthMonitor::crd(),
        OriginPool::crd(),
        LoadBalancer::crd(),
        Comparison::crd(),
        Rollout::crd(),
    ]
    .into_iter()
    .map(finish)
    .collect()
}

/// The CRDs as the files checked in under `deploy/crds/`.
pub fn files() -> Vec<CrdFile> {
    definitions()
        .iter()
        .map(|crd| CrdFile {
            name: format!("{}_{}.yaml", crd.spec.group, crd.spec.names.plural),
            yaml: format!(
                "{HEADER}{}",
                serde_yaml_ng::to_string(crd).expect("a CRD is plain data and serializes")
            ),
        })
        .collect()
}

/// Drops `nullable: true`, which `kube` puts on every `Option` field: with it the API server
/// keeps an explicit `null`, which CEL rules then see as a present field of the wrong type.
/// Without it a `null` is pruned, as file mode reads it (`None`).
fn finish(crd: CustomResourceDefinition) -> CustomResourceDefinition {
    let mut value = serde_json::to_value(&crd).expect("a CRD is plain data and serializes");
    drop_nullable(&mut value);
    serde_json::from_value(value).expect("removing nullable keeps a valid CRD")
}

/// Removes every boolean `nullable` member below `value`.
fn drop_nullable(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("nullable").is_some_and(Value::is_boolean) {
                map.remove("nullable");
            }
            map.values_mut().for_each(drop_nullable);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nullable),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_status_columns_short_names_and_the_torii_category() {
        let crds = definitions();
        let names: Vec<_> = crds.iter().map(|c| c.spec.names.kind.as_str()).collect();
        assert_eq!(
            names,
            [
                "HealthMonitor",
                "OriginPool",
                "LoadBalancer",
                "Comparison",
                "Rollout"
            ]
        );
        for crd in &crds {
            let kind = &crd.spec.names.kind;
            assert_eq!(crd.spec.group, "torii.dev", "{kind}");
            assert_eq!(crd.spec.scope, "Namespaced", "{kind}");
            assert_eq!(
                crd.spec.names.categories.as_deref(),
                Some(&["torii".to_owned()][..]),
                "{kind}"
            );
            assert_eq!(crd.spec.names.short_names.as_ref().map(Vec::len), Some(1));
            let version = &crd.spec.versions[0];
            assert_eq!(version.name, "v1alpha1");
            assert!(version.served && version.storage, "{kind}");
            let status = version
                .subresources
                .as_ref()
                .and_then(|s| s.status.as_ref());
            assert!(status.is_some(), "{kind} has a status subresource");
            let columns = version.additional_printer_columns.as_deref().unwrap_or(&[]);
            assert!(
                columns
                    .iter()
                    .any(|c| c.json_path == ".metadata.creationTimestamp"),
                "{kind} prints its age"
            );
            let schema = serde_json::to_value(&version.schema).expect("serializes");
            let text = schema.to_string();
            assert!(!text.contains("nullable"), "{kind}: {text}");
            assert!(schema["openAPIV3Schema"]["properties"]["status"].is_object());
            assert_eq!(
                schema["openAPIV3Schema"]["required"],
                serde_json::json!(["spec"])
            );
        }
    }

    #[test]
    fn file_names_follow_the_gateway_api_layout() {
        let names: Vec<_> = files().into_iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            [
                "torii.dev_healthmonitors.yaml",
                "torii.dev_originpools.yaml",
                "torii.dev_loadbalancers.yaml",
                "torii.dev_comparisons.yaml",
                "torii.dev_rollouts.yaml"
            ]
        );
    }

    #[test]
    fn drops_only_boolean_nullable_members() {
        let mut value = serde_json::json!({
            "nullable": true,
            "properties": {"nullable": {"type": "string", "nullable": true}, "a": [{"nullable": false}]}
        });
        drop_nullable(&mut value);
        assert_eq!(
            value,
            serde_json::json!({"properties": {"nullable": {"type": "string"}, "a": [{}]}})
        );
    }
}
