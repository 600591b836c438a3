//! Hostnames as the Gateway API uses them: exact names and `*.` wildcards.

use std::fmt;

/// A hostname that is not valid under the Gateway API's rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid hostname {hostname:?}: {reason}")]
pub struct InvalidHostname {
    /// The offending text.
    pub hostname: String,
    /// Why it is invalid.
    pub reason: &'static str,
}

/// A validated, lower-cased hostname pattern: `example.com` or `*.example.com`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostnameMatch {
    /// Matches exactly this name.
    Exact(String),
    /// Matches any name with at least one more label in front of this suffix. The suffix is
    /// stored with its leading dot (`.example.com` for `*.example.com`).
    Wildcard(String),
}

impl HostnameMatch {
    /// Parses and validates a hostname pattern (RFC 1123 labels, optional leading `*.`,
    /// no IP addresses, no port).
    pub fn parse(text: &str) -> Result<Self, InvalidHostname> {
        let bad = |reason| InvalidHostname {
            hostname: text.to_string(),
            reason,
        };
        if text.is_empty() || text.len() > 253 {
            return Err(bad("length must be 1 to 253 characters"));
        }
        let lower = text.to_ascii_lowercase();
        let (wildcard, rest) = match lower.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, lower.as_str()),
        };
        if rest.is_empty() {
            return Err(bad("a wildcard needs a suffix"));
        }
        for label in rest.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(bad("every label must have 1 to 63 characters"));
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return Err(bad("labels may hold only letters, digits and '-'"));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(bad("labels may not start or end with '-'"));
            }
        }
        if !wildcard && rest.parse::<std::net::Ipv4Addr>().is_ok() {
            return Err(bad("IP addresses are not allowed"));
        }
        Ok(if wildcard {
            HostnameMatch::Wildcard(format!(".{rest}"))
        } else {
            HostnameMatch::Exact(lower)
        })
    }

    /// Whether a request host (lower-case, without port) matches this pattern.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostnameMatch::Exact(name) => name.eq_ignore_ascii_case(host),
            HostnameMatch::Wildcard(suffix) => {
                host.len() > suffix.len()
                    && host.as_bytes()[host.len() - suffix.len()..]
                        .eq_ignore_ascii_case(suffix.as_bytes())
            }
        }
    }

    /// Whether this is a wildcard pattern.
    pub fn is_wildcard(&self) -> bool {
        matches!(self, HostnameMatch::Wildcard(_))
    }

    /// The intersection of a listener hostname and a route hostname, as the Gateway API
    /// defines it: the more specific of the two when one matches the other, else `None`.
    pub fn intersect(&self, other: &HostnameMatch) -> Option<HostnameMatch> {
        use HostnameMatch::*;
        match (self, other) {
            (Exact(a), Exact(b)) => (a == b).then(|| self.clone()),
            (Wildcard(_), Exact(b)) => self.matches(b).then(|| other.clone()),
            (Exact(a), Wildcard(_)) => other.matches(a).then(|| self.clone()),
            (Wildcard(a), Wildcard(b)) => {
                if a.ends_with(b.as_str()) {
                    Some(self.clone())
                } else if b.ends_with(a.as_str()) {
                    Some(other.clone())
                } else {
                    None
                }
            }
        }
    }
}

impl fmt::Display for HostnameMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostnameMatch::Exact(name) => f.write_str(name),
            HostnameMatch::Wildcard(suffix) => write!(f, "*{suffix}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> HostnameMatch {
        HostnameMatch::parse(s).unwrap()
    }

    #[test]
    fn wildcard_needs_one_more_label() {
        assert!(h("*.example.com").matches("a.example.com"));
        assert!(h("*.example.com").matches("a.b.example.com"));
        assert!(!h("*.example.com").matches("example.com"));
        assert!(!h("*.example.com").matches("aexample.com"));
    }

    #[test]
    fn parse_rejects_bad_names() {
        assert!(HostnameMatch::parse("").is_err());
        assert!(HostnameMatch::parse("1.2.3.4").is_err());
        assert!(HostnameMatch::parse("a..b").is_err());
        assert!(HostnameMatch::parse("*").is_err());
        assert!(HostnameMatch::parse("foo.*.com").is_err());
        assert_eq!(h("Foo.COM"), HostnameMatch::Exact("foo.com".into()));
    }

    #[test]
    fn intersection_keeps_the_more_specific() {
        assert_eq!(
            h("*.example.com").intersect(&h("a.example.com")),
            Some(h("a.example.com"))
        );
        assert_eq!(
            h("a.example.com").intersect(&h("*.example.com")),
            Some(h("a.example.com"))
        );
        assert_eq!(
            h("*.example.com").intersect(&h("*.a.example.com")),
            Some(h("*.a.example.com"))
        );
        assert_eq!(h("*.example.com").intersect(&h("example.com")), None);
        assert_eq!(h("a.com").intersect(&h("b.com")), None);
    }
}
