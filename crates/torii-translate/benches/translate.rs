//! Translation time for a Gateway with 10 and 10,000 HTTPRoutes (100 hostnames x 100 paths
//! at the large end), spread over 50 Services with one EndpointSlice each.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::hint::black_box;
use torii_resources::{Located, Origin, ResourceSet};
use torii_translate::{translate, TranslateOptions};

const SERVICES: usize = 50;

fn located<T: DeserializeOwned>(value: Value) -> Located<T> {
    Located {
        object: serde_json::from_value(value).expect("bench object matches its kind"),
        origin: Origin::default(),
    }
}

/// A set with one Gateway, `routes` HTTPRoutes and their Services.
fn resources(routes: usize) -> ResourceSet {
    let mut set = ResourceSet::default();
    set.gateway_classes.push(located(json!({
        "metadata": {"name": "torii"},
        "spec": {"controllerName": "torii.dev/gateway-controller"}
    })));
    set.gateways.push(located(json!({
        "metadata": {"name": "gw", "namespace": "default"},
        "spec": {
            "gatewayClassName": "torii",
            "addresses": [{"type": "IPAddress", "value": "127.0.0.1"}],
            "listeners": [{"name": "http", "port": 80, "protocol": "HTTP",
                           "allowedRoutes": {"namespaces": {"from": "All"}}}]
        }
    })));
    for s in 0..SERVICES {
        set.services.push(located(json!({
            "metadata": {"name": format!("svc-{s}"), "namespace": "default"},
            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
        })));
        set.endpoint_slices.push(located(json!({
            "metadata": {"name": format!("svc-{s}-1"), "namespace": "default",
                         "labels": {"kubernetes.io/service-name": format!("svc-{s}")}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080}],
            "endpoints": [{"addresses": ["127.0.0.10"]}, {"addresses": ["127.0.0.11"]},
                          {"addresses": ["127.0.0.12"], "conditions": {"ready": false}}]
        })));
    }
    for r in 0..routes {
        set.http_routes.push(located(json!({
            "metadata": {"name": format!("route-{r}"), "namespace": "default"},
            "spec": {
                "parentRefs": [{"name": "gw"}],
                "hostnames": [format!("host-{}.example.com", r / 100)],
                "rules": [{
                    "matches": [{"path": {"type": "PathPrefix", "value": format!("/path-{}", r % 100)},
                                 "headers": [{"name": "x-version", "value": "v1"}]}],
                    "filters": [{"type": "RequestHeaderModifier",
                                 "requestHeaderModifier": {"set": [{"name": "x-route", "value": format!("{r}")}]}}],
                    "backendRefs": [{"name": format!("svc-{}", r % SERVICES), "port": 80}]
                }]
            }
        })));
    }
    set
}

fn bench(c: &mut Criterion) {
    let options = TranslateOptions::default();
    let mut group = c.benchmark_group("translate");
    for routes in [10, 10_000] {
        let set = resources(routes);
        let attached = translate(&set, &options).config.ports[0].listeners[0]
            .http_routes
            .len();
        assert_eq!(attached, routes, "every route attaches");
        group.bench_with_input(BenchmarkId::from_parameter(routes), &set, |b, set| {
            b.iter(|| translate(black_box(set), &options))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
