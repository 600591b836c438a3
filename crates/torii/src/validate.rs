//! `torii validate`: load and translate, print every problem, exit 0 when valid, 1 when not.

use crate::FileArgs;
use std::collections::HashSet;
use std::path::Path;
use std::process::ExitCode;
use torii_config::status::{Condition, ConditionStatus, StatusReport};
use torii_resources::{LoadReport, Origin, SourceText};
use torii_translate::{translate, TranslateOptions};

/// Arguments of `torii validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub files: FileArgs,
}

/// Runs `torii validate`.
pub fn main(args: ValidateArgs) -> ExitCode {
    let texts = torii_resources::read_paths(&args.files.paths);
    let report = torii_resources::parse_texts(&texts);
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
    let problems = problems(&report, &texts, &translation.status);
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

/// One line per problem a condition reports, each with the object's file and line: Gateways
/// and listeners, routes per parent, and torii's own kinds. A problem whose message starts with
/// a field path (`spec.rules[0].backendRefs[1]: …`) is placed on that field's line.
fn problems(report: &LoadReport, texts: &[SourceText], status: &StatusReport) -> Vec<String> {
    let mut lines = Vec::new();
    let mut seen = HashSet::new();
    let origin_of = |kind: &str, namespace: &str, name: &str| -> Option<Origin> {
        report
            .origin_of(&torii_resources::ObjectKey {
                kind: kind.to_string(),
                namespace: namespace.to_string(),
                name: name.to_string(),
            })
            .cloned()
    };
    // `what` is the object, `context` where in it the condition sits (a parentRef, a
    // listener): a problem with a field path names the field instead.
    let mut print =
        |origin: Option<&Origin>, what: &str, context: Option<&str>, conditions: &[Condition]| {
            for condition in conditions.iter().filter(|c| is_problem(c)) {
                for (field, message) in split_problems(&condition.message) {
                    let place = field.as_deref().or(context);
                    let line = field
                        .as_deref()
                        .zip(origin)
                        .and_then(|(field, origin)| field_line(texts, origin, field));
                    let line = match (origin, place) {
                        (Some(origin), place) => {
                            let origin = Origin {
                                line: line.unwrap_or(origin.line),
                                ..origin.clone()
                            };
                            match place {
                                Some(place) => format!("{origin}: {what}: {place}: "),
                                None => format!("{origin}: {what}: "),
                            }
                        }
                        (None, Some(place)) => format!("{what}: {place}: "),
                        (None, None) => format!("{what}: "),
                    };
                    let line = format!(
                        "{line}{} is {:?} ({}): {message}",
                        condition.type_, condition.status, condition.reason
                    );
                    // A route's reference problems repeat for each of its parents: print them once.
                    if seen.insert(line.clone()) {
                        lines.push(line);
                    }
                }
            }
        };
    for gateway in &status.gateways {
        let origin = origin_of("Gateway", &gateway.gateway.namespace, &gateway.gateway.name);
        let what = format!("Gateway {}", gateway.gateway);
        print(origin.as_ref(), &what, None, &gateway.conditions);
        let wire = report.set.gateways.iter().find(|g| {
            g.object.metadata.name.as_deref() == Some(gateway.gateway.name.as_ref())
                && g.object.metadata.namespace.as_deref()
                    == Some(gateway.gateway.namespace.as_ref())
        });
        for listener in &gateway.listeners {
            // The listener's own line, when its index in the Gateway is known.
            let index = wire.and_then(|g| {
                g.object
                    .spec
                    .listeners
                    .iter()
                    .position(|l| l.name == listener.name.as_ref())
            });
            let listener_origin = origin.as_ref().map(|o| Origin {
                line: index
                    .and_then(|i| field_line(texts, o, &format!("spec.listeners[{i}]")))
                    .unwrap_or(o.line),
                ..o.clone()
            });
            print(
                listener_origin.as_ref(),
                &what,
                Some(&format!("spec.listeners[name={}]", listener.name)),
                &listener.conditions,
            );
        }
    }
    for route in &status.routes {
        let origin = origin_of(
            route.route.kind.as_str(),
            &route.route.namespace,
            &route.route.name,
        );
        for parent in &route.parents {
            print(
                origin.as_ref(),
                &route.route.to_string(),
                Some(&format!("spec.parentRefs[{}]", parent.parent_ref)),
                &parent.conditions,
            );
        }
    }
    for object in status.load_balancing.iter().chain(&status.migrations) {
        let origin = origin_of(object.kind, &object.namespace, &object.name);
        let what = format!("{} {}/{}", object.kind, object.namespace, object.name);
        print(origin.as_ref(), &what, None, &object.conditions);
    }
    lines
}

/// The line of `field` of the object read from `origin`, from the file's text.
fn field_line(texts: &[SourceText], origin: &Origin, field: &str) -> Option<usize> {
    let text = texts
        .iter()
        .find(|t| t.path.as_path() == Path::new(origin.file.as_ref()))?
        .text
        .as_ref()
        .ok()?;
    torii_resources::locate_field(text, origin.line, field)
}

/// The problems of one condition message (translation joins them with `; `), each with the
/// field path it starts with, if any: `spec.rules[0]: backendRefs[1]: Service a/b does not
/// exist` is (`spec.rules[0].backendRefs[1]`, `Service a/b does not exist`).
fn split_problems(message: &str) -> Vec<(Option<String>, &str)> {
    // (field, where the problem's text starts, where it ends) per problem.
    let mut found: Vec<(Option<String>, usize, usize)> = Vec::new();
    let mut start = 0;
    let ends = message
        .match_indices("; ")
        .map(|(i, _)| i)
        .chain([message.len()]);
    for end in ends {
        let piece = &message[start..end];
        match (field_prefix(piece), found.last_mut()) {
            (Some((field, rest)), _) => found.push((Some(field), end - rest.len(), end)),
            // A `; ` inside one problem's message: it goes on.
            (None, Some(last)) => last.2 = end,
            (None, None) => found.push((None, start, end)),
        }
        start = end + 2;
    }
    found
        .into_iter()
        .map(|(field, from, to)| (field, &message[from..to]))
        .collect()
}

/// The field path `piece` starts with and the rest: `spec.rules[0]: backendRefs[1]: text`
/// is `spec.rules[0].backendRefs[1]` and `text` (translation writes each level of context as
/// `level: `).
fn field_prefix(piece: &str) -> Option<(String, &str)> {
    let path_like = |token: &str| {
        token.starts_with(|c: char| c.is_ascii_lowercase())
            && token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._[]=-".contains(c))
    };
    let (first, mut rest) = piece.split_once(": ")?;
    if !(first.starts_with("spec") || first.starts_with("metadata")) || !path_like(first) {
        return None;
    }
    let mut field = first.to_owned();
    while let Some((token, after)) = rest.split_once(": ") {
        if !path_like(token) {
            break;
        }
        field.push('.');
        field.push_str(token);
        rest = after;
    }
    Some((field, rest))
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
        let texts = [SourceText {
            path: "m.yaml".into(),
            text: Ok(text.to_owned()),
        }];
        let lines = problems(&report, &texts, &translation.status);
        // One line per problem, each on the line of its field.
        let expected = [
            "m.yaml:4: OriginPool default/p: spec.origins: Accepted is False (Invalid): a pool needs at least one origin",
            "m.yaml:12: Comparison default/c: spec.sampling.percent: Accepted is False (Invalid): must be above 0 and at most 100, got 0",
            "m.yaml:10: Comparison default/c: spec.targetRef: ResolvedRefs is False (TargetNotFound): HTTPRoute default/shop does not exist",
            "m.yaml:11: Comparison default/c: spec.candidate: ResolvedRefs is False (TargetNotFound): Service default/shop-k8s does not exist",
            "m.yaml:18: Rollout apps/r: spec.targetRef: ResolvedRefs is False (TargetNotFound): HTTPRoute apps/shop does not exist",
            "m.yaml:19: Rollout apps/r: spec.stableRef: ResolvedRefs is False (TargetNotFound): Service apps/a does not exist",
            "m.yaml:20: Rollout apps/r: spec.candidateRef: ResolvedRefs is False (TargetNotFound): Service apps/b does not exist",
        ];
        for line in expected {
            assert!(
                lines.iter().any(|l| l.starts_with(line)),
                "missing {line:?} in {lines:#?}"
            );
        }
        assert_eq!(lines.len(), 7, "{lines:#?}");
    }

    #[test]
    fn splits_condition_messages_into_problems_with_fields() {
        type Case = (
            &'static str,
            &'static [(Option<&'static str>, &'static str)],
        );
        let cases: &[Case] = &[
            (
                "spec.rules[0].backendRefs[1]: Service a/b does not exist",
                &[(Some("spec.rules[0].backendRefs[1]"), "Service a/b does not exist")],
            ),
            // Levels of context make one field path.
            (
                "spec.rules[0]: backendRefs[1]: filters[0]: requestMirror.backendRef: Service a/m does not exist",
                &[(
                    Some("spec.rules[0].backendRefs[1].filters[0].requestMirror.backendRef"),
                    "Service a/m does not exist",
                )],
            ),
            (
                "spec.rules[0].backendRefs[0]: x; spec.rules[1].filters[0].extensionRef: y",
                &[
                    (Some("spec.rules[0].backendRefs[0]"), "x"),
                    (Some("spec.rules[1].filters[0].extensionRef"), "y"),
                ],
            ),
            // A `; ` inside one problem's message does not start another.
            (
                "spec.origins[0]: a; b: c; spec.origins[1]: d",
                &[(Some("spec.origins[0]"), "a; b: c"), (Some("spec.origins[1]"), "d")],
            ),
            ("no field here", &[(None, "no field here")]),
            (
                "listener http: bad; spec.x: y",
                &[(None, "listener http: bad"), (Some("spec.x"), "y")],
            ),
        ];
        for (message, expected) in cases {
            let expected: Vec<(Option<String>, &str)> = expected
                .iter()
                .map(|(field, rest)| (field.map(str::to_owned), *rest))
                .collect();
            assert_eq!(split_problems(message), expected, "{message}");
        }
    }
}
