//! Stage 4, choose the backend: by the rule's weights, or, on a rule a `Rollout` drives, the
//! stable or candidate side by the rollout's weight (sticky per step with a cookie).

use crate::error::ProxyError;
use crate::migration::{RolloutControl, Side};
use crate::snapshot::RolloutRoute;
use http::{HeaderMap, HeaderValue};
use std::sync::Arc;
use torii_config::HttpBackend;

/// The backend chosen for a request.
pub(crate) struct Chosen {
    /// Its index in the rule's backends.
    pub(crate) index: usize,
    /// The rollout and the side that serves the request (for the rollout's gates).
    pub(crate) rollout: Option<(Arc<RolloutControl>, Side)>,
    /// `Set-Cookie` pinning the client to its side.
    pub(crate) cookie: Option<HeaderValue>,
}

/// Chooses among `backends` (weight 0 never; none usable is an invalid backend, 500).
pub(crate) fn choose(
    backends: &[HttpBackend],
    rollout: Option<&RolloutRoute>,
    headers: &HeaderMap,
    tls: bool,
) -> Result<Chosen, ProxyError> {
    let Some(route) = rollout else {
        let index = crate::weighted::pick(backends, |b| b.target.weight)
            .ok_or(ProxyError::InvalidBackend)?;
        return Ok(Chosen {
            index,
            rollout: None,
            cookie: None,
        });
    };
    let (side, cookie) = route.runtime.choose(headers, tls);
    let index = match side {
        Side::Stable => route.stable,
        Side::Candidate => route.candidate,
    }
    .ok_or(ProxyError::InvalidBackend)?;
    Ok(Chosen {
        index,
        rollout: Some((route.runtime.control.clone(), side)),
        cookie,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use torii_config::{BackendTarget, WeightedTarget};

    fn backend(weight: u32) -> HttpBackend {
        HttpBackend {
            target: WeightedTarget {
                weight,
                target: BackendTarget::Invalid,
            },
            filters: Vec::new(),
        }
    }

    #[test]
    fn weights_decide_and_zero_never_serves() {
        let headers = HeaderMap::new();
        let cases: &[(&[u32], Option<usize>)] = &[
            (&[1], Some(0)),
            (&[0, 1], Some(1)),
            (&[1, 0], Some(0)),
            (&[0, 0], None),
            (&[], None),
        ];
        for (weights, want) in cases {
            let backends: Vec<HttpBackend> = weights.iter().map(|w| backend(*w)).collect();
            for _ in 0..50 {
                let got = choose(&backends, None, &headers, false)
                    .ok()
                    .map(|c| c.index);
                assert_eq!(got, *want, "{weights:?}");
            }
        }
    }
}
