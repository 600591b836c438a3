//! The Gateway API CRDs' CEL rules (`x-kubernetes-validations`, v1.5.1), written out by hand.
//!
//! Each rule keeps the CRD's message word for word and is reported at the field the rule is
//! declared on. Rules read the document after the API server's defaulting, so the CRDs'
//! defaults are applied where a rule reads a field that may be left out (`kind: Service`,
//! `group: ""`, a match's `path: {type: PathPrefix, value: /}`, `tls.mode: Terminate`).

use super::value::{get, has, items, string_or, text, FieldPath};
use super::Violation;
use crate::load::kind::Kind;
use regex::Regex;
use serde_yaml_ng::Value;
use std::sync::OnceLock;

/// Collects violations with their field paths.
struct Out<'o>(&'o mut Vec<Violation>);

impl Out<'_> {
    /// Reports `message` at `field` unless `ok`.
    fn rule(&mut self, ok: bool, field: &FieldPath, message: &str) {
        if !ok {
            self.0.push(Violation {
                field: field.to_string(),
                message: message.to_owned(),
            });
        }
    }
}

/// Runs the CEL rules of `kind`'s CRD on `spec`.
pub(super) fn check(kind: Kind, version: &str, spec: &Value, violations: &mut Vec<Violation>) {
    let out = &mut Out(violations);
    let path = FieldPath::root("spec");
    match kind {
        Kind::Gateway => gateway(spec, &path, out),
        Kind::HttpRoute => {
            parent_refs(spec, &path, out);
            http_rules(spec, &path, out);
        }
        Kind::GrpcRoute => {
            parent_refs(spec, &path, out);
            grpc_rules(spec, &path, out);
        }
        Kind::TlsRoute => {
            parent_refs(spec, &path, out);
            if version == "v1" || version == "v1alpha3" {
                tls_hostnames(spec, &path, out);
            } else {
                unique_rule_names(spec, &path, out);
            }
            l4_backend_refs(spec, &path, out);
        }
        Kind::TcpRoute => {
            parent_refs(spec, &path, out);
            unique_rule_names(spec, &path, out);
            l4_backend_refs(spec, &path, out);
        }
        _ => {}
    }
}

/// The RFC 1123 subdomain pattern the CRDs' rules use.
fn rfc1123() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)$")
            .expect("a valid pattern")
    })
}

// ---------------------------------------------------------------------------------------
// Gateway

fn gateway(spec: &Value, path: &FieldPath, out: &mut Out<'_>) {
    let addresses = items(spec, "addresses");
    let field = path.key("addresses");
    for (type_, message) in [
        ("IPAddress", "IPAddress values must be unique"),
        ("Hostname", "Hostname values must be unique"),
    ] {
        let values: Vec<String> = addresses
            .iter()
            .filter(|a| string_or(a, "type", "IPAddress") == type_)
            .filter_map(|a| get(a, "value").and_then(text))
            .collect();
        out.rule(all_unique(&values), &field, message);
    }
    for (i, address) in addresses.iter().enumerate() {
        let ok = string_or(address, "type", "IPAddress") != "Hostname"
            || get(address, "value")
                .and_then(text)
                .is_none_or(|v| hostname_pattern().is_match(&v));
        out.rule(
            ok,
            &field.index(i),
            r"Hostname value must be empty or contain only valid characters (matching ^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$)",
        );
    }
    if let Some(infrastructure) = get(spec, "infrastructure") {
        let field = path.key("infrastructure");
        for (name, what) in [("annotations", "annotation"), ("labels", "label")] {
            let Some(map) = get(infrastructure, name).and_then(Value::as_mapping) else {
                continue;
            };
            let keys: Vec<String> = map.keys().filter_map(text).collect();
            let title = if what == "label" {
                "Label"
            } else {
                "Annotation"
            };
            out.rule(
                keys.iter().all(|k| metadata_key_pattern().is_match(k)),
                &field.key(name),
                &format!("{title} keys must be in the form of an optional DNS subdomain prefix followed by a required name segment of up to 63 characters."),
            );
            out.rule(
                keys.iter()
                    .all(|k| k.split('/').next().unwrap_or("").chars().count() < 253),
                &field.key(name),
                &format!("If specified, the {what} key's prefix must be a DNS subdomain not longer than 253 characters in total."),
            );
        }
    }
    listeners(spec, path, out);
    if let Some(per_port) = get(spec, "tls")
        .and_then(|t| get(t, "frontend"))
        .map(|f| items(f, "perPort"))
    {
        let ports: Vec<String> = per_port
            .iter()
            .map(|t| get(t, "port").and_then(text).unwrap_or_default())
            .collect();
        out.rule(
            all_unique(&ports),
            &path.key("tls").key("frontend").key("perPort"),
            "Port for TLS configuration must be unique within the Gateway",
        );
    }
}

fn listeners(spec: &Value, path: &FieldPath, out: &mut Out<'_>) {
    let listeners = items(spec, "listeners");
    let field = path.key("listeners");
    let protocol = |l: &Value| string_or(l, "protocol", "");
    let tls_mode = |l: &Value| get(l, "tls").map(|t| string_or(t, "mode", "Terminate"));
    out.rule(
        listeners
            .iter()
            .all(|l| !["HTTP", "TCP", "UDP"].contains(&protocol(l).as_str()) || !has(l, "tls")),
        &field,
        "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']",
    );
    out.rule(
        listeners.iter().all(|l| {
            protocol(l) != "HTTPS" || tls_mode(l).is_none_or(|m| m.is_empty() || m == "Terminate")
        }),
        &field,
        "tls mode must be Terminate for protocol HTTPS",
    );
    out.rule(
        listeners
            .iter()
            .all(|l| protocol(l) != "TLS" || tls_mode(l).is_some_and(|m| !m.is_empty())),
        &field,
        "tls mode must be set for protocol TLS",
    );
    out.rule(
        listeners.iter().all(|l| {
            !["TCP", "UDP"].contains(&protocol(l).as_str())
                || get(l, "hostname")
                    .and_then(text)
                    .is_none_or(|h| h.is_empty())
        }),
        &field,
        "hostname must not be specified for protocols ['TCP', 'UDP']",
    );
    let names: Vec<String> = listeners.iter().map(|l| string_or(l, "name", "")).collect();
    out.rule(
        all_unique(&names),
        &field,
        "Listener name must be unique within the Gateway",
    );
    let combinations: Vec<String> = listeners
        .iter()
        .map(|l| {
            format!(
                "{}\u{0}{}\u{0}{:?}",
                string_or(l, "port", ""),
                protocol(l),
                get(l, "hostname").and_then(text)
            )
        })
        .collect();
    out.rule(
        all_unique(&combinations),
        &field,
        "Combination of port, protocol and hostname must be unique for each listener",
    );
    for (i, listener) in listeners.iter().enumerate() {
        if let Some(tls) = get(listener, "tls") {
            let ok = string_or(tls, "mode", "Terminate") != "Terminate"
                || !items(tls, "certificateRefs").is_empty()
                || get(tls, "options")
                    .and_then(Value::as_mapping)
                    .is_some_and(|m| !m.is_empty());
            out.rule(
                ok,
                &field.index(i).key("tls"),
                "certificateRefs or options must be specified when mode is Terminate",
            );
        }
    }
}

fn hostname_pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
            .expect("a valid pattern")
    })
}

fn metadata_key_pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$")
            .expect("a valid pattern")
    })
}

// ---------------------------------------------------------------------------------------
// Every route kind

/// `spec.parentRefs`: two references to the same parent must both name a sectionName (or a
/// port), and no two may name the same one.
fn parent_refs(spec: &Value, path: &FieldPath, out: &mut Out<'_>) {
    let refs = items(spec, "parentRefs");
    let parent = |p: &Value| {
        (
            string_or(p, "group", "gateway.networking.k8s.io"),
            string_or(p, "kind", "Gateway"),
            string_or(p, "name", ""),
            get(p, "namespace").and_then(text).filter(|n| !n.is_empty()),
        )
    };
    let section = |p: &Value| {
        get(p, "sectionName")
            .and_then(text)
            .filter(|s| !s.is_empty())
    };
    let port = |p: &Value| get(p, "port").and_then(text).filter(|p| p != "0");
    let field = path.key("parentRefs");
    let specified = refs.iter().all(|p1| {
        refs.iter().all(|p2| {
            parent(p1) != parent(p2)
                || (section(p1).is_none() == section(p2).is_none()
                    && port(p1).is_none() == port(p2).is_none())
        })
    });
    out.rule(
        specified,
        &field,
        "sectionName or port must be specified when parentRefs includes 2 or more references to the same parent",
    );
    let keys: Vec<String> = refs
        .iter()
        .map(|p| format!("{:?}", (parent(p), section(p), port(p))))
        .collect();
    out.rule(
        all_unique(&keys),
        &field,
        "sectionName or port must be unique when parentRefs includes 2 or more references to the same parent",
    );
}

/// `spec.rules`: names unique within the route.
fn unique_rule_names(spec: &Value, path: &FieldPath, out: &mut Out<'_>) {
    let names: Vec<String> = items(spec, "rules")
        .iter()
        .filter_map(|r| get(r, "name").and_then(text))
        .collect();
    out.rule(
        all_unique(&names),
        &path.key("rules"),
        "Rule name must be unique within the route",
    );
}

/// `spec.rules`: at most 128 matches over all rules. An HTTPRoute rule without matches has
/// one (the default); a GRPCRoute rule has none.
fn total_matches(spec: &Value, path: &FieldPath, absent: usize, out: &mut Out<'_>) {
    let total: usize = items(spec, "rules")
        .iter()
        .take(16)
        .map(|r| {
            get(r, "matches")
                .and_then(Value::as_sequence)
                .map_or(absent, Vec::len)
        })
        .sum();
    out.rule(
        total <= 128,
        &path.key("rules"),
        "While 16 rules and 64 matches per rule are allowed, the total number of matches across all rules in a route must be less than 128",
    );
}

/// A backendRef to a core Service must name a port.
fn service_port(backend: &Value, field: &FieldPath, out: &mut Out<'_>) {
    let service = string_or(backend, "group", "").is_empty()
        && string_or(backend, "kind", "Service") == "Service";
    out.rule(
        !service || has(backend, "port"),
        field,
        "Must have port for Service reference",
    );
}

fn l4_backend_refs(spec: &Value, path: &FieldPath, out: &mut Out<'_>) {
    for (r, rule) in items(spec, "rules").iter().enumerate() {
        for (b, backend) in items(rule, "backendRefs").iter().enumerate() {
            let field = path.key("rules").index(r).key("backendRefs").index(b);
            service_port(backend, &field, out);
        }
    }
}

/// TLSRoute v1 (and v1alpha3) `spec.hostnames`: no IP addresses, RFC 1123 names, a wildcard
/// only as the first label.
fn tls_hostnames(spec: &Value, path: &FieldPath, out: &mut Out<'_>) {
    let hostnames: Vec<String> = items(spec, "hostnames").iter().filter_map(text).collect();
    let field = path.key("hostnames");
    out.rule(
        hostnames
            .iter()
            .all(|h| h.parse::<std::net::IpAddr>().is_err()),
        &field,
        "Hostnames cannot contain an IP",
    );
    out.rule(
        hostnames
            .iter()
            .all(|h| h.contains('*') || rfc1123().is_match(h)),
        &field,
        "Hostnames must be valid based on RFC-1123",
    );
    out.rule(
        hostnames.iter().all(|h| {
            !h.contains('*') || h.strip_prefix("*.").is_some_and(|rest| rfc1123().is_match(rest))
        }),
        &field,
        "Wildcards on hostnames must be the first label, and the rest of hostname must be valid based on RFC-1123",
    );
}

fn session_persistence(rule: &Value, field: &FieldPath, out: &mut Out<'_>) {
    let Some(session) = get(rule, "sessionPersistence") else {
        return;
    };
    let field = field.key("sessionPersistence");
    let cookie = get(session, "cookieConfig");
    out.rule(
        cookie.is_none_or(|c| {
            get(c, "lifetimeType")
                .and_then(text)
                .is_none_or(|t| t != "Permanent")
        }) || has(session, "absoluteTimeout"),
        &field,
        "AbsoluteTimeout must be specified when cookie lifetimeType is Permanent",
    );
    out.rule(
        cookie.is_none() || string_or(session, "type", "Cookie") == "Cookie",
        &field,
        "cookieConfig can only be set with type Cookie",
    );
}

// ---------------------------------------------------------------------------------------
// HTTPRoute

fn http_rules(spec: &Value, path: &FieldPath, out: &mut Out<'_>) {
    total_matches(spec, path, 1, out);
    unique_rule_names(spec, path, out);
    for (r, rule) in items(spec, "rules").iter().enumerate() {
        let field = path.key("rules").index(r);
        http_rule(rule, &field, out);
        for (m, matched) in items(rule, "matches").iter().enumerate() {
            if let Some(path_match) = get(matched, "path") {
                http_path_match(path_match, &field.key("matches").index(m).key("path"), out);
            }
        }
        let filters_field = field.key("filters");
        http_filters(items(rule, "filters"), &filters_field, out);
        for (b, backend) in items(rule, "backendRefs").iter().enumerate() {
            let field = field.key("backendRefs").index(b);
            service_port(backend, &field, out);
            http_filters(items(backend, "filters"), &field.key("filters"), out);
        }
        session_persistence(rule, &field, out);
        if let Some(timeouts) = get(rule, "timeouts") {
            let request = get(timeouts, "request")
                .and_then(text)
                .and_then(|d| duration_ms(&d));
            let backend = get(timeouts, "backendRequest")
                .and_then(text)
                .and_then(|d| duration_ms(&d));
            let ok = match (request, backend) {
                (Some(request), Some(backend)) => request == 0 || backend <= request,
                _ => true,
            };
            out.rule(
                ok,
                &field.key("timeouts"),
                "backendRequest timeout cannot be longer than request timeout",
            );
        }
    }
}

/// A Gateway API duration (`^([0-9]{1,5}(h|m|s|ms)){1,4}$`) in milliseconds; `None` when it is
/// not one (the pattern check reports it).
pub(super) fn duration_ms(text: &str) -> Option<u64> {
    let mut rest = text;
    let mut total = 0u64;
    let mut parts = 0;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 || digits > 5 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (1, 2)
        } else if rest.starts_with('h') {
            (3_600_000, 1)
        } else if rest.starts_with('m') {
            (60_000, 1)
        } else if rest.starts_with('s') {
            (1_000, 1)
        } else {
            return None;
        };
        rest = &rest[len..];
        total += n * unit;
        parts += 1;
    }
    (1..=4).contains(&parts).then_some(total)
}

/// The rules on one HTTPRoute rule: redirects and backendRefs, and `ReplacePrefixMatch` only
/// with exactly one `PathPrefix` match.
fn http_rule(rule: &Value, field: &FieldPath, out: &mut Out<'_>) {
    let filters = items(rule, "filters");
    let backends = items(rule, "backendRefs");
    out.rule(
        backends.is_empty() || filters.iter().all(|f| !has(f, "requestRedirect")),
        field,
        "RequestRedirect filter must not be used together with backendRefs",
    );
    let prefix_replaced = |filters: &[Value], kind: &str| {
        filters
            .iter()
            .filter(|f| {
                get(f, kind).and_then(|k| get(k, "path")).is_some_and(|p| {
                    string_or(p, "type", "") == "ReplacePrefixMatch" && has(p, "replacePrefixMatch")
                })
            })
            .count()
            == 1
    };
    // After defaulting, a rule without matches has one PathPrefix match, and a match without
    // a path has a PathPrefix one.
    let single_prefix = match get(rule, "matches").and_then(Value::as_sequence) {
        None => true,
        Some(matches) => {
            matches.len() == 1
                && get(&matches[0], "path")
                    .is_none_or(|p| string_or(p, "type", "PathPrefix") == "PathPrefix")
        }
    };
    for (kind, message) in [
        ("requestRedirect", "When using RequestRedirect filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified"),
        ("urlRewrite", "When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified"),
    ] {
        out.rule(!prefix_replaced(filters, kind) || single_prefix, field, message);
    }
    for (kind, message) in [
        ("requestRedirect", "Within backendRefs, when using RequestRedirect filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified"),
        ("urlRewrite", "Within backendRefs, When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified"),
    ] {
        let used = backends
            .iter()
            .filter(|b| prefix_replaced(items(b, "filters"), kind))
            .count()
            == 1;
        out.rule(!used || single_prefix, field, message);
    }
}

/// A path match (type `PathPrefix` and value `/` by default).
fn http_path_match(path_match: &Value, field: &FieldPath, out: &mut Out<'_>) {
    let type_ = string_or(path_match, "type", "PathPrefix");
    let value = string_or(path_match, "value", "/");
    out.rule(
        ["Exact", "PathPrefix", "RegularExpression"].contains(&type_.as_str()),
        field,
        "type must be one of ['Exact', 'PathPrefix', 'RegularExpression']",
    );
    if type_ != "Exact" && type_ != "PathPrefix" {
        return;
    }
    static RE: OnceLock<Regex> = OnceLock::new();
    let characters = RE.get_or_init(|| {
        Regex::new(r"^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$")
            .expect("a valid pattern")
    });
    let rules: [(bool, &str); 10] = [
        (value.starts_with('/'), "value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']"),
        (!value.contains("//"), "must not contain '//' when type one of ['Exact', 'PathPrefix']"),
        (!value.contains("/./"), "must not contain '/./' when type one of ['Exact', 'PathPrefix']"),
        (!value.contains("/../"), "must not contain '/../' when type one of ['Exact', 'PathPrefix']"),
        (!value.contains("%2f"), "must not contain '%2f' when type one of ['Exact', 'PathPrefix']"),
        (!value.contains("%2F"), "must not contain '%2F' when type one of ['Exact', 'PathPrefix']"),
        (!value.contains('#'), "must not contain '#' when type one of ['Exact', 'PathPrefix']"),
        (!value.ends_with("/.."), "must not end with '/..' when type one of ['Exact', 'PathPrefix']"),
        (!value.ends_with("/."), "must not end with '/.' when type one of ['Exact', 'PathPrefix']"),
        (characters.is_match(&value), "must only contain valid characters (matching ^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$) for types ['Exact', 'PathPrefix']"),
    ];
    for (ok, message) in rules {
        out.rule(ok, field, message);
    }
}

/// The filter types of HTTPRoute filters and the member each one needs.
const HTTP_FILTERS: [(&str, &str); 8] = [
    ("cors", "CORS"),
    ("requestHeaderModifier", "RequestHeaderModifier"),
    ("responseHeaderModifier", "ResponseHeaderModifier"),
    ("requestMirror", "RequestMirror"),
    ("requestRedirect", "RequestRedirect"),
    ("urlRewrite", "URLRewrite"),
    ("extensionRef", "ExtensionRef"),
    ("externalAuth", "ExternalAuth"),
];

/// The filter types of GRPCRoute filters and the member each one needs.
const GRPC_FILTERS: [(&str, &str); 4] = [
    ("requestHeaderModifier", "RequestHeaderModifier"),
    ("responseHeaderModifier", "ResponseHeaderModifier"),
    ("requestMirror", "RequestMirror"),
    ("extensionRef", "ExtensionRef"),
];

fn http_filters(filters: &[Value], field: &FieldPath, out: &mut Out<'_>) {
    if filters.is_empty() {
        return;
    }
    let count = |t: &str| {
        filters
            .iter()
            .filter(|f| string_or(f, "type", "") == t)
            .count()
    };
    out.rule(
        count("RequestRedirect") == 0 || count("URLRewrite") == 0,
        field,
        "May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both",
    );
    for type_ in [
        "CORS",
        "RequestHeaderModifier",
        "ResponseHeaderModifier",
        "RequestRedirect",
        "URLRewrite",
    ] {
        out.rule(
            count(type_) <= 1,
            field,
            &format!("{type_} filter cannot be repeated"),
        );
    }
    for (i, filter) in filters.iter().enumerate() {
        let field = field.index(i);
        filter_members(filter, &HTTP_FILTERS, &field, out);
        if let Some(cors) = get(filter, "cors") {
            let field = field.key("cors");
            for (name, message) in [
                (
                    "allowHeaders",
                    "AllowHeaders cannot contain '*' alongside other methods",
                ),
                (
                    "allowMethods",
                    "AllowMethods cannot contain '*' alongside other methods",
                ),
                (
                    "allowOrigins",
                    "AllowOrigins cannot contain '*' alongside other origins",
                ),
            ] {
                let list = items(cors, name);
                let star = list.iter().any(|v| text(v).as_deref() == Some("*"));
                out.rule(!star || list.len() <= 1, &field.key(name), message);
            }
        }
        if let Some(auth) = get(filter, "externalAuth") {
            let field = field.key("externalAuth");
            let protocol = string_or(auth, "protocol", "");
            for (member, value) in [("grpc", "GRPC"), ("http", "HTTP")] {
                out.rule(
                    protocol != value || has(auth, member),
                    &field,
                    &format!("{member} must be specified when protocol is set to '{value}'"),
                );
                out.rule(
                    !has(auth, member) || protocol == value,
                    &field,
                    &format!("protocol must be '{value}' when {member} is set"),
                );
            }
            if let Some(backend) = get(auth, "backendRef") {
                service_port(backend, &field.key("backendRef"), out);
            }
        }
        mirror(filter, &field, out);
        for kind in ["requestRedirect", "urlRewrite"] {
            if let Some(path) = get(filter, kind).and_then(|k| get(k, "path")) {
                path_modifier(path, &field.key(kind).key("path"), out);
            }
        }
    }
}

fn grpc_filters(filters: &[Value], field: &FieldPath, out: &mut Out<'_>) {
    let count = |t: &str| {
        filters
            .iter()
            .filter(|f| string_or(f, "type", "") == t)
            .count()
    };
    for type_ in ["RequestHeaderModifier", "ResponseHeaderModifier"] {
        out.rule(
            count(type_) <= 1,
            field,
            &format!("{type_} filter cannot be repeated"),
        );
    }
    for (i, filter) in filters.iter().enumerate() {
        let field = field.index(i);
        filter_members(filter, &GRPC_FILTERS, &field, out);
        mirror(filter, &field, out);
    }
}

/// A filter holds the member of its type and no other filter type's member.
fn filter_members(filter: &Value, kinds: &[(&str, &str)], field: &FieldPath, out: &mut Out<'_>) {
    let type_ = string_or(filter, "type", "");
    for (member, value) in kinds {
        out.rule(
            !(has(filter, member) && type_ != *value),
            field,
            &format!("filter.{member} must be nil if the filter.type is not {value}"),
        );
        out.rule(
            has(filter, member) || type_ != *value,
            field,
            &format!("filter.{member} must be specified for {value} filter.type"),
        );
    }
}

fn mirror(filter: &Value, field: &FieldPath, out: &mut Out<'_>) {
    let Some(mirror) = get(filter, "requestMirror") else {
        return;
    };
    let field = field.key("requestMirror");
    out.rule(
        !(has(mirror, "percent") && has(mirror, "fraction")),
        &field,
        "Only one of percent or fraction may be specified in HTTPRequestMirrorFilter",
    );
    if let Some(backend) = get(mirror, "backendRef") {
        service_port(backend, &field.key("backendRef"), out);
    }
    if let Some(fraction) = get(mirror, "fraction") {
        let number = |name: &str, default: i64| {
            get(fraction, name)
                .and_then(Value::as_i64)
                .unwrap_or(default)
        };
        out.rule(
            number("numerator", 0) <= number("denominator", 100),
            &field.key("fraction"),
            "numerator must be less than or equal to denominator",
        );
    }
}

/// A redirect's or rewrite's `path`: its type names the member that is set.
fn path_modifier(path: &Value, field: &FieldPath, out: &mut Out<'_>) {
    let type_ = string_or(path, "type", "");
    for (member, value) in [
        ("replaceFullPath", "ReplaceFullPath"),
        ("replacePrefixMatch", "ReplacePrefixMatch"),
    ] {
        out.rule(
            type_ != value || has(path, member),
            field,
            &format!("{member} must be specified when type is set to '{value}'"),
        );
        out.rule(
            !has(path, member) || type_ == value,
            field,
            &format!("type must be '{value}' when {member} is set"),
        );
    }
}

// ---------------------------------------------------------------------------------------
// GRPCRoute

fn grpc_rules(spec: &Value, path: &FieldPath, out: &mut Out<'_>) {
    total_matches(spec, path, 0, out);
    unique_rule_names(spec, path, out);
    static SERVICE: OnceLock<Regex> = OnceLock::new();
    static METHOD: OnceLock<Regex> = OnceLock::new();
    let service_pattern = SERVICE.get_or_init(|| {
        Regex::new(r"^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$").expect("a valid pattern")
    });
    let method_pattern =
        METHOD.get_or_init(|| Regex::new(r"^[A-Za-z_][A-Za-z_0-9]*$").expect("a valid pattern"));
    for (r, rule) in items(spec, "rules").iter().enumerate() {
        let field = path.key("rules").index(r);
        for (m, matched) in items(rule, "matches").iter().enumerate() {
            let Some(method) = get(matched, "method") else {
                continue;
            };
            let field = field.key("matches").index(m).key("method");
            out.rule(
                !has(method, "type") || has(method, "service") || has(method, "method"),
                &field,
                "One or both of 'service' or 'method' must be specified",
            );
            let exact = string_or(method, "type", "Exact") == "Exact";
            let service = get(method, "service").and_then(text);
            out.rule(
                !exact || service.is_none_or(|s| service_pattern.is_match(&s)),
                &field,
                r"service must only contain valid characters (matching ^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$)",
            );
            let name = get(method, "method").and_then(text);
            out.rule(
                !exact || name.is_none_or(|m| method_pattern.is_match(&m)),
                &field,
                "method must only contain valid characters (matching ^[A-Za-z_][A-Za-z_0-9]*$)",
            );
        }
        grpc_filters(items(rule, "filters"), &field.key("filters"), out);
        for (b, backend) in items(rule, "backendRefs").iter().enumerate() {
            let field = field.key("backendRefs").index(b);
            service_port(backend, &field, out);
            grpc_filters(items(backend, "filters"), &field.key("filters"), out);
        }
        session_persistence(rule, &field, out);
    }
}

/// True when no value repeats.
fn all_unique(values: &[String]) -> bool {
    let mut seen = std::collections::HashSet::new();
    values.iter().all(|v| seen.insert(v))
}
