//! Which headers a hop may carry: hop-by-hop headers (RFC 9110 §7.6.1) and the forwarding
//! headers only a trusted proxy may send. One pass over the names finds both, so a request
//! that carries none of them costs no lookup.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use smallvec::SmallVec;

/// What a header name is to the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Any other header: forwarded.
    EndToEnd,
    /// Meaningful for one connection only (RFC 9110 §7.6.1): never forwarded.
    HopByHop,
    /// Says who the client is or how it connected; believed only from a trusted proxy.
    Forwarding,
}

/// Classifies a header name by its text: one length switch and at most one comparison per
/// header (comparing against `HeaderName` constants one by one cost ~2k instructions per
/// request under callgrind).
pub(crate) fn kind(name: &HeaderName) -> Kind {
    match name.as_str() {
        "connection" | "keep-alive" | "proxy-connection" | "te" | "trailer"
        | "transfer-encoding" | "upgrade" | "http2-settings" => Kind::HopByHop,
        "forwarded" | "x-real-ip" | "x-forwarded-for" | "x-forwarded-host"
        | "x-forwarded-proto" | "x-forwarded-port" | "x-forwarded-prefix" | "x-torii-shadow" => {
            Kind::Forwarding
        }
        _ => Kind::EndToEnd,
    }
}

/// Headers a client's `Connection` may not remove (RFC 9110 §7.6.1 lets it name hop-by-hop
/// headers; naming `Host` or the framing would make torii forward a different request than
/// the one it routed).
fn protected(name: &HeaderName) -> bool {
    name == header::HOST || name == header::CONTENT_LENGTH
}

/// Removes hop-by-hop headers, the headers `Connection` names (except [`protected`] ones),
/// and, unless `trusted`, the forwarding headers. Returns whether the request accepted
/// trailers (`TE: trailers`, which gRPC needs end to end).
pub(crate) fn strip_request(headers: &mut HeaderMap, trusted: bool) -> bool {
    let mut found = false;
    for name in headers.keys() {
        match kind(name) {
            Kind::EndToEnd => {}
            Kind::Forwarding if trusted => {}
            Kind::HopByHop | Kind::Forwarding => {
                found = true;
                break;
            }
        }
    }
    if !found {
        return false;
    }
    let trailers = has_token(headers, &header::TE, "trailers");
    strip(headers, |kind| match kind {
        Kind::EndToEnd => false,
        Kind::HopByHop => true,
        Kind::Forwarding => !trusted,
    });
    trailers
}

/// Removes hop-by-hop headers and those `Connection` names from a response.
pub(crate) fn strip_response(headers: &mut HeaderMap) {
    if headers.keys().all(|name| kind(name) != Kind::HopByHop) {
        return;
    }
    strip(headers, |kind| kind == Kind::HopByHop);
}

fn strip(headers: &mut HeaderMap, remove: impl Fn(Kind) -> bool) {
    let mut gone: SmallVec<[HeaderName; 8]> = SmallVec::new();
    for value in headers.get_all(header::CONNECTION) {
        let Ok(value) = value.to_str() else { continue };
        for token in value.split(',') {
            if let Ok(name) = HeaderName::from_bytes(token.trim().as_bytes()) {
                if !protected(&name) {
                    gone.push(name);
                }
            }
        }
    }
    gone.extend(headers.keys().filter(|name| remove(kind(name))).cloned());
    for name in gone {
        headers.remove(name);
    }
}

/// Whether a comma-separated header has `token` (case-insensitive).
pub(crate) fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// `value` if it names exactly one of `allowed` protocols (case-insensitive, version
/// suffixes included as written, e.g. `websocket`).
pub(crate) fn allowed_upgrade<'a>(
    value: Option<&'a HeaderValue>,
    allowed: &[String],
) -> Option<&'a HeaderValue> {
    let text = value?.to_str().ok()?.trim();
    allowed
        .iter()
        .any(|protocol| protocol.eq_ignore_ascii_case(text))
        .then_some(value?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn names(map: &HeaderMap) -> Vec<&str> {
        let mut names: Vec<&str> = map.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        names
    }

    /// RFC 9110 §7.6.1: hop-by-hop headers and those `Connection` names go, except Host and
    /// Content-Length, which decide where and what torii forwards.
    #[test]
    fn request_hop_by_hop_headers_go_but_host_and_framing_stay() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
        let cases: &[Case] = &[
            (&[("host", "a"), ("x-kept", "1")], &["host", "x-kept"]),
            (
                &[
                    ("host", "a"),
                    ("connection", "close, x-secret"),
                    ("x-secret", "1"),
                ],
                &["host"],
            ),
            (&[("host", "a"), ("connection", "host")], &["host"]),
            (
                &[
                    ("host", "a"),
                    ("content-length", "3"),
                    ("connection", "Content-Length"),
                ],
                &["content-length", "host"],
            ),
            (
                &[
                    ("host", "a"),
                    ("keep-alive", "5"),
                    ("proxy-connection", "x"),
                    ("trailer", "x"),
                ],
                &["host"],
            ),
            (
                &[
                    ("host", "a"),
                    ("upgrade", "h2c"),
                    ("http2-settings", "AAMAAABkAAQAoAAAAAIAAAAA"),
                ],
                &["host"],
            ),
            (&[("host", "a"), ("connection", "bad name here")], &["host"]),
        ];
        for (input, want) in cases {
            let mut map = headers(input);
            strip_request(&mut map, false);
            assert_eq!(names(&map), *want, "{input:?}");
        }
    }

    #[test]
    fn forwarding_headers_are_believed_only_from_trusted_proxies() {
        let forged = [
            ("host", "a"),
            ("forwarded", "for=1.2.3.4"),
            ("x-real-ip", "1.2.3.4"),
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-host", "admin.internal"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-port", "443"),
            ("x-forwarded-prefix", "/admin"),
            ("x-torii-shadow", "1"),
        ];
        let mut untrusted = headers(&forged);
        strip_request(&mut untrusted, false);
        assert_eq!(names(&untrusted), ["host"]);
        let mut trusted = headers(&forged);
        strip_request(&mut trusted, true);
        assert_eq!(trusted.len(), forged.len());
    }

    #[test]
    fn te_trailers_is_reported_before_it_goes() {
        let mut map = headers(&[("host", "a"), ("te", "gzip, Trailers")]);
        assert!(strip_request(&mut map, false));
        assert!(!map.contains_key("te"));
        let mut map = headers(&[("host", "a"), ("te", "gzip")]);
        assert!(!strip_request(&mut map, false));
    }

    #[test]
    fn response_hop_by_hop_headers_go() {
        let mut map = headers(&[
            ("connection", "close, x-backend-private"),
            ("x-backend-private", "1"),
            ("keep-alive", "timeout=5"),
            ("x-forwarded-for", "kept in responses"),
            ("x-kept", "1"),
        ]);
        strip_response(&mut map);
        assert_eq!(names(&map), ["x-forwarded-for", "x-kept"]);
    }

    #[test]
    fn only_allowed_upgrades_pass() {
        let allowed = vec!["websocket".to_string()];
        for (value, ok) in [
            ("websocket", true),
            ("WebSocket", true),
            (" websocket ", true),
            ("h2c", false),
            ("websocket, h2c", false),
            ("TLS/1.2", false),
        ] {
            let value = HeaderValue::from_str(value).unwrap();
            assert_eq!(
                allowed_upgrade(Some(&value), &allowed).is_some(),
                ok,
                "{value:?}"
            );
        }
        assert!(allowed_upgrade(None, &allowed).is_none());
    }
}
