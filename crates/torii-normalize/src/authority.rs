//! `Host` and request-target authorities (RFC 9112 §3.2, RFC 3986 §3.2.2–3).

use std::net::Ipv6Addr;

/// One host and an optional port, as a request names its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authority<'a> {
    /// The host as sent: a name, an IPv4 address, or an IPv6 address in brackets.
    pub host: &'a str,
    /// The port, when one is given.
    pub port: Option<u16>,
}

/// Why a `Host` (or an absolute-form authority) is not one `uri-host [":" port]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAuthority {
    /// Empty, or only a port.
    #[error("empty host")]
    Empty,
    /// A character no host name has (a list, user info, a path, space, percent-encoding, …).
    #[error("invalid character in host")]
    InvalidCharacter,
    /// An IP literal that is not a valid IPv6 address.
    #[error("invalid IP literal")]
    InvalidIpLiteral,
    /// A port that is empty, not a number, or above 65535.
    #[error("invalid port")]
    InvalidPort,
    /// Longer than a DNS name can be (253 characters).
    #[error("host too long")]
    TooLong,
}

/// Parses `uri-host [":" port]`, strictly: a host is a DNS-style name (letters, digits, `-`,
/// `.`, `_`), an IPv4 address, or a bracketed IPv6 address; the port is 1 to 5 digits up to
/// 65535. RFC 3986's `reg-name` also allows sub-delimiters and percent-encoding, but no real
/// host uses them, and each is a way to make two parties read one Host differently (a comma
/// list, `user@host`, `host/path`), so they are refused (RFC 9112 §3.2: a Host that is not
/// valid is answered 400).
pub fn parse_authority(value: &[u8]) -> Result<Authority<'_>, InvalidAuthority> {
    let text = std::str::from_utf8(value).map_err(|_| InvalidAuthority::InvalidCharacter)?;
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (literal, after) = rest
            .split_once(']')
            .ok_or(InvalidAuthority::InvalidIpLiteral)?;
        literal
            .parse::<Ipv6Addr>()
            .map_err(|_| InvalidAuthority::InvalidIpLiteral)?;
        let host = &text[..literal.len() + 2];
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or(InvalidAuthority::InvalidCharacter)?,
            ),
        };
        (host, port)
    } else {
        let (host, port) = match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        };
        if host.is_empty() {
            return Err(InvalidAuthority::Empty);
        }
        if host.len() > 253 {
            return Err(InvalidAuthority::TooLong);
        }
        if !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        {
            return Err(InvalidAuthority::InvalidCharacter);
        }
        (host, port)
    };
    let port = match port {
        None => None,
        Some(digits) => {
            if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(InvalidAuthority::InvalidPort);
            }
            Some(
                digits
                    .parse::<u16>()
                    .map_err(|_| InvalidAuthority::InvalidPort)?,
            )
        }
    };
    Ok(Authority { host, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9112 §3.2 and RFC 3986 §3.2.2–3: one host, optionally a port.
    #[test]
    fn valid_authorities() {
        for (input, host, port) in [
            ("example.com", "example.com", None),
            ("Example.COM:8080", "Example.COM", Some(8080)),
            ("a_b-c.internal.", "a_b-c.internal.", None),
            ("127.0.0.1:80", "127.0.0.1", Some(80)),
            ("[::1]", "[::1]", None),
            ("[::1]:443", "[::1]", Some(443)),
            ("[2001:db8::1]:65535", "[2001:db8::1]", Some(65535)),
            ("localhost", "localhost", None),
        ] {
            assert_eq!(
                parse_authority(input.as_bytes()),
                Ok(Authority { host, port }),
                "{input}"
            );
        }
    }

    #[test]
    fn invalid_authorities() {
        use InvalidAuthority::*;
        for (input, error) in [
            ("", Empty),
            (":80", Empty),
            ("a.example,b.example", InvalidCharacter),
            ("a.example, b.example", InvalidCharacter),
            ("user@a.example", InvalidCharacter),
            ("a.example/admin", InvalidCharacter),
            ("a.example\\x", InvalidCharacter),
            ("a example", InvalidCharacter),
            ("a%2eexample", InvalidCharacter),
            ("a.example:", InvalidPort),
            ("a.example:80:80", InvalidCharacter),
            ("a.example:65536", InvalidPort),
            ("a.example:+80", InvalidPort),
            ("a.example:123456", InvalidPort),
            ("[::1", InvalidIpLiteral),
            ("[not-ip]", InvalidIpLiteral),
            ("[::1]x", InvalidCharacter),
            ("[::1]:", InvalidPort),
            ("::1", InvalidCharacter),
        ] {
            assert_eq!(parse_authority(input.as_bytes()), Err(error), "{input:?}");
        }
        assert_eq!(parse_authority(&[b'a', 0xff]), Err(InvalidCharacter));
        assert_eq!(parse_authority("a".repeat(254).as_bytes()), Err(TooLong));
    }
}
