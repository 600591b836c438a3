//! One comparison of a realistic ~10 KiB JSON response pair (an object with 60 items of
//! 8 fields, nested): byte-identical, identical but re-serialized (parsed), with 3 differences;
//! and the full `DiffStore::compare_and_record` path with a secondary, for a noise-only
//! comparison and for a regression (without and with building a redacted sample).
// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use http::{HeaderMap, HeaderValue, Method};
use serde_json::{json, Value};
use std::hint::black_box;
use torii_compare::{
    compare, CapturedResponse, CompareOptions, DiffStore, EndpointKey, SampleInput,
};

fn document(generated_at: &str, price_bump: f64) -> Value {
    let items: Vec<Value> = (0..60)
        .map(|i| {
            json!({
                "id": 10_000 + i,
                "sku": format!("SKU-{i:05}"),
                "name": format!("Product {i}"),
                "price": 9.99 + i as f64 + if i == 17 { price_bump } else { 0.0 },
                "currency": "EUR",
                "stock": { "warehouse": format!("wh-{}", i % 4), "quantity": i * 3 },
                "tags": ["catalog", if i % 2 == 0 { "even" } else { "odd" }],
                "updatedAt": "2024-05-01T12:00:00Z",
            })
        })
        .collect();
    json!({
        "meta": { "generatedAt": generated_at, "page": 1, "pageSize": 60, "total": 1234 },
        "items": items,
    })
}

fn response(body: &Value, pretty: bool) -> CapturedResponse {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("cache-control", HeaderValue::from_static("max-age=60"));
    headers.insert(
        "date",
        HeaderValue::from_static("Wed, 01 May 2024 12:00:00 GMT"),
    );
    headers.insert("x-request-id", HeaderValue::from_static("5f2a"));
    let text = if pretty {
        serde_json::to_vec_pretty(body)
    } else {
        serde_json::to_vec(body)
    };
    CapturedResponse::new(200, headers, text.unwrap_or_default())
}

fn benches(c: &mut Criterion) {
    let base = document("2024-05-01T12:00:00.000Z", 0.0);
    let primary = response(&base, false);
    let same = response(&base, false);
    let reformatted = response(&base, true);
    // 3 differences: generatedAt, one price, one added member.
    let mut changed = document("2024-05-01T12:00:00.250Z", 1.0);
    changed["meta"]["cached"] = json!(true);
    let candidate = response(&changed, false);
    let secondary = response(&document("2024-05-01T12:00:00.100Z", 0.0), false);
    let noisy = response(&document("2024-05-01T12:00:00.300Z", 0.0), false);
    let size = match &primary.body {
        torii_compare::CapturedBody::Full(bytes) => bytes.len(),
        torii_compare::CapturedBody::Hashed { len, .. } => *len as usize,
    };
    println!("body: {size} bytes");

    let opts = CompareOptions::default();
    let mut group = c.benchmark_group("compare");
    group.bench_function("identical-bytes", |b| {
        b.iter(|| compare(black_box(&primary), black_box(&same), &opts))
    });
    group.bench_function("identical-reformatted", |b| {
        b.iter(|| compare(black_box(&primary), black_box(&reformatted), &opts))
    });
    group.bench_function("3-differences", |b| {
        b.iter(|| compare(black_box(&primary), black_box(&candidate), &opts))
    });
    group.finish();
    assert_eq!(compare(&primary, &candidate, &opts).len(), 3);

    let mut group = c.benchmark_group("store");
    let store = DiffStore::default();
    let endpoint = EndpointKey::new("GET", "catalog /items");
    let request = HeaderMap::new();
    let input = |candidate| SampleInput {
        method: &Method::GET,
        target: "/items?page=1",
        headers: &request,
        primary: &primary,
        candidate,
        secondary: Some(&secondary),
    };
    group.bench_function("record-noise-only", |b| {
        b.iter(|| store.compare_and_record(&endpoint, input(&noisy), &opts, 0))
    });
    // Samples full and the last one recent: counted, no sample built (the common case).
    group.bench_function("record-regression", |b| {
        b.iter(|| store.compare_and_record(&endpoint, input(&candidate), &opts, 0))
    });
    // Time moves on: every record builds and keeps a redacted sample.
    let mut now = 0;
    group.bench_function("record-regression-sampled", |b| {
        b.iter(|| {
            now += 1_000;
            store.compare_and_record(&endpoint, input(&candidate), &opts, now)
        })
    });
    group.finish();
}

criterion_group!(compare_benches, benches);
criterion_main!(compare_benches);
