//! Stage 5, prepare the upstream request: the path as rewritten, and the headers torii sets
//! (`X-Forwarded-*`, `Via`, the upgrade it forwards, `TE: trailers`) after the filters ran, so
//! neither a client nor a filter can remove or forge them.

use super::normalize::Canonical;
use crate::downstream::ConnInfo;
use crate::error::ProxyError;
use crate::filters;
use http::header::{self, HeaderName, HeaderValue};
use http::uri::PathAndQuery;
use http::Version;
use torii_config::UrlRewrite;

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Sets the upstream request's headers and returns its path and query.
pub(crate) fn prepare(
    parts: &mut http::request::Parts,
    conn: &ConnInfo,
    canonical: &Canonical,
    rewrite: Option<&UrlRewrite>,
    matched_prefix: Option<&str>,
) -> Result<PathAndQuery, ProxyError> {
    let path_and_query = upstream_path(parts, rewrite, matched_prefix)?;
    let headers = &mut parts.headers;
    if canonical.trailers {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
    if let Some((upgrade, _)) = &canonical.upgrade {
        headers.insert(header::UPGRADE, upgrade.clone());
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
    if let Some(hostname) = rewrite.and_then(|r| r.hostname.as_deref()) {
        if let Ok(value) = HeaderValue::from_str(hostname) {
            headers.insert(header::HOST, value);
        }
    }
    // A trusted proxy's chain is extended; anyone else's was removed in stage 1.
    let chain = if conn.trusted {
        forwarded_chain(headers, &conn.peer_ip)
    } else {
        None
    };
    headers.insert(
        X_FORWARDED_FOR.clone(),
        chain.unwrap_or_else(|| conn.peer_ip.clone()),
    );
    headers.insert(
        X_FORWARDED_PROTO.clone(),
        HeaderValue::from_static(if conn.tls { "https" } else { "http" }),
    );
    if let Some(authority) = &canonical.authority {
        headers.insert(X_FORWARDED_HOST.clone(), authority.clone());
    }
    let via = match parts.version {
        Version::HTTP_2 => "2 torii",
        Version::HTTP_10 => "1.0 torii",
        _ => "1.1 torii",
    };
    headers.append(header::VIA, HeaderValue::from_static(via));
    Ok(path_and_query)
}

/// `X-Forwarded-For` with `peer` appended, when the request has one.
fn forwarded_chain(headers: &http::HeaderMap, peer: &HeaderValue) -> Option<HeaderValue> {
    let mut chain = String::new();
    for previous in headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        chain.push_str(previous);
        chain.push_str(", ");
    }
    if chain.is_empty() {
        return None;
    }
    chain.push_str(peer.to_str().unwrap_or(""));
    HeaderValue::from_str(&chain).ok()
}

/// The path and query sent upstream: the normalised request's unless a rewrite changes the
/// path. A prefix rewrite of a path with `;parameters` works on the path routing matched
/// (parameters dropped), so the replaced prefix is the one that matched.
fn upstream_path(
    parts: &http::request::Parts,
    rewrite: Option<&UrlRewrite>,
    matched_prefix: Option<&str>,
) -> Result<PathAndQuery, ProxyError> {
    let Some(modifier) = rewrite.and_then(|r| r.path.as_ref()) else {
        return Ok(parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/")));
    };
    let matched_path = torii_normalize::match_view(parts.uri.path());
    let mut out = filters::rewrite_path(&matched_path, modifier, matched_prefix);
    if let Some(query) = parts.uri.query() {
        out.push('?');
        out.push_str(query);
    }
    PathAndQuery::try_from(out).map_err(|_| ProxyError::BadRequest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use torii_config::PathModifier;

    fn conn(trusted: bool, tls: bool) -> ConnInfo {
        let peer: SocketAddr = "127.0.0.9:5000".parse().unwrap();
        let mut conn = ConnInfo::new(peer, "127.0.0.1:80".parse().unwrap(), tls, None);
        conn.trusted = trusted;
        conn
    }

    fn canonical(authority: Option<&'static str>) -> Canonical {
        Canonical {
            authority: authority.map(HeaderValue::from_static),
            trailers: false,
            upgrade: None,
        }
    }

    fn parts(target: &str, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut builder = http::Request::builder().uri(target);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn forwarding_headers_are_torii_s() {
        // (trusted peer, incoming XFF, tls, want XFF, want proto)
        let cases = [
            (false, None, false, "127.0.0.9", "http"),
            (true, None, true, "127.0.0.9", "https"),
            (true, Some("10.0.0.1"), false, "10.0.0.1, 127.0.0.9", "http"),
        ];
        for (trusted, incoming, tls, want_xff, want_proto) in cases {
            let mut headers = vec![("host", "h")];
            if let Some(xff) = incoming {
                headers.push(("x-forwarded-for", xff));
            }
            let mut request = parts("/x", &headers);
            prepare(
                &mut request,
                &conn(trusted, tls),
                &canonical(Some("h")),
                None,
                None,
            )
            .unwrap();
            assert_eq!(request.headers["x-forwarded-for"], want_xff);
            assert_eq!(request.headers["x-forwarded-proto"], want_proto);
            assert_eq!(request.headers["x-forwarded-host"], "h");
            assert_eq!(request.headers["via"], "1.1 torii");
        }
    }

    #[test]
    fn rewrites_change_path_and_host() {
        let rewrite = UrlRewrite {
            hostname: Some("new.example".into()),
            path: Some(PathModifier::ReplacePrefixMatch("/v2".into())),
        };
        for (target, want) in [
            ("/v1/users?x=1", "/v2/users?x=1"),
            ("/v1;jsessionid=9/users", "/v2/users"),
            ("/v1", "/v2"),
        ] {
            let mut request = parts(target, &[("host", "h")]);
            let path = prepare(
                &mut request,
                &conn(false, false),
                &canonical(Some("h")),
                Some(&rewrite),
                Some("/v1"),
            )
            .unwrap();
            assert_eq!(path.as_str(), want, "{target}");
            assert_eq!(request.headers["host"], "new.example");
        }
    }

    #[test]
    fn trailers_and_upgrades_are_set_again() {
        let mut request = parts("/", &[("host", "h")]);
        let (_pending, on_upgrade) = torii_http1::upgrade::pending();
        let canonical = Canonical {
            authority: Some(HeaderValue::from_static("h")),
            trailers: true,
            upgrade: Some((HeaderValue::from_static("websocket"), on_upgrade)),
        };
        prepare(&mut request, &conn(false, false), &canonical, None, None).unwrap();
        assert_eq!(request.headers["te"], "trailers");
        assert_eq!(request.headers["upgrade"], "websocket");
        assert_eq!(request.headers["connection"], "upgrade");
    }
}
