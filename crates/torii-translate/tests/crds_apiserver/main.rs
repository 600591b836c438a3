//! torii's CRDs (`deploy/crds/`, generated from torii-resources' wire types) on a real
//! kube-apiserver (`scripts/kube-env`):
//!
//! - every example of docs/load-balancing.md and docs/migration.md is accepted with
//!   `--validate=strict`, and what the API server stores reads back into the same wire types
//!   as file mode reads the YAML;
//! - a table of objects (`cases.rs`) is refused or accepted at admission with the expected
//!   message, and file mode agrees: what the API server refuses, file mode refuses or does not
//!   apply either;
//! - the status subresource takes the status types, printer columns, short names and the
//!   `torii` category work.
//!
//! Skips with a message when the kube-env binaries are not built (`scripts/kube-env build`),
//! unless `TORII_REQUIRE_KUBE_ENV` is set. Takes about a minute (most of it starting the API
//! server).

mod cases;
mod cluster;
mod file_mode;

use cases::{Admission, Case, CASES};
use cluster::{repo_root, Cluster};
use serde::de::DeserializeOwned;
use serde_yaml_ng::Value;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use torii_resources::wire;
use torii_resources::{parse_yaml, LoadReport};

/// The namespace of the table's objects.
const CASES_NS: &str = "crd-cases";

/// What the table's migration objects and load balancers refer to, for file mode (the API
/// server does not resolve references).
const SUPPORT: &str = r#"apiVersion: v1
kind: Service
metadata: {name: a, namespace: crd-cases}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: b, namespace: crd-cases}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: crd-cases}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: crd-cases}
spec:
  rules:
  - backendRefs: [{name: a, port: 80}, {name: b, port: 80}]
---
apiVersion: torii.dev/v1alpha1
kind: OriginPool
metadata: {name: p, namespace: crd-cases}
spec: {origins: [{name: o, address: "192.0.2.1:80"}]}
"#;

#[test]
fn crds_on_a_real_apiserver() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let mut failures = Vec::new();
    check_cases(&cluster, &mut failures);
    check_examples(&cluster, &mut failures);
    check_status_and_columns(&cluster, &mut failures);
    assert!(
        failures.is_empty(),
        "{} problems:\n- {}",
        failures.len(),
        failures.join("\n- ")
    );
}

/// The YAML of a table case.
fn case_text(case: &Case) -> String {
    let spec: String = case.spec.lines().map(|l| format!("  {l}\n")).collect();
    format!(
        "apiVersion: torii.dev/v1alpha1\nkind: {}\nmetadata:\n  name: {}\n  namespace: {CASES_NS}\nspec:\n{spec}",
        case.kind, case.name
    )
}

/// Runs every case through the API server (four at a time) and file mode.
fn check_cases(cluster: &Cluster, failures: &mut Vec<String>) {
    cluster.kubectl_ok(&["create", "namespace", CASES_NS], None);
    let next = AtomicUsize::new(0);
    let found = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(case) = CASES.get(i) else { break };
                let problems = check_case(cluster, case);
                found.lock().expect("no panics hold it").extend(problems);
            });
        }
    });
    let found = found.into_inner().expect("no panics hold it");
    println!(
        "cases: {} objects, {} refused as expected at admission, {} accepted; {} problems",
        CASES.len(),
        CASES
            .iter()
            .filter(|c| matches!(c.admission, Admission::Refused(_)))
            .count(),
        CASES
            .iter()
            .filter(|c| matches!(c.admission, Admission::Accepted))
            .count(),
        found.len()
    );
    failures.extend(found);
}

/// One case: admission (dry run, strict field validation) and file mode.
fn check_case(cluster: &Cluster, case: &Case) -> Vec<String> {
    let text = case_text(case);
    let mut problems = Vec::new();
    let run = cluster.kubectl(
        &["apply", "--dry-run=server", "--validate=strict", "-f", "-"],
        Some(&text),
    );
    let message = run.stderr.trim().replace('\n', " | ");
    match case.admission {
        Admission::Refused(expected) if run.ok => problems.push(format!(
            "{}: the API server accepted it (expected a refusal with {expected:?})",
            case.name
        )),
        Admission::Refused(expected) if !run.stderr.contains(expected) => problems.push(format!(
            "{}: refused, but without {expected:?}: {message}",
            case.name
        )),
        Admission::Accepted if !run.ok => problems.push(format!(
            "{}: the API server refused it: {message}",
            case.name
        )),
        _ => {}
    }
    println!(
        "{:32} admission: {}",
        case.name,
        if run.ok { "accepted" } else { &message }
    );
    let (mode, detail) = file_mode::judge(case.kind, case.name, &format!("{SUPPORT}---\n{text}"));
    println!("{:32} file mode: {mode:?} {detail}", "");
    if mode != case.file_mode {
        problems.push(format!(
            "{}: file mode says {mode:?} ({detail}), the table says {:?}",
            case.name, case.file_mode
        ));
    }
    problems
}

/// The ```yaml blocks of a Markdown file that hold objects, each as its list of documents.
fn yaml_blocks(markdown: &str) -> Vec<Vec<Value>> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim_start() == "```yaml" => current = Some(String::new()),
            Some(text) if line.trim_start() == "```" => {
                let docs: Vec<Value> = text
                    .split("\n---\n")
                    .filter_map(|d| serde_yaml_ng::from_str::<Value>(d).ok())
                    .filter(|d| d.get("apiVersion").is_some() && d.get("kind").is_some())
                    .collect();
                if !docs.is_empty() {
                    blocks.push(docs);
                }
                current = None;
            }
            Some(text) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    blocks
}

/// Puts every namespaced object of `docs` into `namespace` and joins them into one text.
fn in_namespace(docs: &[Value], namespace: &str) -> String {
    let mut out = String::new();
    for doc in docs {
        let mut doc = doc.clone();
        let kind = doc["kind"].as_str().unwrap_or_default().to_owned();
        if kind != "GatewayClass" && kind != "Namespace" {
            if let Some(meta) = doc.get_mut("metadata").and_then(Value::as_mapping_mut) {
                meta.insert("namespace".into(), namespace.into());
            }
        }
        out.push_str("---\n");
        out.push_str(&serde_yaml_ng::to_string(&doc).expect("a YAML value serializes"));
    }
    out
}

/// The documented examples: applied for real, then read back and compared with file mode.
fn check_examples(cluster: &Cluster, failures: &mut Vec<String>) {
    let mut objects = 0;
    for (doc, namespace) in [
        ("docs/load-balancing.md", "lb-docs"),
        ("docs/migration.md", "migration-docs"),
    ] {
        let markdown = std::fs::read_to_string(repo_root().join(doc)).expect("read the doc");
        let blocks = yaml_blocks(&markdown);
        if blocks.is_empty() {
            failures.push(format!("{doc}: no YAML example found"));
        }
        cluster.kubectl_ok(&["create", "namespace", namespace], None);
        for (i, docs) in blocks.iter().enumerate() {
            let text = in_namespace(docs, namespace);
            let run = cluster.kubectl(&["apply", "--validate=strict", "-f", "-"], Some(&text));
            if !run.ok {
                failures.push(format!("{doc} example {i}: refused: {}", run.stderr.trim()));
                continue;
            }
            objects += docs.len();
            let mut report = LoadReport::default();
            parse_yaml(Path::new(doc), &text, &mut report);
            if !report.errors.is_empty() {
                failures.push(format!("{doc} example {i}: file mode: {:?}", report.errors));
            }
            compare_read_back(cluster, &report, failures);
        }
    }
    println!("examples: {objects} objects applied from the docs");
}

/// Reads every torii object of `report` back from the API server and compares its spec.
fn compare_read_back(cluster: &Cluster, report: &LoadReport, failures: &mut Vec<String>) {
    let set = &report.set;
    let meta = |m: &wire::ObjectMeta| {
        (
            m.namespace.clone().unwrap_or_default(),
            m.name.clone().unwrap_or_default(),
        )
    };
    macro_rules! each {
        ($list:expr, $resource:literal) => {
            for located in &$list {
                let object = &located.object;
                let (namespace, name) = meta(&object.metadata);
                let stored = get(cluster, $resource, &namespace, &name);
                match stored {
                    Ok(stored) if stored_spec_equals(&stored, &object.spec) => {}
                    Ok(_) => failures.push(format!(
                        "{} {namespace}/{name}: the stored spec differs from file mode's",
                        $resource
                    )),
                    Err(error) => failures.push(error),
                }
            }
        };
    }
    each!(set.health_monitors, "healthmonitors.torii.dev");
    each!(set.origin_pools, "originpools.torii.dev");
    each!(set.load_balancers, "loadbalancers.torii.dev");
    each!(set.comparisons, "comparisons.torii.dev");
    each!(set.rollouts, "rollouts.torii.dev");
}

/// Whether the stored object's spec equals `spec`.
fn stored_spec_equals<T: DeserializeOwned + PartialEq>(
    stored: &serde_json::Value,
    spec: &T,
) -> bool {
    serde_json::from_value::<T>(stored["spec"].clone()).is_ok_and(|s| s == *spec)
}

/// `kubectl get RESOURCE NAME -n NAMESPACE -o json`.
fn get(
    cluster: &Cluster,
    resource: &str,
    namespace: &str,
    name: &str,
) -> Result<serde_json::Value, String> {
    let run = cluster.kubectl(
        &["get", resource, name, "-n", namespace, "-o", "json"],
        None,
    );
    if !run.ok {
        return Err(format!(
            "get {resource} {namespace}/{name}: {}",
            run.stderr.trim()
        ));
    }
    serde_json::from_str(&run.stdout).map_err(|e| format!("{resource} {namespace}/{name}: {e}"))
}

/// Typed status written through the status subresource and read back; an invalid status is
/// refused; printer columns, short names and the category.
fn check_status_and_columns(cluster: &Cluster, failures: &mut Vec<String>) {
    let pool_status: wire::OriginPoolStatus = serde_json::from_value(serde_json::json!({
        "observedGeneration": 1,
        "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted",
            "message": "OriginPool is valid", "lastTransitionTime": "2026-01-02T03:04:05Z",
            "observedGeneration": 1}],
        "healthy": true, "healthyOrigins": 1, "totalOrigins": 2,
        "origins": [
            {"name": "shop/10.244.1.15:8080", "address": "10.244.1.15:8080", "state": "Healthy",
             "lastTransitionTime": "2026-01-02T03:04:05Z"},
            {"name": "shop/10.244.2.27:8080", "address": "10.244.2.27:8080", "state": "Unhealthy",
             "ejected": false, "reason": "status 503 not in 200",
             "lastTransitionTime": "2026-01-02T03:04:06Z"}]
    }))
    .expect("the status types read this status");
    write_status(
        cluster,
        "originpools.torii.dev",
        "lb-docs",
        "k8s-fra",
        &pool_status,
        failures,
    );

    let rollout_status: wire::RolloutStatus = serde_json::from_value(serde_json::json!({
        "observedGeneration": 1, "phase": "Progressing", "step": 2, "weight": 5,
        "mirroring": false, "stepStartedAt": "2026-01-02T03:00:00Z",
        "reason": "gates passed: error rate 0.0% <= 1.0% (candidate 120/120 requests)",
        "planFingerprint": "9f2c",
        "history": [
            {"time": "2026-01-02T02:00:00Z", "kind": "Started", "toStep": 0, "weight": 0,
             "reason": "rollout created"},
            {"time": "2026-01-02T03:00:00Z", "kind": "Advanced", "fromStep": 1, "toStep": 2,
             "weight": 5, "reason": "gates passed"}]
    }))
    .expect("the status types read this status");
    write_status(
        cluster,
        "rollouts.torii.dev",
        "migration-docs",
        "shop-api",
        &rollout_status,
        failures,
    );

    let bad = r#"{"status": {"phase": "Exploded"}}"#;
    let run = cluster.kubectl(
        &[
            "patch",
            "rollouts.torii.dev",
            "shop-api",
            "-n",
            "migration-docs",
            "--subresource=status",
            "--type=merge",
            "-p",
            bad,
        ],
        None,
    );
    if run.ok
        || !run
            .stderr
            .contains(r#"status.phase: Unsupported value: "Exploded""#)
    {
        failures.push(format!(
            "an invalid Rollout status was not refused: {}",
            run.stderr.trim()
        ));
    }

    // Columns without a value print empty, so rows are compared with blanks squeezed.
    let columns = [
        (
            "originpools",
            "lb-docs",
            "NAME HEALTHY ORIGINS MONITOR POLICY ACCEPTED AGE",
            "k8s-fra 1 2 shop-health True",
        ),
        (
            "opool",
            "lb-docs",
            "NAME HEALTHY",
            "vms-ams shop-health leastOutstandingRequests",
        ),
        (
            "hmon",
            "lb-docs",
            "NAME TYPE PATH INTERVAL ACCEPTED AGE",
            "shop-health http /healthz 10s",
        ),
        (
            "tlb",
            "lb-docs",
            "NAME STEERING ACTIVE POOL POOLS ACCEPTED AGE",
            "shop failover [\"k8s-fra\",\"vms-ams\"]",
        ),
        (
            "tro",
            "migration-docs",
            "NAME ROUTE RULE PHASE STEP WEIGHT AGE",
            "shop-api shop api Progressing 2 5",
        ),
        (
            "tcmp",
            "migration-docs",
            "NAME ROUTE RULE COMPARED REGRESSIONS ACCEPTED AGE",
            "shop-web shop web",
        ),
    ];
    for (resource, namespace, header, row) in columns {
        let out = cluster.kubectl_ok(&["get", resource, "-n", namespace], None);
        let squeezed: String = out
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n");
        if !squeezed.contains(header) || !squeezed.contains(row) {
            failures.push(format!(
                "kubectl get {resource}: expected {header:?} and {row:?} in:\n{out}"
            ));
        }
    }
    let all = cluster.kubectl_ok(&["get", "torii", "-n", "lb-docs", "-o", "name"], None);
    for name in [
        "healthmonitor.torii.dev/shop-health",
        "originpool.torii.dev/k8s-fra",
        "originpool.torii.dev/vms-ams",
        "loadbalancer.torii.dev/shop",
    ] {
        if !all.lines().any(|l| l == name) {
            failures.push(format!("kubectl get torii: {name} missing in:\n{all}"));
        }
    }
}

/// Writes `status` through the status subresource and checks it reads back unchanged, with
/// the object's generation unchanged.
fn write_status<S>(
    cluster: &Cluster,
    resource: &str,
    namespace: &str,
    name: &str,
    status: &S,
    failures: &mut Vec<String>,
) where
    S: serde::Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let patch = serde_json::json!({ "status": status }).to_string();
    let run = cluster.kubectl(
        &[
            "patch",
            resource,
            name,
            "-n",
            namespace,
            "--subresource=status",
            "--type=merge",
            "-p",
            &patch,
        ],
        None,
    );
    if !run.ok {
        failures.push(format!(
            "status of {resource} {namespace}/{name} refused: {}",
            run.stderr.trim()
        ));
        return;
    }
    match get(cluster, resource, namespace, name) {
        Ok(stored) => {
            let read: Result<S, _> = serde_json::from_value(stored["status"].clone());
            if read.as_ref().ok() != Some(status) {
                failures.push(format!(
                    "status of {resource} {namespace}/{name} read back as {read:?}"
                ));
            }
            if stored["metadata"]["generation"] != 1 {
                failures.push(format!(
                    "{resource} {namespace}/{name}: a status write changed the generation"
                ));
            }
        }
        Err(error) => failures.push(error),
    }
}
