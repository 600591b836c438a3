//! Table tests of [`parse_yaml`] and [`load_paths`]: what a file holds in, objects, errors and
//! warnings out.

use super::*;
use crate::set::Located;
use std::fs;

/// One object of every kind the loader reads, with the lines their documents start on.
const EVERY_KIND: &str = r#"# torii resources
apiVersion: v1
kind: Namespace
metadata:
  name: apps
  namespace: ignored-for-cluster-scoped
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports:
  - name: http
    port: 80
    targetPort: 8080
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  labels:
    kubernetes.io/service-name: web
addressType: IPv4
endpoints:
- addresses: ["127.0.0.1"]
  conditions: {ready: true}
ports:
- name: http
  port: 8080
---
apiVersion: v1
kind: Secret
metadata: {name: cert, namespace: apps}
type: kubernetes.io/tls
data:
  tls.crt: Y2VydA==
  tls.key: a2V5
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: torii}
spec:
  controllerName: torii.dev/gateway-controller
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: apps}
spec:
  gatewayClassName: torii
  listeners:
  - {name: http, port: 80, protocol: HTTP}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web}
spec:
  parentRefs: [{name: gw, namespace: apps}]
  rules:
  - backendRefs: [{name: web, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: grpc}
spec:
  rules:
  - backendRefs: [{name: web, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {name: tls}
spec:
  hostnames: [tls.example.com]
  rules:
  - backendRefs: [{name: web, port: 443}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: tcp}
spec:
  rules:
  - backendRefs: [{name: web, port: 5432}]
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: allow, namespace: default}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: apps}]
  to: [{group: "", kind: Service}]
"#;

fn parse(file: &str, text: &str) -> LoadReport {
    let mut report = LoadReport::default();
    parse_yaml(Path::new(file), text, &mut report);
    report
}

/// `(namespace, name, line)` of each object in a list.
fn placed<T>(list: &[Located<T>], meta: fn(&T) -> &ObjectMeta) -> Vec<(String, String, usize)> {
    list.iter()
        .map(|l| {
            let m = meta(&l.object);
            (
                m.namespace.clone().unwrap_or_default(),
                m.name.clone().unwrap_or_default(),
                l.origin.line,
            )
        })
        .collect()
}

use crate::wire::ObjectMeta;

fn row(namespace: &str, name: &str, line: usize) -> Vec<(String, String, usize)> {
    vec![(namespace.to_owned(), name.to_owned(), line)]
}

#[test]
fn reads_every_kind_with_namespaces_and_lines() {
    let report = parse("every.yaml", EVERY_KIND);
    assert!(report.is_ok(), "{:#?}", report.errors);
    assert_eq!(report.warnings, []);
    let set = &report.set;
    assert_eq!(set.len(), 11);
    let cases = [
        (placed(&set.namespaces, |o| &o.metadata), row("", "apps", 2)),
        (
            placed(&set.services, |o| &o.metadata),
            row("default", "web", 8),
        ),
        (
            placed(&set.endpoint_slices, |o| &o.metadata),
            row("default", "web-1", 18),
        ),
        (
            placed(&set.secrets, |o| &o.metadata),
            row("apps", "cert", 32),
        ),
        (
            placed(&set.gateway_classes, |o| &o.metadata),
            row("", "torii", 40),
        ),
        (
            placed(&set.gateways, |o| &o.metadata),
            row("apps", "gw", 46),
        ),
        (
            placed(&set.http_routes, |o| &o.metadata),
            row("default", "web", 54),
        ),
        (
            placed(&set.grpc_routes, |o| &o.metadata),
            row("default", "grpc", 62),
        ),
        (
            placed(&set.tls_routes, |o| &o.metadata),
            row("default", "tls", 69),
        ),
        (
            placed(&set.tcp_routes, |o| &o.metadata),
            row("default", "tcp", 77),
        ),
        (
            placed(&set.reference_grants, |o| &o.metadata),
            row("default", "allow", 84),
        ),
    ];
    for (got, expected) in cases {
        assert_eq!(got, expected);
    }
    assert_eq!(*set.services[0].origin.file, PathBuf::from("every.yaml"));
    let secret = &set.secrets[0].object;
    let data = secret.data.clone().unwrap_or_default();
    assert_eq!(
        data.get("tls.crt").map(|b| b.0.as_slice()),
        Some(&b"cert"[..])
    );
    let key = ObjectKey {
        kind: "HTTPRoute".into(),
        namespace: "default".into(),
        name: "web".into(),
    };
    assert_eq!(report.origin_of(&key).map(|o| o.line), Some(54));
}

/// Documents with one error each: `(text, expected errors as displayed)`.
const INVALID: &[(&str, &[&str])] = &[
    (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: foo}\nspec:\n  rules:\n  - matches:\n    - path: {type: Foo, value: /}\n",
        &["f.yaml:7: HTTPRoute default/foo: spec.rules[0].matches[0].path.type: unknown variant `Foo`, expected one of `Exact`, `PathPrefix`, `RegularExpression`"],
    ),
    (
        "# header\n\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: apps\nspec:\n  ports:\n  - port: http\n",
        &["f.yaml:11: Service apps/web: spec.ports[0].port: invalid type: string \"http\", expected i32"],
    ),
    (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec: {listeners: []}\n",
        &["f.yaml:4: Gateway default/gw: spec: missing field `gatewayClassName`"],
    ),
    (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {tls.crt: '%%%'}\n",
        &["f.yaml:4: Secret default/s: data.tls.crt: Invalid symbol 37, offset 0."],
    ),
    (
        "kind: Service\nmetadata: {name: web}\n",
        &["f.yaml:1: apiVersion: missing required field"],
    ),
    ("apiVersion: v1\n", &["f.yaml:1: kind: missing required field"]),
    ("apiVersion: 1\nkind: x\n", &["f.yaml:1: apiVersion: invalid type: expected a string"]),
    (
        "\n- apiVersion: v1\n",
        &["f.yaml:2: document is not a mapping (an object with apiVersion and kind)"],
    ),
    (
        "apiVersion: v1\nkind: Service\nmetadata: {namespace: x}\nspec: {}\n",
        &["f.yaml:1: Service: metadata.name: missing required field (the object's name)"],
    ),
    (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n   bad: indent\n",
        &["f.yaml:5: mapping values are not allowed in this context"],
    ),
    (
        "apiVersion: gateway.networking.k8s.io/v2\nkind: HTTPRoute\nmetadata: {name: r, namespace: x}\n",
        &["f.yaml:1: HTTPRoute x/r: apiVersion: unsupported apiVersion `gateway.networking.k8s.io/v2` for kind HTTPRoute (expected gateway.networking.k8s.io/v1, gateway.networking.k8s.io/v1beta1)"],
    ),
    // What the CRDs' schemas refuse is refused whatever the route attaches to (here nothing),
    // on the field's own line.
    (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  rules:\n  - matches:\n    - path: {type: PathPrefix, value: api}\n    backendRefs:\n    - name: s\n      port: 80\n      weight: -1\n",
        &[
            "f.yaml:11: HTTPRoute default/r: spec.rules[0].backendRefs[0].weight: -1 is less than the minimum 0",
            "f.yaml:7: HTTPRoute default/r: spec.rules[0].matches[0].path: value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']",
        ],
    ),
    (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g}\nspec:\n  gatewayClassName: torii\n  listeners:\n  - name: HTTP\n    port: 80\n    protocol: HTTP\n",
        &["f.yaml:7: Gateway default/g: spec.listeners[0].name: \"HTTP\" does not match ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"],
    ),
    // Gateway API v1.5.1 serves TCPRoute in v1alpha2 only.
    (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: TCPRoute\nmetadata: {name: t}\nspec:\n  parentRefs: [{name: gw}]\n  rules: [{backendRefs: [{name: s, port: 80}]}]\n",
        &["f.yaml:1: TCPRoute t: apiVersion: unsupported apiVersion `gateway.networking.k8s.io/v1` for kind TCPRoute (expected gateway.networking.k8s.io/v1alpha2)"],
    ),
];

#[test]
fn reports_invalid_documents_with_line_object_and_field() {
    for (text, expected) in INVALID {
        let report = parse("f.yaml", text);
        let got: Vec<_> = report.errors.iter().map(ToString::to_string).collect();
        assert_eq!(&got, expected, "{text}");
        assert!(report.set.is_empty(), "{text}");
    }
}

#[test]
fn one_bad_document_does_not_hide_the_others() {
    let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nfoo: [\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n";
    let report = parse("f.yaml", text);
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert_eq!(report.errors[0].origin.line, 6);
    let names: Vec<_> = report
        .set
        .namespaces
        .iter()
        .map(|n| n.object.metadata.name.clone())
        .collect();
    assert_eq!(names, [Some("a".into()), Some("b".into())]);
}

#[test]
fn warns_about_unknown_kinds_and_fields() {
    let text = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
---
apiVersion: torii.dev/v1alpha1
kind: Experiment
metadata: {name: pool}
---
apiVersion: v1
kind: Service
metadata: {name: svc}
spec: {ports: [{port: 80, bogus: 1}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, colour: blue}
spec:
  rules:
  - matches: [{path: {value: /}, fuzzy: true}]
status: {parents: oops}
extra: 1
"#;
    let report = parse("w.yaml", text);
    assert!(report.is_ok(), "{:?}", report.errors);
    let got: Vec<_> = report.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "w.yaml:1: Deployment apps/web: unknown kind in `apps/v1`, ignored",
            "w.yaml:5: ConfigMap cm: unknown kind in `v1`, ignored",
            "w.yaml:9: Experiment pool: unsupported kind in `torii.dev/v1alpha1`, ignored",
            "w.yaml:13: Service default/svc: spec.ports[0].bogus: unknown field, ignored",
            "w.yaml:18: HTTPRoute default/r: metadata.colour: unknown field, ignored",
            "w.yaml:18: HTTPRoute default/r: spec.rules[0].matches[0].fuzzy: unknown field, ignored",
            "w.yaml:18: HTTPRoute default/r: extra: unknown field, ignored",
        ]
    );
    assert_eq!(report.set.len(), 2);
    // The status was dropped, not read (it was not even valid).
    assert_eq!(report.set.http_routes[0].object.status, None);
}

#[test]
fn duplicates_across_files_are_errors_naming_both() {
    let route = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec: {}\n";
    let mut report = LoadReport::default();
    parse_yaml(Path::new("a.yaml"), route, &mut report);
    // Same key: namespace defaulted in one, explicit in the other; other kinds do not clash.
    let second = format!(
        "# again\n{}---\napiVersion: v1\nkind: Service\nmetadata: {{name: r}}\n",
        route.replace("{name: r}", "{name: r, namespace: default}")
    );
    parse_yaml(Path::new("b.yaml"), &second, &mut report);
    let got: Vec<_> = report.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        ["b.yaml:2: HTTPRoute default/r: duplicate object, already defined at a.yaml:1"]
    );
    assert_eq!(report.set.http_routes.len(), 1);
    assert_eq!(report.set.services.len(), 1);
}

#[test]
fn merges_string_data_into_data() {
    let text = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  a: YQ==\n  b: Yg==\nstringData:\n  b: bee\n  c: see\n";
    let report = parse("s.yaml", text);
    assert!(report.is_ok(), "{:?}", report.errors);
    let secret = &report.set.secrets[0].object;
    assert_eq!(secret.string_data, None);
    let data: Vec<_> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), String::from_utf8_lossy(&v.0).into_owned()))
        .collect();
    assert_eq!(
        data,
        [("a", "a".into()), ("b", "bee".into()), ("c", "see".into())]
    );
}

#[test]
fn http_route_round_trips() {
    let text = r#"apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
  namespace: apps
  labels: {app: web}
spec:
  parentRefs:
  - name: gw
    namespace: infra
    sectionName: http
  hostnames: ["web.example.com", "*.example.org"]
  rules:
  - name: api
    matches:
    - path: {type: PathPrefix, value: /api}
      headers:
      - {type: Exact, name: X-Version, value: "2"}
      queryParams:
      - {type: RegularExpression, name: q, value: "^a.*"}
      method: GET
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: X-Env, value: prod}]
        add: [{name: X-Trace, value: "1"}]
        remove: [X-Debug]
    - type: URLRewrite
      urlRewrite:
        hostname: backend.internal
        path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2}
    - type: RequestMirror
      requestMirror:
        backendRef: {name: shadow, port: 8080}
        percent: 10
    backendRefs:
    - name: web-v1
      port: 8080
      weight: 90
    - name: web-v2
      port: 8080
      weight: 10
      filters:
      - type: ResponseHeaderModifier
        responseHeaderModifier:
          set: [{name: X-Backend, value: v2}]
    timeouts: {request: 10s, backendRequest: 2s}
  - matches: [{path: {type: Exact, value: /old}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https, statusCode: 301, port: 443}
"#;
    let report = parse("r.yaml", text);
    assert!(report.is_ok(), "{:?}", report.errors);
    assert_eq!(report.warnings, []);
    let route = &report.set.http_routes[0].object;
    let written = serde_json::to_value(route).expect("routes serialize");
    let read: serde_json::Value = serde_yaml_ng::from_str(text).expect("the text is YAML");
    assert_eq!(written, read);
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let report = parse(
        "bom.yaml",
        "\u{feff}apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n",
    );
    assert!(report.is_ok(), "{:?}", report.errors);
    assert_eq!(report.set.namespaces.len(), 1);
}

#[test]
fn empty_documents_and_null_are_skipped() {
    let report = parse("e.yaml", "---\n---\n# nothing\n---\n~\n---\n");
    assert!(report.is_ok(), "{:?}", report.errors);
    assert!(report.set.is_empty());
    assert_eq!(report.warnings, []);
}

#[test]
fn stops_after_the_document_limit() {
    let text = "[]\n---\n".repeat(MAX_DOCUMENTS + 5);
    let report = parse("many.yaml", &text);
    assert_eq!(report.errors.len(), MAX_DOCUMENTS + 1);
    let last = report
        .errors
        .last()
        .map(|e| e.message.clone())
        .unwrap_or_default();
    assert!(last.starts_with("too many documents"), "{last}");
}

#[test]
fn loads_paths_like_serve_f() -> std::io::Result<()> {
    let dir = tempfile::tempdir()?;
    let d = dir.path();
    let ns = |name: &str| format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}}}\n");
    fs::write(d.join("20-b.yaml"), ns("b"))?;
    fs::write(d.join("10-a.yml"), format!("{}---\n{}", ns("a1"), ns("a2")))?;
    fs::write(d.join("30-c.yaml.bak"), ns("ignored"))?;
    let single = tempfile::NamedTempFile::new()?;
    fs::write(single.path(), ns("single"))?;
    let missing = d.join("missing");
    let report = load_paths(&[
        d.to_path_buf(),
        single.path().to_path_buf(),
        missing.clone(),
    ]);
    let names: Vec<_> = report
        .set
        .namespaces
        .iter()
        .map(|n| {
            (
                n.object.metadata.name.clone().unwrap_or_default(),
                n.origin.to_string(),
            )
        })
        .collect();
    let at = |file: &Path, line: usize| format!("{}:{line}", file.display());
    assert_eq!(
        names,
        [
            ("a1".to_owned(), at(&d.join("10-a.yml"), 1)),
            ("a2".to_owned(), at(&d.join("10-a.yml"), 5)),
            ("b".to_owned(), at(&d.join("20-b.yaml"), 1)),
            ("single".to_owned(), at(single.path(), 1)),
        ]
    );
    assert_eq!(report.errors.len(), 1);
    assert_eq!(*report.errors[0].origin.file, missing);
    Ok(())
}

#[test]
fn reads_migration_kinds_with_warnings_and_errors_naming_the_field() {
    let text = r#"apiVersion: torii.dev/v1alpha1
kind: Comparison
metadata: {name: shop}
spec:
  targetRef: {kind: HTTPRoute, name: shop}
  candidate: {name: shop-k8s, port: 80}
  sampling: {percnt: 5}
---
apiVersion: torii.dev/v1alpha1
kind: Rollout
metadata: {name: shop, namespace: apps}
spec:
  targetRef: {kind: HTTPRoute, name: shop, sectionName: api}
  stableRef: {name: shop-vm, port: 80}
  candidateRef: {name: shop-k8s, port: 80}
  steps:
  - mirror: {duration: 1m}
  - {weight: 100, pauze: 1m}
---
apiVersion: torii.dev/v1alpha1
kind: Rollout
metadata: {name: typed}
spec:
  targetRef: {kind: HTTPRoute, name: shop}
  stableRef: {name: a, port: 80}
  candidateRef: {name: b, port: 80}
  steps: [{weight: lots}]
---
apiVersion: torii.dev/v1alpha1
kind: Comparison
metadata: {name: no-candidate}
spec:
  targetRef: {kind: HTTPRoute, name: shop}
"#;
    let report = parse("m.yaml", text);
    let warnings: Vec<_> = report.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "m.yaml:1: Comparison default/shop: spec.sampling.percnt: unknown field, ignored",
            "m.yaml:9: Rollout apps/shop: spec.steps[1].pauze: unknown field, ignored",
        ]
    );
    let errors: Vec<_> = report.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "m.yaml:27: Rollout default/typed: spec.steps[0].weight: invalid type: string \"lots\", expected i32",
            "m.yaml:33: Comparison default/no-candidate: spec: missing field `candidate`",
        ]
    );
    assert_eq!(
        placed(&report.set.comparisons, |o| &o.metadata),
        row("default", "shop", 1)
    );
    assert_eq!(
        placed(&report.set.rollouts, |o| &o.metadata),
        row("apps", "shop", 9)
    );
    let rollout = &report.set.rollouts[0].object.spec;
    assert_eq!(rollout.target_ref.section_name.as_deref(), Some("api"));
    assert_eq!(rollout.steps[1].weight, Some(100));
    assert_eq!(
        rollout.steps[0]
            .mirror
            .as_ref()
            .and_then(|m| m.duration.as_deref()),
        Some("1m")
    );
}
