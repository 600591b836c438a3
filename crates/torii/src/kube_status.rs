//! Kubernetes mode: what the running proxy knows of torii's own objects, as the status fields
//! the leader writes on them (`torii_kube_status::RuntimeStatus`). Only values that change
//! on a real transition are reported (health, the active pool, counts, rollout phase), so a
//! status that did not change is never written again.

use crate::rollout::RolloutController;
use serde_json::{json, Map, Value};
use std::sync::atomic::Ordering::Relaxed;
use torii_health::ActiveState;
use torii_kube_status::RuntimeStatus;
use torii_proxy::Proxy;
use torii_resources::ObjectKey;

fn key(kind: &str, namespace: &str, name: &str) -> ObjectKey {
    ObjectKey {
        kind: kind.to_owned(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    }
}

/// The runtime status of every OriginPool, LoadBalancer, Comparison and Rollout served now.
pub fn runtime(proxy: &Proxy, rollouts: &RolloutController) -> RuntimeStatus {
    let mut status = RuntimeStatus::new();
    let load_balancing = proxy.load_balancing();
    let snapshot = load_balancing.current();
    let origins = load_balancing.checker().snapshot();
    for (id, backend) in &snapshot.pools {
        let Some(pool) = backend.runtime.pools().first() else {
            continue;
        };
        let list: Vec<Value> = origins
            .iter()
            .filter(|o| o.key.pool == *id)
            .map(|o| {
                let state = match (o.healthy, o.active_state) {
                    (true, _) => "Healthy",
                    (false, ActiveState::Unknown) => "Unknown",
                    (false, _) => "Unhealthy",
                };
                let mut origin = json!({
                    "name": o.key.origin.as_ref(),
                    "address": o.address.to_string(),
                    "state": state,
                });
                if o.ejected {
                    origin["ejected"] = json!(true);
                }
                if let (false, Some(reason)) = (o.healthy, &o.reason) {
                    origin["reason"] = json!(reason.as_ref());
                }
                origin
            })
            .collect();
        let mut fields = Map::new();
        fields.insert("healthy".into(), json!(pool.is_healthy()));
        fields.insert("healthyOrigins".into(), json!(pool.healthy_origins()));
        fields.insert("totalOrigins".into(), json!(pool.origins().len()));
        fields.insert("origins".into(), Value::Array(list));
        status.insert(key("OriginPool", &id.namespace, &id.name), fields);
    }
    let now = torii_steering::unix_seconds();
    let no_headers = http::HeaderMap::new();
    for (id, backend) in &snapshot.load_balancers {
        let runtime = &backend.runtime;
        let context = torii_steering::RequestContext::new(
            std::net::IpAddr::from([0, 0, 0, 0]),
            &no_headers,
            now,
        );
        // A fixed seed: weighted steering reports the same pool for the same weights
        // rather than a new random one (and a write) every time.
        let active = runtime
            .select_pool(&context, &mut fastrand::Rng::with_seed(0))
            .map(|choice| choice.pool.id().name.to_string());
        let pools: Vec<Value> = runtime
            .pools()
            .iter()
            .map(|pool| {
                json!({
                    "name": pool.id().name.as_ref(),
                    "healthy": pool.is_healthy(),
                    "healthyOrigins": pool.healthy_origins(),
                    "totalOrigins": pool.origins().len(),
                })
            })
            .collect();
        let mut fields = Map::new();
        fields.insert(
            "healthy".into(),
            json!(runtime.pools().iter().any(|p| p.is_healthy())),
        );
        if let Some(active) = active {
            fields.insert("activePool".into(), json!(active));
        }
        fields.insert("pools".into(), Value::Array(pools));
        status.insert(key("LoadBalancer", &id.namespace, &id.name), fields);
    }
    for comparison in proxy.migrations().comparisons() {
        let counters = &comparison.counters;
        let compared = counters.compared.load(Relaxed);
        let regressions = counters.regressions.load(Relaxed);
        let noise = counters.noise.load(Relaxed);
        let mut fields = Map::new();
        fields.insert("compared".into(), json!(compared));
        fields.insert(
            "identical".into(),
            json!(compared.saturating_sub(regressions + noise)),
        );
        fields.insert("noiseOnly".into(), json!(noise));
        fields.insert("regressions".into(), json!(regressions));
        fields.insert("shed".into(), json!(counters.shed.load(Relaxed)));
        let id = &comparison.id;
        status.insert(key("Comparison", &id.namespace, &id.name), fields);
    }
    for (id, fields) in rollouts.status_fields() {
        status.insert(key("Rollout", &id.namespace, &id.name), fields);
    }
    status
}
