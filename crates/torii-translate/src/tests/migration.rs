//! torii's migration kinds (`Comparison`, `Rollout`): defaults, every field, the validation
//! table, references that do not resolve, conflicts, and which rules carry them.

use super::backends::{service_id, GATEWAY};
use super::lb::{cond, object_in, pool_in, status};
use super::*;
use crate::conditions::{reason, ACCEPTED, RESOLVED_REFS};
use http::{HeaderName, Method};
use std::sync::Arc;
use std::time::Duration;
use torii_config::{
    BackendId, CompareSettings, Comparison, HttpRule, MigrationId, NotificationSink,
    NotificationTarget, PoolId, Rollout, RolloutAffinity, RolloutAnalysis, RolloutStep,
};

/// The targeted rule of a Comparison in the tables: `web`.
const COMPARISON: &str =
    "targetRef: {kind: HTTPRoute, name: shop, sectionName: web}, candidate: {name: shop-k8s, port: 80}";
/// The targeted rule and backends of a Rollout in the tables: `api`.
const ROLLOUT: &str = "targetRef: {kind: HTTPRoute, name: shop, sectionName: api}, stableRef: {name: shop-vm, port: 80}, candidateRef: {name: shop-k8s, port: 80}";

/// An HTTPRoute `infra/<name>` on `infra/gw` with `rules` (a YAML flow sequence).
fn http_route(name: &str, rules: &str) -> String {
    format!(
        "---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: {name}, namespace: infra}}
spec:
  parentRefs: [{{name: gw}}]
  rules: {rules}
"
    )
}

/// The Gateway, the Services `shop-vm`, `shop-k8s`, `shop-vm-b`, `shop-old` (port 80) in
/// `infra` and `remote` in `other`, the pool `infra/k8s-pool`, and HTTPRoute `infra/shop` with
/// rules `api` and `web` (both to shop-vm and shop-k8s) and `three` (to shop-vm, shop-k8s and
/// shop-old). No route sends traffic to shop-vm-b.
fn world() -> String {
    let two = "[{name: shop-vm, port: 80}, {name: shop-k8s, port: 80, weight: 0}]";
    let three =
        "[{name: shop-vm, port: 80}, {name: shop-k8s, port: 80}, {name: shop-old, port: 80}]";
    format!(
        "{CLASS}{GATEWAY}{}{}{}{}{}{}{}",
        service("infra", "shop-vm", 80, 8080),
        service("infra", "shop-k8s", 80, 8080),
        service("infra", "shop-vm-b", 80, 8080),
        service("infra", "shop-old", 80, 8080),
        service("other", "remote", 80, 8080),
        pool_in("infra", "k8s-pool", 1),
        http_route(
            "shop",
            &format!(
                "[{{name: api, backendRefs: {two}}}, {{name: web, backendRefs: {two}}}, {{name: three, backendRefs: {three}}}]"
            )
        ),
    )
}

fn id(id: &str) -> MigrationId {
    let (namespace, name) = id.split_once('/').expect("namespace/name");
    MigrationId::new(namespace, name)
}

fn svc(name: &str) -> BackendId {
    service_id("infra", name, 80)
}

/// The rules of HTTPRoute `infra/<name>` on listener `http` of Gateway `gateway`.
fn rules<'t>(t: &'t Translation, gateway: &str, name: &str) -> &'t [Arc<HttpRule>] {
    let listener = programmed(t, gateway, "http").expect("listener is programmed");
    let attachment = listener
        .http_routes
        .iter()
        .find(|a| &*a.route.id.name == name)
        .unwrap_or_else(|| panic!("route {name} is not attached to {gateway}"));
    &attachment.route.rules
}

/// `(comparison, rollout)` names each rule of HTTPRoute `infra/shop` carries.
fn carried(t: &Translation) -> Vec<(Option<String>, Option<String>)> {
    rules(t, "infra/gw", "shop")
        .iter()
        .map(|r| {
            (
                r.migration.comparison.as_ref().map(|c| c.id.to_string()),
                r.migration.rollout.as_ref().map(|r| r.id.to_string()),
            )
        })
        .collect()
}

/// The conditions `Accepted` and `ResolvedRefs` of `kind` `id` are both `True`.
fn assert_applies(t: &Translation, kind: &str, id: &str) {
    for type_ in [ACCEPTED, RESOLVED_REFS] {
        let (s, r, message) = cond(t, kind, id, type_);
        assert_eq!(
            s,
            ConditionStatus::True,
            "{kind} {id} {type_}: {r}: {message}"
        );
    }
}

#[test]
fn minimal_objects_get_every_default() {
    let yaml = format!(
        "{}{}{}",
        world(),
        object_in("infra", "Comparison", "c", &format!("{{{COMPARISON}}}")),
        object_in(
            "infra",
            "Rollout",
            "r",
            &format!("{{{ROLLOUT}, steps: [{{weight: 100}}]}}")
        ),
    );
    let t = run(&yaml);
    assert_applies(&t, "Comparison", "infra/c");
    assert_applies(&t, "Rollout", "infra/r");
    let comparison = Comparison {
        id: id("infra/c"),
        primary: None,
        candidate: svc("shop-k8s"),
        secondary: None,
        settings: CompareSettings {
            percent: 100.0,
            methods: vec![Method::GET, Method::HEAD, Method::OPTIONS],
            ignore_headers: Vec::new(),
            ignore_json_paths: Vec::new(),
            redact_headers: Vec::new(),
            normalize_text: true,
            max_body_bytes: 1 << 20,
            max_concurrent: 256,
            timeout: Duration::from_secs(10),
        },
    };
    assert_eq!(*t.config.comparisons[&id("infra/c")], comparison);
    let rollout = Rollout {
        id: id("infra/r"),
        stable: svc("shop-vm"),
        candidate: svc("shop-k8s"),
        steps: vec![RolloutStep::Weight {
            percent: 100,
            pause: Duration::ZERO,
        }],
        analysis: RolloutAnalysis {
            min_requests: 100,
            max_error_rate: 0.01,
            max_error_rate_increase: None,
            max_latency_p99_ratio: Some(1.5),
            latency_slack: Duration::from_millis(5),
            max_diff_rate: None,
            min_compared: 100,
            interval: Duration::from_secs(5),
        },
        compare: CompareSettings::default(),
        affinity: None,
        notifications: Vec::new(),
    };
    assert_eq!(*t.config.rollouts[&id("infra/r")], rollout);
    assert_eq!(
        carried(&t),
        [
            (None, Some("infra/r".into())),
            (Some("infra/c".into()), None),
            (None, None)
        ]
    );
    // The plan the rollout engine gets is the same.
    let plan = torii_rollout::RolloutPlan::from_config(&rollout)
        .expect("an accepted rollout has a valid plan");
    assert_eq!(plan.steps().len(), 1);
    assert_eq!(plan.analysis().min_compared, 100);
}

#[test]
fn every_field_is_translated() {
    let comparison_spec = "
  targetRef: {group: gateway.networking.k8s.io, kind: HTTPRoute, name: shop, sectionName: web}
  primary: {name: shop-vm, port: 80}
  candidate: {group: torii.dev, kind: OriginPool, name: k8s-pool}
  secondary: {name: shop-vm-b, namespace: infra, port: 80}
  sampling: {percent: 0.5}
  methods: [GET, POST]
  ignore: {headers: [X-Build-Id], jsonPaths: ['$.meta.generatedAt', '$.items[*].id']}
  redactHeaders: [x-session-token]
  normalizeText: false
  maxBodyBytes: 67108864
  maxConcurrent: 65536
  timeout: 1m30s
";
    let rollout_spec = "
  targetRef: {kind: HTTPRoute, name: shop, sectionName: api}
  stableRef: {group: '', kind: Service, name: shop-vm, port: 80}
  candidateRef: {name: shop-k8s, port: 80}
  steps:
  - mirror: {duration: 1m, maxDiffRate: 0.02, minCompared: 50}
  - {weight: 1, pause: 1m}
  - {weight: 5, pause: 5m}
  - {weight: 100}
  analysis: {minRequests: 10, maxErrorRate: 0.05, maxErrorRateIncrease: 0.005, maxLatencyP99Ratio: 2, latencySlack: 10ms, maxDiffRate: 0.02, minCompared: 20, interval: 1s}
  compare: {sampling: {percent: 25}, methods: [GET], ignore: {headers: [date]}, maxConcurrent: 8, timeout: 2s}
  sessionAffinity: {cookieName: shop-version, ttl: 30m}
  notifications: [{name: ops, webhook: {url: 'https://hooks.example.com/rollouts'}}]
";
    let yaml = format!(
        "{}{}{}",
        world(),
        object_in("infra", "Comparison", "c", comparison_spec),
        object_in("infra", "Rollout", "r", rollout_spec),
    );
    let t = run(&yaml);
    assert_applies(&t, "Comparison", "infra/c");
    assert_applies(&t, "Rollout", "infra/r");
    let header = |name: &str| HeaderName::from_bytes(name.as_bytes()).expect("header name");
    let comparison = Comparison {
        id: id("infra/c"),
        primary: Some(svc("shop-vm")),
        candidate: BackendId::Pool(PoolId::new("infra", "k8s-pool")),
        secondary: Some(svc("shop-vm-b")),
        settings: CompareSettings {
            percent: 0.5,
            methods: vec![Method::GET, Method::POST],
            ignore_headers: vec![header("x-build-id")],
            ignore_json_paths: vec!["$.meta.generatedAt".into(), "$.items[*].id".into()],
            redact_headers: vec![header("x-session-token")],
            normalize_text: false,
            max_body_bytes: 64 << 20,
            max_concurrent: 65536,
            timeout: Duration::from_secs(90),
        },
    };
    assert_eq!(*t.config.comparisons[&id("infra/c")], comparison);
    let minutes = |m: u64| Duration::from_secs(60 * m);
    let rollout = Rollout {
        id: id("infra/r"),
        stable: svc("shop-vm"),
        candidate: svc("shop-k8s"),
        steps: vec![
            RolloutStep::Mirror {
                duration: minutes(1),
                max_diff_rate: 0.02,
                min_compared: 50,
            },
            RolloutStep::Weight {
                percent: 1,
                pause: minutes(1),
            },
            RolloutStep::Weight {
                percent: 5,
                pause: minutes(5),
            },
            RolloutStep::Weight {
                percent: 100,
                pause: Duration::ZERO,
            },
        ],
        analysis: RolloutAnalysis {
            min_requests: 10,
            max_error_rate: 0.05,
            max_error_rate_increase: Some(0.005),
            max_latency_p99_ratio: Some(2.0),
            latency_slack: Duration::from_millis(10),
            max_diff_rate: Some(0.02),
            min_compared: 20,
            interval: Duration::from_secs(1),
        },
        compare: CompareSettings {
            percent: 25.0,
            methods: vec![Method::GET],
            ignore_headers: vec![header("date")],
            max_concurrent: 8,
            timeout: Duration::from_secs(2),
            ..CompareSettings::default()
        },
        affinity: Some(RolloutAffinity {
            cookie: "shop-version".into(),
            ttl: minutes(30),
        }),
        notifications: vec![NotificationTarget {
            name: "ops".into(),
            sink: NotificationSink::Webhook {
                url: "https://hooks.example.com/rollouts".into(),
                headers: Vec::new(),
            },
            pools: Vec::new(),
        }],
    };
    assert_eq!(*t.config.rollouts[&id("infra/r")], rollout);
    // Every backend they name gets a runtime, also those no rule sends traffic to.
    for backend in [
        svc("shop-vm"),
        svc("shop-k8s"),
        svc("shop-vm-b"),
        BackendId::Pool(PoolId::new("infra", "k8s-pool")),
    ] {
        assert!(t.config.backends.contains_key(&backend), "{backend}");
    }
    let plan = torii_rollout::RolloutPlan::from_config(&rollout)
        .expect("an accepted rollout has a valid plan");
    assert_eq!(plan.steps()[0].min_time(), minutes(1));
}

#[test]
fn invalid_objects_are_not_accepted_and_name_the_field() {
    let cases: &[(&str, &str, &str)] = &[
        // Comparison (and the compare settings both kinds share).
        ("Comparison", "sampling: {percent: 0}", "spec.sampling.percent"),
        ("Comparison", "sampling: {percent: 100.5}", "spec.sampling.percent"),
        ("Comparison", "methods: ['GE T']", "spec.methods[0]"),
        ("Comparison", "methods: []", "spec.methods"),
        ("Comparison", "methods: [GET, HEAD, GET]", "spec.methods[2]"),
        ("Comparison", "ignore: {headers: ['bad header']}", "spec.ignore.headers[0]"),
        ("Comparison", "ignore: {jsonPaths: ['$.a', meta.generatedAt]}", "spec.ignore.jsonPaths[1]"),
        ("Comparison", "ignore: {jsonPaths: ['$.items[']}", "spec.ignore.jsonPaths[0]"),
        ("Comparison", "redactHeaders: [x-a, 'x:b']", "spec.redactHeaders[1]"),
        ("Comparison", "redactHeaders: [X-A, x-a]", "spec.redactHeaders[1]"),
        ("Comparison", "maxBodyBytes: 67108865", "spec.maxBodyBytes"),
        ("Comparison", "maxConcurrent: 0", "spec.maxConcurrent"),
        ("Comparison", "maxConcurrent: 65537", "spec.maxConcurrent"),
        ("Comparison", "timeout: '10'", "spec.timeout"),
        ("Comparison", "timeout: 0s", "spec.timeout"),
        ("Comparison", "primary: {name: shop-k8s, port: 80}", "spec.candidate"),
        ("Comparison", "secondary: {name: shop-k8s, port: 80}", "spec.secondary"),
        // Rollout: steps (the plan rules are torii-rollout's).
        ("Rollout", "steps: []", "spec.steps"),
        ("Rollout", "steps: [{}]", "spec.steps[0]"),
        ("Rollout", "steps: [{mirror: {}, weight: 5}, {weight: 100}]", "spec.steps[0]"),
        ("Rollout", "steps: [{weight: 0}, {weight: 100}]", "spec.steps[0].weight"),
        ("Rollout", "steps: [{weight: 101}]", "spec.steps[0].weight"),
        ("Rollout", "steps: [{weight: 5}, {weight: 5}, {weight: 100}]", "spec.steps[1].weight"),
        ("Rollout", "steps: [{weight: 10}, {weight: 50}]", "spec.steps[1]"),
        ("Rollout", "steps: [{mirror: {}}]", "spec.steps[0]"),
        ("Rollout", "steps: [{weight: 10}, {mirror: {}}, {weight: 100}]", "spec.steps[1]"),
        ("Rollout", "steps: [{mirror: {}, pause: 1m}, {weight: 100}]", "spec.steps[0].pause"),
        ("Rollout", "steps: [{mirror: {duration: 1d}}, {weight: 100}]", "spec.steps[0].mirror.duration"),
        ("Rollout", "steps: [{mirror: {maxDiffRate: 2}}, {weight: 100}]", "spec.steps[0].mirror.maxDiffRate"),
        ("Rollout", "steps: [{mirror: {minCompared: 0}}, {weight: 100}]", "spec.steps[0].mirror.minCompared"),
        ("Rollout", "steps: [{weight: 5, pause: 1.5s}, {weight: 100}]", "spec.steps[0].pause"),
        // Rollout: analysis, compare, affinity, notifications, backends.
        ("Rollout", "analysis: {minRequests: 0}", "spec.analysis.minRequests"),
        ("Rollout", "analysis: {maxErrorRate: 1.5}", "spec.analysis.maxErrorRate"),
        ("Rollout", "analysis: {maxErrorRateIncrease: -0.1}", "spec.analysis.maxErrorRateIncrease"),
        ("Rollout", "analysis: {maxLatencyP99Ratio: 0.5}", "spec.analysis.maxLatencyP99Ratio"),
        ("Rollout", "analysis: {maxDiffRate: 0.1, minCompared: 0}", "spec.analysis.minCompared"),
        ("Rollout", "analysis: {latencySlack: '5'}", "spec.analysis.latencySlack"),
        ("Rollout", "analysis: {interval: 0s}", "spec.analysis.interval"),
        ("Rollout", "compare: {sampling: {percent: -1}}", "spec.compare.sampling.percent"),
        ("Rollout", "compare: {ignore: {jsonPaths: ['$..']}}", "spec.compare.ignore.jsonPaths[0]"),
        ("Rollout", "compare: {methods: ['G(T']}", "spec.compare.methods[0]"),
        ("Rollout", "sessionAffinity: {cookieName: 'shop version'}", "spec.sessionAffinity.cookieName"),
        ("Rollout", "sessionAffinity: {cookieName: 'a;b'}", "spec.sessionAffinity.cookieName"),
        ("Rollout", "sessionAffinity: {cookieName: ''}", "spec.sessionAffinity.cookieName"),
        ("Rollout", "sessionAffinity: {ttl: 500ms}", "spec.sessionAffinity.ttl"),
        ("Rollout", "sessionAffinity: {ttl: 1y}", "spec.sessionAffinity.ttl"),
        ("Rollout", "notifications: [{name: ops, webhook: {url: 'ftp://x.example'}}]", "spec.notifications[0].webhook.url"),
        ("Rollout", "notifications: [{name: ops, email: {smtpHost: mx, from: ops, to: [a@b.c]}}]", "spec.notifications[0].email.from"),
        ("Rollout", "notifications: [{name: ops, webhook: {url: 'https://x.example'}, pools: [p]}]", "spec.notifications[0].pools"),
        (
            "Rollout",
            "{targetRef: {kind: HTTPRoute, name: shop, sectionName: api}, stableRef: {name: shop-vm, port: 80}, candidateRef: {name: shop-vm, namespace: infra, port: 80}, steps: [{weight: 100}]}",
            "spec.candidateRef",
        ),
    ];
    for &(kind, extra, field) in cases {
        let spec = match kind {
            _ if extra.starts_with('{') => extra.to_string(),
            "Comparison" => format!("{{{COMPARISON}, {extra}}}"),
            _ if extra.starts_with("steps:") => format!("{{{ROLLOUT}, {extra}}}"),
            _ => format!("{{{ROLLOUT}, steps: [{{weight: 100}}], {extra}}}"),
        };
        let t = run(&format!(
            "{}{}",
            world(),
            object_in("infra", kind, "x", &spec)
        ));
        let (s, r, message) = cond(&t, kind, "infra/x", ACCEPTED);
        assert_eq!(
            (s, r),
            (ConditionStatus::False, reason::INVALID),
            "{kind} {extra}: {message}"
        );
        assert!(
            message.starts_with(&format!("{field}: ")),
            "{kind} {extra}: expected the message to name {field}, got {message:?}"
        );
        assert!(t.config.comparisons.is_empty(), "{extra}");
        assert!(t.config.rollouts.is_empty(), "{extra}");
        assert!(carried(&t).iter().all(|c| *c == (None, None)), "{extra}");
    }
}

#[test]
fn unresolved_references_leave_the_object_out() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "Comparison",
            "targetRef: {kind: HTTPRoute, name: nope}, candidate: {name: shop-k8s, port: 80}",
            reason::TARGET_NOT_FOUND,
            "spec.targetRef: HTTPRoute infra/nope does not exist",
        ),
        (
            "Comparison",
            "targetRef: {kind: HTTPRoute, name: shop, sectionName: nope}, candidate: {name: shop-k8s, port: 80}",
            reason::TARGET_NOT_FOUND,
            "spec.targetRef.sectionName: HTTPRoute infra/shop has no rule named \"nope\"",
        ),
        (
            "Comparison",
            "targetRef: {kind: GRPCRoute, name: shop}, candidate: {name: shop-k8s, port: 80}",
            reason::INVALID_KIND,
            "spec.targetRef: gateway.networking.k8s.io/GRPCRoute cannot be targeted",
        ),
        (
            "Comparison",
            "targetRef: {group: example.com, kind: HTTPRoute, name: shop}, candidate: {name: shop-k8s, port: 80}",
            reason::INVALID_KIND,
            "spec.targetRef: example.com/HTTPRoute cannot be targeted",
        ),
        (
            "Comparison",
            "targetRef: {kind: HTTPRoute, name: shop, sectionName: web}, candidate: {name: missing, port: 80}",
            reason::BACKEND_NOT_FOUND,
            "spec.candidate: Service infra/missing does not exist",
        ),
        (
            "Comparison",
            "targetRef: {kind: HTTPRoute, name: shop, sectionName: web}, candidate: {name: shop-k8s}",
            reason::BACKEND_NOT_FOUND,
            "spec.candidate: backendRef to Service infra/shop-k8s needs a port",
        ),
        (
            "Comparison",
            "targetRef: {kind: HTTPRoute, name: shop, sectionName: web}, candidate: {name: shop-k8s, port: 80, kind: Pod}",
            reason::INVALID_KIND,
            "spec.candidate: backendRef Pod shop-k8s",
        ),
        (
            "Comparison",
            "targetRef: {kind: HTTPRoute, name: shop, sectionName: web}, candidate: {name: remote, namespace: other, port: 80}",
            reason::REF_NOT_PERMITTED,
            "spec.candidate: backendRef to Service other/remote is not permitted",
        ),
        (
            "Comparison",
            "targetRef: {kind: HTTPRoute, name: shop, sectionName: web}, candidate: {name: shop-k8s, port: 80}, secondary: {group: torii.dev, kind: LoadBalancer, name: nope}",
            reason::BACKEND_NOT_FOUND,
            "spec.secondary: LoadBalancer infra/nope does not exist",
        ),
        (
            "Comparison",
            "targetRef: {kind: HTTPRoute, name: shop, sectionName: web}, candidate: {name: shop-k8s, port: 80}, primary: {name: shop-vm-b, port: 80}",
            reason::BACKEND_NOT_FOUND,
            "spec.primary: backend infra/shop-vm-b:80 is not a backendRef of rule \"web\" (spec.rules[1]) of HTTPRoute infra/shop",
        ),
        (
            "Rollout",
            "targetRef: {kind: HTTPRoute, name: shop, sectionName: api}, stableRef: {name: shop-vm-b, port: 80}, candidateRef: {name: shop-k8s, port: 80}",
            reason::BACKEND_NOT_FOUND,
            "spec.stableRef: backend infra/shop-vm-b:80 is not a backendRef of rule \"api\"",
        ),
        (
            "Rollout",
            "targetRef: {kind: HTTPRoute, name: shop, sectionName: api}, stableRef: {name: shop-vm, port: 80}, candidateRef: {name: nope, port: 80}",
            reason::BACKEND_NOT_FOUND,
            "spec.candidateRef: Service infra/nope does not exist; spec.candidateRef: backend infra/nope:80 is not a backendRef",
        ),
        (
            "Rollout",
            "targetRef: {kind: HTTPRoute, name: shop, sectionName: three}, stableRef: {name: shop-vm, port: 80}, candidateRef: {name: shop-k8s, port: 80}",
            reason::UNSUPPORTED_VALUE,
            "spec.targetRef: rule \"three\" (spec.rules[2]) of HTTPRoute infra/shop has backendRefs[2] besides stableRef and candidateRef",
        ),
        (
            // Without sectionName every rule is targeted, `three` too.
            "Rollout",
            "targetRef: {kind: HTTPRoute, name: shop}, stableRef: {name: shop-vm, port: 80}, candidateRef: {name: shop-k8s, port: 80}",
            reason::UNSUPPORTED_VALUE,
            "spec.targetRef: rule \"three\"",
        ),
        (
            "Rollout",
            "targetRef: {kind: HTTPRoute, name: nope}, stableRef: {name: shop-vm, port: 80}, candidateRef: {name: shop-k8s, port: 80}",
            reason::TARGET_NOT_FOUND,
            "spec.targetRef: HTTPRoute infra/nope does not exist",
        ),
    ];
    for &(kind, spec, reason, message) in cases {
        let spec = match kind {
            "Rollout" => format!("{{{spec}, steps: [{{weight: 100}}]}}"),
            _ => format!("{{{spec}}}"),
        };
        let t = run(&format!(
            "{}{}",
            world(),
            object_in("infra", kind, "x", &spec)
        ));
        let (s, _, accepted) = cond(&t, kind, "infra/x", ACCEPTED);
        assert_eq!(s, ConditionStatus::True, "{spec}: {accepted}");
        let (s, r, got) = cond(&t, kind, "infra/x", RESOLVED_REFS);
        assert_eq!((s, r), (ConditionStatus::False, reason), "{spec}: {got}");
        assert!(
            got.starts_with(message),
            "{spec}: expected {message:?}, got {got:?}"
        );
        assert!(t.config.comparisons.is_empty(), "{spec}");
        assert!(t.config.rollouts.is_empty(), "{spec}");
        assert!(carried(&t).iter().all(|c| *c == (None, None)), "{spec}");
        assert!(!t.config.backends.contains_key(&svc("shop-vm-b")), "{spec}");
    }
}

#[test]
fn a_cross_namespace_backend_needs_a_grant_from_the_kind() {
    let grant = |kind: &str| {
        format!(
            "---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {{name: grant, namespace: other}}
spec:
  from: [{{group: {group}, kind: {kind}, namespace: infra}}]
  to: [{{group: '', kind: Service, name: remote}}]
",
            group = if kind == "HTTPRoute" {
                "gateway.networking.k8s.io"
            } else {
                "torii.dev"
            }
        )
    };
    let comparison = object_in(
        "infra",
        "Comparison",
        "c",
        &format!("{{{COMPARISON}, secondary: {{name: remote, namespace: other, port: 80}}}}"),
    );
    for (grant, resolves) in [
        (String::new(), false),
        (grant("HTTPRoute"), false),
        (grant("Rollout"), false),
        (grant("Comparison"), true),
    ] {
        let t = run(&format!("{}{grant}{comparison}", world()));
        let (s, r, message) = cond(&t, "Comparison", "infra/c", RESOLVED_REFS);
        let remote = service_id("other", "remote", 80);
        if resolves {
            assert_eq!(s, ConditionStatus::True, "{grant}: {message}");
            assert_eq!(
                t.config.comparisons[&id("infra/c")].secondary,
                Some(remote.clone())
            );
            assert!(t.config.backends.contains_key(&remote));
        } else {
            assert_eq!((s, r), (ConditionStatus::False, reason::REF_NOT_PERMITTED));
            assert!(!t.config.backends.contains_key(&remote), "{grant}");
        }
    }
}

#[test]
fn attachments_land_on_the_targeted_rules_of_every_attachment() {
    let second_gateway = "---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw2, namespace: infra}
spec:
  gatewayClassName: torii
  listeners: [{name: http, port: 81, protocol: HTTP}]
";
    let two = "[{name: shop-vm, port: 80}, {name: shop-k8s, port: 80}]";
    let both_gateways = format!(
        "---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: app, namespace: infra}}
spec:
  parentRefs: [{{name: gw}}, {{name: gw2}}]
  rules: [{{name: api, backendRefs: {two}}}, {{backendRefs: {two}}}]
"
    );
    let cases = [
        (
            "{targetRef: {kind: HTTPRoute, name: app, sectionName: api}, candidate: {name: shop-vm-b, port: 80}}",
            [true, false],
        ),
        (
            "{targetRef: {kind: HTTPRoute, name: app}, candidate: {name: shop-vm-b, port: 80}}",
            [true, true],
        ),
    ];
    for (spec, expected) in cases {
        let yaml = format!(
            "{}{second_gateway}{both_gateways}{}",
            world(),
            object_in("infra", "Comparison", "c", spec)
        );
        let t = run(&yaml);
        assert_applies(&t, "Comparison", "infra/c");
        let applied = &t.config.comparisons[&id("infra/c")];
        for gateway in ["infra/gw", "infra/gw2"] {
            let got: Vec<bool> = rules(&t, gateway, "app")
                .iter()
                .map(|r| {
                    r.migration
                        .comparison
                        .as_ref()
                        .is_some_and(|c| Arc::ptr_eq(c, applied))
                })
                .collect();
            assert_eq!(got, expected, "{spec} on {gateway}");
        }
        // Other routes' rules carry nothing.
        assert!(carried(&t).iter().all(|c| *c == (None, None)), "{spec}");
        assert!(t.config.backends.contains_key(&svc("shop-vm-b")), "{spec}");
    }
}

/// A torii.dev object `infra/<name>` created at `created` (RFC 3339), `spec` a flow mapping.
fn created(kind: &str, name: &str, created: &str, spec: &str) -> String {
    format!(
        "---
apiVersion: torii.dev/v1alpha1
kind: {kind}
metadata: {{name: {name}, namespace: infra, creationTimestamp: '{created}'}}
spec: {spec}
"
    )
}

#[test]
fn one_object_of_each_kind_per_rule() {
    let web = |candidate: &str| {
        format!(
            "{{targetRef: {{kind: HTTPRoute, name: shop, sectionName: web}}, candidate: {{name: {candidate}, port: 80}}}}"
        )
    };
    let every_rule =
        "{targetRef: {kind: HTTPRoute, name: shop}, candidate: {name: shop-vm-b, port: 80}}";
    let rollout = |name: &str| {
        object_in(
            "infra",
            "Rollout",
            name,
            &format!("{{{ROLLOUT}, steps: [{{weight: 100}}]}}"),
        )
    };
    let api_comparison = "{targetRef: {kind: HTTPRoute, name: shop, sectionName: api}, candidate: {name: shop-vm-b, port: 80}}";
    // (objects, the winner, the loser, the loser's message)
    let cases = [
        (
            // File order puts `b` first; without creation times namespace/name decides.
            format!(
                "{}{}",
                object_in("infra", "Comparison", "b", &web("shop-k8s")),
                object_in("infra", "Comparison", "a", &web("shop-vm-b"))
            ),
            ("Comparison", "infra/a"),
            ("Comparison", "infra/b"),
            "spec.targetRef: rule \"web\" (spec.rules[1]) of HTTPRoute infra/shop is already compared by Comparison infra/a",
        ),
        (
            // The oldest wins.
            format!(
                "{}{}",
                created("Comparison", "a", "2024-01-01T00:00:00Z", &web("shop-k8s")),
                created("Comparison", "z", "2020-01-01T00:00:00Z", &web("shop-vm-b"))
            ),
            ("Comparison", "infra/z"),
            ("Comparison", "infra/a"),
            "spec.targetRef: rule \"web\" (spec.rules[1]) of HTTPRoute infra/shop is already compared by Comparison infra/z",
        ),
        (
            // A Comparison of every rule overlaps one of a single rule.
            format!(
                "{}{}",
                object_in("infra", "Comparison", "a", &web("shop-k8s")),
                object_in("infra", "Comparison", "b", every_rule)
            ),
            ("Comparison", "infra/a"),
            ("Comparison", "infra/b"),
            "spec.targetRef: rule \"web\" (spec.rules[1]) of HTTPRoute infra/shop is already compared by Comparison infra/a",
        ),
        (
            // A Rollout's own compare settings apply on its rule, however old the Comparison.
            format!(
                "{}{}",
                created("Comparison", "a", "2020-01-01T00:00:00Z", api_comparison),
                rollout("r")
            ),
            ("Rollout", "infra/r"),
            ("Comparison", "infra/a"),
            "spec.targetRef: rule \"api\" (spec.rules[0]) of HTTPRoute infra/shop is driven by Rollout infra/r, whose spec.compare settings apply",
        ),
        (
            format!("{}{}", rollout("b"), rollout("a")),
            ("Rollout", "infra/a"),
            ("Rollout", "infra/b"),
            "spec.targetRef: rule \"api\" (spec.rules[0]) of HTTPRoute infra/shop is already driven by Rollout infra/a",
        ),
        (
            // An invalid older object holds nothing.
            format!(
                "{}{}",
                object_in("infra", "Comparison", "a", "{targetRef: {kind: HTTPRoute, name: shop, sectionName: web}, candidate: {name: shop-k8s, port: 80}, timeout: 0s}"),
                object_in("infra", "Comparison", "b", &web("shop-vm-b"))
            ),
            ("Comparison", "infra/b"),
            ("Comparison", "infra/a"),
            "spec.timeout: must be above zero",
        ),
    ];
    for (objects, (winner_kind, winner), (loser_kind, loser), message) in cases {
        let t = run(&format!("{}{objects}", world()));
        assert_applies(&t, winner_kind, winner);
        let (s, r, got) = cond(&t, loser_kind, loser, ACCEPTED);
        let expected_reason = if message.starts_with("spec.targetRef") {
            reason::CONFLICTED
        } else {
            reason::INVALID
        };
        assert_eq!((s, r), (ConditionStatus::False, expected_reason), "{got}");
        assert_eq!(got, message);
        let applied: Vec<String> = t
            .config
            .comparisons
            .keys()
            .chain(t.config.rollouts.keys())
            .map(ToString::to_string)
            .collect();
        assert_eq!(applied, [winner], "{message}");
    }
}

#[test]
fn statuses_are_listed_by_kind_namespace_and_name() {
    let yaml = format!(
        "{}{}{}{}",
        world(),
        object_in(
            "infra",
            "Rollout",
            "r",
            &format!("{{{ROLLOUT}, steps: [{{weight: 100}}]}}")
        ),
        object_in("infra", "Comparison", "b", &format!("{{{COMPARISON}}}")),
        object_in("a", "Comparison", "z", &format!("{{{COMPARISON}}}")),
    );
    let t = run(&yaml);
    let listed: Vec<String> = t
        .status
        .migrations
        .iter()
        .map(|s| format!("{} {}/{}", s.kind, s.namespace, s.name))
        .collect();
    assert_eq!(
        listed,
        ["Comparison a/z", "Comparison infra/b", "Rollout infra/r"]
    );
    assert_eq!(status(&t, "Comparison", "a/z").conditions.len(), 2);
    // Not part of the load-balancing list.
    assert!(t
        .status
        .load_balancing
        .iter()
        .all(|s| s.kind == "OriginPool"));
}

/// `docs/migration.md`: its YAML example.
const DOC: &str = include_str!("../../../../docs/migration.md");

#[test]
fn the_documented_example_loads_and_is_accepted() {
    let start = DOC.find("```yaml\n").expect("the doc has a YAML block") + "```yaml\n".len();
    let length = DOC[start..].find("```").expect("the YAML block ends");
    let mut report = torii_resources::LoadReport::default();
    let path = std::path::Path::new("docs/migration.md");
    torii_resources::parse_yaml(path, &DOC[start..start + length], &mut report);
    assert_eq!(report.errors, [], "the example loads");
    assert_eq!(report.warnings, [], "every field of the example is known");
    let t = translate(&report.set, &TranslateOptions::default());
    assert_eq!(t.status.migrations.len(), 2);
    for s in &t.status.migrations {
        for c in &s.conditions {
            assert!(c.is_true(), "{} {}/{}: {c:?}", s.kind, s.namespace, s.name);
        }
    }
    for c in &route(&t, torii_config::RouteKind::Http, "default/shop").parents[0].conditions {
        assert!(c.is_true(), "HTTPRoute default/shop: {c:?}");
    }
    assert_eq!(t.config.comparisons.len(), 1);
    assert_eq!(t.config.rollouts.len(), 1);
    let rules = &programmed(&t, "default/edge", "http")
        .expect("listener is programmed")
        .http_routes[0]
        .route
        .rules;
    assert!(rules.iter().any(|r| r.migration.comparison.is_some()));
    assert!(rules.iter().any(|r| r.migration.rollout.is_some()));
}
