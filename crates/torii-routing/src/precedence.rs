//! Route precedence as an [`Ord`] key: "the best match wins" is one `max()`.
//!
//! The Gateway API orders candidate matches (HTTPRouteSpec.Hostnames and HTTPRouteRule):
//!
//! 1. the hostname: an exact hostname beats a wildcard, a longer wildcard beats a shorter one,
//!    a route without hostnames comes last ([`HostnameSpecificity`]);
//! 2. the path: `Exact` beats everything, then `RegularExpression`, then `PathPrefix` by
//!    length ([`PathRank`]; where regular expressions go is implementation-specific, torii puts
//!    them between `Exact` and `PathPrefix`, longer patterns first);
//! 3. a method condition;
//! 4. more header conditions;
//! 5. more query parameter conditions;
//!
//! and on ties: the older route, then `namespace/name` ([`torii_config::RouteOrder`]), then
//! the first rule of the route, then the first match of the rule.

use std::cmp::{Ordering, Reverse};
use torii_config::{HostnameMatch, HttpRouteMatch, PathMatch, RouteOrder};

/// How specific the hostname is through which a request reached a route; greater is more
/// specific.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HostnameSpecificity {
    /// The route accepts any host (no hostnames, on a listener without hostname).
    Any,
    /// A wildcard (`*.example.com`); the number is the length of the suffix after `*`.
    Wildcard(usize),
    /// An exact hostname; every exact hostname matching one request host is that host.
    Exact,
}

impl HostnameSpecificity {
    /// The specificity of a hostname pattern (`None` for "any host").
    pub fn of(hostname: Option<&HostnameMatch>) -> Self {
        match hostname {
            None => HostnameSpecificity::Any,
            Some(HostnameMatch::Exact(_)) => HostnameSpecificity::Exact,
            Some(HostnameMatch::Wildcard(suffix)) => HostnameSpecificity::Wildcard(suffix.len()),
        }
    }
}

/// The rank of a path condition; greater wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathRank {
    /// `PathPrefix`, by the prefix's length in bytes (without trailing slash).
    Prefix(usize),
    /// `RegularExpression`, by the pattern's length in bytes.
    RegularExpression(usize),
    /// `Exact`.
    Exact,
}

/// The precedence of one [`HttpRouteMatch`] by its own conditions; greater wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MatchPrecedence {
    /// The path condition's rank.
    pub path: PathRank,
    /// Whether a method condition is present.
    pub method: bool,
    /// The number of header conditions (distinct names).
    pub headers: usize,
    /// The number of query parameter conditions (distinct names).
    pub query_params: usize,
}

impl MatchPrecedence {
    /// The precedence of a match. Header and query conditions repeating an earlier name are
    /// ignored (the spec says only the first one counts), so they are not counted either.
    pub fn of(m: &HttpRouteMatch) -> Self {
        let path = match &m.path {
            PathMatch::Exact(_) => PathRank::Exact,
            PathMatch::RegularExpression(re) => PathRank::RegularExpression(re.as_str().len()),
            PathMatch::Prefix(prefix) => {
                PathRank::Prefix(crate::path::normalize_prefix(prefix).len())
            }
        };
        let headers = m
            .headers
            .iter()
            .enumerate()
            .filter(|(i, h)| !m.headers[..*i].iter().any(|e| e.name == h.name))
            .count();
        let query_params = m
            .query_params
            .iter()
            .enumerate()
            .filter(|(i, q)| !m.query_params[..*i].iter().any(|e| e.name == q.name))
            .count();
        MatchPrecedence {
            path,
            method: m.method.is_some(),
            headers,
            query_params,
        }
    }
}

/// The complete precedence of one candidate (a match of a rule of a route, reached through a
/// hostname); greater wins, and distinct candidates never compare equal unless they are the
/// same match of the same rule of the same route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rank<'a> {
    /// How specific the hostname is that selected the route.
    pub hostname: HostnameSpecificity,
    /// The match's own conditions.
    pub matched: MatchPrecedence,
    /// The route's tie-break order (older, then `namespace/name`, sorts first and wins).
    pub route: &'a RouteOrder,
    /// The rule's index in the route (the first rule wins).
    pub rule: usize,
    /// The match's index in the rule (the first match wins).
    pub index: usize,
}

impl Rank<'_> {
    fn key(
        &self,
    ) -> (
        HostnameSpecificity,
        MatchPrecedence,
        Reverse<&RouteOrder>,
        Reverse<usize>,
        Reverse<usize>,
    ) {
        (
            self.hostname,
            self.matched,
            Reverse(self.route),
            Reverse(self.rule),
            Reverse(self.index),
        )
    }
}

impl PartialOrd for Rank<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Rank<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;
    use regex::Regex;
    use torii_config::{HeaderMatch, QueryParamMatch, StringMatch};

    fn m(path: PathMatch) -> HttpRouteMatch {
        HttpRouteMatch {
            path,
            headers: vec![],
            query_params: vec![],
            method: None,
        }
    }

    fn header(name: &'static str) -> HeaderMatch {
        HeaderMatch {
            name: http::HeaderName::from_static(name),
            value: StringMatch::Exact("v".into()),
        }
    }

    fn query(name: &str) -> QueryParamMatch {
        QueryParamMatch {
            name: name.into(),
            value: StringMatch::Exact("v".into()),
        }
    }

    fn prefix(p: &str) -> HttpRouteMatch {
        m(PathMatch::Prefix(p.into()))
    }

    /// Each pair: the first match must outrank the second (spec: HTTPRouteRule precedence).
    #[test]
    fn match_precedence_follows_the_spec_order() {
        let exact = m(PathMatch::Exact("/a".into()));
        let regex = m(PathMatch::RegularExpression(Regex::new("/a.*").unwrap()));
        let with_method = HttpRouteMatch {
            method: Some(Method::GET),
            ..prefix("/a")
        };
        let with_two_headers = HttpRouteMatch {
            headers: vec![header("a"), header("b")],
            ..prefix("/a")
        };
        let with_one_header = HttpRouteMatch {
            headers: vec![header("a")],
            ..prefix("/a")
        };
        let with_query = HttpRouteMatch {
            query_params: vec![query("q")],
            ..prefix("/a")
        };
        let header_and_query = HttpRouteMatch {
            query_params: vec![query("q")],
            ..with_one_header.clone()
        };
        let method_only_short_path = HttpRouteMatch {
            method: Some(Method::GET),
            headers: vec![header("a"), header("b"), header("c")],
            ..prefix("/")
        };
        let cases: Vec<(&str, HttpRouteMatch, HttpRouteMatch)> = vec![
            (
                "exact beats longer prefix",
                exact.clone(),
                prefix("/aaaaaaaa"),
            ),
            ("exact beats regex", exact, regex.clone()),
            ("regex beats prefix", regex, prefix("/aaaaaaaaaa")),
            ("longer prefix beats shorter", prefix("/a/b"), prefix("/a")),
            (
                "longer prefix beats method",
                prefix("/ab"),
                with_method.clone(),
            ),
            (
                "path beats everything else",
                prefix("/a"),
                method_only_short_path,
            ),
            (
                "method beats headers",
                with_method,
                with_two_headers.clone(),
            ),
            (
                "more headers beat fewer",
                with_two_headers,
                with_one_header.clone(),
            ),
            (
                "headers beat query params",
                with_one_header.clone(),
                with_query.clone(),
            ),
            (
                "header and query beat header",
                header_and_query,
                with_one_header,
            ),
            ("query beats nothing", with_query, prefix("/a")),
        ];
        for (name, better, worse) in cases {
            assert!(
                MatchPrecedence::of(&better) > MatchPrecedence::of(&worse),
                "{name}: {:?} vs {:?}",
                MatchPrecedence::of(&better),
                MatchPrecedence::of(&worse)
            );
        }
    }

    #[test]
    fn trailing_slash_does_not_lengthen_a_prefix() {
        assert_eq!(
            MatchPrecedence::of(&prefix("/foo/")),
            MatchPrecedence::of(&prefix("/foo"))
        );
    }

    #[test]
    fn repeated_condition_names_count_once() {
        let dup = HttpRouteMatch {
            headers: vec![header("a"), header("a")],
            query_params: vec![query("q"), query("q"), query("Q")],
            ..prefix("/")
        };
        let p = MatchPrecedence::of(&dup);
        assert_eq!((p.headers, p.query_params), (1, 2));
    }

    #[test]
    fn hostname_specificity_orders_exact_wildcards_any() {
        let exact = HostnameMatch::parse("a.b.example.com").unwrap();
        let long = HostnameMatch::parse("*.b.example.com").unwrap();
        let short = HostnameMatch::parse("*.example.com").unwrap();
        let ranks = [
            HostnameSpecificity::of(Some(&exact)),
            HostnameSpecificity::of(Some(&long)),
            HostnameSpecificity::of(Some(&short)),
            HostnameSpecificity::of(None),
        ];
        assert!(ranks.windows(2).all(|w| w[0] > w[1]), "{ranks:?}");
    }

    #[test]
    fn ties_go_to_older_route_then_name_then_rule_then_match() {
        let older = RouteOrder {
            created: 1,
            name: "ns/z".into(),
        };
        let newer = RouteOrder {
            created: 2,
            name: "ns/a".into(),
        };
        let newer_b = RouteOrder {
            created: 2,
            name: "ns/b".into(),
        };
        let p = MatchPrecedence::of(&prefix("/"));
        let rank = |route, rule, index| Rank {
            hostname: HostnameSpecificity::Any,
            matched: p,
            route,
            rule,
            index,
        };
        assert!(rank(&older, 5, 5) > rank(&newer, 0, 0));
        assert!(rank(&newer, 5, 5) > rank(&newer_b, 0, 0));
        assert!(rank(&newer, 0, 5) > rank(&newer, 1, 0));
        assert!(rank(&newer, 1, 0) > rank(&newer, 1, 1));
        // Hostname and match precedence dominate the tie-breaks.
        let mut better_host = rank(&newer_b, 9, 9);
        better_host.hostname = HostnameSpecificity::Exact;
        assert!(better_host > rank(&older, 0, 0));
    }
}
