//! The status assertions of the upstream Gateway API conformance suite, replayed on the
//! suite's own manifests (`shared/conformance/data/cases.json`, extracted from upstream).
//!
//! Each upstream test's manifests are translated together with the base manifests, and the
//! status checks it makes before its first mutation are verified: routes and Gateways that
//! must be accepted, route conditions with their reasons, routes without accepted parents and
//! Gateways without attached routes.

use super::*;
use crate::conditions::{reason, ACCEPTED, PROGRAMMED, RESOLVED_REFS};
use regex::Regex;
use serde_json::Value;
use std::path::PathBuf;

fn cases_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/data/cases.json")
}

/// The manifests of one upstream test, with the base manifests, as YAML for [`load`].
fn manifests(data: &Value, test: &Value) -> String {
    let mut objects: Vec<&Value> = data["base_manifests"]
        .as_array()
        .expect("base manifests")
        .iter()
        .collect();
    for file in test["manifests"]
        .as_object()
        .expect("manifests by file")
        .values()
    {
        objects.extend(file.as_array().expect("manifest list"));
    }
    let mut yaml = CLASS.to_string();
    let mut next_address = 1;
    for object in objects {
        if !matches!(
            object["kind"].as_str(),
            Some(
                "Namespace"
                    | "Service"
                    | "EndpointSlice"
                    | "Gateway"
                    | "HTTPRoute"
                    | "ReferenceGrant"
            )
        ) {
            continue;
        }
        let mut object = object.clone();
        if object["kind"] == "Gateway" {
            // Like the harness: one loopback address per Gateway.
            object["spec"]["addresses"] = serde_json::json!([{"type": "IPAddress", "value": format!("127.0.1.{next_address}")}]);
            next_address += 1;
        }
        let json = object.to_string().replace("{GATEWAY_CLASS_NAME}", "torii");
        yaml.push_str("---\n");
        yaml.push_str(&json);
        yaml.push('\n');
    }
    for secret in data["suite_secrets"].as_array().expect("suite secrets") {
        if matches!(secret["kind"].as_str(), Some("self-signed" | "ca-signed")) {
            let namespace = secret["namespace"].as_str().expect("namespace");
            let name = secret["name"].as_str().expect("name");
            yaml.push_str("---\n");
            yaml.push_str(&tls_secret(namespace, name));
        }
    }
    yaml
}

/// The parent status of route `route_id` for Gateway `gateway_id`, if any.
fn parent_conditions<'t>(
    t: &'t Translation,
    route_id: &str,
    gateway_id: &str,
) -> Option<&'t [Condition]> {
    route_status(t, route_id)?
        .parents
        .iter()
        .find(|p| {
            p.parent_ref == gateway_id
                || p.parent_ref.starts_with(&format!("{gateway_id}/"))
                || p.parent_ref.starts_with(&format!("{gateway_id}:"))
        })
        .map(|p| p.conditions.as_slice())
}

fn route_status<'t>(t: &'t Translation, route_id: &str) -> Option<&'t RouteStatus> {
    t.status.routes.iter().find(|r| {
        r.route.kind == RouteKind::Http
            && format!("{}/{}", r.route.namespace, r.route.name) == route_id
    })
}

fn status_of(text: &str) -> ConditionStatus {
    match text {
        "True" => ConditionStatus::True,
        "False" => ConditionStatus::False,
        _ => ConditionStatus::Unknown,
    }
}

#[test]
fn upstream_status_assertions_hold() {
    let path = cases_path();
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipped: no conformance data at {}", path.display());
        return;
    };
    let data: Value = serde_json::from_str(&text).expect("cases.json parses");
    let condition_re =
        Regex::new(r#"\{Type: "(\w+)", Status: metav1\.Condition(\w+), Reason: "(\w*)"\}"#)
            .expect("regex");
    let args_re = Regex::new(r"^\w+\(([^,()]+)(?:, ([^,()\[{]+))?").expect("regex");
    let parent_re = Regex::new(r#"Namespace: "([^"]+)", Name: "([^"]+)""#).expect("regex");
    let mut checked = 0;
    let mut failures = Vec::new();
    for test in data["tests"].as_array().expect("tests") {
        let name = test["name"].as_str().expect("name");
        let t = run(&manifests(&data, test));
        for event in test["events"].as_array().expect("events") {
            match event["kind"].as_str() {
                Some("mutate") => break,
                Some("status") => {}
                _ => continue,
            }
            let function = event["fn"].as_str().unwrap_or_default();
            let desc = event["desc"].as_str().unwrap_or_default();
            let args = args_re.captures(desc);
            let arg = |i: usize| {
                args.as_ref()
                    .and_then(|c| c.get(i))
                    .map_or("", |m| m.as_str().trim())
            };
            let mut fail = |why: String| failures.push(format!("{name}: {desc}: {why}"));
            checked += 1;
            match function {
                "GatewayAndHTTPRoutesMustBeAccepted" => {
                    let gateway_id = event["gateway"].as_str().expect("gateway");
                    let Some(status) = t
                        .status
                        .gateways
                        .iter()
                        .find(|g| g.gateway.to_string() == gateway_id)
                    else {
                        fail("no gateway status".into());
                        continue;
                    };
                    for type_ in [ACCEPTED, PROGRAMMED] {
                        if condition(&status.conditions, type_).0 != ConditionStatus::True {
                            fail(format!("gateway {type_}: {:?}", status.conditions));
                        }
                    }
                    for route in event["routes"].as_array().expect("routes") {
                        let route = route.as_str().expect("route id");
                        match parent_conditions(&t, route, gateway_id) {
                            Some(c) if condition(c, ACCEPTED).0 == ConditionStatus::True => {}
                            other => fail(format!("{route} not accepted: {other:?}")),
                        }
                    }
                }
                "HTTPRouteMustHaveCondition" => {
                    let Some(expected) = condition_re.captures(desc) else {
                        fail("unparsed".into());
                        continue;
                    };
                    match parent_conditions(&t, arg(1), arg(2)) {
                        Some(c) => {
                            let (status, got_reason) = condition(c, &expected[1]);
                            let reason_ok = expected[3].is_empty() || got_reason == &expected[3];
                            if status != status_of(&expected[2]) || !reason_ok {
                                fail(format!("got {status:?} {got_reason}"));
                            }
                        }
                        None => fail("no parent status".into()),
                    }
                }
                "HTTPRouteMustHaveResolvedRefsConditionsTrue" => {
                    match parent_conditions(&t, arg(1), arg(2)) {
                        Some(c) if condition(c, RESOLVED_REFS) == yes(reason::RESOLVED_REFS) => {}
                        other => fail(format!("got {other:?}")),
                    }
                }
                "HTTPRouteMustHaveNoAcceptedParents" => {
                    let accepted = route_status(&t, arg(1)).is_some_and(|r| {
                        r.parents
                            .iter()
                            .any(|p| condition(&p.conditions, ACCEPTED).0 == ConditionStatus::True)
                    });
                    if accepted {
                        fail("has an accepted parent".into());
                    }
                }
                "GatewayMustHaveZeroRoutes" => {
                    let gateway_id = arg(1);
                    match t
                        .status
                        .gateways
                        .iter()
                        .find(|g| g.gateway.to_string() == gateway_id)
                    {
                        Some(g) if g.listeners.iter().all(|l| l.attached_routes == 0) => {}
                        other => fail(format!("got {other:?}")),
                    }
                }
                "HTTPRouteMustHaveParents" => {
                    let gateway = parent_re
                        .captures(desc)
                        .map(|c| format!("{}/{}", &c[1], &c[2]));
                    let expected = condition_re.captures(desc);
                    match (gateway, expected) {
                        (Some(gateway), Some(expected)) => {
                            match parent_conditions(&t, arg(1), &gateway) {
                                Some(c) => {
                                    let (status, got_reason) = condition(c, &expected[1]);
                                    if status != status_of(&expected[2])
                                        || got_reason != &expected[3]
                                    {
                                        fail(format!("got {status:?} {got_reason}"));
                                    }
                                }
                                None => fail("no parent status".into()),
                            }
                        }
                        _ => fail("unparsed".into()),
                    }
                }
                _ => checked -= 1,
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 100, "only {checked} checks ran");
}
