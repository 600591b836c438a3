//! The route table of one hostname group: every match of the routes reachable through one
//! hostname pattern, indexed by path so that the best candidate is found without scanning
//! every rule.
//!
//! Because the path rank dominates the precedence key ([`crate::precedence`]), the search is
//! by path kind: the bucket of the request's exact path, then the regular expressions in
//! precedence order, then the `PathPrefix` buckets from the longest matching prefix to `/`.
//! Each bucket is sorted by the rest of the key, so the first candidate whose conditions hold
//! is the best one.

use crate::conditions::{Conditions, RegexCache};
use crate::host::LenSet;
use crate::path::{normalize_prefix, prefix_candidates};
use crate::precedence::MatchPrecedence;
use crate::RequestInfo;
use regex::Regex;
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::sync::Arc;
use torii_config::{HttpRoute, HttpRouteMatch, PathMatch};

/// Where a compiled match lives: `routes[route].rules[rule].matches[index]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MatchId {
    pub(crate) route: u32,
    pub(crate) rule: u32,
    pub(crate) index: u32,
}

/// One match of one rule, compiled.
#[derive(Debug, Clone)]
pub(crate) struct CompiledMatch {
    pub(crate) id: MatchId,
    pub(crate) precedence: MatchPrecedence,
    path: CompiledPath,
    conditions: Conditions,
}

#[derive(Debug, Clone)]
enum CompiledPath {
    Exact(Box<str>),
    Prefix(Box<str>),
    RegularExpression(Regex),
}

impl CompiledMatch {
    /// Compiles one match of `routes[id.route]`.
    pub(crate) fn compile(id: MatchId, m: &HttpRouteMatch, cache: &mut RegexCache) -> Self {
        let path = match &m.path {
            PathMatch::Exact(p) => CompiledPath::Exact(p.as_str().into()),
            PathMatch::Prefix(p) => CompiledPath::Prefix(normalize_prefix(p).into()),
            PathMatch::RegularExpression(re) => CompiledPath::RegularExpression(cache.anchored(re)),
        };
        CompiledMatch {
            id,
            precedence: MatchPrecedence::of(m),
            path,
            conditions: Conditions::compile(m, cache),
        }
    }

    #[inline]
    fn conditions_hold(&self, req: &RequestInfo<'_>) -> bool {
        self.conditions.matches(req.method, req.headers, req.query)
    }
}

/// Collects the matches of one hostname group.
#[derive(Debug, Default)]
pub(crate) struct TableBuilder {
    members: Vec<u32>,
}

impl TableBuilder {
    /// Adds a compiled match (an index into the router's matches).
    pub(crate) fn add(&mut self, index: u32) {
        self.members.push(index);
    }

    /// Sorts every bucket best first and indexes it.
    pub(crate) fn finish(
        mut self,
        matches: &[CompiledMatch],
        routes: &[Arc<HttpRoute>],
    ) -> RouteTable {
        self.members.sort_by_key(|&i| {
            let m = &matches[i as usize];
            (
                Reverse(m.precedence),
                &routes[m.id.route as usize].order,
                m.id.rule,
                m.id.index,
                m.id.route,
            )
        });
        self.members.dedup();
        let mut exact: FxHashMap<Box<str>, Vec<u32>> = FxHashMap::default();
        let mut prefix: FxHashMap<Box<str>, Vec<u32>> = FxHashMap::default();
        let mut table = RouteTable::default();
        let mut regex = Vec::new();
        let mut root = Vec::new();
        for &i in &self.members {
            match &matches[i as usize].path {
                CompiledPath::Exact(p) => {
                    table.exact_lens.insert(p.len());
                    exact.entry(p.clone()).or_default().push(i);
                }
                CompiledPath::Prefix(p) if &**p == "/" => root.push(i),
                CompiledPath::Prefix(p) => {
                    table.prefix_lens.insert(p.len());
                    prefix.entry(p.clone()).or_default().push(i);
                }
                CompiledPath::RegularExpression(_) => regex.push(i),
            }
        }
        table.exact = exact.into_iter().map(|(k, v)| (k, v.into())).collect();
        table.prefix = prefix.into_iter().map(|(k, v)| (k, v.into())).collect();
        table.regex = regex.into();
        table.root = root.into();
        table
    }
}

/// The indexed matches of one hostname group.
#[derive(Debug, Clone, Default)]
pub(crate) struct RouteTable {
    exact: FxHashMap<Box<str>, Box<[u32]>>,
    exact_lens: LenSet,
    regex: Box<[u32]>,
    prefix: FxHashMap<Box<str>, Box<[u32]>>,
    prefix_lens: LenSet,
    /// `PathPrefix /`.
    root: Box<[u32]>,
}

impl RouteTable {
    /// The best match for a request, as an index into `matches`.
    pub(crate) fn find(&self, matches: &[CompiledMatch], req: &RequestInfo<'_>) -> Option<u32> {
        let path = req.path;
        let first = |bucket: &[u32]| {
            bucket
                .iter()
                .copied()
                .find(|&i| matches[i as usize].conditions_hold(req))
        };
        if self.exact_lens.contains(path.len()) {
            if let Some(found) = self.exact.get(path).and_then(|b| first(b)) {
                return Some(found);
            }
        }
        for &i in self.regex.iter() {
            let m = &matches[i as usize];
            if let CompiledPath::RegularExpression(re) = &m.path {
                if re.is_match(path) && m.conditions_hold(req) {
                    return Some(i);
                }
            }
        }
        if !self.prefix.is_empty() {
            for candidate in prefix_candidates(path) {
                if !self.prefix_lens.contains(candidate.len()) {
                    continue;
                }
                if let Some(found) = self.prefix.get(candidate).and_then(|b| first(b)) {
                    return Some(found);
                }
            }
        }
        if path.starts_with('/') {
            return first(&self.root);
        }
        None
    }
}
