//! Stage 1, normalise: the request as every later stage and the upstream see it. The path in
//! normal form, one validated authority, the client's hop-by-hop and forged headers gone, and
//! only the upgrades torii forwards. Every rule of "one request is seen one way" lives here.

use super::headers;
use crate::downstream::ConnInfo;
use crate::error::ProxyError;
use http::header::{self, HeaderValue};
use http::uri::PathAndQuery;
use http::{Method, Uri, Version};
use std::borrow::Cow;
use torii_normalize::{normalize_path, parse_authority, EscapedSlashes, InvalidPath};

/// How requests are normalised (part of the proxy's options).
#[derive(Debug, Clone)]
pub struct NormalizeOptions {
    /// What to do with `%2F`, `%5C` and `\` in paths.
    pub escaped_slashes: EscapedSlashes,
    /// `Upgrade` protocols forwarded (case-insensitive); others are dropped and the request is
    /// served as a plain request. `h2c` is never forwarded (RFC 9113 §3.1 removed it).
    pub allowed_upgrades: Vec<String>,
}

impl Default for NormalizeOptions {
    fn default() -> Self {
        NormalizeOptions {
            escaped_slashes: EscapedSlashes::default(),
            allowed_upgrades: vec!["websocket".to_string()],
        }
    }
}

/// A request after normalisation: what later stages need besides its (rewritten) parts.
pub(crate) struct Canonical {
    /// The authority the request names, validated (`uri-host[:port]`): the absolute-form
    /// target's, HTTP/2's `:authority`, or `Host`. `None` for HTTP/1.0 without one.
    pub(crate) authority: Option<HeaderValue>,
    /// The client accepts trailers (`TE: trailers`).
    pub(crate) trailers: bool,
    /// A protocol upgrade torii forwards: the `Upgrade` value and the downstream connection.
    pub(crate) upgrade: Option<(HeaderValue, torii_http1::OnUpgrade)>,
}

impl Canonical {
    /// The host routing matches: lower-case, without port (empty without an authority).
    pub(crate) fn host(&self) -> Cow<'_, str> {
        let raw = self
            .authority
            .as_ref()
            .and_then(|a| a.to_str().ok())
            .unwrap_or("");
        let host = strip_port(raw);
        if host.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(host.to_ascii_lowercase())
        } else {
            Cow::Borrowed(host)
        }
    }
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Normalises the request in place. Refuses (400) what has no single reading: an invalid or
/// repeated Host, HTTP/2 `:authority` and Host that differ, malformed percent-encoding, a
/// target that is not a path; answers a redirect to the decoded path for escaped slashes
/// when the options say so.
pub(crate) fn normalize(
    parts: &mut http::request::Parts,
    conn: &ConnInfo,
    options: &NormalizeOptions,
) -> Result<Canonical, ProxyError> {
    let (authority, from_host) = authority(parts)?;
    normalize_target(parts, options.escaped_slashes)?;
    let upgrade = if parts.version == Version::HTTP_11
        && headers::has_token(&parts.headers, &header::CONNECTION, "upgrade")
    {
        headers::allowed_upgrade(
            parts.headers.get(header::UPGRADE),
            &options.allowed_upgrades,
        )
        .cloned()
        .zip(parts.extensions.remove::<torii_http1::OnUpgrade>())
    } else {
        None
    };
    let trailers = headers::strip_request(&mut parts.headers, conn.trusted);
    // The upstream gets the authority that was routed (absolute-form and HTTP/2 included).
    if let (Some(authority), false) = (&authority, from_host) {
        parts.headers.insert(header::HOST, authority.clone());
    }
    Ok(Canonical {
        authority,
        trailers,
        upgrade,
    })
}

/// The one authority of the request (RFC 9112 §3.2 and §3.2.2, RFC 9113 §8.3.1), and whether
/// it is the request's `Host` header as it stands.
fn authority(parts: &http::request::Parts) -> Result<(Option<HeaderValue>, bool), ProxyError> {
    let mut hosts = parts.headers.get_all(header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(ProxyError::BadRequest);
    }
    let from_target = parts.uri.authority();
    let (chosen, from_host) = match (from_target, host) {
        // HTTP/2: `:authority` and a Host naming another entity are malformed.
        (Some(target), Some(host)) if parts.version == Version::HTTP_2 => {
            if !target
                .as_str()
                .eq_ignore_ascii_case(host.to_str().unwrap_or(""))
            {
                return Err(ProxyError::BadRequest);
            }
            (host.clone(), true)
        }
        // HTTP/1.1 absolute-form: the target's authority wins over Host (RFC 9112 §3.2.2).
        (Some(target), _) => (
            HeaderValue::from_str(target.as_str()).map_err(|_| ProxyError::BadRequest)?,
            false,
        ),
        (None, Some(host)) => (host.clone(), true),
        // RFC 9112 §3.2: a 1.1 request without Host is invalid; 1.0 may omit it.
        (None, None) if parts.version == Version::HTTP_10 => return Ok((None, false)),
        (None, None) => return Err(ProxyError::BadRequest),
    };
    parse_authority(chosen.as_bytes()).map_err(|_| ProxyError::BadRequest)?;
    Ok((Some(chosen), from_host))
}

/// Puts the path in normal form (an allocation only when it was not normal; the target then
/// becomes origin-form). `OPTIONS *` passes unchanged.
fn normalize_target(
    parts: &mut http::request::Parts,
    slashes: EscapedSlashes,
) -> Result<(), ProxyError> {
    let path = parts.uri.path();
    if parts.method == Method::OPTIONS && path == "*" {
        return Ok(());
    }
    let normal = match normalize_path(path, slashes) {
        Ok(normal) => normal,
        Err(InvalidPath::NotAbsolute | InvalidPath::BadPercentEncoding) => {
            return Err(ProxyError::BadRequest)
        }
        Err(InvalidPath::EscapedSlash) => return Err(ProxyError::BadRequest),
    };
    if let Cow::Borrowed(_) = normal.path {
        return Ok(());
    }
    let mut target = String::with_capacity(path.len() + 1);
    target.push_str(&normal.path);
    if let Some(query) = parts.uri.query() {
        target.push('?');
        target.push_str(query);
    }
    let target = PathAndQuery::try_from(target).map_err(|_| ProxyError::BadRequest)?;
    if normal.redirect {
        // gRPC clients do not follow redirects (Envoy's edge guidance does the same).
        let grpc = parts
            .headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
        if grpc {
            return Err(ProxyError::BadRequest);
        }
        return Err(ProxyError::NonCanonicalPath(target));
    }
    parts.uri = Uri::from(target);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn conn(trusted: bool) -> ConnInfo {
        let peer: SocketAddr = "127.0.0.9:5000".parse().unwrap();
        let mut conn = ConnInfo::new(peer, "127.0.0.1:80".parse().unwrap(), false, None);
        conn.trusted = trusted;
        conn
    }

    fn request(version: Version, target: &str, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut builder = http::Request::builder().version(version).uri(target);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    fn run(parts: &mut http::request::Parts) -> Result<Canonical, ProxyError> {
        normalize(parts, &conn(false), &NormalizeOptions::default())
    }

    /// RFC 3986 §6.2.2, §5.2.4: the path routed and forwarded is the normal one.
    #[test]
    fn bypass_paths_are_routed_and_forwarded_normalised() {
        for (target, want) in [
            ("/public/../admin", "/admin"),
            ("/./admin", "/admin"),
            ("/public/%2e%2e/admin?x=1", "/admin?x=1"),
            ("/%61dmin", "/admin"),
            ("//admin", "/admin"),
            ("/admin;x=1", "/admin;x=1"),
            ("http://h.example/public/../admin?q", "/admin?q"),
            ("http://h.example", "/"),
            ("/api/v1?a=%2e%2e", "/api/v1?a=%2e%2e"),
        ] {
            let mut parts = request(Version::HTTP_11, target, &[("host", "h.example")]);
            run(&mut parts).unwrap_or_else(|e| panic!("{target}: {e}"));
            let forwarded = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            assert_eq!(forwarded, want, "{target}");
        }
    }

    #[test]
    fn escaped_slashes_redirect_browsers_and_refuse_grpc() {
        let mut parts = request(Version::HTTP_11, "/a%2F..%2Fadmin?x", &[("host", "h")]);
        match run(&mut parts) {
            Err(ProxyError::NonCanonicalPath(location)) => assert_eq!(location, "/admin?x"),
            other => panic!("{:?}", other.err()),
        }
        let mut grpc = request(
            Version::HTTP_2,
            "http://h/pkg.Svc%2FMethod",
            &[("content-type", "application/grpc")],
        );
        assert!(matches!(run(&mut grpc), Err(ProxyError::BadRequest)));
        let options = NormalizeOptions {
            escaped_slashes: EscapedSlashes::Reject,
            ..NormalizeOptions::default()
        };
        let mut parts = request(Version::HTTP_11, "/a%2fb", &[("host", "h")]);
        assert!(matches!(
            normalize(&mut parts, &conn(false), &options),
            Err(ProxyError::BadRequest)
        ));
    }

    /// RFC 9112 §3.2, §3.2.2; RFC 9113 §8.3.1.
    #[test]
    fn the_authority_is_one_valid_host() {
        let ok = [
            (
                Version::HTTP_11,
                "/",
                vec![("host", "a.example")],
                Some("a.example"),
            ),
            (
                Version::HTTP_11,
                "/",
                vec![("host", "A.example:8080")],
                Some("A.example:8080"),
            ),
            // Absolute-form wins over Host, and becomes the forwarded Host.
            (
                Version::HTTP_11,
                "http://a.example/x",
                vec![("host", "b.example")],
                Some("a.example"),
            ),
            (
                Version::HTTP_11,
                "http://a.example:81/x",
                vec![],
                Some("a.example:81"),
            ),
            (
                Version::HTTP_2,
                "https://a.example/x",
                vec![],
                Some("a.example"),
            ),
            (
                Version::HTTP_2,
                "https://a.example/x",
                vec![("host", "A.EXAMPLE")],
                Some("A.EXAMPLE"),
            ),
            (Version::HTTP_10, "/", vec![], None),
        ];
        for (version, target, headers, want) in ok {
            let mut parts = request(version, target, &headers);
            let canonical = run(&mut parts).unwrap_or_else(|e| panic!("{target} {headers:?}: {e}"));
            assert_eq!(
                canonical.authority.as_ref().map(|a| a.to_str().unwrap()),
                want
            );
            assert_eq!(
                parts.headers.get("host").map(|h| h.to_str().unwrap()),
                want,
                "forwarded Host for {target} {headers:?}"
            );
        }
        type Case<'a> = (Version, &'a str, &'a [(&'a str, &'a str)]);
        let refused: &[Case] = &[
            (Version::HTTP_11, "/", &[]),
            (
                Version::HTTP_11,
                "/",
                &[("host", "a.example"), ("host", "b.example")],
            ),
            (Version::HTTP_11, "/", &[("host", "a.example,b.example")]),
            (Version::HTTP_11, "/", &[("host", "evil@a.example")]),
            (Version::HTTP_11, "/", &[("host", "a.example/admin")]),
            (Version::HTTP_11, "/", &[("host", "")]),
            (Version::HTTP_11, "/", &[("host", "a.example:99999")]),
            (
                Version::HTTP_2,
                "https://a.example/x",
                &[("host", "b.example")],
            ),
            (
                Version::HTTP_11,
                "http://user@a.example/",
                &[("host", "a.example")],
            ),
        ];
        for (version, target, headers) in refused {
            let mut parts = request(*version, target, headers);
            assert!(
                matches!(run(&mut parts), Err(ProxyError::BadRequest)),
                "{version:?} {target} {headers:?}"
            );
        }
    }

    #[test]
    fn upgrades_pass_only_when_allowed() {
        for (upgrade, forwarded) in [("websocket", true), ("h2c", false), ("foo", false)] {
            let mut parts = request(
                Version::HTTP_11,
                "/",
                &[
                    ("host", "h"),
                    ("connection", "Upgrade, HTTP2-Settings"),
                    ("upgrade", upgrade),
                ],
            );
            let (_pending, on_upgrade) = torii_http1::upgrade::pending();
            parts.extensions.insert(on_upgrade);
            let canonical = run(&mut parts).unwrap();
            assert_eq!(canonical.upgrade.is_some(), forwarded, "{upgrade}");
            assert!(
                !parts.headers.contains_key("upgrade"),
                "stage 5 sets it again"
            );
        }
    }

    #[test]
    fn host_for_matching_is_lower_case_without_port() {
        for (authority, host) in [
            ("Example.COM:8080", "example.com"),
            ("[::1]:80", "::1"),
            ("a.b", "a.b"),
        ] {
            let canonical = Canonical {
                authority: Some(HeaderValue::from_static(authority)),
                trailers: false,
                upgrade: None,
            };
            assert_eq!(canonical.host(), host);
        }
    }
}
