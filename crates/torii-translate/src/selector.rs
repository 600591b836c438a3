//! Kubernetes label selectors (`matchLabels` and `matchExpressions`), as a listener's
//! `allowedRoutes.namespaces.selector` uses them.

use torii_resources::wire::gateway::gateways::GatewayListenersAllowedRoutesNamespacesSelector as WireSelector;

/// A validated label selector: every requirement must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LabelSelector {
    requirements: Vec<Requirement>,
}

/// One requirement on one label.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    /// The label has one of these values (`matchLabels` gives one value).
    In(String, Vec<String>),
    /// The label is absent or has none of these values.
    NotIn(String, Vec<String>),
    /// The label is present.
    Exists(String),
    /// The label is absent.
    DoesNotExist(String),
}

impl LabelSelector {
    /// Validates a wire selector. An empty selector selects everything.
    pub fn parse(wire: &WireSelector) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for (key, value) in wire.match_labels.iter().flatten() {
            requirements.push(Requirement::In(key.clone(), vec![value.clone()]));
        }
        for expr in wire.match_expressions.iter().flatten() {
            let values = expr.values.clone().unwrap_or_default();
            let key = expr.key.clone();
            let requirement = match expr.operator.as_str() {
                "In" | "NotIn" if values.is_empty() => {
                    return Err(format!(
                        "selector operator {} on {key:?} needs values",
                        expr.operator
                    ))
                }
                "Exists" | "DoesNotExist" if !values.is_empty() => {
                    return Err(format!(
                        "selector operator {} on {key:?} takes no values",
                        expr.operator
                    ))
                }
                "In" => Requirement::In(key, values),
                "NotIn" => Requirement::NotIn(key, values),
                "Exists" => Requirement::Exists(key),
                "DoesNotExist" => Requirement::DoesNotExist(key),
                other => return Err(format!("unknown selector operator {other:?}")),
            };
            requirements.push(requirement);
        }
        Ok(LabelSelector { requirements })
    }

    /// Whether an object whose labels `label` looks up satisfies every requirement.
    pub fn matches<'v>(&self, label: impl Fn(&str) -> Option<&'v str>) -> bool {
        self.requirements
            .iter()
            .all(|requirement| match requirement {
                Requirement::In(key, values) => {
                    label(key).is_some_and(|v| values.iter().any(|x| x == v))
                }
                Requirement::NotIn(key, values) => {
                    label(key).is_none_or(|v| !values.iter().any(|x| x == v))
                }
                Requirement::Exists(key) => label(key).is_some(),
                Requirement::DoesNotExist(key) => label(key).is_none(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn selector(yaml: &str) -> Result<LabelSelector, String> {
        let wire: WireSelector = serde_yaml_ng::from_str(yaml).expect("test selector parses");
        LabelSelector::parse(&wire)
    }

    #[test]
    fn selects_by_labels_and_expressions() {
        let labels: BTreeMap<&str, &str> = [("env", "prod"), ("team", "a")].into();
        let lookup = |k: &str| labels.get(k).copied();
        let cases = [
            ("{}", true),
            ("matchLabels: {env: prod}", true),
            ("matchLabels: {env: dev}", false),
            ("matchLabels: {env: prod, team: b}", false),
            (
                "matchExpressions: [{key: env, operator: In, values: [dev, prod]}]",
                true,
            ),
            (
                "matchExpressions: [{key: env, operator: In, values: [dev]}]",
                false,
            ),
            (
                "matchExpressions: [{key: env, operator: NotIn, values: [dev]}]",
                true,
            ),
            (
                "matchExpressions: [{key: env, operator: NotIn, values: [prod]}]",
                false,
            ),
            (
                "matchExpressions: [{key: zone, operator: NotIn, values: [x]}]",
                true,
            ),
            ("matchExpressions: [{key: team, operator: Exists}]", true),
            ("matchExpressions: [{key: zone, operator: Exists}]", false),
            (
                "matchExpressions: [{key: zone, operator: DoesNotExist}]",
                true,
            ),
            (
                "matchExpressions: [{key: team, operator: DoesNotExist}]",
                false,
            ),
        ];
        for (yaml, expected) in cases {
            let selector = selector(yaml).expect("valid selector");
            assert_eq!(selector.matches(lookup), expected, "{yaml}");
        }
    }

    #[test]
    fn rejects_malformed_expressions() {
        for yaml in [
            "matchExpressions: [{key: env, operator: In}]",
            "matchExpressions: [{key: env, operator: Exists, values: [a]}]",
            "matchExpressions: [{key: env, operator: Equals, values: [a]}]",
        ] {
            assert!(selector(yaml).is_err(), "{yaml}");
        }
    }
}
