//! Which listener of a TLS port serves a server name (SNI).
//!
//! The Gateway API matches a listener's hostname against the SNI: an exact hostname beats a
//! wildcard, a longer wildcard beats a shorter one, and a listener without hostname takes
//! what no other listener claims.

use torii_config::{HostnameMatch, ListenerConfig};

/// Picks the listener of one port that serves `sni`: the first listener whose hostname is
/// exactly the name, else the one with the longest matching wildcard, else the first listener
/// without hostname. Without SNI only a listener without hostname qualifies.
///
/// The proxy uses this to decide between passthrough and termination before any handshake;
/// [`crate::server_config`] uses the same choice to pick certificates.
pub fn sni_listener_index(listeners: &[&ListenerConfig], sni: Option<&str>) -> Option<usize> {
    select_listener(listeners.iter().map(|l| l.hostname.as_ref()), sni)
}

/// [`sni_listener_index`] over the listeners' hostnames alone.
pub(crate) fn select_listener<'a>(
    hostnames: impl IntoIterator<Item = Option<&'a HostnameMatch>>,
    sni: Option<&str>,
) -> Option<usize> {
    let sni = sni.map(without_trailing_dot);
    let mut longest_wildcard: Option<(usize, usize)> = None;
    let mut catch_all = None;
    for (index, hostname) in hostnames.into_iter().enumerate() {
        match (hostname, sni) {
            (None, _) => {
                catch_all = catch_all.or(Some(index));
            }
            (Some(pattern @ HostnameMatch::Exact(_)), Some(sni)) if pattern.matches(sni) => {
                return Some(index);
            }
            (Some(pattern @ HostnameMatch::Wildcard(suffix)), Some(sni))
                if pattern.matches(sni)
                    && longest_wildcard.is_none_or(|(_, len)| suffix.len() > len) =>
            {
                longest_wildcard = Some((index, suffix.len()));
            }
            _ => {}
        }
    }
    longest_wildcard.map(|(index, _)| index).or(catch_all)
}

/// RFC 6066 sends host names without the trailing dot; tolerate clients that add it.
pub(crate) fn without_trailing_dot(name: &str) -> &str {
    name.strip_suffix('.').unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hostnames(patterns: &[Option<&str>]) -> Vec<Option<HostnameMatch>> {
        patterns
            .iter()
            .map(|p| p.map(|p| HostnameMatch::parse(p).expect("test hostname is valid")))
            .collect()
    }

    #[test]
    fn picks_the_most_specific_listener() {
        let listeners = [
            Some("*.example.com"),
            None,
            Some("*.a.example.com"),
            Some("a.example.com"),
            Some("b.a.example.com"),
            None,
            Some("*.example.com"),
        ];
        let cases: &[(Option<&str>, Option<usize>)] = &[
            (Some("a.example.com"), Some(3)),
            (Some("A.Example.COM"), Some(3)),
            (Some("a.example.com."), Some(3)),
            (Some("b.a.example.com"), Some(4)),
            (Some("c.a.example.com"), Some(2)),
            (Some("x.y.a.example.com"), Some(2)),
            (Some("c.example.com"), Some(0)),
            (Some("example.com"), Some(1)),
            (Some("other.org"), Some(1)),
            (None, Some(1)),
        ];
        let patterns = hostnames(&listeners);
        for (sni, want) in cases {
            assert_eq!(
                select_listener(patterns.iter().map(Option::as_ref), *sni),
                *want,
                "sni {sni:?}"
            );
        }
    }

    #[test]
    fn without_a_catch_all_unknown_names_find_nothing() {
        let patterns = hostnames(&[Some("a.example.com"), Some("*.wild.org")]);
        let cases: &[(Option<&str>, Option<usize>)] = &[
            (Some("a.example.com"), Some(0)),
            (Some("x.wild.org"), Some(1)),
            (Some("wild.org"), None),
            (Some("b.example.com"), None),
            (None, None),
        ];
        for (sni, want) in cases {
            assert_eq!(
                select_listener(patterns.iter().map(Option::as_ref), *sni),
                *want,
                "sni {sni:?}"
            );
        }
    }

    #[test]
    fn no_listeners_select_nothing() {
        assert_eq!(sni_listener_index(&[], Some("a.example.com")), None);
        assert_eq!(sni_listener_index(&[], None), None);
    }
}
