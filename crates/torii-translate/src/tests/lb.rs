//! torii's own kinds (`HealthMonitor`, `OriginPool`, `LoadBalancer`): defaults, every field,
//! the validation table, partly resolved references, Service origins, and HTTPRoute
//! backendRefs to pools and load balancers.

use super::*;
use crate::conditions::{reason, ACCEPTED, RESOLVED_REFS};
use http::{HeaderName, HeaderValue, Method};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use torii_config::status::ObjectStatus;
use torii_config::{
    AffinityFailover, AffinityKey, AppProtocol, BackendId, BackendTarget, FailoverPolicy, HashKey,
    HealthMonitor, HttpRule, LoadBalancer, LoadBalancerId, Location, MonitorId, MonitorProtocol,
    NotificationSink, NotificationTarget, Origin, OriginAddress, OriginBalancing, OriginPool,
    OutlierDetection, PoolId, SessionAffinity, SmtpTls, StatusCodes, Steering,
};

/// A torii.dev object `default/<name>` whose spec is `spec` (a YAML flow mapping or an
/// indented block).
pub(super) fn object(kind: &str, name: &str, spec: &str) -> String {
    object_in("default", kind, name, spec)
}

/// A torii.dev object `<namespace>/<name>`.
pub(super) fn object_in(namespace: &str, kind: &str, name: &str, spec: &str) -> String {
    let spec = if spec.starts_with('\n') {
        spec.to_string()
    } else {
        format!(" {spec}\n")
    };
    format!(
        "---
apiVersion: torii.dev/v1alpha1
kind: {kind}
metadata: {{name: {name}, namespace: {namespace}}}
spec:{spec}"
    )
}

/// A valid one-origin pool `<namespace>/<name>` at `192.0.2.<last>:80`.
pub(super) fn pool_in(namespace: &str, name: &str, last: u8) -> String {
    object_in(
        namespace,
        "OriginPool",
        name,
        &format!("{{origins: [{{name: o, address: '192.0.2.{last}:80'}}]}}"),
    )
}

/// The status of the torii.dev object of `kind` with id `namespace/name`.
pub(super) fn status<'t>(t: &'t Translation, kind: &str, id: &str) -> &'t ObjectStatus {
    let mut all = t.status.load_balancing.iter().chain(&t.status.migrations);
    all.find(|s| s.kind == kind && format!("{}/{}", s.namespace, s.name) == id)
        .unwrap_or_else(|| {
            panic!(
                "no status for {kind} {id}: {:#?} {:#?}",
                t.status.load_balancing, t.status.migrations
            )
        })
}

/// `(status, reason, message)` of condition `type_` of object `kind` `id`.
pub(super) fn cond<'t>(
    t: &'t Translation,
    kind: &str,
    id: &str,
    type_: &str,
) -> (ConditionStatus, &'t str, &'t str) {
    let found = status(t, kind, id)
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no {type_} condition on {kind} {id}"));
    (found.status, found.reason, found.message.as_str())
}

fn pool_id(id: &str) -> PoolId {
    let (namespace, name) = id.split_once('/').expect("namespace/name");
    PoolId::new(namespace, name)
}

fn lb_id(id: &str) -> LoadBalancerId {
    let (namespace, name) = id.split_once('/').expect("namespace/name");
    LoadBalancerId::new(namespace, name)
}

fn socket(text: &str) -> OriginAddress {
    OriginAddress::Socket(text.parse().expect("socket address"))
}

fn origin(name: &str, address: OriginAddress) -> Origin {
    Origin {
        name: name.into(),
        address,
        weight: 1,
        enabled: true,
        host_override: None,
    }
}

#[test]
fn minimal_objects_get_every_default() {
    let yaml = format!(
        "{}{}{}",
        object("HealthMonitor", "check", "{}"),
        object(
            "OriginPool",
            "web",
            "{origins: [{name: a, address: '10.0.0.1:80'}], monitor: check}"
        ),
        object(
            "LoadBalancer",
            "app",
            "{defaultPools: [web], sessionAffinity: {}, failover: {}}"
        ),
    );
    let t = run(&yaml);
    let monitor = HealthMonitor {
        id: MonitorId::new("default", "check"),
        protocol: MonitorProtocol::Http,
        method: Method::GET,
        path: "/".into(),
        port: None,
        headers: Vec::new(),
        expected_codes: StatusCodes::parse("2xx").unwrap(),
        expected_body: None,
        follow_redirects: false,
        verify_tls: true,
        interval: Duration::from_secs(60),
        timeout: Duration::from_secs(5),
        retries: 1,
        healthy_threshold: 1,
        unhealthy_threshold: 1,
    };
    let pool = OriginPool {
        id: pool_id("default/web"),
        origins: vec![origin("a", socket("10.0.0.1:80"))],
        monitor: Some(Arc::new(monitor)),
        minimum_origins: 1,
        balancing: OriginBalancing::WeightedRandom,
        location: Location::default(),
        load_shedding_percent: 0,
        outlier_detection: OutlierDetection {
            consecutive_failures: 5,
            base_ejection: Duration::from_secs(30),
            max_ejection: Duration::from_secs(300),
            max_ejected_percent: 50,
        },
        protocol: AppProtocol::Http1,
    };
    assert_eq!(*t.config.pools[&pool_id("default/web")], pool);
    let lb = LoadBalancer {
        id: lb_id("default/app"),
        hostnames: Vec::new(),
        default_pools: vec![pool_id("default/web")],
        fallback_pool: None,
        steering: Steering::Failover,
        session_affinity: Some(SessionAffinity {
            key: AffinityKey::Cookie("torii_affinity".into()),
            ttl: Duration::from_secs(3600),
            failover: AffinityFailover::None,
            drain: Duration::ZERO,
        }),
        failover: FailoverPolicy {
            on_connect_error: true,
            on_reset: true,
            on_status: StatusCodes::default(),
            retries: 2,
            across_pools: true,
            retry_non_idempotent: false,
            attempt_timeout: Duration::from_secs(15),
        },
        dns_ttl: 30,
        notifications: Vec::new(),
    };
    assert_eq!(*t.config.load_balancers[&lb_id("default/app")], lb);

    // One status per object; monitors have no references, pools and load balancers do.
    assert_eq!(t.status.load_balancing.len(), 3);
    let check = status(&t, "HealthMonitor", "default/check");
    assert_eq!(check.conditions.len(), 1);
    assert_eq!(
        condition(&check.conditions, ACCEPTED),
        yes(reason::ACCEPTED)
    );
    for (kind, id) in [
        ("OriginPool", "default/web"),
        ("LoadBalancer", "default/app"),
    ] {
        let conditions = &status(&t, kind, id).conditions;
        assert_eq!(
            condition(conditions, ACCEPTED),
            yes(reason::ACCEPTED),
            "{kind}"
        );
        assert_eq!(
            condition(conditions, RESOLVED_REFS),
            yes(reason::RESOLVED_REFS),
            "{kind}"
        );
    }
}

#[test]
fn every_field_is_translated() {
    let yaml = format!(
        "{}{}{}{}{}{}{}",
        service("default", "svc", 80, 8080),
        object(
            "HealthMonitor",
            "check",
            "{type: https, method: HEAD, path: '/healthz?full=1', port: 8443,
              headers: [{name: Host, value: app.example}], expectedCodes: '200,301-302',
              expectedBody: All OK, followRedirects: true, allowInsecure: true, interval: 10s,
              timeout: 2s, retries: 2, consecutiveUp: 3, consecutiveDown: 2}"
        ),
        object(
            "OriginPool",
            "eu",
            "
  origins:
  - {name: vm-1, address: '192.0.2.10:8080', weight: 3, host: app.example}
  - {name: vm-2, address: 'VM2.Example.COM.:8080', enabled: false}
  - {name: v6, address: '[2001:db8::1]:80', weight: 0}
  - {name: k8s, serviceRef: {name: svc, port: 80}}
  monitor: check
  minimumOrigins: 2
  loadBalancing: {policy: consistentHash, hashOn: {type: header, name: X-User}}
  location: {latitude: 50.1, longitude: 8.7, region: weu, country: de}
  loadShedding: {percent: 20}
  outlierDetection: {consecutiveFailures: 3, baseEjectionTime: 10s, maxEjectionTime: 1m,
                     maxEjectionPercent: 100}
  appProtocol: h2c
"
        ),
        pool_in("default", "us", 20),
        pool_in("default", "last", 30),
        object(
            "LoadBalancer",
            "app",
            "
  hostnames: [App.Example.COM., www.example.com]
  defaultPools: [eu, us]
  fallbackPool: last
  steering: {policy: geo, countries: {de: [eu], US: [us, eu]}, regions: {wnam: [us]}}
  sessionAffinity: {type: header, name: X-Session, ttl: 30m, failover: sticky, drainPeriod: 5m}
  failover: {connectError: false, reset: false, statusCodes: '502-504', retries: 4,
             acrossPools: false, retryNonIdempotent: true}
  ttl: 60
  notifications:
  - name: ops
    webhook: {url: 'https://hooks.example/x?token=1', headers: [{name: Authorization, value: Bearer t}]}
    pools: [eu]
  - name: mail
    email: {smtpHost: smtp.example, smtpPort: 587, tls: starttls, from: torii@example.com,
            to: [ops@example.com, Ops Team <team@example.com>]}
"
        ),
        object(
            "LoadBalancer",
            "weighted",
            "{defaultPools: [eu, us], steering: {policy: weighted, weights: {eu: 3, us: 0}}}"
        ),
    );
    let t = run(&yaml);
    for s in &t.status.load_balancing {
        for c in &s.conditions {
            assert!(c.is_true(), "{} {}/{}: {c:?}", s.kind, s.namespace, s.name);
        }
    }

    let pool = &t.config.pools[&pool_id("default/eu")];
    let monitor = pool.monitor.as_deref().expect("the monitor resolved");
    assert_eq!(
        *monitor,
        HealthMonitor {
            id: MonitorId::new("default", "check"),
            protocol: MonitorProtocol::Https,
            method: Method::HEAD,
            path: "/healthz?full=1".into(),
            port: Some(8443),
            headers: vec![(
                HeaderName::from_static("host"),
                HeaderValue::from_static("app.example")
            )],
            expected_codes: StatusCodes::from_codes(&[200, 301, 302]),
            expected_body: Some("all ok".into()),
            follow_redirects: true,
            verify_tls: false,
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(2),
            retries: 2,
            healthy_threshold: 3,
            unhealthy_threshold: 2,
        }
    );
    let origins = vec![
        Origin {
            weight: 3,
            host_override: Some(HeaderValue::from_static("app.example")),
            ..origin("vm-1", socket("192.0.2.10:8080"))
        },
        Origin {
            enabled: false,
            ..origin(
                "vm-2",
                OriginAddress::Host {
                    host: "vm2.example.com".into(),
                    port: 8080,
                },
            )
        },
        Origin {
            weight: 0,
            ..origin("v6", socket("[2001:db8::1]:80"))
        },
        origin(
            "k8s",
            OriginAddress::Service {
                backend: BackendId::Service {
                    namespace: "default".into(),
                    name: "svc".into(),
                    port: 80,
                },
                hosts: vec![],
                endpoints: vec!["127.0.0.10:8080".parse().unwrap()],
            },
        ),
    ];
    assert_eq!(pool.origins, origins);
    assert_eq!(pool.minimum_origins, 2);
    assert_eq!(
        pool.balancing,
        OriginBalancing::ConsistentHash(HashKey::Header(HeaderName::from_static("x-user")))
    );
    assert_eq!(
        pool.location,
        Location {
            latitude: Some(50.1),
            longitude: Some(8.7),
            region: Some("WEU".into()),
            country: Some("DE".into()),
        }
    );
    assert_eq!(pool.load_shedding_percent, 20);
    assert_eq!(
        pool.outlier_detection,
        OutlierDetection {
            consecutive_failures: 3,
            base_ejection: Duration::from_secs(10),
            max_ejection: Duration::from_secs(60),
            max_ejected_percent: 100,
        }
    );
    assert_eq!(pool.protocol, AppProtocol::H2c);

    let lb = &t.config.load_balancers[&lb_id("default/app")];
    let eu = pool_id("default/eu");
    let us = pool_id("default/us");
    assert_eq!(
        lb.hostnames,
        [Arc::from("app.example.com"), Arc::from("www.example.com")]
    );
    assert_eq!(lb.default_pools, [eu.clone(), us.clone()]);
    assert_eq!(lb.fallback_pool, Some(pool_id("default/last")));
    assert_eq!(
        lb.steering,
        Steering::Geo {
            countries: BTreeMap::from([
                (Arc::from("DE"), vec![eu.clone()]),
                (Arc::from("US"), vec![us.clone(), eu.clone()]),
            ]),
            regions: BTreeMap::from([(Arc::from("WNAM"), vec![us.clone()])]),
        }
    );
    assert_eq!(
        lb.session_affinity,
        Some(SessionAffinity {
            key: AffinityKey::Header(HeaderName::from_static("x-session")),
            ttl: Duration::from_secs(1800),
            failover: AffinityFailover::Sticky,
            drain: Duration::from_secs(300),
        })
    );
    assert_eq!(
        lb.failover,
        FailoverPolicy {
            on_connect_error: false,
            on_reset: false,
            on_status: StatusCodes::from_codes(&[502, 503, 504]),
            retries: 4,
            across_pools: false,
            retry_non_idempotent: true,
            attempt_timeout: Duration::from_secs(15),
        }
    );
    assert_eq!(lb.dns_ttl, 60);
    assert_eq!(
        lb.notifications,
        [
            NotificationTarget {
                name: "ops".into(),
                sink: NotificationSink::Webhook {
                    url: "https://hooks.example/x?token=1".into(),
                    headers: vec![(
                        HeaderName::from_static("authorization"),
                        HeaderValue::from_static("Bearer t")
                    )],
                },
                pools: vec![eu.clone()],
            },
            NotificationTarget {
                name: "mail".into(),
                sink: NotificationSink::Email {
                    smtp_host: "smtp.example".into(),
                    smtp_port: 587,
                    tls: SmtpTls::Starttls,
                    from: "torii@example.com".into(),
                    to: vec![
                        "ops@example.com".into(),
                        "Ops Team <team@example.com>".into()
                    ],
                },
                pools: Vec::new(),
            },
        ]
    );
    assert_eq!(
        t.config.load_balancers[&lb_id("default/weighted")].steering,
        Steering::Weighted(BTreeMap::from([(eu, 3), (us, 0)]))
    );
}

/// A check of a translated pool and load balancer.
type Check = fn(&OriginPool, &LoadBalancer) -> bool;

#[test]
fn other_policies_and_keys_translate() {
    let cases: [(&str, &str, Check); 9] = [
        ("{policy: roundRobin}", "{policy: proximity}", |p, l| {
            p.balancing == OriginBalancing::RoundRobin && l.steering == Steering::Proximity
        }),
        (
            "{policy: leastOutstandingRequests}",
            "{policy: leastOutstandingRequests}",
            |p, l| {
                p.balancing == OriginBalancing::LeastOutstandingRequests
                    && l.steering == Steering::LeastOutstandingRequests
            },
        ),
        ("{policy: leastConnections}", "{policy: latency}", |p, l| {
            p.balancing == OriginBalancing::LeastConnections && l.steering == Steering::Latency
        }),
        (
            "{policy: consistentHash, hashOn: {type: clientIp}}",
            "{policy: failover}",
            |p, l| {
                p.balancing == OriginBalancing::ConsistentHash(HashKey::ClientIp)
                    && l.steering == Steering::Failover
            },
        ),
        (
            "{policy: consistentHash, hashOn: {type: cookie, name: sid}}",
            "{}",
            |p, l| {
                p.balancing == OriginBalancing::ConsistentHash(HashKey::Cookie("sid".into()))
                    && l.steering == Steering::Failover
            },
        ),
        ("{}", "{policy: weighted}", |p, l| {
            p.balancing == OriginBalancing::WeightedRandom
                && l.steering == Steering::Weighted(BTreeMap::new())
        }),
        ("{}", "{policy: geo}", |_, l| {
            l.steering
                == Steering::Geo {
                    countries: BTreeMap::new(),
                    regions: BTreeMap::new(),
                }
        }),
        // Settings of another policy are ignored.
        ("{}", "{policy: failover, weights: {p: 2}}", |_, l| {
            l.steering == Steering::Failover
        }),
        ("{hashOn: {type: clientIp}}", "{}", |p, _| {
            p.balancing == OriginBalancing::WeightedRandom
        }),
    ];
    for (balancing, steering, check) in cases {
        let yaml = format!(
            "{}{}",
            object(
                "OriginPool",
                "p",
                &format!("{{origins: [{{name: a, address: '10.0.0.1:80'}}], loadBalancing: {balancing}}}")
            ),
            object(
                "LoadBalancer",
                "lb",
                &format!("{{defaultPools: [p], steering: {steering}}}")
            ),
        );
        let t = run(&yaml);
        let pool = &t.config.pools[&pool_id("default/p")];
        let lb = &t.config.load_balancers[&lb_id("default/lb")];
        assert!(check(pool, lb), "{balancing} / {steering}: {pool:?} {lb:?}");
    }

    let keys = [
        (
            "{type: cookie, name: s.id-1}",
            AffinityKey::Cookie("s.id-1".into()),
        ),
        (
            "{type: cookie, name: ''}",
            AffinityKey::Cookie("torii_affinity".into()),
        ),
        (
            "{type: clientIp, failover: temporary}",
            AffinityKey::ClientIp,
        ),
    ];
    for (affinity, key) in keys {
        let yaml = format!(
            "{}{}",
            pool_in("default", "p", 1),
            object(
                "LoadBalancer",
                "lb",
                &format!("{{defaultPools: [p], sessionAffinity: {affinity}}}")
            ),
        );
        let t = run(&yaml);
        let lb = &t.config.load_balancers[&lb_id("default/lb")];
        let got = lb.session_affinity.as_ref().expect("affinity");
        assert_eq!(got.key, key, "{affinity}");
    }
}

#[test]
fn invalid_objects_are_not_accepted_and_name_the_field() {
    let cases: &[(&str, &str, &str)] = &[
        // HealthMonitor.
        ("HealthMonitor", "{type: udp}", "spec.type"),
        ("HealthMonitor", "{method: 'GE T'}", "spec.method"),
        ("HealthMonitor", "{path: health}", "spec.path"),
        ("HealthMonitor", "{path: '/a b'}", "spec.path"),
        ("HealthMonitor", "{port: 0}", "spec.port"),
        ("HealthMonitor", "{expectedCodes: 6xx}", "spec.expectedCodes"),
        ("HealthMonitor", "{expectedCodes: '302-301'}", "spec.expectedCodes"),
        ("HealthMonitor", "{interval: '10'}", "spec.interval"),
        ("HealthMonitor", "{interval: 0s}", "spec.interval"),
        ("HealthMonitor", "{interval: 5s, timeout: 10s}", "spec.timeout"),
        ("HealthMonitor", "{timeout: 0s}", "spec.timeout"),
        ("HealthMonitor", "{timeout: 1.5s}", "spec.timeout"),
        ("HealthMonitor", "{retries: 6}", "spec.retries"),
        ("HealthMonitor", "{consecutiveUp: 0}", "spec.consecutiveUp"),
        ("HealthMonitor", "{consecutiveDown: 101}", "spec.consecutiveDown"),
        (
            "HealthMonitor",
            "{headers: [{name: 'bad header', value: x}]}",
            "spec.headers[0].name",
        ),
        (
            "HealthMonitor",
            "{headers: [{name: X-A, value: \"a\\nb\"}]}",
            "spec.headers[0].value",
        ),
        // OriginPool.
        ("OriginPool", "{origins: []}", "spec.origins"),
        (
            "OriginPool",
            "{origins: [{name: a, address: '10.0.0.1:80'}, {name: b, address: '10.0.0.2'}]}",
            "spec.origins[1].address",
        ),
        (
            "OriginPool",
            "{origins: [{name: a, address: '10.0.0.1:0'}]}",
            "spec.origins[0].address",
        ),
        (
            "OriginPool",
            "{origins: [{name: a, address: 'example.com:70000'}]}",
            "spec.origins[0].address",
        ),
        (
            "OriginPool",
            "{origins: [{name: a, address: 'bad_name:80'}]}",
            "spec.origins[0].address",
        ),
        (
            "OriginPool",
            "{origins: [{name: a, address: '*.example.com:80'}]}",
            "spec.origins[0].address",
        ),
        (
            "OriginPool",
            "{origins: [{name: a, address: '10.0.0.1:80'}, {name: a, address: '10.0.0.2:80'}]}",
            "spec.origins[1].name",
        ),
        (
            "OriginPool",
            "{origins: [{name: '', address: '10.0.0.1:80'}]}",
            "spec.origins[0].name",
        ),
        (
            "OriginPool",
            "{origins: [{name: a}]}",
            "spec.origins[0]",
        ),
        (
            "OriginPool",
            "{origins: [{name: a, address: '10.0.0.1:80', serviceRef: {name: s, port: 80}}]}",
            "spec.origins[0]",
        ),
        (
            "OriginPool",
            "{origins: [{name: a, address: '10.0.0.1:80', host: \"a\\nb\"}]}",
            "spec.origins[0].host",
        ),
        (
            "OriginPool",
            "{origins: [{name: a, address: '10.0.0.1:80'}], loadBalancing: {policy: random}}",
            "spec.loadBalancing.policy",
        ),
        (
            "OriginPool",
            "{origins: [{name: a, address: '10.0.0.1:80'}], loadBalancing: {policy: consistentHash}}",
            "spec.loadBalancing.hashOn",
        ),
        (
            "OriginPool",
            "{origins: [{name: a, address: '10.0.0.1:80'}], loadBalancing: {policy: consistentHash, hashOn: {type: header}}}",
            "spec.loadBalancing.hashOn.name",
        ),
        (
            "OriginPool",
            "{origins: [{name: a, address: '10.0.0.1:80'}], loadBalancing: {policy: consistentHash, hashOn: {type: header, name: 'a b'}}}",
            "spec.loadBalancing.hashOn.name",
        ),
        (
            "OriginPool",
            "{origins: [{name: a, address: '10.0.0.1:80'}], loadBalancing: {policy: consistentHash, hashOn: {type: query}}}",
            "spec.loadBalancing.hashOn.type",
        ),
        (
            "OriginPool",
            "{origins: [{name: a, address: '10.0.0.1:80'}], location: {latitude: 91, longitude: 0}}",
            "spec.location.latitude",
        ),
        (
            "OriginPool",
            "{origins: [{name: a, address: '10.0.0.1:80'}], location: {latitude: 0, longitude: -181}}",
            "spec.location.longitude",
        ),
        (
            "OriginPool",
            "{origins: [{name: a, address: '10.0.0.1:80'}], location: {latitude: 10}}",
            "spec.location",
        ),
        (
            "OriginPool",
            "{origins: [{name: a, address: '10.0.0.1:80'}], location: {region: EU}}",
            "spec.location.region",
        ),
        (
            "OriginPool",
            "{origins: [{name: a, address: '10.0.0.1:80'}], location: {country: USA}}",
            "spec.location.country",
        ),
        (
            "OriginPool",
            "{origins: [{name: a, address: '10.0.0.1:80'}], loadShedding: {percent: 101}}",
            "spec.loadShedding.percent",
        ),
        (
            "OriginPool",
            "{origins: [{name: a, address: '10.0.0.1:80'}], outlierDetection: {maxEjectionPercent: 101}}",
            "spec.outlierDetection.maxEjectionPercent",
        ),
        (
            "OriginPool",
            "{origins: [{name: a, address: '10.0.0.1:80'}, {name: b, address: '10.0.0.2:80'}], minimumOrigins: 3}",
            "spec.minimumOrigins",
        ),
        (
            "OriginPool",
            "{origins: [{name: a, address: '10.0.0.1:80'}], outlierDetection: {maxEjectionTime: 10s}}",
            "spec.outlierDetection.maxEjectionTime",
        ),
        (
            "OriginPool",
            "{origins: [{name: a, address: '10.0.0.1:80'}], outlierDetection: {baseEjectionTime: 1d}}",
            "spec.outlierDetection.baseEjectionTime",
        ),
        (
            "OriginPool",
            "{origins: [{name: a, address: '10.0.0.1:80'}], appProtocol: https}",
            "spec.appProtocol",
        ),
        // LoadBalancer (pool `p` exists).
        ("LoadBalancer", "{defaultPools: []}", "spec.defaultPools"),
        (
            "LoadBalancer",
            "{defaultPools: [p], hostnames: ['*.example.com']}",
            "spec.hostnames[0]",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], hostnames: [ok.example, bad_name.example]}",
            "spec.hostnames[1]",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], hostnames: [10.0.0.1]}",
            "spec.hostnames[0]",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], steering: {policy: random}}",
            "spec.steering.policy",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], steering: {policy: geo, countries: {USA: [p]}}}",
            "spec.steering.countries.USA",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], steering: {policy: geo, regions: {EU: [p]}}}",
            "spec.steering.regions.EU",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], sessionAffinity: {type: url}}",
            "spec.sessionAffinity.type",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], sessionAffinity: {failover: always}}",
            "spec.sessionAffinity.failover",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], sessionAffinity: {name: 'a;b'}}",
            "spec.sessionAffinity.name",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], sessionAffinity: {type: header}}",
            "spec.sessionAffinity.name",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], sessionAffinity: {type: header, name: 'a b'}}",
            "spec.sessionAffinity.name",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], sessionAffinity: {ttl: 1 hour}}",
            "spec.sessionAffinity.ttl",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], sessionAffinity: {ttl: 0s}}",
            "spec.sessionAffinity.ttl",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], sessionAffinity: {ttl: 500ms}}",
            "spec.sessionAffinity.ttl",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], sessionAffinity: {drainPeriod: forever}}",
            "spec.sessionAffinity.drainPeriod",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], failover: {retries: 11}}",
            "spec.failover.retries",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], failover: {statusCodes: '5xx,'}}",
            "spec.failover.statusCodes",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], notifications: [{name: n, webhook: {url: 'ftp://x.example/'}}]}",
            "spec.notifications[0].webhook.url",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], notifications: [{name: n, webhook: {url: 'http://'}}]}",
            "spec.notifications[0].webhook.url",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], notifications: [{name: n, webhook: {url: 'https://u:pw@x.example/'}}]}",
            "spec.notifications[0].webhook.url",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], notifications: [{name: n, webhook: {url: 'https://x.example/', headers: [{name: 'a b', value: x}]}}]}",
            "spec.notifications[0].webhook.headers[0].name",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], notifications: [{name: n, webhook: {url: 'https://x.example/', headers: [{name: Content-Type, value: text/plain}]}}]}",
            "spec.notifications[0].webhook.headers[0].name",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], notifications: [{name: n, webhook: {url: 'https://x.example/', headers: [{name: X-A, value: '1'}, {name: x-a, value: '2'}]}}]}",
            "spec.notifications[0].webhook.headers[1].name",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], notifications: [{name: n}]}",
            "spec.notifications[0]",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], notifications: [{name: n, webhook: {url: 'https://x.example/'}, email: {smtpHost: h, from: a@b.c, to: [d@e.f]}}]}",
            "spec.notifications[0]",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], notifications: [{name: a, webhook: {url: 'https://x.example/'}}, {name: a, webhook: {url: 'https://y.example/'}}]}",
            "spec.notifications[1].name",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], notifications: [{name: '', webhook: {url: 'https://x.example/'}}]}",
            "spec.notifications[0].name",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], notifications: [{name: n, email: {smtpHost: h, from: a@b.c, to: []}}]}",
            "spec.notifications[0].email.to",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], notifications: [{name: n, email: {smtpHost: h, from: a@b.c, to: [ops]}}]}",
            "spec.notifications[0].email.to[0]",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], notifications: [{name: n, email: {smtpHost: h, from: torii, to: [d@e.f]}}]}",
            "spec.notifications[0].email.from",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], notifications: [{name: n, email: {smtpHost: ' ', from: a@b.c, to: [d@e.f]}}]}",
            "spec.notifications[0].email.smtpHost",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], notifications: [{name: n, email: {smtpHost: h, smtpPort: 0, from: a@b.c, to: [d@e.f]}}]}",
            "spec.notifications[0].email.smtpPort",
        ),
        (
            "LoadBalancer",
            "{defaultPools: [p], notifications: [{name: n, email: {smtpHost: h, tls: ssl, from: a@b.c, to: [d@e.f]}}]}",
            "spec.notifications[0].email.tls",
        ),
    ];
    for &(kind, spec, field) in cases {
        let yaml = format!(
            "{}{}{}",
            object("HealthMonitor", "check", "{}"),
            pool_in("default", "p", 1),
            object(kind, "x", spec),
        );
        let t = run(&yaml);
        let (status, reason, message) = cond(&t, kind, "default/x", ACCEPTED);
        assert_eq!(
            (status, reason),
            (ConditionStatus::False, reason::INVALID),
            "{kind} {spec}: {message}"
        );
        assert!(
            message.starts_with(&format!("{field}: ")),
            "{kind} {spec}: expected the message to name {field}, got {message:?}"
        );
        assert!(
            !t.config.pools.contains_key(&pool_id("default/x")),
            "{spec}"
        );
        assert!(
            !t.config.load_balancers.contains_key(&lb_id("default/x")),
            "{spec}"
        );
        // The other objects are unaffected.
        assert!(t.config.pools.contains_key(&pool_id("default/p")), "{spec}");
    }
}

#[test]
fn webhook_messages_never_quote_the_url() {
    let yaml = format!(
        "{}{}",
        pool_in("default", "p", 1),
        object(
            "LoadBalancer",
            "x",
            "{defaultPools: [p], notifications: [{name: n, webhook: {url: 'https://u:secret@x.example/hook?token=secret'}}]}"
        ),
    );
    let t = run(&yaml);
    let (_, _, message) = cond(&t, "LoadBalancer", "default/x", ACCEPTED);
    assert!(!message.contains("secret"), "{message}");
}

#[test]
fn a_missing_monitor_leaves_the_pool_accepted_without_one() {
    let yaml = format!(
        "{}{}{}",
        object("HealthMonitor", "broken", "{interval: 0s}"),
        object(
            "OriginPool",
            "a",
            "{origins: [{name: o, address: '10.0.0.1:80'}], monitor: nope}"
        ),
        object(
            "OriginPool",
            "b",
            "{origins: [{name: o, address: '10.0.0.1:80'}], monitor: broken}"
        ),
    );
    let t = run(&yaml);
    for (id, monitor) in [("default/a", "nope"), ("default/b", "broken")] {
        assert_eq!(
            condition(&status(&t, "OriginPool", id).conditions, ACCEPTED),
            yes(reason::ACCEPTED),
            "{id}"
        );
        let (s, r, message) = cond(&t, "OriginPool", id, RESOLVED_REFS);
        assert_eq!(
            (s, r),
            (ConditionStatus::False, reason::BACKEND_NOT_FOUND),
            "{id}"
        );
        assert_eq!(
            message,
            format!("spec.monitor: HealthMonitor default/{monitor} does not exist or is invalid")
        );
        assert_eq!(t.config.pools[&pool_id(id)].monitor, None, "{id}");
    }
    // A monitor in another namespace is not found: monitors are looked up in the pool's own.
    let yaml = format!(
        "{}{}",
        object_in("other", "HealthMonitor", "check", "{}"),
        object(
            "OriginPool",
            "a",
            "{origins: [{name: o, address: '10.0.0.1:80'}], monitor: check}"
        ),
    );
    let t = run(&yaml);
    assert_eq!(
        cond(&t, "OriginPool", "default/a", RESOLVED_REFS).1,
        reason::BACKEND_NOT_FOUND
    );
}

#[test]
fn a_load_balancer_keeps_the_pools_that_resolve() {
    let yaml = format!(
        "{}{}{}{}{}",
        pool_in("default", "a", 1),
        pool_in("default", "b", 2),
        object("OriginPool", "invalid", "{origins: []}"),
        pool_in("other", "c", 3),
        object(
            "LoadBalancer",
            "lb",
            "
  defaultPools: [a, nope, invalid, b, c]
  fallbackPool: gone
  steering: {policy: weighted, weights: {a: 2, missing: 5}}
"
        ),
    );
    let t = run(&yaml);
    assert_eq!(
        condition(
            &status(&t, "LoadBalancer", "default/lb").conditions,
            ACCEPTED
        ),
        yes(reason::ACCEPTED)
    );
    let (s, r, message) = cond(&t, "LoadBalancer", "default/lb", RESOLVED_REFS);
    assert_eq!((s, r), (ConditionStatus::False, reason::BACKEND_NOT_FOUND));
    for part in [
        "spec.defaultPools[1]: OriginPool default/nope does not exist or is invalid",
        "spec.defaultPools[2]: OriginPool default/invalid",
        // Pools are looked up in the load balancer's own namespace.
        "spec.defaultPools[4]: OriginPool default/c",
        "spec.fallbackPool: OriginPool default/gone",
        "spec.steering.weights.missing: OriginPool default/missing",
    ] {
        assert!(message.contains(part), "{part:?} not in {message:?}");
    }
    let lb = &t.config.load_balancers[&lb_id("default/lb")];
    assert_eq!(
        lb.default_pools,
        [pool_id("default/a"), pool_id("default/b")]
    );
    assert_eq!(lb.fallback_pool, None);
    assert_eq!(
        lb.steering,
        Steering::Weighted(BTreeMap::from([(pool_id("default/a"), 2)]))
    );
}

#[test]
fn a_load_balancer_without_a_resolvable_pool_is_not_accepted() {
    let yaml = format!(
        "{}{}",
        object("OriginPool", "invalid", "{origins: []}"),
        object("LoadBalancer", "lb", "{defaultPools: [nope, invalid]}"),
    );
    let t = run(&yaml);
    let (s, r, message) = cond(&t, "LoadBalancer", "default/lb", ACCEPTED);
    assert_eq!((s, r), (ConditionStatus::False, reason::BACKEND_NOT_FOUND));
    assert_eq!(message, "spec.defaultPools: no pool resolved");
    assert_eq!(
        cond(&t, "LoadBalancer", "default/lb", RESOLVED_REFS).1,
        reason::BACKEND_NOT_FOUND
    );
    assert!(t.config.load_balancers.is_empty());

    // The fallback pool alone is enough.
    let yaml = format!(
        "{}{}",
        pool_in("default", "last", 1),
        object(
            "LoadBalancer",
            "lb",
            "{defaultPools: [nope], fallbackPool: last}"
        ),
    );
    let t = run(&yaml);
    let lb = &t.config.load_balancers[&lb_id("default/lb")];
    assert!(lb.default_pools.is_empty());
    assert_eq!(lb.fallback_pool, Some(pool_id("default/last")));
}

#[test]
fn geo_steering_keeps_the_pools_that_resolve() {
    let yaml = format!(
        "{}{}",
        pool_in("default", "eu", 1),
        object(
            "LoadBalancer",
            "lb",
            "{defaultPools: [eu], steering: {policy: geo, countries: {fr: [nope, eu]}, regions: {EEU: [gone]}}}"
        ),
    );
    let t = run(&yaml);
    let (s, _, message) = cond(&t, "LoadBalancer", "default/lb", RESOLVED_REFS);
    assert_eq!(s, ConditionStatus::False);
    assert!(message.contains("spec.steering.countries.fr: OriginPool default/nope"));
    assert!(message.contains("spec.steering.regions.EEU: OriginPool default/gone"));
    assert_eq!(
        t.config.load_balancers[&lb_id("default/lb")].steering,
        Steering::Geo {
            countries: BTreeMap::from([(Arc::from("FR"), vec![pool_id("default/eu")])]),
            regions: BTreeMap::from([(Arc::from("EEU"), Vec::new())]),
        }
    );
}

#[test]
fn a_notification_filter_keeps_pools_that_do_not_resolve() {
    // Dropping the missing pool would leave an empty filter, which means every pool.
    let yaml = format!(
        "{}{}",
        pool_in("default", "p", 1),
        object(
            "LoadBalancer",
            "lb",
            "{defaultPools: [p], notifications: [{name: n, webhook: {url: 'https://x.example/'}, pools: [typo]}]}"
        ),
    );
    let t = run(&yaml);
    let (s, r, message) = cond(&t, "LoadBalancer", "default/lb", RESOLVED_REFS);
    assert_eq!((s, r), (ConditionStatus::False, reason::BACKEND_NOT_FOUND));
    assert!(
        message.starts_with("spec.notifications[0].pools[0]: OriginPool default/typo"),
        "{message}"
    );
    let lb = &t.config.load_balancers[&lb_id("default/lb")];
    assert_eq!(lb.notifications[0].pools, [pool_id("default/typo")]);
}

#[test]
fn conditions_carry_the_observed_generation() {
    let yaml = "---
apiVersion: torii.dev/v1alpha1
kind: HealthMonitor
metadata: {name: check, generation: 7}
spec: {retries: 9}
---
apiVersion: torii.dev/v1alpha1
kind: OriginPool
metadata: {name: p, generation: 3}
spec: {origins: [{name: o, address: '10.0.0.1:80'}]}
";
    let t = run(yaml);
    let check = &status(&t, "HealthMonitor", "default/check").conditions;
    assert_eq!(check[0].observed_generation, Some(7));
    assert_eq!(check[0].message, "spec.retries: at most 5");
    for c in &status(&t, "OriginPool", "default/p").conditions {
        assert_eq!(c.observed_generation, Some(3));
    }
}

/// A Service `default/web` with a named port, two ready endpoints and one that is not.
const WEB_SERVICE: &str = "---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: tls, port: 443, targetPort: 8443, appProtocol: https}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080}, {name: tls, port: 8443}]
endpoints:
- addresses: [10.1.0.2]
- addresses: [10.1.0.1]
  conditions: {ready: true}
- addresses: [10.1.0.3]
  conditions: {ready: false}
";

#[test]
fn a_service_origin_gets_the_ready_endpoints() {
    let yaml = format!(
        "{WEB_SERVICE}{}",
        object(
            "OriginPool",
            "p",
            "{origins: [{name: vm, address: '192.0.2.1:80'}, {name: k8s, serviceRef: {name: web, port: 80}, weight: 2}]}"
        ),
    );
    let t = run(&yaml);
    let pool = &t.config.pools[&pool_id("default/p")];
    assert_eq!(
        pool.origins[1],
        Origin {
            weight: 2,
            ..origin(
                "k8s",
                OriginAddress::Service {
                    backend: BackendId::Service {
                        namespace: "default".into(),
                        name: "web".into(),
                        port: 80,
                    },
                    hosts: vec![],
                    endpoints: vec![
                        "10.1.0.1:8080".parse().unwrap(),
                        "10.1.0.2:8080".parse().unwrap()
                    ],
                },
            )
        }
    );
    assert_eq!(
        condition(
            &status(&t, "OriginPool", "default/p").conditions,
            RESOLVED_REFS
        ),
        yes(reason::RESOLVED_REFS)
    );
}

#[test]
fn service_origins_that_do_not_resolve_stay_without_endpoints() {
    let grant = "---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: pools, namespace: apps}
spec:
  from: [{group: torii.dev, kind: OriginPool, namespace: default}]
  to: [{group: '', kind: Service}]
";
    // (serviceRef, grants, expected problem: reason and message prefix)
    type Problem<'a> = Option<(&'a str, &'a str)>;
    let cases: [(&str, &str, Problem); 6] = [
        ("{name: web, port: 80}", "", None),
        (
            "{name: nope, port: 80}",
            "",
            Some((
                reason::BACKEND_NOT_FOUND,
                "spec.origins[0].serviceRef: Service default/nope does not exist",
            )),
        ),
        (
            "{name: web, port: 81}",
            "",
            Some((
                reason::BACKEND_NOT_FOUND,
                "spec.origins[0].serviceRef: Service default/web has no port 81",
            )),
        ),
        (
            "{name: web, port: 443}",
            "",
            Some((
                reason::UNSUPPORTED_PROTOCOL,
                "spec.origins[0].serviceRef: Service default/web port 443 has appProtocol https",
            )),
        ),
        (
            "{name: svc, namespace: apps, port: 80}",
            "",
            Some((
                reason::REF_NOT_PERMITTED,
                "spec.origins[0].serviceRef: Service apps/svc is not permitted by any ReferenceGrant",
            )),
        ),
        ("{name: svc, namespace: apps, port: 80}", grant, None),
    ];
    for (service_ref, grants, problem) in cases {
        let yaml = format!(
            "{WEB_SERVICE}{}{grants}{}",
            service("apps", "svc", 80, 8080),
            object(
                "OriginPool",
                "p",
                &format!("{{origins: [{{name: k8s, serviceRef: {service_ref}}}]}}")
            ),
        );
        let t = run(&yaml);
        let what = format!("{service_ref} {grants}");
        assert_eq!(
            condition(&status(&t, "OriginPool", "default/p").conditions, ACCEPTED),
            yes(reason::ACCEPTED),
            "{what}"
        );
        let pool = &t.config.pools[&pool_id("default/p")];
        let OriginAddress::Service { endpoints, .. } = &pool.origins[0].address else {
            panic!("{what}: {:?}", pool.origins[0]);
        };
        let (s, r, message) = cond(&t, "OriginPool", "default/p", RESOLVED_REFS);
        match problem {
            None => {
                assert_eq!(
                    (s, r),
                    (ConditionStatus::True, reason::RESOLVED_REFS),
                    "{what}"
                );
                assert!(!endpoints.is_empty(), "{what}");
            }
            Some((expected, text)) => {
                assert_eq!((s, r), (ConditionStatus::False, expected), "{what}");
                assert!(message.starts_with(text), "{what}: {message}");
                assert!(endpoints.is_empty(), "{what}");
            }
        }
    }
}

use super::backends::{route_to, rule, GATEWAY};

#[test]
fn backend_refs_to_pools_and_load_balancers() {
    let grant = |kind: &str| {
        format!(
            "---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {{name: routes, namespace: apps}}
spec:
  from: [{{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: infra}}]
  to: [{{group: torii.dev, kind: {kind}}}]
"
        )
    };
    let pool = |namespace: &str, name: &str| BackendId::Pool(PoolId::new(namespace, name));
    let lb =
        |namespace: &str, name: &str| BackendId::LoadBalancer(LoadBalancerId::new(namespace, name));
    let cases: Vec<(&str, String, Result<BackendId, &str>)> = vec![
        (
            "{group: torii.dev, kind: OriginPool, name: web}",
            String::new(),
            Ok(pool("infra", "web")),
        ),
        (
            "{group: torii.dev, kind: LoadBalancer, name: app}",
            String::new(),
            Ok(lb("infra", "app")),
        ),
        (
            "{group: torii.dev, kind: OriginPool, name: nope}",
            String::new(),
            Err(reason::BACKEND_NOT_FOUND),
        ),
        (
            "{group: torii.dev, kind: LoadBalancer, name: nope}",
            String::new(),
            Err(reason::BACKEND_NOT_FOUND),
        ),
        // Not accepted is as good as missing.
        (
            "{group: torii.dev, kind: OriginPool, name: invalid}",
            String::new(),
            Err(reason::BACKEND_NOT_FOUND),
        ),
        (
            "{group: torii.dev, kind: OriginPool, name: web, namespace: apps}",
            String::new(),
            Err(reason::REF_NOT_PERMITTED),
        ),
        (
            "{group: torii.dev, kind: OriginPool, name: web, namespace: apps}",
            grant("OriginPool"),
            Ok(pool("apps", "web")),
        ),
        (
            "{group: torii.dev, kind: LoadBalancer, name: app, namespace: apps}",
            grant("OriginPool"),
            Err(reason::REF_NOT_PERMITTED),
        ),
        (
            "{group: torii.dev, kind: LoadBalancer, name: app, namespace: apps}",
            grant("LoadBalancer"),
            Ok(lb("apps", "app")),
        ),
        (
            "{group: torii.dev, kind: HealthMonitor, name: check}",
            String::new(),
            Err(reason::INVALID_KIND),
        ),
        // The group is needed: without it the kind is a core kind torii does not know.
        (
            "{kind: OriginPool, name: web}",
            String::new(),
            Err(reason::INVALID_KIND),
        ),
    ];
    let objects = format!(
        "{}{}{}{}{}{}{}",
        object_in("infra", "HealthMonitor", "check", "{}"),
        object_in(
            "infra",
            "OriginPool",
            "web",
            "{origins: [{name: o, address: '192.0.2.1:80'}], appProtocol: h2c}"
        ),
        object_in("infra", "OriginPool", "invalid", "{origins: []}"),
        object_in(
            "infra",
            "LoadBalancer",
            "app",
            "{defaultPools: [missing, web]}"
        ),
        pool_in("apps", "web", 2),
        pool_in("apps", "other", 3),
        object_in("apps", "LoadBalancer", "app", "{defaultPools: [other]}"),
    );
    for (backend_ref, grants, expected) in cases {
        let yaml = format!(
            "{CLASS}{GATEWAY}{objects}{grants}{}",
            route_to(&format!("[{backend_ref}]"))
        );
        let t = run(&yaml);
        let what = format!("{backend_ref} {grants}");
        assert_eq!(
            http_parent(&t, "infra/r", ACCEPTED).0,
            ConditionStatus::True,
            "{what}"
        );
        let target = &rule(&t).backends[0].target.target;
        match expected {
            Ok(id) => {
                assert_eq!(
                    http_parent(&t, "infra/r", RESOLVED_REFS),
                    (ConditionStatus::True, reason::RESOLVED_REFS.to_string()),
                    "{what}"
                );
                assert_eq!(*target, BackendTarget::Resolved(id.clone()), "{what}");
                let backend = &t.config.backends[&id];
                assert!(backend.endpoints.is_empty(), "{what}");
                // The protocol is the pool's (a load balancer's: its first pool that resolved).
                let protocol = if id == pool("apps", "web") || id == lb("apps", "app") {
                    AppProtocol::Http1
                } else {
                    AppProtocol::H2c
                };
                assert_eq!(backend.protocol, protocol, "{what}");
            }
            Err(reason) => {
                assert_eq!(
                    http_parent(&t, "infra/r", RESOLVED_REFS),
                    (ConditionStatus::False, reason.to_string()),
                    "{what}"
                );
                assert_eq!(*target, BackendTarget::Invalid, "{what}");
                assert!(t.config.backends.is_empty(), "{what}");
            }
        }
    }
}

/// The worked example of `docs/load-balancing.md`: its first YAML block.
const DOC: &str = include_str!("../../../../docs/load-balancing.md");

#[test]
fn the_documented_example_is_valid() {
    let start = DOC.find("```yaml\n").expect("the doc has a YAML block") + "```yaml\n".len();
    let length = DOC[start..].find("```").expect("the YAML block ends");
    let t = run(&DOC[start..start + length]);
    assert_eq!(t.status.load_balancing.len(), 4);
    for s in &t.status.load_balancing {
        for c in &s.conditions {
            assert!(c.is_true(), "{} {}/{}: {c:?}", s.kind, s.namespace, s.name);
        }
    }
    for c in &route(&t, torii_config::RouteKind::Http, "default/shop").parents[0].conditions {
        assert!(c.is_true(), "HTTPRoute default/shop: {c:?}");
    }
    let k8s = &t.config.pools[&pool_id("default/k8s-fra")];
    let OriginAddress::Service { endpoints, .. } = &k8s.origins[0].address else {
        panic!("{:?}", k8s.origins[0]);
    };
    assert_eq!(endpoints.len(), 2);
    let lb = &t.config.load_balancers[&lb_id("default/shop")];
    assert_eq!(
        lb.default_pools,
        [pool_id("default/k8s-fra"), pool_id("default/vms-ams")]
    );
    assert_eq!(lb.notifications.len(), 1);
    let target = &rule_of(&t, "default/edge").backends[0].target.target;
    assert_eq!(
        *target,
        BackendTarget::Resolved(BackendId::LoadBalancer(lb_id("default/shop")))
    );
}

/// The only rule of the only route on listener `http` of Gateway `gateway`.
fn rule_of<'t>(t: &'t Translation, gateway: &str) -> &'t HttpRule {
    let listener = programmed(t, gateway, "http").expect("listener is programmed");
    &listener.http_routes[0].route.rules[0]
}

#[test]
fn two_load_balancers_cannot_serve_one_hostname() {
    // File order puts `b` first; namespace/name order decides: `a` keeps the hostname.
    let yaml = format!(
        "{}{}{}",
        pool_in("default", "p", 1),
        object(
            "LoadBalancer",
            "b",
            "{hostnames: [shop.example.com, b.example.com], defaultPools: [p]}"
        ),
        object(
            "LoadBalancer",
            "a",
            "{hostnames: [Shop.Example.com.], defaultPools: [p]}"
        ),
    );
    let t = run(&yaml);
    assert_eq!(
        cond(&t, "LoadBalancer", "default/a", ACCEPTED).0,
        ConditionStatus::True
    );
    let (s, r, message) = cond(&t, "LoadBalancer", "default/b", ACCEPTED);
    assert_eq!((s, r), (ConditionStatus::False, reason::HOSTNAME_CONFLICT));
    assert_eq!(
        message,
        "spec.hostnames[0]: shop.example.com is already served by LoadBalancer default/a"
    );
    assert!(t.config.load_balancers.contains_key(&lb_id("default/a")));
    assert!(!t.config.load_balancers.contains_key(&lb_id("default/b")));
}
