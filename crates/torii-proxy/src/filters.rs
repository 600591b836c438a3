//! HTTPRoute filters on requests and responses: header modifiers, redirects, rewrites and
//! CORS. Pure functions of the request, tested here.

use crate::body::ResponseBody;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Response, StatusCode};
use torii_config::{Cors, HeaderModifier, PathModifier, RequestRedirect};

/// Applies a header modifier: set replaces, add appends, remove deletes.
pub fn modify_headers(headers: &mut HeaderMap, modifier: &HeaderModifier) {
    for (name, value) in &modifier.set {
        headers.insert(name.clone(), value.clone());
    }
    for (name, value) in &modifier.add {
        headers.append(name.clone(), value.clone());
    }
    for name in &modifier.remove {
        headers.remove(name);
    }
}

/// Rewrites `path` by a modifier; `matched_prefix` is the rule's PathPrefix value that
/// matched (needed for `ReplacePrefixMatch`; stored without a trailing slash except `/`).
pub fn rewrite_path(path: &str, modifier: &PathModifier, matched_prefix: Option<&str>) -> String {
    match modifier {
        PathModifier::ReplaceFullPath(full) => full.clone(),
        PathModifier::ReplacePrefixMatch(replacement) => {
            let rest = match matched_prefix {
                Some("/") | None => {
                    if path == "/" {
                        ""
                    } else {
                        path
                    }
                }
                Some(prefix) => path.get(prefix.len()..).unwrap_or(""),
            };
            let mut out = String::with_capacity(replacement.len() + rest.len());
            out.push_str(replacement.trim_end_matches('/'));
            out.push_str(rest);
            if out.is_empty() {
                out.push('/');
            }
            out
        }
    }
}

/// What a redirect needs to know of the request.
#[derive(Debug, Clone, Copy)]
pub struct RedirectContext<'a> {
    /// `http` or `https`.
    pub scheme: &'a str,
    /// Request host without port.
    pub host: &'a str,
    /// The listener's port.
    pub listener_port: u16,
    /// Request path.
    pub path: &'a str,
    /// Request query, without `?`.
    pub query: Option<&'a str>,
    /// The matched PathPrefix value, if the match was a prefix.
    pub matched_prefix: Option<&'a str>,
}

/// The redirect response a `RequestRedirect` filter answers with.
pub fn redirect(filter: &RequestRedirect, request: &RedirectContext<'_>) -> Response<ResponseBody> {
    let scheme = filter.scheme.as_deref().unwrap_or(request.scheme);
    let host = filter.hostname.as_deref().unwrap_or(request.host);
    let port = match (filter.port, &filter.scheme) {
        (Some(port), _) => port,
        (None, Some(scheme)) => default_port(scheme),
        (None, None) => request.listener_port,
    };
    let path = match &filter.path {
        Some(modifier) => rewrite_path(request.path, modifier, request.matched_prefix),
        None => request.path.to_string(),
    };
    let mut location = String::with_capacity(scheme.len() + host.len() + path.len() + 16);
    location.push_str(scheme);
    location.push_str("://");
    location.push_str(host);
    if port != default_port(scheme) {
        location.push(':');
        location.push_str(&port.to_string());
    }
    location.push_str(&path);
    if let Some(query) = request.query {
        location.push('?');
        location.push_str(query);
    }
    let mut response = Response::new(ResponseBody::empty());
    *response.status_mut() = filter.status;
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    response
}

fn default_port(scheme: &str) -> u16 {
    if scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        80
    }
}

/// Whether an `Origin` is allowed by a CORS filter.
pub fn origin_allowed(cors: &Cors, origin: &str) -> bool {
    cors.allow_origins.iter().any(|pattern| {
        if pattern == "*" {
            return true;
        }
        if pattern.eq_ignore_ascii_case(origin) {
            return true;
        }
        // `scheme://*.suffix[:port]`: any number of labels in place of `*`.
        match (pattern.split_once("://"), origin.split_once("://")) {
            (Some((p_scheme, p_host)), Some((o_scheme, o_host))) => {
                p_scheme.eq_ignore_ascii_case(o_scheme)
                    && p_host.strip_prefix('*').is_some_and(|suffix| {
                        o_host.len() > suffix.len()
                            && o_host[o_host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
                    })
            }
            _ => false,
        }
    })
}

/// Answers a CORS preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`),
/// or returns `None` when the request is not one.
pub fn cors_preflight(
    cors: &Cors,
    method: &Method,
    headers: &HeaderMap,
) -> Option<Response<ResponseBody>> {
    if method != Method::OPTIONS {
        return None;
    }
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    let requested_method = headers.get(header::ACCESS_CONTROL_REQUEST_METHOD)?;
    let mut response = Response::new(ResponseBody::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    if !origin_allowed(cors, origin) {
        return Some(response);
    }
    let out = response.headers_mut();
    set(out, header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    let methods = if cors.allow_methods.iter().any(|m| m == "*") {
        requested_method.to_str().unwrap_or("").to_string()
    } else {
        cors.allow_methods.join(", ")
    };
    if !methods.is_empty() {
        set(out, header::ACCESS_CONTROL_ALLOW_METHODS, &methods);
    }
    let allow_headers = if cors.allow_headers.iter().any(|h| h == "*") {
        headers
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    } else {
        cors.allow_headers.join(", ")
    };
    if !allow_headers.is_empty() {
        set(out, header::ACCESS_CONTROL_ALLOW_HEADERS, &allow_headers);
    }
    if !cors.expose_headers.is_empty() {
        set(
            out,
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            &cors.expose_headers.join(", "),
        );
    }
    set(
        out,
        header::ACCESS_CONTROL_MAX_AGE,
        &cors.max_age.unwrap_or(5).to_string(),
    );
    if cors.allow_credentials {
        out.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    Some(response)
}

/// Adds CORS headers to an actual (non-preflight) response for an allowed `Origin`.
pub fn cors_decorate(cors: &Cors, origin: Option<&HeaderValue>, response_headers: &mut HeaderMap) {
    let Some(origin) = origin.and_then(|o| o.to_str().ok()) else {
        return;
    };
    if !origin_allowed(cors, origin) {
        return;
    }
    set(
        response_headers,
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        origin,
    );
    if cors.allow_credentials {
        response_headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    if !cors.expose_headers.is_empty() {
        set(
            response_headers,
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            &cors.expose_headers.join(", "),
        );
    }
}

fn set(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_prefix_match_follows_the_spec_examples() {
        let cases = [
            // (path, matched prefix, replacement, expected)
            ("/foo/bar", "/foo", "/xyz", "/xyz/bar"),
            ("/foo/bar", "/foo", "/xyz/", "/xyz/bar"),
            ("/foo", "/foo", "/xyz", "/xyz"),
            ("/foo/", "/foo", "/xyz", "/xyz/"),
            ("/foo/bar", "/foo", "/", "/bar"),
            ("/foo", "/foo", "/", "/"),
            ("/foo/", "/foo", "/", "/"),
            ("/foo", "/", "/xyz", "/xyz/foo"),
            ("/", "/", "/xyz", "/xyz"),
            ("/prefix/one/two", "/prefix/one", "/one", "/one/two"),
            ("/strip-prefix/three", "/strip-prefix", "/", "/three"),
        ];
        for (path, prefix, replacement, expected) in cases {
            let got = rewrite_path(
                path,
                &PathModifier::ReplacePrefixMatch(replacement.into()),
                Some(prefix),
            );
            assert_eq!(got, expected, "{path} with {prefix} -> {replacement}");
        }
    }

    #[test]
    fn redirect_ports_follow_the_scheme() {
        let ctx = RedirectContext {
            scheme: "http",
            host: "example.org",
            listener_port: 8080,
            path: "/a",
            query: Some("q=1"),
            matched_prefix: None,
        };
        let location = |filter: RequestRedirect| {
            redirect(&filter, &ctx).headers()[header::LOCATION]
                .to_str()
                .unwrap()
                .to_string()
        };
        let base = RequestRedirect {
            scheme: None,
            hostname: None,
            port: None,
            path: None,
            status: StatusCode::FOUND,
        };
        assert_eq!(location(base.clone()), "http://example.org:8080/a?q=1");
        assert_eq!(
            location(RequestRedirect {
                scheme: Some("https".into()),
                ..base.clone()
            }),
            "https://example.org/a?q=1"
        );
        assert_eq!(
            location(RequestRedirect {
                port: Some(443),
                ..base.clone()
            }),
            "http://example.org:443/a?q=1"
        );
        assert_eq!(
            location(RequestRedirect {
                hostname: Some("x.org".into()),
                port: Some(80),
                ..base
            }),
            "http://x.org/a?q=1"
        );
    }

    #[test]
    fn cors_origins_match_exact_and_wildcards() {
        let cors = Cors {
            allow_origins: vec!["https://www.foo.com".into(), "https://*.bar.com".into()],
            ..Cors::default()
        };
        assert!(origin_allowed(&cors, "https://www.foo.com"));
        assert!(origin_allowed(&cors, "https://a.b.bar.com"));
        assert!(!origin_allowed(&cors, "https://bar.com"));
        assert!(!origin_allowed(&cors, "http://www.bar.com"));
        assert!(!origin_allowed(&cors, "https://foobar.com"));
    }
}
