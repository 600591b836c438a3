//! Request matches: HTTPRoute path, header, query and method matches, and GRPCRoute method
//! matches turned into path matches.

use crate::conditions::{reason, Problem};
use http::{HeaderName, Method};
use regex::Regex;
use std::collections::HashSet;
use torii_config::{HeaderMatch, HttpRouteMatch, PathMatch, QueryParamMatch, StringMatch};
use torii_resources::wire::gateway::grpcroutes::{
    GrpcRouteRulesMatches, GrpcRouteRulesMatchesHeadersType, GrpcRouteRulesMatchesMethod,
    GrpcRouteRulesMatchesMethodType,
};
use torii_resources::wire::gateway::httproutes::{
    HttpRouteRulesMatches, HttpRouteRulesMatchesHeadersType, HttpRouteRulesMatchesMethod as M,
    HttpRouteRulesMatchesPathType, HttpRouteRulesMatchesQueryParamsType,
};

fn unsupported(message: String) -> Problem {
    Problem::new(reason::UNSUPPORTED_VALUE, message)
}

/// A regular expression that must match a whole value: `^(?:pattern)$`. The pattern is
/// checked on its own first, so that it cannot escape the group.
pub(super) fn anchored(pattern: &str) -> Result<Regex, Problem> {
    Regex::new(pattern)
        .and_then(|_| Regex::new(&format!("^(?:{pattern})$")))
        .map_err(|e| unsupported(format!("invalid regular expression {pattern:?}: {e}")))
}

/// The match of a rule without matches: every request (`PathPrefix /`).
pub(super) fn match_all() -> HttpRouteMatch {
    HttpRouteMatch {
        path: PathMatch::Prefix("/".into()),
        headers: Vec::new(),
        query_params: Vec::new(),
        method: None,
    }
}

/// One HTTPRoute match.
pub(super) fn http_match(wire: &HttpRouteRulesMatches) -> Result<HttpRouteMatch, Problem> {
    let path = match &wire.path {
        None => PathMatch::Prefix("/".into()),
        Some(path) => {
            let value = path.value.as_deref().unwrap_or("/");
            match path.r#type {
                None | Some(HttpRouteRulesMatchesPathType::PathPrefix) => {
                    check_path(value)?;
                    let trimmed = value.trim_end_matches('/');
                    PathMatch::Prefix(if trimmed.is_empty() {
                        "/".into()
                    } else {
                        trimmed.into()
                    })
                }
                Some(HttpRouteRulesMatchesPathType::Exact) => {
                    check_path(value)?;
                    PathMatch::Exact(value.into())
                }
                Some(HttpRouteRulesMatchesPathType::RegularExpression) => {
                    PathMatch::RegularExpression(anchored(value)?)
                }
            }
        }
    };
    let headers = header_matches(wire.headers.iter().flatten().map(|h| {
        let regex = matches!(
            h.r#type,
            Some(HttpRouteRulesMatchesHeadersType::RegularExpression)
        );
        (h.name.as_str(), h.value.as_str(), regex)
    }))?;
    let mut seen = HashSet::new();
    let mut query_params = Vec::new();
    for param in wire.query_params.iter().flatten() {
        if param.name.is_empty() {
            return Err(unsupported("query parameter names may not be empty".into()));
        }
        // Only the first entry of a name counts, as the spec says.
        if !seen.insert(param.name.as_str()) {
            continue;
        }
        let regex = matches!(
            param.r#type,
            Some(HttpRouteRulesMatchesQueryParamsType::RegularExpression)
        );
        query_params.push(QueryParamMatch {
            name: param.name.clone(),
            value: string_match(&param.value, regex)?,
        });
    }
    let method = wire.method.as_ref().map(|method| match method {
        M::Get => Method::GET,
        M::Head => Method::HEAD,
        M::Post => Method::POST,
        M::Put => Method::PUT,
        M::Delete => Method::DELETE,
        M::Connect => Method::CONNECT,
        M::Options => Method::OPTIONS,
        M::Trace => Method::TRACE,
        M::Patch => Method::PATCH,
    });
    Ok(HttpRouteMatch {
        path,
        headers,
        query_params,
        method,
    })
}

/// One GRPCRoute match: the method becomes a path match on `/service/method`.
pub(super) fn grpc_match(wire: &GrpcRouteRulesMatches) -> Result<HttpRouteMatch, Problem> {
    let path = match &wire.method {
        None => PathMatch::Prefix("/".into()),
        Some(method) => grpc_path(method)?,
    };
    let headers = header_matches(wire.headers.iter().flatten().map(|h| {
        let regex = matches!(
            h.r#type,
            Some(GrpcRouteRulesMatchesHeadersType::RegularExpression)
        );
        (h.name.as_str(), h.value.as_str(), regex)
    }))?;
    Ok(HttpRouteMatch {
        path,
        headers,
        query_params: Vec::new(),
        method: None,
    })
}

/// The path condition of a gRPC method match.
fn grpc_path(method: &GrpcRouteRulesMatchesMethod) -> Result<PathMatch, Problem> {
    let service = method.service.as_deref().filter(|s| !s.is_empty());
    let name = method.method.as_deref().filter(|m| !m.is_empty());
    if service.is_none() && name.is_none() {
        return Err(unsupported(
            "a gRPC method match needs a service or a method".into(),
        ));
    }
    match method.r#type {
        None | Some(GrpcRouteRulesMatchesMethodType::Exact) => {
            if let Some(service) = service {
                check_grpc_name(service, true)?;
            }
            if let Some(name) = name {
                check_grpc_name(name, false)?;
            }
            Ok(match (service, name) {
                (Some(service), Some(name)) => PathMatch::Exact(format!("/{service}/{name}")),
                (Some(service), None) => PathMatch::RegularExpression(anchored(&format!(
                    "/{}/[^/]+",
                    regex::escape(service)
                ))?),
                // Both absent was refused above, so this is the method alone.
                (None, name) => PathMatch::RegularExpression(anchored(&format!(
                    "/[^/]+/{}",
                    regex::escape(name.unwrap_or_default())
                ))?),
            })
        }
        Some(GrpcRouteRulesMatchesMethodType::RegularExpression) => {
            for part in [service, name].into_iter().flatten() {
                anchored(part)?;
            }
            let service = service.unwrap_or("[^/]+");
            let name = name.unwrap_or("[^/]+");
            Ok(PathMatch::RegularExpression(anchored(&format!(
                "/(?:{service})/(?:{name})"
            ))?))
        }
    }
}

/// A gRPC service (`pkg.Service`) or method (`Method`) name for an exact match.
fn check_grpc_name(name: &str, service: bool) -> Result<(), Problem> {
    let label_ok = |label: &str| {
        let mut chars = label.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let valid = if service {
        name.strip_prefix('.')
            .unwrap_or(name)
            .split('.')
            .all(label_ok)
    } else {
        label_ok(name)
    };
    if valid {
        Ok(())
    } else {
        let what = if service { "service" } else { "method" };
        Err(unsupported(format!("invalid gRPC {what} name {name:?}")))
    }
}

/// Header matches from `(name, value, is_regex)`; only the first entry of a name counts.
fn header_matches<'w>(
    wire: impl Iterator<Item = (&'w str, &'w str, bool)>,
) -> Result<Vec<HeaderMatch>, Problem> {
    let mut seen = HashSet::new();
    let mut headers = Vec::new();
    for (name, value, regex) in wire {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| unsupported(format!("invalid header name {name:?}")))?;
        if !seen.insert(name.clone()) {
            continue;
        }
        headers.push(HeaderMatch {
            name,
            value: string_match(value, regex)?,
        });
    }
    Ok(headers)
}

fn string_match(value: &str, regex: bool) -> Result<StringMatch, Problem> {
    Ok(if regex {
        StringMatch::RegularExpression(anchored(value)?)
    } else {
        StringMatch::Exact(value.to_string())
    })
}

/// The CRD's rules for `Exact` and `PathPrefix` values.
fn check_path(value: &str) -> Result<(), Problem> {
    let bad = |why: &str| Err(unsupported(format!("path {value:?} {why}")));
    if !value.starts_with('/') {
        return bad("must start with '/'");
    }
    for part in ["//", "/./", "/../", "%2f", "%2F", "#"] {
        if value.contains(part) {
            return bad(&format!("must not contain {part:?}"));
        }
    }
    if value.ends_with("/..") || value.ends_with("/.") {
        return bad("must not end with \"/.\" or \"/..\"");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchored_regexes_match_whole_values() {
        let re = anchored("/foo|/bar").expect("valid");
        assert!(re.is_match("/foo"));
        assert!(re.is_match("/bar"));
        assert!(!re.is_match("/foo/x"));
        assert!(!re.is_match("x/bar"));
        // A pattern that would only compile by breaking out of the group is refused.
        assert!(anchored(")|(").is_err());
        assert!(anchored("[").is_err());
    }

    #[test]
    fn path_values_follow_the_crd_rules() {
        for ok in ["/", "/foo", "/foo/", "/a.b/c"] {
            assert!(check_path(ok).is_ok(), "{ok}");
        }
        for bad in [
            "foo", "//x", "/a/./b", "/a/../b", "/a%2fb", "/a#b", "/a/..", "/a/.",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn grpc_names_are_checked() {
        assert!(check_grpc_name("foo.bar.Baz", true).is_ok());
        assert!(check_grpc_name("_x.y1", true).is_ok());
        assert!(check_grpc_name("foo..bar", true).is_err());
        assert!(check_grpc_name("1foo", true).is_err());
        assert!(check_grpc_name("Method", false).is_ok());
        assert!(check_grpc_name("a.b", false).is_err());
    }
}
