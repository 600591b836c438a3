//! Path normalisation (RFC 3986 §6.2.2 and §5.2.4, plus merged slashes).

use std::borrow::Cow;

/// What to do with an encoded slash (`%2F`), an encoded backslash (`%5C`) or a raw `\` in a
/// path. Backends disagree on them (some decode `%2F` before routing, IIS and Windows servers
/// treat `\` as `/`), so any of them can make the gateway and the backend see different paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EscapedSlashes {
    /// Leave them as they are (escapes upper-cased). For backends that need encoded slashes
    /// and are known to keep them apart from `/`.
    Keep,
    /// Refuse the request (400). For clients that always send normal paths (gRPC, APIs).
    Reject,
    /// Decode them to `/` and have the client ask again for the decoded path (a redirect), so
    /// the client, torii and the backend all use one path. The default, as Envoy's edge
    /// guidance recommends for clients that follow redirects (browsers); callers answer 400
    /// instead where the client cannot follow one (gRPC).
    #[default]
    Redirect,
}

/// Why a path cannot be normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPath {
    /// The path does not start with `/` (origin-form requires it, RFC 9112 §3.2.1).
    #[error("path does not start with /")]
    NotAbsolute,
    /// A `%` not followed by two hexadecimal digits (RFC 3986 §2.1).
    #[error("invalid percent-encoding")]
    BadPercentEncoding,
    /// `%2F`, `%5C` or `\` with [`EscapedSlashes::Reject`].
    #[error("encoded slash or backslash in path")]
    EscapedSlash,
}

/// A normalised path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalPath<'a> {
    /// The path in normal form; borrowed when the input already was.
    pub path: Cow<'a, str>,
    /// Escaped slashes were decoded ([`EscapedSlashes::Redirect`]): the client should be
    /// redirected to `path` rather than served.
    pub redirect: bool,
}

/// Normalises an origin-form path (without query): percent-encoded unreserved characters are
/// decoded and other escapes upper-cased (RFC 3986 §6.2.2.1–2), bytes that may not appear
/// raw are percent-encoded, escaped slashes are handled as `slashes` says, dot segments are
/// removed (§5.2.4) and repeated slashes merged. Normalising a normal path changes nothing,
/// and costs one pass over its bytes with no allocation.
pub fn normalize_path(path: &str, slashes: EscapedSlashes) -> Result<NormalPath<'_>, InvalidPath> {
    if !path.starts_with('/') {
        return Err(InvalidPath::NotAbsolute);
    }
    if is_normal(path.as_bytes(), slashes)? {
        return Ok(NormalPath {
            path: Cow::Borrowed(path),
            redirect: false,
        });
    }
    let (decoded, redirect) = decode(path.as_bytes(), slashes)?;
    let without_dots = remove_dot_segments(&decoded);
    Ok(NormalPath {
        path: Cow::Owned(merge_slashes(&without_dots)),
        redirect,
    })
}

/// The path routing matches on: `;parameters` removed from every segment (RFC 3986 §3.3
/// allows them; servlet containers drop them, so `/admin;x=1` is `/admin` to them). Borrowed
/// when the path has no `;`.
pub fn match_view(path: &str) -> Cow<'_, str> {
    if !path.contains(';') {
        return Cow::Borrowed(path);
    }
    let mut out = String::with_capacity(path.len());
    let mut in_params = false;
    for c in path.chars() {
        match c {
            '/' => {
                in_params = false;
                out.push('/');
            }
            ';' => in_params = true,
            c if !in_params => out.push(c),
            _ => {}
        }
    }
    Cow::Owned(out)
}

/// `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"` (RFC 3986 §2.3).
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Bytes that stay raw in a normal path: `pchar` and `/` (RFC 3986 §3.3), without `%` (only
/// as an escape). Everything else (controls, space, non-ASCII, `"<>\^`{|}`) is encoded.
fn is_path_byte(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b'/' | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
        )
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The byte a `%XY` escape at `i` stands for.
fn escape_at(bytes: &[u8], i: usize) -> Result<u8, InvalidPath> {
    match (bytes.get(i + 1).copied(), bytes.get(i + 2).copied()) {
        (Some(hi), Some(lo)) => match (hex_value(hi), hex_value(lo)) {
            (Some(hi), Some(lo)) => Ok(hi << 4 | lo),
            _ => Err(InvalidPath::BadPercentEncoding),
        },
        _ => Err(InvalidPath::BadPercentEncoding),
    }
}

/// Whether the path is already normal (one pass, no allocation). Errors are found here too,
/// so a path that is refused never allocates.
fn is_normal(bytes: &[u8], slashes: EscapedSlashes) -> Result<bool, InvalidPath> {
    let mut normal = true;
    let mut segment_start = 1;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'/' => {
                if i > 0 && !segment_is_plain(&bytes[segment_start..i]) {
                    normal = false;
                }
                if bytes.get(i + 1) == Some(&b'/') {
                    normal = false;
                }
                segment_start = i + 1;
            }
            b'%' => {
                let value = escape_at(bytes, i)?;
                let escaped_slash = value == b'/' || value == b'\\';
                if escaped_slash && slashes == EscapedSlashes::Reject {
                    return Err(InvalidPath::EscapedSlash);
                }
                if is_unreserved(value)
                    || bytes[i + 1].is_ascii_lowercase()
                    || bytes[i + 2].is_ascii_lowercase()
                    || (escaped_slash && slashes == EscapedSlashes::Redirect)
                {
                    normal = false;
                }
                i += 3;
                continue;
            }
            b'\\' => match slashes {
                EscapedSlashes::Reject => return Err(InvalidPath::EscapedSlash),
                EscapedSlashes::Redirect => normal = false,
                EscapedSlashes::Keep => {}
            },
            _ if !is_path_byte(b) => normal = false,
            _ => {}
        }
        i += 1;
    }
    if !segment_is_plain(&bytes[segment_start.min(bytes.len())..]) {
        normal = false;
    }
    Ok(normal)
}

/// A segment that is not `.` or `..`.
fn segment_is_plain(segment: &[u8]) -> bool {
    segment != b"." && segment != b".."
}

/// Step 1: escapes decoded or upper-cased, raw bytes encoded, slashes handled. The result is
/// ASCII. Says whether escaped slashes were decoded.
fn decode(bytes: &[u8], slashes: EscapedSlashes) -> Result<(String, bool), InvalidPath> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(bytes.len());
    let mut redirect = false;
    let push_escape = |out: &mut Vec<u8>, value: u8| {
        out.extend_from_slice(&[
            b'%',
            HEX[usize::from(value >> 4)],
            HEX[usize::from(value & 15)],
        ])
    };
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let value = escape_at(bytes, i)?;
            i += 3;
            if is_unreserved(value) {
                out.push(value);
            } else if value == b'/' || value == b'\\' {
                match slashes {
                    EscapedSlashes::Keep => push_escape(&mut out, value),
                    EscapedSlashes::Reject => return Err(InvalidPath::EscapedSlash),
                    EscapedSlashes::Redirect => {
                        redirect = true;
                        out.push(b'/');
                    }
                }
            } else {
                push_escape(&mut out, value);
            }
            continue;
        }
        i += 1;
        if b == b'\\' {
            match slashes {
                EscapedSlashes::Keep => out.push(b),
                EscapedSlashes::Reject => return Err(InvalidPath::EscapedSlash),
                EscapedSlashes::Redirect => {
                    redirect = true;
                    out.push(b'/');
                }
            }
        } else if is_path_byte(b) {
            out.push(b);
        } else {
            push_escape(&mut out, b);
        }
    }
    // Every byte pushed is ASCII: unreserved, a path byte, `%`, a hex digit, `/` or `\`.
    let out = String::from_utf8(out).unwrap_or_default();
    Ok((out, redirect))
}

/// RFC 3986 §5.2.4 for an absolute path: `.` segments dropped, `..` drops the segment
/// before it (never above the root); a path ending in `.` or `..` keeps a final `/`.
fn remove_dot_segments(path: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path[1..].split('/').collect();
    let last = segments.len() - 1;
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." => {}
            ".." => {
                kept.pop();
            }
            other => {
                kept.push(other);
                continue;
            }
        }
        if i == last {
            kept.push("");
        }
    }
    let mut out = String::with_capacity(path.len());
    out.push('/');
    out.push_str(&kept.join("/"));
    out
}

fn merge_slashes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c == '/' && out.ends_with('/') {
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(path: &str) -> Result<(String, bool), InvalidPath> {
        normalize_path(path, EscapedSlashes::Redirect).map(|n| (n.path.into_owned(), n.redirect))
    }

    /// RFC 3986 §6.2.2 (case and percent-encoding) and §5.2.4 (dot segments), merged slashes.
    #[test]
    fn bypass_attempts_become_the_path_they_stand_for() {
        let cases = [
            ("/admin", "/admin"),
            ("/public/../admin", "/admin"),
            ("/./admin", "/admin"),
            ("/public/%2e%2e/admin", "/admin"),
            ("/public/%2E%2E/admin", "/admin"),
            ("/public/.%2e/admin", "/admin"),
            ("/%61dmin", "/admin"),
            ("//admin", "/admin"),
            ("/admin//users", "/admin/users"),
            ("/a/b/../../admin", "/admin"),
            ("/../admin", "/admin"),
            ("/../../..", "/"),
            ("/a/..", "/"),
            ("/a/.", "/a/"),
            ("/a/./", "/a/"),
            ("/.", "/"),
            ("/a//../b", "/a/b"),
            ("/%7Euser", "/~user"),
            ("/a%2db", "/a-b"),
            ("/a%3ab", "/a%3Ab"),
            ("/a%3Ab", "/a%3Ab"),
            ("/a%25b", "/a%25b"),
            ("/a%252e%252e/b", "/a%252e%252e/b"),
            ("/caf\u{e9}", "/caf%C3%A9"),
            ("/a b", "/a%20b"),
            ("/a\"b", "/a%22b"),
            ("/", "/"),
            ("/a/", "/a/"),
            ("/admin;x=1", "/admin;x=1"),
            ("/...", "/..."),
            ("/.a/..b", "/.a/..b"),
        ];
        for (input, want) in cases {
            assert_eq!(norm(input), Ok((want.to_string(), false)), "{input}");
        }
    }

    #[test]
    fn escaped_slashes_follow_the_chosen_action() {
        // Redirect: decoded to `/`, then normalised like any path.
        for (input, want) in [
            ("/a%2Fb", "/a/b"),
            ("/a%2fb", "/a/b"),
            ("/a%5Cb", "/a/b"),
            ("/a\\b", "/a/b"),
            ("/public/..%2Fadmin", "/admin"),
            ("/public\\..\\admin", "/admin"),
        ] {
            assert_eq!(norm(input), Ok((want.to_string(), true)), "{input}");
        }
        for input in ["/a%2Fb", "/a%5cb", "/a\\b"] {
            assert_eq!(
                normalize_path(input, EscapedSlashes::Reject),
                Err(InvalidPath::EscapedSlash),
                "{input}"
            );
        }
        for (input, want) in [
            ("/a%2fb", "/a%2Fb"),
            ("/a%2Fb", "/a%2Fb"),
            ("/a%5cb/../c", "/c"),
            ("/a\\b", "/a\\b"),
        ] {
            let got = normalize_path(input, EscapedSlashes::Keep).unwrap();
            assert_eq!((got.path.as_ref(), got.redirect), (want, false), "{input}");
        }
    }

    #[test]
    fn malformed_paths_are_refused() {
        for (input, error) in [
            ("admin", InvalidPath::NotAbsolute),
            ("", InvalidPath::NotAbsolute),
            ("*", InvalidPath::NotAbsolute),
            ("/a%", InvalidPath::BadPercentEncoding),
            ("/a%4", InvalidPath::BadPercentEncoding),
            ("/a%zz", InvalidPath::BadPercentEncoding),
            ("/a%%41", InvalidPath::BadPercentEncoding),
        ] {
            assert_eq!(norm(input), Err(error), "{input:?}");
        }
    }

    #[test]
    fn normal_paths_are_borrowed() {
        for path in [
            "/",
            "/api/v1/users/42",
            "/a%3Ab",
            "/a;jsessionid=1",
            "/x.y/z..w",
            "/~",
        ] {
            let got = normalize_path(path, EscapedSlashes::Redirect).unwrap();
            assert!(matches!(got.path, Cow::Borrowed(_)), "{path}");
        }
    }

    #[test]
    fn match_view_drops_segment_parameters() {
        for (input, want) in [
            ("/admin;x=1", "/admin"),
            ("/admin;x=1/users", "/admin/users"),
            ("/a;b;c/d;e", "/a/d"),
            ("/;x", "/"),
            ("/plain", "/plain"),
        ] {
            assert_eq!(match_view(input), want, "{input}");
        }
        assert!(matches!(match_view("/plain"), Cow::Borrowed(_)));
    }
}
