//! One case per schema rule: what the v1.5.1 CRDs make the API server refuse, refused here with
//! the field path; and objects the API server accepts, accepted.

use super::*;
use crate::load::kind::Kind::{self, *};

/// A document of `kind` in `version` with `spec` (YAML, indented by two spaces).
fn document(kind: Kind, version: &str, spec: &str) -> Mapping {
    let text = format!(
        "apiVersion: gateway.networking.k8s.io/{version}\nkind: {}\nmetadata: {{name: x}}\nspec:\n{spec}",
        kind.name()
    );
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn violations(kind: Kind, version: &str, spec: &str) -> Vec<Violation> {
    check(kind, version, &document(kind, version, spec))
}

const ROUTE: &str = "  parentRefs: [{name: gw}]\n";

/// An HTTPRoute spec with `rule` as its only rule (YAML flow mapping).
fn http(rule: &str) -> String {
    format!("{ROUTE}  rules:\n  - {rule}\n")
}

fn gateway(listeners: &str) -> String {
    format!("  gatewayClassName: torii\n  listeners:\n{listeners}")
}

/// Every case: kind, version, spec, and the field and message of the violation it must cause.
type Case = (Kind, &'static str, String, &'static str, &'static str);

fn cases() -> Vec<Case> {
    let backend = |b: &str| http(&format!("{{backendRefs: [{b}]}}"));
    let path = |p: &str| {
        http(&format!(
            "{{matches: [{{path: {p}}}], backendRefs: [{{name: s, port: 80}}]}}"
        ))
    };
    let filter = |f: &str| http(&format!("{{filters: [{f}]}}"));
    let listener = |l: &str| gateway(&format!("  - {l}\n"));
    vec![
        // Weights: 0..=1000000 (RFC-free: the CRD's minimum and maximum).
        (HttpRoute, "v1", backend("{name: s, port: 80, weight: -1}"), "spec.rules[0].backendRefs[0].weight", "-1 is less than the minimum 0"),
        (HttpRoute, "v1", backend("{name: s, port: 80, weight: 1000001}"), "spec.rules[0].backendRefs[0].weight", "greater than the maximum 1000000"),
        (TcpRoute, "v1alpha2", format!("{ROUTE}  rules: [{{backendRefs: [{{name: s, port: 80, weight: -5}}]}}]\n"), "spec.rules[0].backendRefs[0].weight", "less than the minimum 0"),
        (GrpcRoute, "v1", format!("{ROUTE}  rules: [{{backendRefs: [{{name: s, port: 80, weight: 2000000}}]}}]\n"), "spec.rules[0].backendRefs[0].weight", "greater than the maximum"),
        // Ports: 1..=65535.
        (HttpRoute, "v1", backend("{name: s, port: 0}"), "spec.rules[0].backendRefs[0].port", "less than the minimum 1"),
        (HttpRoute, "v1", backend("{name: s, port: 70000}"), "spec.rules[0].backendRefs[0].port", "greater than the maximum 65535"),
        (HttpRoute, "v1", "  parentRefs: [{name: gw, port: 0}]\n".to_owned(), "spec.parentRefs[0].port", "less than the minimum 1"),
        (Gateway, "v1", listener("{name: http, protocol: HTTP, port: 0}"), "spec.listeners[0].port", "less than the minimum 1"),
        (Gateway, "v1", listener("{name: http, protocol: HTTP, port: 65536}"), "spec.listeners[0].port", "greater than the maximum 65535"),
        (HttpRoute, "v1", backend("{name: s}"), "spec.rules[0].backendRefs[0]", "Must have port for Service reference"),
        // Path matches: the CEL rules, word for word.
        (HttpRoute, "v1", path("{type: PathPrefix, value: foo}"), "spec.rules[0].matches[0].path", "value must be an absolute path and start with '/'"),
        (HttpRoute, "v1", path("{type: Exact, value: foo}"), "spec.rules[0].matches[0].path", "value must be an absolute path and start with '/'"),
        (HttpRoute, "v1", path("{type: PathPrefix, value: /a//b}"), "spec.rules[0].matches[0].path", "must not contain '//'"),
        (HttpRoute, "v1", path("{type: PathPrefix, value: /a/./b}"), "spec.rules[0].matches[0].path", "must not contain '/./'"),
        (HttpRoute, "v1", path("{type: PathPrefix, value: /a/../b}"), "spec.rules[0].matches[0].path", "must not contain '/../'"),
        (HttpRoute, "v1", path("{type: PathPrefix, value: /a%2fb}"), "spec.rules[0].matches[0].path", "must not contain '%2f'"),
        (HttpRoute, "v1", path("{type: PathPrefix, value: /a%2Fb}"), "spec.rules[0].matches[0].path", "must not contain '%2F'"),
        (HttpRoute, "v1", path("{type: PathPrefix, value: '/a#b'}"), "spec.rules[0].matches[0].path", "must not contain '#'"),
        (HttpRoute, "v1", path("{type: PathPrefix, value: /a/..}"), "spec.rules[0].matches[0].path", "must not end with '/..'"),
        (HttpRoute, "v1", path("{type: PathPrefix, value: /a/.}"), "spec.rules[0].matches[0].path", "must not end with '/.'"),
        (HttpRoute, "v1", path("{type: Exact, value: '/a b'}"), "spec.rules[0].matches[0].path", "must only contain valid characters"),
        (HttpRoute, "v1", path("{value: foo}"), "spec.rules[0].matches[0].path", "start with '/'"),
        (HttpRoute, "v1", path("{type: PathPrefix, value: ''}"), "spec.rules[0].matches[0].path", "start with '/'"),
        // Header names and values.
        (HttpRoute, "v1", http("{matches: [{headers: [{name: 'bad name', value: x}]}]}"), "spec.rules[0].matches[0].headers[0].name", "does not match"),
        (HttpRoute, "v1", http("{matches: [{headers: [{name: a, value: x}, {name: a, value: y}]}]}"), "spec.rules[0].matches[0].headers[1]", "duplicate entry with name \"a\""),
        (HttpRoute, "v1", filter("{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: 'x:y', value: v}]}}"), "spec.rules[0].filters[0].requestHeaderModifier.set[0].name", "does not match"),
        (HttpRoute, "v1", filter("{type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: x, value: ' v'}]}}"), "spec.rules[0].filters[0].responseHeaderModifier.add[0].value", "does not match"),
        (GrpcRoute, "v1", format!("{ROUTE}  rules: [{{matches: [{{headers: [{{name: 'a b', value: x}}]}}]}}]\n"), "spec.rules[0].matches[0].headers[0].name", "does not match"),
        // Redirects and rewrites: hostnames, paths, ports, status codes.
        (HttpRoute, "v1", filter("{type: RequestRedirect, requestRedirect: {hostname: 'Bad_Host'}}"), "spec.rules[0].filters[0].requestRedirect.hostname", "does not match"),
        (HttpRoute, "v1", filter("{type: URLRewrite, urlRewrite: {hostname: '*.example.com'}}"), "spec.rules[0].filters[0].urlRewrite.hostname", "does not match"),
        (HttpRoute, "v1", filter("{type: RequestRedirect, requestRedirect: {port: 0}}"), "spec.rules[0].filters[0].requestRedirect.port", "less than the minimum 1"),
        (HttpRoute, "v1", filter("{type: RequestRedirect, requestRedirect: {statusCode: 305}}"), "spec.rules[0].filters[0].requestRedirect.statusCode", "\"305\" is not one of 301, 302, 303, 307, 308"),
        (HttpRoute, "v1", filter("{type: RequestRedirect, requestRedirect: {path: {type: ReplaceFullPath}}}"), "spec.rules[0].filters[0].requestRedirect.path", "replaceFullPath must be specified when type is set to 'ReplaceFullPath'"),
        (HttpRoute, "v1", filter("{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replacePrefixMatch: /x}}}"), "spec.rules[0].filters[0].urlRewrite.path", "type must be 'ReplacePrefixMatch' when replacePrefixMatch is set"),
        (HttpRoute, "v1", http("{matches: [{path: {type: Exact, value: /a}}], filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}}]}"), "spec.rules[0]", "When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified"),
        (HttpRoute, "v1", http("{filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}], backendRefs: [{name: s, port: 80}]}"), "spec.rules[0]", "RequestRedirect filter must not be used together with backendRefs"),
        // Filters: the type names the member, no repeats, no redirect with rewrite.
        (HttpRoute, "v1", filter("{type: RequestHeaderModifier}"), "spec.rules[0].filters[0]", "filter.requestHeaderModifier must be specified for RequestHeaderModifier filter.type"),
        (HttpRoute, "v1", filter("{type: CORS, requestRedirect: {scheme: https}, cors: {}}"), "spec.rules[0].filters[0]", "filter.requestRedirect must be nil if the filter.type is not RequestRedirect"),
        (HttpRoute, "v1", filter("{type: RequestRedirect, requestRedirect: {scheme: https}}, {type: URLRewrite, urlRewrite: {hostname: a}}"), "spec.rules[0].filters", "May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both"),
        (HttpRoute, "v1", filter("{type: CORS, cors: {}}, {type: CORS, cors: {}}"), "spec.rules[0].filters", "CORS filter cannot be repeated"),
        (HttpRoute, "v1", filter("{type: Unknown}"), "spec.rules[0].filters[0].type", "is not one of"),
        (HttpRoute, "v1", filter("{type: CORS, cors: {allowOrigins: ['*', 'https://a.example']}}"), "spec.rules[0].filters[0].cors.allowOrigins", "AllowOrigins cannot contain '*' alongside other origins"),
        (HttpRoute, "v1", filter("{type: CORS, cors: {allowOrigins: ['ftp://a.example']}}"), "spec.rules[0].filters[0].cors.allowOrigins[0]", "does not match"),
        (HttpRoute, "v1", filter("{type: RequestMirror, requestMirror: {backendRef: {name: m, port: 80}, percent: 10, fraction: {numerator: 1}}}"), "spec.rules[0].filters[0].requestMirror", "Only one of percent or fraction may be specified"),
        (HttpRoute, "v1", filter("{type: RequestMirror, requestMirror: {backendRef: {name: m, port: 80}, fraction: {numerator: 3, denominator: 2}}}"), "spec.rules[0].filters[0].requestMirror.fraction", "numerator must be less than or equal to denominator"),
        (HttpRoute, "v1", filter("{type: RequestMirror, requestMirror: {backendRef: {name: m, port: 80}, percent: 101}}"), "spec.rules[0].filters[0].requestMirror.percent", "greater than the maximum 100"),
        (HttpRoute, "v1", filter("{type: RequestMirror, requestMirror: {backendRef: {name: m}}}"), "spec.rules[0].filters[0].requestMirror.backendRef", "Must have port for Service reference"),
        (HttpRoute, "v1", http("{backendRefs: [{name: s, port: 80, filters: [{type: RequestHeaderModifier}]}]}"), "spec.rules[0].backendRefs[0].filters[0]", "filter.requestHeaderModifier must be specified"),
        // Timeouts: the Gateway API Duration format, backendRequest within request.
        (HttpRoute, "v1", http("{timeouts: {request: 10}}"), "spec.rules[0].timeouts.request", "does not match ^([0-9]{1,5}(h|m|s|ms)){1,4}$"),
        (HttpRoute, "v1", http("{timeouts: {request: 1.5s}}"), "spec.rules[0].timeouts.request", "does not match"),
        (HttpRoute, "v1", http("{timeouts: {backendRequest: 100000s}}"), "spec.rules[0].timeouts.backendRequest", "does not match"),
        (HttpRoute, "v1", http("{timeouts: {request: 1s, backendRequest: 2s}}"), "spec.rules[0].timeouts", "backendRequest timeout cannot be longer than request timeout"),
        (HttpRoute, "v1", http("{retry: {backoff: 1 s}}"), "spec.rules[0].retry.backoff", "does not match"),
        // Hostnames of routes.
        (HttpRoute, "v1", format!("{ROUTE}  hostnames: [Example.com]\n"), "spec.hostnames[0]", "does not match"),
        (HttpRoute, "v1", format!("{ROUTE}  hostnames: ['a.*.com']\n"), "spec.hostnames[0]", "does not match"),
        (TlsRoute, "v1", format!("{ROUTE}  hostnames: ['10.0.0.1']\n  rules: [{{backendRefs: [{{name: s, port: 443}}]}}]\n"), "spec.hostnames", "Hostnames cannot contain an IP"),
        (TlsRoute, "v1", format!("{ROUTE}  rules: [{{backendRefs: [{{name: s, port: 443}}]}}]\n"), "spec.hostnames", "missing required field"),
        (TlsRoute, "v1alpha2", format!("{ROUTE}  hostnames: [a.example]\n"), "spec.rules", "missing required field"),
        // Listeners: names, hostnames, uniqueness, TLS.
        (Gateway, "v1", listener("{name: Web_1, protocol: HTTP, port: 80}"), "spec.listeners[0].name", "does not match"),
        (Gateway, "v1", listener("{name: web, hostname: 'bad..host', protocol: HTTP, port: 80}"), "spec.listeners[0].hostname", "does not match"),
        (Gateway, "v1", listener("{name: web, hostname: '10.0.0.1:80', protocol: HTTP, port: 80}"), "spec.listeners[0].hostname", "does not match"),
        (Gateway, "v1", gateway("  - {name: a, protocol: HTTP, port: 80}\n  - {name: a, protocol: HTTP, port: 81}\n"), "spec.listeners", "Listener name must be unique within the Gateway"),
        (Gateway, "v1", gateway("  - {name: a, protocol: HTTP, port: 80}\n  - {name: b, protocol: HTTP, port: 80}\n"), "spec.listeners", "Combination of port, protocol and hostname must be unique for each listener"),
        (Gateway, "v1", listener("{name: a, protocol: HTTP, port: 80, tls: {mode: Terminate}}"), "spec.listeners", "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']"),
        (Gateway, "v1", listener("{name: a, protocol: HTTPS, port: 443, tls: {mode: Passthrough}}"), "spec.listeners", "tls mode must be Terminate for protocol HTTPS"),
        (Gateway, "v1", listener("{name: a, protocol: TLS, port: 443}"), "spec.listeners", "tls mode must be set for protocol TLS"),
        (Gateway, "v1", listener("{name: a, protocol: TCP, port: 9000, hostname: a.example}"), "spec.listeners", "hostname must not be specified for protocols ['TCP', 'UDP']"),
        (Gateway, "v1", listener("{name: a, protocol: HTTPS, port: 443, tls: {}}"), "spec.listeners[0].tls", "certificateRefs or options must be specified when mode is Terminate"),
        (Gateway, "v1", listener("{name: a, protocol: 'http!', port: 80}"), "spec.listeners[0].protocol", "does not match"),
        (Gateway, "v1", "  gatewayClassName: torii\n  addresses: [{type: IPAddress, value: 10.0.0.1}, {type: IPAddress, value: 10.0.0.1}]\n  listeners: [{name: a, protocol: HTTP, port: 80}]\n".to_owned(), "spec.addresses", "IPAddress values must be unique"),
        (Gateway, "v1", "  listeners: [{name: a, protocol: HTTP, port: 80}]\n".to_owned(), "spec.gatewayClassName", "missing required field"),
        // maxItems.
        (Gateway, "v1", gateway(&(0..65).map(|i| format!("  - {{name: l{i}, protocol: HTTP, port: {}}}\n", 1000 + i)).collect::<String>()), "spec.listeners", "must have at most 64 items, has 65"),
        (HttpRoute, "v1", format!("{ROUTE}  hostnames: [{}]\n", (0..17).map(|i| format!("h{i}.example")).collect::<Vec<_>>().join(", ")), "spec.hostnames", "must have at most 16 items, has 17"),
        (HttpRoute, "v1", format!("{ROUTE}  rules:\n{}", "  - {backendRefs: [{name: s, port: 80}]}\n".repeat(17)), "spec.rules", "must have at most 16 items, has 17"),
        (TlsRoute, "v1", format!("{ROUTE}  hostnames: [a.example]\n  rules: [{{backendRefs: [{{name: s, port: 443}}]}}, {{backendRefs: [{{name: s, port: 443}}]}}]\n"), "spec.rules", "must have at most 1 items, has 2"),
        // parentRefs to one parent twice.
        (HttpRoute, "v1", "  parentRefs: [{name: gw}, {name: gw, sectionName: http}]\n".to_owned(), "spec.parentRefs", "sectionName or port must be specified when parentRefs includes 2 or more references to the same parent"),
        (HttpRoute, "v1", "  parentRefs: [{name: gw, sectionName: a}, {name: gw, sectionName: a}]\n".to_owned(), "spec.parentRefs", "sectionName or port must be unique when parentRefs includes 2 or more references to the same parent"),
        (HttpRoute, "v1", "  parentRefs: [{name: gw, namespace: Bad_NS}]\n".to_owned(), "spec.parentRefs[0].namespace", "does not match"),
        // Rules.
        (HttpRoute, "v1", format!("{ROUTE}  rules: [{{name: a}}, {{name: a}}]\n"), "spec.rules", "Rule name must be unique within the route"),
        (GrpcRoute, "v1", format!("{ROUTE}  rules: [{{matches: [{{method: {{type: Exact}}}}]}}]\n"), "spec.rules[0].matches[0].method", "One or both of 'service' or 'method' must be specified"),
        (GrpcRoute, "v1", format!("{ROUTE}  rules: [{{matches: [{{method: {{service: 'a/b'}}}}]}}]\n"), "spec.rules[0].matches[0].method", "service must only contain valid characters"),
        (GrpcRoute, "v1", format!("{ROUTE}  rules: [{{filters: [{{type: RequestHeaderModifier}}]}}]\n"), "spec.rules[0].filters[0]", "filter.requestHeaderModifier must be specified"),
        // ReferenceGrant and GatewayClass.
        (ReferenceGrant, "v1beta1", "  from: [{group: '', kind: HTTPRoute, namespace: 'A B'}]\n  to: [{group: '', kind: Service}]\n".to_owned(), "spec.from[0].namespace", "does not match"),
        (ReferenceGrant, "v1beta1", "  from: []\n  to: [{group: '', kind: Service}]\n".to_owned(), "spec.from", "must have at least 1 item(s), has 0"),
        (GatewayClass, "v1", "  controllerName: not-a-path\n".to_owned(), "spec.controllerName", "does not match"),
    ]
}

#[test]
fn every_rule_refuses_what_the_api_server_refuses() {
    let mut failures = Vec::new();
    for (kind, version, spec, field, message) in cases() {
        let found = violations(kind, version, &spec);
        if !found
            .iter()
            .any(|v| v.field == field && v.message.contains(message))
        {
            failures.push(format!(
                "{} {version}: expected {field}: {message}\nspec:\n{spec}\ngot {found:#?}",
                kind.name()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Objects a v1.5.1 API server accepts: nothing to report.
#[test]
fn valid_objects_pass() {
    let cases: Vec<(Kind, &str, String)> = vec![
        (HttpRoute, "v1", http("{matches: [{path: {type: PathPrefix, value: /a}}, {path: {type: RegularExpression, value: 'a.*b'}}], backendRefs: [{name: s, port: 80, weight: 0}, {name: t, port: 80, weight: 1000000}]}")),
        (HttpRoute, "v1beta1", http("{backendRefs: [{group: torii.dev, kind: OriginPool, name: p}]}")),
        (HttpRoute, "v1", http("{matches: [{path: {type: PathPrefix, value: /a}}], filters: [{type: URLRewrite, urlRewrite: {hostname: a.example, path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}}], backendRefs: [{name: s, port: 80}]}")),
        (HttpRoute, "v1", http("{filters: [{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301, port: 443}}]}")),
        (HttpRoute, "v1", http("{timeouts: {request: 2h, backendRequest: 1h2m3s4ms}, retry: {codes: [500], attempts: 2, backoff: 100ms}}")),
        (HttpRoute, "v1", http("{timeouts: {request: 0s, backendRequest: 5s}}")),
        (HttpRoute, "v1", "  parentRefs: [{name: gw, sectionName: a}, {name: gw, sectionName: b}, {name: gw, namespace: other}]\n  hostnames: ['*.example.com', a.example]\n".to_owned()),
        (HttpRoute, "v1", http("{matches: [{headers: [{name: x-a, value: '1'}, {name: x-b, value: 'a b'}]}], filters: [{type: CORS, cors: {allowOrigins: ['*'], allowMethods: [GET, POST]}}]}")),
        (GrpcRoute, "v1", format!("{ROUTE}  rules: [{{matches: [{{method: {{service: helloworld.Greeter, method: SayHello}}}}], backendRefs: [{{name: s, port: 50051}}]}}]\n")),
        (TlsRoute, "v1", format!("{ROUTE}  hostnames: ['*.example.com']\n  rules: [{{backendRefs: [{{name: s, port: 443}}]}}]\n")),
        (TlsRoute, "v1alpha2", format!("{ROUTE}  rules: [{{backendRefs: [{{name: s, port: 443}}]}}]\n")),
        (TcpRoute, "v1alpha2", format!("{ROUTE}  rules: [{{backendRefs: [{{name: s, port: 9000, weight: 3}}]}}]\n")),
        (Gateway, "v1", "  gatewayClassName: torii\n  addresses: [{type: IPAddress, value: 127.0.0.1}]\n  listeners:\n  - {name: http, protocol: HTTP, port: 80, hostname: '*.example.com'}\n  - {name: https, protocol: HTTPS, port: 443, tls: {certificateRefs: [{name: cert}]}}\n  - {name: tls, protocol: TLS, port: 8443, tls: {mode: Passthrough}}\n  - {name: tcp, protocol: TCP, port: 9000}\n".to_owned()),
        (GatewayClass, "v1", "  controllerName: torii.dev/gateway-controller\n".to_owned()),
        (ReferenceGrant, "v1", "  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: a}]\n  to: [{group: '', kind: Service}]\n".to_owned()),
    ];
    for (kind, version, spec) in cases {
        let found = violations(kind, version, &spec);
        assert!(
            found.is_empty(),
            "{} {version}:\n{spec}\n{found:#?}",
            kind.name()
        );
    }
}

/// The loader reads each Gateway API kind in exactly the versions the v1.5.1 CRDs serve.
#[test]
fn the_versions_read_are_the_versions_served() {
    for kind in Kind::ALL {
        let Some(name) = crd_kind(kind) else { continue };
        let mut read: Vec<String> = kind.versions().iter().map(|v| (*v).to_owned()).collect();
        read.sort();
        assert_eq!(read, openapi::versions(name), "{name}");
    }
}

/// Every CEL rule of the CRDs (their messages) is checked here, word for word.
#[test]
fn every_cel_rule_is_written_out() {
    let constraints: serde_json::Value =
        serde_json::from_str(include_str!("../../../schema/crd-constraints.json")).expect("JSON");
    let source = include_str!("cel.rs");
    let mut missing = Vec::new();
    for versions in constraints["kinds"].as_object().expect("kinds").values() {
        for version in versions.as_object().expect("versions").values() {
            for rule in version["cel"].as_array().into_iter().flatten() {
                let path = rule["path"].as_str().expect("path");
                let message = rule["message"].as_str().expect("message");
                // Status is not read; a GatewayClass's controllerName is immutable only on update.
                if path.starts_with("status") || message == "Value is immutable" {
                    continue;
                }
                let written = message_written(source, message);
                if !written && !missing.contains(&message) {
                    missing.push(message);
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "CEL rules not written out: {missing:#?}"
    );
}

/// Whether `message` appears in `source`, literally or as one of the `format!` templates used
/// for families of rules.
fn message_written(source: &str, message: &str) -> bool {
    if source.contains(message) {
        return true;
    }
    let families = [
        ("filter.", " must be nil if the filter.type is not "),
        ("filter.", " must be specified for "),
        ("", " filter cannot be repeated"),
        ("", " must be specified when protocol is set to "),
        ("protocol must be '", "' when "),
        ("", " must be specified when type is set to '"),
        ("type must be '", "' when "),
        (
            "",
            " keys must be in the form of an optional DNS subdomain prefix",
        ),
        (
            "If specified, the ",
            " key's prefix must be a DNS subdomain",
        ),
    ];
    families
        .iter()
        .any(|(start, middle)| message.starts_with(start) && message.contains(middle))
}
