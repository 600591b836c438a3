//! The loader never panics, whatever the input: arbitrary text, and arbitrary mutations of a
//! valid multi-document file.

use proptest::prelude::*;
use std::path::Path;
use torii_resources::{parse_yaml, LoadReport};

/// A valid file touching every kind and many nested types, as the seed of mutations.
const SEED: &str = r#"apiVersion: v1
kind: Namespace
metadata: {name: apps, labels: {team: web}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: apps}
spec:
  ports: [{name: http, port: 80, targetPort: 8080, appProtocol: kubernetes.io/h2c}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: apps, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true, serving: true}}]
ports: [{name: http, port: 8080}]
---
apiVersion: v1
kind: Secret
metadata: {name: cert, namespace: apps}
type: kubernetes.io/tls
data: {tls.crt: Y2VydA==}
stringData: {tls.key: key}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: apps}
spec:
  gatewayClassName: torii
  addresses: [{type: IPAddress, value: 127.0.1.1}]
  listeners:
  - name: https
    port: 443
    protocol: HTTPS
    hostname: "*.example.com"
    tls: {mode: Terminate, certificateRefs: [{name: cert}]}
    allowedRoutes: {namespaces: {from: Same}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: apps}
spec:
  parentRefs: [{name: gw, sectionName: https}]
  hostnames: [web.example.com]
  rules:
  - matches:
    - path: {type: PathPrefix, value: /api}
      headers: [{name: x-v, value: "2"}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: a, value: b}]}
    backendRefs: [{name: web, port: 80, weight: 3}]
    timeouts: {request: 5s}
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: g, namespace: apps}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: other}]
  to: [{group: "", kind: Service}]
"#;

/// One edit of a text.
#[derive(Debug, Clone)]
enum Mutation {
    /// Deletes `len` bytes at a position (as a fraction of the text).
    Delete(f64, usize),
    /// Inserts a string at a position.
    Insert(f64, String),
    /// Duplicates the line at a position.
    DuplicateLine(f64),
    /// Swaps two lines.
    SwapLines(f64, f64),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let fragment = prop_oneof![
        "\\PC{0,8}",
        Just("---\n".to_owned()),
        Just("...\n".to_owned()),
        Just(": ".to_owned()),
        Just("- ".to_owned()),
        Just("&a ".to_owned()),
        Just("*a".to_owned()),
        Just("<<: *a\n".to_owned()),
        Just("!!binary ".to_owned()),
        Just("\t".to_owned()),
        Just("  ".to_owned()),
        Just("{".to_owned()),
        Just("]".to_owned()),
        Just("\"".to_owned()),
        Just("%YAML 1.2\n".to_owned()),
        Just("99999999999999999999".to_owned()),
    ];
    prop_oneof![
        (0.0..1.0, 0usize..40).prop_map(|(at, len)| Mutation::Delete(at, len)),
        (0.0..1.0, fragment).prop_map(|(at, s)| Mutation::Insert(at, s)),
        (0.0..1.0).prop_map(Mutation::DuplicateLine),
        (0.0..1.0, 0.0..1.0).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
    ]
}

/// The char boundary nearest below a fraction of the text.
fn at(text: &str, fraction: f64) -> usize {
    let mut i = (text.len() as f64 * fraction) as usize;
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(text: &mut String, mutation: &Mutation) {
    match mutation {
        Mutation::Delete(fraction, len) => {
            let start = at(text, *fraction);
            let mut end = (start + len).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.replace_range(start..end, "");
        }
        Mutation::Insert(fraction, s) => {
            let i = at(text, *fraction);
            text.insert_str(i, s);
        }
        Mutation::DuplicateLine(fraction) | Mutation::SwapLines(fraction, _) => {
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            if lines.is_empty() {
                return;
            }
            let i = ((lines.len() as f64 * fraction) as usize).min(lines.len() - 1);
            match mutation {
                Mutation::SwapLines(_, other) => {
                    let j = ((lines.len() as f64 * other) as usize).min(lines.len() - 1);
                    lines.swap(i, j);
                }
                _ => lines.insert(i, lines[i].clone()),
            }
            *text = lines.join("\n");
        }
    }
}

fn load(text: &str) -> LoadReport {
    let mut report = LoadReport::default();
    parse_yaml(Path::new("fuzz.yaml"), text, &mut report);
    report
}

#[test]
fn the_seed_is_valid() {
    let report = load(SEED);
    assert!(report.is_ok(), "{:?}", report.errors);
    assert_eq!(report.warnings, []);
    assert_eq!(report.set.len(), 7);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_does_not_panic(text in "\\PC{0,400}") {
        let _ = load(&text);
    }

    #[test]
    fn arbitrary_yaml_like_text_does_not_panic(
        text in "([a-zA-Z:\\-\\[\\]{}&*!|>#%@'\" \n\t.,0-9]){0,300}"
    ) {
        let _ = load(&text);
    }

    #[test]
    fn mutated_files_do_not_panic(mutations in proptest::collection::vec(mutation(), 1..6)) {
        let mut text = SEED.to_owned();
        for m in &mutations {
            apply(&mut text, m);
        }
        let report = load(&text);
        // Every problem names a line inside the file.
        let lines = text.lines().count().max(1);
        for error in report.errors.iter().chain(&report.warnings) {
            prop_assert!(error.origin.line >= 1 && error.origin.line <= lines + 1, "{error}");
        }
    }
}
