//! Path conditions: `Exact`, segment-wise `PathPrefix` and full `RegularExpression` matches.

use regex::Regex;

/// A prefix as compared: without trailing slashes, except the root `/` itself (the spec
/// ignores a trailing slash: `/foo/` matches `/foo` too).
pub(crate) fn normalize_prefix(prefix: &str) -> &str {
    let trimmed = prefix.trim_end_matches('/');
    if trimmed.is_empty() {
        "/"
    } else {
        trimmed
    }
}

#[cfg(test)]
/// Whether `path` matches a normalized prefix on a segment boundary: `/foo` matches `/foo`,
/// `/foo/` and `/foo/bar`, not `/foobar`; `/` matches every path that starts with `/`.
pub(crate) fn prefix_matches(prefix: &str, path: &str) -> bool {
    if prefix == "/" {
        return path.starts_with('/');
    }
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// The prefixes (other than `/`) a path can match, longest first: the path itself and the
/// part before every `/` after the first byte. `/a/b/c` gives `/a/b/c`, `/a/b`, `/a`.
pub(crate) fn prefix_candidates(path: &str) -> impl Iterator<Item = &str> {
    let cuts = path
        .bytes()
        .enumerate()
        .skip(1)
        .filter(|&(_, b)| b == b'/')
        .map(|(i, _)| i)
        .rev();
    std::iter::once(path)
        .filter(|p| !p.is_empty() && !p.ends_with('/'))
        .chain(cuts.map(move |i| &path[..i]))
}

/// Compiles a regular expression so that it must match the whole subject, whatever anchors
/// the original has. Falls back to the original if the wrapped pattern cannot compile (size
/// limits), which then matches anywhere in the subject.
pub(crate) fn anchored(re: &Regex) -> Regex {
    Regex::new(&format!(r"\A(?:{})\z", re.as_str())).unwrap_or_else(|_| re.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_segment_wise() {
        // (prefix as written, path, matches)
        let cases = [
            ("/foo", "/foo", true),
            ("/foo", "/foo/", true),
            ("/foo", "/foo/bar", true),
            ("/foo", "/foobar", false),
            ("/foo", "/fo", false),
            ("/foo", "/", false),
            ("/foo/", "/foo", true),
            ("/foo/", "/foo/bar", true),
            ("/foo/", "/foobar", false),
            ("/foo/bar", "/foo/bar/baz", true),
            ("/foo/bar", "/foo/barbaz", false),
            ("/foo/bar", "/foo", false),
            ("/", "/", true),
            ("/", "/anything/at/all", true),
            ("/", "*", false),
            ("/v2", "/v2example", false),
            ("/v2", "/foo/v2/example", false),
            ("/Foo", "/foo", false),
        ];
        for (prefix, path, want) in cases {
            let got = prefix_matches(normalize_prefix(prefix), path);
            assert_eq!(got, want, "prefix {prefix:?} path {path:?}");
        }
    }

    #[test]
    fn normalize_strips_trailing_slashes_but_keeps_root() {
        assert_eq!(normalize_prefix("/"), "/");
        assert_eq!(normalize_prefix("//"), "/");
        assert_eq!(normalize_prefix("/a/"), "/a");
        assert_eq!(normalize_prefix("/a//"), "/a");
        assert_eq!(normalize_prefix("/a/b"), "/a/b");
    }

    #[test]
    fn candidates_are_exactly_the_matching_prefixes_longest_first() {
        let cases: [(&str, &[&str]); 6] = [
            ("/a/b/c", &["/a/b/c", "/a/b", "/a"]),
            ("/a/b/", &["/a/b", "/a"]),
            ("/", &[]),
            ("/a", &["/a"]),
            ("/a//b", &["/a//b", "/a/", "/a"]),
            ("", &[]),
        ];
        for (path, want) in cases {
            let got: Vec<&str> = prefix_candidates(path).collect();
            assert_eq!(got, want, "path {path:?}");
            for c in got {
                assert!(
                    prefix_matches(c, path) || c.ends_with('/'),
                    "{c:?} {path:?}"
                );
            }
        }
    }

    #[test]
    fn anchored_regex_must_match_whole_subject() {
        let cases = [
            ("/foo/[0-9]+", "/foo/123", true),
            ("/foo/[0-9]+", "/foo/123/bar", false),
            ("/foo/[0-9]+", "/x/foo/123", false),
            ("^/foo$", "/foo", true),
            ("a|/b", "/b", true),
            ("a|/b", "a/b", false),
            ("(?m)/foo$", "/foo\nbar", false),
        ];
        for (pattern, subject, want) in cases {
            let re = anchored(&Regex::new(pattern).unwrap());
            assert_eq!(re.is_match(subject), want, "{pattern:?} on {subject:?}");
        }
    }
}
