//! `torii validate`: load and translate, print every problem, exit 0 when valid, 1 when not.

use crate::FileArgs;
use std::process::ExitCode;
use torii_config::status::{Condition, ConditionStatus, StatusReport};
use torii_resources::LoadReport;
use torii_translate::{translate, TranslateOptions};

/// Arguments of `torii validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub files: FileArgs,
}

/// Runs `torii validate`.
pub fn main(args: ValidateArgs) -> ExitCode {
    let report = torii_resources::load_paths(&args.files.paths);
    for warning in &report.warnings {
        println!("warning: {warning}");
    }
    for error in &report.errors {
        println!("error: {error}");
    }
    if !report.errors.is_empty() {
        println!("{} error(s); nothing else checked", report.errors.len());
        return ExitCode::from(1);
    }
    let translation = translate(
        &report.set,
        &TranslateOptions {
            controller_name: "torii.dev/gateway-controller".into(),
            default_address: std::net::Ipv4Addr::UNSPECIFIED.into(),
        },
    );
    let problems = problems(&report, &translation.status);
    for problem in &problems {
        println!("error: {problem}");
    }
    for note in &translation.status.notes {
        println!("note: {note}");
    }
    if !problems.is_empty() {
        println!("{} problem(s)", problems.len());
        ExitCode::from(1)
    } else {
        println!("valid: {} object(s)", report.set.len());
        ExitCode::SUCCESS
    }
}

/// One line per condition that signals a problem, each with the object's file and line:
/// Gateways and listeners, routes per parent, and torii's own kinds.
fn problems(report: &LoadReport, status: &StatusReport) -> Vec<String> {
    let mut lines = Vec::new();
    let origin_of = |kind: &str, namespace: &str, name: &str| -> String {
        report
            .origin_of(&torii_resources::ObjectKey {
                kind: kind.to_string(),
                namespace: namespace.to_string(),
                name: name.to_string(),
            })
            .map(|o| format!("{o}: "))
            .unwrap_or_default()
    };
    let mut print = |prefix: String, what: String, conditions: &[Condition]| {
        for condition in conditions.iter().filter(|c| is_problem(c)) {
            lines.push(format!(
                "{prefix}{what}: {} is {:?} ({}): {}",
                condition.type_, condition.status, condition.reason, condition.message
            ));
        }
    };
    for gateway in &status.gateways {
        let prefix = origin_of("Gateway", &gateway.gateway.namespace, &gateway.gateway.name);
        let what = format!("Gateway {}", gateway.gateway);
        print(prefix.clone(), what.clone(), &gateway.conditions);
        for listener in &gateway.listeners {
            print(
                prefix.clone(),
                format!("{what}: spec.listeners[name={}]", listener.name),
                &listener.conditions,
            );
        }
    }
    for route in &status.routes {
        let prefix = origin_of(
            route.route.kind.as_str(),
            &route.route.namespace,
            &route.route.name,
        );
        for parent in &route.parents {
            print(
                prefix.clone(),
                format!("{}: spec.parentRefs[{}]", route.route, parent.parent_ref),
                &parent.conditions,
            );
        }
    }
    for object in status.load_balancing.iter().chain(&status.migrations) {
        let prefix = origin_of(object.kind, &object.namespace, &object.name);
        let what = format!("{} {}/{}", object.kind, object.namespace, object.name);
        print(prefix, what, &object.conditions);
    }
    lines
}

/// A condition that signals a problem: a positive-polarity condition that is False, or
/// `Conflicted` that is True.
fn is_problem(condition: &Condition) -> bool {
    match condition.type_ {
        "Conflicted" => condition.status == ConditionStatus::True,
        _ => condition.status == ConditionStatus::False,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn reports_problems_of_every_torii_kind_with_file_and_line() {
        let text = "apiVersion: torii.dev/v1alpha1
kind: OriginPool
metadata: {name: p}
spec: {origins: []}
---
apiVersion: torii.dev/v1alpha1
kind: Comparison
metadata: {name: c}
spec:
  targetRef: {kind: HTTPRoute, name: shop}
  candidate: {name: shop-k8s, port: 80}
  sampling: {percent: 0}
---
apiVersion: torii.dev/v1alpha1
kind: Rollout
metadata: {name: r, namespace: apps}
spec:
  targetRef: {kind: HTTPRoute, name: shop}
  stableRef: {name: a, port: 80}
  candidateRef: {name: b, port: 80}
  steps: [{weight: 100}]
";
        let mut report = LoadReport::default();
        torii_resources::parse_yaml(Path::new("m.yaml"), text, &mut report);
        assert!(report.is_ok(), "{:?}", report.errors);
        let translation = translate(&report.set, &TranslateOptions::default());
        let lines = problems(&report, &translation.status);
        let expected = [
            "m.yaml:1: OriginPool default/p: Accepted is False (Invalid): spec.origins: a pool needs at least one origin",
            "m.yaml:6: Comparison default/c: Accepted is False (Invalid): spec.sampling.percent: must be above 0 and at most 100, got 0",
            "m.yaml:6: Comparison default/c: ResolvedRefs is False (TargetNotFound): spec.targetRef: HTTPRoute default/shop does not exist",
            "m.yaml:14: Rollout apps/r: ResolvedRefs is False (TargetNotFound): spec.targetRef: HTTPRoute apps/shop does not exist",
        ];
        for line in expected {
            assert!(
                lines.iter().any(|l| l.starts_with(line)),
                "missing {line:?} in {lines:#?}"
            );
        }
        assert_eq!(lines.len(), 4, "{lines:#?}");
    }
}
