//! HTTPRoute filters (and GRPCRoute's, which are a subset): header modifiers, redirects,
//! rewrites, mirrors and CORS, validated and resolved.
//!
//! Rule filters, backendRef filters and GRPCRoute filters are distinct wire types with the
//! same fields; the others are converted into the HTTPRoute rule filter type, their superset,
//! so that one function translates them all.

use crate::backends::{BackendRef, Backends, RefLog};
use crate::conditions::{reason, Problem};
use http::{HeaderName, HeaderValue, Method, StatusCode};
use serde::Serialize;
use std::collections::HashSet;
use torii_config::{
    BackendTarget, Cors, HeaderModifier, HostnameMatch, HttpFilter, PathModifier, RequestMirror,
    RequestRedirect, RouteId, UrlRewrite,
};
use torii_resources::wire::gateway::httproutes::{
    HttpRouteRulesFilters as Filter, HttpRouteRulesFiltersCors, HttpRouteRulesFiltersRequestMirror,
    HttpRouteRulesFiltersRequestRedirect,
    HttpRouteRulesFiltersRequestRedirectPathType as RedirectPathType,
    HttpRouteRulesFiltersRequestRedirectScheme as Scheme, HttpRouteRulesFiltersType as Type,
    HttpRouteRulesFiltersUrlRewrite, HttpRouteRulesFiltersUrlRewritePathType as RewritePathType,
};

/// The Access-Control-Max-Age the spec prescribes when `maxAge` is unset.
const DEFAULT_CORS_MAX_AGE: u32 = 5;

/// Where filters are translated: the route they belong to and what their rule allows.
pub(super) struct FilterScope<'s, 'a> {
    /// The route, for resolving mirror backendRefs.
    pub route: &'s RouteId,
    /// Whether the rule has exactly one match and it is a `PathPrefix` (what
    /// `ReplacePrefixMatch` needs).
    pub single_prefix: bool,
    /// The backend resolver.
    pub backends: &'s mut Backends<'a>,
    /// Where unresolved references go.
    pub log: &'s mut RefLog,
}

/// Translated filters.
#[derive(Debug, Default)]
pub(super) struct Filters {
    /// The filters, in order (mirrors that did not resolve are left out).
    pub filters: Vec<HttpFilter>,
    /// Whether an `ExtensionRef` filter could not be resolved: requests it would have
    /// processed must get an error answer instead.
    pub unresolvable: bool,
}

fn unsupported(message: impl Into<String>) -> Problem {
    Problem::new(reason::UNSUPPORTED_VALUE, message)
}

/// Converts another filter wire type (backendRef or GRPCRoute filters) into the HTTPRoute
/// rule filter type.
pub(super) fn convert<T: Serialize>(wire: &[T]) -> Result<Vec<Filter>, Problem> {
    wire.iter()
        .map(|filter| {
            serde_json::to_value(filter)
                .and_then(serde_json::from_value)
                .map_err(|e| unsupported(format!("filter: {e}")))
        })
        .collect()
}

/// Translates the filters of a rule or backendRef, checking the combinations the spec forbids.
pub(super) fn translate(
    wire: &[Filter],
    scope: &mut FilterScope<'_, '_>,
) -> Result<Filters, Problem> {
    check_combinations(wire)?;
    let mut out = Filters::default();
    for (i, filter) in wire.iter().enumerate() {
        let mark = scope.log.mark();
        let translated = translate_one(filter, scope, &mut out.unresolvable);
        scope.log.context_since(mark, format_args!("filters[{i}]"));
        let translated = translated.map_err(|problem| problem.context(format!("filters[{i}]")))?;
        out.filters.extend(translated);
    }
    Ok(out)
}

/// Filters that may appear once, RequestRedirect with URLRewrite.
fn check_combinations(wire: &[Filter]) -> Result<(), Problem> {
    let incompatible = |message: String| Problem::new(reason::INCOMPATIBLE_FILTERS, message);
    let mut seen = HashSet::new();
    for filter in wire {
        let name = match filter.r#type {
            Type::RequestHeaderModifier => "RequestHeaderModifier",
            Type::ResponseHeaderModifier => "ResponseHeaderModifier",
            Type::RequestRedirect => "RequestRedirect",
            Type::UrlRewrite => "URLRewrite",
            Type::Cors => "CORS",
            Type::RequestMirror | Type::ExtensionRef | Type::ExternalAuth => continue,
        };
        if !seen.insert(name) {
            return Err(incompatible(format!("{name} filter cannot be repeated")));
        }
    }
    if seen.contains("RequestRedirect") && seen.contains("URLRewrite") {
        return Err(incompatible(
            "RequestRedirect and URLRewrite filters cannot be combined".into(),
        ));
    }
    Ok(())
}

fn missing(field: &str) -> Problem {
    unsupported(format!("{field} must be set for this filter type"))
}

fn translate_one(
    filter: &Filter,
    scope: &mut FilterScope<'_, '_>,
    unresolvable: &mut bool,
) -> Result<Option<HttpFilter>, Problem> {
    Ok(Some(match filter.r#type {
        Type::RequestHeaderModifier => {
            let m = filter
                .request_header_modifier
                .as_ref()
                .ok_or_else(|| missing("requestHeaderModifier"))?;
            HttpFilter::RequestHeaderModifier(header_modifier(
                m.set
                    .iter()
                    .flatten()
                    .map(|h| (h.name.as_str(), h.value.as_str())),
                m.add
                    .iter()
                    .flatten()
                    .map(|h| (h.name.as_str(), h.value.as_str())),
                m.remove.as_deref().unwrap_or_default(),
            )?)
        }
        Type::ResponseHeaderModifier => {
            let m = filter
                .response_header_modifier
                .as_ref()
                .ok_or_else(|| missing("responseHeaderModifier"))?;
            HttpFilter::ResponseHeaderModifier(header_modifier(
                m.set
                    .iter()
                    .flatten()
                    .map(|h| (h.name.as_str(), h.value.as_str())),
                m.add
                    .iter()
                    .flatten()
                    .map(|h| (h.name.as_str(), h.value.as_str())),
                m.remove.as_deref().unwrap_or_default(),
            )?)
        }
        Type::RequestRedirect => {
            let r = filter
                .request_redirect
                .as_ref()
                .ok_or_else(|| missing("requestRedirect"))?;
            HttpFilter::RequestRedirect(redirect(r, scope.single_prefix)?)
        }
        Type::UrlRewrite => {
            let r = filter
                .url_rewrite
                .as_ref()
                .ok_or_else(|| missing("urlRewrite"))?;
            HttpFilter::UrlRewrite(rewrite(r, scope.single_prefix)?)
        }
        Type::RequestMirror => {
            let m = filter
                .request_mirror
                .as_ref()
                .ok_or_else(|| missing("requestMirror"))?;
            match mirror(m, scope)? {
                Some(mirror) => HttpFilter::RequestMirror(mirror),
                None => return Ok(None),
            }
        }
        Type::Cors => {
            let c = filter.cors.as_ref().ok_or_else(|| missing("cors"))?;
            HttpFilter::Cors(cors(c)?)
        }
        Type::ExtensionRef => {
            let e = filter
                .extension_ref
                .as_ref()
                .ok_or_else(|| missing("extensionRef"))?;
            scope.log.unresolved.push(
                Problem::new(
                    reason::INVALID_KIND,
                    format!(
                        "ExtensionRef filter {}/{} {} is not supported: requests it would process get a 500",
                        e.group, e.kind, e.name
                    ),
                )
                .context("extensionRef"),
            );
            *unresolvable = true;
            return Ok(None);
        }
        Type::ExternalAuth => return Err(unsupported("ExternalAuth filters are not supported")),
    }))
}

/// Header edits, with valid and unique names.
fn header_modifier<'w>(
    set: impl Iterator<Item = (&'w str, &'w str)>,
    add: impl Iterator<Item = (&'w str, &'w str)>,
    remove: &[String],
) -> Result<HeaderModifier, Problem> {
    fn name_of(name: &str, seen: &mut HashSet<HeaderName>) -> Result<HeaderName, Problem> {
        let parsed = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| unsupported(format!("invalid header name {name:?}")))?;
        if !seen.insert(parsed.clone()) {
            return Err(unsupported(format!("header {name:?} is listed twice")));
        }
        Ok(parsed)
    }
    fn pairs<'w>(
        wire: impl Iterator<Item = (&'w str, &'w str)>,
    ) -> Result<Vec<(HeaderName, HeaderValue)>, Problem> {
        let mut seen = HashSet::new();
        wire.map(|(name, value)| {
            let value = HeaderValue::from_str(value)
                .map_err(|_| unsupported(format!("invalid value for header {name:?}")))?;
            Ok((name_of(name, &mut seen)?, value))
        })
        .collect()
    }
    let mut seen = HashSet::new();
    Ok(HeaderModifier {
        set: pairs(set)?,
        add: pairs(add)?,
        remove: remove
            .iter()
            .map(|name| name_of(name, &mut seen))
            .collect::<Result<_, _>>()?,
    })
}

/// A path modifier from its type and the two optional values.
fn path_modifier(
    full: bool,
    replace_full_path: Option<&str>,
    replace_prefix_match: Option<&str>,
    single_prefix: bool,
) -> Result<PathModifier, Problem> {
    if full {
        let path = replace_full_path.ok_or_else(|| missing("path.replaceFullPath"))?;
        Ok(PathModifier::ReplaceFullPath(path.to_string()))
    } else {
        let prefix = replace_prefix_match.ok_or_else(|| missing("path.replacePrefixMatch"))?;
        if !single_prefix {
            return Err(unsupported(
                "ReplacePrefixMatch needs a rule with exactly one PathPrefix match",
            ));
        }
        Ok(PathModifier::ReplacePrefixMatch(prefix.to_string()))
    }
}

/// A hostname without a wildcard, as redirects and rewrites take.
fn precise_hostname(hostname: &str) -> Result<String, Problem> {
    match HostnameMatch::parse(hostname) {
        Ok(HostnameMatch::Exact(name)) => Ok(name),
        Ok(HostnameMatch::Wildcard(_)) => Err(unsupported(format!(
            "hostname {hostname:?} may not be a wildcard"
        ))),
        Err(e) => Err(unsupported(e.to_string())),
    }
}

fn redirect(
    r: &HttpRouteRulesFiltersRequestRedirect,
    single_prefix: bool,
) -> Result<RequestRedirect, Problem> {
    let status = r.status_code.unwrap_or(302);
    let status = match status {
        301 | 302 | 303 | 307 | 308 => u16::try_from(status)
            .ok()
            .and_then(|code| StatusCode::from_u16(code).ok()),
        _ => None,
    }
    .ok_or_else(|| {
        unsupported(format!(
            "redirect status {status} is not 301, 302, 303, 307 or 308"
        ))
    })?;
    let port = r
        .port
        .map(|port| {
            u16::try_from(port)
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| unsupported(format!("redirect port {port} is out of range")))
        })
        .transpose()?;
    let path = r
        .path
        .as_ref()
        .map(|p| {
            path_modifier(
                matches!(p.r#type, RedirectPathType::ReplaceFullPath),
                p.replace_full_path.as_deref(),
                p.replace_prefix_match.as_deref(),
                single_prefix,
            )
        })
        .transpose()?;
    Ok(RequestRedirect {
        scheme: r.scheme.as_ref().map(|scheme| {
            match scheme {
                Scheme::Http => "http",
                Scheme::Https => "https",
            }
            .to_string()
        }),
        hostname: r.hostname.as_deref().map(precise_hostname).transpose()?,
        port,
        path,
        status,
    })
}

fn rewrite(
    r: &HttpRouteRulesFiltersUrlRewrite,
    single_prefix: bool,
) -> Result<UrlRewrite, Problem> {
    let path = r
        .path
        .as_ref()
        .map(|p| {
            path_modifier(
                matches!(p.r#type, RewritePathType::ReplaceFullPath),
                p.replace_full_path.as_deref(),
                p.replace_prefix_match.as_deref(),
                single_prefix,
            )
        })
        .transpose()?;
    Ok(UrlRewrite {
        hostname: r.hostname.as_deref().map(precise_hostname).transpose()?,
        path,
    })
}

/// A mirror, `None` when its backendRef does not resolve (the problem is logged and the
/// mirror dropped: the primary request is unaffected).
fn mirror(
    m: &HttpRouteRulesFiltersRequestMirror,
    scope: &mut FilterScope<'_, '_>,
) -> Result<Option<RequestMirror>, Problem> {
    let (numerator, denominator) = match (m.percent, &m.fraction) {
        (Some(_), Some(_)) => return Err(unsupported("percent and fraction cannot both be set")),
        (Some(percent), None) => (percent, 100),
        (None, Some(fraction)) => (fraction.numerator, fraction.denominator.unwrap_or(100)),
        (None, None) => (1, 1),
    };
    let share = u32::try_from(numerator)
        .ok()
        .zip(u32::try_from(denominator).ok())
        .filter(|(n, d)| *d > 0 && n <= d)
        .ok_or_else(|| {
            unsupported(format!(
                "mirror share {numerator}/{denominator} is not a fraction of 0 to 1"
            ))
        })?;
    let mark = scope.log.mark();
    let target = scope
        .backends
        .resolve(scope.route, BackendRef::from(&m.backend_ref), scope.log);
    scope.log.context_since(mark, "requestMirror.backendRef");
    if target == BackendTarget::Invalid {
        return Ok(None);
    }
    Ok(Some(RequestMirror {
        target,
        numerator: share.0,
        denominator: share.1,
    }))
}

fn cors(c: &HttpRouteRulesFiltersCors) -> Result<Cors, Problem> {
    let list = |wire: &Option<Vec<String>>| wire.clone().unwrap_or_default();
    let allow_methods = list(&c.allow_methods);
    for method in &allow_methods {
        if method != "*" && Method::from_bytes(method.as_bytes()).is_err() {
            return Err(unsupported(format!("invalid CORS method {method:?}")));
        }
    }
    if allow_methods.len() > 1 && allow_methods.iter().any(|m| m == "*") {
        return Err(unsupported(
            "allowMethods may not combine \"*\" with methods",
        ));
    }
    let allow_headers = list(&c.allow_headers);
    let expose_headers = list(&c.expose_headers);
    for header in allow_headers.iter().chain(&expose_headers) {
        if header != "*" && HeaderName::from_bytes(header.as_bytes()).is_err() {
            return Err(unsupported(format!("invalid CORS header name {header:?}")));
        }
    }
    let allow_origins = list(&c.allow_origins);
    for origin in &allow_origins {
        if origin != "*" && !origin.contains("://") {
            return Err(unsupported(format!("invalid CORS origin {origin:?}")));
        }
    }
    let max_age = match c.max_age {
        None => DEFAULT_CORS_MAX_AGE,
        Some(age) => {
            u32::try_from(age).map_err(|_| unsupported(format!("CORS maxAge {age} is negative")))?
        }
    };
    Ok(Cors {
        allow_origins,
        allow_methods,
        allow_headers,
        expose_headers,
        allow_credentials: c.allow_credentials.unwrap_or(false),
        max_age: Some(max_age),
    })
}
