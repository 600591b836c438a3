//! Consistent-hash stability: ejecting or removing one origin moves exactly that origin's keys.

mod common;

use common::*;
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use std::sync::Arc;
use torii_config::{HashKey, OriginBalancing};
use torii_steering::PoolRuntime;

fn ring_pool(weights: &[u32], skip: Option<usize>) -> Arc<PoolRuntime> {
    let origins = weights
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != skip)
        .map(|(i, &w)| origin(&format!("o{i}"), w))
        .collect();
    runtime(pool(
        "ring",
        OriginBalancing::ConsistentHash(HashKey::Header(HeaderName::from_static("x-key"))),
        origins,
    ))
}

/// The origin name a key maps to.
fn owner(pool: &PoolRuntime, key: u64) -> String {
    let mut headers = HeaderMap::new();
    headers.insert("x-key", HeaderValue::from_str(&key.to_string()).unwrap());
    let i = pool.pick_origin(&ctx(&headers), &mut rng(), &[]).unwrap();
    pool.origins()[i].name.to_string()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn one_origin_leaving_moves_only_its_keys(
        // Origin 0 has the largest weight and stays, so the others' point counts do not change.
        rest in prop::collection::vec(1u32..=4, 1..30),
        victim in any::<prop::sample::Index>(),
        keys in prop::collection::vec(any::<u64>(), 200),
    ) {
        let mut weights = vec![4];
        weights.extend(rest);
        let victim = 1 + victim.index(weights.len() - 1);
        let victim_name = format!("o{victim}");
        let full = ring_pool(&weights, None);
        let before: Vec<String> = keys.iter().map(|&k| owner(&full, k)).collect();

        full.states()[victim].set_healthy(false);
        let ejected: Vec<String> = keys.iter().map(|&k| owner(&full, k)).collect();
        let removed_pool = ring_pool(&weights, Some(victim));
        let removed: Vec<String> = keys.iter().map(|&k| owner(&removed_pool, k)).collect();
        let mut disabled_config = (**full.config()).clone();
        disabled_config.origins[victim].enabled = false;
        let disabled_pool = runtime(disabled_config);
        let disabled: Vec<String> = keys.iter().map(|&k| owner(&disabled_pool, k)).collect();

        for i in 0..keys.len() {
            if before[i] == victim_name {
                prop_assert_ne!(&ejected[i], &victim_name);
            } else {
                prop_assert_eq!(&ejected[i], &before[i], "key {} moved", keys[i]);
            }
            // Removing or disabling it moves the same keys to the same origins.
            prop_assert_eq!(&removed[i], &ejected[i]);
            prop_assert_eq!(&disabled[i], &ejected[i]);
        }
        // Back healthy: every key is home again.
        full.states()[victim].set_healthy(true);
        let back: Vec<String> = keys.iter().map(|&k| owner(&full, k)).collect();
        prop_assert_eq!(back, before);
    }
}

#[test]
fn the_ring_spreads_keys_by_weight() {
    let pool = ring_pool(&[1, 1, 2, 4], None);
    let mut counts = [0usize; 4];
    for key in 0..40_000u64 {
        let name = owner(&pool, key);
        counts[name[1..].parse::<usize>().unwrap()] += 1;
    }
    let shares: Vec<f64> = counts.iter().map(|&c| c as f64 / 40_000.0).collect();
    for (got, want) in shares.iter().zip([0.125, 0.125, 0.25, 0.5]) {
        assert!((got - want).abs() < 0.05, "{shares:?}");
    }
}
