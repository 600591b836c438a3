//! Keeping secrets out of differences and samples.

use http::HeaderName;

/// Headers whose values are always redacted.
pub const DEFAULT_REDACTED_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
];

/// Name fragments that mark a query parameter, a JSON member or a header as secret.
pub const DEFAULT_REDACTED_NAMES: &[&str] = &[
    "token",
    "password",
    "passwd",
    "secret",
    "api_key",
    "apikey",
    "api-key",
    "credential",
    "signature",
];

/// The text that replaces a secret value.
pub const REDACTED: &str = "<redacted>";

/// What counts as secret: the value of a listed header, or of a header, query parameter or
/// JSON member whose name contains one of the fragments (ASCII case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redaction {
    /// Headers whose values are replaced (default: [`DEFAULT_REDACTED_HEADERS`]).
    pub headers: Vec<HeaderName>,
    /// Lowercase name fragments (default: [`DEFAULT_REDACTED_NAMES`]).
    pub names: Vec<String>,
}

impl Default for Redaction {
    fn default() -> Self {
        Self {
            headers: DEFAULT_REDACTED_HEADERS
                .iter()
                .map(|name| HeaderName::from_static(name))
                .collect(),
            names: DEFAULT_REDACTED_NAMES
                .iter()
                .map(|name| (*name).to_owned())
                .collect(),
        }
    }
}

impl Redaction {
    /// These rules with one more redacted header.
    pub fn with_header(mut self, name: HeaderName) -> Self {
        self.headers.push(name);
        self
    }

    /// These rules with one more secret name fragment.
    pub fn with_name(mut self, fragment: &str) -> Self {
        self.names.push(fragment.to_ascii_lowercase());
        self
    }

    /// Whether the values of header `name` are secret.
    pub fn is_secret_header(&self, name: &HeaderName) -> bool {
        self.headers.contains(name) || self.is_secret_name(name.as_str())
    }

    /// Whether a query parameter or JSON member called `name` is secret.
    pub fn is_secret_name(&self, name: &str) -> bool {
        self.names
            .iter()
            .any(|fragment| contains_ignore_ascii_case(name, fragment))
    }

    /// `target` (path and query) with the values of secret query parameters redacted.
    pub fn redact_target(&self, target: &str) -> String {
        let Some((path, query)) = target.split_once('?') else {
            return target.to_owned();
        };
        let mut out = String::with_capacity(target.len());
        out.push_str(path);
        out.push('?');
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((name, _)) if self.is_secret_name(name) => {
                    out.push_str(name);
                    out.push('=');
                    out.push_str(REDACTED);
                }
                _ => out.push_str(pair),
            }
        }
        out
    }
}

fn contains_ignore_ascii_case(haystack: &str, lowercase_needle: &str) -> bool {
    let needle = lowercase_needle.as_bytes();
    needle.is_empty()
        || haystack
            .as_bytes()
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_and_headers() {
        let redaction = Redaction::default().with_header(HeaderName::from_static("x-internal"));
        for name in [
            "authorization",
            "cookie",
            "x-internal",
            "x-csrf-token",
            "x-api-key",
        ] {
            assert!(
                redaction.is_secret_header(&HeaderName::from_static(name)),
                "{name}"
            );
        }
        for name in ["content-type", "cache-control", "www-authenticate"] {
            assert!(
                !redaction.is_secret_header(&HeaderName::from_static(name)),
                "{name}"
            );
        }
        assert!(redaction.is_secret_name("Access_Token"));
        assert!(redaction.is_secret_name("clientSecret"));
        assert!(!redaction.is_secret_name("name"));
    }

    #[test]
    fn query_secrets_are_redacted() {
        let redaction = Redaction::default();
        let cases = [
            ("/a", "/a"),
            ("/a?b=1", "/a?b=1"),
            (
                "/a?token=s3cr3t&b=1&API_KEY=k&flag",
                "/a?token=<redacted>&b=1&API_KEY=<redacted>&flag",
            ),
            ("/login?password=hunter2", "/login?password=<redacted>"),
        ];
        for (target, expected) in cases {
            assert_eq!(redaction.redact_target(target), expected);
        }
    }
}
