//! `--dns`: the authoritative DNS responder (torii-dns) answering for load-balancer hostnames
//! with the origins the load balancer's steering picks, healthy ones only.

use std::collections::HashMap;
use std::sync::Arc;
use torii_dns::{Answer, AnswerSource, QueryType, Question, Soa, Zone, ZoneSet};
use torii_proxy::pools::{LbSnapshot, SteeredBackend};
use torii_proxy::LoadBalancing;
use torii_steering::{ClientLocation, RequestContext};

/// Answers from one applied config.
pub struct LbAnswers {
    by_name: HashMap<String, Arc<SteeredBackend>>,
    load_balancing: Arc<LoadBalancing>,
    headers: http::HeaderMap,
}

impl LbAnswers {
    /// Indexes the load balancers of `snapshot` by hostname.
    pub fn new(snapshot: &LbSnapshot, load_balancing: Arc<LoadBalancing>) -> Self {
        let mut by_name = HashMap::new();
        for backend in snapshot.load_balancers.values() {
            for hostname in &backend.runtime.config().hostnames {
                by_name.insert(hostname.to_ascii_lowercase(), backend.clone());
            }
        }
        LbAnswers {
            by_name,
            load_balancing,
            headers: http::HeaderMap::new(),
        }
    }

    /// The zones to serve: `zones` as given, or each hostname as its own zone. The SOA serial
    /// is the config generation, so secondaries and caches see each change.
    pub fn zones(&self, zones: &[String], generation: u64) -> Result<ZoneSet, torii_dns::DnsError> {
        let apexes: Vec<String> = if zones.is_empty() {
            let mut names: Vec<String> = self.by_name.keys().cloned().collect();
            names.sort();
            names
        } else {
            zones
                .iter()
                .map(|z| z.trim_end_matches('.').to_ascii_lowercase())
                .collect()
        };
        ZoneSet::new(apexes.into_iter().map(|apex| {
            let ns = format!("ns1.{apex}");
            let mut soa = Soa::new(ns.clone(), format!("hostmaster.{apex}"));
            soa.serial = u32::try_from(generation).unwrap_or(u32::MAX);
            Zone::new(apex.clone(), soa, vec![ns])
        }))
    }
}

impl AnswerSource for LbAnswers {
    fn answer(&self, query: &Question<'_>) -> Answer {
        let Some(backend) = self.by_name.get(query.name) else {
            return Answer::NameNotFound;
        };
        let client = query.steering_addr();
        let located = self.load_balancing.locate(client);
        let location = located
            .as_ref()
            .map_or_else(ClientLocation::default, |l| ClientLocation {
                country: Some(l.country.as_str()),
                region: Some(l.region.code()),
                coordinates: l.lat_lon,
            });
        let ctx = RequestContext::new(client, &self.headers, torii_steering::unix_seconds())
            .with_location(location);
        let mut rng = fastrand::Rng::new();
        let runtime = &backend.runtime;
        let Some(choice) = runtime.select_pool(&ctx, &mut rng) else {
            return Answer::NoData;
        };
        let want_v4 = query.query_type == QueryType::A;
        let addrs: torii_dns::Addresses = choice
            .origins()
            .filter_map(|(_, origin)| match origin.address {
                torii_config::OriginAddress::Socket(address) => Some(address.ip()),
                _ => None,
            })
            .filter(|ip| ip.is_ipv4() == want_v4)
            .collect();
        if addrs.is_empty() {
            return Answer::NoData;
        }
        Answer::Addresses {
            addrs,
            ttl: runtime.config().dns_ttl,
            ecs_scope: query.client_subnet.map(|s| s.source_prefix),
        }
    }

    fn name_exists(&self, query: &Question<'_>) -> bool {
        self.by_name.contains_key(query.name)
    }
}
