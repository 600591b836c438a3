//! Trailer sections (RFC 9112 §7.1.2): parsing one, and the fields that must never travel as
//! trailers (RFC 9110 §6.5.1), dropped when read and when written.

use super::{headers_from_parsed, DecodeError};
use bytes::Bytes;
use http::header::{HeaderMap, HeaderName};

/// Most fields accepted in a trailer section.
const MAX_TRAILER_COUNT: usize = 32;

/// Whether a field may not be sent or forwarded as a trailer (RFC 9110 §6.5.1): those needed
/// before the content is processed, whose meaning a trailer would change after the fact.
/// - framing: `content-length`, `transfer-encoding`, `trailer`;
/// - connection management: `connection`, `keep-alive`, `proxy-connection`, `upgrade`;
/// - routing: `host`;
/// - request modifiers (controls and conditionals, RFC 9110 §13 and RFC 9111 §5): `te`,
///   `cache-control`, `expect`, `max-forwards`, `pragma`, `range`, `if-match`,
///   `if-none-match`, `if-modified-since`, `if-unmodified-since`, `if-range`;
/// - authentication: `authorization`, `proxy-authorization`, `www-authenticate`,
///   `proxy-authenticate`, and the state fields `cookie` and `set-cookie`;
/// - response controls: `age`, `date`, `expires`, `location`, `retry-after`, `vary`,
///   `warning`;
/// - content processing: `content-encoding`, `content-type`, `content-range`.
///
/// Everything else (`grpc-status`, `grpc-message`, checksums, `x-*`) passes.
pub fn is_forbidden_trailer(name: &HeaderName) -> bool {
    // Matched on the name's text: one length switch and at most a few comparisons.
    matches!(
        name.as_str(),
        "content-length"
            | "transfer-encoding"
            | "trailer"
            | "connection"
            | "keep-alive"
            | "proxy-connection"
            | "upgrade"
            | "host"
            | "te"
            | "cache-control"
            | "expect"
            | "max-forwards"
            | "pragma"
            | "range"
            | "if-match"
            | "if-none-match"
            | "if-modified-since"
            | "if-unmodified-since"
            | "if-range"
            | "authorization"
            | "proxy-authorization"
            | "www-authenticate"
            | "proxy-authenticate"
            | "cookie"
            | "set-cookie"
            | "age"
            | "date"
            | "expires"
            | "location"
            | "retry-after"
            | "vary"
            | "warning"
            | "content-encoding"
            | "content-type"
            | "content-range"
    )
}

/// Parses a trailer section that ends with its blank line (`section` holds exactly that),
/// leaving out the fields [`is_forbidden_trailer`] names.
pub(super) fn parse(section: &Bytes) -> Result<HeaderMap, DecodeError> {
    let mut parsed = [httparse::EMPTY_HEADER; MAX_TRAILER_COUNT];
    match httparse::parse_headers(section, &mut parsed) {
        Ok(httparse::Status::Complete((n, headers))) if n == section.len() => {
            let mut trailers =
                headers_from_parsed(section, headers).map_err(|_| DecodeError::InvalidTrailers)?;
            if trailers.keys().any(is_forbidden_trailer) {
                let forbidden: Vec<HeaderName> = trailers
                    .keys()
                    .filter(|name| is_forbidden_trailer(name))
                    .cloned()
                    .collect();
                for name in forbidden {
                    trailers.remove(name);
                }
            }
            Ok(trailers)
        }
        _ => Err(DecodeError::InvalidTrailers),
    }
}
