//! Hostname indexes: exact names, `*.` wildcards and "any host", looked up most specific
//! first without allocating.

use rustc_hash::FxHashMap;
use torii_config::HostnameMatch;

/// A set of string lengths, to skip hash lookups of keys no stored key could equal.
#[derive(Debug, Clone, Default)]
pub(crate) struct LenSet {
    bits: Vec<u64>,
}

impl LenSet {
    /// Adds a length.
    pub(crate) fn insert(&mut self, len: usize) {
        let word = len / 64;
        if self.bits.len() <= word {
            self.bits.resize(word + 1, 0);
        }
        self.bits[word] |= 1 << (len % 64);
    }

    /// Whether a length was added.
    #[inline]
    pub(crate) fn contains(&self, len: usize) -> bool {
        self.bits
            .get(len / 64)
            .is_some_and(|w| w & (1 << (len % 64)) != 0)
    }
}

/// Values keyed by hostname pattern. A lookup yields, most specific first: the value of the
/// exact hostname, the values of the matching wildcards from the longest suffix to the
/// shortest, then the value for any host.
#[derive(Debug, Clone)]
pub(crate) struct HostIndex<T> {
    exact: FxHashMap<Box<str>, T>,
    /// Keyed by the suffix with its leading dot (`.example.com` for `*.example.com`).
    wildcard: FxHashMap<Box<str>, T>,
    wildcard_lens: LenSet,
    any: Option<T>,
}

impl<T> Default for HostIndex<T> {
    fn default() -> Self {
        HostIndex {
            exact: FxHashMap::default(),
            wildcard: FxHashMap::default(),
            wildcard_lens: LenSet::default(),
            any: None,
        }
    }
}

impl<T> HostIndex<T> {
    /// The value for a pattern (`None`: any host), inserted with `make` when absent.
    pub(crate) fn get_or_insert_with(
        &mut self,
        pattern: Option<&HostnameMatch>,
        make: impl FnOnce() -> T,
    ) -> &mut T {
        match pattern {
            None => self.any.get_or_insert_with(make),
            Some(HostnameMatch::Exact(name)) => {
                self.exact.entry(name.as_str().into()).or_insert_with(make)
            }
            Some(HostnameMatch::Wildcard(suffix)) => {
                self.wildcard_lens.insert(suffix.len());
                self.wildcard
                    .entry(suffix.as_str().into())
                    .or_insert_with(make)
            }
        }
    }

    /// Converts every value.
    pub(crate) fn map<U>(self, mut f: impl FnMut(T) -> U) -> HostIndex<U> {
        HostIndex {
            exact: self.exact.into_iter().map(|(k, v)| (k, f(v))).collect(),
            wildcard: self.wildcard.into_iter().map(|(k, v)| (k, f(v))).collect(),
            wildcard_lens: self.wildcard_lens,
            any: self.any.map(f),
        }
    }

    /// The values whose pattern matches `host` (lower-case, without port), most specific
    /// first.
    pub(crate) fn lookup<'a>(&'a self, host: &'a str) -> impl Iterator<Item = &'a T> + 'a {
        let exact = if self.exact.is_empty() {
            None
        } else {
            self.exact.get(host)
        };
        // Skip scanning the host's labels when there is no wildcard to find.
        let labels = if self.wildcard.is_empty() { "" } else { host };
        let wildcards = labels
            .bytes()
            .enumerate()
            .skip(1)
            .filter(|&(_, b)| b == b'.')
            .filter_map(move |(i, _)| {
                let suffix = &labels[i..];
                if self.wildcard_lens.contains(suffix.len()) {
                    self.wildcard.get(suffix)
                } else {
                    None
                }
            });
        exact.into_iter().chain(wildcards).chain(self.any.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(patterns: &[&str]) -> HostIndex<String> {
        let mut idx = HostIndex::default();
        for p in patterns {
            let pattern = (!p.is_empty()).then(|| HostnameMatch::parse(p).unwrap());
            idx.get_or_insert_with(pattern.as_ref(), || p.to_string());
        }
        idx
    }

    #[test]
    fn lookup_is_most_specific_first() {
        let idx = index(&[
            "",
            "*.example.com",
            "*.foo.example.com",
            "abc.foo.example.com",
            "*.com",
            "bar.com",
        ]);
        let cases: [(&str, &[&str]); 8] = [
            (
                "abc.foo.example.com",
                &[
                    "abc.foo.example.com",
                    "*.foo.example.com",
                    "*.example.com",
                    "*.com",
                    "",
                ],
            ),
            (
                "bar.foo.example.com",
                &["*.foo.example.com", "*.example.com", "*.com", ""],
            ),
            ("foo.example.com", &["*.example.com", "*.com", ""]),
            ("example.com", &["*.com", ""]),
            ("bar.com", &["bar.com", "*.com", ""]),
            ("com", &[""]),
            ("other.org", &[""]),
            (".com", &[""]),
        ];
        for (host, want) in cases {
            let got: Vec<&str> = idx.lookup(host).map(String::as_str).collect();
            assert_eq!(got, want, "host {host:?}");
        }
    }

    #[test]
    fn without_any_host_unmatched_hosts_find_nothing() {
        let idx = index(&["very.specific.com", "*.wildcard.io"]);
        assert_eq!(idx.lookup("wildcard.io").count(), 0);
        assert_eq!(idx.lookup("non.matching.com").count(), 0);
        assert_eq!(idx.lookup("specific.com").count(), 0);
        assert_eq!(idx.lookup("foo.bar.wildcard.io").count(), 1);
    }

    #[test]
    fn first_insert_wins() {
        let mut idx = HostIndex::default();
        let p = HostnameMatch::parse("a.com").unwrap();
        idx.get_or_insert_with(Some(&p), || 1);
        idx.get_or_insert_with(Some(&p), || 2);
        assert_eq!(idx.lookup("a.com").copied().collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn len_set() {
        let mut s = LenSet::default();
        for n in [0, 5, 63, 64, 300] {
            s.insert(n);
        }
        for n in 0..400 {
            assert_eq!(s.contains(n), [0, 5, 63, 64, 300].contains(&n), "{n}");
        }
    }
}
