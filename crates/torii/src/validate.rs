//! `torii validate`: load and translate, print every problem, exit 0 when valid, 1 when not.

use crate::FileArgs;
use std::process::ExitCode;
use torii_config::status::{Condition, ConditionStatus};
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
    let mut problems = 0;
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
            problems += 1;
            println!(
                "error: {prefix}{what}: {} is {:?} ({}): {}",
                condition.type_, condition.status, condition.reason, condition.message
            );
        }
    };
    for gateway in &translation.status.gateways {
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
    for route in &translation.status.routes {
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
    for object in &translation.status.load_balancing {
        let prefix = origin_of(object.kind, &object.namespace, &object.name);
        let what = format!("{} {}/{}", object.kind, object.namespace, object.name);
        print(prefix, what, &object.conditions);
    }
    for note in &translation.status.notes {
        println!("note: {note}");
    }
    if problems > 0 {
        println!("{problems} problem(s)");
        ExitCode::from(1)
    } else {
        println!("valid: {} object(s)", report.set.len());
        ExitCode::SUCCESS
    }
}

/// A condition that signals a problem: a positive-polarity condition that is False, or
/// `Conflicted` that is True.
fn is_problem(condition: &Condition) -> bool {
    match condition.type_ {
        "Conflicted" => condition.status == ConditionStatus::True,
        _ => condition.status == ConditionStatus::False,
    }
}
