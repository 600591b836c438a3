//! Global load balancing at the binary's edge: client location flags, health events turned
//! into notifications, the DNS responder, and origin health in `/api/v1/status`.

use crate::RunArgs;
use anyhow::Context;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use torii_config::{Config, NotificationSink, SmtpTls};
use torii_health::{HealthChange, HealthListener};
use torii_notify::{Event, EventKind, Notifier, NotifierConfig, SinkConfig};
use torii_proxy::ClientLocator;
use torii_steering::AffinitySecret;

/// The client locator from `--geoip-db` and `--trusted-proxy`.
pub fn locator(run: &RunArgs) -> anyhow::Result<ClientLocator> {
    let geo = match &run.geoip_db {
        None => None,
        Some(path) => Some(
            torii_geo::GeoDb::open(path)
                .with_context(|| format!("cannot open --geoip-db {}", path.display()))?,
        ),
    };
    let trusted =
        torii_geo::TrustedProxies::new(&run.trusted_proxies).context("invalid --trusted-proxy")?;
    Ok(ClientLocator { geo, trusted })
}

/// The affinity-cookie key of `--affinity-secret-file`, if given: 32 hex digits (surrounding
/// whitespace ignored). The key itself never appears in an error.
pub fn affinity_secret(run: &RunArgs) -> anyhow::Result<Option<AffinitySecret>> {
    let Some(path) = &run.affinity_secret_file else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --affinity-secret-file {}", path.display()))?;
    parse_affinity_secret(&text)
        .map(Some)
        .with_context(|| format!("invalid --affinity-secret-file {}", path.display()))
}

fn parse_affinity_secret(text: &str) -> anyhow::Result<AffinitySecret> {
    let hex = text.trim();
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        anyhow::bail!(
            "expected 32 hex digits (16 bytes, e.g. from `openssl rand -hex 16`), found {} characters",
            hex.len()
        );
    }
    let mut bytes = [0u8; 16];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)?;
    }
    Ok(AffinitySecret::from_bytes(bytes))
}

/// Which load balancers use which pools, and the notifier built from their targets.
pub struct Notifications {
    notifier: Notifier,
    /// Pool (`ns/name`) → load balancers (`ns/name`) that use it, from the applied config.
    users: RwLock<Vec<(String, String)>>,
    /// Pool → `minimumOrigins`, from the applied config.
    minimums: RwLock<HashMap<String, usize>>,
    /// Failover load balancers: id and pools in failover order (defaults, then fallback).
    failover: RwLock<Vec<(String, Vec<String>)>>,
    /// Each pool's health as last announced (absent: healthy).
    pool_health: Mutex<HashMap<String, bool>>,
}

impl Notifications {
    /// A notifier with no sinks yet (inside a tokio runtime).
    pub fn new() -> anyhow::Result<Arc<Self>> {
        Ok(Arc::new(Notifications {
            notifier: Notifier::new(NotifierConfig::default())
                .context("cannot start notifications")?,
            users: RwLock::new(Vec::new()),
            minimums: RwLock::new(HashMap::new()),
            failover: RwLock::new(Vec::new()),
            pool_health: Mutex::new(HashMap::new()),
        }))
    }

    /// Checks and builds the notification targets of `config`'s load balancers and rollouts,
    /// changing nothing ([`Notifications::commit`] puts them in force).
    pub fn prepare(&self, config: &Config) -> anyhow::Result<PreparedNotifications> {
        let mut sinks = Vec::new();
        let mut seen = HashSet::new();
        let mut users = Vec::new();
        for (id, lb) in &config.load_balancers {
            for pool in lb.default_pools.iter().chain(&lb.fallback_pool) {
                users.push((pool.to_string(), id.to_string()));
            }
            for target in &lb.notifications {
                let name = format!("{id}/{}", target.name);
                if !seen.insert(name.clone()) {
                    continue;
                }
                // A target without a pool filter hears about this load balancer's pools only.
                let pools: Vec<String> = if target.pools.is_empty() {
                    lb.default_pools
                        .iter()
                        .chain(&lb.fallback_pool)
                        .map(ToString::to_string)
                        .collect()
                } else {
                    target.pools.iter().map(ToString::to_string).collect()
                };
                let sink = sink_config(name, &target.sink);
                sinks.push(sink.with_pools(pools));
            }
        }
        // A rollout's targets hear only that rollout's events.
        for (id, rollout) in &config.rollouts {
            for target in &rollout.notifications {
                let name = format!("rollout/{id}/{}", target.name);
                if seen.insert(name.clone()) {
                    sinks.push(sink_config(name, &target.sink).with_rollouts([id.to_string()]));
                }
            }
        }
        let sinks = self
            .notifier
            .prepare(NotifierConfig { sinks })
            .context("invalid notification target")?;
        let minimums = config
            .pools
            .iter()
            .map(|(id, pool)| (id.to_string(), pool.minimum_origins.max(1) as usize))
            .collect();
        let failover = config
            .load_balancers
            .iter()
            .filter(|(_, lb)| matches!(lb.steering, torii_config::Steering::Failover))
            .map(|(id, lb)| {
                let order = lb
                    .default_pools
                    .iter()
                    .chain(&lb.fallback_pool)
                    .map(ToString::to_string)
                    .collect();
                (id.to_string(), order)
            })
            .collect();
        Ok(PreparedNotifications {
            sinks,
            users,
            minimums,
            failover,
        })
    }

    /// Puts prepared notification targets in force.
    pub fn commit(&self, prepared: PreparedNotifications) {
        self.notifier.commit(prepared.sinks);
        *self.users.write().unwrap_or_else(|e| e.into_inner()) = prepared.users;
        *self.minimums.write().unwrap_or_else(|e| e.into_inner()) = prepared.minimums;
        *self.failover.write().unwrap_or_else(|e| e.into_inner()) = prepared.failover;
    }
}

/// Notification targets of a config, checked, not yet in force.
pub struct PreparedNotifications {
    sinks: torii_notify::PreparedSinks,
    users: Vec<(String, String)>,
    minimums: HashMap<String, usize>,
    failover: Vec<(String, Vec<String>)>,
}

impl Notifications {
    /// Each sink's delivery counters.
    pub fn stats(&self) -> Vec<torii_notify::SinkStats> {
        self.notifier.stats()
    }

    /// Sends `event` to the sinks whose filters take it.
    pub fn notify(&self, event: Event) {
        self.notifier.notify(event);
    }
}

/// The notifier's sink for one notification target of the config.
fn sink_config(name: String, sink: &NotificationSink) -> SinkConfig {
    match sink {
        NotificationSink::Webhook { url, headers } => {
            let mut webhook = torii_notify::WebhookConfig::new(url.to_string());
            for (name, value) in headers {
                webhook = webhook.with_header(
                    name.to_string(),
                    torii_notify::Secret::new(value.to_str().unwrap_or_default()),
                );
            }
            SinkConfig::webhook(name, webhook)
        }
        NotificationSink::Email {
            smtp_host,
            smtp_port,
            tls,
            from,
            to,
        } => {
            let tls = match tls {
                SmtpTls::None => torii_notify::SmtpTls::None,
                SmtpTls::Starttls => torii_notify::SmtpTls::Starttls,
                SmtpTls::Tls => torii_notify::SmtpTls::Tls,
            };
            let mut smtp = torii_notify::SmtpConfig::new(smtp_host.to_string(), tls);
            smtp.port = Some(*smtp_port);
            let email = torii_notify::EmailConfig::new(
                smtp,
                from.to_string(),
                to.iter().map(ToString::to_string),
            );
            SinkConfig::email(name, email)
        }
    }
}

impl HealthListener for Notifications {
    fn health_changed(&self, change: &HealthChange) {
        if !change.flipped() {
            return;
        }
        let pool = change.key.pool.to_string();
        let state = |healthy: bool| if healthy { "healthy" } else { "unhealthy" };
        let users = self.users.read().unwrap_or_else(|e| e.into_inner());
        let lbs: Vec<&str> = users
            .iter()
            .filter(|(p, _)| *p == pool)
            .map(|(_, lb)| lb.as_str())
            .collect();
        let message = format!(
            "origin {} ({}) of pool {pool} is {}: {}",
            change.key.origin,
            change.address,
            state(change.healthy),
            change.reason
        );
        let event = Event::new(EventKind::ORIGIN_HEALTH_CHANGED, message)
            .with_time(change.at)
            .with_pool(pool.clone())
            .with_origin(change.key.origin.to_string())
            .with_change(state(change.previous), state(change.healthy))
            .with_reason(change.reason.to_string())
            .with_detail("address", change.address.to_string())
            .with_detail(
                "poolHealthyOrigins",
                format!("{}/{}", change.pool_healthy, change.pool_origins),
            );
        // One event per change: every sink's pool filter picks it (sinks without a filter of
        // their own were given their load balancer's pools), so a pool shared by two load
        // balancers is not announced twice to a sink.
        let event = match lbs.as_slice() {
            [] => event,
            [lb] => event.with_load_balancer((*lb).to_string()),
            many => event.with_detail("loadBalancers", many.join(",")),
        };
        self.notifier.notify(event);
        self.pool_changed(&pool, change);
    }
}

impl Notifications {
    /// After an origin flip: a `poolHealthChanged` event when the pool crossed its
    /// `minimumOrigins`, and a `loadBalancerFailover` event for each failover load balancer
    /// whose first healthy pool changed with it.
    fn pool_changed(&self, pool: &str, change: &HealthChange) {
        let minimum = self
            .minimums
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(pool)
            .copied()
            .unwrap_or(1);
        let healthy = change.pool_healthy >= minimum;
        let mut states = self.pool_health.lock().unwrap_or_else(|e| e.into_inner());
        let was = states.get(pool).copied().unwrap_or(true);
        if was == healthy {
            return;
        }
        let state = |healthy: bool| if healthy { "healthy" } else { "unhealthy" };
        let before: HashMap<String, bool> = states.clone();
        states.insert(pool.to_owned(), healthy);
        let message = format!(
            "pool {pool} is {}: {} of {} origins healthy (minimum {minimum})",
            state(healthy),
            change.pool_healthy,
            change.pool_origins
        );
        self.notifier.notify(
            Event::new(EventKind::POOL_HEALTH_CHANGED, message)
                .with_time(change.at)
                .with_pool(pool.to_owned())
                .with_change(state(was), state(healthy))
                .with_reason(format!(
                    "origin {} is {}",
                    change.key.origin,
                    state(change.healthy)
                ))
                .with_detail(
                    "healthyOrigins",
                    format!("{}/{}", change.pool_healthy, change.pool_origins),
                ),
        );
        let active = |states: &HashMap<String, bool>, order: &[String]| {
            order
                .iter()
                .find(|p| states.get(*p).copied().unwrap_or(true))
                .cloned()
        };
        for (lb, order) in self
            .failover
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            if !order.iter().any(|p| p == pool) {
                continue;
            }
            let (from, to) = (active(&before, order), active(&states, order));
            if from == to {
                continue;
            }
            let name = |p: &Option<String>| p.clone().unwrap_or_else(|| "none".to_owned());
            let message = format!(
                "load balancer {lb} moved its traffic from pool {} to pool {}",
                name(&from),
                name(&to)
            );
            let mut event = Event::new(EventKind::LOAD_BALANCER_FAILOVER, message)
                .with_time(change.at)
                .with_load_balancer(lb.clone())
                .with_change(name(&from), name(&to))
                .with_reason(format!("pool {pool} is {}", state(healthy)));
            // The pool filter of the load balancer's sinks: a pool of its own.
            if let Some(p) = to.or(from) {
                event = event.with_pool(p);
            }
            self.notifier.notify(event);
        }
    }
}

/// The `loadBalancers` section of `/api/v1/status`: each load balancer's pools with their
/// health (healthy origins against `minimumOrigins`), the pool steering would pick now for a
/// client with no location, and notes (geo steering without a database).
pub fn status(load_balancing: &torii_proxy::LoadBalancing) -> serde_json::Value {
    use serde_json::json;
    let snapshot = load_balancing.current();
    let now = torii_steering::unix_seconds();
    let no_headers = http::HeaderMap::new();
    let mut names: Vec<_> = snapshot.load_balancers.keys().collect();
    names.sort();
    let lbs: Vec<serde_json::Value> = names
        .into_iter()
        .map(|id| {
            let backend = &snapshot.load_balancers[id];
            let runtime = &backend.runtime;
            let config = runtime.config();
            let pools: Vec<serde_json::Value> = runtime
                .pools()
                .iter()
                .map(|pool| {
                    json!({
                        "pool": pool.id().to_string(),
                        "healthy": pool.is_healthy(),
                        "healthyOrigins": pool.healthy_origins(),
                        "origins": pool.origins().len(),
                        "minimumOrigins": pool.config().minimum_origins,
                        "rttMs": pool.rtt_micros(now).map(|us| f64::from(us) / 1000.0),
                    })
                })
                .collect();
            let ctx = torii_steering::RequestContext::new(
                std::net::IpAddr::from([0, 0, 0, 0]),
                &no_headers,
                now,
            );
            let active = runtime
                .select_pool(&ctx, &mut fastrand::Rng::new())
                .map(|choice| choice.pool.id().to_string());
            let geo = matches!(
                config.steering,
                torii_config::Steering::Geo { .. } | torii_config::Steering::Proximity
            );
            let mut notes: Vec<String> = runtime.problems().iter().map(ToString::to_string).collect();
            if geo && load_balancing.locator.geo.is_none() {
                notes.push(
                    "no --geoip-db: clients have no location, so steering uses the default pools in order"
                        .to_owned(),
                );
            }
            json!({
                "loadBalancer": id.to_string(),
                "hostnames": config.hostnames.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
                "healthy": runtime.pools().iter().any(|p| p.is_healthy()),
                "activePool": active,
                "pools": pools,
                "notes": notes,
            })
        })
        .collect();
    serde_json::Value::Array(lbs)
}

#[cfg(test)]
mod tests {
    use super::parse_affinity_secret;

    #[test]
    fn affinity_secret_is_32_hex_digits() {
        assert!(parse_affinity_secret("00112233445566778899aabbccddeeff\n").is_ok());
        for bad in [
            "",
            "0011",
            "zz112233445566778899aabbccddeeff",
            "00112233445566778899aabbccddeeff00",
        ] {
            let error = parse_affinity_secret(bad).expect_err(bad).to_string();
            assert!(error.contains("32 hex digits"), "{error}");
            if bad.len() > 4 {
                assert!(
                    !error.contains(bad),
                    "the key leaks into the error: {error}"
                );
            }
        }
    }
}
