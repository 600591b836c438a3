//! The status torii wants on one object, merged into the status the object has: pure
//! functions, so "only what changed is written" is a comparison of two values.
//!
//! - Conditions keep their `lastTransitionTime` when the same type had the same status.
//! - Route `status.parents`: torii's entries (its `controllerName`) are replaced in place,
//!   new ones appended, stale ones removed; other controllers' entries are never touched.
//! - GatewayClass and Gateway: torii owns them (their class names torii's controller), but
//!   fields torii does not write are kept.

use serde_json::{json, Map, Value};
use torii_config::status::{
    Condition, ConditionStatus, GatewayClassStatus, GatewayStatus, ListenerStatus,
};

/// The group of every route kind a listener supports.
const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";
/// The longest condition message the Gateway API CRDs accept.
const MESSAGE_MAX: usize = 32768;

/// What torii wants on one object.
#[derive(Debug, Clone)]
pub(crate) enum Desired {
    /// A GatewayClass of torii's controller.
    Class(GatewayClassStatus),
    /// A Gateway of such a class, with the addresses to report.
    Gateway(GatewayStatus, Vec<Value>),
    /// A route: torii's parent entries (`parentRef` as in the spec, conditions); empty to
    /// remove stale ones.
    Route(Vec<(Value, Vec<Condition>)>),
    /// An object of torii's own kinds: its conditions and what the runtime knows.
    Torii {
        /// The generation the translation saw.
        generation: Option<i64>,
        /// `Accepted`, `ResolvedRefs`.
        conditions: Vec<Condition>,
        /// Runtime fields (health, active pool, counts, rollout state).
        fields: Map<String, Value>,
    },
}

impl Desired {
    /// The whole status to write, given the object's current one (`Value::Null`: none).
    pub fn status(&self, observed: &Value, controller: &str, now: &str) -> Value {
        match self {
            Desired::Class(class) => gateway_class(class, observed, now),
            Desired::Gateway(gateway, addresses) => {
                gateway_status(gateway, addresses, observed, now)
            }
            Desired::Route(parents) => route_parents(parents, controller, observed, now),
            Desired::Torii {
                generation,
                conditions: list,
                fields,
            } => {
                let mut status = fields.clone();
                if let Some(generation) = generation {
                    status.insert("observedGeneration".into(), json!(generation));
                }
                status.insert(
                    "conditions".into(),
                    conditions(list, observed.get("conditions"), now),
                );
                Value::Object(status)
            }
        }
    }
}

/// `"True"`, `"False"` or `"Unknown"`.
fn status_text(status: ConditionStatus) -> &'static str {
    match status {
        ConditionStatus::True => "True",
        ConditionStatus::False => "False",
        ConditionStatus::Unknown => "Unknown",
    }
}

/// `desired` as `metav1.Condition`s; each keeps the `lastTransitionTime` of the observed
/// condition of its type when that had the same status, else gets `now`.
pub(crate) fn conditions(desired: &[Condition], observed: Option<&Value>, now: &str) -> Value {
    let observed = observed.and_then(Value::as_array);
    let list = desired
        .iter()
        .map(|condition| {
            let status = status_text(condition.status);
            let kept = observed
                .and_then(|list| {
                    list.iter().find(|o| {
                        o.get("type").and_then(Value::as_str) == Some(condition.type_)
                            && o.get("status").and_then(Value::as_str) == Some(status)
                    })
                })
                .and_then(|o| o.get("lastTransitionTime"))
                .cloned();
            let mut message = condition.message.clone();
            if message.len() > MESSAGE_MAX {
                let mut end = MESSAGE_MAX;
                while !message.is_char_boundary(end) {
                    end -= 1;
                }
                message.truncate(end);
            }
            let mut value = json!({
                "type": condition.type_,
                "status": status,
                "reason": condition.reason,
                "message": message,
                "lastTransitionTime": kept.unwrap_or_else(|| Value::from(now)),
            });
            if let Some(generation) = condition.observed_generation {
                value["observedGeneration"] = json!(generation);
            }
            value
        })
        .collect();
    Value::Array(list)
}

/// The observed status as a map to build on (fields torii does not write are kept).
fn base(observed: &Value) -> Map<String, Value> {
    observed.as_object().cloned().unwrap_or_default()
}

/// GatewayClass status: `Accepted` from the translation and `SupportedVersion`.
fn gateway_class(class: &GatewayClassStatus, observed: &Value, now: &str) -> Value {
    let mut list = class.conditions.clone();
    let generation = list.first().and_then(|c| c.observed_generation);
    if !list.iter().any(|c| c.type_ == "SupportedVersion") {
        let mut supported = Condition::ok(
            "SupportedVersion",
            "SupportedVersion",
            "torii supports the Gateway API version of the installed CRDs (v1.5)",
        );
        supported.observed_generation = generation;
        list.push(supported);
    }
    let mut status = base(observed);
    status.insert(
        "conditions".into(),
        conditions(&list, observed.get("conditions"), now),
    );
    Value::Object(status)
}

/// Gateway status: addresses, conditions, and one entry per listener.
fn gateway_status(
    gateway: &GatewayStatus,
    addresses: &[Value],
    observed: &Value,
    now: &str,
) -> Value {
    let mut status = base(observed);
    if addresses.is_empty() {
        status.remove("addresses");
    } else {
        status.insert("addresses".into(), Value::Array(addresses.to_vec()));
    }
    status.insert(
        "conditions".into(),
        conditions(&gateway.conditions, observed.get("conditions"), now),
    );
    let observed_listeners = observed.get("listeners").and_then(Value::as_array);
    let listeners = gateway
        .listeners
        .iter()
        .map(|listener| {
            let old = observed_listeners.and_then(|list| {
                list.iter()
                    .find(|o| o.get("name").and_then(Value::as_str) == Some(&listener.name))
            });
            listener_status(listener, old.and_then(|o| o.get("conditions")), now)
        })
        .collect();
    status.insert("listeners".into(), Value::Array(listeners));
    Value::Object(status)
}

fn listener_status(listener: &ListenerStatus, observed: Option<&Value>, now: &str) -> Value {
    let kinds: Vec<Value> = listener
        .supported_kinds
        .iter()
        .map(|kind| json!({"group": GATEWAY_GROUP, "kind": kind}))
        .collect();
    json!({
        "name": listener.name,
        "supportedKinds": kinds,
        "attachedRoutes": listener.attached_routes,
        "conditions": conditions(&listener.conditions, observed, now),
    })
}

/// A route's `status.parents` with torii's entries set to `ours`: an existing entry of
/// torii's for the same parentRef is replaced in place, new ones are appended, torii's other
/// entries removed; other controllers' entries stay as they are, where they are.
fn route_parents(
    ours: &[(Value, Vec<Condition>)],
    controller: &str,
    observed: &Value,
    now: &str,
) -> Value {
    let is_ours =
        |entry: &Value| entry.get("controllerName").and_then(Value::as_str) == Some(controller);
    let entry = |parent_ref: &Value, list: &[Condition], old: Option<&Value>| {
        json!({
            "parentRef": parent_ref,
            "controllerName": controller,
            "conditions": conditions(list, old.and_then(|o| o.get("conditions")), now),
        })
    };
    let observed_parents: &[Value] = observed
        .get("parents")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    let mut placed = vec![false; ours.len()];
    let mut parents = Vec::new();
    for old in observed_parents {
        if !is_ours(old) {
            parents.push(old.clone());
            continue;
        }
        let found = ours
            .iter()
            .enumerate()
            .find(|(i, (parent_ref, _))| !placed[*i] && old.get("parentRef") == Some(parent_ref));
        if let Some((i, (parent_ref, list))) = found {
            placed[i] = true;
            parents.push(entry(parent_ref, list, Some(old)));
        }
    }
    for (i, (parent_ref, list)) in ours.iter().enumerate() {
        if !placed[i] {
            parents.push(entry(parent_ref, list, None));
        }
    }
    let mut status = base(observed);
    status.insert("parents".into(), Value::Array(parents));
    Value::Object(status)
}

/// Whether a status `observed` has entries of `controller` in `parents`.
pub(crate) fn has_parents_of(observed: &Value, controller: &str) -> bool {
    observed
        .get("parents")
        .and_then(Value::as_array)
        .is_some_and(|list| {
            list.iter()
                .any(|p| p.get("controllerName").and_then(Value::as_str) == Some(controller))
        })
}

/// Whether writing `desired` over `observed` changes nothing that counts. `updatedAt` (a
/// Comparison's refresh time) is not a change by itself.
pub(crate) fn same(observed: &Value, desired: &Value) -> bool {
    match (observed, desired) {
        (Value::Object(a), Value::Object(b))
            if a.contains_key("updatedAt") || b.contains_key("updatedAt") =>
        {
            let strip = |m: &Map<String, Value>| {
                let mut m = m.clone();
                m.remove("updatedAt");
                m
            };
            strip(a) == strip(b)
        }
        (Value::Null, Value::Object(b)) => b.is_empty(),
        _ => observed == desired,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TORII: &str = "torii.dev/gateway-controller";
    const NOW: &str = "2026-01-02T03:04:05Z";

    fn accepted(status: bool, generation: i64) -> Condition {
        let mut c = if status {
            Condition::ok("Accepted", "Accepted", "route is attached")
        } else {
            Condition::not("Accepted", "NotAllowedByListeners", "no")
        };
        c.observed_generation = Some(generation);
        c
    }

    // metav1.Condition: lastTransitionTime is "the last time the condition transitioned
    // from one status to another"; reason, message or generation alone do not move it.
    #[test]
    fn transition_times_move_only_with_the_status() {
        let observed = json!([{"type": "Accepted", "status": "True", "reason": "Accepted",
            "message": "old", "observedGeneration": 1, "lastTransitionTime": "2020-01-01T00:00:00Z"}]);
        let cases = [
            (accepted(true, 2), "2020-01-01T00:00:00Z"),
            (accepted(false, 2), NOW),
        ];
        for (condition, time) in cases {
            let got = conditions(&[condition], Some(&observed), NOW);
            assert_eq!(got[0]["lastTransitionTime"], time);
            assert_eq!(got[0]["observedGeneration"], 2);
        }
    }

    fn parent(name: &str) -> Value {
        json!({"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": name})
    }

    // Gateway API RouteParentStatus: "implementations MUST ... only populate/remove entries
    // with their own controllerName".
    #[test]
    fn route_parents_of_other_controllers_are_never_touched() {
        let other = json!({"parentRef": parent("theirs"), "controllerName": "example.com/other",
            "conditions": [{"type": "Accepted", "status": "False", "reason": "X", "message": "",
            "lastTransitionTime": "2020-01-01T00:00:00Z"}]});
        let stale = json!({"parentRef": parent("gone"), "controllerName": TORII, "conditions": []});
        type Ours = Vec<(Value, Vec<Condition>)>;
        let cases: Vec<(&str, Value, Ours, Vec<&str>)> = vec![
            (
                "new entry appended",
                json!({"parents": [other.clone()]}),
                vec![(parent("gw"), vec![accepted(true, 1)])],
                vec!["theirs", "gw"],
            ),
            (
                "stale entry removed",
                json!({"parents": [stale.clone(), other.clone()]}),
                vec![(parent("gw"), vec![accepted(true, 1)])],
                vec!["theirs", "gw"],
            ),
            (
                "all of ours removed",
                json!({"parents": [stale.clone(), other.clone()]}),
                vec![],
                vec!["theirs"],
            ),
            (
                "no status yet",
                Value::Null,
                vec![(parent("gw"), vec![accepted(true, 1)])],
                vec!["gw"],
            ),
        ];
        for (name, observed, ours, expected) in cases {
            let status = route_parents(&ours, TORII, &observed, NOW);
            let names: Vec<&str> = status["parents"]
                .as_array()
                .expect("parents")
                .iter()
                .map(|p| p["parentRef"]["name"].as_str().expect("name"))
                .collect();
            assert_eq!(names, expected, "{name}");
            let theirs = status["parents"]
                .as_array()
                .expect("parents")
                .iter()
                .find(|p| p["controllerName"] != TORII);
            if observed.get("parents").is_some() {
                assert_eq!(theirs, Some(&other), "{name}: the other entry is unchanged");
            }
        }
    }

    #[test]
    fn an_unchanged_route_status_is_the_same_value() {
        let ours = vec![(parent("gw"), vec![accepted(true, 3)])];
        let first = route_parents(&ours, TORII, &Value::Null, NOW);
        // Written, read back later: computing again at another time changes nothing.
        let again = route_parents(&ours, TORII, &first, "2030-01-01T00:00:00Z");
        assert!(same(&first, &again));
        // Our entry first, another controller's after: kept in that order, no rewrite.
        let mut mixed = first.clone();
        mixed["parents"].as_array_mut().expect("parents").push(json!({
            "parentRef": parent("theirs"), "controllerName": "example.com/other", "conditions": []}));
        assert!(same(&mixed, &route_parents(&ours, TORII, &mixed, NOW)));
        // A new generation is a change.
        let newer = vec![(parent("gw"), vec![accepted(true, 4)])];
        assert!(!same(&first, &route_parents(&newer, TORII, &first, NOW)));
    }

    #[test]
    fn updated_at_alone_is_no_change() {
        let a = json!({"compared": 3, "updatedAt": "2020-01-01T00:00:00Z"});
        let b = json!({"compared": 3, "updatedAt": "2021-01-01T00:00:00Z"});
        let c = json!({"compared": 4, "updatedAt": "2020-01-01T00:00:00Z"});
        assert!(same(&a, &b));
        assert!(!same(&a, &c));
        assert!(same(&Value::Null, &json!({})));
    }

    #[test]
    fn a_gateway_class_reports_its_supported_version() {
        let mut accepted = Condition::ok("Accepted", "Accepted", "class is served by torii");
        accepted.observed_generation = Some(1);
        let class = GatewayClassStatus {
            name: "torii".into(),
            conditions: vec![accepted],
        };
        let status = gateway_class(&class, &json!({"supportedFeatures": [{"name": "X"}]}), NOW);
        let types: Vec<&str> = status["conditions"]
            .as_array()
            .expect("conditions")
            .iter()
            .map(|c| c["type"].as_str().expect("type"))
            .collect();
        assert_eq!(types, ["Accepted", "SupportedVersion"]);
        assert_eq!(status["conditions"][1]["observedGeneration"], 1);
        assert_eq!(
            status["supportedFeatures"][0]["name"], "X",
            "fields torii does not write stay"
        );
    }
}
