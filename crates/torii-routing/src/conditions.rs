//! Method, header and query parameter conditions, compiled for matching without allocation.
//!
//! Choices where the spec leaves room:
//! - Header names compare case-insensitively ([`http::HeaderName`] is lower-case). A header
//!   present several times is compared as its values joined by `", "` (RFC 9110 section 5.3:
//!   repeated field lines are equivalent to one comma-separated line).
//! - Query parameters: the first parameter whose name equals the condition's name wins (the
//!   spec's recommendation). Names and values are percent-decoded before comparing (`%20` is
//!   a space); `+` stays a plus sign (RFC 3986, not HTML forms). A parameter without `=` has
//!   the empty value.
//! - Only the first condition of a name counts; later ones with the same name are ignored
//!   (the spec: "Subsequent entries with an equivalent … name MUST be ignored").
//! - Regular expressions must match the whole value.
//!
//! Matching allocates nothing except for a regular expression compared with a value longer
//! than [`INLINE`] bytes that had to be decoded or joined first.

use crate::path::anchored;
use http::{HeaderMap, HeaderName, Method};
use percent_encoding::percent_decode;
use regex::Regex;
use rustc_hash::FxHashMap;
use smallvec::SmallVec;
use torii_config::{HttpRouteMatch, StringMatch};

/// Bytes a decoded or joined value may have before matching it needs the heap.
pub const INLINE: usize = 256;

type Buf = SmallVec<[u8; INLINE]>;

/// Compiles regular expressions once per table, anchored to match in full.
#[derive(Default)]
pub(crate) struct RegexCache {
    compiled: FxHashMap<String, Regex>,
}

impl RegexCache {
    /// The anchored form of a regular expression, shared by every use of the same pattern.
    pub(crate) fn anchored(&mut self, re: &Regex) -> Regex {
        self.compiled
            .entry(re.as_str().to_string())
            .or_insert_with(|| anchored(re))
            .clone()
    }
}

/// A compiled value condition.
#[derive(Debug, Clone)]
enum ValueMatch {
    Exact(Box<[u8]>),
    Regex(Regex),
}

impl ValueMatch {
    fn compile(value: &StringMatch, cache: &mut RegexCache) -> Self {
        match value {
            StringMatch::Exact(s) => ValueMatch::Exact(s.as_bytes().into()),
            StringMatch::RegularExpression(re) => ValueMatch::Regex(cache.anchored(re)),
        }
    }

    fn matches(&self, value: &[u8]) -> bool {
        match self {
            ValueMatch::Exact(expected) => **expected == *value,
            ValueMatch::Regex(re) => std::str::from_utf8(value).is_ok_and(|s| re.is_match(s)),
        }
    }
}

#[derive(Debug, Clone)]
struct HeaderCondition {
    name: HeaderName,
    value: ValueMatch,
}

impl HeaderCondition {
    fn matches(&self, headers: &HeaderMap) -> bool {
        let mut values = headers.get_all(&self.name).iter();
        let Some(first) = values.next() else {
            return false;
        };
        let Some(second) = values.next() else {
            return self.value.matches(first.as_bytes());
        };
        let parts = [first, second]
            .into_iter()
            .chain(values)
            .map(|v| v.as_bytes());
        match &self.value {
            ValueMatch::Exact(expected) => joined_equals(parts, expected),
            ValueMatch::Regex(_) => {
                let mut buf = Buf::new();
                for (i, part) in parts.enumerate() {
                    if i > 0 {
                        buf.extend_from_slice(b", ");
                    }
                    buf.extend_from_slice(part);
                }
                self.value.matches(&buf)
            }
        }
    }
}

/// Whether `parts` joined by `", "` equal `expected`, without building the joined value.
fn joined_equals<'a>(parts: impl Iterator<Item = &'a [u8]>, expected: &[u8]) -> bool {
    let mut rest = expected;
    for (i, part) in parts.enumerate() {
        if i > 0 {
            match rest.strip_prefix(b", ") {
                Some(r) => rest = r,
                None => return false,
            }
        }
        match rest.strip_prefix(part) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

#[derive(Debug, Clone)]
struct QueryCondition {
    name: Box<[u8]>,
    value: ValueMatch,
}

impl QueryCondition {
    fn matches(&self, query: &str) -> bool {
        let Some(raw) = first_value(query, &self.name) else {
            return false;
        };
        match &self.value {
            ValueMatch::Exact(expected) => percent_decode(raw).eq(expected.iter().copied()),
            ValueMatch::Regex(_) if !raw.contains(&b'%') => self.value.matches(raw),
            ValueMatch::Regex(_) => {
                let buf: Buf = percent_decode(raw).collect();
                self.value.matches(&buf)
            }
        }
    }
}

/// The raw value of the first parameter whose percent-decoded name is `name`.
fn first_value<'q>(query: &'q str, name: &[u8]) -> Option<&'q [u8]> {
    query.as_bytes().split(|&b| b == b'&').find_map(|pair| {
        let (raw_name, raw_value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        percent_decode(raw_name)
            .eq(name.iter().copied())
            .then_some(raw_value)
    })
}

/// Every condition of one [`HttpRouteMatch`] except the path.
#[derive(Debug, Clone)]
pub(crate) struct Conditions {
    method: Option<Method>,
    headers: Box<[HeaderCondition]>,
    query_params: Box<[QueryCondition]>,
}

impl Conditions {
    /// Compiles the conditions of a match, keeping only the first condition of each name.
    pub(crate) fn compile(m: &HttpRouteMatch, cache: &mut RegexCache) -> Self {
        let mut headers: Vec<HeaderCondition> = Vec::with_capacity(m.headers.len());
        for h in &m.headers {
            if !headers.iter().any(|e| e.name == h.name) {
                headers.push(HeaderCondition {
                    name: h.name.clone(),
                    value: ValueMatch::compile(&h.value, cache),
                });
            }
        }
        let mut query_params: Vec<QueryCondition> = Vec::with_capacity(m.query_params.len());
        for q in &m.query_params {
            if !query_params.iter().any(|e| *e.name == *q.name.as_bytes()) {
                query_params.push(QueryCondition {
                    name: q.name.as_bytes().into(),
                    value: ValueMatch::compile(&q.value, cache),
                });
            }
        }
        Conditions {
            method: m.method.clone(),
            headers: headers.into(),
            query_params: query_params.into(),
        }
    }

    /// Whether a request satisfies every condition.
    pub(crate) fn matches(
        &self,
        method: &Method,
        headers: &HeaderMap,
        query: Option<&str>,
    ) -> bool {
        if self.method.as_ref().is_some_and(|m| m != method) {
            return false;
        }
        if !self.headers.iter().all(|h| h.matches(headers)) {
            return false;
        }
        if self.query_params.is_empty() {
            return true;
        }
        let query = query.unwrap_or("");
        self.query_params.iter().all(|q| q.matches(query))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use torii_config::{HeaderMatch, PathMatch, QueryParamMatch};

    fn exact(v: &str) -> StringMatch {
        StringMatch::Exact(v.into())
    }

    fn regex(v: &str) -> StringMatch {
        StringMatch::RegularExpression(Regex::new(v).unwrap())
    }

    fn compile(
        method: Option<Method>,
        headers: Vec<(&'static str, StringMatch)>,
        query: Vec<(&str, StringMatch)>,
    ) -> Conditions {
        let m = HttpRouteMatch {
            path: PathMatch::Prefix("/".into()),
            headers: headers
                .into_iter()
                .map(|(n, value)| HeaderMatch {
                    name: HeaderName::from_static(n),
                    value,
                })
                .collect(),
            query_params: query
                .into_iter()
                .map(|(n, value)| QueryParamMatch {
                    name: n.into(),
                    value,
                })
                .collect(),
            method,
        };
        Conditions::compile(&m, &mut RegexCache::default())
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (n, v) in pairs {
            map.append(
                HeaderName::from_static(n),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn method_condition_is_exact() {
        let c = compile(Some(Method::POST), vec![], vec![]);
        let none = HeaderMap::new();
        assert!(c.matches(&Method::POST, &none, None));
        assert!(!c.matches(&Method::GET, &none, None));
        assert!(!c.matches(&Method::HEAD, &none, None));
        let any = compile(None, vec![], vec![]);
        assert!(any.matches(&Method::DELETE, &none, None));
    }

    #[test]
    fn header_conditions() {
        // (condition, request headers, matches)
        type Case = (
            Vec<(&'static str, StringMatch)>,
            Vec<(&'static str, &'static str)>,
            bool,
        );
        let cases: Vec<Case> = vec![
            (
                vec![("version", exact("one"))],
                vec![("version", "one")],
                true,
            ),
            (
                vec![("version", exact("one"))],
                vec![("version", "One")],
                false,
            ),
            (vec![("version", exact("one"))], vec![], false),
            (
                vec![("version", exact("one"))],
                vec![("other", "one")],
                false,
            ),
            (vec![("version", exact(""))], vec![("version", "")], true),
            // All conditions must hold.
            (
                vec![("version", exact("two")), ("color", exact("orange"))],
                vec![("version", "two")],
                false,
            ),
            (
                vec![("version", exact("two")), ("color", exact("orange"))],
                vec![("color", "orange"), ("version", "two")],
                true,
            ),
            // Regular expressions match the whole value.
            (
                vec![("version", regex("v[0-9]+"))],
                vec![("version", "v12")],
                true,
            ),
            (
                vec![("version", regex("v[0-9]+"))],
                vec![("version", "v12x")],
                false,
            ),
            (
                vec![("version", regex("v[0-9]+"))],
                vec![("version", "xv12")],
                false,
            ),
            // Repeated headers compare as their comma-joined value.
            (
                vec![("a", exact("1, 2"))],
                vec![("a", "1"), ("a", "2")],
                true,
            ),
            (vec![("a", exact("1"))], vec![("a", "1"), ("a", "2")], false),
            (
                vec![("a", exact("1, 2, 3"))],
                vec![("a", "1"), ("a", "2")],
                false,
            ),
            (
                vec![("a", exact("1,2"))],
                vec![("a", "1"), ("a", "2")],
                false,
            ),
            (
                vec![("a", regex("1, [0-9]"))],
                vec![("a", "1"), ("a", "2")],
                true,
            ),
            (vec![("a", regex("1"))], vec![("a", "1"), ("a", "2")], false),
            // Only the first condition of a name counts.
            (
                vec![("a", exact("x")), ("a", exact("y"))],
                vec![("a", "x")],
                true,
            ),
        ];
        for (i, (conds, req, want)) in cases.into_iter().enumerate() {
            let c = compile(None, conds, vec![]);
            assert_eq!(
                c.matches(&Method::GET, &headers(&req), None),
                want,
                "case {i}"
            );
        }
    }

    #[test]
    fn non_utf8_header_values_match_exactly_but_never_a_regex() {
        let mut map = HeaderMap::new();
        map.insert("a", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        let exact_latin1 = Conditions {
            method: None,
            headers: vec![HeaderCondition {
                name: HeaderName::from_static("a"),
                value: ValueMatch::Exact(b"caf\xe9"[..].into()),
            }]
            .into(),
            query_params: Box::new([]),
        };
        assert!(exact_latin1.matches(&Method::GET, &map, None));
        let any = compile(None, vec![("a", regex(".*"))], vec![]);
        assert!(!any.matches(&Method::GET, &map, None));
    }

    #[test]
    fn query_param_conditions() {
        // (conditions, query, matches); cases of HTTPRouteQueryParamMatching plus decoding.
        type Case = (Vec<(&'static str, StringMatch)>, Option<&'static str>, bool);
        let cases: Vec<Case> = vec![
            (vec![("animal", exact("whale"))], Some("animal=whale"), true),
            (
                vec![("animal", exact("whale"))],
                Some("animal=whale&other=x"),
                true,
            ),
            (
                vec![("animal", exact("whale"))],
                Some("other=x&animal=whale"),
                true,
            ),
            (
                vec![("animal", exact("whale"))],
                Some("animal=whaledolphin"),
                false,
            ),
            (vec![("animal", exact("whale"))], Some("animal=dog"), false),
            (
                vec![("animal", exact("whale"))],
                Some("ANIMAL=whale"),
                false,
            ),
            (
                vec![("animal", exact("whale"))],
                Some("animal=Whale"),
                false,
            ),
            (vec![("animal", exact("whale"))], None, false),
            (vec![("animal", exact("whale"))], Some(""), false),
            (vec![("ANIMAL", exact("Whale"))], Some("ANIMAL=Whale"), true),
            // The first occurrence decides.
            (
                vec![("animal", exact("whale"))],
                Some("animal=dog&animal=whale"),
                false,
            ),
            (
                vec![("animal", exact("whale"))],
                Some("animal=whale&animal=dog"),
                true,
            ),
            // Percent-decoding of names and values; '+' is literal.
            (
                vec![("animal", exact("blue whale"))],
                Some("animal=blue%20whale"),
                true,
            ),
            (vec![("an imal", exact("x"))], Some("an%20imal=x"), true),
            (
                vec![("animal", exact("blue whale"))],
                Some("animal=blue+whale"),
                false,
            ),
            (vec![("animal", exact("a+b"))], Some("animal=a+b"), true),
            (vec![("animal", exact("100%"))], Some("animal=100%"), true),
            (
                vec![("animal", regex("blue .*"))],
                Some("animal=blue%20whale"),
                true,
            ),
            (vec![("animal", regex("wh.le"))], Some("animal=whale"), true),
            (
                vec![("animal", regex("wh.le"))],
                Some("animal=whales"),
                false,
            ),
            // A parameter without '=' has the empty value.
            (vec![("flag", exact(""))], Some("flag"), true),
            (vec![("flag", exact(""))], Some("flag="), true),
            (vec![("flag", exact(""))], Some("flags"), false),
            // Every condition must hold.
            (
                vec![("animal", exact("dolphin")), ("color", exact("blue"))],
                Some("animal=dolphin&color=yellow"),
                false,
            ),
            (
                vec![("animal", exact("dolphin")), ("color", exact("blue"))],
                Some("color=blue&animal=dolphin"),
                true,
            ),
        ];
        let none = HeaderMap::new();
        for (i, (conds, query, want)) in cases.into_iter().enumerate() {
            let c = compile(None, vec![], conds);
            assert_eq!(
                c.matches(&Method::GET, &none, query),
                want,
                "case {i}: {query:?}"
            );
        }
    }

    #[test]
    fn long_decoded_values_still_match_a_regex() {
        let long = "a%20".repeat(INLINE);
        let c = compile(None, vec![], vec![("q", regex("(a )+"))]);
        let query = format!("q={long}");
        assert!(c.matches(&Method::GET, &HeaderMap::new(), Some(&query)));
    }
}
